#!/usr/bin/env node
// Single-node figures of bsr.ko (engine part 1): a disconnected Primary (/dev/bsr1 over /dev/vda,
// internal meta data, the peer configured but absent, so every write also sets bitmap bits)
// against the raw second disk (/dev/vdb) of the same guest, with the bench's loads:
//   seq: 128 MiB of 1 MiB O_DIRECT writes (dd), MB/s
//   lat: fio 4 KiB O_DIRECT random writes, queue depth 1 (psync), mean latency in us
// Rounds alternate raw and bsr so that the host's load hits both alike; the table shows the best
// round of each, the JSON also the medians (a busy TCG host varies by tens of percent).
// Usage: node scripts/bench-kmod-local.mjs [--rounds N] [--lat-seconds S] [--keep]
// Boots the lab (npm run lab -- up) unless it already runs; stops it afterwards if it started it
// (--keep leaves it running). Honors BSR_LAB_DIR like the lab CLI. Prints a table and a JSON line.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const labCli = join(root, 'dist/lab.mjs');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const ROUNDS = Number(opt('--rounds', '2'));
const LAT_S = Number(opt('--lat-seconds', '15'));
const KEEP = args.includes('--keep');
const NODE = 'alpha';
// the bundles directly, as the lab scenarios do (tools/lab/paths.ts guestCli)
const S = `node ${root}/dist/bsrsetup.cjs`;
const M = `node ${root}/dist/bsrmeta.cjs`;

function lab(argv, { input, check = true } = {}) {
  const r = spawnSync(process.execPath, [labCli, ...argv], { encoding: 'utf8', input, maxBuffer: 64 << 20 });
  if (check && r.status !== 0) throw new Error(`lab ${argv.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r;
}
const sh = (script) => lab(['exec', NODE, '--', 'sh', '-ec', script]).stdout;
const log = (m) => process.stderr.write(`bench-kmod-local: ${m}\n`);

function labRunning() {
  const r = lab(['info', '--json'], { check: false });
  if (r.status !== 0) return false;
  try {
    return JSON.parse(r.stdout).nodes?.[NODE]?.running === true;
  } catch {
    return false;
  }
}

function seq(dev) {
  const out = sh(
    `s=$(date +%s%N); dd if=/tmp/src of=${dev} bs=1M count=128 oflag=direct conv=notrunc status=none; e=$(date +%s%N); echo $((e - s))`,
  );
  const ns = Number(out.trim().split('\n').at(-1));
  return (128 * 1048576) / 1e6 / (ns / 1e9);
}

function lat(dev) {
  const out = sh(
    `fio --name=lat --filename=${dev} --rw=randwrite --bs=4k --iodepth=1 --ioengine=psync --direct=1 ` +
      `--offset=256M --size=64M --runtime=${LAT_S} --time_based --randrepeat=1 --norandommap --output-format=json`,
  );
  const w = JSON.parse(out.slice(out.indexOf('{'))).jobs[0].write;
  return (w.lat_ns?.mean ?? w.clat_ns?.mean) / 1000;
}

let started = false;
try {
  if (!labRunning()) {
    log('booting the lab');
    lab(['up', '--nodes', '2']);
    started = true;
  }
  sh(`cd ${root}
grep -q "^version" /proc/bsr 2>/dev/null || insmod native/kmod/bsr.ko
${S} down r0 >/dev/null 2>&1 || true
${M} --force 1 v09 /dev/vda internal create-md --max-peers=2 </dev/null >/dev/null
${S} new-resource r0 0
${S} new-minor r0 1 0
${S} new-peer r0 1 --_name=bravo
${S} attach 1 /dev/vda /dev/vda internal
${S} primary r0 --force
dd if=/dev/urandom of=/tmp/src bs=1M count=128 status=none`);
  const best = { raw_seq: 0, bsr_seq: 0, raw_lat: Number.POSITIVE_INFINITY, bsr_lat: Number.POSITIVE_INFINITY };
  const all = { raw_seq: [], bsr_seq: [], raw_lat: [], bsr_lat: [] };
  const median = (a) => {
    const s = [...a].sort((x, y) => x - y);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  // warm-up: activates the AL extents of the regions (the first writes of an extent pay an AL write)
  seq('/dev/bsr1');
  for (let r = 1; r <= ROUNDS; r++) {
    const rs = seq('/dev/vdb');
    const bs = seq('/dev/bsr1');
    const rl = lat('/dev/vdb');
    const bl = lat('/dev/bsr1');
    log(
      `round ${r}: seq raw ${rs.toFixed(1)} bsr ${bs.toFixed(1)} MB/s; 4k qd1 raw ${rl.toFixed(1)} bsr ${bl.toFixed(1)} us`,
    );
    all.raw_seq.push(rs);
    all.bsr_seq.push(bs);
    all.raw_lat.push(rl);
    all.bsr_lat.push(bl);
    best.raw_seq = Math.max(best.raw_seq, rs);
    best.bsr_seq = Math.max(best.bsr_seq, bs);
    best.raw_lat = Math.min(best.raw_lat, rl);
    best.bsr_lat = Math.min(best.bsr_lat, bl);
  }
  const stats = sh(`${S} status r0 --statistics -v`);
  sh(`${S} down r0`);
  const result = {
    engine: 'bsr-local',
    raw_seq_write_MBps: +best.raw_seq.toFixed(1),
    bsr_seq_write_MBps: +best.bsr_seq.toFixed(1),
    seq_ratio: +(best.bsr_seq / best.raw_seq).toFixed(3),
    raw_write_4k_qd1_lat_us: +best.raw_lat.toFixed(1),
    bsr_write_4k_qd1_lat_us: +best.bsr_lat.toFixed(1),
    // throughput equivalent at QD1: raw latency / bsr latency
    qd1_ratio: +(best.raw_lat / best.bsr_lat).toFixed(3),
    rounds: ROUNDS,
    median_seq_ratio: +(median(all.bsr_seq) / median(all.raw_seq)).toFixed(3),
    median_qd1_ratio: +(median(all.raw_lat) / median(all.bsr_lat)).toFixed(3),
  };
  process.stdout.write(
    `\n${'load'.padEnd(34)}${'raw /dev/vdb'.padStart(14)}${'bsr /dev/bsr1'.padStart(15)}${'bsr/raw'.padStart(9)}\n` +
      `${'1 MiB seq O_DIRECT writes, MB/s'.padEnd(34)}${String(result.raw_seq_write_MBps).padStart(14)}${String(result.bsr_seq_write_MBps).padStart(15)}${String(result.seq_ratio).padStart(9)}\n` +
      `${'4 KiB QD1 random writes, us'.padEnd(34)}${String(result.raw_write_4k_qd1_lat_us).padStart(14)}${String(result.bsr_write_4k_qd1_lat_us).padStart(15)}${String(result.qd1_ratio).padStart(9)}\n\n` +
      `${stats}\n${JSON.stringify(result)}\n`,
  );
} finally {
  if (started && !KEEP) lab(['down'], { check: false });
}
