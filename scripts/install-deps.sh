#!/usr/bin/env bash
# Installs the Debian packages and npm modules the build, the tests and the lab need (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(qemu-system-x86 busybox-static cpio kmod linux-headers-amd64 fio drbd-utils e2fsprogs xfsprogs btrfs-progs make gcc g++ python3)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi
# `npm ci`: installs exactly the lock file and never rewrites it. The lock holds every platform's
# optional binaries (scripts/check-lock.mjs checks it, and a unit test runs that check).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  node scripts/check-lock.mjs
  npm ci --no-audit --no-fund
fi
