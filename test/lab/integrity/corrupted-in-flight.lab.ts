// data-integrity-alg crc32c with a man in the middle on the replication link
// (scripts/corrupt-proxy.py on alpha, between alpha's bsr and bravo): one byte of the block data
// of chosen DATA and RS_DATA_REPLY packets is flipped after the sender computed its digest.
// bravo (the Secondary) must log each mismatch (sector, size), count it (integrity-errors in
// status --json), never write it, and get the blocks again: a write through a resync right
// away (protocols C, B and A), a resync reply in the source's next pass. Many corruptions in a
// row drop the connection, which comes back and resyncs. Both disks end byte-equal, and equal
// to what was written.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, NODES, twoNodes } from '../fixtures.js';

const ALG = '--data-integrity-alg=crc32c';
const PROXY_PORT = 7790;
const CONTROL = '/tmp/corrupt.ctl';
const LOG = '/tmp/corrupt.log';

export default scenario({
  title: 'corrupted replication payloads are detected, not written, sent again',
  nodes: 2,
  diskSize: '128M',
  timeoutSec: 900,
  async run(lab) {
    const t = twoNodes(lab);
    const a = lab.address('alpha', 'bravo');
    await t.sh(
      'alpha',
      `: > ${LOG}; echo 0 0 0 0 > ${CONTROL}
nohup python3 ${lab.repoRoot}/test/lab/scripts/corrupt-proxy.py ${a} ${PROXY_PORT} ${lab.address('bravo', 'alpha')} 7789 ${a} ${CONTROL} ${LOG} > /tmp/proxy.out 2>&1 &
for i in $(seq 50); do grep -q listening /tmp/proxy.out && break; sleep 0.2; done; cat /tmp/proxy.out`,
    );
    const net = `${FAST_NET} ${ALG}`;
    await Promise.all([t.up('bravo', { net }), t.up('alpha', { net, peerAddr: `${a}:${PROXY_PORT}` })]);
    await t.waitConnected();
    await t.sh('alpha', `${t.S} new-current-uuid --clear-bitmap 1`);
    await t.waitSynced(30_000);
    await t.sh('alpha', `${t.S} primary r0`);
    for (const n of NODES) {
      const d = await lab.dmesg(n);
      assert(d.includes('data-integrity-alg crc32c'), `${n}: the handshake agreed on crc32c`);
    }

    const errors = async () => Number((await t.pdField('bravo', 'integrity-errors')) ?? 'NaN');
    const corrupted = async () => (await t.sh('alpha', `cat ${LOG}`)).trim().split('\n').filter(Boolean);
    const control = (dataSkip: number, data: number, rsSkip: number, rs: number) =>
      t.sh('alpha', `echo ${dataSkip} ${data} ${rsSkip} ${rs} > ${CONTROL}.new && mv ${CONTROL}.new ${CONTROL}`);
    const equal = async (what: string, offMiB: number, lenMiB: number, written: string) => {
      await t.waitSynced(120_000);
      const [sa, sb] = await Promise.all(NODES.map((n) => t.sum(n, '/dev/vda', offMiB, lenMiB)));
      lab.log(`${what}: alpha ${sa.slice(0, 12)} bravo ${sb.slice(0, 12)} written ${written.slice(0, 12)}`);
      assert(sa === written && sb === written, `${what}: the disks differ from what was written`);
    };
    /** waits for bravo's counter to reach `want` and its log to name the corrupted sectors */
    const detected = async (what: string, want: number, kind: 'a write' | 'resync data') => {
      await lab.waitFor(`${what}: integrity-errors ${want}`, async () => (await errors()) >= want, 60_000);
      const got = await errors();
      assert(got === want, `${what}: integrity-errors ${got}, expected ${want}`);
      const d = await lab.dmesg('bravo');
      const logged = d.split('\n').filter((l) => l.includes(`digest integrity check failed for ${kind}`));
      for (const c of await corrupted()) {
        const sector = /sector=(\d+)/.exec(c)?.[1];
        assert(
          logged.some((l) => l.includes(`at sector ${sector},`)),
          `${what}: no log line names the corrupted sector ${sector}`,
        );
      }
      lab.log(`${what}: ${logged.length} mismatch lines, e.g. ${logged[logged.length - 1]?.trim()}`);
    };

    // one corrupted write per protocol: the 3rd DATA packet of an 8 MiB write
    let expected = 0;
    let off = 0;
    for (const proto of ['C', 'B', 'A']) {
      if (proto !== 'C') await t.setProtocol(proto);
      await t.sh('alpha', `: > ${LOG}`);
      await control(2, 1, 0, 0);
      const sum = await t.write('alpha', off, 8);
      expected += 1;
      await detected(`protocol ${proto}`, expected, 'a write');
      assert((await corrupted()).length === 1, `protocol ${proto}: the proxy corrupted one DATA packet`);
      await equal(`protocol ${proto}`, off, 8, sum);
      off += 8;
    }
    await t.setProtocol('C');

    // resync replies: bravo misses 8 MiB, then two replies of its resync arrive corrupted
    await t.sh('alpha', `: > ${LOG}`);
    await t.sh('bravo', `${t.S} disconnect r0 0`);
    const rsSum = await t.write('alpha', off, 8);
    await control(0, 0, 1, 2);
    await t.sh('bravo', `${t.S} connect r0 0`);
    expected += 2;
    await detected('resync replies', expected, 'resync data');
    await equal('resync replies', off, 8, rsSum);
    const rsOff = off;
    off += 8;

    // many in a row: more than 8 corrupted resync replies within 10 s reconnect
    await t.sh('alpha', `: > ${LOG}`);
    await t.sh('bravo', `${t.S} disconnect r0 0`);
    const manySum = await t.write('alpha', off, 16);
    await control(0, 0, 0, 12);
    await t.sh('bravo', `${t.S} connect r0 0`);
    await lab.waitFor('the reconnect after too many mismatches', async () =>
      (await lab.dmesg('bravo')).includes('digest integrity failures within 10 s: reconnecting'),
    );
    // replies corrupted while the connection went down are never checked: 9 to 12 are counted
    await t.waitConnected(120_000);
    await equal('many corruptions', off, 16, manySum);
    const many = (await errors()) - expected;
    assert(many >= 9 && many <= 12, `many corruptions: ${many} counted, expected 9 to 12`);
    lab.log(`many corruptions: ${(await corrupted()).length} replies corrupted, integrity-errors ${await errors()}`);

    // nothing left out of sync, the earlier ranges still equal, no kernel warning
    await equal('the first range again', 0, 8, await t.sum('alpha', '/dev/vda', 0, 8));
    await equal('the resync range again', rsOff, 8, rsSum);
    for (const n of NODES) {
      const oos = await t.stat(n, 'out-of-sync');
      assert(oos === 0, `${n}: out-of-sync ${oos} KiB at the end`);
    }
    await t.downAll();
  },
});
