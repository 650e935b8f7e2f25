// connect --tentative: a dry run of the handshake. bravo was disconnected while alpha, Primary,
// wrote 8 MiB. bravo's tentative connect makes both nodes log what the connection would do (bravo
// SyncTarget, alpha SyncSource, 8192 KiB each) and nothing else: bravo's disk is unchanged to
// the byte, alpha's out-of-sync count too, bravo ends StandAlone and alpha goes on trying to
// connect. The real connect then resyncs exactly that. `tentative` outside connect is refused.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';

const DISK_MIB = 64;

export default scenario({
  title: 'connect --tentative logs what the handshake would do and changes nothing',
  nodes: 2,
  diskSize: `${DISK_MIB}M`,
  timeoutSec: 240,
  async run(lab) {
    const t = twoNodes(lab);
    const { S } = t;
    const net = '--ping-int=2 --ping-timeout=20 --connect-int=1';
    const tentativeLines = async (n: 'alpha' | 'bravo') =>
      (await lab.dmesg(n)).split('\n').filter((l) => /bsr: .*tentative/.test(l));

    await t.upSkipSync({ net });
    await t.sh('alpha', `${S} primary r0`);
    await t.sh('bravo', `${S} disconnect r0 0`);
    await t.waitConnection('alpha', false);
    const written = await t.write('alpha', 0, 8);
    const oos = await t.stat('alpha', 'out-of-sync');
    const bravoDisk = await t.sum('bravo', '/dev/vda', 0, DISK_MIB);
    lab.log(`alpha wrote 8 MiB while bravo was away: out-of-sync ${oos} KiB`);
    assert(oos === 8192, `alpha has 8192 KiB out of sync (${oos})`);

    const r = await t.exec('bravo', `${S} connect r0 0 --tentative`);
    assert(r.code === 0, `connect --tentative: exit ${r.code}: ${r.stdout}${r.stderr}`);
    const logs = await lab.waitFor(
      'both nodes to log the tentative handshake',
      async () => {
        const [a, b] = await Promise.all([tentativeLines('alpha'), tentativeLines('bravo')]);
        return a.some((l) => /the connection ends/.test(l)) && b.some((l) => /the connection ends/.test(l))
          ? { alpha: a, bravo: b }
          : undefined;
      },
      30_000,
      500,
    );
    lab.log(`alpha:\n${logs.alpha.join('\n')}\nbravo:\n${logs.bravo.join('\n')}`);
    assert(
      logs.bravo.some((l) => /tentative: volume 0: this node is behind: would resync as SyncTarget, 8192 KiB/.test(l)),
      'bravo: would be SyncTarget of 8192 KiB',
    );
    assert(
      logs.alpha.some((l) => /tentative: volume 0: the peer is behind: would resync as SyncSource, 8192 KiB/.test(l)),
      'alpha: would be SyncSource of 8192 KiB',
    );
    assert(
      logs.bravo.some((l) => /asked here/.test(l)),
      'bravo asked',
    );
    assert(
      logs.alpha.some((l) => /asked by the peer/.test(l)),
      'alpha was asked',
    );
    // a few of alpha's connect-int retries go by: bravo stays StandAlone, nothing moves
    await new Promise((res) => setTimeout(res, 3000));
    const [aConn, bConn, role] = [
      await t.pdField('alpha', 'connection'),
      await t.pdField('bravo', 'connection'),
      (await t.status('alpha')).match(/^r0 .*\brole:(\S+)/m)?.[1],
    ];
    const oosAfter = await t.stat('alpha', 'out-of-sync');
    lab.log(`after: alpha ${aConn} ${role}, out-of-sync ${oosAfter} KiB; bravo ${bConn}`);
    assert(bConn === 'StandAlone', `bravo StandAlone after its tentative connect (${bConn})`);
    assert(aConn === 'Connecting' && role === 'Primary', `alpha still Primary and Connecting (${aConn} ${role})`);
    assert(oosAfter === oos, `alpha's out-of-sync unchanged (${oos} -> ${oosAfter} KiB)`);
    assert((await t.sum('bravo', '/dev/vda', 0, DISK_MIB)) === bravoDisk, "bravo's disk unchanged to the byte");
    const dmesgBravo = await lab.dmesg('bravo');
    assert(
      !/resync as Sync|connected, protocol/.test(dmesgBravo.split('tentative connect')[1] ?? ''),
      'bravo never connected',
    );

    const refused = await t.exec('bravo', `${S} net-options r0 0 --tentative`);
    lab.log(`net-options --tentative: exit ${refused.code}: ${(refused.stdout + refused.stderr).trim()}`);
    assert(refused.code !== 0 && /only with connect/.test(refused.stdout + refused.stderr), 'tentative refused there');

    // the real connect resyncs what the tentative one announced
    await t.sh('bravo', `${S} connect r0 0`);
    await t.waitSynced(60_000);
    assert((await t.sum('bravo', '/dev/vda', 0, 8)) === written, 'bravo has the 8 MiB after the resync');
    assert(/resync as SyncSource, 8192 KiB/.test(await lab.dmesg('alpha')), 'alpha resynced 8192 KiB');
    await t.downAll();
  },
});
