/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bsr: the kernel API differences the module cares about, in one place.
 * Built and tested against Debian 12's 6.1 kernel; the other branches follow the
 * upstream API changes but have not been compiled here.
 */
#ifndef BSR_COMPAT_H
#define BSR_COMPAT_H

#include <linux/version.h>
#include <linux/blkdev.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
/* block_device_operations.open/release take fmode_t before 6.5 */
#define BSR_OPEN_ARGS struct block_device *bdev, fmode_t mode
#define BSR_OPEN_DISK (bdev->bd_disk)
#define BSR_OPEN_WRITE (mode & FMODE_WRITE)
#define BSR_RELEASE_ARGS struct gendisk *gd, fmode_t mode
#define BSR_RELEASE_WRITE (mode & FMODE_WRITE)
typedef struct block_device *bsr_bdev_handle_t;

static inline struct block_device *bsr_bdev_open(const char *path, void *holder,
						 bsr_bdev_handle_t *handle)
{
	struct block_device *bdev;

	bdev = blkdev_get_by_path(path, FMODE_READ | FMODE_WRITE | FMODE_EXCL, holder);
	*handle = bdev;
	return bdev;
}

static inline void bsr_bdev_close(struct block_device *bdev)
{
	blkdev_put(bdev, FMODE_READ | FMODE_WRITE | FMODE_EXCL);
}
#else
#error "bsr: kernels >= 6.5 (blk_mode_t, bdev_open_by_path/bdev_file_open_by_path) not ported yet"
#endif

#endif /* BSR_COMPAT_H */
