// Minimal glob for `include`: *, ? and [...] within path segments, results sorted like the shell.
import { existsSync, readdirSync, statSync } from 'node:fs';
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

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Files matching `pattern`, relative patterns taken from `baseDir`. */
export function expandGlob(pattern: string, baseDir: string): string[] {
  const absolute = isAbsolute(pattern) ? pattern : resolve(baseDir, pattern);
  if (!WILDCARD.test(absolute)) return existsSync(absolute) ? [absolute] : [];
  const segments = absolute.split(sep).filter((s) => s !== '');
  let candidates: string[] = [sep];
  for (const [index, segment] of segments.entries()) {
    const last = index === segments.length - 1;
    const next: string[] = [];
    for (const dir of candidates) {
      if (!WILDCARD.test(segment)) {
        const path = join(dir, segment);
        if (last ? existsSync(path) : isDirectory(path)) next.push(path);
        continue;
      }
      if (!isDirectory(dir)) continue;
      const matcher = segmentRegExp(segment);
      for (const entry of readdirSync(dir).sort()) {
        // Like the shell, wildcards do not match hidden files.
        if (entry.startsWith('.') && !segment.startsWith('.')) continue;
        if (!matcher.test(entry)) continue;
        const path = join(dir, entry);
        if (last || isDirectory(path)) next.push(path);
      }
    }
    candidates = next;
  }
  return candidates.filter((path) => !isDirectory(path));
}
