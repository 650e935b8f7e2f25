// One Primary: promotion while connected is agreed with the peer. `primary` run on both connected nodes
// at the same moment leaves exactly one Primary and a clear refusal on the other, 8 times in a row; the
// connection stays up and the data stays in sync. A peer that does not answer (the link cut, not
// yet seen lost: ping-int 60) refuses the promotion after twopc-timeout: 5 s by default, 1.5 s
// with --twopc-timeout=15.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, NODES, twoNodes } from '../fixtures.js';

const ROUNDS = 8;

export default scenario({
  title: 'primary on both connected nodes at once: exactly one wins',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 600,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync({ net: '--ping-int=60' });
    const wins = { alpha: 0, bravo: 0 };
    let promoteMs = 0;
    let demoteMs = 0;
    for (let i = 1; i <= ROUNDS; i++) {
      // both start on the same wall-clock second of their guest (the guests' clocks come from the
      // host); each prints the outcome of its `primary` and then its role, which nothing changes
      // afterwards (the loser was refused, the winner stays Primary)
      const at = Math.ceil(Date.now() / 1000) + 1;
      const t0 = Date.now();
      const runs = await Promise.all(
        NODES.map((n) =>
          t.exec(
            n,
            `while [ "$(date +%s)" -lt ${at} ]; do sleep 0.02; done; ${t.S} primary r0 2>&1; echo "exit $?"; ${t.S} role r0`,
          ),
        ),
      );
      promoteMs += Date.now() - Math.max(t0, at * 1000);
      const outs = runs.map((r) => r.stdout.trim().split('\n'));
      const primaries = NODES.filter((_, k) => outs[k].at(-1) === 'Primary');
      assert(primaries.length === 1, `round ${i}: ${primaries.length} Primaries (${outs.join(' | ')})`);
      const loser = NODES.find((n) => n !== primaries[0]) as (typeof NODES)[number];
      const lost = outs[NODES.indexOf(loser)].slice(0, -1).join(' ');
      assert(/exit [1-9]/.test(lost) && /Primary/.test(lost), `round ${i}: ${loser} was not refused clearly: ${lost}`);
      if (i === 1) lab.log(`round 1: ${primaries[0]} won; ${loser}: ${lost}`);
      wins[primaries[0] as 'alpha' | 'bravo']++;
      const t1 = Date.now();
      await t.sh(primaries[0], `${t.S} secondary r0`);
      demoteMs += Date.now() - t1;
    }
    lab.log(
      `${ROUNDS} rounds: alpha won ${wins.alpha}, bravo won ${wins.bravo}; never two Primaries; per round ${Math.round(promoteMs / ROUNDS)} ms for primary + role, ${Math.round(demoteMs / ROUNDS)} ms for secondary`,
    );

    await lab.linkCut('alpha', 'bravo');
    const refused = async () => {
      const t0 = Date.now();
      const out = (await t.exec('alpha', `${t.S} primary r0 2>&1; echo "exit $?"`)).stdout.trim();
      assert(/did not answer the promotion request/.test(out) && /exit [1-9]/.test(out), `refused: ${out}`);
      return Date.now() - t0;
    };
    const byDefault = await refused();
    await t.sh('alpha', `${t.S} resource-options r0 --twopc-timeout=15`);
    const shorter = await refused();
    await lab.linkRestore('alpha', 'bravo');
    lab.log(`no answer: primary refused after ${byDefault} ms (twopc-timeout 50), ${shorter} ms (15)`);
    assert(byDefault >= 5000 && byDefault < 9000, `refused after twopc-timeout's default 5 s (${byDefault} ms)`);
    assert(shorter >= 1500 && shorter < byDefault - 2500, `refused after 1.5 s with 15 (${shorter} ms)`);
    assert(await t.connected('alpha'), 'still connected');
    await t.assertNoConnectionLoss();
    await t.downAll();
  },
});
