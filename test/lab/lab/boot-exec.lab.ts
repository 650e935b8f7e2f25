// Lab self-test: boot, hostname and addresses, exec semantics (exit codes, stderr, stdin, large
// output, concurrency on one node and across nodes), the read-only host share and writable folders.
import { createHash } from 'node:crypto';
import { LabExecError, type Scenario } from '../../../tools/lab/scenario.js';

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

const scenario: Scenario = {
  title: 'boot, hostnames, addresses, exec semantics, the host share',
  nodes: 2,
  timeoutSec: 600,
  async run(lab) {
    for (const n of lab.nodes) {
      assert((await lab.sh(n, 'hostname')).trim() === n, `${n}: hostname`);
      assert((await lab.sh(n, 'ls /dev/vda /dev/vdb')).includes('/dev/vdb'), `${n}: two disks`);
      const size = Number((await lab.sh(n, 'blockdev --getsize64 /dev/vda')).trim());
      assert(size === 512 * 1024 * 1024, `${n}: vda is 512 MiB (got ${size})`);
    }
    assert(lab.address('alpha', 'bravo') === '10.99.1.1', 'alpha address');
    assert(lab.address('bravo', 'alpha') === '10.99.1.2', 'bravo address');
    const addrs = await lab.sh('alpha', `ip -4 -o addr show dev ${lab.iface('alpha', 'bravo')}`);
    assert(addrs.includes('10.99.1.1/24'), `alpha's link address: ${addrs}`);
    assert((await lab.sh('bravo', 'getent hosts alpha')).includes('10.99.1.2') === false, 'hosts: alpha is the peer');
    assert((await lab.sh('bravo', 'getent hosts alpha')).includes('10.99.1.1'), 'hosts: alpha resolves');

    // Exit codes, stderr, stdin, argv without a shell.
    const r = await lab.exec('alpha', 'echo out; echo err >&2; exit 3');
    assert(r.code === 3 && r.stdout === 'out\n' && r.stderr === 'err\n', `exec result ${JSON.stringify(r)}`);
    const argv = await lab.exec('alpha', ['printf', '%s|', 'a b', "c'd"]);
    assert(argv.stdout === "a b|c'd|", `argv: ${argv.stdout}`);
    const cat = await lab.exec('bravo', ['cat'], { input: 'hello\nworld\n' });
    assert(cat.stdout === 'hello\nworld\n', 'stdin');
    const env = await lab.exec('bravo', 'echo $FOO; pwd', { env: { FOO: 'bar' }, cwd: '/tmp' });
    assert(env.stdout === 'bar\n/tmp\n', `env/cwd: ${env.stdout}`);
    try {
      await lab.sh('alpha', 'false');
      throw new Error('sh did not throw');
    } catch (e) {
      assert(e instanceof LabExecError || (e as Error).message.includes('exit code 1'), 'sh throws on failure');
    }
    // A command leaving a background process with its output open still returns.
    const t0 = Date.now();
    await lab.sh('alpha', 'sleep 30 & echo started');
    assert(Date.now() - t0 < 10_000, 'background child does not hold the call');
    await lab.sh('alpha', 'pkill -x sleep || true');
    // Timeouts kill the command.
    let timedOut = false;
    try {
      await lab.exec('alpha', 'sleep 60', { timeoutMs: 1500 });
    } catch {
      timedOut = true;
    }
    assert(timedOut, 'timeoutMs rejects');

    // Large binary output: 20 MiB of random bytes, checksummed on both sides (raw chunks via onStdout).
    const want = (await lab.sh('alpha', 'head -c 20971520 /dev/urandom > /tmp/big; sha256sum /tmp/big')).slice(0, 64);
    const chunks: Buffer[] = [];
    const big = await lab.exec('alpha', 'cat /tmp/big', { timeoutMs: 120_000, onStdout: (c) => chunks.push(c) });
    const bytes = Buffer.concat(chunks);
    const got = createHash('sha256').update(bytes).digest('hex');
    assert(big.code === 0, 'large output exit code');
    assert(bytes.length === 20971520, `large output length ${bytes.length}`);
    assert(got === want, `large output checksum ${got} != ${want}`);
    let streamed = 0;
    await lab.exec('bravo', 'seq 1 200000', { onStdout: (c) => (streamed += c.length) });
    assert(streamed === 1288895, `streamed ${streamed} bytes`);

    // Concurrency: 4 calls on one node and calls on both nodes at once.
    const t1 = Date.now();
    const res = await Promise.all([
      lab.exec('alpha', 'sleep 2; echo a1'),
      lab.exec('alpha', 'sleep 2; echo a2'),
      lab.exec('alpha', 'sleep 2; echo a3'),
      lab.exec('bravo', 'sleep 2; echo b1'),
      lab.exec('bravo', 'sleep 2; echo b2'),
    ]);
    const took = Date.now() - t1;
    assert(res.map((x) => x.stdout.trim()).join(',') === 'a1,a2,a3,b1,b2', 'concurrent outputs');
    assert(took < 8000, `concurrent calls ran in parallel (${took} ms)`);

    // The host's file system is visible read-only; /tmp, /etc, /var/lib are writable.
    assert(
      (await lab.sh('alpha', `test -f ${lab.repoRoot}/package.json && echo yes`)).trim() === 'yes',
      'repo visible',
    );
    const ro = await lab.exec('alpha', `touch ${lab.repoRoot}/.lab-guest-write-test`);
    assert(ro.code !== 0, 'host share is read-only');
    await lab.sh('alpha', 'echo x > /tmp/x && echo x > /etc/lab-test && mkdir -p /var/lib/drbd /run/lock');
    lab.log(`ok (concurrent exec ${took} ms)`);
  },
};
export default scenario;
