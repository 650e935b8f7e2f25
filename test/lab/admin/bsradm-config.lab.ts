// bsradm drives the kernel for real: create-md/up/primary from conf-examples/r0.res, adjust with
// nothing to do, adjust reconnecting a StandAlone peer, applying changed options and moving the
// connection to a new address (new path first, then the old one deleted; the only path of a live
// connection cannot be deleted), status and events2 through bsradm, a config error refused with
// FILE:LINE and nothing run, then down.
import { type NodeName, scenario } from '../../../tools/lab/scenario.js';
import { assert, NODES } from '../fixtures.js';

const SECRET = 'lab-Secret-7f3a';
const AUTH = `common { net { cram-hmac-alg sha256; shared-secret "${SECRET}"; } }`;

export default scenario({
  title: 'bsradm up/adjust/status/events2/down against the kernel',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 600,
  async run(lab) {
    const repo = lab.repoRoot;
    const conf = `${repo}/conf-examples/r0.res`;
    const ADM = `${repo}/bin/bsradm -c /tmp/r0.res`;
    const sh = (n: NodeName, script: string) => lab.sh(n, `cd ${repo}\n${script}`);
    const connected = async (n: NodeName) => /^Connected$/m.test(await sh(n, `${ADM} cstate r0`));
    // bsradm's own wait (one bsrsetup following the notifications), not a poll of `cstate`
    const waitConnected = (n: NodeName) => sh(n, `timeout 120 ${ADM} wait-connect r0`);

    await Promise.all(
      // a CLI start right after boot can take over 5 s (cmd-timeout-short) on a busy emulated CPU
      NODES.map((n) =>
        sh(
          n,
          `(echo 'global { cmd-timeout-short 60; }'; echo '${AUTH}'; cat ${conf}) > /tmp/r0.res && ${ADM} create-md r0 </dev/null && ${ADM} up r0`,
        ),
      ),
    );
    await Promise.all(NODES.map(waitConnected));
    // connected: the secret reached both kernels (bsradm hands it to bsrsetup on stdin, never on
    // a command line); the tools' logs, root's only, name the steps with the secret masked
    for (const n of NODES) {
      const logs = await sh(n, `stat -c '%a %U' /var/log/bsr /var/log/bsr/bsradm.log; cat /var/log/bsr/bsradm.log`);
      assert(
        /^700 root\n600 root\n/.test(logs),
        `${n}: the log folder and file are root's only:\n${logs.slice(0, 200)}`,
      );
      assert(/new-peer r0 \d .*shared-secret=\*\*\*/.test(logs), `${n}: the log names new-peer, secret masked`);
      assert(!logs.includes(SECRET), `${n}: the secret is in /var/log/bsr/bsradm.log`);
    }
    lab.log('up and connected with a shared secret passed on stdin, masked in the logs');
    await sh('alpha', `${ADM} new-current-uuid --clear-bitmap r0`);
    for (const n of NODES) {
      const plan = await sh(n, `${ADM} -d adjust r0`);
      assert(plan.trim() === '', `${n}: adjust of an unchanged resource plans nothing, got:\n${plan}`);
    }

    lab.log('adjust: nothing to do');
    // A disconnected peer is StandAlone: adjust connects it again.
    await sh('alpha', `${ADM} disconnect r0`);
    const st = await sh('alpha', `${ADM} cstate r0`);
    assert(/StandAlone/.test(st), `after disconnect: ${st}`);
    const plan = await sh('alpha', `${ADM} -d adjust r0`);
    assert(/bsrsetup connect r0 1/.test(plan), `adjust plans the connect:\n${plan}`);
    await sh('alpha', `${ADM} adjust r0`);
    await waitConnected('alpha');

    lab.log('adjust reconnected the StandAlone peer');
    // Changed options in the file reach the kernel through adjust, and show reports them.
    await sh(
      'alpha',
      "sed -i 's/meta-disk internal;/meta-disk internal;\\n  net { max-epoch-size 12345; }\\n  disk { al-extents 1237; }/' /tmp/r0.res",
    );
    const plan2 = await sh('alpha', `${ADM} -d adjust r0`);
    assert(/net-options r0 1 --max-epoch-size=12345/.test(plan2), `net-options planned:\n${plan2}`);
    assert(/disk-options 0 --al-extents=1237/.test(plan2), `disk-options planned:\n${plan2}`);
    await sh('alpha', `${ADM} adjust r0`);
    const show = await sh('alpha', 'bin/bsrsetup show r0');
    assert(/max-epoch-size\s+12345;/.test(show) && /al-extents\s+1237;/.test(show), `show after adjust:\n${show}`);
    const again = await sh('alpha', `${ADM} -d adjust r0`);
    assert(again.trim() === '', `adjust is idempotent, got:\n${again}`);

    lab.log('adjust applied the changed options');
    // The only path of a live connection cannot go (drbd9-tests: del-path while connecting)...
    const onlyPath = await lab.exec('alpha', [
      'sh',
      '-c',
      `cd ${repo} && bin/bsrsetup del-path r0 1 ipv4:10.99.1.1:7789 ipv4:10.99.1.2:7789`,
    ]);
    assert(onlyPath.code !== 0 && /only path/.test(onlyPath.stderr), `del-path of the only path: ${onlyPath.stderr}`);
    assert(await connected('alpha'), 'the refused del-path left the connection up');
    // ...and a new address is made before the old one is broken: adjust adds the new path, then
    // deletes the old one, which moves the connection over to the new one.
    for (const n of NODES) await sh(n, "sed -i 's/:7789;/:7790;/' /tmp/r0.res");
    const move = await sh('alpha', `${ADM} -d adjust r0`);
    assert(
      /new-path r0 1 ipv4:10.99.1.1:7790 ipv4:10.99.1.2:7790\n.*del-path r0 1 ipv4:10.99.1.1:7789 ipv4:10.99.1.2:7789/.test(
        move,
      ),
      `the new path is added before the old one goes:\n${move}`,
    );
    for (const n of NODES) await sh(n, `${ADM} adjust r0`);
    await Promise.all(NODES.map(waitConnected));
    const sockets = await sh('alpha', 'ss -Htn state established');
    assert(
      /10\.99\.1\.2:7790/.test(sockets) && !/:7789\b/.test(sockets),
      `the connection runs over the new path:\n${sockets}`,
    );
    lab.log('adjust moved the connection to port 7790 (make before break)');
    // events2 through bsradm: the initial dump ends with "exists -".
    const ev = await sh('alpha', `${ADM} events2 --now r0`);
    assert(/^exists connection name:r0 .*connection:Connected/m.test(ev) && /^exists -$/m.test(ev), `events2:\n${ev}`);

    // A config error names FILE:LINE, exits 10 and runs nothing.
    await sh(
      'bravo',
      "cp /tmp/r0.res /tmp/bad.res && sed -i 's/protocol C;/protocol C;\\n  net { max-bufers 10; }/' /tmp/bad.res",
    );
    const bad = await lab.exec('bravo', ['sh', '-c', `cd ${repo} && bin/bsradm -c /tmp/bad.res down r0`]);
    assert(bad.code === 10 && /\/tmp\/bad\.res:\d+:/.test(bad.stderr), `config error: ${bad.code} ${bad.stderr}`);
    assert(await connected('bravo'), 'nothing ran after the config error');

    await sh('alpha', `${ADM} primary r0`);
    await sh(
      'alpha',
      'head -c 4194304 /dev/urandom > /tmp/w && dd if=/tmp/w of=/dev/bsr0 bs=1M oflag=direct status=none',
    );
    const a = (await sh('alpha', 'sha256sum < /tmp/w')).split(' ')[0];
    const b = (await sh('bravo', 'dd if=/dev/vdb bs=1M count=4 iflag=direct status=none | sha256sum')).split(' ')[0];
    assert(a === b, 'data written through the bsradm-configured resource reaches bravo');
    await sh('alpha', `${ADM} secondary r0`);
    for (const n of NODES) await sh(n, `${ADM} down r0 && rmmod bsr`);
  },
});
