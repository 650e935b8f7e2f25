// Online verify with FastSync: after a FastSync initial sync, the blocks of a file deleted
// before it hold random data on alpha and zeros on bravo (free blocks are not copied). A verify
// from the Primary, its ext4 mounted (frozen while bsrsetup reads the map), compares only the
// used blocks: it finds exactly the one used block corrupted on bravo's disk behind bsr's back,
// not the free ones. With fast-sync off the same verify compares every block and reports the
// deleted file's blocks as well.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, twoNodes } from '../fixtures.js';
import { forcePrimary } from './steps.js';

const DELETED_KIB = 4096;

export default scenario({
  title: 'FastSync: verify compares only the used blocks; without FastSync it reports the free ones',
  nodes: 2,
  diskSize: '128M',
  timeoutSec: 600,
  async run(lab) {
    const t = twoNodes(lab);
    await t.sh(
      'alpha',
      `modprobe ext4
mkfs.ext4 -q -F -b 4096 /dev/vda 96M
mkdir -p /tmp/m && mount /dev/vda /tmp/m
head -c 3000000 /dev/urandom > /tmp/m/keep
head -c ${DELETED_KIB * 1024} /dev/urandom > /tmp/m/deleted
sync; rm /tmp/m/deleted
umount /tmp/m`,
    );
    const keepBlock = Number((await t.sh('alpha', 'debugfs -R "blocks /keep" /dev/vda 2>/dev/null')).split(/\s+/)[0]);
    assert(keepBlock > 0, `a block of /keep (${keepBlock})`);
    await Promise.all(
      ['alpha', 'bravo'].map((n) => t.up(n as 'alpha' | 'bravo', { net: `${FAST_NET} --verify-alg=crc32c` })),
    );
    await t.waitConnected();
    const p = await forcePrimary(lab, t);
    assert(/FastSync map of \/dev\/vda \(ext4\)/.test(p.out), `a FastSync initial sync:\n${p.out}`);
    await t.waitSynced(240_000);
    // one used block differs on bravo, behind bsr's back
    await t.sh(
      'bravo',
      `dd if=/dev/urandom of=/dev/vda bs=4096 seek=${keepBlock} count=1 oflag=direct conv=notrunc status=none`,
    );
    await t.sh('alpha', 'mkdir -p /tmp/m && mount /dev/bsr1 /tmp/m');

    const sectors = Number(await t.sh('alpha', 'blockdev --getsz /dev/bsr1'));
    const verify = async (label: string) => {
      const r = await lab.exec('alpha', [
        'sh',
        '-c',
        `${t.S} verify r0 1 0 2>&1 && ${t.S} wait-sync-volume r0 1 0 --wait-timeout=300`,
      ]);
      assert(r.code === 0, `${label}: verify runs:\n${r.stdout}${r.stderr}`);
      const done = (await lab.dmesg('alpha')).split('\n').filter((l) => l.includes('online verify done'));
      const line = done.at(-1) ?? '';
      lab.log(
        `${label}: ${r.stdout.trim().replace(/\n/g, ' | ')} | ${line.replace(/^.*online verify/, 'online verify')}`,
      );
      const kib = Number(/online verify done at sector \d+: (\d+) KiB out of sync/.exec(line)?.[1]);
      return { out: r.stdout, line, kib, runs: done.length };
    };

    const fast = await verify('fast-sync yes');
    assert(/FastSync map of \/dev\/vda \(ext4\)/.test(fast.out), 'bsrsetup hands the verify a map');
    assert(/FastSync: verify compares only the \d+ KiB/.test(await lab.dmesg('alpha')), 'the kernel log says FastSync');
    assert(
      fast.kib === 4 && /\(FastSync: used blocks only\)/.test(fast.line),
      `only the corrupted used block (${fast.kib} KiB)`,
    );

    await lab.waitFor('bravo to end its run as done, not stopped', async () =>
      /online verify done at sector \d+: 4 KiB out of sync/.test(await lab.dmesg('bravo')),
    );
    await t.sh('alpha', `${t.S} disconnect r0 1\n${t.S} connect r0 1`);
    await t.waitSynced(120_000);
    await t.sh('alpha', `${t.S} resource-options r0 --fast-sync=no`);
    const full = await verify('fast-sync no');
    assert(full.runs === 2 && full.line.includes(`done at sector ${sectors}:`), 'a second verify of all ran');
    assert(/verify compares every block: fast-sync is off/.test(await lab.dmesg('alpha')), 'the kernel log says why');
    assert(full.kib >= DELETED_KIB, `every block compared: the deleted file's free blocks differ (${full.kib} KiB)`);
    await t.sh('alpha', 'umount /tmp/m');
    await t.downAll();
  },
});
