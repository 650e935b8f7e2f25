// startup {} as bsrsetup's wait-connect options: degr-wfc-timeout applies on a node that lost its
// peer while it stayed up (the peer slot's CONNECTED flag in the meta data, kept across down/up),
// not on one that went down itself; outdated-wfc-timeout on a node whose data are Outdated.
// (wait-after-sb is checked in roles/split-brain-policies, where a connection goes StandAlone.)
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, type R0Options, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'startup waits: wfc-, degr-wfc- and outdated-wfc-timeout chosen from the node state',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 300,
  async run(lab) {
    const t = twoNodes(lab);
    const again: R0Options = { net: FAST_NET, createMd: false, connect: false };
    /** Runs wait-connect-resource with `options`: its exit code and seconds (30 s at most). */
    async function waited(n: 'alpha' | 'bravo', options: string): Promise<{ code: number; seconds: number }> {
      const out = await t.sh(
        n,
        `start=$(date +%s%N)
code=0; timeout 30 ${t.S} wait-connect-resource r0 ${options} || code=$?
echo "code=$code ms=$(( ($(date +%s%N) - start) / 1000000 ))"`,
      );
      const m = /code=(\d+) ms=(\d+)/.exec(out);
      assert(m, `${n}: wait's result: ${out}`);
      const result = { code: Number(m[1]), seconds: Number(m[2]) / 1000 };
      lab.log(`${n}: wait-connect-resource r0 ${options}: exit ${result.code} after ${result.seconds} s`);
      return result;
    }
    const endedAfter = (r: { code: number; seconds: number }, limit: number) =>
      r.code === 5 && r.seconds >= limit && r.seconds < limit + 8;

    await t.upSkipSync({ net: FAST_NET });
    // alpha goes down itself (it stays "connected"); bravo, still up, loses alpha (degraded)
    await t.sh('alpha', `${t.S} down r0`);
    await t.waitConnection('bravo', false);
    await t.sh('bravo', `${t.S} down r0`);
    await Promise.all([t.up('alpha', again), t.up('bravo', again)]);
    const [alpha, bravo] = await Promise.all([
      waited('alpha', '--wait-timeout=2 --degr-wfc-timeout=60'),
      waited('bravo', '--wait-timeout=60 --degr-wfc-timeout=2'),
    ]);
    assert(endedAfter(alpha, 2), `alpha left no peer behind: wfc-timeout (2 s) applies, not degr-wfc-timeout`);
    assert(endedAfter(bravo, 2), `bravo lost alpha while up: degr-wfc-timeout (2 s) applies after down/up`);

    // Outdated data: outdated-wfc-timeout comes first
    await t.sh('bravo', `${t.S} outdate 1`);
    const disk = await t.pdField('bravo', 'disk');
    assert(disk === 'Outdated', `bravo Outdated (is ${disk})`);
    const outdated = await waited('bravo', '--wait-timeout=60 --degr-wfc-timeout=60 --outdated-wfc-timeout=2');
    assert(endedAfter(outdated, 2), 'Outdated: outdated-wfc-timeout (2 s) applies');
    await t.downAll();
  },
});
