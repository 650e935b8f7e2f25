/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bsr: the kernel API differences the module cares about, in one place.
 * Built and tested against Debian 12's kernels: 6.1 and 6.12. Kernels 6.5 to 6.10 changed the
 * block device API step by step in between and are refused rather than built untested.
 */
#ifndef BSR_COMPAT_H
#define BSR_COMPAT_H

#include <linux/version.h>
#include <linux/blkdev.h>
#include <linux/net.h>
#include <net/genetlink.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/uio.h>

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0) && LINUX_VERSION_CODE < KERNEL_VERSION(6, 11, 0)
#error "bsr: kernels 6.5 to 6.10 are not supported (built and tested: 6.1 and 6.12)"
#endif

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
/* block_device_operations.open/release take fmode_t before 6.5 */
#define BSR_OPEN_ARGS struct block_device *bdev, fmode_t mode
#define BSR_OPEN_DISK (bdev->bd_disk)
#define BSR_OPEN_WRITE (mode & FMODE_WRITE)
#define BSR_RELEASE_ARGS struct gendisk *gd, fmode_t mode
#define BSR_OPEN_COUNTS_WRITER BSR_OPEN_WRITE
#define BSR_RELEASE_WRITE (mode & FMODE_WRITE)

/* Whether someone has the device open for writing: counted in open and release. */
static inline bool bsr_disk_held_for_writing(struct gendisk *disk, int open_rw_cnt)
{
	return open_rw_cnt > 0;
}

typedef struct block_device *bsr_bdev_handle_t;

static inline struct block_device *bsr_bdev_open(const char *path, void *holder,
						 bsr_bdev_handle_t *handle)
{
	struct block_device *bdev;

	bdev = blkdev_get_by_path(path, FMODE_READ | FMODE_WRITE | FMODE_EXCL, holder);
	*handle = bdev;
	return bdev;
}

static inline void bsr_bdev_close(bsr_bdev_handle_t handle)
{
	blkdev_put(handle, FMODE_READ | FMODE_WRITE | FMODE_EXCL);
}
#else
#define BSR_OPEN_ARGS struct gendisk *gd, blk_mode_t mode
#define BSR_OPEN_DISK (gd)
#define BSR_OPEN_WRITE (mode & BLK_OPEN_WRITE)
#define BSR_RELEASE_ARGS struct gendisk *gd
/*
 * Since 6.5 release() no longer says how the closing opener had opened, so writers cannot
 * be counted. The writer that matters for a demotion is a mounted file system, which holds
 * the disk exclusively: the block layer records that holder.
 */
#define BSR_OPEN_COUNTS_WRITER false
#define BSR_RELEASE_WRITE false

static inline bool bsr_disk_held_for_writing(struct gendisk *disk, int open_rw_cnt)
{
	return READ_ONCE(disk->part0->bd_holder) != NULL;
}

typedef struct file *bsr_bdev_handle_t;

static inline struct block_device *bsr_bdev_open(const char *path, void *holder,
						 bsr_bdev_handle_t *handle)
{
	struct file *f;

	f = bdev_file_open_by_path(path, BLK_OPEN_READ | BLK_OPEN_WRITE, holder, NULL);
	if (IS_ERR(f))
		return ERR_CAST(f);
	*handle = f;
	return file_bdev(f);
}

/* bdev_fput gives up the exclusive claim at once: a re-attach right after detach works */
static inline void bsr_bdev_close(bsr_bdev_handle_t handle)
{
	bdev_fput(handle);
}
#endif

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
static inline int bsr_queue_set_logical_block_size(struct request_queue *q, unsigned int size)
{
	blk_queue_logical_block_size(q, size);
	return 0;
}

static inline int bsr_queue_set_io_geometry(struct request_queue *q, unsigned int physical,
					    unsigned int io_min, unsigned int io_opt)
{
	blk_queue_physical_block_size(q, physical);
	blk_queue_io_min(q, io_min);
	blk_queue_io_opt(q, io_opt);
	return 0;
}
#else
/* Since 6.9 (6.11: with the features) limits change as a whole, validated by the block layer. */
static inline int bsr_queue_set_logical_block_size(struct request_queue *q, unsigned int size)
{
	struct queue_limits lim = queue_limits_start_update(q);

	lim.logical_block_size = size;
	return queue_limits_commit_update(q, &lim);
}

static inline int bsr_queue_set_io_geometry(struct request_queue *q, unsigned int physical,
					    unsigned int io_min, unsigned int io_opt)
{
	struct queue_limits lim = queue_limits_start_update(q);

	lim.physical_block_size = physical;
	lim.io_min = io_min;
	lim.io_opt = io_opt;
	return queue_limits_commit_update(q, &lim);
}
#endif

/*
 * The disk of a new device, with the limits bsr sets: 512-byte logical blocks until a backing
 * disk or peer needs more, requests up to max_hw_sectors, a volatile write cache with FUA
 * (flushes must reach the peers' disks), no rotational delays, and stable pages (see the
 * caller). NULL or ERR_PTR on failure, as the kernel returns it.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
static inline struct gendisk *bsr_alloc_disk(unsigned int max_hw_sectors)
{
	struct gendisk *disk = blk_alloc_disk(NUMA_NO_NODE);

	if (!disk)
		return ERR_PTR(-ENOMEM);
	blk_queue_logical_block_size(disk->queue, 512);
	blk_queue_max_hw_sectors(disk->queue, max_hw_sectors);
	blk_queue_max_segments(disk->queue, USHRT_MAX);
	blk_queue_max_segment_size(disk->queue, UINT_MAX);
	blk_queue_write_cache(disk->queue, true, true);
	blk_queue_flag_set(QUEUE_FLAG_NONROT, disk->queue);
	blk_queue_flag_set(QUEUE_FLAG_STABLE_WRITES, disk->queue);
	return disk;
}
#else
static inline struct gendisk *bsr_alloc_disk(unsigned int max_hw_sectors)
{
	struct queue_limits lim = {
		.logical_block_size = 512,
		.max_hw_sectors = max_hw_sectors,
		.max_segments = USHRT_MAX,
		.max_segment_size = UINT_MAX,
		/* no BLK_FEAT_ROTATIONAL: non-rotational */
		.features = BLK_FEAT_WRITE_CACHE | BLK_FEAT_FUA | BLK_FEAT_STABLE_WRITES,
	};

	return blk_alloc_disk(&lim, NUMA_NO_NODE);
}
#endif

/* The page pool's shrinker, allocated by the kernel since 6.7. */
static inline struct shrinker *bsr_shrinker_create(const char *name,
	unsigned long (*count)(struct shrinker *, struct shrink_control *),
	unsigned long (*scan)(struct shrinker *, struct shrink_control *))
{
	struct shrinker *s;

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	s->seeks = DEFAULT_SEEKS;
	if (register_shrinker(s, "%s", name)) {
		kfree(s);
		return NULL;
	}
#else
	s = shrinker_alloc(0, "%s", name);
	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	s->seeks = DEFAULT_SEEKS;
	shrinker_register(s);
#endif
	return s;
}

static inline void bsr_shrinker_destroy(struct shrinker *s)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
	unregister_shrinker(s);
	kfree(s);
#else
	shrinker_free(s);
#endif
}

/*
 * Hands a page range to TCP by reference. MSG_SENDPAGE_NOTLAST went with sendpage (6.5):
 * MSG_MORE alone says more follows.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
#define BSR_MSG_NOTLAST MSG_SENDPAGE_NOTLAST

static inline int bsr_sock_sendpage(struct socket *sock, struct page *page, u32 offset,
				    u32 len, unsigned int flags)
{
	return kernel_sendpage(sock, page, offset, len, flags);
}
#else
#define BSR_MSG_NOTLAST 0

static inline int bsr_sock_sendpage(struct socket *sock, struct page *page, u32 offset,
				    u32 len, unsigned int flags)
{
	struct msghdr msg = { .msg_flags = flags | MSG_SPLICE_PAGES };
	struct bio_vec bv;

	bvec_set_page(&bv, page, len, offset);
	iov_iter_bvec(&msg.msg_iter, ITER_SOURCE, &bv, 1, len);
	return sock_sendmsg(sock, &msg);
}
#endif

/* Generic netlink: the user header got an accessor (6.6), dumps a parsed genl_info (6.2). */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
#define bsr_genl_userhdr(info) ((info)->userhdr)
#define bsr_genl_dump_attrs(dump_info) ((dump_info)->attrs)
#else
#define bsr_genl_userhdr(info) genl_info_userhdr(info)
#define bsr_genl_dump_attrs(dump_info) ((dump_info)->info.attrs)
#endif

#endif /* BSR_COMPAT_H */
