// Online verify while the Primary's application writes: first an O_DIRECT writer rewriting blocks
// in the verified range over and over, then an ext4 file system where files are created, appended
// and deleted; no write makes a false positive, verify ends, nothing out of sync. Then a switchover
// while a verify runs: the peer's promotion ends the run, which found nothing, no hang, nothing
// out of sync, the files read back on the peer. Status and events2 show VerifyS/VerifyT, done:
// and eta while a run goes on.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, twoNodes } from '../fixtures.js';

/** Creates, appends to and deletes files under /tmp/m until /tmp/fsstop exists; prints "writes N". */
const FS_WRITER = `i=0
while [ ! -e /tmp/fsstop ]; do
  i=$((i + 1))
  head -c $(( (RANDOM % 256 + 4) * 1024 )) /dev/urandom > /tmp/m/f$((i % 40))
  head -c 4096 /dev/urandom >> /tmp/m/log$((i % 3))
  [ $((i % 7)) -eq 0 ] && rm -f /tmp/m/f$((i % 13))
  [ $((i % 5)) -eq 0 ] && sync
done
echo writes $i`;

export default scenario({
  title: 'online verify under application writes and a file system finds nothing',
  nodes: 2,
  diskSize: '128M',
  timeoutSec: 500,
  async run(lab) {
    const t = twoNodes(lab);
    // 8 MiB/s: a verify takes about 15 s, the writers run through all of it (c-min-rate 0: the
    // application-I/O throttle would hold the verify to 250 KiB/s while they write)
    await t.upSkipSync({
      net: `${FAST_NET} --verify-alg=crc32c`,
      pd: '--c-plan-ahead=0 --resync-rate=8M --c-min-rate=0',
    });
    await t.sh('alpha', `${t.S} primary r0`);
    const verify = `${t.S} verify r0 1 0 && ${t.S} wait-sync-volume r0 1 0 --wait-timeout=200`;
    const runs = async () =>
      (await lab.dmesg('alpha')).split('\n').filter((l) => /online verify (done|stopped)/.test(l));
    await t.startWriter(1, 0, 8192, 8);
    await t.sh('alpha', verify);
    await t.stopWriter();
    let done = await runs();
    lab.log(done.join('\n'));
    assert(done.length === 1 && done[0].includes(': 0 KiB out of sync in 0 ranges'), 'no false positive (raw)');
    assert((await t.stat('alpha', 'out-of-sync')) === 0, 'nothing out of sync on alpha');
    assert(
      (await t.blocksSum('alpha', 0, 8192)) === (await t.blocksSum('bravo', 0, 8192)),
      'the written blocks are equal',
    );

    await t.sh('alpha', 'modprobe ext4; mkfs.ext4 -q -F /dev/bsr1 && mkdir -p /tmp/m && mount /dev/bsr1 /tmp/m');
    await t.sh('alpha', `rm -f /tmp/fsstop; nohup bash -c '${FS_WRITER}' > /tmp/fswriter.out 2>&1 &`);
    await t.sh('alpha', verify);
    await t.sh('alpha', 'touch /tmp/fsstop; while ! grep -q writes /tmp/fswriter.out; do sleep 0.2; done');
    lab.log(`file system writer: ${(await t.sh('alpha', 'cat /tmp/fswriter.out')).trim()}`);
    done = await runs();
    assert(
      done.length === 2 && done[1].includes(': 0 KiB out of sync in 0 ranges'),
      `no false positive (ext4): ${done[1]}`,
    );
    assert((await t.stat('alpha', 'out-of-sync')) === 0, 'nothing out of sync after the file system verify');

    // Switchover during a verify: alpha unmounts and demotes, bravo's promotion ends the run (of
    // the whole device: with FastSync the run over the few used blocks would end by itself first).
    await t.sh('alpha', 'cd /tmp/m && sha256sum f* log* > /tmp/files.sum && cd / && umount /tmp/m');
    await t.sh('alpha', `${t.S} resource-options r0 --fast-sync=no`);
    await t.sh('alpha', `${t.S} verify r0 1 0`);
    // while it runs (the whole device at 8 MiB/s): status and events2 show VerifyS / VerifyT, done: and eta
    await t.waitState('alpha', 'VerifyS with progress', (r) => Number(r.field('done')) > 0);
    const st = await t.status('alpha');
    const fieldsOf = async (n: 'alpha' | 'bravo') => ({
      replication: await t.pdField(n, 'replication'),
      done: await t.pdField(n, 'done'),
      eta: await t.pdField(n, 'eta'),
    });
    const [fa, fb] = [await fieldsOf('alpha'), await fieldsOf('bravo')];
    lab.log(`during the verify: alpha ${JSON.stringify(fa)}, bravo ${JSON.stringify(fb)}`);
    assert(
      /replication:VerifyS\b/.test(st) && /\bdone:[\d.]+/.test(st) && /\beta:\d+/.test(st),
      `status shows the run:\n${st}`,
    );
    assert(fa.replication === 'VerifyS' && fb.replication === 'VerifyT', 'events2: VerifyS on alpha, VerifyT on bravo');
    assert(Number(fa.done) > 0 && fa.eta !== undefined && fb.done !== undefined, 'events2: done and eta');
    await t.sh('alpha', `${t.S} secondary r0`);
    await t.sh('bravo', `${t.S} primary r0 && e2fsck -fn /dev/bsr1 && mkdir -p /tmp/m && mount /dev/bsr1 /tmp/m`);
    await t.sh('alpha', `${t.S} wait-sync-volume r0 1 0 --wait-timeout=100`);
    done = await runs();
    lab.log(done.slice(2).join('\n'));
    const stopped = done.find((l) => l.includes('online verify stopped')) ?? '';
    assert(stopped, 'the promotion ended the run');
    assert(/: 0 KiB out of sync in 0 ranges/.test(stopped), `no false positive in the stopped run: ${stopped}`);
    for (const n of ['alpha', 'bravo'] as const)
      assert((await t.stat(n, 'out-of-sync')) === 0, `${n}: nothing out of sync after the switchover`);
    const sums = await t.sh('alpha', 'cat /tmp/files.sum');
    const check = await t.sh('bravo', `cd /tmp/m && printf '%s' '${sums}' | sha256sum -c --quiet && echo files-equal`);
    assert(check.includes('files-equal'), `every file reads back on bravo:\n${check}`);
    await t.sh('bravo', 'umount /tmp/m');
    await t.downAll();
  },
});
