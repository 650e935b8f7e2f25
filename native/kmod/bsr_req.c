// SPDX-License-Identifier: GPL-2.0-only
/*
 * bsr: the I/O path. bio based: every upper bio is cloned onto the backing device and
 * completed when the clone completes. Writes first make their 4 MiB extents active in
 * the activity log (fast path: already active, a spinlock and a hash lookup; slow path:
 * the device's work item writes an AL transaction and then submits) and set the bits of
 * the written 4 KiB blocks in the bitmap slots of the peers that are not connected.
 */
#include <linux/bio.h>

#include "bsr_net.h"

#define EXT_SHIFT_SECT (BSR_AL_EXT_SHIFT - 9)
#define BM_SHIFT_SECT (BSR_BM_BLOCK_SHIFT - 9)

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

/*
 * The last reference of a request: its activity log extents are released, the upper
 * bio completes and the clone (holding the request) is freed.
 */
void bsr_req_put(struct bsr_req *req)
{
	struct bsr_device *d = req->device;
	struct bio *master = req->master;

	if (!atomic_dec_and_test(&req->ref))
		return;
	if (req->in_al)
		bsr_al_complete(&d->ldev->al, req->al_first, req->al_last);
	if (unlikely(req->status))
		master->bi_status = req->status;
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
		pr_err_ratelimited("bsr: %s: lower device I/O error %d at sector %llu\n",
				   d->disk->disk_name, blk_status_to_errno(clone->bi_status),
				   (u64)clone->bi_iter.bi_sector);
	}
	/* forcibly detached meanwhile: the request counts as failed */
	if (unlikely(READ_ONCE(d->disk_state) == BSR_DISK_FAILED))
		req->status = BLK_STS_IOERR;
	atomic_dec(&d->lower_pending);
	bsr_req_put(req);
}

/* Holds a local reference that bsr_req_put() drops. */
static void bsr_submit_lower(struct bsr_device *d, struct bsr_backing *ldev, struct bio *bio,
			     bool in_al, u32 first, u32 last)
{
	struct bsr_req *req;
	struct bio *clone;

	clone = bio_alloc_clone(ldev->backing_bdev, bio, GFP_NOIO, &bsr_io_bioset);
	if (unlikely(!clone)) {
		if (in_al)
			bsr_al_complete(&ldev->al, first, last);
		bio->bi_status = BLK_STS_RESOURCE;
		bsr_master_done(d, bio);
		bsr_put_ldev(d);
		return;
	}
	req = container_of(clone, struct bsr_req, clone);
	req->device = d;
	req->master = bio;
	req->in_al = in_al;
	req->al_first = first;
	req->al_last = last;
	req->status = BLK_STS_OK;
	/* the local I/O and the submitter hold one reference each */
	atomic_set(&req->ref, 2);
	if (op_is_write(bio_op(bio)) && !READ_ONCE(d->disk_flushes))
		clone->bi_opf &= ~(REQ_PREFLUSH | REQ_FUA);
	clone->bi_end_io = bsr_endio;
	clone->bi_private = req;
	atomic_inc(&d->lower_pending);
	if (op_is_write(bio_op(bio))) {
		if (bio_sectors(bio))
			bsr_replicate_write(d, req, bio);
		else
			bsr_replicate_flush(d, req);
	}
	submit_bio_noacct(clone);
	bsr_req_put(req);
}

static void bsr_do_write(struct bsr_device *d, struct bsr_backing *ldev, struct bio *bio,
			 u32 first, u32 last)
{
	sector_t s = bio->bi_iter.bi_sector;
	sector_t e = bio_end_sector(bio);

	bsr_bm_set_range(&ldev->bm, READ_ONCE(ldev->slot_mask), s >> BM_SHIFT_SECT,
			 (e - 1) >> BM_SHIFT_SECT);
	bsr_submit_lower(d, ldev, bio, true, first, last);
}

/* Work item: writes that need activity log transactions, in arrival order. */
void bsr_al_work(struct work_struct *w)
{
	struct bsr_device *d = container_of(w, struct bsr_device, al_work);
	struct bio *bio;

	for (;;) {
		struct bsr_backing *ldev = d->ldev;	/* pinned by the bio's local ref */
		u32 first, last;
		int err;

		spin_lock_irq(&d->pending_lock);
		bio = bio_list_pop(&d->pending);
		spin_unlock_irq(&d->pending_lock);
		if (!bio)
			break;
		first = bio->bi_iter.bi_sector >> EXT_SHIFT_SECT;
		last = (bio_end_sector(bio) - 1) >> EXT_SHIFT_SECT;
		err = bsr_al_begin_slow(d, ldev, first, last);
		if (err) {
			bio->bi_status = errno_to_blk_status(err);
			bsr_master_done(d, bio);
			bsr_put_ldev(d);
			continue;
		}
		bsr_do_write(d, ldev, bio, first, last);
	}
}

void bsr_submit_bio(struct bio *bio)
{
	struct bsr_device *d = bio->bi_bdev->bd_disk->private_data;
	struct bsr_backing *ldev;
	u32 first, last;

	bio = bio_split_to_limits(bio);
	if (!bio)
		return;

	atomic_inc(&d->upper_pending);
	if (unlikely(READ_ONCE(d->io_susp)) && bsr_io_susp_queue(d, bio))
		return;
	if (unlikely(!bsr_get_ldev(d))) {
		bio->bi_status = BLK_STS_IOERR;
		bsr_master_done(d, bio);
		return;
	}
	ldev = d->ldev;

	switch (bio_op(bio)) {
	case REQ_OP_READ:
		atomic64_add(bio_sectors(bio), &d->read_sect);
		bsr_submit_lower(d, ldev, bio, false, 0, 0);
		return;
	case REQ_OP_WRITE:
		break;
	default:
		bio->bi_status = BLK_STS_NOTSUPP;
		goto fail;
	}

	if (unlikely(READ_ONCE(d->resource->role) != BSR_ROLE_PRIMARY)) {
		bio->bi_status = BLK_STS_IOERR;
		goto fail;
	}
	if (!bio_sectors(bio)) {
		/* an empty flush */
		if (!READ_ONCE(d->disk_flushes))
			goto fail;
		bsr_submit_lower(d, ldev, bio, false, 0, 0);
		return;
	}
	atomic64_add(bio_sectors(bio), &d->write_sect);
	first = bio->bi_iter.bi_sector >> EXT_SHIFT_SECT;
	last = (bio_end_sector(bio) - 1) >> EXT_SHIFT_SECT;
	if (likely(bsr_al_begin_fast(&ldev->al, first, last))) {
		bsr_do_write(d, ldev, bio, first, last);
		return;
	}
	spin_lock_irq(&d->pending_lock);
	bio_list_add(&d->pending, bio);
	spin_unlock_irq(&d->pending_lock);
	queue_work(bsr_wq, &d->al_work);
	return;

fail:
	bsr_master_done(d, bio);
	bsr_put_ldev(d);
}
