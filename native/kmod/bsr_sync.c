// SPDX-License-Identifier: GPL-2.0-only
/*
 * bsr: the sync decision and the resync.
 *
 * Decision (bsr_sync_handshake), from the data generation UUIDs of both nodes (bit 0,
 * "was Primary", ignored): both just created: nothing to do; one just created: full
 * sync from the other; equal current UUIDs: in sync (unless one side is Inconsistent
 * or crashed as Primary); my bitmap UUID is the peer's current: I am the bitmap
 * SyncSource (and the other way round); equal bitmap UUIDs: both went on from the
 * same generation: split brain; the peer's current in my history: full sync from me;
 * otherwise the data are unrelated (split brain as well). connect --discard-my-data
 * on one side resolves a split brain in the other side's favour.
 *
 * Resync: both sides send their bitmap slot of the other one and merge what they
 * receive; then the SyncSource reads the blocks whose bits are set and pushes them as
 * RS_DATA_REPLY packets, paced by the fixed rate or the dynamic controller; the
 * SyncTarget writes them and answers RS_WRITE_ACK, both clear the bits. Blocks the
 * application rewrote on the target during the resync (replicated DATA) are newer
 * than any resync data and are skipped. When no bit is left the source sends its
 * UUIDs with RESYNC_DONE; the target takes over its current UUID and is UpToDate.
 *
 * FastSync (docs/fastsync.md): user space reads which blocks the file system on the
 * backing device uses and hands the map over (FAST_SYNC_MAP, bsr_fast_map_chunk()).
 * mark_full_sync() is the one place a full sync marks its blocks: a fresh map's used
 * blocks, or else the whole device. The source marks; a target told SYNC_FLAG_FAST (or
 * the target of invalidate, whose source marks) adds nothing, the bitmap exchange brings
 * the source's marks.
 */
#include <linux/bio.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/bitmap.h>
#include <linux/delay.h>
#include <linux/moduleparam.h>
#include <linux/umh.h>
#include <linux/ctype.h>
#include <linux/math64.h>

#include "bsr_net.h"

#define TICK (HZ / 10)
/* the application counts as active this long after its last I/O (c-min-rate throttle) */
#define BSR_RS_APP_HOLD (HZ / 2)

/* ------------------------------------------------------------------ resync skip map */

void bsr_free_rs_skip(struct bsr_peer_device *pd)
{
	struct bsr_pd_net *p = pd->net;
	unsigned long *m;
	unsigned long flags;

	spin_lock_irqsave(&p->rs_lock, flags);
	m = p->rs_skip;
	p->rs_skip = NULL;
	p->rs_skip_bits = 0;
	spin_unlock_irqrestore(&p->rs_lock, flags);
	kvfree(m);
}

static int alloc_rs_skip(struct bsr_peer_device *pd, u64 bits)
{
	struct bsr_pd_net *p = pd->net;
	unsigned long *m;

	bsr_free_rs_skip(pd);
	m = kvcalloc(BITS_TO_LONGS(bits), sizeof(long), GFP_KERNEL);
	if (!m)
		return -ENOMEM;
	spin_lock_irq(&p->rs_lock);
	p->rs_skip = m;
	p->rs_skip_bits = bits;
	spin_unlock_irq(&p->rs_lock);
	return 0;
}

/* Blocks [first, end) are skipped by this resync; returns how many were not yet. */
static u64 rs_skip_range(struct bsr_peer_device *pd, u64 first, u64 end)
{
	struct bsr_pd_net *p = pd->net;
	unsigned long flags;
	u64 added = 0;

	if (!READ_ONCE(p->rs_skip) || first >= end)
		return 0;
	spin_lock_irqsave(&p->rs_lock, flags);
	if (p->rs_skip && end <= p->rs_skip_bits) {
		for (; first < end; first++)
			added += !__test_and_set_bit(first, p->rs_skip);
	}
	spin_unlock_irqrestore(&p->rs_lock, flags);
	return added;
}

/*
 * Receiver: a replicated write covered these whole blocks. Only a SyncTarget skips them;
 * a SyncSource's skip map holds the blocks it could not read (counted in rs_failed).
 */
void bsr_mark_app_written(struct bsr_peer_device *pd, sector_t sector, u32 size)
{
	sector_t end;

	switch (READ_ONCE(pd->repl_state)) {
	case BSR_REPLICATION_WFBITMAPS:
	case BSR_REPLICATION_SYNCSOURCE:
	case BSR_REPLICATION_PAUSEDSYNCS:
		return;
	default:
		/* the partial last block of the device counts as covered when written to its end */
		end = sector + (size >> 9);
		rs_skip_range(pd, DIV_ROUND_UP_ULL(sector, 8),
			      end == get_capacity(pd->device->disk) ? DIV_ROUND_UP_ULL(end, 8) :
								       end >> 3);
	}
}

bool bsr_rs_skipped(struct bsr_peer_device *pd, u64 bit)
{
	struct bsr_pd_net *p = pd->net;
	bool set = false;

	spin_lock_irq(&p->rs_lock);
	if (p->rs_skip && bit < p->rs_skip_bits)
		set = test_bit(bit, p->rs_skip);
	spin_unlock_irq(&p->rs_lock);
	return set;
}

/* ------------------------------------------------------------------ user-mode helper */

static char usermode_helper[80] = "/sbin/bsradm";
module_param_string(usermode_helper, usermode_helper, sizeof(usermode_helper), 0644);
MODULE_PARM_DESC(usermode_helper, "program run for handlers: HELPER HANDLER RESOURCE");

#define HELPER_ENV_MAX 14
#define HELPER_ENV_BYTES 1024

struct helper_env {
	char *envp[HELPER_ENV_MAX + 1];
	int n;
	char *buf;
	size_t used;
};

static __printf(2, 3) void env_add(struct helper_env *e, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (e->n >= HELPER_ENV_MAX || e->used >= HELPER_ENV_BYTES)
		return;
	va_start(ap, fmt);
	len = vsnprintf(e->buf + e->used, HELPER_ENV_BYTES - e->used, fmt, ap);
	va_end(ap);
	if (len < 0 || e->used + len >= HELPER_ENV_BYTES)
		return;	/* does not fit: left out rather than cut */
	e->envp[e->n++] = e->buf + e->used;
	e->used += len + 1;
}

static void env_add_addr(struct helper_env *e, const char *which, const u8 *addr)
{
	const struct sockaddr *sa = (const struct sockaddr *)addr;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return;
	env_add(e, "BSR_%s_ADDRESS=%pISc", which, sa);
	env_add(e, "BSR_%s_AF=%s", which, sa->sa_family == AF_INET ? "ipv4" : "ipv6");
}

/* A helper call prepared under the configuration locks, run after they are dropped. */
struct bsr_helper {
	char path[sizeof(usermode_helper)];
	char name[32];
	char res[BSR_NAME_MAX];
	char *argv[4];
	struct helper_env env;
};

/*
 * `usermode_helper NAME RESOURCE` with the BSR_* environment of pd, announced (log, `call
 * helper` event); adm_mutex held (the path in use). Everything it needs is copied:
 * bsr_helper_run() touches no bsr object, so the caller may drop the locks that keep pd
 * alive. NULL when memory is short.
 */
struct bsr_helper *bsr_helper_prepare(struct bsr_peer_device *pd, const char *name)
{
	struct bsr_device *d = pd->device;
	struct bsr_conn *c = pd->connection;
	struct bsr_resource *r = c->resource;
	struct helper_env *e;
	struct bsr_helper *h;
	struct bsr_path *path;

	lockdep_assert_held(&r->adm_mutex);
	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return NULL;
	e = &h->env;
	e->buf = kzalloc(HELPER_ENV_BYTES, GFP_KERNEL);
	if (!e->buf) {
		kfree(h);
		return NULL;
	}
	kernel_param_lock(THIS_MODULE);
	strscpy(h->path, usermode_helper, sizeof(h->path));
	kernel_param_unlock(THIS_MODULE);
	strscpy(h->name, name, sizeof(h->name));
	strscpy(h->res, r->name, sizeof(h->res));
	env_add(e, "HOME=/");
	env_add(e, "TERM=linux");
	env_add(e, "PATH=/sbin:/usr/sbin:/bin:/usr/bin");
	env_add(e, "BSR_RESOURCE=%s", r->name);
	env_add(e, "BSR_NODE_ID=%u", r->node_id);
	env_add(e, "BSR_PEER_NODE_ID=%u", c->peer_node_id);
	env_add(e, "BSR_CONN_NAME=%s", c->name);
	env_add(e, "BSR_MINOR=%u", d->minor);
	env_add(e, "BSR_VOLUME=%u", d->vnr);
	if (bsr_get_ldev(d)) {
		env_add(e, "BSR_BACKING_DEV=%s", d->ldev->backing_path);
		bsr_put_ldev(d);
	}
	path = bsr_path_in_use(c);
	if (path) {
		env_add_addr(e, "MY", path->my_addr);
		env_add_addr(e, "PEER", path->peer_addr);
	}
	h->argv[0] = strim(h->path);	/* `echo PATH > .../usermode_helper` keeps the newline */
	h->argv[1] = h->name;
	h->argv[2] = h->res;
	h->argv[3] = NULL;
	bsr_info("%s: peer %u: calling helper %s %s %s\n", r->name, c->peer_node_id, h->argv[0],
		 h->name, h->res);
	bsr_notify_helper(pd, name, BSR_NOTIFY_CALL, 0);
	return h;
}

/*
 * Runs a prepared helper, waits for it (killable: `down` and `disconnect` stop the wait of a
 * network thread) and frees it. Sleeps: never call it with a spinlock or a mutex held that the
 * handler's own bsrsetup/bsradm would need (bsr_conf_mutex, adm_mutex). Returns the exit code;
 * 127 when the helper could not be started, 128 + N when signal N ended it; -EINTR when the
 * waiting thread was killed.
 */
int bsr_helper_run(struct bsr_helper *h)
{
	int rv, status;

	rv = call_usermodehelper(h->argv[0], h->argv, h->env.envp, UMH_WAIT_PROC | UMH_KILLABLE);
	if (rv == -EINTR || rv == -ERESTARTSYS) {
		bsr_warn("%s: stopped waiting for helper %s\n", h->res, h->name);
		status = -EINTR;
	} else if (rv < 0) {
		status = 127;
	} else if (rv & 0x7f) {
		status = 128 + (rv & 0x7f);
	} else {
		status = (rv >> 8) & 0xff;
	}
	if (status >= 0)
		bsr_info("%s: helper %s %s %s: exit code %d (%d)\n", h->res, h->argv[0], h->name,
			 h->res, status, rv);
	kfree(h->env.buf);
	kfree(h);
	return status;
}

/*
 * The helper NAME run for pd and waited for, framed by the `call helper` and `response
 * helper ... status:N` events; pd must stay alive meanwhile (a network thread's own peer
 * device). The status as bsr_helper_run(); -ENOMEM when it could not be prepared.
 */
int bsr_call_helper(struct bsr_peer_device *pd, const char *name)
{
	struct mutex *adm = &pd->connection->resource->adm_mutex;
	struct bsr_helper *h;
	int status;

	mutex_lock(adm);
	h = bsr_helper_prepare(pd, name);
	mutex_unlock(adm);
	if (!h)
		return -ENOMEM;
	status = bsr_helper_run(h);
	if (status >= 0)
		bsr_notify_helper(pd, name, BSR_NOTIFY_RESPONSE, status);
	return status;
}

/*
 * Helpers nothing waits for (out-of-sync after a verify, after-resync-target) run on their own
 * workqueue, so that no lock and no thread of bsr waits for a handler; module exit waits for
 * the ones still running (destroy_workqueue).
 */
static struct workqueue_struct *bsr_helper_wq;

struct helper_async {
	struct work_struct work;
	struct bsr_helper *h;
	struct bsr_helper_ids ids;
	char name[32];
	/* called when the helper ended (status as bsr_helper_run), no lock held */
	void (*done)(const struct helper_async *a, int status);
	u32 seq;
};

static void helper_async_work(struct work_struct *w)
{
	struct helper_async *a = container_of(w, struct helper_async, work);
	int status = bsr_helper_run(a->h);

	if (status >= 0)
		bsr_notify_helper_ids(&a->ids, a->name, BSR_NOTIFY_RESPONSE, status);
	if (a->done)
		a->done(a, status);
	kfree(a);
}

/*
 * Starts the helper NAME of pd (announced now, `response` event when it ends), then `done`
 * when given; adm_mutex held. False when it could not be started (out of memory).
 */
static bool helper_start(struct bsr_peer_device *pd, const char *name,
			 void (*done)(const struct helper_async *a, int status), u32 seq)
{
	struct helper_async *a = kzalloc(sizeof(*a), GFP_KERNEL);

	if (a)
		a->h = bsr_helper_prepare(pd, name);
	if (!a || !a->h) {
		bsr_warn("%s: out of memory: helper %s not run\n", pd->connection->resource->name,
			 name);
		kfree(a);
		return false;
	}
	bsr_helper_ids_of(pd, &a->ids);
	strscpy(a->name, name, sizeof(a->name));
	a->done = done;
	a->seq = seq;
	INIT_WORK(&a->work, helper_async_work);
	queue_work(bsr_helper_wq, &a->work);
	return true;
}

void bsr_helper_start(struct bsr_peer_device *pd, const char *name)
{
	helper_start(pd, name, NULL, 0);
}

int bsr_helper_wq_init(void)
{
	bsr_helper_wq = alloc_workqueue("bsr_helper", WQ_UNBOUND, 0);
	return bsr_helper_wq ? 0 : -ENOMEM;
}

void bsr_helper_wq_exit(void)
{
	destroy_workqueue(bsr_helper_wq);
}

/* Receiver thread, adm_mutex not held: report, then run the split-brain handler. */
void bsr_notify_split_brain(struct bsr_peer_device *pd)
{
	bsr_notify_split_brain_event(pd);
	bsr_call_helper(pd, BSR_HELPER_SPLIT_BRAIN);
}

/* ------------------------------------------------------------------ fencing */

/*
 * The fencing policy of c when it applies: its peer's disk is not known to be Outdated or
 * worse (UpToDate or Consistent while connected, DUnknown after a loss not yet fenced).
 */
enum bsr_fencing bsr_fence_policy(struct bsr_conn *c)
{
	u32 policy = bsr_conf(&c->net_conf, T_NET_CONF_FENCING);
	struct bsr_peer_device *pd;

	if (policy == BSR_FENCING_DONT_CARE)
		return BSR_FENCING_DONT_CARE;
	list_for_each_entry(pd, &c->peer_devices, conn_list)
		if (READ_ONCE(pd->peer_disk_state) > BSR_DISK_OUTDATED)
			return policy;
	return BSR_FENCING_DONT_CARE;
}

/*
 * What fence-peer's exit code established about the peer's disk, as DRBD reads it: 3 it
 * was Inconsistent, 4 the handler outdated it, 5 the peer is down or unreachable, 7 it was
 * fenced (STONITH). DUnknown: nothing (6 the peer is Primary, anything else a failure).
 */
static enum bsr_disk fence_result(int status)
{
	switch (status) {
	case 3:
		return BSR_DISK_INCONSISTENT;
	case 4:
	case 5:
	case 7:
		return BSR_DISK_OUTDATED;
	default:
		return BSR_DISK_DUNKNOWN;
	}
}

/*
 * Records what fence-peer answered for c's peer; adm_mutex held. A fenced peer's disk shows
 * the handler's result until the next handshake, and unfence-peer is due once the peer is
 * connected and UpToDate again. Returns whether the peer is fenced.
 */
bool bsr_fence_apply(struct bsr_conn *c, int status)
{
	enum bsr_disk disk = fence_result(status);
	struct bsr_peer_device *pd;

	if (disk == BSR_DISK_DUNKNOWN)
		return false;
	WRITE_ONCE(c->peer_fenced, true);
	/* connected again while the handler ran: the handshake told the peer's real state */
	if (c->cstate == BSR_CONNECTION_CONNECTED)
		return true;
	list_for_each_entry(pd, &c->peer_devices, conn_list) {
		WRITE_ONCE(pd->peer_disk_state, disk);
		bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
	}
	return true;
}

/*
 * The receiver after a Primary lost c with its peer's disk not known to be Outdated (the
 * teardown, no lock held): fence-peer. With resource-and-stonith the resource's I/O has
 * been held since the loss was noticed; it goes on once the peer is fenced, else only with
 * resume-io (or when the peer is deleted: del-peer, down).
 */
void bsr_fence_lost_peer(struct bsr_conn *c)
{
	struct bsr_resource *r = c->resource;
	struct bsr_peer_device *pd;
	int status = -ENODEV;
	bool fenced, held;

	pd = list_first_entry_or_null(&c->peer_devices, struct bsr_peer_device, conn_list);
	if (pd)
		status = bsr_call_helper(pd, BSR_HELPER_FENCE_PEER);
	mutex_lock(&r->adm_mutex);
	fenced = bsr_fence_apply(c, status);
	if (fenced)
		bsr_set_susp(r, &c->fence_susp, false);
	held = c->fence_susp;
	mutex_unlock(&r->adm_mutex);
	if (fenced)
		bsr_info("%s: peer %u fenced (fence-peer exit code %d)\n", r->name, c->peer_node_id,
			 status);
	else
		bsr_warn("%s: fencing peer %u failed (fence-peer exit code %d)%s\n", r->name,
			 c->peer_node_id, status, held ? ": I/O stays suspended until resume-io" : "");
}

/*
 * The receiver, no lock held: a peer that fence-peer fenced is connected again with every
 * volume both have UpToDate (after its resync): unfence-peer, once. A volume only one node
 * has never leaves replication Off: it does not hold the peer fenced.
 */
void bsr_unfence_check(struct bsr_conn *c)
{
	struct bsr_peer_device *pd, *first = NULL;

	if (!READ_ONCE(c->peer_fenced) || c->cstate != BSR_CONNECTION_CONNECTED)
		return;
	list_for_each_entry(pd, &c->peer_devices, conn_list) {
		if (!bsr_pd_replicating(pd))
			continue;
		/* a resync still to run or running: the peer's own word UpToDate is not enough */
		if (READ_ONCE(pd->peer_disk_state) != BSR_DISK_UPTODATE ||
		    READ_ONCE(pd->repl_state) != BSR_REPLICATION_ESTABLISHED)
			return;
		if (!first)
			first = pd;
	}
	if (!first)
		return;
	WRITE_ONCE(c->peer_fenced, false);
	bsr_call_helper(first, BSR_HELPER_UNFENCE_PEER);
}

/* ------------------------------------------------------------------ decision */

static bool in_history(const u64 *h, int n, u64 uuid)
{
	int i;

	uuid &= ~UUID_PRIMARY;
	if (!uuid || uuid == UUID_JUST_CREATED)
		return false;
	for (i = 0; i < n; i++)
		if ((h[i] & ~UUID_PRIMARY) == uuid)
			return true;
	return false;
}

static enum bsr_sync_decision decide(struct bsr_peer_device *pd, const char **why)
{
	struct bsr_device *d = pd->device;
	struct bsr_pd_net *p = pd->net;
	struct bsr_md *md = &d->ldev->md;
	u32 me = d->resource->node_id, peer = pd->connection->peer_node_id;
	u64 c = md->current_uuid & ~UUID_PRIMARY, pc = p->peer_current & ~UUID_PRIMARY;
	u64 b = md->peers[peer].bitmap_uuid & ~UUID_PRIMARY;
	u64 pb = p->peer_bitmap & ~UUID_PRIMARY;
	bool crashed = md->flags & BSR_MDF_CRASHED_PRIMARY;
	bool pcrashed = p->peer_flags & UUID_FLAG_CRASHED_PRIMARY;
	bool incons = d->disk_state <= BSR_DISK_INCONSISTENT;
	bool pincons = pd->peer_disk_state <= BSR_DISK_INCONSISTENT;

	if (c == UUID_JUST_CREATED && pc == UUID_JUST_CREATED) {
		*why = "both just created";
		return SYNC_NONE;
	}
	if (c == UUID_JUST_CREATED) {
		*why = "this node's data is new";
		return SYNC_TARGET_FULL;
	}
	if (pc == UUID_JUST_CREATED) {
		*why = "the peer's data is new";
		return SYNC_SOURCE_FULL;
	}
	if (c == pc) {
		*why = "same data generation";
		if (incons && !pincons)
			return SYNC_TARGET_BITMAP;
		if (pincons && !incons)
			return SYNC_SOURCE_BITMAP;
		if (crashed && !pcrashed)
			return SYNC_SOURCE_BITMAP;
		if (pcrashed && !crashed)
			return SYNC_TARGET_BITMAP;
		if (crashed && pcrashed)
			return me < peer ? SYNC_SOURCE_BITMAP : SYNC_TARGET_BITMAP;
		return SYNC_NONE;
	}
	if (b && b == pc) {
		*why = "the peer is behind";
		return SYNC_SOURCE_BITMAP;
	}
	if (pb && pb == c) {
		*why = "this node is behind";
		return SYNC_TARGET_BITMAP;
	}
	if (b && b == pb) {
		*why = "both changed the data independently";
		return SYNC_SPLIT_BRAIN;
	}
	if (in_history(md->history_uuids, BSR_HISTORY_UUIDS, pc) ||
	    (b && in_history(&p->peer_history[0], BSR_WIRE_HISTORY, b))) {
		*why = "the peer is far behind";
		return SYNC_SOURCE_FULL;
	}
	if (in_history(p->peer_history, BSR_WIRE_HISTORY, c) ||
	    (pb && in_history(md->history_uuids, BSR_HISTORY_UUIDS, pb))) {
		*why = "this node is far behind";
		return SYNC_TARGET_FULL;
	}
	*why = "unrelated data";
	return SYNC_UNRELATED;
}

/* This node learned that a peer has newer data: Outdated, persisted, until a resync. */
void bsr_outdate_behind(struct bsr_device *d)
{
	struct bsr_md *md = &d->ldev->md;

	if (d->disk_state <= BSR_DISK_OUTDATED)
		return;
	md->flags = (md->flags | BSR_MDF_CONSISTENT) & ~BSR_MDF_WAS_UP_TO_DATE;
	bsr_md_write_sb(d, d->ldev);
	bsr_set_disk_state(d, BSR_DISK_OUTDATED);
}

/* Outdated data of the generation an UpToDate peer has are up to date again. */
static int refresh_outdated(struct bsr_peer_device *pd)
{
	struct bsr_device *d = pd->device;

	if (d->disk_state != BSR_DISK_OUTDATED || pd->peer_disk_state != BSR_DISK_UPTODATE)
		return 0;
	d->ldev->md.flags |= BSR_MDF_CONSISTENT | BSR_MDF_WAS_UP_TO_DATE;
	bsr_md_write_sb(d, d->ldev);
	bsr_set_disk_state(d, BSR_DISK_UPTODATE);
	return bsr_send_state(pd);
}

/* The blocks this node changed for the peer since they split: its bitmap slot's weight. */
static u64 local_changes(struct bsr_peer_device *pd)
{
	int slot = bsr_pd_slot(pd);

	return slot >= 0 ? pd->device->ldev->bm.weight[slot] : 0;
}

/*
 * after-sb-0pri with no Primary: 1 when this node keeps its data (SyncSource), -1 when it
 * discards them, 0 for no decision. The changes are the blocks each node marked out of sync
 * for the other since they split; a tie keeps the data of the lower node id, so that both
 * nodes, deciding alone from the same facts, pick the same victim. ldev held.
 */
static int after_sb_0pri(struct bsr_peer_device *pd, u32 policy, const char **how)
{
	struct bsr_device *d = pd->device;
	u64 mine = local_changes(pd), theirs = pd->net->peer_dirty;
	int tie = d->resource->node_id < pd->connection->peer_node_id ? 1 : -1;

	switch (policy) {
	case BSR_AFTER_SB_0PRI_DISCARD_ZERO_CHANGES:
		*how = "after-sb-0pri discard-zero-changes";
		if (mine && theirs)
			return 0;
		return mine == theirs ? tie : mine ? 1 : -1;
	case BSR_AFTER_SB_0PRI_DISCARD_LEAST_CHANGES:
		*how = "after-sb-0pri discard-least-changes";
		return mine == theirs ? tie : mine > theirs ? 1 : -1;
	case BSR_AFTER_SB_0PRI_DISCARD_LOCAL:
		*how = "after-sb-0pri discard-local";
		return -1;
	case BSR_AFTER_SB_0PRI_DISCARD_REMOTE:
		*how = "after-sb-0pri discard-remote";
		return 1;
	default:
		return 0;
	}
}

/*
 * A split brain (both changed the data since they split) that the after-sb policy of the
 * number of Primaries resolves: 1 this node keeps its data, -1 it discards them, 0 it stays
 * a split brain (disconnect). Both nodes agreed on the policies in the handshake.
 */
static int after_split_brain(struct bsr_peer_device *pd, const char **how)
{
	struct bsr_net *n = pd->connection->net;
	bool primary = READ_ONCE(pd->device->resource->role) == BSR_ROLE_PRIMARY;
	bool peer_primary = pd->connection->peer_role == BSR_ROLE_PRIMARY;
	int keep;

	/*
	 * after-sb-2pri call-pri-lost-after-sb: after-sb-0pri names the victim, whose
	 * pri-lost-after-sb handler runs (bsr_sync_handshake); a Primary is not overwritten
	 * under its users, so the connection ends there (rr-conflict) until it is Secondary
	 */
	if (primary && peer_primary)
		return n->after_sb[2] == BSR_AFTER_SB_2PRI_CALL_PRI_LOST_AFTER_SB ?
		       after_sb_0pri(pd, n->after_sb[0], how) : 0;
	if (!primary && !peer_primary)
		return after_sb_0pri(pd, n->after_sb[0], how);
	switch (n->after_sb[1]) {
	case BSR_AFTER_SB_1PRI_DISCARD_SECONDARY:
		*how = "after-sb-1pri discard-secondary";
		return primary ? 1 : -1;
	case BSR_AFTER_SB_1PRI_CONSENSUS:
		/* the Secondary's data go only where after-sb-0pri would discard them too */
		keep = after_sb_0pri(pd, n->after_sb[0], how);
		if (!keep || (keep > 0) != primary)
			return 0;
		*how = "after-sb-1pri consensus";
		return keep;
	default:
		return 0;
	}
}

/*
 * What the handshake of pd leads to, with a split brain resolved by discard-my-data or the
 * after-sb policies (*resolved then says how, for the log). The caller holds ldev.
 */
static enum bsr_sync_decision sync_decision(struct bsr_peer_device *pd, const char **why,
					    char *resolved, size_t len)
{
	struct bsr_net *n = pd->connection->net;
	enum bsr_sync_decision dec = decide(pd, why);
	const char *how = "";
	bool mine, theirs;
	int keep;

	resolved[0] = '\0';
	if (dec != SYNC_SPLIT_BRAIN && dec != SYNC_UNRELATED)
		return dec;
	mine = n->discard_my_data;
	theirs = n->peer_discard_my_data || (pd->net->peer_flags & UUID_FLAG_DISCARD_MY_DATA);
	if (mine && !theirs) {
		strscpy(resolved, "split brain resolved: discarding this node's data", len);
		return dec == SYNC_SPLIT_BRAIN ? SYNC_TARGET_BITMAP : SYNC_TARGET_FULL;
	}
	if (theirs && !mine) {
		strscpy(resolved, "split brain resolved: the peer discards its data", len);
		return dec == SYNC_SPLIT_BRAIN ? SYNC_SOURCE_BITMAP : SYNC_SOURCE_FULL;
	}
	if (dec != SYNC_SPLIT_BRAIN || mine)
		return dec;
	keep = after_split_brain(pd, &how);
	if (!keep)
		return dec;
	snprintf(resolved, len, "split brain resolved by %s: %s (%llu blocks changed here, %llu on the peer)",
		 how, keep > 0 ? "the peer discards its data" : "discarding this node's data",
		 local_changes(pd), pd->net->peer_dirty);
	return keep > 0 ? SYNC_SOURCE_BITMAP : SYNC_TARGET_BITMAP;
}

static bool decision_is_source(enum bsr_sync_decision dec)
{
	return dec == SYNC_SOURCE_BITMAP || dec == SYNC_SOURCE_FULL;
}

static bool decision_is_target(enum bsr_sync_decision dec)
{
	return dec == SYNC_TARGET_BITMAP || dec == SYNC_TARGET_FULL;
}

/* Why the resync dec would be refused here, or NULL. The caller holds ldev. */
static const char *resync_refusal(struct bsr_peer_device *pd, enum bsr_sync_decision dec)
{
	struct bsr_device *d = pd->device;

	if (decision_is_source(dec) && d->disk_state < BSR_DISK_OUTDATED)
		return "would be SyncSource but the local disk is not consistent";
	if (decision_is_target(dec) && READ_ONCE(d->resource->role) == BSR_ROLE_PRIMARY)
		return "a Primary cannot become SyncTarget: split brain";
	return NULL;
}

/*
 * connect --tentative (here or on the peer): the handshake's outcome for pd in the log,
 * nothing else; the caller then ends the connection.
 */
void bsr_sync_tentative(struct bsr_peer_device *pd)
{
	struct bsr_net *n = pd->connection->net;
	struct bsr_device *d = pd->device;
	enum bsr_sync_decision dec;
	const char *why = "", *refused, *what;
	char resolved[160];
	u64 kib = 0;

	if (!bsr_get_ldev(d)) {
		bsr_info("%s: tentative: volume %u: no local disk: would connect diskless\n",
			 n->thread_tag, d->vnr);
		return;
	}
	if (pd->net->peer_d_size == 0) {
		bsr_info("%s: tentative: volume %u: the peer has no disk: would connect, nothing to resync\n",
			 n->thread_tag, d->vnr);
		bsr_put_ldev(d);
		return;
	}
	dec = sync_decision(pd, &why, resolved, sizeof(resolved));
	refused = resync_refusal(pd, dec);
	switch (dec) {
	case SYNC_NONE:
		what = "would connect, nothing to resync";
		break;
	case SYNC_SOURCE_BITMAP:
		what = "would resync as SyncSource";
		kib = local_changes(pd) << 2;
		break;
	case SYNC_TARGET_BITMAP:
		what = "would resync as SyncTarget";
		kib = pd->net->peer_dirty << 2;
		break;
	case SYNC_SOURCE_FULL:
		what = "would resync as SyncSource, the whole device";
		kib = get_capacity(d->disk) >> 1;
		break;
	case SYNC_TARGET_FULL:
		what = "would resync as SyncTarget, the whole device";
		kib = get_capacity(d->disk) >> 1;
		break;
	default:
		what = "would refuse the connection: split brain";
	}
	if (refused)
		what = refused;
	bsr_info("%s: tentative: volume %u: %s%s%s: %s, %llu KiB\n", n->thread_tag, d->vnr, why,
		 resolved[0] ? "; " : "", resolved, what, kib);
	bsr_put_ldev(d);
}

int bsr_sync_handshake(struct bsr_peer_device *pd)
{
	struct bsr_device *d = pd->device;
	struct bsr_conn *c = pd->connection;
	struct bsr_net *n = c->net;
	enum bsr_sync_decision dec;
	const char *why = "", *refused;
	char resolved[160];
	int rv = 0;

	if (!bsr_get_ldev(d)) {
		rv = bsr_set_repl_state(pd, BSR_REPLICATION_ESTABLISHED);
		bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
		return rv;
	}
	if (pd->net->peer_d_size == 0) {
		/* a diskless peer: nothing to sync */
		rv = bsr_set_repl_state(pd, BSR_REPLICATION_ESTABLISHED);
		goto out;
	}
	dec = sync_decision(pd, &why, resolved, sizeof(resolved));
	if (resolved[0])
		bsr_warn("%s: %s\n", n->thread_tag, resolved);
	bsr_info("%s: volume %u: uuids %016llx:%016llx peer %016llx:%016llx: %s\n",
		 n->thread_tag, d->vnr, d->ldev->md.current_uuid,
		 d->ldev->md.peers[c->peer_node_id].bitmap_uuid, pd->net->peer_current,
		 pd->net->peer_bitmap, why);
	switch (dec) {
	case SYNC_NONE:
		rv = bsr_set_repl_state(pd, BSR_REPLICATION_ESTABLISHED);
		if (!rv)
			rv = refresh_outdated(pd);
		break;
	case SYNC_SOURCE_BITMAP:
	case SYNC_SOURCE_FULL:
	case SYNC_TARGET_BITMAP:
	case SYNC_TARGET_FULL:
		refused = resync_refusal(pd, dec);
		if (refused) {
			bsr_err("%s: %s (local disk %s)\n", n->thread_tag, refused,
				bsr_disk_name(d->disk_state));
			pd->net->split_brain = decision_is_target(dec);
			/* the Primary that would be overwritten: its handlers may reboot it */
			if (decision_is_target(dec) && c->peer_role == BSR_ROLE_PRIMARY &&
			    !n->discard_my_data &&
			    n->after_sb[2] == BSR_AFTER_SB_2PRI_CALL_PRI_LOST_AFTER_SB)
				bsr_helper_start(pd, BSR_HELPER_PRI_LOST_AFTER_SB);
			if (decision_is_target(dec) &&
			    bsr_conf(&c->net_conf, T_NET_CONF_RR_CONFLICT) == BSR_RR_CONFLICT_CALL_PRI_LOST)
				bsr_helper_start(pd, BSR_HELPER_PRI_LOST);
			rv = -EBADE;
			break;
		}
		bsr_put_ldev(d);
		return bsr_start_resync(pd, decision_is_source(dec),
					dec == SYNC_SOURCE_FULL || dec == SYNC_TARGET_FULL);
	default:
		bsr_err("%s: split brain detected (%s), dropping the connection\n",
			n->thread_tag, why);
		pd->net->split_brain = true;
		rv = -EBADE;
	}
out:
	bsr_put_ldev(d);
	bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
	return rv;
}

/* ------------------------------------------------------------------ bitmap exchange */

/*
 * COMPRESSED_BITMAP payload: the chunk's bits as alternating runs of clear and set bits
 * (the first run is set with BM_FLAG_FIRST_SET), each run length an unsigned LEB128
 * number (7 bits a byte, low bits first, high bit = more bytes follow). Returns the code
 * length, or 0 when the code would not be shorter than the plain words.
 */
static u32 rle_encode(const __le64 *words, u32 n_words, u8 *out, bool *first_set)
{
	unsigned long nbits = (unsigned long)n_words * 64, pos = 0;
	u32 len = 0, cap = n_words * 8;
	bool set = test_bit_le(0, words);

	*first_set = set;
	while (pos < nbits) {
		unsigned long next = set ? find_next_zero_bit_le(words, nbits, pos) :
					   find_next_bit_le(words, nbits, pos);
		u64 run = next - pos;

		do {
			if (len + 1 >= cap)
				return 0;
			out[len++] = (run & 0x7f) | (run > 0x7f ? 0x80 : 0);
			run >>= 7;
		} while (run);
		pos = next;
		set = !set;
	}
	return len;
}

static void set_run_le(__le64 *words, u64 pos, u64 run)
{
	for (; run && (pos & 63); run--)
		__set_bit_le(pos++, words);
	for (; run >= 64; run -= 64, pos += 64)
		words[pos / 64] = cpu_to_le64(~0ULL);
	for (; run; run--)
		__set_bit_le(pos++, words);
}

/* The inverse; every run must be non-empty and the runs must cover n_words exactly. */
int bsr_bm_rle_decode(const u8 *code, u32 len, bool first_set, __le64 *words, u32 n_words)
{
	u64 nbits = (u64)n_words * 64, pos = 0;
	bool set = first_set;
	u32 i = 0;

	memset(words, 0, n_words * 8);
	while (i < len) {
		unsigned int shift = 0;
		u64 run = 0;
		u8 b;

		do {
			if (i >= len || shift > 28)	/* truncated, or longer than any chunk */
				return -EPROTO;
			b = code[i++];
			run |= (u64)(b & 0x7f) << shift;
			shift += 7;
		} while (b & 0x80);
		if (!run || run > nbits - pos)
			return -EPROTO;
		if (set)
			set_run_le(words, pos, run);
		pos += run;
		set = !set;
	}
	return pos == nbits ? 0 : -EPROTO;
}

static int send_bitmap_chunk(struct bsr_net *n, enum bsr_packet cmd, u16 vnr,
			     const struct p_bitmap *p, u32 len)
{
	int rv = -ENOTCONN;

	mutex_lock(&n->data_mutex);
	if (n->data_sock && READ_ONCE(n->net_ok))
		rv = bsr_send_packet_locked(n->data_sock, cmd, vnr, p, len, 0);
	mutex_unlock(&n->data_mutex);
	return rv;
}

/*
 * Sends our slot of the peer in chunks of BM_CHUNK_WORDS words, each run-length coded
 * when that is shorter (and use-rle is on), else plain. Runs in bsr_wq, so that the
 * receiver keeps reading the peer's bitmap meanwhile: with both bitmaps larger than the
 * socket buffers, two nodes that first send and then read would wait for each other.
 */
static int send_bitmap(struct bsr_peer_device *pd)
{
	struct bsr_device *d = pd->device;
	struct bsr_conn *c = pd->connection;
	struct bsr_net *n = c->net;
	bool rle = bsr_conf(&c->net_conf, T_NET_CONF_USE_RLE);
	int slot = bsr_pd_slot(pd);
	u64 w = 0, words, wire = 0, packets = 0, rle_packets = 0;
	__le64 *plain;
	struct p_bitmap *p;
	int rv = 0;

	if (slot < 0)
		return -ENODEV;
	words = d->ldev->bm.words;
	p = kmalloc(sizeof(*p) + BM_CHUNK_WORDS * 8, GFP_KERNEL);
	plain = kmalloc_array(BM_CHUNK_WORDS, 8, GFP_KERNEL);
	if (!p || !plain) {
		rv = -ENOMEM;
		goto out;
	}
	do {
		/* an empty bitmap still needs its LAST chunk: one zero word */
		u32 cnt = max_t(u64, min_t(u64, words - w, BM_CHUNK_WORDS), 1);
		u32 flags = w + cnt >= words ?
			    BM_FLAG_LAST | (pd->net->rs_csums ? BM_FLAG_CSUMS : 0) : 0;
		enum bsr_packet cmd = P_BITMAP;
		u32 len = cnt * 8;
		bool first_set;

		memset(plain, 0, len);
		if (w < words)
			bsr_bm_get_words(&d->ldev->bm, slot, w, cnt, plain);
		if (rle)
			len = rle_encode(plain, cnt, (u8 *)(p + 1), &first_set);
		if (rle && len) {
			cmd = P_COMPRESSED_BITMAP;
			if (first_set)
				flags |= BM_FLAG_FIRST_SET;
			rle_packets++;
		} else {
			len = cnt * 8;
			memcpy(p + 1, plain, len);
		}
		p->word_offset = cpu_to_be64(w);
		p->n_words = cpu_to_be32(cnt);
		p->flags = cpu_to_be32(flags);
		rv = send_bitmap_chunk(n, cmd, d->vnr, p, sizeof(*p) + len);
		wire += sizeof(struct p_header100) + sizeof(*p) + len;
		packets++;
		w += cnt;
	} while (!rv && w < words);
	if (!rv)
		bsr_info("%s: volume %u: bitmap sent: %llu words, %llu bytes in %llu packets (%llu compressed), plain %llu bytes\n",
			 n->thread_tag, d->vnr, words, wire, packets, rle_packets,
			 max_t(u64, words, 1) * 8 + packets * (sizeof(struct p_header100) +
							       sizeof(*p)));
out:
	kfree(plain);
	kfree(p);
	return rv;
}

static void begin_resync(struct bsr_peer_device *pd);

void bsr_bm_send_work(struct work_struct *w)
{
	struct bsr_pd_net *p = container_of(w, struct bsr_pd_net, bm_work);
	struct bsr_peer_device *pd = p->pd;
	struct bsr_device *d = pd->device;
	struct bsr_conn *c = pd->connection;
	int rv;

	if (!bsr_get_ldev(d)) {
		bsr_conn_fail(c, BSR_CONNECTION_NETWORKFAILURE);
		return;
	}
	rv = send_bitmap(pd);
	if (rv) {
		if (rv != -ENOTCONN)
			bsr_warn("%s: sending the bitmap failed: %d\n", c->net->thread_tag, rv);
		bsr_conn_fail(c, BSR_CONNECTION_NETWORKFAILURE);
	} else {
		mutex_lock(&c->resource->adm_mutex);
		if ((pd->repl_state == BSR_REPLICATION_WFBITMAPS ||
		     pd->repl_state == BSR_REPLICATION_WFBITMAPT) && READ_ONCE(c->net->net_ok)) {
			p->bm_sent = true;
			if (p->bm_received)
				begin_resync(pd);
		}
		mutex_unlock(&c->resource->adm_mutex);
	}
	bsr_put_ldev(d);
}

/* Receiver, adm_mutex held: one plain or decoded chunk of the peer's bitmap. */
int bsr_recv_bitmap_chunk(struct bsr_peer_device *pd, const struct p_bitmap *p,
			  const __le64 *words, u32 n)
{
	struct bsr_device *d = pd->device;
	u64 off = be64_to_cpu(p->word_offset);
	int slot = bsr_pd_slot(pd);

	if (pd->repl_state != BSR_REPLICATION_WFBITMAPS &&
	    pd->repl_state != BSR_REPLICATION_WFBITMAPT) {
		bsr_proto_warn("%s: unexpected bitmap\n", pd->connection->net->thread_tag);
		return -EPROTO;
	}
	/* only the zero word of an empty bitmap may stick out */
	if (slot < 0 || off != pd->net->bm_rx_words || pd->net->bm_received ||
	    (off + n > d->ldev->bm.words && !(d->ldev->bm.words == 0 && n == 1 && !words[0]))) {
		bsr_proto_warn("%s: unexpected bitmap packet: %u words at %llu, expected word %llu of %llu\n",
			       pd->connection->net->thread_tag, n, off, pd->net->bm_rx_words,
			       d->ldev->bm.words);
		return -EPROTO;
	}
	if (off + n <= d->ldev->bm.words) {
		bsr_bm_or_words(&d->ldev->bm, slot, off, n, words);
	}
	if (be32_to_cpu(p->flags) & BM_FLAG_CSUMS) {
		if (pd->repl_state != BSR_REPLICATION_WFBITMAPT ||
		    !(be32_to_cpu(p->flags) & BM_FLAG_LAST) || !pd->connection->net->csums_tfm) {
			bsr_proto_warn("%s: checksum-based resync announced by the SyncTarget or without a csums-alg\n",
				       pd->connection->net->thread_tag);
			return -EPROTO;
		}
		pd->net->rs_csums = true;
	}
	pd->net->bm_rx_words += n;
	if (be32_to_cpu(p->flags) & BM_FLAG_LAST) {
		pd->net->bm_received = true;
		if (pd->net->bm_sent)
			begin_resync(pd);
	}
	return 0;
}

static int resync_thread(void *arg);

static enum bsr_replication resync_state(bool source, bool paused)
{
	if (source)
		return paused ? BSR_REPLICATION_PAUSEDSYNCS : BSR_REPLICATION_SYNCSOURCE;
	return paused ? BSR_REPLICATION_PAUSEDSYNCT : BSR_REPLICATION_SYNCTARGET;
}

/* ------------------------------------------------------------------ resync-after */

/*
 * resync-after MINOR: this device's resyncs wait while the device with that minor (or one it
 * waits for in turn) resyncs, e.g. so that two volumes on one spindle do not seek against each
 * other. The chain is cycle-free (bsr_resync_after_check when it is set) and ends at a minor
 * that does not exist or has no disk, as DRBD's does.
 */
static bool device_resyncing(struct bsr_device *d)
{
	struct bsr_peer_device *pd;

	list_for_each_entry(pd, &d->peer_devices, dev_list) {
		if (bsr_repl_in_resync(READ_ONCE(pd->repl_state)))
			return true;
	}
	return false;
}

static s32 resync_after_of(struct bsr_device *d)
{
	return d->ldev ? bsr_conf(&d->disk_conf, T_DISK_CONF_RESYNC_AFTER) : -1;
}

/* bsr_conf_mutex held */
static bool resync_waits_for_dependency(struct bsr_device *d)
{
	s32 minor;

	while ((minor = resync_after_of(d)) >= 0) {
		d = bsr_find_minor(minor);
		if (!d)
			return false;
		if (device_resyncing(d))
			return true;
	}
	return false;
}

/*
 * Whether d may resync after the device with this minor: not when that chain comes back to d.
 * Minors that do not exist (yet) are allowed. bsr_conf_mutex held.
 */
bool bsr_resync_after_check(struct bsr_device *d, s32 minor)
{
	struct bsr_device *o;

	while (minor >= 0) {
		o = bsr_find_minor(minor);
		if (o == d)
			return false;
		if (!o)
			return true;
		minor = bsr_conf(&o->disk_conf, T_DISK_CONF_RESYNC_AFTER);
	}
	return true;
}

/*
 * Pauses and resumes every resync by its resync-after dependency. A work item, as it walks all
 * resources under bsr_conf_mutex: the state changes that call for it happen in the threads.
 */
static void resync_after_work(struct work_struct *w)
{
	struct bsr_peer_device *pd;
	struct bsr_resource *r;
	struct bsr_device *d;

	mutex_lock(&bsr_conf_mutex);
	list_for_each_entry(r, &bsr_resources, list) {
		mutex_lock(&r->adm_mutex);
		list_for_each_entry(d, &r->devices, res_list) {
			bool wait = resync_waits_for_dependency(d);

			list_for_each_entry(pd, &d->peer_devices, dev_list) {
				bool hold = wait && bsr_repl_in_resync(pd->repl_state);

				if (pd->resync_susp_dependency == hold)
					continue;
				pd->resync_susp_dependency = hold;
				bsr_rs_pause_changed(pd);
			}
		}
		mutex_unlock(&r->adm_mutex);
	}
	mutex_unlock(&bsr_conf_mutex);
}

static DECLARE_WORK(resync_after_work_item, resync_after_work);

/* A resync began or ended, or a resync-after changed: any context. */
void bsr_resync_after_kick(void)
{
	/* not bsr_wq: this work waits for bsr_conf_mutex, bsr_wq's items must not */
	schedule_work(&resync_after_work_item);
}

/* Module exit, after every object is gone: nothing can queue it any more. */
void bsr_resync_after_stop(void)
{
	cancel_work_sync(&resync_after_work_item);
}

/* Why this side holds the resync: pause-sync, or resync-after's dependency (sent to the peer). */
bool bsr_rs_susp_here(const struct bsr_peer_device *pd)
{
	return pd->resync_susp_user || pd->resync_susp_dependency || pd->resync_susp_handler;
}

static bool rs_paused(const struct bsr_peer_device *pd)
{
	return bsr_rs_susp_here(pd) || pd->net->resync_susp_peer;
}

/* This side's hold changed (pause-sync, resync-after; adm_mutex): applied, told, shown. */
void bsr_rs_pause_changed(struct bsr_peer_device *pd)
{
	bsr_rs_pause_update(pd);
	if (bsr_pd_replicating(pd))
		bsr_send_state(pd);
	bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
}

/* A resync runs while neither side pauses it (pause-sync or resync-after here, or the peer's). */
void bsr_rs_pause_update(struct bsr_peer_device *pd)
{
	enum bsr_replication s = pd->repl_state;
	bool paused = rs_paused(pd);

	if (s == BSR_REPLICATION_SYNCSOURCE || s == BSR_REPLICATION_PAUSEDSYNCS ||
	    s == BSR_REPLICATION_SYNCTARGET || s == BSR_REPLICATION_PAUSEDSYNCT) {
		/* at the resume the throttle starts over (no stale resync-throttled:yes) */
		if (paused)
			bsr_rs_throttle_reset(pd->net);
		bsr_set_repl_state(pd, resync_state(bsr_repl_is_source(s), paused));
	}
	bsr_rs_kick(pd->connection->net);
}

static void begin_resync(struct bsr_peer_device *pd)
{
	struct bsr_device *d = pd->device;
	struct bsr_conn *c = pd->connection;
	struct bsr_net *n = c->net;
	struct bsr_pd_net *p = pd->net;
	bool source = pd->repl_state == BSR_REPLICATION_WFBITMAPS;
	int slot = bsr_pd_slot(pd);
	bool held;

	if (!source && d->disk_state != BSR_DISK_INCONSISTENT) {
		/* from the first resync write on, the data are a mix of two generations */
		d->ldev->md.flags &= ~(BSR_MDF_CONSISTENT | BSR_MDF_WAS_UP_TO_DATE);
		bsr_md_write_sb(d, d->ldev);
		bsr_set_disk_state(d, BSR_DISK_INCONSISTENT);
	}
	bsr_bm_recount(&d->ldev->bm);
	bsr_bm_write_all(d, d->ldev);
	p->rs_total = d->ldev->bm.weight[slot] << 3;
	p->rs_cursor = 0;
	p->rs_start = jiffies;
	p->rs_mark_time = jiffies;
	p->rs_mark_left = p->rs_total;
	p->rs_dbdt_kib = 0;
	p->rs_acked_mark = 0;
	p->rs_budget_left = 0;
	p->rs_tick_start = jiffies - TICK;
	bsr_rs_throttle_reset(p);
	/*
	 * A device with resync-after starts held (the work walks the chain, which a thread may
	 * not: other resources' devices come and go under bsr_conf_mutex) and the peer is told.
	 */
	held = resync_after_of(d) >= 0 && !pd->resync_susp_dependency;
	if (held)
		pd->resync_susp_dependency = true;
	if (bsr_set_repl_state(pd, resync_state(source, rs_paused(pd)))) {
		bsr_conn_fail(c, BSR_CONNECTION_PROTOCOLERROR);
		return;
	}
	if (held) {
		bsr_send_state(pd);
		bsr_resync_after_kick();
	}
	bsr_info("%s: volume %u: resync as %s, %llu KiB%s%s\n", n->thread_tag, d->vnr,
		 source ? "SyncSource" : "SyncTarget", p->rs_total >> 1,
		 p->rs_csums ? ", checksum-based: " : "",
		 p->rs_csums ? crypto_shash_alg_name(n->csums_tfm) : "");
	bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
	/* the target of a checksum-based resync reads and sends its digests there too */
	if ((source || p->rs_csums) && bsr_resync_thread_start(c))
		bsr_conn_fail(c, BSR_CONNECTION_NETWORKFAILURE);
}

/* ------------------------------------------------------------------ FastSync map */

/* A map older than this is not used: the file system may have moved on since. */
#define FAST_MAP_MAX_AGE (30 * HZ)

struct bsr_fast_map {
	u64 blocks;		/* 4 KiB blocks it spans: the device's bitmap bits */
	u64 next_block;		/* where the next chunk must start */
	u64 used;		/* blocks marked used so far */
	unsigned long done_at;	/* jiffies when the last chunk came; 0 while incomplete */
	__le64 words[];
};

/* adm_mutex held, or the device is being deleted */
void bsr_fast_map_free(struct bsr_device *d)
{
	kvfree(d->fast_map);
	d->fast_map = NULL;
}

static int fast_map_start(struct bsr_device *d, u64 blocks)
{
	struct bsr_fast_map *m;

	bsr_fast_map_free(d);
	m = kvzalloc(struct_size(m, words, DIV_ROUND_UP(blocks, 64)), GFP_KERNEL);
	if (!m)
		return -ENOMEM;
	m->blocks = blocks;
	d->fast_map = m;
	return 0;
}

/*
 * One FAST_SYNC_MAP message, adm_mutex held: n_words little-endian words (bit i of word w
 * = block first + 64 w + i) of a map spanning `blocks` 4 KiB blocks. Chunks come in order
 * from block 0; the last one ends at the device's end. Anything else drops the map.
 */
int bsr_fast_map_chunk(struct bsr_device *d, u64 first, u64 blocks, const void *words,
		       u32 n_words, bool last, char *msg, size_t len)
{
	struct bsr_peer_device *pd;
	struct bsr_fast_map *m;
	u64 dev_blocks, w0, total_words;
	u32 i;
	int rv = -EINVAL;

	if (!bsr_get_ldev(d)) {
		snprintf(msg, len, "minor %u has no disk", d->minor);
		return -ENODEV;
	}
	dev_blocks = d->ldev->bm.bits;
	bsr_put_ldev(d);
	list_for_each_entry(pd, &d->peer_devices, dev_list) {
		if (bsr_repl_is_source(pd->repl_state) || bsr_repl_is_target(pd->repl_state)) {
			snprintf(msg, len, "minor %u is %s with peer %u: no map while a resync runs",
				 d->minor, bsr_repl_name(pd->repl_state),
				 pd->connection->peer_node_id);
			bsr_fast_map_free(d);
			return -EBUSY;
		}
	}
	if (blocks != dev_blocks) {
		snprintf(msg, len, "fsm_map_blocks %llu: the device has %llu 4 KiB blocks",
			 blocks, dev_blocks);
		goto drop;
	}
	total_words = DIV_ROUND_UP(blocks, 64);
	if (first % 64 || first >= blocks || !n_words ||
	    n_words > total_words - first / 64) {
		snprintf(msg, len, "fsm_first_block %llu with %u words: not within the %llu words of the map",
			 first, n_words, total_words);
		goto drop;
	}
	if (!first) {
		rv = fast_map_start(d, blocks);
		if (rv) {
			snprintf(msg, len, "no memory for a map of %llu blocks", blocks);
			return rv;
		}
	}
	m = d->fast_map;
	if (!m || m->done_at || m->blocks != blocks || first != m->next_block) {
		snprintf(msg, len, "fsm_first_block %llu: expected %llu (chunks in order from 0)",
			 first, m && !m->done_at ? m->next_block : 0);
		goto drop;
	}
	w0 = first / 64;
	if (last != (w0 + n_words == total_words)) {
		snprintf(msg, len, "fsm_last %u: the chunk ends at block %llu of %llu",
			 last, first + (u64)n_words * 64, blocks);
		goto drop;
	}
	/* a netlink attribute is only 4-byte aligned: copy, then look at the words */
	memcpy(&m->words[w0], words, (size_t)n_words * sizeof(__le64));
	if (last && blocks % 64 && le64_to_cpu(m->words[total_words - 1]) >> (blocks % 64)) {
		snprintf(msg, len, "fsm_words: bits set beyond the device's last block %llu",
			 blocks - 1);
		goto drop;
	}
	for (i = 0; i < n_words; i++)
		m->used += hweight64(le64_to_cpu(m->words[w0 + i]));
	m->next_block = first + (u64)n_words * 64;
	if (last) {
		m->done_at = jiffies | 1;
		bsr_info("minor %u: FastSync map: %llu KiB used of %llu KiB\n", d->minor,
			 m->used * 4, blocks * 4);
	}
	return 0;
drop:
	bsr_fast_map_free(d);
	return rv;
}

/* The map a full sync may use now, or NULL and why not. adm_mutex held. */
static struct bsr_fast_map *usable_fast_map(struct bsr_device *d, const char **why)
{
	struct bsr_fast_map *m = d->fast_map;

	if (!bsr_conf(&d->resource->res_opts, T_RES_OPTS_FAST_SYNC))
		*why = "fast-sync is off";
	else if (!m || !m->done_at)
		*why = "no file-system map";
	else if (m->blocks != d->ldev->bm.bits)
		*why = "the map was taken at another device size";
	else if (time_after(jiffies, m->done_at + FAST_MAP_MAX_AGE))
		*why = "the map is older than 30 s";
	else
		return m;
	return NULL;
}

/*
 * Online verify with FastSync (ldev held, adm_mutex held): the usable map passes from the
 * device to the verify run, which compares only the blocks the file system uses (the rest
 * may legitimately differ after a FastSync). NULL when there is none, and why.
 */
struct bsr_fast_map *bsr_fast_map_take(struct bsr_device *d, const char **why)
{
	struct bsr_fast_map *m = usable_fast_map(d, why);

	if (m)
		d->fast_map = NULL;
	return m;
}

void bsr_fast_map_put(struct bsr_fast_map *m)
{
	kvfree(m);
}

u64 bsr_fast_map_used(const struct bsr_fast_map *m)
{
	return m->used;
}

/* The first block in [bit, end) whose map bit is `used`; `end` when there is none. */
u64 bsr_fast_map_find(const struct bsr_fast_map *m, u64 bit, u64 end, bool used)
{
	end = min(end, m->blocks);
	while (bit < end) {
		u64 w = le64_to_cpu(m->words[bit / 64]);

		w = (used ? w : ~w) >> (bit % 64);
		if (w)
			return min(bit + __ffs64(w), end);
		bit = round_down(bit, 64) + 64;
	}
	return end;
}

/* The block after the last used one in [bit, end); `bit` when there is none. */
u64 bsr_fast_map_used_end(const struct bsr_fast_map *m, u64 bit, u64 end)
{
	end = min(end, m->blocks);
	while (end > bit) {
		u64 top = (end - 1) % 64;
		u64 w = le64_to_cpu(m->words[(end - 1) / 64]);

		if (top < 63)
			w &= (1ULL << (top + 1)) - 1;
		if (w)
			return max(round_down(end - 1, 64) + fls64(w), bit);
		end = round_down(end - 1, 64);
	}
	return bit;
}

/*
 * The one way a full sync marks its blocks (bitmap slot `slot`, ldev held, adm_mutex held):
 * the source marks the used blocks of a usable FastSync map, else every block; a target
 * whose source marks adds none of its own.
 */
static void mark_full_sync(struct bsr_peer_device *pd, bool source, u32 source_marks,
			   int slot)
{
	struct bsr_device *d = pd->device;
	struct bsr_pd_net *p = pd->net;
	struct bsr_fast_map *m;
	const char *why = "";

	p->rs_map_bytes = 0;
	if (!source && source_marks) {
		p->rs_kind = source_marks;
		bsr_info("%s: volume %u: %s: the SyncSource marks the blocks\n",
			 pd->connection->net->thread_tag, d->vnr,
			 source_marks == BSR_RESYNC_KIND_FAST ? "FastSync" : "full sync");
		return;
	}
	m = source ? usable_fast_map(d, &why) : NULL;
	if (m) {
		bsr_bm_or_words(&d->ldev->bm, slot, 0, DIV_ROUND_UP(m->blocks, 64), m->words);
		p->rs_kind = BSR_RESYNC_KIND_FAST;
		p->rs_map_bytes = m->used * 4096;
		bsr_info("%s: volume %u: FastSync: the file-system map covers %llu KiB of %llu KiB\n",
			 pd->connection->net->thread_tag, d->vnr, m->used * 4, m->blocks * 4);
		/*
		 * One map, one full sync: blocks the file system allocates after this one are
		 * replicated as writes now, but a later full sync (a peer's new disk) needs them.
		 */
		bsr_fast_map_free(d);
		return;
	}
	bsr_bm_set_all(&d->ldev->bm, slot);
	p->rs_kind = BSR_RESYNC_KIND_FULL;
	bsr_info("%s: volume %u: full sync of the whole device%s%s\n",
		 pd->connection->net->thread_tag, d->vnr, source ? ": " : "", why);
}

/* Whether a full sync from here now would be a FastSync (for SYNC_FLAG_FAST). */
static bool fast_sync_ready(struct bsr_device *d)
{
	const char *why;
	bool ready;

	if (!bsr_get_ldev(d))
		return false;
	ready = usable_fast_map(d, &why);
	bsr_put_ldev(d);
	return ready;
}

/* The resync thread (SyncSource, verify source) runs, or is kicked; adm_mutex held. */
int bsr_resync_thread_start(struct bsr_conn *c)
{
	struct bsr_net *n = c->net;
	struct task_struct *t;

	if (n->resync) {
		bsr_rs_kick(n);
		return 0;
	}
	t = kthread_create(resync_thread, c, "bsr_s_%s_%u", c->resource->name, c->peer_node_id);
	if (IS_ERR(t))
		return PTR_ERR(t);
	get_task_struct(t);
	bsr_thread_publish(c, &n->resync, t);
	wake_up_process(t);
	return 0;
}

/*
 * A before-resync-* handler ended (bsr_helper_wq, no lock held). The peer device is looked up
 * again: it may be gone, or in another resync whose own handler holds it (seq).
 * before-resync-target failing drops the connection for good, as DRBD does (the
 * administrator's snapshot of the target, say, was not taken); 127, no helper program, is no
 * handler. before-resync-source's result is only logged.
 */
static void before_resync_done(const struct helper_async *a, int status)
{
	bool target = !strcmp(a->name, BSR_HELPER_BEFORE_RESYNC_TARGET);
	struct bsr_peer_device *pd = NULL;
	struct bsr_resource *r;
	struct bsr_conn *c;
	struct bsr_device *d;

	mutex_lock(&bsr_conf_mutex);
	r = bsr_find_resource(a->ids.res);
	if (!r)
		goto out;
	mutex_lock(&r->adm_mutex);
	c = bsr_find_connection(r, a->ids.peer);
	d = bsr_find_volume(r, a->ids.vnr);
	if (c && d && d->minor == a->ids.minor)
		pd = bsr_find_peer_device(c, a->ids.vnr);
	if (pd && pd->resync_susp_handler && pd->rs_handler_seq == a->seq) {
		if (target && status != 0 && status != 127) {
			bsr_warn("%s: volume %u: %s returned %d: dropping the connection\n",
				 c->net->thread_tag, d->vnr, a->name, status);
			bsr_conn_fail(c, BSR_CONNECTION_STANDALONE);
		} else {
			pd->resync_susp_handler = false;
			bsr_rs_pause_changed(pd);
		}
	}
	mutex_unlock(&r->adm_mutex);
out:
	mutex_unlock(&bsr_conf_mutex);
}

/*
 * The resync about to start waits for before-resync-target on the target and
 * before-resync-source on the source, as DRBD runs them first (an LVM snapshot of the target
 * before its data become a mix of two generations). Set before our state goes out ahead of
 * our bitmap, so that the peer starts its side of the resync already held. adm_mutex held.
 */
static void before_resync_hold(struct bsr_peer_device *pd, bool source)
{
	const char *name = source ? BSR_HELPER_BEFORE_RESYNC_SOURCE : BSR_HELPER_BEFORE_RESYNC_TARGET;

	pd->resync_susp_handler = true;
	pd->rs_handler_seq++;
	if (!helper_start(pd, name, before_resync_done, pd->rs_handler_seq))
		pd->resync_susp_handler = false;
}

/*
 * adm_mutex held. Both sides call it: the initiator and the peer on BECOME_SYNC_*. The one
 * way into a resync; bsr_set_repl_state() refuses what the callers check with their own
 * messages (a Primary is never the target: its data are in use).
 */
int bsr_start_resync(struct bsr_peer_device *pd, bool source, bool full)
{
	struct bsr_device *d = pd->device;
	u32 source_marks = pd->net->rs_source_marks;
	int slot, rv;

	pd->net->rs_source_marks = 0;
	if (!bsr_get_ldev(d))
		return -ENODEV;
	slot = bsr_pd_slot(pd);
	if (slot < 0) {
		bsr_put_ldev(d);
		return -ENODEV;
	}
	rv = alloc_rs_skip(pd, d->ldev->bm.bits);
	if (!rv)
		rv = bsr_set_repl_state(pd, source ? BSR_REPLICATION_WFBITMAPS :
						     BSR_REPLICATION_WFBITMAPT);
	if (rv) {
		bsr_free_rs_skip(pd);
		bsr_put_ldev(d);
		return rv;
	}
	pd->net->rs_kind = full ? BSR_RESYNC_KIND_FULL : BSR_RESYNC_KIND_NONE;
	if (full)
		mark_full_sync(pd, source, source_marks, slot);
	pd->net->rs_failed = 0;
	/* the source decides; the target learns it from the source's bitmap */
	pd->net->rs_csums = source && bsr_csums_wanted(pd);
	atomic64_set(&pd->net->rs_same_csum, 0);
	if (!source)
		bsr_outdate_behind(d);
	else
		pd->peer_disk_state = BSR_DISK_INCONSISTENT;
	pd->net->bm_sent = false;
	pd->net->bm_received = false;
	pd->net->bm_rx_words = 0;
	before_resync_hold(pd, source);
	bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
	bsr_put_ldev(d);
	rv = bsr_send_state(pd);
	if (!rv)
		queue_work(bsr_wq, &pd->net->bm_work);
	return rv;
}

/* invalidate (source = false) / invalidate-remote (source = true); adm_mutex held */
int bsr_adm_start_sync(struct bsr_peer_device *pd, bool source, char *msg, size_t len)
{
	struct p_sync_start p = { .flags = cpu_to_be32(SYNC_FLAG_FULL) };
	struct bsr_conn *c = pd->connection;
	int rv;

	if (!bsr_pd_replicating(pd) || pd->repl_state != BSR_REPLICATION_ESTABLISHED) {
		snprintf(msg, len, "%s needs an established connection to peer %u",
			 source ? "invalidate-remote" : "invalidate", c->peer_node_id);
		return -ENOTCONN;
	}
	if (source ? pd->device->disk_state != BSR_DISK_UPTODATE :
		     pd->peer_disk_state != BSR_DISK_UPTODATE) {
		snprintf(msg, len, "the sync source must have UpToDate data");
		return -EINVAL;
	}
	if (!source && READ_ONCE(c->resource->role) == BSR_ROLE_PRIMARY) {
		snprintf(msg, len, "a Primary cannot discard its data");
		return -EINVAL;
	}
	/* a SyncTarget reads its own half-old data: never the Primary, whose data is in use */
	if (source && c->peer_role == BSR_ROLE_PRIMARY) {
		snprintf(msg, len, "peer %u is Primary: its data cannot be overwritten by a resync",
			 c->peer_node_id);
		return -EINVAL;
	}
	if (source && fast_sync_ready(pd->device))
		p.flags |= cpu_to_be32(SYNC_FLAG_FAST);
	rv = bsr_send_packet(c, false, source ? P_BECOME_SYNC_TARGET : P_BECOME_SYNC_SOURCE,
			     pd->device->vnr, &p, sizeof(p));
	/* invalidate: any SyncSource marks every block a full sync needs, or its map's */
	pd->net->rs_source_marks = source ? 0 : BSR_RESYNC_KIND_FULL;
	if (!rv)
		rv = bsr_start_resync(pd, source, true);
	if (rv)
		snprintf(msg, len, "starting the resync failed: %d", rv);
	return rv;
}

/* ------------------------------------------------------------------ SyncSource */

bool bsr_pd_syncing(struct bsr_peer_device *pd)
{
	switch (pd->repl_state) {
	case BSR_REPLICATION_SYNCSOURCE:
	case BSR_REPLICATION_SYNCTARGET:
	case BSR_REPLICATION_PAUSEDSYNCS:
	case BSR_REPLICATION_PAUSEDSYNCT:
		return true;
	default:
		return false;
	}
}

static void rs_read_endio(struct bio *bio)
{
	struct bsr_rs_req *rq = bio->bi_private;
	struct bsr_pd_net *p = rq->pd->net;
	unsigned long flags;

	rq->status = bio->bi_status;
	bio_put(bio);
	if (!rq->status)
		bsr_fault_rs_read(rq->pd->device, rq->pages, rq->size);
	spin_lock_irqsave(&p->rs_lock, flags);
	list_add_tail(&rq->list, &p->rs_done);
	spin_unlock_irqrestore(&p->rs_lock, flags);
	bsr_rs_kick(rq->pd->connection->net);
}

void bsr_rs_free_req(struct bsr_rs_req *rq)
{
	unsigned int i;

	bsr_rs_read_end(rq->pd->device, rq);
	for (i = 0; i < rq->n_pages; i++)
		if (rq->pages[i])
			bsr_page_put(rq->pages[i]);
	kfree(rq->csum);
	kfree(rq);
}

/*
 * Reads blocks [bit, bit + blocks) for the peer. The last block of a device whose size is not
 * a multiple of 4 KiB is partial: only its sectors within the device are read and sent, none
 * past the end of the lower device.
 */
int bsr_rs_issue_read(struct bsr_peer_device *pd, u64 bit, unsigned int blocks,
		      struct bsr_csum_req *csum)
{
	struct bsr_device *d = pd->device;
	sector_t cap = get_capacity(d->disk);
	struct bsr_rs_req *rq;
	struct bio *bio;
	unsigned int i;
	u32 left;

	if (bit << 3 >= cap)
		return -ERANGE;
	blocks = min_t(u64, blocks, DIV_ROUND_UP_ULL(cap - (bit << 3), 8));
	rq = kzalloc(sizeof(*rq), GFP_NOIO);
	if (!rq)
		return -ENOMEM;
	rq->pd = pd;
	rq->sector = bit << 3;
	rq->size = min_t(u64, blocks << BSR_BM_BLOCK_SHIFT, (cap - rq->sector) << 9);
	rq->n_pages = blocks;
	if (!bsr_rs_read_begin(d, rq)) {
		kfree(rq);
		return -EBUSY;
	}
	for (i = 0; i < blocks; i++) {
		rq->pages[i] = bsr_page_get(GFP_NOIO);
		if (!rq->pages[i]) {
			bsr_rs_free_req(rq);
			return -ENOMEM;
		}
	}
	bio = bio_alloc(d->ldev->backing_bdev, blocks, REQ_OP_READ, GFP_NOIO);
	if (!bio) {
		bsr_rs_free_req(rq);
		return -ENOMEM;
	}
	bio->bi_iter.bi_sector = rq->sector;
	bio->bi_private = rq;
	bio->bi_end_io = rs_read_endio;
	for (i = 0, left = rq->size; i < blocks; i++, left -= PAGE_SIZE)
		__bio_add_page(bio, rq->pages[i], min_t(u32, left, PAGE_SIZE), 0);
	/* issued: from here on the request owns csum (freed with it), the caller no longer */
	rq->csum = csum;
	atomic64_add(rq->size >> 9, &pd->connection->net->rs_in_flight);
	atomic_inc(&pd->net->pending);
	submit_bio(bio);
	return 0;
}

/* Forgets a reply that was sent; false when none matches (an ack of nothing we sent). */
bool bsr_rs_sent_take(struct bsr_pd_net *p, sector_t sector, u32 size)
{
	struct bsr_rs_sent *s;
	bool found = false;

	spin_lock_irq(&p->rs_lock);
	list_for_each_entry(s, &p->rs_sent, list) {
		if (s->sector == sector && s->size == size) {
			list_del(&s->list);
			found = true;
			break;
		}
	}
	spin_unlock_irq(&p->rs_lock);
	if (found)
		kfree(s);
	return found;
}

static int send_rs_reply(struct bsr_conn *c, struct bsr_rs_req *rq)
{
	struct bsr_net *n = c->net;
	struct bsr_pd_net *p = rq->pd->net;
	struct bsr_rs_sent *sent;
	struct {
		struct p_header100 h;
		struct p_data d;
		u8 digest[BSR_DIGEST_MAX];	/* data-integrity-alg: integrity_dgs bytes sent */
	} __packed pkt = {
		.h.magic = cpu_to_be32(BSR_H100_MAGIC),
		.h.volume = cpu_to_be16(rq->pd->device->vnr),
		.h.command = cpu_to_be16(P_RS_DATA_REPLY),
		.d.sector = cpu_to_be64(rq->sector),
	};
	u32 dgs;
	int rv;

	/* recorded before it goes out: the ack may come before the send returns */
	sent = kmalloc(sizeof(*sent), GFP_NOIO);
	if (!sent)
		return -ENOMEM;
	sent->sector = rq->sector;
	sent->size = rq->size;
	spin_lock_irq(&p->rs_lock);
	list_add_tail(&sent->list, &p->rs_sent);
	spin_unlock_irq(&p->rs_lock);
	mutex_lock(&n->data_mutex);
	if (!n->data_sock || !READ_ONCE(n->net_ok)) {
		rv = -ENOTCONN;
	} else {
		dgs = n->integrity_dgs;
		pkt.h.length = cpu_to_be32(sizeof(struct p_data) + dgs + rq->size);
		rv = dgs ? bsr_integrity_digest_pages(n->integrity_tfm, rq->pages, rq->size,
						      pkt.digest) : 0;
		if (!rv)
			rv = bsr_sock_send(n->data_sock, &pkt, offsetof(typeof(pkt), digest) + dgs,
					   MSG_MORE);
		if (!rv)
			rv = bsr_sock_send_pages(n->data_sock, rq->pages, rq->size, 0);
	}
	mutex_unlock(&n->data_mutex);
	if (rv < 0) {
		bsr_rs_sent_take(p, rq->sector, rq->size);
		return rv;
	}
	atomic64_add(rq->size >> 9, &p->sent_sect);
	return 0;
}

/*
 * resync-ratio "REPL:RESYNC": two whole numbers from 1 to BSR_RATIO_MAX, e.g. "3:1". 0 and
 * the two numbers when `s` is one, -EINVAL when it is not.
 */
int bsr_parse_ratio(const char *s, u32 *repl, u32 *resync)
{
	char buf[BSR_RATIO_LEN];
	char *colon;
	size_t i;

	if (strscpy(buf, s, sizeof(buf)) < 0)
		return -EINVAL;
	colon = strchr(buf, ':');
	/* digits on both sides of the one colon: no sign, space or newline */
	for (i = 0; buf[i]; i++)
		if (!isdigit(buf[i]) && buf + i != colon)
			return -EINVAL;
	if (!colon || colon == buf || !colon[1])
		return -EINVAL;
	*colon = '\0';
	if (kstrtou32(buf, 10, repl) || kstrtou32(colon + 1, 10, resync))
		return -EINVAL;
	if (*repl < 1 || *repl > BSR_RATIO_MAX || *resync < 1 || *resync > BSR_RATIO_MAX)
		return -EINVAL;
	return 0;
}

/* Sectors of application I/O submitted on this node. */
static u64 local_app_sectors(struct bsr_device *d)
{
	return atomic64_read(&d->read_sect) + atomic64_read(&d->write_sect);
}

/* Sectors of application I/O on the device: its own reads and writes, the peers' writes. */
static u64 app_sectors(struct bsr_device *d)
{
	return local_app_sectors(d) + atomic64_read(&d->peer_write_sect);
}

/*
 * Who paces the resync or verify running with pd: 1 this node (a bitmap-based SyncSource,
 * the target of a checksum-based resync, the verify source), -1 the peer, 0 none runs.
 */
static int rs_pacer(struct bsr_peer_device *pd)
{
	bool csums = pd->net->rs_csums;

	switch (READ_ONCE(pd->repl_state)) {
	case BSR_REPLICATION_SYNCSOURCE:
	case BSR_REPLICATION_PAUSEDSYNCS:
		return csums ? -1 : 1;
	case BSR_REPLICATION_SYNCTARGET:
	case BSR_REPLICATION_PAUSEDSYNCT:
		return csums ? 1 : -1;
	case BSR_REPLICATION_VERIFYS:
		return 1;
	case BSR_REPLICATION_VERIFYT:
		return -1;
	default:
		return 0;
	}
}

/*
 * Whether pd's volume may have application I/O here to report while the peer paces a run:
 * only a Primary's device can be opened (bsr_open), so a Secondary never has any.
 */
static bool app_may_report(struct bsr_peer_device *pd)
{
	return rs_pacer(pd) < 0 && READ_ONCE(pd->device->resource->role) == BSR_ROLE_PRIMARY;
}

/*
 * pd's replication state or the resource's role changed: a run the peer paces on a Primary
 * starts the reports (any context).
 */
void bsr_app_report_kick(struct bsr_peer_device *pd)
{
	struct bsr_net *n = pd->connection->net;

	if (n && pd->net && app_may_report(pd))
		queue_delayed_work(bsr_wq, &n->app_work, 0);
}

/*
 * Work, every BSR_APP_REPORT_INTERVAL while the peer paces a resync or verify with this
 * node and it is Primary: the peer's throttle sees only the I/O on its own node (and the
 * writes replicated to it), not the reads (nor requests in flight) here that compete with
 * the run on this disk. So each volume whose application submitted I/O here since the last
 * look, or has a request in flight, is reported (APP_ACTIVE); the peer holds the run back
 * for its BSR_RS_APP_HOLD after each report, as after its own application's I/O. Only to a
 * peer that announced the feature.
 */
void bsr_app_report_work(struct work_struct *w)
{
	struct bsr_net *n = container_of(to_delayed_work(w), struct bsr_net, app_work);
	struct bsr_conn *c = n->conn;
	struct bsr_peer_device *pd;
	bool again = false;
	int rv = 0, idx;

	if (!READ_ONCE(n->net_ok) || !(n->agreed_features & BSR_FF_APP_ACTIVE))
		return;
	idx = srcu_read_lock(&bsr_srcu);
	list_for_each_entry_srcu(pd, &c->peer_devices, conn_list, srcu_read_lock_held(&bsr_srcu)) {
		struct bsr_pd_net *p = pd->net;
		struct bsr_device *d = pd->device;
		u64 app = local_app_sectors(d);
		bool active;

		if (!p || !READ_ONCE(p->shared) || !app_may_report(pd)) {
			if (p)
				p->app_reporting = false;
			continue;
		}
		again = true;
		/* the first look of a run only sets the mark: older I/O is not reported */
		active = (p->app_reporting && app != p->app_report_mark) ||
			 atomic_read(&d->upper_pending);
		p->app_reporting = true;
		p->app_report_mark = app;
		if (active && !rv)
			rv = bsr_send_packet(c, true, P_APP_ACTIVE, d->vnr, NULL, 0);
	}
	srcu_read_unlock(&bsr_srcu, idx);
	if (rv) {
		if (READ_ONCE(n->net_ok)) {
			bsr_warn("%s: APP_ACTIVE not sent (%d): reconnecting\n", n->thread_tag, rv);
			bsr_conn_fail(c, BSR_CONNECTION_NETWORKFAILURE);
		}
		return;
	}
	if (again)
		queue_delayed_work(bsr_wq, &n->app_work, BSR_APP_REPORT_INTERVAL);
}

/*
 * Meta receiver: APP_ACTIVE, the peer's application did I/O on pd's volume. Counted by the
 * next throttle sample of a run this node paces. The peer sent it while it saw such a run,
 * which may have ended here since (the report crosses the state change on the other
 * stream): then it means nothing and is dropped.
 */
int bsr_rs_got_app_active(struct bsr_peer_device *pd)
{
	struct bsr_net *n = pd->connection->net;

	if (!(n->agreed_features & BSR_FF_APP_ACTIVE)) {
		bsr_proto_warn("%s: APP_ACTIVE, which the handshake did not agree on\n",
			       n->thread_tag);
		return -EPROTO;
	}
	if (rs_pacer(pd) > 0)
		atomic_set(&pd->net->peer_app, 1);
	return 0;
}

/*
 * The application-I/O throttle, sampled once a `period` (the TICK of a resync, the
 * ov-req-interval of a verify): the most sectors the next tick may take, U64_MAX when it
 * does not hold the resync back.
 *
 * The application is active while it did I/O on the device within the last
 * BSR_RS_APP_HOLD (reads or writes on this node, writes replicated from a peer, the peer's
 * APP_ACTIVE reports of its own I/O: bsr_app_report_work()) or has a request in flight;
 * with a period longer than that, I/O since the last sample counts (the budget is for the
 * whole period). Then the resync (or verify) is held to c-min-rate, or, with resync-ratio
 * REPL:RESYNC, to RESYNC/REPL of the application writes replicated on this connection,
 * whichever is more. c-min-rate 0 and no resync-ratio: no throttle. The caller keeps the
 * lower of this and its own rate.
 */
static u64 rs_throttle(struct bsr_peer_device *pd, unsigned long period)
{
	struct bsr_pd_net *p = pd->net;
	struct bsr_device *d = pd->device;
	u64 app = app_sectors(d), repl = atomic64_read(&p->repl_sect);
	bool peer_app = atomic_xchg(&p->peer_app, 0);
	u64 min_tick = (u64)bsr_conf(&pd->conf, T_PEER_DEVICE_CONF_C_MIN_RATE) * 2 / 10;
	/*
	 * A sample within a period and a second of the last one continues the run (a late
	 * tick on a busy machine still counts); a longer gap, or none before (a resync or
	 * verify starts or resumes: bsr_rs_throttle_reset()), starts anew.
	 */
	bool fresh = p->thr_sampled && !time_after(jiffies, p->thr_sampled + period + HZ);
	char ratio[sizeof(bsr_opt_defaults.BSR_MEMBER_T_PEER_DEVICE_CONF_RESYNC_RATIO)];
	u32 r_repl, r_resync;
	u64 share = 0;

	if (!period)
		period = 1;
	/* a first sample, or one after a gap, only sets the marks */
	if (fresh) {
		if (app != p->thr_app_mark || atomic_read(&d->upper_pending) || peer_app) {
			p->thr_busy = true;
			p->thr_busy_until = jiffies + BSR_RS_APP_HOLD;
		}
		/* the writes replicated in one period, as a rate per tick */
		p->thr_repl_tick = (p->thr_repl_tick * 3 +
				    div64_ul((repl - p->thr_repl_mark) * TICK, period)) / 4;
	} else {
		p->thr_repl_tick = 0;
		p->thr_busy = false;
	}
	p->thr_sampled = jiffies ? jiffies : 1;
	p->thr_app_mark = app;
	p->thr_repl_mark = repl;
	if (p->thr_busy && time_after_eq(jiffies, p->thr_busy_until))
		p->thr_busy = false;
	if (!p->thr_busy)
		return U64_MAX;
	if (bsr_conf_str(&pd->conf, T_PEER_DEVICE_CONF_RESYNC_RATIO, ratio, sizeof(ratio)) &&
	    !bsr_parse_ratio(ratio, &r_repl, &r_resync))
		share = div_u64(p->thr_repl_tick * r_resync, r_repl);
	if (!min_tick && !share)
		return U64_MAX;
	return max(min_tick, share);
}

/* Sectors the rate controls (resync-rate, or the dynamic controller) allow in the next tick. */
static u64 rs_budget(struct bsr_peer_device *pd, u64 acked_last_tick)
{
	struct bsr_opts *o = &pd->conf;
	u32 plan_ahead = bsr_conf(o, T_PEER_DEVICE_CONF_C_PLAN_AHEAD);
	u64 max_tick = (u64)bsr_conf(o, T_PEER_DEVICE_CONF_C_MAX_RATE) * 2 / 10;
	u64 min_tick = (u64)bsr_conf(o, T_PEER_DEVICE_CONF_C_MIN_RATE) * 2 / 10;
	u32 fill = bsr_conf(o, T_PEER_DEVICE_CONF_C_FILL_TARGET);
	u32 delay = bsr_conf(o, T_PEER_DEVICE_CONF_C_DELAY_TARGET);
	u64 in_flight = atomic64_read(&pd->connection->net->rs_in_flight);
	s64 want, correction, req;

	if (!plan_ahead) {
		u64 fixed = (u64)bsr_conf(o, T_PEER_DEVICE_CONF_RESYNC_RATE) * 2 / 10;

		return max_t(u64, fixed, 8);
	}
	/*
	 * Dynamic: keep `want` sectors in flight: c-fill-target, or what the last tick's
	 * throughput gives within c-delay-target. The difference to what is in flight is
	 * spread over c-plan-ahead ticks; the result stays within c-min-rate..c-max-rate.
	 */
	if (fill)
		want = fill;
	else
		want = (s64)acked_last_tick * delay;
	correction = want - (s64)in_flight;
	req = (s64)acked_last_tick + correction / (s64)plan_ahead;
	if (req < (s64)min_tick)
		req = min_tick;
	if (max_tick && req > (s64)max_tick)
		req = max_tick;
	return max_t(s64, req, 8);
}

/*
 * Sectors the controller allows in the next tick: the rate controls, then the throttle,
 * sampled once a `period`. A change of whether the throttle holds the resync back
 * (resync-throttled) is notified; the application's BSR_RS_APP_HOLD (and the moving
 * average of a resync-ratio share) keep it from flapping with every gap between requests.
 */
u32 bsr_rs_budget(struct bsr_peer_device *pd, u64 acked_last_tick, unsigned long period)
{
	struct bsr_pd_net *p = pd->net;
	u64 thr = rs_throttle(pd, period);
	bool held = thr != U64_MAX;

	if (held != READ_ONCE(p->thr_held)) {
		WRITE_ONCE(p->thr_held, held);
		bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
	}
	return max_t(u64, min(rs_budget(pd, acked_last_tick), thr), 8);
}

/*
 * Both sides, ldev held, about once a second while a resync runs: the rate mark (dbdt,
 * eta) and a progress event, so that events2 shows done: and the eta moving.
 */
void bsr_rs_progress(struct bsr_peer_device *pd)
{
	struct bsr_pd_net *p = pd->net;
	unsigned long dt = jiffies - p->rs_mark_time;
	int slot = bsr_pd_slot(pd);
	u64 left;

	if (dt < HZ || slot < 0)
		return;
	left = pd->device->ldev->bm.weight[slot] << 3;
	if (p->rs_mark_left >= left)
		p->rs_dbdt_kib = (p->rs_mark_left - left) / 2 * HZ / dt;
	p->rs_mark_left = left;
	p->rs_mark_time = jiffies;
	bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
}

static void finish_source(struct bsr_peer_device *pd)
{
	struct bsr_device *d = pd->device;
	struct bsr_conn *c = pd->connection;
	struct bsr_md *md = &d->ldev->md;
	u64 failed = pd->net->rs_failed;

	mutex_lock(&c->resource->adm_mutex);
	if (pd->repl_state != BSR_REPLICATION_SYNCSOURCE ||
	    bsr_set_repl_state(pd, BSR_REPLICATION_ESTABLISHED)) {
		mutex_unlock(&c->resource->adm_mutex);
		return;
	}
	if (failed) {
		/* the bitmap generation stays: the next handshake resyncs the rest */
		bsr_bm_write_all(d, d->ldev);
		bsr_err("%s: volume %u: resync ended, %llu KiB could not be read and stay out of sync\n",
			c->net->thread_tag, d->vnr, failed * 4);
	} else {
		bsr_history_add(md, md->peers[c->peer_node_id].bitmap_uuid);
		md->peers[c->peer_node_id].bitmap_uuid = 0;
		bsr_md_write_sb(d, d->ldev);
		bsr_bm_write_all(d, d->ldev);
		pd->peer_disk_state = BSR_DISK_UPTODATE;
		bsr_info("%s: volume %u: resync done (%llu KiB in %lu s)\n", c->net->thread_tag,
			 d->vnr, pd->net->rs_total >> 1, (jiffies - pd->net->rs_start) / HZ);
	}
	bsr_free_rs_skip(pd);
	bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
	bsr_send_uuids(pd, UUID_FLAG_RESYNC_DONE | (failed ? UUID_FLAG_RESYNC_FAILED : 0));
	mutex_unlock(&c->resource->adm_mutex);
}

/*
 * Every `period` jiffies: the budget of sectors the rate controls allow for one TICK, to be
 * spent until the next period; `acked`: the sectors done (acknowledged) since the start of
 * the resync or verify. A resync's period is the TICK; a verify's is its ov-req-interval,
 * so a longer interval lowers its rate in proportion.
 */
void bsr_rs_budget_every(struct bsr_peer_device *pd, u64 acked, unsigned long period)
{
	struct bsr_pd_net *p = pd->net;

	if (time_before(jiffies, p->rs_tick_start + period))
		return;
	/* a late wake-up must not stretch the period (and lower the rate) */
	p->rs_tick_start = time_after(jiffies, p->rs_tick_start + 2 * period) ?
			   jiffies : p->rs_tick_start + period;
	/* less than a block left over from the last tick is carried, nothing more */
	p->rs_budget_left = min_t(u64, p->rs_budget_left, 7) +
			    bsr_rs_budget(pd, acked - min(acked, p->rs_acked_mark), period);
	p->rs_acked_mark = acked;
}

/* Every TICK: the budget of a resync (bsr_rs_budget_every()). */
void bsr_rs_budget_tick(struct bsr_peer_device *pd, u64 acked)
{
	bsr_rs_budget_every(pd, acked, TICK);
}

/*
 * Reads the next out-of-sync blocks, as far as the tick's budget and the in-flight limits
 * allow: a SyncSource for its replies, the target of a checksum-based resync for its
 * requests (which cover the blocks the application rewrote too: the source holds their bits).
 */
void bsr_rs_issue_reads(struct bsr_peer_device *pd)
{
	struct bsr_net *n = pd->connection->net;
	struct bsr_pd_net *p = pd->net;
	struct bsr_bitmap *bm = &pd->device->ldev->bm;
	int slot = bsr_pd_slot(pd);
	u64 budget = p->rs_budget_left;
	bool skip = bsr_repl_is_source(pd->repl_state);
	int err;

	while (!kthread_should_stop() && atomic_read(&p->pending) < BSR_RS_MAX_READS) {
		/* no request larger than the budget (a low rate must not be overshot) or the room */
		u64 allowed = min(budget, bsr_rs_room(pd->connection));
		unsigned int blocks = 1, max = min_t(u64, BSR_RS_MAX_BLOCKS, allowed >> 3);
		u64 bit;

		if (!max)
			break;
		bit = bsr_bm_find_next(bm, slot, p->rs_cursor);
		if (bit >= bm->bits) {
			/* one pass done: start over once the acks are in */
			if (!atomic64_read(&n->rs_in_flight) && !atomic_read(&p->pending))
				p->rs_cursor = 0;
			break;
		}
		if (skip && bsr_rs_skipped(pd, bit)) {
			/* could not be read: stays out of sync, not retried in this resync */
			p->rs_cursor = bit + 1;
			continue;
		}
		while (blocks < max && bit + blocks < bm->bits && bsr_bm_test(bm, slot, bit + blocks) &&
		       !(skip && bsr_rs_skipped(pd, bit + blocks)))
			blocks++;
		err = bsr_rs_issue_read(pd, bit, blocks, NULL);
		if (err == -ERANGE) {
			/* bits past the device's end (the bitmap shrinks with it): never sent */
			p->rs_failed += rs_skip_range(pd, bit, bm->bits);
			break;
		}
		/* -EBUSY: a write to these blocks is under way, they are read on a later pass */
		if (err && err != -EBUSY)
			break;
		p->rs_cursor = bit + blocks;
		budget -= (u64)blocks << 3;
	}
	p->rs_budget_left = budget;
}

/* The blocks of the bitmap, or those of the target's requests in a checksum-based resync */
static void issue_source_reads(struct bsr_peer_device *pd)
{
	if (pd->net->rs_csums)
		bsr_csums_serve(pd);
	else
		bsr_rs_issue_reads(pd);
}

/* One tick for one volume; false once there is nothing left to do for it. */
static bool resync_tick(struct bsr_peer_device *pd)
{
	struct bsr_device *d = pd->device;
	struct bsr_conn *c = pd->connection;
	struct bsr_pd_net *p = pd->net;
	struct bsr_bitmap *bm = &d->ldev->bm;
	int slot = bsr_pd_slot(pd);
	u64 left;
	LIST_HEAD(done);
	struct bsr_rs_req *rq, *t;

	/* send what was read */
	spin_lock_irq(&p->rs_lock);
	list_splice_init(&p->rs_done, &done);
	spin_unlock_irq(&p->rs_lock);
	list_for_each_entry_safe(rq, t, &done, list) {
		int answered = 0;

		list_del(&rq->list);
		atomic_dec(&p->pending);
		/* a target's request: answered without data when its digests match ours */
		if (rq->csum)
			answered = bsr_csums_answer(pd, rq);
		if (answered || rq->status || send_rs_reply(c, rq)) {
			atomic64_sub(rq->size >> 9, &c->net->rs_in_flight);
			if (rq->status) {
				p->rs_failed += rs_skip_range(pd, rq->sector >> 3,
							      (rq->sector >> 3) + rq->n_pages);
				pr_warn_ratelimited("bsr: %s: resync read error at sector %llu (%u bytes): left out of sync\n",
						    c->net->thread_tag, (u64)rq->sector, rq->size);
			}
		}
		bsr_rs_free_req(rq);
		/* refill behind every reply: the disk reads while the network sends */
		if (pd->repl_state == BSR_REPLICATION_SYNCSOURCE)
			issue_source_reads(pd);
	}

	if (pd->repl_state != BSR_REPLICATION_SYNCSOURCE)
		return pd->repl_state == BSR_REPLICATION_PAUSEDSYNCS;
	left = bm->weight[slot] << 3;
	bsr_rs_progress(pd);
	/* done when only blocks that could not be read are left */
	if (bm->weight[slot] <= p->rs_failed && !atomic64_read(&c->net->rs_in_flight) &&
	    !atomic_read(&p->pending) && !bsr_csums_pending(pd)) {
		finish_source(pd);
		return false;
	}
	bsr_rs_budget_tick(pd, p->rs_total - left);
	issue_source_reads(pd);
	return true;
}

static int resync_thread(void *arg)
{
	struct bsr_conn *c = arg;
	struct bsr_net *n = c->net;

	while (!kthread_should_stop()) {
		struct bsr_peer_device *pd;
		bool any = false;

		list_for_each_entry(pd, &c->peer_devices, conn_list) {
			struct bsr_device *d = pd->device;

			if (!bsr_get_ldev(d))
				continue;
			if (bsr_pd_slot(pd) < 0) {
				bsr_put_ldev(d);
				continue;
			}
			if (pd->repl_state == BSR_REPLICATION_VERIFYS)
				any |= bsr_ov_tick(pd);
			else if (bsr_csums_target(pd) ||
				 (pd->net->rs_csums && !bsr_repl_is_source(pd->repl_state) &&
				  atomic_read(&pd->net->pending)))
				any |= bsr_csums_target_tick(pd);
			else if (pd->repl_state == BSR_REPLICATION_SYNCSOURCE ||
				 pd->repl_state == BSR_REPLICATION_PAUSEDSYNCS ||
				 atomic_read(&pd->net->pending))
				any |= resync_tick(pd);
			bsr_put_ldev(d);
		}
		if (!any && !READ_ONCE(n->net_ok))
			break;
		wait_event_interruptible_timeout(n->rs_wait, kthread_should_stop() ||
						 atomic_xchg(&n->rs_kick, 0), TICK / 4 + 1);
	}
	/* reads still in flight: wait for them and drop the data */
	for (;;) {
		struct bsr_peer_device *pd;
		bool busy = false;

		list_for_each_entry(pd, &c->peer_devices, conn_list) {
			struct bsr_pd_net *p = pd->net;
			struct bsr_rs_req *rq, *t;
			LIST_HEAD(done);

			spin_lock_irq(&p->rs_lock);
			list_splice_init(&p->rs_done, &done);
			spin_unlock_irq(&p->rs_lock);
			list_for_each_entry_safe(rq, t, &done, list) {
				list_del(&rq->list);
				atomic_dec(&p->pending);
				atomic64_sub(rq->size >> 9, &n->rs_in_flight);
				bsr_rs_free_req(rq);
			}
			if (atomic_read(&p->pending))
				busy = true;
		}
		if (!busy)
			break;
		msleep(10);
	}
	while (!kthread_should_stop()) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (!kthread_should_stop())
			schedule();
		__set_current_state(TASK_RUNNING);
	}
	return 0;
}

/* Teardown, the meta and resync threads stopped: replies sent are no longer acknowledged. */
void bsr_resync_stop(struct bsr_conn *c)
{
	struct bsr_net *n = c->net;
	struct bsr_peer_device *pd;

	bsr_thread_stop(n, &n->resync);
	atomic64_set(&n->rs_in_flight, 0);
	list_for_each_entry(pd, &c->peer_devices, conn_list) {
		struct bsr_rs_sent *s, *t;
		struct bsr_rs_req *rq, *rt;
		LIST_HEAD(sent);
		LIST_HEAD(ov_sent);

		spin_lock_irq(&pd->net->rs_lock);
		list_splice_init(&pd->net->rs_sent, &sent);
		list_splice_init(&pd->net->ov_sent, &ov_sent);
		spin_unlock_irq(&pd->net->rs_lock);
		list_for_each_entry_safe(s, t, &sent, list)
			kfree(s);
		/* verify requests never answered: the writes they hold back may go */
		list_for_each_entry_safe(rq, rt, &ov_sent, list)
			bsr_rs_free_req(rq);
		bsr_csums_drop(pd);
	}
}

/*
 * meta receiver: RS_WRITE_ACK / NEG_RS_DREPLY. Only a reply we sent may be acknowledged:
 * anything else would clear bits of blocks the peer never got. -EPROTO: bogus.
 */
int bsr_rs_got_ack(struct bsr_peer_device *pd, sector_t sector, u32 size, bool ok)
{
	struct bsr_device *d = pd->device;
	struct bsr_net *n = pd->connection->net;
	int slot;

	if (!bsr_rs_sent_take(pd->net, sector, size)) {
		bsr_proto_warn("%s: resync ack for sector %llu, %u bytes, which was never sent\n",
			       n->thread_tag, (u64)sector, size);
		return -EPROTO;
	}
	if (atomic64_sub_return(size >> 9, &n->rs_in_flight) < 0)
		atomic64_set(&n->rs_in_flight, 0);
	if (!bsr_get_ldev(d))
		return 0;
	slot = bsr_pd_slot(pd);
	/* a reply ends on a block boundary or at the device's end (issue_read) */
	if (ok && slot >= 0)
		bsr_bm_clear_range(&d->ldev->bm, slot, sector >> 3,
				   DIV_ROUND_UP_ULL(sector + (size >> 9), 8) - 1);
	bsr_put_ldev(d);
	bsr_rs_kick(n);
	return 0;
}

/*
 * SyncTarget (the caller checked): the source says it is done; adm_mutex held. `failed`:
 * it could not read some blocks, which stay out of sync here, so the disk stays
 * Inconsistent and keeps its UUIDs for the next handshake.
 */
void bsr_resync_finished_target(struct bsr_peer_device *pd, bool failed)
{
	struct bsr_device *d = pd->device;
	struct bsr_conn *c = pd->connection;
	struct bsr_md *md;
	int slot, err = 0;

	if (!bsr_get_ldev(d))
		return;
	md = &d->ldev->md;
	slot = bsr_pd_slot(pd);
	bsr_set_repl_state(pd, BSR_REPLICATION_ESTABLISHED);
	bsr_free_rs_skip(pd);
	/*
	 * The resync writes are complete, not necessarily durable: they must be before the
	 * meta data says so (external meta data is flushed on its own device only).
	 */
	if (d->disk_flushes)
		err = blkdev_issue_flush(d->ldev->backing_bdev);
	if (err) {
		bsr_err("%s: volume %u: flushing the resynced data failed (%d)\n",
			c->net->thread_tag, d->vnr, err);
		bsr_io_error(d, 0, 0, errno_to_blk_status(err));
		failed = true;
	}
	if (failed) {
		/* cleared bits are stored only over durable data */
		if (!err) {
			bsr_bm_write_all(d, d->ldev);
			bsr_err("%s: volume %u: resync ended, the source could not read %llu KiB: still %s\n",
				c->net->thread_tag, d->vnr,
				slot >= 0 ? (u64)d->ldev->bm.weight[slot] * 4 : 0,
				bsr_disk_name(d->disk_state));
		}
		bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
		bsr_put_ldev(d);
		bsr_send_state(pd);
		return;
	}
	if (slot >= 0)
		bsr_bm_clear_slot(&d->ldev->bm, slot);
	if ((md->current_uuid & ~UUID_PRIMARY) != (pd->net->peer_current & ~UUID_PRIMARY))
		bsr_history_add(md, md->current_uuid);
	md->current_uuid = pd->net->peer_current & ~UUID_PRIMARY;
	bsr_history_add(md, md->peers[c->peer_node_id].bitmap_uuid);
	md->peers[c->peer_node_id].bitmap_uuid = 0;
	md->flags |= BSR_MDF_CONSISTENT | BSR_MDF_WAS_UP_TO_DATE;
	md->flags &= ~BSR_MDF_CRASHED_PRIMARY;
	bsr_bm_write_all(d, d->ldev);
	bsr_md_write_sb(d, d->ldev);
	bsr_set_disk_state(d, BSR_DISK_UPTODATE);
	pd->peer_disk_state = BSR_DISK_UPTODATE;
	bsr_info("%s: volume %u: resync done, UpToDate\n", c->net->thread_tag, d->vnr);
	bsr_helper_start(pd, BSR_HELPER_AFTER_RESYNC_TARGET);
	bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
	bsr_put_ldev(d);
	bsr_send_state(pd);
}

void bsr_pd_stats(struct bsr_peer_device *pd, u64 *rs_total, u64 *rs_done, u64 *dbdt,
		  u64 *eta)
{
	struct bsr_pd_net *p = pd->net;
	struct bsr_device *d = pd->device;
	u64 left = 0;
	int slot;

	*rs_total = *rs_done = *dbdt = *eta = 0;
	if (p && (pd->repl_state == BSR_REPLICATION_VERIFYS ||
		  pd->repl_state == BSR_REPLICATION_VERIFYT)) {
		bsr_ov_stats(pd, rs_total, rs_done);
		left = *rs_total - *rs_done;
		goto rate;
	}
	if (!p || !bsr_pd_syncing(pd) || !bsr_get_ldev(d))
		return;
	slot = bsr_pd_slot(pd);
	if (slot >= 0)
		left = d->ldev->bm.weight[slot] << 3;
	bsr_put_ldev(d);
	*rs_total = p->rs_total;
	*rs_done = p->rs_total > left ? p->rs_total - left : 0;
rate:
	*dbdt = p->rs_dbdt_kib;
	if (!*dbdt && time_after(jiffies, p->rs_start + HZ) && *rs_done)
		*dbdt = *rs_done / 2 * HZ / (jiffies - p->rs_start);
	if (*dbdt)
		*eta = (left / 2) / *dbdt;
}

/* ------------------------------------------------------------------ roles and UUIDs */

static bool peer_is_primary(struct bsr_resource *r)
{
	struct bsr_conn *c;

	list_for_each_entry(c, &r->connections, res_list)
		if (c->net && READ_ONCE(c->net->net_ok) && c->peer_role == BSR_ROLE_PRIMARY)
			return true;
	return false;
}

/* After a promotion, adm_mutex held: tell the peers, start the sync of peers behind us. */
static void promoted(struct bsr_resource *r)
{
	struct bsr_peer_device *pd;
	struct bsr_conn *c;

	list_for_each_entry(c, &r->connections, res_list) {
		list_for_each_entry(pd, &c->peer_devices, conn_list) {
			struct bsr_device *d = pd->device;
			bool behind = pd->peer_disk_state < BSR_DISK_UPTODATE &&
				      pd->peer_disk_state >= BSR_DISK_INCONSISTENT &&
				      pd->peer_disk_state != BSR_DISK_DUNKNOWN;

			if (!bsr_pd_replicating(pd))
				continue;
			if (pd->repl_state != BSR_REPLICATION_ESTABLISHED || !bsr_get_ldev(d))
				goto state;
			if (!behind) {
				struct bsr_md_peer *mp = &d->ldev->md.peers[c->peer_node_id];

				/*
				 * In sync with this peer: no bitmap generation for it. The old
				 * current UUID stays in the history, so that a peer that missed
				 * our new one is found behind, not unrelated.
				 */
				bsr_history_add(&d->ldev->md, mp->bitmap_uuid);
				mp->bitmap_uuid = 0;
				bsr_md_write_sb(d, d->ldev);
			}
			bsr_put_ldev(d);
			bsr_send_uuids(pd, behind ? 0 : UUID_FLAG_NEW_DATAGEN);
			if (behind && d->disk_state == BSR_DISK_UPTODATE) {
				bool full = pd->peer_disk_state == BSR_DISK_INCONSISTENT;
				struct p_sync_start p = { .flags = cpu_to_be32(full ? SYNC_FLAG_FULL : 0) };

				if (full && fast_sync_ready(d))
					p.flags |= cpu_to_be32(SYNC_FLAG_FAST);
				if (!bsr_send_packet(c, false, P_BECOME_SYNC_TARGET, d->vnr, &p,
						     sizeof(p)))
					bsr_start_resync(pd, true, full);
				continue;
			}
state:
			bsr_send_state(pd);
		}
	}
}

/*
 * twopc-timeout: a peer that does not answer a promotion request within it refuses the
 * promotion, and a peer still demoting is asked again for as long.
 */
static unsigned long twopc_timeout(struct bsr_resource *r)
{
	return bsr_conf(&r->res_opts, T_RES_OPTS_TWOPC_TIMEOUT) * HZ / 10;
}

static void promotion_done(struct bsr_resource *r)
{
	spin_lock_irq(&r->state_lock);
	r->promoting = false;
	spin_unlock_irq(&r->state_lock);
}

/*
 * Promotion while connected is a cluster-wide state change: every connected peer must
 * agree (receive_role_req). A refusal or no answer refuses the promotion; a peer lost
 * meanwhile does not count (as if it had not been connected). BSR_RET_BUSY: a peer is
 * still demoting, or agreed while its Secondary state has not reached us yet; ask again.
 * On success r->promoting stays set until the caller has changed the role. adm_mutex held.
 */
static int agree_promotion(struct bsr_resource *r, unsigned int flags, char *msg, size_t len)
{
	struct bsr_conn *c;

	/*
	 * An automatic promotion (persist-role after a reboot) decides for nobody: a peer not
	 * connected may have been made Primary meanwhile, and only the handshake (done when a
	 * connection is Connected, under adm_mutex) shows whose data are newer.
	 */
	list_for_each_entry(c, &r->connections, res_list) {
		if (!(flags & BSR_ROLE_AUTO) || c->cstate == BSR_CONNECTION_CONNECTED)
			continue;
		snprintf(msg, len,
			 "refusing an automatic promotion: peer %u (%s) is %s and may have been made Primary meanwhile; promote by hand (primary) if it is not",
			 c->peer_node_id, c->name, bsr_conn_name(c->cstate));
		return BSR_RET_PEER_NOT_CONNECTED;
	}
	spin_lock_irq(&r->state_lock);
	list_for_each_entry(c, &r->connections, res_list) {
		if (c->net && READ_ONCE(c->net->net_ok) && READ_ONCE(c->net->peer_promoting)) {
			spin_unlock_irq(&r->state_lock);
			snprintf(msg, len, "refusing to be Primary: peer %u is becoming Primary",
				 c->peer_node_id);
			return BSR_RET_PEER_PRIMARY;
		}
	}
	r->promoting = true;
	spin_unlock_irq(&r->state_lock);

	list_for_each_entry(c, &r->connections, res_list) {
		struct bsr_net *n = c->net;
		struct p_role_req q = { .role = cpu_to_be32(BSR_ROLE_PRIMARY) };
		int answer;

		if (!n || !READ_ONCE(n->net_ok))
			continue;
		WRITE_ONCE(n->role_reply, -1);
		WRITE_ONCE(n->role_seq, n->role_seq + 1);
		q.seq = cpu_to_be32(n->role_seq);
		if (bsr_send_packet(c, false, P_STATE_CHG_REQ, 0, &q, sizeof(q)))
			continue;	/* the connection is failing: the peer is not connected */
		wait_event_timeout(n->role_wait, READ_ONCE(n->role_reply) >= 0 ||
				   !READ_ONCE(n->net_ok), twopc_timeout(r));
		answer = READ_ONCE(n->role_reply);
		if (answer == 0 || (answer < 0 && !READ_ONCE(n->net_ok)))
			continue;
		promotion_done(r);
		if (answer == BSR_RET_BUSY) {
			snprintf(msg, len, "refusing to be Primary: peer %u is still demoting",
				 c->peer_node_id);
			return BSR_RET_BUSY;
		}
		snprintf(msg, len, answer > 0 ?
			 "refusing to be Primary: peer %u is Primary or becoming Primary" :
			 "refusing to be Primary: peer %u did not answer the promotion request",
			 c->peer_node_id);
		return BSR_RET_PEER_PRIMARY;
	}
	/* the peer agreed, so it was demoted: its new state is on its way (receive_state) */
	if (peer_is_primary(r)) {
		promotion_done(r);
		snprintf(msg, len, "refusing to be Primary: a peer still shows as Primary");
		return BSR_RET_BUSY;
	}
	return BSR_RET_NO_ERROR;
}

/* Every connected peer learns our role (one that agreed to a failed promotion, too). */
static void send_state_all(struct bsr_resource *r)
{
	struct bsr_peer_device *pd;
	struct bsr_conn *c;

	list_for_each_entry(c, &r->connections, res_list)
		list_for_each_entry(pd, &c->peer_devices, conn_list)
			if (bsr_pd_replicating(pd))
				bsr_send_state(pd);
}

/* A promotion agreed with every connected peer; retried while a peer is busy demoting. */
static int promote_agreed(struct bsr_resource *r, unsigned int flags, char *msg, size_t len)
{
	unsigned long deadline = jiffies + twopc_timeout(r);
	int ret;

	for (;;) {
		ret = agree_promotion(r, flags, msg, len);
		if (ret != BSR_RET_BUSY || time_after(jiffies, deadline))
			break;
		/* the peer's receiver may need adm_mutex for its state: let it run */
		mutex_unlock(&r->adm_mutex);
		msleep(50);
		mutex_lock(&r->adm_mutex);
		if (r->role == BSR_ROLE_PRIMARY)
			return BSR_RET_NO_ERROR;
	}
	if (ret == BSR_RET_BUSY)
		ret = BSR_RET_PEER_PRIMARY;
	if (ret == BSR_RET_NO_ERROR) {
		ret = bsr_set_role(r, BSR_ROLE_PRIMARY, flags, msg, len);
		promotion_done(r);
	}
	if (ret == BSR_RET_NO_ERROR)
		promoted(r);
	else
		send_state_all(r);
	return ret;
}

int bsr_net_set_role(struct bsr_resource *r, enum bsr_role role, unsigned int flags, char *msg,
		     size_t len)
{
	struct bsr_conn *c;
	enum bsr_role old;
	int ret;

	mutex_lock(&r->adm_mutex);
	old = r->role;
	if (role == BSR_ROLE_PRIMARY && old != role) {
		ret = promote_agreed(r, flags, msg, len);
		mutex_unlock(&r->adm_mutex);
		return ret;
	}
	if (old == role) {
		/* nothing changes, but a Secondary's explicit secondary ends persist-role */
		ret = bsr_set_role(r, role, flags, msg, len);
		mutex_unlock(&r->adm_mutex);
		return ret;
	}
	/* a demotion: until the peers have our writes and our new role, their promotion waits */
	spin_lock_irq(&r->state_lock);
	r->demoting = true;
	spin_unlock_irq(&r->state_lock);
	ret = bsr_set_role(r, role, flags, msg, len);
	mutex_unlock(&r->adm_mutex);
	if (ret == BSR_RET_NO_ERROR) {
		/* the peers get everything that is in flight, then learn our role */
		list_for_each_entry(c, &r->connections, res_list) {
			if (c->net && bsr_tl_drain(c, 10 * HZ))
				bsr_warn("%s: the peer did not confirm all writes before the demotion\n",
					 c->net->thread_tag);
		}
		mutex_lock(&r->adm_mutex);
		send_state_all(r);
		mutex_unlock(&r->adm_mutex);
	}
	spin_lock_irq(&r->state_lock);
	r->demoting = false;
	spin_unlock_irq(&r->state_lock);
	return ret;
}

/* new-current-uuid --clear-bitmap: the data counts as UpToDate without a sync. */
void bsr_skip_initial_sync(struct bsr_device *d)
{
	if (!bsr_set_disk_state(d, BSR_DISK_UPTODATE))
		d->ldev->md.flags |= BSR_MDF_CONSISTENT | BSR_MDF_WAS_UP_TO_DATE;
}

/* After new-current-uuid, adm_mutex held: connected peers take the new generation. */
void bsr_new_uuid_sent(struct bsr_device *d, bool skip_sync)
{
	struct bsr_peer_device *pd;

	list_for_each_entry(pd, &d->peer_devices, dev_list) {
		if (!bsr_pd_replicating(pd) || pd->repl_state != BSR_REPLICATION_ESTABLISHED)
			continue;
		if (skip_sync)
			pd->peer_disk_state = BSR_DISK_UPTODATE;
		bsr_send_uuids(pd, skip_sync ? UUID_FLAG_SKIP_INITIAL_SYNC : UUID_FLAG_NEW_DATAGEN);
		bsr_send_state(pd);
		bsr_notify_peer_device(pd, BSR_NOTIFY_CHANGE);
	}
}
