// SPDX-License-Identifier: GPL-2.0-only
/*
 * bsr: the generic netlink family "bsr" (version 2, multicast group "events").
 *
 * Requests carry struct bsr_genlmsghdr (minor) and a CFG_CONTEXT (resource name, volume,
 * peer node-id). Every attribute is validated strictly by the generated policies before
 * a handler runs. A handler answers with one reply message: the family header carries
 * ret_code (BSR_RET_*), CFG_REPLY.info_text a readable message; on failure the handler
 * also returns a negative errno whose NLMSG_ERROR carries the same message as extack.
 */
#include <linux/slab.h>
#include <linux/ctype.h>
#include <linux/socket.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <net/genetlink.h>

#include "bsr_net.h"

BSR_DEFINE_POLICIES;
static const struct nla_policy bsr_top_policy[BSR_NLA_MAX + 1] = BSR_POLICY_TOP;

static struct genl_family bsr_genl_family;

/* Messages outlive the handler (extack is sent after it returns): a small ring. */
#define MSG_RING 32
#define MSG_LEN 384
static char msg_ring[MSG_RING][MSG_LEN];
static atomic_t msg_next = ATOMIC_INIT(0);

enum {
	NEED_RES = 1,
	NEED_MINOR = 2,
	NEED_CONN = 4,
	NEED_PD = 8,
};

struct adm_ctx {
	struct genl_info *info;
	u32 minor;
	u32 hflags;
	struct nlattr *ctx[T_CFG_CONTEXT_MAX + 1];
	const char *res_name;
	bool has_vol;
	u32 vnr;
	bool has_peer;
	u32 peer;
	struct bsr_resource *resource;
	struct bsr_device *device;
	struct bsr_conn *conn;
	struct bsr_peer_device *pd;
	char *msg;
};

#define SETMSG(ctx, fmt, ...) snprintf((ctx)->msg, MSG_LEN, fmt, ##__VA_ARGS__)

/* The errno of a refusal for the NLMSG_ERROR ack; the reply's ret_code keeps the bsr code. */
static int ret_to_errno(int ret)
{
	switch (ret) {
	case BSR_RET_NO_ERROR:
		return 0;
	case BSR_RET_NO_RESOURCE:
	case BSR_RET_NO_MINOR:
	case BSR_RET_NO_PEER:
	case BSR_RET_NO_PATH:
		return -ENOENT;
	case BSR_RET_RESOURCE_EXISTS:
	case BSR_RET_MINOR_EXISTS:
	case BSR_RET_PEER_EXISTS:
	case BSR_RET_PATH_EXISTS:
		return -EEXIST;
	case BSR_RET_NO_MEM:
		return -ENOMEM;
	case BSR_RET_IO_ERROR:
		return -EIO;
	case BSR_RET_DEVICE_IN_USE:
	case BSR_RET_STATE_REFUSED_OPEN:
	case BSR_RET_HAS_DEVICES:
	case BSR_RET_NOT_DISKLESS:
	case BSR_RET_BUSY:
		return -EBUSY;
	case BSR_RET_NO_DISK:
	case BSR_RET_STATE_REFUSED_NO_DISK:
		return -ENODEV;
	case BSR_RET_DISK_TOO_SMALL:
		return -ENOSPC;
	case BSR_RET_TIMEOUT:
		return -ETIMEDOUT;
	case BSR_RET_AUTH_FAILED:
		return -EACCES;
	case BSR_RET_NOT_IMPLEMENTED:
		return -EOPNOTSUPP;
	case BSR_RET_STATE_REFUSED_INCONSISTENT:
	case BSR_RET_STATE_REFUSED_OUTDATED:
	case BSR_RET_STATE_REFUSED_PRIMARY:
	case BSR_RET_PEER_PRIMARY:
	case BSR_RET_TARGET_ONLY:
		return -EAGAIN;
	default:
		return -EINVAL;
	}
}

static int adm_prepare(struct adm_ctx *ctx, struct genl_info *info, unsigned int need)
{
	struct bsr_genlmsghdr *h = bsr_genl_userhdr(info);
	int err;

	memset(ctx, 0, sizeof(*ctx));
	ctx->info = info;
	ctx->msg = msg_ring[(unsigned int)atomic_inc_return(&msg_next) % MSG_RING];
	ctx->msg[0] = 0;
	ctx->minor = h->minor;
	ctx->hflags = h->flags;

	if (info->attrs[BSR_NLA_CFG_CONTEXT]) {
		err = nla_parse_nested(ctx->ctx, T_CFG_CONTEXT_MAX, info->attrs[BSR_NLA_CFG_CONTEXT],
				       bsr_cfg_context_policy, info->extack);
		if (err) {
			SETMSG(ctx, "invalid CFG_CONTEXT");
			return BSR_RET_INVALID_REQUEST;
		}
	}
	if (ctx->ctx[T_CFG_CONTEXT_CTX_RESOURCE_NAME])
		ctx->res_name = nla_data(ctx->ctx[T_CFG_CONTEXT_CTX_RESOURCE_NAME]);
	if (ctx->ctx[T_CFG_CONTEXT_CTX_VOLUME]) {
		ctx->has_vol = true;
		ctx->vnr = nla_get_u32(ctx->ctx[T_CFG_CONTEXT_CTX_VOLUME]);
	}
	if (ctx->ctx[T_CFG_CONTEXT_CTX_PEER_NODE_ID]) {
		ctx->has_peer = true;
		ctx->peer = nla_get_u32(ctx->ctx[T_CFG_CONTEXT_CTX_PEER_NODE_ID]);
	}

	if (need & NEED_MINOR) {
		ctx->device = bsr_find_minor(ctx->minor);
		if (!ctx->device) {
			SETMSG(ctx, "unknown minor %u", ctx->minor);
			return BSR_RET_NO_MINOR;
		}
		ctx->resource = ctx->device->resource;
	}
	if (need & (NEED_RES | NEED_CONN | NEED_PD)) {
		if (!ctx->res_name || !ctx->res_name[0]) {
			SETMSG(ctx, "resource name missing (CFG_CONTEXT.ctx_resource_name)");
			return BSR_RET_INVALID_REQUEST;
		}
		ctx->resource = bsr_find_resource(ctx->res_name);
		if (!ctx->resource) {
			SETMSG(ctx, "unknown resource %s", ctx->res_name);
			return BSR_RET_NO_RESOURCE;
		}
	}
	if (need & (NEED_CONN | NEED_PD)) {
		if (!ctx->has_peer) {
			SETMSG(ctx, "peer node-id missing (CFG_CONTEXT.ctx_peer_node_id)");
			return BSR_RET_INVALID_REQUEST;
		}
		ctx->conn = bsr_find_connection(ctx->resource, ctx->peer);
		if (!ctx->conn) {
			SETMSG(ctx, "resource %s has no peer with node-id %u", ctx->resource->name,
			       ctx->peer);
			return BSR_RET_NO_PEER;
		}
	}
	if (need & NEED_PD) {
		if (!ctx->has_vol) {
			SETMSG(ctx, "volume missing (CFG_CONTEXT.ctx_volume)");
			return BSR_RET_INVALID_REQUEST;
		}
		ctx->pd = bsr_find_peer_device(ctx->conn, ctx->vnr);
		if (!ctx->pd) {
			SETMSG(ctx, "resource %s has no volume %u", ctx->resource->name, ctx->vnr);
			return BSR_RET_NO_MINOR;
		}
		ctx->device = ctx->pd->device;
	}
	return BSR_RET_NO_ERROR;
}

static int adm_finish(struct adm_ctx *ctx, int ret)
{
	struct genl_info *info = ctx->info;
	struct bsr_genlmsghdr *h;
	struct sk_buff *skb;
	struct nlattr *nest;

	if (WARN_ON_ONCE(ret < BSR_RET_NO_ERROR))
		ret = BSR_RET_UNKNOWN_ERROR;
	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (skb) {
		h = genlmsg_put_reply(skb, info, &bsr_genl_family, 0, info->genlhdr->cmd);
		if (!h)
			goto drop;
		h->minor = ctx->minor;
		h->ret_code = ret;
		if (ctx->msg[0]) {
			nest = nla_nest_start(skb, BSR_NLA_CFG_REPLY);
			if (!nest || nla_put_string(skb, T_CFG_REPLY_INFO_TEXT, ctx->msg))
				goto drop;
			nla_nest_end(skb, nest);
		}
		genlmsg_end(skb, h);
		genlmsg_reply(skb, info);
	}
	goto out;
drop:
	nlmsg_free(skb);
out:
	if (ret != BSR_RET_NO_ERROR) {
		if (!ctx->msg[0])
			SETMSG(ctx, "request failed (%d)", ret);
		if (info->extack)
			info->extack->_msg = ctx->msg;
		return ret_to_errno(ret);
	}
	return 0;
}

/*
 * Every doit shares one frame: resolve the objects it needs, run its body only when that
 * worked, then reply with the body's BSR_RET_* code and message.
 */
typedef int (*adm_body_fn)(struct adm_ctx *ctx, struct genl_info *info);

/* An option bsr.ko does not implement yet, and the one value it takes: its default. */
struct unimplemented_option {
	int top;		/* BSR_NLA_* of the set that carries it */
	int attr;
	int type;		/* NLA_* */
	const char *name;
	s64 value;		/* the default of a number */
	const char *text;	/* the default as a config writes it; a string's value */
};

static const struct unimplemented_option unimplemented_options[] = BSR_UNIMPLEMENTED_OPTIONS;

/* A value of an enum option (a u32 index) that bsr.ko does not implement yet. */
struct unimplemented_value {
	int top;
	int attr;
	const char *name;
	u32 index;
	const char *text;
};

static const struct unimplemented_value unimplemented_values[] = BSR_UNIMPLEMENTED_VALUES;

static bool is_default(const struct nlattr *a, const struct unimplemented_option *u)
{
	switch (u->type) {
	case NLA_U8:
		return nla_get_u8(a) == u->value;
	case NLA_U32:
		return nla_get_u32(a) == u->value;
	case NLA_S32:
		return nla_get_s32(a) == u->value;
	case NLA_U64:
		return nla_get_u64(a) == (u64)u->value;
	default:	/* a string: empty, or the default */
		return !nla_len(a) || !*(const char *)nla_data(a) || !nla_strcmp(a, u->text);
	}
}

/*
 * Every command: an option the engine does not implement yet is refused unless it has its
 * default value, and so is a value of an enum option it does not implement yet, so that no
 * setting is stored and silently ignored.
 */
static int refuse_unimplemented(struct adm_ctx *ctx)
{
	const struct unimplemented_value *v;
	const struct unimplemented_option *u;

	for (u = unimplemented_options; u < unimplemented_options + ARRAY_SIZE(unimplemented_options);
	     u++) {
		const struct nlattr *nest = ctx->info->attrs[u->top];
		const struct nlattr *a = nest ? nla_find_nested(nest, u->attr) : NULL;

		if (!a || is_default(a, u))
			continue;
		SETMSG(ctx, "%s: not implemented by bsr yet; only its default (%s) is accepted",
		       u->name, u->text);
		NL_SET_ERR_MSG_ATTR(ctx->info->extack, a, "option not implemented");
		return BSR_RET_NOT_IMPLEMENTED;
	}
	for (v = unimplemented_values; v < unimplemented_values + ARRAY_SIZE(unimplemented_values);
	     v++) {
		const struct nlattr *nest = ctx->info->attrs[v->top];
		const struct nlattr *a = nest ? nla_find_nested(nest, v->attr) : NULL;

		if (!a || nla_get_u32(a) != v->index)
			continue;
		SETMSG(ctx, "%s %s: not implemented by bsr yet", v->name, v->text);
		NL_SET_ERR_MSG_ATTR(ctx->info->extack, a, "option value not implemented");
		return BSR_RET_NOT_IMPLEMENTED;
	}
	return BSR_RET_NO_ERROR;
}

/* A number of an option set with its accepted range (bsr-abi.json min, max). */
struct option_range {
	int top;		/* BSR_NLA_* of the set that carries it */
	int attr;
	int type;		/* NLA_U32, NLA_S32 or NLA_U64 */
	const char *name;
	s64 min;
	s64 max;
};

static const struct option_range option_ranges[] = BSR_OPTION_RANGES;

/*
 * Every command: a number outside its option's range is refused before anything is stored,
 * so the engine never runs with a value the tools and the docs call impossible.
 */
static int refuse_out_of_range(struct adm_ctx *ctx)
{
	const struct option_range *r;

	for (r = option_ranges; r < option_ranges + ARRAY_SIZE(option_ranges); r++) {
		const struct nlattr *nest = ctx->info->attrs[r->top];
		const struct nlattr *a = nest ? nla_find_nested(nest, r->attr) : NULL;
		s64 v;

		if (!a)
			continue;
		if (r->type == NLA_U32)
			v = nla_get_u32(a);
		else if (r->type == NLA_S32)
			v = nla_get_s32(a);
		else	/* NLA_U64: every maximum is below S64_MAX */
			v = min_t(u64, nla_get_u64(a), S64_MAX);
		if (v >= r->min && v <= r->max)
			continue;
		SETMSG(ctx, "%s: %lld is out of range (%lld .. %lld)", r->name, v, r->min, r->max);
		NL_SET_ERR_MSG_ATTR(ctx->info->extack, a, "option out of range");
		return BSR_RET_INVALID_REQUEST;
	}
	return BSR_RET_NO_ERROR;
}

static int adm_run(struct genl_info *info, unsigned int need, adm_body_fn body)
{
	struct adm_ctx ctx;
	int ret;

	mutex_lock(&bsr_conf_mutex);
	ret = adm_prepare(&ctx, info, need);
	if (ret == BSR_RET_NO_ERROR)
		ret = refuse_out_of_range(&ctx);
	if (ret == BSR_RET_NO_ERROR)
		ret = refuse_unimplemented(&ctx);
	if (ret == BSR_RET_NO_ERROR)
		ret = body(&ctx, info);
	ret = adm_finish(&ctx, ret);
	mutex_unlock(&bsr_conf_mutex);
	return ret;
}

/* The genl doit for command `name`: the body adm_<name> behind adm_run. */
#define ADM_DOIT(name, need)						\
static int bsr_adm_##name(struct sk_buff *skb, struct genl_info *info)	\
{									\
	return adm_run(info, need, adm_##name);				\
}

/* ---------------------------------------------------------------- option sets */

#define OPTS_MAX_TYPE 40

static const struct {
	int maxtype;
	const struct nla_policy *policy;
} set_policy[] = {
#define SET_POLICY(set, SET) [BSR_SET_##SET] = { T_##SET##_MAX, bsr_##set##_policy },
	BSR_STORED_SETS(SET_POLICY)
#undef SET_POLICY
};

/*
 * The set `nest` merged into `o` as a new, unpublished version: attributes given replace the
 * stored ones; the others are kept unless `reset` (BSR_GENL_F_SET_DEFAULTS), which drops them.
 * `o` NULL: nothing stored yet. An ERR_PTR when the set is invalid or memory is short.
 */
static struct bsr_opts_data *opts_build(struct bsr_opts *o, enum bsr_opt_set set,
					const struct nlattr *nest, bool reset,
					struct netlink_ext_ack *extack)
{
	int maxtype = set_policy[set].maxtype;
	struct nlattr *tb[OPTS_MAX_TYPE + 1] = { NULL };
	const struct nlattr *src[OPTS_MAX_TYPE + 1] = { NULL };
	const struct bsr_opts_data *cur = o && !reset ? bsr_opts_cur(o) : NULL;
	struct bsr_opts_data *d;
	int i, err;

	if (WARN_ON(maxtype > OPTS_MAX_TYPE))
		return ERR_PTR(-EINVAL);
	if (nest) {
		err = nla_parse_nested(tb, maxtype, nest, set_policy[set].policy, extack);
		if (err)
			return ERR_PTR(err);
	}
	for (i = 1; i <= maxtype; i++) {
		src[i] = tb[i];
		if (!src[i] && cur)
			src[i] = nla_find(cur->blob, cur->len, i);
	}
	d = bsr_opts_build(set, src, maxtype);
	return d ? d : ERR_PTR(-ENOMEM);
}

/* opts_build() published in place of the stored version, which is freed. */
static int opts_merge(struct bsr_opts *o, enum bsr_opt_set set, const struct nlattr *nest,
		      bool reset, struct netlink_ext_ack *extack)
{
	struct bsr_opts_data *d = opts_build(o, set, nest, reset, extack);

	if (IS_ERR(d))
		return PTR_ERR(d);
	bsr_opts_data_free(bsr_opts_publish(o, d));
	return 0;
}

/*
 * An option set. Its secrets (bsr-abi.json "sensitive": shared-secret) go only to a requester
 * with CAP_SYS_ADMIN, never into a notification that any listener may read.
 */
static int put_opts(struct sk_buff *skb, int type, struct bsr_opts *o, bool secrets)
{
	const struct bsr_opts_data *d;
	struct nlattr *nest = nla_nest_start(skb, type);
	const struct nlattr *a;
	int rem, err = 0;

	if (!nest)
		return -EMSGSIZE;
	rcu_read_lock();	/* notifications come from threads too, not only requests */
	d = rcu_dereference(o->data);
	nla_for_each_attr(a, d ? d->blob : NULL, d ? d->len : 0, rem) {
		if (!secrets && BSR_SENSITIVE_ATTR(type, nla_type(a)))
			continue;
		err = nla_put(skb, nla_type(a), nla_len(a), nla_data(a));
		if (err)
			break;
	}
	rcu_read_unlock();
	if (err) {
		nla_nest_cancel(skb, nest);
		return err;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* No option of the set was ever given. */
static bool opts_empty(struct bsr_opts *o)
{
	const struct bsr_opts_data *d;
	bool empty;

	rcu_read_lock();
	d = rcu_dereference(o->data);
	empty = !d || !d->len;
	rcu_read_unlock();
	return empty;
}

/* ---------------------------------------------------------------- object messages */

static int put_ctx_name(struct sk_buff *skb, const char *res, const unsigned int *vnr,
			const u32 *peer)
{
	struct nlattr *nest = nla_nest_start(skb, BSR_NLA_CFG_CONTEXT);

	if (!nest)
		return -EMSGSIZE;
	if (nla_put_string(skb, T_CFG_CONTEXT_CTX_RESOURCE_NAME, res) ||
	    (vnr && nla_put_u32(skb, T_CFG_CONTEXT_CTX_VOLUME, *vnr)) ||
	    (peer && nla_put_u32(skb, T_CFG_CONTEXT_CTX_PEER_NODE_ID, *peer)))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

static int put_ctx(struct sk_buff *skb, struct bsr_resource *r, const unsigned int *vnr,
		   const u32 *peer)
{
	return put_ctx_name(skb, r->name, vnr, peer);
}

static int put_nh(struct sk_buff *skb, int nh_type)
{
	struct nlattr *nest;

	if (nh_type < 0)
		return 0;
	nest = nla_nest_start(skb, BSR_NLA_NOTIFICATION_HEADER);
	if (!nest || nla_put_u32(skb, T_NOTIFICATION_HEADER_NH_TYPE, nh_type))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

static struct bsr_genlmsghdr *msg_start(struct sk_buff *skb, u32 portid, u32 seq, int flags,
					 u8 cmd, u32 minor)
{
	struct bsr_genlmsghdr *h = genlmsg_put(skb, portid, seq, &bsr_genl_family, flags, cmd);

	if (!h)
		return NULL;
	h->minor = minor;
	h->ret_code = BSR_RET_NO_ERROR;
	return h;
}

static int fill_resource(struct sk_buff *skb, struct bsr_resource *r, u32 portid, u32 seq,
			 int flags, u8 cmd, int nh_type)
{
	struct bsr_genlmsghdr *h = msg_start(skb, portid, seq, flags, cmd, -1U);
	struct nlattr *nest;

	if (!h)
		return -EMSGSIZE;
	if (put_ctx(skb, r, NULL, NULL) || put_nh(skb, nh_type))
		goto fail;
	nest = nla_nest_start(skb, BSR_NLA_RESOURCE_INFO);
	if (!nest || nla_put_u32(skb, T_RESOURCE_INFO_RES_ROLE, r->role) ||
	    nla_put_u8(skb, T_RESOURCE_INFO_RES_SUSP, r->susp) ||
	    nla_put_u8(skb, T_RESOURCE_INFO_RES_SUSP_NOD, atomic_read(&r->nod_devices) > 0) ||
	    nla_put_u8(skb, T_RESOURCE_INFO_RES_SUSP_FEN, bsr_res_susp_fen(r)))
		goto fail;
	nla_nest_end(skb, nest);
	nest = nla_nest_start(skb, BSR_NLA_RESOURCE_STATISTICS);
	if (!nest || nla_put_u32(skb, T_RESOURCE_STATISTICS_RES_STAT_WRITE_ORDERING,
				 READ_ONCE(r->write_ordering)))
		goto fail;
	nla_nest_end(skb, nest);
	{
		const struct bsr_opts_data *d;
		struct nlattr *n2;
		int err = 0;

		/* res opts with the node-id the resource runs with */
		n2 = nla_nest_start(skb, BSR_NLA_RESOURCE_OPTS);
		if (!n2)
			goto fail;
		rcu_read_lock();
		d = rcu_dereference(r->res_opts.data);
		if (d && d->len)
			err = nla_put_nohdr(skb, d->len, d->blob);
		if (!err && !(d && nla_find(d->blob, d->len, T_RES_OPTS_NODE_ID)))
			err = nla_put_u32(skb, T_RES_OPTS_NODE_ID, r->node_id);
		rcu_read_unlock();
		if (err)
			goto fail;
		nla_nest_end(skb, n2);
	}
	if (!opts_empty(&r->node_opts) && put_opts(skb, BSR_NLA_NODE_OPTS, &r->node_opts, false))
		goto fail;
	genlmsg_end(skb, h);
	return 0;
fail:
	genlmsg_cancel(skb, h);
	return -EMSGSIZE;
}

static int put_u64_array(struct sk_buff *skb, int type, const u64 *v, int n)
{
	return nla_put(skb, type, n * sizeof(u64), v);
}

static int fill_device(struct sk_buff *skb, struct bsr_device *d, u32 portid, u32 seq,
		       int flags, u8 cmd, int nh_type)
{
	struct bsr_genlmsghdr *h = msg_start(skb, portid, seq, flags, cmd, d->minor);
	struct bsr_backing *ldev = d->ldev;
	struct nlattr *nest;
	u64 bm_uuids[BSR_MAX_PEERS];
	int i;

	if (!h)
		return -EMSGSIZE;
	if (put_ctx(skb, d->resource, &d->vnr, NULL) || put_nh(skb, nh_type))
		goto fail;
	nest = nla_nest_start(skb, BSR_NLA_DEVICE_INFO);
	if (!nest || nla_put_u32(skb, T_DEVICE_INFO_DEV_DISK_STATE, d->disk_state) ||
	    /* intentional-diskless is not implemented: always its default */
	    nla_put_u8(skb, T_DEVICE_INFO_IS_INTENTIONAL_DISKLESS,
		       T_DEVICE_CONF_INTENTIONAL_DISKLESS_DEFAULT))
		goto fail;
	nla_nest_end(skb, nest);

	nest = nla_nest_start(skb, BSR_NLA_DEVICE_STATISTICS);
	if (!nest ||
	    nla_put_u64_64bit(skb, T_DEVICE_STATISTICS_DEV_SIZE, get_capacity(d->disk), 0) ||
	    nla_put_u64_64bit(skb, T_DEVICE_STATISTICS_DEV_READ, atomic64_read(&d->read_sect), 0) ||
	    nla_put_u64_64bit(skb, T_DEVICE_STATISTICS_DEV_WRITE, atomic64_read(&d->write_sect), 0) ||
	    nla_put_u64_64bit(skb, T_DEVICE_STATISTICS_DEV_AL_WRITES, atomic64_read(&d->al_writes), 0) ||
	    nla_put_u64_64bit(skb, T_DEVICE_STATISTICS_DEV_BM_WRITES, atomic64_read(&d->bm_writes), 0) ||
	    nla_put_u32(skb, T_DEVICE_STATISTICS_DEV_UPPER_PENDING, atomic_read(&d->upper_pending)) ||
	    nla_put_u32(skb, T_DEVICE_STATISTICS_DEV_LOWER_PENDING, atomic_read(&d->lower_pending)) ||
	    nla_put_u8(skb, T_DEVICE_STATISTICS_DEV_UPPER_BLOCKED, 0) ||
	    nla_put_u8(skb, T_DEVICE_STATISTICS_DEV_LOWER_BLOCKED, 0) ||
	    nla_put_u8(skb, T_DEVICE_STATISTICS_DEV_AL_SUSPENDED, 0))
		goto fail;
	if (ldev &&
	    (nla_put_u64_64bit(skb, T_DEVICE_STATISTICS_DEV_EXPOSED_DATA_UUID, ldev->md.current_uuid, 0) ||
	     nla_put_u64_64bit(skb, T_DEVICE_STATISTICS_DEV_CURRENT_UUID, ldev->md.current_uuid, 0) ||
	     nla_put_u32(skb, T_DEVICE_STATISTICS_DEV_DISK_FLAGS, ldev->md.flags) ||
	     put_u64_array(skb, T_DEVICE_STATISTICS_HISTORY_UUIDS, ldev->md.history_uuids,
			   BSR_HISTORY_UUIDS)))
		goto fail;
	nla_nest_end(skb, nest);

	if (ldev) {
		/* UUID_INFO: bitmap_uuids indexed by peer node-id */
		for (i = 0; i < BSR_MAX_PEERS; i++)
			bm_uuids[i] = ldev->md.peers[i].bitmap_uuid;
		nest = nla_nest_start(skb, BSR_NLA_UUID_INFO);
		if (!nest ||
		    nla_put_u64_64bit(skb, T_UUID_INFO_CURRENT_UUID, ldev->md.current_uuid, 0) ||
		    put_u64_array(skb, T_UUID_INFO_BITMAP_UUIDS, bm_uuids, BSR_MAX_PEERS) ||
		    put_u64_array(skb, T_UUID_INFO_HISTORY_UUIDS, ldev->md.history_uuids,
				  BSR_HISTORY_UUIDS) ||
		    nla_put_u32(skb, T_UUID_INFO_MD_FLAGS, ldev->md.flags))
			goto fail;
		nla_nest_end(skb, nest);

		nest = nla_nest_start(skb, BSR_NLA_ATTACH_PARMS);
		if (!nest ||
		    nla_put_string(skb, T_ATTACH_PARMS_BACKING_DEV, ldev->backing_path) ||
		    nla_put_string(skb, T_ATTACH_PARMS_META_DEV, ldev->meta_path) ||
		    nla_put_s32(skb, T_ATTACH_PARMS_META_DEV_IDX, ldev->md_idx))
			goto fail;
		nla_nest_end(skb, nest);
		if (put_opts(skb, BSR_NLA_DISK_CONF, &d->disk_conf, false))
			goto fail;
	}
	if (!opts_empty(&d->device_conf) && put_opts(skb, BSR_NLA_DEVICE_CONF, &d->device_conf, false))
		goto fail;
	genlmsg_end(skb, h);
	return 0;
fail:
	genlmsg_cancel(skb, h);
	return -EMSGSIZE;
}

static int put_path(struct sk_buff *skb, int type, struct bsr_path *p)
{
	struct nlattr *nest = nla_nest_start(skb, type);

	if (!nest || nla_put(skb, T_PATH_PARMS_MY_ADDR, p->my_len, p->my_addr) ||
	    nla_put(skb, T_PATH_PARMS_PEER_ADDR, p->peer_len, p->peer_addr))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

/* `secrets`: the requester has CAP_SYS_ADMIN (a dump), false for a notification */
static int fill_connection(struct sk_buff *skb, struct bsr_conn *c, u32 portid, u32 seq,
			   int flags, u8 cmd, int nh_type, bool secrets)
{
	struct bsr_genlmsghdr *h = msg_start(skb, portid, seq, flags, cmd, -1U);
	struct nlattr *nest;
	struct bsr_path *p;

	if (!h)
		return -EMSGSIZE;
	if (put_ctx(skb, c->resource, NULL, &c->peer_node_id) || put_nh(skb, nh_type))
		goto fail;
	nest = nla_nest_start(skb, BSR_NLA_CONNECTION_INFO);
	if (!nest || nla_put_u32(skb, T_CONNECTION_INFO_CONN_CONNECTION_STATE, c->cstate) ||
	    nla_put_u32(skb, T_CONNECTION_INFO_CONN_ROLE, c->peer_role))
		goto fail;
	nla_nest_end(skb, nest);
	nest = nla_nest_start(skb, BSR_NLA_CONNECTION_STATISTICS);
	if (!nest || nla_put_u8(skb, T_CONNECTION_STATISTICS_CONN_CONGESTED,
				       bsr_cong_congested(c)) ||
	    nla_put_u64_64bit(skb, T_CONNECTION_STATISTICS_AP_IN_FLIGHT,
			      c->net ? atomic64_read(&c->net->ap_in_flight) : 0, 0) ||
	    nla_put_u64_64bit(skb, T_CONNECTION_STATISTICS_RS_IN_FLIGHT,
			      c->net ? atomic64_read(&c->net->rs_in_flight) : 0, 0) ||
	    nla_put_u64_64bit(skb, T_CONNECTION_STATISTICS_INTEGRITY_ERRORS,
			      c->net ? atomic64_read(&c->net->integrity_errors) : 0, 0))
		goto fail;
	nla_nest_end(skb, nest);
	if (put_opts(skb, BSR_NLA_NET_CONF, &c->net_conf, secrets))
		goto fail;
	list_for_each_entry(p, &c->paths, list)
		if (put_path(skb, BSR_NLA_PATH_PARMS, p))
			goto fail;
	genlmsg_end(skb, h);
	return 0;
fail:
	genlmsg_cancel(skb, h);
	return -EMSGSIZE;
}

/* The path in use is established while the connection is Connected. */
static bool path_established(struct bsr_conn *c, struct bsr_path *p)
{
	return c->cstate == BSR_CONNECTION_CONNECTED && p == bsr_path_in_use(c);
}

static int fill_path(struct sk_buff *skb, struct bsr_conn *c, struct bsr_path *p, u32 portid,
		     u32 seq, int flags, int nh_type)
{
	struct bsr_genlmsghdr *h = msg_start(skb, portid, seq, flags, BSR_ADM_PATH_STATE, -1U);
	struct nlattr *nest;

	if (!h)
		return -EMSGSIZE;
	if (put_ctx(skb, c->resource, NULL, &c->peer_node_id) || put_nh(skb, nh_type) ||
	    put_path(skb, BSR_NLA_PATH_PARMS, p))
		goto fail;
	nest = nla_nest_start(skb, BSR_NLA_PATH_INFO);
	if (!nest || nla_put_u8(skb, T_PATH_INFO_PATH_ESTABLISHED, path_established(c, p)))
		goto fail;
	nla_nest_end(skb, nest);
	genlmsg_end(skb, h);
	return 0;
fail:
	genlmsg_cancel(skb, h);
	return -EMSGSIZE;
}

/*
 * resync-throttled: the application-I/O throttle held the last tick (or verify batch) of
 * a running resync or verify back; no when paused, done, or on the side that does not
 * pace it.
 */
static bool rs_throttled(struct bsr_peer_device *pd)
{
	switch (pd->repl_state) {
	case BSR_REPLICATION_SYNCSOURCE:
	case BSR_REPLICATION_SYNCTARGET:
	case BSR_REPLICATION_VERIFYS:
	case BSR_REPLICATION_VERIFYT:
		return pd->net && READ_ONCE(pd->net->thr_held);
	default:
		return false;
	}
}

static int fill_peer_device(struct sk_buff *skb, struct bsr_peer_device *pd, u32 portid,
			    u32 seq, int flags, u8 cmd, int nh_type)
{
	struct bsr_device *d = pd->device;
	struct bsr_conn *c = pd->connection;
	struct bsr_genlmsghdr *h = msg_start(skb, portid, seq, flags, cmd, d->minor);
	struct bsr_backing *ldev = d->ldev;
	u64 oos = 0, bm_uuid = 0, rs_total, rs_done, dbdt, eta;
	u32 pflags = 0;
	struct nlattr *nest;

	if (!h)
		return -EMSGSIZE;
	bsr_pd_stats(pd, &rs_total, &rs_done, &dbdt, &eta);
	if (ldev) {
		s32 s = ldev->md.peers[c->peer_node_id].bitmap_index;

		if (s >= 0 && s < (s32)ldev->bm.max_peers)
			oos = ldev->bm.weight[s] << (BSR_BM_BLOCK_SHIFT - 9);
		bm_uuid = ldev->md.peers[c->peer_node_id].bitmap_uuid;
		pflags = ldev->md.peers[c->peer_node_id].flags;
	}
	if (put_ctx(skb, c->resource, &d->vnr, &c->peer_node_id) || put_nh(skb, nh_type))
		goto fail;
	nest = nla_nest_start(skb, BSR_NLA_PEER_DEVICE_INFO);
	if (!nest || nla_put_u32(skb, T_PEER_DEVICE_INFO_PEER_REPL_STATE, pd->repl_state) ||
	    nla_put_u32(skb, T_PEER_DEVICE_INFO_PEER_DISK_STATE, pd->peer_disk_state) ||
	    nla_put_u8(skb, T_PEER_DEVICE_INFO_PEER_RESYNC_SUSP_USER, pd->resync_susp_user) ||
	    nla_put_u8(skb, T_PEER_DEVICE_INFO_PEER_RESYNC_SUSP_PEER,
		       pd->net && pd->net->resync_susp_peer) ||
	    nla_put_u8(skb, T_PEER_DEVICE_INFO_PEER_RESYNC_SUSP_DEPENDENCY,
		       pd->resync_susp_dependency) ||
	    nla_put_u8(skb, T_PEER_DEVICE_INFO_PEER_RESYNC_THROTTLED, rs_throttled(pd)) ||
	    nla_put_u8(skb, T_PEER_DEVICE_INFO_PEER_VOLUME_SHARED, bsr_pd_replicating(pd)))
		goto fail;
	nla_nest_end(skb, nest);
	nest = nla_nest_start(skb, BSR_NLA_PEER_DEVICE_STATISTICS);
	if (!nest ||
	    nla_put_u64_64bit(skb, T_PEER_DEVICE_STATISTICS_PEER_DEV_RECEIVED,
			      pd->net ? atomic64_read(&pd->net->recv_sect) : 0, 0) ||
	    nla_put_u64_64bit(skb, T_PEER_DEVICE_STATISTICS_PEER_DEV_SENT,
			      pd->net ? atomic64_read(&pd->net->sent_sect) : 0, 0) ||
	    /* writes sent to the peer and not answered yet, and the resync reads in flight */
	    nla_put_u32(skb, T_PEER_DEVICE_STATISTICS_PEER_DEV_PENDING,
			pd->net ? atomic_read(&pd->net->ap_pending) +
				  atomic_read(&pd->net->pending) : 0) ||
	    nla_put_u32(skb, T_PEER_DEVICE_STATISTICS_PEER_DEV_UNACKED,
			pd->net ? atomic_read(&pd->net->unacked) : 0) ||
	    nla_put_u64_64bit(skb, T_PEER_DEVICE_STATISTICS_PEER_DEV_RS_TOTAL, rs_total, 0) ||
	    nla_put_u64_64bit(skb, T_PEER_DEVICE_STATISTICS_PEER_DEV_RS_DONE, rs_done, 0) ||
	    nla_put_u64_64bit(skb, T_PEER_DEVICE_STATISTICS_PEER_DEV_RS_DBDT_KIB, dbdt, 0) ||
	    nla_put_u64_64bit(skb, T_PEER_DEVICE_STATISTICS_PEER_DEV_RS_ETA_S, eta, 0) ||
	    nla_put_u32(skb, T_PEER_DEVICE_STATISTICS_PEER_DEV_RS_KIND,
			pd->net ? pd->net->rs_kind : 0) ||
	    nla_put_u64_64bit(skb, T_PEER_DEVICE_STATISTICS_PEER_DEV_RS_MAP_BYTES,
			      pd->net ? pd->net->rs_map_bytes : 0, 0) ||
	    nla_put_u64_64bit(skb, T_PEER_DEVICE_STATISTICS_PEER_DEV_RS_SAME_CSUM,
			      pd->net ? atomic64_read(&pd->net->rs_same_csum) : 0, 0) ||
	    /* blocks of 4 KiB the current or last online verify found out of sync, in sectors */
	    nla_put_u64_64bit(skb, T_PEER_DEVICE_STATISTICS_PEER_DEV_OV_FOUND,
			      pd->net ? READ_ONCE(pd->net->ov_found) << 3 : 0, 0) ||
	    nla_put_u64_64bit(skb, T_PEER_DEVICE_STATISTICS_PEER_DEV_OUT_OF_SYNC, oos, 0) ||
	    nla_put_u64_64bit(skb, T_PEER_DEVICE_STATISTICS_PEER_DEV_RESYNC_FAILED, 0, 0) ||
	    nla_put_u64_64bit(skb, T_PEER_DEVICE_STATISTICS_PEER_DEV_BITMAP_UUID, bm_uuid, 0) ||
	    nla_put_u32(skb, T_PEER_DEVICE_STATISTICS_PEER_DEV_FLAGS, pflags))
		goto fail;
	nla_nest_end(skb, nest);
	if (!opts_empty(&pd->conf) && put_opts(skb, BSR_NLA_PEER_DEVICE_OPTS, &pd->conf, false))
		goto fail;
	genlmsg_end(skb, h);
	return 0;
fail:
	genlmsg_cancel(skb, h);
	return -EMSGSIZE;
}

/* ---------------------------------------------------------------- multicast events */

static bool bsr_genl_registered;

/* A notification buffer, or NULL when there is nobody to tell (family gone, no memory). */
static struct sk_buff *notify_alloc(void)
{
	if (!bsr_genl_registered)
		return NULL;
	return genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
}

/* Multicasts a filled notification; drops it when filling failed (err != 0). */
static void notify_finish(struct sk_buff *skb, int err)
{
	if (err)
		nlmsg_free(skb);
	else
		genlmsg_multicast(&bsr_genl_family, skb, 0, 0, GFP_KERNEL);
}

void bsr_notify_resource(struct bsr_resource *r, int type)
{
	struct sk_buff *skb = notify_alloc();

	if (skb)
		notify_finish(skb, fill_resource(skb, r, 0, 0, 0, BSR_ADM_RESOURCE_STATE, type));
}

void bsr_notify_device(struct bsr_device *d, int type)
{
	struct sk_buff *skb = notify_alloc();

	if (skb)
		notify_finish(skb, fill_device(skb, d, 0, 0, 0, BSR_ADM_DEVICE_STATE, type));
}

void bsr_notify_connection(struct bsr_conn *c, int type)
{
	struct sk_buff *skb = notify_alloc();

	if (skb)
		notify_finish(skb, fill_connection(skb, c, 0, 0, 0, BSR_ADM_CONNECTION_STATE, type,
						  false));
}

void bsr_notify_peer_device(struct bsr_peer_device *pd, int type)
{
	struct sk_buff *skb = notify_alloc();

	if (skb)
		notify_finish(skb, fill_peer_device(skb, pd, 0, 0, 0, BSR_ADM_PEER_DEVICE_STATE, type));
}

void bsr_notify_path(struct bsr_conn *c, struct bsr_path *p, int type)
{
	struct sk_buff *skb = notify_alloc();

	if (skb)
		notify_finish(skb, fill_path(skb, c, p, 0, 0, 0, type));
}

/* A lower device I/O error: the device as it is now, as an IO_ERROR "call" event. */
void bsr_notify_io_error(struct bsr_device *d)
{
	struct sk_buff *skb = notify_alloc();

	if (skb)
		notify_finish(skb, fill_device(skb, d, 0, 0, 0, BSR_ADM_IO_ERROR, BSR_NOTIFY_CALL));
}

/* A helper event of the peer device (RES, minor, volume, peer) named by ids. */
void bsr_notify_helper_ids(const struct bsr_helper_ids *ids, const char *name, int type,
			   u32 status)
{
	struct sk_buff *skb = notify_alloc();
	struct bsr_genlmsghdr *h;
	struct nlattr *nest;

	if (!skb)
		return;
	h = msg_start(skb, 0, 0, 0, BSR_ADM_HELPER, ids->minor);
	if (!h)
		goto fail;
	if (put_ctx_name(skb, ids->res, &ids->vnr, &ids->peer) || put_nh(skb, type))
		goto fail;
	nest = nla_nest_start(skb, BSR_NLA_HELPER);
	if (!nest || nla_put_string(skb, T_HELPER_INFO_HELPER_NAME, name) ||
	    nla_put_u32(skb, T_HELPER_INFO_HELPER_STATUS, status))
		goto fail;
	nla_nest_end(skb, nest);
	genlmsg_end(skb, h);
	notify_finish(skb, 0);
	return;
fail:
	notify_finish(skb, -EMSGSIZE);
}

void bsr_helper_ids_of(struct bsr_peer_device *pd, struct bsr_helper_ids *ids)
{
	strscpy(ids->res, pd->connection->resource->name, sizeof(ids->res));
	ids->minor = pd->device->minor;
	ids->vnr = pd->device->vnr;
	ids->peer = pd->connection->peer_node_id;
}

void bsr_notify_helper(struct bsr_peer_device *pd, const char *name, int type, u32 status)
{
	struct bsr_helper_ids ids;

	bsr_helper_ids_of(pd, &ids);
	bsr_notify_helper_ids(&ids, name, type, status);
}

void bsr_notify_split_brain_event(struct bsr_peer_device *pd)
{
	struct bsr_device *d = pd->device;
	struct bsr_conn *c = pd->connection;
	struct sk_buff *skb = notify_alloc();
	struct bsr_genlmsghdr *h;

	if (!skb)
		return;
	h = msg_start(skb, 0, 0, 0, BSR_ADM_SPLIT_BRAIN, d->minor);
	if (!h || put_ctx(skb, c->resource, &d->vnr, &c->peer_node_id) ||
	    put_nh(skb, BSR_NOTIFY_CHANGE)) {
		notify_finish(skb, -EMSGSIZE);
		return;
	}
	genlmsg_end(skb, h);
	notify_finish(skb, 0);
}

/* ---------------------------------------------------------------- helpers */

static bool valid_res_name(const char *name)
{
	const char *p;

	if (!name[0] || strlen(name) >= BSR_NAME_MAX)
		return false;
	for (p = name; *p; p++)
		if (!isalnum(*p) && !strchr("_-.+", *p))
			return false;
	return true;
}

static int get_set(struct adm_ctx *ctx, int top, struct nlattr **tb, int maxtype,
		   const struct nla_policy *pol)
{
	struct nlattr *a = ctx->info->attrs[top];

	memset(tb, 0, sizeof(*tb) * (maxtype + 1));
	if (!a)
		return 0;
	return nla_parse_nested(tb, maxtype, a, pol, ctx->info->extack);
}

static void notify_device_tree(struct bsr_device *d, int type)
{
	struct bsr_peer_device *pd;

	if (type != BSR_NOTIFY_DESTROY)
		bsr_notify_device(d, type);
	list_for_each_entry(pd, &d->peer_devices, dev_list)
		bsr_notify_peer_device(pd, type);
	if (type == BSR_NOTIFY_DESTROY)
		bsr_notify_device(d, type);
}

static void notify_connection_tree(struct bsr_conn *c, int type)
{
	struct bsr_peer_device *pd;
	struct bsr_path *p;

	if (type != BSR_NOTIFY_DESTROY)
		bsr_notify_connection(c, type);
	list_for_each_entry(p, &c->paths, list)
		bsr_notify_path(c, p, type);
	list_for_each_entry(pd, &c->peer_devices, conn_list)
		bsr_notify_peer_device(pd, type);
	if (type == BSR_NOTIFY_DESTROY)
		bsr_notify_connection(c, type);
}

/* ---------------------------------------------------------------- resources */

/* cpu-mask: empty, or a hexadecimal CPU mask (as /proc/irq/N/smp_affinity) with an online CPU. */
static int cpu_mask_refused(struct adm_ctx *ctx, struct nlattr **tb)
{
	const char *s = tb[T_RES_OPTS_CPU_MASK] ? nla_data(tb[T_RES_OPTS_CPU_MASK]) : "";
	int ret = BSR_RET_NO_ERROR;
	cpumask_var_t mask;

	if (!*s)
		return ret;
	if (!zalloc_cpumask_var(&mask, GFP_KERNEL))
		return BSR_RET_NO_MEM;
	if (cpumask_parse(s, mask)) {
		SETMSG(ctx, "cpu-mask %s: not a hexadecimal mask of this machine's CPUs", s);
		ret = BSR_RET_INVALID_REQUEST;
	} else if (!cpumask_intersects(mask, cpu_online_mask)) {
		SETMSG(ctx, "cpu-mask %s: none of its CPUs is online", s);
		ret = BSR_RET_INVALID_REQUEST;
	}
	free_cpumask_var(mask);
	return ret;
}

static int adm_new_resource(struct adm_ctx *ctx, struct genl_info *info)
{
	struct nlattr *tb[T_RES_OPTS_MAX + 1];
	struct bsr_resource *r;
	u32 node_id;
	int ret;

	if (!ctx->res_name || !valid_res_name(ctx->res_name)) {
		SETMSG(ctx, "invalid or missing resource name");
		return BSR_RET_INVALID_REQUEST;
	}
	if (bsr_find_resource(ctx->res_name)) {
		SETMSG(ctx, "resource %s exists", ctx->res_name);
		return BSR_RET_RESOURCE_EXISTS;
	}
	if (get_set(ctx, BSR_NLA_RESOURCE_OPTS, tb, T_RES_OPTS_MAX, bsr_res_opts_policy))
		return BSR_RET_INVALID_REQUEST;
	if (!tb[T_RES_OPTS_NODE_ID]) {
		SETMSG(ctx, "new-resource needs the node-id (RESOURCE_OPTS.node-id)");
		return BSR_RET_NODE_ID_INVALID;
	}
	/* refuse_out_of_range() kept it within the peers the meta data holds */
	BUILD_BUG_ON(T_RES_OPTS_NODE_ID_MAX != BSR_MAX_PEERS - 1);
	node_id = nla_get_u32(tb[T_RES_OPTS_NODE_ID]);
	ret = cpu_mask_refused(ctx, tb);
	if (ret != BSR_RET_NO_ERROR)
		return ret;
	r = bsr_create_resource(ctx->res_name, node_id);
	if (!r)
		return BSR_RET_NO_MEM;
	if (opts_merge(&r->res_opts, BSR_SET_RES_OPTS, info->attrs[BSR_NLA_RESOURCE_OPTS], true,
		       info->extack)) {
		bsr_free_resource(r);
		return BSR_RET_NO_MEM;
	}
	bsr_notify_resource(r, BSR_NOTIFY_CREATE);
	return BSR_RET_NO_ERROR;
}

ADM_DOIT(new_resource, 0)

static int adm_resource_opts(struct adm_ctx *ctx, struct genl_info *info)
{
	struct nlattr *tb[T_RES_OPTS_MAX + 1];
	struct bsr_conn *c;
	int ret;

	if (get_set(ctx, BSR_NLA_RESOURCE_OPTS, tb, T_RES_OPTS_MAX, bsr_res_opts_policy))
		return BSR_RET_INVALID_REQUEST;
	if (tb[T_RES_OPTS_NODE_ID] && nla_get_u32(tb[T_RES_OPTS_NODE_ID]) != ctx->resource->node_id) {
		SETMSG(ctx, "the node-id of a resource cannot change (is %u)", ctx->resource->node_id);
		return BSR_RET_NODE_ID_INVALID;
	}
	ret = cpu_mask_refused(ctx, tb);
	if (ret != BSR_RET_NO_ERROR)
		return ret;
	if (opts_merge(&ctx->resource->res_opts, BSR_SET_RES_OPTS,
		       info->attrs[BSR_NLA_RESOURCE_OPTS], ctx->hflags & BSR_GENL_F_SET_DEFAULTS,
		       info->extack))
		return BSR_RET_NO_MEM;
	list_for_each_entry(c, &ctx->resource->connections, res_list)
		bsr_conn_apply_cpu_mask(c);
	bsr_notify_resource(ctx->resource, BSR_NOTIFY_CHANGE);
	return BSR_RET_NO_ERROR;
}

ADM_DOIT(resource_opts, NEED_RES)

static int adm_node_opts(struct adm_ctx *ctx, struct genl_info *info)
{
	int ret = BSR_RET_NO_ERROR;

	if (opts_merge(&ctx->resource->node_opts, BSR_SET_NODE_OPTS, info->attrs[BSR_NLA_NODE_OPTS],
		       ctx->hflags & BSR_GENL_F_SET_DEFAULTS, info->extack))
		ret = BSR_RET_NO_MEM;
	return ret;
}

ADM_DOIT(node_opts, NEED_RES)

static int del_resource(struct adm_ctx *ctx, struct bsr_resource *r)
{
	if (!list_empty(&r->devices)) {
		SETMSG(ctx, "resource %s still has volumes (del-minor first)", r->name);
		return BSR_RET_HAS_DEVICES;
	}
	if (!list_empty(&r->connections)) {
		SETMSG(ctx, "resource %s still has peers (del-peer first)", r->name);
		return BSR_RET_HAS_DEVICES;
	}
	bsr_notify_resource(r, BSR_NOTIFY_DESTROY);
	bsr_free_resource(r);
	return BSR_RET_NO_ERROR;
}

static int adm_del_resource(struct adm_ctx *ctx, struct genl_info *info)
{
	return del_resource(ctx, ctx->resource);
}

ADM_DOIT(del_resource, NEED_RES)

/* ---------------------------------------------------------------- devices */

static int adm_new_minor(struct adm_ctx *ctx, struct genl_info *info)
{
	struct bsr_device *d;
	int err;

	if (!ctx->has_vol || ctx->vnr > BSR_MAX_VOLUMES) {
		SETMSG(ctx, "missing or invalid volume number");
		return BSR_RET_INVALID_REQUEST;
	}
	if (ctx->minor > BSR_MAX_MINOR) {
		SETMSG(ctx, "minor %u out of range 0..%u", ctx->minor, BSR_MAX_MINOR);
		return BSR_RET_INVALID_REQUEST;
	}
	if (bsr_find_minor(ctx->minor)) {
		SETMSG(ctx, "minor %u exists", ctx->minor);
		return BSR_RET_MINOR_EXISTS;
	}
	if (bsr_find_volume(ctx->resource, ctx->vnr)) {
		SETMSG(ctx, "resource %s already has volume %u", ctx->resource->name, ctx->vnr);
		return BSR_RET_MINOR_EXISTS;
	}
	/* adm_mutex: the new volume joins a suspension (bsr_set_susp) whole */
	mutex_lock(&ctx->resource->adm_mutex);
	err = bsr_create_device(ctx->resource, ctx->minor, ctx->vnr, &d);
	mutex_unlock(&ctx->resource->adm_mutex);
	if (err) {
		SETMSG(ctx, "creating minor %u failed: %d", ctx->minor, err);
		return err == -EEXIST ? BSR_RET_MINOR_EXISTS : BSR_RET_NO_MEM;
	}
	if (opts_merge(&d->device_conf, BSR_SET_DEVICE_CONF, info->attrs[BSR_NLA_DEVICE_CONF], true,
		       info->extack))
		SETMSG(ctx, "device options not stored (out of memory)");
	notify_device_tree(d, BSR_NOTIFY_CREATE);
	return BSR_RET_NO_ERROR;
}

ADM_DOIT(new_minor, NEED_RES)

/* True when nobody has d open any more; then it is closed for good (`deleting`). */
static bool device_close_for_delete(struct bsr_device *d)
{
	struct bsr_resource *r = d->resource;
	bool closed;

	if (!bsr_wait_device_closed(d))
		return false;
	spin_lock_irq(&r->state_lock);
	closed = d->open_cnt == 0;
	if (closed)
		d->deleting = true;
	spin_unlock_irq(&r->state_lock);
	return closed;
}

/*
 * A connection's threads use its peer devices without SRCU and keep what the handshake
 * told them (sizes, UUIDs, disk states), so a device leaves, or gets a disk, only while
 * the live connections are stopped (queued writes drained first). They come back right
 * after, as `disconnect` + `connect` would, and their handshake resyncs what changed.
 */
static void stop_live_connections(struct bsr_resource *r, unsigned long *stopped)
{
	struct bsr_conn *c;

	list_for_each_entry(c, &r->connections, res_list) {
		if (!c->net->want_connect)
			continue;	/* StandAlone: its threads are gone and it stays so */
		bsr_conn_stop(c, false);
		__set_bit(c->peer_node_id, stopped);
	}
}

static void restart_connections(struct bsr_resource *r, const unsigned long *stopped,
				const char *after)
{
	struct bsr_conn *c;

	list_for_each_entry(c, &r->connections, res_list) {
		if (test_bit(c->peer_node_id, stopped) && bsr_conn_start(c, false, false))
			bsr_warn("%s: peer %u: cannot reconnect after %s\n", r->name,
				 c->peer_node_id, after);
	}
}

static void delete_device_offline(struct bsr_device *d)
{
	struct bsr_resource *r = d->resource;
	DECLARE_BITMAP(stopped, BSR_MAX_PEERS) = {};

	stop_live_connections(r, stopped);
	bsr_delete_device(d);
	restart_connections(r, stopped, "del-minor");
}

static int del_minor(struct adm_ctx *ctx, struct bsr_device *d)
{
	if (d->ldev) {
		SETMSG(ctx, "minor %u is attached (detach first)", d->minor);
		return BSR_RET_NOT_DISKLESS;
	}
	if (!device_close_for_delete(d)) {
		SETMSG(ctx, "/dev/bsr%u is open", d->minor);
		return BSR_RET_DEVICE_IN_USE;
	}
	notify_device_tree(d, BSR_NOTIFY_DESTROY);
	delete_device_offline(d);
	return BSR_RET_NO_ERROR;
}

static int adm_del_minor(struct adm_ctx *ctx, struct genl_info *info)
{
	return del_minor(ctx, ctx->device);
}

ADM_DOIT(del_minor, NEED_MINOR)

/* The resync-after of a disk-options set being built (bsr_resync_after_check). */
static int resync_after_refused(struct adm_ctx *ctx, struct bsr_device *d,
				const struct bsr_opts_data *conf)
{
	s32 minor = bsr_opt_val(&conf->vals, T_DISK_CONF_RESYNC_AFTER);

	if (bsr_resync_after_check(d, minor))
		return BSR_RET_NO_ERROR;
	if (minor == d->minor)
		SETMSG(ctx, "resync-after %d: a device cannot resync after itself", minor);
	else
		SETMSG(ctx, "resync-after %d: minor %u would wait for itself (minor %d resyncs after it, directly or through others)",
		       minor, d->minor, minor);
	return BSR_RET_RESYNC_AFTER_CYCLE;
}

static int adm_attach(struct adm_ctx *ctx, struct genl_info *info)
{
	struct nlattr *tb[T_ATTACH_PARMS_MAX + 1];
	DECLARE_BITMAP(stopped, BSR_MAX_PEERS) = {};
	struct bsr_opts_data *conf, *saved;
	struct bsr_device *d;
	int ret = BSR_RET_NO_ERROR;

	d = ctx->device;
	if (d->disk_state != BSR_DISK_DISKLESS) {
		SETMSG(ctx, "minor %u is already attached (%s)", d->minor,
		       bsr_disk_name(d->disk_state));
		return BSR_RET_NOT_DISKLESS;
	}
	if (get_set(ctx, BSR_NLA_ATTACH_PARMS, tb, T_ATTACH_PARMS_MAX, bsr_attach_parms_policy) ||
	    !tb[T_ATTACH_PARMS_BACKING_DEV] || !tb[T_ATTACH_PARMS_META_DEV] ||
	    !tb[T_ATTACH_PARMS_META_DEV_IDX]) {
		SETMSG(ctx, "attach needs ATTACH_PARMS backing_dev, meta_dev and meta_dev_idx");
		return BSR_RET_INVALID_REQUEST;
	}
	/* the disk options of an attach replace the stored ones; restored on failure */
	conf = opts_build(&d->disk_conf, BSR_SET_DISK_CONF, info->attrs[BSR_NLA_DISK_CONF], true,
			  info->extack);
	if (IS_ERR(conf))
		return BSR_RET_NO_MEM;
	ret = resync_after_refused(ctx, d, conf);
	if (ret != BSR_RET_NO_ERROR) {
		bsr_opts_data_free(conf);
		return ret;
	}
	saved = bsr_opts_publish(&d->disk_conf, conf);
	bsr_device_apply_disk_conf(d);
	/* attach while connected: a fresh handshake sizes the new disk and resyncs it */
	stop_live_connections(d->resource, stopped);
	ret = bsr_attach(d, nla_data(tb[T_ATTACH_PARMS_BACKING_DEV]),
			 nla_data(tb[T_ATTACH_PARMS_META_DEV]),
			 nla_get_s32(tb[T_ATTACH_PARMS_META_DEV_IDX]), ctx->msg, MSG_LEN);
	restart_connections(d->resource, stopped, "attach");
	if (ret != BSR_RET_NO_ERROR) {
		bsr_opts_data_free(bsr_opts_publish(&d->disk_conf, saved));
		bsr_device_apply_disk_conf(d);
		bsr_warn("bsr%u: attach failed: %s\n", d->minor, ctx->msg);
	} else {
		bsr_opts_data_free(saved);
	}
	bsr_resync_after_kick();
	return ret;
}

ADM_DOIT(attach, NEED_MINOR)

/*
 * A plain detach waits for the requests at the lower device. --force also detaches a
 * Primary (its I/O fails from then on) and does not wait for a lower device that hangs.
 */
static int detach_minor(struct adm_ctx *ctx, struct bsr_device *d, bool force)
{
	struct bsr_conn *c;

	if (!d->ldev)
		return BSR_RET_NO_ERROR;
	list_for_each_entry(c, &d->resource->connections, res_list) {
		if (c->net && c->net->receiver) {
			SETMSG(ctx, "minor %u: disconnect peer %u before detaching", d->minor,
			       c->peer_node_id);
			return BSR_RET_BUSY;
		}
	}
	if (force) {
		bsr_detach_force(d);
		return BSR_RET_NO_ERROR;
	}
	if (d->resource->role == BSR_ROLE_PRIMARY && d->disk_state != BSR_DISK_FAILED) {
		SETMSG(ctx, "refusing to detach minor %u of a Primary: no peer has UpToDate data (--force detaches anyway)",
		       d->minor);
		return BSR_RET_STATE_REFUSED_PRIMARY;
	}
	bsr_detach(d);
	return BSR_RET_NO_ERROR;
}

static int adm_detach(struct adm_ctx *ctx, struct genl_info *info)
{
	struct nlattr *tb[T_DETACH_PARMS_MAX + 1];

	if (get_set(ctx, BSR_NLA_DETACH_PARMS, tb, T_DETACH_PARMS_MAX, bsr_detach_parms_policy))
		return BSR_RET_INVALID_REQUEST;
	return detach_minor(ctx, ctx->device,
			    tb[T_DETACH_PARMS_FORCE_DETACH] &&
			    nla_get_u8(tb[T_DETACH_PARMS_FORCE_DETACH]));
}

ADM_DOIT(detach, NEED_MINOR)

/* al-extents and al-updates of the stored disk options applied to the running activity log. */
static int reconfigure_al(struct adm_ctx *ctx, struct bsr_device *d)
{
	struct bsr_backing *ldev = d->ldev;
	u32 nr = bsr_al_nr_slots(bsr_conf(&d->disk_conf, T_DISK_CONF_AL_EXTENTS), ldev->al.ring_n);
	bool off = !bsr_conf(&d->disk_conf, T_DISK_CONF_AL_UPDATES);
	int err;

	if (nr == ldev->al.nr_slots && off == ldev->al.updates_off)
		return BSR_RET_NO_ERROR;
	if (bsr_io_quiesce(d, 10000)) {
		SETMSG(ctx, "minor %u: I/O did not pause within 10 s to change the activity log",
		       d->minor);
		return BSR_RET_BUSY;
	}
	if (!bsr_al_wait_idle(d, ldev, 10000)) {
		bsr_io_resume(d);
		SETMSG(ctx, "minor %u: the peers did not retire the writes in flight within 10 s",
		       d->minor);
		return BSR_RET_BUSY;
	}
	err = bsr_al_resize(d, ldev, nr);
	if (!err)
		err = bsr_al_set_updates(d, ldev, off);
	bsr_io_resume(d);
	if (err) {
		SETMSG(ctx, "minor %u: changing the activity log failed: %d", d->minor, err);
		return err == -ENOMEM ? BSR_RET_NO_MEM : BSR_RET_IO_ERROR;
	}
	return BSR_RET_NO_ERROR;
}

static int adm_disk_opts(struct adm_ctx *ctx, struct genl_info *info)
{
	struct bsr_opts_data *conf, *saved;
	struct bsr_device *d;
	int ret = BSR_RET_NO_ERROR;

	d = ctx->device;
	conf = opts_build(&d->disk_conf, BSR_SET_DISK_CONF, info->attrs[BSR_NLA_DISK_CONF],
			  ctx->hflags & BSR_GENL_F_SET_DEFAULTS, info->extack);
	if (IS_ERR(conf))
		return BSR_RET_NO_MEM;
	ret = resync_after_refused(ctx, d, conf);
	if (ret != BSR_RET_NO_ERROR) {
		bsr_opts_data_free(conf);
		return ret;
	}
	saved = bsr_opts_publish(&d->disk_conf, conf);
	if (d->ldev && d->disk_state != BSR_DISK_FAILED) {
		ret = reconfigure_al(ctx, d);
		if (ret != BSR_RET_NO_ERROR) {
			/* the old options stay, as the old activity log does */
			bsr_opts_data_free(bsr_opts_publish(&d->disk_conf, saved));
			return ret;
		}
	}
	bsr_opts_data_free(saved);
	bsr_device_apply_disk_conf(d);
	bsr_notify_device(d, BSR_NOTIFY_CHANGE);
	bsr_resync_after_kick();
	return ret;
}

ADM_DOIT(disk_opts, NEED_MINOR)

static int adm_new_c_uuid(struct adm_ctx *ctx, struct genl_info *info)
{
	struct nlattr *tb[T_NEW_C_UUID_PARMS_MAX + 1];
	struct bsr_peer_device *pd;
	struct bsr_device *d;
	bool clear_bm, skip_sync;

	d = ctx->device;
	if (get_set(ctx, BSR_NLA_NEW_C_UUID_PARMS, tb, T_NEW_C_UUID_PARMS_MAX,
		    bsr_new_c_uuid_parms_policy))
		return BSR_RET_INVALID_REQUEST;
	clear_bm = tb[T_NEW_C_UUID_PARMS_CLEAR_BM] && nla_get_u8(tb[T_NEW_C_UUID_PARMS_CLEAR_BM]);
	if (!d->ldev) {
		SETMSG(ctx, "minor %u has no disk", d->minor);
		return BSR_RET_NO_DISK;
	}
	mutex_lock(&ctx->resource->adm_mutex);
	list_for_each_entry(pd, &d->peer_devices, dev_list) {
		enum bsr_replication s = pd->repl_state;

		/*
		 * A resync moves one generation; --clear-bitmap would drop the blocks still to
		 * send, and the target would end UpToDate over old data.
		 */
		if (bsr_repl_is_source(s) || bsr_repl_is_target(s)) {
			mutex_unlock(&ctx->resource->adm_mutex);
			SETMSG(ctx, "refusing a new current UUID: minor %u is %s with peer %u; wait for the resync to end",
			       d->minor, bsr_repl_name(s), pd->connection->peer_node_id);
			return BSR_RET_BUSY;
		}
	}
	/* the peers skip their initial sync too only if our data was as new as theirs */
	skip_sync = clear_bm && (d->ldev->md.current_uuid & ~UUID_PRIMARY) == UUID_JUST_CREATED;
	bsr_uuid_new_current(d, ctx->resource->role == BSR_ROLE_PRIMARY, clear_bm);
	if (clear_bm)
		bsr_skip_initial_sync(d);
	if ((clear_bm && bsr_bm_write_all(d, d->ldev)) || bsr_md_write_sb(d, d->ldev)) {
		mutex_unlock(&ctx->resource->adm_mutex);
		SETMSG(ctx, "writing the meta data failed");
		return BSR_RET_IO_ERROR;
	}
	bsr_new_uuid_sent(d, skip_sync);
	mutex_unlock(&ctx->resource->adm_mutex);
	bsr_notify_device(d, BSR_NOTIFY_CHANGE);
	return BSR_RET_NO_ERROR;
}

ADM_DOIT(new_c_uuid, NEED_MINOR)

static int adm_outdate(struct adm_ctx *ctx, struct genl_info *info)
{
	struct bsr_device *d;

	d = ctx->device;
	if (!d->ldev) {
		SETMSG(ctx, "minor %u has no disk", d->minor);
		return BSR_RET_NO_DISK;
	}
	if (ctx->resource->role == BSR_ROLE_PRIMARY) {
		SETMSG(ctx, "refusing to outdate the disk of a Primary");
		return BSR_RET_STATE_REFUSED_PRIMARY;
	}
	if (d->disk_state == BSR_DISK_INCONSISTENT) {
		SETMSG(ctx, "minor %u is Inconsistent, which is worse than Outdated", d->minor);
		return BSR_RET_STATE_REFUSED_INCONSISTENT;
	}
	if (d->disk_state == BSR_DISK_OUTDATED)
		return BSR_RET_NO_ERROR;
	d->ldev->md.flags &= ~BSR_MDF_WAS_UP_TO_DATE;
	d->ldev->md.flags |= BSR_MDF_CONSISTENT;
	if (bsr_md_write_sb(d, d->ldev)) {
		SETMSG(ctx, "writing the meta data failed");
		return BSR_RET_IO_ERROR;
	}
	bsr_set_disk_state(d, BSR_DISK_OUTDATED);
	return BSR_RET_NO_ERROR;
}

ADM_DOIT(outdate, NEED_MINOR)

static int adm_resize(struct adm_ctx *ctx, struct genl_info *info)
{
	struct nlattr *tb[T_RESIZE_PARMS_MAX + 1];
	struct bsr_device *d;
	struct bsr_conn *c;
	int ret = BSR_RET_NO_ERROR;

	d = ctx->device;
	if (get_set(ctx, BSR_NLA_RESIZE_PARMS, tb, T_RESIZE_PARMS_MAX, bsr_resize_parms_policy))
		return BSR_RET_INVALID_REQUEST;
	if (!d->ldev || d->disk_state == BSR_DISK_FAILED) {
		SETMSG(ctx, "minor %u has no disk", d->minor);
		return BSR_RET_NO_DISK;
	}
	mutex_lock(&ctx->resource->adm_mutex);
	list_for_each_entry(c, &ctx->resource->connections, res_list) {
		if (c->net && READ_ONCE(c->net->net_ok)) {
			SETMSG(ctx, "resize with a connected peer (%u) is not implemented: disconnect first",
			       c->peer_node_id);
			ret = BSR_RET_BUSY;
			break;
		}
	}
	if (ret == BSR_RET_NO_ERROR)
		ret = bsr_resize(d,
				 tb[T_RESIZE_PARMS_RESIZE_SIZE] ?
				 nla_get_u64(tb[T_RESIZE_PARMS_RESIZE_SIZE]) : 0,
				 tb[T_RESIZE_PARMS_NO_RESYNC] &&
				 nla_get_u8(tb[T_RESIZE_PARMS_NO_RESYNC]), ctx->msg, MSG_LEN);
	mutex_unlock(&ctx->resource->adm_mutex);
	return ret;
}

ADM_DOIT(resize, NEED_MINOR)

/*
 * suspend-io / resume-io MINOR: the I/O of the minor's whole resource. resume-io also ends
 * the suspensions of fencing (resource-and-stonith), as DRBD's does: how the administrator
 * lets I/O go on after a fence-peer handler failed.
 */
static int adm_suspend_io(struct adm_ctx *ctx, struct genl_info *info)
{
	bool suspend = info->genlhdr->cmd == BSR_ADM_SUSPEND_IO;
	struct bsr_resource *r = ctx->resource;
	bool fencing = bsr_res_susp_fen(r);
	bool no_data = atomic_read(&r->nod_devices) > 0;
	struct bsr_device *d;
	struct bsr_conn *c;

	if (r->susp == suspend && (suspend || (!fencing && !no_data))) {
		SETMSG(ctx, suspend ? "I/O of %s is suspended already" : "I/O of %s is not suspended",
		       r->name);
		return BSR_RET_NO_ERROR;
	}
	mutex_lock(&r->adm_mutex);
	bsr_set_susp(r, &r->susp, suspend);
	if (!suspend) {
		list_for_each_entry(c, &r->connections, res_list)
			bsr_set_susp(r, &c->fence_susp, false);
		/* a device without data: what it held, and what comes until an attach, fails */
		list_for_each_entry(d, &r->devices, res_list)
			bsr_nod_end(d, true);
		if (no_data)
			bsr_notify_resource(r, BSR_NOTIFY_CHANGE);
	}
	mutex_unlock(&r->adm_mutex);
	bsr_info("%s: I/O %s%s%s\n", r->name, suspend ? "suspended" : "resumed",
		 !suspend && fencing ? " (the peer was not fenced)" : "",
		 !suspend && no_data ? " (no data accessible: it fails with EIO)" : "");
	return BSR_RET_NO_ERROR;
}

ADM_DOIT(suspend_io, NEED_MINOR)

/* ---------------------------------------------------------------- roles */

/*
 * A connection not connected whose peer's disk is not known to be Outdated or worse, with
 * fencing: what a promotion must fence first. NULL while a volume is not UpToDate (the
 * promotion is refused for that, or --force decides).
 */
static struct bsr_conn *unfenced_peer(struct bsr_resource *r)
{
	struct bsr_device *d;
	struct bsr_conn *c;

	if (r->role == BSR_ROLE_PRIMARY)
		return NULL;
	list_for_each_entry(d, &r->devices, res_list)
		if (READ_ONCE(d->disk_state) != BSR_DISK_UPTODATE)
			return NULL;
	list_for_each_entry(c, &r->connections, res_list)
		if (c->cstate != BSR_CONNECTION_CONNECTED &&
		    bsr_fence_policy(c) != BSR_FENCING_DONT_CARE)
			return c;
	return NULL;
}

/* fence-peer answered 6, the peer is Primary: this node's data are behind (DRBD: outdate myself). */
static void outdate_myself(struct bsr_resource *r)
{
	struct bsr_device *d;

	list_for_each_entry(d, &r->devices, res_list) {
		if (!bsr_get_ldev(d))
			continue;
		bsr_outdate_behind(d);
		bsr_put_ldev(d);
	}
}

/*
 * primary without --force, a peer not connected and its disk not known to be Outdated
 * (fencing not dont-care): fence-peer first, as DRBD 9; the promotion goes on only when
 * the handler fenced every such peer. The handler runs with bsr_conf_mutex dropped (it may
 * run bsrsetup), so the resource and the peer are looked up again after it.
 */
static int fence_before_promotion(struct adm_ctx *ctx)
{
	struct bsr_resource *r = ctx->resource;
	struct bsr_peer_device *pd;
	struct bsr_helper *h;
	struct bsr_conn *c;
	int status, ret;
	u32 peer;

	while ((c = unfenced_peer(r))) {
		pd = list_first_entry_or_null(&c->peer_devices, struct bsr_peer_device, conn_list);
		if (!pd)
			break;
		peer = c->peer_node_id;
		mutex_lock(&r->adm_mutex);
		h = bsr_helper_prepare(pd, BSR_HELPER_FENCE_PEER);
		mutex_unlock(&r->adm_mutex);
		if (!h)
			return BSR_RET_NO_MEM;
		mutex_unlock(&bsr_conf_mutex);
		status = bsr_helper_run(h);
		mutex_lock(&bsr_conf_mutex);
		r = bsr_find_resource(ctx->res_name);
		ctx->resource = r;
		c = r ? bsr_find_connection(r, peer) : NULL;
		if (!c) {
			SETMSG(ctx, "refusing to be Primary: the resource or its peer %u was removed while fence-peer ran",
			       peer);
			return r ? BSR_RET_NO_PEER : BSR_RET_NO_RESOURCE;
		}
		pd = list_first_entry_or_null(&c->peer_devices, struct bsr_peer_device, conn_list);
		if (pd && status >= 0)
			bsr_notify_helper(pd, BSR_HELPER_FENCE_PEER, BSR_NOTIFY_RESPONSE, status);
		mutex_lock(&r->adm_mutex);
		ret = BSR_RET_NO_ERROR;
		if (!bsr_fence_apply(c, status)) {
			if (status == 6)
				outdate_myself(r);
			ret = status == 6 ? BSR_RET_PEER_PRIMARY : BSR_RET_PEER_NOT_CONNECTED;
		}
		mutex_unlock(&r->adm_mutex);
		if (ret == BSR_RET_PEER_PRIMARY) {
			SETMSG(ctx, "refusing to be Primary: the fence-peer handler says peer %u (%s) is Primary (exit code 6); this node's data are Outdated now",
			       peer, c->name);
			return ret;
		}
		if (ret != BSR_RET_NO_ERROR) {
			SETMSG(ctx, "refusing to be Primary: peer %u (%s) is not connected and the fence-peer handler did not fence it (exit code %d)",
			       peer, c->name, status);
			return ret;
		}
		bsr_info("%s: peer %u fenced before the promotion (fence-peer exit code %d)\n",
			 r->name, peer, status);
	}
	return BSR_RET_NO_ERROR;
}

static int adm_set_role(struct adm_ctx *ctx, struct genl_info *info)
{
	struct nlattr *tb[T_SET_ROLE_PARMS_MAX + 1];
	bool force;
	int ret;

	if (get_set(ctx, BSR_NLA_SET_ROLE_PARMS, tb, T_SET_ROLE_PARMS_MAX,
		    bsr_set_role_parms_policy))
		return BSR_RET_INVALID_REQUEST;
	force = tb[T_SET_ROLE_PARMS_FORCE] && nla_get_u8(tb[T_SET_ROLE_PARMS_FORCE]);
	if (info->genlhdr->cmd == BSR_ADM_PRIMARY && !force) {
		ret = fence_before_promotion(ctx);
		if (ret != BSR_RET_NO_ERROR)
			return ret;
	}
	return bsr_net_set_role(ctx->resource,
			       info->genlhdr->cmd == BSR_ADM_PRIMARY ? BSR_ROLE_PRIMARY :
			       BSR_ROLE_SECONDARY,
			       BSR_ROLE_EXPLICIT | (force ? BSR_ROLE_FORCE : 0), ctx->msg, MSG_LEN);
}

ADM_DOIT(set_role, NEED_RES)

/*
 * apply-persist-role RES (bsr.service after up): with persist-role yes, the role last set
 * explicitly comes back. WAS_PRIMARY in a volume's meta data says it was Primary: promote
 * through the path `primary` takes, with its checks. The volumes change role together, so
 * one volume carrying the flag is enough (one attached later may lack it).
 */
static int adm_apply_persist_role(struct adm_ctx *ctx, struct genl_info *info)
{
	struct bsr_resource *r = ctx->resource;
	struct bsr_device *d;
	int was_primary = -1;
	int ret;

	if (!bsr_conf(&r->res_opts, T_RES_OPTS_PERSIST_ROLE)) {
		SETMSG(ctx, "%s: persist-role no: role left as it is (%s)", r->name,
		       bsr_role_name(r->role));
		bsr_info("%s: apply-persist-role: persist-role no, nothing changed\n", r->name);
		return BSR_RET_NO_ERROR;
	}
	if (r->role == BSR_ROLE_PRIMARY) {
		SETMSG(ctx, "%s: Primary already", r->name);
		return BSR_RET_NO_ERROR;
	}
	list_for_each_entry(d, &r->devices, res_list) {
		/* pins the backing device: a failing disk may be detached meanwhile */
		if (!bsr_get_ldev(d))
			continue;
		if (d->ldev->md.flags & BSR_MDF_WAS_PRIMARY)
			was_primary = d->minor;
		bsr_put_ldev(d);
		if (was_primary >= 0)
			break;
	}
	if (was_primary < 0) {
		SETMSG(ctx, "%s: persist-role: the role last set was not Primary: staying Secondary",
		       r->name);
		bsr_info("%s: apply-persist-role: last set Secondary, staying Secondary\n", r->name);
		return BSR_RET_NO_ERROR;
	}
	ret = bsr_net_set_role(r, BSR_ROLE_PRIMARY, BSR_ROLE_AUTO, ctx->msg, MSG_LEN);
	if (ret == BSR_RET_NO_ERROR) {
		SETMSG(ctx, "%s: persist-role: Primary again (meta data of minor %d)", r->name,
		       was_primary);
		bsr_info("%s: apply-persist-role: Primary again (minor %d was Primary)\n", r->name,
			 was_primary);
	} else {
		bsr_warn("%s: apply-persist-role: promotion refused: %s\n", r->name, ctx->msg);
	}
	return ret;
}

ADM_DOIT(apply_persist_role, NEED_RES)

/* ---------------------------------------------------------------- peers and paths */

/*
 * cram-hmac-alg names a hash the kernel has an HMAC of, and comes with a shared-secret: an
 * empty one would let anyone who knows the algorithm in.
 */
static int check_auth_conf(struct adm_ctx *ctx, const struct bsr_net_conf *nc)
{
	char hmac_name[CRYPTO_MAX_ALG_NAME];

	if (!nc->cram_hmac_alg[0])
		return BSR_RET_NO_ERROR;
	snprintf(hmac_name, sizeof(hmac_name), "hmac(%s)", nc->cram_hmac_alg);
	if (!crypto_has_shash(hmac_name, 0, 0)) {
		SETMSG(ctx, "cram-hmac-alg %s: this kernel has no %s", nc->cram_hmac_alg, hmac_name);
		return BSR_RET_INVALID_REQUEST;
	}
	if (!nc->shared_secret[0]) {
		SETMSG(ctx, "cram-hmac-alg %s needs a shared-secret: an empty one lets anyone in",
		       nc->cram_hmac_alg);
		return BSR_RET_INVALID_REQUEST;
	}
	return BSR_RET_NO_ERROR;
}

/*
 * verify-alg, data-integrity-alg and csums-alg name a hash of the kernel's crypto API, unkeyed,
 * with a digest a packet carries; refused here, naming it, rather than at the next handshake.
 */
static int check_net_algs(struct adm_ctx *ctx, struct genl_info *info,
			  const struct bsr_net_conf *nc)
{
	const struct {
		int type;
		const char *name;
		const char *alg;
	} algs[] = {
		{ T_NET_CONF_VERIFY_ALG, "verify-alg", nc->verify_alg },
		{ T_NET_CONF_DATA_INTEGRITY_ALG, "data-integrity-alg", nc->data_integrity_alg },
		{ T_NET_CONF_CSUMS_ALG, "csums-alg", nc->csums_alg },
	};
	const struct nlattr *nest = info->attrs[BSR_NLA_NET_CONF];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(algs); i++) {
		const struct nlattr *a = nest ? nla_find_nested(nest, algs[i].type) : NULL;
		struct crypto_shash *tfm;
		const char *why;

		/* only what this request names: a stored one was checked when it was given */
		if (!a || !algs[i].alg[0])
			continue;
		tfm = bsr_digest_alloc(algs[i].alg, &why);
		if (!IS_ERR(tfm)) {
			crypto_free_shash(tfm);
			continue;
		}
		SETMSG(ctx, "%s %s: %s", algs[i].name, algs[i].alg, why);
		NL_SET_ERR_MSG_ATTR(info->extack, a, "unknown hash algorithm");
		return BSR_RET_INVALID_REQUEST;
	}
	return BSR_RET_NO_ERROR;
}

/*
 * A connection's net options as they will be with this request's (`cur`: the stored ones,
 * NULL for a new connection), built and checked as a whole but not published; NULL with
 * *ret set when refused. Pulling ahead or disconnecting on congestion keeps writes going
 * only where they complete without the peer: protocol A, as in DRBD.
 */
/* A u8 flag of the request's own NET_CONF (not the stored one) set to 1. */
static bool net_conf_flag(struct genl_info *info, int attr)
{
	struct nlattr *a;

	if (!info->attrs[BSR_NLA_NET_CONF])
		return false;
	a = nla_find_nested(info->attrs[BSR_NLA_NET_CONF], attr);
	return a && nla_len(a) >= 1 && nla_get_u8(a);
}

static struct bsr_opts_data *net_conf_build(struct adm_ctx *ctx, struct genl_info *info,
					    struct bsr_opts *cur, bool reset, int *ret)
{
	static const char * const policies[] = { BSR_ON_CONGESTION_NAMES };
	struct bsr_opts_data *d = opts_build(cur, BSR_SET_NET_CONF, info->attrs[BSR_NLA_NET_CONF],
					     reset, info->extack);
	const union bsr_opt_vals *v;
	u32 on_congestion;

	if (IS_ERR(d)) {
		*ret = PTR_ERR(d) == -ENOMEM ? BSR_RET_NO_MEM : BSR_RET_INVALID_REQUEST;
		return NULL;
	}
	if (info->genlhdr->cmd != BSR_ADM_CONNECT && net_conf_flag(info, T_NET_CONF_TENTATIVE)) {
		SETMSG(ctx, "tentative: only with connect (one handshake, then StandAlone)");
		bsr_opts_data_free(d);
		*ret = BSR_RET_INVALID_REQUEST;
		return NULL;
	}
	v = &d->vals;
	on_congestion = bsr_opt_val(v, T_NET_CONF_ON_CONGESTION);
	*ret = check_net_algs(ctx, info, &v->net_conf);
	if (*ret == BSR_RET_NO_ERROR)
		*ret = check_auth_conf(ctx, &v->net_conf);
	if (*ret == BSR_RET_NO_ERROR && on_congestion != BSR_ON_CONGESTION_BLOCK &&
	    bsr_opt_val(v, T_NET_CONF_PROTOCOL) != BSR_PROTOCOL_A) {
		SETMSG(ctx, "on-congestion %s needs protocol A", policies[on_congestion]);
		*ret = BSR_RET_INVALID_REQUEST;
	}
	if (*ret == BSR_RET_NO_ERROR && bsr_opt_val(v, T_NET_CONF_ALLOW_TWO_PRIMARIES)) {
		SETMSG(ctx, "allow-two-primaries is not supported");
		*ret = BSR_RET_INVALID_REQUEST;
	}
	if (*ret == BSR_RET_NO_ERROR)
		return d;
	bsr_opts_data_free(d);
	return NULL;
}

static int adm_new_peer(struct adm_ctx *ctx, struct genl_info *info)
{
	struct bsr_opts_data *conf;
	struct bsr_resource *r;
	int ret;
	struct bsr_device *d;
	struct bsr_conn *c;

	r = ctx->resource;
	if (!ctx->has_peer || ctx->peer >= BSR_MAX_PEERS || ctx->peer == r->node_id) {
		SETMSG(ctx, "invalid or missing peer node-id (0..%u, not this node's %u)",
		       BSR_MAX_PEERS - 1, r->node_id);
		return BSR_RET_NODE_ID_INVALID;
	}
	if (bsr_find_connection(r, ctx->peer)) {
		SETMSG(ctx, "resource %s already has peer node-id %u", r->name, ctx->peer);
		return BSR_RET_PEER_EXISTS;
	}
	conf = net_conf_build(ctx, info, NULL, true, &ret);
	if (!conf)
		return ret;
	c = bsr_create_connection(r, ctx->peer);
	if (!c) {
		bsr_opts_data_free(conf);
		return BSR_RET_NO_MEM;
	}
	bsr_opts_publish(&c->net_conf, conf);
	strscpy(c->name, bsr_opt_val(&conf->vals, T_NET_CONF_NAME), sizeof(c->name));

	list_for_each_entry(d, &r->devices, res_list) {
		int s;

		if (!d->ldev)
			continue;
		s = bsr_assign_bitmap_slot(d, ctx->peer);
		if (s < 0) {
			SETMSG(ctx, "minor %u: no free bitmap slot for peer %u (bm_max_peers %u)",
			       d->minor, ctx->peer, d->ldev->md.bm_max_peers);
			continue;
		}
		bsr_update_slot_mask(d);
		bsr_bm_write_all(d, d->ldev);
		bsr_md_write_sb(d, d->ldev);
	}
	notify_connection_tree(c, BSR_NOTIFY_CREATE);
	return BSR_RET_NO_ERROR;
}

ADM_DOIT(new_peer, NEED_RES)

/* Options agreed in the handshake (SYNC_PARAM): a change needs a new one. */
static bool net_conf_needs_handshake(const struct bsr_net_conf *a, const struct bsr_net_conf *b)
{
	return a->protocol != b->protocol || strcmp(a->verify_alg, b->verify_alg) ||
	       strcmp(a->data_integrity_alg, b->data_integrity_alg) ||
	       strcmp(a->csums_alg, b->csums_alg);
}

static int adm_net_opts(struct adm_ctx *ctx, struct genl_info *info)
{
	struct bsr_conn *c = ctx->conn;
	struct bsr_opts_data *conf, *old;
	int ret;

	conf = net_conf_build(ctx, info, &c->net_conf, ctx->hflags & BSR_GENL_F_SET_DEFAULTS, &ret);
	if (!conf)
		return ret;
	old = bsr_opts_publish(&c->net_conf, conf);
	/* a new protocol or algorithm is agreed in a new handshake: reconnect */
	if (net_conf_needs_handshake(old ? &old->vals.net_conf : &bsr_opt_defaults.net_conf,
				     &conf->vals.net_conf) &&
	    c->net->receiver && READ_ONCE(c->net->net_ok)) {
		bsr_tl_drain(c, 10 * HZ);
		bsr_conn_fail(c, BSR_CONNECTION_NETWORKFAILURE);
	}
	bsr_opts_data_free(old);
	atomic_inc(&c->net->conf_gen);
	/* a raised max-buffers lets a waiting receiver and resync go on at once */
	wake_up(&c->net->ee_wait);
	bsr_rs_kick(c->net);
	/* a set without _name keeps the old name */
	if (bsr_opt_val(&conf->vals, T_NET_CONF_NAME)[0])
		strscpy(c->name, bsr_opt_val(&conf->vals, T_NET_CONF_NAME), sizeof(c->name));
	bsr_notify_connection(c, BSR_NOTIFY_CHANGE);
	return BSR_RET_NO_ERROR;
}

ADM_DOIT(net_opts, NEED_CONN)

static int del_peer(struct bsr_conn *c)
{
	bsr_set_cstate(c, BSR_CONNECTION_STANDALONE);
	notify_connection_tree(c, BSR_NOTIFY_DESTROY);
	bsr_delete_connection(c);
	return BSR_RET_NO_ERROR;
}

static int adm_del_peer(struct adm_ctx *ctx, struct genl_info *info)
{
	struct bsr_device *d;
	struct bsr_resource *r;
	int ret = BSR_RET_NO_ERROR;

	r = ctx->resource;
	ret = del_peer(ctx->conn);
	list_for_each_entry(d, &r->devices, res_list)
		bsr_update_slot_mask(d);
	return ret;
}

ADM_DOIT(del_peer, NEED_CONN)

static bool valid_sockaddr(const struct nlattr *a)
{
	const struct sockaddr *sa = nla_data(a);
	int len = nla_len(a);

	if (len == sizeof(struct sockaddr_in) && sa->sa_family == AF_INET)
		return true;
	if (len == sizeof(struct sockaddr_in6) && sa->sa_family == AF_INET6)
		return true;
	return false;
}

/* Whether the connection's receiver runs: connecting, connected or about to retry. */
static bool conn_active(struct bsr_conn *c)
{
	return c->net && c->net->receiver;
}

/*
 * new-path appends; the connection keeps using its first path. del-path of the path a live
 * connection uses moves it to the next one (dropped and re-established over it); deleting the
 * only path of a live connection is refused (add the new path first, or disconnect). The
 * list changes under adm_mutex: the receiver copies the first path under it (bsr_first_path).
 */
static int adm_path(struct adm_ctx *ctx, struct genl_info *info)
{
	struct nlattr *tb[T_PATH_PARMS_MAX + 1];
	struct bsr_conn *c = ctx->conn;
	struct bsr_path *p, *found = NULL;
	bool add = info->genlhdr->cmd == BSR_ADM_NEW_PATH;
	bool in_use;
	int ret = BSR_RET_NO_ERROR;

	if (get_set(ctx, BSR_NLA_PATH_PARMS, tb, T_PATH_PARMS_MAX, bsr_path_parms_policy) ||
	    !tb[T_PATH_PARMS_MY_ADDR] || !tb[T_PATH_PARMS_PEER_ADDR] ||
	    !valid_sockaddr(tb[T_PATH_PARMS_MY_ADDR]) || !valid_sockaddr(tb[T_PATH_PARMS_PEER_ADDR])) {
		SETMSG(ctx, "a path needs PATH_PARMS my_addr and peer_addr as struct sockaddr_in or sockaddr_in6");
		return BSR_RET_INVALID_REQUEST;
	}
	p = add ? bsr_alloc_path() : NULL;
	if (add && !p)
		return BSR_RET_NO_MEM;
	mutex_lock(&ctx->resource->adm_mutex);
	list_for_each_entry(found, &c->paths, list) {
		if (found->my_len == nla_len(tb[T_PATH_PARMS_MY_ADDR]) &&
		    found->peer_len == nla_len(tb[T_PATH_PARMS_PEER_ADDR]) &&
		    !memcmp(found->my_addr, nla_data(tb[T_PATH_PARMS_MY_ADDR]), found->my_len) &&
		    !memcmp(found->peer_addr, nla_data(tb[T_PATH_PARMS_PEER_ADDR]), found->peer_len))
			break;
	}
	if (list_entry_is_head(found, &c->paths, list))
		found = NULL;
	if (add) {
		if (found) {
			SETMSG(ctx, "the path exists");
			ret = BSR_RET_PATH_EXISTS;
			goto out;
		}
		p->my_len = nla_len(tb[T_PATH_PARMS_MY_ADDR]);
		p->peer_len = nla_len(tb[T_PATH_PARMS_PEER_ADDR]);
		memcpy(p->my_addr, nla_data(tb[T_PATH_PARMS_MY_ADDR]), p->my_len);
		memcpy(p->peer_addr, nla_data(tb[T_PATH_PARMS_PEER_ADDR]), p->peer_len);
		list_add_tail(&p->list, &c->paths);
		bsr_notify_path(c, p, BSR_NOTIFY_CREATE);
		p = NULL;
		goto out;
	}
	if (!found) {
		SETMSG(ctx, "no such path");
		ret = BSR_RET_NO_PATH;
		goto out;
	}
	in_use = conn_active(c) && found == bsr_path_in_use(c);
	if (in_use && list_is_singular(&c->paths)) {
		SETMSG(ctx, "peer %u connects over its only path: add the new path first, or disconnect",
		       c->peer_node_id);
		ret = BSR_RET_BUSY;
		goto out;
	}
	bsr_notify_path(c, found, BSR_NOTIFY_DESTROY);
	list_del(&found->list);
	bsr_free_path(found);
	if (in_use) {
		bsr_info("%s: its path was deleted: connecting over the next one\n",
			 c->net->thread_tag);
		if (READ_ONCE(c->net->net_ok))
			bsr_conn_fail(c, BSR_CONNECTION_NETWORKFAILURE);
		else
			bsr_sock_shutdown(c->net);
	}
out:
	mutex_unlock(&ctx->resource->adm_mutex);
	bsr_free_path(p);
	return ret;
}

ADM_DOIT(path, NEED_CONN)

static int adm_connect(struct adm_ctx *ctx, struct genl_info *info)
{
	struct nlattr *tb[T_CONNECT_PARMS_MAX + 1];
	bool discard, tentative;
	int ret = BSR_RET_NO_ERROR;
	int err;

	if (list_empty(&ctx->conn->paths)) {
		SETMSG(ctx, "peer node-id %u has no path (new-path first)", ctx->peer);
		return BSR_RET_NO_PATH;
	}
	if (get_set(ctx, BSR_NLA_CONNECT_PARMS, tb, T_CONNECT_PARMS_MAX,
		    bsr_connect_parms_policy))
		return BSR_RET_INVALID_REQUEST;
	discard = tb[T_CONNECT_PARMS_DISCARD_MY_DATA] &&
		  nla_get_u8(tb[T_CONNECT_PARMS_DISCARD_MY_DATA]);
	tentative = tb[T_CONNECT_PARMS_TENTATIVE] && nla_get_u8(tb[T_CONNECT_PARMS_TENTATIVE]);
	/* bsrsetup sends these in NET_CONF (as DRBD 9): one-shot, from this request */
	if (net_conf_flag(info, T_NET_CONF_DISCARD_MY_DATA))
		discard = true;
	if (net_conf_flag(info, T_NET_CONF_TENTATIVE))
		tentative = true;
	if (info->attrs[BSR_NLA_NET_CONF]) {
		struct bsr_opts_data *conf = net_conf_build(ctx, info, &ctx->conn->net_conf, false,
							    &ret);

		if (!conf)
			return ret;
		bsr_opts_data_free(bsr_opts_publish(&ctx->conn->net_conf, conf));
		atomic_inc(&ctx->conn->net->conf_gen);
	}
	if (ctx->conn->net->want_connect && ctx->conn->net->receiver) {
		SETMSG(ctx, "already connecting or connected (disconnect first)");
		return ret;
	}
	err = bsr_conn_start(ctx->conn, discard, tentative);
	if (err) {
		SETMSG(ctx, "cannot start the connection: %d", err);
		ret = BSR_RET_NO_MEM;
	}
	return ret;
}

ADM_DOIT(connect, NEED_CONN)

static int adm_disconnect(struct adm_ctx *ctx, struct genl_info *info)
{
	struct nlattr *tb[T_DISCONNECT_PARMS_MAX + 1];
	bool force;

	if (get_set(ctx, BSR_NLA_DISCONNECT_PARMS, tb, T_DISCONNECT_PARMS_MAX,
		    bsr_disconnect_parms_policy))
		return BSR_RET_INVALID_REQUEST;
	force = tb[T_DISCONNECT_PARMS_FORCE_DISCONNECT] &&
		nla_get_u8(tb[T_DISCONNECT_PARMS_FORCE_DISCONNECT]);
	bsr_conn_stop(ctx->conn, force);
	return BSR_RET_NO_ERROR;
}

ADM_DOIT(disconnect, NEED_CONN)

/* ---------------------------------------------------------------- resync control */

static int adm_sync_ctl(struct adm_ctx *ctx, struct genl_info *info)
{
	u8 cmd = info->genlhdr->cmd;
	struct bsr_peer_device *pd;
	int ret = BSR_RET_NO_ERROR;

	pd = ctx->pd;
	mutex_lock(&ctx->resource->adm_mutex);
	switch (cmd) {
	case BSR_ADM_INVAL_PEER:
		if (bsr_adm_start_sync(pd, true, ctx->msg, MSG_LEN))
			ret = BSR_RET_BUSY;
		break;
	case BSR_ADM_PAUSE_SYNC:
	case BSR_ADM_RESUME_SYNC: {
		bool pause = cmd == BSR_ADM_PAUSE_SYNC;

		if (pd->resync_susp_user == pause) {
			SETMSG(ctx, pause ? "resync already paused" : "resync not paused");
			ret = BSR_RET_BUSY;
			break;
		}
		pd->resync_susp_user = pause;
		bsr_rs_pause_changed(pd);
		break;
	}
	}
	mutex_unlock(&ctx->resource->adm_mutex);
	return ret;
}

ADM_DOIT(sync_ctl, NEED_PD)

/*
 * verify (START_OV) from --start, else where the last run stopped early (0 after a complete
 * one), to --stop or the end, with --auto-sync a resync of what it finds; verify-stop (STOP_OV).
 */
static int adm_verify(struct adm_ctx *ctx, struct genl_info *info)
{
	struct nlattr *tb[T_START_OV_PARMS_MAX + 1];
	struct bsr_peer_device *pd = ctx->pd;
	sector_t start, stop = 0;
	int rv;

	if (get_set(ctx, BSR_NLA_START_OV_PARMS, tb, T_START_OV_PARMS_MAX,
		    bsr_start_ov_parms_policy))
		return BSR_RET_INVALID_REQUEST;
	mutex_lock(&ctx->resource->adm_mutex);
	if (info->genlhdr->cmd == BSR_ADM_STOP_OV) {
		rv = bsr_ov_stop(pd, ctx->msg, MSG_LEN);
	} else {
		start = tb[T_START_OV_PARMS_OV_START_SECTOR] ?
			nla_get_u64(tb[T_START_OV_PARMS_OV_START_SECTOR]) : pd->net->ov_resume;
		if (tb[T_START_OV_PARMS_OV_STOP_SECTOR])
			stop = nla_get_u64(tb[T_START_OV_PARMS_OV_STOP_SECTOR]);
		rv = bsr_ov_start(pd, start, stop, tb[T_START_OV_PARMS_AUTO_SYNC] &&
				  nla_get_u8(tb[T_START_OV_PARMS_AUTO_SYNC]), ctx->msg, MSG_LEN);
	}
	mutex_unlock(&ctx->resource->adm_mutex);
	if (rv == -ENOTCONN)
		return BSR_RET_BUSY;
	return rv ? BSR_RET_INVALID_REQUEST : BSR_RET_NO_ERROR;
}

ADM_DOIT(verify, NEED_PD)

static int adm_invalidate(struct adm_ctx *ctx, struct genl_info *info)
{
	struct nlattr *tb[T_INVALIDATE_PARMS_MAX + 1];
	struct bsr_peer_device *pd, *use = NULL;
	s32 from = -1;
	int ret = BSR_RET_NO_ERROR;

	if (get_set(ctx, BSR_NLA_INVALIDATE_PARMS, tb, T_INVALIDATE_PARMS_MAX,
		    bsr_invalidate_parms_policy))
		return BSR_RET_INVALID_REQUEST;
	if (tb[T_INVALIDATE_PARMS_SYNC_FROM_PEER_NODE_ID])
		from = nla_get_s32(tb[T_INVALIDATE_PARMS_SYNC_FROM_PEER_NODE_ID]);
	mutex_lock(&ctx->resource->adm_mutex);
	list_for_each_entry(pd, &ctx->device->peer_devices, dev_list) {
		if (from >= 0 && pd->connection->peer_node_id != (u32)from)
			continue;
		if (pd->repl_state == BSR_REPLICATION_ESTABLISHED &&
		    pd->peer_disk_state == BSR_DISK_UPTODATE) {
			use = pd;
			break;
		}
	}
	if (!use) {
		SETMSG(ctx, "invalidate needs a connected peer with UpToDate data");
		ret = BSR_RET_BUSY;
	} else if (bsr_adm_start_sync(use, false, ctx->msg, MSG_LEN)) {
		ret = BSR_RET_BUSY;
	}
	mutex_unlock(&ctx->resource->adm_mutex);
	return ret;
}

ADM_DOIT(invalidate, NEED_MINOR)

/* FAST_SYNC_MAP: one chunk of the used-block map for the next full sync (bsr_sync.c) */
static int adm_fast_sync_map(struct adm_ctx *ctx, struct genl_info *info)
{
	struct nlattr *tb[T_FAST_SYNC_MAP_PARMS_MAX + 1];
	struct nlattr *words;
	int rv;

	if (get_set(ctx, BSR_NLA_FAST_SYNC_MAP_PARMS, tb, T_FAST_SYNC_MAP_PARMS_MAX,
		    bsr_fast_sync_map_parms_policy))
		return BSR_RET_INVALID_REQUEST;
	words = tb[T_FAST_SYNC_MAP_PARMS_FSM_WORDS];
	if (!tb[T_FAST_SYNC_MAP_PARMS_FSM_FIRST_BLOCK] || !tb[T_FAST_SYNC_MAP_PARMS_FSM_MAP_BLOCKS] ||
	    !words) {
		SETMSG(ctx, "FAST_SYNC_MAP needs fsm_first_block, fsm_map_blocks and fsm_words");
		return BSR_RET_INVALID_REQUEST;
	}
	if (!nla_len(words) || nla_len(words) % sizeof(__le64)) {
		SETMSG(ctx, "fsm_words: %d bytes, expected a non-zero multiple of 8", nla_len(words));
		return BSR_RET_INVALID_REQUEST;
	}
	mutex_lock(&ctx->resource->adm_mutex);
	rv = bsr_fast_map_chunk(ctx->device, nla_get_u64(tb[T_FAST_SYNC_MAP_PARMS_FSM_FIRST_BLOCK]),
				nla_get_u64(tb[T_FAST_SYNC_MAP_PARMS_FSM_MAP_BLOCKS]),
				nla_data(words), nla_len(words) / sizeof(__le64),
				tb[T_FAST_SYNC_MAP_PARMS_FSM_LAST] &&
				nla_get_u8(tb[T_FAST_SYNC_MAP_PARMS_FSM_LAST]), ctx->msg, MSG_LEN);
	mutex_unlock(&ctx->resource->adm_mutex);
	switch (rv) {
	case 0:
		return BSR_RET_NO_ERROR;
	case -ENODEV:
		return BSR_RET_NO_DISK;
	case -EBUSY:
		return BSR_RET_BUSY;
	case -ENOMEM:
		return BSR_RET_NO_MEM;
	default:
		return BSR_RET_INVALID_REQUEST;
	}
}

ADM_DOIT(fast_sync_map, NEED_MINOR)

static int adm_peer_device_opts(struct adm_ctx *ctx, struct genl_info *info)
{
	struct bsr_opts_data *d = opts_build(&ctx->pd->conf, BSR_SET_PEER_DEVICE_CONF,
					     info->attrs[BSR_NLA_PEER_DEVICE_OPTS],
					     ctx->hflags & BSR_GENL_F_SET_DEFAULTS, info->extack);
	const char *ratio;
	u32 repl, resync;

	if (IS_ERR(d))
		return PTR_ERR(d) == -ENOMEM ? BSR_RET_NO_MEM : BSR_RET_INVALID_REQUEST;
	/* checked as a whole before it is published: the controller reads it every tick */
	ratio = bsr_opt_val(&d->vals, T_PEER_DEVICE_CONF_RESYNC_RATIO);
	if (*ratio && bsr_parse_ratio(ratio, &repl, &resync)) {
		SETMSG(ctx, "resync-ratio: '%s' is not REPL:RESYNC (two whole numbers 1 .. %u, e.g. 3:1)",
		       ratio, BSR_RATIO_MAX);
		bsr_opts_data_free(d);
		return BSR_RET_INVALID_REQUEST;
	}
	bsr_opts_data_free(bsr_opts_publish(&ctx->pd->conf, d));
	bsr_notify_peer_device(ctx->pd, BSR_NOTIFY_CHANGE);
	return BSR_RET_NO_ERROR;
}

ADM_DOIT(peer_device_opts, NEED_PD)

static int adm_forget_peer(struct adm_ctx *ctx, struct genl_info *info)
{
	struct nlattr *tb[T_FORGET_PEER_PARMS_MAX + 1];
	struct bsr_device *d;
	s32 peer;
	int ret = BSR_RET_NO_ERROR;

	if (get_set(ctx, BSR_NLA_FORGET_PEER_PARMS, tb, T_FORGET_PEER_PARMS_MAX,
		    bsr_forget_peer_parms_policy) || !tb[T_FORGET_PEER_PARMS_FORGET_PEER_NODE_ID]) {
		SETMSG(ctx, "forget-peer needs FORGET_PEER_PARMS.forget_peer_node_id");
		return BSR_RET_INVALID_REQUEST;
	}
	peer = nla_get_s32(tb[T_FORGET_PEER_PARMS_FORGET_PEER_NODE_ID]);
	if (peer < 0 || peer >= BSR_MAX_PEERS || peer == (s32)ctx->resource->node_id) {
		SETMSG(ctx, "invalid peer node-id %d", peer);
		return BSR_RET_NODE_ID_INVALID;
	}
	if (bsr_find_connection(ctx->resource, peer)) {
		SETMSG(ctx, "peer node-id %d is configured (del-peer first)", peer);
		return BSR_RET_BUSY;
	}
	list_for_each_entry(d, &ctx->resource->devices, res_list) {
		struct bsr_md_peer *p;

		if (!d->ldev)
			continue;
		p = &d->ldev->md.peers[peer];
		if (p->bitmap_index >= 0)
			bsr_bm_clear_slot(&d->ldev->bm, p->bitmap_index);
		p->bitmap_index = -1;
		p->bitmap_uuid = 0;
		p->flags = 0;
		bsr_update_slot_mask(d);
		if (bsr_bm_write_all(d, d->ldev) || bsr_md_write_sb(d, d->ldev)) {
			SETMSG(ctx, "minor %u: writing the meta data failed", d->minor);
			ret = BSR_RET_IO_ERROR;
		}
	}
	return ret;
}

ADM_DOIT(forget_peer, NEED_RES)

/* ---------------------------------------------------------------- down */

static int adm_down(struct adm_ctx *ctx, struct genl_info *info)
{
	struct bsr_device *d, *td;
	struct bsr_resource *r;
	int ret = BSR_RET_NO_ERROR;

	r = ctx->resource;
	/* not an explicit demotion: persist-role's flag stays for apply-persist-role */
	ret = bsr_net_set_role(r, BSR_ROLE_SECONDARY, 0, ctx->msg, MSG_LEN);
	if (ret != BSR_RET_NO_ERROR)
		return ret;
	list_for_each_entry(d, &r->devices, res_list) {
		if (!bsr_wait_device_closed(d)) {
			SETMSG(ctx, "/dev/bsr%u is open", d->minor);
			return BSR_RET_DEVICE_IN_USE;
		}
	}
	while (!list_empty(&r->connections))
		del_peer(list_first_entry(&r->connections, struct bsr_conn, res_list));
	list_for_each_entry_safe(d, td, &r->devices, res_list) {
		ret = detach_minor(ctx, d, false);
		if (ret == BSR_RET_NO_ERROR)
			ret = del_minor(ctx, d);
		if (ret != BSR_RET_NO_ERROR)
			return ret;
	}
	return del_resource(ctx, r);
}

ADM_DOIT(down, NEED_RES)

/* ---------------------------------------------------------------- dumps */

static const char *dump_filter(struct netlink_callback *cb)
{
	const struct genl_dumpit_info *di = genl_dumpit_info(cb);
	struct nlattr *tb[T_CFG_CONTEXT_MAX + 1];

	if (!di || !bsr_genl_dump_attrs(di) || !bsr_genl_dump_attrs(di)[BSR_NLA_CFG_CONTEXT])
		return NULL;
	if (nla_parse_nested(tb, T_CFG_CONTEXT_MAX, bsr_genl_dump_attrs(di)[BSR_NLA_CFG_CONTEXT],
			     bsr_cfg_context_policy, NULL))
		return NULL;
	return tb[T_CFG_CONTEXT_CTX_RESOURCE_NAME] ?
		nla_data(tb[T_CFG_CONTEXT_CTX_RESOURCE_NAME]) : NULL;
}

enum obj_kind { OBJ_RES, OBJ_DEV, OBJ_CONN, OBJ_PATH, OBJ_PD };

/*
 * Emit the objects of the kind(s) selected, skipping the first cb->args[0] of them;
 * the index is stable enough between dump calls (configuration is serialized, a dump
 * racing with changes may miss or repeat an object, as with every netlink dump).
 */
static int dump_objects_locked(struct sk_buff *skb, struct netlink_callback *cb,
			       unsigned int kinds, u8 res_cmd, int nh_type)
{
	u32 portid = NETLINK_CB(cb->skb).portid, seq = cb->nlh->nlmsg_seq;
	const char *filter = dump_filter(cb);
	long skip = cb->args[0], n = 0;
	struct bsr_resource *r;
	int err = 0;

	if (filter && !res_cmd && !skip && !bsr_find_resource(filter)) {
		/* like a doit refusal: one message whose ret_code says why */
		u8 cmd = kinds & BIT(OBJ_RES) ? BSR_ADM_GET_RESOURCES :
			 kinds & BIT(OBJ_DEV) ? BSR_ADM_GET_DEVICES :
			 kinds & BIT(OBJ_CONN) ? BSR_ADM_GET_CONNECTIONS : BSR_ADM_GET_PEER_DEVICES;
		struct bsr_genlmsghdr *h = msg_start(skb, portid, seq, NLM_F_MULTI, cmd, -1U);
		struct nlattr *nest;

		if (!h)
			return -EMSGSIZE;
		h->ret_code = BSR_RET_NO_RESOURCE;
		nest = nla_nest_start(skb, BSR_NLA_CFG_REPLY);
		if (!nest || nla_put_string(skb, T_CFG_REPLY_INFO_TEXT, "unknown resource")) {
			genlmsg_cancel(skb, h);
			return -EMSGSIZE;
		}
		nla_nest_end(skb, nest);
		genlmsg_end(skb, h);
		cb->args[1] = 1;
		return skb->len;
	}

#define EMIT(expr) do {						\
		if (n++ < skip)					\
			break;					\
		err = (expr);					\
		if (err)					\
			goto full;				\
	} while (0)

	list_for_each_entry(r, &bsr_resources, list) {
		struct bsr_device *d;
		struct bsr_conn *c;
		struct bsr_path *p;
		struct bsr_peer_device *pd;

		if (filter && strcmp(filter, r->name))
			continue;
		if (kinds & BIT(OBJ_RES))
			EMIT(fill_resource(skb, r, portid, seq, NLM_F_MULTI,
					   res_cmd ? res_cmd : BSR_ADM_GET_RESOURCES, nh_type));
		if (kinds & BIT(OBJ_DEV))
			list_for_each_entry(d, &r->devices, res_list)
				EMIT(fill_device(skb, d, portid, seq, NLM_F_MULTI,
						 res_cmd ? BSR_ADM_DEVICE_STATE : BSR_ADM_GET_DEVICES,
						 nh_type));
		list_for_each_entry(c, &r->connections, res_list) {
			if (kinds & BIT(OBJ_CONN))
				EMIT(fill_connection(skb, c, portid, seq, NLM_F_MULTI,
						     res_cmd ? BSR_ADM_CONNECTION_STATE :
						     BSR_ADM_GET_CONNECTIONS, nh_type,
						     netlink_capable(cb->skb, CAP_SYS_ADMIN)));
			if (kinds & BIT(OBJ_PATH))
				list_for_each_entry(p, &c->paths, list)
					EMIT(fill_path(skb, c, p, portid, seq, NLM_F_MULTI, nh_type));
			if (kinds & BIT(OBJ_PD))
				list_for_each_entry(pd, &c->peer_devices, conn_list)
					EMIT(fill_peer_device(skb, pd, portid, seq, NLM_F_MULTI,
							      res_cmd ? BSR_ADM_PEER_DEVICE_STATE :
							      BSR_ADM_GET_PEER_DEVICES, nh_type));
		}
	}
#undef EMIT
	cb->args[0] = n;
	cb->args[1] = 1;	/* everything emitted */
	return skb->len;
full:
	cb->args[0] = n - 1;
	return skb->len;
}

/* Each dump call walks the objects under the configuration mutex. */
static int dump_objects(struct sk_buff *skb, struct netlink_callback *cb, unsigned int kinds,
			u8 res_cmd, int nh_type)
{
	int len;

	mutex_lock(&bsr_conf_mutex);
	len = dump_objects_locked(skb, cb, kinds, res_cmd, nh_type);
	mutex_unlock(&bsr_conf_mutex);
	return len;
}

static int bsr_dump_resources(struct sk_buff *skb, struct netlink_callback *cb)
{
	if (cb->args[1])
		return 0;
	return dump_objects(skb, cb, BIT(OBJ_RES), 0, -1);
}

static int bsr_dump_devices(struct sk_buff *skb, struct netlink_callback *cb)
{
	if (cb->args[1])
		return 0;
	return dump_objects(skb, cb, BIT(OBJ_DEV), 0, -1);
}

static int bsr_dump_connections(struct sk_buff *skb, struct netlink_callback *cb)
{
	if (cb->args[1])
		return 0;
	return dump_objects(skb, cb, BIT(OBJ_CONN), 0, -1);
}

static int bsr_dump_peer_devices(struct sk_buff *skb, struct netlink_callback *cb)
{
	if (cb->args[1])
		return 0;
	return dump_objects(skb, cb, BIT(OBJ_PD), 0, -1);
}

/* events2's initial dump: every object as EXISTS, then INITIAL_STATE_DONE. */
static int bsr_dump_initial_state(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct bsr_genlmsghdr *h;
	int len;

	if (cb->args[1] == 2)
		return 0;
	if (cb->args[1] == 0) {
		len = dump_objects(skb, cb, BIT(OBJ_RES) | BIT(OBJ_DEV) | BIT(OBJ_CONN) |
				   BIT(OBJ_PATH) | BIT(OBJ_PD), BSR_ADM_RESOURCE_STATE,
				   BSR_NOTIFY_EXISTS);
		if (!cb->args[1] || len < 0)
			return len;
	}
	h = msg_start(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq, NLM_F_MULTI,
		      BSR_ADM_INITIAL_STATE_DONE, -1U);
	if (!h)
		return skb->len;
	if (put_nh(skb, BSR_NOTIFY_EXISTS)) {
		genlmsg_cancel(skb, h);
		return skb->len;
	}
	genlmsg_end(skb, h);
	cb->args[1] = 2;
	return skb->len;
}

/* ---------------------------------------------------------------- family */

#define ADM(c, fn) { .cmd = BSR_ADM_##c, .doit = fn, .flags = GENL_ADMIN_PERM }
#define DUMP(c, fn) { .cmd = BSR_ADM_##c, .dumpit = fn }

static const struct genl_ops bsr_genl_ops[] = {
	ADM(NEW_MINOR, bsr_adm_new_minor),
	ADM(DEL_MINOR, bsr_adm_del_minor),
	ADM(NEW_RESOURCE, bsr_adm_new_resource),
	ADM(DEL_RESOURCE, bsr_adm_del_resource),
	ADM(RESOURCE_OPTS, bsr_adm_resource_opts),
	ADM(CONNECT, bsr_adm_connect),
	ADM(DISCONNECT, bsr_adm_disconnect),
	ADM(ATTACH, bsr_adm_attach),
	ADM(PRIMARY, bsr_adm_set_role),
	ADM(SECONDARY, bsr_adm_set_role),
	ADM(NEW_C_UUID, bsr_adm_new_c_uuid),
	ADM(DETACH, bsr_adm_detach),
	ADM(OUTDATE, bsr_adm_outdate),
	ADM(DOWN, bsr_adm_down),
	ADM(CHG_DISK_OPTS, bsr_adm_disk_opts),
	ADM(CHG_NET_OPTS, bsr_adm_net_opts),
	DUMP(GET_RESOURCES, bsr_dump_resources),
	DUMP(GET_DEVICES, bsr_dump_devices),
	DUMP(GET_CONNECTIONS, bsr_dump_connections),
	DUMP(GET_PEER_DEVICES, bsr_dump_peer_devices),
	DUMP(GET_INITIAL_STATE, bsr_dump_initial_state),
	ADM(NODE_OPTS, bsr_adm_node_opts),
	ADM(FORGET_PEER, bsr_adm_forget_peer),
	ADM(CHG_PEER_DEVICE_OPTS, bsr_adm_peer_device_opts),
	ADM(NEW_PEER, bsr_adm_new_peer),
	ADM(NEW_PATH, bsr_adm_path),
	ADM(DEL_PEER, bsr_adm_del_peer),
	ADM(DEL_PATH, bsr_adm_path),
	ADM(INVALIDATE, bsr_adm_invalidate),
	ADM(INVAL_PEER, bsr_adm_sync_ctl),
	ADM(PAUSE_SYNC, bsr_adm_sync_ctl),
	ADM(RESUME_SYNC, bsr_adm_sync_ctl),
	ADM(START_OV, bsr_adm_verify),
	ADM(STOP_OV, bsr_adm_verify),
	ADM(RESIZE, bsr_adm_resize),
	ADM(SUSPEND_IO, bsr_adm_suspend_io),
	ADM(RESUME_IO, bsr_adm_suspend_io),
	ADM(FAST_SYNC_MAP, bsr_adm_fast_sync_map),
	ADM(APPLY_PERSIST_ROLE, bsr_adm_apply_persist_role),
};

static const struct genl_multicast_group bsr_mcgrps[] = {
	{ .name = BSR_GENL_MCAST_EVENTS },
};

static struct genl_family bsr_genl_family __ro_after_init = {
	.name = BSR_GENL_FAMILY_NAME,
	.version = BSR_GENL_VERSION,
	.hdrsize = sizeof(struct bsr_genlmsghdr),
	.maxattr = BSR_NLA_MAX,
	.policy = bsr_top_policy,
	.module = THIS_MODULE,
	.ops = bsr_genl_ops,
	.n_ops = ARRAY_SIZE(bsr_genl_ops),
	.mcgrps = bsr_mcgrps,
	.n_mcgrps = ARRAY_SIZE(bsr_mcgrps),
	.parallel_ops = true,	/* serialized by bsr_conf_mutex instead of the genl mutex */
};

int bsr_genl_register(void)
{
	int err = genl_register_family(&bsr_genl_family);

	bsr_genl_registered = !err;
	return err;
}

/* After this, no request runs and no event is sent any more. */
void bsr_genl_unregister(void)
{
	genl_unregister_family(&bsr_genl_family);
	bsr_genl_registered = false;
}
