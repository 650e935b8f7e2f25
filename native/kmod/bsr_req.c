// SPDX-License-Identifier: GPL-2.0-only
/*
 * bsr: the I/O path. bio based: every upper bio is cloned onto the backing device and
 * completed when the clone completes (and, for writes, when the peers are done with it).
 * Writes first make their 4 MiB extents active in the activity log (fast path: already
 * active, a spinlock and a hash lookup; slow path: the device's work item writes an AL
 * transaction and then submits) and set the bits of the written 4 KiB blocks in the
 * bitmap slots of the peers that are not connected.
 *
 * Overlapping writes are ordered: a write is entered in the device's interval tree on
 * arrival and stays there until its request is done (local I/O and every peer's
 * condition). A write overlapping an earlier one still in the tree is parked, neither
 * submitted nor sent, and started from the work item once the earlier ones are done, so
 * the local disk and the peers (which apply in arrival order) see the same order.
 *
 * A SyncSource's resync read is ordered against writes the same way (rs_tree): it is
 * not issued while an overlapping write is in the tree, and a write arriving while an
 * overlapping resync read is under way is parked until its reply is sent. So the reply
 * carries every write that went to the peer before it, and none goes after it with
 * older data: the SyncTarget, which applies both in arrival order, ends up equal.
 *
 * Lower I/O errors follow the disk option on-io-error: passthrough (and pass_on) hand
 * the error up and mark the blocks out of sync for the peers; detach (and
 * call-local-io-error) make the disk Failed at once and detach it from a work item;
 * more than max-passthrough-count errors detach as well.
 */
#include <linux/bio.h>
#include <linux/genetlink.h>
#include <linux/interval_tree_generic.h>

#include "bsr_net.h"

#define EXT_SHIFT_SECT (BSR_AL_EXT_SHIFT - 9)
#define BM_SHIFT_SECT (BSR_BM_BLOCK_SHIFT - 9)

#define REQ_FIRST(r) ((r)->sector)
#define REQ_LAST(r) ((r)->sector + ((r)->size >> 9) - 1)
INTERVAL_TREE_DEFINE(struct bsr_req, rb, sector_t, subtree_last, REQ_FIRST, REQ_LAST,
		     static, write_tree)
/* only ever asked whether anything overlaps: rs_tree_iter_next() is not needed */
INTERVAL_TREE_DEFINE(struct bsr_rs_req, rb, sector_t, subtree_last, REQ_FIRST, REQ_LAST,
		     static __maybe_unused, rs_tree)

bool bsr_get_ldev(struct bsr_device *d)
{
	enum bsr_disk s;

	atomic_inc(&d->local_cnt);
	smp_mb__after_atomic();
	s = READ_ONCE(d->disk_state);
	if (s < BSR_DISK_INCONSISTENT || s == BSR_DISK_DUNKNOWN) {
		bsr_put_ldev(d);
		return false;
	}
	smp_rmb();	/* pairs with the barrier in bsr_set_disk_state() */
	return true;
}

void bsr_put_ldev(struct bsr_device *d)
{
	if (atomic_dec_and_test(&d->local_cnt) && wq_has_sleeper(&d->misc_wait))
		wake_up(&d->misc_wait);
}

static void bsr_master_done(struct bsr_device *d, struct bio *master)
{
	atomic_dec(&d->upper_pending);
	bio_endio(master);
}

/* ---------------------------------------------------------------- write ordering */

/* req_lock held: does a write that arrived before req, or a resync read, overlap it? */
static bool write_conflicts(struct bsr_device *d, struct bsr_req *req)
{
	struct bsr_req *o;

	if (rs_tree_iter_first(&d->rs_tree, REQ_FIRST(req), REQ_LAST(req)))
		return true;
	for (o = write_tree_iter_first(&d->write_tree, REQ_FIRST(req), REQ_LAST(req)); o;
	     o = write_tree_iter_next(o, REQ_FIRST(req), REQ_LAST(req)))
		if (o->seq < req->seq)
			return true;
	return false;
}

/* req_lock held: parked writes with no earlier overlapping write left go to al_pending. */
static bool release_parked(struct bsr_device *d)
{
	struct bsr_req *p, *tp;
	bool any = false;

	list_for_each_entry_safe(p, tp, &d->conflict_wait, wait) {
		if (write_conflicts(d, p))
			continue;
		list_move_tail(&p->wait, &d->al_pending);
		any = true;
	}
	return any;
}

/*
 * SyncSource: enters a resync read into rs_tree unless a write overlapping it is in
 * flight (then false: the blocks stay out of sync and are read on a later pass).
 */
bool bsr_rs_read_begin(struct bsr_device *d, struct bsr_rs_req *rq)
{
	bool busy;

	spin_lock_irq(&d->req_lock);
	busy = write_tree_iter_first(&d->write_tree, REQ_FIRST(rq), REQ_LAST(rq));
	if (!busy) {
		rs_tree_insert(rq, &d->rs_tree);
		rq->in_tree = true;
	}
	spin_unlock_irq(&d->req_lock);
	return !busy;
}

/* The resync read's reply is sent (or dropped): writes parked behind it may start. */
void bsr_rs_read_end(struct bsr_device *d, struct bsr_rs_req *rq)
{
	unsigned long flags;
	bool kick = false;

	if (!rq->in_tree)
		return;
	spin_lock_irqsave(&d->req_lock, flags);
	rs_tree_remove(rq, &d->rs_tree);
	rq->in_tree = false;
	if (!list_empty(&d->conflict_wait))
		kick = release_parked(d);
	spin_unlock_irqrestore(&d->req_lock, flags);
	if (kick)
		queue_work(bsr_wq, &d->al_work);
}

/*
 * The last reference of a request (any context): its activity log extents are
 * released, later writes it held back may start, the upper bio completes and the clone
 * (holding the request) is freed.
 */
void bsr_req_put(struct bsr_req *req)
{
	struct bsr_device *d = req->device;
	struct bio *master = req->master;
	unsigned long flags;
	bool kick = false;

	if (!atomic_dec_and_test(&req->ref))
		return;
	if (req->in_al)
		bsr_al_complete(&d->ldev->al, req->al_first, req->al_last);
	if (req->in_tree) {
		spin_lock_irqsave(&d->req_lock, flags);
		write_tree_remove(req, &d->write_tree);
		if (!list_empty(&d->conflict_wait))
			kick = release_parked(d);
		spin_unlock_irqrestore(&d->req_lock, flags);
		/* before our ldev reference goes: bsr_detach() flushes the work after that */
		if (kick)
			queue_work(bsr_wq, &d->al_work);
	}
	if (unlikely(req->status))
		master->bi_status = req->status;
	bio_end_io_acct(master, req->start_time);
	bio_put(&req->clone);
	bsr_master_done(d, master);
	bsr_put_ldev(d);
}

static void bsr_endio(struct bio *clone)
{
	struct bsr_req *req = container_of(clone, struct bsr_req, clone);
	struct bsr_device *d = req->device;

	if (unlikely(clone->bi_status)) {
		req->status = clone->bi_status;
		bsr_io_error(d, req->sector, req->size, clone->bi_status);
	}
	/* forcibly detached meanwhile: the request counts as failed */
	if (unlikely(READ_ONCE(d->disk_state) == BSR_DISK_FAILED))
		req->status = BLK_STS_IOERR;
	atomic_dec(&d->lower_pending);
	bsr_req_put(req);
}

/* A request holding the submitter's reference, not under way yet. */
static struct bsr_req *req_new(struct bsr_device *d, struct bsr_backing *ldev, struct bio *bio)
{
	struct bsr_req *req;
	struct bio *clone;

	clone = bio_alloc_clone(ldev->backing_bdev, bio, GFP_NOIO, &bsr_io_bioset);
	if (unlikely(!clone))
		return NULL;
	req = container_of(clone, struct bsr_req, clone);
	req->device = d;
	req->master = bio;
	req->start_time = bio_start_io_acct(bio);
	req->sector = bio->bi_iter.bi_sector;
	req->size = bio->bi_iter.bi_size;
	req->al_first = req->sector >> EXT_SHIFT_SECT;
	req->al_last = req->size ? (bio_end_sector(bio) - 1) >> EXT_SHIFT_SECT : req->al_first;
	req->in_al = false;
	req->in_tree = false;
	req->oos_slots = 0;
	req->status = BLK_STS_OK;
	INIT_LIST_HEAD(&req->wait);
	atomic_set(&req->ref, 1);
	clone->bi_end_io = bsr_endio;
	clone->bi_private = req;
	return req;
}

/* Local I/O and replication under way; drops the submitter's reference. */
static void req_submit(struct bsr_device *d, struct bsr_req *req)
{
	struct bio *bio = req->master;

	atomic_inc(&req->ref);	/* the local I/O's */
	atomic_inc(&d->lower_pending);
	if (op_is_write(bio_op(bio))) {
		if (req->size)
			bsr_replicate_write(d, req, bio);
		else
			bsr_replicate_flush(d, req);
	}
	submit_bio_noacct(&req->clone);
	bsr_req_put(req);
}

/* The write's extents are active in the activity log. */
static void write_submit(struct bsr_device *d, struct bsr_req *req)
{
	struct bsr_backing *ldev = d->ldev;	/* pinned by the request */

	req->in_al = true;
	req->oos_slots = READ_ONCE(ldev->slot_mask);
	bsr_bm_set_range(&ldev->bm, req->oos_slots, req->sector >> BM_SHIFT_SECT,
			 REQ_LAST(req) >> BM_SHIFT_SECT);
	req_submit(d, req);
}

/* Work item: writes that need activity log transactions or were parked, in order. */
void bsr_al_work(struct work_struct *w)
{
	struct bsr_device *d = container_of(w, struct bsr_device, al_work);
	struct bsr_req *req;
	int err;

	for (;;) {
		spin_lock_irq(&d->req_lock);
		req = list_first_entry_or_null(&d->al_pending, struct bsr_req, wait);
		if (req)
			list_del_init(&req->wait);
		spin_unlock_irq(&d->req_lock);
		if (!req)
			break;
		err = bsr_al_begin_slow(d, d->ldev, req->al_first, req->al_last);
		if (err) {
			req->status = errno_to_blk_status(err);
			bsr_req_put(req);
			continue;
		}
		write_submit(d, req);
	}
}

/*
 * The disk failed: writes not under way yet (waiting for an AL transaction or parked
 * behind an overlapping write) complete with EIO now.
 */
void bsr_fail_waiting_writes(struct bsr_device *d)
{
	struct bsr_req *req, *tmp;
	LIST_HEAD(list);

	spin_lock_irq(&d->req_lock);
	list_splice_init(&d->al_pending, &list);
	list_splice_tail_init(&d->conflict_wait, &list);
	spin_unlock_irq(&d->req_lock);
	list_for_each_entry_safe(req, tmp, &list, wait) {
		list_del_init(&req->wait);
		req->status = BLK_STS_IOERR;
		bsr_req_put(req);
	}
}

/* A write with data: ordered against the writes in flight, then into the AL. */
static void write_begin(struct bsr_device *d, struct bsr_req *req)
{
	bool parked;

	spin_lock_irq(&d->req_lock);
	req->seq = ++d->write_seq;
	req->in_tree = true;
	write_tree_insert(req, &d->write_tree);
	parked = write_conflicts(d, req);
	if (parked)
		list_add_tail(&req->wait, &d->conflict_wait);
	spin_unlock_irq(&d->req_lock);
	if (parked)
		return;
	if (likely(bsr_al_begin_fast(&d->ldev->al, req->al_first, req->al_last))) {
		write_submit(d, req);
		return;
	}
	spin_lock_irq(&d->req_lock);
	list_add_tail(&req->wait, &d->al_pending);
	spin_unlock_irq(&d->req_lock);
	queue_work(bsr_wq, &d->al_work);
}

void bsr_submit_bio(struct bio *bio)
{
	struct bsr_device *d = bio->bi_bdev->bd_disk->private_data;
	struct bsr_req *req;

	bio = bio_split_to_limits(bio);
	if (!bio)
		return;

	atomic_inc(&d->upper_pending);
	if (unlikely(READ_ONCE(d->io_susp)) && bsr_io_susp_queue(d, bio))
		return;
	/*
	 * diskless (detached, failed or never attached): held (on-no-data-accessible
	 * suspend-io) or EIO, whatever the size says
	 */
	if (unlikely(!bsr_get_ldev(d))) {
		if (bsr_nod_suspend(d, bio))
			return;
		bio->bi_status = BLK_STS_IOERR;
		bsr_master_done(d, bio);
		return;
	}

	switch (bio_op(bio)) {
	case REQ_OP_READ:
		break;
	case REQ_OP_WRITE:
		if (unlikely(READ_ONCE(d->resource->role) != BSR_ROLE_PRIMARY)) {
			bio->bi_status = BLK_STS_IOERR;
			goto fail;
		}
		break;
	default:
		bio->bi_status = BLK_STS_NOTSUPP;
		goto fail;
	}

	req = req_new(d, d->ldev, bio);
	if (unlikely(!req)) {
		bio->bi_status = BLK_STS_RESOURCE;
		goto fail;
	}
	if (bio_op(bio) == REQ_OP_READ) {
		atomic64_add(bio_sectors(bio), &d->read_sect);
		req_submit(d, req);
	} else if (!req->size) {
		req_submit(d, req);
	} else {
		atomic64_add(bio_sectors(bio), &d->write_sect);
		write_begin(d, req);
	}
	return;

fail:
	bsr_master_done(d, bio);
	bsr_put_ldev(d);
}

/* ---------------------------------------------------------------- lower I/O errors */

static LIST_HEAD(bsr_failed_devices);
static DEFINE_SPINLOCK(bsr_failed_lock);
DECLARE_WORK(bsr_failed_work_item, bsr_failed_work);

/* Bitmap slots assigned to peers (md.peers changes in configuration context only). */
static u32 peer_slots(struct bsr_device *d, struct bsr_backing *ldev)
{
	u32 mask = 0;
	int i;

	for (i = 0; i < BSR_MAX_PEERS; i++) {
		s32 s = READ_ONCE(ldev->md.peers[i].bitmap_index);

		if (s >= 0 && s < (s32)ldev->bm.max_peers && i != d->resource->node_id)
			mask |= 1U << s;
	}
	return mask;
}

/*
 * An I/O error of d's disk (any context): with `detach` the disk is Failed at once; the
 * IO_ERROR notification and the detach follow from bsr_failed_work().
 */
static void disk_error(struct bsr_device *d, bool detach)
{
	struct bsr_resource *r = d->resource;
	unsigned long flags;

	if (detach) {
		/* no new I/O reaches the disk from now on (bsr_get_ldev() refuses Failed) */
		spin_lock_irqsave(&r->state_lock, flags);
		if (d->disk_state >= BSR_DISK_NEGOTIATING)
			WRITE_ONCE(d->disk_state, BSR_DISK_FAILED);
		spin_unlock_irqrestore(&r->state_lock, flags);
	}
	spin_lock_irqsave(&bsr_failed_lock, flags);
	d->io_error_notify = true;
	if (list_empty(&d->failed_list))
		list_add_tail(&d->failed_list, &bsr_failed_devices);
	spin_unlock_irqrestore(&bsr_failed_lock, flags);
	/* not bsr_wq: this work waits for bsr_conf_mutex, bsr_wq's items must not */
	schedule_work(&bsr_failed_work_item);
}

/*
 * A lower data I/O of sector/size failed (any context, the caller pins d->ldev): apply
 * on-io-error.
 */
void bsr_io_error(struct bsr_device *d, sector_t sector, u32 size, blk_status_t status)
{
	struct bsr_backing *ldev = d->ldev;
	u32 policy = READ_ONCE(d->on_io_error);
	u32 max = READ_ONCE(d->max_passthrough);
	int n = atomic_inc_return(&d->io_errors);

	pr_err_ratelimited("bsr: %s: lower device I/O error %d at sector %llu (%u bytes)\n",
			   d->disk->disk_name, blk_status_to_errno(status), (u64)sector, size);
	if (size)
		bsr_bm_set_range(&ldev->bm, peer_slots(d, ldev), sector >> BM_SHIFT_SECT,
				 (sector + (size >> 9) - 1) >> BM_SHIFT_SECT);
	disk_error(d, policy == BSR_ON_IO_ERROR_DETACH ||
		      policy == BSR_ON_IO_ERROR_CALL_LOCAL_IO_ERROR || (max && n > max));
}

/*
 * A meta-data write failed (superblock, bitmap or activity log): the disk no longer
 * records which blocks are in sync, so it is detached whatever on-io-error says, as
 * DRBD does.
 */
void bsr_md_write_failed(struct bsr_device *d, const char *what, int err)
{
	pr_err_ratelimited("bsr: %s: writing the %s failed (%d): detaching the disk\n",
			   d->disk->disk_name, what, err);
	disk_error(d, true);
}

/* The device goes away (bsr_conf_mutex held): no work for it any more. */
void bsr_failed_forget(struct bsr_device *d)
{
	spin_lock_irq(&bsr_failed_lock);
	list_del_init(&d->failed_list);
	spin_unlock_irq(&bsr_failed_lock);
}

/*
 * IO_ERROR notifications and the detach of Failed disks. Under bsr_conf_mutex, so it is
 * serialized with configuration requests, which may detach or delete the device too.
 */
void bsr_failed_work(struct work_struct *w)
{
	struct bsr_peer_device *pd;
	struct bsr_device *d;
	bool notify;
	int idx;

	mutex_lock(&bsr_conf_mutex);
	for (;;) {
		spin_lock_irq(&bsr_failed_lock);
		d = list_first_entry_or_null(&bsr_failed_devices, struct bsr_device, failed_list);
		if (d) {
			list_del_init(&d->failed_list);
			notify = d->io_error_notify;
			d->io_error_notify = false;
		}
		spin_unlock_irq(&bsr_failed_lock);
		if (!d)
			break;
		if (notify)
			bsr_notify_io_error(d);
		if (READ_ONCE(d->disk_state) != BSR_DISK_FAILED || !d->ldev)
			continue;
		bsr_notify_device(d, BSR_NOTIFY_CHANGE);
		bsr_warn("%s: detaching the failed disk (on-io-error)\n", d->disk->disk_name);
		bsr_detach(d);
		/* the peers learn that this node has no disk any more */
		idx = srcu_read_lock(&bsr_srcu);
		list_for_each_entry_srcu(pd, &d->peer_devices, dev_list,
					 srcu_read_lock_held(&bsr_srcu)) {
			if (bsr_pd_replicating(pd))
				bsr_send_state(pd);
		}
		srcu_read_unlock(&bsr_srcu, idx);
	}
	mutex_unlock(&bsr_conf_mutex);
}
