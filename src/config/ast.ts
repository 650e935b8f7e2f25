// The config as written, before inheritance: each section keeps its own settings and location.
import type * as z from 'zod/mini';
import type { OptionDef, OptionValue } from './options';
import type { addressSchema, metaDiskSchema } from './schema';

export interface Loc {
  file: string;
  line: number;
}

export interface OptionEntry {
  def: OptionDef;
  value: OptionValue;
  loc: Loc;
}

/** A node's address (the JSON model's, src/config/schema.ts). */
export type Address = z.infer<typeof addressSchema>;

/** `meta-disk`: internal, a whole external device (flexible) or slot N of one. */
export type MetaDisk = z.infer<typeof metaDiskSchema>;

/** device / disk / meta-disk / disk{} settings of a volume at one level (resource, host). */
export interface VolumeSettings {
  loc: Loc;
  devicePath?: string;
  minor?: number;
  deviceLoc?: Loc;
  disk?: string;
  diskLoc?: Loc;
  metaDisk?: MetaDisk;
  metaDiskLoc?: Loc;
  diskOptions: OptionEntry[];
}

export interface RawVolume extends VolumeSettings {
  number: number;
}

export interface RawHost {
  names: string[];
  loc: Loc;
  floating: boolean;
  nodeId?: number;
  nodeIdLoc?: Loc;
  address?: Address;
  addressLoc?: Loc;
  /** Settings written directly in the host section: they belong to volume 0. */
  direct: VolumeSettings;
  volumes: RawVolume[];
  options: OptionEntry[];
}

export interface RawConnectionHost {
  name: string;
  address?: Address;
  port?: number;
  loc: Loc;
}

export interface RawConnection {
  name?: string;
  /** Only in `bsrsetup show` output, where the peer has no host section. */
  peerNodeId?: number;
  /** Only in `bsrsetup show` output: `_is_standalone;` (the connection is not trying to connect). */
  standalone?: boolean;
  loc: Loc;
  hosts: RawConnectionHost[];
  paths: { loc: Loc; hosts: RawConnectionHost[] }[];
  net: OptionEntry[];
  peerDevice: OptionEntry[];
  volumes: { number: number; loc: Loc; peerDevice: OptionEntry[] }[];
}

export interface RawMesh {
  loc: Loc;
  hosts: string[];
  net: OptionEntry[];
}

/** The option blocks shared by `common` and `resource`. */
export interface CommonSections {
  disk: OptionEntry[];
  net: OptionEntry[];
  options: OptionEntry[];
  startup: OptionEntry[];
  handlers: OptionEntry[];
}

export interface RawResource extends CommonSections {
  name: string;
  loc: Loc;
  direct: VolumeSettings;
  volumes: RawVolume[];
  hosts: RawHost[];
  connections: RawConnection[];
  meshes: RawMesh[];
}

export interface RawConfig {
  /** The file named on the command line. */
  file: string;
  global: OptionEntry[];
  common: CommonSections;
  resources: RawResource[];
}
