// SPDX-License-Identifier: GPL-2.0-only
/*
 * bsr: the TCP transport. Sockets, packet framing (h100 headers), connection
 * establishment (the node with the lower node-id connects, the other one accepts:
 * a deterministic answer to the symmetric connect race) and CRAM-HMAC peer
 * authentication through the kernel crypto API.
 */
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/tcp.h>
#include <linux/random.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <crypto/hash.h>
#include <crypto/algapi.h>

#include "bsr_net.h"

/*
 * Whether a send that returned rv should be retried. Writes are sent from the submitting
 * process, which may have a signal pending: then the socket's memory wait returns at once,
 * so back off a tick instead of spinning. Giving up mid-packet would break the framing.
 */
bool bsr_send_retry(int rv)
{
	if (rv != -EAGAIN && rv != -EINTR && rv != -ERESTARTSYS)
		return false;
	if (bsr_should_stop())
		return false;
	if (signal_pending(current))
		schedule_timeout_uninterruptible(1);
	return true;
}

/*
 * A send that failed may have left part of a packet on the stream: shut the socket down so
 * that nothing else is appended and the peer sees the end of the stream, not garbage.
 */
int bsr_send_failed(struct socket *sock, int rv)
{
	kernel_sock_shutdown(sock, SHUT_RDWR);
	return rv < 0 ? rv : -EPIPE;
}

/* Sends everything msg's iterator holds; a failure shuts the socket (see bsr_send_failed). */
static int sock_send_iter(struct socket *sock, struct msghdr *msg)
{
	unsigned int noio = memalloc_noio_save();
	int rv = 0;

	msg->msg_flags |= MSG_NOSIGNAL;
	while (msg_data_left(msg)) {
		rv = sock_sendmsg(sock, msg);
		if (bsr_send_retry(rv))
			continue;
		if (rv <= 0)
			break;
	}
	memalloc_noio_restore(noio);
	if (msg_data_left(msg))
		return bsr_send_failed(sock, rv);
	return 0;
}

int bsr_sock_send(struct socket *sock, const void *buf, size_t len, unsigned int flags)
{
	struct kvec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_flags = flags };

	iov_iter_kvec(&msg.msg_iter, ITER_SOURCE, &iov, 1, len);
	return sock_send_iter(sock, &msg);
}

/*
 * Page payloads that are copied go to the socket BSR_IO_VECS pages per call: one sendmsg per
 * 4 KiB page costs a socket lock round and a push decision each, which shows at resync speed.
 */
#define BSR_IO_VECS 16

/* Up to BSR_IO_VECS whole pages of the size bytes left: the vector count; *chunk gets the bytes. */
static unsigned int fill_page_vecs(struct bio_vec *bv, struct page **pages, u32 size, u32 *chunk)
{
	unsigned int n;

	*chunk = 0;
	for (n = 0; n < BSR_IO_VECS && size > *chunk; n++) {
		u32 len = min_t(u32, size - *chunk, PAGE_SIZE);

		bvec_set_page(&bv[n], pages[n], len, 0);
		*chunk += len;
	}
	return n;
}

/*
 * One page range handed to TCP by reference (no copy): the socket holds the page until the
 * peer acknowledged it, so the caller must not change its contents before that (see
 * bsr_page_put). Pages the network may not reference (slab memory) are copied.
 */
static int sock_send_page_ref(struct socket *sock, struct page *page, u32 offset, u32 len,
			      unsigned int flags)
{
	unsigned int noio;
	int rv = 0;

	if (!sendpage_ok(page)) {
		struct bio_vec bv;
		struct msghdr msg = { .msg_flags = flags };

		bvec_set_page(&bv, page, len, offset);
		iov_iter_bvec(&msg.msg_iter, ITER_SOURCE, &bv, 1, len);
		return sock_send_iter(sock, &msg);
	}
	noio = memalloc_noio_save();
	while (len) {
		rv = bsr_sock_sendpage(sock, page, offset, len, flags | MSG_NOSIGNAL);
		if (bsr_send_retry(rv))
			continue;
		if (rv <= 0)
			break;
		offset += rv;
		len -= rv;
	}
	memalloc_noio_restore(noio);
	return len ? bsr_send_failed(sock, rv) : 0;
}

/* Flags for a piece of a payload: more follows unless it is the last piece. */
static unsigned int piece_flags(bool last, unsigned int flags)
{
	return last ? flags : flags | MSG_MORE | BSR_MSG_NOTLAST;
}

/*
 * size bytes from whole pages, by reference (see sock_send_page_ref); MSG_MORE except at the
 * end unless flags has it.
 */
int bsr_sock_send_pages(struct socket *sock, struct page **pages, u32 size, unsigned int flags)
{
	unsigned int i;
	int rv = 0;

	for (i = 0; size && !rv; i++) {
		u32 len = min_t(u32, size, PAGE_SIZE);

		size -= len;
		rv = sock_send_page_ref(sock, pages[i], 0, len, piece_flags(!size, flags));
	}
	return rv;
}

/* A bio's pages by reference, one page per call (a multi-page vector holds one reference). */
static int sock_send_bio_by_ref(struct socket *sock, struct bio *bio, unsigned int flags)
{
	struct bio_vec seg;
	struct bvec_iter it;
	u32 left = bio->bi_iter.bi_size;
	int rv;

	bio_for_each_segment(seg, bio, it) {
		left -= seg.bv_len;
		rv = sock_send_page_ref(sock, seg.bv_page, seg.bv_offset, seg.bv_len,
					piece_flags(!left, flags));
		if (rv)
			return rv;
	}
	return 0;
}

/*
 * The data of a bio (its current iterator). Only the last piece goes without MSG_MORE (unless
 * flags has it): a corked tail would wait for the peer's next ACK, which a delayed ACK holds
 * back for up to 200 ms. With by_ref the pages go to TCP by reference: only for a bio that
 * stays uncompleted until the peer has received it (protocols B and C); otherwise the data is
 * copied, since the bio's owner may reuse the pages as soon as it completes.
 */
int bsr_sock_send_bio(struct socket *sock, struct bio *bio, bool by_ref, unsigned int flags)
{
	struct bio_vec bv[BSR_IO_VECS], seg;
	struct bvec_iter it;
	u32 left = bio->bi_iter.bi_size;
	unsigned int n = 0;
	size_t chunk = 0;
	int rv;

	if (by_ref)
		return sock_send_bio_by_ref(sock, bio, flags);
	bio_for_each_bvec(seg, bio, it) {
		struct msghdr msg = { .msg_flags = MSG_MORE };

		bv[n++] = seg;
		chunk += seg.bv_len;
		left -= seg.bv_len;
		if (n < BSR_IO_VECS && left)
			continue;
		if (!left)
			msg.msg_flags = flags;
		iov_iter_bvec(&msg.msg_iter, ITER_SOURCE, bv, n, chunk);
		rv = sock_send_iter(sock, &msg);
		if (rv)
			return rv;
		n = 0;
		chunk = 0;
	}
	return 0;
}

/*
 * Receives everything msg's iterator has room for; -ETIMEDOUT when the socket's receive
 * timeout expires first.
 */
static int sock_recv_iter(struct socket *sock, struct msghdr *msg)
{
	int rv;

	while (msg_data_left(msg)) {
		rv = sock_recvmsg(sock, msg, MSG_WAITALL | MSG_NOSIGNAL);
		if (rv == -EAGAIN || rv == -EINTR) {
			if (bsr_should_stop())
				return -EINTR;
			if (rv == -EAGAIN)
				return -ETIMEDOUT;
			continue;
		}
		if (rv == 0)
			return -ECONNRESET;
		if (rv < 0)
			return rv;
	}
	return 0;
}

/*
 * Waits, up to the socket's receive timeout, for something to read; consumes nothing.
 * 0: there is; -EAGAIN: nothing came in time (or a signal); -ECONNRESET: the peer closed.
 */
int bsr_sock_wait_data(struct socket *sock)
{
	u8 byte;
	struct kvec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {};
	int rv;

	iov_iter_kvec(&msg.msg_iter, ITER_DEST, &iov, 1, 1);
	rv = sock_recvmsg(sock, &msg, MSG_PEEK | MSG_NOSIGNAL);
	if (rv > 0)
		return 0;
	if (rv == 0)
		return -ECONNRESET;
	return rv == -EINTR ? -EAGAIN : rv;
}

/* Receive exactly len bytes. */
int bsr_sock_recv(struct socket *sock, void *buf, size_t len)
{
	struct kvec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {};

	iov_iter_kvec(&msg.msg_iter, ITER_DEST, &iov, 1, len);
	return sock_recv_iter(sock, &msg);
}

/* Receive size bytes into whole pages. */
int bsr_sock_recv_pages(struct socket *sock, struct page **pages, u32 size)
{
	struct bio_vec bv[BSR_IO_VECS];
	unsigned int i, n;
	int rv = 0;

	for (i = 0; size && !rv; i += n) {
		struct msghdr msg = {};
		u32 chunk;

		n = fill_page_vecs(bv, pages + i, size, &chunk);
		size -= chunk;
		iov_iter_bvec(&msg.msg_iter, ITER_DEST, bv, n, chunk);
		rv = sock_recv_iter(sock, &msg);
	}
	return rv;
}

int bsr_send_packet_locked(struct socket *sock, enum bsr_packet cmd, u16 vnr,
			   const void *payload, u32 len, unsigned int flags)
{
	struct p_header100 h = {
		.magic = cpu_to_be32(BSR_H100_MAGIC),
		.volume = cpu_to_be16(vnr),
		.command = cpu_to_be16(cmd),
		.length = cpu_to_be32(len),
	};
	int rv;

	if (!sock)
		return -ENOTCONN;
	rv = bsr_sock_send(sock, &h, sizeof(h), len ? MSG_MORE | flags : flags);
	if (rv < 0)
		return rv;
	if (len) {
		rv = bsr_sock_send(sock, payload, len, flags);
		if (rv < 0)
			return rv;
	}
	return 0;
}

/*
 * A packet built whole by the caller (header included) on the data stream, unless the
 * connection is down: senders check net_ok under data_mutex, as its teardown does.
 */
int bsr_send_data_buf(struct bsr_net *n, const void *buf, size_t len)
{
	return bsr_send_data_buf_flags(n, buf, len, 0);
}

/* As bsr_send_data_buf(); MSG_MORE: more follows, bsr_data_push() sends what is held. */
int bsr_send_data_buf_flags(struct bsr_net *n, const void *buf, size_t len, unsigned int flags)
{
	int rv;

	mutex_lock(&n->data_mutex);
	if (!n->data_sock || !READ_ONCE(n->net_ok))
		rv = -ENOTCONN;
	else
		rv = bsr_sock_send(n->data_sock, buf, len, flags);
	mutex_unlock(&n->data_mutex);
	return rv;
}

/* Sends what MSG_MORE held back on the data stream (TCP_NODELAY: pushed at once). */
void bsr_data_push(struct bsr_net *n)
{
	mutex_lock(&n->data_mutex);
	if (n->data_sock && READ_ONCE(n->net_ok))
		tcp_sock_set_cork(n->data_sock->sk, false);
	mutex_unlock(&n->data_mutex);
}

int bsr_send_packet(struct bsr_conn *c, bool meta, enum bsr_packet cmd, u16 vnr,
		    const void *payload, u32 len)
{
	struct bsr_net *n = c->net;
	struct mutex *m = meta ? &n->meta_mutex : &n->data_mutex;
	int rv;

	mutex_lock(m);
	rv = bsr_send_packet_locked(meta ? n->meta_sock : n->data_sock, cmd, vnr, payload, len, 0);
	mutex_unlock(m);
	return rv;
}

/* Reads and checks a header: magic and a sane length. The caller checks the rest. */
int bsr_recv_header(struct socket *sock, enum bsr_packet *cmd, u16 *vnr, u32 *len)
{
	struct p_header100 h;
	int rv = bsr_sock_recv(sock, &h, sizeof(h));

	if (rv)
		return rv;
	if (be32_to_cpu(h.magic) != BSR_H100_MAGIC || h.pad) {
		pr_warn_ratelimited("bsr: bad packet header (magic 0x%08x)\n", be32_to_cpu(h.magic));
		return -EPROTO;
	}
	*cmd = be16_to_cpu(h.command);
	*vnr = be16_to_cpu(h.volume);
	*len = be32_to_cpu(h.length);
	/* the largest packet: DATA with a data-integrity-alg digest */
	if (*len > BSR_MAX_DATA_SIZE + sizeof(struct p_data) + BSR_DIGEST_MAX) {
		pr_warn_ratelimited("bsr: bad packet header (length %u)\n", *len);
		return -EPROTO;
	}
	return 0;
}

/* ------------------------------------------------------------------ sockets */

static void sock_setup(struct bsr_conn *c, struct socket *s, bool meta)
{
	u32 snd = bsr_conf(&c->net_conf, T_NET_CONF_SNDBUF_SIZE);
	u32 rcv = bsr_conf(&c->net_conf, T_NET_CONF_RCVBUF_SIZE);
	struct sock *sk = s->sk;

	sk->sk_allocation = GFP_NOIO;
	sk->sk_use_task_frag = false;
	tcp_sock_set_nodelay(sk);
	if (meta)
		tcp_sock_set_quickack(sk, 2);
	lock_sock(sk);
	/* as SO_SNDBUF / SO_RCVBUF do: a buffer below the minimum could not hold one segment */
	if (snd) {
		sk->sk_sndbuf = max_t(u32, snd, SOCK_MIN_SNDBUF);
		sk->sk_userlocks |= SOCK_SNDBUF_LOCK;
	}
	if (rcv) {
		sk->sk_rcvbuf = max_t(u32, rcv, SOCK_MIN_RCVBUF);
		sk->sk_userlocks |= SOCK_RCVBUF_LOCK;
	}
	release_sock(sk);
	sock_set_keepalive(sk);
}

static int make_sock(struct bsr_path *p, struct socket **out)
{
	const struct sockaddr *sa = (const struct sockaddr *)p->my_addr;

	return sock_create_kern(&init_net, sa->sa_family, SOCK_STREAM, IPPROTO_TCP, out);
}

static void set_timeouts(struct socket *s, long rcv, long snd)
{
	s->sk->sk_rcvtimeo = rcv;
	s->sk->sk_sndtimeo = snd;
}

static int connect_one(struct bsr_conn *c, struct bsr_path *p, enum bsr_packet first,
		       long timeout, struct socket **out)
{
	u8 local[sizeof(struct sockaddr_in6)];
	struct socket *s;
	int rv;

	rv = make_sock(p, &s);
	if (rv)
		return rv;
	/* bind to our path address, any port */
	memcpy(local, p->my_addr, p->my_len);
	if (((struct sockaddr *)local)->sa_family == AF_INET6)
		((struct sockaddr_in6 *)local)->sin6_port = 0;
	else
		((struct sockaddr_in *)local)->sin_port = 0;
	set_timeouts(s, 5 * HZ, timeout);
	rv = kernel_bind(s, (struct sockaddr *)local, p->my_len);
	if (!rv)
		rv = kernel_connect(s, (struct sockaddr *)p->peer_addr, p->peer_len, 0);
	/*
	 * No answer within the time (the peer is unreachable): try again at once, with a
	 * fresh SYN, instead of waiting out the SYN retransmission backoff and connect-int;
	 * a restored link is then noticed within about a second.
	 */
	if (rv == -EINPROGRESS || rv == -ETIMEDOUT)
		rv = -EAGAIN;
	else if (!rv)
		s->sk->sk_sndtimeo = 5 * HZ;
	if (!rv) {
		sock_setup(c, s, first == P_INITIAL_META);
		rv = bsr_send_packet_locked(s, first, 0, NULL, 0, 0);
	}
	if (rv) {
		sock_release(s);
		return rv;
	}
	*out = s;
	return 0;
}

static int make_listener(struct bsr_conn *c, struct bsr_path *p)
{
	struct bsr_net *n = c->net;
	struct socket *s;
	int rv;

	if (n->listen_sock)
		return 0;
	rv = make_sock(p, &s);
	if (rv)
		return rv;
	sock_set_reuseaddr(s->sk);
	rv = kernel_bind(s, (struct sockaddr *)p->my_addr, p->my_len);
	if (!rv)
		rv = kernel_listen(s, 4);
	if (rv) {
		sock_release(s);
		return rv;
	}
	mutex_lock(&n->sock_mutex);
	n->listen_sock = s;
	mutex_unlock(&n->sock_mutex);
	return 0;
}

/* Same IP as the path's peer address (any port). */
static bool from_peer(struct socket *s, struct bsr_path *p)
{
	struct sockaddr_storage ss;
	const struct sockaddr *want = (const struct sockaddr *)p->peer_addr;
	int len;

	len = kernel_getpeername(s, (struct sockaddr *)&ss);
	if (len < 0 || ss.ss_family != want->sa_family)
		return false;
	if (want->sa_family == AF_INET)
		return ((struct sockaddr_in *)&ss)->sin_addr.s_addr ==
			((const struct sockaddr_in *)want)->sin_addr.s_addr;
	return ipv6_addr_equal(&((struct sockaddr_in6 *)&ss)->sin6_addr,
			       &((const struct sockaddr_in6 *)want)->sin6_addr);
}

/*
 * Accept until both the data and the meta stream arrived or the time is up. Anything
 * that does not start with INITIAL_DATA / INITIAL_META from the peer's address is
 * dropped: garbage on the port never gets further than this.
 */
static int accept_both(struct bsr_conn *c, struct bsr_path *p, long timeout)
{
	struct bsr_net *n = c->net;
	unsigned long deadline = jiffies + timeout;
	struct socket *s;
	enum bsr_packet cmd;
	u16 vnr;
	u32 len;
	int rv;

	while (!n->data_sock || !n->meta_sock) {
		long left = (long)(deadline - jiffies);

		if (left <= 0)
			return -EAGAIN;
		if (kthread_should_stop())
			return -EINTR;
		set_timeouts(n->listen_sock, min(left, (long)HZ), HZ);
		rv = kernel_accept(n->listen_sock, &s, 0);
		if (rv == -EAGAIN || rv == -EINTR)
			continue;
		if (rv)
			return rv;
		set_timeouts(s, 5 * HZ, 5 * HZ);
		if (!from_peer(s, p)) {
			bsr_warn("%s: dropped a connection from an unknown address\n", n->thread_tag);
			sock_release(s);
			continue;
		}
		rv = bsr_recv_header(s, &cmd, &vnr, &len);
		if (rv || len || vnr || (cmd != P_INITIAL_DATA && cmd != P_INITIAL_META)) {
			bsr_warn("%s: dropped a connection that did not start with a valid first packet (%d)\n",
				 n->thread_tag, rv);
			sock_release(s);
			continue;
		}
		sock_setup(c, s, cmd == P_INITIAL_META);
		mutex_lock(&n->sock_mutex);
		if (cmd == P_INITIAL_DATA)
			swap(s, n->data_sock);
		else
			swap(s, n->meta_sock);
		mutex_unlock(&n->sock_mutex);
		if (s)
			sock_release(s);
	}
	return 0;
}

static void release_socks(struct bsr_net *n, bool listener)
{
	struct socket *d, *m, *l = NULL;

	mutex_lock(&n->data_mutex);
	mutex_lock(&n->meta_mutex);
	mutex_lock(&n->sock_mutex);
	d = n->data_sock;
	m = n->meta_sock;
	n->data_sock = NULL;
	n->meta_sock = NULL;
	if (listener) {
		l = n->listen_sock;
		n->listen_sock = NULL;
	}
	mutex_unlock(&n->sock_mutex);
	mutex_unlock(&n->meta_mutex);
	mutex_unlock(&n->data_mutex);
	if (d)
		sock_release(d);
	if (m)
		sock_release(m);
	if (l)
		sock_release(l);
}

/*
 * A copy of the path a connection uses (bsr_path_in_use): del-path may free the listed one while
 * a thread connects over it (adm_path changes the list under adm_mutex). False when none.
 */
bool bsr_first_path(struct bsr_conn *c, struct bsr_path *copy)
{
	struct bsr_path *p;

	mutex_lock(&c->resource->adm_mutex);
	p = bsr_path_in_use(c);
	if (p)
		*copy = *p;
	mutex_unlock(&c->resource->adm_mutex);
	return p;
}

int bsr_establish(struct bsr_conn *c)
{
	struct bsr_net *n = c->net;
	struct socket *s;
	struct bsr_path path, *p = &path;
	long cint = (long)bsr_conf(&c->net_conf, T_NET_CONF_CONNECT_INT) * HZ;
	int rv;

	if (!bsr_first_path(c, &path))
		return -ENOENT;
	if (cint <= 0)
		cint = HZ;

	if (c->resource->node_id < c->peer_node_id) {
		struct socket *ds = NULL, *ms = NULL;

		rv = connect_one(c, p, P_INITIAL_DATA, min(cint, (long)HZ), &ds);
		if (!rv)
			rv = connect_one(c, p, P_INITIAL_META, 5 * HZ, &ms);
		if (rv) {
			if (ds)
				sock_release(ds);
			return rv;
		}
		mutex_lock(&n->sock_mutex);
		n->data_sock = ds;
		n->meta_sock = ms;
		mutex_unlock(&n->sock_mutex);
		return 0;
	}

	rv = make_listener(c, p);
	if (rv)
		return rv;
	rv = accept_both(c, p, cint);
	if (rv) {
		/* between rounds keep listening: a peer connecting meanwhile is not refused */
		release_socks(n, rv != -EAGAIN);
		return rv;
	}
	/* the listener stays open only while connecting */
	mutex_lock(&n->sock_mutex);
	s = n->listen_sock;
	n->listen_sock = NULL;
	mutex_unlock(&n->sock_mutex);
	sock_release(s);
	return 0;
}

/* Any context that may sleep; sock_mutex keeps the sockets alive meanwhile. */
void bsr_sock_shutdown(struct bsr_net *n)
{
	mutex_lock(&n->sock_mutex);
	if (n->data_sock)
		kernel_sock_shutdown(n->data_sock, SHUT_RDWR);
	if (n->meta_sock)
		kernel_sock_shutdown(n->meta_sock, SHUT_RDWR);
	if (n->listen_sock)
		kernel_sock_shutdown(n->listen_sock, SHUT_RDWR);
	mutex_unlock(&n->sock_mutex);
}

void bsr_sock_release_all(struct bsr_net *n)
{
	release_socks(n, true);
}

/* ------------------------------------------------------------------ CRAM-HMAC */

static int hmac(const char *alg, const char *secret, const u8 *in, unsigned int len, u8 *out,
		unsigned int *out_len)
{
	char name[CRYPTO_MAX_ALG_NAME];
	struct crypto_shash *tfm;
	struct shash_desc *desc;
	int rv;

	if (snprintf(name, sizeof(name), "hmac(%s)", alg) >= (int)sizeof(name))
		return -EINVAL;
	tfm = crypto_alloc_shash(name, 0, 0);
	if (IS_ERR(tfm))
		return PTR_ERR(tfm);
	rv = crypto_shash_setkey(tfm, secret, strlen(secret));
	if (rv)
		goto out;
	if (crypto_shash_digestsize(tfm) > 64) {
		rv = -EINVAL;
		goto out;
	}
	desc = kzalloc(sizeof(*desc) + crypto_shash_descsize(tfm), GFP_KERNEL);
	if (!desc) {
		rv = -ENOMEM;
		goto out;
	}
	desc->tfm = tfm;
	rv = crypto_shash_digest(desc, in, len, out);
	*out_len = crypto_shash_digestsize(tfm);
	kfree_sensitive(desc);
out:
	crypto_free_shash(tfm);
	return rv;
}

static int recv_expect(struct socket *s, enum bsr_packet want, void *buf, u32 min, u32 max,
		       u32 *got)
{
	enum bsr_packet cmd;
	u16 vnr;
	u32 len;
	int rv = bsr_recv_header(s, &cmd, &vnr, &len);

	if (rv)
		return rv;
	if (cmd != want || vnr || len < min || len > max)
		return -EPROTO;
	*got = len;
	return bsr_sock_recv(s, buf, len);
}

/*
 * What an answer proves: HMAC(secret, challenge | stream | resource | from | to). The stream
 * (data or meta), the resource name and the direction are bound in, so that an answer can
 * be neither relayed to another stream or resource nor reflected back to its sender.
 */
static int auth_answer(struct bsr_conn *c, const char *alg, const char *secret,
		       const u8 *challenge, bool meta, u32 from, u32 to, u8 *out,
		       unsigned int *out_len)
{
	struct {
		u8 challenge[BSR_AUTH_CHALLENGE_LEN];
		u8 stream;
		char resource[sizeof_field(struct bsr_resource, name)];
		__be32 from, to;
	} __packed in;

	memset(&in, 0, sizeof(in));
	memcpy(in.challenge, challenge, sizeof(in.challenge));
	in.stream = meta ? 'M' : 'D';
	strscpy(in.resource, c->resource->name, sizeof(in.resource));
	in.from = cpu_to_be32(from);
	in.to = cpu_to_be32(to);
	return hmac(alg, secret, (const u8 *)&in, sizeof(in), out, out_len);
}

/*
 * Both sides send a random challenge on the stream, answer the peer's (auth_answer) and
 * check the peer's answer to their own. Run on both streams, so that neither can come from
 * someone who does not know the secret. Returns -EACCES when the peer's answer is wrong.
 */
int bsr_auth(struct bsr_conn *c, bool meta)
{
	struct bsr_net *n = c->net;
	struct socket *s = meta ? n->meta_sock : n->data_sock;
	u32 me = c->resource->node_id, peer = c->peer_node_id;
	char alg[BSR_AUTH_STR_LEN], secret[BSR_AUTH_STR_LEN];
	u8 mine[BSR_AUTH_CHALLENGE_LEN], peers[BSR_AUTH_CHALLENGE_LEN];
	u8 answer[64], expect[64], got[64];
	unsigned int alen, elen;
	u32 len;
	int rv;

	if (!bsr_conf_str(&c->net_conf, T_NET_CONF_CRAM_HMAC_ALG, alg, sizeof(alg)) || !alg[0])
		return 0;
	bsr_conf_str(&c->net_conf, T_NET_CONF_SHARED_SECRET, secret, sizeof(secret));
	get_random_bytes(mine, sizeof(mine));
	rv = bsr_send_packet(c, meta, P_AUTH_CHALLENGE, 0, mine, sizeof(mine));
	if (rv)
		goto out;
	rv = recv_expect(s, P_AUTH_CHALLENGE, peers, sizeof(peers), sizeof(peers), &len);
	if (rv)
		goto out;
	rv = -EPROTO;	/* a reflection */
	if (!memcmp(mine, peers, sizeof(mine)))
		goto out;
	rv = auth_answer(c, alg, secret, peers, meta, me, peer, answer, &alen);
	if (rv) {
		bsr_err("%s: cram-hmac-alg %s: %d\n", n->thread_tag, alg, rv);
		goto out;
	}
	rv = bsr_send_packet(c, meta, P_AUTH_RESPONSE, 0, answer, alen);
	if (rv)
		goto out;
	rv = recv_expect(s, P_AUTH_RESPONSE, got, 1, sizeof(got), &len);
	if (rv)
		goto out;
	rv = auth_answer(c, alg, secret, mine, meta, peer, me, expect, &elen);
	if (rv)
		goto out;
	if (len != elen || crypto_memneq(got, expect, elen))
		rv = -EACCES;
out:
	memzero_explicit(secret, sizeof(secret));
	return rv;
}
