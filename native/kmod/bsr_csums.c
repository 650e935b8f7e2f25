// SPDX-License-Identifier: GPL-2.0-only
/*
 * bsr: checksum-based resync (csums-alg, csums-after-crash-only).
 *
 * With a csums-alg agreed in the handshake (SYNC_PARAM), the SyncSource decides when a
 * resync starts whether it is checksum-based: always, or with its csums-after-crash-only
 * only when a node crashed as Primary (the extents of its activity log are then out of sync
 * and mostly unchanged). Its LAST bitmap chunk says so (BM_FLAG_CSUMS).
 *
 * The SyncTarget then asks: its resync thread reads its out-of-sync blocks as a source does,
 * paced by the same rate controls, and sends CSUM_RS_REQUEST with one digest per 4 KiB block;
 * each request waits on the target's rs_sent (counted in rs_in_flight) for its answer. The
 * source queues the requests (csum_reqs), reads the blocks through rs_tree (a write there
 * waits until the answer is out) and compares: all equal, it clears its bits and answers
 * RS_IS_IN_SYNC on the data stream (ahead of the RESYNC_DONE that may follow), and the target
 * clears its own; else the data go as a normal RS_DATA_REPLY. Both count the sectors found
 * equal (rs_same_csum). The source ends the resync as always, once its bits are clear.
 */
#include <linux/bio.h>
#include <linux/slab.h>
#include <crypto/algapi.h>
#include <crypto/hash.h>

#include "bsr_net.h"

/* requests a target may have queued here: its in-flight limit and the one that crossed it */
#define CSUMS_MAX_QUEUED (BSR_RS_MAX_IN_FLIGHT + (BSR_RS_MAX_SIZE >> 9))

/* Source, ldev and adm_mutex held: whether the resync starting now is checksum-based. */
bool bsr_csums_wanted(struct bsr_peer_device *pd)
{
	struct bsr_conn *c = pd->connection;
	bool crashed = (pd->device->ldev->md.flags & BSR_MDF_CRASHED_PRIMARY) ||
		       (pd->net->peer_flags & UUID_FLAG_CRASHED_PRIMARY);

	return c->net->csums_tfm &&
	       (!bsr_conf(&c->net_conf, T_NET_CONF_CSUMS_AFTER_CRASH_ONLY) || crashed);
}

/* The target of a checksum-based resync, which sends requests and takes answers. */
bool bsr_csums_target(struct bsr_peer_device *pd)
{
	enum bsr_replication s = READ_ONCE(pd->repl_state);

	return pd->net->rs_csums &&
	       (s == BSR_REPLICATION_SYNCTARGET || s == BSR_REPLICATION_PAUSEDSYNCT);
}

/* ------------------------------------------------------------------ target */

/*
 * The digests of a completed read go to the source; the request waits on rs_sent for its
 * answer. 0: handed over (a send failure fails the connection, whose teardown frees it).
 */
static int send_request(struct bsr_peer_device *pd, struct bsr_rs_req *rq)
{
	struct bsr_net *n = pd->connection->net;
	struct bsr_pd_net *p = pd->net;
	u32 dlen = rq->n_pages * crypto_shash_digestsize(n->csums_tfm);
	struct bsr_rs_sent *sent;
	struct {
		struct p_header100 h;
		struct p_csum_rs_request q;
	} __packed *pkt;
	int rv = -ENOMEM;

	pkt = kzalloc(sizeof(*pkt) + dlen, GFP_NOIO);
	sent = kmalloc(sizeof(*sent), GFP_NOIO);
	if (!pkt || !sent)
		goto out;
	/* unreadable here: the source sends the data whatever the (zero) digests say */
	rv = rq->status ? 0 : bsr_block_digests(n->csums_tfm, rq->pages, rq->size, (u8 *)(pkt + 1));
	if (rv)
		goto out;
	if (rq->status)
		pkt->q.flags = cpu_to_be32(CSUM_RS_UNREADABLE);
	pkt->h.magic = cpu_to_be32(BSR_H100_MAGIC);
	pkt->h.volume = cpu_to_be16(pd->device->vnr);
	pkt->h.command = cpu_to_be16(P_CSUM_RS_REQUEST);
	pkt->h.length = cpu_to_be32(sizeof(pkt->q) + dlen);
	pkt->q.sector = cpu_to_be64(rq->sector);
	pkt->q.size = cpu_to_be32(rq->size);
	/* listed before it goes out: the answer may come before the send returns */
	sent->sector = rq->sector;
	sent->size = rq->size;
	spin_lock_irq(&p->rs_lock);
	list_add_tail(&sent->list, &p->rs_sent);
	spin_unlock_irq(&p->rs_lock);
	sent = NULL;
	rv = bsr_send_data_buf(n, pkt, sizeof(*pkt) + dlen);
	if (rv)
		bsr_conn_fail(pd->connection, BSR_CONNECTION_NETWORKFAILURE);
	rv = 0;
out:
	kfree(sent);
	kfree(pkt);
	return rv;
}

/* Resync thread, ldev held: one tick of the target; false once there is nothing to do. */
bool bsr_csums_target_tick(struct bsr_peer_device *pd)
{
	struct bsr_net *n = pd->connection->net;
	struct bsr_pd_net *p = pd->net;
	struct bsr_bitmap *bm = &pd->device->ldev->bm;
	struct bsr_rs_req *rq, *t;
	u64 left;
	LIST_HEAD(done);

	spin_lock_irq(&p->rs_lock);
	list_splice_init(&p->rs_done, &done);
	spin_unlock_irq(&p->rs_lock);
	list_for_each_entry_safe(rq, t, &done, list) {
		list_del(&rq->list);
		atomic_dec(&p->pending);
		if (!bsr_csums_target(pd) || send_request(pd, rq))
			atomic64_sub(rq->size >> 9, &n->rs_in_flight);
		bsr_rs_free_req(rq);
	}
	if (!bsr_csums_target(pd))
		return atomic_read(&p->pending);
	bsr_rs_progress(pd);
	if (pd->repl_state != BSR_REPLICATION_SYNCTARGET)
		return true;
	left = bm->weight[bsr_pd_slot(pd)] << 3;
	bsr_rs_budget_tick(pd, p->rs_total - min(left, p->rs_total));
	bsr_rs_issue_reads(pd);
	return true;
}

/* Receiver: RS_IS_IN_SYNC, the source found the blocks of a request equal. */
int bsr_csums_got_in_sync(struct bsr_peer_device *pd, const struct p_block_ack *a)
{
	u32 size = be32_to_cpu(a->blksize);
	int rv;

	if (!bsr_csums_target(pd)) {
		bsr_proto_warn("%s: blocks reported in sync while %s\n",
			       pd->connection->net->thread_tag, bsr_repl_name(pd->repl_state));
		return -EPROTO;
	}
	/* only the blocks of a request: bsr_rs_got_ack matches it on rs_sent */
	rv = bsr_rs_got_ack(pd, be64_to_cpu(a->sector), size, true);
	if (!rv)
		atomic64_add(size >> 9, &pd->net->rs_same_csum);
	return rv;
}

/*
 * Receiver, SyncTarget: resync data, in a checksum-based resync only as an answer. It stays
 * in flight until written (bsr_csums_written): a new pass must not ask again for blocks whose
 * bits only the write clears, since the source may end the resync meanwhile.
 */
int bsr_csums_got_data(struct bsr_peer_device *pd, sector_t sector, u32 size)
{
	if (!pd->net->rs_csums)
		return 0;
	if (!bsr_rs_sent_take(pd->net, sector, size)) {
		bsr_proto_warn("%s: resync data for sector %llu, %u bytes, which was not requested\n",
			       pd->connection->net->thread_tag, (u64)sector, size);
		return -EPROTO;
	}
	return 0;
}

/* SyncTarget: the resync data of an answer are written (or dropped), their bits cleared. */
void bsr_csums_written(struct bsr_peer_device *pd, u32 size)
{
	struct bsr_net *n = pd->connection->net;

	if (!pd->net->rs_csums)
		return;
	if (atomic64_sub_return(size >> 9, &n->rs_in_flight) < 0)
		atomic64_set(&n->rs_in_flight, 0);
	bsr_rs_kick(n);
}

/* ------------------------------------------------------------------ source */

/* Receiver: a target's request, every field checked, queued for the resync thread. */
int bsr_csums_got_request(struct bsr_peer_device *pd, const struct p_csum_rs_request *q,
			  const u8 *digests, u32 dlen)
{
	struct bsr_device *d = pd->device;
	struct bsr_net *n = pd->connection->net;
	struct bsr_pd_net *p = pd->net;
	sector_t sector = be64_to_cpu(q->sector), cap = get_capacity(d->disk);
	u32 size = be32_to_cpu(q->size), flags = be32_to_cpu(q->flags);
	struct bsr_csum_req *r;
	bool full;

	if (!p->rs_csums || (pd->repl_state != BSR_REPLICATION_SYNCSOURCE &&
			     pd->repl_state != BSR_REPLICATION_PAUSEDSYNCS)) {
		bsr_proto_warn("%s: checksum resync request while %s%s\n", n->thread_tag,
			       bsr_repl_name(pd->repl_state),
			       p->rs_csums ? "" : " and not in a checksum-based resync");
		return -EPROTO;
	}
	/* whole blocks, but the partial last one of a device, as the target reads them */
	if (!size || size > BSR_RS_MAX_SIZE || (size & 511) || (sector & 7) ||
	    !bsr_peer_range_ok(d, sector, size) ||
	    ((size & (PAGE_SIZE - 1)) && sector + (size >> 9) != cap) ||
	    dlen != DIV_ROUND_UP(size, PAGE_SIZE) * crypto_shash_digestsize(n->csums_tfm) ||
	    (flags & ~CSUM_RS_UNREADABLE)) {
		bsr_proto_warn("%s: bad checksum resync request: sector %llu, %u bytes, %u digest bytes, flags %#x\n",
			       n->thread_tag, (u64)sector, size, dlen, flags);
		return -EPROTO;
	}
	r = kmalloc(struct_size(r, digests, dlen), GFP_NOIO);
	if (!r)
		return -ENOMEM;
	r->sector = sector;
	r->size = size;
	r->flags = flags;
	memcpy(r->digests, digests, dlen);
	spin_lock_irq(&p->rs_lock);
	full = p->csum_req_sect + (size >> 9) > CSUMS_MAX_QUEUED;
	if (!full) {
		list_add_tail(&r->list, &p->csum_reqs);
		p->csum_req_sect += size >> 9;
	}
	spin_unlock_irq(&p->rs_lock);
	if (full) {
		kfree(r);
		bsr_proto_warn("%s: more checksum resync requests than a target keeps in flight\n",
			       n->thread_tag);
		return -EPROTO;
	}
	bsr_rs_kick(n);
	return 0;
}

bool bsr_csums_pending(struct bsr_peer_device *pd)
{
	struct bsr_pd_net *p = pd->net;
	bool any;

	spin_lock_irq(&p->rs_lock);
	any = !list_empty(&p->csum_reqs);
	spin_unlock_irq(&p->rs_lock);
	return any;
}

/*
 * Resync thread, ldev held: reads the blocks of the queued requests, in order, within
 * max-buffers (a request larger than the room waits until nothing is in flight).
 */
void bsr_csums_serve(struct bsr_peer_device *pd)
{
	struct bsr_net *n = pd->connection->net;
	struct bsr_pd_net *p = pd->net;

	while (atomic_read(&p->pending) < BSR_RS_MAX_READS) {
		u64 room = bsr_rs_room(pd->connection);
		bool idle = !atomic64_read(&n->rs_in_flight);
		struct bsr_csum_req *r;
		int err;

		spin_lock_irq(&p->rs_lock);
		r = list_first_entry_or_null(&p->csum_reqs, struct bsr_csum_req, list);
		if (r && !idle && (r->size >> 9) > room)
			r = NULL;
		if (r) {
			list_del(&r->list);
			p->csum_req_sect -= r->size >> 9;
		}
		spin_unlock_irq(&p->rs_lock);
		if (!r)
			return;
		err = bsr_rs_issue_read(pd, r->sector >> 3, DIV_ROUND_UP(r->size, PAGE_SIZE), r);
		if (!err)
			continue;
		if (err != -EBUSY && err != -ENOMEM) {
			/* the device shrank under the request */
			kfree(r);
			bsr_conn_fail(pd->connection, BSR_CONNECTION_PROTOCOLERROR);
			return;
		}
		/* a write to these blocks is under way, or no memory now: next tick */
		spin_lock_irq(&p->rs_lock);
		list_add(&r->list, &p->csum_reqs);
		p->csum_req_sect += r->size >> 9;
		spin_unlock_irq(&p->rs_lock);
		return;
	}
}

/*
 * Resync thread, ldev held: the read for a target's request completed (still in rs_tree).
 * 1: answered without data (equal: RS_IS_IN_SYNC; unreadable here: NEG_RS_DREPLY, the
 * caller counts the failure); 0: the data must go as RS_DATA_REPLY.
 */
int bsr_csums_answer(struct bsr_peer_device *pd, struct bsr_rs_req *rq)
{
	struct bsr_conn *c = pd->connection;
	struct crypto_shash *tfm = c->net->csums_tfm;
	struct p_block_ack a = {
		.sector = cpu_to_be64(rq->sector), .blksize = cpu_to_be32(rq->size),
	};
	u32 dlen = rq->n_pages * crypto_shash_digestsize(tfm);
	bool same;
	u8 *mine;
	int slot;

	if (rq->status) {
		if (bsr_send_packet(c, true, P_NEG_RS_DREPLY, pd->device->vnr, &a, sizeof(a)))
			bsr_conn_fail(c, BSR_CONNECTION_NETWORKFAILURE);
		return 1;
	}
	if (rq->csum->flags & CSUM_RS_UNREADABLE)
		return 0;
	mine = kmalloc(dlen, GFP_NOIO);
	/* without memory for the comparison the data go: never a wrong "equal" */
	if (!mine)
		return 0;
	same = !bsr_block_digests(tfm, rq->pages, rq->size, mine) &&
	       !crypto_memneq(mine, rq->csum->digests, dlen);
	kfree(mine);
	if (!same)
		return 0;
	slot = bsr_pd_slot(pd);
	if (slot >= 0)
		bsr_bm_clear_range(&pd->device->ldev->bm, slot, rq->sector >> 3,
				   DIV_ROUND_UP_ULL(rq->sector + (rq->size >> 9), 8) - 1);
	atomic64_add(rq->size >> 9, &pd->net->rs_same_csum);
	if (bsr_send_packet(c, false, P_RS_IS_IN_SYNC, pd->device->vnr, &a, sizeof(a)))
		bsr_conn_fail(c, BSR_CONNECTION_NETWORKFAILURE);
	return 1;
}

/* Teardown, the threads stopped: requests never answered are forgotten. */
void bsr_csums_drop(struct bsr_peer_device *pd)
{
	struct bsr_pd_net *p = pd->net;
	struct bsr_csum_req *r, *t;
	LIST_HEAD(reqs);

	spin_lock_irq(&p->rs_lock);
	list_splice_init(&p->csum_reqs, &reqs);
	p->csum_req_sect = 0;
	spin_unlock_irq(&p->rs_lock);
	list_for_each_entry_safe(r, t, &reqs, list)
		kfree(r);
}
