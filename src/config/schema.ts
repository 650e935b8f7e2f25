// zod schema of the JSON model (`bsradm dump --json`, `-c FILE.json`), generated from the option
// table so option names, types, ranges and enum values are checked exactly as in config files.
// The config model's types come from these schemas (type-only imports: no zod at run time).
// Loaded only for JSON: zod is not needed to read an ordinary config. zod/mini keeps bsradm's
// bundle small (the full zod build with its locales is ~450 KB, which start-up would pay for).
import * as z from 'zod/mini';
import { ConfigError } from '../common/errors';
import type { Loc, OptionEntry } from './ast';
import { type BsrConfig, crossCheck, type OptionMap } from './model';
import { findOption, OPTIONS, type OptionDef, type OptionSection, type OptionValue } from './options';

function valueSchema(def: OptionDef): z.ZodMiniType<OptionValue> {
  switch (def.kind) {
    case 'numeric':
      return z
        .int()
        .check(z.minimum(def.min ?? Number.MIN_SAFE_INTEGER), z.maximum(def.max ?? Number.MAX_SAFE_INTEGER));
    case 'boolean':
      return z.boolean();
    case 'enum': {
      const values = z.enum(def.values as [string, ...string[]]);
      const prefix = def.namesHost?.prefix;
      // discard-node-NODENAME: the host is checked against the connection when the model is built
      return prefix ? z.union([values, z.string().check(z.startsWith(prefix))]) : values;
    }
    case 'string':
      return z.string();
    case 'flag':
      return z.literal(true);
  }
}

/** An object of the config options of the given sections, every one optional, nothing else allowed. */
export function optionsSchema(sections: readonly OptionSection[]) {
  const shape: Record<string, z.ZodMiniOptional<z.ZodMiniType<OptionValue>>> = {};
  for (const def of OPTIONS) {
    if (sections.includes(def.section) && !def.notInConfig) shape[def.keyword] = z.optional(valueSchema(def));
  }
  return z.strictObject(shape);
}

export const addressSchema = z.strictObject({
  family: z.enum(['ipv4', 'ipv6']),
  host: z.string().check(z.minLength(1)),
  port: z.int().check(z.minimum(1), z.maximum(65535)),
});

export const metaDiskSchema = z.strictObject({
  device: z.string().check(z.minLength(1)),
  index: z.union([z.literal('internal'), z.literal('flexible'), z.int().check(z.minimum(0))]),
});

export const volumeSchema = z.strictObject({
  number: z.int().check(z.minimum(0)),
  minor: z.int().check(z.minimum(0)),
  device: z.string().check(z.minLength(1)),
  disk: z.string().check(z.minLength(1)),
  metaDisk: metaDiskSchema,
  options: optionsSchema(['disk']),
});

export const hostSchema = z.strictObject({
  names: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
  nodeId: z.int().check(z.minimum(0), z.maximum(31)),
  address: z.optional(addressSchema),
  floating: z.boolean(),
  options: optionsSchema(['node']),
  volumes: z.array(volumeSchema),
});

export const connectionSchema = z.strictObject({
  name: z.optional(z.string()),
  hosts: z.tuple([z.string(), z.string()]),
  paths: z.array(z.tuple([addressSchema, addressSchema])),
  net: optionsSchema(['net']),
  volumes: z.record(z.string().check(z.regex(/^\d+$/)), optionsSchema(['peer-device'])),
});

export const resourceSchema = z.strictObject({
  name: z.string().check(z.minLength(1)),
  options: optionsSchema(['resource']),
  startup: optionsSchema(['startup']),
  handlers: optionsSchema(['handlers']),
  hosts: z.array(hostSchema),
  connections: z.array(connectionSchema),
});

export const configJsonSchema = z.strictObject({
  file: z.string(),
  global: optionsSchema(['global']),
  resources: z.array(resourceSchema),
});

/**
 * The JSON model, and the parts of it the config model (src/config/model.ts) is typed from: the
 * model is this with its option objects as OptionMaps and the places they were written.
 */
export type ConfigJson = z.infer<typeof configJsonSchema>;
export type ResourceJson = z.infer<typeof resourceSchema>;
export type HostJson = z.infer<typeof hostSchema>;
export type VolumeJson = z.infer<typeof volumeSchema>;
export type ConnectionJson = z.infer<typeof connectionSchema>;

function toOptionMap(values: Record<string, OptionValue | undefined>, section: OptionSection[], at: Loc): OptionMap {
  const map: OptionMap = new Map();
  for (const [keyword, value] of Object.entries(values)) {
    const def = findOption(keyword, section);
    if (def && value !== undefined) map.set(keyword, { def, value, loc: at } satisfies OptionEntry);
  }
  return map;
}

/** The model from `dump --json` output; a schema violation is a config error naming the JSON path. */
export function configFromJson(json: unknown, file: string): BsrConfig {
  const parsed = configJsonSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(file, 1, `${issue.path.join('.') || 'top level'}: ${issue.message}`);
  }
  const data = parsed.data;
  const at: Loc = { file, line: 1 };
  const config: BsrConfig = {
    file,
    global: toOptionMap(data.global, ['global'], at),
    resources: data.resources.map((r) => ({
      name: r.name,
      loc: at,
      resourceOptions: toOptionMap(r.options, ['resource'], at),
      startup: toOptionMap(r.startup, ['startup'], at),
      handlers: toOptionMap(r.handlers, ['handlers'], at),
      hosts: r.hosts.map((h) => ({
        names: h.names,
        nodeId: h.nodeId,
        address: h.address,
        floating: h.floating,
        nodeOptions: toOptionMap(h.options, ['node'], at),
        loc: at,
        volumes: h.volumes.map((v) => ({
          number: v.number,
          minor: v.minor,
          device: v.device,
          disk: v.disk,
          metaDisk: v.metaDisk,
          diskOptions: toOptionMap(v.options, ['disk'], at),
          loc: at,
          deviceLoc: at,
          diskLoc: at,
          metaDiskLoc: at,
        })),
      })),
      connections: r.connections.map((c) => ({
        name: c.name,
        hosts: c.hosts,
        paths: c.paths.map((addresses) => ({ addresses, loc: at })),
        net: toOptionMap(c.net, ['net'], at),
        peerDevice: new Map(
          Object.entries(c.volumes).map(([n, options]) => [Number(n), toOptionMap(options, ['peer-device'], at)]),
        ),
        loc: at,
      })),
    })),
  };
  crossCheck(config.resources);
  return config;
}
