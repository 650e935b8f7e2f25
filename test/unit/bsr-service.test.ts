// packaging/systemd/bsr-service, what bsr.service runs, driving the built bsradm in dry runs.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '../..');
const SCRIPT = join(ROOT, 'packaging/systemd/bsr-service');
const work = mkdtempSync(join(tmpdir(), 'bsr-service-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// r0 with the defaults and persist-role; r1 that alice keeps out of the service.
const CONFIG = `resource r0 {
  options { persist-role yes; }
  device minor 1; disk /dev/vdb; meta-disk internal;
  on alice { address 10.1.1.31:7000; }
  on bob { address 10.1.1.32:7000; }
}
resource r1 {
  device minor 2; disk /dev/vdc; meta-disk internal;
  on alice { address 10.1.1.31:7001; options { svc-auto-up no; svc-auto-down no; } }
  on bob { address 10.1.1.32:7001; }
}
`;

function service(action: string, bsradmArgs: string[], conf = CONFIG) {
  const file = join(work, 'bsr.conf');
  writeFileSync(file, conf);
  const bsradm = [process.execPath, join(ROOT, 'dist/bsradm.cjs'), '-c', file, ...bsradmArgs].join(' ');
  return spawnSync('/bin/sh', [SCRIPT, action], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', BSRADM: bsradm, __BSR_NODE__: 'alice' },
  });
}

describe('bsr-service (bsr.service)', () => {
  it('start: up of each svc-auto-up resource, then apply-persist-role (the kernel decides)', () => {
    const run = service('start', ['-d']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe('bsrsetup new-resource r0 0 --persist-role=yes');
    expect(lines).toContain('bsrsetup connect r0 1');
    // persist-role yes: r0 waits for its peer (bsr.ko promotes only with every peer connected)
    expect(lines.slice(-3)).toEqual([
      'bsr: r1: svc-auto-up no, left down',
      'bsrsetup wait-connect-resource r0',
      'bsrsetup apply-persist-role r0',
    ]);
    expect(lines.filter((l) => l.includes(' r1'))).toEqual(['bsr: r1: svc-auto-up no, left down']);
  });

  it('start: every resource is up before the first one waits for its peers', () => {
    const both = CONFIG.replace('options { svc-auto-up no; svc-auto-down no; }', '');
    const lines = service('start', ['-d'], both).stdout.trim().split('\n');
    const lastUp = Math.max(lines.indexOf('bsrsetup connect r0 1'), lines.indexOf('bsrsetup connect r1 1'));
    expect(lines.indexOf('bsrsetup connect r1 1')).toBeGreaterThan(0);
    expect(lines.slice(lastUp + 1)).toEqual([
      'bsrsetup wait-connect-resource r0',
      'bsrsetup apply-persist-role r0',
      'bsrsetup apply-persist-role r1',
    ]);
  });

  it('stop: down of each svc-auto-down resource', () => {
    const run = service('stop', ['-d']);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('bsrsetup down r0\nbsr: r1: svc-auto-down no, left up\n');
  });

  it('a resource that fails is named and the service fails, after trying the others', () => {
    const both = CONFIG.replace('options { svc-auto-up no; svc-auto-down no; }', '');
    const run = service('start', ['-s', '/bin/false', '-m', '/bin/true'], both);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('bsr: start failed for: r0 r1\n');
  });

  it('a config error fails the start before any resource, naming FILE:LINE', () => {
    const run = service('start', ['-d'], CONFIG.replace('persist-role yes', 'persist-role maybe'));
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/bsr\.conf:2: /);
    expect(run.stdout).toBe('');
  });

  it('bsr.service orders it after the network and before the _netdev file systems', () => {
    const unit = readFileSync(join(ROOT, 'packaging/systemd/bsr.service'), 'utf8');
    for (const line of [
      'After=network-online.target systemd-modules-load.service',
      'Wants=network-online.target',
      'Before=remote-fs-pre.target',
      'ExecStartPre=/sbin/modprobe bsr',
      'ExecStart=/usr/lib/bsr/bsr-service start',
      'ExecStop=/usr/lib/bsr/bsr-service stop',
      'RemainAfterExit=yes',
    ]) {
      expect(unit.split('\n')).toContain(line);
    }
  });
});
