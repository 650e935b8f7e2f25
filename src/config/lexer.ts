// Tokenizer for the bsr config language. Every token remembers FILE:LINE for error messages.
import { ConfigError } from '../common/errors';

export type TokenKind = 'word' | 'string' | '{' | '}' | ';' | 'eof';

export interface Token {
  kind: TokenKind;
  text: string;
  file: string;
  line: number;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"' };

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';
}

/** Words end at white space or at one of these; everything else (paths, A:P, [IDX]) is a word. */
function endsWord(c: string): boolean {
  return isSpace(c) || c === '{' || c === '}' || c === ';' || c === '"';
}

/** Refuses binary input at the line of its first NUL byte. */
function rejectNul(source: string, file: string): void {
  const at = source.indexOf('\0');
  if (at < 0) return;
  const line = source.slice(0, at).split('\n').length;
  throw new ConfigError(file, line, 'a NUL byte: this is not a text file');
}

export function tokenize(source: string, file: string): Token[] {
  rejectNul(source, file);
  const tokens: Token[] = [];
  let line = 1;
  // A UTF-8 byte order mark, as Windows editors write it, is not part of the text.
  let i = source.startsWith('\ufeff') ? 1 : 0;
  const n = source.length;
  while (i < n) {
    const c = source[i];
    if (c === '\n') {
      line++;
      i++;
    } else if (isSpace(c)) {
      i++;
    } else if (c === '#') {
      while (i < n && source[i] !== '\n') i++;
    } else if (c === '{' || c === '}' || c === ';') {
      tokens.push({ kind: c, text: c, file, line });
      i++;
    } else if (c === '"') {
      const startLine = line;
      let text = '';
      i++;
      for (;;) {
        if (i >= n) throw new ConfigError(file, startLine, 'unterminated string');
        const d = source[i];
        if (d === '"') break;
        if (d === '\\' && i + 1 < n) {
          const escaped = source[i + 1];
          text += ESCAPES[escaped] ?? escaped;
          if (escaped === '\n') line++;
          i += 2;
          continue;
        }
        if (d === '\n') line++;
        text += d;
        i++;
      }
      i++;
      tokens.push({ kind: 'string', text, file, line: startLine });
    } else {
      const start = i;
      while (i < n && !endsWord(source[i])) i++;
      tokens.push({ kind: 'word', text: source.slice(start, i), file, line });
    }
  }
  tokens.push({ kind: 'eof', text: '', file, line });
  return tokens;
}
