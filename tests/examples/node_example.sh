#!/usr/bin/env bash
# A Node example (clients/examples/node/EXAMPLE, default backend_example.js)
# on the @hivebridge/client SDK, as the Python one
# runs on clients/python/src: compiles clients/node with its pinned
# TypeScript into a scratch node_modules/@hivebridge/client (whose runtime
# dependencies resolve to clients/node/node_modules, filled by `make deps`),
# then runs the example under run_against_bridge.sh with NODE_PATH there.
# Nothing is written into the source tree.
#
#   tests/examples/node_example.sh [EXAMPLE.js]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
sdk="$repo/clients/node"
[ -x "$sdk/node_modules/.bin/tsc" ] || { echo "FAIL: clients/node/node_modules missing: run \`make deps\`" >&2; exit 1; }

scratch="$(mktemp -d "${TMPDIR:-/tmp}/hive-node-example.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
pkg="$scratch/node_modules/@hivebridge/client"
mkdir -p "$pkg"
cp "$sdk/package.json" "$pkg/"
ln -s "$sdk/node_modules" "$pkg/node_modules"
"$sdk/node_modules/.bin/tsc" -p "$sdk/tsconfig.json" --outDir "$pkg/dist" --sourceMap false

"$here/run_against_bridge.sh" env NODE_PATH="$scratch/node_modules" node "$repo/clients/examples/node/${1:-backend_example.js}"
