import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/common/errors';
import { configToJson, dumpConfig, dumpXml } from '../../src/config/dump';
import { loadConfig, loadConfigText } from '../../src/config/index';
import type { BsrConfig } from '../../src/config/model';
import { defaultValue, OPTIONS, parseOptionValue } from '../../src/config/options';
import { configFromJson, configJsonSchema } from '../../src/config/schema';

const FIXTURES = join(__dirname, '../fixtures/config');
const EXAMPLES = join(__dirname, '../../conf-examples');

/** The model without the file names (a dump is read back from another file). */
function model(config: BsrConfig): unknown {
  const { file: _file, ...rest } = configToJson(config) as { file: string };
  return rest;
}

const SOURCES = [
  join(EXAMPLES, 'bsr.conf'),
  join(FIXTURES, 'two-volumes.conf'),
  join(FIXTURES, 'reference-up.conf'),
  join(FIXTURES, 'inc/bsr.conf'),
  join(FIXTURES, 'floating.conf'),
];

describe('dump', () => {
  it.each(SOURCES)('%s: the dump parses back to the same model', (file) => {
    const config = loadConfig(file);
    const text = dumpConfig(config);
    const again = loadConfigText(text, 'dumped.conf');
    expect(model(again)).toEqual(model(config));
    // Normalized: dumping the dump changes nothing but the header.
    expect(dumpConfig(again).split('\n').slice(1)).toEqual(text.split('\n').slice(1));
  });

  it('keeps strings that need quoting', () => {
    const config = loadConfigText(
      `resource "odd;name" { handlers { split-brain "/bin/notify \\"x\\" {y};"; }
        device minor 0; disk "/dev/disk/by-id/a b"; meta-disk internal;
        on alpha { address 10.0.0.1:1; } on bravo { address 10.0.0.2:1; } }`,
      'q.conf',
    );
    const again = loadConfigText(dumpConfig(config), 'dumped.conf');
    expect(again.resources[0].name).toBe('odd;name');
    expect(again.resources[0].handlers.get('split-brain')?.value).toBe('/bin/notify "x" {y};');
    expect(again.resources[0].hosts[0].volumes[0].disk).toBe('/dev/disk/by-id/a b');
  });

  it('--json output satisfies the schema derived from the option table and loads back', () => {
    const config = loadConfig(join(FIXTURES, 'two-volumes.conf'));
    const json = JSON.parse(JSON.stringify(configToJson(config)));
    expect(configJsonSchema.safeParse(json).success).toBe(true);
    expect(model(configFromJson(json, 'x.json'))).toEqual(model(config));
  });

  it('the JSON schema enforces option ranges and names', () => {
    const json = JSON.parse(JSON.stringify(configToJson(loadConfig(join(FIXTURES, 'two-volumes.conf')))));
    json.resources[0].hosts[0].volumes[0].options['al-extents'] = 5;
    expect(() => configFromJson(json, 'x.json')).toThrow(ConfigError);
    json.resources[0].hosts[0].volumes[0].options = { 'al-extentz': 100 };
    expect(() => configFromJson(json, 'x.json')).toThrow(/x\.json:1: resources\.0\.hosts\.0\.volumes\.0\.options/);
  });

  it('dump-xml lists resources, hosts, volumes and options', () => {
    const xml = dumpXml(loadConfig(join(FIXTURES, 'two-volumes.conf')));
    expect(xml).toContain('<host name="alpha" node-id="0">');
    expect(xml).toContain('<device minor="11">/dev/bsr11</device>');
    expect(xml).toContain('<meta-disk>/dev/vg/meta [3]</meta-disk>');
    expect(xml).toContain('<option name="c-max-rate" value="102400"/>');
    expect(xml.trim().endsWith('</config>')).toBe(true);
  });
});

describe('conf-examples', () => {
  it('global_common.conf lists every config option, commented, with its default', () => {
    const text = readFileSync(join(EXAMPLES, 'global_common.conf'), 'utf8');
    for (const def of OPTIONS) {
      if (def.notInConfig) continue;
      const line = new RegExp(`^\\s*# ${def.keyword}(?: ("[^"]*"|\\S+))?;`, 'm').exec(text);
      expect(line, def.keyword).not.toBeNull();
      const written = line?.[1]?.replace(/^"|"$/g, '');
      // A volume name (resync-after RES/VOL) has no default to compare with.
      if (def.default !== undefined && written !== undefined && !def.namesVolume) {
        expect(parseOptionValue(def, written), def.keyword).toEqual(defaultValue(def));
      }
    }
  });

  it('the two-node example is the one the VM lab expects', () => {
    const [r0] = loadConfig(join(EXAMPLES, 'bsr.conf')).resources;
    expect(r0.hosts.map((h) => [h.names[0], h.nodeId, `${h.address?.host}:${h.address?.port}`])).toEqual([
      ['alpha', 0, '10.99.1.1:7789'],
      ['bravo', 1, '10.99.1.2:7789'],
    ]);
    expect(r0.hosts[0].volumes[0]).toMatchObject({ device: '/dev/bsr0', minor: 0, disk: '/dev/vdb' });
  });
});
