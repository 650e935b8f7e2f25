// Size and number parsing shared by the config language and every CLI.

const SUFFIX_SHIFT: Record<string, number> = { '': 0, K: 10, M: 20, G: 30, T: 40, P: 50 };

/**
 * Parses "512", "512k", "2M", "1G" (suffix case-insensitive, optional trailing "iB"/"B") into a count
 * of `unitBytes`-sized units. A bare number is already in that unit; a suffixed one is converted
 * from bytes. Returns undefined when the text is not a size.
 */
export function parseSize(text: string, unitBytes = 1): number | undefined {
  const m = /^(\d+)\s*([kKmMgGtTpP]?)(?:i?[bB])?$/.exec(text.trim());
  if (!m) return undefined;
  const value = Number(m[1]);
  const suffix = m[2].toUpperCase();
  if (suffix === '') return value;
  const bytes = value * 2 ** SUFFIX_SHIFT[suffix];
  return Math.ceil(bytes / unitBytes);
}

/** Formats a byte count the way status output and bsrmeta messages do (e.g. "512 MiB"). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1 && v % 1024 === 0) {
    v /= 1024;
    i++;
  }
  return `${v} ${units[i]}`;
}
