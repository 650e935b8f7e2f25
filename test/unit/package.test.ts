// The contents of the packages `npm run package` builds (scripts/package.mjs); building them
// takes over a minute (rpmbuild compiles the module), see docs/packaging.md for that check.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module script without types
import { debianFiles, dkmsFiles, rpmFileList, stage, TOOLS, utilsFiles, version } from '../../scripts/package.mjs';

interface Entry {
  path: string;
  from?: string;
  text?: string | Buffer;
  link?: string;
  dir?: true;
  mode?: number;
  conffile?: true;
}

const ROOT = join(__dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'bsr-package-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const paths = (entries: Entry[]) => entries.map((e) => e.path);

describe('bsr-utils', () => {
  const deb: Entry[] = utilsFiles('deb');

  it('has the tools in /usr/sbin, the service, the config as conffiles, the log directory', () => {
    for (const tool of TOOLS) {
      expect(deb).toContainEqual({ path: `usr/sbin/${tool}`, link: `../lib/bsr/bin/${tool}` });
    }
    expect(paths(deb)).toEqual(
      expect.arrayContaining([
        'usr/lib/bsr/bsr-service',
        'lib/systemd/system/bsr.service',
        'var/log/bsr',
        'usr/lib/bsr/native/addon/build/Release/bsr_netlink.node',
      ]),
    );
    expect(paths(deb.filter((e) => e.conffile))).toEqual([
      'etc/bsr.conf',
      'etc/bsr.d/global_common.conf',
      'etc/logrotate.d/bsr',
    ]);
    for (const e of deb.filter((x) => x.from)) expect(existsSync(join(ROOT, e.from as string)), e.from).toBe(true);
  });

  it('as an rpm: the unit under /usr/lib, conffiles %config(noreplace), owned directories %dir', () => {
    const list: string[] = rpmFileList(utilsFiles('rpm'));
    expect(list).toContain('/usr/lib/systemd/system/bsr.service');
    expect(list).toContain('%config(noreplace) /etc/bsr.d/global_common.conf');
    expect(list).toContain('%dir /var/log/bsr');
    expect(list).toContain('/usr/sbin/bsradm');
  });

  it('staged, /usr/sbin/bsradm runs the bundle and bsrsetup finds its netlink addon', () => {
    const root = join(work, 'utils');
    stage(deb, root);
    const bsradm = spawnSync(process.execPath, [join(root, 'usr/sbin/bsradm'), '-V'], { encoding: 'utf8' });
    expect(bsradm.stderr).toBe('');
    expect(bsradm.stdout).toContain(`BSRADM_VERSION=${version}\n`);
    const bsrsetup = spawnSync(process.execPath, [join(root, 'usr/sbin/bsrsetup'), 'status'], { encoding: 'utf8' });
    expect(bsrsetup.stderr).not.toContain('addon is not built');
    expect(readFileSync(join(root, 'usr/lib/bsr/bin/bsrmeta'), 'utf8')).toContain("require('../dist/bsrmeta.cjs');");
  });

  it('takes the man pages and completions from man/ and completion/ when they exist', () => {
    const repo = join(work, 'repo');
    mkdirSync(join(repo, 'packaging'), { recursive: true });
    writeFileSync(join(repo, 'packaging/launcher'), '@NAME@');
    expect(
      paths(utilsFiles('deb', repo)).filter((p) => p.startsWith('usr/share/man') || p.includes('completion')),
    ).toEqual([]);

    mkdirSync(join(repo, 'man'));
    mkdirSync(join(repo, 'completion'));
    writeFileSync(join(repo, 'man/bsradm.8'), '.TH BSRADM 8\n');
    writeFileSync(join(repo, 'man/bsr.conf.5'), '.TH BSR.CONF 5\n');
    writeFileSync(join(repo, 'completion/bsradm'), 'complete -F _bsradm bsradm\n');
    const docs = utilsFiles('deb', repo).filter((e: Entry) => e.path.startsWith('usr/share/'));
    expect(paths(docs)).toEqual(
      expect.arrayContaining([
        'usr/share/man/man5/bsr.conf.5.gz',
        'usr/share/man/man8/bsradm.8.gz',
        'usr/share/bash-completion/completions/bsradm',
      ]),
    );
    const page = docs.find((e: Entry) => e.path === 'usr/share/man/man8/bsradm.8.gz') as Entry;
    expect(gunzipSync(page.text as Buffer).toString()).toBe('.TH BSRADM 8\n');

    // the generated file completing all four tools is found under each tool's name
    rmSync(join(repo, 'completion/bsradm'));
    writeFileSync(join(repo, 'completion/bsr'), 'complete -F _bsrsetup bsrsetup\n');
    const completions = utilsFiles('deb', repo).filter((e: Entry) => e.path.includes('completions/bsr'));
    expect(completions.map((e: Entry) => [e.path.split('/').pop(), e.from ?? `-> ${e.link}`])).toEqual([
      ['bsradm', 'completion/bsr'],
      ['bsrsetup', '-> bsradm'],
      ['bsrmeta', '-> bsradm'],
      ['bsrcon', '-> bsradm'],
    ]);
  });
});

describe('bsr-dkms', () => {
  const files: Entry[] = dkmsFiles();
  const src = `usr/src/bsr-${version}`;

  it('has dkms.conf and every source Kbuild compiles, and no build products', () => {
    const objects = /bsr-y := ([^\n]*(?:\\\n[^\n]*)*)/.exec(readFileSync(join(ROOT, 'native/kmod/Kbuild'), 'utf8'));
    const sources = (objects?.[1].match(/\w+\.o/g) ?? []).map((o) => `${src}/${o.replace(/\.o$/, '.c')}`);
    expect(sources.length).toBeGreaterThan(5);
    expect(paths(files)).toEqual(
      expect.arrayContaining([...sources, `${src}/dkms.conf`, `${src}/Kbuild`, `${src}/bsr_version.h`]),
    );
    expect(paths(files).filter((p) => /\.(o|ko|mod\.c|cmd)$/.test(p))).toEqual([]);
  });
});

describe('DEBIAN/ of the debs', () => {
  it('control carries the version and the dependencies; conffiles lists the config', () => {
    const utils = debianFiles('bsr-utils', utilsFiles('deb'), 1168);
    expect(utils.control).toContain(`Package: bsr-utils\nVersion: ${version}\nArchitecture: amd64\n`);
    expect(utils.control).toContain('Depends: nodejs (>= 18.19), kmod\n');
    expect(utils.control).toContain('Installed-Size: 1168\n');
    expect(utils.conffiles).toBe('/etc/bsr.conf\n/etc/bsr.d/global_common.conf\n/etc/logrotate.d/bsr\n');
    const dkms = debianFiles('bsr-dkms', dkmsFiles(), 440);
    expect(dkms.control).toContain(`Package: bsr-dkms\nVersion: ${version}\nArchitecture: all\n`);
    expect(dkms.conffiles).toBeUndefined();
    expect(dkms.postinst).toContain(`/usr/lib/dkms/common.postinst bsr ${version} `);
  });

  it('the maintainer scripts are valid sh with no placeholder left', () => {
    for (const name of ['bsr-utils', 'bsr-dkms']) {
      const { control, conffiles, ...scripts } = debianFiles(name, [], 1);
      expect(Object.keys(scripts).length).toBeGreaterThan(1);
      for (const text of [control, ...Object.values(scripts)]) expect(text).not.toMatch(/@[A-Z]+@/);
      for (const [script, text] of Object.entries(scripts)) {
        const check = spawnSync('sh', ['-n'], { input: text as string, encoding: 'utf8' });
        expect(check.status, `${name}.${script}: ${check.stderr}`).toBe(0);
      }
    }
  });
});
