// Minimal glob for `include`: *, ? and [...] within path segments, results sorted like the shell.
// Directory entries come with their types (no stat per file): this runs on every bsradm start.
import { type Dirent, existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve, sep } from 'node:path';

const WILDCARD = /[*?[]/;

function segmentRegExp(segment: string): RegExp {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const close = segment.indexOf(']', i + 1);
      if (close < 0) source += '\\[';
      else {
        const body = segment
          .slice(i + 1, close)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\');
        source += `[${body}]`;
        i = close;
      }
    } else source += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

function entries(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch {
    return [];
  }
}

/** Whether an entry is a directory (`wantDirectory`) or a file, following symbolic links. */
function entryIs(dir: string, entry: Dirent, wantDirectory: boolean): boolean {
  if (!entry.isSymbolicLink()) return wantDirectory ? entry.isDirectory() : !entry.isDirectory();
  try {
    return statSync(join(dir, entry.name)).isDirectory() === wantDirectory;
  } catch {
    return false;
  }
}

/** Files matching `pattern`, relative patterns taken from `baseDir`. */
export function expandGlob(pattern: string, baseDir: string): string[] {
  const absolute = isAbsolute(pattern) ? pattern : resolve(baseDir, pattern);
  const segments = absolute.split(sep).filter((s) => s !== '');
  const firstWild = segments.findIndex((s) => WILDCARD.test(s));
  if (firstWild < 0) return existsSync(absolute) ? [absolute] : [];
  // Everything before the first wildcard is a plain folder path.
  let candidates = [sep + segments.slice(0, firstWild).join(sep)];
  for (let index = firstWild; index < segments.length; index++) {
    const segment = segments[index];
    const last = index === segments.length - 1;
    const next: string[] = [];
    for (const dir of candidates) {
      if (!WILDCARD.test(segment)) {
        const path = join(dir, segment);
        if (existsSync(path)) next.push(path);
        continue;
      }
      const matcher = segmentRegExp(segment);
      for (const entry of entries(dir)) {
        // Like the shell, wildcards do not match hidden files.
        if (entry.name.startsWith('.') && !segment.startsWith('.')) continue;
        if (matcher.test(entry.name) && entryIs(dir, entry, !last)) next.push(join(dir, entry.name));
      }
    }
    candidates = next;
  }
  return candidates;
}
