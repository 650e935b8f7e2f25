// on-congestion pull-ahead over a slow WAN link (4 MB/s, 20 ms each way), protocol A: a writer faster
// than the link makes the Primary go Ahead and the Secondary Behind (Outdated) within seconds; its writes
// then run at local speed (each 1 MiB write timed: the median within 2x of the same writes on the
// unshaped link); once the writer stopped, the Secondary catches up by itself (a bitmap resync, no
// reconnect) and both backing disks hold the same bytes. No write is lost when the link is cut while
// Ahead (both survive, reconnect, resync) nor when the Behind node crashes: it comes back Outdated,
// refuses a plain `primary`, and is resynced from the Primary, which wrote on meanwhile.

import { waitEvents } from '../../../tools/lab/bsr-wait.js';
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, twoNodes } from '../fixtures.js';

const LINK = { rate: '32mbit', delay: '20ms' };
const LINK_MBPS = 4;
const MIB = 12; // written at each timed step, 1 MiB O_DIRECT writes
// a send buffer larger than congestion-fill (2M below), as DRBD's guide asks: a smaller one
// (the auto-tuned size after a quiet spell) holds the writer in the socket until the slow link
// drains it, before the fill is ever reached (ci80: Ahead only 12.6 s after the writes began)
const NET = `--protocol=A ${FAST_NET} --sndbuf-size=4M`;
const BG = 16; // MiB the background writer cycles through, fresh data in every write

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

export default scenario({
  title: 'pull-ahead: Ahead/Behind on a slow link, local-speed writes, catch-up, cut and crash while Ahead',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 400,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync({ net: NET });
    await t.sh('alpha', `${t.S} primary r0`);
    try {
      await steps();
    } catch (err) {
      for (const n of ['alpha', 'bravo'] as const) {
        const log = (await lab.dmesg(n)).split('\n').filter((l) => l.includes('bsr: '));
        lab.log(`${n}:\n${log.slice(-25).join('\n')}`);
      }
      throw err;
    }
    await t.downAll();

    /** Writes MIB MiB of fresh data at off MiB in 1 MiB O_DIRECT writes; returns each write's ms. */
    async function timedWrites(off: number): Promise<number[]> {
      const out = await t.sh(
        'alpha',
        `python3 - <<'EOF'
import mmap, os, time
f = os.open('/dev/bsr1', os.O_WRONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 1 << 20)
took = []
for i in range(${MIB}):
    buf.seek(0)
    buf.write(os.urandom(1 << 20))
    t = time.monotonic()
    os.pwrite(f, buf, (${off} + i) << 20)
    took.append((time.monotonic() - t) * 1000)
print(' '.join('%.1f' % x for x in took))
EOF`,
      );
      return out.trim().split(/\s+/).map(Number);
    }

    /** Starts a writer on alpha: 1 MiB O_DIRECT writes of fresh data cycling over BG MiB from off. */
    async function startWriter(off: number) {
      await t.sh(
        'alpha',
        `rm -f /tmp/stop /tmp/bg.rc
nohup sh -c 'i=0; while [ ! -e /tmp/stop ]; do dd if=/dev/urandom of=/dev/bsr1 bs=1M count=1 seek=$((${off} + i % ${BG})) iflag=fullblock oflag=direct status=none || { echo rc=1 > /tmp/bg.rc; exit; }; i=$((i + 1)); done; echo rc=0 writes=$i > /tmp/bg.rc' > /dev/null 2>&1 &`,
      );
    }

    async function stopWriter(): Promise<string> {
      await t.sh('alpha', 'touch /tmp/stop');
      const rc = await lab.waitFor('the writer to stop', async () =>
        (await t.sh('alpha', 'cat /tmp/bg.rc 2>/dev/null || true')).trim(),
      );
      assert(/^rc=0/.test(rc), `the writer failed: ${rc}`);
      return rc;
    }

    async function bsrLog(n: 'alpha' | 'bravo') {
      return (await lab.dmesg(n)).split('\n').filter((l) => l.includes('bsr: '));
    }

    /** Both nodes' ping-timeout (0.1 s) on the live connection. */
    async function pingTimeout(tenths: number) {
      await Promise.all([
        t.sh('alpha', `${t.S} net-options r0 1 --ping-timeout=${tenths}`),
        t.sh('bravo', `${t.S} net-options r0 0 --ping-timeout=${tenths}`),
      ]);
    }

    function behind(what: string) {
      return t.waitState('bravo', what, (r) => r.field('replication') === 'Behind', 60_000);
    }

    async function disksEqual(upToMiB: number, what: string) {
      const [a, b] = [await t.sum('alpha', '/dev/vda', 0, upToMiB), await t.sum('bravo', '/dev/vda', 0, upToMiB)];
      lab.log(`${what}: alpha ${a.slice(0, 12)} bravo ${b.slice(0, 12)} (${upToMiB} MiB)`);
      assert(a === b, `${what}: the backing disks differ`);
    }

    async function steps() {
      // the reference: the same writes on the unshaped link, on-congestion block
      const unshaped = await timedWrites(0);
      await t.sh('alpha', `${t.S} net-options r0 1 --on-congestion=pull-ahead --congestion-fill=2M`);
      await lab.linkShape('alpha', 'bravo', LINK);
      // bravo's acks come back 3 s late: alpha stays Ahead for all the timed writes (it leaves once
      // every write sent was acknowledged, a second after it went Ahead at the earliest); the ping
      // timeouts 10 s meanwhile
      await pingTimeout(100);
      await t.sh(
        'bravo',
        `tc qdisc replace dev ${lab.iface('bravo', 'alpha')} root netem rate ${LINK.rate} delay 3s limit 10000`,
      );
      // both nodes record their notifications (events2) from before the first write on
      await Promise.all(
        (['alpha', 'bravo'] as const).map(async (n) => {
          await t.sh(
            n,
            `nohup ${t.S} events2 r0 --json --statistics > /tmp/events.json 2>&1 & echo $! > /tmp/events.pid`,
          );
          await lab.waitFor(`${n}: events2 running`, async () =>
            /"object":"-"/.test(await t.sh(n, 'cat /tmp/events.json')),
          );
        }),
      );
      // when alpha goes Ahead, timed from the host command that starts the writes
      let armed = () => {};
      const ready = new Promise<void>((resolve) => {
        armed = resolve;
      });
      const aheadAt = waitEvents(
        lab,
        'alpha',
        'r0',
        'Ahead',
        (r) => r.field('replication') === 'Ahead' && Date.now(),
        60_000,
        armed,
      );
      await ready;
      const t0 = Date.now();
      const shaped = await timedWrites(MIB);
      const toAhead = ((await aheadAt) - t0) / 1000;
      const seen = async (n: 'alpha' | 'bravo', want: RegExp) =>
        (await t.sh(n, 'cat /tmp/events.json')).split('\n').find((l) => want.test(l));
      const ahead = await lab.waitFor('alpha Ahead', () => seen('alpha', /"replication":"Ahead"/), 60_000, 500);
      const congested = await seen('alpha', /"congested":"yes"/);
      const behindLine = await lab.waitFor('bravo Behind', () => seen('bravo', /"replication":"Behind"/), 60_000, 500);
      const outdated = await seen('bravo', /"disk":"Outdated"/);
      lab.log(`alpha: ${ahead}\nalpha: ${congested}\nbravo: ${behindLine}\nbravo: ${outdated}`);
      assert(congested, 'alpha never reported congested:yes');
      assert(outdated, 'bravo was Behind but its disk never Outdated');
      lab.log(`alpha Ahead ${toAhead.toFixed(1)} s after the writes began`);
      assert(toAhead < 10, `alpha went Ahead only ${toAhead.toFixed(1)} s after the writes began`);
      const linkMs = 1000 / LINK_MBPS;
      const [mu, ms] = [median(unshaped), median(shaped)];
      lab.log(
        `write latency per 1 MiB, median (max): unshaped ${mu.toFixed(1)} (${Math.max(...unshaped).toFixed(1)}) ms, shaped with pull-ahead ${ms.toFixed(1)} (${Math.max(...shaped).toFixed(1)}) ms; the link alone: ${linkMs} ms`,
      );
      // the write that meets the congestion waits for the decision; the others run at local speed
      assert(
        ms <= 2 * mu,
        `writes while Ahead: median ${ms.toFixed(1)} ms per MiB, over 2x the unshaped ${mu.toFixed(1)}`,
      );

      // the writer stopped: the Secondary catches up by itself, on the same connection
      await lab.linkShape('alpha', 'bravo', LINK);
      await pingTimeout(20);
      await t.waitSynced(240_000);
      await Promise.all((['alpha', 'bravo'] as const).map((n) => t.exec(n, 'kill $(cat /tmp/events.pid)')));
      await disksEqual(2 * MIB, 'after the catch-up');
      const log = await bsrLog('alpha');
      assert(
        log.some((l) => /congestion-fill reached: pulling ahead/.test(l)) &&
          log.some((l) => /the peer has every write sent before: resyncing/.test(l)),
        `alpha did not log pulling ahead and the catch-up:\n${log.slice(-20).join('\n')}`,
      );
      await t.assertNoConnectionLoss();

      // the link cut while Ahead: alpha writes on; once both are back, what bravo missed is resynced
      let since = log.length;
      await startWriter(2 * MIB);
      await behind('Behind, before the cut');
      await lab.linkCut('alpha', 'bravo');
      await t.waitConnection('alpha', false);
      lab.log(`link cut while Ahead: ${await stopWriter()}`);
      await lab.linkRestore('alpha', 'bravo');
      await t.waitConnected();
      await t.waitSynced(240_000);
      let resync = (await bsrLog('alpha')).slice(since).filter((l) => /resync as SyncSource/.test(l));
      lab.log(`after the cut: ${resync.join(' | ')}`);
      assert(resync.length, 'alpha was not the resync source after the cut');
      await disksEqual(2 * MIB + BG, 'after the cut');

      // the Behind node crashes the moment it goes Behind: its own events2, read in the guest,
      // triggers the panic; alpha writes on. bravo's acks come back 3 s late, as in the first
      // phase, so that bravo stays Behind for seconds: without that a Behind period lasts about
      // a second, and under load the panic came after bravo had begun its catch-up
      // (Inconsistent after the reboot; ci75)
      since = (await bsrLog('alpha')).length;
      await lab.linkShape('alpha', 'bravo', LINK);
      await pingTimeout(100);
      await t.sh(
        'bravo',
        `tc qdisc replace dev ${lab.iface('bravo', 'alpha')} root netem rate ${LINK.rate} delay 3s limit 10000`,
      );
      const off = 2 * MIB + BG;
      await startWriter(off);
      await t.crashIf(
        'bravo',
        `timeout 60 ${t.S} events2 r0 | while read -r l; do
  case "$l" in *replication:Behind*) echo c > /proc/sysrq-trigger;; esac
done
echo "never Behind within 60 s"; exit 3`,
      );
      await t.waitConnection('alpha', false);
      lab.log(`Behind node crashed: ${await stopWriter()}`);
      await lab.linkRestore('alpha', 'bravo');
      await lab.boot('bravo');
      await t.up('bravo', { createMd: false, net: NET, connect: false });
      const disk = await t.pdField('bravo', 'disk');
      lab.log(`bravo after the crash: disk ${disk}`);
      assert(disk === 'Outdated', `bravo, Behind at its crash, is ${disk} after it`);
      const plain = await t.exec('bravo', `cd ${lab.repoRoot} && ${t.S} primary r0`);
      assert(
        plain.code !== 0 && /Outdated/.test(plain.stderr),
        `a plain primary on the crashed Behind node: exit ${plain.code} ${plain.stderr}`,
      );
      await t.sh('bravo', `${t.S} connect r0 0`);
      await t.waitSynced(240_000);
      resync = (await bsrLog('alpha')).slice(since).filter((l) => /resync as SyncSource/.test(l));
      lab.log(`after bravo's crash: ${resync.at(-1)}`);
      assert(resync.length, "alpha was not the resync source after bravo's crash");
      await disksEqual(off + BG, "after bravo's crash");
    }
  },
});
