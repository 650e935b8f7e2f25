import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '../..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const read = (path: string) => readFileSync(join(root, path), 'utf8');

describe('one version, from package.json', () => {
  it("is the module's BSR_VERSION (MODULE_VERSION, /proc/bsr), generated", () => {
    expect(read('native/kmod/bsr_version.h')).toContain(`#define BSR_VERSION "${version}"\n`);
    // No second definition elsewhere in the module can disagree with it.
    const defines = ['bsr_int.h', 'bsr_main.c', 'bsr_abi.h'].filter((f) =>
      /#define BSR_VERSION\b/.test(read(`native/kmod/${f}`)),
    );
    expect(defines).toEqual([]);
  });

  it("is dkms.conf's PACKAGE_VERSION", () => {
    expect(read('native/kmod/dkms.conf')).toContain(`PACKAGE_VERSION="${version}"\n`);
  });

  it('is what bsradm -V prints', () => {
    const run = spawnSync(process.execPath, [join(root, 'dist/bsradm.cjs'), '-V'], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`BSRADM_VERSION=${version}\n`);
  });
});
