import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// What `modinfo bsr` shows, as in the install document: the built module (npm test builds it
// before the unit tests; alone: npm run build:kmod).
const root = join(__dirname, '../..');
const ko = join(root, 'native/kmod/bsr.ko');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };

function modinfo(): Map<string, string[]> {
  if (!existsSync(ko)) throw new Error(`${ko} is not built: npm run build:kmod`);
  const run = spawnSync('/sbin/modinfo', [ko], { encoding: 'utf8' });
  expect(run.status).toBe(0);
  const fields = new Map<string, string[]>();
  for (const line of run.stdout.split('\n')) {
    const m = /^(\w+):\s+(.*)$/.exec(line);
    if (m) fields.set(m[1], [...(fields.get(m[1]) ?? []), m[2]]);
  }
  return fields;
}

describe('modinfo bsr', () => {
  const info = modinfo();

  it('has the package version, a description naming it, the license', () => {
    expect(info.get('version')).toEqual([version]);
    expect(info.get('description')).toEqual([`bsr - Block Sync and Replication v${version}`]);
    expect(info.get('license')).toEqual(['GPL']);
  });

  it('has the block-major alias (opening /dev/bsrN loads it) and the netlink family alias', () => {
    expect(info.get('alias')).toEqual(expect.arrayContaining(['block-major-147-*', 'net-pf-16-proto-16-family-bsr']));
  });

  it("has the install document's test-only fault injection parameters", () => {
    const names = (info.get('parm') ?? []).map((p) => p.split(':')[0]);
    expect(names).toEqual(expect.arrayContaining(['enable_faults', 'fault_rate', 'fault_count', 'fault_devs']));
  });

  it('describes every module parameter', () => {
    const parms = info.get('parm') ?? [];
    const kmod = join(root, 'native/kmod');
    const sources = readdirSync(kmod).filter((f) => f.endsWith('.c') && !f.endsWith('.mod.c'));
    const declared = sources.map((f) => readFileSync(join(kmod, f), 'utf8')).join('\n');
    const names = [...declared.matchAll(/module_param\w*\((\w+)/g)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      const parm = parms.find((p) => p.startsWith(`${name}:`));
      // `name:description (type)`: a parameter without MODULE_PARM_DESC shows only `name:type`.
      expect(parm, name).toMatch(new RegExp(`^${name}:.+ \\(\\w+\\)$`));
    }
  });
});
