// A damaged ext4 (a used block marked free in its bitmap): `primary --force` refuses it with a
// clear message and changes nothing (still Secondary and Inconsistent, no resync); with
// --skip-check-fs the promotion and the sync go on.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';
import { forcePrimary, makeFilesystem } from './steps.js';

export default scenario({
  title: 'FastSync: a damaged ext4 is refused; --skip-check-fs goes on',
  nodes: 2,
  diskSize: '256M',
  timeoutSec: 600,
  async run(lab) {
    const t = twoNodes(lab);
    await makeFilesystem(t, 14);
    const block = (await t.sh('alpha', 'debugfs -R "blocks /f1" /dev/vda 2>/dev/null')).trim().split(/\s+/)[0];
    await t.sh('alpha', `debugfs -w -R "freeb ${block}" /dev/vda`);
    await Promise.all(['alpha', 'bravo'].map((n) => t.up(n as 'alpha' | 'bravo')));
    await t.waitConnected();
    const refused = await forcePrimary(lab, t);
    assert(refused.code !== 0, 'primary --force refuses a damaged file system');
    assert(
      /the file system on \/dev\/vda \(minor 1\) failed its check \(e2fsck -fn exit 4\); nothing was changed/.test(
        refused.out,
      ),
      `a clear refusal:\n${refused.out}`,
    );
    assert(/--skip-check-fs/.test(refused.out), 'the refusal names --skip-check-fs');
    const st = await t.status('alpha');
    assert(/role:Secondary/.test(st) && /disk:Inconsistent/.test(st), `nothing changed on alpha:\n${st}`);
    assert(/replication:Established/.test(st), `no resync started:\n${st}`);
    const goes = await forcePrimary(lab, t, '--skip-check-fs');
    assert(goes.code === 0, `--skip-check-fs goes on:\n${goes.out}`);
    assert(!/file system check/.test(goes.out), 'no check with --skip-check-fs');
    await t.waitSynced(240_000);
    assert(/role:Primary/.test(await t.status('alpha')), 'alpha is Primary');
    await t.downAll();
  },
});
