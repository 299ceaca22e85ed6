#!/usr/bin/env bash
# The Node/TypeScript SDK as a user gets it: `npm pack` of clients/node (its
# prepack compiles the TypeScript), installed from the tarball into a fresh
# project with `npm install --offline` (dependencies from npm's cache, filled
# by `make deps`' `npm ci` in clients/node), a TypeScript consumer compiled
# against the installed types, then the unit tests and, under
# bridge_harness.py, the end-to-end tests run from that project.
#
#   tests/sdk/node_sdk.sh HIVEBRIDGE_BIN DEVICE_SIM_BIN
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 HIVEBRIDGE_BIN DEVICE_SIM_BIN" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
sdk="$(cd "$here/../../clients/node" && pwd)"
[ -x "$sdk/node_modules/.bin/tsc" ] || { echo "FAIL: clients/node/node_modules missing: run \`make deps\`" >&2; exit 1; }

scratch="$(mktemp -d "${TMPDIR:-/tmp}/hive-nodesdk.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
# Pack from a copy so the build leaves no dist/ in the source tree.
mkdir "$scratch/pkg"
(cd "$sdk" && tar --exclude=./node_modules --exclude=./dist --exclude='./*.tgz' -cf - .) | tar -xf - -C "$scratch/pkg"
ln -s "$sdk/node_modules" "$scratch/pkg/node_modules"
(cd "$scratch/pkg" && npm pack --silent --pack-destination "$scratch" > /dev/null)
tarball="$(ls "$scratch"/hivebridge-client-*.tgz)"
echo "packed $(basename "$tarball"): $(tar -tzf "$tarball" | wc -l) files"
if tar -tzf "$tarball" | grep -E '^package/(src|test|node_modules)/'; then
  echo "FAIL: the tarball ships sources, tests or node_modules" >&2; exit 1
fi

app="$scratch/app"
mkdir "$app"
echo '{"name": "hive-sdk-consumer", "version": "1.0.0", "private": true}' > "$app/package.json"
# @types/node at the SDK's pinned version: protobufjs (under grpc-js) asks for
# any @types/node, and npm would otherwise pick the newest, not in the cache.
types_node="$(node -p "require('$sdk/package.json').devDependencies['@types/node']")"
(cd "$app" && npm install --offline --no-audit --no-fund --loglevel=error "$tarball" "@types/node@$types_node")
cp "$sdk"/test/*.js "$sdk"/test/consumer.ts "$app/"

# The shipped .d.ts files type-check a user's TypeScript.
"$sdk/node_modules/.bin/tsc" --noEmit --strict --esModuleInterop --skipLibCheck --module commonjs \
  --target es2020 --types node --typeRoots "$sdk/node_modules/@types" "$app/consumer.ts"
echo "consumer.ts type-checks against the installed package"

cd "$app"
node --test unit.test.js
"$here/bridge_harness.py" --hivebridge "$1" --device-sim "$2" -- node --test e2e.test.js
