// The kernel headers to build bsr.ko against: $KDIR, or the newest /usr/src/linux-headers-*-amd64.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export function headersDir() {
  if (process.env.KDIR) return process.env.KDIR;
  const vers = readdirSync('/usr/src')
    .filter((n) => /^linux-headers-\d+\.\d+\.\d+-\d+-amd64$/.test(n))
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  if (!vers.length) throw new Error('no /usr/src/linux-headers-*-amd64 (apt-get install linux-headers-amd64)');
  return join('/usr/src', vers.at(-1));
}
