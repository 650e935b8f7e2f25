// SPDX-License-Identifier: GPL-2.0-only
/*
 * bsr: module init/exit, object lifetime, the block device and /proc/bsr.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/idr.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/genetlink.h>
#include <linux/shrinker.h>
#include <linux/delay.h>

#include "bsr_net.h"

#define BSR_MAJOR_PREFERRED 147

LIST_HEAD(bsr_resources);
int bsr_major;
struct bio_set bsr_io_bioset;
struct workqueue_struct *bsr_wq;
DEFINE_SRCU(bsr_srcu);
DEFINE_MUTEX(bsr_conf_mutex);
atomic_t bsr_live_objects[BSR_OBJ_KINDS];
static DEFINE_IDR(bsr_minors);	/* minor -> device; config context only */
static struct proc_dir_entry *bsr_proc;

static int major = BSR_MAJOR_PREFERRED;
module_param(major, int, 0444);
MODULE_PARM_DESC(major, "block major: 147 by default (a dynamic one when taken), 0 for a dynamic one");

/* ---------------------------------------------------------------- options */

struct bsr_opt_defaults bsr_opt_defaults;

/* One typed field from its attribute (validated by the set's policy), else its default. */
#define OPT_PARSE_u8(a, dst, dflt) ((dst) = (a) ? nla_get_u8(a) != 0 : (dflt))
#define OPT_PARSE_u32(a, dst, dflt) ((dst) = (a) ? nla_get_u32(a) : (dflt))
#define OPT_PARSE_s32(a, dst, dflt) ((dst) = (a) ? nla_get_s32(a) : (dflt))
#define OPT_PARSE_u64(a, dst, dflt) ((dst) = (a) ? nla_get_u64(a) : (dflt))
#define OPT_PARSE_str(a, dst, dflt) \
	((a) ? nla_strscpy(dst, a, sizeof(dst)) : strscpy(dst, dflt, sizeof(dst)))
#define OPT_PARSE(set, type, member, kind, dflt) \
	OPT_PARSE_##kind(attrs ? attrs[type] : NULL, v->member, dflt);

/* parse_<set>(attrs, v): attrs indexed by attribute type (T_<SET>_MAX + 1), or NULL */
#define DEFINE_OPT_PARSER(set, SET)						\
static void parse_##set(const struct nlattr * const *attrs, struct bsr_##set *v)	\
{										\
	BSR_##SET##_FIELDS(OPT_PARSE)						\
}
BSR_STORED_SETS(DEFINE_OPT_PARSER)

void bsr_opts_init_defaults(void)
{
#define OPT_DEFAULTS(set, SET) parse_##set(NULL, &bsr_opt_defaults.set);
	BSR_STORED_SETS(OPT_DEFAULTS)
}

/*
 * A new version of a set from its attributes (attrs[1..maxtype], each validated): the
 * blob `show` returns and the typed values, parsed once here. NULL when out of memory.
 */
struct bsr_opts_data *bsr_opts_build(enum bsr_opt_set set, const struct nlattr * const *attrs,
				     int maxtype)
{
	struct bsr_opts_data *d;
	int i, len = 0, off = 0;

	for (i = 1; i <= maxtype; i++)
		if (attrs[i])
			len += nla_total_size(nla_len(attrs[i]));
	d = kzalloc(sizeof(*d) + len, GFP_KERNEL);
	if (!d)
		return NULL;
	for (i = 1; i <= maxtype; i++) {
		struct nlattr *dst = (struct nlattr *)((u8 *)d->blob + off);

		if (!attrs[i])
			continue;
		dst->nla_type = i;
		dst->nla_len = nla_attr_size(nla_len(attrs[i]));
		memcpy(nla_data(dst), nla_data(attrs[i]), nla_len(attrs[i]));
		off += nla_total_size(nla_len(attrs[i]));
	}
	d->len = len;
	switch (set) {
#define OPT_PARSE_SET(s, SET) case BSR_SET_##SET: parse_##s(attrs, &d->vals.s); break;
	BSR_STORED_SETS(OPT_PARSE_SET)
	}
	return d;
}

/* Publishes d (configuration requests only) and returns the version it replaces. */
struct bsr_opts_data *bsr_opts_publish(struct bsr_opts *o, struct bsr_opts_data *d)
{
	return rcu_replace_pointer(o->data, d, lockdep_is_held(&bsr_conf_mutex));
}

/* Secrets (shared-secret) are wiped with the memory. */
static void opts_data_free_rcu(struct rcu_head *head)
{
	kfree_sensitive(container_of(head, struct bsr_opts_data, rcu));
}

/* Frees a version once no reader can see it any more. */
void bsr_opts_data_free(struct bsr_opts_data *d)
{
	if (d)
		call_rcu(&d->rcu, opts_data_free_rcu);
}

/* An object's set, as it is freed (no configuration request can reach it any more). */
void bsr_opts_free(struct bsr_opts *o)
{
	bsr_opts_data_free(rcu_replace_pointer(o->data, NULL, true));
}

/* ---------------------------------------------------------------- payload pages */

/*
 * Pages for resync reads and received data are recycled here: a page from the page
 * allocator is zeroed first (init_on_alloc, on by default in distribution kernels), which
 * costs as much again as the data copy for every byte replicated. The shrinker gives the
 * idle pages back under memory pressure.
 *
 * A page sent by reference may still be held by TCP (until the peer acknowledged it) when
 * it comes back: it waits on the lent list, oldest first, until the network let go of it,
 * since a retransmission must still carry the old contents.
 */
#define BSR_PAGE_POOL_MAX 8192	/* 32 MiB, free and lent */
#define BSR_PAGE_LENT_PROBE 4	/* lent pages looked at per get */

static LIST_HEAD(bsr_page_pool);
static LIST_HEAD(bsr_page_lent);
static DEFINE_SPINLOCK(bsr_page_pool_lock);
static unsigned long bsr_page_pool_count;
static unsigned long bsr_page_lent_count;

/* A lent page the network no longer holds, or NULL; called under bsr_page_pool_lock. */
static struct page *take_returned_page(void)
{
	struct page *page;
	int probe = 0;

	list_for_each_entry(page, &bsr_page_lent, lru) {
		if (page_ref_count(page) == 1) {
			list_del(&page->lru);
			bsr_page_lent_count--;
			return page;
		}
		if (++probe == BSR_PAGE_LENT_PROBE)
			break;
	}
	return NULL;
}

struct page *bsr_page_get(gfp_t gfp)
{
	struct page *page = NULL;
	unsigned long flags;

	spin_lock_irqsave(&bsr_page_pool_lock, flags);
	if (bsr_page_pool_count) {
		page = list_first_entry(&bsr_page_pool, struct page, lru);
		list_del(&page->lru);
		bsr_page_pool_count--;
	} else {
		page = take_returned_page();
	}
	spin_unlock_irqrestore(&bsr_page_pool_lock, flags);
	return page ? page : alloc_page(gfp);
}

void bsr_page_put(struct page *page)
{
	unsigned long flags;

	spin_lock_irqsave(&bsr_page_pool_lock, flags);
	if (bsr_page_pool_count + bsr_page_lent_count < BSR_PAGE_POOL_MAX) {
		if (page_ref_count(page) == 1) {
			list_add(&page->lru, &bsr_page_pool);
			bsr_page_pool_count++;
		} else {
			list_add_tail(&page->lru, &bsr_page_lent);
			bsr_page_lent_count++;
		}
		page = NULL;
	}
	spin_unlock_irqrestore(&bsr_page_pool_lock, flags);
	if (page)
		put_page(page);
}

/* Gives up to nr pages back, idle ones first; a lent page is freed by its last holder. */
static unsigned long bsr_page_pool_release(unsigned long nr)
{
	unsigned long freed = 0;
	unsigned long flags;
	LIST_HEAD(out);
	struct page *page, *t;

	spin_lock_irqsave(&bsr_page_pool_lock, flags);
	while (freed < nr && bsr_page_pool_count) {
		list_move(bsr_page_pool.next, &out);
		bsr_page_pool_count--;
		freed++;
	}
	while (freed < nr && bsr_page_lent_count) {
		list_move(bsr_page_lent.next, &out);
		bsr_page_lent_count--;
		freed++;
	}
	spin_unlock_irqrestore(&bsr_page_pool_lock, flags);
	list_for_each_entry_safe(page, t, &out, lru) {
		list_del(&page->lru);
		put_page(page);
	}
	return freed;
}

static unsigned long bsr_page_pool_shrink_count(struct shrinker *s, struct shrink_control *sc)
{
	return READ_ONCE(bsr_page_pool_count) + READ_ONCE(bsr_page_lent_count);
}

static unsigned long bsr_page_pool_shrink_scan(struct shrinker *s, struct shrink_control *sc)
{
	return bsr_page_pool_release(sc->nr_to_scan);
}

static struct shrinker *bsr_page_pool_shrinker;

/* ---------------------------------------------------------------- lookup */

struct bsr_resource *bsr_find_resource(const char *name)
{
	struct bsr_resource *r;

	list_for_each_entry(r, &bsr_resources, list)
		if (!strcmp(r->name, name))
			return r;
	return NULL;
}

struct bsr_device *bsr_find_minor(unsigned int minor)
{
	if (minor > BSR_MAX_MINOR)
		return NULL;
	return idr_find(&bsr_minors, minor);
}

struct bsr_device *bsr_find_volume(struct bsr_resource *r, unsigned int vnr)
{
	struct bsr_device *d;

	list_for_each_entry(d, &r->devices, res_list)
		if (d->vnr == vnr)
			return d;
	return NULL;
}

/* The caller holds bsr_conf_mutex or is inside bsr_srcu. */
struct bsr_conn *bsr_find_connection(struct bsr_resource *r, u32 peer)
{
	struct bsr_conn *c;

	list_for_each_entry_rcu(c, &r->connections, res_list, true)
		if (c->peer_node_id == peer)
			return c;
	return NULL;
}

struct bsr_peer_device *bsr_find_peer_device(struct bsr_conn *c, unsigned int vnr)
{
	struct bsr_peer_device *pd;

	list_for_each_entry(pd, &c->peer_devices, conn_list)
		if (pd->device->vnr == vnr)
			return pd;
	return NULL;
}

/* ---------------------------------------------------------------- objects */

struct bsr_resource *bsr_create_resource(const char *name, u32 node_id)
{
	struct bsr_resource *r = kzalloc(sizeof(*r), GFP_KERNEL);

	if (!r)
		return NULL;
	strscpy(r->name, name, sizeof(r->name));
	r->node_id = node_id;
	r->role = BSR_ROLE_SECONDARY;
	spin_lock_init(&r->state_lock);
	mutex_init(&r->adm_mutex);
	INIT_LIST_HEAD(&r->devices);
	r->write_ordering = BSR_WRITE_ORDERING_FLUSH;
	INIT_LIST_HEAD(&r->connections);
	list_add_tail(&r->list, &bsr_resources);
	atomic_inc(&bsr_live_objects[BSR_OBJ_RESOURCE]);
	return r;
}

void bsr_free_resource(struct bsr_resource *r)
{
	WARN_ON(!list_empty(&r->devices) || !list_empty(&r->connections));
	list_del(&r->list);
	bsr_opts_free(&r->res_opts);
	bsr_opts_free(&r->node_opts);
	kfree(r);
	atomic_dec(&bsr_live_objects[BSR_OBJ_RESOURCE]);
}

struct bsr_peer_device *bsr_create_peer_device(struct bsr_device *d, struct bsr_conn *c)
{
	struct bsr_peer_device *pd = kzalloc(sizeof(*pd), GFP_KERNEL);

	if (!pd)
		return NULL;
	if (bsr_pd_net_init(pd)) {
		kfree(pd);
		return NULL;
	}
	pd->device = d;
	pd->connection = c;
	pd->repl_state = BSR_REPLICATION_OFF;
	pd->peer_disk_state = BSR_DISK_DUNKNOWN;
	/* the write path and the threads walk these lists without bsr_conf_mutex */
	list_add_tail_rcu(&pd->dev_list, &d->peer_devices);
	list_add_tail_rcu(&pd->conn_list, &c->peer_devices);
	atomic_inc(&bsr_live_objects[BSR_OBJ_PEER_DEVICE]);
	return pd;
}

/* Readers inside bsr_srcu may still see it until the grace period ends. */
void bsr_free_peer_device(struct bsr_peer_device *pd)
{
	list_del_rcu(&pd->dev_list);
	list_del_rcu(&pd->conn_list);
	synchronize_srcu(&bsr_srcu);
	bsr_opts_free(&pd->conf);
	bsr_pd_net_free(pd);
	kfree(pd);
	atomic_dec(&bsr_live_objects[BSR_OBJ_PEER_DEVICE]);
}

struct bsr_conn *bsr_create_connection(struct bsr_resource *r, u32 peer)
{
	struct bsr_conn *c = kzalloc(sizeof(*c), GFP_KERNEL);
	struct bsr_device *d;

	if (!c)
		return NULL;
	c->resource = r;
	c->peer_node_id = peer;
	if (bsr_net_init(c)) {
		kfree(c);
		return NULL;
	}
	c->cstate = BSR_CONNECTION_STANDALONE;
	c->peer_role = BSR_ROLE_UNKNOWN;
	INIT_LIST_HEAD(&c->paths);
	INIT_LIST_HEAD(&c->peer_devices);
	list_for_each_entry(d, &r->devices, res_list) {
		if (!bsr_create_peer_device(d, c))
			goto fail;
	}
	list_add_tail_rcu(&c->res_list, &r->connections);
	atomic_inc(&bsr_live_objects[BSR_OBJ_CONNECTION]);
	return c;
fail:
	while (!list_empty(&c->peer_devices))
		bsr_free_peer_device(list_first_entry(&c->peer_devices,
						      struct bsr_peer_device, conn_list));
	bsr_net_free(c);
	kfree(c);
	return NULL;
}

/*
 * The threads stop first; writers may still be sending (and failing) through c until
 * the grace period of the last peer device's unlink, which also covers c's own unlink.
 */
void bsr_delete_connection(struct bsr_conn *c)
{
	struct bsr_path *p, *tp;

	bsr_conn_stop(c, true);
	/* a peer no longer configured holds no I/O for its fencing */
	mutex_lock(&c->resource->adm_mutex);
	bsr_set_susp(c->resource, &c->fence_susp, false);
	mutex_unlock(&c->resource->adm_mutex);
	list_del_rcu(&c->res_list);
	while (!list_empty(&c->peer_devices))
		bsr_free_peer_device(list_first_entry(&c->peer_devices,
						      struct bsr_peer_device, conn_list));
	synchronize_srcu(&bsr_srcu);
	bsr_net_free(c);
	list_for_each_entry_safe(p, tp, &c->paths, list) {
		list_del(&p->list);
		bsr_free_path(p);
	}
	bsr_opts_free(&c->net_conf);
	kfree(c);
	atomic_dec(&bsr_live_objects[BSR_OBJ_CONNECTION]);
}

struct bsr_path *bsr_alloc_path(void)
{
	struct bsr_path *p = kzalloc(sizeof(*p), GFP_KERNEL);

	if (p)
		atomic_inc(&bsr_live_objects[BSR_OBJ_PATH]);
	return p;
}

void bsr_free_path(struct bsr_path *p)
{
	if (!p)
		return;
	kfree(p);
	atomic_dec(&bsr_live_objects[BSR_OBJ_PATH]);
}

/* ---------------------------------------------------------------- block device */

static int bsr_open(BSR_OPEN_ARGS)
{
	struct bsr_device *d = BSR_OPEN_DISK->private_data;
	struct bsr_resource *r = d->resource;
	int err = 0;

	/*
	 * A Secondary is locked to users: its data may be a SyncTarget's half-old blocks, and
	 * a Primary elsewhere writes it. Writers get EROFS, readers EMEDIUMTYPE.
	 */
	spin_lock_irq(&r->state_lock);
	if (d->deleting) {
		err = -ENXIO;
	} else if (r->role != BSR_ROLE_PRIMARY) {
		err = BSR_OPEN_WRITE ? -EROFS : -EMEDIUMTYPE;
	} else {
		d->open_cnt++;
		if (BSR_OPEN_COUNTS_WRITER)
			d->open_rw_cnt++;
	}
	spin_unlock_irq(&r->state_lock);
	return err;
}

static void bsr_release(BSR_RELEASE_ARGS)
{
	struct bsr_device *d = gd->private_data;
	struct bsr_resource *r = d->resource;

	spin_lock_irq(&r->state_lock);
	d->open_cnt--;
	if (BSR_RELEASE_WRITE)
		d->open_rw_cnt--;
	spin_unlock_irq(&r->state_lock);
}

/*
 * Short-lived read-only openers (udev's blkid after a change event) get two seconds to
 * close d; true once nobody has it open. A writer is not waited for.
 */
bool bsr_wait_device_closed(struct bsr_device *d)
{
	struct bsr_resource *r = d->resource;
	int i;

	for (i = 0; i < 20; i++) {
		bool busy, writer;

		spin_lock_irq(&r->state_lock);
		busy = d->open_cnt > 0;
		writer = bsr_disk_held_for_writing(d->disk, d->open_rw_cnt);
		spin_unlock_irq(&r->state_lock);
		if (!busy)
			return true;
		if (writer)
			return false;
		msleep(100);
	}
	return false;
}

static const struct block_device_operations bsr_fops = {
	.owner = THIS_MODULE,
	.submit_bio = bsr_submit_bio,
	.open = bsr_open,
	.release = bsr_release,
};

/*
 * What status reports as write-ordering (bsr-abi.json, $commentWriteOrdering): the receiver
 * always drains an epoch before its BARRIER_ACK and flushes a device with disk-flushes, so the
 * resource flushes only when all its devices do. Caller holds bsr_conf_mutex (the device list).
 */
static void bsr_update_write_ordering(struct bsr_resource *r)
{
	enum bsr_write_ordering wo = BSR_WRITE_ORDERING_FLUSH;
	struct bsr_device *d;

	list_for_each_entry(d, &r->devices, res_list)
		if (!d->disk_flushes)
			wo = BSR_WRITE_ORDERING_DRAIN;
	WRITE_ONCE(r->write_ordering, wo);
}

void bsr_device_apply_disk_conf(struct bsr_device *d)
{
	/* an option never given takes its default from bsr-abi.json */
	d->disk_flushes = bsr_conf(&d->disk_conf, T_DISK_CONF_DISK_FLUSHES);
	d->md_flushes = bsr_conf(&d->disk_conf, T_DISK_CONF_MD_FLUSHES);
	WRITE_ONCE(d->on_io_error, bsr_conf(&d->disk_conf, T_DISK_CONF_ON_IO_ERROR));
	WRITE_ONCE(d->max_passthrough, bsr_conf(&d->disk_conf, T_DISK_CONF_MAX_PASSTHROUGH_COUNT));
	bsr_update_write_ordering(d->resource);
}

int bsr_create_device(struct bsr_resource *r, unsigned int minor, unsigned int vnr,
		      struct bsr_device **out)
{
	struct bsr_device *d;
	struct bsr_conn *c;
	struct gendisk *disk;
	int err;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	d->resource = r;
	d->minor = minor;
	d->vnr = vnr;
	d->disk_state = BSR_DISK_DISKLESS;
	INIT_LIST_HEAD(&d->peer_devices);
	atomic_set(&d->local_cnt, 0);
	init_waitqueue_head(&d->misc_wait);
	spin_lock_init(&d->req_lock);
	d->write_tree = RB_ROOT_CACHED;
	d->rs_tree = RB_ROOT_CACHED;
	INIT_LIST_HEAD(&d->conflict_wait);
	INIT_LIST_HEAD(&d->al_pending);
	bio_list_init(&d->susp_bios);
	/* a volume added to a resource whose I/O is suspended starts suspended */
	d->susp_cnt = bsr_res_suspended(r);
	d->io_susp = d->susp_cnt;
	INIT_WORK(&d->al_work, bsr_al_work);
	atomic_set(&d->io_errors, 0);
	INIT_LIST_HEAD(&d->failed_list);
	bsr_device_apply_disk_conf(d);

	err = idr_alloc(&bsr_minors, d, minor, minor + 1, GFP_KERNEL);
	if (err < 0) {
		err = err == -ENOSPC ? -EEXIST : err;
		goto out_free;
	}

	/*
	 * A write travels to the peers as one packet, which the receiver bounds; the clones
	 * are split again by the lower device's own limits. The local disk and the peers read
	 * a written page at different moments (the peers by reference, until the peer has it):
	 * a page changed under writeback would leave the nodes with different bytes, so the
	 * disk asks for stable pages and file systems wait for the writeback first.
	 */
	disk = bsr_alloc_disk(BSR_MAX_BIO_SIZE >> 9);
	if (IS_ERR(disk)) {
		err = PTR_ERR(disk);
		goto out_idr;
	}
	d->disk = disk;
	disk->major = bsr_major;
	disk->first_minor = minor;
	disk->minors = 1;
	disk->fops = &bsr_fops;
	disk->private_data = d;
	snprintf(disk->disk_name, sizeof(disk->disk_name), "bsr%u", minor);
	set_capacity(disk, 0);

	list_for_each_entry(c, &r->connections, res_list) {
		if (!bsr_create_peer_device(d, c)) {
			err = -ENOMEM;
			goto out_pds;
		}
	}

	err = add_disk(disk);
	if (err)
		goto out_pds;
	list_add_tail(&d->res_list, &r->devices);
	bsr_update_write_ordering(r);
	atomic_inc(&bsr_live_objects[BSR_OBJ_DEVICE]);
	*out = d;
	return 0;

out_pds:
	while (!list_empty(&d->peer_devices))
		bsr_free_peer_device(list_first_entry(&d->peer_devices,
						      struct bsr_peer_device, dev_list));
	put_disk(disk);
out_idr:
	idr_remove(&bsr_minors, minor);
out_free:
	kfree(d);
	return err;
}

/* The caller made sure the device is diskless and not open (d->deleting is set). */
void bsr_delete_device(struct bsr_device *d)
{
	bsr_io_fail_suspended(d);
	del_gendisk(d->disk);
	flush_work(&d->al_work);
	bsr_failed_forget(d);
	while (!list_empty(&d->peer_devices))
		bsr_free_peer_device(list_first_entry(&d->peer_devices,
						      struct bsr_peer_device, dev_list));
	list_del(&d->res_list);
	bsr_update_write_ordering(d->resource);
	idr_remove(&bsr_minors, d->minor);
	put_disk(d->disk);
	bsr_opts_free(&d->disk_conf);
	bsr_opts_free(&d->device_conf);
	bsr_fast_map_free(d);
	kfree(d);
	atomic_dec(&bsr_live_objects[BSR_OBJ_DEVICE]);
}

/* ---------------------------------------------------------------- /proc/bsr */

static int bsr_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "version: %s (api:%d/proto:%d-%d)\n", BSR_VERSION, BSR_API_VERSION,
		   BSR_PROTOCOL_MIN, BSR_PROTOCOL_MAX);
	return 0;
}

/* ---------------------------------------------------------------- /dev/bsr-control */

static long bsr_control_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case BSR_IOC_GET_API_VERSION:
		return put_user((__u32)BSR_API_VERSION, (__u32 __user *)arg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations bsr_control_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = bsr_control_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice bsr_control = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = BSR_CONTROL_DEVICE,
	.fops = &bsr_control_fops,
};

/* ---------------------------------------------------------------- module */

static int __init bsr_init(void)
{
	int err;

	bsr_opts_init_defaults();
	bsr_major = major > 0 ? register_blkdev(major, "bsr") : -EBUSY;
	if (bsr_major == 0) {
		bsr_major = major;
	} else {
		bsr_major = register_blkdev(0, "bsr");
		if (bsr_major < 0) {
			bsr_err("cannot register a block major: %d\n", bsr_major);
			return bsr_major;
		}
	}

	err = bioset_init(&bsr_io_bioset, BIO_POOL_SIZE, offsetof(struct bsr_req, clone), 0);
	if (err)
		goto out_blkdev;

	bsr_wq = alloc_workqueue("bsr_al", WQ_MEM_RECLAIM, 0);
	if (!bsr_wq) {
		err = -ENOMEM;
		goto out_bioset;
	}
	bsr_ack_wq = alloc_workqueue("bsr_ack", WQ_MEM_RECLAIM | WQ_HIGHPRI, 0);
	if (!bsr_ack_wq) {
		err = -ENOMEM;
		goto out_wq;
	}
	err = bsr_helper_wq_init();
	if (err)
		goto out_wq;

	bsr_proc = proc_create_single("bsr", 0444, NULL, bsr_proc_show);
	if (!bsr_proc) {
		err = -ENOMEM;
		goto out_helper_wq;
	}

	err = misc_register(&bsr_control);
	if (err)
		goto out_proc;

	bsr_page_pool_shrinker = bsr_shrinker_create("bsr-pages", bsr_page_pool_shrink_count,
						     bsr_page_pool_shrink_scan);
	if (!bsr_page_pool_shrinker) {
		err = -ENOMEM;
		goto out_control;
	}

	err = bsr_genl_register();
	if (err)
		goto out_shrinker;

	bsr_info("version %s loaded, block major %d\n", BSR_VERSION, bsr_major);
	return 0;

out_shrinker:
	bsr_shrinker_destroy(bsr_page_pool_shrinker);
out_control:
	misc_deregister(&bsr_control);
out_proc:
	proc_remove(bsr_proc);
out_helper_wq:
	bsr_helper_wq_exit();
out_wq:
	if (bsr_ack_wq)
		destroy_workqueue(bsr_ack_wq);
	destroy_workqueue(bsr_wq);
out_bioset:
	bioset_exit(&bsr_io_bioset);
out_blkdev:
	unregister_blkdev(bsr_major, "bsr");
	return err;
}

static void __exit bsr_exit(void)
{
	struct bsr_resource *r, *tr;
	int k;

	bsr_genl_unregister();
	/*
	 * The family is gone, nobody can add objects any more. A module reference is
	 * held by every open bsr device, so nothing is open here: tear down what `down`
	 * did not, under the configuration mutex like the failed-disk work.
	 */
	mutex_lock(&bsr_conf_mutex);
	list_for_each_entry_safe(r, tr, &bsr_resources, list) {
		while (!list_empty(&r->connections))
			bsr_delete_connection(list_first_entry(&r->connections,
							       struct bsr_conn, res_list));
		while (!list_empty(&r->devices)) {
			struct bsr_device *d = list_first_entry(&r->devices,
							       struct bsr_device, res_list);
			d->deleting = true;
			bsr_detach(d);
			bsr_delete_device(d);
		}
		bsr_free_resource(r);
	}
	mutex_unlock(&bsr_conf_mutex);
	cancel_work_sync(&bsr_failed_work_item);
	bsr_resync_after_stop();
	bsr_helper_wq_exit();	/* waits for handlers still running */
	for (k = 0; k < BSR_OBJ_KINDS; k++)
		WARN(atomic_read(&bsr_live_objects[k]), "bsr: %d objects of kind %d leaked\n",
		     atomic_read(&bsr_live_objects[k]), k);
	idr_destroy(&bsr_minors);
	bsr_shrinker_destroy(bsr_page_pool_shrinker);
	bsr_page_pool_release(ULONG_MAX);
	misc_deregister(&bsr_control);
	proc_remove(bsr_proc);
	destroy_workqueue(bsr_ack_wq);
	destroy_workqueue(bsr_wq);
	bioset_exit(&bsr_io_bioset);
	unregister_blkdev(bsr_major, "bsr");
	rcu_barrier();	/* replaced option sets are freed by RCU callbacks in this module */
	bsr_info("unloaded\n");
}

module_init(bsr_init);
module_exit(bsr_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("bsr - Block Sync and Replication v" BSR_VERSION);
MODULE_VERSION(BSR_VERSION);
MODULE_ALIAS_GENL_FAMILY(BSR_GENL_FAMILY_NAME);
/* opening /dev/bsrN before the module is loaded loads it (the preferred major) */
MODULE_ALIAS_BLOCKDEV_MAJOR(BSR_MAJOR_PREFERRED);
