#!/usr/bin/env bash
# `npm test`: installs what is needed, builds everything, runs unit tests then the lab scenarios.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run build
npm run build:kmod
npm run build:addon
npx vitest run
# two scenarios at a time (each in its own lab): the guests spend much of their time waiting
node dist/lab.mjs test --jobs "${BSR_LAB_JOBS:-2}"
