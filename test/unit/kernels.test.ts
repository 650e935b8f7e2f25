// Which kernel the module is built for and the lab boots (scripts/kernel-headers.mjs), and the
// initramfs module list of a kernel with built-in and compressed modules (tools/lab/setup.ts).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installedKernels, kernelSeries, kernelVersion, moduleBuildDir } from '../../scripts/kernel-headers.mjs';
import { moduleLoadOrder } from '../../tools/lab/setup.js';

function fakeSrc(names: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'bsr-src-'));
  for (const n of names) mkdirSync(join(dir, n));
  return dir;
}

const SRC = [
  'linux-headers-6.1.0-57-amd64',
  'linux-headers-6.1.0-123-amd64',
  'linux-headers-6.1.0-123-common',
  'linux-headers-6.12.9+deb12-amd64',
  'linux-headers-6.12.115+deb12-amd64',
  'linux-headers-6.12.115+deb12-cloud-amd64',
  'linux-headers-6.12.115+deb12-common',
  'linux-kbuild-6.12.115+deb12',
];

describe('kernel versions', () => {
  it('lists the installed amd64 headers in numeric order, not the cloud or common ones', () => {
    expect(installedKernels(fakeSrc(SRC))).toEqual([
      '6.1.0-57-amd64',
      '6.1.0-123-amd64',
      '6.12.9+deb12-amd64',
      '6.12.115+deb12-amd64',
    ]);
  });

  it('resolves a series to its newest version and takes an exact version as it is', () => {
    const src = fakeSrc(SRC);
    expect(kernelVersion('6.1', src)).toBe('6.1.0-123-amd64');
    expect(kernelVersion('6.12', src)).toBe('6.12.115+deb12-amd64');
    expect(kernelVersion('6.12.9+deb12-amd64', src)).toBe('6.12.9+deb12-amd64');
    expect(kernelVersion('6.6', src)).toBeUndefined();
    expect(kernelSeries('6.12.115+deb12-amd64')).toBe('6.12');
  });

  it('builds the default kernel module in native/kmod and any other in its own folder', () => {
    const src = fakeSrc(SRC);
    expect(moduleBuildDir('/repo', '6.1.0-123-amd64', src)).toBe('/repo/native/kmod');
    expect(moduleBuildDir('/repo', '6.1.0-57-amd64', src)).toBe('/repo/.build/kmod-6.1.0-57-amd64');
    expect(moduleBuildDir('/repo', '6.12.115+deb12-amd64', src)).toBe('/repo/.build/kmod-6.12.115+deb12-amd64');
  });
});

describe('initramfs modules', () => {
  it('leaves out built-in modules and keeps dependency order with compressed files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bsr-mods-'));
    writeFileSync(
      join(dir, 'modules.dep'),
      [
        'kernel/fs/9p/9p.ko.xz: kernel/net/9p/9pnet.ko.xz kernel/fs/netfs/netfs.ko.xz',
        'kernel/net/9p/9pnet.ko.xz:',
        'kernel/fs/netfs/netfs.ko.xz:',
        'kernel/net/9p/9pnet_virtio.ko.xz: kernel/net/9p/9pnet.ko.xz',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'modules.builtin'),
      'kernel/drivers/virtio/virtio_pci.ko\nkernel/drivers/virtio/virtio.ko\n',
    );
    const order = moduleLoadOrder(dir, ['virtio_pci', '9pnet_virtio', '9p']);
    expect(order.map((m) => m.name)).toEqual(['9pnet', '9pnet_virtio', 'netfs', '9p']);
    expect(order[0]?.path).toBe(join(dir, 'kernel/net/9p/9pnet.ko.xz'));
    expect(() => moduleLoadOrder(dir, ['virtio_blk'])).toThrow(/virtio_blk not found/);
  });
});
