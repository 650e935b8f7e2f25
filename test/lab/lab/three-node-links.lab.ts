// Lab self-test: three nodes, a link to every peer; cutting one link leaves the others working,
// restoring it brings it back; a shaped link has the rate and delay asked for until restored;
// a cut link stays cut across a reboot of one of its nodes.
import { type LinkFigures, measureLink } from '../../../tools/lab/link-shape.js';
import type { Lab, NodeName, Scenario } from '../../../tools/lab/scenario.js';

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

async function pings(lab: Lab, from: NodeName, to: NodeName): Promise<boolean> {
  const r = await lab.exec(from, ['ping', '-c', '2', '-i', '0.3', '-W', '1', lab.address(to, from)]);
  return r.code === 0;
}

async function pingsSoon(lab: Lab, from: NodeName, to: NodeName): Promise<boolean> {
  for (let i = 0; i < 10; i++) if (await pings(lab, from, to)) return true;
  return false;
}

const scenario: Scenario = {
  title: 'three nodes, links cut and restored',
  nodes: 3,
  timeoutSec: 600,
  async run(lab) {
    const pairs: [NodeName, NodeName][] = [
      ['alpha', 'bravo'],
      ['alpha', 'charlie'],
      ['bravo', 'charlie'],
    ];
    assert(lab.address('alpha', 'charlie') === '10.99.2.1', 'alpha-charlie address');
    assert(lab.address('charlie', 'bravo') === '10.99.3.2', 'charlie-bravo address');
    for (const [a, b] of pairs) {
      assert(await pingsSoon(lab, a, b), `${a} -> ${b} before the cut`);
      assert(await pingsSoon(lab, b, a), `${b} -> ${a} before the cut`);
    }
    await lab.linkCut('alpha', 'bravo');
    assert(!(await pings(lab, 'alpha', 'bravo')), 'alpha -> bravo while cut');
    assert(!(await pings(lab, 'bravo', 'alpha')), 'bravo -> alpha while cut');
    const carrier = (await lab.sh('alpha', `cat /sys/class/net/${lab.iface('alpha', 'bravo')}/carrier`)).trim();
    assert(carrier === '0', `carrier down on a cut link (${carrier})`);
    assert(await pingsSoon(lab, 'alpha', 'charlie'), 'alpha -> charlie unaffected');
    assert(await pingsSoon(lab, 'bravo', 'charlie'), 'bravo -> charlie unaffected');
    // TCP across a cut: a connection stalls, then resumes after restore (no reset).
    await lab.linkRestore('alpha', 'bravo');
    assert(await pingsSoon(lab, 'alpha', 'bravo'), 'alpha -> bravo after restore');
    assert(await pingsSoon(lab, 'bravo', 'alpha'), 'bravo -> alpha after restore');

    // A shaped link (a WAN: 8 Mbit/s, 20 ms each way) limits what each end sends; restore undoes it.
    await lab.sh('alpha', 'head -c 2097152 /dev/urandom > /tmp/link-src');
    const measure = () => measureLink(lab, 'alpha', 'bravo', { file: '/tmp/link-src', rttCount: 20, rttSize: 64 });
    const figures = (f: LinkFigures) =>
      `${f.tcp_MBps.toFixed(2)} MB/s, round trip ${(f.rtt_us / 1000).toFixed(1)} ms (median ${(f.rtt_median_us / 1000).toFixed(1)})`;
    await lab.linkShape('alpha', 'bravo', { rate: '8mbit', delay: '20ms' });
    const shaped = await measure();
    lab.log(`alpha -> bravo shaped to 8mbit + 20ms: ${figures(shaped)}`);
    assert(shaped.tcp_MBps > 0.2 && shaped.tcp_MBps <= 1.05, `8 Mbit/s is at most 1 MB/s: ${figures(shaped)}`);
    assert(
      shaped.rtt_us >= 40_000 && shaped.rtt_us < 200_000,
      `20 ms each way (plus an emulated guest's own delays): ${figures(shaped)}`,
    );
    await lab.linkRestore('alpha', 'bravo');
    const restored = await measure();
    lab.log(`alpha -> bravo restored: ${figures(restored)}`);
    // the median: on a loaded host one late round trip lifts the mean past the 40 ms shaping takes
    assert(
      restored.rtt_median_us < 20_000 && restored.tcp_MBps > 2,
      `restore removes the shaping: ${figures(restored)}`,
    );

    // A cut survives a crash and boot of one side (the lab keeps the links' state on the host and
    // sets it at every boot); restored, the link works again.
    await lab.linkCut('bravo', 'charlie');
    await lab.crash('charlie');
    await lab.boot('charlie');
    assert(!(await pings(lab, 'bravo', 'charlie')), 'bravo -> charlie still cut after charlie rebooted');
    assert(await pingsSoon(lab, 'alpha', 'charlie'), 'alpha -> charlie after charlie rebooted');
    await lab.linkRestore('bravo', 'charlie');
    for (const [a, b] of pairs) assert(await pingsSoon(lab, a, b), `${a} -> ${b} after the restore`);
  },
};
export default scenario;
