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

/** A lab whose one node prints `lines` as events2 would, then blocks until the call is aborted. */
function streamingLab(lines: object[], calls: string[]): Lab {
  const exec = (_n: string, cmd: string | readonly string[], o: ExecOptions = {}): Promise<ExecResult> => {
    calls.push(String(cmd));
    return new Promise((resolve) => {
      const text = lines.map((l) => `${JSON.stringify(l)}\n`).join('');
      // split mid-line: the wait must join chunks
      setTimeout(() => o.onStdout?.(Buffer.from(text.slice(0, 37))), 1);
      setTimeout(() => o.onStdout?.(Buffer.from(text.slice(37))), 2);
      o.signal?.addEventListener('abort', () => resolve({ code: 137, stdout: text, stderr: '' }));
    });
  };
  return { exec } as unknown as Lab;
}

describe('waitEvents', () => {
  it('returns what the check found and stops the events2 process', async () => {
    const calls: string[] = [];
    const lab = streamingLab([...INITIAL, ...SYNCED], calls);
    const seen = await waitEvents(lab, 'alpha', 'bsrsetup', 'r0', 'in sync', (r) => r.allUpToDate() && 'yes', 5000);
    expect(seen).toBe('yes');
    expect(calls).toEqual(['exec bsrsetup events2 r0 --json --statistics']);
  });

  it('looks only once the initial state is complete', async () => {
    const checked: number[] = [];
    const lab = streamingLab([...INITIAL, ...SYNCED], []);
    await waitEvents(lab, 'alpha', 'bsrsetup', 'r0', 'any', (r) => checked.push(r.devices().length) > 0, 5000);
    expect(checked).toEqual([1]);
  });

  it('fails after the time limit with the last state seen', async () => {
    const lab = streamingLab(INITIAL, []);
    await expect(waitEvents(lab, 'alpha', 'bsrsetup', 'r0', 'in sync', (r) => r.allUpToDate(), 50)).rejects.toThrow(
      /alpha: in sync: not within 0.05 s; last state: .*SyncTarget/,
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
