#!/usr/bin/env bash
# `npm test`: installs what is needed, builds everything, runs unit tests then the lab scenarios.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run build
npm run build:kmod
npm run build:addon
npx vitest run
node dist/lab.mjs test
