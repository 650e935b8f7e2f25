// `bsradm dump`: the resolved model written back as config text (inheritance expanded, so it parses
// back to the same model), as JSON, and as XML.
import type { Address } from './ast';
import {
  type BsrConfig,
  formatAddress,
  type Host,
  hostHasName,
  metaDiskText,
  type OptionMap,
  type Resource,
  type Volume,
} from './model';
import { formatOptionValue, type OptionDef, type OptionValue } from './options';
import type { ConfigJson } from './schema';

const PLAIN_WORD = /^[A-Za-z0-9_./:@+,%[\]-]+$/;

function quote(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t')}"`;
}

/** A word as the lexer reads it back: bare when safe, quoted otherwise. */
function word(text: string): string {
  return PLAIN_WORD.test(text) && text !== 'skip' ? text : quote(text);
}

class Writer {
  private readonly lines: string[] = [];
  private depth = 0;

  line(text: string): void {
    this.lines.push(`${'  '.repeat(this.depth)}${text}`);
  }

  block(header: string, body: () => void): void {
    this.line(`${header} {`);
    this.depth++;
    body();
    this.depth--;
    this.line('}');
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

type Format = (def: OptionDef, value: OptionValue) => string;

function writeOptions(out: Writer, name: string, options: OptionMap, format: Format = formatOptionValue): void {
  if (options.size === 0) return;
  out.block(name, () => {
    for (const { def, value } of options.values()) {
      if (def.kind === 'flag') out.line(`${def.keyword};`);
      else {
        const text = format(def, value);
        out.line(`${def.keyword} ${def.kind === 'string' ? quote(text) : text};`);
      }
    }
  });
}

/** Values as a config file writes them: a volume named by RES/VOL (the minor on `host`) again. */
function configFormat(config: BsrConfig, host: Host): Format {
  return (def, value) => {
    if (!def.namesVolume) return formatOptionValue(def, value);
    for (const resource of config.resources) {
      const there = resource.hosts.find((h) => h.names.some((n) => hostHasName(host.names, n)));
      const volume = there?.volumes.find((v) => v.minor === value);
      if (volume) return word(`${resource.name}/${volume.number}`);
    }
    return formatOptionValue(def, value);
  };
}

function addressText(address: Address): string {
  return `${address.family} ${formatAddress(address)}`;
}

function writeVolume(out: Writer, volume: Volume, format: Format): void {
  out.block(`volume ${volume.number}`, () => {
    out.line(`device ${word(volume.device)} minor ${volume.minor};`);
    out.line(`disk ${word(volume.disk)};`);
    if (volume.disk !== 'none') out.line(`meta-disk ${metaDiskText(volume.metaDisk, word)};`);
    writeOptions(out, 'disk', volume.diskOptions, format);
  });
}

function writeHost(out: Writer, host: Host, format: Format): void {
  const header =
    host.floating && host.address ? `floating ${addressText(host.address)}` : `on ${host.names.map(word).join(' ')}`;
  out.block(header, () => {
    out.line(`node-id ${host.nodeId};`);
    if (host.address && !host.floating) out.line(`address ${addressText(host.address)};`);
    writeOptions(out, 'options', host.nodeOptions);
    for (const volume of host.volumes) writeVolume(out, volume, format);
  });
}

function writeResource(out: Writer, config: BsrConfig, resource: Resource): void {
  out.block(`resource ${word(resource.name)}`, () => {
    writeOptions(out, 'options', resource.resourceOptions);
    writeOptions(out, 'startup', resource.startup);
    writeOptions(out, 'handlers', resource.handlers);
    for (const host of resource.hosts) writeHost(out, host, configFormat(config, host));
    for (const connection of resource.connections) {
      out.block(connection.name ? `connection ${word(connection.name)}` : 'connection', () => {
        for (const path of connection.paths) {
          out.block('path', () => {
            connection.hosts.forEach((name, side) => {
              out.line(`host ${word(name)} address ${addressText(path.addresses[side])};`);
            });
          });
        }
        writeOptions(out, 'net', connection.net);
        for (const [number, options] of connection.peerDevice) {
          if (options.size > 0) out.block(`volume ${number}`, () => writeOptions(out, 'disk', options));
        }
      });
    }
  });
}

/** Config text for the given resources (all when omitted), preceded by the global section. */
export function dumpConfig(config: BsrConfig, resources: Resource[] = config.resources): string {
  const out = new Writer();
  out.line(`# ${config.file}`);
  writeOptions(out, 'global', config.global);
  for (const resource of resources) {
    out.line('');
    writeResource(out, config, resource);
  }
  return out.text();
}

function optionsObject(options: OptionMap): Record<string, OptionValue> {
  return Object.fromEntries([...options.values()].map(({ def, value }) => [def.keyword, value]));
}

/** The resolved model as plain JSON (options as keyword -> value, numbers in their base unit). */
/** The JSON model (`dump --json`), of the type the schema that reads it back declares. */
export function configToJson(config: BsrConfig, resources: Resource[] = config.resources): ConfigJson {
  return {
    file: config.file,
    global: optionsObject(config.global),
    resources: resources.map((r) => ({
      name: r.name,
      options: optionsObject(r.resourceOptions),
      startup: optionsObject(r.startup),
      handlers: optionsObject(r.handlers),
      hosts: r.hosts.map((h) => ({
        names: h.names,
        nodeId: h.nodeId,
        address: h.address,
        floating: h.floating,
        options: optionsObject(h.nodeOptions),
        volumes: h.volumes.map((v) => ({
          number: v.number,
          minor: v.minor,
          device: v.device,
          disk: v.disk,
          metaDisk: v.metaDisk,
          options: optionsObject(v.diskOptions),
        })),
      })),
      connections: r.connections.map((c) => ({
        name: c.name,
        hosts: c.hosts,
        paths: c.paths.map((p) => p.addresses),
        net: optionsObject(c.net),
        volumes: Object.fromEntries([...c.peerDevice].map(([n, options]) => [n, optionsObject(options)])),
      })),
    })),
  };
}

function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function xmlSection(name: string, options: OptionMap, indent: string): string[] {
  if (options.size === 0) return [];
  return [
    `${indent}<section name="${name}">`,
    ...[...options.values()].map(
      ({ def, value }) =>
        `${indent}  <option name="${def.keyword}" value="${xmlEscape(formatOptionValue(def, value))}"/>`,
    ),
    `${indent}</section>`,
  ];
}

function xmlAddress(address: Address): string {
  return `<address family="${address.family}" port="${address.port}">${xmlEscape(address.host)}</address>`;
}

/** drbdadm-style dump-xml. */
export function dumpXml(config: BsrConfig, resources: Resource[] = config.resources): string {
  const lines = [`<config file="${xmlEscape(config.file)}">`, ...xmlSection('global', config.global, '  ')];
  for (const r of resources) {
    lines.push(`  <resource name="${xmlEscape(r.name)}" conf-file-line="${xmlEscape(r.loc.file)}:${r.loc.line}">`);
    lines.push(...xmlSection('options', r.resourceOptions, '    '));
    lines.push(...xmlSection('startup', r.startup, '    '), ...xmlSection('handlers', r.handlers, '    '));
    for (const h of r.hosts) {
      lines.push(`    <host name="${xmlEscape(h.names.join(' '))}" node-id="${h.nodeId}">`);
      if (h.address) lines.push(`      ${xmlAddress(h.address)}`);
      lines.push(...xmlSection('options', h.nodeOptions, '      '));
      for (const v of h.volumes) {
        lines.push(`      <volume vnr="${v.number}">`);
        lines.push(`        <device minor="${v.minor}">${xmlEscape(v.device)}</device>`);
        lines.push(`        <disk>${xmlEscape(v.disk)}</disk>`);
        lines.push(`        <meta-disk>${xmlEscape(metaDiskText(v.metaDisk, word))}</meta-disk>`);
        lines.push(...xmlSection('disk', v.diskOptions, '        '));
        lines.push('      </volume>');
      }
      lines.push('    </host>');
    }
    for (const c of r.connections) {
      lines.push(c.name ? `    <connection name="${xmlEscape(c.name)}">` : '    <connection>');
      for (const p of c.paths) {
        lines.push('      <path>');
        c.hosts.forEach((name, side) => {
          lines.push(`        <host name="${xmlEscape(name)}">${xmlAddress(p.addresses[side])}</host>`);
        });
        lines.push('      </path>');
      }
      lines.push(...xmlSection('net', c.net, '      '));
      for (const [n, options] of c.peerDevice) {
        if (options.size === 0) continue;
        lines.push(`      <volume vnr="${n}">`, ...xmlSection('disk', options, '        '), '      </volume>');
      }
      lines.push('    </connection>');
    }
    lines.push('  </resource>');
  }
  lines.push('</config>');
  return `${lines.join('\n')}\n`;
}
