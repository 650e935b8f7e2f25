// The after-sb policies resolve a split brain by themselves, both nodes picking the same victim:
// discard-zero-changes (bravo was promoted while cut but wrote nothing), discard-least-changes
// (bravo wrote less than alpha), after-sb-1pri discard-secondary (alpha stayed Primary). Each
// time the victim's own writes are replaced by the survivor's. Policies that differ between the
// nodes fail the handshake (retried) until they agree; discard-local pairs with discard-remote.
// Last, a split brain no policy resolves (two Primaries) is reported and resolved by hand.
import type { Lab, NodeName } from '../../../tools/lab/scenario.js';
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, NODES, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'split brain: the policies pick the victim; two Primaries are reported, resolved by hand',
  nodes: 2,
  diskSize: '128M',
  timeoutSec: 500,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync({
      net: `${FAST_NET} --after-sb-0pri=discard-zero-changes --after-sb-1pri=discard-secondary`,
    });
    const netOptions = (options: string) =>
      Promise.all([
        t.sh('alpha', `${t.S} net-options r0 1 ${options}`),
        t.sh('bravo', `${t.S} net-options r0 0 ${options}`),
      ]);

    /**
     * Cuts the link, runs `whileCut`, restores it and waits until both are connected (a split
     * brain left unresolved fails the wait: StandAlone) and in sync; returns the kernel's line
     * saying how the victim was chosen, checked to be the same policy on both nodes.
     */
    async function split(whileCut: () => Promise<void>): Promise<string> {
      await lab.linkCut('alpha', 'bravo');
      await Promise.all(NODES.map((n) => t.waitConnection(n, false)));
      await whileCut();
      await lab.linkRestore('alpha', 'bravo');
      await t.waitConnected();
      await t.waitSynced();
      // the last such line of each node's log: this split's
      const lines = await Promise.all(
        NODES.map(
          async (n) => [...(await lab.dmesg(n)).matchAll(/split brain resolved by (.*)/g)].pop()?.[1] ?? '(none)',
        ),
      );
      lab.log(`alpha: ${lines[0]}`);
      lab.log(`bravo: ${lines[1]}`);
      const policy = (l: string) => l.split(':')[0];
      assert(policy(lines[0]) === policy(lines[1]), `both nodes name the same policy: ${lines.join(' | ')}`);
      return lines[1];
    }
    const sameOnBoth = async (offMiB: number, lenMiB: number, what: string) => {
      const [a, b] = await Promise.all(NODES.map((n) => t.sum(n, '/dev/vda', offMiB, lenMiB)));
      assert(a === b, `${what}: equal on both nodes`);
      return a;
    };

    // no Primary, bravo changed nothing: bravo is the victim
    let data = '';
    let how = await split(async () => {
      await t.sh('alpha', `${t.S} primary r0`);
      data = await t.write('alpha', 0, 4);
      await t.sh('alpha', `${t.S} secondary r0`);
      await t.sh('bravo', `${t.S} primary r0 && ${t.S} secondary r0`);
    });
    assert(/^after-sb-0pri discard-zero-changes: discarding this node's data \(0 blocks/.test(how), how);
    assert((await sameOnBoth(0, 4, "alpha's writes")) === data, "bravo holds alpha's writes");

    // no Primary, both changed: the fewer changes lose (bravo's 1 MiB against alpha's 8)
    await netOptions('--after-sb-0pri=discard-least-changes');
    how = await split(async () => {
      await t.sh('alpha', `${t.S} primary r0`);
      data = await t.write('alpha', 10, 8);
      await t.sh('alpha', `${t.S} secondary r0`);
      await t.sh('bravo', `${t.S} primary r0`);
      await t.write('bravo', 30, 1);
      await t.sh('bravo', `${t.S} secondary r0`);
    });
    // alpha, Primary before (its current UUID still marked so), must start a new generation
    // when promoted again while cut: else its writes count as "behind" and are overwritten
    assert((await sameOnBoth(10, 8, "alpha's writes")) === data, "alpha's writes survive, on both nodes");
    assert(/^after-sb-0pri discard-least-changes: discarding this node's data \(256 blocks/.test(how), how);
    await sameOnBoth(30, 1, "bravo's discarded write");

    // one Primary: the Secondary is the victim, whatever it wrote
    how = await split(async () => {
      await t.sh('alpha', `${t.S} primary r0`);
      data = await t.write('alpha', 40, 1);
      await t.sh('bravo', `${t.S} primary r0`);
      await t.write('bravo', 50, 8);
      await t.sh('bravo', `${t.S} secondary r0`);
    });
    assert(/^after-sb-1pri discard-secondary: discarding this node's data/.test(how), how);
    assert((await sameOnBoth(40, 1, "the Primary's writes")) === data, "bravo holds the Primary's writes");
    await sameOnBoth(50, 8, "the Secondary's discarded writes");
    await t.sh('alpha', `${t.S} secondary r0`);

    // policies that differ fail the handshake until they pair: discard-local with discard-remote
    await t.sh('alpha', `${t.S} net-options r0 1 --after-sb-0pri=discard-local && ${t.S} disconnect r0 1`);
    await t.sh('alpha', `${t.S} connect r0 1`);
    await lab.waitFor(
      'alpha refuses the differing policy',
      async () =>
        /after-sb-0pri differs: this node's discard-local, the peer's discard-least-changes/.test(
          await lab.dmesg('alpha'),
        ),
      30_000,
      500,
    );
    assert(!(await t.connected('alpha')), 'alpha does not connect with differing policies');
    await t.sh('bravo', `${t.S} net-options r0 0 --after-sb-0pri=discard-remote`);
    await t.waitConnected();

    // two Primaries (after-sb-2pri disconnect): the split brain stays, reported (StandAlone, the
    // split-brain event, the usermode helper `bsradm split-brain r0` run with the BSR_* environment:
    // the configured handler writes a marker file); waits under way end there unless
    // --wait-after-sb; connect --discard-my-data on the victim resyncs it.
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
    // rr-conflict: bravo, still Primary, told to discard its data would become SyncTarget under
    // its users: refused (StandAlone again) and, with call-pri-lost, its pri-lost handler runs
    await t.sh('bravo', `${t.S} net-options r0 0 --rr-conflict=call-pri-lost`);
    await t.sh('alpha', `${t.S} connect r0 1`);
    await t.sh('bravo', `${t.S} connect r0 0 --discard-my-data`);
    const priLost = await lab.waitFor(
      'bravo: the pri-lost handler',
      async () => (await t.sh('bravo', 'cat /tmp/pl-marker 2>/dev/null || true')).trim(),
      30_000,
      500,
    );
    lab.log(`bravo: ${(await lab.dmesg('bravo')).split('\n').find((l) => /cannot become SyncTarget/.test(l))}`);
    lab.log(`bravo: pri-lost handler wrote: ${priLost}`);
    assert(priLost === 'r0 peer=0 minor=1 volume=0', `bravo: pri-lost handler environment: ${priLost}`);
    await t.waitState('bravo', 'StandAlone', (r) => r.field('connection') === 'StandAlone', 30_000);
    assert((await t.sh('bravo', `${t.S} role r0`)).trim() === 'Primary', 'bravo stays Primary, its data untouched');
    assert(alphaA !== (await t.sum('bravo', '/dev/bsr1', 60, 4)), "bravo's own writes are still there");
    // after-sb-2pri call-pri-lost-after-sb, both still Primary: after-sb-0pri (discard-local on
    // alpha, discard-remote on bravo) names alpha the victim, whose pri-lost-after-sb handler
    // runs; a Primary is not overwritten, so alpha goes StandAlone with its data
    await t.sh('alpha', `${t.S} net-options r0 1 --after-sb-2pri=call-pri-lost-after-sb`);
    await t.sh('bravo', `${t.S} net-options r0 0 --after-sb-2pri=call-pri-lost-after-sb && ${t.S} connect r0 0`);
    const lostAfterSb = await lab.waitFor(
      'alpha: the pri-lost-after-sb handler',
      async () => (await t.sh('alpha', 'cat /tmp/plsb-marker 2>/dev/null || true')).trim(),
      30_000,
      500,
    );
    lab.log(`alpha: pri-lost-after-sb handler wrote: ${lostAfterSb}`);
    assert(lostAfterSb === 'r0 peer=1 minor=1 volume=0', `alpha: pri-lost-after-sb environment: ${lostAfterSb}`);
    await t.waitState('alpha', 'StandAlone', (r) => r.field('connection') === 'StandAlone', 30_000);
    assert((await t.sh('alpha', `${t.S} role r0`)).trim() === 'Primary', 'alpha stays Primary');
    assert(alphaA === (await t.sum('alpha', '/dev/bsr1', 60, 4)), "alpha's data untouched");
    assert(!(await t.sh('bravo', 'cat /tmp/plsb-marker 2>/dev/null || true')).trim(), 'not on bravo, the keeper');
    await t.sh('bravo', `${t.S} disconnect r0 0; ${t.S} secondary r0 && ${t.S} connect r0 0 --discard-my-data`);
    await t.sh('alpha', `${t.S} connect r0 1`);
    await t.waitSynced(120_000);
    assert(a === (await t.sum('bravo', '/dev/vda', 50, 4)), "alpha's writes reached the victim");
    assert(alphaA === (await t.sum('bravo', '/dev/vda', 60, 4)), "the victim's own writes were replaced");
    assert((await t.sum('alpha', '/dev/vda', 0, 100)) === (await t.sum('bravo', '/dev/vda', 0, 100)), 'disks equal');
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
    pri-lost "echo $BSR_RESOURCE peer=$BSR_PEER_NODE_ID minor=$BSR_MINOR volume=$BSR_VOLUME > /tmp/pl-marker";
    pri-lost-after-sb "echo $BSR_RESOURCE peer=$BSR_PEER_NODE_ID minor=$BSR_MINOR volume=$BSR_VOLUME > /tmp/plsb-marker";
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
rm -f /tmp/sb-marker /tmp/pl-marker /tmp/plsb-marker
echo /newroot/tmp/bsr-helper > /sys/module/bsr/parameters/usermode_helper`,
  );
}
