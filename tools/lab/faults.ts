// Disk fault injection in the guests with device-mapper (dm-linear, dm-error, dm-flakey, dm-delay).
// Devices are created with udev disabled (DM_DISABLE_UDEV=1 in the agent's environment), so
// dmsetup makes the /dev/mapper/NAME nodes itself.
import type { DiskFaults, Lab, NodeName } from './types.js';
import { shq } from './util.js';

export class DmFaults implements DiskFaults {
  constructor(private readonly lab: Lab) {}

  private async create(node: NodeName, name: string, dev: string, table: (sectors: string) => string) {
    const script = [
      'modprobe -a dm-mod dm-flakey dm-delay',
      `sz=$(blockdev --getsz ${shq(dev)})`,
      `dmsetup create ${shq(name)} --table "${table('$sz')}"`,
      'dmsetup mknodes',
      `test -b /dev/mapper/${shq(name)}`,
    ].join('\n');
    await this.lab.sh(node, script);
    return `/dev/mapper/${name}`;
  }

  linear(node: NodeName, name: string, dev: string): Promise<string> {
    return this.create(node, name, dev, (sz) => `0 ${sz} linear ${dev} 0`);
  }

  error(node: NodeName, name: string, dev: string): Promise<string> {
    return this.create(node, name, dev, (sz) => `0 ${sz} error`);
  }

  flakey(
    node: NodeName,
    name: string,
    dev: string,
    opts: { upSec: number; downSec: number; dropWrites?: boolean; errorWrites?: boolean },
  ): Promise<string> {
    const feature = opts.dropWrites ? ' 1 drop_writes' : opts.errorWrites ? ' 1 error_writes' : '';
    return this.create(node, name, dev, (sz) => `0 ${sz} flakey ${dev} 0 ${opts.upSec} ${opts.downSec}${feature}`);
  }

  delay(node: NodeName, name: string, dev: string, opts: { ms: number; writeMs?: number }): Promise<string> {
    const w = opts.writeMs !== undefined ? ` ${dev} 0 ${opts.writeMs}` : '';
    return this.create(node, name, dev, (sz) => `0 ${sz} delay ${dev} 0 ${opts.ms}${w}`);
  }

  async reload(node: NodeName, name: string, table: string): Promise<void> {
    await this.lab.sh(
      node,
      [
        `dmsetup load ${shq(name)} --table ${shq(table)}`,
        `dmsetup suspend --noflush ${shq(name)}`,
        `dmsetup resume ${shq(name)}`,
      ].join('\n'),
    );
  }

  async failNow(node: NodeName, name: string): Promise<void> {
    const sz = (await this.lab.sh(node, `blockdev --getsz /dev/mapper/${shq(name)}`)).trim();
    await this.reload(node, name, `0 ${sz} error`);
  }

  async healNow(node: NodeName, name: string, dev: string): Promise<void> {
    const sz = (await this.lab.sh(node, `blockdev --getsz ${shq(dev)}`)).trim();
    await this.reload(node, name, `0 ${sz} linear ${dev} 0`);
  }

  async remove(node: NodeName, name: string): Promise<void> {
    await this.lab.sh(node, `dmsetup remove --retry ${shq(name)}`);
  }
}
