// The kernels bsr.ko is built for and the lab boots: Debian 12's 6.1 (the default) and its
// newer 6.12. A kernel is named by its version as in /usr/src/linux-headers-VERSION
// (6.1.0-57-amd64, 6.12.115+deb12-amd64) or by its series (6.1, 6.12: the newest installed).
// KERNEL comes from the caller, else $BSR_KERNEL, else the default series.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_KERNEL_SERIES = '6.1';
const HEADERS = /^linux-headers-(\d+\.\d+\.\d+(?:-\d+|\+deb\d+)-amd64)$/;

function versionParts(v) {
  return v.split(/[.+-]/).map((x) => Number.parseInt(x, 10) || 0);
}

/** Orders versions numerically: 6.1.0-57 < 6.1.0-123 < 6.12.115. */
export function compareVersions(a, b) {
  const pa = versionParts(a);
  const pb = versionParts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  }
  return 0;
}

/** The series of a version or series: "6.12" for 6.12.115+deb12-amd64. */
export function kernelSeries(kernel) {
  return /^\d+\.\d+/.exec(kernel)?.[0] ?? kernel;
}

/** Versions with headers installed, oldest first. */
export function installedKernels(srcDir = '/usr/src') {
  let names = [];
  try {
    names = readdirSync(srcDir);
  } catch {
    return [];
  }
  return names
    .map((n) => HEADERS.exec(n)?.[1])
    .filter((v) => v !== undefined)
    .sort(compareVersions);
}

/** The version KERNEL names among the installed ones, or undefined. */
export function kernelVersion(kernel = process.env.BSR_KERNEL || DEFAULT_KERNEL_SERIES, srcDir = '/usr/src') {
  const installed = installedKernels(srcDir);
  if (installed.includes(kernel)) return kernel;
  return installed.filter((v) => kernelSeries(v) === kernel).at(-1);
}

/** The kernel headers to build against: $KDIR, else those of KERNEL. */
export function headersDir(kernel) {
  if (process.env.KDIR) return process.env.KDIR;
  const v = kernelVersion(kernel);
  if (!v) {
    const want = kernel || process.env.BSR_KERNEL || DEFAULT_KERNEL_SERIES;
    throw new Error(
      `no kernel headers for ${want} in /usr/src (installed: ${installedKernels().join(', ') || 'none'}; ` +
        `\`npm run lab -- setup --kernel ${kernelSeries(want)}\` installs them)`,
    );
  }
  return join('/usr/src', `linux-headers-${v}`);
}

/**
 * Where bsr.ko for VERSION is built: native/kmod for the default kernel (what dkms and the
 * packages ship), REPO/.build/kmod-VERSION (a copy of the sources) for any other.
 */
export function moduleBuildDir(repoRoot, version, srcDir = '/usr/src') {
  if (version === kernelVersion(DEFAULT_KERNEL_SERIES, srcDir)) return join(repoRoot, 'native', 'kmod');
  return join(repoRoot, '.build', `kmod-${version}`);
}
