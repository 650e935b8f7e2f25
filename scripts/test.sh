#!/usr/bin/env bash
# `npm test`: installs what is needed, builds everything, runs unit tests then the lab scenarios:
# all of them on Debian 12's 6.1 kernel, the core ones again on its newer 6.12.
set -euo pipefail
cd "$(dirname "$0")/.."
# where the time goes: seconds since the start, per phase
phase() { echo "test.sh: ${SECONDS} s: $*"; }
bash scripts/install-deps.sh
phase build
npm run build
npm run build:kmod
npm run build:addon
# The guest kernels are downloaded and unpacked (network and disk bound) while the unit tests run.
phase unit tests, lab setup beside them
setup_log=$(mktemp)
( node dist/lab.mjs setup --kernel 6.12 && npm run build:kmod -- --kernel 6.12 &&
  node dist/lab.mjs setup ) > "$setup_log" 2>&1 &
setup_pid=$!
unit_status=0
npx vitest run || unit_status=$?
setup_status=0
wait "$setup_pid" || setup_status=$?
cat "$setup_log"
rm -f "$setup_log"
if [ "$unit_status" -ne 0 ] || [ "$setup_status" -ne 0 ]; then
  echo "test.sh: unit tests exit $unit_status, lab setup exit $setup_status" >&2
  exit 1
fi

# What bsr_compat.h bridges: replication, flushes (write cache and FUA in the queue limits), the
# logical block size changed at run time, open and claim of the devices (switchover with a mounted
# file system, down and module unload). Four, to keep npm test under 30 minutes.
CORE_ON_NEWER_KERNEL=(replication/initial-sync replication/flush-durability
  replication/block-size-negotiation roles/switchover)
status=0
phase lab on 6.12
node dist/lab.mjs test --kernel 6.12 --jobs "${BSR_LAB_JOBS:-2}" "${CORE_ON_NEWER_KERNEL[@]}" || status=$?
# two scenarios at a time (each in its own lab): the guests spend much of their time waiting
phase lab on 6.1
node dist/lab.mjs test --jobs "${BSR_LAB_JOBS:-2}" || status=$?
phase end
exit "$status"
