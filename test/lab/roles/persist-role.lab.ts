// persist-role through the kernel: apply-persist-role (what bsr.service runs after up) makes alpha
// Primary again when its meta data carry WAS_PRIMARY, after `down` of the Primary and after a
// crash, with its data; with persist-role no it changes nothing; an explicit secondary (of the
// Primary, or of a Secondary brought up after down) ends it. An automatic promotion waits for
// every peer: when bravo took over while alpha was down, alpha stays Secondary while bravo is out
// of reach, and once connected it takes bravo's data instead of splitting the brain.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, FAST_PD, type R0Options, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'persist-role: apply-persist-role restores the Primary after down and a crash',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 600,
  async run(lab) {
    const t = twoNodes(lab);
    const ADM = `${lab.repoRoot}/bin/bsradm -c /tmp/r0.res`;
    const yes: R0Options = { net: FAST_NET, res: '--persist-role=yes', createMd: false };
    // bsradm on alpha (its apply-persist-role is bsr.service's); /tmp is emptied by a crash
    const config = `cat > /tmp/r0.res <<'EOF'
global { cmd-timeout-short 60; }
resource r0 {
  startup { wfc-timeout 30; }
  options { persist-role yes; }
  device minor 1; disk /dev/vda; meta-disk internal;
  on alpha { address ipv4 ${lab.address('alpha', 'bravo')}:7789; node-id 0; }
  on bravo { address ipv4 ${lab.address('bravo', 'alpha')}:7789; node-id 1; }
}
EOF`;
    /**
     * Runs `apply` on alpha; returns what it printed and alpha's role after it, with the sha256 of
     * /dev/bsr1's first 4 MiB when Primary (only a Primary's device opens).
     */
    async function applied(apply: string): Promise<{ said: string; role: string; sum?: string }> {
      const out = await t.sh(
        'alpha',
        `${config}
${apply}
if dd if=/dev/bsr1 of=/tmp/head bs=1M count=4 iflag=direct status=none 2>/dev/null; then
  echo "state=Primary $(sha256sum < /tmp/head)"
else
  echo "state=$(${t.S} role r0)"
fi`,
      );
      const m = /^state=(\w+) ?([0-9a-f]*)/m.exec(out);
      return { said: out.replace(/^state=.*\n?/m, '').trim(), role: m?.[1] ?? '?', sum: m?.[2] || undefined };
    }

    await t.upSkipSync({ net: FAST_NET, res: '--persist-role=yes' });
    await t.sh('alpha', `${t.S} primary r0`);
    const data = await t.write('alpha', 0, 4);

    // down of the Primary (no secondary first) keeps the flag; persist-role no does not use it
    await t.sh('alpha', `${t.S} down r0`);
    await t.up('alpha', { ...yes, res: '--persist-role=no' });
    await t.waitConnected();
    let r = await applied(`${t.S} apply-persist-role r0`);
    assert(r.role === 'Secondary', `persist-role no: alpha stays Secondary (is ${r.role})`);
    assert(/persist-role no/.test(r.said), `the kernel says persist-role no: ${r.said}`);
    // persist-role yes from the config (bsradm resource-options): Primary again, agreed with bravo
    r = await applied(`${ADM} resource-options r0\n${t.S} apply-persist-role r0`);
    assert(r.role === 'Primary', `alpha Primary again after down (is ${r.role}: ${r.said})`);
    assert(r.sum === data, 'data intact after down');
    lab.log(`down of the Primary, up: ${r.said}`);

    // a crash keeps it too: alpha comes back as bsr.service brings it (bsradm waits for bravo)
    await lab.crash('alpha');
    await lab.boot('alpha');
    await t.up('alpha', yes);
    r = await applied(`${ADM} apply-persist-role r0`);
    assert(r.role === 'Primary', `alpha Primary again after a crash (is ${r.role}: ${r.said})`);
    assert(r.sum === data, 'data intact after the crash');
    lab.log(`crash of the Primary, up: ${r.said}`);

    // the explicit secondaries below bring alpha up alone (fewer CLI starts than t.up)
    const upAlone = [
      'bsrsetup new-resource r0 0 --persist-role=yes',
      'bsrsetup new-minor r0 1 0',
      'bsrsetup attach 1 /dev/vda /dev/vda internal',
    ];

    // an explicit secondary ends it: of the Primary, and of a Secondary brought up after down
    r = await applied(
      `${t.steps(['bsrsetup secondary r0', 'bsrsetup down r0', ...upAlone])}\n${ADM} apply-persist-role r0`,
    );
    assert(r.role === 'Secondary', `alpha stays Secondary after an explicit secondary (is ${r.role})`);
    assert(/staying Secondary/.test(r.said), `the kernel says why: ${r.said}`);
    lab.log(`secondary, down, up: ${r.said}`);
    r = await applied(
      t.steps([
        'bsrsetup primary r0',
        'bsrsetup down r0',
        ...upAlone,
        'bsrsetup secondary r0',
        'bsrsetup down r0',
        ...upAlone,
        'bsrsetup apply-persist-role r0',
      ]),
    );
    assert(r.role === 'Secondary', `a Secondary's secondary ends it too (is ${r.role}: ${r.said})`);
    lab.log(`primary, down, up, secondary, down, up: ${r.said}`);

    // alpha goes down as Primary (the flag stays) and bravo takes over and writes: alpha must not
    // come back Primary while bravo is out of reach, nor once connected (bravo is Primary)
    // alpha is up alone: its peer joins it (fewer CLI starts than down and t.up)
    await t.sh(
      'alpha',
      t.steps([
        `bsrsetup new-peer r0 1 --_name=bravo ${FAST_NET}`,
        `bsrsetup new-path r0 1 ipv4:${lab.address('alpha', 'bravo')}:7789 ipv4:${lab.address('bravo', 'alpha')}:7789`,
        `bsrsetup peer-device-options r0 1 0 ${FAST_PD}`,
        'bsrsetup connect r0 1',
      ]),
    );
    await t.waitSynced();
    await t.sh('alpha', `${t.S} primary r0`);
    await t.write('alpha', 0, 4);
    await t.sh('alpha', `${t.S} down r0`);
    await t.waitConnection('bravo', false);
    await t.sh('bravo', `${t.S} primary r0`);
    const bravoData = await t.write('bravo', 0, 4);
    await lab.linkCut('alpha', 'bravo');
    await t.up('alpha', yes);
    r = await applied(`${t.S} apply-persist-role r0 2>&1 || echo "exit=$?"`);
    assert(r.role === 'Secondary', `alpha stays Secondary while bravo is out of reach (is ${r.role}: ${r.said})`);
    assert(
      /exit=11/.test(r.said) && /automatic promotion: peer 1 \(bravo\) is Connecting/.test(r.said),
      `the kernel refuses, naming bravo: ${r.said}`,
    );
    lab.log(`bravo promoted meanwhile, out of reach: ${r.said}`);
    await lab.linkRestore('alpha', 'bravo');
    r = await applied(`${ADM} apply-persist-role r0 2>&1 || echo "exit=$?"`);
    assert(r.role === 'Secondary', `alpha stays Secondary beside a Primary bravo (is ${r.role}: ${r.said})`);
    lab.log(`bravo promoted meanwhile, connected: ${r.said}`);
    await t.waitSynced();
    const alphaData = await t.sum('alpha', '/dev/vda', 0, 4);
    assert(alphaData === bravoData, "alpha holds bravo's data after the resync");
    await t.downAll();
  },
});
