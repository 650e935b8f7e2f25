/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bsr: internal objects of the kernel module.
 *
 * resource -> devices (volumes, one minor each) and connections (peers, each with paths)
 *          -> peer devices (one per device x connection, each owning a bitmap slot).
 *
 * Locking:
 *  - all configuration (genl doit and dumpit, the failed-disk work, module exit) runs
 *    serialized under bsr_conf_mutex; objects are created and freed only there. The
 *    family is parallel_ops: a request stuck on a hung disk holds only this driver's
 *    mutex, never the genl mutex every other generic netlink family needs;
 *  - resource->state_lock (spinlock) guards role/disk/open counters for the block
 *    device open/release path and the I/O path;
 *  - the I/O path pins the backing device with device->local_cnt (bsr_get_ldev);
 *  - the activity log has its own spinlock, the bitmap its own;
 *  - the lists of peer devices (device->peer_devices, connection->peer_devices) and
 *    resource->connections change with the _rcu list primitives; the I/O path and the
 *    threads walk them inside bsr_srcu read sections (they may sleep there), and an
 *    object taken off these lists is freed only after synchronize_srcu(&bsr_srcu).
 */
#ifndef BSR_INT_H
#define BSR_INT_H

#include <linux/types.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/mutex.h>
#include <linux/wait.h>
#include <linux/rbtree.h>
#include <linux/srcu.h>
#include <linux/rcupdate.h>
#include <linux/string.h>
#include <linux/workqueue.h>
#include <linux/blkdev.h>
#include <linux/bio.h>
#include <linux/netlink.h>
#include <net/genetlink.h>

#include "bsr_abi.h"
#include "bsr_compat.h"
#include "bsr_version.h"

#define BSR_API_VERSION 2
#define BSR_NAME_MAX 128
#define BSR_MAX_VOLUMES 65535
#define BSR_MAX_MINOR ((1U << MINORBITS) - 1)

#define UUID_JUST_CREATED 4ULL
#define UUID_PRIMARY 1ULL

#define BSR_AL_EXT_SHIFT 22	/* 4 MiB activity log extents */
#define BSR_BM_BLOCK_SHIFT 12	/* one bitmap bit per 4 KiB */
/* the largest request: one DATA packet on the wire (bsr_net.h), at most two AL extents */
#define BSR_MAX_BIO_SIZE (1U << 20)
#define BSR_AL_FREE 0xffffffffU

#define bsr_err(fmt, ...) pr_err("bsr: " fmt, ##__VA_ARGS__)
#define bsr_warn(fmt, ...) pr_warn("bsr: " fmt, ##__VA_ARGS__)
#define bsr_info(fmt, ...) pr_info("bsr: " fmt, ##__VA_ARGS__)

/* struct bsr_genlmsghdr from the ABI */
struct bsr_genlmsghdr {
	u32 minor;
	union {
		u32 flags;
		s32 ret_code;
	};
};

/* The option sets the kernel keeps, named BSR_SET_<SET> (BSR_STORED_SETS of bsr-abi.json). */
enum bsr_opt_set {
#define BSR_SET_ENUM(set, SET) BSR_SET_##SET,
	BSR_STORED_SETS(BSR_SET_ENUM)
#undef BSR_SET_ENUM
};

union bsr_opt_vals {
#define BSR_SET_MEMBER(set, SET) struct bsr_##set set;
	BSR_STORED_SETS(BSR_SET_MEMBER)
#undef BSR_SET_MEMBER
};

/* Every stored set at its defaults (bsr-abi.json): what a set never given reads as. */
struct bsr_opt_defaults {
#define BSR_SET_MEMBER(set, SET) struct bsr_##set set;
	BSR_STORED_SETS(BSR_SET_MEMBER)
#undef BSR_SET_MEMBER
};
extern struct bsr_opt_defaults bsr_opt_defaults;

/*
 * One version of a stored option set: the merged nested attributes as last given (validated
 * by the set's policy, returned unchanged by `show`) and, parsed from them once, the typed
 * values the kernel reads. Immutable once published; a replaced one is freed after an RCU
 * grace period, so readers on the I/O path take no lock.
 */
struct bsr_opts_data {
	struct rcu_head rcu;
	union bsr_opt_vals vals;
	int len;
	struct nlattr blob[];	/* len bytes of attributes */
};

/* A stored option set: NULL until first given (every option at its default). */
struct bsr_opts {
	struct bsr_opts_data __rcu *data;
};

/* The set as configuration requests see it (they hold bsr_conf_mutex, the only writer). */
#define bsr_opts_cur(o) rcu_dereference_protected((o)->data, lockdep_is_held(&bsr_conf_mutex))

/*
 * One typed option, e.g. bsr_conf(&c->net_conf, T_NET_CONF_KO_COUNT): the field
 * BSR_MEMBER_T_NET_CONF_KO_COUNT (net_conf.ko_count) of the published version; any context.
 */
#define bsr_conf(o, attr) ({							\
	const struct bsr_opts_data *__d;					\
	typeof(bsr_opt_defaults.BSR_MEMBER_##attr) __v;				\
										\
	rcu_read_lock();							\
	__d = rcu_dereference((o)->data);					\
	__v = __d ? __d->vals.BSR_MEMBER_##attr : bsr_opt_defaults.BSR_MEMBER_##attr;	\
	rcu_read_unlock();							\
	__v;									\
})

/* A field of a version in hand (a request building one): bsr_opt_val(&d->vals, T_...). */
#define bsr_opt_val(vals, attr) ((vals)->BSR_MEMBER_##attr)

/* A string option copied into buf (size bytes); true when it is not empty. */
#define bsr_conf_str(o, attr, buf, size) ({					\
	const struct bsr_opts_data *__d;					\
										\
	rcu_read_lock();							\
	__d = rcu_dereference((o)->data);					\
	strscpy(buf, __d ? __d->vals.BSR_MEMBER_##attr : bsr_opt_defaults.BSR_MEMBER_##attr, size); \
	rcu_read_unlock();							\
	(buf)[0] != '\0';							\
})

/* In-memory copy of the v09 superblock, host byte order. */
struct bsr_md_peer {
	u64 bitmap_uuid;
	u64 bitmap_dagtag;
	u32 flags;
	s32 bitmap_index;
};

struct bsr_md {
	u64 effective_size;
	u64 current_uuid;
	u64 device_uuid;
	u32 flags;
	u32 md_size_sect;
	s32 al_offset;
	u32 al_nr_extents;
	s32 bm_offset;
	u32 bm_bytes_per_bit;
	u32 la_peer_max_bio_size;
	u32 bm_max_peers;
	s32 node_id;
	u32 al_stripes;
	u32 al_stripe_size_4k;
	struct bsr_md_peer peers[BSR_MAX_PEERS];
	u64 history_uuids[BSR_HISTORY_UUIDS];
};

/* In-memory bitmap, laid out exactly as on disk (interleaved 64-bit LE words). */
struct bsr_bitmap {
	spinlock_t lock;
	struct page **pages;
	unsigned int n_pages;		/* pages on disk (bm area used) */
	u64 bits;			/* bits per slot (4 KiB blocks of data) */
	u64 words;			/* 64-bit words per slot */
	unsigned int max_peers;
	unsigned long *dirty;		/* one bit per page */
	u64 weight[BSR_MAX_PEERS];	/* set bits per slot */
};

struct bsr_al_slot {
	u32 extent;		/* BSR_AL_FREE when unused */
	u32 refcnt;		/* writes in flight in this extent */
	bool committed;		/* its transaction is on disk */
	struct hlist_node hash;
	struct list_head lru;
};

struct bsr_actlog {
	spinlock_t lock;
	wait_queue_head_t wq;
	struct mutex tr_mutex;		/* transaction writer (worker, attach, detach) */
	u32 nr_slots;
	struct bsr_al_slot *slots;
	struct hlist_head *hash;
	unsigned int hash_bits;
	struct list_head lru;		/* head: least recently used */
	u32 used;			/* slots with writes in flight (congestion-extents) */
	u32 tr_number;			/* next transaction number */
	u32 ctx_next;			/* next context window start slot */
	u32 ring_n;			/* transactions in the ring */
	/*
	 * al-updates no: no transaction is written (BSR_MDF_AL_DISABLED on disk, so that an
	 * unclean stop marks the whole device); changed only with no extent held
	 */
	bool updates_off;
	struct page *tr_page;
};

struct bsr_backing {
	struct block_device *backing_bdev;
	struct block_device *md_bdev;
	bsr_bdev_handle_t backing_handle;	/* what closes them */
	bsr_bdev_handle_t md_handle;
	char backing_path[BSR_NAME_MAX];
	char meta_path[BSR_NAME_MAX];
	s32 md_idx;
	sector_t md_sb_sect;		/* absolute sector of the superblock */
	sector_t al_sect;		/* absolute first sector of the AL area */
	sector_t bm_sect;		/* absolute first sector of the bitmap area */
	u64 bm_area_bytes;		/* size of the bitmap area */
	sector_t data_avail;		/* usable data sectors */
	struct bsr_md md;
	struct mutex md_mutex;		/* superblock buffer and md I/O */
	struct page *sb_page;		/* raw superblock (keeps unknown fields) */
	struct bsr_bitmap bm;
	struct bsr_actlog al;
	u32 slot_mask;			/* bitmap slots receiving out-of-sync bits */
};

struct bsr_resource;
struct bsr_conn;

struct bsr_device {
	struct bsr_resource *resource;
	struct list_head res_list;
	struct list_head peer_devices;
	unsigned int minor;
	unsigned int vnr;
	struct gendisk *disk;
	bool deleting;

	/* guarded by resource->state_lock */
	int open_cnt;
	int open_rw_cnt;
	enum bsr_disk disk_state;

	struct bsr_backing *ldev;
	atomic_t local_cnt;
	wait_queue_head_t misc_wait;

	struct bsr_opts disk_conf;
	struct bsr_opts device_conf;
	bool disk_flushes;
	bool md_flushes;

	/*
	 * Write ordering (bsr_req.c), under req_lock: every write from its arrival until its
	 * request is done sits in write_tree by sector range; a write overlapping an earlier
	 * one waits in conflict_wait (arrival order) and starts from al_work once the
	 * earlier ones are done. al_pending: writes waiting for an activity log transaction.
	 * rs_tree: a SyncSource's resync reads from the read until the reply is sent; a
	 * write overlapping one waits in conflict_wait too.
	 */
	spinlock_t req_lock;
	struct rb_root_cached write_tree;
	struct rb_root_cached rs_tree;
	u64 write_seq;
	struct list_head conflict_wait;
	struct list_head al_pending;
	struct work_struct al_work;

	/*
	 * Suspended I/O (suspend-io, or a short internal quiesce): upper bios are held in
	 * susp_bios, in arrival order, until the last suspender resumes. Guarded by
	 * req_lock; io_susp is also read without it by the I/O path.
	 */
	bool io_susp;
	unsigned int susp_cnt;
	unsigned int susp_len;
	struct bio_list susp_bios;
	struct task_struct *susp_drainer;
	/*
	 * on-no-data-accessible suspend-io (req_lock): susp_nod, this device holds one of the
	 * suspensions because it has no disk; nod_released, resume-io gave up on it (its I/O
	 * fails until a disk is attached).
	 */
	bool susp_nod;
	bool nod_released;

	/* lower I/O errors (on-io-error); see bsr_io_error() */
	u32 on_io_error;
	u32 max_passthrough;
	atomic_t io_errors;
	bool io_error_notify;		/* guarded by bsr_failed_lock */
	struct list_head failed_list;	/* on bsr_failed_devices while work is due */

	atomic64_t read_sect;
	atomic64_t write_sect;
	atomic64_t peer_write_sect;	/* peers' application writes received (replication) */
	atomic64_t al_writes;
	atomic64_t bm_writes;
	atomic_t upper_pending;
	atomic_t lower_pending;

	/* FastSync: the used-block map user space handed over (bsr_sync.c), under adm_mutex */
	struct bsr_fast_map *fast_map;
};

struct bsr_path {
	struct list_head list;
	u8 my_addr[128];
	int my_len;
	u8 peer_addr[128];
	int peer_len;
};

struct bsr_conn {
	struct bsr_resource *resource;
	struct list_head res_list;
	struct list_head paths;
	struct list_head peer_devices;
	u32 peer_node_id;
	char name[64];
	enum bsr_connection cstate;
	enum bsr_role peer_role;
	/* the peer's loss suspended the resource's I/O until it is fenced (resource-and-stonith) */
	bool fence_susp;
	/* fence-peer outdated the peer: unfence-peer once it is connected and UpToDate again */
	bool peer_fenced;
	struct bsr_opts net_conf;
	struct bsr_net *net;	/* transport and replication state (bsr_net.h) */
};

/*
 * The path a connection connects over: its first (NULL when it has none). The list changes
 * under the resource's adm_mutex; a thread outside it takes a copy (bsr_first_path).
 */
static inline struct bsr_path *bsr_path_in_use(struct bsr_conn *c)
{
	return list_first_entry_or_null(&c->paths, struct bsr_path, list);
}

struct bsr_peer_device {
	struct bsr_device *device;
	struct bsr_conn *connection;
	struct list_head dev_list;
	struct list_head conn_list;
	enum bsr_replication repl_state;
	enum bsr_disk peer_disk_state;
	bool resync_susp_user;
	bool resync_susp_dependency;	/* held by resync-after; adm_mutex */
	bool resync_susp_handler;	/* held by before-resync-*; adm_mutex */
	u32 rs_handler_seq;		/* which resync's handler may release it */
	struct bsr_opts conf;
	struct bsr_pd_net *net;	/* replication and resync state (bsr_net.h) */
};

struct bsr_resource {
	struct list_head list;
	char name[BSR_NAME_MAX];
	u32 node_id;
	spinlock_t state_lock;
	enum bsr_role role;
	bool promoting;			/* asking the peers to agree to our promotion */
	bool demoting;			/* demoted, the peers' copies not drained yet */
	bool susp;			/* suspend-io; see also bsr_conn.fence_susp */
	atomic_t nod_devices;		/* devices holding I/O for want of data (susp_nod) */
	u8 write_ordering;		/* enum bsr_write_ordering, for status */
	struct list_head devices;
	struct list_head connections;
	struct bsr_opts res_opts;
	struct bsr_opts node_opts;
	/* serializes state changes of the network threads with configuration requests */
	struct mutex adm_mutex;
};

/*
 * One lower request: a clone of the upper bio, front-padded in bsr_io_bioset.
 * The upper bio completes when the last reference is gone: the local I/O holds one,
 * every peer the write was sent to holds one until its protocol's condition holds.
 */
struct bsr_req {
	struct bsr_device *device;
	struct bio *master;
	unsigned long start_time;	/* of the master, for /sys/block/bsrN/stat */
	sector_t sector;		/* of the master, kept for completion */
	u32 size;
	u32 al_first;
	u32 al_last;
	bool in_al;
	bool in_tree;			/* in device->write_tree */
	u32 oos_slots;			/* bitmap slots write_submit marked */
	u64 seq;			/* arrival order of writes */
	struct rb_node rb;
	sector_t subtree_last;
	struct list_head wait;		/* device->conflict_wait or ->al_pending */
	atomic_t ref;
	blk_status_t status;
	struct bio clone;	/* must be last */
};

/*
 * Live objects per kind, counted from publication to the final free: a kind still
 * counted at module exit, after everything left was torn down, was leaked.
 */
enum bsr_obj_kind {
	BSR_OBJ_RESOURCE,
	BSR_OBJ_DEVICE,
	BSR_OBJ_CONNECTION,
	BSR_OBJ_PATH,
	BSR_OBJ_PEER_DEVICE,
	BSR_OBJ_KINDS
};

/* bsr_main.c */
extern atomic_t bsr_live_objects[BSR_OBJ_KINDS];
extern struct list_head bsr_resources;
extern int bsr_major;
extern struct bio_set bsr_io_bioset;
extern struct workqueue_struct *bsr_wq;
extern struct srcu_struct bsr_srcu;
extern struct mutex bsr_conf_mutex;
struct bsr_resource *bsr_find_resource(const char *name);
struct bsr_device *bsr_find_minor(unsigned int minor);
struct bsr_device *bsr_find_volume(struct bsr_resource *r, unsigned int vnr);
struct bsr_conn *bsr_find_connection(struct bsr_resource *r, u32 peer);
struct bsr_peer_device *bsr_find_peer_device(struct bsr_conn *c, unsigned int vnr);
struct bsr_resource *bsr_create_resource(const char *name, u32 node_id);
void bsr_free_resource(struct bsr_resource *r);
int bsr_create_device(struct bsr_resource *r, unsigned int minor, unsigned int vnr,
		      struct bsr_device **out);
void bsr_delete_device(struct bsr_device *d);
struct bsr_conn *bsr_create_connection(struct bsr_resource *r, u32 peer);
void bsr_delete_connection(struct bsr_conn *c);
struct bsr_peer_device *bsr_create_peer_device(struct bsr_device *d, struct bsr_conn *c);
void bsr_free_peer_device(struct bsr_peer_device *pd);
struct bsr_path *bsr_alloc_path(void);
void bsr_free_path(struct bsr_path *p);
void bsr_opts_init_defaults(void);
struct bsr_opts_data *bsr_opts_build(enum bsr_opt_set set, const struct nlattr * const *attrs,
				     int maxtype);
struct bsr_opts_data *bsr_opts_publish(struct bsr_opts *o, struct bsr_opts_data *d);
void bsr_opts_data_free(struct bsr_opts_data *d);
void bsr_opts_free(struct bsr_opts *o);
struct page *bsr_page_get(gfp_t gfp);
void bsr_page_put(struct page *page);
void bsr_device_apply_disk_conf(struct bsr_device *d);
bool bsr_wait_device_closed(struct bsr_device *d);

/* bsr_req.c */
void bsr_submit_bio(struct bio *bio);
void bsr_al_work(struct work_struct *w);
void bsr_fail_waiting_writes(struct bsr_device *d);
void bsr_md_write_failed(struct bsr_device *d, const char *what, int err);
void bsr_io_error(struct bsr_device *d, sector_t sector, u32 size, blk_status_t status);
void bsr_failed_work(struct work_struct *w);
void bsr_resync_after_kick(void);
void bsr_resync_after_stop(void);
bool bsr_resync_after_check(struct bsr_device *d, s32 minor);
void bsr_failed_forget(struct bsr_device *d);
extern struct work_struct bsr_failed_work_item;
bool bsr_get_ldev(struct bsr_device *d);
void bsr_put_ldev(struct bsr_device *d);

/* bsr_meta.c */
int bsr_md_io(struct block_device *bdev, sector_t sector, struct page **pages,
	      unsigned int n, blk_opf_t opf);
int bsr_md_write_sb(struct bsr_device *d, struct bsr_backing *ldev);
int bsr_attach(struct bsr_device *d, const char *backing, const char *meta, s32 idx,
	       char *msg, size_t msglen);
void bsr_detach(struct bsr_device *d);
void bsr_detach_force(struct bsr_device *d);
int bsr_resize(struct bsr_device *d, u64 want, bool assume_clean, char *msg, size_t msglen);
bool bsr_md_flushes(struct bsr_device *d);
int bsr_assign_bitmap_slot(struct bsr_device *d, u32 peer_node_id);
void bsr_update_slot_mask(struct bsr_device *d);
void bsr_uuid_new_current(struct bsr_device *d, bool primary, bool clear_bm);
void bsr_history_add(struct bsr_md *md, u64 uuid);
void bsr_update_block_size(struct bsr_device *d, unsigned int own);

/* bsr_bitmap.c */
int bsr_bm_alloc(struct bsr_bitmap *bm, u64 bits, unsigned int max_peers, u64 area_bytes);
void bsr_bm_free(struct bsr_bitmap *bm);
int bsr_bm_grow(struct bsr_bitmap *bm, u64 bits, u64 area_bytes);
void bsr_bm_shrink(struct bsr_bitmap *bm, u64 bits);
int bsr_bm_read(struct bsr_device *d, struct bsr_backing *ldev);
int bsr_bm_write_all(struct bsr_device *d, struct bsr_backing *ldev);
int bsr_bm_write_range(struct bsr_device *d, struct bsr_backing *ldev, u64 first_bit,
		       u64 last_bit);
void bsr_bm_set_range(struct bsr_bitmap *bm, u32 slot_mask, u64 first_bit, u64 last_bit);
void bsr_bm_clear_slot(struct bsr_bitmap *bm, unsigned int slot);
void bsr_bm_recount(struct bsr_bitmap *bm);

/* bsr_actlog.c */
int bsr_al_init(struct bsr_actlog *al, u32 nr_slots, u32 ring_n);
void bsr_al_free(struct bsr_actlog *al);
bool bsr_al_begin_fast(struct bsr_actlog *al, u32 first, u32 last);
int bsr_al_begin_slow(struct bsr_device *d, struct bsr_backing *ldev, u32 first, u32 last);
void bsr_al_complete(struct bsr_actlog *al, u32 first, u32 last);
int bsr_al_replay(struct bsr_device *d, struct bsr_backing *ldev, u32 *active);
int bsr_al_write_initialized(struct bsr_device *d, struct bsr_backing *ldev);
int bsr_al_evict_all(struct bsr_device *d, struct bsr_backing *ldev);
u32 bsr_al_nr_slots(u32 al_extents, u32 ring_n);
int bsr_al_resize(struct bsr_device *d, struct bsr_backing *ldev, u32 nr_slots);
int bsr_al_set_updates(struct bsr_device *d, struct bsr_backing *ldev, bool off);
bool bsr_al_wait_idle(struct bsr_device *d, struct bsr_backing *ldev, unsigned int timeout_ms);

/* bsr_sender.c: the peers' open epochs of d's writes closed (their extents may be retired) */
void bsr_close_epochs(struct bsr_device *d);

/* bsr_state.c */
const char *bsr_role_name(enum bsr_role r);
const char *bsr_disk_name(enum bsr_disk s);
const char *bsr_conn_name(enum bsr_connection s);
const char *bsr_repl_name(enum bsr_replication s);
/*
 * Role change flags. BSR_ROLE_EXPLICIT: the administrator's own primary/secondary command;
 * only that demotion clears persist-role's WAS_PRIMARY (down, a crash keep it).
 */
#define BSR_ROLE_FORCE		0x1
#define BSR_ROLE_EXPLICIT	0x2
/* BSR_ROLE_AUTO: a promotion nobody typed (apply-persist-role): every peer must be connected. */
#define BSR_ROLE_AUTO		0x4
int bsr_set_role(struct bsr_resource *r, enum bsr_role role, unsigned int flags, char *msg,
		 size_t msglen);
int bsr_set_disk_state(struct bsr_device *d, enum bsr_disk s);
void bsr_set_cstate(struct bsr_conn *c, enum bsr_connection s);
int bsr_set_repl_state(struct bsr_peer_device *pd, enum bsr_replication s);
void bsr_app_report_kick(struct bsr_peer_device *pd);
bool bsr_repl_is_target(enum bsr_replication s);
bool bsr_repl_is_source(enum bsr_replication s);
bool bsr_repl_in_resync(enum bsr_replication s);
struct bsr_peer_device *bsr_resync_source_of(struct bsr_device *d);
enum bsr_disk bsr_disk_state_from_md(const struct bsr_md *md);
void bsr_io_suspend(struct bsr_device *d);
void bsr_io_resume(struct bsr_device *d);
bool bsr_res_suspended(struct bsr_resource *r);
bool bsr_res_susp_fen(struct bsr_resource *r);
void bsr_set_susp(struct bsr_resource *r, bool *reason, bool on);
bool bsr_io_susp_queue(struct bsr_device *d, struct bio *bio);
int bsr_io_quiesce(struct bsr_device *d, unsigned int timeout_ms);
void bsr_io_fail_suspended(struct bsr_device *d);
bool bsr_nod_suspend(struct bsr_device *d, struct bio *bio);
bool bsr_nod_end(struct bsr_device *d, bool released);

/* bsr_nl.c */
int bsr_genl_register(void);
void bsr_genl_unregister(void);
void bsr_notify_resource(struct bsr_resource *r, int type);
void bsr_notify_device(struct bsr_device *d, int type);
void bsr_notify_connection(struct bsr_conn *c, int type);
void bsr_notify_peer_device(struct bsr_peer_device *pd, int type);
void bsr_notify_path(struct bsr_conn *c, struct bsr_path *p, int type);
void bsr_notify_io_error(struct bsr_device *d);

#endif /* BSR_INT_H */
