// SPDX-License-Identifier: GPL-2.0-only
/*
 * bsr: the in-memory out-of-sync bitmap.
 *
 * The pages hold the on-disk image: 64-bit little-endian words, interleaved, word w
 * of slot s is word number w * max_peers + s. Pages changed since their last write
 * are marked dirty and written back by bsr_bm_write_range()/bsr_bm_write_all().
 */
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/bitmap.h>

#include "bsr_net.h"

#define WORDS_PER_PAGE (PAGE_SIZE / sizeof(u64))

int bsr_bm_alloc(struct bsr_bitmap *bm, u64 bits, unsigned int max_peers, u64 area_bytes)
{
	u64 bytes;
	unsigned int i;

	memset(bm, 0, sizeof(*bm));
	spin_lock_init(&bm->lock);
	bm->bits = bits;
	bm->words = DIV_ROUND_UP_ULL(bits, 64);
	bm->max_peers = max_peers;
	bytes = bm->words * sizeof(u64) * max_peers;
	if (bytes > area_bytes)
		return -ENOSPC;
	bm->n_pages = DIV_ROUND_UP_ULL(bytes, PAGE_SIZE);
	if (!bm->n_pages)
		bm->n_pages = 1;
	bm->pages = kvcalloc(bm->n_pages, sizeof(struct page *), GFP_KERNEL);
	if (!bm->pages)
		return -ENOMEM;
	bm->dirty = bitmap_zalloc(bm->n_pages, GFP_KERNEL);
	if (!bm->dirty)
		goto fail;
	for (i = 0; i < bm->n_pages; i++) {
		bm->pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!bm->pages[i])
			goto fail;
	}
	return 0;
fail:
	bsr_bm_free(bm);
	return -ENOMEM;
}

void bsr_bm_free(struct bsr_bitmap *bm)
{
	unsigned int i;

	if (bm->pages) {
		for (i = 0; i < bm->n_pages; i++)
			if (bm->pages[i])
				__free_page(bm->pages[i]);
		kvfree(bm->pages);
	}
	bitmap_free(bm->dirty);
	bm->pages = NULL;
	bm->dirty = NULL;
}

/*
 * More bits for a grown device (the device is quiesced). Word w of slot s stays word
 * w * max_peers + s, so the old pages keep their contents; new pages are zero. Every
 * page is marked dirty: the caller writes the whole bitmap (possibly at a new place).
 */
int bsr_bm_grow(struct bsr_bitmap *bm, u64 bits, u64 area_bytes)
{
	u64 words = DIV_ROUND_UP_ULL(bits, 64);
	u64 bytes = words * sizeof(u64) * bm->max_peers;
	unsigned int n = max_t(unsigned int, DIV_ROUND_UP_ULL(bytes, PAGE_SIZE), 1), i;
	unsigned long *dirty, *old_dirty;
	struct page **pages, **old_pages;

	if (bits < bm->bits || bytes > area_bytes)
		return -ENOSPC;
	/* after a shrink (bsr_bm_shrink) the pages of the old size are still there */
	n = max(n, bm->n_pages);
	pages = kvcalloc(n, sizeof(*pages), GFP_KERNEL);
	dirty = bitmap_zalloc(n, GFP_KERNEL);
	if (!pages || !dirty)
		goto nomem;
	for (i = bm->n_pages; i < n; i++) {
		pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!pages[i])
			goto nomem;
	}
	memcpy(pages, bm->pages, bm->n_pages * sizeof(*pages));
	bitmap_set(dirty, 0, n);
	spin_lock_irq(&bm->lock);
	old_pages = bm->pages;
	old_dirty = bm->dirty;
	bm->pages = pages;
	bm->dirty = dirty;
	bm->n_pages = n;
	bm->bits = bits;
	bm->words = words;
	spin_unlock_irq(&bm->lock);
	kvfree(old_pages);
	bitmap_free(old_dirty);
	return 0;
nomem:
	if (pages)
		for (i = bm->n_pages; i < n; i++)
			if (pages[i])
				__free_page(pages[i]);
	kvfree(pages);
	bitmap_free(dirty);
	return -ENOMEM;
}

static inline __le64 *bm_word(struct bsr_bitmap *bm, u64 w, unsigned int slot, u64 *page_nr)
{
	u64 gw = w * bm->max_peers + slot;

	*page_nr = gw / WORDS_PER_PAGE;
	return (__le64 *)page_address(bm->pages[*page_nr]) + (gw % WORDS_PER_PAGE);
}

/*
 * Fewer bits: the device shrank to a smaller peer's size (bsr_receiver.c, only while its
 * data are not worth keeping). The bits past the new end are cleared in every slot, so
 * that neither a resync nor the bitmap exchange reaches beyond the device; the pages stay
 * (a grow finds them) and the changed ones are dirty.
 */
void bsr_bm_shrink(struct bsr_bitmap *bm, u64 bits)
{
	u64 w, page_nr, first_w = bits / 64;
	unsigned int slot;

	if (bits >= bm->bits)
		return;
	spin_lock_irq(&bm->lock);
	for (slot = 0; slot < bm->max_peers; slot++) {
		for (w = first_w; w < bm->words; w++) {
			__le64 *p = bm_word(bm, w, slot, &page_nr);
			u64 v = le64_to_cpu(*p), keep = 0;

			if (w == first_w && (bits % 64))
				keep = (1ULL << (bits % 64)) - 1;
			if (v & ~keep) {
				bm->weight[slot] -= hweight64(v & ~keep);
				*p = cpu_to_le64(v & keep);
				__set_bit(page_nr, bm->dirty);
			}
		}
	}
	bm->bits = bits;
	bm->words = DIV_ROUND_UP_ULL(bits, 64);
	spin_unlock_irq(&bm->lock);
}

/* Set bits first_bit..last_bit (inclusive, 4 KiB blocks) in every slot of slot_mask. */
void bsr_bm_set_range(struct bsr_bitmap *bm, u32 slot_mask, u64 first_bit, u64 last_bit)
{
	unsigned long flags;
	unsigned int slot;
	u64 w, first_w, last_w, page_nr;

	if (!slot_mask || first_bit > last_bit || first_bit >= bm->bits)
		return;
	if (last_bit >= bm->bits)
		last_bit = bm->bits - 1;
	first_w = first_bit / 64;
	last_w = last_bit / 64;

	spin_lock_irqsave(&bm->lock, flags);
	for (slot = 0; slot < bm->max_peers; slot++) {
		if (!(slot_mask & (1U << slot)))
			continue;
		for (w = first_w; w <= last_w; w++) {
			u64 m = ~0ULL, old, val;
			__le64 *p;

			if (w == first_w)
				m &= ~0ULL << (first_bit % 64);
			if (w == last_w && (last_bit % 64) != 63)
				m &= (1ULL << ((last_bit % 64) + 1)) - 1;
			p = bm_word(bm, w, slot, &page_nr);
			old = le64_to_cpu(*p);
			val = old | m;
			if (val != old) {
				*p = cpu_to_le64(val);
				bm->weight[slot] += hweight64(val & ~old);
				__set_bit(page_nr, bm->dirty);
			}
		}
	}
	spin_unlock_irqrestore(&bm->lock, flags);
}

void bsr_bm_clear_slot(struct bsr_bitmap *bm, unsigned int slot)
{
	unsigned long flags;
	u64 w, page_nr;

	if (slot >= bm->max_peers)
		return;
	spin_lock_irqsave(&bm->lock, flags);
	for (w = 0; w < bm->words; w++) {
		__le64 *p = bm_word(bm, w, slot, &page_nr);

		if (*p) {
			*p = 0;
			__set_bit(page_nr, bm->dirty);
		}
	}
	bm->weight[slot] = 0;
	spin_unlock_irqrestore(&bm->lock, flags);
}

/* Recompute the per-slot weights; bits beyond the data size are cleared. */
void bsr_bm_recount(struct bsr_bitmap *bm)
{
	unsigned int slot;
	u64 w, page_nr;

	spin_lock_irq(&bm->lock);
	for (slot = 0; slot < bm->max_peers; slot++) {
		u64 n = 0;

		for (w = 0; w < bm->words; w++) {
			__le64 *p = bm_word(bm, w, slot, &page_nr);
			u64 v = le64_to_cpu(*p);

			if (w == bm->words - 1 && (bm->bits % 64)) {
				u64 keep = (1ULL << (bm->bits % 64)) - 1;

				if (v & ~keep) {
					v &= keep;
					*p = cpu_to_le64(v);
					__set_bit(page_nr, bm->dirty);
				}
			}
			n += hweight64(v);
		}
		bm->weight[slot] = n;
	}
	spin_unlock_irq(&bm->lock);
}

static int bm_io_pages(struct bsr_device *d, struct bsr_backing *ldev, unsigned int first,
		       unsigned int n, blk_opf_t opf)
{
	struct bsr_bitmap *bm = &ldev->bm;
	int err;

	while (n) {
		unsigned int chunk = min_t(unsigned int, n, BIO_MAX_VECS);

		err = bsr_md_io(ldev->md_bdev, ldev->bm_sect + (sector_t)first * (PAGE_SIZE >> 9),
				&bm->pages[first], chunk, opf);
		if (err && op_is_write(opf))
			bsr_md_write_failed(d, "bitmap", err);
		if (err)
			return err;
		if (op_is_write(opf))
			atomic64_inc(&d->bm_writes);
		first += chunk;
		n -= chunk;
	}
	return 0;
}

int bsr_bm_read(struct bsr_device *d, struct bsr_backing *ldev)
{
	int err = bm_io_pages(d, ldev, 0, ldev->bm.n_pages, REQ_OP_READ | REQ_META);

	if (err)
		return err;
	bitmap_zero(ldev->bm.dirty, ldev->bm.n_pages);
	bsr_bm_recount(&ldev->bm);
	return 0;
}

/* Write the dirty pages among pages first..last in runs of contiguous pages. */
static int bm_write_pages(struct bsr_device *d, struct bsr_backing *ldev, unsigned int first,
			  unsigned int last)
{
	struct bsr_bitmap *bm = &ldev->bm;
	blk_opf_t opf = REQ_OP_WRITE | REQ_SYNC | REQ_META;
	unsigned int i = first, run;
	bool wrote = false;
	int err;

	while (i <= last) {
		spin_lock_irq(&bm->lock);
		while (i <= last && !test_bit(i, bm->dirty))
			i++;
		run = 0;
		while (i + run <= last && run < BIO_MAX_VECS && test_bit(i + run, bm->dirty)) {
			__clear_bit(i + run, bm->dirty);
			run++;
		}
		spin_unlock_irq(&bm->lock);
		if (!run)
			break;
		err = bm_io_pages(d, ldev, i, run, opf);
		if (err) {
			spin_lock_irq(&bm->lock);
			bitmap_set(bm->dirty, i, run);
			spin_unlock_irq(&bm->lock);
			return err;
		}
		wrote = true;
		i += run;
	}
	if (wrote && bsr_md_flushes(d))
		return blkdev_issue_flush(ldev->md_bdev);
	return 0;
}

int bsr_bm_write_all(struct bsr_device *d, struct bsr_backing *ldev)
{
	return bm_write_pages(d, ldev, 0, ldev->bm.n_pages - 1);
}

/* Write back the dirty pages holding bits first_bit..last_bit of any slot. */
int bsr_bm_write_range(struct bsr_device *d, struct bsr_backing *ldev, u64 first_bit,
		       u64 last_bit)
{
	struct bsr_bitmap *bm = &ldev->bm;
	u64 first_page, last_page;

	if (first_bit >= bm->bits)
		return 0;
	if (last_bit >= bm->bits)
		last_bit = bm->bits - 1;
	first_page = (first_bit / 64) * bm->max_peers / WORDS_PER_PAGE;
	last_page = ((last_bit / 64) * bm->max_peers + bm->max_peers - 1) / WORDS_PER_PAGE;
	return bm_write_pages(d, ldev, first_page, last_page);
}

/* ---------------------------------------------------------------- replication helpers */

void bsr_bm_clear_range(struct bsr_bitmap *bm, unsigned int slot, u64 first_bit, u64 last_bit)
{
	unsigned long flags;
	u64 w, first_w, last_w, page_nr;

	if (slot >= bm->max_peers || first_bit > last_bit || first_bit >= bm->bits)
		return;
	if (last_bit >= bm->bits)
		last_bit = bm->bits - 1;
	first_w = first_bit / 64;
	last_w = last_bit / 64;
	spin_lock_irqsave(&bm->lock, flags);
	for (w = first_w; w <= last_w; w++) {
		u64 m = ~0ULL, old;
		__le64 *p;

		if (w == first_w)
			m &= ~0ULL << (first_bit % 64);
		if (w == last_w && (last_bit % 64) != 63)
			m &= (1ULL << ((last_bit % 64) + 1)) - 1;
		p = bm_word(bm, w, slot, &page_nr);
		old = le64_to_cpu(*p);
		if (old & m) {
			*p = cpu_to_le64(old & ~m);
			bm->weight[slot] -= hweight64(old & m);
			__set_bit(page_nr, bm->dirty);
		}
	}
	spin_unlock_irqrestore(&bm->lock, flags);
}

bool bsr_bm_test(struct bsr_bitmap *bm, unsigned int slot, u64 bit)
{
	unsigned long flags;
	u64 page_nr;
	bool set;

	if (slot >= bm->max_peers || bit >= bm->bits)
		return false;
	spin_lock_irqsave(&bm->lock, flags);
	set = le64_to_cpu(*bm_word(bm, bit / 64, slot, &page_nr)) & (1ULL << (bit % 64));
	spin_unlock_irqrestore(&bm->lock, flags);
	return set;
}

/* The first set bit >= from in slot, or bm->bits. */
u64 bsr_bm_find_next(struct bsr_bitmap *bm, unsigned int slot, u64 from)
{
	unsigned long flags;
	u64 w, page_nr, found = bm->bits;

	if (slot >= bm->max_peers || from >= bm->bits)
		return bm->bits;
	spin_lock_irqsave(&bm->lock, flags);
	for (w = from / 64; w < bm->words; w++) {
		u64 v = le64_to_cpu(*bm_word(bm, w, slot, &page_nr));

		if (w == from / 64)
			v &= ~0ULL << (from % 64);
		if (v) {
			found = w * 64 + __ffs64(v);
			break;
		}
	}
	spin_unlock_irqrestore(&bm->lock, flags);
	return found < bm->bits ? found : bm->bits;
}

void bsr_bm_get_words(struct bsr_bitmap *bm, unsigned int slot, u64 first_w, u32 n,
		      __le64 *out)
{
	unsigned long flags;
	u64 page_nr;
	u32 i;

	spin_lock_irqsave(&bm->lock, flags);
	for (i = 0; i < n && first_w + i < bm->words; i++)
		out[i] = *bm_word(bm, first_w + i, slot, &page_nr);
	spin_unlock_irqrestore(&bm->lock, flags);
}

void bsr_bm_or_words(struct bsr_bitmap *bm, unsigned int slot, u64 first_w, u32 n,
		     const __le64 *in)
{
	unsigned long flags;
	u64 page_nr;
	u32 i;

	if (slot >= bm->max_peers)
		return;
	spin_lock_irqsave(&bm->lock, flags);
	for (i = 0; i < n && first_w + i < bm->words; i++) {
		__le64 *p = bm_word(bm, first_w + i, slot, &page_nr);
		u64 old = le64_to_cpu(*p), val = old | le64_to_cpu(in[i]);

		if (first_w + i == bm->words - 1 && (bm->bits % 64))
			val &= (1ULL << (bm->bits % 64)) - 1;
		if (val != old) {
			*p = cpu_to_le64(val);
			bm->weight[slot] += hweight64(val) - hweight64(old);
			__set_bit(page_nr, bm->dirty);
		}
	}
	spin_unlock_irqrestore(&bm->lock, flags);
}

void bsr_bm_set_all(struct bsr_bitmap *bm, unsigned int slot)
{
	if (bm->bits)
		bsr_bm_set_range(bm, 1U << slot, 0, bm->bits - 1);
}
