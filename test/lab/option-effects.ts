// Where the effect of each option bsr.ko implements is shown: the check that sets it to a value other
// than its default and sees what that changes. Options bsr-abi.json marks unimplemented have no entry:
// security/netlink-fuzz shows the kernel refuses each of them at any other value (EOPNOTSUPP) and
// test/unit/options-unimplemented.test.ts that the tools do. test/unit/option-effects.test.ts keeps
// this table complete: an option that starts to work names its check here, or the test fails.

/** A check: a lab scenario (`SUBJECT/NAME`) or a unit test file (`unit/NAME`), and the text it uses. */
export interface Effect {
  shownIn: string;
  /** How the check sets the option (it must appear in the check's source). */
  token: string;
}

/** Options and command parameters, by bsr-abi.json set and field. */
export const OPTION_EFFECTS: Record<string, Effect> = {
  'disk_conf.on-io-error': { shownIn: 'faults/io-error-policies', token: '--on-io-error=detach' },
  'disk_conf.disk-flushes': { shownIn: 'replication/flush-durability', token: '--disk-flushes' },
  'disk_conf.max-passthrough-count': { shownIn: 'faults/io-error-policies', token: '--max-passthrough-count=2' },
  'disk_conf.md-flushes': { shownIn: 'replication/flush-durability', token: '--md-flushes' },
  'disk_conf.al-extents': { shownIn: 'admin/online-config', token: '--al-extents' },
  // no transaction written; after a crash the whole device is out of sync
  'disk_conf.al-updates': { shownIn: 'metadata/crash-al-replay', token: '--al-updates=no' },
  'disk_conf.resync-after': { shownIn: 'resync/resync-after', token: '--resync-after=1' },
  'disk_conf.size': { shownIn: 'admin/online-config', token: 'internal --size=' },
  'peer_device_conf.resync-rate': { shownIn: 'resync/sync-controls', token: '--resync-rate' },
  'peer_device_conf.c-plan-ahead': { shownIn: 'resync/sync-controls', token: '--c-plan-ahead' },
  'peer_device_conf.c-delay-target': { shownIn: 'resync/sync-controls', token: '--c-delay-target' },
  'peer_device_conf.c-fill-target': { shownIn: 'resync/sync-controls', token: '--c-fill-target' },
  'peer_device_conf.c-max-rate': { shownIn: 'resync/sync-controls', token: '--c-max-rate' },
  // a QD1 writer holds a resync at c-max-rate to about c-min-rate; 0 turns that off
  'peer_device_conf.c-min-rate': { shownIn: 'resync/sync-controls', token: '--c-min-rate=0' },
  'peer_device_conf.resync-ratio': { shownIn: 'resync/sync-controls', token: '--resync-ratio=1:2' },
  'peer_device_conf.ov-req-num': { shownIn: 'verify/stop-resume-promote', token: '--ov-req-num=1' },
  'peer_device_conf.ov-req-interval': { shownIn: 'verify/stop-resume-promote', token: '--ov-req-interval=500' },
  'net_conf._name': { shownIn: 'admin/online-config', token: '--_name=bravo' },
  'net_conf.protocol': { shownIn: 'replication/protocols-a-b', token: '--protocol' },
  'net_conf.timeout': { shownIn: 'replication/net-option-effects', token: '--timeout' },
  // an epoch (and the Secondary's flush at its end) every max-epoch-size writes
  'net_conf.max-epoch-size': { shownIn: 'replication/flush-durability', token: '--max-epoch-size' },
  'net_conf.connect-int': { shownIn: 'replication/initial-sync', token: '--connect-int' },
  'net_conf.ping-int': { shownIn: 'resync/sync-controls', token: '--ping-int' },
  'net_conf.ping-timeout': { shownIn: 'resync/sync-controls', token: '--ping-timeout' },
  'net_conf.sndbuf-size': { shownIn: 'replication/net-option-effects', token: '--sndbuf-size' },
  'net_conf.rcvbuf-size': { shownIn: 'replication/net-option-effects', token: '--rcvbuf-size' },
  'net_conf.ko-count': { shownIn: 'replication/net-option-effects', token: '--ko-count' },
  'net_conf.max-buffers': { shownIn: 'replication/net-option-effects', token: '--max-buffers' },
  'net_conf.fencing': { shownIn: 'resync/after-link-cut', token: '--fencing=resource-and-stonith' },
  // refused by the tools (option table `refused`) and by the kernel at connect
  'net_conf.allow-two-primaries': { shownIn: 'unit/config-options', token: 'allow-two-primaries' },
  'net_conf.on-congestion': { shownIn: 'congestion/pull-ahead', token: '--on-congestion=pull-ahead' },
  'net_conf.congestion-fill': { shownIn: 'congestion/pull-ahead', token: '--congestion-fill=2M' },
  'net_conf.congestion-highwater': { shownIn: 'congestion/policies', token: '--congestion-highwater=8' },
  'net_conf.congestion-extents': { shownIn: 'congestion/policies', token: '--congestion-extents=67' },
  'net_conf.cram-hmac-alg': { shownIn: 'security/stream-authentication', token: '--cram-hmac-alg' },
  'net_conf.shared-secret': { shownIn: 'security/stream-authentication', token: '--shared-secret' },
  'net_conf.data-integrity-alg': { shownIn: 'integrity/corrupted-in-flight', token: '--data-integrity-alg' },
  'net_conf.csums-alg': { shownIn: 'resync/csums', token: '--csums-alg=crc32c' },
  'net_conf.csums-after-crash-only': { shownIn: 'resync/csums', token: '--csums-after-crash-only=yes' },
  'net_conf.verify-alg': { shownIn: 'verify/corrupt-blocks', token: '--verify-alg' },
  'net_conf.use-rle': { shownIn: 'replication/net-option-effects', token: '--use-rle=no' },
  'net_conf.discard-my-data': { shownIn: 'roles/split-brain-policies', token: '--discard-my-data' },
  'net_conf.tentative': { shownIn: 'roles/tentative-connect', token: '--tentative' },
  'net_conf.after-sb-0pri': { shownIn: 'roles/split-brain-policies', token: '--after-sb-0pri=discard-least-changes' },
  'net_conf.after-sb-1pri': { shownIn: 'roles/split-brain-policies', token: '--after-sb-1pri=discard-secondary' },
  // both Primary: after-sb-0pri names the victim, whose pri-lost-after-sb handler runs
  'net_conf.after-sb-2pri': {
    shownIn: 'roles/split-brain-policies',
    token: '--after-sb-2pri=call-pri-lost-after-sb',
  },
  // the pri-lost handler runs on a Primary that would become SyncTarget
  'net_conf.rr-conflict': { shownIn: 'roles/split-brain-policies', token: '--rr-conflict=call-pri-lost' },
  'res_opts.persist-role': { shownIn: 'roles/persist-role', token: '--persist-role=yes' },
  'res_opts.cpu-mask': { shownIn: 'admin/online-config', token: '--cpu-mask=1' },
  'res_opts.twopc-timeout': { shownIn: 'roles/one-primary', token: '--twopc-timeout=15' },
  'res_opts.on-no-data-accessible': {
    shownIn: 'faults/io-error-policies',
    token: '--on-no-data-accessible=suspend-io',
  },
  'res_opts.node-id': { shownIn: 'security/wire-after-handshake', token: 'node-id' },
  'res_opts.fast-sync': { shownIn: 'fastsync/ext4-initial-sync', token: '--fast-sync' },
  'set_role_parms.force': { shownIn: 'admin/single-node-lifecycle', token: '--force' },
  'set_role_parms.skip_check_fs': { shownIn: 'fastsync/damaged-ext4', token: '--skip-check-fs' },
  'start_ov_parms.ov_start_sector': { shownIn: 'verify/stop-resume-promote', token: '--start=' },
  'start_ov_parms.ov_stop_sector': { shownIn: 'verify/stop-resume-promote', token: '--stop=' },
  'start_ov_parms.auto_sync': { shownIn: 'verify/auto-sync', token: '--auto-sync' },
  'new_c_uuid_parms.clear_bm': { shownIn: 'resync/new-uuid-during-resync', token: '--clear-bitmap' },
  'disconnect_parms.force_disconnect': { shownIn: 'resync/sync-controls', token: 'disconnect --force' },
  'detach_parms.force_detach': { shownIn: 'admin/online-config', token: 'detach 2 --force' },
  'invalidate_parms.sync_from_peer_node_id': { shownIn: 'resync/sync-controls', token: '--sync-from-peer-node-id=7' },
  'forget_peer_parms.forget_peer_node_id': { shownIn: 'admin/single-node-lifecycle', token: 'forget-peer r0 1' },
  'resize_parms.resize_size': { shownIn: 'admin/online-config', token: 'resize 3 --size=' },
  'resize_parms.no_resync': { shownIn: 'admin/online-config', token: '--assume-clean' },
  'connect_parms.discard_my_data': { shownIn: 'roles/split-brain-policies', token: '--discard-my-data' },
  'connect_parms.tentative': { shownIn: 'roles/tentative-connect', token: '--tentative' },
};

/**
 * Options bsr.ko implements whose effect no check shows yet. Each is a gap to close (a check, then
 * an entry above); the test fails when one of them gets an entry or stops being implemented.
 */
export const NOT_SHOWN_YET: readonly string[] = [];

/** The bsr-abi.json sets of options and command parameters (the others are objects, state or replies). */
export const OPTION_SETS: readonly string[] = [
  'disk_conf',
  'peer_device_conf',
  'net_conf',
  'res_opts',
  'node_opts',
  'device_conf',
  'set_role_parms',
  'resize_parms',
  'start_ov_parms',
  'new_c_uuid_parms',
  'disconnect_parms',
  'detach_parms',
  'connect_parms',
  'invalidate_parms',
  'forget_peer_parms',
];
