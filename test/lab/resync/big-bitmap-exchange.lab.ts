// A 150 GiB sparse device (a loop device on a file in the guest's tmpfs, internal meta
// data, a bitmap of ~4.7 MiB a node). Link cut, a few scattered MiB written on the Primary, link
// restored: the bitmaps (larger than the socket buffers) are exchanged run-length coded without the
// two nodes waiting for each other, the resync moves only what was written, the data match.
// Along the way: a Secondary that loses its Primary stays UpToDate; on reconnect it learns it is
// behind and goes Outdated -> Inconsistent (SyncTarget) -> UpToDate; an `outdate`d disk stays Outdated
// over down/up, refuses a plain `primary`, and is UpToDate again once connected.
import { guestSteps } from '../../../tools/lab/paths.js';
import type { NodeName } from '../../../tools/lab/scenario.js';
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, FAST_PD, ID, NODES, PEER, twoNodes } from '../fixtures.js';

const SIZE_GIB = 150;
const WRITES_MIB = [0, 9000, 31000, 52000, 77000, 101000, 128000, 150000] as const;

export default scenario({
  title: 'big sparse bitmap exchanged compressed, resync of the written blocks only, Outdated while behind',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 600,
  async run(lab) {
    const t = twoNodes(lab);
    const loop: Record<string, string> = {};

    const attach = (n: NodeName) =>
      t.sh(
        n,
        guestSteps(lab.repoRoot, [
          `bsrsetup new-resource r0 ${ID[n]}`,
          'bsrsetup new-minor r0 1 0',
          `bsrsetup new-peer r0 ${ID[PEER[n]]} --_name=${PEER[n]} ${FAST_NET}`,
          `bsrsetup new-path r0 ${ID[PEER[n]]} ipv4:${lab.address(n, PEER[n])}:7789 ipv4:${lab.address(PEER[n], n)}:7789`,
          `bsrsetup attach 1 ${loop[n]} ${loop[n]} internal`,
          `bsrsetup peer-device-options r0 ${ID[PEER[n]]} 0 ${FAST_PD}`,
        ]),
      );
    const connect = (n: NodeName) => t.sh(n, `${t.S} connect r0 ${ID[PEER[n]]}`);

    for (const n of NODES) {
      loop[n] = (
        await t.sh(n, `modprobe loop; truncate -s ${SIZE_GIB}G /tmp/big.img && losetup -f --show /tmp/big.img`)
      ).trim();
      await t.sh(n, `${t.M} --force 1 v09 ${loop[n]} internal create-md --max-peers=1 </dev/null`);
      await attach(n);
      await connect(n);
    }
    await t.waitConnected();
    await t.sh('alpha', `${t.S} new-current-uuid --clear-bitmap 1`);
    await t.waitSynced(60_000);
    await t.sh('alpha', `${t.S} primary r0`);

    await lab.linkCut('alpha', 'bravo');
    await Promise.all(NODES.map((n) => t.waitConnection(n, false)));
    const bravoCut = await t.status('bravo');
    assert(/(^|\s)disk:UpToDate/.test(bravoCut), `a Secondary cut off its Primary stays UpToDate:\n${bravoCut}`);

    const sums: string[] = [];
    for (const off of WRITES_MIB) sums.push(await t.write('alpha', off, 1));
    const oos = await t.stat('alpha', 'out-of-sync');
    lab.log(`out-of-sync on alpha while cut: ${oos} KiB`);
    assert(oos === WRITES_MIB.length * 1024, `${WRITES_MIB.length} MiB out of sync (${oos} KiB)`);

    await t.sh('bravo', `nohup ${t.S} events2 > /tmp/ev 2>&1 &`);
    await lab.waitFor('bravo events2 running', async () => /exists -/.test(await t.sh('bravo', 'cat /tmp/ev')), 60_000);
    const dmesgMark = Object.fromEntries(
      await Promise.all(NODES.map(async (n) => [n, (await lab.dmesg(n)).split('\n').length] as const)),
    );
    await lab.linkRestore('alpha', 'bravo');
    const t0 = Date.now();
    await t.waitSynced(240_000);
    const took = (Date.now() - t0) / 1000;

    for (const n of NODES) {
      const fresh = (await lab.dmesg(n)).split('\n').slice(dmesgMark[n] - 1);
      const sent = fresh.filter((l) => /bitmap sent:/.test(l));
      lab.log(`${n}: ${sent.map((l) => l.replace(/^.*bitmap sent: /, 'bitmap sent: ')).join(' | ')}`);
      assert(sent.length === 1, `${n}: one bitmap sent`);
      const m = /(\d+) words, (\d+) bytes in (\d+) packets \((\d+) compressed\), plain (\d+) bytes/.exec(sent[0]);
      assert(m, `${n}: bitmap line parses`);
      const [words, wire, , , plain] = m.slice(1).map(Number);
      assert(words * 8 > 4 << 20, `${n}: the bitmap is several MiB (${words * 8} bytes)`);
      assert(wire * 50 < plain, `${n}: compressed ${wire} bytes vs plain ${plain} bytes`);
      const rs = fresh.map((l) => /resync as (SyncSource|SyncTarget), (\d+) KiB/.exec(l)).find(Boolean);
      assert(rs, `${n}: resync started`);
      lab.log(`${n}: resync as ${rs[1]}, ${rs[2]} KiB`);
      assert(Number(rs[2]) === WRITES_MIB.length * 1024, `${n}: the resync covers only the written MiB`);
    }
    lab.log(`link restored -> in sync: ${took.toFixed(1)} s`);
    assert(took < 90, `bitmap exchange and resync were quick (${took.toFixed(1)} s)`);

    for (const [i, off] of WRITES_MIB.entries())
      assert(sums[i] === (await t.sum('bravo', loop.bravo, off, 1)), `the MiB at ${off} MiB matches on bravo`);
    assert(
      (await t.sum('alpha', '/dev/bsr1', 0, 16)) === (await t.sum('bravo', loop.bravo, 0, 16)),
      'first 16 MiB equal',
    );

    await t.exec('bravo', 'pkill -f "[b]srsetup.* events2"');
    const disks = (await t.sh('bravo', 'cat /tmp/ev'))
      .split('\n')
      .filter((l) => /^change device /.test(l))
      .map((l) => /disk:(\S+)/.exec(l)?.[1])
      .filter((d): d is string => d !== undefined);
    lab.log(`bravo disk states after the restore: ${disks.join(' -> ')}`);
    const order = ['Outdated', 'Inconsistent', 'UpToDate'].map((s) => disks.indexOf(s));
    assert(order[0] >= 0 && order[0] < order[1] && order[1] < order[2], 'bravo: Outdated -> Inconsistent -> UpToDate');

    // outdate: persisted over down/up, refuses a plain primary, reconnecting makes it UpToDate
    await t.sh('bravo', `${t.S} disconnect r0 0 && ${t.S} outdate 1`);
    await t.sh('bravo', `${t.S} down r0`);
    assert(/Outdated/.test(await t.sh('bravo', `${t.M} 1 v09 ${loop.bravo} internal dstate`)), 'Outdated on disk');
    await attach('bravo');
    assert(/(^|\s)disk:Outdated/.test(await t.status('bravo')), 'Outdated after attach');
    const refused = await t.exec('bravo', `${t.S} primary r0`);
    assert(refused.code !== 0, 'primary on Outdated data is refused');
    lab.log(`bravo primary: ${(refused.stderr || refused.stdout).trim()}`);
    await connect('bravo');
    await t.waitSynced(120_000);

    await t.downAll();
    for (const n of NODES) await t.sh(n, `losetup -d ${loop[n]}; rm -f /tmp/big.img`);
  },
});
