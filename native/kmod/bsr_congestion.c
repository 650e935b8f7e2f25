// SPDX-License-Identifier: GPL-2.0-only
/*
 * bsr: a congested link to a peer (net options on-congestion, congestion-fill,
 * congestion-extents, congestion-highwater).
 *
 * Before a write goes to an Established peer, the Primary compares what waits for that
 * peer with the thresholds, whichever is reached first: the bytes and the writes sent and
 * not yet received by the peer (net->queued_*; protocol A asks for RECV_ACKs to know it
 * while a policy other than block is set), and the activity log extents with writes in
 * flight. Then, by on-congestion:
 *  block:      nothing changes; the writer waits for room in the socket;
 *  disconnect: the connection is dropped; it comes back and resyncs what was missed;
 *  pull-ahead: this node goes Ahead, the peer Behind (its data Outdated until it caught
 *              up). Writes are only marked out of sync, and their ranges told to the peer
 *              with OUT_OF_SYNC. Once every write sent before is done at the peer (the
 *              transfer log drained), the Ahead node becomes SyncSource of a bitmap
 *              resync, which ends in Established.
 * Going Ahead starts a new data generation, as losing the peer does: after a crash or a
 * lost link in any order, the handshake sees that the peer's data are older.
 */
#include <linux/slab.h>

#include "bsr_net.h"

/* a range in net->oos_queue */
struct bsr_oos {
	struct list_head list;
	u16 vnr;
	sector_t sector;
	u32 size;
};

/* how long a node stays Ahead at least, so that a short burst does not flap */
#define AHEAD_MIN_TIME HZ

void bsr_cong_init(struct bsr_net *n)
{
	atomic64_set(&n->queued_bytes, 0);
	atomic_set(&n->queued_writes, 0);
	INIT_LIST_HEAD(&n->oos_queue);
	INIT_DELAYED_WORK(&n->cong_work, bsr_cong_work);
}

static void free_oos_list(struct list_head *list)
{
	struct bsr_oos *o, *tmp;

	list_for_each_entry_safe(o, tmp, list, list) {
		list_del(&o->list);
		kfree(o);
	}
}

/*
 * The connection is gone (or going): not Ahead any more. What was queued for the peer
 * is in our bitmap already, which the next handshake's resync sends.
 */
void bsr_cong_reset(struct bsr_conn *c)
{
	struct bsr_net *n = c->net;
	LIST_HEAD(drop);

	cancel_delayed_work_sync(&n->cong_work);
	mutex_lock(&n->data_mutex);
	spin_lock_irq(&n->lock);
	n->ahead = false;
	list_splice_init(&n->oos_queue, &drop);
	spin_unlock_irq(&n->lock);
	mutex_unlock(&n->data_mutex);
	free_oos_list(&drop);
}

/* The threshold of the link to c's peer that is reached, or NULL. */
static const char *link_congestion(struct bsr_conn *c)
{
	struct bsr_net *n = c->net;
	u64 fill = bsr_conf(&c->net_conf, T_NET_CONF_CONGESTION_FILL);
	u32 highwater = bsr_conf(&c->net_conf, T_NET_CONF_CONGESTION_HIGHWATER);

	if (fill && (u64)atomic64_read(&n->queued_bytes) >= fill)
		return "congestion-fill";
	if (highwater && (u32)atomic_read(&n->queued_writes) >= highwater)
		return "congestion-highwater";
	return NULL;
}

/* The statistic conn_congested: Ahead, or a threshold of the link reached now. */
bool bsr_cong_congested(struct bsr_conn *c)
{
	return c->net && (READ_ONCE(c->net->ahead) || link_congestion(c));
}

/* The threshold pd's peer reached, or NULL. The write path pins the local disk. */
static const char *congestion(struct bsr_peer_device *pd)
{
	const char *why = link_congestion(pd->connection);
	u32 extents = bsr_conf(&pd->connection->net_conf, T_NET_CONF_CONGESTION_EXTENTS);

	if (!why && READ_ONCE(pd->device->ldev->al.used) >= extents)
		why = "congestion-extents";
	return why;
}

/* Ahead applies to the volumes that replicate normally, not to a resync or verify. */
static bool pulls_ahead(struct bsr_peer_device *pd)
{
	enum bsr_replication s = READ_ONCE(pd->repl_state);

	return s == BSR_REPLICATION_ESTABLISHED || s == BSR_REPLICATION_AHEAD;
}

/*
 * The write path while Ahead: marks the write out of sync for pd's peer and queues its
 * range for OUT_OF_SYNC. false: not Ahead (any more), the write is to be sent.
 */
bool bsr_cong_write_ahead(struct bsr_peer_device *pd, struct bio *bio, u32 already_marked)
{
	struct bsr_net *n = pd->connection->net;
	struct bsr_oos *o = kmalloc(sizeof(*o), GFP_NOIO), *last;
	sector_t sector = bio->bi_iter.bi_sector;
	u32 size = bio->bi_iter.bi_size;
	u16 vnr = pd->device->vnr;
	bool ahead;

	spin_lock_irq(&n->lock);
	ahead = n->ahead && pulls_ahead(pd);
	if (ahead) {
		bsr_pd_set_oos(pd, bio, already_marked);
		last = list_empty(&n->oos_queue) ? NULL :
		       list_last_entry(&n->oos_queue, struct bsr_oos, list);
		if (last && last->vnr == vnr && last->sector + (last->size >> 9) == sector &&
		    last->size <= BSR_OOS_MAX_SIZE - size) {
			last->size += size;
		} else if (o) {
			o->vnr = vnr;
			o->sector = sector;
			o->size = size;
			list_add_tail(&o->list, &n->oos_queue);
			o = NULL;
		}
		/* without memory the peer learns of these blocks from the bitmap exchange */
	}
	spin_unlock_irq(&n->lock);
	kfree(o);
	if (ahead)
		queue_delayed_work(bsr_wq, &n->cong_work, 0);
	return ahead;
}

/*
 * The write path, before bio goes to pd's peer (the connection is up): true when it is
 * not to be sent, because this node is Ahead or the link is congested and on-congestion
 * says disconnect; the write is then marked out of sync for the peer.
 */
bool bsr_cong_write(struct bsr_peer_device *pd, struct bio *bio, u32 already_marked)
{
	struct bsr_conn *c = pd->connection;
	struct bsr_net *n = c->net;
	const char *why;
	bool started = false;
	u32 policy;

	if (READ_ONCE(n->ahead) && bsr_cong_write_ahead(pd, bio, already_marked))
		return true;
	if (READ_ONCE(pd->repl_state) != BSR_REPLICATION_ESTABLISHED)
		return false;
	policy = bsr_conf(&c->net_conf, T_NET_CONF_ON_CONGESTION);
	if (policy == BSR_ON_CONGESTION_BLOCK)
		return false;
	why = congestion(pd);
	if (!why)
		return false;
	if (policy == BSR_ON_CONGESTION_DISCONNECT) {
		bsr_pd_set_oos(pd, bio, already_marked);
		if (READ_ONCE(n->net_ok))
			bsr_warn("%s: %s reached: disconnecting (on-congestion disconnect)\n",
				 n->thread_tag, why);
		bsr_conn_fail(c, BSR_CONNECTION_NETWORKFAILURE);
		return true;
	}
	/* not once the teardown began: bsr_cong_reset() must leave it false for the next connection */
	spin_lock_irq(&n->lock);
	if (!n->ahead && READ_ONCE(n->net_ok)) {
		n->ahead = true;
		n->ahead_since = jiffies;
		started = true;
	}
	spin_unlock_irq(&n->lock);
	if (started)
		bsr_info("%s: %s reached: pulling ahead\n", n->thread_tag, why);
	return bsr_cong_write_ahead(pd, bio, already_marked);
}

/* meta receiver: the peer completed writes; leaving Ahead may be due */
void bsr_cong_drained(struct bsr_conn *c)
{
	struct bsr_net *n = c->net;

	if (READ_ONCE(n->ahead) && !atomic64_read(&n->ap_in_flight))
		queue_delayed_work(bsr_wq, &n->cong_work, 0);
}

/*
 * data_mutex held: sends the queued ranges of volumes that are Ahead; those of others are
 * dropped (their bits are in the bitmap, which their next resync sends).
 */
static int send_oos_locked(struct bsr_conn *c)
{
	struct bsr_net *n = c->net;
	struct p_block_desc p = { .pad = 0 };
	struct bsr_peer_device *pd;
	struct bsr_oos *o;
	int rv = 0, idx = srcu_read_lock(&bsr_srcu);

	for (;;) {
		spin_lock_irq(&n->lock);
		o = list_first_entry_or_null(&n->oos_queue, struct bsr_oos, list);
		if (o)
			list_del(&o->list);
		spin_unlock_irq(&n->lock);
		if (!o)
			break;
		pd = bsr_find_peer_device(c, o->vnr);
		if (!rv && pd && READ_ONCE(pd->repl_state) == BSR_REPLICATION_AHEAD) {
			p.sector = cpu_to_be64(o->sector);
			p.blksize = cpu_to_be32(o->size);
			rv = bsr_send_packet_locked(n->data_sock, P_OUT_OF_SYNC, o->vnr, &p,
						    sizeof(p), 0);
		}
		kfree(o);
	}
	srcu_read_unlock(&bsr_srcu, idx);
	return rv;
}

static int send_oos(struct bsr_conn *c)
{
	struct bsr_net *n = c->net;
	int rv;

	mutex_lock(&n->data_mutex);
	rv = send_oos_locked(c);
	mutex_unlock(&n->data_mutex);
	return rv;
}

/* adm_mutex held: pd goes Ahead, in a new data generation the peer does not have */
static int go_ahead(struct bsr_peer_device *pd)
{
	struct bsr_device *d = pd->device;
	int rv = bsr_set_repl_state(pd, BSR_REPLICATION_AHEAD);

	if (rv)
		return rv;
	if (bsr_get_ldev(d)) {
		bsr_uuid_new_current(d, true, false);
		rv = bsr_md_write_sb(d, d->ldev);
		/* other peers in sync take the new generation */
		bsr_new_uuid_sent(d, false);
		bsr_put_ldev(d);
		bsr_notify_device(d, BSR_NOTIFY_CHANGE);
	}
	if (!rv)
		rv = bsr_send_state(pd);
	bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
	return rv;
}

/* The volumes still Established go Ahead (before any OUT_OF_SYNC of theirs is sent). */
static int enter_ahead(struct bsr_conn *c)
{
	struct bsr_peer_device *pd;
	bool entered = false;
	int rv = 0;

	mutex_lock(&c->resource->adm_mutex);
	list_for_each_entry(pd, &c->peer_devices, conn_list) {
		if (pd->repl_state != BSR_REPLICATION_ESTABLISHED)
			continue;
		rv = go_ahead(pd);
		if (rv)
			break;
		entered = true;
	}
	mutex_unlock(&c->resource->adm_mutex);
	if (rv || !entered)
		return rv;
	bsr_notify_connection(c, BSR_NOTIFY_CHANGE);	/* congested */
	/* closes the open epoch: its BARRIER_ACK retires the last writes sent */
	return bsr_send_barrier(c);
}

/*
 * Everything sent before going Ahead is done at the peer: the Ahead volumes become
 * SyncSource. `ahead` is cleared with data_mutex held and the queue sent under it, so
 * every OUT_OF_SYNC reaches the peer while it is Behind, and the bits of every write not
 * sent are in the bitmap before the bitmap exchange reads it.
 */
static int leave_ahead(struct bsr_conn *c)
{
	struct p_sync_start p = { .flags = 0 };
	struct bsr_net *n = c->net;
	struct bsr_peer_device *pd;
	int rv;

	mutex_lock(&n->data_mutex);
	spin_lock_irq(&n->lock);
	n->ahead = false;
	spin_unlock_irq(&n->lock);
	rv = send_oos_locked(c);
	mutex_unlock(&n->data_mutex);
	if (rv)
		return rv;
	bsr_notify_connection(c, BSR_NOTIFY_CHANGE);
	bsr_info("%s: the peer has every write sent before: resyncing what it is behind\n",
		 n->thread_tag);
	mutex_lock(&c->resource->adm_mutex);
	list_for_each_entry(pd, &c->peer_devices, conn_list) {
		if (pd->repl_state != BSR_REPLICATION_AHEAD)
			continue;
		rv = bsr_send_packet(c, false, P_BECOME_SYNC_TARGET, pd->device->vnr, &p,
				     sizeof(p));
		if (!rv)
			rv = bsr_start_resync(pd, true, false);
		if (rv)
			break;
	}
	mutex_unlock(&c->resource->adm_mutex);
	return rv;
}

void bsr_cong_work(struct work_struct *w)
{
	struct bsr_net *n = container_of(to_delayed_work(w), struct bsr_net, cong_work);
	struct bsr_conn *c = n->conn;
	unsigned long due;
	int rv;

	if (!READ_ONCE(n->net_ok) || !READ_ONCE(n->ahead))
		return;
	rv = enter_ahead(c);
	if (!rv)
		rv = send_oos(c);
	if (!rv && !atomic64_read(&n->ap_in_flight)) {
		due = READ_ONCE(n->ahead_since) + AHEAD_MIN_TIME;
		if (time_before(jiffies, due))
			queue_delayed_work(bsr_wq, &n->cong_work, due - jiffies);
		else
			rv = leave_ahead(c);
	} else if (!rv) {
		/* an epoch opened by writes sent while going Ahead */
		rv = bsr_send_barrier(c);
	}
	if (rv && READ_ONCE(n->net_ok)) {
		bsr_warn("%s: pull-ahead failed (%d): reconnecting\n", n->thread_tag, rv);
		bsr_conn_fail(c, BSR_CONNECTION_NETWORKFAILURE);
	}
}

/*
 * Receiver, adm_mutex held: the peer's replication state. A Primary that pulls ahead
 * makes us Behind: our data are Outdated (persistently) until its resync brought them up.
 */
int bsr_cong_peer_state(struct bsr_peer_device *pd, enum bsr_replication peer_repl)
{
	struct bsr_conn *c = pd->connection;
	struct bsr_device *d = pd->device;
	int rv;

	if (peer_repl != BSR_REPLICATION_AHEAD || pd->repl_state == BSR_REPLICATION_BEHIND)
		return 0;
	if (pd->repl_state != BSR_REPLICATION_ESTABLISHED || c->peer_role != BSR_ROLE_PRIMARY) {
		bsr_proto_warn("%s: the peer pulled ahead while we are %s and it is %s\n",
			       c->net->thread_tag, bsr_repl_name(pd->repl_state),
			       bsr_role_name(c->peer_role));
		return -EPROTO;
	}
	rv = bsr_set_repl_state(pd, BSR_REPLICATION_BEHIND);
	if (rv)
		return rv;
	bsr_info("%s: volume %u: the peer pulled ahead: Behind, Outdated until resynced\n",
		 c->net->thread_tag, d->vnr);
	if (bsr_get_ldev(d)) {
		bsr_outdate_behind(d);
		bsr_put_ldev(d);
	}
	bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
	return bsr_send_state(pd);
}

/* Receiver: OUT_OF_SYNC from the Ahead peer; the range goes into its bitmap slot. */
int bsr_cong_got_out_of_sync(struct bsr_peer_device *pd, const struct p_block_desc *p)
{
	struct bsr_device *d = pd->device;
	struct bsr_net *n = pd->connection->net;
	sector_t sector = be64_to_cpu(p->sector);
	u32 size = be32_to_cpu(p->blksize);
	int slot;

	if (!size || size > BSR_OOS_MAX_SIZE || (size & 511) || p->pad ||
	    !bsr_peer_range_ok(d, sector, size)) {
		bsr_proto_warn("%s: OUT_OF_SYNC for a bad range (sector %llu, %u bytes)\n",
			       n->thread_tag, (u64)sector, size);
		return -EPROTO;
	}
	if (READ_ONCE(pd->repl_state) != BSR_REPLICATION_BEHIND) {
		bsr_proto_warn("%s: OUT_OF_SYNC while %s\n", n->thread_tag,
			       bsr_repl_name(pd->repl_state));
		return -EPROTO;
	}
	if (!bsr_get_ldev(d))
		return 0;
	slot = bsr_pd_slot(pd);
	if (slot >= 0)
		bsr_bm_set_range(&d->ldev->bm, 1U << slot, sector >> 3,
				 (sector + (size >> 9) - 1) >> 3);
	bsr_put_ldev(d);
	return 0;
}
