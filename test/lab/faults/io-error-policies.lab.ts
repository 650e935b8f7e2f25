// Single node: lower device I/O errors and diskless I/O.
// The backing device is a device-mapper table whose 4-5 MiB area can be switched to dm-error.
// - on-io-error passthrough (the default): I/O to the bad area fails with EIO, the rest works, the
//   disk stays UpToDate;
// - max-passthrough-count 2: two errors pass through, the third detaches the disk;
// - a detached (Secondary) device keeps its size;
// - on-io-error detach: the first error makes the disk Failed, then Diskless (IO_ERROR event);
//   later I/O anywhere fails with EIO and `status` shows disk:Diskless;
// - on-no-data-accessible suspend-io: a write of the diskless Primary is held (suspended:no-data)
//   and goes on after an attach; after resume-io held and later I/O fails with EIO; down and
//   rmmod work.
import { waitEvents } from '../../../tools/lab/bsr-wait.js';
import { guestCli } from '../../../tools/lab/paths.js';
import { scenario } from '../../../tools/lab/scenario.js';

const N = 'alpha' as const;
const MIB = 2048; // sectors

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

export default scenario({
  title: 'on-io-error passthrough and detach, diskless I/O fails with EIO',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 600,
  async run(lab) {
    const repo = lab.repoRoot;
    const S = guestCli(repo, 'bsrsetup');
    const M = guestCli(repo, 'bsrmeta');
    const sh = (script: string) => lab.sh(N, script);
    const dd = (args: string) => lab.exec(N, ['sh', '-c', `dd ${args} bs=4096 count=4 status=none`]);
    const expectEio = async (what: string, args: string) => {
      const r = await dd(args);
      assert(r.code !== 0 && /Input\/output error/.test(r.stderr), `${what}: expected EIO, got ${r.code} ${r.stderr}`);
    };
    const expectOk = async (what: string, args: string) => {
      const r = await dd(args);
      assert(r.code === 0, `${what}: failed: ${r.stderr}`);
    };
    const status = () => sh(`${S} status r0 -v`);

    await lab.disk.linear(N, 'bsrdisk', '/dev/vda');
    // bsrmeta finds the size through /sys/class/block, under the dm-N name
    const dev = `/dev/dm-${(await sh('dmsetup info -c --noheadings -o minor bsrdisk')).trim()}`;
    const size = Number((await sh(`blockdev --getsz ${dev}`)).trim());
    // sectors [4 MiB, 5 MiB) fail, the rest (with the meta data at the end) maps to /dev/vda
    const badTable = [
      `0 ${4 * MIB} linear /dev/vda 0`,
      `${4 * MIB} ${MIB} error`,
      `${5 * MIB} ${size - 5 * MIB} linear /dev/vda ${5 * MIB}`,
    ].join('\\n');
    const breakArea = () =>
      sh(`printf '${badTable}\\n' | dmsetup load bsrdisk
dmsetup suspend --noflush bsrdisk
dmsetup resume bsrdisk`);

    await sh(`${M} --force 1 v09 ${dev} internal create-md --max-peers=2 </dev/null`);
    await sh(`${S} new-resource r0 0
${S} new-minor r0 1 0
${S} new-minor r0 2 1`);
    // a device that was never attached has no size
    assert((await sh('cat /sys/block/bsr2/size')).trim() === '0', 'a never attached device has no size');
    await sh(`${S} del-minor 2
${S} attach 1 ${dev} ${dev} internal
${S} primary r0 --force`);

    await expectOk('write before the fault', 'if=/dev/urandom of=/dev/bsr1 seek=1024 oflag=direct');
    await breakArea();
    await expectEio('passthrough: write to the bad area', 'if=/dev/zero of=/dev/bsr1 seek=1024 oflag=direct');
    await expectEio('passthrough: read of the bad area', 'if=/dev/bsr1 of=/dev/null skip=1030 iflag=direct');
    await expectOk('passthrough: write elsewhere', 'if=/dev/urandom of=/dev/bsr1 seek=0 oflag=direct');
    await expectOk('passthrough: read elsewhere', 'if=/dev/bsr1 of=/dev/null skip=2048 iflag=direct');
    const st1 = await status();
    assert(/disk:UpToDate/.test(st1), `passthrough keeps the disk:\n${st1}`);
    lab.log('passthrough: EIO in the bad area only, disk UpToDate');

    // detached: the device keeps its size (as a Secondary it cannot be opened)
    const sizeBefore = (await sh('cat /sys/block/bsr1/size')).trim();
    await sh(`${S} secondary r0 && ${S} detach 1`);
    const sizeAfter = (await sh('cat /sys/block/bsr1/size')).trim();
    assert(sizeAfter === sizeBefore, `size after detach ${sizeAfter}, before ${sizeBefore}`);
    lab.log(`detached: size kept (${sizeAfter} sectors)`);

    // max-passthrough-count 2: errors 1 and 2 pass through, the third detaches (one 4 KiB write each)
    await sh(`${S} attach 1 ${dev} ${dev} internal --max-passthrough-count=2 && ${S} primary r0`);
    const badWrite = () =>
      lab.exec(N, ['sh', '-c', 'dd if=/dev/zero of=/dev/bsr1 bs=4096 count=1 seek=1024 oflag=direct status=none']);
    for (const n of [1, 2]) {
      assert((await badWrite()).code !== 0, `max-passthrough-count: error ${n} is EIO`);
      assert(/disk:UpToDate/.test(await status()), `max-passthrough-count 2: error ${n} passes through`);
    }
    await badWrite();
    await waitEvents(lab, N, 'r0', 'the third error to detach', (r) => r.field('disk') === 'Diskless', 30_000);
    lab.log('max-passthrough-count 2: two errors passed through, the third detached the disk');
    await sh(`${S} secondary r0`);

    // on-io-error detach
    await sh(`${S} attach 1 ${dev} ${dev} internal --on-io-error=detach && ${S} primary r0`);
    await sh(`rm -f /tmp/ev; nohup ${S} events2 r0 > /tmp/ev 2>&1 & echo $! > /tmp/ev.pid`);
    await lab.waitFor('events2 to start', async () => /exists -/.test(await sh('cat /tmp/ev')), 20_000, 200);
    await expectEio('detach: write to the bad area', 'if=/dev/zero of=/dev/bsr1 seek=1024 oflag=direct');
    await waitEvents(lab, N, 'r0', 'the disk to become Diskless', (r) => r.field('disk') === 'Diskless', 30_000);
    const st2 = await status();
    assert(/disk:Diskless/.test(st2), `status shows disk:Diskless:\n${st2}`);
    lab.log(`after the error:\n${st2.trim()}`);
    await expectEio('detach: write elsewhere', 'if=/dev/zero of=/dev/bsr1 seek=0 oflag=direct');
    await expectEio('detach: read elsewhere', 'if=/dev/bsr1 of=/dev/null skip=0 iflag=direct');
    const ev = await sh('sleep 1; cat /tmp/ev; kill $(cat /tmp/ev.pid)');
    lab.log(`events:\n${ev.trim()}`);
    assert(/io-error/.test(ev), 'an IO_ERROR event was sent');
    assert(/disk:Failed/.test(ev) && /disk:Diskless/.test(ev), 'the device went Failed, then Diskless');

    // on-no-data-accessible suspend-io: the Primary without a disk holds its I/O instead
    await sh(`${S} resource-options r0 --on-no-data-accessible=suspend-io
dd if=/dev/urandom of=/tmp/nod.pat bs=4096 count=4 status=none`);
    const heldWrite = () =>
      sh(`rm -f /tmp/nod.rc; nohup sh -c 'dd if=/tmp/nod.pat of=/dev/bsr1 bs=4096 seek=2048 oflag=direct status=none 2>/tmp/nod.err; echo $? > /tmp/nod.rc' > /dev/null 2>&1 &
sleep 2; cat /tmp/nod.rc 2>/dev/null || echo running`);
    const heldRc = () =>
      lab
        .waitFor(
          'the held write to end',
          async () => (await sh('cat /tmp/nod.rc 2>/dev/null || true')).trim(),
          20_000,
          200,
        )
        .catch(async (e) => {
          const log = (await lab.dmesg(N)).split('\n').filter((l) => l.includes('bsr'));
          throw new Error(`${e.message}\n${await status()}\n${log.slice(-12).join('\n')}`);
        });
    assert((await heldWrite()).trim() === 'running', 'suspend-io: a write without a disk is held, not failed');
    const st3 = await status();
    assert(/suspended:no-data/.test(st3), `status shows suspended:no-data:\n${st3}`);
    await sh(`${S} attach 1 ${dev} ${dev} internal --on-io-error=detach`);
    assert((await heldRc()) === '0', `the held write went on after the attach: ${await sh('cat /tmp/nod.err')}`);
    const [pat, onDisk] = await Promise.all([
      sh('sha256sum < /tmp/nod.pat'),
      sh('dd if=/dev/bsr1 bs=4096 skip=2048 count=4 iflag=direct status=none | sha256sum'),
    ]);
    assert(pat === onDisk, 'the held write reached the disk');
    assert(/ suspended:no\s/.test(await status()), 'not suspended after the attach');
    lab.log(`suspend-io: a write held while diskless (${st3.split('\n')[0].trim()}) completed after the attach`);
    // resume-io gives up: what is held fails, and so does what comes until a disk is attached
    await sh(`${S} detach 1 --force`);
    assert((await heldWrite()).trim() === 'running', 'suspend-io: held again after a detach');
    await sh(`${S} resume-io 1`);
    assert(
      (await heldRc()) !== '0' && /Input\/output error/.test(await sh('cat /tmp/nod.err')),
      'resume-io: the held write failed with EIO',
    );
    await expectEio('resume-io: a later write', 'if=/dev/zero of=/dev/bsr1 seek=0 oflag=direct');
    assert(/ suspended:no\s/.test(await status()), 'not suspended after resume-io');
    lab.log('resume-io: the held write and a later one failed with EIO');

    await sh(`${S} secondary r0 && ${S} down r0 && rmmod bsr`);
    await lab.disk.remove(N, 'bsrdisk');
    const d = await lab.dmesg(N);
    assert(!/WARNING:|BUG:|Oops|general protection|list_del corruption/.test(d), `kernel warning:\n${d.slice(-4000)}`);
  },
});
