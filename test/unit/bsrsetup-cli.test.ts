// Runs bsrsetup bundled as scripts/build.mjs bundles it (into a temp folder, so parallel test files
// rebuilding dist/ cannot race with it) against a scripted kernel: BSR_NETLINK_ADDON points
// the addon loader at a small JS stand-in that answers each request with datagrams this test
// encodes with the real encoders. Checks the promised messages, output and exit codes end to end.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abi } from '../../src/abi/index.js';
import type { TopAttrs } from '../../src/netlink/attrs.js';
import { encodeBsrPayload, GENL_ID_CTRL, NO_MINOR } from '../../src/netlink/messages.js';
import { encodeAttr, encodeNlMsg, NLM_F, NLMSG } from '../../src/netlink/wire.js';

const ROOT = join(__dirname, '../..');
const FAMILY = 0x1c;
const C = abi.commands;

// The stand-in addon: answers by "nlmsg_type:genl_cmd", copying the request's seq into every answer.
const FAKE_ADDON = `
const answers = JSON.parse(require('fs').readFileSync(process.env.BSR_FAKE_KERNEL, 'utf8'));
class Socket {
  constructor() { this.portId = 77; this.queue = []; }
  send(buf) {
    const seq = buf.readUInt32LE(8);
    for (const hex of answers[buf.readUInt16LE(4) + ':' + buf[16]] || []) {
      const d = Buffer.from(hex, 'hex');
      for (let off = 0; off + 16 <= d.length; off += (d.readUInt32LE(off) + 3) & ~3) {
        d.writeUInt32LE(seq, off + 8);
        if (d.readUInt16LE(off + 4) === 2) d.writeUInt32LE(seq, off + 28);
      }
      this.queue.push(d);
    }
  }
  recv() { return this.queue.shift() || null; }
  addMembership() {}
  startReading() {}
  stopReading() {}
  close() {}
}
module.exports = { Socket };
`;

const ack = (error = 0, message?: string) => {
  const tlv = message ? encodeAttr(1, Buffer.from(`${message}\0`)) : Buffer.alloc(0);
  const payload = Buffer.concat([Buffer.alloc(4), Buffer.alloc(16), tlv]);
  payload.writeInt32LE(error, 0);
  return encodeNlMsg(NLMSG.ERROR, NLM_F.CAPPED | (message ? NLM_F.ACK_TLVS : 0), 0, 77, payload);
};
const done = () => encodeNlMsg(NLMSG.DONE, NLM_F.MULTI, 0, 77, Buffer.alloc(4));
const bsr = (cmd: number, minor: number, attrs: TopAttrs, retCode: number = abi.retCodes.NO_ERROR) => {
  const payload = encodeBsrPayload({ cmd, minor, attrs });
  payload.writeInt32LE(retCode, 8);
  return encodeNlMsg(FAMILY, NLM_F.MULTI, 0, 77, payload);
};
const familyReply = () => {
  const grp = encodeAttr(
    1,
    Buffer.concat([encodeAttr(1, Buffer.from('events\0')), encodeAttr(2, Buffer.from([5, 0, 0, 0]))]),
    true,
  );
  const payload = Buffer.concat([
    Buffer.from([1, 2, 0, 0]),
    encodeAttr(1, Buffer.from([FAMILY, 0])),
    encodeAttr(2, Buffer.from('bsr\0')),
    encodeAttr(7, grp, true),
  ]);
  return encodeNlMsg(GENL_ID_CTRL, 0, 0, 77, payload);
};

const e = (kind: string, name: string) => abi.enums[kind].indexOf(name);
const ctx = { ctx_resource_name: 'r0' };
const KERNEL: Record<string, Buffer[]> = {
  [`${GENL_ID_CTRL}:3`]: [familyReply(), ack()],
  [`${FAMILY}:${C.PRIMARY}`]: [
    bsr(
      C.PRIMARY,
      NO_MINOR,
      { CFG_REPLY: { info_text: 'minor 1 is Inconsistent; use --force' } },
      abi.retCodes.STATE_REFUSED_INCONSISTENT,
    ),
    ack(101, 'minor 1 is Inconsistent; use --force'),
  ],
  [`${FAMILY}:${C.SECONDARY}`]: [bsr(C.SECONDARY, NO_MINOR, {}), ack()],
  [`${FAMILY}:${C.DOWN}`]: [ack(-1)],
  [`${FAMILY}:${C.GET_RESOURCES}`]: [
    Buffer.concat([
      bsr(C.GET_RESOURCES, NO_MINOR, { CFG_CONTEXT: ctx, RESOURCE_INFO: { res_role: e('role', 'Primary') } }),
      done(),
    ]),
  ],
  [`${FAMILY}:${C.GET_DEVICES}`]: [
    bsr(C.GET_DEVICES, 1, {
      CFG_CONTEXT: { ...ctx, ctx_volume: 0 },
      DEVICE_INFO: { dev_disk_state: e('disk', 'UpToDate') },
      UUID_INFO: { current_uuid: 0xabcdef0123456789n, md_flags: 1 },
    }),
    done(),
  ],
  [`${FAMILY}:${C.GET_CONNECTIONS}`]: [
    bsr(C.GET_CONNECTIONS, NO_MINOR, {
      CFG_CONTEXT: { ...ctx, ctx_peer_node_id: 1 },
      CONNECTION_INFO: { conn_connection_state: e('connection', 'Connecting'), conn_role: 0 },
      NET_CONF: { _name: 'bob' },
    }),
    done(),
  ],
  [`${FAMILY}:${C.GET_PEER_DEVICES}`]: [done()],
};

let work: string;
let kernelFile: string;

function bsrsetup(args: string[], kernel: Record<string, Buffer[]> = KERNEL) {
  writeFileSync(
    kernelFile,
    JSON.stringify(Object.fromEntries(Object.entries(kernel).map(([k, v]) => [k, v.map((b) => b.toString('hex'))]))),
  );
  const r = spawnSync(process.execPath, [join(work, 'bsrsetup.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, BSR_NETLINK_ADDON: join(work, 'fake-addon.cjs'), BSR_FAKE_KERNEL: kernelFile },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'bsrsetup-cli-'));
  await build({
    entryPoints: [join(ROOT, 'src/cli/bsrsetup.ts')],
    outfile: join(work, 'bsrsetup.mjs'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: ['*.node'],
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
    logLevel: 'warning',
  });
  writeFileSync(join(work, 'fake-addon.cjs'), FAKE_ADDON);
  kernelFile = join(work, 'kernel.json');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('bsrsetup end to end against a scripted kernel', () => {
  it('prints the state', () => {
    expect(bsrsetup(['status'])).toEqual({
      status: 0,
      stdout: 'r0 role:Primary\n  disk:UpToDate\n  bob connection:Connecting\n',
      stderr: '',
    });
    expect(bsrsetup(['role', 'r0']).stdout).toBe('Primary\n');
    expect(bsrsetup(['dstate', '1']).stdout).toBe('UpToDate\n');
    expect(bsrsetup(['cstate', 'r0', '1']).stdout).toBe('Connecting\n');
    expect(bsrsetup(['get-gi', 'r0', '1', '0']).stdout).toBe(
      'ABCDEF0123456789:0000000000000000:0000000000000000:0000000000000000:1:0:0:0:0:0:0:0\n',
    );
    expect(bsrsetup(['events2', '--now']).stdout).toBe(
      [
        'exists resource name:r0 role:Primary suspended:no',
        'exists device name:r0 volume:0 minor:1 disk:UpToDate client:no',
        'exists connection name:r0 peer-node-id:1 conn-name:bob connection:Connecting role:Unknown',
        'exists -',
        '',
      ].join('\n'),
    );
  });

  it('events2 --timestamp (the seeds) and --timestamps prefix each line with an ISO-8601 time', () => {
    for (const flag of ['--timestamps', '--timestamp']) {
      const run = bsrsetup(['events2', '--now', flag]);
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const lines = run.stdout.trimEnd().split('\n');
      expect(lines).toHaveLength(4);
      for (const line of lines) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (exists) /);
      expect(lines[3]).toMatch(/ exists -$/);
    }
    const unknown = bsrsetup(['events2', '--now', '--timestampz']);
    expect(unknown.status).toBe(2);
    expect(unknown.stdout).toBe('');
  });

  it('reports kernel refusals as COMMAND OBJECT: RET_CODE: message with exit 11', () => {
    expect(bsrsetup(['primary', 'r0'])).toEqual({
      status: 11,
      stdout: '',
      stderr: 'bsrsetup: primary r0: STATE_REFUSED_INCONSISTENT: minor 1 is Inconsistent; use --force\n',
    });
    expect(bsrsetup(['down', 'r0'])).toMatchObject({
      status: 11,
      stderr: 'bsrsetup: down r0: EPERM: changing bsr state needs CAP_NET_ADMIN (run as root)\n',
    });
    expect(bsrsetup(['status', 'r9'])).toMatchObject({
      status: 11,
      stderr: 'bsrsetup: status r9: NO_RESOURCE: no such resource\n',
    });
    expect(bsrsetup(['secondary', 'r0'])).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it('says so when the module is not loaded (exit 20)', () => {
    const noModule = { [`${GENL_ID_CTRL}:3`]: [ack(-2)] };
    expect(bsrsetup(['status'], noModule)).toEqual({
      status: 20,
      stdout: '',
      stderr: 'bsrsetup: bsr kernel module not loaded\n',
    });
  });

  it('refuses bad usage with exit 2 before talking to the kernel', () => {
    const r = bsrsetup(['attach', '1', '/dev/a', '/dev/a', 'sideways'], {});
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("bsrsetup: attach: META_IDX must be internal, flexible or a number, not 'sideways'\n");
    expect(bsrsetup(['new-minor', 'r0'], {}).status).toBe(2);
    expect(bsrsetup(['no-such-command'], {}).status).toBe(2);
  });

  it('lists every command of the internals.md table in --help', () => {
    const r = bsrsetup(['--help'], {});
    expect(r.status).toBe(0);
    for (const cmd of [
      'new-resource',
      'attach',
      'peer-device-options',
      'show-gi',
      'events2',
      'wait-connect-resource',
      'forget-peer',
    ])
      expect(r.stdout).toContain(cmd);
  });
});
