// SPDX-License-Identifier: GPL-2.0-only
/*
 * bsr: online verify.
 *
 * The verify source (VerifyS, the node where `verify` was given) reads its blocks in order
 * from --start to --stop and sends OV_REQUEST packets: one digest (verify-alg, agreed in the
 * handshake) per 4 KiB block, at most ov-req-num blocks a request. It goes in batches, one
 * every ov-req-interval ms, each as large as the resync rate controls allow for one tick
 * (bsr_rs_budget_every()); both options are read at each batch. The target (VerifyT,
 * entered when the source's STATE says VerifyS) reads the same blocks, compares, marks the
 * blocks that differ out of sync in its bitmap slot of the source and answers OV_RESULT; the
 * source then marks the same blocks. Verify changes no data: the next resync copies the
 * found blocks (after a reconnect, from the Primary, which starts a new data generation
 * when the connection goes).
 *
 * No false positives from application writes: the source's read stays in its rs_tree
 * (bsr_req.c) until the result is in, so a write to those blocks waits on the source and
 * none is in flight to the target; the target waits for replicated writes it is still
 * applying before it reads. So verify runs where the writes come from: a peer that is
 * Primary refuses it, and while it runs a promotion request of the peer is answered BUSY
 * and ends the run (the peer asks again).
 */
#include <linux/bio.h>
#include <linux/highmem.h>
#include <linux/list_sort.h>
#include <linux/slab.h>
#include <crypto/hash.h>

#include "bsr_net.h"

/* ------------------------------------------------------------------ results */

/* A block found out of sync; adjacent ones merge into one range. rs_lock held. */
static void found_block(struct bsr_pd_net *p, u64 bit)
{
	p->ov_found++;
	if (p->ov_n_ranges && bit == p->ov_last_end) {
		if (p->ov_n_ranges <= BSR_OV_RANGES)
			p->ov_ranges[p->ov_n_ranges - 1].end = bit + 1;
	} else {
		if (p->ov_n_ranges < BSR_OV_RANGES) {
			p->ov_ranges[p->ov_n_ranges].first = bit;
			p->ov_ranges[p->ov_n_ranges].end = bit + 1;
		}
		p->ov_n_ranges++;
	}
	p->ov_last_end = bit + 1;
}

/* The blocks of a request whose `differ` bit is set are out of sync with the peer. */
static void mark_found(struct bsr_peer_device *pd, sector_t sector, unsigned int blocks,
		       const __le64 *differ)
{
	struct bsr_device *d = pd->device;
	struct bsr_pd_net *p = pd->net;
	u64 first = sector >> 3;
	bool ldev = bsr_get_ldev(d);
	int slot = ldev ? bsr_pd_slot(pd) : -1;
	unsigned int i;

	for (i = 0; i < blocks; i++) {
		if (!test_bit_le(i, differ))
			continue;
		if (slot >= 0)
			bsr_bm_set_range(&d->ldev->bm, 1U << slot, first + i, first + i);
		spin_lock_irq(&p->rs_lock);
		found_block(p, first + i);
		spin_unlock_irq(&p->rs_lock);
	}
	if (ldev)
		bsr_put_ldev(d);
}

static void init_run(struct bsr_pd_net *p, sector_t start, sector_t stop)
{
	bsr_fast_map_put(p->ov_map);
	p->ov_map = NULL;
	p->ov_start = p->ov_cursor = p->ov_send_next = p->ov_position = p->ov_req_end = start;
	p->ov_stop = stop;
	p->ov_stop_req = false;
	p->ov_go = false;
	p->ov_found = 0;
	p->ov_requests = 0;
	p->ov_tq_max = 0;
	p->ov_n_ranges = 0;
	p->ov_last_end = 0;
	p->rs_start = p->rs_mark_time = jiffies;
	p->rs_mark_left = start;	/* verify: the position at the mark */
	p->rs_dbdt_kib = 0;
	p->rs_acked_mark = 0;
	p->rs_budget_left = 0;
	/* the first batch at once, whatever the ov-req-interval */
	p->rs_tick_start = jiffies - msecs_to_jiffies(T_PEER_DEVICE_CONF_OV_REQ_INTERVAL_MAX);
	bsr_rs_throttle_reset(p);
}

/* About once a second: the rate and a progress event (done:, eta). */
static void progress(struct bsr_peer_device *pd)
{
	struct bsr_pd_net *p = pd->net;
	unsigned long dt = jiffies - p->rs_mark_time;
	sector_t pos = READ_ONCE(p->ov_position);

	if (dt < HZ)
		return;
	if (pos >= p->rs_mark_left)
		p->rs_dbdt_kib = (pos - p->rs_mark_left) / 2 * HZ / dt;
	p->rs_mark_left = pos;
	p->rs_mark_time = jiffies;
	bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
}

void bsr_ov_stats(struct bsr_peer_device *pd, u64 *total, u64 *done)
{
	struct bsr_pd_net *p = pd->net;
	sector_t start = READ_ONCE(p->ov_start), stop = READ_ONCE(p->ov_stop);
	sector_t pos = READ_ONCE(p->ov_position);

	*total = stop > start ? stop - start : 0;
	*done = pos > start ? min_t(u64, pos - start, *total) : 0;
}

/*
 * The run is over (repl_state already changed), adm_mutex held: the found blocks are
 * stored, the kernel log lists them, the out-of-sync handler is notified.
 */
static void end_run(struct bsr_peer_device *pd, bool early)
{
	struct bsr_device *d = pd->device;
	struct bsr_pd_net *p = pd->net;
	const char *tag = pd->connection->net->thread_tag;
	sector_t cap = get_capacity(d->disk);
	char depth[32] = "";
	u32 i;

	p->ov_resume = early ? p->ov_position : 0;
	if (bsr_get_ldev(d)) {
		bsr_bm_write_all(d, d->ldev);
		bsr_put_ldev(d);
	}
	/* the target: how many requests it read ahead at most (the pipeline's depth) */
	if (p->ov_tq_max)
		snprintf(depth, sizeof(depth), ", up to %u read at once", p->ov_tq_max);
	bsr_info("%s: volume %u: online verify %s at sector %llu: %llu KiB out of sync in %u ranges, %llu requests in %u ms%s%s\n",
		 tag, d->vnr, early ? "stopped" : "done", (u64)p->ov_position, p->ov_found * 4,
		 p->ov_n_ranges, p->ov_requests, jiffies_to_msecs(jiffies - p->rs_start), depth,
		 p->ov_map ? " (FastSync: used blocks only)" : "");
	bsr_fast_map_put(p->ov_map);
	p->ov_map = NULL;
	for (i = 0; i < min_t(u32, p->ov_n_ranges, BSR_OV_RANGES); i++) {
		const struct bsr_ov_range *r = &p->ov_ranges[i];

		bsr_info("%s: volume %u: out of sync: sectors %llu-%llu (%llu KiB)\n", tag, d->vnr,
			 r->first << 3, min_t(u64, r->end << 3, cap) - 1, (r->end - r->first) * 4);
	}
	if (p->ov_n_ranges > BSR_OV_RANGES)
		bsr_info("%s: volume %u: and %u more ranges\n", tag, d->vnr,
			 p->ov_n_ranges - BSR_OV_RANGES);
	if (early)
		bsr_info("%s: volume %u: resume with verify --start=%llu\n", tag, d->vnr,
			 (u64)p->ov_resume);
	if (p->ov_found)
		bsr_helper_start(pd, BSR_HELPER_OUT_OF_SYNC);
	bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
}

/* ------------------------------------------------------------------ source */

/* verify RES PEER VOL [--start] [--stop]; adm_mutex held. stop: the device's end when 0. */
int bsr_ov_start(struct bsr_peer_device *pd, sector_t start, sector_t stop, bool auto_sync,
		 char *msg, size_t len)
{
	struct bsr_device *d = pd->device;
	struct bsr_conn *c = pd->connection;
	struct bsr_net *n = c->net;
	sector_t cap = get_capacity(d->disk);
	const char *why = "no file-system map";
	int rv;

	if (!bsr_pd_replicating(pd) || pd->repl_state != BSR_REPLICATION_ESTABLISHED) {
		snprintf(msg, len, "verify needs an established connection to peer %u (replication %s)",
			 c->peer_node_id, bsr_repl_name(pd->repl_state));
		return -ENOTCONN;
	}
	if (!n->verify_tfm) {
		snprintf(msg, len, "no verify-alg set for peer %u (net-options --verify-alg=ALG on both nodes)",
			 c->peer_node_id);
		return -EINVAL;
	}
	if (d->disk_state != BSR_DISK_UPTODATE || pd->peer_disk_state != BSR_DISK_UPTODATE) {
		snprintf(msg, len, "verify needs UpToDate data on both nodes (here %s, peer %s)",
			 bsr_disk_name(d->disk_state), bsr_disk_name(pd->peer_disk_state));
		return -EINVAL;
	}
	if (c->peer_role == BSR_ROLE_PRIMARY) {
		snprintf(msg, len, "peer %u is Primary: start the verify there, where the writes come from",
			 c->peer_node_id);
		return -EINVAL;
	}
	start = round_down(start, 8);
	stop = stop ? min_t(u64, round_up(stop, 8), cap) : cap;
	if (start >= stop) {
		snprintf(msg, len, "nothing to verify: start %llu is not below the end %llu",
			 (u64)start, (u64)stop);
		return -EINVAL;
	}
	if (bsr_pd_slot(pd) < 0) {
		snprintf(msg, len, "no bitmap slot for peer %u", c->peer_node_id);
		return -ENODEV;
	}
	rv = bsr_set_repl_state(pd, BSR_REPLICATION_VERIFYS);
	if (rv) {
		snprintf(msg, len, "cannot start the verify now");
		return rv;
	}
	init_run(pd->net, start, stop);
	pd->net->ov_auto_sync = auto_sync;
	if (bsr_get_ldev(d)) {
		pd->net->ov_map = bsr_fast_map_take(d, &why);
		bsr_put_ldev(d);
	}
	/* FastSync: the run (the target's too, it comes with each request) ends at the last used block */
	if (pd->net->ov_map) {
		u64 used_end = bsr_fast_map_used_end(pd->net->ov_map, start >> 3,
						     DIV_ROUND_UP_ULL(stop, 8)) << 3;

		stop = max_t(u64, min_t(u64, used_end, stop), start);
		pd->net->ov_stop = stop;
	}
	bsr_info("%s: volume %u: online verify as VerifyS, sectors %llu-%llu, %s\n", n->thread_tag,
		 d->vnr, (u64)start, (u64)stop - 1, crypto_shash_alg_name(n->verify_tfm));
	if (pd->net->ov_map)
		bsr_info("%s: volume %u: FastSync: verify compares only the %llu KiB the file system uses\n",
			 n->thread_tag, d->vnr, bsr_fast_map_used(pd->net->ov_map) * 4);
	else
		bsr_info("%s: volume %u: verify compares every block: %s\n", n->thread_tag, d->vnr, why);
	rv = bsr_send_state(pd);
	/*
	 * The resync thread sees VerifyS at once (it takes no lock to look) but sends nothing
	 * before this: a request ahead of our state would reach a target not yet in VerifyT
	 * (a protocol error), and a tick before init_run() would act on the last run's values.
	 */
	WRITE_ONCE(pd->net->ov_go, true);
	if (!rv)
		rv = bsr_resync_thread_start(c);
	bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
	if (rv) {
		snprintf(msg, len, "starting the verify failed: %d", rv);
		bsr_conn_fail(c, BSR_CONNECTION_NETWORKFAILURE);
	}
	return rv;
}

/* verify-stop; adm_mutex held */
int bsr_ov_stop(struct bsr_peer_device *pd, char *msg, size_t len)
{
	switch (pd->repl_state) {
	case BSR_REPLICATION_VERIFYS:
		WRITE_ONCE(pd->net->ov_stop_req, true);
		bsr_rs_kick(pd->connection->net);
		return 0;
	case BSR_REPLICATION_VERIFYT:
		snprintf(msg, len, "the verify runs from peer %u: stop it there",
			 pd->connection->peer_node_id);
		return -EINVAL;
	default:
		snprintf(msg, len, "no online verify runs with peer %u",
			 pd->connection->peer_node_id);
		return -EINVAL;
	}
}

/*
 * Sends the digests of a completed read. The request then waits on ov_sent, still in
 * rs_tree, for its result. 0: handed over (on a send failure the connection fails and its
 * teardown frees it). Sent with MSG_MORE: the caller pushes after its batch, so that small
 * requests share segments.
 */
static int send_request(struct bsr_peer_device *pd, struct bsr_rs_req *rq)
{
	struct bsr_net *n = pd->connection->net;
	struct bsr_pd_net *p = pd->net;
	unsigned int ds = crypto_shash_digestsize(n->verify_tfm), i;
	u32 dlen = rq->n_pages * ds;
	struct {
		struct p_header100 h;
		struct p_ov_request q;
	} __packed *pkt;
	int rv;

	pkt = kmalloc(sizeof(*pkt) + dlen, GFP_NOIO);
	if (!pkt)
		return -ENOMEM;
	rv = bsr_block_digests(n->verify_tfm, rq->pages, rq->size, (u8 *)(pkt + 1));
	if (rv) {
		kfree(pkt);
		return rv;
	}
	pkt->h.magic = cpu_to_be32(BSR_H100_MAGIC);
	pkt->h.volume = cpu_to_be16(pd->device->vnr);
	pkt->h.command = cpu_to_be16(P_OV_REQUEST);
	pkt->h.length = cpu_to_be32(sizeof(pkt->q) + dlen);
	pkt->h.pad = 0;
	pkt->q.sector = cpu_to_be64(rq->sector);
	pkt->q.stop = cpu_to_be64(p->ov_stop);
	pkt->q.size = cpu_to_be32(rq->size);
	pkt->q.pad = 0;
	for (i = 0; i < rq->n_pages; i++) {
		bsr_page_put(rq->pages[i]);
		rq->pages[i] = NULL;
	}
	/* listed before it goes out: the result may come before the send returns */
	spin_lock_irq(&p->rs_lock);
	list_add_tail(&rq->list, &p->ov_sent);
	spin_unlock_irq(&p->rs_lock);
	p->ov_requests++;
	rv = bsr_send_data_buf_flags(n, pkt, sizeof(*pkt) + dlen, MSG_MORE);
	kfree(pkt);
	if (rv)
		bsr_conn_fail(pd->connection, BSR_CONNECTION_NETWORKFAILURE);
	return 0;
}

static bool ov_sent_empty(struct bsr_pd_net *p)
{
	bool empty;

	spin_lock_irq(&p->rs_lock);
	empty = list_empty(&p->ov_sent);
	spin_unlock_irq(&p->rs_lock);
	return empty;
}

/*
 * Reads the next blocks in order, as far as the batch's budget and the in-flight limits
 * allow, at most ov-req-num blocks a request (the bound is checked against the wire format
 * in bsr_net.h; the clamp only guards the arrays sized by it).
 */
static void issue_reads(struct bsr_peer_device *pd)
{
	struct bsr_pd_net *p = pd->net;
	u64 budget = p->rs_budget_left;
	unsigned int req_num = clamp_t(u32, bsr_conf(&pd->conf, T_PEER_DEVICE_CONF_OV_REQ_NUM),
				       1, BSR_RS_MAX_BLOCKS);
	unsigned int max = req_num;
	u64 end = DIV_ROUND_UP_ULL(p->ov_stop, 8);

	while (p->ov_cursor < p->ov_stop && !READ_ONCE(p->ov_stop_req) &&
	       atomic_read(&p->pending) < BSR_RS_MAX_READS) {
		/* the target holds the pages of what is in flight: within max-buffers too */
		u64 allowed = min(budget, bsr_rs_room(pd->connection));
		u64 bit = p->ov_cursor >> 3;
		unsigned int blocks;
		int err;

		if (allowed < 8)
			break;
		if (p->ov_map) {
			/* FastSync: a run of used blocks; the free ones are not compared */
			bit = bsr_fast_map_find(p->ov_map, bit, end, true);
			if (bit >= end) {
				p->ov_cursor = p->ov_stop;
				break;
			}
			p->ov_cursor = bit << 3;
		}
		blocks = min3((u64)max, allowed >> 3, end - bit);
		if (p->ov_map)
			blocks = bsr_fast_map_find(p->ov_map, bit, bit + blocks, false) - bit;
		err = bsr_rs_issue_read(pd, bit, blocks, NULL);

		/* a write is under way in these blocks: the first one alone, or next tick */
		if (err == -EBUSY && max > 1) {
			max = 1;
			continue;
		}
		if (err)
			break;
		p->ov_cursor = min_t(u64, (bit + blocks) << 3, p->ov_stop);
		budget -= (u64)blocks << 3;
		max = req_num;
	}
	p->rs_budget_left = budget;
}

/*
 * verify --auto-sync, adm_mutex held: the blocks found go from here to the peer now, a bitmap
 * resync (both slots hold them). Not toward a Primary, whose data are in use.
 */
static void auto_sync(struct bsr_peer_device *pd)
{
	struct bsr_conn *c = pd->connection;
	struct p_sync_start s = { .flags = 0 };

	if (c->peer_role == BSR_ROLE_PRIMARY) {
		bsr_warn("%s: volume %u: no auto-sync toward the Primary peer: disconnect and connect to resync\n",
			 c->net->thread_tag, pd->device->vnr);
		return;
	}
	bsr_info("%s: volume %u: auto-sync of the %llu KiB found\n", c->net->thread_tag,
		 pd->device->vnr, pd->net->ov_found * 4);
	if (!bsr_send_packet(c, false, P_BECOME_SYNC_TARGET, pd->device->vnr, &s, sizeof(s)))
		bsr_start_resync(pd, true, false);
}

static void finish_source(struct bsr_peer_device *pd)
{
	struct bsr_conn *c = pd->connection;

	mutex_lock(&c->resource->adm_mutex);
	if (pd->repl_state == BSR_REPLICATION_VERIFYS &&
	    !bsr_set_repl_state(pd, BSR_REPLICATION_ESTABLISHED)) {
		end_run(pd, pd->net->ov_cursor < pd->net->ov_stop);
		/* the target ends its run too (before a BECOME_SYNC_TARGET on the same stream) */
		if (!bsr_send_state(pd) && pd->net->ov_auto_sync && pd->net->ov_found)
			auto_sync(pd);
	}
	mutex_unlock(&c->resource->adm_mutex);
}

static int by_sector(void *priv, const struct list_head *a, const struct list_head *b)
{
	sector_t sa = list_entry(a, struct bsr_rs_req, list)->sector;
	sector_t sb = list_entry(b, struct bsr_rs_req, list)->sector;

	return sa < sb ? -1 : sa > sb;
}

/* Resync thread, ldev held: one tick of a VerifyS peer device; false once it is over. */
bool bsr_ov_tick(struct bsr_peer_device *pd)
{
	struct bsr_conn *c = pd->connection;
	struct bsr_net *n = c->net;
	struct bsr_pd_net *p = pd->net;
	struct bsr_rs_req *rq, *t;
	bool sent = false;
	LIST_HEAD(done);

	if (!READ_ONCE(p->ov_go))
		return false;	/* bsr_ov_start() is not done yet */
	spin_lock_irq(&p->rs_lock);
	list_splice_init(&p->rs_done, &done);
	spin_unlock_irq(&p->rs_lock);
	/* reads complete in any order; requests (and so the results) go in block order */
	list_sort(NULL, &done, by_sector);
	list_for_each_entry_safe(rq, t, &done, list) {
		/* a read before it is still under way, unless FastSync skipped all between */
		if (rq->sector != p->ov_send_next &&
		    (!p->ov_map || rq->sector < p->ov_send_next ||
		     bsr_fast_map_find(p->ov_map, p->ov_send_next >> 3, rq->sector >> 3, true) <
		     rq->sector >> 3))
			break;
		list_del(&rq->list);
		atomic_dec(&p->pending);
		p->ov_send_next = rq->sector + ((sector_t)rq->n_pages << 3);
		if (!rq->status && !send_request(pd, rq)) {
			sent = true;
			continue;
		}
		atomic64_sub(rq->size >> 9, &n->rs_in_flight);
		if (rq->status) {
			/* unreadable here: out of sync, the next resync tries it again */
			__le64 all[BSR_RS_MAX_BLOCKS / 64];

			memset(all, 0xff, sizeof(all));
			pr_warn_ratelimited("bsr: %s: verify read error at sector %llu (%u bytes): marked out of sync\n",
					    n->thread_tag, (u64)rq->sector, rq->size);
			mark_found(pd, rq->sector, rq->n_pages, all);
			WRITE_ONCE(p->ov_position, max_t(u64, p->ov_position,
							 rq->sector + (rq->size >> 9)));
		}
		bsr_rs_free_req(rq);
	}
	if (sent)
		bsr_data_push(n);
	if (!list_empty(&done)) {
		spin_lock_irq(&p->rs_lock);
		list_splice(&done, &p->rs_done);
		spin_unlock_irq(&p->rs_lock);
	}
	if (pd->repl_state != BSR_REPLICATION_VERIFYS)
		return false;
	progress(pd);
	if ((p->ov_cursor >= p->ov_stop || READ_ONCE(p->ov_stop_req)) &&
	    !atomic_read(&p->pending) && ov_sent_empty(p) && !atomic64_read(&n->rs_in_flight)) {
		finish_source(pd);
		return false;
	}
	bsr_rs_budget_every(pd, p->ov_position - p->ov_start,
			    msecs_to_jiffies(bsr_conf(&pd->conf, T_PEER_DEVICE_CONF_OV_REQ_INTERVAL)));
	issue_reads(pd);
	return true;
}

/* Meta receiver: the target's comparison of one request. -EPROTO: none was sent. */
int bsr_ov_got_result(struct bsr_peer_device *pd, const struct p_ov_result *r)
{
	struct bsr_net *n = pd->connection->net;
	struct bsr_pd_net *p = pd->net;
	sector_t sector = be64_to_cpu(r->sector);
	u32 size = be32_to_cpu(r->size);
	struct bsr_rs_req *rq, *found = NULL;
	unsigned int i;

	spin_lock_irq(&p->rs_lock);
	list_for_each_entry(rq, &p->ov_sent, list) {
		if (rq->sector == sector && rq->size == size) {
			list_del(&rq->list);
			found = rq;
			break;
		}
	}
	spin_unlock_irq(&p->rs_lock);
	if (!found) {
		bsr_proto_warn("%s: verify result for sector %llu, %u bytes, which was never requested\n",
			       n->thread_tag, (u64)sector, size);
		return -EPROTO;
	}
	for (i = found->n_pages; i < BSR_RS_MAX_BLOCKS; i++) {
		if (test_bit_le(i, r->differ)) {
			bsr_proto_warn("%s: verify result for sector %llu names block %u of %u\n",
				       n->thread_tag, (u64)sector, i, found->n_pages);
			bsr_rs_free_req(found);
			return -EPROTO;
		}
	}
	mark_found(pd, sector, found->n_pages, r->differ);
	WRITE_ONCE(p->ov_position, max_t(u64, p->ov_position, sector + (size >> 9)));
	bsr_rs_free_req(found);
	if (atomic64_sub_return(size >> 9, &n->rs_in_flight) < 0)
		atomic64_set(&n->rs_in_flight, 0);
	bsr_rs_kick(n);
	return 0;
}

/* Receiver: the peer asks to be promoted; a verify from here ends first (BUSY meanwhile). */
bool bsr_ov_blocks_promotion(struct bsr_conn *c)
{
	struct bsr_peer_device *pd;
	bool busy = false;

	list_for_each_entry(pd, &c->peer_devices, conn_list) {
		if (READ_ONCE(pd->repl_state) == BSR_REPLICATION_VERIFYS) {
			WRITE_ONCE(pd->net->ov_stop_req, true);
			busy = true;
		}
	}
	if (busy)
		bsr_rs_kick(c->net);
	return busy;
}

/* Teardown, adm_mutex held, the threads stopped: a run ends where its results are. */
void bsr_ov_lost(struct bsr_peer_device *pd)
{
	if (pd->repl_state == BSR_REPLICATION_VERIFYS || pd->repl_state == BSR_REPLICATION_VERIFYT)
		end_run(pd, true);
}

/* ------------------------------------------------------------------ target */

/* Receiver, adm_mutex held: the source's replication state starts or ends our run. */
void bsr_ov_peer_state(struct bsr_peer_device *pd, enum bsr_replication peer)
{
	struct bsr_net *n = pd->connection->net;

	if (peer == BSR_REPLICATION_VERIFYS && pd->repl_state == BSR_REPLICATION_ESTABLISHED) {
		if (bsr_set_repl_state(pd, BSR_REPLICATION_VERIFYT))
			return;
		init_run(pd->net, 0, 0);	/* the range comes with the first request */
		bsr_info("%s: volume %u: online verify as VerifyT\n", n->thread_tag,
			 pd->device->vnr);
		bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
	} else if (peer != BSR_REPLICATION_VERIFYS && pd->repl_state == BSR_REPLICATION_VERIFYT) {
		/* the source has every result by now; the last ones may still be freed */
		bsr_ov_drain(pd);
		if (!bsr_set_repl_state(pd, BSR_REPLICATION_ESTABLISHED))
			end_run(pd, pd->net->ov_position < pd->net->ov_stop);
	}
}

/*
 * One OV_REQUEST on the target, from its acceptance by the receiver until ov_work has
 * answered it. While listed and not yet read (!read) a replicated write there waits
 * (bsr_ov_reading()). Holds the ldev from the read's submission (ldev) and the source's
 * digests (theirs).
 */
struct bsr_ov_treq {
	struct list_head list;
	struct bsr_peer_device *pd;
	sector_t sector;
	u32 size;
	unsigned int blocks;
	int status;			/* the read's (or its setup's) errno */
	bool read;			/* done, or never submitted; under rs_lock */
	bool ldev;
	u8 *theirs;
	struct page *pages[];
};

static void treq_free(struct bsr_ov_treq *rq)
{
	unsigned int i, pages = 0;

	for (i = 0; i < rq->blocks; i++)
		if (rq->pages[i]) {
			bsr_page_put(rq->pages[i]);
			pages++;
		}
	bsr_peer_pages_put(rq->pd->connection->net, pages);
	if (rq->ldev)
		bsr_put_ldev(rq->pd->device);
	kfree(rq->theirs);
	kfree(rq);
}

/* The read is done (or failed): ov_work answers what is read in order. Any context. */
static void treq_read_done(struct bsr_ov_treq *rq, int status)
{
	struct bsr_pd_net *p = rq->pd->net;
	unsigned long flags;

	spin_lock_irqsave(&p->rs_lock, flags);
	rq->status = status;
	rq->read = true;
	spin_unlock_irqrestore(&p->rs_lock, flags);
	wake_up(&rq->pd->connection->net->ee_wait);	/* a replicated write may wait */
	queue_work(bsr_wq, &p->ov_work);
}

/* bio end_io, atomic context */
static void treq_endio(struct bio *bio)
{
	struct bsr_ov_treq *rq = bio->bi_private;
	int status = blk_status_to_errno(bio->bi_status);

	bio_put(bio);
	if (!status)
		bsr_fault_rs_read(rq->pd->device, rq->pages, rq->size);
	treq_read_done(rq, status);
}

static int treq_submit(struct bsr_ov_treq *rq)
{
	struct bsr_device *d = rq->pd->device;
	struct bio *bio;
	u32 left = rq->size;
	unsigned int i;

	bio = bio_alloc(d->ldev->backing_bdev, rq->blocks, REQ_OP_READ, GFP_NOIO);
	if (!bio)
		return -ENOMEM;
	bio->bi_iter.bi_sector = rq->sector;
	bio->bi_private = rq;
	bio->bi_end_io = treq_endio;
	for (i = 0; i < rq->blocks; i++, left -= PAGE_SIZE) {
		u32 len = min_t(u32, left, PAGE_SIZE);

		if (bio_add_page(bio, rq->pages[i], len, 0) != len) {
			bio_put(bio);
			return -EIO;
		}
	}
	submit_bio(bio);
	return 0;
}

/* ldev taken, pages allocated and the read submitted; else the errno for the answer */
static int treq_start(struct bsr_ov_treq *rq)
{
	unsigned int i;

	if (!bsr_get_ldev(rq->pd->device))
		return -ENODEV;
	rq->ldev = true;
	for (i = 0; i < rq->blocks; i++) {
		rq->pages[i] = bsr_page_get(GFP_NOIO);
		if (!rq->pages[i])
			return -ENOMEM;
		atomic_inc(&rq->pd->connection->net->peer_pages);	/* max-buffers */
	}
	return treq_submit(rq);
}

/* Our blocks against the source's digests: bit i of differ set when block i differs. */
static void treq_compare(struct bsr_ov_treq *rq, __le64 *differ)
{
	struct bsr_net *n = rq->pd->connection->net;
	struct crypto_shash *tfm = n->verify_tfm;
	unsigned int ds = crypto_shash_digestsize(tfm), i;
	u8 mine[BSR_DIGEST_MAX];
	int rv = rq->status;

	for (i = 0; !rv && i < rq->blocks; i++) {
		u32 len = min_t(u32, rq->size - i * PAGE_SIZE, PAGE_SIZE);

		rv = bsr_block_digests(tfm, &rq->pages[i], len, mine);
		if (!rv && memcmp(mine, rq->theirs + i * ds, ds))
			__set_bit_le(i, differ);
	}
	if (rv) {
		/* not compared: out of sync, the next resync rewrites them */
		pr_warn_ratelimited("bsr: %s: verify of sector %llu (%u bytes) failed (%d): marked out of sync\n",
				    n->thread_tag, (u64)rq->sector, rq->size, rv);
		for (i = 0; i < rq->blocks; i++)
			__set_bit_le(i, differ);
	}
}

/*
 * ov_work: a request read, in its turn; unanswered once the connection is going. more: the
 * next one is read too and answered right after, its result goes in the same segment.
 */
static void treq_answer(struct bsr_ov_treq *rq, bool more)
{
	struct bsr_peer_device *pd = rq->pd;
	struct bsr_conn *c = pd->connection;
	struct bsr_pd_net *p = pd->net;
	struct p_ov_result r = {
		.sector = cpu_to_be64(rq->sector), .size = cpu_to_be32(rq->size),
	};
	int rv;

	if (!bsr_pd_replicating(pd))
		return;
	treq_compare(rq, r.differ);
	mark_found(pd, rq->sector, rq->blocks, r.differ);
	p->ov_requests++;
	WRITE_ONCE(p->ov_position, rq->sector + (rq->size >> 9));
	progress(pd);
	mutex_lock(&c->net->meta_mutex);
	rv = bsr_send_packet_locked(c->net->meta_sock, P_OV_RESULT, pd->device->vnr, &r,
				    sizeof(r), more ? MSG_MORE : 0);
	mutex_unlock(&c->net->meta_mutex);
	if (rv) {
		bsr_warn("%s: volume %u: sending a verify result failed: %d\n", c->net->thread_tag,
			 pd->device->vnr, rv);
		bsr_conn_fail(c, BSR_CONNECTION_NETWORKFAILURE);
	}
}

/*
 * bsr_wq: answers the target's requests whose reads are done, in the order they came
 * (the source's ov_position and the run's end follow the results), and frees them.
 */
void bsr_ov_target_work(struct work_struct *w)
{
	struct bsr_pd_net *p = container_of(w, struct bsr_pd_net, ov_work);
	struct bsr_ov_treq *rq, *next;
	bool more;

	for (;;) {
		spin_lock_irq(&p->rs_lock);
		rq = list_first_entry_or_null(&p->ov_tq, struct bsr_ov_treq, list);
		if (rq && rq->read)
			list_del(&rq->list);
		else
			rq = NULL;
		/* read stays set and only we take them off: the next is answered next */
		next = list_first_entry_or_null(&p->ov_tq, struct bsr_ov_treq, list);
		more = next && next->read;
		spin_unlock_irq(&p->rs_lock);
		if (!rq)
			break;
		treq_answer(rq, more);
		spin_lock_irq(&p->rs_lock);
		WRITE_ONCE(p->ov_tq_n, p->ov_tq_n - 1);
		p->ov_tq_bytes -= rq->size;
		spin_unlock_irq(&p->rs_lock);
		treq_free(rq);	/* wakes ee_wait: the receiver and bsr_ov_drain may wait */
	}
}

/*
 * Receiver, before every replicated write: a target's request still reads in
 * [sector, +size). Without a verify running here no lock is taken: the receiver itself
 * queues the requests, so one that came before this write is counted already.
 */
bool bsr_ov_reading(struct bsr_peer_device *pd, sector_t sector, u32 size)
{
	struct bsr_pd_net *p = pd->net;
	struct bsr_ov_treq *rq;
	bool hit = false;

	if (!READ_ONCE(p->ov_tq_n))
		return false;
	spin_lock_irq(&p->rs_lock);
	list_for_each_entry(rq, &p->ov_tq, list) {
		if (!rq->read && rq->sector < sector + (size >> 9) &&
		    sector < rq->sector + (rq->size >> 9)) {
			hit = true;
			break;
		}
	}
	spin_unlock_irq(&p->rs_lock);
	return hit;
}

static bool treq_room(struct bsr_pd_net *p, u32 size)
{
	bool room;

	spin_lock_irq(&p->rs_lock);
	room = !p->ov_tq_n || (p->ov_tq_n < BSR_OV_TARGET_MAX_REQS &&
			       p->ov_tq_bytes + size <= BSR_OV_TARGET_MAX_BYTES);
	spin_unlock_irq(&p->rs_lock);
	return room;
}

static bool treq_none(struct bsr_pd_net *p)
{
	bool none;

	spin_lock_irq(&p->rs_lock);
	none = !p->ov_tq_n;
	spin_unlock_irq(&p->rs_lock);
	return none;
}

/*
 * The target's requests are all answered (or, the connection going, dropped) and freed:
 * at the end of a run and in the teardown. Not from ov_work; the reads always complete.
 */
void bsr_ov_drain(struct bsr_peer_device *pd)
{
	struct bsr_pd_net *p = pd->net;

	wait_event(pd->connection->net->ee_wait, treq_none(p));
	flush_work(&p->ov_work);
}

/*
 * Receiver, the replicated writes to these sectors applied: one OV_REQUEST, whose digests
 * we take. Every field is checked against the run and the device (-EPROTO drops the
 * connection); its read is submitted and ov_work answers it once done, the receiver goes on.
 */
int bsr_ov_got_request(struct bsr_peer_device *pd, const struct p_ov_request *q,
		       u8 *digests, u32 dlen)
{
	struct bsr_device *d = pd->device;
	struct bsr_conn *c = pd->connection;
	struct bsr_net *n = c->net;
	struct bsr_pd_net *p = pd->net;
	sector_t sector = be64_to_cpu(q->sector), stop = be64_to_cpu(q->stop);
	u32 size = be32_to_cpu(q->size), blocks;
	sector_t cap = get_capacity(d->disk), end;
	struct bsr_ov_treq *rq;
	int rv;

	if (pd->repl_state != BSR_REPLICATION_VERIFYT || !n->verify_tfm) {
		bsr_proto_warn("%s: verify request while %s\n", n->thread_tag,
			       bsr_repl_name(pd->repl_state));
		rv = -EPROTO;
		goto out;
	}
	if (!size || size > BSR_RS_MAX_SIZE || (size & 511) || (sector & 7) ||
	    !bsr_peer_range_ok(d, sector, size)) {
		bsr_proto_warn("%s: verify request for %u bytes at sector %llu: not within the device\n",
			       n->thread_tag, size, (u64)sector);
		rv = -EPROTO;
		goto out;
	}
	end = sector + (size >> 9);
	blocks = DIV_ROUND_UP(size, PAGE_SIZE);
	/* requests come in block order: none before the end of the last one */
	if (((size & (PAGE_SIZE - 1)) && end != cap) ||
	    dlen != blocks * crypto_shash_digestsize(n->verify_tfm) ||
	    stop < end || stop > cap || sector < p->ov_req_end) {
		bsr_proto_warn("%s: bad verify request: sector %llu, %u bytes, %u digest bytes, stop %llu, last request's end %llu\n",
			       n->thread_tag, (u64)sector, size, dlen, (u64)stop,
			       (u64)p->ov_req_end);
		rv = -EPROTO;
		goto out;
	}
	rq = kzalloc(struct_size(rq, pages, blocks), GFP_NOIO);
	if (!rq) {
		rv = -ENOMEM;
		goto out;
	}
	rq->pd = pd;
	rq->sector = sector;
	rq->size = size;
	rq->blocks = blocks;
	rq->theirs = digests;
	if (!p->ov_stop)
		p->ov_start = p->rs_mark_left = sector;
	p->ov_stop = stop;
	p->ov_req_end = end;
	/* bounded memory: the oldest are answered first */
	wait_event(n->ee_wait, treq_room(p, size));
	spin_lock_irq(&p->rs_lock);
	list_add_tail(&rq->list, &p->ov_tq);
	WRITE_ONCE(p->ov_tq_n, p->ov_tq_n + 1);
	p->ov_tq_max = max(p->ov_tq_max, p->ov_tq_n);
	p->ov_tq_bytes += size;
	spin_unlock_irq(&p->rs_lock);
	rv = treq_start(rq);
	if (rv)
		treq_read_done(rq, rv);	/* answered as differing, in its turn */
	return 0;
out:
	kfree(digests);
	return rv;
}
