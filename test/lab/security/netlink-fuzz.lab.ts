// Single node: 10,000 random and malformed generic netlink messages (unknown
// commands and attributes, wrong types and lengths, oversized strings, missing attributes, bad
// minors, unknown objects, truncated headers, reserved bits, malformed dump filters) are all
// refused with an error; no oops; afterwards the module still works, `down` then `rmmod bsr`
// succeed and the slab caches are back where they were before the module was loaded. Every option
// bsr-abi.json marks unimplemented is refused (EOPNOTSUPP) at any value but its default. First, every
// number with a range in bsr-abi.json is sent just outside it (max + 1, min - 1), through the
// command that carries its set and through the commands that create objects (new-resource,
// new-peer, connect): each is refused (EINVAL, "NAME: V is out of range (MIN .. MAX)") and nothing
// changes (show and status are the same, no object created); so is a resync-ratio that is not
// REPL:RESYNC (EINVAL, "resync-ratio: 'X' is not REPL:RESYNC ...").
import { abi } from '../../../src/abi/index.js';
import { scenario } from '../../../tools/lab/scenario.js';
import { singleNode } from '../fixtures.js';

const N = 'alpha' as const;
const MESSAGES = 10_000;

/** The fuzzer: python3 in the guest (raw AF_NETLINK socket), prints one JSON line of results. */
const FUZZER = String.raw`import os, random, socket, struct, sys, json

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
SEED = int(sys.argv[2]) if len(sys.argv) > 2 else 1
rnd = random.Random(SEED)
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 1, 4, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLA_F_NESTED = 0x8000

s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)
s.bind((0, 0))
s.setsockopt(270, 11, 1)  # NETLINK_EXT_ACK
s.setsockopt(270, 10, 1)  # NETLINK_CAP_ACK: the ack echoes only the header, then the extack TLVs
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
seq = 0


def attr(t, data, nested=False):
    t |= NLA_F_NESTED if nested else 0
    h = struct.pack('=HH', 4 + len(data), t)
    return h + data + b'\0' * ((4 - len(data) % 4) % 4)


def send(raw):
    s.sendto(raw, (0, 0))


def msg(family, cmd, payload, flags=NLM_F_REQUEST | NLM_F_ACK, version=2, reserved=0, user=None):
    global seq
    seq += 1
    if user is None:
        user = struct.pack('=II', 0, 0)
    body = struct.pack('=BBH', cmd, version, reserved) + user + payload
    return struct.pack('=IHHII', 16 + len(body), family, flags, seq, 0) + body, seq


def wait(sq, timeout=2.0):
    """Returns (error, extack message) of the request's ack, or None when nothing came."""
    s.settimeout(timeout)
    replies = 0
    while True:
        try:
            data = s.recv(1 << 20)
        except socket.timeout:
            return None
        off = 0
        while off + 16 <= len(data):
            ln, typ, fl, sq2, pid = struct.unpack_from('=IHHII', data, off)
            if ln < 16:
                break
            if sq2 == sq:
                if typ == NLMSG_ERROR:
                    err = struct.unpack_from('=i', data, off + 16)[0]
                    text = ''
                    # extack TLVs after the echoed header (capped ack: 16 bytes of it)
                    p = off + 20 + 16
                    while p + 4 <= off + ln:
                        al, at = struct.unpack_from('=HH', data, p)
                        if al < 4:
                            break
                        if at & 0x3fff == 1:
                            text = data[p + 4:p + al].split(b'\0')[0].decode(errors='replace')
                        p += (al + 3) & ~3
                    return (err, text, replies)
                if typ == NLMSG_DONE:
                    return (0, 'done', replies)
                replies += 1
            off += (ln + 3) & ~3


def resolve():
    payload = attr(2, b'bsr\0')
    raw, sq = msg(0x10, 3, payload, version=1, user=b'')
    send(raw)
    s.settimeout(2)
    data = s.recv(65536)
    p = 20
    fam = None
    while p + 4 <= len(data):
        al, at = struct.unpack_from('=HH', data, p)
        if al < 4:
            break
        if at == 1:
            fam = struct.unpack_from('=H', data, p + 4)[0]
        p += (al + 3) & ~3
    wait(sq, 0.5)
    return fam


FAM = resolve()
if FAM is None:
    print(json.dumps({'error': 'family bsr not found'}))
    sys.exit(2)

CMDS = [5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 18, 25, 27, 28, 29, 39, 42, 43, 44, 45, 46, 47]
DUMPS = [30, 31, 32, 33, 38]
MINOR_CMDS = [6, 12, 16, 18, 25, 28]
TOP = list(range(1, 34))
# (id, max inner id) of the top attributes
SETS = {1: 1, 2: 5, 3: 15, 4: 8, 5: 34, 6: 2, 7: 3, 9: 2, 10: 1, 11: 1, 12: 1, 13: 2, 15: 4,
        16: 2, 17: 2, 18: 5, 19: 1, 20: 14, 21: 3, 22: 12, 23: 1, 24: 2, 25: 1, 26: 1, 27: 9,
        28: 2, 29: 1, 30: 3, 31: 3, 32: 2, 33: 4}


def rbytes(n):
    return bytes(rnd.getrandbits(8) for _ in range(n))


def bad_inner(top, kinds=6):
    """A nested attribute set with at least one defect (kinds < 4: defects for every set)."""
    mx = SETS.get(top, 4)
    kind = [0, 2, 3, 4, 1, 5][rnd.randrange(kinds)]
    good = b''
    if kind == 0:   # unknown inner id
        return attr(top, attr(mx + 1 + rnd.randrange(100), rbytes(rnd.randrange(9))), True)
    if kind == 1:   # wrong length for an integer (u8/u32/u64 ids get odd sizes)
        return attr(top, good + attr(rnd.randint(1, mx), rbytes(rnd.choice([0, 1, 2, 3, 5, 7, 9, 16]))), True)
    if kind == 2:   # oversized string / binary
        return attr(top, attr(rnd.randint(1, mx), b'A' * rnd.choice([129, 300, 1000, 5000]) + b'\0'), True)
    if kind == 3:   # not nested at all: raw bytes where a set is expected
        return attr(top, rbytes(rnd.randrange(1, 12)))
    if kind == 4:   # truncated inner attribute header (length beyond the payload)
        return attr(top, struct.pack('=HH', 200, 1) + rbytes(4), True)
    # boolean out of range / enum out of range
    return attr(top, attr(rnd.randint(1, mx), struct.pack('=I', 0xffffff00 + rnd.randrange(255))), True)


def case(i):
    k = i % 10
    if k == 0:   # unknown command
        c = rnd.choice([0, 1, 2, 3, 4, 26, 34, 35, 36, 37, 40, 41, 48, 49, 51, 52, 53, 55, 56, 59, 60, 99, 200, 255])
        return 'unknown-cmd', msg(FAM, c, b'')
    if k == 1:   # unknown top attribute
        return 'unknown-attr', msg(FAM, rnd.choice(CMDS + DUMPS), attr(rnd.choice([0, 8, 14, 34, 35, 100, 0x3fff]), rbytes(4)))
    if k == 2:   # malformed nested set
        return 'bad-nested', msg(FAM, rnd.choice(CMDS), bad_inner(rnd.choice(TOP)))
    if k == 3:   # missing required attributes
        return 'missing', msg(FAM, rnd.choice([7, 8, 9, 10, 11, 12, 14, 15, 27, 44, 45, 46, 47, 43, 42]), b'')
    if k == 4:   # bad minor
        minor = rnd.choice([rnd.randrange(1, 1 << 20), 0xffffffff, 1 << 20, 12345678])
        return 'bad-minor', msg(FAM, rnd.choice(MINOR_CMDS), b'', user=struct.pack('=II', minor, 0))
    if k == 5:   # garbage after a valid header, as attributes
        return 'garbage-attrs', msg(FAM, rnd.choice(CMDS), rbytes(rnd.randrange(1, 64)) + struct.pack('=HH', 0xfff0, 2))
    if k == 6:   # truncated family header
        raw, sq = msg(FAM, rnd.choice(CMDS), b'', user=rbytes(rnd.randrange(0, 8)))
        return 'short-header', (raw, sq)
    if k == 7:   # unknown resource / peer in a context
        ctx = attr(2, attr(2, b'nores%d\0' % rnd.randrange(1000)) + attr(5, struct.pack('=I', rnd.randrange(64))), True)
        return 'no-such-object', msg(FAM, rnd.choice([8, 9, 10, 11, 14, 15, 27, 29, 43, 45, 46, 47]), ctx)
    if k == 8:   # dump with a malformed filter
        return 'bad-dump', msg(FAM, rnd.choice(DUMPS), bad_inner(2, 4), flags=NLM_F_REQUEST | NLM_F_DUMP)
    # framing: nlmsg_len inconsistent with the datagram, or reserved header bits
    raw, sq = msg(FAM, rnd.choice(CMDS), bad_inner(rnd.choice(TOP)), reserved=rnd.randrange(1, 65535))
    return 'reserved-bits', (raw, sq)


stats = {}
accepted = []
noreply = 0
for i in range(N):
    name, (raw, sq) = case(i)
    send(raw)
    r = wait(sq, 1.0)
    st = stats.setdefault(name, {'refused': 0, 'accepted': 0, 'noreply': 0})
    if r is None:
        st['noreply'] += 1
        noreply += 1
    elif r[0] < 0:
        st['refused'] += 1
    else:
        st['accepted'] += 1
        if len(accepted) < 10:
            accepted.append({'case': name, 'hex': raw.hex()})
# framing garbage that the kernel drops silently (no ack is possible): count separately
garbage = 0
for i in range(200):
    try:
        send(rbytes(rnd.randrange(0, 15)))
    except OSError:
        pass
    garbage += 1
# Options the engine does not implement yet: a value other than the default must be refused
# (EOPNOTSUPP, naming it), the default taken. argv[3]: JSON list of probes built from the ABI.
PACK = {'u8': '=B', 'u32': '=I', 's32': '=i', 'u64': '=Q'}


def probe_msg(p, value):
    data = value.encode() + b'\0' if p['type'] == 'string' else struct.pack(PACK[p['type']], value)
    ctx = attr(2, p.get('res', 'r0').encode() + b'\0')
    if p.get('peer'):
        ctx += attr(5, struct.pack('=I', p['peer']))
    if p.get('volume') is not None:
        ctx += attr(1, struct.pack('=I', p['volume']))
    payload = attr(2, ctx, True) + attr(p['top'], attr(p['attr'], data), True)
    return msg(FAM, p['cmd'], payload, user=struct.pack('=II', p.get('minor', 0), 0))


unimplemented = []
for p in json.loads(sys.argv[3]) if len(sys.argv) > 3 else []:
    raw, sq = probe_msg(p, p['other'])
    send(raw)
    r = wait(sq, 2.0)
    raw, sq = probe_msg(p, p['default'])
    send(raw)
    d = wait(sq, 2.0)
    unimplemented.append({'name': p['name'], 'other': r and [r[0], r[1]], 'default': d and d[0]})
# Numbers outside their range: argv[4], JSON list of probes, each with the value to send.
ranges = []
for p in json.loads(sys.argv[4]) if len(sys.argv) > 4 else []:
    raw, sq = probe_msg(p, p['value'])
    send(raw)
    r = wait(sq, 2.0)
    ranges.append({'name': p['name'], 'cmd': p['cmd'], 'value': p['value'], 'reply': r and [r[0], r[1]]})
print(json.dumps({'family': FAM, 'sent': N, 'stats': stats, 'accepted': accepted, 'noreply': noreply,
                  'garbage_datagrams': garbage, 'unimplemented': unimplemented, 'ranges': ranges}))
`;

interface Carrier {
  cmd: string;
  res?: string;
  minor?: number;
  peer?: number;
  volume?: number;
}

/** The command that carries each set, with the context it needs (r0, peer 1, volume 0, minor 1). */
const CARRIER: Record<string, Carrier> = {
  DISK_CONF: { cmd: 'CHG_DISK_OPTS', minor: 1 },
  RESOURCE_OPTS: { cmd: 'RESOURCE_OPTS' },
  NET_CONF: { cmd: 'CHG_NET_OPTS', peer: 1 },
  SET_ROLE_PARMS: { cmd: 'PRIMARY' },
  RESIZE_PARMS: { cmd: 'RESIZE', minor: 1 },
  CONNECT_PARMS: { cmd: 'CONNECT', peer: 1 },
  PEER_DEVICE_OPTS: { cmd: 'CHG_PEER_DEVICE_OPTS', peer: 1, volume: 0 },
  NODE_OPTS: { cmd: 'NODE_OPTS' },
  DEVICE_CONF: { cmd: 'NEW_MINOR', minor: 2, volume: 1 },
};

/** Commands that would create an object (resource r9, peer 2) or connect, had they taken the value. */
const CREATING: Record<string, Carrier[]> = {
  RESOURCE_OPTS: [{ cmd: 'NEW_RESOURCE', res: 'r9' }],
  NET_CONF: [
    { cmd: 'NEW_PEER', peer: 2 },
    { cmd: 'CONNECT', peer: 1 },
  ],
  DISK_CONF: [{ cmd: 'ATTACH', minor: 1 }],
};

const TYPE_LIMITS: Record<string, [number, number]> = {
  u32: [0, 0xffffffff],
  s32: [-0x80000000, 0x7fffffff],
  u64: [0, Number.MAX_SAFE_INTEGER + 1],
};

/**
 * One probe per number with a range, per carrier, per side: max + 1 and min - 1 where the type has
 * them (none for a range that is the whole type's, like sndbuf-size's).
 */
function rangeProbes() {
  const probes = [];
  for (const [top, { id, set }] of Object.entries(abi.topAttributes)) {
    for (const [name, f] of Object.entries(abi.sets[set] ?? {})) {
      if (f.min === undefined || f.max === undefined) continue;
      const limits = TYPE_LIMITS[f.type];
      const carriers = [CARRIER[top], ...(CREATING[top] ?? [])];
      if (!limits || !carriers[0]) throw new Error(`no carrier command for ${top} (option ${name})`);
      const values = [f.max + 1, f.min - 1].filter((v) => v >= limits[0] && v <= limits[1]);
      for (const c of carriers as Carrier[]) {
        for (const value of values) {
          probes.push({
            ...c,
            cmd: abi.commands[c.cmd],
            top: id,
            attr: f.id,
            type: f.type,
            name,
            value,
            text: `${name}: ${value} is out of range (${f.min} .. ${f.max})`,
          });
        }
      }
    }
  }
  return probes;
}

/** Strings of a format the kernel checks: resync-ratio REPL:RESYNC, refused with its name and format. */
function formatProbes() {
  const top = abi.topAttributes.PEER_DEVICE_OPTS;
  const f = abi.sets[top.set]['resync-ratio'];
  const c = CARRIER.PEER_DEVICE_OPTS;
  return ['3:0', '1:2:3', '10001:1', ' 3:1'].map((value) => ({
    ...c,
    cmd: abi.commands[c.cmd],
    top: top.id,
    attr: f.id,
    type: f.type,
    name: 'resync-ratio',
    value,
    text: `resync-ratio: '${value}' is not REPL:RESYNC (two whole numbers 1 .. 10000, e.g. 3:1)`,
  }));
}

/**
 * One probe per option bsr-abi.json marks unimplemented, and per unimplemented value of an enum
 * option: the command that carries its set (with the context that command needs), its default
 * and the other value.
 */
function unimplementedProbes() {
  const probes = [];
  for (const [top, { id, set }] of Object.entries(abi.topAttributes)) {
    for (const [name, f] of Object.entries(abi.sets[set] ?? {})) {
      const values = f.unimplementedValues ?? [];
      if (!f.unimplemented && values.length === 0) continue;
      const c = CARRIER[top];
      if (!c) throw new Error(`no carrier command for ${top} (option ${name})`);
      const dflt = f.default;
      if (dflt === undefined) throw new Error(`${name}: an unimplemented option needs its default`);
      const probe = { ...c, cmd: abi.commands[c.cmd], top: id, attr: f.id, type: f.type, default: dflt };
      if (f.unimplemented) {
        const other = typeof dflt === 'string' ? 'x' : f.type === 'u8' ? 1 - dflt : dflt + 1;
        probes.push({ ...probe, name, other });
      }
      for (const v of values) probes.push({ ...probe, name: `${name} ${v}`, other: abi.enums[name].indexOf(v) });
    }
  }
  return probes;
}

interface RangeReply {
  name: string;
  value: number | string;
  reply: [number, string] | null;
}

/** Active objects x object size of every slab cache, from /proc/slabinfo. */
function slabBytes(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || line.startsWith('#') || line.startsWith('slabinfo')) continue;
    m.set(f[0] ?? '', Number(f[1]) * Number(f[3]));
  }
  return m;
}

export default scenario({
  title: '10,000 malformed netlink messages refused, no oops, no leak after rmmod',
  nodes: 2,
  timeoutSec: 1800,
  async run(lab) {
    const { S, sh, createMd, upScript } = singleNode(lab, N);
    const slab = async () => slabBytes(await sh('sync; echo 3 > /proc/sys/vm/drop_caches; cat /proc/slabinfo'));

    // baseline without the module
    await sh('if grep -q "^version" /proc/bsr 2>/dev/null; then rmmod bsr; fi');
    const base = await slab();
    await sh('insmod native/kmod/bsr.ko');

    // some objects exist while fuzzing, so lookups of bad minors/peers have neighbours
    await sh(`${createMd}\n${upScript()}`);

    // Out of range: refused with the option's name and range, and nothing changes.
    const objects = () => sh(`${S} show; ${S} status --verbose`);
    const objectsBefore = await objects();
    const ranged = [...rangeProbes(), ...formatProbes()];
    const rr = await lab.exec(N, ['python3', '-', '0', '7', '[]', JSON.stringify(ranged)], {
      input: FUZZER,
      timeoutMs: 600_000,
    });
    if (rr.code !== 0) throw new Error(`range probes failed (${rr.code}): ${rr.stderr}`);
    const replies = (JSON.parse(rr.stdout.trim().split('\n').at(-1) ?? '{}') as { ranges: RangeReply[] }).ranges;
    const notRefused = ranged.filter((p, i) => {
      const reply = replies[i]?.reply;
      return reply?.[0] !== -22 || reply[1] !== p.text;
    });
    lab.log(
      `${ranged.length} out-of-range numbers and malformed resync-ratio texts: ` +
        `${ranged.length - notRefused.length} refused (EINVAL, named)`,
    );
    if (replies.length !== ranged.length || notRefused.length) {
      const shown = notRefused.slice(0, 8).map((p) => {
        const r = replies[ranged.indexOf(p)];
        return `${p.name}=${p.value} (cmd ${p.cmd}): ${JSON.stringify(r?.reply)}`;
      });
      throw new Error(`out-of-range values not refused as they should be:\n${shown.join('\n')}`);
    }
    const objectsAfter = await objects();
    if (objectsAfter !== objectsBefore)
      throw new Error(`refused requests changed the state:\n${objectsBefore}\n---\n${objectsAfter}`);

    const t0 = Date.now();
    const probes = unimplementedProbes();
    const r = await lab.exec(N, ['python3', '-', String(MESSAGES), '7', JSON.stringify(probes)], {
      input: FUZZER,
      timeoutMs: 1_500_000,
    });
    if (r.code !== 0) throw new Error(`fuzzer failed (${r.code}): ${r.stderr}`);
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as {
      sent: number;
      stats: Record<string, { refused: number; accepted: number; noreply: number }>;
      accepted: unknown[];
      unimplemented: { name: string; other: [number, string] | null; default: number | null }[];
    };
    let refused = 0;
    for (const [k, v] of Object.entries(res.stats)) {
      lab.log(`  ${k.padEnd(16)} refused ${v.refused} accepted ${v.accepted} no reply ${v.noreply}`);
      refused += v.refused;
    }
    lab.log(`${res.sent} messages in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${refused} refused`);
    if (refused !== MESSAGES) throw new Error(`not every message was refused: ${JSON.stringify(res.accepted)}`);
    // No option is stored and ignored: each unimplemented one is refused unless at its default.
    const wrong = res.unimplemented.filter(
      (u) => u.other?.[0] !== -95 || !/not implemented/.test(u.other[1]) || u.default === null || u.default === -95,
    );
    lab.log(
      `${res.unimplemented.length} unimplemented options and values: ${res.unimplemented.length - wrong.length} refused with EOPNOTSUPP at another value, not at their default`,
    );
    if (probes.length === 0 || res.unimplemented.length !== probes.length || wrong.length)
      throw new Error(`unimplemented options not refused as they should be: ${JSON.stringify(wrong.slice(0, 8))}`);

    // the NEW_MINOR probe at its default created minor 2: not part of what follows
    await sh(`${S} del-minor 2`);
    // still healthy: the objects are as they were and a full cycle works
    const st = await sh(`${S} status r0`);
    if (!/disk:Inconsistent/.test(st)) throw new Error(`state changed by the fuzzer:\n${st}`);
    await sh(`${S} primary r0 --force
dd if=/dev/urandom of=/dev/bsr1 bs=1M count=4 oflag=direct status=none
${S} down r0
test -z "$(${S} status)"
test "$(cat /sys/module/bsr/refcnt)" = 0
rmmod bsr`);

    const after = await slab();
    let grown = 0;
    const lines: string[] = [];
    for (const [name, bytes] of after) {
      const d = bytes - (base.get(name) ?? 0);
      if (d > 0) grown += d;
      if (d > 64 * 1024) lines.push(`${name} +${Math.round(d / 1024)} KiB`);
    }
    lab.log(
      `slab growth after rmmod: ${Math.round(grown / 1024)} KiB in total${lines.length ? `; ${lines.join(', ')}` : ''}`,
    );
    // 10,000 requests leaking one small object each would be > 300 KiB in one cache
    if (lines.some((l) => /^(kmalloc|bio|skbuff|biovec)/.test(l)))
      throw new Error(`slab caches grew: ${lines.join(', ')}`);
  },
});
