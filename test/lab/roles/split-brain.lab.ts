// Both nodes promoted while cut: on reconnect the split brain is detected and reported
// (StandAlone, split-brain event, the usermode helper `bsradm split-brain r0` run with the BSR_*
// environment: the configured handler writes a marker file); connect --discard-my-data on the victim
// resyncs it.
import type { Lab, NodeName } from '../../../tools/lab/scenario.js';
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'split brain detected, discard-my-data recovers',
  nodes: 2,
  diskSize: '128M',
  timeoutSec: 400,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync({ net: FAST_NET });
    for (const n of ['alpha', 'bravo'] as const) await installHelper(lab, n);
    await t.sh('alpha', `${t.S} primary r0`);
    await t.write('alpha', 0, 4);
    await lab.linkCut('alpha', 'bravo');
    await Promise.all((['alpha', 'bravo'] as const).map((n) => t.waitConnection(n, false)));
    await t.sh('bravo', `${t.S} primary r0`);
    const a = await t.write('alpha', 50, 4);
    await t.write('bravo', 60, 4);
    for (const n of ['alpha', 'bravo'] as const) await t.sh(n, `nohup ${t.S} events2 > /tmp/ev 2>&1 &`);
    for (const n of ['alpha', 'bravo'] as const)
      await lab.waitFor(`${n} events2 running`, async () => /exists -/.test(await t.sh(n, 'cat /tmp/ev')), 60_000, 500);
    // waits under way when the split brain is found: alpha's ends there, bravo's (--wait-after-sb) waits on
    const wait = (options: string) =>
      `(s=$(date +%s); code=0; ${t.S} wait-connect-resource r0 ${options} 2>/tmp/wait-err || code=$?
echo "code=$code s=$(( $(date +%s) - s )) $(cat /tmp/wait-err)" > /tmp/wait.tmp; mv /tmp/wait.tmp /tmp/wait) >/dev/null 2>&1 &`;
    await t.sh('alpha', wait('--wait-timeout=45'));
    await t.sh('bravo', wait('--wait-timeout=12 --wait-after-sb'));
    await lab.linkRestore('alpha', 'bravo');
    for (const n of ['alpha', 'bravo'] as const) {
      const done = () => t.sh(n, 'cat /tmp/wait 2>/dev/null || true');
      const result = await lab.waitFor(
        `${n}: the wait ended`,
        async () => (await done()).trim() || undefined,
        40_000,
        500,
      );
      lab.log(`${n}: wait-connect-resource: ${result}`);
      const m = /^code=(\d+) s=(\d+)/.exec(result);
      if (n === 'alpha')
        assert(
          m?.[1] === '5' && Number(m[2]) < 30 && /went StandAlone/.test(result),
          `alpha's wait ends at the split brain, saying so: ${result}`,
        );
      else assert(m?.[1] === '5' && Number(m[2]) >= 12, `bravo's wait (--wait-after-sb) waits on: ${result}`);
    }
    for (const n of ['alpha', 'bravo'] as const) {
      await lab.waitFor(`${n}: split brain`, async () => /split brain detected/.test(await lab.dmesg(n)), 60_000, 500);
      await t.waitState(n, 'StandAlone', (r) => r.field('connection') === 'StandAlone', 30_000);
      const ev = await t.sh(n, 'cat /tmp/ev');
      lab.log(
        `${n} events: ${ev
          .split('\n')
          .filter((l) => /split-brain/.test(l))
          .join(' | ')}`,
      );
      assert(/split-brain/.test(ev), `${n}: split-brain event`);
      assert(/^call helper .*helper:split-brain/m.test(ev), `${n}: call helper event`);
      assert(/^response helper .*helper:split-brain status:0/m.test(ev), `${n}: response helper event`);
      const marker = (await t.sh(n, 'cat /tmp/sb-marker')).trim();
      lab.log(`${n}: split-brain handler wrote: ${marker}`);
      assert(marker === `r0 peer=${n === 'alpha' ? 1 : 0} minor=1 volume=0`, `${n}: handler environment`);
    }
    const alphaA = await t.sum('alpha', '/dev/bsr1', 60, 4);
    await t.sh('bravo', `${t.S} secondary r0 && ${t.S} connect r0 0 --discard-my-data`);
    await t.sh('alpha', `${t.S} connect r0 1`);
    await t.waitSynced(120_000);
    assert(a === (await t.sum('bravo', '/dev/vda', 50, 4)), "alpha's writes reached the victim");
    assert(alphaA === (await t.sum('bravo', '/dev/vda', 60, 4)), "the victim's own writes were replaced");
    assert((await t.sum('alpha', '/dev/bsr1', 0, 100)) === (await t.sum('bravo', '/dev/vda', 0, 100)), 'devices equal');
    await t.exec('alpha', 'pkill -f "[b]srsetup.* events2"');
    await t.exec('bravo', 'pkill -f "[b]srsetup.* events2"');
    await t.downAll();
  },
});

/**
 * Kernel usermode helpers run in the guest's initramfs root, where the checkout is under /newroot:
 * a wrapper there runs this checkout's bsradm inside the real root, with /etc/bsr.conf giving r0 a
 * split-brain handler.
 */
async function installHelper(lab: Lab, n: NodeName) {
  await lab.sh(
    n,
    `cat > /etc/bsr.conf <<'EOF'
resource r0 {
  handlers {
    split-brain "echo $BSR_RESOURCE peer=$BSR_PEER_NODE_ID minor=$BSR_MINOR volume=$BSR_VOLUME > /tmp/sb-marker";
  }
  device minor 1;
  disk /dev/vda;
  meta-disk internal;
  on alpha { address ipv4 ${lab.address('alpha', 'bravo')}:7789; node-id 0; }
  on bravo { address ipv4 ${lab.address('bravo', 'alpha')}:7789; node-id 1; }
}
EOF
printf '#!/bin/busybox sh\\nexec /bin/busybox chroot /newroot %s "$@"\\n' ${lab.repoRoot}/bin/bsradm > /tmp/bsr-helper
chmod 755 /tmp/bsr-helper
rm -f /tmp/sb-marker
echo /newroot/tmp/bsr-helper > /sys/module/bsr/parameters/usermode_helper`,
  );
}
