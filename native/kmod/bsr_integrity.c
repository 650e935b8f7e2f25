// SPDX-License-Identifier: GPL-2.0-only
/*
 * bsr: integrity of replication traffic (data-integrity-alg).
 *
 * With a data-integrity-alg agreed in the handshake (SYNC_PARAM), every packet that carries
 * block data on the data stream (DATA, RS_DATA_REPLY) carries the sender's digest of the
 * payload between its p_data header and the payload, computed over the pages as they are
 * sent. The receiver computes its own over what it received before anything is written.
 * A mismatch is logged (sector, size), counted (connection statistic integrity-errors) and
 * never written:
 *  - DATA: the receiver sets the blocks out of sync and answers NEG_ACK (the Primary sets
 *    them out of sync too and completes the write locally, never acknowledged by the peer);
 *    then a resync of the out-of-sync blocks starts at once (the receiver, Established,
 *    sends BECOME_SYNC_SOURCE; in any other state it reconnects, and the handshake
 *    resyncs them);
 *  - RS_DATA_REPLY: the target answers NEG_RS_DREPLY, its bits stay; the source keeps its
 *    bits too and sends the blocks again in its next pass.
 * More than BSR_INTEGRITY_MAX_ERRORS mismatches within BSR_INTEGRITY_WINDOW on one
 * connection drop it; it is established again and the handshake resyncs what is out of sync.
 *
 * Fault injection, for tests only (off by default; the module parameters of upstream bsr), on
 * the minors of the fault_devs mask (0: all), fault_rate percent of the chances, each counted
 * in fault_count:
 *  - enable_faults bit BSR_FAULT_RS_READ (8) flips a byte in every 4 KiB block of a read from
 *    the lower device for a resync, a verify or a checksum comparison (a disk returning wrong
 *    data without an error): verify and csums must tell;
 *  - bit BSR_FAULT_RECEIVE (512) flips a byte of the DATA and resync payloads received on
 *    connections with a data-integrity-alg, after they arrived and before their check (a
 *    corruption in flight).
 */
#include <linux/bio.h>
#include <linux/highmem.h>
#include <linux/moduleparam.h>
#include <linux/random.h>
#include <crypto/hash.h>
#include <crypto/algapi.h>

#include "bsr_net.h"

#define BSR_FAULT_RS_READ 3
#define BSR_FAULT_RECEIVE 9
static int enable_faults;
module_param(enable_faults, int, 0644);
MODULE_PARM_DESC(enable_faults, "test only: fault types, bit 3 (8) corrupts blocks read from the lower device for resync, verify and checksums, bit 9 (512) received data payloads before their digest check");
static int fault_rate;
module_param(fault_rate, int, 0644);
MODULE_PARM_DESC(fault_rate, "test only: percentage of the payloads an enabled fault hits");
static int fault_count;
module_param(fault_count, int, 0644);
MODULE_PARM_DESC(fault_count, "test only: faults injected");
static int fault_devs;
module_param(fault_devs, int, 0644);
MODULE_PARM_DESC(fault_devs, "test only: bit mask of the minors faults apply to (0: all)");

/* Whether the test-only fault `type` hits d this time (any context); counted when it does. */
static bool fault_hits(struct bsr_device *d, int type)
{
	int devs = READ_ONCE(fault_devs);

	if (!(READ_ONCE(enable_faults) & (1 << type)) ||
	    (devs && (d->minor >= 32 || !(devs & (1U << d->minor)))) ||
	    get_random_u32() % 100 >= (u32)READ_ONCE(fault_rate))
		return false;
	WRITE_ONCE(fault_count, READ_ONCE(fault_count) + 1);
	return true;
}

static void flip_byte(struct page **pages, u32 off)
{
	u8 *data = kmap_local_page(pages[off >> PAGE_SHIFT]);

	data[off & ~PAGE_MASK] ^= 0xff;
	kunmap_local(data);
}

/* Receiver thread: maybe corrupt a received payload (BSR_FAULT_RECEIVE). */
static void fault_receive(struct bsr_device *d, struct page **pages, u32 size)
{
	if (fault_hits(d, BSR_FAULT_RECEIVE))
		flip_byte(pages, get_random_u32() % size);
}

/* A resync, verify or checksum read from the lower device done (any context): BSR_FAULT_RS_READ. */
void bsr_fault_rs_read(struct bsr_device *d, struct page **pages, u32 size)
{
	u32 off;

	if (!fault_hits(d, BSR_FAULT_RS_READ))
		return;
	for (off = 0; off < size; off += 4096)
		flip_byte(pages, off + get_random_u32() % min_t(u32, 4096, size - off));
}

/*
 * A hash of the kernel's crypto API usable for verify-alg and data-integrity-alg: unkeyed,
 * with a digest of at most BSR_DIGEST_MAX bytes. ERR_PTR with *why set when it is not.
 */
struct crypto_shash *bsr_digest_alloc(const char *alg, const char **why)
{
	struct crypto_shash *tfm = crypto_alloc_shash(alg, 0, 0);

	if (IS_ERR(tfm)) {
		*why = "not a hash algorithm of this kernel";
		return tfm;
	}
	*why = NULL;
	if (crypto_shash_get_flags(tfm) & CRYPTO_TFM_NEED_KEY)
		*why = "a keyed hash, which needs a key";
	else if (crypto_shash_digestsize(tfm) > BSR_DIGEST_MAX)
		*why = "its digest is longer than 64 bytes";
	if (*why) {
		crypto_free_shash(tfm);
		return ERR_PTR(-EINVAL);
	}
	return tfm;
}

/*
 * The handshake's verify-alg or csums-alg ("" none) into *tfm, from the receiver thread: the
 * threads that use the old one (receiver, resync) are not running.
 */
int bsr_digest_set(struct crypto_shash **tfm, const char *alg)
{
	struct crypto_shash *new = NULL;
	const char *why;

	if (alg[0]) {
		new = bsr_digest_alloc(alg, &why);
		if (IS_ERR(new))
			return PTR_ERR(new);
	}
	if (*tfm)
		crypto_free_shash(*tfm);
	*tfm = new;
	return 0;
}

/*
 * The handshake's data-integrity-alg ("" none), from the receiver thread while the
 * connection is down: senders check net_ok under data_mutex, which is taken here too.
 */
int bsr_integrity_set_alg(struct bsr_conn *c, const char *alg)
{
	struct bsr_net *n = c->net;
	struct crypto_shash *tfm = NULL, *old;
	const char *why;

	if (alg[0]) {
		tfm = bsr_digest_alloc(alg, &why);
		if (IS_ERR(tfm))
			return PTR_ERR(tfm);
	}
	mutex_lock(&n->data_mutex);
	old = n->integrity_tfm;
	n->integrity_tfm = tfm;
	n->integrity_dgs = tfm ? crypto_shash_digestsize(tfm) : 0;
	mutex_unlock(&n->data_mutex);
	if (old)
		crypto_free_shash(old);
	return 0;
}

/* The digest of a bio's data as bsr_sock_send_bio() sends it (from its current iterator). */
int bsr_integrity_digest_bio(struct crypto_shash *tfm, struct bio *bio, u8 *out)
{
	SHASH_DESC_ON_STACK(desc, tfm);
	struct bvec_iter it;
	struct bio_vec bv;
	int rv;

	desc->tfm = tfm;
	rv = crypto_shash_init(desc);
	bio_for_each_segment(bv, bio, it) {
		void *data;

		if (rv)
			break;
		data = bvec_kmap_local(&bv);
		rv = crypto_shash_update(desc, data, bv.bv_len);
		kunmap_local(data);
	}
	if (!rv)
		rv = crypto_shash_final(desc, out);
	shash_desc_zero(desc);
	return rv;
}

/* The digest of the first `size` bytes of pages (a resync reply, a received payload). */
int bsr_integrity_digest_pages(struct crypto_shash *tfm, struct page **pages, u32 size, u8 *out)
{
	SHASH_DESC_ON_STACK(desc, tfm);
	unsigned int i;
	int rv;

	desc->tfm = tfm;
	rv = crypto_shash_init(desc);
	for (i = 0; size && !rv; i++) {
		u32 len = min_t(u32, size, PAGE_SIZE);
		void *data = kmap_local_page(pages[i]);

		rv = crypto_shash_update(desc, data, len);
		kunmap_local(data);
		size -= len;
	}
	if (!rv)
		rv = crypto_shash_final(desc, out);
	shash_desc_zero(desc);
	return rv;
}

/* One digest per 4 KiB page of the first `size` bytes of pages (verify, csums). */
int bsr_block_digests(struct crypto_shash *tfm, struct page **pages, u32 size, u8 *out)
{
	SHASH_DESC_ON_STACK(desc, tfm);
	unsigned int ds = crypto_shash_digestsize(tfm), i;
	int rv = 0;

	desc->tfm = tfm;
	for (i = 0; size && !rv; i++) {
		u32 len = min_t(u32, size, PAGE_SIZE);
		void *data = kmap_local_page(pages[i]);

		rv = crypto_shash_digest(desc, data, len, out + i * ds);
		kunmap_local(data);
		size -= len;
	}
	shash_desc_zero(desc);
	return rv;
}

/*
 * Receiver thread: compares the peer's digest of a payload with ours. 0: equal; 1: they
 * differ (logged, counted); -ECONNRESET: they differ once too often within the window, the
 * caller drops the connection; another negative errno: the hash failed.
 */
int bsr_integrity_check(struct bsr_peer_device *pd, const u8 *peer_digest, struct page **pages,
			sector_t sector, u32 size, bool resync)
{
	struct bsr_net *n = pd->connection->net;
	u8 mine[BSR_DIGEST_MAX];
	u64 total;
	int rv;

	fault_receive(pd->device, pages, size);
	rv = bsr_integrity_digest_pages(n->integrity_tfm, pages, size, mine);
	if (rv)
		return rv;
	if (!crypto_memneq(mine, peer_digest, n->integrity_dgs))
		return 0;
	total = atomic64_inc_return(&n->integrity_errors);
	if (!n->integrity_window_count ||
	    time_after(jiffies, n->integrity_window_start + BSR_INTEGRITY_WINDOW)) {
		n->integrity_window_start = jiffies;
		n->integrity_window_count = 0;
	}
	n->integrity_window_count++;
	pr_warn_ratelimited("bsr: %s: volume %u: digest integrity check failed for %s at sector %llu, %u bytes (%s): not written, sent again (%llu on this connection)\n",
			    n->thread_tag, pd->device->vnr, resync ? "resync data" : "a write",
			    (u64)sector, size, crypto_shash_alg_name(n->integrity_tfm), total);
	bsr_notify_connection(pd->connection, BSR_NOTIFY_CHANGE);
	if (n->integrity_window_count > BSR_INTEGRITY_MAX_ERRORS) {
		bsr_err("%s: %u digest integrity failures within %u s: reconnecting\n",
			n->thread_tag, n->integrity_window_count, BSR_INTEGRITY_WINDOW / HZ);
		n->integrity_window_count = 0;
		return -ECONNRESET;
	}
	return 1;
}

/*
 * Receiver thread, after a write from the peer failed its check (its blocks are out of
 * sync here and, once the NEG_ACK is in, there): have them sent again now. Established, this
 * node asks for a bitmap resync as target; the bitmap exchange carries our bits to the
 * source, whatever the NEG_ACK's timing. In any other state (a resync or verify running, a
 * step of one) false: the caller reconnects and the handshake resyncs them. A running
 * resync could end before the NEG_ACK reaches its source, and the target would then clear
 * the bit of a block it never wrote.
 */
bool bsr_integrity_resend(struct bsr_peer_device *pd)
{
	struct bsr_conn *c = pd->connection;
	struct p_sync_start s = { .flags = 0 };
	bool ok;

	mutex_lock(&c->resource->adm_mutex);
	ok = pd->repl_state == BSR_REPLICATION_ESTABLISHED &&
	     pd->peer_disk_state == BSR_DISK_UPTODATE &&
	     !bsr_send_packet(c, false, P_BECOME_SYNC_SOURCE, pd->device->vnr, &s, sizeof(s)) &&
	     !bsr_start_resync(pd, false, false);
	mutex_unlock(&c->resource->adm_mutex);
	return ok;
}
