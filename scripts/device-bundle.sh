#!/usr/bin/env bash
# Packs scripts/device-check.ts for a lent GPU machine that has neither Node nor npm: one bundled
# script, Dawn's binary, and this machine's node, compressed, under .dev/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .dev && mkdir -p .dev/node_modules/webgpu/dist/linux-x64
npx vite build --config scripts/device.vite.config.ts
cp node_modules/webgpu/index.js node_modules/webgpu/package.json .dev/node_modules/webgpu/
xz -T2 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > .dev/dawn.node.xz
xz -T2 -6 -c "$(readlink -f "$(command -v node)")" > .dev/node.xz
du -sh .dev
