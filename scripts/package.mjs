#!/usr/bin/env node
// `npm run package`: builds the installable packages from this checkout into out/packages/:
//   bsr-utils_VER_amd64.deb, bsr-dkms_VER_all.deb (dpkg-deb),
//   bsr-utils-VER-1.x86_64.rpm, kmod-bsr-VER-1.x86_64.rpm (rpmbuild, the module built against
//   the newest installed kernel headers, or $KDIR).
// VER is package.json's version, the one place it is written (docs/packaging.md). The file lists
// are computed here (utilsFiles, dkmsFiles) from the repository; man/ and completion/ are
// packaged when they exist.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { headersDir } from './kernel-headers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
export const TOOLS = ['bsradm', 'bsrsetup', 'bsrmeta', 'bsrcon'];
/** Where each family finds systemd units: Debian 12 still ships them under /lib. */
export const UNIT_DIRS = { deb: 'lib/systemd/system', rpm: 'usr/lib/systemd/system' };

/**
 * One file of a package, relative to the root of the installed system: copied `from` the
 * repository, written from `text`, a symbolic `link`, or a `dir`. `conffile`: the administrator's
 * to change (dpkg and rpm keep the changed file on upgrade and removal).
 * @typedef {{ path: string, from?: string, text?: string | Buffer, link?: string, dir?: true,
 *   mode?: number, conffile?: true }} Entry
 */

/** Man pages (man/NAME.SECTION) and bash completions (completion/NAME), when they were generated. */
function generatedDocs(repo) {
  const list = (dir) => (existsSync(join(repo, dir)) ? readdirSync(join(repo, dir)).sort() : []);
  const man = list('man')
    .filter((name) => /\.[1-9]$/.test(name))
    .map((name) => ({
      path: `usr/share/man/man${name.at(-1)}/${name}.gz`,
      // -n: no name or time stamp in the gzip header, so the package is the same on every build
      text: gzipSync(readFileSync(join(repo, 'man', name)), { level: 9 }),
    }));
  const dir = 'usr/share/bash-completion/completions';
  // bash-completion loads completions/NAME when NAME is first completed: completion/bsr completes
  // all four tools, so it is installed under the first one's name and linked under the others'
  const completion = list('completion').flatMap((name) =>
    name === 'bsr'
      ? TOOLS.map((tool) =>
          tool === TOOLS[0]
            ? { path: `${dir}/${tool}`, from: 'completion/bsr' }
            : { path: `${dir}/${tool}`, link: TOOLS[0] },
        )
      : [{ path: `${dir}/${name}`, from: `completion/${name}` }],
  );
  return [...man, ...completion];
}

/** bsr-utils: the tools, the service, the configuration, logs and state. */
export function utilsFiles(family, repo = root) {
  const lib = 'usr/lib/bsr';
  const launcher = readFileSync(join(repo, 'packaging/launcher'), 'utf8');
  const dist = (name) => existsSync(join(repo, 'dist', name));
  return [
    { path: lib, dir: true },
    { path: `${lib}/dist/launch.cjs`, from: 'dist/launch.cjs' },
    ...TOOLS.flatMap((tool) => [
      { path: `${lib}/dist/${tool}.cjs`, from: `dist/${tool}.cjs` },
      { path: `${lib}/dist/${tool}.code.cjs`, from: `dist/${tool}.code.cjs` },
      // V8 refuses the cache under another node version (Debian's 18): it then compiles, as without
      ...(dist(`${tool}.code.cache`)
        ? [{ path: `${lib}/dist/${tool}.code.cache`, from: `dist/${tool}.code.cache` }]
        : []),
      { path: `${lib}/bin/${tool}`, text: launcher.replaceAll('@NAME@', tool), mode: 0o755 },
      { path: `usr/sbin/${tool}`, link: `../lib/bsr/bin/${tool}` },
    ]),
    // where src/netlink/addon.ts looks, beside dist/
    {
      path: `${lib}/native/addon/build/Release/bsr_netlink.node`,
      from: 'native/addon/build/Release/bsr_netlink.node',
    },
    { path: `${lib}/bsr-service`, from: 'packaging/systemd/bsr-service', mode: 0o755 },
    { path: `${UNIT_DIRS[family]}/bsr.service`, from: 'packaging/systemd/bsr.service' },
    { path: 'etc/bsr.conf', from: 'packaging/bsr.conf', conffile: true },
    { path: 'etc/bsr.d', dir: true },
    { path: 'etc/bsr.d/global_common.conf', from: 'conf-examples/global_common.conf', conffile: true },
    { path: 'etc/logrotate.d/bsr', from: 'packaging/logrotate', conffile: true },
    { path: 'var/log/bsr', dir: true },
    { path: 'usr/share/doc/bsr-utils', dir: true },
    { path: 'usr/share/doc/bsr-utils/copyright', from: 'packaging/copyright' },
    ...generatedDocs(repo),
  ];
}

/** The module's source as dkms and kmod-bsr build it (no build products). */
export function moduleSources(repo = root) {
  return readdirSync(join(repo, 'native/kmod'))
    .filter((name) => /^(bsr\w*\.[ch]|Kbuild|Makefile|dkms\.conf)$/.test(name) && name !== 'bsr.mod.c')
    .sort();
}

/** bsr-dkms: the module source where dkms looks for it, /usr/src/bsr-VER. */
export function dkmsFiles(repo = root) {
  const src = `usr/src/bsr-${version}`;
  return [
    { path: src, dir: true },
    ...moduleSources(repo).map((name) => ({ path: `${src}/${name}`, from: `native/kmod/${name}` })),
    { path: 'usr/share/doc/bsr-dkms', dir: true },
    { path: 'usr/share/doc/bsr-dkms/copyright', from: 'packaging/copyright' },
  ];
}

/** rpm's %files list of bsr-utils: directories it owns, conffiles kept when changed. */
export function rpmFileList(entries) {
  return entries.map((e) => {
    if (e.dir) return `%dir /${e.path}`;
    return e.conffile ? `%config(noreplace) /${e.path}` : `/${e.path}`;
  });
}

/**
 * The files of DEBIAN/ for package `name`: control with the version and the installed size (KiB),
 * conffiles, the maintainer scripts of packaging/debian/.
 */
export function debianFiles(name, entries, sizeKiB) {
  const fill = (file) =>
    readFileSync(join(root, 'packaging/debian', file), 'utf8')
      .replaceAll('@VERSION@', version)
      .replaceAll('@SIZE@', String(sizeKiB));
  const files = { control: fill(`${name}.control`) };
  const conffiles = entries.filter((e) => e.conffile).map((e) => `/${e.path}\n`);
  if (conffiles.length > 0) files.conffiles = conffiles.join('');
  for (const script of ['postinst', 'prerm', 'postrm']) {
    if (existsSync(join(root, 'packaging/debian', `${name}.${script}`))) files[script] = fill(`${name}.${script}`);
  }
  return files;
}

function writeDebian(name, entries, stageDir) {
  const du = spawnSync('du', ['-sk', stageDir], { encoding: 'utf8' });
  const debian = join(stageDir, 'DEBIAN');
  mkdirSync(debian, { recursive: true });
  for (const [file, text] of Object.entries(debianFiles(name, entries, du.stdout.split('\t')[0]))) {
    writeFileSync(join(debian, file), text, { mode: file === 'control' || file === 'conffiles' ? 0o644 : 0o755 });
  }
}

/** Lays the entries out under stageDir, as they will be installed. */
export function stage(entries, stageDir, repo = root) {
  rmSync(stageDir, { recursive: true, force: true });
  for (const e of entries) {
    const target = join(stageDir, e.path);
    if (e.dir) {
      mkdirSync(target, { recursive: true });
      chmodSync(target, 0o755);
      continue;
    }
    mkdirSync(dirname(target), { recursive: true });
    if (e.link) symlinkSync(e.link, target);
    else if (e.text !== undefined) writeFileSync(target, e.text);
    else copyFileSync(join(repo, e.from), target);
    if (!e.link) chmodSync(target, e.mode ?? 0o644);
  }
}

function run(command, args, options = {}) {
  console.log(`package: ${command} ${args.join(' ')}`);
  const r = spawnSync(command, args, { stdio: 'inherit', cwd: root, ...options });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.status ?? r.signal})`);
}

/** dpkg-deb, rpmbuild and dkms from Debian's archive when missing (as scripts/install-deps.sh). */
function installBuildTools() {
  const needed = { 'dpkg-deb': 'dpkg-dev', rpmbuild: 'rpm', dkms: 'dkms' };
  const missing = Object.entries(needed)
    .filter(([command]) => spawnSync('sh', ['-c', `command -v ${command}`]).status !== 0)
    .map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
}

function buildDeb(name, arch, entries, out, work) {
  const stageDir = join(work, name);
  stage(entries, stageDir);
  writeDebian(name, entries, stageDir);
  const deb = join(out, `${name}_${version}_${arch}.deb`);
  run('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stageDir, deb]);
  return deb;
}

/** A tar of `names` in `dir`, owned by root, in a stable order. */
function tar(file, dir, names) {
  run('tar', ['-cf', file, '--owner=0', '--group=0', '--numeric-owner', '--sort=name', '-C', dir, ...names]);
}

function buildRpms(out, work) {
  const top = join(work, 'rpmbuild');
  for (const d of ['SOURCES', 'SPECS', 'BUILD', 'RPMS', 'SRPMS', 'BUILDROOT'])
    mkdirSync(join(top, d), { recursive: true });
  const common = ['--define', `_topdir ${top}`, '--define', `bsr_version ${version}`];

  const utils = utilsFiles('rpm');
  const utilsStage = join(work, 'bsr-utils-rpm');
  stage(utils, utilsStage);
  tar(join(top, 'SOURCES', `bsr-utils-${version}.tar`), utilsStage, readdirSync(utilsStage));
  const fileList = join(work, 'bsr-utils.files');
  writeFileSync(fileList, `${rpmFileList(utils).join('\n')}\n`);
  run('rpmbuild', [...common, '--define', `bsr_filelist ${fileList}`, '-bb', 'packaging/rpm/bsr-utils.spec']);

  const kmodDir = join(work, `bsr-kmod-${version}`);
  stage(
    moduleSources().map((name) => ({ path: name, from: `native/kmod/${name}` })),
    kmodDir,
  );
  run('tar', [
    '-czf',
    join(top, 'SOURCES', `bsr-kmod-${version}.tar.gz`),
    '--owner=0',
    '--group=0',
    '-C',
    work,
    basename(kmodDir),
  ]);
  const kdir = headersDir();
  const kversion = basename(kdir).replace(/^linux-headers-/, '');
  run('rpmbuild', [
    ...common,
    '--define',
    `kversion ${kversion}`,
    '--define',
    `kdir ${kdir}`,
    '-bb',
    'packaging/rpm/kmod-bsr.spec',
  ]);

  const built = join(top, 'RPMS', 'x86_64');
  return readdirSync(built).map((name) => {
    copyFileSync(join(built, name), join(out, name));
    return join(out, name);
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = join(root, 'out/packages');
  const work = join(root, 'out/work');
  installBuildTools();
  if (!existsSync(join(root, 'node_modules'))) run('npm', ['ci', '--no-audit', '--no-fund']);
  run('node', ['scripts/gen-abi.mjs', '--check']);
  run('npm', ['run', 'build']);
  run('npm', ['run', 'build:addon']);
  rmSync(out, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const built = [
    buildDeb('bsr-utils', 'amd64', utilsFiles('deb'), out, work),
    buildDeb('bsr-dkms', 'all', dkmsFiles(), out, work),
    ...buildRpms(out, work),
  ];
  for (const file of built) console.log(`package: ${file} (${statSync(file).size} bytes)`);
}
