// Recursive-descent parser: config text -> RawConfig (see ast.ts). Includes are expanded here.
import { closeSync, openSync, readSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../common/errors';
import type {
  Address,
  CommonSections,
  Loc,
  MetaDisk,
  OptionEntry,
  RawConfig,
  RawConnection,
  RawConnectionHost,
  RawHost,
  RawMesh,
  RawResource,
  RawVolume,
  VolumeSettings,
} from './ast';
import { expandGlob } from './glob';
import { type Token, tokenize } from './lexer';
import { formatAddress } from './model';
import { findOption, OPTIONS, type OptionSection, OptionValueError, parseOptionValue } from './options';
import { didYouMean } from './suggest';

const MAX_INCLUDE_DEPTH = 16;

class Cursor {
  private pos = 0;
  /**
   * `bsrsetup show` output: the running state in the config language, with the kernel's extra
   * keywords (`_this_host`, `_peer_node_id`, `_remote_host`, `_name`).
   */
  constructor(
    private readonly tokens: Token[],
    readonly showMode = false,
  ) {}

  peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)];
  }

  next(): Token {
    const token = this.peek();
    if (token.kind !== 'eof') this.pos++;
    return token;
  }

  fail(token: Token, message: string): never {
    throw new ConfigError(token.file, token.line, message);
  }

  /** A word or quoted string (a value). */
  value(what: string): Token {
    const token = this.next();
    if (token.kind === 'word' || token.kind === 'string') return token;
    this.fail(token, `expected ${what}, found ${describe(token)}`);
  }

  expect(kind: ';' | '{', after: string): Token {
    const token = this.next();
    if (token.kind !== kind) this.fail(token, `expected '${kind}' after ${after}, found ${describe(token)}`);
    return token;
  }

  /** Values up to the closing ';' (consumed). */
  valuesToSemicolon(after: string): Token[] {
    const values: Token[] = [];
    for (;;) {
      const token = this.peek();
      if (token.kind === ';') {
        this.next();
        return values;
      }
      if (token.kind !== 'word' && token.kind !== 'string') this.fail(token, `expected ';' after ${after}`);
      values.push(this.next());
    }
  }

  /** Runs `statement` for each statement of a `{ ... }` block whose '{' was just read. */
  block(opening: Token, what: string, statement: (keyword: Token) => void): void {
    for (;;) {
      const token = this.peek();
      if (token.kind === '}') {
        this.next();
        return;
      }
      if (token.kind === 'eof') this.fail(opening, `unbalanced braces: '{' of ${what} is never closed`);
      if (token.kind !== 'word') this.fail(token, `expected a keyword in ${what}, found ${describe(token)}`);
      this.next();
      if (token.text === 'skip') this.skipStatement();
      else statement(token);
    }
  }

  /** Skips one statement: words up to ';' or a balanced '{...}'. */
  skipStatement(): void {
    for (;;) {
      const token = this.next();
      if (token.kind === ';') return;
      if (token.kind === 'eof') this.fail(token, "expected a statement after 'skip'");
      if (token.kind === '}') this.fail(token, "unexpected '}' after 'skip'");
      if (token.kind === '{') {
        let depth = 1;
        while (depth > 0) {
          const inner = this.next();
          if (inner.kind === 'eof') this.fail(token, "unbalanced braces: '{' of a skipped section is never closed");
          if (inner.kind === '{') depth++;
          if (inner.kind === '}') depth--;
        }
        return;
      }
    }
  }
}

function describe(token: Token): string {
  if (token.kind === 'eof') return 'end of file';
  if (token.kind === 'string') return `"${token.text}"`;
  return `'${token.text}'`;
}

function loc(token: Token): Loc {
  return { file: token.file, line: token.line };
}

function unknownKeyword(cursor: Cursor, token: Token, where: string, known: Iterable<string>): never {
  cursor.fail(token, `unknown keyword '${token.text}' in ${where}${didYouMean(token.text, known)}`);
}

/** Dispatches block statements through a keyword table, suggesting close keywords for typos. */
function statements(cursor: Cursor, where: string, handlers: Record<string, (keyword: Token) => void>) {
  return (keyword: Token) => {
    const handler = handlers[keyword.text];
    if (!handler) unknownKeyword(cursor, keyword, where, Object.keys(handlers));
    handler(keyword);
  };
}

function parseInteger(cursor: Cursor, token: Token, what: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(token.text)) cursor.fail(token, `${what}: '${token.text}' is not a number`);
  const value = Number(token.text);
  if (value < min || value > max) cursor.fail(token, `${what}: ${value} is out of range, allowed ${min} .. ${max}`);
  return value;
}

const SECTION_BLOCK: Record<OptionSection, string> = {
  global: 'global',
  disk: 'disk',
  'peer-device': 'disk',
  net: 'net',
  resource: 'options',
  node: 'options',
  startup: 'startup',
  handlers: 'handlers',
};

/** An option block: `KEYWORD [VALUE];` statements checked against the option table. */
function optionBlock(cursor: Cursor, opening: Token, where: string, sections: readonly OptionSection[]): OptionEntry[] {
  const entries: OptionEntry[] = [];
  cursor.block(opening, where, (keyword) => {
    const def = findOption(keyword.text, sections);
    if (!def || (def.notInConfig && !cursor.showMode)) {
      const elsewhere = findOption(keyword.text);
      if (elsewhere && !elsewhere.notInConfig) {
        const home = SECTION_BLOCK[elsewhere.section];
        cursor.fail(keyword, `'${keyword.text}' is not allowed in ${where}; it belongs in a ${home} section`);
      }
      const allowed = OPTIONS.filter((d) => sections.includes(d.section) && !d.notInConfig).map((d) => d.keyword);
      unknownKeyword(cursor, keyword, where, allowed);
    }
    const earlier = entries.find((e) => e.def.keyword === def.keyword);
    if (earlier) cursor.fail(keyword, `${keyword.text} is set twice in ${where} (first at line ${earlier.loc.line})`);
    const values = cursor.valuesToSemicolon(keyword.text);
    if (def.kind === 'flag' ? values.length > 1 : values.length !== 1) {
      const expected = def.kind === 'flag' ? 'no value' : 'one value';
      cursor.fail(keyword, `${keyword.text} takes ${expected}, found ${values.length}`);
    }
    try {
      const text = values[0]?.text ?? '';
      // A volume name stays text until the model knows every resource (`bsrsetup show` has minors).
      const value = def.namesVolume && !cursor.showMode ? text : parseOptionValue(def, text);
      entries.push({ def, value, loc: loc(keyword) });
    } catch (err) {
      if (err instanceof OptionValueError) cursor.fail(values[0] ?? keyword, err.message);
      throw err;
    }
  });
  return entries;
}

const ADDRESS_FAMILIES = ['ipv4', 'ipv6'];

function parseAddressText(cursor: Cursor, token: Token, family?: string): Address {
  const text = token.text;
  // An IPv6 address may carry a scope (zone), `fe80::1%eth0`, as in drbdadm; it is kept in `host`.
  const v6 = /^\[([0-9a-fA-F:.]+(?:%[\w.-]+)?)\]:(\d+)$/.exec(text);
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d+)$/.exec(text);
  const match = v6 ?? v4;
  if (!match) cursor.fail(token, `invalid address '${text}', expected ADDR:PORT or [IPV6[%SCOPE]]:PORT`);
  const inferred = v6 ? 'ipv6' : 'ipv4';
  if (family && family !== inferred) cursor.fail(token, `address '${text}' is not an ${family} address`);
  if (v4 && match[1].split('.').some((octet) => Number(octet) > 255)) cursor.fail(token, `invalid address '${text}'`);
  const port = parseInteger(cursor, { ...token, text: match[2] }, 'port', 1, 65535);
  return { family: inferred, host: match[1], port };
}

/** `[ipv4|ipv6] ADDR:PORT` from a list of value tokens starting at `index`; returns tokens used. */
function addressFrom(cursor: Cursor, tokens: Token[], index: number, after: Token): [Address, number] {
  let family: string | undefined;
  let at = index;
  if (tokens[at] && ADDRESS_FAMILIES.includes(tokens[at].text)) family = tokens[at++].text;
  else if (tokens[at] && /^[a-z]+$/.test(tokens[at].text) && tokens[at + 1]) {
    cursor.fail(tokens[at], `unsupported address family '${tokens[at].text}', use ipv4 or ipv6`);
  }
  const token = tokens[at];
  if (!token) cursor.fail(after, `${after.text}: address missing`);
  return [parseAddressText(cursor, token, family), at + 1 - index];
}

function parseDevice(cursor: Cursor, keyword: Token, target: VolumeSettings): void {
  const values = cursor.valuesToSemicolon('device');
  let i = 0;
  // As in drbdadm, `/dev/` may be left out of the device name.
  if (values[i] && values[i].text !== 'minor') target.devicePath = values[i++].text.replace(/^bsr/, '/dev/bsr');
  if (values[i]?.text === 'minor') {
    const minorToken = values[i + 1];
    if (!minorToken) cursor.fail(values[i], 'device: number expected after minor');
    target.minor = parseInteger(cursor, minorToken, 'minor', 0, 1048575);
    i += 2;
  }
  if (i === 0 || i !== values.length) {
    cursor.fail(keyword, 'device: expected DEVICE, minor N or DEVICE minor N');
  }
  target.deviceLoc = loc(keyword);
}

function parseMetaDisk(cursor: Cursor, keyword: Token): MetaDisk {
  const values = cursor.valuesToSemicolon('meta-disk');
  const words = values.map((v) => v.text);
  if (words.length === 1 && words[0] === 'internal') return { device: 'internal', index: 'internal' };
  // DEV, DEV IDX, DEV [IDX] and DEV[IDX] all name slot IDX of an external device.
  const joined = words.join(' ');
  const match = /^(\S+?)\s*(?:\[\s*(\d+)\s*\]|\s(\d+))?$/.exec(joined);
  if (!match || words.length === 0) cursor.fail(keyword, 'meta-disk: expected internal, DEVICE or DEVICE [INDEX]');
  const index = match[2] ?? match[3];
  return { device: match[1], index: index === undefined ? 'flexible' : Number(index) };
}

function newVolumeSettings(at: Loc): VolumeSettings {
  return { loc: at, diskOptions: [] };
}

/** device / disk / meta-disk statements and `disk {}`, shared by resource, host and volume sections. */
function volumeStatements(cursor: Cursor, target: VolumeSettings, where: string) {
  return {
    device: (keyword: Token) => parseDevice(cursor, keyword, target),
    disk: (keyword: Token) => {
      if (cursor.peek().kind === '{') {
        const opening = cursor.next();
        target.diskOptions.push(...optionBlock(cursor, opening, `disk section of ${where}`, ['disk', 'peer-device']));
        return;
      }
      const values = cursor.valuesToSemicolon('disk');
      if (values.length !== 1) cursor.fail(keyword, 'disk: expected one device (or none)');
      target.disk = values[0].text;
      target.diskLoc = loc(keyword);
    },
    'meta-disk': (keyword: Token) => {
      target.metaDisk = parseMetaDisk(cursor, keyword);
      target.metaDiskLoc = loc(keyword);
    },
  };
}

function parseVolume(cursor: Cursor, keyword: Token, where: string): RawVolume {
  const numberToken = cursor.value('a volume number');
  const number = parseInteger(cursor, numberToken, 'volume', 0, 65534);
  const opening = cursor.expect('{', `volume ${number}`);
  const volume: RawVolume = { number, ...newVolumeSettings(loc(keyword)) };
  const what = `volume ${number} of ${where}`;
  cursor.block(opening, what, statements(cursor, what, volumeStatements(cursor, volume, what)));
  return volume;
}

function parseHostBody(cursor: Cursor, opening: Token, host: RawHost, where: string): void {
  cursor.block(
    opening,
    where,
    statements(cursor, where, {
      ...volumeStatements(cursor, host.direct, where),
      address: (keyword) => {
        const values = cursor.valuesToSemicolon('address');
        const [address, used] = addressFrom(cursor, values, 0, keyword);
        if (used !== values.length) cursor.fail(keyword, 'address: unexpected words after the address');
        host.address = address;
        host.addressLoc = loc(keyword);
      },
      'node-id': (keyword) => {
        host.nodeId = singleInteger(cursor, keyword, 0, 31);
        host.nodeIdLoc = loc(keyword);
      },
      volume: (keyword) => host.volumes.push(parseVolume(cursor, keyword, where)),
      options: (keyword) => {
        const open = cursor.expect('{', keyword.text);
        host.options.push(...optionBlock(cursor, open, `options section of ${where}`, ['node']));
      },
    }),
  );
}

function newHost(names: string[], at: Loc, floating: boolean): RawHost {
  return { names, loc: at, floating, direct: newVolumeSettings(at), volumes: [], options: [] };
}

function parseOn(cursor: Cursor, keyword: Token): RawHost {
  const names: string[] = [];
  while (cursor.peek().kind === 'word' || cursor.peek().kind === 'string') names.push(cursor.next().text);
  if (names.length === 0) cursor.fail(keyword, 'on: host name expected');
  const opening = cursor.expect('{', `on ${names.join(' ')}`);
  const host = newHost(names, loc(keyword), false);
  parseHostBody(cursor, opening, host, `host ${names.join(' ')}`);
  return host;
}

/** `_this_host { ... }` of `bsrsetup show`: this node's host section. */
function parseThisHost(cursor: Cursor, keyword: Token): RawHost {
  const opening = cursor.expect('{', keyword.text);
  const host = newHost([keyword.text], loc(keyword), false);
  parseHostBody(cursor, opening, host, 'this host');
  return host;
}

function parseFloating(cursor: Cursor, keyword: Token): RawHost {
  const words: Token[] = [];
  while (cursor.peek().kind === 'word') words.push(cursor.next());
  const [address, used] = addressFrom(cursor, words, 0, keyword);
  if (used !== words.length) cursor.fail(keyword, 'floating: expected [ipv4|ipv6] ADDR:PORT');
  const opening = cursor.expect('{', 'floating');
  // A floating host is known by its address; drbdadm names it ADDR:PORT with every character a
  // kernel name may not hold (':', '%') made '_', and the connection to it by that name.
  const name = `${address.host}:${address.port}`.replace(/[^0-9A-Za-z+._-]/g, '_');
  const host = newHost([name], loc(keyword), true);
  host.address = address;
  host.addressLoc = loc(keyword);
  parseHostBody(cursor, opening, host, `floating ${formatAddress(address)}`);
  return host;
}

function singleInteger(cursor: Cursor, keyword: Token, min: number, max: number): number {
  const values = cursor.valuesToSemicolon(keyword.text);
  if (values.length !== 1) cursor.fail(keyword, `${keyword.text}: expected one number`);
  return parseInteger(cursor, values[0], keyword.text, min, max);
}

/** `_this_host [af] A:P;` / `_remote_host [af] A:P;` in a path of `bsrsetup show` output. */
function parseShowPathHost(cursor: Cursor, keyword: Token): RawConnectionHost {
  const values = cursor.valuesToSemicolon(keyword.text);
  const [address, used] = addressFrom(cursor, values, 0, keyword);
  if (used !== values.length) cursor.fail(keyword, `${keyword.text}: expected [ipv4|ipv6] ADDR:PORT`);
  return { name: keyword.text, address, loc: loc(keyword) };
}

/** `host NAME [address [af] A:P] [port P];` in a connection or path. */
function parseConnectionHost(cursor: Cursor, keyword: Token): RawConnectionHost {
  const values = cursor.valuesToSemicolon('host');
  if (values.length === 0) cursor.fail(keyword, 'host: host name expected');
  const host: RawConnectionHost = { name: values[0].text, loc: loc(keyword) };
  let i = 1;
  while (i < values.length) {
    const word = values[i].text;
    if (word === 'address') {
      const [address, used] = addressFrom(cursor, values, i + 1, values[i]);
      host.address = address;
      i += 1 + used;
    } else if (word === 'port') {
      if (!values[i + 1]) cursor.fail(values[i], 'port: number expected');
      host.port = parseInteger(cursor, values[i + 1], 'port', 1, 65535);
      i += 2;
    } else {
      unknownKeyword(cursor, values[i], 'host statement', ['address', 'port']);
    }
  }
  return host;
}

function parseConnection(cursor: Cursor, keyword: Token): RawConnection {
  const connection: RawConnection = { loc: loc(keyword), hosts: [], paths: [], net: [], peerDevice: [], volumes: [] };
  if (cursor.peek().kind === 'word' || cursor.peek().kind === 'string') connection.name = cursor.next().text;
  const opening = cursor.expect('{', 'connection');
  const where = connection.name ? `connection ${connection.name}` : 'connection';
  cursor.block(
    opening,
    where,
    statements(cursor, where, {
      ...(cursor.showMode
        ? {
            _peer_node_id: (k: Token) => (connection.peerNodeId = singleInteger(cursor, k, 0, 31)),
            _is_standalone: (k: Token) => {
              if (cursor.valuesToSemicolon(k.text).length) cursor.fail(k, `${k.text}: takes no value`);
              connection.standalone = true;
            },
          }
        : {}),
      host: (hostKeyword) => connection.hosts.push(parseConnectionHost(cursor, hostKeyword)),
      path: (pathKeyword) => {
        const open = cursor.expect('{', 'path');
        const path = { loc: loc(pathKeyword), hosts: [] as RawConnectionHost[] };
        const pathHost = (h: Token) => path.hosts.push(parseConnectionHost(cursor, h));
        const showHost = (h: Token) => path.hosts.push(parseShowPathHost(cursor, h));
        const pathStatements: Record<string, (keyword: Token) => void> = cursor.showMode
          ? { host: pathHost, _this_host: showHost, _remote_host: showHost }
          : { host: pathHost };
        cursor.block(open, 'path', statements(cursor, 'path', pathStatements));
        connection.paths.push(path);
      },
      net: (netKeyword) => {
        connection.net.push(
          ...optionBlock(cursor, cursor.expect('{', netKeyword.text), `net section of ${where}`, ['net']),
        );
      },
      disk: (diskKeyword) => {
        const open = cursor.expect('{', diskKeyword.text);
        connection.peerDevice.push(...optionBlock(cursor, open, `disk section of ${where}`, ['peer-device']));
      },
      volume: (volumeKeyword) => {
        const number = parseInteger(cursor, cursor.value('a volume number'), 'volume', 0, 65534);
        const open = cursor.expect('{', `volume ${number}`);
        const volume = { number, loc: loc(volumeKeyword), peerDevice: [] as OptionEntry[] };
        const what = `volume ${number} of ${where}`;
        cursor.block(
          open,
          what,
          statements(cursor, what, {
            disk: (d) => {
              const diskOpen = cursor.expect('{', d.text);
              volume.peerDevice.push(...optionBlock(cursor, diskOpen, `disk section of ${what}`, ['peer-device']));
            },
          }),
        );
        connection.volumes.push(volume);
      },
    }),
  );
  return connection;
}

function parseMesh(cursor: Cursor, keyword: Token): RawMesh {
  const mesh: RawMesh = { loc: loc(keyword), hosts: [], net: [] };
  const opening = cursor.expect('{', 'connection-mesh');
  cursor.block(
    opening,
    'connection-mesh',
    statements(cursor, 'connection-mesh', {
      hosts: () => mesh.hosts.push(...cursor.valuesToSemicolon('hosts').map((t) => t.text)),
      net: (netKeyword) => {
        mesh.net.push(
          ...optionBlock(cursor, cursor.expect('{', netKeyword.text), 'net section of connection-mesh', ['net']),
        );
      },
    }),
  );
  return mesh;
}

function emptyCommon(): CommonSections {
  return { disk: [], net: [], options: [], startup: [], handlers: [] };
}

/** net/disk/options/startup/handlers blocks and `protocol X;`, shared by common and resource. */
function commonStatements(cursor: Cursor, target: CommonSections, where: string) {
  const block = (key: keyof CommonSections, sections: OptionSection[]) => (keyword: Token) => {
    const opening = cursor.expect('{', keyword.text);
    target[key].push(...optionBlock(cursor, opening, `${keyword.text} section of ${where}`, sections));
  };
  return {
    net: block('net', ['net']),
    disk: block('disk', ['disk', 'peer-device']),
    options: block('options', ['resource', 'node']),
    startup: block('startup', ['startup']),
    handlers: block('handlers', ['handlers']),
    // `protocol C;` outside net{} is a net option of the whole resource.
    protocol: (keyword: Token) => {
      const values = cursor.valuesToSemicolon('protocol');
      const def = findOption('protocol', 'net');
      if (!def || values.length !== 1) cursor.fail(keyword, 'protocol: expected A, B or C');
      try {
        target.net.push({ def, value: parseOptionValue(def, values[0].text), loc: loc(keyword) });
      } catch (err) {
        if (err instanceof OptionValueError) cursor.fail(values[0], err.message);
        throw err;
      }
    },
  };
}

function parseResource(cursor: Cursor, keyword: Token): RawResource {
  const nameToken = cursor.value('a resource name');
  const resource: RawResource = {
    name: nameToken.text,
    loc: loc(keyword),
    ...emptyCommon(),
    direct: newVolumeSettings(loc(keyword)),
    volumes: [],
    hosts: [],
    connections: [],
    meshes: [],
  };
  const where = `resource ${resource.name}`;
  const common = commonStatements(cursor, resource, where);
  const volumeLevel = volumeStatements(cursor, resource.direct, where);
  const opening = cursor.expect('{', where);
  cursor.block(
    opening,
    where,
    statements(cursor, where, {
      ...common,
      ...volumeLevel,
      // `disk` is both the lower device (`disk /dev/x;`) and the options block (`disk {}`).
      disk: volumeLevel.disk,
      volume: (k) => resource.volumes.push(parseVolume(cursor, k, where)),
      on: (k) => resource.hosts.push(parseOn(cursor, k)),
      ...(cursor.showMode ? { _this_host: (k: Token) => resource.hosts.push(parseThisHost(cursor, k)) } : {}),
      floating: (k) => resource.hosts.push(parseFloating(cursor, k)),
      connection: (k) => resource.connections.push(parseConnection(cursor, k)),
      'connection-mesh': (k) => resource.meshes.push(parseMesh(cursor, k)),
    }),
  );
  // Options in the resource's own disk{} go with the other option blocks, not with volume 0.
  resource.disk.push(...resource.direct.diskOptions);
  resource.direct.diskOptions = [];
  return resource;
}

function parseTopLevel(cursor: Cursor, config: RawConfig, depth: number): void {
  const common = commonStatements(cursor, config.common, 'common');
  const handlers: Record<string, (keyword: Token) => void> = {
    global: (keyword) => {
      config.global.push(...optionBlock(cursor, cursor.expect('{', keyword.text), 'global section', ['global']));
    },
    common: (keyword) => {
      const opening = cursor.expect('{', keyword.text);
      cursor.block(opening, 'common', statements(cursor, 'common section', common));
    },
    resource: (keyword) => config.resources.push(parseResource(cursor, keyword)),
    include: (keyword) => {
      const values = cursor.valuesToSemicolon('include');
      if (values.length !== 1) cursor.fail(keyword, 'include: expected one file name or pattern');
      if (depth >= MAX_INCLUDE_DEPTH) cursor.fail(keyword, 'include: nested too deeply (include loop?)');
      const pattern = values[0].text;
      const files = expandGlob(pattern, dirname(keyword.file));
      if (files.length === 0 && !/[*?[]/.test(pattern)) cursor.fail(keyword, `include: cannot open '${pattern}'`);
      for (const file of files) parseFileInto(file, config, depth + 1, loc(keyword));
    },
  };
  for (;;) {
    const token = cursor.next();
    if (token.kind === 'eof') return;
    if (token.kind === '}') cursor.fail(token, "unbalanced braces: unexpected '}'");
    if (token.kind !== 'word') cursor.fail(token, `expected a section, found ${describe(token)}`);
    if (token.text === 'skip') {
      cursor.skipStatement();
      continue;
    }
    const handler = handlers[token.text];
    if (!handler) unknownKeyword(cursor, token, 'the top level', Object.keys(handlers));
    handler(token);
  }
}

/**
 * A configuration file larger than this is refused: real ones are a few KiB, and reading stops
 * here, so `-c /dev/zero` or a runaway pipe ends at once with bounded memory.
 */
export const CONFIG_MAX_BYTES = 16 * 1024 * 1024;

/** The file's text, `-` for stdin, read in chunks up to CONFIG_MAX_BYTES. */
function readConfigText(file: string): string {
  const fd = file === '-' ? 0 : openSync(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(64 * 1024);
      const n = readSync(fd, chunk);
      if (n === 0) return Buffer.concat(chunks, total).toString('utf8');
      total += n;
      if (total > CONFIG_MAX_BYTES) {
        throw new ConfigError(
          file,
          0,
          `larger than ${CONFIG_MAX_BYTES >> 20} MiB, the limit for a configuration: refused`,
        );
      }
      chunks.push(chunk.subarray(0, n));
    }
  } finally {
    if (fd !== 0) closeSync(fd);
  }
}

function parseFileInto(file: string, config: RawConfig, depth: number, includedFrom?: Loc): void {
  let text: string;
  try {
    text = readConfigText(file);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    if (includedFrom)
      throw new ConfigError(includedFrom.file, includedFrom.line, `include: cannot read ${file}: ${reason}`);
    throw new ConfigError(file, 0, `cannot read the configuration: ${reason}`);
  }
  parseTopLevel(new Cursor(tokenize(text, file)), config, depth);
}

function emptyConfig(file: string): RawConfig {
  return { file, global: [], common: emptyCommon(), resources: [] };
}

/** Parses a config file and everything it includes. */
export function parseConfigFile(file: string): RawConfig {
  const config = emptyConfig(file);
  parseFileInto(file, config, 0);
  return config;
}

/** Parses config text (includes resolved relative to `file`'s folder). */
export function parseConfigText(text: string, file: string): RawConfig {
  const config = emptyConfig(file);
  parseTopLevel(new Cursor(tokenize(text, file)), config, 0);
  return config;
}

/** Parses `bsrsetup show` output (config language plus the kernel's `_` keywords). */
export function parseShowText(text: string, file: string): RawConfig {
  const config = emptyConfig(file);
  parseTopLevel(new Cursor(tokenize(text, file), true), config, 0);
  return config;
}
