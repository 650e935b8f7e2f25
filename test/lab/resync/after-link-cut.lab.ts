// Link cut, 64 MiB written on the Primary, link restored: the resync moves about
// 64 MiB (not the whole disk) and the data match.
// With fencing resource-and-stonith on both nodes: the cut makes alpha (Primary) run fence-peer
// once (the helper sleeps 3 s and says 4, outdated): a write issued while it runs completes only
// after it, status shows suspended:fencing meanwhile and bravo's peer disk Outdated after it;
// unfence-peer runs once bravo is UpToDate again (alpha has a second volume bravo lacks, which
// stays replication Off and does not hold the fence). bravo, cut off too, is refused `primary`: its
// fence-peer handler fails (exit code 1).
import { resourceState } from '../../../tools/lab/bsr-wait.js';
import { scenario } from '../../../tools/lab/scenario.js';
import type { Lab, NodeName } from '../../../tools/lab/types.js';
import { assert, FAST_NET, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'resync after a link cut moves only the blocks written meanwhile',
  nodes: 2,
  diskSize: '256M',
  timeoutSec: 400,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync({ net: `${FAST_NET} --fencing=resource-and-stonith` });
    // alpha: events2 records the suspension; a 4 KiB write starts as soon as fence-peer runs
    // (times from /proc/uptime, which the helper notes too)
    await Promise.all([
      installFenceHelper(lab, 'alpha', 4, 3),
      installFenceHelper(lab, 'bravo', 1, 0),
      t.sh(
        'alpha',
        `nohup ${t.S} events2 r0 > /tmp/ev 2>&1 &
(while [ ! -s /tmp/fence-calls ]; do sleep 0.05; done
read s _ < /proc/uptime; dd if=/dev/urandom of=/dev/bsr1 bs=4k count=1 seek=${70 * 256} oflag=direct status=none
read e _ < /proc/uptime; echo "$s $e" > /tmp/w.tmp; mv /tmp/w.tmp /tmp/fence-write) >/dev/null 2>&1 &`,
      ),
    ]);
    // a volume only alpha has (16 MiB of /dev/vdb, UpToDate): replication Off while connected, it
    // must not keep bravo fenced once volume 0 is UpToDate again. Reconnected by hand, Secondary
    // (its attach restarts the connection: a drop while Primary would call fence-peer).
    await t.addVolume(
      'alpha',
      `${t.S} new-current-uuid --clear-bitmap 2
${t.S} disconnect r0 1
${t.S} connect r0 1`,
    );
    await t.waitConnected();
    await t.waitState(
      'alpha',
      'volume 0 Established, volume 1 only here',
      (r) => r.peerDevice(0)?.replication === 'Established' && r.peerDevice(1)?.replication === 'Off',
    );
    await t.sh('alpha', `${t.S} primary r0`);
    const before = await t.write('alpha', 0, 8);
    assert(before === (await t.sum('bravo', '/dev/vda', 0, 8)), 'replicated before the cut');
    const recv0 = await t.stat('bravo', 'received');
    await lab.linkCut('alpha', 'bravo');
    await Promise.all([t.waitConnection('alpha', false), t.waitConnection('bravo', false)]);
    // bravo, cut off as well, asks to be Primary while alpha's handler runs
    const [promote, fenced] = await Promise.all([
      t.exec('bravo', `${t.S} primary r0; r=$?; ${t.S} role r0; cat /tmp/fence-calls; exit $r`),
      lab.waitFor(
        'the write held while fencing',
        async () =>
          (
            await t.sh(
              'alpha',
              `[ -e /tmp/fence-write ] || exit 0; pkill -f "[b]srsetup.* events2"
echo "write $(cat /tmp/fence-write)"; echo "handler $(cat /tmp/fence-times)"
sed 's/^/call /' /tmp/fence-calls; sed 's/^/ev /' /tmp/ev`,
            )
          ).trim() || undefined,
        30_000,
        250,
      ),
    ]);
    const lines = (prefix: string) =>
      fenced
        .split('\n')
        .filter((l) => l.startsWith(`${prefix} `))
        .map((l) => l.slice(prefix.length + 1));
    const [issued, done] = lines('write')[0].split(' ').map(Number);
    const [handlerStart, handlerEnd] = lines('handler')[0].split(' ').map(Number);
    const writeMs = Math.round((done - issued) * 1000);
    const afterHandlerMs = Math.round((done - handlerEnd) * 1000);
    const ev = lines('ev');
    const suspendedAt = ev.findIndex((l) => /^change resource .*suspended:fencing/.test(l));
    const resumed = ev.slice(suspendedAt + 1).some((l) => /^change resource .*suspended:no/.test(l));
    const alphaCalls = lines('call');
    const [bravoRole, ...bravoCalls] = promote.stdout.trim().split('\n');

    const w = await t.write('alpha', 100, 64);
    const pd = (await resourceState(lab, 'alpha', t.S, 'r0'))?.connections[0]?.['peer-devices'][0];
    const peerDisk = pd?.['peer-disk'];
    const oos = Number(pd?.['out-of-sync']);
    lab.log(
      `fencing: write issued ${Math.round((issued - handlerStart) * 1000)} ms into fence-peer (sleep 3, exit 4), took ${writeMs} ms, completed ${afterHandlerMs} ms after the handler ended; events2 suspended:fencing ${suspendedAt >= 0}, then resumed ${resumed}; bravo's peer disk on alpha: ${peerDisk}; alpha's handler calls: ${alphaCalls.join(', ')}; bravo primary: exit ${promote.code}, ${promote.stderr.trim()}`,
    );
    assert(writeMs >= 2000 && afterHandlerMs >= 0, `the write waited for fence-peer (${writeMs} ms)`);
    assert(suspendedAt >= 0 && resumed, `events2 showed suspended:fencing, then not:\n${ev.join('\n')}`);
    assert(peerDisk === 'Outdated', `the handler's result shows: peer-disk ${peerDisk}`);
    assert(alphaCalls.join() === 'fence-peer peer=1', `fence-peer called once: ${alphaCalls}`);
    assert(
      promote.code !== 0 && /fence-peer/.test(promote.stderr) && /exit code 1\b/.test(promote.stderr),
      `bravo's promotion refused, naming fence-peer and its exit code: ${promote.code} ${promote.stderr}`,
    );
    assert(bravoRole === 'Secondary' && bravoCalls.join() === 'fence-peer peer=0', `bravo: ${promote.stdout}`);
    lab.log(`out-of-sync on alpha while cut: ${oos} KiB`);
    assert(oos === 65536 + 4, `64 MiB and 4 KiB out of sync (${oos} KiB)`);
    await lab.linkRestore('alpha', 'bravo');
    const t0 = Date.now();
    await Promise.all([
      t.waitState('bravo', 'UpToDate', (r) => r.allUpToDate(), 240_000),
      t.waitState(
        'alpha',
        'volume 0 UpToDate on both',
        (r) => r.peerDevice(0)?.replication === 'Established' && r.peerDevice(0)?.['peer-disk'] === 'UpToDate',
        240_000,
      ),
    ]);
    const recv = (await t.stat('bravo', 'received')) - recv0;
    lab.log(`resync done in ${((Date.now() - t0) / 1000).toFixed(1)} s; bravo received ${recv} KiB`);
    assert(recv >= 65536 && recv < 65536 + 8192, `the resync moved about 64 MiB (${recv} KiB)`);
    const calls = await lab.waitFor(
      'unfence-peer',
      async () => {
        const c = (await t.sh('alpha', 'cat /tmp/fence-calls')).trim();
        return /unfence-peer/.test(c) && c;
      },
      30_000,
      250,
    );
    // before-resync-source runs (and is waited for) as the resync starts
    assert(
      calls === 'fence-peer peer=1\nbefore-resync-source peer=1\nunfence-peer peer=1',
      `unfence-peer once after the resync: ${calls}`,
    );
    const vol1 = await t.waitState('alpha', "volume 1's state", (r) => r.peerDevice(1)?.replication);
    assert(vol1 === 'Off', `volume 1 (alpha only) replication: ${vol1}`);
    assert(w === (await t.sum('bravo', '/dev/vda', 100, 64)), 'the written 64 MiB match on bravo');
    assert(
      (await t.sum('alpha', '/dev/vda', 0, 200)) === (await t.sum('bravo', '/dev/vda', 0, 200)),
      'first 200 MiB equal',
    );
    await t.downAll();
    await t.sh('alpha', 'dmsetup remove vol1');
  },
});

/**
 * The kernel's usermode helper (run in the initramfs root, the guest's /tmp under /newroot) as
 * fence-peer and unfence-peer: logs each call, fence-peer sleeps `sleepSec`, notes when it
 * started and ended (uptime) and exits `code`.
 */
async function installFenceHelper(lab: Lab, n: NodeName, code: number, sleepSec: number) {
  await lab.sh(
    n,
    `cat > /tmp/fence-helper <<'EOF'
#!/bin/busybox sh
echo "$1 peer=$BSR_PEER_NODE_ID" >> /newroot/tmp/fence-calls
[ "$1" = fence-peer ] || exit 0
read s _ < /proc/uptime
/bin/busybox sleep ${sleepSec}
read e _ < /proc/uptime
echo "$s $e" > /newroot/tmp/fence-times
exit ${code}
EOF
chmod 755 /tmp/fence-helper
echo /newroot/tmp/fence-helper > /sys/module/bsr/parameters/usermode_helper`,
  );
}
