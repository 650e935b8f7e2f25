// SPDX-License-Identifier: GPL-2.0-only
/*
 * bsr: v09 meta data (superblock, placement, UUIDs) and attach/detach.
 */
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/random.h>

#include "bsr_net.h"

/* Shared holder for meta devices, so indexed external meta data can be shared. */
static char bsr_md_holder[] = "bsr meta data";

struct md_io_done {
	struct completion done;
	int err;
};

int bsr_md_io(struct block_device *bdev, sector_t sector, struct page **pages,
	      unsigned int n, blk_opf_t opf)
{
	struct bio *bio;
	unsigned int i;
	int err;

	bio = bio_alloc(bdev, n, opf, GFP_NOIO);
	if (!bio)
		return -ENOMEM;
	bio->bi_iter.bi_sector = sector;
	for (i = 0; i < n; i++) {
		if (bio_add_page(bio, pages[i], PAGE_SIZE, 0) != PAGE_SIZE) {
			bio_put(bio);
			return -EIO;
		}
	}
	err = submit_bio_wait(bio);
	bio_put(bio);
	return err;
}

bool bsr_md_flushes(struct bsr_device *d)
{
	return READ_ONCE(d->md_flushes);
}

/* ---------------------------------------------------------------- superblock */

#define SB_U64(b, off) be64_to_cpu(*(const __be64 *)((const u8 *)(b) + (off)))
#define SB_U32(b, off) be32_to_cpu(*(const __be32 *)((const u8 *)(b) + (off)))
#define SB_P64(b, off, v) (*(__be64 *)((u8 *)(b) + (off)) = cpu_to_be64(v))
#define SB_P32(b, off, v) (*(__be32 *)((u8 *)(b) + (off)) = cpu_to_be32(v))

static void sb_decode(const void *b, struct bsr_md *md)
{
	int i;

	md->effective_size = SB_U64(b, BSR_SB_OFF_EFFECTIVE_SIZE);
	md->current_uuid = SB_U64(b, BSR_SB_OFF_CURRENT_UUID);
	md->device_uuid = SB_U64(b, BSR_SB_OFF_DEVICE_UUID);
	md->flags = SB_U32(b, BSR_SB_OFF_FLAGS);
	md->md_size_sect = SB_U32(b, BSR_SB_OFF_MD_SIZE_SECT);
	md->al_offset = (s32)SB_U32(b, BSR_SB_OFF_AL_OFFSET);
	md->al_nr_extents = SB_U32(b, BSR_SB_OFF_AL_NR_EXTENTS);
	md->bm_offset = (s32)SB_U32(b, BSR_SB_OFF_BM_OFFSET);
	md->bm_bytes_per_bit = SB_U32(b, BSR_SB_OFF_BM_BYTES_PER_BIT);
	md->la_peer_max_bio_size = SB_U32(b, BSR_SB_OFF_LA_PEER_MAX_BIO_SIZE);
	md->bm_max_peers = SB_U32(b, BSR_SB_OFF_BM_MAX_PEERS);
	md->node_id = (s32)SB_U32(b, BSR_SB_OFF_NODE_ID);
	md->al_stripes = SB_U32(b, BSR_SB_OFF_AL_STRIPES);
	md->al_stripe_size_4k = SB_U32(b, BSR_SB_OFF_AL_STRIPE_SIZE_4K);
	for (i = 0; i < BSR_MAX_PEERS; i++) {
		const u8 *p = (const u8 *)b + BSR_SB_OFF_PEERS + 32 * i;

		md->peers[i].bitmap_uuid = SB_U64(p, BSR_PEER_OFF_BITMAP_UUID);
		md->peers[i].bitmap_dagtag = SB_U64(p, BSR_PEER_OFF_BITMAP_DAGTAG);
		md->peers[i].flags = SB_U32(p, BSR_PEER_OFF_FLAGS);
		md->peers[i].bitmap_index = (s32)SB_U32(p, BSR_PEER_OFF_BITMAP_INDEX);
	}
	for (i = 0; i < BSR_HISTORY_UUIDS; i++)
		md->history_uuids[i] = SB_U64(b, BSR_SB_OFF_HISTORY_UUIDS + 8 * i);
}

static void sb_encode(void *b, const struct bsr_md *md)
{
	int i;

	SB_P64(b, BSR_SB_OFF_EFFECTIVE_SIZE, md->effective_size);
	SB_P64(b, BSR_SB_OFF_CURRENT_UUID, md->current_uuid);
	SB_P64(b, BSR_SB_OFF_DEVICE_UUID, md->device_uuid);
	SB_P32(b, BSR_SB_OFF_FLAGS, md->flags);
	SB_P32(b, BSR_SB_OFF_MAGIC, BSR_MD_MAGIC_V09);
	SB_P32(b, BSR_SB_OFF_MD_SIZE_SECT, md->md_size_sect);
	SB_P32(b, BSR_SB_OFF_AL_OFFSET, (u32)md->al_offset);
	SB_P32(b, BSR_SB_OFF_AL_NR_EXTENTS, md->al_nr_extents);
	SB_P32(b, BSR_SB_OFF_BM_OFFSET, (u32)md->bm_offset);
	SB_P32(b, BSR_SB_OFF_BM_BYTES_PER_BIT, md->bm_bytes_per_bit);
	SB_P32(b, BSR_SB_OFF_LA_PEER_MAX_BIO_SIZE, md->la_peer_max_bio_size);
	SB_P32(b, BSR_SB_OFF_BM_MAX_PEERS, md->bm_max_peers);
	SB_P32(b, BSR_SB_OFF_NODE_ID, (u32)md->node_id);
	SB_P32(b, BSR_SB_OFF_AL_STRIPES, md->al_stripes);
	SB_P32(b, BSR_SB_OFF_AL_STRIPE_SIZE_4K, md->al_stripe_size_4k);
	for (i = 0; i < BSR_MAX_PEERS; i++) {
		u8 *p = (u8 *)b + BSR_SB_OFF_PEERS + 32 * i;

		SB_P64(p, BSR_PEER_OFF_BITMAP_UUID, md->peers[i].bitmap_uuid);
		SB_P64(p, BSR_PEER_OFF_BITMAP_DAGTAG, md->peers[i].bitmap_dagtag);
		SB_P32(p, BSR_PEER_OFF_FLAGS, md->peers[i].flags);
		SB_P32(p, BSR_PEER_OFF_BITMAP_INDEX, (u32)md->peers[i].bitmap_index);
	}
	for (i = 0; i < BSR_HISTORY_UUIDS; i++)
		SB_P64(b, BSR_SB_OFF_HISTORY_UUIDS + 8 * i, md->history_uuids[i]);
}

int bsr_md_write_sb(struct bsr_device *d, struct bsr_backing *ldev)
{
	blk_opf_t opf = REQ_OP_WRITE | REQ_SYNC | REQ_META;
	int err;

	if (bsr_md_flushes(d))
		opf |= REQ_PREFLUSH | REQ_FUA;
	mutex_lock(&ldev->md_mutex);
	sb_encode(page_address(ldev->sb_page), &ldev->md);
	err = bsr_md_io(ldev->md_bdev, ldev->md_sb_sect, &ldev->sb_page, 1, opf);
	mutex_unlock(&ldev->md_mutex);
	if (err)
		bsr_md_write_failed(d, "superblock", err);
	return err;
}

/* ---------------------------------------------------------------- UUIDs, slots */

/* A data generation this node had: the youngest history entry, unless already there. */
void bsr_history_add(struct bsr_md *md, u64 uuid)
{
	int i;

	uuid &= ~UUID_PRIMARY;
	if (!uuid || uuid == UUID_JUST_CREATED)
		return;
	for (i = 0; i < BSR_HISTORY_UUIDS; i++)
		if ((md->history_uuids[i] & ~UUID_PRIMARY) == uuid)
			return;
	memmove(&md->history_uuids[1], &md->history_uuids[0],
		(BSR_HISTORY_UUIDS - 1) * sizeof(u64));
	md->history_uuids[0] = uuid;
}

/*
 * New current UUID (DRBD convention): the old one becomes the bitmap UUID of every
 * assigned peer slot that has none yet (changes since then are in that bitmap), or goes
 * into the history. With clear_bm the bitmaps and bitmap UUIDs are cleared instead.
 * Caller writes the superblock.
 */
void bsr_uuid_new_current(struct bsr_device *d, bool primary, bool clear_bm)
{
	struct bsr_backing *ldev = d->ldev;
	struct bsr_md *md = &ldev->md;
	u64 old = md->current_uuid, val;
	bool taken = false;
	int i;

	for (i = 0; i < BSR_MAX_PEERS; i++) {
		struct bsr_md_peer *p = &md->peers[i];

		if (p->bitmap_index < 0 || i == md->node_id)
			continue;
		if (clear_bm) {
			bsr_history_add(md, p->bitmap_uuid);
			p->bitmap_uuid = 0;
			bsr_bm_clear_slot(&ldev->bm, p->bitmap_index);
		} else if (!p->bitmap_uuid && old != UUID_JUST_CREATED) {
			p->bitmap_uuid = old & ~UUID_PRIMARY;
			taken = true;
		}
	}
	if (!taken)
		bsr_history_add(md, old & ~UUID_PRIMARY);
	do {
		val = get_random_u64() & ~UUID_PRIMARY;
	} while (val <= UUID_JUST_CREATED);
	md->current_uuid = val | (primary ? UUID_PRIMARY : 0);
}

/* Bitmap slots of peers that are not connected receive the bits of local writes. */
void bsr_update_slot_mask(struct bsr_device *d)
{
	struct bsr_backing *ldev = d->ldev;
	u32 mask = 0;
	int i, idx;

	if (!ldev)
		return;
	/* connection threads call this while del-peer may unlink a connection */
	idx = srcu_read_lock(&bsr_srcu);
	for (i = 0; i < BSR_MAX_PEERS; i++) {
		struct bsr_peer_device *pd = NULL;
		struct bsr_conn *c;
		s32 s = ldev->md.peers[i].bitmap_index;

		if (s < 0 || s >= (s32)ldev->md.bm_max_peers || i == d->resource->node_id)
			continue;
		c = bsr_find_connection(d->resource, i);
		if (c && c->cstate == BSR_CONNECTION_CONNECTED)
			pd = bsr_find_peer_device(c, d->vnr);
		if (pd && bsr_pd_replicating(pd))
			continue;
		mask |= 1U << s;
	}
	srcu_read_unlock(&bsr_srcu, idx);
	WRITE_ONCE(ldev->slot_mask, mask);
}

/* Returns the slot, or -ENOSPC; the caller writes the superblock when it changed. */
int bsr_assign_bitmap_slot(struct bsr_device *d, u32 peer)
{
	struct bsr_md *md = &d->ldev->md;
	u32 used = 0;
	int i, s;

	if (peer >= BSR_MAX_PEERS)
		return -EINVAL;
	if (md->peers[peer].bitmap_index >= 0)
		return md->peers[peer].bitmap_index;
	for (i = 0; i < BSR_MAX_PEERS; i++)
		if (md->peers[i].bitmap_index >= 0 && md->peers[i].bitmap_index < 32)
			used |= 1U << md->peers[i].bitmap_index;
	for (s = 0; s < (int)md->bm_max_peers; s++) {
		if (!(used & (1U << s))) {
			md->peers[peer].bitmap_index = s;
			md->peers[peer].bitmap_uuid = 0;
			md->peers[peer].flags |= BSR_MDF_PEER_DEVICE_SEEN;
			bsr_bm_clear_slot(&d->ldev->bm, s);
			return s;
		}
	}
	return -ENOSPC;
}

/* ---------------------------------------------------------------- attach */

static void ldev_close(struct bsr_backing *ldev)
{
	if (ldev->md_bdev && ldev->md_bdev != ldev->backing_bdev)
		bsr_bdev_close(ldev->md_handle);
	if (ldev->backing_bdev)
		bsr_bdev_close(ldev->backing_handle);
	ldev->md_bdev = NULL;
	ldev->backing_bdev = NULL;
}

static void ldev_free(struct bsr_backing *ldev)
{
	if (!ldev)
		return;
	bsr_al_free(&ldev->al);
	bsr_bm_free(&ldev->bm);
	ldev_close(ldev);
	if (ldev->sb_page)
		__free_page(ldev->sb_page);
	kfree(ldev);
}

#define FAIL(code, fmt, ...) do { \
	snprintf(msg, msglen, fmt, ##__VA_ARGS__); \
	ret = (code); \
	goto fail; \
} while (0)

/* Validates placement and sizes; fills the absolute offsets and data_avail. */
static int md_check_layout(struct bsr_backing *ldev, char *msg, size_t msglen)
{
	struct bsr_md *md = &ldev->md;
	u64 al_bytes, bm_bytes, need, bits, md_dev_sect, data_sect;
	sector_t sb = ldev->md_sb_sect;
	int ret = 0;

	md_dev_sect = bdev_nr_sectors(ldev->md_bdev);
	if (md->bm_bytes_per_bit != BSR_BM_BYTES_PER_BIT)
		FAIL(BSR_RET_MD_INVALID, "meta data: bm_bytes_per_bit is %u, only %u is supported",
		     md->bm_bytes_per_bit, BSR_BM_BYTES_PER_BIT);
	if (md->bm_max_peers < 1 || md->bm_max_peers > BSR_MAX_PEERS)
		FAIL(BSR_RET_MD_INVALID, "meta data: bm_max_peers %u out of range 1..%u",
		     md->bm_max_peers, BSR_MAX_PEERS);
	if (md->al_stripes < 1 || md->al_stripe_size_4k < 1 ||
	    (u64)md->al_stripes * md->al_stripe_size_4k > 8192)
		FAIL(BSR_RET_MD_INVALID, "meta data: bad AL geometry (%u stripes of %u x 4 KiB)",
		     md->al_stripes, md->al_stripe_size_4k);
	if (md->node_id < -1 || md->node_id >= BSR_MAX_PEERS)
		FAIL(BSR_RET_MD_INVALID, "meta data: node_id %d out of range", md->node_id);
	al_bytes = (u64)md->al_stripes * md->al_stripe_size_4k * BSR_MD_BLOCK_SIZE;

	if (ldev->md_idx == -1) {
		if (md->al_offset != -(s32)(al_bytes >> 9))
			FAIL(BSR_RET_MD_INVALID, "meta data: al_offset %d, expected %d for internal meta data",
			     md->al_offset, -(s32)(al_bytes >> 9));
		if (md->bm_offset >= md->al_offset || md->bm_offset < -(s32)min_t(u64, sb, S32_MAX))
			FAIL(BSR_RET_MD_INVALID, "meta data: bm_offset %d out of range", md->bm_offset);
		bm_bytes = (u64)(md->al_offset - md->bm_offset) << 9;
		if ((u64)md->md_size_sect != (BSR_MD_BLOCK_SIZE + al_bytes + bm_bytes) >> 9)
			FAIL(BSR_RET_MD_INVALID, "meta data: md_size_sect %u does not match the layout (%llu)",
			     md->md_size_sect, (BSR_MD_BLOCK_SIZE + al_bytes + bm_bytes) >> 9);
		ldev->al_sect = sb + md->al_offset;
		ldev->bm_sect = sb + md->bm_offset;
		data_sect = ldev->bm_sect;
	} else {
		if (md->al_offset != 8)
			FAIL(BSR_RET_MD_INVALID, "meta data: al_offset %d, expected 8 for external meta data",
			     md->al_offset);
		if (md->bm_offset != 8 + (s32)(al_bytes >> 9))
			FAIL(BSR_RET_MD_INVALID, "meta data: bm_offset %d, expected %d",
			     md->bm_offset, 8 + (s32)(al_bytes >> 9));
		if (ldev->md_idx >= 0 && md->md_size_sect != (BSR_RS_EXTENT_SIZE >> 9))
			FAIL(BSR_RET_MD_INVALID, "meta data: md_size_sect %u, expected %u for indexed meta data",
			     md->md_size_sect, BSR_RS_EXTENT_SIZE >> 9);
		if (sb + md->md_size_sect > md_dev_sect)
			FAIL(BSR_RET_MD_INVALID, "meta data: md_size_sect %u exceeds the meta device",
			     md->md_size_sect);
		if (((u64)md->md_size_sect << 9) < BSR_MD_BLOCK_SIZE + al_bytes + BSR_MD_BLOCK_SIZE)
			FAIL(BSR_RET_MD_INVALID, "meta data: md_size_sect %u too small", md->md_size_sect);
		bm_bytes = ((u64)md->md_size_sect << 9) - BSR_MD_BLOCK_SIZE - al_bytes;
		ldev->al_sect = sb + md->al_offset;
		ldev->bm_sect = sb + md->bm_offset;
		/*
		 * All of the lower device, also a partial last 4 KiB block: its bit covers the
		 * sectors there are (a resync reads and writes those only), as DRBD does.
		 */
		data_sect = bdev_nr_sectors(ldev->backing_bdev);
	}
	bits = DIV_ROUND_UP_ULL(data_sect, 8);
	need = DIV_ROUND_UP_ULL(bits, 64) * 8 * md->bm_max_peers;
	if (need > bm_bytes)
		FAIL(BSR_RET_MD_INVALID,
		     "meta data: the bitmap (%llu bytes) does not cover %llu sectors of data for %u peers (needs %llu bytes)",
		     bm_bytes, data_sect, md->bm_max_peers, need);
	ldev->bm_area_bytes = bm_bytes;
	ldev->data_avail = data_sect;
	return 0;
fail:
	return ret;
}

int bsr_attach(struct bsr_device *d, const char *backing, const char *meta, s32 idx,
	       char *msg, size_t msglen)
{
	struct bsr_resource *r = d->resource;
	struct bsr_backing *ldev;
	struct block_device *bdev;
	u64 size, want, dev_sect;
	u32 nr_slots, ring_n, active = 0;
	bool dirty_md = false;
	struct bsr_conn *c;
	int ret = 0, err;

	ldev = kzalloc(sizeof(*ldev), GFP_KERNEL);
	if (!ldev)
		return BSR_RET_NO_MEM;
	mutex_init(&ldev->md_mutex);
	strscpy(ldev->backing_path, backing, sizeof(ldev->backing_path));
	strscpy(ldev->meta_path, meta, sizeof(ldev->meta_path));
	ldev->md_idx = idx;
	ldev->sb_page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!ldev->sb_page)
		FAIL(BSR_RET_NO_MEM, "out of memory");

	if (idx < -2)
		FAIL(BSR_RET_INVALID_REQUEST, "invalid meta data index %d", idx);

	bdev = bsr_bdev_open(backing, d, &ldev->backing_handle);
	if (IS_ERR(bdev))
		FAIL(BSR_RET_NO_DISK, "cannot open backing device %s: error %ld%s", backing,
		     PTR_ERR(bdev), PTR_ERR(bdev) == -EBUSY ? " (in use)" : "");
	ldev->backing_bdev = bdev;

	if (idx == -1) {
		if (strcmp(meta, backing) && strcmp(meta, "internal"))
			FAIL(BSR_RET_INVALID_REQUEST,
			     "internal meta data lives on the backing device, not on %s", meta);
		ldev->md_bdev = bdev;
	} else {
		bdev = bsr_bdev_open(meta, bsr_md_holder, &ldev->md_handle);
		if (IS_ERR(bdev))
			FAIL(BSR_RET_NO_DISK, "cannot open meta device %s: error %ld%s", meta,
			     PTR_ERR(bdev), PTR_ERR(bdev) == -EBUSY ? " (in use)" : "");
		ldev->md_bdev = bdev;
	}

	dev_sect = bdev_nr_sectors(ldev->md_bdev);
	if (idx == -1) {
		if (dev_sect < 2 * (BSR_MD_BLOCK_SIZE >> 9))
			FAIL(BSR_RET_DISK_TOO_SMALL, "%s is too small for meta data", backing);
		ldev->md_sb_sect = round_down(dev_sect, 8) - 8;
	} else if (idx == -2) {
		ldev->md_sb_sect = 0;
	} else {
		if ((u64)(idx + 1) * (BSR_RS_EXTENT_SIZE >> 9) > dev_sect)
			FAIL(BSR_RET_DISK_TOO_SMALL,
			     "meta device %s (%llu sectors) has no 128 MiB slot %d", meta, dev_sect, idx);
		ldev->md_sb_sect = (sector_t)idx * (BSR_RS_EXTENT_SIZE >> 9);
	}

	err = bsr_md_io(ldev->md_bdev, ldev->md_sb_sect, &ldev->sb_page, 1, REQ_OP_READ | REQ_META);
	if (err)
		FAIL(BSR_RET_IO_ERROR, "reading the superblock of %s at sector %llu failed: %d",
		     meta, (u64)ldev->md_sb_sect, err);
	if (SB_U32(page_address(ldev->sb_page), BSR_SB_OFF_MAGIC) != BSR_MD_MAGIC_V09)
		FAIL(BSR_RET_MD_INVALID,
		     "no v09 meta data found on %s (index %d): magic 0x%08x, expected 0x%08x; run create-md",
		     meta, idx, SB_U32(page_address(ldev->sb_page), BSR_SB_OFF_MAGIC),
		     BSR_MD_MAGIC_V09);
	sb_decode(page_address(ldev->sb_page), &ldev->md);

	ret = md_check_layout(ldev, msg, msglen);
	if (ret)
		goto fail;

	if (ldev->md.node_id != -1 && ldev->md.node_id != (s32)r->node_id)
		FAIL(BSR_RET_NODE_ID_INVALID,
		     "the meta data belongs to node-id %d, this resource is node-id %u",
		     ldev->md.node_id, r->node_id);

	/* size: disk-options size (sectors) if given, else the whole data area */
	want = bsr_conf(&d->disk_conf, T_DISK_CONF_SIZE);
	if (want > ldev->data_avail)
		FAIL(BSR_RET_DISK_TOO_SMALL,
		     "requested size %llu sectors is larger than the %llu sectors available", want,
		     (u64)ldev->data_avail);
	if (ldev->md.effective_size > ldev->data_avail)
		FAIL(BSR_RET_SIZE_MISMATCH,
		     "meta data says the device had %llu sectors, but only %llu sectors are available on %s: wrong device or meta data?",
		     ldev->md.effective_size, (u64)ldev->data_avail, backing);
	size = want ? want : ldev->data_avail;
	if (!size)
		FAIL(BSR_RET_DISK_TOO_SMALL, "no room for data on %s", backing);

	err = bsr_bm_alloc(&ldev->bm, DIV_ROUND_UP_ULL(size, 8), ldev->md.bm_max_peers,
			   ldev->bm_area_bytes);
	if (err)
		FAIL(err == -ENOMEM ? BSR_RET_NO_MEM : BSR_RET_MD_INVALID,
		     "cannot set up the bitmap: %d", err);
	err = bsr_bm_read(d, ldev);
	if (err)
		FAIL(BSR_RET_IO_ERROR, "reading the bitmap failed: %d", err);

	/* the AL */
	ring_n = ldev->md.al_stripes * ldev->md.al_stripe_size_4k;
	nr_slots = bsr_al_nr_slots(bsr_conf(&d->disk_conf, T_DISK_CONF_AL_EXTENTS), ring_n);
	if (!nr_slots)
		FAIL(BSR_RET_MD_INVALID, "the activity log ring (%u blocks) is too small", ring_n);
	err = bsr_al_init(&ldev->al, nr_slots, ring_n);
	if (err)
		FAIL(BSR_RET_NO_MEM, "out of memory for the activity log");

	/* bitmap slots for the peers already configured */
	d->ldev = ldev;		/* not visible to I/O yet: disk state is still Diskless */
	list_for_each_entry(c, &r->connections, res_list) {
		if (ldev->md.peers[c->peer_node_id].bitmap_index >= 0)
			continue;
		if (bsr_assign_bitmap_slot(d, c->peer_node_id) < 0)
			bsr_warn("%s: no free bitmap slot for peer node-id %u\n",
				 d->disk->disk_name, c->peer_node_id);
		else
			dirty_md = true;
	}
	bsr_update_slot_mask(d);

	err = bsr_al_replay(d, ldev, &active);
	if (err)
		FAIL(BSR_RET_IO_ERROR, "reading the activity log failed: %d", err);
	if (!(ldev->md.flags & BSR_MDF_AL_CLEAN) && (ldev->md.flags & BSR_MDF_AL_DISABLED)) {
		/* al-updates no: the activity log on disk does not say where writes were */
		bsr_bm_set_range(&ldev->bm, ldev->slot_mask, 0, ldev->bm.bits - 1);
		bsr_warn("%s: stopped uncleanly with al-updates no: every block marked out of sync\n",
			 d->disk->disk_name);
	}
	if (!(ldev->md.flags & BSR_MDF_AL_CLEAN)) {
		bsr_info("%s: activity log replayed: %u active extents marked out of sync\n",
			 d->disk->disk_name, active);
		err = bsr_bm_write_all(d, ldev);
		if (err)
			FAIL(BSR_RET_IO_ERROR, "writing the bitmap failed: %d", err);
	}
	err = bsr_al_write_initialized(d, ldev);
	if (err)
		FAIL(BSR_RET_IO_ERROR, "writing the activity log failed: %d", err);

	if (ldev->md.flags & BSR_MDF_PRIMARY_IND)
		ldev->md.flags |= BSR_MDF_CRASHED_PRIMARY;
	ldev->md.flags &= ~(BSR_MDF_AL_CLEAN | BSR_MDF_PRIMARY_IND | BSR_MDF_AL_DISABLED);
	ldev->al.updates_off = !bsr_conf(&d->disk_conf, T_DISK_CONF_AL_UPDATES);
	if (ldev->al.updates_off)
		ldev->md.flags |= BSR_MDF_AL_DISABLED;
	if (r->role == BSR_ROLE_PRIMARY)
		ldev->md.flags |= BSR_MDF_PRIMARY_IND;
	ldev->md.node_id = r->node_id;
	ldev->md.al_nr_extents = nr_slots;
	ldev->md.effective_size = size;
	(void)dirty_md;
	err = bsr_md_write_sb(d, ldev);
	if (err)
		FAIL(BSR_RET_IO_ERROR, "writing the superblock failed: %d", err);

	/* expose */
	bsr_update_block_size(d, bdev_logical_block_size(ldev->backing_bdev));
	err = bsr_queue_set_io_geometry(d->disk->queue,
					bdev_physical_block_size(ldev->backing_bdev),
					bdev_io_min(ldev->backing_bdev),
					bdev_io_opt(ldev->backing_bdev));
	if (err)
		bsr_warn("%s: the backing disk's I/O geometry was refused: %d\n",
			 d->disk->disk_name, err);
	set_capacity_and_notify(d->disk, size);
	atomic_set(&d->io_errors, 0);	/* max-passthrough-count counts per attach */
	bsr_set_disk_state(d, bsr_disk_state_from_md(&ldev->md));
	bsr_info("%s: attached to %s (meta %s index %d): %llu sectors, disk %s\n",
		 d->disk->disk_name, backing, meta, idx, size, bsr_disk_name(d->disk_state));
	if (bsr_nod_end(d, false)) {
		bsr_info("%s: data accessible again: the held I/O goes on\n", d->disk->disk_name);
		bsr_notify_resource(r, BSR_NOTIFY_CHANGE);
	}
	return BSR_RET_NO_ERROR;

fail:
	d->ldev = NULL;
	ldev_free(ldev);
	return ret;
}

/*
 * Caller checked the role (or the disk failed); may sleep until in-flight I/O is done.
 * After a forced detach (disk Failed) this finishes it once the lower device returned its
 * requests. The device keeps its size, so that I/O to a diskless device fails with EIO
 * instead of ending at sector 0.
 */
void bsr_detach(struct bsr_device *d)
{
	struct bsr_backing *ldev = d->ldev;
	bool failed = d->disk_state == BSR_DISK_FAILED;

	if (!ldev)
		return;
	if (d->disk_state != BSR_DISK_FAILED)
		bsr_set_disk_state(d, BSR_DISK_DETACHING);
	/* writes the peers have not retired hold the disk: ask for their acks now */
	bsr_close_epochs(d);
	wait_event(d->misc_wait, atomic_read(&d->local_cnt) == 0);
	flush_work(&d->al_work);

	if (failed) {
		/* the activity log stays unclean: the next attach replays it */
		bsr_err("%s: detaching a failed disk, meta data not updated\n",
			d->disk->disk_name);
	} else if (!bsr_al_evict_all(d, ldev)) {
		ldev->md.flags |= BSR_MDF_AL_CLEAN;
		ldev->md.flags &= ~BSR_MDF_PRIMARY_IND;
		bsr_md_write_sb(d, ldev);
	} else {
		bsr_err("%s: detaching without a clean activity log\n", d->disk->disk_name);
	}

	d->ldev = NULL;
	ldev_free(ldev);
	bsr_set_disk_state(d, BSR_DISK_DISKLESS);
	bsr_info("%s: detached\n", d->disk->disk_name);
	if (bsr_nod_suspend(d, NULL)) {
		bsr_warn("%s: no data accessible: I/O suspended until a disk is attached or resume-io\n",
			 d->disk->disk_name);
		bsr_notify_resource(d->resource, BSR_NOTIFY_CHANGE);
	}
}

/*
 * detach --force: the disk is Failed at once, so new requests fail with EIO, and so do
 * the writes still waiting for an activity log transaction. Requests the lower device
 * holds complete with EIO whenever it returns them (completing them earlier would let
 * a late DMA hit memory the submitter already reused); bsr_detach() then releases the
 * device. Returns without waiting for the lower device.
 */
void bsr_detach_force(struct bsr_device *d)
{
	if (!d->ldev || d->disk_state == BSR_DISK_FAILED)
		return;
	bsr_set_disk_state(d, BSR_DISK_FAILED);
	bsr_fail_waiting_writes(d);
	bsr_warn("%s: forced detach, %d requests still at the lower device\n",
		 d->disk->disk_name, atomic_read(&d->local_cnt));
	if (!atomic_read(&d->local_cnt))
		bsr_detach(d);
}

/* ---------------------------------------------------------------- resize */

/* Bitmap bytes (whole 4 KiB blocks) covering data_sect sectors for max_peers slots. */
static u64 md_bm_bytes(u64 data_sect, u32 max_peers)
{
	u64 words = DIV_ROUND_UP_ULL(DIV_ROUND_UP_ULL(data_sect, 8), 64);

	return round_up(words * 8 * max_peers, BSR_MD_BLOCK_SIZE);
}

/* Data sectors a bitmap area of bm_bytes covers for max_peers slots. */
static u64 md_bm_covers(u64 bm_bytes, u32 max_peers)
{
	return div_u64(bm_bytes, 8 * max_peers) * 64 * 8;
}

/* The bitmap slots of every peer: a grown area is out of sync for all of them. */
static u32 md_assigned_slots(struct bsr_device *d)
{
	struct bsr_md *md = &d->ldev->md;
	u32 mask = 0;
	int i;

	for (i = 0; i < BSR_MAX_PEERS; i++) {
		s32 s = md->peers[i].bitmap_index;

		if (s >= 0 && s < (s32)md->bm_max_peers && i != md->node_id)
			mask |= 1U << s;
	}
	return mask;
}

/*
 * Online grow after the lower device grew. Internal meta data moves to the new end of
 * the device as bsrmeta check-resize moves it: with I/O quiesced and the AL retired,
 * the grown bitmap and a fresh AL are written at their new places, then the superblock
 * there (the commit point: before it the old meta data is intact, the new areas lie
 * above the old superblock), then the old superblock, now in the data area, is zeroed.
 * The new area is out of sync for every peer unless assume_clean. The caller made sure
 * no peer is connected (the size is not negotiated yet).
 */
int bsr_resize(struct bsr_device *d, u64 want, bool assume_clean, char *msg, size_t msglen)
{
	struct bsr_backing *ldev = d->ldev;
	struct bsr_md *md = &ldev->md;
	u64 al_sects = (u64)md->al_stripes * md->al_stripe_size_4k * (BSR_MD_BLOCK_SIZE >> 9);
	u64 old_size = get_capacity(d->disk), bm_bytes = ldev->bm_area_bytes, avail, size;
	sector_t sb = ldev->md_sb_sect, al = ldev->al_sect, bm = ldev->bm_sect;
	sector_t old_sb = ldev->md_sb_sect;
	bool move = ldev->md_idx == -1;
	int ret = 0, err;

	if (move) {
		u64 dev_sect = bdev_nr_sectors(ldev->backing_bdev);

		sb = round_down(dev_sect, 8) - 8;
		al = sb - al_sects;
		/* the smallest bitmap that covers the data in front of it */
		bm_bytes = md_bm_bytes(al, md->bm_max_peers);
		while (bm_bytes > BSR_MD_BLOCK_SIZE &&
		       bm_bytes - BSR_MD_BLOCK_SIZE >=
		       md_bm_bytes(al - ((bm_bytes - BSR_MD_BLOCK_SIZE) >> 9), md->bm_max_peers))
			bm_bytes -= BSR_MD_BLOCK_SIZE;
		bm = al - (bm_bytes >> 9);
		avail = bm;
		if (sb != old_sb && bm < old_sb + 8)
			FAIL(BSR_RET_DISK_TOO_SMALL,
			     "the lower device grew by too little to move the internal meta data above the old one (%llu more KiB needed)",
			     (u64)(old_sb + 8 - bm) / 2);
	} else {
		avail = min_t(u64, bdev_nr_sectors(ldev->backing_bdev),
			      md_bm_covers(bm_bytes, md->bm_max_peers));
	}
	size = want ? want : avail;
	if (size > avail)
		FAIL(BSR_RET_DISK_TOO_SMALL, "%llu sectors requested, the lower device offers %llu",
		     size, avail);
	if (size < old_size)
		FAIL(BSR_RET_INVALID_REQUEST, "shrinking (%llu to %llu sectors) is not supported",
		     old_size, size);
	if (size == old_size && sb == old_sb) {
		snprintf(msg, msglen, "the size stays %llu sectors", size);
		return BSR_RET_NO_ERROR;
	}
	if (bsr_io_quiesce(d, 10000))
		FAIL(BSR_RET_BUSY, "I/O did not pause within 10 s");
	err = bsr_al_evict_all(d, ldev);
	if (err) {
		bsr_io_resume(d);
		FAIL(BSR_RET_IO_ERROR, "retiring the activity log failed: %d", err);
	}
	err = bsr_bm_grow(&ldev->bm, DIV_ROUND_UP_ULL(size, 8), bm_bytes);
	if (err) {
		bsr_io_resume(d);
		FAIL(err == -ENOMEM ? BSR_RET_NO_MEM : BSR_RET_DISK_TOO_SMALL,
		     "growing the bitmap failed: %d", err);
	}
	if (!assume_clean)
		bsr_bm_set_range(&ldev->bm, md_assigned_slots(d), old_size >> 3,
				 ldev->bm.bits - 1);
	if (move) {
		ldev->md_sb_sect = sb;
		ldev->al_sect = al;
		ldev->bm_sect = bm;
		ldev->bm_area_bytes = bm_bytes;
		md->md_size_sect = (BSR_MD_BLOCK_SIZE + (al_sects << 9) + bm_bytes) >> 9;
		md->bm_offset = -(s32)(((al_sects << 9) + bm_bytes) >> 9);
		/* no stale transaction of an earlier life of these blocks may look valid */
		err = blkdev_issue_zeroout(ldev->md_bdev, al, al_sects, GFP_NOIO, 0);
	}
	ldev->data_avail = avail;
	md->effective_size = size;
	if (!err)
		err = bsr_bm_write_all(d, ldev);
	if (!err)
		err = bsr_al_write_initialized(d, ldev);
	if (!err)
		err = bsr_md_write_sb(d, ldev);
	if (!err && move && old_sb + 8 <= bm)
		err = blkdev_issue_zeroout(ldev->md_bdev, old_sb, 8, GFP_NOIO, 0);
	if (err) {
		/* the meta data is half moved: the disk cannot be trusted any more */
		bsr_io_resume(d);
		bsr_detach_force(d);
		FAIL(BSR_RET_IO_ERROR, "writing the meta data of the grown device failed (%d): detached",
		     err);
	}
	set_capacity_and_notify(d->disk, size);
	bsr_io_resume(d);
	bsr_info("%s: resized from %llu to %llu sectors%s\n", d->disk->disk_name, old_size, size,
		 move ? ", internal meta data moved" : "");
	bsr_notify_device(d, BSR_NOTIFY_CHANGE);
	return BSR_RET_NO_ERROR;
fail:
	return ret;
}
