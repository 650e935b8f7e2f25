// SPDX-License-Identifier: GPL-2.0-only
/*
 * bsr: state changes (role, disk, connection) and their notifications.
 * All callers run in configuration context (serialized by bsr_conf_mutex).
 */
#include <linux/delay.h>

#include "bsr_int.h"

static const char * const role_names[] = { BSR_ROLE_NAMES };
static const char * const disk_names[] = { BSR_DISK_NAMES };
static const char * const conn_names[] = { BSR_CONNECTION_NAMES };
static const char * const repl_names[] = { BSR_REPLICATION_NAMES };

static_assert(ARRAY_SIZE(role_names) == BSR_ROLE__COUNT);
static_assert(ARRAY_SIZE(disk_names) == BSR_DISK__COUNT);
static_assert(ARRAY_SIZE(conn_names) == BSR_CONNECTION__COUNT);
static_assert(ARRAY_SIZE(repl_names) == BSR_REPLICATION__COUNT);

const char *bsr_role_name(enum bsr_role r)
{
	return (unsigned int)r < ARRAY_SIZE(role_names) ? role_names[r] : "?";
}

const char *bsr_disk_name(enum bsr_disk s)
{
	return (unsigned int)s < ARRAY_SIZE(disk_names) ? disk_names[s] : "?";
}

const char *bsr_conn_name(enum bsr_connection s)
{
	return (unsigned int)s < ARRAY_SIZE(conn_names) ? conn_names[s] : "?";
}

const char *bsr_repl_name(enum bsr_replication s)
{
	return (unsigned int)s < ARRAY_SIZE(repl_names) ? repl_names[s] : "?";
}

/*
 * CONSISTENT + WAS_UP_TO_DATE: UpToDate; CONSISTENT alone (outdated by `outdate` or by a
 * peer): Outdated; otherwise Inconsistent.
 */
enum bsr_disk bsr_disk_state_from_md(const struct bsr_md *md)
{
	if (!(md->flags & BSR_MDF_CONSISTENT))
		return BSR_DISK_INCONSISTENT;
	if (!(md->flags & BSR_MDF_WAS_UP_TO_DATE))
		return BSR_DISK_OUTDATED;
	return BSR_DISK_UPTODATE;
}

/*
 * The one way to change a device's disk state. UpToDate is refused while a peer resyncs
 * into the device: half its blocks are still the old generation.
 */
int bsr_set_disk_state(struct bsr_device *d, enum bsr_disk s)
{
	struct bsr_resource *r = d->resource;
	struct bsr_peer_device *src = NULL;

	if (d->disk_state == s)
		return 0;
	spin_lock_irq(&r->state_lock);
	if (s == BSR_DISK_UPTODATE)
		src = bsr_resync_source_of(d);
	if (!src) {
		smp_wmb();	/* d->ldev before the state that makes it usable */
		WRITE_ONCE(d->disk_state, s);
	}
	spin_unlock_irq(&r->state_lock);
	if (src) {
		bsr_err("bsr%u: refusing disk state UpToDate: peer %u is resyncing into it (%s)\n",
			d->minor, src->connection->peer_node_id, bsr_repl_name(src->repl_state));
		return -EBUSY;
	}
	smp_mb();	/* the state before bsr_detach() samples local_cnt */
	bsr_notify_device(d, BSR_NOTIFY_CHANGE);
	return 0;
}

/* adm_mutex held (it guards the path list too) */
void bsr_set_cstate(struct bsr_conn *c, enum bsr_connection s)
{
	bool was_connected = c->cstate == BSR_CONNECTION_CONNECTED;
	struct bsr_path *in_use = bsr_path_in_use(c);
	struct bsr_device *d;

	if (c->cstate == s)
		return;
	c->cstate = s;
	list_for_each_entry(d, &c->resource->devices, res_list)
		bsr_update_slot_mask(d);
	bsr_notify_connection(c, BSR_NOTIFY_CHANGE);
	/* the path in use is established exactly while Connected */
	if (was_connected != (s == BSR_CONNECTION_CONNECTED) && in_use)
		bsr_notify_path(c, in_use, BSR_NOTIFY_CHANGE);
}

bool bsr_repl_is_target(enum bsr_replication s)
{
	switch (s) {
	case BSR_REPLICATION_STARTINGSYNCT:
	case BSR_REPLICATION_WFBITMAPT:
	case BSR_REPLICATION_WFSYNCUUID:
	case BSR_REPLICATION_SYNCTARGET:
	case BSR_REPLICATION_PAUSEDSYNCT:
		return true;
	default:
		return false;
	}
}

bool bsr_repl_is_source(enum bsr_replication s)
{
	switch (s) {
	case BSR_REPLICATION_STARTINGSYNCS:
	case BSR_REPLICATION_WFBITMAPS:
	case BSR_REPLICATION_SYNCSOURCE:
	case BSR_REPLICATION_PAUSEDSYNCS:
		return true;
	default:
		return false;
	}
}

/* From the resync's handshake (StartingSync, WFBitMap) to its end, paused or not. */
bool bsr_repl_in_resync(enum bsr_replication s)
{
	return bsr_repl_is_source(s) || bsr_repl_is_target(s);
}

/* A resync into this device is under way or about to start (bitmap exchange). */
struct bsr_peer_device *bsr_resync_source_of(struct bsr_device *d)
{
	struct bsr_peer_device *pd;

	list_for_each_entry(pd, &d->peer_devices, dev_list)
		if (bsr_repl_is_target(READ_ONCE(pd->repl_state)))
			return pd;
	return NULL;
}

/* The steps the engine takes; any other (a peer's packet out of turn, a bug) is refused. */
static bool repl_step_known(enum bsr_replication from, enum bsr_replication to)
{
	if (to == BSR_REPLICATION_OFF)
		return true;	/* the connection is gone */
	switch (from) {
	case BSR_REPLICATION_OFF:
		/* the handshake: in sync, or a resync begins with the bitmap exchange */
		return to == BSR_REPLICATION_ESTABLISHED || to == BSR_REPLICATION_WFBITMAPS ||
		       to == BSR_REPLICATION_WFBITMAPT;
	case BSR_REPLICATION_ESTABLISHED:
		/* a resync (bitmap exchange first), an online verify, or congestion */
		return to == BSR_REPLICATION_WFBITMAPS || to == BSR_REPLICATION_WFBITMAPT ||
		       to == BSR_REPLICATION_VERIFYS || to == BSR_REPLICATION_VERIFYT ||
		       to == BSR_REPLICATION_AHEAD || to == BSR_REPLICATION_BEHIND;
	case BSR_REPLICATION_AHEAD:
		/* the link drained: a resync of what the peer is behind */
		return to == BSR_REPLICATION_WFBITMAPS;
	case BSR_REPLICATION_BEHIND:
		return to == BSR_REPLICATION_WFBITMAPT;
	case BSR_REPLICATION_VERIFYS:
	case BSR_REPLICATION_VERIFYT:
		return to == BSR_REPLICATION_ESTABLISHED;
	case BSR_REPLICATION_WFBITMAPS:
	case BSR_REPLICATION_SYNCSOURCE:
	case BSR_REPLICATION_PAUSEDSYNCS:
		return to == BSR_REPLICATION_SYNCSOURCE || to == BSR_REPLICATION_PAUSEDSYNCS ||
		       (to == BSR_REPLICATION_ESTABLISHED && from != BSR_REPLICATION_WFBITMAPS);
	case BSR_REPLICATION_WFBITMAPT:
	case BSR_REPLICATION_SYNCTARGET:
	case BSR_REPLICATION_PAUSEDSYNCT:
		return to == BSR_REPLICATION_SYNCTARGET || to == BSR_REPLICATION_PAUSEDSYNCT ||
		       (to == BSR_REPLICATION_ESTABLISHED && from != BSR_REPLICATION_WFBITMAPT);
	default:
		return false;
	}
}

/* Why pd cannot take replication state s now, or NULL; r->state_lock held. */
static const char *repl_refusal(struct bsr_peer_device *pd, enum bsr_replication s)
{
	struct bsr_device *d = pd->device;
	enum bsr_replication cur = pd->repl_state;

	if (!repl_step_known(cur, s))
		return "not a step of the protocol";
	/* only a Primary's writes pull ahead of a peer */
	if (s == BSR_REPLICATION_AHEAD && d->resource->role != BSR_ROLE_PRIMARY)
		return "this node is not Primary";
	if (s == BSR_REPLICATION_BEHIND && d->resource->role == BSR_ROLE_PRIMARY)
		return "this node is Primary";
	if (bsr_repl_is_target(s) && !bsr_repl_is_target(cur)) {
		/* the target's blocks are half old until the resync ends */
		if (d->resource->role == BSR_ROLE_PRIMARY)
			return "this node is Primary";
		if (d->open_cnt)
			return "the device is open";
		if (!d->ldev)
			return "no local disk";
	}
	if (bsr_repl_is_source(s) && !bsr_repl_is_source(cur) &&
	    (!d->ldev || d->disk_state < BSR_DISK_OUTDATED))
		return "the local data are not consistent";
	return NULL;
}

/*
 * The one way to change a peer device's replication state; adm_mutex held. The caller
 * notifies once the rest of the peer device's fields are set.
 */
int bsr_set_repl_state(struct bsr_peer_device *pd, enum bsr_replication s)
{
	struct bsr_resource *r = pd->device->resource;
	enum bsr_replication cur = pd->repl_state;
	const char *why;

	if (cur == s)
		return 0;
	spin_lock_irq(&r->state_lock);
	why = repl_refusal(pd, s);
	if (!why)
		WRITE_ONCE(pd->repl_state, s);
	spin_unlock_irq(&r->state_lock);
	if (why) {
		bsr_err("bsr%u: peer %u: refusing replication %s -> %s: %s\n", pd->device->minor,
			pd->connection->peer_node_id, bsr_repl_name(cur), bsr_repl_name(s), why);
		return -EBADE;
	}
	bsr_app_report_kick(pd);
	if (bsr_repl_in_resync(cur) != bsr_repl_in_resync(s))
		bsr_resync_after_kick();
	return 0;
}

static int promote_check(struct bsr_resource *r, bool force, char *msg, size_t msglen)
{
	struct bsr_device *d;

	list_for_each_entry(d, &r->devices, res_list) {
		struct bsr_peer_device *src = bsr_resync_source_of(d);

		/*
		 * Not even with --force: the peer goes on replacing the data under the
		 * application, which would read blocks not resynced yet.
		 */
		if (src) {
			snprintf(msg, msglen,
				 "refusing to be Primary: minor %u (volume %u) is the target of a resync from peer %u; disconnect first",
				 d->minor, d->vnr, src->connection->peer_node_id);
			return BSR_RET_STATE_REFUSED_INCONSISTENT;
		}
		switch (d->disk_state) {
		case BSR_DISK_UPTODATE:
			break;
		case BSR_DISK_INCONSISTENT:
		case BSR_DISK_OUTDATED:
		case BSR_DISK_CONSISTENT:
			if (force)
				break;
			snprintf(msg, msglen,
				 "refusing to be Primary: minor %u (volume %u) is %s and no peer is UpToDate; use --force to make it UpToDate",
				 d->minor, d->vnr, bsr_disk_name(d->disk_state));
			return d->disk_state == BSR_DISK_OUTDATED ?
				BSR_RET_STATE_REFUSED_OUTDATED : BSR_RET_STATE_REFUSED_INCONSISTENT;
		default:
			snprintf(msg, msglen,
				 "refusing to be Primary: minor %u (volume %u) is %s and no peer is connected",
				 d->minor, d->vnr, bsr_disk_name(d->disk_state));
			return BSR_RET_STATE_REFUSED_NO_DISK;
		}
	}
	return BSR_RET_NO_ERROR;
}

/*
 * An explicit secondary of a Secondary still ends persist-role: after `down` of a Primary and
 * `up`, it is how the administrator says the node must not come back Primary.
 */
static void forget_was_primary(struct bsr_resource *r)
{
	struct bsr_device *d;

	list_for_each_entry(d, &r->devices, res_list) {
		if (!bsr_get_ldev(d))
			continue;
		if (d->ldev->md.flags & BSR_MDF_WAS_PRIMARY) {
			d->ldev->md.flags &= ~BSR_MDF_WAS_PRIMARY;
			if (bsr_md_write_sb(d, d->ldev))
				bsr_warn("bsr%u: clearing WAS_PRIMARY: writing the meta data failed\n",
					 d->minor);
			else
				bsr_info("bsr%u: persist-role: Secondary from now on\n", d->minor);
		}
		bsr_put_ldev(d);
	}
}

/*
 * Whether writes from now on would diverge from a peer that does not record where: one not
 * replicating now whose slot has no bitmap UUID (the generation it shares with us). The
 * current UUID of a node that was Primary keeps UUID_PRIMARY after a resync made the peer
 * share it, so that flag alone does not say the divergence point is recorded.
 */
static bool unrecorded_divergence(struct bsr_device *d)
{
	struct bsr_md *md = &d->ldev->md;
	struct bsr_peer_device *pd;
	int i;

	for (i = 0; i < BSR_MAX_PEERS; i++) {
		bool replicating = false;

		if (md->peers[i].bitmap_index < 0 || i == md->node_id || md->peers[i].bitmap_uuid)
			continue;
		list_for_each_entry(pd, &d->peer_devices, dev_list)
			if (pd->connection->peer_node_id == i &&
			    pd->repl_state != BSR_REPLICATION_OFF)
				replicating = true;
		if (!replicating)
			return true;
	}
	return false;
}

int bsr_set_role(struct bsr_resource *r, enum bsr_role role, unsigned int flags, char *msg,
		 size_t msglen)
{
	bool force = flags & BSR_ROLE_FORCE;
	struct bsr_device *d;
	int ret;

	if (r->role == role) {
		if (role == BSR_ROLE_SECONDARY && (flags & BSR_ROLE_EXPLICIT))
			forget_was_primary(r);
		return BSR_RET_NO_ERROR;
	}

	if (role == BSR_ROLE_PRIMARY) {
		ret = promote_check(r, force, msg, msglen);
		if (ret != BSR_RET_NO_ERROR)
			return ret;
		list_for_each_entry(d, &r->devices, res_list) {
			struct bsr_backing *ldev = d->ldev;
			bool forced = d->disk_state != BSR_DISK_UPTODATE;
			bool new_uuid = forced || !(ldev->md.current_uuid & UUID_PRIMARY) ||
					unrecorded_divergence(d);

			if (forced)
				ldev->md.flags |= BSR_MDF_CONSISTENT | BSR_MDF_WAS_UP_TO_DATE;
			if (new_uuid)
				bsr_uuid_new_current(d, true, false);
			ldev->md.flags |= BSR_MDF_PRIMARY_IND;
			ldev->md.flags &= ~BSR_MDF_CRASHED_PRIMARY;
			if (bsr_conf(&r->res_opts, T_RES_OPTS_PERSIST_ROLE))
				ldev->md.flags |= BSR_MDF_WAS_PRIMARY;
			if (bsr_md_write_sb(d, ldev)) {
				snprintf(msg, msglen, "minor %u: writing the meta data failed", d->minor);
				return BSR_RET_IO_ERROR;
			}
			if (forced)
				bsr_set_disk_state(d, BSR_DISK_UPTODATE);
			else if (new_uuid)
				bsr_notify_device(d, BSR_NOTIFY_CHANGE);
		}
		spin_lock_irq(&r->state_lock);
		r->role = BSR_ROLE_PRIMARY;
		spin_unlock_irq(&r->state_lock);
		/* a run the peer paces: this node's application I/O is reported from now on */
		list_for_each_entry(d, &r->devices, res_list) {
			struct bsr_peer_device *pd;

			list_for_each_entry(pd, &d->peer_devices, dev_list)
				bsr_app_report_kick(pd);
		}
	} else {
		/* a Secondary cannot be open (bsr_open): every opener must be gone first */
		list_for_each_entry(d, &r->devices, res_list)
			bsr_wait_device_closed(d);
		spin_lock_irq(&r->state_lock);
		list_for_each_entry(d, &r->devices, res_list) {
			if (d->open_cnt) {
				bool writer = bsr_disk_held_for_writing(d->disk, d->open_rw_cnt);

				spin_unlock_irq(&r->state_lock);
				snprintf(msg, msglen, "refusing to become Secondary: /dev/bsr%u is held open %s",
					 d->minor, writer ? "for writing (mounted?)" : "for reading");
				return BSR_RET_STATE_REFUSED_OPEN;
			}
		}
		r->role = role;
		spin_unlock_irq(&r->state_lock);
		list_for_each_entry(d, &r->devices, res_list) {
			struct bsr_backing *ldev = d->ldev;

			if (!ldev)
				continue;
			ldev->md.flags &= ~BSR_MDF_PRIMARY_IND;
			/* persist-role: only the administrator's secondary ends it, not down */
			if (flags & BSR_ROLE_EXPLICIT)
				ldev->md.flags &= ~BSR_MDF_WAS_PRIMARY;
			bsr_md_write_sb(d, ldev);
		}
	}
	bsr_info("%s: role %s\n", r->name, bsr_role_name(r->role));
	bsr_notify_resource(r, BSR_NOTIFY_CHANGE);
	return BSR_RET_NO_ERROR;
}

/*
 * I/O suspension. A suspended device holds new upper bios (they count in upper_pending)
 * and submits them in arrival order when the last suspender resumes; bios that got past
 * the check before the suspension run to completion.
 */
void bsr_io_suspend(struct bsr_device *d)
{
	spin_lock_irq(&d->req_lock);
	d->susp_cnt++;
	WRITE_ONCE(d->io_susp, true);
	spin_unlock_irq(&d->req_lock);
}

/* The I/O path: true when the bio was taken into the suspend queue. */
bool bsr_io_susp_queue(struct bsr_device *d, struct bio *bio)
{
	unsigned long flags;
	bool queued = false;

	spin_lock_irqsave(&d->req_lock, flags);
	if (d->io_susp && d->susp_drainer != current) {
		bio_list_add(&d->susp_bios, bio);
		d->susp_len++;
		queued = true;
	}
	spin_unlock_irqrestore(&d->req_lock, flags);
	return queued;
}

/*
 * Drops one suspension; the last one submits the held bios. Bios that arrive while
 * they are resubmitted queue behind them, so the order is kept.
 */
void bsr_io_resume(struct bsr_device *d)
{
	struct bio_list list;
	struct bio *bio;

	spin_lock_irq(&d->req_lock);
	if (WARN_ON_ONCE(!d->susp_cnt) || --d->susp_cnt) {
		spin_unlock_irq(&d->req_lock);
		return;
	}
	for (;;) {
		list = d->susp_bios;
		bio_list_init(&d->susp_bios);
		d->susp_len = 0;
		if (bio_list_empty(&list) || d->susp_cnt)
			break;
		d->susp_drainer = current;
		spin_unlock_irq(&d->req_lock);
		while ((bio = bio_list_pop(&list))) {
			/* bsr_submit_bio() counts it again */
			atomic_dec(&d->upper_pending);
			bsr_submit_bio(bio);
		}
		spin_lock_irq(&d->req_lock);
	}
	/* suspended again meanwhile: keep what is left */
	bio_list_merge_head(&d->susp_bios, &list);
	d->susp_len = bio_list_size(&d->susp_bios);
	d->susp_drainer = NULL;
	WRITE_ONCE(d->io_susp, d->susp_cnt > 0);
	spin_unlock_irq(&d->req_lock);
}

/*
 * Some connection's loss holds the resource's I/O until its peer is fenced; state_lock held.
 * A connection leaves the list (del-peer) only after its reason is dropped.
 */
static bool susp_fen_locked(struct bsr_resource *r)
{
	struct bsr_conn *c;
	bool fen = false;
	int idx;

	idx = srcu_read_lock(&bsr_srcu);
	list_for_each_entry_srcu(c, &r->connections, res_list, srcu_read_lock_held(&bsr_srcu))
		fen |= c->fence_susp;
	srcu_read_unlock(&bsr_srcu, idx);
	return fen;
}

bool bsr_res_susp_fen(struct bsr_resource *r)
{
	bool fen;

	spin_lock_irq(&r->state_lock);
	fen = susp_fen_locked(r);
	spin_unlock_irq(&r->state_lock);
	return fen;
}

/* Whether the resource's I/O is held, for whatever reason (a new volume starts so). */
bool bsr_res_suspended(struct bsr_resource *r)
{
	return READ_ONCE(r->susp) || bsr_res_susp_fen(r);
}

/*
 * The one way to change why a resource's I/O is suspended: `reason` is r->susp (suspend-io)
 * or a connection's fence_susp. The devices hold their I/O while any reason is set: one
 * suspension each, taken when the first reason comes and dropped with the last.
 * adm_mutex held, so the reasons and the devices' counts change together.
 */
void bsr_set_susp(struct bsr_resource *r, bool *reason, bool on)
{
	struct bsr_device *d;
	bool was, now;

	lockdep_assert_held(&r->adm_mutex);
	spin_lock_irq(&r->state_lock);
	if (*reason == on) {
		spin_unlock_irq(&r->state_lock);
		return;
	}
	was = r->susp || susp_fen_locked(r);
	WRITE_ONCE(*reason, on);
	now = r->susp || susp_fen_locked(r);
	spin_unlock_irq(&r->state_lock);
	if (was != now) {
		list_for_each_entry(d, &r->devices, res_list) {
			if (now)
				bsr_io_suspend(d);
			else
				bsr_io_resume(d);
		}
	}
	bsr_notify_resource(r, BSR_NOTIFY_CHANGE);
}

/* The held bios fail with EIO (the device goes away while suspended). */
void bsr_io_fail_suspended(struct bsr_device *d)
{
	struct bio_list list;
	struct bio *bio;

	spin_lock_irq(&d->req_lock);
	list = d->susp_bios;
	bio_list_init(&d->susp_bios);
	d->susp_len = 0;
	if (d->susp_nod)
		atomic_dec(&d->resource->nod_devices);
	d->susp_nod = false;
	spin_unlock_irq(&d->req_lock);
	while ((bio = bio_list_pop(&list))) {
		bio->bi_status = BLK_STS_IOERR;
		atomic_dec(&d->upper_pending);
		bio_endio(bio);
	}
}

/*
 * on-no-data-accessible suspend-io: a Primary's device without a usable disk (bsr reads and
 * writes through its own disk only) holds its I/O until a disk is attached again or
 * resume-io gives up on it; io-error (the default) fails it with EIO. Any context. Takes the
 * device's no-data suspension unless it holds it already, and holds bio if one is given.
 * false: the policy does not apply (io-error, not Primary, or released by resume-io).
 */
bool bsr_nod_suspend(struct bsr_device *d, struct bio *bio)
{
	struct bsr_resource *r = d->resource;
	unsigned long flags;
	bool held = false;

	if (bsr_conf(&r->res_opts, T_RES_OPTS_ON_NO_DATA_ACCESSIBLE) !=
	    BSR_ON_NO_DATA_ACCESSIBLE_SUSPEND_IO || READ_ONCE(r->role) != BSR_ROLE_PRIMARY)
		return false;
	spin_lock_irqsave(&d->req_lock, flags);
	if (!d->nod_released) {
		if (!d->susp_nod) {
			d->susp_nod = true;
			d->susp_cnt++;
			WRITE_ONCE(d->io_susp, true);
			atomic_inc(&r->nod_devices);
		}
		/* also while a resume resubmits: it stops at a suspension taken meanwhile */
		if (bio) {
			bio_list_add(&d->susp_bios, bio);
			d->susp_len++;
		}
		held = true;
	}
	spin_unlock_irqrestore(&d->req_lock, flags);
	return held;
}

/*
 * The no-data suspension ends: a disk was attached (released false: the held bios run on
 * it, and a later loss of the disk suspends again) or resume-io (released true: they fail
 * with EIO, as later bios do until a disk is attached). true if the device held one.
 */
bool bsr_nod_end(struct bsr_device *d, bool released)
{
	bool was;

	spin_lock_irq(&d->req_lock);
	was = d->susp_nod;
	d->susp_nod = false;
	if (was || !released)
		d->nod_released = released;
	spin_unlock_irq(&d->req_lock);
	if (was) {
		atomic_dec(&d->resource->nod_devices);
		bsr_io_resume(d);
	}
	return was;
}

/*
 * Suspends the device and waits until every upper bio that is not held has completed,
 * so nothing runs in the I/O path or the activity log. On success the caller resumes;
 * after timeout_ms the suspension is dropped again and -EBUSY returned.
 */
int bsr_io_quiesce(struct bsr_device *d, unsigned int timeout_ms)
{
	unsigned long end = jiffies + msecs_to_jiffies(timeout_ms);

	bsr_io_suspend(d);
	for (;;) {
		unsigned int held;

		spin_lock_irq(&d->req_lock);
		held = d->susp_len;
		spin_unlock_irq(&d->req_lock);
		if (atomic_read(&d->upper_pending) == held)
			break;
		if (time_after(jiffies, end)) {
			bsr_io_resume(d);
			return -EBUSY;
		}
		msleep(5);
	}
	flush_work(&d->al_work);
	return 0;
}
