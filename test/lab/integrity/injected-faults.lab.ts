// data-integrity-alg crc32c under the test-only fault injection of bsr.ko (module parameters
// enable_faults=512, fault_rate=1 on bravo): 1 % of the DATA and resync payloads bravo receives
// are corrupted after they arrived, before their digest check. A 256 MiB write load on alpha
// ends with equal data on both nodes, every injected fault counted as a mismatch
// (integrity-errors = fault_count > 0) and nothing out of sync.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, NODES, twoNodes } from '../fixtures.js';

const PARAMS = '/sys/module/bsr/parameters';
const MIB = 256;

export default scenario({
  title: '1 % injected payload corruption: detected, counted, data equal',
  nodes: 2,
  diskSize: '320M',
  timeoutSec: 900,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync({ net: `${FAST_NET} --data-integrity-alg=crc32c` });
    await t.sh('alpha', `${t.S} primary r0`);
    await t.sh('bravo', `echo 1 > ${PARAMS}/fault_rate; echo 512 > ${PARAMS}/enable_faults`);
    const faults = async () => Number((await t.sh('bravo', `cat ${PARAMS}/fault_count`)).trim());
    let sum = '';
    // 1 % of ~260 packets of 1 MiB: a round without any fault is possible (about 7 %); write again then
    for (let round = 1; round <= 3 && (round === 1 || (await faults()) === 0); round++) {
      sum = await t.write('alpha', 0, MIB);
      lab.log(`round ${round}: ${MIB} MiB written, ${await faults()} faults injected so far`);
    }
    await t.waitSynced(600_000);
    await t.sh('bravo', `echo 0 > ${PARAMS}/enable_faults`);
    const injected = await faults();
    const errors = Number((await t.pdField('bravo', 'integrity-errors')) ?? 'NaN');
    lab.log(`faults injected ${injected}, integrity-errors ${errors}`);
    assert(injected > 0, 'no fault was injected');
    assert(errors === injected, `integrity-errors ${errors} != faults injected ${injected}`);
    const [sa, sb] = await Promise.all(NODES.map((n) => t.sum(n, '/dev/vda', 0, MIB)));
    assert(sa === sum && sb === sum, `the disks differ from what was written (alpha ${sa}, bravo ${sb})`);
    for (const n of NODES) {
      const oos = await t.stat(n, 'out-of-sync');
      assert(oos === 0, `${n}: out-of-sync ${oos} KiB at the end`);
    }
    await t.downAll();
  },
});
