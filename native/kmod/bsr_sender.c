// SPDX-License-Identifier: GPL-2.0-only
/*
 * bsr: the Primary's side of replication. Every write is sent to each connected peer
 * as a DATA packet on the data stream, in the submitter's context, and recorded in
 * that connection's transfer log until the peer is done with it:
 *  protocol C: the upper bio may complete after the peer's WRITE_ACK (its disk has it);
 *  protocol B: after the peer's RECV_ACK (it has received it);
 *  protocol A: once sent.
 * Writes are grouped in epochs; a BARRIER closes an epoch before a flush, after FUA,
 * after max-epoch-size writes and when the link goes idle. The peer applies the epoch
 * completely before it answers BARRIER_ACK, which retires what remains of the epoch in
 * the transfer log. When the connection is lost, every entry still in the transfer
 * log becomes out of sync in the peer's bitmap slot.
 */
#include <linux/bio.h>
#include <linux/slab.h>
#include <linux/sched/mm.h>
#include <linux/uio.h>

#include "bsr_net.h"

/* A write the peer failed (NEG_ACK): its blocks are out of sync for that peer. */
static void peer_write_failed(struct bsr_peer_device *pd, sector_t sector, u32 size)
{
	struct bsr_device *d = pd->device;
	int slot;

	if (!size || !bsr_get_ldev(d))
		return;
	slot = bsr_pd_slot(pd);
	if (slot >= 0)
		bsr_bm_set_range(&d->ldev->bm, 1U << slot, sector >> 3,
				 (sector + (size >> 9) - 1) >> 3);
	bsr_put_ldev(d);
}

static void tle_set_oos(struct bsr_tle *t)
{
	if (!t->is_barrier)
		peer_write_failed(t->pd, t->sector, t->size);
}

/* The write's blocks are out of sync for pd's peer, unless write_submit marked them. */
void bsr_pd_set_oos(struct bsr_peer_device *pd, struct bio *bio, u32 already_marked)
{
	struct bsr_device *d = pd->device;
	int slot = bsr_pd_slot(pd);

	if (slot >= 0 && bio_sectors(bio) && !(already_marked & (1U << slot)))
		bsr_bm_set_range(&d->ldev->bm, 1U << slot, bio->bi_iter.bi_sector >> 3,
				 (bio_end_sector(bio) - 1) >> 3);
}

/*
 * The write's activity-log extents stay active until the peer retired it (WRITE_ACK, or its
 * epoch's BARRIER_ACK), not only until it is sent: the request's own reference goes when the
 * upper bio completes, with protocol A once it is sent. An extent with nothing in flight may be
 * evicted, and its bitmap bits are all a crash of this node leaves: a write the peer never got
 * would then be on this disk only, unknown to the resync. req holds the disk and the extents.
 * Protocol C needs no second reference: its request lives until the WRITE_ACK that retires
 * the entry (or the teardown, which marks the blocks first).
 */
static void tle_hold_al(struct bsr_tle *t, struct bsr_req *req)
{
	struct bsr_device *d = req->device;

	if (!req->in_al || !bsr_get_ldev(d))
		return;
	t->al_first = req->al_first;
	t->al_last = req->al_last;
	t->al_held = bsr_al_begin_fast(&d->ldev->al, t->al_first, t->al_last);
	if (!t->al_held)
		bsr_put_ldev(d);
}

/* An entry off the transfer log: its write is retired, or out of sync for the peer. */
static void tle_free(struct bsr_tle *t)
{
	if (t->al_held) {
		struct bsr_device *d = t->pd->device;

		bsr_al_complete(&d->ldev->al, t->al_first, t->al_last);
		bsr_put_ldev(d);
	}
	kfree(t);
}

/* Takes the request reference of an entry; the caller puts it outside net->lock. */
static struct bsr_req *tle_take_req(struct bsr_tle *t)
{
	struct bsr_req *req = t->req;

	t->req = NULL;
	return req;
}

/* n->lock held: the peer received the write (or it is retired) */
static void tle_dequeue(struct bsr_net *n, struct bsr_tle *t)
{
	if (!t->queued)
		return;
	t->queued = false;
	atomic64_sub(t->size, &n->queued_bytes);
	atomic_dec(&n->queued_writes);
}

static void tle_unlink(struct bsr_net *n, struct bsr_tle *t)
{
	tle_dequeue(n, t);
	list_del(&t->list);
	hash_del(&t->hash);
	if (!t->is_barrier)
		atomic64_sub(t->size >> 9, &n->ap_in_flight);
	if (!t->is_barrier)
		atomic_dec(&t->pd->net->ap_pending);
}

/*
 * data_mutex held. The epoch is closed before its barrier goes out: the peer's BARRIER_ACK
 * may arrive before the send returns, and only closed epochs may be acknowledged.
 */
static int send_barrier_locked(struct bsr_net *n, u32 flags)
{
	struct p_barrier p = { .flags = cpu_to_be32(flags) };

	spin_lock_irq(&n->lock);
	p.barrier = cpu_to_be32(n->cur_epoch++);
	n->epoch_writes = 0;
	spin_unlock_irq(&n->lock);
	return bsr_send_packet_locked(n->data_sock, P_BARRIER, 0, &p, sizeof(p), 0);
}

/* data_mutex held: closes the open epoch, if any, on a live stream */
static int close_epoch_locked(struct bsr_net *n)
{
	if (n->net_ok && n->data_sock && n->epoch_writes)
		return send_barrier_locked(n, 0);
	return 0;
}

int bsr_send_barrier(struct bsr_conn *c)
{
	struct bsr_net *n = c->net;
	int rv;

	mutex_lock(&n->data_mutex);
	rv = close_epoch_locked(n);
	mutex_unlock(&n->data_mutex);
	return rv;
}

/*
 * The meta thread's keep-alive closes an open epoch on an idle data stream. It must not wait
 * for data_mutex: a sender holding it may be stuck on a dead link's full socket until the
 * meta thread notices the missing PingAck and tears the connection down. A stream in use is
 * not idle anyway; the next keep-alive looks again.
 */
void bsr_close_idle_epoch(struct bsr_conn *c)
{
	struct bsr_net *n = c->net;

	if (!mutex_trylock(&n->data_mutex))
		return;
	close_epoch_locked(n);
	mutex_unlock(&n->data_mutex);
}

void bsr_close_epochs(struct bsr_device *d)
{
	struct bsr_peer_device *pd;
	int idx = srcu_read_lock(&bsr_srcu);

	list_for_each_entry_srcu(pd, &d->peer_devices, dev_list, srcu_read_lock_held(&bsr_srcu)) {
		struct bsr_net *n = pd->connection->net;

		/*
		 * Only a connection with an open epoch (a peer's receiver waiting for a slot has
		 * none to close, and must not wait for the data stream). A failed send: the
		 * receiver sees the broken stream, the teardown retires everything.
		 */
		if (n && READ_ONCE(n->epoch_writes))
			bsr_send_barrier(pd->connection);
	}
	srcu_read_unlock(&bsr_srcu, idx);
}

static u32 conn_protocol(struct bsr_net *n)
{
	return n->protocol ? n->protocol : BSR_PROTOCOL_C;
}

static void send_one(struct bsr_peer_device *pd, struct bsr_req *req, struct bio *bio)
{
	struct bsr_conn *c = pd->connection;
	struct bsr_net *n = c->net;
	struct {
		struct p_header100 h;
		struct p_data d;
		u8 digest[BSR_DIGEST_MAX];	/* integrity_dgs bytes of it are sent */
	} __packed pkt;
	struct bsr_req *put = NULL;
	struct bsr_tle *t;
	u32 proto, flags = 0, max_epoch, dgs;
	int rv;

	t = kzalloc(sizeof(*t), GFP_NOIO);
	if (!t) {
		bsr_pd_set_oos(pd, bio, req->oos_slots);
		return;
	}
	mutex_lock(&n->data_mutex);
	if (!bsr_pd_replicating(pd) || !n->data_sock) {
		mutex_unlock(&n->data_mutex);
		kfree(t);
		bsr_pd_set_oos(pd, bio, req->oos_slots);
		return;
	}
	/* went Ahead while this write waited for the stream: `ahead` is stable here */
	if (READ_ONCE(n->ahead) && bsr_cong_write_ahead(pd, bio, req->oos_slots)) {
		mutex_unlock(&n->data_mutex);
		kfree(t);
		return;
	}
	proto = conn_protocol(n);
	if ((bio->bi_opf & REQ_PREFLUSH) && n->epoch_writes) {
		rv = send_barrier_locked(n, 0);
		if (rv)
			goto fail_unsent;
	}
	t->pd = pd;
	t->sector = bio->bi_iter.bi_sector;
	t->size = bio->bi_iter.bi_size;
	t->start = jiffies;
	atomic_inc(&req->ref);
	t->req = req;
	if (proto != BSR_PROTOCOL_C)
		tle_hold_al(t, req);
	spin_lock_irq(&n->lock);
	t->id = ++n->next_id;
	t->epoch = n->cur_epoch;
	t->queued = true;
	atomic64_add(t->size, &n->queued_bytes);
	atomic_inc(&n->queued_writes);
	n->epoch_writes++;
	list_add_tail(&t->list, &n->tl);
	hash_add(n->tl_hash, &t->hash, t->id);
	spin_unlock_irq(&n->lock);
	atomic64_add(t->size >> 9, &n->ap_in_flight);
	atomic_inc(&pd->net->ap_pending);

	if (bio->bi_opf & REQ_PREFLUSH)
		flags |= DP_FLUSH;
	if (bio->bi_opf & REQ_FUA)
		flags |= DP_FUA;
	/* protocol A: congestion detection needs to know what reached the peer */
	if (proto == BSR_PROTOCOL_C)
		flags |= DP_SEND_WRITE_ACK;
	else if (proto == BSR_PROTOCOL_B ||
		 bsr_conf(&c->net_conf, T_NET_CONF_ON_CONGESTION) != BSR_ON_CONGESTION_BLOCK)
		flags |= DP_SEND_RECEIVE_ACK;
	dgs = n->integrity_dgs;
	pkt.h.magic = cpu_to_be32(BSR_H100_MAGIC);
	pkt.h.volume = cpu_to_be16(pd->device->vnr);
	pkt.h.command = cpu_to_be16(P_DATA);
	pkt.h.length = cpu_to_be32(sizeof(pkt.d) + dgs + t->size);
	pkt.h.pad = 0;
	pkt.d.sector = cpu_to_be64(t->sector);
	pkt.d.block_id = cpu_to_be64(t->id);
	pkt.d.seq_num = cpu_to_be32((u32)t->id);
	pkt.d.dp_flags = cpu_to_be32(flags);
	rv = dgs ? bsr_integrity_digest_bio(n->integrity_tfm, bio, pkt.digest) : 0;
	if (rv >= 0)
		rv = bsr_sock_send(n->data_sock, &pkt, offsetof(typeof(pkt), digest) + dgs, MSG_MORE);
	if (rv >= 0)
		rv = bsr_sock_send_bio(n->data_sock, bio, proto != BSR_PROTOCOL_A, 0);
	if (rv >= 0) {
		atomic64_add(t->size >> 9, &pd->net->sent_sect);
		atomic64_add(t->size >> 9, &pd->net->repl_sect);
		max_epoch = bsr_conf(&c->net_conf, T_NET_CONF_MAX_EPOCH_SIZE);
		if ((bio->bi_opf & REQ_FUA) || n->epoch_writes >= max_epoch)
			rv = send_barrier_locked(n, 0);
	}
	if (proto == BSR_PROTOCOL_A && rv >= 0) {
		spin_lock_irq(&n->lock);
		put = tle_take_req(t);
		spin_unlock_irq(&n->lock);
	}
	mutex_unlock(&n->data_mutex);
	if (put)
		bsr_req_put(put);
	if (rv < 0)
		bsr_conn_fail(c, BSR_CONNECTION_BROKENPIPE);
	return;

fail_unsent:
	mutex_unlock(&n->data_mutex);
	kfree(t);
	bsr_pd_set_oos(pd, bio, req->oos_slots);
	bsr_conn_fail(c, BSR_CONNECTION_BROKENPIPE);
}

/*
 * Called with a reference on req that the caller puts after submitting locally. The
 * peer devices stay (and their connections with them) while we are inside bsr_srcu,
 * even if del-peer unlinks them meanwhile.
 */
void bsr_replicate_write(struct bsr_device *d, struct bsr_req *req, struct bio *bio)
{
	struct bsr_peer_device *pd;
	int idx = srcu_read_lock(&bsr_srcu);

	list_for_each_entry_srcu(pd, &d->peer_devices, dev_list, srcu_read_lock_held(&bsr_srcu)) {
		/*
		 * A connection that is failing is not in the slot mask until its teardown
		 * ran: the write must still be marked for that peer, unless write_submit
		 * did (a peer that was not connected then).
		 */
		if (!bsr_pd_replicating(pd))
			bsr_pd_set_oos(pd, bio, req->oos_slots);
		else if (!bsr_cong_write(pd, bio, req->oos_slots))
			send_one(pd, req, bio);
	}
	srcu_read_unlock(&bsr_srcu, idx);
}

/*
 * An empty flush: close the epoch at every peer, which flushes its disk once the epoch's writes
 * are done (BARRIER_FLUSH); protocol C waits for its BARRIER_ACK.
 */
bool bsr_replicate_flush(struct bsr_device *d, struct bsr_req *req)
{
	struct bsr_peer_device *pd;
	bool sent = false;
	int idx = srcu_read_lock(&bsr_srcu);

	list_for_each_entry_srcu(pd, &d->peer_devices, dev_list, srcu_read_lock_held(&bsr_srcu)) {
		struct bsr_net *n = pd->connection->net;
		struct bsr_tle *t;
		int rv;

		if (!bsr_pd_replicating(pd))
			continue;
		t = kzalloc(sizeof(*t), GFP_NOIO);
		if (!t)
			continue;
		mutex_lock(&n->data_mutex);
		if (!bsr_pd_replicating(pd) || !n->data_sock) {
			mutex_unlock(&n->data_mutex);
			kfree(t);
			continue;
		}
		t->pd = pd;
		t->is_barrier = true;
		t->start = jiffies;
		if (conn_protocol(n) == BSR_PROTOCOL_C) {
			atomic_inc(&req->ref);
			t->req = req;
		}
		spin_lock_irq(&n->lock);
		t->id = ++n->next_id;
		t->epoch = n->cur_epoch;
		list_add_tail(&t->list, &n->tl);
		hash_add(n->tl_hash, &t->hash, t->id);
		spin_unlock_irq(&n->lock);
		rv = send_barrier_locked(n, BARRIER_FLUSH);
		mutex_unlock(&n->data_mutex);
		if (rv)
			bsr_conn_fail(pd->connection, BSR_CONNECTION_BROKENPIPE);
		sent = true;
	}
	srcu_read_unlock(&bsr_srcu, idx);
	return sent;
}

static struct bsr_tle *tl_find(struct bsr_net *n, u64 id)
{
	struct bsr_tle *t;

	hash_for_each_possible(n->tl_hash, t, hash, id)
		if (t->id == id)
			return t;
	return NULL;
}

/* meta receiver: RECV_ACK, WRITE_ACK, NEG_ACK of a write to volume pd; -EPROTO: bogus */
int bsr_got_block_ack(struct bsr_peer_device *pd, enum bsr_packet cmd,
		      const struct p_block_ack *p)
{
	struct bsr_net *n = pd->connection->net;
	u64 id = be64_to_cpu(p->block_id);
	sector_t sector = be64_to_cpu(p->sector);
	u32 size = be32_to_cpu(p->blksize);
	struct bsr_req *put = NULL;
	struct bsr_tle *t;
	bool mismatch = false;

	spin_lock_irq(&n->lock);
	if (!id || id > n->next_id) {
		spin_unlock_irq(&n->lock);
		bsr_proto_warn("%s: ack for block id %llu, which was never sent\n", n->thread_tag,
			       id);
		return -EPROTO;
	}
	t = tl_find(n, id);
	if (!t) {
		/* already retired by a BARRIER_ACK: a failed write is still out of sync */
		spin_unlock_irq(&n->lock);
		if (cmd != P_NEG_ACK)
			return 0;
		if (!size || size > BSR_MAX_DATA_SIZE || (size & 511) ||
		    !bsr_peer_range_ok(pd->device, sector, size)) {
			bsr_proto_warn("%s: NEG_ACK for a range that was never written\n",
				       n->thread_tag);
			return -EPROTO;
		}
		peer_write_failed(pd, sector, size);
		return 0;
	}
	if (t->is_barrier || t->pd != pd || t->sector != sector || t->size != size) {
		mismatch = true;
		t = NULL;
	} else if (cmd == P_RECV_ACK) {
		put = tle_take_req(t);
		t->recv_acked = true;
		tle_dequeue(n, t);
		t = NULL;
	} else {
		put = tle_take_req(t);
		tle_unlink(n, t);
	}
	spin_unlock_irq(&n->lock);
	if (mismatch) {
		bsr_proto_warn("%s: ack for block id %llu does not match the request\n",
			       n->thread_tag, id);
		return -EPROTO;
	}
	if (t) {
		if (cmd == P_NEG_ACK)
			tle_set_oos(t);
		tle_free(t);
		wake_up(&n->tl_wait);
	}
	if (put)
		bsr_req_put(put);
	return 0;
}

/*
 * BARRIER_ACK: everything of this epoch and before is done at the peer. An epoch that is
 * still open (no barrier sent) would retire writes the peer never confirmed: -EPROTO.
 */
int bsr_got_barrier_ack(struct bsr_conn *c, u32 barrier)
{
	struct bsr_net *n = c->net;
	struct bsr_tle *t, *tt;
	LIST_HEAD(done);

	spin_lock_irq(&n->lock);
	if ((s32)(n->cur_epoch - barrier) <= 0) {
		spin_unlock_irq(&n->lock);
		bsr_proto_warn("%s: barrier ack for epoch %u, which was never sent\n",
			       n->thread_tag, barrier);
		return -EPROTO;
	}
	list_for_each_entry_safe(t, tt, &n->tl, list) {
		if ((s32)(t->epoch - barrier) > 0)
			break;
		tle_unlink(n, t);
		list_add_tail(&t->list, &done);
	}
	spin_unlock_irq(&n->lock);
	list_for_each_entry_safe(t, tt, &done, list) {
		struct bsr_req *req = tle_take_req(t);

		if (req)
			bsr_req_put(req);
		tle_free(t);
	}
	wake_up(&n->tl_wait);
	bsr_cong_drained(c);
	return 0;
}

/* Connection lost: what the peer may not have is out of sync. Senders are excluded. */
void bsr_tl_clear(struct bsr_conn *c)
{
	struct bsr_net *n = c->net;
	struct bsr_tle *t, *tt;
	LIST_HEAD(all);

	spin_lock_irq(&n->lock);
	list_for_each_entry_safe(t, tt, &n->tl, list) {
		tle_unlink(n, t);
		list_add_tail(&t->list, &all);
	}
	spin_unlock_irq(&n->lock);
	list_for_each_entry_safe(t, tt, &all, list) {
		struct bsr_req *req = tle_take_req(t);

		tle_set_oos(t);
		if (req)
			bsr_req_put(req);
		tle_free(t);
	}
	wake_up(&n->tl_wait);
}

static bool tl_empty(struct bsr_net *n)
{
	bool e;

	spin_lock_irq(&n->lock);
	e = list_empty(&n->tl);
	spin_unlock_irq(&n->lock);
	return e;
}

/* Closes the epoch and waits until the peer retired everything (demotion, disconnect). */
int bsr_tl_drain(struct bsr_conn *c, long timeout)
{
	struct bsr_net *n = c->net;

	if (!n || !READ_ONCE(n->net_ok))
		return 0;
	bsr_send_barrier(c);
	if (!wait_event_timeout(n->tl_wait, tl_empty(n) || !READ_ONCE(n->net_ok), timeout))
		return -ETIMEDOUT;
	return 0;
}

/*
 * ko-count: jiffies until the meta thread looks again whether the oldest request the peer
 * has not finished is older than timeout * ko-count; 0 once it is. With nothing in flight it
 * looks again after one timeout, so a request sent meanwhile is caught at most that late.
 */
long bsr_tl_ko_left(struct bsr_conn *c)
{
	struct bsr_net *n = c->net;
	u32 timeout = bsr_conf(&c->net_conf, T_NET_CONF_TIMEOUT);
	u32 ko = bsr_conf(&c->net_conf, T_NET_CONF_KO_COUNT);
	unsigned long deadline = 0;
	bool any = false;

	if (!ko)
		return MAX_SCHEDULE_TIMEOUT;
	spin_lock_irq(&n->lock);
	if (!list_empty(&n->tl)) {
		struct bsr_tle *t = list_first_entry(&n->tl, struct bsr_tle, list);

		/* protocol A entries wait for the epoch's barrier ack only */
		any = t->req || t->recv_acked || conn_protocol(n) != BSR_PROTOCOL_C;
		deadline = t->start + (unsigned long)timeout * ko * HZ / 10;
	}
	spin_unlock_irq(&n->lock);
	if (!any)
		return max_t(long, timeout * HZ / 10, 1);
	return time_after(jiffies, deadline) ? 0 : (long)(deadline - jiffies) + 1;
}
