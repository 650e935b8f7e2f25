/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bsr: replication over TCP (engine part 2).
 *
 * Per connection two TCP streams: "data" carries the handshake, replicated writes,
 * barriers, bitmaps and resync data; "meta" carries acks and pings only, so that they
 * never queue behind bulk data. Threads of one connection:
 *  - the receiver (bsr_r_RES_PEER): connects (or accepts), runs the handshake, then
 *    receives and applies the data stream; on any error it tears the connection down
 *    and, unless told to stop, tries again every connect-int;
 *  - the meta receiver (bsr_m_RES_PEER): acks and pings, keep-alive;
 *  - the resync thread (bsr_s_RES_PEER) while this node is SyncSource;
 *  - ack_work (on bsr_ack_wq) sends the acks of completed peer writes;
 *  - a peer device's ov_work (on bsr_wq, not high priority: it digests) compares and
 *    answers the verify target's reads as they complete.
 *
 * Locking: net->data_mutex / net->meta_mutex serialize senders of one stream;
 * net->lock (irq-safe spinlock) guards the transfer log and the peer request lists;
 * resource->adm_mutex serializes handshake decisions and sync state changes with
 * configuration requests. Threads never take bsr_conf_mutex (nor the genl mutex).
 */
#ifndef BSR_NET_H
#define BSR_NET_H

#include <linux/hashtable.h>
#include <linux/kthread.h>
#include <linux/net.h>
#include <crypto/hash.h>

#include "bsr_int.h"

/* ------------------------------------------------------------------ wire format */

struct p_header100 {
	__be32 magic;
	__be16 volume;
	__be16 command;
	__be32 length;		/* payload bytes after this header */
	__be32 pad;
} __packed;

struct p_features {
	__be32 protocol_min;
	__be32 feature_flags;
	__be32 protocol_max;
	__be32 sender_node_id;
	__be32 receiver_node_id;
	__be32 reserved[3];
} __packed;

#define CF_DISCARD_MY_DATA 1
/* connect --tentative: both nodes only log what the handshake would do, then part */
#define CF_TENTATIVE 2

struct p_protocol {
	__be32 protocol;
	__be32 after_sb_0p;
	__be32 after_sb_1p;
	__be32 after_sb_2p;
	__be32 conn_flags;
	__be32 two_primaries;
} __packed;

/*
 * SIZES, laid out as the ABI JSON says (wire.sizes); a peer that agreed on protocol 1 sends
 * and expects the first BSR_P_SIZES_LEN_V1 bytes only.
 */
struct p_sizes {
	__be64 d_size;		/* usable backing sectors */
	__be64 u_size;		/* user requested size (0: all) */
	__be64 c_size;		/* current capacity */
	__be32 max_bio_size;
	__be32 flags;
	/* protocol 2: of the sender's backing device, 0 without one */
	__be32 logical_block_size;
} __packed;

static_assert(offsetof(struct p_sizes, d_size) == BSR_P_SIZES_OFF_D_SIZE);
static_assert(offsetof(struct p_sizes, u_size) == BSR_P_SIZES_OFF_U_SIZE);
static_assert(offsetof(struct p_sizes, c_size) == BSR_P_SIZES_OFF_C_SIZE);
static_assert(offsetof(struct p_sizes, max_bio_size) == BSR_P_SIZES_OFF_MAX_BIO_SIZE);
static_assert(offsetof(struct p_sizes, flags) == BSR_P_SIZES_OFF_FLAGS);
static_assert(offsetof(struct p_sizes, logical_block_size) ==
	      BSR_P_SIZES_OFF_LOGICAL_BLOCK_SIZE);
static_assert(sizeof(struct p_sizes) == BSR_P_SIZES_LEN_V2);
static_assert(BSR_P_SIZES_LEN_V3 == BSR_P_SIZES_LEN_V2);
static_assert(BSR_P_SIZES_LEN_V4 == BSR_P_SIZES_LEN_V2);
static_assert(BSR_PROTOCOL_MAX == 4);	/* a new version needs its SIZES length here */

static inline u32 bsr_sizes_len(u32 agreed_pro_version)
{
	return agreed_pro_version >= 2 ? BSR_P_SIZES_LEN_V2 : BSR_P_SIZES_LEN_V1;
}

#define UUID_FLAG_DISCARD_MY_DATA 1ULL
#define UUID_FLAG_CRASHED_PRIMARY 2ULL
#define UUID_FLAG_RESYNC_DONE 4ULL
#define UUID_FLAG_SKIP_INITIAL_SYNC 8ULL
#define UUID_FLAG_NEW_DATAGEN 16ULL
/* with RESYNC_DONE: blocks the source could not read are still out of sync */
#define UUID_FLAG_RESYNC_FAILED 32ULL
#define BSR_WIRE_HISTORY 8

struct p_uuids {
	__be64 current_uuid;
	__be64 bitmap_uuid;	/* the sender's bitmap UUID for the receiver */
	__be64 history[BSR_WIRE_HISTORY];
	__be64 dirty_bits;
	__be64 flags;
} __packed;

/*
 * Protocol 4, after SYNC_PARAM: the volumes the sender has, count volume numbers (__be16)
 * strictly ascending after this header. Only the volumes both nodes have are replicated.
 */
struct p_volumes {
	__be32 count;
} __packed;

#define BSR_VOLUMES_MAX (BSR_MAX_VOLUMES + 1)	/* volume numbers 0..BSR_MAX_VOLUMES */

struct p_state {
	__be32 role;
	__be32 disk;
	__be32 repl;
	__be32 flags;
} __packed;

#define DP_FUA 16
#define DP_FLUSH 32
#define DP_SEND_RECEIVE_ACK 128
#define DP_SEND_WRITE_ACK 256

struct p_data {
	__be64 sector;
	__be64 block_id;
	__be32 seq_num;
	__be32 dp_flags;
} __packed;

struct p_block_ack {
	__be64 sector;
	__be64 block_id;
	__be32 blksize;
	__be32 seq_num;
} __packed;

struct p_barrier {
	__be32 barrier;
	__be32 flags;	/* BARRIER_FLUSH */
} __packed;

/* An application's empty flush: the peer flushes its disk whatever its disk-flushes says. */
#define BARRIER_FLUSH 1

struct p_barrier_ack {
	__be32 barrier;
	__be32 set_size;
} __packed;

#define BM_FLAG_LAST 1
#define BM_FLAG_FIRST_SET 2	/* COMPRESSED_BITMAP: the first run is of set bits */
/* the SyncSource's LAST chunk: this resync is checksum-based (bsr_csums.c) */
#define BM_FLAG_CSUMS 4
#define BM_CHUNK_WORDS 512

/*
 * BITMAP: n_words little-endian 64-bit words follow. COMPRESSED_BITMAP: the same n_words
 * as run lengths (see bsr_bm_rle_decode), always shorter than the plain words.
 */
struct p_bitmap {
	__be64 word_offset;
	__be32 n_words;
	__be32 flags;
} __packed;

#define SYNC_FLAG_FULL 1
/* with FULL: a FastSync, the source marks its file system's used blocks, the target none */
#define SYNC_FLAG_FAST 2

struct p_sync_start {
	__be32 flags;
	__be32 pad;
} __packed;

/* STATE_CHG_REQ: the sender asks to become Primary; STATE_CHG_REPLY: 0 (agreed) or a refusal */
struct p_role_req {
	__be32 role;
	__be32 seq;
} __packed;

struct p_role_reply {
	__be32 retcode;
	__be32 seq;			/* of the request answered */
} __packed;

/* SYNC_PARAM (protocol 3): the connection's algorithms, which both nodes must share */
#define BSR_ALG_NAME_LEN 64		/* the netlink policy's limit, NUL included */

struct p_sync_param {
	char verify_alg[BSR_ALG_NAME_LEN];
	/*
	 * Sent only when set (the packet is then BSR_SYNC_PARAM_LEN_INTEGRITY bytes), so a
	 * peer that does not know it connects while neither node uses it.
	 */
	char integrity_alg[BSR_ALG_NAME_LEN];
	/* likewise sent only when set (BSR_SYNC_PARAM_LEN_CSUMS bytes) */
	char csums_alg[BSR_ALG_NAME_LEN];
} __packed;
#define BSR_SYNC_PARAM_LEN_VERIFY offsetof(struct p_sync_param, integrity_alg)
#define BSR_SYNC_PARAM_LEN_INTEGRITY offsetof(struct p_sync_param, csums_alg)
#define BSR_SYNC_PARAM_LEN_CSUMS sizeof(struct p_sync_param)

/* the largest digest a verify packet carries (sha512) */
#define BSR_DIGEST_MAX 64
/* found ranges a verify run lists in the kernel log at its end */
#define BSR_OV_RANGES 16

/*
 * OV_REQUEST (data stream, verify source to target): the source's digests of the blocks
 * [sector, sector + size), one per 4 KiB block (a device's partial last block: of its
 * sectors), each of the negotiated verify-alg's digest size. `stop`: the end of the run.
 */
struct p_ov_request {
	__be64 sector;
	__be64 stop;
	__be32 size;
	__be32 pad;
} __packed;

/* OV_RESULT (meta stream, target to source): bit i of `differ` set = block i differs */
struct p_ov_result {
	__be64 sector;
	__be32 size;
	__be32 pad;
	__le64 differ[4];
} __packed;

/*
 * CSUM_RS_REQUEST (data stream, SyncTarget to SyncSource): the target's digests (csums-alg)
 * of the out-of-sync blocks [sector, sector + size), one per 4 KiB block as in OV_REQUEST.
 * The source answers RS_IS_IN_SYNC (meta stream, a p_block_ack) when all are equal to its
 * own, else RS_DATA_REPLY; NEG_RS_DREPLY when it cannot read them.
 */
struct p_csum_rs_request {
	__be64 sector;
	__be32 size;
	__be32 flags;
} __packed;
/* the target could not read its blocks: the digests mean nothing, the data must come */
#define CSUM_RS_UNREADABLE 1

#define BSR_AUTH_CHALLENGE_LEN 64
#define BSR_AUTH_STR_LEN 64		/* cram-hmac-alg, shared-secret: 63 + NUL (netlink policy) */
#define BSR_MAX_DATA_SIZE BSR_MAX_BIO_SIZE
#define BSR_RS_MAX_SIZE BSR_MAX_DATA_SIZE	/* as DATA: fewer, larger resync I/Os */
#define BSR_RS_MAX_BLOCKS (BSR_RS_MAX_SIZE >> BSR_BM_BLOCK_SHIFT)
#define BSR_RS_MAX_READS 64
/*
 * Sectors read, sent and not yet acknowledged: bounds the memory both sides use, as does the
 * connection's max-buffers (bsr_rs_room).
 */
#define BSR_RS_MAX_IN_FLIGHT (16U << 11)
static_assert(BSR_RS_MAX_BLOCKS == sizeof_field(struct p_ov_result, differ) * 8);
/* ov-req-num: the blocks of one OV_REQUEST, at most what its OV_RESULT can name */
static_assert(T_PEER_DEVICE_CONF_OV_REQ_NUM_MAX == BSR_RS_MAX_BLOCKS);
/*
 * The verify target's OV_REQUESTs read or compared at a time: at most this many, and past the
 * first at most this many bytes (its pages), so 64 of 10 blocks or 4 of 256.
 */
#define BSR_OV_TARGET_MAX_REQS 64
#define BSR_OV_TARGET_MAX_BYTES (4U << 20)

/* ------------------------------------------------------------------ objects */

/* Primary side: one write (or flush) sent to one peer, until that peer is done with it. */
struct bsr_tle {
	struct list_head list;		/* net->tl, in send order */
	struct hlist_node hash;		/* by id */
	struct bsr_req *req;		/* holds a reference while the remote condition is open */
	struct bsr_peer_device *pd;
	u64 id;
	sector_t sector;
	u32 size;
	u32 epoch;
	bool is_barrier;
	bool recv_acked;
	bool queued;			/* counted in net->queued_bytes / queued_writes */
	/*
	 * A write holds its activity-log extents al_first..al_last (and the disk) until it is
	 * retired: after a crash of this node, a write the peer may not have is in the log.
	 */
	bool al_held;
	u32 al_first, al_last;
	unsigned long start;		/* jiffies */
};

/* OUT_OF_SYNC: the sender's blocks [sector, sector + size) are out of sync (pull-ahead) */
struct p_block_desc {
	__be64 sector;
	__be32 blksize;
	__be32 pad;
} __packed;

/* the largest range one OUT_OF_SYNC names: neighbouring writes are merged up to it */
#define BSR_OOS_MAX_SIZE (1U << 30)

/* Secondary side: a write (or resync write) received from the peer. */
struct bsr_peer_req {
	struct list_head list;		/* net->active_ee, then net->done_ee */
	struct bsr_peer_device *pd;
	u64 block_id;
	sector_t sector;
	u32 size;
	u32 seq;
	u32 dp_flags;
	bool resync;
	bool in_al;			/* holds extents al_first..al_last of our AL */
	u32 al_first;
	u32 al_last;
	atomic_t pending_bios;
	blk_status_t status;
	unsigned int n_pages;
	struct page *pages[];
};

/* SyncSource: a resync reply sent and not acknowledged yet; an ack must match one. */
struct bsr_rs_sent {
	struct list_head list;
	sector_t sector;
	u32 size;
};

/* SyncSource, checksum-based resync: a CSUM_RS_REQUEST received and not answered yet */
struct bsr_csum_req {
	struct list_head list;
	sector_t sector;
	u32 size;
	u32 flags;
	u8 digests[];
};

/* SyncSource: one resync read in flight (checksum-based: one for the target's request). */
struct bsr_rs_req {
	struct list_head list;
	struct bsr_peer_device *pd;
	sector_t sector;
	u32 size;
	struct bsr_csum_req *csum;	/* the request this read answers, or NULL */
	/* device->rs_tree (bsr_req.c) from the read until the reply is sent or dropped */
	struct rb_node rb;
	sector_t subtree_last;
	bool in_tree;
	blk_status_t status;
	unsigned int n_pages;
	struct page *pages[BSR_RS_MAX_BLOCKS];
};

struct bsr_net {
	struct bsr_conn *conn;
	struct task_struct *receiver;
	struct task_struct *meta_rx;
	struct task_struct *resync;
	bool want_connect;		/* config: not StandAlone */
	bool discard_my_data;		/* config: connect --discard-my-data */
	bool tentative;			/* config: connect --tentative (this connection only) */
	bool net_ok;			/* handshake done, replicating */
	enum bsr_connection fail_state;	/* the reason of the next teardown */
	bool give_up;			/* that teardown ends StandAlone, no retry; n->lock */

	struct socket *data_sock;
	struct socket *meta_sock;
	struct socket *listen_sock;
	struct mutex data_mutex;
	struct mutex meta_mutex;
	struct mutex sock_mutex;	/* the socket pointers (shutdown vs release) */

	/* negotiated */
	u32 agreed_pro_version;
	u32 agreed_features;		/* BSR_FF_* both nodes sent */
	u32 protocol;			/* 1 = A, 2 = B, 3 = C */
	bool peer_discard_my_data;
	bool peer_tentative;
	/* after-sb-0pri, -1pri, -2pri as both nodes agreed in the handshake (bsr_sync.c) */
	u32 after_sb[3];
	/* verify-alg as both nodes agreed in the handshake (SYNC_PARAM); NULL: none */
	struct crypto_shash *verify_tfm;
	/*
	 * data-integrity-alg as agreed (NULL: none) and its digest size, which DATA and
	 * RS_DATA_REPLY carry after their p_data (bsr_integrity.c); set under data_mutex.
	 */
	struct crypto_shash *integrity_tfm;
	u32 integrity_dgs;
	atomic64_t integrity_errors;	/* mismatches received on this connection */
	/* csums-alg as agreed (NULL: none); the resync threads are not running when it changes */
	struct crypto_shash *csums_tfm;
	unsigned long integrity_window_start;	/* receiver thread only */
	u32 integrity_window_count;

	spinlock_t lock;
	struct list_head tl;
	DECLARE_HASHTABLE(tl_hash, 8);
	u64 next_id;
	u32 cur_epoch;			/* current epoch number of writes sent */
	u32 epoch_writes;		/* writes sent in cur_epoch */
	wait_queue_head_t tl_wait;

	struct list_head active_ee;
	struct list_head done_ee;
	wait_queue_head_t ee_wait;
	u32 rx_epoch_writes;		/* writes received since the last barrier */
	struct work_struct ack_work;

	/*
	 * Promotion agreed with the peer: role_reply is the peer's answer to our request
	 * (-1 while none came, 0 agreed, else BSR_RET_BUSY or BSR_RET_PEER_PRIMARY);
	 * peer_promoting: we granted the peer's request and have not seen its new state yet,
	 * so we must not promote ourselves meanwhile.
	 */
	int role_reply;
	u32 role_seq;
	wait_queue_head_t role_wait;
	bool peer_promoting;

	/* keep-alive */
	bool ping_pending;
	atomic_t conf_gen;		/* bumped by net-options: keep-alive times are read again */

	wait_queue_head_t rs_wait;	/* the resync thread */
	atomic_t rs_kick;
	atomic64_t ap_in_flight;	/* sectors */
	atomic64_t rs_in_flight;	/* sectors */
	/*
	 * max-buffers: pages held for the peer's requests, the received writes and resync data
	 * until freed and the verify target's reads until answered. The receiver takes pages for
	 * the next request only below max-buffers; ee_wait wakes it as they are freed.
	 */
	atomic_t peer_pages;

	/*
	 * Congestion (bsr_congestion.c). queued_*: writes sent and not yet received by the
	 * peer (its RECV_ACK or WRITE_ACK, else the BARRIER_ACK, retires them). ahead: this
	 * node pulled ahead; writes are only marked out of sync and their ranges queued in
	 * oos_queue for cong_work to tell the peer. `ahead` and oos_queue change under lock;
	 * `ahead` becomes false only with data_mutex held too, so a sender holding it sees
	 * it stable.
	 */
	atomic64_t queued_bytes;
	atomic_t queued_writes;
	bool ahead;
	unsigned long ahead_since;	/* jiffies */
	struct list_head oos_queue;
	struct delayed_work cong_work;
	/* every BSR_APP_REPORT_INTERVAL while the peer paces a run: APP_ACTIVE (bsr_sync.c) */
	struct delayed_work app_work;
	char thread_tag[48];
};

struct bsr_pd_net {
	/* the peer's data generation as last received */
	u64 peer_current;
	u64 peer_bitmap;
	u64 peer_history[BSR_WIRE_HISTORY];
	u64 peer_flags;
	u64 peer_dirty;			/* blocks the peer has out of sync with us (its bitmap) */
	u64 peer_d_size;
	u32 peer_lbs;			/* logical block size of the peer's disk, 0: none or unknown */
	bool uuids_received;
	bool sizes_received;
	bool state_received;
	/*
	 * The handshake's volume set (receiver thread): offered, this node listed the volume;
	 * shared, the peer has it too. shared is set before net_ok and cleared after it (the
	 * teardown, data_mutex taken): read it through bsr_pd_replicating().
	 */
	bool offered;
	bool shared;

	struct bsr_peer_device *pd;

	/* bitmap exchange: bm_work sends ours while the receiver reads the peer's */
	struct work_struct bm_work;
	bool bm_sent;
	bool bm_received;
	u64 bm_rx_words;

	/* resync progress (sectors) */
	u64 rs_total;
	u64 rs_cursor;			/* next bit to look at */
	unsigned long rs_start;
	unsigned long rs_mark_time;
	u64 rs_mark_left;
	u64 rs_dbdt_kib;
	spinlock_t rs_lock;
	struct list_head rs_done;	/* read completions to send */
	struct list_head rs_sent;	/* bsr_rs_sent, under rs_lock */
	/*
	 * Blocks this resync leaves alone: on a SyncTarget those the peer's writes replaced
	 * (newer than resync data), on a SyncSource those it could not read (rs_failed of
	 * them; they stay out of sync).
	 */
	unsigned long *rs_skip;
	u64 rs_skip_bits;
	u64 rs_failed;
	unsigned long rs_tick_start;
	u64 rs_budget_left;		/* sectors the controller still allows in this tick */
	u64 rs_acked_mark;		/* rs_total - left at the start of this tick */
	/*
	 * The application-I/O throttle (c-min-rate, resync-ratio), sampled by the controller
	 * once a period (a resync's tick, a verify's ov-req-interval): the device's
	 * application sectors and this peer's replicated sectors at the last sample
	 * (thr_sampled), the replicated sectors a tick (a moving average), and until when the
	 * application counts as active (thr_busy). thr_held: the throttle limited the last
	 * budget (resync-throttled, shown while a resync or verify runs).
	 */
	unsigned long thr_sampled;
	u64 thr_app_mark;
	u64 thr_repl_mark;
	u64 thr_repl_tick;
	unsigned long thr_busy_until;
	bool thr_busy;
	bool thr_held;
	/*
	 * The peer's application, as APP_ACTIVE reports it: peer_app is set by the meta
	 * receiver and taken by the next throttle sample. The reporting side: whether it
	 * reported on this volume at the last look and the local application sectors then.
	 */
	atomic_t peer_app;
	bool app_reporting;
	u64 app_report_mark;
	bool resync_susp_peer;
	/* this resync: BSR_RESYNC_KIND_*, and the bytes a FastSync map marked (source) */
	u32 rs_kind;
	u64 rs_map_bytes;
	/*
	 * This resync is checksum-based (the source decides, its LAST bitmap chunk says so):
	 * the target asks (CSUM_RS_REQUEST, its rs_sent lists them), the source answers the
	 * requests queued on csum_reqs (csum_req_sect sectors, under rs_lock).
	 * rs_same_csum: sectors found equal, not sent.
	 */
	bool rs_csums;
	struct list_head csum_reqs;
	u64 csum_req_sect;
	atomic64_t rs_same_csum;
	/*
	 * Set before a full sync as target whose source marks the blocks: the kind the source
	 * announced (FAST), or FULL for invalidate (any source marks all or its map). 0: none.
	 */
	u32 rs_source_marks;
	bool split_brain;		/* the handshake found one: run the helper */

	/*
	 * Online verify (bsr_verify.c), in sectors: the run covers [ov_start, ov_stop); the
	 * source reads from ov_cursor and sends from ov_send_next; results are in up to
	 * ov_position. ov_sent: the source's requests (bsr_rs_req, still in rs_tree) waiting
	 * for their OV_RESULT, under rs_lock, as the found ranges. ov_resume: where the last
	 * run ended early, the next run's default start. With ov_map the source reads only the
	 * blocks the map marks, so its requests skip the rest (the target takes gaps as they come).
	 * The target reads ahead: ov_tq lists its requests (bsr_ov_treq) in arrival order, under
	 * rs_lock, from the receiver's submission until ov_work has answered them in that order;
	 * ov_tq_n and ov_tq_bytes count them until freed (the receiver waits on ee_wait below the
	 * BSR_OV_TARGET_MAX_* bounds), ov_req_end is where the last accepted one ends.
	 */
	sector_t ov_start;
	sector_t ov_stop;
	sector_t ov_cursor;
	sector_t ov_send_next;		/* the source sends its requests in block order */
	sector_t ov_position;
	sector_t ov_resume;
	bool ov_stop_req;
	bool ov_go;		/* the run's VerifyS is on the wire: requests may follow */
	bool ov_auto_sync;		/* verify --auto-sync: resync what was found at the end */
	struct bsr_fast_map *ov_map;	/* FastSync: the source compares only its used blocks */
	struct list_head ov_sent;
	struct list_head ov_tq;
	unsigned int ov_tq_n;
	unsigned int ov_tq_max;		/* the most in ov_tq at once in this run */
	u32 ov_tq_bytes;
	sector_t ov_req_end;
	struct work_struct ov_work;
	u64 ov_found;			/* blocks */
	u64 ov_requests;		/* OV_REQUESTs sent (source) or answered (target) */
	u32 ov_n_ranges;		/* merged ranges found; the first BSR_OV_RANGES kept */
	u64 ov_last_end;		/* the block after the last one found */
	struct bsr_ov_range {
		u64 first, end;		/* blocks [first, end) */
	} ov_ranges[BSR_OV_RANGES];

	atomic64_t sent_sect;
	atomic64_t recv_sect;
	atomic64_t repl_sect;		/* application writes replicated to or from this peer */
	atomic_t ap_pending;		/* writes sent to the peer, not answered yet */
	atomic_t unacked;		/* the peer's writes and resync data, not answered yet */
	atomic_t pending;
};

/* bsr_transport.c */
bool bsr_send_retry(int rv);
int bsr_send_failed(struct socket *sock, int rv);
int bsr_sock_send(struct socket *sock, const void *buf, size_t len, unsigned int flags);
int bsr_send_data_buf(struct bsr_net *n, const void *buf, size_t len);
int bsr_send_data_buf_flags(struct bsr_net *n, const void *buf, size_t len, unsigned int flags);
void bsr_data_push(struct bsr_net *n);
int bsr_sock_recv(struct socket *sock, void *buf, size_t len);
int bsr_sock_wait_data(struct socket *sock);
int bsr_sock_send_pages(struct socket *sock, struct page **pages, u32 size, unsigned int flags);
int bsr_sock_send_bio(struct socket *sock, struct bio *bio, bool by_ref, unsigned int flags);
int bsr_sock_recv_pages(struct socket *sock, struct page **pages, u32 size);
int bsr_send_packet(struct bsr_conn *c, bool meta, enum bsr_packet cmd, u16 vnr,
		    const void *payload, u32 len);
int bsr_send_packet_locked(struct socket *sock, enum bsr_packet cmd, u16 vnr,
			   const void *payload, u32 len, unsigned int flags);
int bsr_recv_header(struct socket *sock, enum bsr_packet *cmd, u16 *vnr, u32 *len);
bool bsr_first_path(struct bsr_conn *c, struct bsr_path *copy);
int bsr_establish(struct bsr_conn *c);
void bsr_sock_shutdown(struct bsr_net *n);
void bsr_sock_release_all(struct bsr_net *n);
int bsr_auth(struct bsr_conn *c, bool meta);

/* bsr_receiver.c */
int bsr_net_init(struct bsr_conn *c);
void bsr_net_free(struct bsr_conn *c);
int bsr_pd_net_init(struct bsr_peer_device *pd);
void bsr_pd_net_free(struct bsr_peer_device *pd);
int bsr_conn_start(struct bsr_conn *c, bool discard_my_data, bool tentative);
void bsr_thread_affinity(struct bsr_resource *r, struct task_struct *t);
void bsr_thread_publish(struct bsr_conn *c, struct task_struct **slot, struct task_struct *t);
void bsr_thread_stop(struct bsr_net *n, struct task_struct **slot);
void bsr_conn_apply_cpu_mask(struct bsr_conn *c);
void bsr_conn_stop(struct bsr_conn *c, bool force);
void bsr_conn_fail(struct bsr_conn *c, enum bsr_connection why);
int bsr_send_state(struct bsr_peer_device *pd);
int bsr_send_uuids(struct bsr_peer_device *pd, u64 flags);
void bsr_peer_pages_put(struct bsr_net *n, unsigned int pages);
void bsr_ack_work(struct work_struct *w);
extern struct workqueue_struct *bsr_ack_wq;

/* bsr_sender.c */
void bsr_req_put(struct bsr_req *req);
void bsr_pd_set_oos(struct bsr_peer_device *pd, struct bio *bio, u32 already_marked);
bool bsr_rs_read_begin(struct bsr_device *d, struct bsr_rs_req *rq);
void bsr_rs_read_end(struct bsr_device *d, struct bsr_rs_req *rq);
void bsr_replicate_write(struct bsr_device *d, struct bsr_req *req, struct bio *bio);
bool bsr_replicate_flush(struct bsr_device *d, struct bsr_req *req);
int bsr_got_block_ack(struct bsr_peer_device *pd, enum bsr_packet cmd,
		      const struct p_block_ack *p);
int bsr_got_barrier_ack(struct bsr_conn *c, u32 barrier);
void bsr_tl_clear(struct bsr_conn *c);
int bsr_tl_drain(struct bsr_conn *c, long timeout);
long bsr_tl_ko_left(struct bsr_conn *c);
int bsr_send_barrier(struct bsr_conn *c);
void bsr_close_idle_epoch(struct bsr_conn *c);

/* bsr_congestion.c */
void bsr_cong_init(struct bsr_net *n);
void bsr_cong_reset(struct bsr_conn *c);
bool bsr_cong_congested(struct bsr_conn *c);
bool bsr_cong_write(struct bsr_peer_device *pd, struct bio *bio, u32 already_marked);
bool bsr_cong_write_ahead(struct bsr_peer_device *pd, struct bio *bio, u32 already_marked);
void bsr_cong_drained(struct bsr_conn *c);
void bsr_cong_work(struct work_struct *w);
int bsr_cong_peer_state(struct bsr_peer_device *pd, enum bsr_replication peer_repl);
int bsr_cong_got_out_of_sync(struct bsr_peer_device *pd, const struct p_block_desc *p);

/* bsr_sync.c */
enum bsr_sync_decision {
	SYNC_NONE,
	SYNC_SOURCE_BITMAP,
	SYNC_TARGET_BITMAP,
	SYNC_SOURCE_FULL,
	SYNC_TARGET_FULL,
	SYNC_SPLIT_BRAIN,
	SYNC_UNRELATED,
};
int bsr_sync_handshake(struct bsr_peer_device *pd);
void bsr_sync_tentative(struct bsr_peer_device *pd);
void bsr_outdate_behind(struct bsr_device *d);
int bsr_start_resync(struct bsr_peer_device *pd, bool source, bool full);
void bsr_bm_send_work(struct work_struct *w);
int bsr_bm_rle_decode(const u8 *code, u32 len, bool first_set, __le64 *words, u32 n_words);
int bsr_recv_bitmap_chunk(struct bsr_peer_device *pd, const struct p_bitmap *p,
			  const __le64 *words, u32 n);
void bsr_resync_finished_target(struct bsr_peer_device *pd, bool failed);
int bsr_rs_got_ack(struct bsr_peer_device *pd, sector_t sector, u32 size, bool ok);
void bsr_resync_stop(struct bsr_conn *c);
void bsr_rs_progress(struct bsr_peer_device *pd);
bool bsr_pd_syncing(struct bsr_peer_device *pd);
void bsr_rs_pause_update(struct bsr_peer_device *pd);
void bsr_rs_pause_changed(struct bsr_peer_device *pd);
bool bsr_rs_susp_here(const struct bsr_peer_device *pd);
void bsr_pd_stats(struct bsr_peer_device *pd, u64 *rs_total, u64 *rs_done, u64 *dbdt,
		  u64 *eta);
int bsr_adm_start_sync(struct bsr_peer_device *pd, bool source, char *msg, size_t len);
int bsr_fast_map_chunk(struct bsr_device *d, u64 first, u64 blocks, const void *words,
		       u32 n_words, bool last, char *msg, size_t len);
void bsr_fast_map_free(struct bsr_device *d);
struct bsr_fast_map *bsr_fast_map_take(struct bsr_device *d, const char **why);
void bsr_fast_map_put(struct bsr_fast_map *m);
u64 bsr_fast_map_used(const struct bsr_fast_map *m);
u64 bsr_fast_map_find(const struct bsr_fast_map *m, u64 bit, u64 end, bool used);
u64 bsr_fast_map_used_end(const struct bsr_fast_map *m, u64 bit, u64 end);
void bsr_notify_split_brain(struct bsr_peer_device *pd);
int bsr_call_helper(struct bsr_peer_device *pd, const char *name);
struct bsr_helper;
struct bsr_helper *bsr_helper_prepare(struct bsr_peer_device *pd, const char *name);
int bsr_helper_run(struct bsr_helper *h);
void bsr_helper_start(struct bsr_peer_device *pd, const char *name);
int bsr_helper_wq_init(void);
void bsr_helper_wq_exit(void);
enum bsr_fencing bsr_fence_policy(struct bsr_conn *c);
bool bsr_fence_apply(struct bsr_conn *c, int status);
void bsr_fence_lost_peer(struct bsr_conn *c);
void bsr_unfence_check(struct bsr_conn *c);
void bsr_free_rs_skip(struct bsr_peer_device *pd);
int bsr_net_set_role(struct bsr_resource *r, enum bsr_role role, unsigned int flags, char *msg,
		     size_t len);
void bsr_skip_initial_sync(struct bsr_device *d);
void bsr_new_uuid_sent(struct bsr_device *d, bool skip_sync);
void bsr_mark_app_written(struct bsr_peer_device *pd, sector_t sector, u32 size);
bool bsr_rs_skipped(struct bsr_peer_device *pd, u64 bit);
int bsr_rs_issue_read(struct bsr_peer_device *pd, u64 bit, unsigned int blocks,
		      struct bsr_csum_req *csum);
void bsr_rs_issue_reads(struct bsr_peer_device *pd);
void bsr_rs_free_req(struct bsr_rs_req *rq);
bool bsr_rs_sent_take(struct bsr_pd_net *p, sector_t sector, u32 size);
/* resync-ratio REPL:RESYNC: each number 1 .. BSR_RATIO_MAX; the text fits BSR_RATIO_LEN */
#define BSR_RATIO_MAX 10000
#define BSR_RATIO_LEN 12
int bsr_parse_ratio(const char *s, u32 *repl, u32 *resync);
u32 bsr_rs_budget(struct bsr_peer_device *pd, u64 acked_last_tick, unsigned long period);

/* A resync or verify (re)starts: its first throttle sample only sets the marks. */
static inline void bsr_rs_throttle_reset(struct bsr_pd_net *p)
{
	p->thr_sampled = 0;
	WRITE_ONCE(p->thr_held, false);
}
void bsr_rs_budget_every(struct bsr_peer_device *pd, u64 acked, unsigned long period);
void bsr_rs_budget_tick(struct bsr_peer_device *pd, u64 acked);
#define BSR_APP_REPORT_INTERVAL (HZ / 10)
void bsr_app_report_work(struct work_struct *w);
int bsr_rs_got_app_active(struct bsr_peer_device *pd);
int bsr_resync_thread_start(struct bsr_conn *c);

/* bsr_integrity.c */
/* more mismatches than this within the window drop the connection */
#define BSR_INTEGRITY_MAX_ERRORS 8
#define BSR_INTEGRITY_WINDOW (10 * HZ)
void bsr_fault_rs_read(struct bsr_device *d, struct page **pages, u32 size);
struct crypto_shash *bsr_digest_alloc(const char *alg, const char **why);
int bsr_integrity_set_alg(struct bsr_conn *c, const char *alg);
int bsr_digest_set(struct crypto_shash **tfm, const char *alg);
int bsr_block_digests(struct crypto_shash *tfm, struct page **pages, u32 size, u8 *out);
int bsr_integrity_digest_bio(struct crypto_shash *tfm, struct bio *bio, u8 *out);
int bsr_integrity_digest_pages(struct crypto_shash *tfm, struct page **pages, u32 size, u8 *out);
int bsr_integrity_check(struct bsr_peer_device *pd, const u8 *peer_digest, struct page **pages,
			sector_t sector, u32 size, bool resync);
bool bsr_integrity_resend(struct bsr_peer_device *pd);
/* bsr_csums.c */
bool bsr_csums_wanted(struct bsr_peer_device *pd);
bool bsr_csums_target(struct bsr_peer_device *pd);
bool bsr_csums_target_tick(struct bsr_peer_device *pd);
int bsr_csums_got_request(struct bsr_peer_device *pd, const struct p_csum_rs_request *q,
			  const u8 *digests, u32 dlen);
void bsr_csums_serve(struct bsr_peer_device *pd);
bool bsr_csums_pending(struct bsr_peer_device *pd);
int bsr_csums_answer(struct bsr_peer_device *pd, struct bsr_rs_req *rq);
int bsr_csums_got_in_sync(struct bsr_peer_device *pd, const struct p_block_ack *a);
int bsr_csums_got_data(struct bsr_peer_device *pd, sector_t sector, u32 size);
void bsr_csums_written(struct bsr_peer_device *pd, u32 size);
void bsr_csums_drop(struct bsr_peer_device *pd);
/* bsr_verify.c */
int bsr_ov_start(struct bsr_peer_device *pd, sector_t start, sector_t stop, bool auto_sync,
		 char *msg, size_t len);
int bsr_ov_stop(struct bsr_peer_device *pd, char *msg, size_t len);
bool bsr_ov_tick(struct bsr_peer_device *pd);
int bsr_ov_got_request(struct bsr_peer_device *pd, const struct p_ov_request *q,
		       u8 *digests, u32 dlen);
void bsr_ov_target_work(struct work_struct *w);
bool bsr_ov_reading(struct bsr_peer_device *pd, sector_t sector, u32 size);
void bsr_ov_drain(struct bsr_peer_device *pd);
int bsr_ov_got_result(struct bsr_peer_device *pd, const struct p_ov_result *r);
void bsr_ov_peer_state(struct bsr_peer_device *pd, enum bsr_replication peer_repl);
void bsr_ov_lost(struct bsr_peer_device *pd);
bool bsr_ov_blocks_promotion(struct bsr_conn *c);
void bsr_ov_stats(struct bsr_peer_device *pd, u64 *total, u64 *done);

/* bsr_nl.c */
/* What a helper's events name, copied: a helper may outlive its peer device. */
struct bsr_helper_ids {
	char res[BSR_NAME_MAX];
	u32 minor, vnr, peer;
};

void bsr_helper_ids_of(struct bsr_peer_device *pd, struct bsr_helper_ids *ids);
void bsr_notify_helper_ids(const struct bsr_helper_ids *ids, const char *name, int type,
			   u32 status);
void bsr_notify_helper(struct bsr_peer_device *pd, const char *name, int type, u32 status);
void bsr_notify_split_brain_event(struct bsr_peer_device *pd);

/* bitmap helpers (bsr_bitmap.c) */
void bsr_bm_clear_range(struct bsr_bitmap *bm, unsigned int slot, u64 first_bit, u64 last_bit);
bool bsr_bm_test(struct bsr_bitmap *bm, unsigned int slot, u64 bit);
u64 bsr_bm_find_next(struct bsr_bitmap *bm, unsigned int slot, u64 from);
void bsr_bm_get_words(struct bsr_bitmap *bm, unsigned int slot, u64 first_w, u32 n, __le64 *out);
void bsr_bm_or_words(struct bsr_bitmap *bm, unsigned int slot, u64 first_w, u32 n,
		     const __le64 *in);
void bsr_bm_set_all(struct bsr_bitmap *bm, unsigned int slot);

/*
 * A peer that breaks the protocol: the connection is dropped and the reason logged, at a
 * limited rate, since the peer decides how often that happens.
 */
#define bsr_proto_warn(fmt, ...) pr_warn_ratelimited("bsr: " fmt, ##__VA_ARGS__)

/* A peer's sector range [sector, sector + bytes) lies within the device (64-bit, no wrap). */
static inline bool bsr_peer_range_ok(struct bsr_device *d, u64 sector, u32 bytes)
{
	u64 end = sector + (bytes >> 9);

	return end >= sector && end <= get_capacity(d->disk);
}

/*
 * Whether to replicate to (and send anything for) this peer device: its connection is up
 * and the peer has the volume too (the handshake's volume set). The one place that decides
 * it; a peer device that is not replicating gets its writes marked out of sync instead.
 */
static inline bool bsr_pd_replicating(const struct bsr_peer_device *pd)
{
	const struct bsr_net *n = pd->connection->net;

	return n && pd->net && READ_ONCE(n->net_ok) && READ_ONCE(pd->net->shared);
}

/* kthread_should_stop() for code that also runs in tasks that are not kthreads */
static inline bool bsr_should_stop(void)
{
	return (current->flags & PF_KTHREAD) && kthread_should_stop();
}

/*
 * Sectors a resync or verify may still put in flight on connection c: within its own bound
 * and within max-buffers pages, which a net-options change lowers or raises at once.
 */
static inline u64 bsr_rs_room(struct bsr_conn *c)
{
	u64 limit = min_t(u64, BSR_RS_MAX_IN_FLIGHT,
			  (u64)bsr_conf(&c->net_conf, T_NET_CONF_MAX_BUFFERS) << (PAGE_SHIFT - 9));
	u64 in_flight = atomic64_read(&c->net->rs_in_flight);

	return in_flight < limit ? limit - in_flight : 0;
}

static inline void bsr_rs_kick(struct bsr_net *n)
{
	atomic_set(&n->rs_kick, 1);
	wake_up(&n->rs_wait);
}

static inline int bsr_pd_slot(struct bsr_peer_device *pd)
{
	struct bsr_backing *ldev = pd->device->ldev;
	s32 s;

	if (!ldev)
		return -1;
	s = ldev->md.peers[pd->connection->peer_node_id].bitmap_index;
	if (s < 0 || s >= (s32)ldev->bm.max_peers)
		return -1;
	return s;
}

#endif /* BSR_NET_H */
