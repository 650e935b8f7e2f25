// Single node, configuration changes on a running device:
// - al-extents changed by disk-options on a Primary under a write load takes effect at once
//   (show reports it; the number of AL transactions of re-written extents follows the new size);
// - UUID changes (promotion, new-current-uuid) reach events2 followers as `change device`
//   with the current-uuid that get-gi prints;
// - suspend-io holds writes (suspended:user in status and events2), resume-io lets them finish;
// - a Secondary's device refuses reads; detach --force does not wait for a hanging lower device:
//   pending writes fail with EIO;
// - refusals come back as a negative errno in the netlink ack, the bsr code in ret_code;
// - resize grows a device online after its dm-linear lower device grew (internal meta data moves);
//   --size grows it to that size only, --assume-clean leaves the grown area in sync;
// - /dev/bsr-control answers the API version ioctl (and is gone after rmmod);
// - with a connected peer resize is refused cleanly, al-extents changes and replication goes on;
// - cpu-mask moves the resource's threads at once and after a reconnect; a mask with no online
//   CPU or not a mask is refused;
// - a volume added on alpha first: volume 0 replicates on, the new volume's peer device stays Off
//   (its writes out of sync) until bravo adds it too, then it connects and resyncs.
import { scenario } from '../../../tools/lab/scenario.js';
import { FAST_NET, FAST_PD, ID, singleNode, twoNodes } from '../fixtures.js';

const N = 'alpha' as const;
const EXTENTS = 100; // more than the 67 slots of the small activity log

/** Sends refused requests on a raw generic netlink socket; prints [cmd, ret_code, ack error] lines. */
const ACK_CHECK = String.raw`import socket, struct, json
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)
s.bind((0, 0))
seq = 0
def attr(t, data, nested=False):
    t |= 0x8000 if nested else 0
    return struct.pack('=HH', 4 + len(data), t) + data + b'\0' * ((4 - len(data) % 4) % 4)
def request(fam, cmd, payload, user, version=2):
    global seq
    seq += 1
    body = struct.pack('=BBH', cmd, version, 0) + user + payload
    s.send(struct.pack('=IHHII', 16 + len(body), fam, 5, seq, 0) + body)
    ret, err = None, None
    while err is None:
        data = s.recv(65536)
        off = 0
        while off + 16 <= len(data):
            ln, typ = struct.unpack_from('=IH', data, off)
            if typ == 2:
                err = struct.unpack_from('=i', data, off + 16)[0]
            elif typ == fam:
                ret = struct.unpack_from('=i', data, off + 24)[0]
            off += (ln + 3) & ~3
    return ret, err
s.send(struct.pack('=IHHII', 20 + 8, 0x10, 1, 1, 0) + struct.pack('=BBH', 3, 1, 0) + attr(2, b'bsr\0'))
data = s.recv(65536)
p, fam = 20, None
while p + 4 <= len(data):
    al, at = struct.unpack_from('=HH', data, p)
    if at == 1:
        fam = struct.unpack_from('=H', data, p + 4)[0]
    p += (al + 3) & ~3
res = attr(2, attr(2, b'r0\0'), True)
print(json.dumps([
    ['detach minor 99'] + list(request(fam, 18, b'', struct.pack('=II', 99, 0))),
    ['suspend-io minor 99'] + list(request(fam, 23, b'', struct.pack('=II', 99, 0))),
    ['new-resource r0 again'] + list(request(fam, 7, res + attr(4, struct.pack('=HHI', 8, 8, 0), True), struct.pack('=II', 0, 0))),
    ['detach of the Primary'] + list(request(fam, 18, b'', struct.pack('=II', 1, 0))),
]))
`;

export default scenario({
  title: 'online al-extents, UUID events, suspend-io, detach --force, errno acks',
  nodes: 2,
  timeoutSec: 600,
  async run(lab) {
    const { S, M, sh, createMd, upScript, steps, statsObject } = singleNode(lab, N);
    const start = Date.now();
    const log = (m: string) => lab.log(`[${((Date.now() - start) / 1000).toFixed(0)} s] ${m}`);
    const stats = async (res: string, kind: string) => {
      const { ev, o } = await statsObject(res, kind);
      if (!o) throw new Error(`no ${kind} in events2 of ${res}:\n${ev}`);
      return o;
    };
    const alWrites = async () => Number((await stats('r0', 'device'))['al-writes']);
    // one 4 KiB write into each of the first n 4 MiB extents
    // downwards: a rising sequence is a stream, which activates the extents ahead in one transaction
    const touchExtents = (n: number) =>
      sh(
        `python3 -c "import mmap, os; fd = os.open('/dev/bsr1', os.O_WRONLY | os.O_DIRECT); b = mmap.mmap(-1, 4096); [os.pwrite(fd, b, i << 22) for i in reversed(range(${n}))]"`,
      );

    await sh(`${createMd} >/dev/null
${upScript()}
${S} new-current-uuid 1 --clear-bitmap
${S} events2 --statistics r0 > /tmp/ev.txt 2>&1 &
echo $! > /tmp/ev.pid; sleep 1`);

    // --- UUID events: promotion of data without the primary bit, then new-current-uuid
    const gi = async () => (await sh(`${S} get-gi r0 1 0`)).trim().split(':')[0];
    const evUuids = async () =>
      [...(await sh('cat /tmp/ev.txt')).matchAll(/change device .*current-uuid:([0-9A-F]{16})/g)].map((m) => m[1]);
    const gi0 = await gi();
    await sh(`${S} primary r0`);
    const gi1 = await gi();
    await sh(`${S} new-current-uuid 1`);
    const gi2 = await gi();
    await sh('sleep 1');
    const seen = await evUuids();
    log(
      `UUIDs: after clear-bitmap ${gi0}, after primary ${gi1}, after new-current-uuid ${gi2}; events2 change device current-uuid: ${seen.join(' ')}`,
    );
    if (gi1 === gi0 || gi2 === gi1) throw new Error('primary / new-current-uuid did not change the current UUID');
    for (const u of [gi1, gi2]) {
      if (!seen.includes(u))
        throw new Error(`events2 never reported current-uuid ${u}:\n${await sh('cat /tmp/ev.txt')}`);
    }

    // --- al-extents 6001 -> 67 under a write load
    await sh(
      `(i=0; while [ ! -e /tmp/stop ]; do dd if=/dev/urandom of=/dev/bsr1 bs=4k count=1 seek=$(( (i * 1031) % 40000 )) oflag=direct status=none; i=$((i + 1)); done; echo done > /tmp/load.done) >/dev/null 2>&1 &
sleep 2`,
    );
    const t0 = Date.now();
    await sh(`${S} disk-options 1 --al-extents=67`);
    const resizeMs = Date.now() - t0;
    const t00 = Date.now();
    await sh(`${S} disk-options 1 --al-extents=67`);
    const sameMs = Date.now() - t00;
    await sh('sleep 2; touch /tmp/stop; while [ ! -e /tmp/load.done ]; do sleep 0.2; done');
    const show = await sh(`${S} show r0`);
    if (!/al-extents\s+67;/.test(show)) throw new Error(`show does not report al-extents 67:\n${show}`);
    // 100 extents through 67 slots: every extent left the AL before it is written again
    await touchExtents(EXTENTS);
    const a1 = await alWrites();
    await touchExtents(EXTENTS);
    const small = (await alWrites()) - a1;
    await sh(`${S} disk-options 1 --al-extents=6001`);
    await touchExtents(EXTENTS);
    const a2 = await alWrites();
    await touchExtents(EXTENTS);
    const large = (await alWrites()) - a2;
    log(
      `al-extents 6001->67 under load took ${resizeMs} ms (the same command without a change ${sameMs} ms); AL transactions for re-writing ${EXTENTS} extents: ${small} with 67 slots, ${large} with 6001`,
    );
    if (small < EXTENTS - 5 || large > 2) throw new Error('the activity log size did not follow al-extents');
    const dm = await lab.dmesg(N);
    if (!/activity log resized to 67 extents/.test(dm)) throw new Error('no resize message in the kernel log');

    // --- suspend-io / resume-io
    await sh(`${S} suspend-io 1`);
    const st = await sh(`${S} status r0`);
    if (!/suspended:user/.test(st)) throw new Error(`status does not show suspended:user:\n${st}`);
    await sh(`(printf 'first-%4090s' x | dd of=/dev/bsr1 bs=4k seek=100 oflag=direct status=none && echo 0 > /tmp/w1 || echo 1 > /tmp/w1) &
(printf 'second%4090s' x | dd of=/dev/bsr1 bs=4k seek=101 oflag=direct status=none && echo 0 > /tmp/w2 || echo 1 > /tmp/w2) &
sleep 2`);
    const held = await stats('r0', 'device');
    const heldDone = await sh('ls /tmp/w1 /tmp/w2 2>/dev/null | wc -l');
    if (Number(heldDone) !== 0 || Number(held['upper-pending']) < 2)
      throw new Error(
        `writes were not held while suspended (finished: ${heldDone.trim()}, upper-pending ${held['upper-pending']})`,
      );
    await sh(`${S} resume-io 1; sleep 1`);
    const after = await sh(
      'cat /tmp/w1 /tmp/w2; dd if=/dev/bsr1 bs=4k skip=100 count=2 iflag=direct status=none | tr -d " " | head -c 20',
    );
    log(
      `suspend-io: 2 writes held (upper-pending ${held['upper-pending']}); after resume-io: ${after.replace(/\n/g, ' ')}`,
    );
    if (!/^0\n0\nfirst-xsecondx/.test(after))
      throw new Error(`held writes did not complete after resume-io:\n${after}`);
    const ev = await sh('cat /tmp/ev.txt');
    if (!/change resource name:r0 .*suspended:user/.test(ev) || !/change resource name:r0 .*suspended:no/.test(ev))
      throw new Error(`events2 did not report suspended:user / suspended:no:\n${ev}`);

    // --- netlink refusals: negative errno in the ack, the bsr code in the reply
    await sh(`cat > /tmp/ackcheck.py <<'EOF'\n${ACK_CHECK}EOF`);
    const acks = JSON.parse(await sh('python3 /tmp/ackcheck.py')) as [string, number, number][];
    log(`refusals (ret_code, ack error): ${acks.map((a) => `${a[0]}: ${a[1]}, ${a[2]}`).join('; ')}`);
    for (const [what, ret, err] of acks) {
      if (!(err < 0) || !(ret > 101 && ret < 200)) throw new Error(`${what}: ret_code ${ret}, ack error ${err}`);
    }
    await sh(`kill $(cat /tmp/ev.pid); ${S} down r0`);

    // --- detach on a hanging lower device (a suspended dm device)
    // bsrmeta finds sizes in /sys/class/block: give it the dm-N node, not /dev/mapper/NAME
    await lab.disk.linear(N, 'slow', '/dev/vdb');
    const dmNode = async (name: string) =>
      `/dev/${(await sh(`dmsetup info -c -o blkdevname --noheadings ${name}`)).trim()}`;
    const slow = await dmNode('slow');
    await sh(
      `${steps([
        `bsrmeta --force 2 v09 ${slow} internal create-md --max-peers=1`,
        'bsrsetup new-resource r1 0',
        'bsrsetup new-minor r1 2 0',
        `bsrsetup attach 2 ${slow} ${slow} internal`,
        'bsrsetup new-current-uuid 2 --clear-bitmap',
      ])}`,
    );
    // a Secondary's device cannot be opened (reads included), so a plain detach has no user I/O
    // to wait for
    const rd = await lab.exec(N, ['sh', '-c', 'dd if=/dev/bsr2 of=/dev/null bs=4k count=1 iflag=direct status=none']);
    await sh(`${S} detach 2`);
    const plain = await sh(`${S} dstate 2`);
    log(`Secondary: read open exit ${rd.code} (${rd.stderr.trim()}); plain detach: ${plain.trim()}`);
    if (rd.code === 0 || !/Wrong medium type/.test(rd.stderr) || !/^Diskless/.test(plain))
      throw new Error('the Secondary was readable, or the plain detach failed');

    // detach --force of a Primary: returns while a write hangs; the write fails with EIO
    await sh(`${S} attach 2 ${slow} ${slow} internal
${S} primary r1
dd if=/dev/zero of=/dev/bsr2 bs=4k count=1 oflag=direct status=none
dmsetup suspend slow
(dd if=/dev/zero of=/dev/bsr2 bs=4k count=1 seek=3000 oflag=direct status=none 2>/tmp/w3.err && echo 0 > /tmp/w3 || echo 1 > /tmp/w3) &
sleep 2`);
    const t1 = Date.now();
    await sh(`${S} detach 2 --force`);
    const forceMs = Date.now() - t1;
    const during = await sh(
      `${S} dstate 2; if dd if=/dev/zero of=/dev/bsr2 bs=4k count=1 oflag=direct status=none 2>&1; then echo "new write: ok"; else echo "new write: failed"; fi; ls /tmp/w3 2>/dev/null | wc -l`,
    );
    await sh('dmsetup resume slow; sleep 2');
    const w3 = await sh('cat /tmp/w3 /tmp/w3.err');
    log(
      `detach --force took ${forceMs} ms with a hanging write; meanwhile: ${during.replace(/\n/g, ' ')}; the hanging write after resume: ${w3.replace(/\n/g, ' ')}`,
    );
    if (forceMs > 60000 || !/^Failed/.test(during) || !/new write: failed/.test(during) || !/\n0\s*$/.test(during))
      throw new Error('detach --force waited for the lower device or let I/O through');
    if (!/^1\n.*Input\/output error/s.test(w3)) throw new Error('the pending write did not fail with EIO');
    await sh(`${S} secondary r1\n${S} down r1\ndmsetup remove slow`);

    // --- online grow: the lower dm-linear device is reloaded bigger, the internal meta data moves
    await sh('dmsetup create grow --table "0 262144 linear /dev/vda 0" && dmsetup mknodes');
    const grow = await dmNode('grow');
    const oos = async () => Number((await stats('r2', 'peer-device'))['out-of-sync']);
    const upGrow = () => [
      'bsrsetup new-resource r2 0',
      'bsrsetup new-minor r2 3 0',
      'bsrsetup new-peer r2 1 --_name=bravo',
      `bsrsetup attach 3 ${grow} ${grow} internal`,
    ];
    await sh(`${steps([
      `bsrmeta --force 3 v09 ${grow} internal create-md --max-peers=2`,
      ...upGrow(),
      'bsrsetup new-current-uuid 3 --clear-bitmap',
      'bsrsetup primary r2',
    ])}
printf 'resize-marker%4083s' x | dd of=/dev/bsr3 bs=4k seek=100 oflag=direct status=none`);
    const size1 = Number(await sh('cat /sys/block/bsr3/size'));
    const oos1 = await oos();
    await lab.disk.reload(N, 'grow', '0 393216 linear /dev/vda 0');
    await sh(`${S} resize 3`);
    const size2 = Number(await sh('cat /sys/block/bsr3/size'));
    const oos2 = await oos();
    await sh(`dd if=/dev/urandom of=/dev/bsr3 bs=4k count=1 seek=$((${size2} / 8 - 1)) oflag=direct status=none
${steps(['bsrsetup secondary r2', 'bsrsetup down r2'])}`);
    const md = await sh(`${M} 3 v09 ${grow} internal dump-md; ${M} 3 v09 ${grow} internal check-resize`);
    await sh(steps(upGrow()));
    const size3 = Number(await sh('cat /sys/block/bsr3/size'));
    // read below bsr: a Secondary's device cannot be opened
    const marker = await sh(`dd if=${grow} bs=4k skip=100 count=1 iflag=direct status=none | head -c 13`);
    const oos3 = await oos();
    log(
      `resize: ${size1} -> ${size2} sectors (after down/up ${size3}); out-of-sync ${oos1} -> ${oos2} KiB (after down/up ${oos3}); marker "${marker}"; la-size-sect ${/la-size-sect (\d+)/.exec(md)?.[1]}; check-resize: ${md.trim().split('\n').at(-1)}`,
    );
    if (size2 - size1 < 120000 || size3 !== size2) throw new Error('the device did not grow (or lost the size)');
    // the grown area is out of sync for the peer (KiB = sectors / 2), plus the written last block
    if (oos2 !== oos1 + (size2 - size1) / 2 || oos3 < oos2) throw new Error('the grown area is not out of sync');
    if (marker !== 'resize-marker') throw new Error('data written before the resize is gone');
    if (!new RegExp(`la-size-sect ${size2};`).test(md) || !/no resize needed/.test(md))
      throw new Error(`the meta data did not move to the new end:\n${md}`);
    // --size grows only to that size, --assume-clean leaves the grown area in sync for the peer
    await lab.disk.reload(N, 'grow', '0 524288 linear /dev/vda 0');
    const want = size3 + 65536;
    await sh(`${S} resize 3 --size=${want} --assume-clean`);
    const size4 = Number(await sh('cat /sys/block/bsr3/size'));
    const oos4 = await oos();
    log(`resize --size=${want} --assume-clean: ${size3} -> ${size4} sectors, out-of-sync ${oos3} -> ${oos4} KiB`);
    if (size4 !== want) throw new Error(`resize --size: ${size4} sectors, asked for ${want}`);
    if (oos4 !== oos3) throw new Error('resize --assume-clean marked the grown area out of sync');
    // attach's --size: the device keeps that size, not the larger data area of the grown disk
    await sh(
      steps([
        'bsrsetup down r2',
        ...upGrow().slice(0, -1),
        `bsrsetup attach 3 ${grow} ${grow} internal --size=${want}`,
      ]),
    );
    const size5 = Number(await sh('cat /sys/block/bsr3/size'));
    log(`attach --size=${want} on a 524288-sector disk: ${size5} sectors`);
    if (size5 !== want) throw new Error(`attach --size: ${size5} sectors, asked for ${want}`);
    await sh(`${S} down r2\ndmsetup remove grow`);

    // --- /dev/bsr-control: the API version by ioctl (magic 147); gone with the module
    const api = await sh(
      `python3 -c "import fcntl, os, struct; fd = os.open('/dev/bsr-control', os.O_RDONLY); b = bytearray(4); fcntl.ioctl(fd, (2 << 30) | (4 << 16) | (147 << 8) | 0, b); print(struct.unpack('I', b)[0])"`,
    );
    log(`/dev/bsr-control GET_API_VERSION: ${api.trim()}`);
    if (api.trim() !== '2') throw new Error('wrong API version from /dev/bsr-control');

    // --- with a connected peer: resize is refused cleanly (the size is not negotiated yet);
    // al-extents still changes at once and replication goes on
    const t = twoNodes(lab);
    // connect-int 2: each attach of a volume below reconnects
    await t.upSkipSync({ net: FAST_NET });
    await t.sh(N, `${S} primary r0`);
    await t.write(N, 0, 8);
    const refused = await lab.exec(N, ['sh', '-c', `${S} resize 1`]);
    const why = (refused.stdout + refused.stderr).trim();
    if (refused.code === 0 || !/BUSY.*connected peer/.test(why)) throw new Error(`resize while connected: ${why}`);
    await t.sh(N, `${S} disk-options 1 --al-extents=67`);
    const sum = await t.write(N, 16, 8);
    const peerSum = await t.sum('bravo', '/dev/vda', 16, 8);
    log(
      `connected: resize refused (${why}); al-extents 67 while connected, 8 MiB replicated ${sum === peerSum ? 'identical' : 'DIFFERENT'}`,
    );
    if (sum !== peerSum) throw new Error('replication broke after the activity log resize');

    // --- cpu-mask: the resource's threads (receiver, meta, resync) run on the CPUs it names,
    // at once and after a reconnect (the guest has CPU 0 online, 0-1 possible)
    const affinity = () =>
      t.sh(
        N,
        `for p in $(pgrep '^bsr_[rms]_r0_'); do echo "$(cat /proc/$p/comm):$(grep Cpus_allowed_list /proc/$p/status | cut -f2)"; done | sort | tr '\n' ' '`,
      );
    const allCpus = await affinity();
    await t.sh(N, `${S} resource-options r0 --cpu-mask=1`);
    const masked = await affinity();
    await t.sh(N, `${S} disconnect r0 ${ID.bravo} && ${S} connect r0 ${ID.bravo}`);
    await t.waitConnected();
    const reconnected = await affinity();
    const refusals = await Promise.all(
      ['2', 'xyz'].map(async (m) => {
        const r = await lab.exec(N, ['sh', '-c', `${S} resource-options r0 --cpu-mask=${m}`]);
        return r.code === 0 ? `${m} ACCEPTED` : (r.stdout + r.stderr).trim();
      }),
    );
    await t.sh(N, `${S} resource-options r0 --cpu-mask=`);
    const reset = await affinity();
    log(
      `cpu-mask: default ${allCpus}| 1: ${masked}| after a reconnect: ${reconnected}| empty: ${reset}| refused: ${refusals.join(' / ')}`,
    );
    const threads = (a: string) => a.trim().split(' ');
    const all = (a: string, cpus: string) => threads(a).length >= 2 && threads(a).every((x) => x.endsWith(`:${cpus}`));
    if (!all(allCpus, '0-1') || !all(masked, '0') || !all(reconnected, '0') || !all(reset, '0-1'))
      throw new Error('the threads did not follow cpu-mask');
    if (!/none of its CPUs is online/.test(refusals[0]) || !/not a hexadecimal mask/.test(refusals[1]))
      throw new Error(`cpu-mask refusals: ${refusals.join(' / ')}`);

    // --- a volume only alpha has (16 MiB of /dev/vdb, its own meta data): volume 0 goes on
    // replicating, the new one's peer device stays unconnected; once bravo adds it, it connects
    // and resyncs. Each attach reconnects (a fresh handshake learns the peer's volumes).
    // alpha's new volume gets data of its own (UpToDate, 4 MiB written; it is the SyncSource
    // later), bravo's is just created
    const vol1Sum = await t.addVolume(
      N,
      `${S} peer-device-options r0 ${ID.bravo} 1 ${FAST_PD}
${S} new-current-uuid --clear-bitmap 2
head -c 4194304 /dev/urandom > /tmp/v1; dd if=/tmp/v1 of=/dev/bsr2 bs=1M oflag=direct status=none; sha256sum < /tmp/v1`,
    );
    // bravo creates volume 1 diskless while connected (outside the connection's set) and
    // deletes it: del-minor reconnects, the volume on alpha only again
    await t.sh('bravo', `${S} new-minor r0 2 1\n${S} del-minor 2`);
    const only = await t.waitState(
      N,
      'volume 0 Established, volume 1 not replicated',
      (r) =>
        r.connections()[0]?.connection === 'Connected' &&
        r.peerDevice(0)?.replication === 'Established' &&
        r.peerDevice(1) && {
          state: `volume 1 replication:${r.peerDevice(1)?.replication} peer-disk:${r.peerDevice(1)?.['peer-disk']}`,
          oos: Number(r.peerDevice(1)?.['out-of-sync']),
        },
      40_000,
    );
    const sum0 = await t.write(N, 24, 4);
    const peerSum0 = await t.sum('bravo', '/dev/vda', 24, 4);
    log(
      `volume 1 on alpha only: connected, ${only.state}, out-of-sync ${only.oos} KiB; volume 0 replicated ${sum0 === peerSum0 ? 'identical' : 'DIFFERENT'}`,
    );
    if (only.state !== 'volume 1 replication:Off peer-disk:DUnknown') throw new Error(`alpha's ${only.state}`);
    // its 4 MiB written while bravo lacks it are out of sync for bravo, as while disconnected
    if (only.oos !== 4096) throw new Error(`volume 1 4 MiB write: out-of-sync ${only.oos} KiB`);
    if (sum0 !== peerSum0) throw new Error('volume 0 did not replicate while only alpha had volume 1');
    // wait-connect with a volume only alpha has: it returns once volume 0 has decided (before
    // bsr.ko said which volumes both nodes have, it waited for volume 1 until its timeout)
    const waited = await t.sh(
      N,
      `${S} disconnect r0 ${ID.bravo} && ${S} connect r0 ${ID.bravo}
start=$(date +%s%N); code=0; ${S} wait-connect-resource r0 --wait-timeout=30 || code=$?
echo "code=$code ms=$(( ($(date +%s%N) - start) / 1000000 ))"; ${S} status r0 -v`,
    );
    const wc = /code=(\d+) ms=(\d+)/.exec(waited);
    const vol0 = /volume:0 replication:(\S+)/.exec(waited)?.[1];
    log(
      `volume 1 on alpha only: wait-connect-resource after a reconnect: exit ${wc?.[1]} after ${wc?.[2]} ms, volume 0 then ${vol0}`,
    );
    if (wc?.[1] !== '0') throw new Error(`wait-connect-resource with volume 1 on alpha only: ${waited}`);
    if (vol0 !== 'Established') throw new Error(`wait-connect-resource returned before volume 0 decided: ${waited}`);
    await t.addVolume('bravo');
    await t.waitSynced(60_000);
    const v1 = await Promise.all(
      (['alpha', 'bravo'] as const).map((n) =>
        t.sh(n, 'dd if=/dev/mapper/vol1 bs=1M count=4 iflag=direct status=none | sha256sum'),
      ),
    );
    log(`volume 1 added on bravo: both volumes UpToDate; its 4 MiB ${v1[0] === v1[1] ? 'identical' : 'DIFFERENT'}`);
    if (v1[0].split(' ')[0] !== vol1Sum.split(' ')[0] || v1[0] !== v1[1])
      throw new Error('volume 1 did not resync to bravo');
    await t.sh(N, `${S} secondary r0`);
    await t.downAll();
    await Promise.all((['alpha', 'bravo'] as const).map((n) => t.sh(n, 'dmsetup remove vol1')));
    await sh('test ! -e /dev/bsr-control');
  },
});
