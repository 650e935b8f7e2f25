// The lab's waits on kernel notifications (tools/lab/bsr-wait.ts) and its guest cache stamps
// (tools/lab/host-cache.ts): the parts that run on the host.
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ResourceEvents, waitEvents } from '../../tools/lab/bsr-wait.js';
import { cachesStale, markCachesFresh } from '../../tools/lab/host-cache.js';
import type { ExecOptions, ExecResult, Lab } from '../../tools/lab/types.js';
import { LabFiles } from '../../tools/lab/vm.js';

type Event = Record<string, string | number>;

const INITIAL: Event[] = [
  { action: 'exists', object: 'resource', name: 'r0', role: 'Secondary' },
  { action: 'exists', object: 'device', name: 'r0', volume: 0, minor: 1, disk: 'Inconsistent' },
  {
    action: 'exists',
    object: 'connection',
    name: 'r0',
    'peer-node-id': 1,
    'conn-name': 'bravo',
    connection: 'Connected',
  },
  {
    action: 'exists',
    object: 'peer-device',
    name: 'r0',
    'peer-node-id': 1,
    volume: 0,
    replication: 'SyncTarget',
    'peer-disk': 'UpToDate',
    'out-of-sync': 1024,
  },
  { action: 'exists', object: '-' },
];
const SYNCED: Event[] = [
  { action: 'change', object: 'peer-device', name: 'r0', 'peer-node-id': 1, volume: 0, replication: 'Established' },
  { action: 'change', object: 'device', name: 'r0', volume: 0, minor: 1, disk: 'UpToDate' },
];

describe('ResourceEvents', () => {
  it('merges change events into the objects of the initial state', () => {
    const r = new ResourceEvents();
    for (const e of INITIAL) r.apply(e);
    expect(r.complete).toBe(true);
    expect(r.field('replication')).toBe('SyncTarget');
    expect(r.field('out-of-sync')).toBe('1024');
    expect(r.field('disk')).toBe('Inconsistent');
    expect(r.field('role')).toBe('Secondary');
    expect(r.allUpToDate()).toBe(false);
    r.apply(SYNCED[0]);
    expect(r.allUpToDate()).toBe(false); // the local disk is still Inconsistent
    r.apply(SYNCED[1]);
    expect(r.peerDevice(0)?.['out-of-sync']).toBe(1024); // fields a change did not carry are kept
    expect(r.allUpToDate()).toBe(true);
    r.apply({ action: 'destroy', object: 'connection', name: 'r0', 'peer-node-id': 1 });
    expect(r.connections()).toEqual([]);
    expect(r.allUpToDate()).toBe(false);
  });
});

/**
 * A lab whose one node runs a state watcher that answers each `watch ID RES` with `lines` as
 * events2 would print them (each prefixed with the ID); `requests` records what it was sent.
 */
function watcherLab(lines: object[], requests: string[], execs: string[] = []): Lab {
  const exec = (_n: string, cmd: string | readonly string[], o: ExecOptions = {}): Promise<ExecResult> => {
    execs.push(String(cmd));
    return new Promise(() => {
      o.stdin?.((data) => {
        for (const request of String(data).split('\n').filter(Boolean)) {
          requests.push(request);
          const [verb, id] = request.split(' ');
          if (verb !== 'watch') continue;
          const text = lines.map((l) => `${id} ${JSON.stringify(l)}\n`).join('');
          // split mid-line: the watcher's output must be joined across chunks
          setTimeout(() => o.onStdout?.(Buffer.from(text.slice(0, 37))), 1);
          setTimeout(() => o.onStdout?.(Buffer.from(text.slice(37))), 2);
        }
      });
    });
  };
  return { exec, repoRoot: '/repo' } as unknown as Lab;
}

describe('waitEvents', () => {
  it('returns what the check found and stops its watch; later waits share the watcher', async () => {
    const requests: string[] = [];
    const execs: string[] = [];
    const lab = watcherLab([...INITIAL, ...SYNCED], requests, execs);
    const seen = await waitEvents(lab, 'alpha', 'r0', 'in sync', (r) => r.allUpToDate() && 'yes', 5000);
    expect(seen).toBe('yes');
    expect(await waitEvents(lab, 'alpha', 'r0', 'again', (r) => r.allUpToDate() && 'twice', 5000)).toBe('twice');
    expect(requests).toEqual(['watch 1 r0', 'stop 1', 'watch 2 r0', 'stop 2']);
    expect(execs).toEqual(['exec node /repo/dist/lab-monitor.cjs']);
  });

  it('looks only once the initial state is complete', async () => {
    const checked: number[] = [];
    const lab = watcherLab([...INITIAL, ...SYNCED], []);
    await waitEvents(lab, 'alpha', 'r0', 'any', (r) => checked.push(r.devices().length) > 0, 5000);
    expect(checked).toEqual([1]);
  });

  it('says once when the initial state is read, before the check can hold', async () => {
    const order: string[] = [];
    const lab = watcherLab([...INITIAL, ...SYNCED], []);
    const done = waitEvents(
      lab,
      'alpha',
      'r0',
      'in sync',
      (r) => {
        order.push(`check ${r.allUpToDate()}`);
        return r.allUpToDate();
      },
      5000,
      () => order.push('ready'),
    );
    expect(await done).toBe(true);
    expect(order).toEqual(['ready', 'check false', 'check false', 'check true']);
  });

  it('fails after the time limit with the last state seen', async () => {
    const lab = watcherLab(INITIAL, []);
    await expect(waitEvents(lab, 'alpha', 'r0', 'in sync', (r) => r.allUpToDate(), 50)).rejects.toThrow(
      /alpha: in sync: not within 0.05 s; last state: .*SyncTarget/,
    );
  });

  it('fails at once when the watch fails', async () => {
    const lab = watcherLab([], []);
    const failing = { ...lab, exec: lab.exec } as Lab;
    (failing as { exec: Lab['exec'] }).exec = (_n, _c, o = {}) =>
      new Promise(() => o.stdin?.(() => setTimeout(() => o.onStdout?.(Buffer.from('1 !module not loaded\n')), 1)));
    await expect(waitEvents(failing, 'alpha', 'r0', 'in sync', (r) => r.allUpToDate(), 5000)).rejects.toThrow(
      /alpha: in sync: events2 failed: module not loaded/,
    );
  });
});

describe('guest cache stamps', () => {
  it('a changed module or bundle makes the caches stale, nothing else does', () => {
    const repo = mkdtempSync(join(tmpdir(), 'bsr-stamp-'));
    for (const d of ['native/kmod', 'dist', 'run']) mkdirSync(join(repo, d), { recursive: true });
    writeFileSync(join(repo, 'native/kmod/bsr.ko'), 'module');
    writeFileSync(join(repo, 'native/kmod/bsr_main.o'), 'object');
    writeFileSync(join(repo, 'dist/bsrsetup.cjs'), 'bundle');
    const files = new LabFiles(repo);
    expect(cachesStale(files, 'alpha', repo)).toBe(true); // never marked
    markCachesFresh(files, 'alpha', repo);
    expect(cachesStale(files, 'alpha', repo)).toBe(false);
    writeFileSync(join(repo, 'native/kmod/bsr_main.o'), 'rebuilt object');
    expect(cachesStale(files, 'alpha', repo)).toBe(false);
    utimesSync(join(repo, 'native/kmod/bsr.ko'), new Date(), new Date(Date.now() + 5000));
    expect(cachesStale(files, 'alpha', repo)).toBe(true);
    markCachesFresh(files, 'alpha', repo);
    writeFileSync(join(repo, 'dist/bsrsetup.cjs'), 'rebuilt bundle');
    expect(cachesStale(files, 'alpha', repo)).toBe(true);
    expect(cachesStale(files, 'bravo', repo)).toBe(true);
  });
});
