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
# `npm install`, not `npm ci`: with this npm the lock file holds no entries for other platforms'
# optional packages (esbuild, rollup, biome binaries), which `npm ci` rejects as out of sync.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund
fi
