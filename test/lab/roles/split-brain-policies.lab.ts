// The after-sb policies resolve a split brain by themselves, both nodes picking the same victim:
// discard-zero-changes (bravo was promoted while cut but wrote nothing), discard-least-changes
// (bravo wrote less than alpha), after-sb-1pri discard-secondary (alpha stayed Primary). Each
// time the victim's own writes are replaced by the survivor's. Policies that differ between the
// nodes fail the handshake (retried) until they agree; discard-local pairs with discard-remote.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, NODES, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'split-brain policies pick the victim: zero changes, least changes, the Secondary',
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
    await t.downAll();
  },
});
