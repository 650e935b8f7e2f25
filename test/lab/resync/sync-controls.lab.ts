// Resync controls on a resource with two volumes (minor 1 on /dev/vda, minor 2 on
// /dev/vdb, one connection): initial sync of both, invalidate and invalidate-remote (full syncs),
// pause-sync/resume-sync, the fixed rate and the dynamic controller (changed while a resync runs),
// the application-I/O throttle (c-min-rate, resync-ratio) against a QD1 writer,
// done:/eta progress in status and events2, disconnect --force with writes pending, net-options
// at run time, and the time of a 64 MiB resync after a link cut split into reconnect and transfer.
import { createHash, randomBytes } from 'node:crypto';
import type { ResourceEvents } from '../../../tools/lab/bsr-wait.js';
import type { Lab, NodeName } from '../../../tools/lab/scenario.js';
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, ID, NODES, PEER, twoNodes } from '../fixtures.js';

const FAST = '--c-plan-ahead=0 --resync-rate=1000M';
const FIXED_KIB = 512;
const MAX_KIB = 1536;
const DISK: Record<number, string> = { 0: '/dev/vda', 1: '/dev/vdb' };

type Fields = Record<string, string>;

/** The fields of one peer-device of `status -v -s` (state line and statistics line merged). */
function pdFields(status: string, vol: number): Fields {
  const lines = status.split('\n');
  const i = lines.findIndex((l) => new RegExp(`^ {4}volume:${vol} replication:`).test(l));
  const out: Fields = {};
  if (i < 0) return out;
  for (const l of [lines[i], lines[i + 1] ?? '']) {
    for (const m of l.matchAll(/([\w-]+):(\S+)/g)) out[m[1]] = m[2];
  }
  return out;
}

/** (guest time in s, out-of-sync KiB) of volume `vol` from an events2 --timestamps --statistics log. */
function oosSamples(events: string, vol: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const l of events.split('\n')) {
    const m = /^(\S+) change peer-device .*\bvolume:(\d+)\b.*\bout-of-sync:(\d+)/.exec(l);
    if (m && Number(m[2]) === vol) out.push([Date.parse(m[1]) / 1000, Number(m[3])]);
  }
  return out;
}

/**
 * The resync-throttled flips of volume `vol` in an events2 --timestamps log: (guest time in s,
 * yes/no), from the exists line and each change that carries the field.
 */
function throttledFlips(events: string, vol: number): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (const l of events.split('\n')) {
    const m = /^(\S+) (?:exists|change) peer-device .*\bvolume:(\d+)\b.*\bresync-throttled:(yes|no)\b/.exec(l);
    if (m && Number(m[2]) === vol) out.push([Date.parse(m[1]) / 1000, m[3]]);
  }
  return out;
}

export default scenario({
  title: 'resync controls (two volumes, pause/resume, invalidate, rates, progress, forced disconnect)',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 900,
  async run(lab: Lab) {
    const t = twoNodes(lab);
    const { S } = t;
    const status = (n: NodeName) => t.sh(n, `${S} status r0 -v -s`);
    const pd = async (n: NodeName, vol: number) => pdFields(await status(n), vol);
    const pdOpts = (n: NodeName, vol: number, o: string) =>
      t.sh(n, `${S} peer-device-options r0 ${ID[PEER[n]]} ${vol} ${o}`);
    const guestNow = async (n: NodeName) => Number(await t.sh(n, 'date +%s.%N'));
    /** `mib` MiB of random data in a file the guests read, and its sha256. */
    const hostData = (mib: number) => {
      const data = randomBytes(mib << 20);
      return { file: lab.shareFile(data), sum: createHash('sha256').update(data).digest('hex') };
    };

    async function waitSynced(timeoutMs = 300_000) {
      const both = (r: ResourceEvents) => r.devices().length === 2 && r.allUpToDate();
      await Promise.all(NODES.map((n) => t.waitState(n, 'both volumes in sync', both, timeoutMs)));
    }

    async function sameData(vol: number, what: string) {
      // both backing disks, read on the host
      const a = await t.sum('alpha', DISK[vol], 0, sizeMiB);
      const b = await t.sum('bravo', DISK[vol], 0, sizeMiB);
      assert(a === b, `${what}: volume ${vol} equal on both nodes (${a} / ${b})`);
    }

    /** The sizes (KiB) alpha logged for the resyncs of volume vol it started as SyncSource. */
    async function resyncsLogged(vol: number): Promise<number[]> {
      const re = new RegExp(`volume ${vol}: resync as SyncSource, (\\d+) KiB`, 'g');
      return [...(await lab.dmesg('alpha')).matchAll(re)].map((m) => Number(m[1]));
    }

    /** alpha's events2 log as last read (by measureRate() or writing()). */
    let lastEv = '';
    /**
     * Resync rate (KiB/s) of volume vol seen by alpha's events2 over `sec` seconds, or longer (up
     * to 5 s more) until three progress events fall in the window: on a loaded host the events,
     * about one a second, come late.
     */
    async function measureRate(vol: number, sec: number): Promise<number> {
      const from = await guestNow('alpha');
      await new Promise((r) => setTimeout(r, sec * 1000));
      let s: [number, number][] = [];
      for (let extra = 0; extra <= 5 && s.length < 3; extra++) {
        if (extra > 0) await new Promise((r) => setTimeout(r, 1000));
        const to = await guestNow('alpha');
        lastEv = await t.sh('alpha', 'cat /tmp/ev');
        s = oosSamples(lastEv, vol).filter(([ts]) => ts >= from && ts <= to);
      }
      assert(s.length >= 3, `progress events during the resync (${s.length} in ${sec} s and 5 s more)`);
      const [t0, o0] = s[0];
      const [t1, o1] = s[s.length - 1];
      return (o0 - o1) / (t1 - t0);
    }

    // 1. two volumes, one connection (the initial sync skipped: invalidate and invalidate-remote
    // below sync each volume in full)
    for (const n of NODES)
      await t.upTwoVolumes(n, { net: '--ping-int=30 --ping-timeout=100 --connect-int=2', pd: [FAST, FAST] });
    await t.waitConnected();
    for (const n of NODES)
      await t.sh(n, `nohup ${S} events2 r0 --timestamps --statistics > /tmp/ev 2>&1 & echo $! > /tmp/ev.pid`);
    await t.sh('alpha', `${S} new-current-uuid --clear-bitmap 1; ${S} new-current-uuid --clear-bitmap 2`);
    await waitSynced(60_000);
    await t.sh('alpha', `${S} primary r0`);
    const sizeKiB = Number(await t.sh('alpha', 'blockdev --getsize64 /dev/bsr1')) / 1024;
    const sizeMiB = Math.floor(sizeKiB / 1024);
    const st = await status('alpha');
    lab.log(`two volumes in sync (${sizeKiB} KiB each):\n${st.trim()}`);
    assert(/volume:0 minor:1/.test(st) && /volume:1 minor:2/.test(st), 'status shows both devices');
    const vol0 = hostData(8);
    const vol1 = hostData(8);
    await t.sh('alpha', `dd if=${vol0.file} of=/dev/bsr1 bs=1M seek=4 oflag=direct status=none`);
    await t.sh('alpha', `dd if=${vol1.file} of=/dev/bsr2 bs=1M seek=4 oflag=direct status=none`);
    assert((await t.sum('bravo', '/dev/vda', 4, 8)) === vol0.sum, 'volume 0 data on bravo');
    assert((await t.sum('bravo', '/dev/vdb', 4, 8)) === vol1.sum, 'volume 1 data on bravo');
    await sameData(0, 'initial sync');
    await sameData(1, 'initial sync');

    // 3a + 4 + 2 + 5. invalidate on the Secondary, at a fixed low rate
    for (const n of NODES) await pdOpts(n, 0, `--c-plan-ahead=0 --resync-rate=${FIXED_KIB}k`);
    const before0 = (await resyncsLogged(0)).length;
    // --sync-from-peer-node-id picks the source: node 7 is no peer, alpha (0) is
    const none = await t.exec('bravo', `${S} invalidate 1 --sync-from-peer-node-id=7`);
    assert(none.code !== 0, 'invalidate from node 7, which is no peer, is refused');
    await t.sh('bravo', `${S} invalidate 1 --sync-from-peer-node-id=0`);
    const replication = (n: NodeName, vol: number, want: RegExp, timeoutMs = 30_000) =>
      t.waitState(
        n,
        `volume ${vol} ${want.source}`,
        (r) => {
          const p = r.peerDevice(vol);
          return want.test(String(p?.replication)) && p;
        },
        timeoutMs,
      );
    await replication('bravo', 0, /^SyncTarget$/);
    const started = (await resyncsLogged(0)).slice(before0);
    assert(started.length === 1 && started[0] === sizeKiB, `invalidate resyncs the whole device (${started} KiB)`);
    assert((await pd('alpha', 0)).replication === 'SyncSource', 'alpha is SyncSource');
    const fixed = await measureRate(0, 5);
    lab.log(`fixed resync-rate ${FIXED_KIB} KiB/s: measured ${fixed.toFixed(0)} KiB/s`);
    assert(fixed > FIXED_KIB * 0.6 && fixed < FIXED_KIB * 1.5, `fixed rate within the band (${fixed.toFixed(0)})`);
    for (const n of NODES) {
      const f = await pd(n, 0);
      lab.log(`${n} during the resync: ${JSON.stringify(f)}`);
      assert(Number(f.done) > 0 && Number(f.done) < 100, `${n}: status shows done: (${f.done})`);
      assert(Number(f.eta) > 0, `${n}: status shows an eta (${f.eta})`);
    }
    // bravo, a Secondary SyncTarget, can have no application I/O (its device does not open): the
    // work that reports a node's application to the pacing peer does not run there
    const [workRuns, reportRuns] = (
      await t.sh(
        'bravo',
        `T=/sys/kernel/tracing; [ -e $T/trace ] || mount -t tracefs nodev $T
E=$T/events/workqueue/workqueue_execute_start/enable
echo > $T/trace; echo 1 > $E; sleep 2; echo 0 > $E
echo $(grep -c workqueue_execute_start $T/trace) $(grep -c bsr_app_report_work $T/trace)`,
      )
    )
      .trim()
      .split(' ')
      .map(Number);
    lab.log(
      `bravo, Secondary SyncTarget: the application-report work ran ${reportRuns} times in 2 s ` +
        `(of ${workRuns} work items traced)`,
    );
    assert(workRuns > 0, `the trace saw work items run (${workRuns})`);
    assert(reportRuns === 0, `no application reports from a Secondary SyncTarget (${reportRuns} runs in 2 s)`);

    await t.sh('alpha', `${S} pause-sync r0 1 0`);
    const [pausedA, pausedB] = await Promise.all([
      replication('alpha', 0, /^PausedSyncS$/),
      replication('bravo', 0, /^PausedSyncT$/),
    ]);
    const paused = { a: pausedA, b: pausedB };
    assert(paused.a['resync-suspended'] === 'user', `alpha resync-suspended:user (${paused.a['resync-suspended']})`);
    assert(paused.b['resync-suspended'] === 'peer', `bravo resync-suspended:peer (${paused.b['resync-suspended']})`);
    // read after the pause (requests in flight when it came may still have completed)
    const oosPaused = Number((await pd('alpha', 0))['out-of-sync']);
    await new Promise((r) => setTimeout(r, 3000));
    const oosLater = Number((await pd('alpha', 0))['out-of-sync']);
    lab.log(`paused: out-of-sync ${oosPaused} KiB, 3 s later ${oosLater} KiB`);
    assert(oosLater === oosPaused, 'no resync progress while paused');
    const evA = await t.sh('alpha', 'cat /tmp/ev');
    assert(
      /change peer-device .*volume:0 replication:PausedSyncS resync-suspended:user/.test(evA),
      'events2: PausedSyncS user',
    );
    assert(/change peer-device .*volume:0 .*done:\d+\.\d+/.test(evA), 'events2: done: during the resync');
    assert(/change peer-device .*volume:0 .*eta:\d+/.test(evA), 'events2: eta during the resync');
    const evB = await t.sh('bravo', 'cat /tmp/ev');
    assert(
      /change peer-device .*volume:0 replication:PausedSyncT resync-suspended:peer/.test(evB),
      'events2: PausedSyncT peer',
    );
    await t.sh('alpha', `${S} resume-sync r0 1 0`);
    await replication('alpha', 0, /^SyncSource$/);

    // the dynamic controller, switched on while the resync runs
    for (const n of NODES)
      await pdOpts(
        n,
        0,
        `--c-plan-ahead=10 --c-max-rate=${MAX_KIB}k --c-min-rate=250k --c-fill-target=40960 --c-delay-target=10`,
      );
    const dynamic = await measureRate(0, 5);
    lab.log(`dynamic controller, c-max-rate ${MAX_KIB} KiB/s: measured ${dynamic.toFixed(0)} KiB/s`);
    assert(dynamic > fixed * 1.5, `the dynamic controller runs faster than the fixed rate (${dynamic.toFixed(0)})`);
    assert(dynamic < MAX_KIB * 1.25, `the dynamic controller stays at c-max-rate (${dynamic.toFixed(0)})`);

    // c-min-rate and resync-ratio: an application writer at queue depth 1 on alpha (the first MiB,
    // in sync already: its writes change no bit) holds the resync to c-min-rate, with resync-ratio
    // to its share of the replicated writes; idle, or with c-min-rate 0 and no ratio, the resync
    // runs at c-max-rate again. The writer's latency with and without the throttle is logged.
    const writer = `python3 ${lab.repoRoot}/test/lab/scripts/qd1-writer.py /dev/bsr1 0 256`;
    type Writer = { writes: number; kib_s: number; avg_ms: number; p99_ms: number; start: number; end: number };
    /**
     * The writer for `sec` s (one write every `pace` ms, 0: back to back) and the resync rate from
     * `skip` s after its first write (the resync data in flight then is acknowledged by that time);
     * with `probe`, `status -v` and `status --json` taken that many seconds after its first write
     * (before the rate is measured: the two commands take the guest's CPU for a while).
     */
    async function writing(
      sec: number,
      pace: number,
      skip: number,
      probe = 0,
    ): Promise<{ w: Writer; rate: number; st: string; json: string }> {
      // the writer runs on until both probes are done (on a busy host they may take seconds)
      const p = probe
        ? `touch /tmp/qd1.hold; (while [ ! -e /tmp/qd1.started ]; do sleep 0.05; done; sleep ${probe}
${S} status r0 -v >/tmp/thr.st; ${S} status r0 --json >/tmp/thr.json; rm -f /tmp/qd1.hold) &
export QD1_STARTED=/tmp/qd1.started QD1_HOLD=/tmp/qd1.hold; `
        : '';
      const w = JSON.parse(
        await t.sh('alpha', `rm -f /tmp/thr.st /tmp/thr.json /tmp/qd1.started; ${p}${writer} ${sec} ${pace}; wait`),
      ) as Writer;
      // the log in a command of its own, as before: events2 may print the last progress a moment later
      const out = await t.sh(
        'alpha',
        'cat /tmp/thr.st 2>/dev/null || true; echo @@; cat /tmp/thr.json 2>/dev/null || true; echo @@; cat /tmp/ev',
      );
      const [st, json] = out.split('@@\n');
      lastEv = out.slice(out.lastIndexOf('@@\n') + 3);
      const all = oosSamples(lastEv, 0).filter(([ts]) => ts >= w.start && ts <= w.end);
      lab.log(
        `out-of-sync (KiB) while writing: ${all.map(([ts, o]) => `${(ts - w.start).toFixed(1)}s:${o}`).join(' ')}`,
      );
      const s = all.filter(([ts]) => ts >= w.start + skip);
      assert(s.length >= 3, `progress events while the writer runs (${s.length} in ${sec} s)`);
      return { w, rate: (s[0][1] - s[s.length - 1][1]) / (s[s.length - 1][0] - s[0][0]), st, json };
    }
    /**
     * resync-throttled (alpha's events2 as last read) over a writer's run: its value at `from` s
     * after the writer's start, and the flips from then until `to` s after its end.
     */
    function throttledDuring(w: Writer, from: number, to: number) {
      const flips = throttledFlips(lastEv, 0);
      const at = (ts: number) => flips.filter(([x]) => x <= ts).at(-1)?.[1] ?? 'absent';
      const during = flips.filter(([x]) => x > w.start + from && x <= w.end + to);
      lab.log(
        `resync-throttled from ${from} s into the writer to ${to} s after it: ${at(w.start + from)}, then ` +
          `${during.map(([x, v]) => `${(x - w.start).toFixed(2)}s:${v}`).join(' ') || 'no change'}`,
      );
      return { first: at(w.start + from), during, at };
    }
    /** The peer device of volume 0 in `status --json`. */
    const jsonPd = (json: string) =>
      (
        JSON.parse(json) as Array<{ connections: Array<{ 'peer-devices': Array<Record<string, unknown>> }> }>
      )[0].connections[0]['peer-devices'].find((x) => x.volume === 0) ?? {};
    const figures = (w: Writer) => `QD1 writes ${w.writes} (${w.kib_s} KiB/s), avg ${w.avg_ms} ms, p99 ${w.p99_ms} ms`;
    const held = await writing(7, 0, 3, 0.5);
    lab.log(`writer, c-min-rate 250 KiB/s: resync ${held.rate.toFixed(0)} KiB/s; ${figures(held.w)}`);
    assert(
      held.rate < Math.min(dynamic * 0.5, 600) && held.rate > 60,
      `application writes hold the resync to about c-min-rate 250 KiB/s (${held.rate.toFixed(0)} KiB/s, ` +
        `${dynamic.toFixed(0)} without them)`,
    );
    // resync-throttled: yes from the writer's first tick on, in events2, status -v and --json
    const heldThr = throttledDuring(held.w, 1, 0);
    assert(
      heldThr.first === 'yes' && heldThr.during.every(([, v]) => v === 'yes'),
      `events2: resync-throttled:yes while the writer runs (${heldThr.first}, then ` +
        `${heldThr.during.map(([, v]) => v).join(',') || 'no change'})`,
    );
    const heldStatus = held.st.split('\n').find((l) => /^ {4}volume:0 /.test(l)) ?? '';
    assert(
      / resync-suspended:no resync-throttled:yes /.test(heldStatus),
      `status -v: resync-throttled:yes (${heldStatus.trim()})`,
    );
    const heldJson = jsonPd(held.json)['resync-throttled'];
    assert(heldJson === true, `status --json: "resync-throttled": true (${heldJson})`);
    // 4 KiB every 10 ms: about 400 KiB/s replicated, of which resync-ratio 1:2 gives the resync twice
    // alpha alone: the SyncSource paces the resync (fewer commands while it runs at full speed)
    await pdOpts('alpha', 0, '--resync-ratio=1:2');
    const ratio = await writing(4.5, 10, 1);
    const share = Math.min(MAX_KIB, Math.max(250, 2 * ratio.w.kib_s));
    lab.log(`writer at ${ratio.w.kib_s} KiB/s, resync-ratio 1:2: resync ${ratio.rate.toFixed(0)} KiB/s (${share})`);
    assert(
      ratio.rate > share * 0.6 && ratio.rate < share * 1.5 && ratio.rate > held.rate * 1.5,
      `resync-ratio 1:2 gives the resync twice the replicated writes (${ratio.rate.toFixed(0)} KiB/s, want ${share})`,
    );
    const idle = await measureRate(0, 3);
    lab.log(`writer stopped: resync ${idle.toFixed(0)} KiB/s`);
    assert(idle > held.rate * 2, `the resync speeds up again once the writer stops (${idle.toFixed(0)} KiB/s)`);
    // resync-throttled: yes with the paced writer, one change to no within a second of its end
    const ratioThr = throttledDuring(ratio.w, 0.5, 3);
    const off = ratioThr.during.filter(([x]) => x > ratio.w.end);
    assert(
      ratioThr.first === 'yes' && ratioThr.during.every(([x, v]) => v === (x > ratio.w.end ? 'no' : 'yes')),
      'events2: resync-throttled:yes with the paced writer, no after it',
    );
    assert(
      off.length === 1 && off[0][0] - ratio.w.end < 1.2,
      `events2: one resync-throttled:no within a second of the writer's end (${off.map(([x]) => (x - ratio.w.end).toFixed(2))} s)`,
    );
    await pdOpts('alpha', 0, '--c-min-rate=0 --resync-ratio=');
    const free = await writing(4.5, 0, 1, 0.3);
    lab.log(`writer, c-min-rate 0 (no throttle): resync ${free.rate.toFixed(0)} KiB/s; ${figures(free.w)}`);
    assert(free.rate > held.rate * 2, `c-min-rate 0: the writer does not slow the resync (${free.rate.toFixed(0)})`);
    const freeThr = throttledDuring(free.w, 0, 0);
    assert(
      freeThr.first === 'no' && freeThr.during.length === 0,
      `c-min-rate 0: resync-throttled stays no while the writer runs (${freeThr.first}, ${freeThr.during.length} changes)`,
    );
    const freeStatus = free.st.split('\n').find((l) => /^ {4}volume:0 /.test(l)) ?? '';
    assert(
      / resync-throttled:no /.test(freeStatus),
      `c-min-rate 0: status -v resync-throttled:no (${freeStatus.trim()})`,
    );
    assert(jsonPd(free.json)['resync-throttled'] === false, 'c-min-rate 0: status --json "resync-throttled": false');
    for (const n of NODES) await pdOpts(n, 0, FAST);
    const bad = await t.exec('alpha', `${S} peer-device-options r0 1 0 --resync-ratio=2:0`);
    assert(bad.code !== 0 && /resync-ratio/.test(bad.stderr), `resync-ratio 2:0 is refused: ${bad.stderr}`);
    await waitSynced();
    await sameData(0, 'after invalidate');

    // 3b. invalidate-remote on the Primary: the peer becomes SyncTarget of the whole device
    const recv0 = Number((await pd('bravo', 1)).received);
    const before1 = (await resyncsLogged(1)).length;
    await t.sh('alpha', `${S} invalidate-remote r0 1 1`);
    await replication('bravo', 1, /^(SyncTarget|Established)$/);
    await waitSynced();
    const moved = Number((await pd('bravo', 1)).received) - recv0;
    const startedR = (await resyncsLogged(1)).slice(before1);
    lab.log(`invalidate-remote: bravo received ${moved} KiB, alpha resynced ${startedR} KiB`);
    assert(startedR.length === 1 && startedR[0] === sizeKiB, 'invalidate-remote resyncs the whole device');
    assert(moved >= sizeKiB, `the whole device moved (${moved} KiB)`);
    await sameData(1, 'after invalidate-remote');

    // 6. net-options at run time, then disconnect --force with writes pending
    for (const n of NODES)
      await t.sh(n, `${S} net-options r0 ${ID[PEER[n]]} --ping-int=4 --ping-timeout=100 --max-epoch-size=8000`);
    const show = await t.sh('alpha', `${S} show r0`);
    assert(/ping-int\s+4;/.test(show) && /max-epoch-size\s+8000;/.test(show), `show has the new net options:\n${show}`);
    await lab.linkCut('alpha', 'bravo');
    await t.sh(
      'alpha',
      `nohup dd if=${vol1.file} of=/dev/bsr1 bs=1M seek=40 oflag=direct status=none >/dev/null 2>&1 & echo $! > /tmp/dd.pid`,
    );
    await new Promise((r) => setTimeout(r, 2000));
    const pending = await status('alpha');
    lab.log(`writes pending:\n${pending.trim()}`);
    assert((await t.exec('alpha', 'kill -0 $(cat /tmp/dd.pid)')).code === 0, 'the write waits for the peer');
    assert(/connection:Connected/.test(pending), 'the cut is not noticed yet');
    const f0 = Date.now();
    await t.sh('alpha', `${S} disconnect --force r0 1`);
    await lab.waitFor(
      'the pending write completes',
      async () => (await t.exec('alpha', 'kill -0 $(cat /tmp/dd.pid)')).code !== 0,
      30_000,
      300,
    );
    lab.log(`disconnect --force and the write completed in ${((Date.now() - f0) / 1000).toFixed(1)} s`);
    const afterForce = await pd('alpha', 0);
    assert(/connection:StandAlone/.test(await status('alpha')), 'alpha StandAlone');
    assert(
      Number(afterForce['out-of-sync']) >= 8192,
      `the dropped writes are out of sync (${afterForce['out-of-sync']} KiB)`,
    );
    await lab.linkRestore('alpha', 'bravo');
    await t.sh('bravo', `${S} disconnect --force r0 0; ${S} connect r0 0`);
    await t.sh('alpha', `${S} connect r0 1`);
    await t.waitConnected();
    await waitSynced();
    await sameData(0, 'after the forced disconnect');

    // keep-alive options apply to the live connection from its next meta packet or timeout: with
    // ping-int 4 and ping-timeout 10 s the cut would go unnoticed for at least 10 s, with 2 s /
    // 2 s within 4 s
    await t.sh('alpha', `${S} net-options r0 1 --ping-int=2 --ping-timeout=20`);
    await t.sh('alpha', 'sleep 5'); // one old ping interval: a ping or its timeout has come meanwhile
    const w32 = hostData(32);
    // resync speed, as the bench measures it (with 32 MiB): cut, wait for the Primary to notice, write, restore
    const lost = t.waitConnection('alpha', false); // watching before the cut: its start is not timed
    await lab.linkCut('alpha', 'bravo');
    const c0 = Date.now();
    await lost;
    const noticed = (Date.now() - c0) / 1000;
    lab.log(`cut noticed after ${noticed.toFixed(1)} s with ping-int 2 / ping-timeout 2 s set at run time`);
    assert(noticed < 8, `the run-time ping-int/ping-timeout are used (cut noticed after ${noticed.toFixed(1)} s)`);
    await t.sh('alpha', `dd if=${w32.file} of=/dev/bsr1 bs=1M oflag=direct status=none`);
    await lab.linkRestore('alpha', 'bravo');
    const g0 = await guestNow('alpha');
    const h0 = Date.now();
    await waitSynced();
    const total = (Date.now() - h0) / 1000;
    const ev = (await t.sh('alpha', 'cat /tmp/ev')).split('\n');
    /** Seconds from the restore to the first matching event at least `after` seconds after it. */
    const at = (re: RegExp, after = 0) => {
      const l = ev.find((x) => re.test(x) && Date.parse(x.split(' ')[0]) / 1000 - g0 >= after);
      return l ? Date.parse(l.split(' ')[0]) / 1000 - g0 : Number.NaN;
    };
    const conn = at(/change connection .*connection:Connected/);
    const begin = at(/change peer-device .*volume:0 .*replication:SyncSource/, conn);
    const end = at(/change peer-device .*volume:0 .*replication:Established/, begin);
    lab.log(
      `resync of 32 MiB: ${total.toFixed(1)} s until both UpToDate (polled); events: connected +${conn.toFixed(2)} s, ` +
        `SyncSource +${begin.toFixed(2)} s, Established +${end.toFixed(2)} s (transfer ${(end - begin).toFixed(2)} s)`,
    );
    assert((await t.sum('bravo', '/dev/vda', 0, 32)) === w32.sum, 'the 32 MiB arrived on bravo');

    for (const n of NODES) await t.exec(n, 'kill $(cat /tmp/ev.pid)');
    await t.downAll();
  },
});
