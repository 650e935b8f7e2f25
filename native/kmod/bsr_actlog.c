// SPDX-License-Identifier: GPL-2.0-only
/*
 * bsr: the activity log.
 *
 * A write may only reach the data area when every 4 MiB extent it touches is active,
 * i.e. recorded in a transaction on disk. The active set is an array of nr_slots
 * slots (al-extents); a hash maps extent -> slot, an LRU picks the victim when a new
 * extent needs a slot. Transactions are 4 KiB blocks in a ring of al_stripes *
 * al_stripe_size_4k blocks; each carries the changed slots and a window of 919 slots
 * of the whole array (rotating), so the newest ring entries always describe the full
 * active set. Format: docs/internals.md and the ABI's alTransaction offsets.
 */
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/hash.h>
#include <linux/crc32.h>
#include <linux/sort.h>

#include "bsr_int.h"

/* The slot array and its hash, sized for nr_slots free slots. */
struct al_arrays {
	u32 nr_slots;
	unsigned int hash_bits;
	struct bsr_al_slot *slots;
	struct hlist_head *hash;
};

static int al_arrays_alloc(struct al_arrays *a, u32 nr_slots)
{
	u32 i, buckets = roundup_pow_of_two(max_t(u32, nr_slots, 16));

	a->nr_slots = nr_slots;
	a->hash_bits = ilog2(buckets);
	a->slots = kvcalloc(nr_slots, sizeof(*a->slots), GFP_KERNEL);
	a->hash = kvcalloc(buckets, sizeof(*a->hash), GFP_KERNEL);
	if (!a->slots || !a->hash) {
		kvfree(a->slots);
		kvfree(a->hash);
		return -ENOMEM;
	}
	for (i = 0; i < buckets; i++)
		INIT_HLIST_HEAD(&a->hash[i]);
	for (i = 0; i < nr_slots; i++) {
		a->slots[i].extent = BSR_AL_FREE;
		INIT_HLIST_NODE(&a->slots[i].hash);
	}
	return 0;
}

/* Installs the arrays (al->lock held or the AL unused); the LRU lists every slot. */
static void al_arrays_install(struct bsr_actlog *al, struct al_arrays *a)
{
	u32 i;

	al->nr_slots = a->nr_slots;
	al->hash_bits = a->hash_bits;
	al->slots = a->slots;
	al->hash = a->hash;
	al->used = 0;
	al->ctx_next = 0;
	INIT_LIST_HEAD(&al->lru);
	for (i = 0; i < a->nr_slots; i++)
		list_add_tail(&al->slots[i].lru, &al->lru);
}

/* al-extents as the AL can use it: within the option's range and what the ring can describe. */
u32 bsr_al_nr_slots(u32 al_extents, u32 ring_n)
{
	u32 n = clamp_t(u32, al_extents, T_DISK_CONF_AL_EXTENTS_MIN, T_DISK_CONF_AL_EXTENTS_MAX);

	return ring_n ? min_t(u32, n, BSR_AL_CONTEXT_PER_TR * (ring_n - 1)) : 0;
}

int bsr_al_init(struct bsr_actlog *al, u32 nr_slots, u32 ring_n)
{
	struct al_arrays a;

	memset(al, 0, sizeof(*al));
	spin_lock_init(&al->lock);
	init_waitqueue_head(&al->wq);
	mutex_init(&al->tr_mutex);
	INIT_LIST_HEAD(&al->lru);
	al->ring_n = ring_n;
	al->tr_page = alloc_page(GFP_KERNEL);
	if (!al->tr_page)
		return -ENOMEM;
	if (al_arrays_alloc(&a, nr_slots)) {
		bsr_al_free(al);
		return -ENOMEM;
	}
	al_arrays_install(al, &a);
	return 0;
}

void bsr_al_free(struct bsr_actlog *al)
{
	kvfree(al->slots);
	kvfree(al->hash);
	if (al->tr_page)
		__free_page(al->tr_page);
	al->slots = NULL;
	al->hash = NULL;
	al->tr_page = NULL;
}

static struct bsr_al_slot *al_lookup(struct bsr_actlog *al, u32 extent)
{
	struct bsr_al_slot *s;

	hlist_for_each_entry(s, &al->hash[hash_32(extent, al->hash_bits)], hash)
		if (s->extent == extent)
			return s;
	return NULL;
}

/* Fast path: all extents first..last active and committed: take a reference on each. */
bool bsr_al_begin_fast(struct bsr_actlog *al, u32 first, u32 last)
{
	struct bsr_al_slot *s;
	unsigned long flags;
	u32 e;

	spin_lock_irqsave(&al->lock, flags);
	for (e = first; e <= last; e++) {
		s = al_lookup(al, e);
		if (!s || !s->committed) {
			spin_unlock_irqrestore(&al->lock, flags);
			return false;
		}
	}
	for (e = first; e <= last; e++) {
		s = al_lookup(al, e);
		if (!s->refcnt++)
			al->used++;
		list_move_tail(&s->lru, &al->lru);
	}
	spin_unlock_irqrestore(&al->lock, flags);
	return true;
}

void bsr_al_complete(struct bsr_actlog *al, u32 first, u32 last)
{
	struct bsr_al_slot *s;
	unsigned long flags;
	bool wake = false;
	u32 e;

	spin_lock_irqsave(&al->lock, flags);
	for (e = first; e <= last; e++) {
		s = al_lookup(al, e);
		if (WARN_ON_ONCE(!s || !s->refcnt))
			continue;
		if (--s->refcnt == 0) {
			al->used--;
			wake = true;
		}
	}
	spin_unlock_irqrestore(&al->lock, flags);
	if (wake && wq_has_sleeper(&al->wq))
		wake_up(&al->wq);
}

static sector_t al_tr_sector(struct bsr_backing *ldev, u32 tr_number)
{
	u32 i = tr_number % ldev->al.ring_n;
	u32 stripes = ldev->md.al_stripes;
	u64 block = (u64)(i % stripes) * ldev->md.al_stripe_size_4k + i / stripes;

	return ldev->al_sect + block * (BSR_MD_BLOCK_SIZE >> 9);
}

#define AL_PUT32(buf, off, v) (*(__be32 *)((u8 *)(buf) + (off)) = cpu_to_be32(v))
#define AL_PUT16(buf, off, v) (*(__be16 *)((u8 *)(buf) + (off)) = cpu_to_be16(v))
#define AL_GET32(buf, off) be32_to_cpu(*(const __be32 *)((const u8 *)(buf) + (off)))
#define AL_GET16(buf, off) be16_to_cpu(*(const __be16 *)((const u8 *)(buf) + (off)))

/*
 * Write one transaction (tr_mutex held): updates[] are slot numbers whose new extent is
 * already in al->slots; type UPDATE or INITIALIZED.
 */
static int al_write_tr(struct bsr_device *d, struct bsr_backing *ldev, u16 type,
		       const u32 *upd, unsigned int n_upd)
{
	struct bsr_actlog *al = &ldev->al;
	void *buf = page_address(al->tr_page);
	u32 start = al->ctx_next, ctx_n, i, crc;
	blk_opf_t opf = REQ_OP_WRITE | REQ_SYNC | REQ_META;
	int err;

	memset(buf, 0, BSR_MD_BLOCK_SIZE);
	AL_PUT32(buf, BSR_AL_OFF_MAGIC, BSR_AL_TR_MAGIC);
	AL_PUT32(buf, BSR_AL_OFF_TR_NUMBER, al->tr_number);
	AL_PUT16(buf, BSR_AL_OFF_TRANSACTION_TYPE, type);
	AL_PUT16(buf, BSR_AL_OFF_N_UPDATES, n_upd);
	for (i = 0; i < BSR_AL_UPDATES_PER_TR; i++) {
		u32 slot = i < n_upd ? upd[i] : 0xffff;
		u32 ext = i < n_upd ? al->slots[slot].extent : BSR_AL_FREE;

		AL_PUT16(buf, BSR_AL_OFF_UPDATE_SLOT_NR + 2 * i, slot);
		AL_PUT32(buf, BSR_AL_OFF_UPDATE_EXTENT_NR + 4 * i, ext);
	}
	if (start >= al->nr_slots)
		start = 0;
	ctx_n = min_t(u32, BSR_AL_CONTEXT_PER_TR, al->nr_slots - start);
	AL_PUT16(buf, BSR_AL_OFF_CONTEXT_SIZE, ctx_n);
	AL_PUT16(buf, BSR_AL_OFF_CONTEXT_START_SLOT_NR, start);
	for (i = 0; i < BSR_AL_CONTEXT_PER_TR; i++)
		AL_PUT32(buf, BSR_AL_OFF_CONTEXT + 4 * i,
			 i < ctx_n ? al->slots[start + i].extent : BSR_AL_FREE);
	crc = __crc32c_le(0, buf, BSR_MD_BLOCK_SIZE);
	AL_PUT32(buf, BSR_AL_OFF_CRC32C, crc);

	if (bsr_md_flushes(d))
		opf |= REQ_FUA;
	err = bsr_md_io(ldev->md_bdev, al_tr_sector(ldev, al->tr_number), &al->tr_page, 1, opf);
	if (err) {
		bsr_md_write_failed(d, "activity log", err);
		return err;
	}
	atomic64_inc(&d->al_writes);
	al->tr_number++;
	al->ctx_next = start + ctx_n >= al->nr_slots ? 0 : start + ctx_n;
	return 0;
}

/*
 * al->lock held. Whether slot v may take another extent for a request activating first..want:
 * idle, and free or holding a committed extent the request does not need.
 */
static bool al_victim_ok(const struct bsr_al_slot *v, u32 first, u32 want)
{
	if (v->refcnt)
		return false;
	return v->extent == BSR_AL_FREE ||
	       (v->committed && (v->extent < first || v->extent > want));
}

/* Whether a slot could take an extent for first..last now (the wait of bsr_al_begin_slow). */
static bool al_has_victim(struct bsr_actlog *al, u32 first, u32 last)
{
	struct bsr_al_slot *s;
	bool ret = false;

	spin_lock_irq(&al->lock);
	list_for_each_entry(s, &al->lru, lru) {
		if (al_victim_ok(s, first, last)) {
			ret = true;
			break;
		}
	}
	spin_unlock_irq(&al->lock);
	return ret;
}

/*
 * Extents a sequential writer gets activated beyond its request, in the same transaction:
 * one AL write (with FUA) per AL_STREAM_AHEAD + 1 extents of a stream instead of one each.
 */
#define AL_STREAM_AHEAD 7

/* al->lock held. The last extent to activate for first..last. */
static u32 al_want_last(struct bsr_actlog *al, struct bsr_backing *ldev, u32 first, u32 last)
{
	u64 extents = DIV_ROUND_UP_ULL(ldev->bm.bits, 1U << (BSR_AL_EXT_SHIFT - BSR_BM_BLOCK_SHIFT));
	u64 want = (u64)last + AL_STREAM_AHEAD;

	/* a stream: the extent right before is active; a small AL keeps its slots */
	if (!first || !al_lookup(al, first - 1) || al->nr_slots < 4 * (AL_STREAM_AHEAD + 1))
		return last;
	want = min3(want, extents - 1, (u64)first + BSR_AL_UPDATES_PER_TR - 1);
	return max_t(u64, want, last);
}

/*
 * Slow path (process context, may sleep): make first..last active, writing one
 * transaction for the missing extents (and for a stream the next few), then take a
 * reference on each of first..last.
 */
int bsr_al_begin_slow(struct bsr_device *d, struct bsr_backing *ldev, u32 first, u32 last)
{
	struct bsr_actlog *al = &ldev->al;
	u32 upd[BSR_AL_UPDATES_PER_TR], old_ext[BSR_AL_UPDATES_PER_TR];
	unsigned int n_upd, i;
	struct bsr_al_slot *s;
	bool read_ahead = true;
	u32 e, want;
	int err = 0;

	if (last - first >= BSR_AL_UPDATES_PER_TR || last - first >= al->nr_slots)
		return -EINVAL;

	mutex_lock(&al->tr_mutex);
retry:
	n_upd = 0;
	spin_lock_irq(&al->lock);
	want = read_ahead ? al_want_last(al, ldev, first, last) : last;
	for (e = first; e <= want; e++) {
		if (al_lookup(al, e))
			continue;
		/* victim: least recently used idle slot not needed by this request */
		s = NULL;
		{
			struct bsr_al_slot *v;

			list_for_each_entry(v, &al->lru, lru) {
				if (al_victim_ok(v, first, want)) {
					s = v;
					break;
				}
			}
		}
		if (!s && e > last)
			break;	/* no idle slot for reading ahead: the request's extents are enough */
		if (!s) {
			/* undo the claims of this round and wait for a slot to go idle */
			for (i = 0; i < n_upd; i++) {
				struct bsr_al_slot *u = &al->slots[upd[i]];

				hlist_del_init(&u->hash);
				u->extent = old_ext[i];
				u->committed = true;
				if (u->extent != BSR_AL_FREE)
					hlist_add_head(&u->hash,
						       &al->hash[hash_32(u->extent, al->hash_bits)]);
			}
			spin_unlock_irq(&al->lock);
			if (want > last) {
				/*
				 * The only idle slots may hold this stream's read-ahead extents: the
				 * request's own extents come first (else the wait below returns at
				 * once, round after round).
				 */
				read_ahead = false;
				goto retry;
			}
			/* the extents may wait for their epoch's BARRIER_ACK: ask for it now */
			bsr_close_epochs(d);
			wait_event(al->wq, al_has_victim(al, first, last));
			goto retry;
		}
		old_ext[n_upd] = s->extent;
		upd[n_upd++] = s - al->slots;
		hlist_del_init(&s->hash);
		s->extent = e;
		s->committed = false;
		hlist_add_head(&s->hash, &al->hash[hash_32(e, al->hash_bits)]);
		list_move_tail(&s->lru, &al->lru);
	}
	spin_unlock_irq(&al->lock);

	if (n_upd) {
		/* bits of the leaving extents must be on disk before the slot is reused */
		for (i = 0; i < n_upd; i++) {
			if (old_ext[i] == BSR_AL_FREE)
				continue;
			err = bsr_bm_write_range(d, ldev,
						 (u64)old_ext[i] << (BSR_AL_EXT_SHIFT - BSR_BM_BLOCK_SHIFT),
						 (((u64)old_ext[i] + 1) <<
						  (BSR_AL_EXT_SHIFT - BSR_BM_BLOCK_SHIFT)) - 1);
			if (err)
				break;
		}
		if (!err && !al->updates_off)
			err = al_write_tr(d, ldev, BSR_AL_TR_UPDATE, upd, n_upd);
		spin_lock_irq(&al->lock);
		for (i = 0; i < n_upd; i++) {
			s = &al->slots[upd[i]];
			if (err) {
				/* leave the slot free: the old extent's bits are in the bitmap */
				hlist_del_init(&s->hash);
				s->extent = BSR_AL_FREE;
			}
			s->committed = true;
		}
		spin_unlock_irq(&al->lock);
		if (err) {
			mutex_unlock(&al->tr_mutex);
			return err;
		}
	}

	spin_lock_irq(&al->lock);
	for (e = first; e <= last; e++) {
		s = al_lookup(al, e);
		if (!s->refcnt++)
			al->used++;
	}
	spin_unlock_irq(&al->lock);
	mutex_unlock(&al->tr_mutex);
	return 0;
}

/* An INITIALIZED transaction: on replay it empties the slot array. */
int bsr_al_write_initialized(struct bsr_device *d, struct bsr_backing *ldev)
{
	int err;

	mutex_lock(&ldev->al.tr_mutex);
	ldev->al.ctx_next = 0;
	err = al_write_tr(d, ldev, BSR_AL_TR_INITIALIZED, NULL, 0);
	mutex_unlock(&ldev->al.tr_mutex);
	return err;
}

/* Clean shutdown of the AL (no I/O in flight): bitmap on disk, every slot freed. */
int bsr_al_evict_all(struct bsr_device *d, struct bsr_backing *ldev)
{
	struct bsr_actlog *al = &ldev->al;
	u32 i;
	int err;

	err = bsr_bm_write_all(d, ldev);
	if (err)
		return err;
	spin_lock_irq(&al->lock);
	for (i = 0; i < al->nr_slots; i++) {
		WARN_ON_ONCE(al->slots[i].refcnt);
		hlist_del_init(&al->slots[i].hash);
		al->slots[i].extent = BSR_AL_FREE;
		al->slots[i].committed = false;
	}
	spin_unlock_irq(&al->lock);
	return bsr_al_write_initialized(d, ldev);
}

/*
 * I/O quiesced: waits until the peers retired every write (no extent held), at most
 * timeout_ms. False if some still are.
 */
bool bsr_al_wait_idle(struct bsr_device *d, struct bsr_backing *ldev, unsigned int timeout_ms)
{
	struct bsr_actlog *al = &ldev->al;

	bsr_close_epochs(d);
	return wait_event_timeout(al->wq, !READ_ONCE(al->used), msecs_to_jiffies(timeout_ms));
}

/*
 * A new number of slots at run time. The caller quiesced the device (no write holds
 * or waits for an extent). The old active set is retired as at a clean detach
 * (bitmap written, INITIALIZED transaction), then the superblock records the new
 * al_nr_extents before the first transaction that may use a slot beyond the old
 * number, so a replay after a crash at any point reads every slot it needs.
 */
int bsr_al_resize(struct bsr_device *d, struct bsr_backing *ldev, u32 nr_slots)
{
	struct bsr_actlog *al = &ldev->al;
	u32 old_nr = ldev->md.al_nr_extents;
	struct al_arrays a, old;
	int err;

	if (nr_slots == al->nr_slots)
		return 0;
	if (al_arrays_alloc(&a, nr_slots))
		return -ENOMEM;
	err = bsr_al_evict_all(d, ldev);
	if (!err) {
		ldev->md.al_nr_extents = nr_slots;
		err = bsr_md_write_sb(d, ldev);
		if (err)
			ldev->md.al_nr_extents = old_nr;
	}
	if (err) {
		kvfree(a.slots);
		kvfree(a.hash);
		return err;
	}
	old.slots = al->slots;
	old.hash = al->hash;
	mutex_lock(&al->tr_mutex);
	spin_lock_irq(&al->lock);
	al_arrays_install(al, &a);
	spin_unlock_irq(&al->lock);
	mutex_unlock(&al->tr_mutex);
	kvfree(old.slots);
	kvfree(old.hash);
	bsr_info("%s: activity log resized to %u extents\n", d->disk->disk_name, nr_slots);
	return 0;
}

/*
 * al-updates changed, no extent held (as bsr_al_resize). Off: BSR_MDF_AL_DISABLED is on disk
 * before the first write no transaction records. On: the log on disk is made valid first (the
 * bitmap written, every slot freed, an INITIALIZED transaction), then the flag goes.
 */
int bsr_al_set_updates(struct bsr_device *d, struct bsr_backing *ldev, bool off)
{
	u32 flags = ldev->md.flags;
	int err;

	if (off == ldev->al.updates_off)
		return 0;
	if (!off) {
		err = bsr_al_evict_all(d, ldev);
		if (err)
			return err;
		ldev->md.flags &= ~BSR_MDF_AL_DISABLED;
	} else {
		ldev->md.flags |= BSR_MDF_AL_DISABLED;
	}
	err = bsr_md_write_sb(d, ldev);
	if (err) {
		ldev->md.flags = flags;
		return err;
	}
	ldev->al.updates_off = off;
	bsr_info("%s: activity log updates %s\n", d->disk->disk_name, off ? "off" : "on");
	return 0;
}

struct al_found {
	u32 tr;
	u32 idx;
};

static u32 al_sort_newest;

static int al_cmp(const void *a, const void *b)
{
	s32 da = (s32)(((const struct al_found *)a)->tr - al_sort_newest);
	s32 db = (s32)(((const struct al_found *)b)->tr - al_sort_newest);

	return da < db ? -1 : da > db;
}

static bool al_block_valid(const void *buf)
{
	u8 *b = (u8 *)buf;
	u32 stored, crc;

	if (AL_GET32(b, BSR_AL_OFF_MAGIC) != BSR_AL_TR_MAGIC)
		return false;
	stored = AL_GET32(b, BSR_AL_OFF_CRC32C);
	AL_PUT32(b, BSR_AL_OFF_CRC32C, 0);
	crc = __crc32c_le(0, b, BSR_MD_BLOCK_SIZE);
	AL_PUT32(b, BSR_AL_OFF_CRC32C, stored);
	return crc == stored;
}

/*
 * Scan the ring (config context, AL not in use). Sets the next transaction number.
 * When replay is requested, rebuilds the slot array of the crashed run and sets the
 * bits of every active extent in every slot of ldev->slot_mask; *active gets the
 * number of active extents found.
 */
static int al_scan(struct bsr_device *d, struct bsr_backing *ldev, bool replay, u32 *active)
{
	struct bsr_actlog *al = &ldev->al;
	struct page *page = al->tr_page;
	void *buf = page_address(page);
	u32 ring_n = al->ring_n, nr = ldev->md.al_nr_extents, n_found = 0, i, j;
	struct al_found *found;
	u32 *arr = NULL;
	bool have = false;
	u32 newest = 0;
	u64 data_ext;
	int err = 0;

	*active = 0;
	found = kvcalloc(ring_n, sizeof(*found), GFP_KERNEL);
	if (!found)
		return -ENOMEM;
	for (i = 0; i < ring_n; i++) {
		u32 stripes = ldev->md.al_stripes;
		u64 block = (u64)(i % stripes) * ldev->md.al_stripe_size_4k + i / stripes;

		err = bsr_md_io(ldev->md_bdev, ldev->al_sect + block * 8, &page, 1,
				REQ_OP_READ | REQ_META);
		if (err)
			goto out;
		if (!al_block_valid(buf))
			continue;
		found[n_found].tr = AL_GET32(buf, BSR_AL_OFF_TR_NUMBER);
		found[n_found].idx = i;
		if (!have || (s32)(found[n_found].tr - newest) > 0)
			newest = found[n_found].tr;
		have = true;
		n_found++;
	}
	al->tr_number = have ? newest + 1 : 0;
	if (!replay || !n_found)
		goto out;

	if (nr == 0 || nr > T_DISK_CONF_AL_EXTENTS_MAX) {
		bsr_warn("%s: activity log: implausible al_nr_extents %u, replaying with %u\n",
			 d->disk->disk_name, nr, T_DISK_CONF_AL_EXTENTS_MAX);
		nr = T_DISK_CONF_AL_EXTENTS_MAX;
	}
	arr = kvmalloc_array(nr, sizeof(u32), GFP_KERNEL);
	if (!arr) {
		err = -ENOMEM;
		goto out;
	}
	memset(arr, 0xff, nr * sizeof(u32));
	al_sort_newest = newest;
	sort(found, n_found, sizeof(*found), al_cmp, NULL);
	for (j = 0; j < n_found; j++) {
		u32 stripes = ldev->md.al_stripes, idx = found[j].idx;
		u64 block = (u64)(idx % stripes) * ldev->md.al_stripe_size_4k + idx / stripes;
		u32 start, ctx_n, n_upd;

		err = bsr_md_io(ldev->md_bdev, ldev->al_sect + block * 8, &page, 1,
				REQ_OP_READ | REQ_META);
		if (err)
			goto out;
		if (!al_block_valid(buf))
			continue;
		if (AL_GET16(buf, BSR_AL_OFF_TRANSACTION_TYPE) == BSR_AL_TR_INITIALIZED)
			memset(arr, 0xff, nr * sizeof(u32));
		start = AL_GET16(buf, BSR_AL_OFF_CONTEXT_START_SLOT_NR);
		ctx_n = min_t(u32, AL_GET16(buf, BSR_AL_OFF_CONTEXT_SIZE), BSR_AL_CONTEXT_PER_TR);
		for (i = 0; i < ctx_n && start + i < nr; i++)
			arr[start + i] = AL_GET32(buf, BSR_AL_OFF_CONTEXT + 4 * i);
		n_upd = min_t(u32, AL_GET16(buf, BSR_AL_OFF_N_UPDATES), BSR_AL_UPDATES_PER_TR);
		for (i = 0; i < n_upd; i++) {
			u32 slot = AL_GET16(buf, BSR_AL_OFF_UPDATE_SLOT_NR + 2 * i);

			if (slot < nr)
				arr[slot] = AL_GET32(buf, BSR_AL_OFF_UPDATE_EXTENT_NR + 4 * i);
		}
	}
	data_ext = DIV_ROUND_UP_ULL(ldev->bm.bits, 1ULL << (BSR_AL_EXT_SHIFT - BSR_BM_BLOCK_SHIFT));
	for (i = 0; i < nr; i++) {
		u64 b0;

		if (arr[i] == BSR_AL_FREE || arr[i] >= data_ext)
			continue;
		b0 = (u64)arr[i] << (BSR_AL_EXT_SHIFT - BSR_BM_BLOCK_SHIFT);
		bsr_bm_set_range(&ldev->bm, ldev->slot_mask, b0,
				 b0 + (1ULL << (BSR_AL_EXT_SHIFT - BSR_BM_BLOCK_SHIFT)) - 1);
		(*active)++;
	}
out:
	kvfree(arr);
	kvfree(found);
	return err;
}

int bsr_al_replay(struct bsr_device *d, struct bsr_backing *ldev, u32 *active)
{
	bool replay = !(ldev->md.flags & BSR_MDF_AL_CLEAN);

	return al_scan(d, ldev, replay, active);
}
