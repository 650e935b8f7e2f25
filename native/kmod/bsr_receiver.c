// SPDX-License-Identifier: GPL-2.0-only
/*
 * bsr: connection life cycle and the receiving side.
 *
 * The receiver thread of a connection connects, runs the handshake (features, optional
 * CRAM-HMAC, PROTOCOL, SYNC_PARAM, VOLUMES, then per volume both nodes have SIZES, UUIDS,
 * STATE and the sync decision) and
 * then applies the data stream. Every packet is checked before it is used: magic,
 * length bounds for its type, volume number, sector range against the device size. A
 * bad packet drops the connection (ProtocolError); nothing a peer sends can crash us.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/delay.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <net/sock.h>

#include "bsr_net.h"

struct workqueue_struct *bsr_ack_wq;

static int receiver_thread(void *arg);
static int meta_thread(void *arg);

/* ------------------------------------------------------------------ objects */

int bsr_net_init(struct bsr_conn *c)
{
	struct bsr_net *n = kzalloc(sizeof(*n), GFP_KERNEL);

	if (!n)
		return -ENOMEM;
	n->conn = c;
	mutex_init(&n->data_mutex);
	mutex_init(&n->meta_mutex);
	mutex_init(&n->sock_mutex);
	spin_lock_init(&n->lock);
	INIT_LIST_HEAD(&n->tl);
	hash_init(n->tl_hash);
	init_waitqueue_head(&n->tl_wait);
	INIT_LIST_HEAD(&n->active_ee);
	INIT_LIST_HEAD(&n->done_ee);
	init_waitqueue_head(&n->ee_wait);
	INIT_WORK(&n->ack_work, bsr_ack_work);
	init_waitqueue_head(&n->rs_wait);
	init_waitqueue_head(&n->role_wait);
	n->role_reply = -1;
	atomic64_set(&n->ap_in_flight, 0);
	atomic64_set(&n->rs_in_flight, 0);
	atomic_set(&n->peer_pages, 0);
	bsr_cong_init(n);
	INIT_DELAYED_WORK(&n->app_work, bsr_app_report_work);
	n->cur_epoch = 1;
	/* a tag for thread names and logs: a long resource name is cut, the peer id kept */
	snprintf(n->thread_tag, sizeof(n->thread_tag), "%.*s/%u",
		 (int)sizeof(n->thread_tag) - 12, c->resource->name, c->peer_node_id);
	c->net = n;
	return 0;
}

void bsr_net_free(struct bsr_conn *c)
{
	if (!c->net)
		return;
	bsr_conn_stop(c, true);
	bsr_cong_reset(c);
	cancel_delayed_work_sync(&c->net->app_work);
	bsr_digest_set(&c->net->verify_tfm, "");
	bsr_digest_set(&c->net->csums_tfm, "");
	bsr_integrity_set_alg(c, "");
	kfree(c->net);
	c->net = NULL;
}

int bsr_pd_net_init(struct bsr_peer_device *pd)
{
	struct bsr_pd_net *p = kzalloc(sizeof(*p), GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	p->pd = pd;
	INIT_WORK(&p->bm_work, bsr_bm_send_work);
	spin_lock_init(&p->rs_lock);
	INIT_LIST_HEAD(&p->rs_done);
	INIT_LIST_HEAD(&p->rs_sent);
	INIT_LIST_HEAD(&p->ov_sent);
	INIT_LIST_HEAD(&p->ov_tq);
	INIT_WORK(&p->ov_work, bsr_ov_target_work);
	INIT_LIST_HEAD(&p->csum_reqs);
	atomic64_set(&p->rs_same_csum, 0);
	atomic64_set(&p->sent_sect, 0);
	atomic64_set(&p->recv_sect, 0);
	atomic64_set(&p->repl_sect, 0);
	pd->net = p;
	return 0;
}

void bsr_pd_net_free(struct bsr_peer_device *pd)
{
	if (pd->net) {
		cancel_work_sync(&pd->net->bm_work);
		/* the teardown answered or dropped the verify target's requests */
		WARN_ON_ONCE(pd->net->ov_tq_n);
		cancel_work_sync(&pd->net->ov_work);
		bsr_free_rs_skip(pd);
		bsr_fast_map_put(pd->net->ov_map);
		kfree(pd->net);
	}
	pd->net = NULL;
}

/* ------------------------------------------------------------------ state helpers */

/* Any thread: make the receiver tear the connection down (first reason wins). */
void bsr_conn_fail(struct bsr_conn *c, enum bsr_connection why)
{
	struct bsr_net *n = c->net;

	spin_lock_irq(&n->lock);
	/* BSR_CONNECTION_STANDALONE is 0, "no reason yet" for fail_state */
	if (why == BSR_CONNECTION_STANDALONE)
		n->give_up = true;
	else if (!n->fail_state)
		n->fail_state = why;
	spin_unlock_irq(&n->lock);
	WRITE_ONCE(n->net_ok, false);
	bsr_sock_shutdown(n);
	wake_up(&n->ee_wait);	/* a receiver waiting for max-buffers gives up */
}

int bsr_send_state(struct bsr_peer_device *pd)
{
	struct bsr_conn *c = pd->connection;
	struct p_state p = {
		.role = cpu_to_be32(READ_ONCE(c->resource->role)),
		.disk = cpu_to_be32(READ_ONCE(pd->device->disk_state)),
		.repl = cpu_to_be32(pd->repl_state),
		.flags = cpu_to_be32(bsr_rs_susp_here(pd) ? 1 : 0),
	};

	return bsr_send_packet(c, false, P_STATE, pd->device->vnr, &p, sizeof(p));
}

int bsr_send_uuids(struct bsr_peer_device *pd, u64 flags)
{
	struct bsr_device *d = pd->device;
	struct bsr_conn *c = pd->connection;
	struct p_uuids p;
	int i;

	memset(&p, 0, sizeof(p));
	if (bsr_get_ldev(d)) {
		struct bsr_md *md = &d->ldev->md;

		p.current_uuid = cpu_to_be64(md->current_uuid);
		p.bitmap_uuid = cpu_to_be64(md->peers[c->peer_node_id].bitmap_uuid);
		for (i = 0; i < BSR_WIRE_HISTORY; i++)
			p.history[i] = cpu_to_be64(md->history_uuids[i]);
		if (bsr_pd_slot(pd) >= 0)
			p.dirty_bits = cpu_to_be64(d->ldev->bm.weight[bsr_pd_slot(pd)]);
		if (md->flags & BSR_MDF_CRASHED_PRIMARY)
			flags |= UUID_FLAG_CRASHED_PRIMARY;
		bsr_put_ldev(d);
	}
	if (c->net->discard_my_data)
		flags |= UUID_FLAG_DISCARD_MY_DATA;
	p.flags = cpu_to_be64(flags);
	return bsr_send_packet(c, false, P_UUIDS, d->vnr, &p, sizeof(p));
}

static int send_sizes(struct bsr_peer_device *pd)
{
	struct bsr_device *d = pd->device;
	struct bsr_conn *c = pd->connection;
	struct p_sizes p;

	memset(&p, 0, sizeof(p));
	if (bsr_get_ldev(d)) {
		p.d_size = cpu_to_be64(d->ldev->data_avail);
		p.logical_block_size =
			cpu_to_be32(bdev_logical_block_size(d->ldev->backing_bdev));
		bsr_put_ldev(d);
	}
	p.c_size = cpu_to_be64(get_capacity(d->disk));
	p.max_bio_size = cpu_to_be32(BSR_MAX_DATA_SIZE);
	return bsr_send_packet(c, false, P_SIZES, d->vnr, &p,
			       bsr_sizes_len(c->net->agreed_pro_version));
}

/*
 * The logical block size /dev/bsrN exposes: the largest of its own disk's (own, 0 without
 * one) and the peers' disks' (as their last SIZES said), so that no one can write a block
 * smaller than a disk of the resource takes. A device in use keeps what it has (its users
 * chose their I/O sizes by it) unless its own disk needs more: a peer then refuses the
 * writes it cannot take and they stay out of sync (receive_data). The receivers of several
 * peers and attach may call it at once: the maximum is taken and set under the disk's
 * open_mutex, after the caller stored its peer's value.
 */
void bsr_update_block_size(struct bsr_device *d, unsigned int own)
{
	struct bsr_resource *r = d->resource;
	struct request_queue *q = d->disk->queue;
	unsigned int want = max_t(unsigned int, own, SECTOR_SIZE), cur, set;
	struct bsr_peer_device *pd;
	int idx;

	int err = 0;

	/* bsr_open runs under open_mutex: nobody opens d between the decision and the change */
	mutex_lock(&d->disk->open_mutex);
	idx = srcu_read_lock(&bsr_srcu);
	spin_lock_irq(&r->state_lock);
	list_for_each_entry_srcu(pd, &d->peer_devices, dev_list, srcu_read_lock_held(&bsr_srcu))
		if (pd->net)
			want = max(want, READ_ONCE(pd->net->peer_lbs));
	cur = queue_logical_block_size(q);
	set = d->open_cnt ? max(cur, own) : want;
	spin_unlock_irq(&r->state_lock);
	srcu_read_unlock(&bsr_srcu, idx);
	if (set != cur)
		err = bsr_queue_set_logical_block_size(q, set);
	mutex_unlock(&d->disk->open_mutex);

	if (err)
		bsr_err("%s: logical block size %u refused: %d\n", d->disk->disk_name, set, err);
	else if (set != cur)
		bsr_info("%s: logical block size %u (was %u)\n", d->disk->disk_name, set, cur);
	if (want > set)
		bsr_warn("%s: in use: the logical block size stays %u although a peer's disk takes no less than %u; smaller writes stay out of sync on that peer\n",
			 d->disk->disk_name, set, want);
}

/* ------------------------------------------------------------------ packet input */

/*
 * Exact or bounded payload sizes per type; false: the packet is malformed. dgs: the agreed
 * data-integrity-alg's digest size, which DATA and RS_DATA_REPLY carry before their data.
 */
static bool len_ok(enum bsr_packet cmd, u32 len, u32 pro, u32 dgs)
{
	switch (cmd) {
	case P_DATA:
		return len > sizeof(struct p_data) + dgs &&
		       len - sizeof(struct p_data) - dgs <= BSR_MAX_DATA_SIZE &&
		       !((len - sizeof(struct p_data) - dgs) & 511);
	case P_RS_DATA_REPLY:
		/* whole 4 KiB blocks, but a device's partial last one (receive_rs_data) */
		return len > sizeof(struct p_data) + dgs &&
		       len - sizeof(struct p_data) - dgs <= BSR_RS_MAX_SIZE &&
		       !((len - sizeof(struct p_data) - dgs) & 511);
	case P_BARRIER:
		return len == sizeof(struct p_barrier);
	case P_BITMAP:
		return len > sizeof(struct p_bitmap) &&
		       len <= sizeof(struct p_bitmap) + BM_CHUNK_WORDS * 8 &&
		       !((len - sizeof(struct p_bitmap)) & 7);
	case P_COMPRESSED_BITMAP:
		return len > sizeof(struct p_bitmap) &&
		       len < sizeof(struct p_bitmap) + BM_CHUNK_WORDS * 8;
	case P_UUIDS:
		return len == sizeof(struct p_uuids);
	case P_SIZES:
		return len == bsr_sizes_len(pro);
	case P_STATE:
		return len == sizeof(struct p_state);
	case P_BECOME_SYNC_TARGET:
	case P_BECOME_SYNC_SOURCE:
		return len == sizeof(struct p_sync_start);
	case P_STATE_CHG_REQ:
		return len == sizeof(struct p_role_req);
	case P_STATE_CHG_REPLY:
		return len == sizeof(struct p_role_reply);
	case P_PING:
	case P_PING_ACK:
		return len == 0;
	case P_RECV_ACK:
	case P_WRITE_ACK:
	case P_RS_WRITE_ACK:
	case P_NEG_ACK:
	case P_NEG_RS_DREPLY:
	case P_RS_IS_IN_SYNC:
		return len == sizeof(struct p_block_ack);
	case P_BARRIER_ACK:
		return len == sizeof(struct p_barrier_ack);
	case P_PROTOCOL:
		return len == sizeof(struct p_protocol);
	case P_CONNECTION_FEATURES:
		return len == sizeof(struct p_features);
	case P_SYNC_PARAM:
		return len == BSR_SYNC_PARAM_LEN_VERIFY || len == BSR_SYNC_PARAM_LEN_INTEGRITY ||
		       len == BSR_SYNC_PARAM_LEN_CSUMS;
	case P_OV_REQUEST:
		/* the digests' length is checked against the agreed verify-alg */
		return len > sizeof(struct p_ov_request) &&
		       len - sizeof(struct p_ov_request) <= BSR_RS_MAX_BLOCKS * BSR_DIGEST_MAX;
	case P_OV_RESULT:
		return len == sizeof(struct p_ov_result);
	case P_OUT_OF_SYNC:
		return len == sizeof(struct p_block_desc);
	case P_CSUM_RS_REQUEST:
		/* the digests' length is checked against the agreed csums-alg */
		return len > sizeof(struct p_csum_rs_request) &&
		       len - sizeof(struct p_csum_rs_request) <= BSR_RS_MAX_BLOCKS * BSR_DIGEST_MAX;
	case P_VOLUMES:
		/* the count must match: recv_volumes() */
		return len >= sizeof(struct p_volumes) &&
		       len - sizeof(struct p_volumes) <= BSR_VOLUMES_MAX * sizeof(__be16) &&
		       !((len - sizeof(struct p_volumes)) % sizeof(__be16));
	case P_APP_ACTIVE:
		return len == 0;
	default:
		return false;
	}
}

static bool per_volume(enum bsr_packet cmd)
{
	switch (cmd) {
	case P_DATA:
	case P_RS_DATA_REPLY:
	case P_BITMAP:
	case P_COMPRESSED_BITMAP:
	case P_UUIDS:
	case P_SIZES:
	case P_STATE:
	case P_BECOME_SYNC_TARGET:
	case P_BECOME_SYNC_SOURCE:
	case P_RS_WRITE_ACK:
	case P_NEG_RS_DREPLY:
	case P_RECV_ACK:	/* block acks name the volume of the write */
	case P_WRITE_ACK:
	case P_NEG_ACK:
	case P_OV_REQUEST:
	case P_OV_RESULT:
	case P_OUT_OF_SYNC:
	case P_CSUM_RS_REQUEST:
	case P_RS_IS_IN_SYNC:
	case P_APP_ACTIVE:
		return true;
	default:
		return false;
	}
}

struct pkt {
	enum bsr_packet cmd;
	u16 vnr;
	u32 len;
	struct bsr_peer_device *pd;
	union {
		struct p_features features;
		struct p_protocol protocol;
		struct p_sizes sizes;
		struct p_uuids uuids;
		struct p_state state;
		struct p_barrier barrier;
		struct p_barrier_ack barrier_ack;
		struct p_block_ack ack;
		struct p_sync_start sync;
		struct p_role_req role_req;
		struct p_role_reply role_reply;
		struct p_data data;
		struct p_bitmap bitmap;
		struct p_sync_param sync_param;
		struct p_ov_request ov_request;
		struct p_ov_result ov_result;
		struct p_block_desc block_desc;
		struct p_csum_rs_request csum_request;
		struct p_volumes volumes;
	} u;
};

/* Header, checks, and the fixed part of the payload (the rest stays in the socket). */
static int recv_pkt(struct bsr_conn *c, struct socket *s, struct pkt *p)
{
	u32 fixed;
	int rv;

	rv = bsr_recv_header(s, &p->cmd, &p->vnr, &p->len);
	if (rv)
		return rv;
	if (!len_ok(p->cmd, p->len, c->net->agreed_pro_version, c->net->integrity_dgs)) {
		bsr_proto_warn("%s: packet %u with a bad length %u\n", c->net->thread_tag, p->cmd,
			       p->len);
		return -EPROTO;
	}
	p->pd = NULL;
	if (per_volume(p->cmd)) {
		p->pd = bsr_find_peer_device(c, p->vnr);
		/* a volume outside the handshake's set is as unknown as one never configured */
		if (!p->pd || !p->pd->net || !READ_ONCE(p->pd->net->shared)) {
			bsr_proto_warn("%s: packet %u for unknown volume %u\n", c->net->thread_tag,
				       p->cmd, p->vnr);
			return -EPROTO;
		}
	} else if (p->vnr) {
		bsr_proto_warn("%s: packet %u names volume %u\n", c->net->thread_tag, p->cmd,
			       p->vnr);
		return -EPROTO;
	}
	switch (p->cmd) {
	case P_DATA:
	case P_RS_DATA_REPLY:
		fixed = sizeof(struct p_data);
		break;
	case P_BITMAP:
	case P_COMPRESSED_BITMAP:
		fixed = sizeof(struct p_bitmap);
		break;
	case P_OV_REQUEST:
		fixed = sizeof(struct p_ov_request);
		break;
	case P_CSUM_RS_REQUEST:
		fixed = sizeof(struct p_csum_rs_request);
		break;
	case P_VOLUMES:
		fixed = sizeof(struct p_volumes);
		break;
	default:
		fixed = p->len;
	}
	if (fixed > sizeof(p->u))
		return -EPROTO;
	return fixed ? bsr_sock_recv(s, &p->u, fixed) : 0;
}

/* ------------------------------------------------------------------ handshake */

static int expect(struct bsr_conn *c, struct pkt *p, enum bsr_packet cmd)
{
	int rv = recv_pkt(c, c->net->data_sock, p);

	if (rv)
		return rv;
	if (p->cmd != cmd) {
		bsr_proto_warn("%s: expected packet %u, got %u\n", c->net->thread_tag, cmd, p->cmd);
		return -EPROTO;
	}
	return 0;
}

/* A failure that should not be retried: the connection goes StandAlone. */
#define E_STANDALONE 5000

static int do_features(struct bsr_conn *c)
{
	struct bsr_net *n = c->net;
	struct p_features f = {
		.protocol_min = cpu_to_be32(BSR_PROTOCOL_MIN),
		.feature_flags = cpu_to_be32(BSR_FF_APP_ACTIVE),
		.protocol_max = cpu_to_be32(BSR_PROTOCOL_MAX),
		.sender_node_id = cpu_to_be32(c->resource->node_id),
		.receiver_node_id = cpu_to_be32(c->peer_node_id),
	};
	struct pkt p;
	u32 pmin, pmax;
	int rv;

	rv = bsr_send_packet(c, false, P_CONNECTION_FEATURES, 0, &f, sizeof(f));
	if (rv)
		return rv;
	rv = expect(c, &p, P_CONNECTION_FEATURES);
	if (rv)
		return rv;
	pmin = be32_to_cpu(p.u.features.protocol_min);
	pmax = be32_to_cpu(p.u.features.protocol_max);
	/* not authenticated yet: whoever sent this must not stop the connecting (retried) */
	if (pmax < pmin || pmax < BSR_PROTOCOL_MIN || pmin > BSR_PROTOCOL_MAX) {
		bsr_err("%s: incompatible protocol versions: peer %u-%u, we %u-%u\n",
			n->thread_tag, pmin, pmax, BSR_PROTOCOL_MIN, BSR_PROTOCOL_MAX);
		return -EPROTO;
	}
	if (be32_to_cpu(p.u.features.sender_node_id) != c->peer_node_id ||
	    be32_to_cpu(p.u.features.receiver_node_id) != c->resource->node_id) {
		bsr_err("%s: node-id mismatch: the peer says it is %u and talks to %u\n",
			n->thread_tag, be32_to_cpu(p.u.features.sender_node_id),
			be32_to_cpu(p.u.features.receiver_node_id));
		return -EPROTO;
	}
	n->agreed_pro_version = min_t(u32, pmax, BSR_PROTOCOL_MAX);
	/* a peer without a feature leaves its bit clear: it is never sent what it does not know */
	n->agreed_features = be32_to_cpu(p.u.features.feature_flags) & BSR_FF_APP_ACTIVE;
	return 0;
}

/*
 * The split-brain policies decide on both nodes from the same facts, so both must have the
 * same ones; discard-local on one node pairs with discard-remote on the other. A mismatch is
 * retried, as a protocol mismatch is: net-options runs on one node after the other.
 */
static int same_after_sb(struct bsr_net *n, const u32 *mine, const struct p_protocol *peer)
{
	static const char * const names[3][BSR_AFTER_SB_0PRI__COUNT] = {
		{ BSR_AFTER_SB_0PRI_NAMES }, { BSR_AFTER_SB_1PRI_NAMES }, { BSR_AFTER_SB_2PRI_NAMES },
	};
	static const u32 counts[3] = {
		BSR_AFTER_SB_0PRI__COUNT, BSR_AFTER_SB_1PRI__COUNT, BSR_AFTER_SB_2PRI__COUNT,
	};
	u32 theirs[3] = {
		be32_to_cpu(peer->after_sb_0p), be32_to_cpu(peer->after_sb_1p),
		be32_to_cpu(peer->after_sb_2p),
	};
	int i;

	for (i = 0; i < 3; i++) {
		u32 expected = mine[i];

		if (i == 0 && expected == BSR_AFTER_SB_0PRI_DISCARD_LOCAL)
			expected = BSR_AFTER_SB_0PRI_DISCARD_REMOTE;
		else if (i == 0 && expected == BSR_AFTER_SB_0PRI_DISCARD_REMOTE)
			expected = BSR_AFTER_SB_0PRI_DISCARD_LOCAL;
		if (theirs[i] == expected)
			continue;
		bsr_err("%s: after-sb-%dpri differs: this node's %s, the peer's %s%s; retrying\n",
			n->thread_tag, i, names[i][mine[i]],
			theirs[i] < counts[i] ? names[i][theirs[i]] : "(unknown)",
			i == 0 ? " (discard-local pairs with discard-remote)" : "");
		return -EPROTO;
	}
	return 0;
}

static int do_protocol(struct bsr_conn *c)
{
	struct bsr_net *n = c->net;
	u32 proto = bsr_conf(&c->net_conf, T_NET_CONF_PROTOCOL);
	struct p_protocol mine = { 0 };
	u32 after_sb[3];
	struct pkt p;
	u32 peer;
	int rv;

	if (proto < BSR_PROTOCOL_A || proto > BSR_PROTOCOL_C)
		proto = BSR_PROTOCOL_C;
	mine.protocol = cpu_to_be32(proto);
	after_sb[0] = bsr_conf(&c->net_conf, T_NET_CONF_AFTER_SB_0PRI);
	after_sb[1] = bsr_conf(&c->net_conf, T_NET_CONF_AFTER_SB_1PRI);
	after_sb[2] = bsr_conf(&c->net_conf, T_NET_CONF_AFTER_SB_2PRI);
	mine.after_sb_0p = cpu_to_be32(after_sb[0]);
	mine.after_sb_1p = cpu_to_be32(after_sb[1]);
	mine.after_sb_2p = cpu_to_be32(after_sb[2]);
	mine.conn_flags = cpu_to_be32((n->discard_my_data ? CF_DISCARD_MY_DATA : 0) |
				      (n->tentative ? CF_TENTATIVE : 0));
	rv = bsr_send_packet(c, false, P_PROTOCOL, 0, &mine, sizeof(mine));
	if (rv)
		return rv;
	rv = expect(c, &p, P_PROTOCOL);
	if (rv)
		return rv;
	peer = be32_to_cpu(p.u.protocol.protocol);
	if (peer != proto) {
		bsr_err("%s: incompatible replication protocols: ours %c, the peer's %c\n",
			n->thread_tag, 'A' + proto - 1,
			peer >= 1 && peer <= 3 ? 'A' + peer - 1 : '?');
		/* retried: while net-options runs on both nodes they differ for a moment */
		return -EPROTO;
	}
	if (be32_to_cpu(p.u.protocol.two_primaries)) {
		bsr_err("%s: the peer allows two primaries, bsr does not\n", n->thread_tag);
		return -E_STANDALONE;
	}
	rv = same_after_sb(n, after_sb, &p.u.protocol);
	if (rv)
		return rv;
	n->protocol = proto;
	memcpy(n->after_sb, after_sb, sizeof(n->after_sb));
	n->peer_discard_my_data = be32_to_cpu(p.u.protocol.conn_flags) & CF_DISCARD_MY_DATA;
	n->peer_tentative = be32_to_cpu(p.u.protocol.conn_flags) & CF_TENTATIVE;
	return 0;
}

/* One algorithm of SYNC_PARAM: the peer's must be terminated and equal ours. */
static int same_alg(struct bsr_net *n, const char *what, const char *mine, const char *peer)
{
	if (!memchr(peer, 0, BSR_ALG_NAME_LEN)) {
		bsr_proto_warn("%s: the peer's %s is not terminated\n", n->thread_tag, what);
		return -EPROTO;
	}
	if (!strcmp(mine, peer))
		return 0;
	bsr_err("%s: %s differs: this node's \"%s\", the peer's \"%s\"%s\n", n->thread_tag, what,
		mine, peer, n->agreed_pro_version < 3 ? " (its protocol has none)" : "");
	return -E_STANDALONE;
}

/*
 * Protocol 3: both nodes send their algorithms (SYNC_PARAM) and must name the same ones; a
 * peer of an older protocol has none, a short SYNC_PARAM none of those it leaves out
 * (data-integrity-alg, csums-alg). A mismatch is a configuration error: StandAlone.
 */
static int do_sync_param(struct bsr_conn *c)
{
	struct bsr_net *n = c->net;
	struct p_sync_param mine = { 0 }, none = { 0 };
	const struct p_sync_param *peer = &none;
	struct pkt p;
	int rv;

	bsr_conf_str(&c->net_conf, T_NET_CONF_VERIFY_ALG, mine.verify_alg,
		       sizeof(mine.verify_alg));
	bsr_conf_str(&c->net_conf, T_NET_CONF_DATA_INTEGRITY_ALG, mine.integrity_alg,
		       sizeof(mine.integrity_alg));
	bsr_conf_str(&c->net_conf, T_NET_CONF_CSUMS_ALG, mine.csums_alg, sizeof(mine.csums_alg));
	if (n->agreed_pro_version >= 3) {
		u32 len = mine.csums_alg[0] ? BSR_SYNC_PARAM_LEN_CSUMS :
			  mine.integrity_alg[0] ? BSR_SYNC_PARAM_LEN_INTEGRITY :
						  BSR_SYNC_PARAM_LEN_VERIFY;

		rv = bsr_send_packet(c, false, P_SYNC_PARAM, 0, &mine, len);
		if (!rv)
			rv = expect(c, &p, P_SYNC_PARAM);
		if (rv)
			return rv;
		memset((u8 *)&p.u.sync_param + p.len, 0, sizeof(p.u.sync_param) - p.len);
		peer = &p.u.sync_param;
	}
	rv = same_alg(n, "verify-alg", mine.verify_alg, peer->verify_alg);
	if (!rv)
		rv = same_alg(n, "data-integrity-alg", mine.integrity_alg, peer->integrity_alg);
	if (!rv)
		rv = same_alg(n, "csums-alg", mine.csums_alg, peer->csums_alg);
	if (rv)
		return rv;
	rv = bsr_digest_set(&n->verify_tfm, mine.verify_alg);
	if (rv) {
		bsr_err("%s: verify-alg %s: %d\n", n->thread_tag, mine.verify_alg, rv);
		return -E_STANDALONE;
	}
	rv = bsr_digest_set(&n->csums_tfm, mine.csums_alg);
	if (rv) {
		bsr_err("%s: csums-alg %s: %d\n", n->thread_tag, mine.csums_alg, rv);
		return -E_STANDALONE;
	}
	if (mine.csums_alg[0])
		bsr_info("%s: csums-alg %s\n", n->thread_tag, mine.csums_alg);
	rv = bsr_integrity_set_alg(c, mine.integrity_alg);
	if (rv) {
		bsr_err("%s: data-integrity-alg %s: %d\n", n->thread_tag, mine.integrity_alg, rv);
		return -E_STANDALONE;
	}
	if (mine.integrity_alg[0])
		bsr_info("%s: data-integrity-alg %s\n", n->thread_tag, mine.integrity_alg);
	return 0;
}

static int cmp_vnr(const void *a, const void *b)
{
	return (int)*(const u16 *)a - (int)*(const u16 *)b;
}

/* The peer's VOLUMES: count volume numbers, strictly ascending; marks ours it has too. */
static int recv_volumes(struct bsr_conn *c, const struct pkt *p)
{
	struct bsr_net *n = c->net;
	u32 count = be32_to_cpu(p->u.volumes.count), i, prev = 0, theirs_only = 0;
	__be16 chunk[64];

	if (count > BSR_VOLUMES_MAX ||
	    p->len != sizeof(struct p_volumes) + count * sizeof(__be16)) {
		bsr_proto_warn("%s: malformed VOLUMES: %u bytes for %u volumes\n", n->thread_tag, p->len,
			       count);
		return -EPROTO;
	}
	for (i = 0; i < count; i++) {
		struct bsr_peer_device *pd;
		u32 vnr;
		int rv;

		if (!(i % ARRAY_SIZE(chunk))) {
			rv = bsr_sock_recv(n->data_sock, chunk,
					   min_t(u32, count - i, ARRAY_SIZE(chunk)) * sizeof(__be16));
			if (rv)
				return rv;
		}
		vnr = be16_to_cpu(chunk[i % ARRAY_SIZE(chunk)]);
		if (vnr > BSR_MAX_VOLUMES || (i && vnr <= prev)) {
			bsr_proto_warn("%s: malformed VOLUMES: volume %u after %u (not ascending)\n",
				       n->thread_tag, vnr, prev);
			return -EPROTO;
		}
		prev = vnr;
		pd = bsr_find_peer_device(c, vnr);
		if (pd && pd->net->offered)
			WRITE_ONCE(pd->net->shared, true);
		else
			theirs_only++;
	}
	if (theirs_only)
		bsr_info("%s: the peer has %u volume(s) this node does not: not replicated\n",
			 n->thread_tag, theirs_only);
	return 0;
}

/*
 * Protocol 4: both nodes list their volumes (VOLUMES); the connection comes up for those both
 * have (pd->net->shared), the others stay unconnected until a later handshake finds them on
 * both sides (attach and del-minor reconnect). A peer of an older protocol lists none: it must
 * have ours, as before. A volume created while this runs was not offered: not replicated.
 */
static int do_volumes(struct bsr_conn *c)
{
	struct bsr_net *n = c->net;
	struct bsr_peer_device *pd;
	struct p_volumes *msg;
	u32 count = 0, i = 0;
	struct pkt p;
	u16 *vnrs;
	int rv;

	list_for_each_entry(pd, &c->peer_devices, conn_list)
		count++;
	msg = kmalloc(sizeof(*msg) + count * sizeof(u16), GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	vnrs = (u16 *)(msg + 1);
	list_for_each_entry(pd, &c->peer_devices, conn_list) {
		pd->net->offered = i < count;
		WRITE_ONCE(pd->net->shared, pd->net->offered && n->agreed_pro_version < 4);
		if (pd->net->offered)
			vnrs[i++] = pd->device->vnr;
	}
	count = i;
	if (n->agreed_pro_version < 4) {
		kfree(msg);
		return 0;
	}
	sort(vnrs, count, sizeof(u16), cmp_vnr, NULL);
	for (i = 0; i < count; i++)
		((__be16 *)vnrs)[i] = cpu_to_be16(vnrs[i]);
	msg->count = cpu_to_be32(count);
	rv = bsr_send_packet(c, false, P_VOLUMES, 0, msg, sizeof(*msg) + count * sizeof(u16));
	kfree(msg);
	if (!rv)
		rv = expect(c, &p, P_VOLUMES);
	if (!rv)
		rv = recv_volumes(c, &p);
	if (rv)
		return rv;
	list_for_each_entry(pd, &c->peer_devices, conn_list)
		if (pd->net->offered && !pd->net->shared)
			bsr_info("%s: volume %u: the peer does not have it: not replicated\n",
				 n->thread_tag, pd->device->vnr);
	return 0;
}

static void got_uuids(struct bsr_peer_device *pd, const struct p_uuids *u)
{
	struct bsr_pd_net *p = pd->net;
	int i;

	p->peer_current = be64_to_cpu(u->current_uuid);
	p->peer_bitmap = be64_to_cpu(u->bitmap_uuid);
	for (i = 0; i < BSR_WIRE_HISTORY; i++)
		p->peer_history[i] = be64_to_cpu(u->history[i]);
	p->peer_flags = be64_to_cpu(u->flags);
	p->peer_dirty = be64_to_cpu(u->dirty_bits);
	p->uuids_received = true;
}

static void got_state(struct bsr_peer_device *pd, const struct p_state *s)
{
	u32 role = be32_to_cpu(s->role), disk = be32_to_cpu(s->disk);
	bool susp = be32_to_cpu(s->flags) & 1;
	struct bsr_conn *c = pd->connection;

	if (role >= BSR_ROLE__COUNT)
		role = BSR_ROLE_UNKNOWN;
	if (disk >= BSR_DISK__COUNT)
		disk = BSR_DISK_DUNKNOWN;
	if (c->peer_role != role) {
		c->peer_role = role;
		bsr_notify_connection(c, BSR_NOTIFY_CHANGE);
	}
	/* the peer's promotion we agreed to is done (or failed): its role is known now */
	WRITE_ONCE(c->net->peer_promoting, false);
	pd->peer_disk_state = disk;
	if (pd->net->resync_susp_peer != susp) {
		pd->net->resync_susp_peer = susp;
		bsr_rs_pause_update(pd);
	}
	pd->net->state_received = true;
	bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
}

/*
 * The peer's usable size: in the handshake a smaller one shrinks the device only while our data
 * is not worth keeping yet (Inconsistent or worse, e.g. both nodes fresh). A device with good
 * data keeps its size and refuses the peer, as DRBD does: shrinking would cut off data, under a
 * file system too. Once connected, the size is agreed: a peer that shrinks is refused. The
 * bitmap shrinks with the device: a resync and the bitmap exchange cover the device, no more.
 * Protocol 2 also carries the logical block size of the peer's disk (bsr_update_block_size).
 */
static int got_sizes(struct bsr_peer_device *pd, const struct p_sizes *s, bool connected)
{
	struct bsr_device *d = pd->device;
	struct bsr_net *n = pd->connection->net;
	u64 peer = be64_to_cpu(s->d_size), mine, cur;
	unsigned int own;
	u32 lbs = 0;
	int rv = 0;

	if (n->agreed_pro_version >= 2) {
		lbs = be32_to_cpu(s->logical_block_size);
		if (lbs && (lbs < SECTOR_SIZE || lbs > PAGE_SIZE || !is_power_of_2(lbs))) {
			bsr_proto_warn("%s: the peer's logical block size %u is not a power of two in 512..%lu\n",
				       n->thread_tag, lbs, PAGE_SIZE);
			return -EPROTO;
		}
	}
	if (connected && peer && peer < get_capacity(d->disk)) {
		bsr_proto_warn("%s: the peer's disk shrank to %llu sectors while connected\n",
			       n->thread_tag, peer);
		return -EPROTO;
	}
	pd->net->peer_d_size = peer;
	WRITE_ONCE(pd->net->peer_lbs, lbs);
	pd->net->sizes_received = true;
	if (!bsr_get_ldev(d)) {
		bsr_update_block_size(d, 0);
		return 0;
	}
	own = bdev_logical_block_size(d->ldev->backing_bdev);
	mine = d->ldev->data_avail;
	cur = get_capacity(d->disk);
	if (n->tentative || n->peer_tentative) {
		if (peer && peer < mine && cur > peer)
			bsr_info("%s: tentative: volume %u: the peer's disk is smaller (%llu < %llu sectors): would shrink the device or refuse\n",
				 n->thread_tag, d->vnr, peer, cur);
		goto out;
	}
	if (peer && peer < mine && cur > peer) {
		if (READ_ONCE(d->disk_state) >= BSR_DISK_OUTDATED) {
			bsr_err("%s: the peer's disk is too small (%llu < %llu sectors): refusing to shrink the device\n",
				d->disk->disk_name, peer, cur);
			rv = -E_STANDALONE;
			goto out;
		}
		bsr_warn("%s: the peer's disk is smaller: usable size %llu sectors\n",
			 d->disk->disk_name, peer);
		set_capacity_and_notify(d->disk, peer);
		bsr_bm_shrink(&d->ldev->bm, DIV_ROUND_UP_ULL(peer, 8));
	}
	bsr_update_block_size(d, own);
out:
	bsr_put_ldev(d);
	return rv;
}

/*
 * The peer slots' CONNECTED flag says whether this node still had the peer when it last
 * knew: cleared when the peer is lost while this node stays up (the cluster degraded), kept
 * by this node's own disconnect or down. `wait-connect --degr-wfc-timeout` reads it after a
 * reboot. adm_mutex held.
 */
static void mark_peer_connected(struct bsr_conn *c, bool connected)
{
	struct bsr_peer_device *pd;

	list_for_each_entry(pd, &c->peer_devices, conn_list) {
		struct bsr_device *d = pd->device;
		u32 *flags;

		/* connected: only the volumes the peer has */
		if ((connected && !pd->net->shared) || !bsr_get_ldev(d))
			continue;
		flags = &d->ldev->md.peers[c->peer_node_id].flags;
		if (!!(*flags & BSR_MDF_PEER_CONNECTED) != connected) {
			*flags ^= BSR_MDF_PEER_CONNECTED;
			bsr_md_write_sb(d, d->ldev);
		}
		bsr_put_ldev(d);
	}
}

static int handshake(struct bsr_conn *c)
{
	struct bsr_net *n = c->net;
	struct bsr_resource *r = c->resource;
	struct bsr_peer_device *pd;
	u32 shared = 0, i;
	struct pkt p;
	int rv;

	n->data_sock->sk->sk_rcvtimeo = 10 * HZ;
	n->meta_sock->sk->sk_rcvtimeo = 10 * HZ;
	/* a new connection counts its own digest mismatches towards a reconnect */
	n->integrity_window_count = 0;
	rv = do_features(c);
	if (rv)
		return rv;
	/*
	 * Both streams prove the secret: a meta stream slipped in from the peer's address
	 * cannot feed acks. A failure is retried at connect-int: an impostor must not be able
	 * to leave the resource StandAlone.
	 */
	rv = bsr_auth(c, false);
	if (!rv)
		rv = bsr_auth(c, true);
	if (rv == -EACCES) {
		bsr_err("%s: authentication of the peer failed (wrong shared-secret?); retrying\n",
			n->thread_tag);
		return -EACCES;
	}
	if (rv)
		return rv;
	rv = do_protocol(c);
	if (!rv)
		rv = do_sync_param(c);
	if (!rv)
		rv = do_volumes(c);
	if (rv)
		return rv;

	list_for_each_entry(pd, &c->peer_devices, conn_list) {
		if (!pd->net->shared)
			continue;
		shared++;
		pd->net->state_received = false;
		rv = send_sizes(pd);
		if (!rv)
			rv = bsr_send_uuids(pd, 0);
		if (!rv)
			rv = bsr_send_state(pd);
		if (rv)
			return rv;
	}
	/*
	 * from here on, writes are sent to the peer (they follow our handshake packets); not
	 * to a peer in a tentative handshake, which ends before any replication
	 */
	mutex_lock(&n->data_mutex);
	spin_lock_irq(&n->lock);
	n->fail_state = 0;
	n->give_up = false;
	spin_unlock_irq(&n->lock);
	WRITE_ONCE(n->net_ok, !(n->tentative || n->peer_tentative));
	mutex_unlock(&n->data_mutex);

	/*
	 * The peer's SIZES, UUIDS, STATE for each volume both have, in the peer's order of its
	 * volumes (which need not be ours: a volume deleted and created again comes last).
	 */
	for (i = 0; i < shared; i++) {
		rv = expect(c, &p, P_SIZES);
		if (rv)
			return rv;
		pd = p.pd;	/* shared: recv_pkt refuses the others */
		if (pd->net->state_received) {
			bsr_proto_warn("%s: volume %u: a second SIZES in the handshake\n",
				       n->thread_tag, p.vnr);
			return -EPROTO;
		}
		rv = got_sizes(pd, &p.u.sizes, false);
		if (!rv)
			rv = expect(c, &p, P_UUIDS);
		if (!rv && p.pd != pd)
			rv = -EPROTO;
		if (rv)
			return rv;
		got_uuids(pd, &p.u.uuids);
		rv = expect(c, &p, P_STATE);
		if (!rv && p.pd != pd)
			rv = -EPROTO;
		if (rv)
			return rv;
		got_state(pd, &p.u.state);
	}
	n->data_sock->sk->sk_rcvtimeo = MAX_SCHEDULE_TIMEOUT;

	if (n->tentative || n->peer_tentative) {
		mutex_lock(&r->adm_mutex);
		list_for_each_entry(pd, &c->peer_devices, conn_list) {
			if (pd->net->shared)
				bsr_sync_tentative(pd);
		}
		mutex_unlock(&r->adm_mutex);
		/* the node that asked stays StandAlone; its peer goes on trying to connect */
		bsr_info("%s: tentative connect (%s): the connection ends here\n", n->thread_tag,
			 n->tentative ? "asked here" : "asked by the peer");
		return n->tentative ? -E_STANDALONE : -ECONNABORTED;
	}

	mutex_lock(&r->adm_mutex);
	/*
	 * which volumes the connection replicates, before it is Connected: a waiter for
	 * wait-connect then knows which peer devices have yet to leave replication Off
	 */
	list_for_each_entry(pd, &c->peer_devices, conn_list)
		bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
	bsr_set_cstate(c, BSR_CONNECTION_CONNECTED);
	list_for_each_entry(pd, &c->peer_devices, conn_list) {
		if (!pd->net->shared)
			continue;
		rv = bsr_sync_handshake(pd);
		if (rv)
			break;
	}
	if (!rv)
		mark_peer_connected(c, true);
	mutex_unlock(&r->adm_mutex);
	list_for_each_entry(pd, &c->peer_devices, conn_list) {
		if (pd->net->split_brain) {
			pd->net->split_brain = false;
			bsr_notify_split_brain(pd);
		}
	}
	if (!rv)
		bsr_unfence_check(c);
	if (rv == -EBADE)
		return -E_STANDALONE;
	if (!rv)
		n->discard_my_data = false;
	return rv;
}

/* ------------------------------------------------------------------ peer writes */

/* Pages held for the peer were freed: a receiver waiting for max-buffers may go on. */
void bsr_peer_pages_put(struct bsr_net *n, unsigned int pages)
{
	atomic_sub(pages, &n->peer_pages);
	wake_up(&n->ee_wait);
}

static bool peer_pages_below_limit(struct bsr_conn *c)
{
	return atomic_read(&c->net->peer_pages) <
	       bsr_conf(&c->net_conf, T_NET_CONF_MAX_BUFFERS);
}

/*
 * Receiver, before it takes pages for the peer's next request: waits while the connection
 * holds max-buffers pages or more for the peer (a threshold: the request that crosses it is
 * taken whole). Meanwhile the request stays in the socket, so a peer sending faster than our
 * disk writes is held back by TCP. The pages come back as our disk completes, through
 * ack_work and ov_work, never through this thread; a teardown or stop ends the wait.
 */
static int wait_for_peer_pages(struct bsr_conn *c)
{
	struct bsr_net *n = c->net;

	if (wait_event_interruptible(n->ee_wait, peer_pages_below_limit(c) ||
				     !READ_ONCE(n->net_ok) || kthread_should_stop()))
		return -EINTR;
	return READ_ONCE(n->net_ok) && !kthread_should_stop() ? 0 : -ECONNRESET;
}

static void free_peer_req(struct bsr_peer_req *pr)
{
	unsigned int i;

	for (i = 0; i < pr->n_pages; i++)
		if (pr->pages[i])
			bsr_page_put(pr->pages[i]);
	atomic_dec(&pr->pd->net->unacked);
	bsr_peer_pages_put(pr->pd->connection->net, pr->n_pages);
	kfree(pr);
}

/* Counted in unacked and peer_pages from here until free_peer_req, answered or not. */
static struct bsr_peer_req *alloc_peer_req(struct bsr_peer_device *pd, u32 size)
{
	unsigned int n = DIV_ROUND_UP(size, PAGE_SIZE), i;
	struct bsr_peer_req *pr;

	if (wait_for_peer_pages(pd->connection))
		return ERR_PTR(-ECONNRESET);
	pr = kzalloc(struct_size(pr, pages, n), GFP_NOIO);
	if (!pr)
		return ERR_PTR(-ENOMEM);
	pr->pd = pd;
	pr->size = size;
	pr->n_pages = n;
	atomic_inc(&pd->net->unacked);
	atomic_add(n, &pd->connection->net->peer_pages);
	for (i = 0; i < n; i++) {
		pr->pages[i] = bsr_page_get(GFP_NOIO);
		if (!pr->pages[i]) {
			free_peer_req(pr);
			return ERR_PTR(-ENOMEM);
		}
	}
	return pr;
}

static void peer_req_done(struct bsr_peer_req *pr)
{
	struct bsr_net *n = pr->pd->connection->net;
	unsigned long flags;

	spin_lock_irqsave(&n->lock, flags);
	list_move_tail(&pr->list, &n->done_ee);
	spin_unlock_irqrestore(&n->lock, flags);
	wake_up(&n->ee_wait);
	queue_work(bsr_ack_wq, &n->ack_work);
}

static void peer_endio(struct bio *bio)
{
	struct bsr_peer_req *pr = bio->bi_private;

	if (bio->bi_status) {
		pr->status = bio->bi_status;
		/* on-io-error applies to the peer's writes too; pr pins the ldev */
		bsr_io_error(pr->pd->device, pr->sector, pr->size, bio->bi_status);
	}
	bio_put(bio);
	if (atomic_dec_and_test(&pr->pending_bios))
		peer_req_done(pr);
}

static bool overlaps_active(struct bsr_net *n, sector_t sector, u32 size)
{
	struct bsr_peer_req *pr;
	bool hit = false;

	spin_lock_irq(&n->lock);
	list_for_each_entry(pr, &n->active_ee, list) {
		if (pr->sector < sector + (size >> 9) && sector < pr->sector + (pr->size >> 9)) {
			hit = true;
			break;
		}
	}
	spin_unlock_irq(&n->lock);
	return hit;
}

static bool active_empty(struct bsr_net *n)
{
	bool e;

	spin_lock_irq(&n->lock);
	e = list_empty(&n->active_ee);
	spin_unlock_irq(&n->lock);
	return e;
}

/* Submits pages [first, first + count) of pr at sector; counted in pending_bios. */
static int submit_pages(struct bsr_peer_req *pr, struct block_device *bdev, sector_t sector,
			unsigned int first, unsigned int count, u32 bytes, blk_opf_t opf)
{
	struct bio *bio;
	unsigned int i;

	bio = bio_alloc(bdev, count, opf, GFP_NOIO);
	if (!bio)
		return -ENOMEM;
	bio->bi_iter.bi_sector = sector;
	bio->bi_private = pr;
	bio->bi_end_io = peer_endio;
	for (i = 0; i < count; i++) {
		u32 len = min_t(u32, bytes, PAGE_SIZE);

		if (bio_add_page(bio, pr->pages[first + i], len, 0) != len) {
			bio_put(bio);
			return -EIO;
		}
		bytes -= len;
	}
	atomic_inc(&pr->pending_bios);
	submit_bio(bio);
	return 0;
}

static int send_neg_ack(struct bsr_conn *c, struct pkt *p, u32 size)
{
	struct p_block_ack a = {
		.sector = p->u.data.sector, .block_id = p->u.data.block_id,
		.blksize = cpu_to_be32(size), .seq_num = p->u.data.seq_num,
	};

	return bsr_send_packet(c, true, P_NEG_ACK, p->vnr, &a, sizeof(a));
}

/*
 * A peer write makes its extents active in our own activity log first, so that a crash
 * of this node marks them out of sync when the disk is attached again.
 */
static int peer_req_al_begin(struct bsr_device *d, struct bsr_peer_req *pr)
{
	struct bsr_actlog *al = &d->ldev->al;
	int err;

	pr->al_first = pr->sector >> (BSR_AL_EXT_SHIFT - 9);
	pr->al_last = (pr->sector + (pr->size >> 9) - 1) >> (BSR_AL_EXT_SHIFT - 9);
	if (!bsr_al_begin_fast(al, pr->al_first, pr->al_last)) {
		err = bsr_al_begin_slow(d, d->ldev, pr->al_first, pr->al_last);
		if (err)
			return err;
	}
	pr->in_al = true;
	return 0;
}

/* A peer write not written: its blocks are out of sync with that peer. ldev held. */
static void peer_write_refused(struct bsr_peer_device *pd, sector_t sector, u32 size)
{
	int slot = bsr_pd_slot(pd);

	if (slot >= 0)
		bsr_bm_set_range(&pd->device->ldev->bm, 1U << slot, sector >> 3,
				 (sector + (size >> 9) - 1) >> 3);
}

/*
 * A write our disk cannot take: not aligned to its logical block size (the Primary kept a
 * smaller one while in use, bsr_update_block_size). Refused rather than handed to a disk
 * that would fail it (an I/O error would count against on-io-error) or, worse, write
 * whole blocks: the peer's NEG_ACK marks the blocks out of sync there, and so do we.
 * ldev held.
 */
static bool peer_write_aligned(struct bsr_peer_device *pd, sector_t sector, u32 size)
{
	struct bsr_device *d = pd->device;
	unsigned int lbs = bdev_logical_block_size(d->ldev->backing_bdev);

	if (IS_ALIGNED(sector << 9, lbs) && IS_ALIGNED(size, lbs))
		return true;
	pr_warn_ratelimited("bsr: %s: a write of %u bytes at sector %llu is not aligned to the %u-byte blocks of %s: refused, out of sync\n",
			    pd->connection->net->thread_tag, size, (u64)sector, lbs,
			    d->ldev->backing_path);
	peer_write_refused(pd, sector, size);
	return false;
}

/* DATA and RS_DATA_REPLY: the sender's digest of the data, when a data-integrity-alg is agreed */
static int recv_digest(struct bsr_net *n, u8 *digest)
{
	return n->integrity_dgs ? bsr_sock_recv(n->data_sock, digest, n->integrity_dgs) : 0;
}

/*
 * A write whose data arrived corrupted (ldev held): not written, out of sync here, NEG_ACK
 * (out of sync there too), then sent again (bsr_integrity.c). rv: the check's verdict.
 */
static int write_corrupted(struct bsr_conn *c, struct pkt *p, sector_t sector, u32 size, int rv)
{
	struct bsr_peer_device *pd = p->pd;

	peer_write_refused(pd, sector, size);
	bsr_put_ldev(pd->device);
	if (rv < 0)
		return rv;
	rv = send_neg_ack(c, p, size);
	if (!rv && !bsr_integrity_resend(pd)) {
		bsr_info("%s: volume %u: %s: reconnecting to resync the corrupted write\n",
			 c->net->thread_tag, pd->device->vnr, bsr_repl_name(pd->repl_state));
		rv = -ECONNRESET;
	}
	return rv;
}

static int receive_data(struct bsr_conn *c, struct pkt *p)
{
	struct bsr_net *n = c->net;
	struct bsr_peer_device *pd = p->pd;
	struct bsr_device *d = pd->device;
	u32 size = p->len - sizeof(struct p_data) - n->integrity_dgs;
	sector_t sector = be64_to_cpu(p->u.data.sector);
	u32 flags = be32_to_cpu(p->u.data.dp_flags);
	u8 digest[BSR_DIGEST_MAX];
	struct bsr_peer_req *pr;
	blk_opf_t opf = REQ_OP_WRITE;
	int rv;

	if (!bsr_peer_range_ok(d, sector, size)) {
		bsr_proto_warn("%s: write beyond the end of the device (sector %llu, %u bytes)\n",
			       n->thread_tag, (u64)sector, size);
		return -EPROTO;
	}
	if (READ_ONCE(c->resource->role) == BSR_ROLE_PRIMARY) {
		bsr_proto_warn("%s: the peer sent a write to a Primary\n", n->thread_tag);
		return -EPROTO;
	}
	pr = alloc_peer_req(pd, size);
	if (IS_ERR(pr))
		return PTR_ERR(pr);
	pr->sector = sector;
	pr->block_id = be64_to_cpu(p->u.data.block_id);
	pr->seq = be32_to_cpu(p->u.data.seq_num);
	pr->dp_flags = flags;
	rv = recv_digest(n, digest);
	if (!rv)
		rv = bsr_sock_recv_pages(n->data_sock, pr->pages, pr->size);
	if (rv) {
		free_peer_req(pr);
		return rv;
	}
	atomic64_add(size >> 9, &pd->net->recv_sect);
	atomic64_add(size >> 9, &pd->net->repl_sect);
	atomic64_add(size >> 9, &d->peer_write_sect);
	if (!bsr_get_ldev(d)) {
		free_peer_req(pr);
		return send_neg_ack(c, p, size);
	}
	/* checked before anything is acknowledged, written or marked as written */
	if (n->integrity_tfm) {
		rv = bsr_integrity_check(pd, digest, pr->pages, sector, size, false);
		if (rv) {
			free_peer_req(pr);
			return write_corrupted(c, p, sector, size, rv);
		}
	}
	if (!peer_write_aligned(pd, sector, size)) {
		bsr_put_ldev(d);
		free_peer_req(pr);
		return send_neg_ack(c, p, size);
	}
	bsr_mark_app_written(pd, sector, size);

	if (flags & DP_FLUSH)
		wait_event(n->ee_wait, active_empty(n));
	/* nor while a verify request before it still reads there */
	wait_event(n->ee_wait, !overlaps_active(n, sector, size) &&
		   !bsr_ov_reading(pd, sector, size));
	rv = peer_req_al_begin(d, pr);
	if (rv) {
		bsr_warn("%s: activity log update failed (%d), write refused\n", n->thread_tag, rv);
		bsr_put_ldev(d);
		free_peer_req(pr);
		return send_neg_ack(c, p, size);
	}
	atomic_set(&pr->pending_bios, 1);
	spin_lock_irq(&n->lock);
	list_add_tail(&pr->list, &n->active_ee);
	n->rx_epoch_writes++;
	spin_unlock_irq(&n->lock);
	if (flags & DP_SEND_RECEIVE_ACK) {
		struct p_block_ack a = {
			.sector = cpu_to_be64(sector), .block_id = p->u.data.block_id,
			.blksize = cpu_to_be32(size), .seq_num = p->u.data.seq_num,
		};

		bsr_send_packet(c, true, P_RECV_ACK, d->vnr, &a, sizeof(a));
	}
	/*
	 * The application's flush and FUA travel with its write and are always honoured here:
	 * disk-flushes governs only the flushes the engine adds itself (epoch boundaries).
	 */
	if (flags & DP_FLUSH)
		opf |= REQ_PREFLUSH;
	if (flags & DP_FUA)
		opf |= REQ_FUA;
	rv = submit_pages(pr, d->ldev->backing_bdev, sector, 0, pr->n_pages, size, opf);
	if (rv)
		pr->status = BLK_STS_RESOURCE;
	if (atomic_dec_and_test(&pr->pending_bios))
		peer_req_done(pr);
	return 0;
}

/* Resync data: blocks the application rewrote meanwhile are newer here, skip them. */
static int receive_rs_data(struct bsr_conn *c, struct pkt *p)
{
	struct bsr_net *n = c->net;
	struct bsr_peer_device *pd = p->pd;
	struct bsr_device *d = pd->device;
	u32 size = p->len - sizeof(struct p_data) - n->integrity_dgs;
	sector_t sector = be64_to_cpu(p->u.data.sector);
	u8 digest[BSR_DIGEST_MAX];
	struct bsr_peer_req *pr;
	unsigned int i, run_start, blocks = DIV_ROUND_UP(size, 1U << BSR_BM_BLOCK_SHIFT);
	int rv;

	/* whole blocks, but the partial last one of a device whose size is not a multiple */
	if ((sector & 7) || !bsr_peer_range_ok(d, sector, size) ||
	    (!IS_ALIGNED(size, 1U << BSR_BM_BLOCK_SHIFT) &&
	     sector + (size >> 9) != get_capacity(d->disk))) {
		bsr_proto_warn("%s: resync data out of range (sector %llu, %u bytes)\n",
			       n->thread_tag, (u64)sector, size);
		return -EPROTO;
	}
	/*
	 * The source starts as soon as it has our bitmap, so its first reply can overtake the
	 * last step of our own bitmap work item (bm_sent, then SyncTarget, under adm_mutex,
	 * which this thread does not hold): let that step finish first.
	 */
	if (pd->repl_state == BSR_REPLICATION_WFBITMAPT && pd->net->bm_received)
		flush_work(&pd->net->bm_work);
	if (pd->repl_state != BSR_REPLICATION_SYNCTARGET &&
	    pd->repl_state != BSR_REPLICATION_PAUSEDSYNCT) {
		bsr_proto_warn("%s: resync data while not SyncTarget\n", n->thread_tag);
		return -EPROTO;
	}
	rv = bsr_csums_got_data(pd, sector, size);
	if (rv)
		return rv;
	pr = alloc_peer_req(pd, size);
	if (IS_ERR(pr))
		return PTR_ERR(pr);
	pr->sector = sector;
	pr->resync = true;
	rv = recv_digest(n, digest);
	if (!rv)
		rv = bsr_sock_recv_pages(n->data_sock, pr->pages, pr->size);
	if (rv) {
		free_peer_req(pr);
		return rv;
	}
	atomic64_add(size >> 9, &pd->net->recv_sect);
	if (!bsr_get_ldev(d)) {
		free_peer_req(pr);
		return -EIO;
	}
	/* corrupted: not written, its bits stay; the source keeps its own and sends it again */
	if (n->integrity_tfm) {
		rv = bsr_integrity_check(pd, digest, pr->pages, sector, size, true);
		if (rv) {
			struct p_block_ack a = {
				.sector = cpu_to_be64(sector), .blksize = cpu_to_be32(size),
			};

			bsr_put_ldev(d);
			free_peer_req(pr);
			bsr_csums_written(pd, size);
			return rv < 0 ? rv : bsr_send_packet(c, true, P_NEG_RS_DREPLY, d->vnr, &a,
							     sizeof(a));
		}
	}
	/* a checksum-based resync's target reports its progress from its resync thread */
	if (!pd->net->rs_csums)
		bsr_rs_progress(pd);
	wait_event(n->ee_wait, !overlaps_active(n, sector, size));
	atomic_set(&pr->pending_bios, 1);
	spin_lock_irq(&n->lock);
	list_add_tail(&pr->list, &n->active_ee);
	spin_unlock_irq(&n->lock);
	/* PAGE_SIZE == 4 KiB == one bitmap block on the platforms we build for */
	run_start = 0;
	for (i = 0; i <= blocks; i++) {
		bool skip = i < blocks && bsr_rs_skipped(pd, (sector >> 3) + i);

		if (i < blocks && !skip)
			continue;
		if (i > run_start &&
		    submit_pages(pr, d->ldev->backing_bdev, sector + ((sector_t)run_start << 3),
				 run_start, i - run_start,
				 min(size, i << BSR_BM_BLOCK_SHIFT) -
				 (run_start << BSR_BM_BLOCK_SHIFT), REQ_OP_WRITE))
			pr->status = BLK_STS_RESOURCE;
		run_start = i + 1;
	}
	if (atomic_dec_and_test(&pr->pending_bios))
		peer_req_done(pr);
	return 0;
}

/* Sends the acks of completed peer writes (unless the connection is gone). */
static void process_done_ee(struct bsr_conn *c, bool send)
{
	struct bsr_net *n = c->net;
	struct bsr_peer_req *pr, *t;
	LIST_HEAD(done);

	spin_lock_irq(&n->lock);
	list_splice_init(&n->done_ee, &done);
	spin_unlock_irq(&n->lock);
	list_for_each_entry_safe(pr, t, &done, list) {
		struct bsr_peer_device *pd = pr->pd;
		struct p_block_ack a = {
			.sector = cpu_to_be64(pr->sector), .block_id = cpu_to_be64(pr->block_id),
			.blksize = cpu_to_be32(pr->size), .seq_num = cpu_to_be32(pr->seq),
		};
		enum bsr_packet cmd = 0;

		if (pr->resync) {
			int slot = bsr_pd_slot(pd);

			/* a resync write ends on a block boundary or at the device's end */
			if (!pr->status && slot >= 0)
				bsr_bm_clear_range(&pd->device->ldev->bm, slot, pr->sector >> 3,
						   DIV_ROUND_UP_ULL(pr->sector + (pr->size >> 9), 8) - 1);
			cmd = pr->status ? P_NEG_RS_DREPLY : P_RS_WRITE_ACK;
			bsr_csums_written(pd, pr->size);
		} else if (pr->dp_flags & DP_SEND_WRITE_ACK) {
			cmd = pr->status ? P_NEG_ACK : P_WRITE_ACK;
		} else if (pr->status) {
			cmd = P_NEG_ACK;
		}
		if (send && cmd && bsr_send_packet(c, true, cmd, pd->device->vnr, &a, sizeof(a)))
			send = false;
		list_del(&pr->list);
		if (pr->in_al)
			bsr_al_complete(&pd->device->ldev->al, pr->al_first, pr->al_last);
		bsr_put_ldev(pd->device);
		free_peer_req(pr);
	}
}

void bsr_ack_work(struct work_struct *w)
{
	struct bsr_net *n = container_of(w, struct bsr_net, ack_work);

	process_done_ee(n->conn, READ_ONCE(n->net_ok));
}

static int receive_barrier(struct bsr_conn *c, struct pkt *p)
{
	struct bsr_net *n = c->net;
	struct bsr_peer_device *pd;
	struct p_barrier_ack a;
	u32 flags = be32_to_cpu(p->u.barrier.flags);
	u32 set_size;

	if (flags & ~BARRIER_FLUSH) {
		bsr_warn("%s: barrier with unknown flags 0x%x\n", n->thread_tag, flags);
		return -EPROTO;
	}
	wait_event(n->ee_wait, active_empty(n));
	list_for_each_entry(pd, &c->peer_devices, conn_list) {
		struct bsr_device *d = pd->device;

		/* disk-flushes governs our own flush at an epoch's end, not the application's */
		if ((d->disk_flushes || (flags & BARRIER_FLUSH)) && bsr_get_ldev(d)) {
			blkdev_issue_flush(d->ldev->backing_bdev);
			bsr_put_ldev(d);
		}
	}
	process_done_ee(c, true);
	spin_lock_irq(&n->lock);
	set_size = n->rx_epoch_writes;
	n->rx_epoch_writes = 0;
	spin_unlock_irq(&n->lock);
	a.barrier = p->u.barrier.barrier;
	a.set_size = cpu_to_be32(set_size);
	return bsr_send_packet(c, true, P_BARRIER_ACK, 0, &a, sizeof(a));
}

/* BITMAP or COMPRESSED_BITMAP: both end up as n_words plain words. */
static int receive_bitmap(struct bsr_conn *c, struct pkt *p)
{
	u32 n_words = be32_to_cpu(p->u.bitmap.n_words);
	u32 code_len = p->len - sizeof(struct p_bitmap);
	bool rle = p->cmd == P_COMPRESSED_BITMAP;
	__le64 *words;
	u8 *code = NULL;
	int rv;

	/* n_words is bounded first: n_words * 8 must not wrap (a huge count in a few bytes) */
	if (!n_words || n_words > BM_CHUNK_WORDS ||
	    (rle ? code_len >= n_words * 8 : code_len != n_words * 8)) {
		bsr_proto_warn("%s: bitmap packet with %u words in %u bytes\n", c->net->thread_tag,
			       n_words, code_len);
		return -EPROTO;
	}
	words = kmalloc_array(n_words, 8, GFP_NOIO);
	if (rle && words)
		code = kmalloc(code_len, GFP_NOIO);
	if (!words || (rle && !code)) {
		kfree(words);
		return -ENOMEM;
	}
	rv = bsr_sock_recv(c->net->data_sock, rle ? (void *)code : words, code_len);
	if (!rv && rle) {
		rv = bsr_bm_rle_decode(code, code_len,
				       be32_to_cpu(p->u.bitmap.flags) & BM_FLAG_FIRST_SET,
				       words, n_words);
		if (rv)
			bsr_proto_warn("%s: malformed compressed bitmap at word %llu\n",
				       c->net->thread_tag, be64_to_cpu(p->u.bitmap.word_offset));
	}
	if (!rv) {
		mutex_lock(&c->resource->adm_mutex);
		rv = bsr_recv_bitmap_chunk(p->pd, &p->u.bitmap, words, n_words);
		mutex_unlock(&c->resource->adm_mutex);
	}
	kfree(code);
	kfree(words);
	return rv;
}

static int receive_uuids(struct bsr_conn *c, struct pkt *p)
{
	struct bsr_peer_device *pd = p->pd;
	struct bsr_device *d = pd->device;
	u64 flags = be64_to_cpu(p->u.uuids.flags);
	int rv = 0;

	/* an empty resync can end before our bitmap work item made us SyncTarget: let it */
	if ((flags & UUID_FLAG_RESYNC_DONE) && pd->repl_state == BSR_REPLICATION_WFBITMAPT &&
	    pd->net->bm_received)
		flush_work(&pd->net->bm_work);
	mutex_lock(&c->resource->adm_mutex);
	if ((flags & UUID_FLAG_RESYNC_DONE) && pd->repl_state != BSR_REPLICATION_SYNCTARGET &&
	    pd->repl_state != BSR_REPLICATION_PAUSEDSYNCT) {
		mutex_unlock(&c->resource->adm_mutex);
		bsr_proto_warn("%s: the peer ended a resync while we are not SyncTarget\n",
			       c->net->thread_tag);
		return -EPROTO;
	}
	got_uuids(pd, &p->u.uuids);
	if (flags & UUID_FLAG_RESYNC_DONE) {
		bsr_resync_finished_target(pd, flags & UUID_FLAG_RESYNC_FAILED);
	} else if ((flags & (UUID_FLAG_SKIP_INITIAL_SYNC | UUID_FLAG_NEW_DATAGEN)) &&
		   pd->repl_state == BSR_REPLICATION_ESTABLISHED && bsr_get_ldev(d)) {
		struct bsr_md *md = &d->ldev->md;
		/* "skip the initial sync" holds only for data as new as the peer's was */
		bool skip = (flags & UUID_FLAG_SKIP_INITIAL_SYNC) &&
			    (md->current_uuid & ~UUID_PRIMARY) == UUID_JUST_CREATED;

		if ((flags & UUID_FLAG_SKIP_INITIAL_SYNC) && !skip)
			bsr_warn("%s: volume %u: ignoring the peer's skip-initial-sync, our data is not new\n",
				 c->net->thread_tag, d->vnr);
		/* the peer started a new data generation while we are in sync with it */
		if (skip || d->disk_state == BSR_DISK_UPTODATE) {
			bsr_history_add(md, md->current_uuid);
			md->current_uuid = pd->net->peer_current & ~UUID_PRIMARY;
			if (skip) {
				int slot = bsr_pd_slot(pd);

				if (slot >= 0)
					bsr_bm_clear_slot(&d->ldev->bm, slot);
				md->peers[c->peer_node_id].bitmap_uuid = 0;
				md->flags |= BSR_MDF_CONSISTENT | BSR_MDF_WAS_UP_TO_DATE;
				bsr_bm_write_all(d, d->ldev);
			}
			bsr_md_write_sb(d, d->ldev);
			if (skip) {
				bsr_set_disk_state(d, BSR_DISK_UPTODATE);
				pd->peer_disk_state = BSR_DISK_UPTODATE;
			}
		}
		bsr_put_ldev(d);
		rv = bsr_send_state(pd);
	}
	bsr_notify_device(d, BSR_NOTIFY_CHANGE);
	mutex_unlock(&c->resource->adm_mutex);
	return rv;
}

static int receive_sync_start(struct bsr_conn *c, struct pkt *p)
{
	struct bsr_peer_device *pd = p->pd;
	bool full = be32_to_cpu(p->u.sync.flags) & SYNC_FLAG_FULL;
	int rv;

	mutex_lock(&c->resource->adm_mutex);
	/* Behind: the peer left Ahead and resyncs what we missed (a bitmap resync) */
	if (pd->repl_state != BSR_REPLICATION_ESTABLISHED &&
	    !(pd->repl_state == BSR_REPLICATION_BEHIND && p->cmd == P_BECOME_SYNC_TARGET && !full)) {
		mutex_unlock(&c->resource->adm_mutex);
		bsr_proto_warn("%s: the peer asked for a resync while we are not Established\n",
			       c->net->thread_tag);
		return -EPROTO;
	}
	/* a peer that knows our role never asks a Primary to become SyncTarget */
	if (p->cmd == P_BECOME_SYNC_TARGET && READ_ONCE(c->resource->role) == BSR_ROLE_PRIMARY) {
		mutex_unlock(&c->resource->adm_mutex);
		bsr_proto_warn("%s: the peer asked a Primary to become SyncTarget\n",
			       c->net->thread_tag);
		return -EPROTO;
	}
	/* nor asks for data that are not UpToDate (invalidate checks that on its side) */
	if (p->cmd == P_BECOME_SYNC_SOURCE && pd->device->disk_state != BSR_DISK_UPTODATE) {
		mutex_unlock(&c->resource->adm_mutex);
		bsr_proto_warn("%s: the peer asked for a resync from our %s data\n",
			       c->net->thread_tag, bsr_disk_name(pd->device->disk_state));
		return -EPROTO;
	}
	if (full && p->cmd == P_BECOME_SYNC_TARGET &&
	    (be32_to_cpu(p->u.sync.flags) & SYNC_FLAG_FAST))
		pd->net->rs_source_marks = BSR_RESYNC_KIND_FAST;
	rv = bsr_start_resync(pd, p->cmd == P_BECOME_SYNC_SOURCE, full);
	mutex_unlock(&c->resource->adm_mutex);
	return rv;
}

/*
 * The peer asks to become Primary (its `primary` while connected). Only one node may be:
 * refused while this node is Primary, or asks itself with a lower node-id (both asked at
 * once); "busy" while our demotion still drains our writes to the peer (it asks again).
 * Agreed, this node does not promote itself until it has the peer's new state.
 * No adm_mutex here: the local `primary` holds it while it waits for the peer's answer.
 */
static int receive_role_req(struct bsr_conn *c, struct pkt *p)
{
	struct bsr_resource *r = c->resource;
	struct p_role_reply a = { .seq = p->u.role_req.seq };
	u32 answer = 0;

	if (be32_to_cpu(p->u.role_req.role) != BSR_ROLE_PRIMARY) {
		bsr_proto_warn("%s: the peer asked for role %u\n", c->net->thread_tag,
			       be32_to_cpu(p->u.role_req.role));
		return -EPROTO;
	}
	spin_lock_irq(&r->state_lock);
	if (r->demoting || bsr_ov_blocks_promotion(c))
		answer = BSR_RET_BUSY;
	else if (r->role == BSR_ROLE_PRIMARY || (r->promoting && r->node_id < c->peer_node_id))
		answer = BSR_RET_PEER_PRIMARY;
	else
		c->net->peer_promoting = true;
	spin_unlock_irq(&r->state_lock);
	bsr_info("%s: the peer asks to become Primary: %s\n", c->net->thread_tag,
		 !answer ? "agreed" : answer == BSR_RET_BUSY ? "busy (demoting or verifying)" :
		 "refused");
	a.retcode = cpu_to_be32(answer);
	return bsr_send_packet(c, true, P_STATE_CHG_REPLY, 0, &a, sizeof(a));
}

/*
 * A connected peer's role change. bsr has no two primaries: a peer that becomes Primary while
 * we are (both promoted at once) is dropped; the handshake then sees the split brain.
 */
static int receive_state(struct bsr_conn *c, struct pkt *p)
{
	int rv = 0;

	mutex_lock(&c->resource->adm_mutex);
	if (be32_to_cpu(p->u.state.role) == BSR_ROLE_PRIMARY &&
	    c->resource->role == BSR_ROLE_PRIMARY) {
		bsr_proto_warn("%s: the peer says it is Primary, and so are we\n",
			       c->net->thread_tag);
		rv = -EPROTO;
	} else {
		got_state(p->pd, &p->u.state);
		bsr_ov_peer_state(p->pd, be32_to_cpu(p->u.state.repl));
		rv = bsr_cong_peer_state(p->pd, be32_to_cpu(p->u.state.repl));
	}
	mutex_unlock(&c->resource->adm_mutex);
	return rv;
}

/* OV_REQUEST: its digests follow; compared once the replicated writes there are applied. */
static int receive_ov_request(struct bsr_conn *c, struct pkt *p)
{
	struct bsr_net *n = c->net;
	const struct p_ov_request *q = &p->u.ov_request;
	u32 dlen = p->len - sizeof(*q);
	u8 *digests;
	int rv;

	digests = kmalloc(dlen, GFP_NOIO);
	if (!digests)
		return -ENOMEM;
	rv = bsr_sock_recv(n->data_sock, digests, dlen);
	if (rv) {
		kfree(digests);
		return rv;
	}
	/* its read takes pages: within max-buffers as the peer's writes */
	rv = wait_for_peer_pages(c);
	if (rv) {
		kfree(digests);
		return rv;
	}
	if (be32_to_cpu(q->size) <= BSR_RS_MAX_SIZE)
		wait_event(n->ee_wait, !overlaps_active(n, be64_to_cpu(q->sector),
							be32_to_cpu(q->size)));
	/* takes the digests; the read goes on while we receive what follows */
	return bsr_ov_got_request(p->pd, q, digests, dlen);
}

/* CSUM_RS_REQUEST: the target's digests follow; queued for the resync thread. */
static int receive_csum_request(struct bsr_conn *c, struct pkt *p)
{
	u32 dlen = p->len - sizeof(p->u.csum_request);
	u8 *digests;
	int rv;

	digests = kmalloc(dlen, GFP_NOIO);
	if (!digests)
		return -ENOMEM;
	rv = bsr_sock_recv(c->net->data_sock, digests, dlen);
	if (!rv) {
		/* as for resync data: our bitmap work may not have taken its last step yet */
		if (p->pd->repl_state == BSR_REPLICATION_WFBITMAPS && p->pd->net->bm_received)
			flush_work(&p->pd->net->bm_work);
		rv = bsr_csums_got_request(p->pd, &p->u.csum_request, digests, dlen);
	}
	kfree(digests);
	return rv;
}

static int receive_loop(struct bsr_conn *c)
{
	struct bsr_net *n = c->net;
	struct pkt p;
	int rv;

	while (!kthread_should_stop()) {
		rv = recv_pkt(c, n->data_sock, &p);
		if (rv)
			return rv;
		switch (p.cmd) {
		case P_DATA:
			rv = receive_data(c, &p);
			break;
		case P_RS_DATA_REPLY:
			rv = receive_rs_data(c, &p);
			break;
		case P_BARRIER:
			rv = receive_barrier(c, &p);
			break;
		case P_BITMAP:
		case P_COMPRESSED_BITMAP:
			rv = receive_bitmap(c, &p);
			break;
		case P_UUIDS:
			rv = receive_uuids(c, &p);
			break;
		case P_STATE:
			rv = receive_state(c, &p);
			if (!rv)
				bsr_unfence_check(c);
			break;
		case P_SIZES:
			rv = got_sizes(p.pd, &p.u.sizes, true);
			break;
		case P_BECOME_SYNC_TARGET:
		case P_BECOME_SYNC_SOURCE:
			rv = receive_sync_start(c, &p);
			break;
		case P_STATE_CHG_REQ:
			rv = receive_role_req(c, &p);
			break;
		case P_OV_REQUEST:
			rv = receive_ov_request(c, &p);
			break;
		case P_OUT_OF_SYNC:
			rv = bsr_cong_got_out_of_sync(p.pd, &p.u.block_desc);
			break;
		case P_CSUM_RS_REQUEST:
			rv = receive_csum_request(c, &p);
			break;
		case P_RS_IS_IN_SYNC:
			rv = bsr_csums_got_in_sync(p.pd, &p.u.ack);
			break;
		default:
			bsr_proto_warn("%s: unexpected packet %u on the data stream\n",
				       n->thread_tag, p.cmd);
			rv = -EPROTO;
		}
		if (rv)
			return rv;
	}
	return -EINTR;
}

/* ------------------------------------------------------------------ meta stream */

/* ping-int and ping-timeout (seconds, tenths) in jiffies */
static void ping_times(struct bsr_conn *c, long *interval, long *timeout)
{
	*interval = max_t(u32, bsr_conf(&c->net_conf, T_NET_CONF_PING_INT), 1) * HZ;
	*timeout = max_t(u32, bsr_conf(&c->net_conf, T_NET_CONF_PING_TIMEOUT), 1) * HZ / 10;
}

static int meta_thread(void *arg)
{
	struct bsr_conn *c = arg;
	struct bsr_net *n = c->net;
	struct socket *s = n->meta_sock;
	enum bsr_connection why = BSR_CONNECTION_NETWORKFAILURE;
	long ping_int = 0, ping_timeo = 0;
	unsigned long ping_due = 0, ko_due = 0;
	int conf_gen = atomic_read(&n->conf_gen) - 1;
	struct pkt p;
	int rv = 0;

	/* acks and pings must not wait behind the bulk work of a busy node (as DRBD's asender) */
	sched_set_fifo_low(current);
	while (!kthread_should_stop()) {
		unsigned long now = jiffies;

		/*
		 * net-options changed the keep-alive times or ko-count: used from the next packet
		 * or timeout on (the wait in progress keeps its deadline), and before a PING goes
		 * out (below), so that a raised ping-timeout covers the very next PING.
		 */
		if (atomic_read(&n->conf_gen) != conf_gen) {
			bool first = !ping_int;

			conf_gen = atomic_read(&n->conf_gen);
			ping_times(c, &ping_int, &ping_timeo);
			if (first)
				ping_due = now + ping_int;
			ko_due = now;
		}
		/*
		 * The ko-count deadline is watched here, not only when the link is idle: the
		 * peer's own pings keep this socket busy while its disk holds our requests.
		 */
		if (!time_before(now, ko_due)) {
			long left = bsr_tl_ko_left(c);

			if (!left) {
				bsr_warn("%s: the peer did not complete a request within timeout * ko-count\n",
					 n->thread_tag);
				why = BSR_CONNECTION_TIMEOUT;
				break;
			}
			ko_due = now + min(left, ping_int);
		}
		s->sk->sk_rcvtimeo = max_t(long, (long)((time_before(ping_due, ko_due) ?
							 ping_due : ko_due) - now), 1);
		rv = bsr_sock_wait_data(s);
		/*
		 * The wait above ends at the next keep-alive or ko-count look, maybe a jiffy away;
		 * a packet once begun gets as long as a PingAck to arrive whole (a sender's
		 * segments may split it anywhere).
		 */
		if (!rv) {
			s->sk->sk_rcvtimeo = ping_timeo;
			rv = recv_pkt(c, s, &p);
		}
		if (rv == -EAGAIN) {
			if (time_before(jiffies, ping_due))
				continue;	/* a ko-count look, not a keep-alive timeout */
			if (n->ping_pending) {
				bsr_warn("%s: PingAck did not arrive in time\n", n->thread_tag);
				why = BSR_CONNECTION_TIMEOUT;
				break;
			}
			if (atomic_read(&n->conf_gen) != conf_gen)
				continue;	/* the new times first; ping_due has passed */
			n->ping_pending = true;
			rv = bsr_send_packet(c, true, P_PING, 0, NULL, 0);
			if (rv)
				break;
			ping_due = jiffies + ping_timeo;
			bsr_close_idle_epoch(c);
			continue;
		}
		if (rv)
			break;
		n->ping_pending = false;
		ping_due = jiffies + ping_int;
		switch (p.cmd) {
		case P_PING:
			rv = bsr_send_packet(c, true, P_PING_ACK, 0, NULL, 0);
			break;
		case P_PING_ACK:
			break;
		case P_RECV_ACK:
		case P_WRITE_ACK:
		case P_NEG_ACK:
			rv = bsr_got_block_ack(p.pd, p.cmd, &p.u.ack);
			break;
		case P_RS_WRITE_ACK:
			/* a target's requests (rs_sent) are answered, never acknowledged */
			if (bsr_csums_target(p.pd)) {
				bsr_proto_warn("%s: resync ack sent to the SyncTarget\n",
					       n->thread_tag);
				rv = -EPROTO;
				break;
			}
			fallthrough;
		case P_NEG_RS_DREPLY:
			rv = bsr_rs_got_ack(p.pd, be64_to_cpu(p.u.ack.sector),
					    be32_to_cpu(p.u.ack.blksize), p.cmd == P_RS_WRITE_ACK);
			break;
		case P_BARRIER_ACK:
			rv = bsr_got_barrier_ack(c, be32_to_cpu(p.u.barrier_ack.barrier));
			break;
		case P_OV_RESULT:
			rv = bsr_ov_got_result(p.pd, &p.u.ov_result);
			break;
		case P_APP_ACTIVE:
			rv = bsr_rs_got_app_active(p.pd);
			break;
		case P_STATE_CHG_REPLY:
			/* a late answer to a request that timed out is ignored */
			if (be32_to_cpu(p.u.role_reply.seq) == READ_ONCE(n->role_seq)) {
				u32 answer = be32_to_cpu(p.u.role_reply.retcode);

				/* agreed, busy, or else refused */
				if (answer && answer != BSR_RET_BUSY)
					answer = BSR_RET_PEER_PRIMARY;
				WRITE_ONCE(n->role_reply, answer);
				wake_up(&n->role_wait);
			}
			break;
		default:
			bsr_proto_warn("%s: unexpected packet %u on the meta stream\n",
				       n->thread_tag, p.cmd);
			rv = -EPROTO;
		}
		if (rv)
			break;
	}
	if (rv == -EPROTO)
		why = BSR_CONNECTION_PROTOCOLERROR;
	/* a socket error ends it without a word of its own (a timeout or a protocol error has one) */
	if (!kthread_should_stop() && why == BSR_CONNECTION_NETWORKFAILURE && rv)
		bsr_warn("%s: the meta stream failed: %d\n", n->thread_tag, rv);
	if (!kthread_should_stop())
		bsr_conn_fail(c, why);
	while (!kthread_should_stop()) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (!kthread_should_stop())
			schedule();
		__set_current_state(TASK_RUNNING);
	}
	return 0;
}

/* ------------------------------------------------------------------ teardown */

/*
 * cpu-mask (resource option): the CPUs the resource's threads run on; all when empty. A mask
 * whose CPUs all went offline since it was accepted falls back to all, with a word.
 */
void bsr_thread_affinity(struct bsr_resource *r, struct task_struct *t)
{
	char buf[sizeof(bsr_opt_defaults.BSR_MEMBER_T_RES_OPTS_CPU_MASK)];
	cpumask_var_t mask;

	if (!zalloc_cpumask_var(&mask, GFP_KERNEL))
		return;
	if (!bsr_conf_str(&r->res_opts, T_RES_OPTS_CPU_MASK, buf, sizeof(buf)) ||
	    cpumask_parse(buf, mask)) {
		cpumask_copy(mask, cpu_possible_mask);
	} else if (!cpumask_intersects(mask, cpu_online_mask)) {
		pr_warn_ratelimited("bsr: %s: cpu-mask %s names no online CPU: its threads run on all\n",
				    r->name, buf);
		cpumask_copy(mask, cpu_possible_mask);
	}
	set_cpus_allowed_ptr(t, mask);
	free_cpumask_var(mask);
}

/* Connection threads come and go under n->lock, so that cpu-mask changes reach them. */
void bsr_thread_publish(struct bsr_conn *c, struct task_struct **slot, struct task_struct *t)
{
	bsr_thread_affinity(c->resource, t);
	spin_lock_irq(&c->net->lock);
	*slot = t;
	spin_unlock_irq(&c->net->lock);
}

/* Stops and releases the thread in *slot, if there is one. */
void bsr_thread_stop(struct bsr_net *n, struct task_struct **slot)
{
	struct task_struct *t;

	spin_lock_irq(&n->lock);
	t = *slot;
	*slot = NULL;
	spin_unlock_irq(&n->lock);
	if (t) {
		kthread_stop(t);
		put_task_struct(t);
	}
}

/* resource-options: the running threads of c follow the resource's cpu-mask. */
void bsr_conn_apply_cpu_mask(struct bsr_conn *c)
{
	struct bsr_net *n = c->net;
	struct task_struct *t[3];
	int i, k = 0;

	if (!n)
		return;
	spin_lock_irq(&n->lock);
	t[0] = n->receiver;
	t[1] = n->meta_rx;
	t[2] = n->resync;
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		if (t[i]) {
			get_task_struct(t[i]);
			t[k++] = t[i];
		}
	}
	spin_unlock_irq(&n->lock);
	for (i = 0; i < k; i++) {
		bsr_thread_affinity(c->resource, t[i]);
		put_task_struct(t[i]);
	}
}

static void teardown(struct bsr_conn *c, enum bsr_connection why)
{
	struct bsr_net *n = c->net;
	struct bsr_resource *r = c->resource;
	struct bsr_peer_device *pd;
	bool was_connected = c->cstate == BSR_CONNECTION_CONNECTED;
	enum bsr_fencing fencing = BSR_FENCING_DONT_CARE;

	/*
	 * A Primary that lost a peer whose disk may be promoted fences it (the administrator's
	 * disconnect or down does not). With resource-and-stonith no write completes from here
	 * on until it is fenced: new ones are held, those in flight stay in the transfer log.
	 */
	if (was_connected && why != BSR_CONNECTION_DISCONNECTING) {
		mutex_lock(&r->adm_mutex);
		if (r->role == BSR_ROLE_PRIMARY)
			fencing = bsr_fence_policy(c);
		if (fencing == BSR_FENCING_RESOURCE_AND_STONITH)
			bsr_set_susp(r, &c->fence_susp, true);
		mutex_unlock(&r->adm_mutex);
	}
	WRITE_ONCE(n->net_ok, false);
	bsr_sock_shutdown(n);
	mutex_lock(&n->data_mutex);	/* no sender is past its net_ok check any more */
	WRITE_ONCE(n->net_ok, false);
	mutex_unlock(&n->data_mutex);
	bsr_thread_stop(n, &n->meta_rx);
	list_for_each_entry(pd, &c->peer_devices, conn_list)
		cancel_work_sync(&pd->net->bm_work);
	bsr_resync_stop(c);
	bsr_cong_reset(c);
	cancel_delayed_work_sync(&n->app_work);
	wait_event(n->ee_wait, active_empty(n));
	cancel_work_sync(&n->ack_work);
	process_done_ee(c, false);
	/* the verify target's reads: waited for, dropped unanswered */
	list_for_each_entry(pd, &c->peer_devices, conn_list)
		bsr_ov_drain(pd);
	if (fencing != BSR_FENCING_RESOURCE_AND_STONITH)
		bsr_tl_clear(c);
	bsr_sock_release_all(n);
	n->ping_pending = false;

	mutex_lock(&r->adm_mutex);
	bsr_set_cstate(c, why);
	if (was_connected)
		bsr_info("%s: connection lost (%s)\n", n->thread_tag, bsr_conn_name(why));
	if (was_connected && why != BSR_CONNECTION_DISCONNECTING)
		mark_peer_connected(c, false);
	c->peer_role = BSR_ROLE_UNKNOWN;
	WRITE_ONCE(n->peer_promoting, false);
	wake_up(&n->role_wait);
	list_for_each_entry(pd, &c->peer_devices, conn_list) {
		struct bsr_device *d = pd->device;
		bool was_repl = pd->repl_state != BSR_REPLICATION_OFF;

		/* net_ok is false and data_mutex was taken: no sender looks at it any more */
		WRITE_ONCE(pd->net->shared, false);
		pd->net->offered = false;
		bsr_ov_lost(pd);
		bsr_set_repl_state(pd, BSR_REPLICATION_OFF);
		pd->peer_disk_state = BSR_DISK_DUNKNOWN;
		pd->net->uuids_received = false;
		pd->net->app_reporting = false;
		pd->net->bm_sent = pd->net->bm_received = false;
		pd->resync_susp_handler = false;
		bsr_free_rs_skip(pd);
		if (bsr_get_ldev(d)) {
			/* a Primary that loses its peer starts a new data generation */
			if (was_repl && READ_ONCE(r->role) == BSR_ROLE_PRIMARY) {
				struct bsr_md *md = &d->ldev->md;

				if (!md->peers[c->peer_node_id].bitmap_uuid)
					md->peers[c->peer_node_id].bitmap_uuid =
						md->current_uuid & ~UUID_PRIMARY;
				bsr_uuid_new_current(d, true, false);
				bsr_md_write_sb(d, d->ldev);
				bsr_notify_device(d, BSR_NOTIFY_CHANGE);
			}
			bsr_update_slot_mask(d);
			bsr_bm_write_all(d, d->ldev);
			bsr_put_ldev(d);
		}
		bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
	}
	bsr_notify_connection(c, BSR_NOTIFY_CHANGE);
	mutex_unlock(&r->adm_mutex);
	if (fencing != BSR_FENCING_DONT_CARE)
		bsr_fence_lost_peer(c);
	if (fencing == BSR_FENCING_RESOURCE_AND_STONITH)
		bsr_tl_clear(c);
}

/* ------------------------------------------------------------------ receiver thread */

/* first wait after a refused connect; it doubles up to a second */
#define REFUSED_RETRY_MIN (HZ / 10)

static void sleep_stoppable(long timeout)
{
	while (timeout > 0 && !kthread_should_stop())
		timeout = schedule_timeout_interruptible(timeout);
}

static int receiver_thread(void *arg)
{
	struct bsr_conn *c = arg;
	struct bsr_net *n = c->net;
	struct bsr_resource *r = c->resource;
	enum bsr_connection why;
	long refused_wait = REFUSED_RETRY_MIN;
	int rv;

	allow_signal(SIGKILL);
	while (!kthread_should_stop()) {
		mutex_lock(&r->adm_mutex);
		bsr_set_cstate(c, BSR_CONNECTION_CONNECTING);
		mutex_unlock(&r->adm_mutex);
		rv = bsr_establish(c);
		if (rv) {
			/*
			 * Refused: the peer's host answers but its listener is not up yet, as when
			 * both nodes are being brought up. Ask again soon, backing off to a second
			 * (a refusal costs a SYN and a RST), so the pair connects within a second
			 * of the second node listening, whatever connect-int says.
			 */
			if (rv == -ECONNREFUSED) {
				sleep_stoppable(refused_wait);
				refused_wait = min(2 * refused_wait, (long)HZ);
			} else if (rv != -EAGAIN && rv != -EINTR) {
				sleep_stoppable((long)bsr_conf(&c->net_conf, T_NET_CONF_CONNECT_INT) * HZ);
			}
			continue;
		}
		refused_wait = REFUSED_RETRY_MIN;
		bsr_info("%s: TCP streams established, handshake\n", n->thread_tag);
		rv = handshake(c);
		if (!rv) {
			struct task_struct *t;

			t = kthread_create(meta_thread, c, "bsr_m_%s_%u", r->name, c->peer_node_id);
			if (IS_ERR(t)) {
				rv = PTR_ERR(t);
			} else {
				get_task_struct(t);
				bsr_thread_publish(c, &n->meta_rx, t);
				wake_up_process(t);
				bsr_info("%s: connected, protocol %c\n", n->thread_tag,
					 'A' + n->protocol - 1);
				rv = receive_loop(c);
			}
		}
		spin_lock_irq(&n->lock);
		why = n->fail_state;
		if (n->give_up)
			rv = -E_STANDALONE;
		spin_unlock_irq(&n->lock);
		if (!why) {
			why = rv == -EPROTO ? BSR_CONNECTION_PROTOCOLERROR :
			      rv == -E_STANDALONE ? BSR_CONNECTION_STANDALONE :
			      BSR_CONNECTION_NETWORKFAILURE;
			/* nobody else ended it: the data stream's own error, which has no word yet */
			if (n->meta_rx && why == BSR_CONNECTION_NETWORKFAILURE &&
			    !kthread_should_stop())
				bsr_warn("%s: the data stream failed: %d\n", n->thread_tag, rv);
		}
		if (rv == -E_STANDALONE)
			why = BSR_CONNECTION_STANDALONE;
		if (kthread_should_stop())
			why = BSR_CONNECTION_DISCONNECTING;
		teardown(c, why);
		if (why == BSR_CONNECTION_STANDALONE) {
			n->want_connect = false;
			break;
		}
		if (!kthread_should_stop()) {
			mutex_lock(&r->adm_mutex);
			bsr_set_cstate(c, BSR_CONNECTION_UNCONNECTED);
			mutex_unlock(&r->adm_mutex);
			/* a peer that failed to authenticate is asked again at connect-int only */
			sleep_stoppable(rv == -EACCES ?
					(long)bsr_conf(&c->net_conf, T_NET_CONF_CONNECT_INT) * HZ :
					HZ / 2);
		}
	}
	bsr_sock_release_all(n);
	return 0;
}

int bsr_conn_start(struct bsr_conn *c, bool discard_my_data, bool tentative)
{
	struct bsr_net *n = c->net;
	struct task_struct *t;

	if (n->receiver && n->want_connect)
		return 0;
	bsr_thread_stop(n, &n->receiver);	/* one that ended in StandAlone */
	n->discard_my_data = discard_my_data;
	n->tentative = tentative;
	n->want_connect = true;
	n->fail_state = 0;
	n->give_up = false;
	t = kthread_create(receiver_thread, c, "bsr_r_%s_%u", c->resource->name, c->peer_node_id);
	if (IS_ERR(t)) {
		n->want_connect = false;
		return PTR_ERR(t);
	}
	get_task_struct(t);
	bsr_thread_publish(c, &n->receiver, t);
	wake_up_process(t);
	return 0;
}

/* Configuration context; never called with adm_mutex held. */
void bsr_conn_stop(struct bsr_conn *c, bool force)
{
	struct bsr_net *n = c->net;

	if (!n)
		return;
	if (!force && n->net_ok)
		bsr_tl_drain(c, 10 * HZ);
	n->want_connect = false;
	if (n->receiver) {
		spin_lock_irq(&n->lock);
		if (!n->fail_state)
			n->fail_state = BSR_CONNECTION_DISCONNECTING;
		spin_unlock_irq(&n->lock);
		WRITE_ONCE(n->net_ok, false);
		bsr_sock_shutdown(n);
		send_sig(SIGKILL, n->receiver, 1);
		bsr_thread_stop(n, &n->receiver);
	}
	mutex_lock(&c->resource->adm_mutex);
	bsr_set_cstate(c, BSR_CONNECTION_STANDALONE);
	mutex_unlock(&c->resource->adm_mutex);
}
