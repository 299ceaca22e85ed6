#!/usr/bin/env bash
# The Node/TypeScript SDK as a user gets it: `npm pack` of clients/node (its
# prepack compiles the TypeScript), installed from the tarball into a fresh
# project with `npm ci --offline` (dependencies from npm's cache, filled by
# `make deps`' `npm ci` in clients/node), a TypeScript consumer compiled
# against the installed types, then the unit tests and, under
# bridge_harness.py, the end-to-end tests run from that project.
#
#   tests/sdk/node_sdk.sh HIVEBRIDGE_BIN DEVICE_SIM_BIN
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 HIVEBRIDGE_BIN DEVICE_SIM_BIN" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
sdk="$(cd "$here/../../clients/node" && pwd)"
[ -x "$sdk/node_modules/.bin/tsc" ] || { echo "FAIL: clients/node/node_modules missing: run \`make deps\`" >&2; exit 1; }

# The slow-subscriber tests' bridge: a queue of 8 events per subscriber, and
# no per-device event rate, so that a device's burst of 2,000 overflows it.
slow_bridge="--subscriber-queue=8 --device-event-rate=0"

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

# The consumer project's package-lock.json: the tarball plus exactly the
# runtime packages of clients/node/package-lock.json (the versions, tarball
# URLs and integrity `npm ci` there put in npm's cache), so `npm ci --offline`
# needs no registry metadata: it installs what the SDK pins, from the cache.
app="$scratch/app"
mkdir "$app"
node - "$sdk/package-lock.json" "$(basename "$tarball")" "$app" <<'JS'
const fs = require("fs");
const [lockPath, tarball, app] = process.argv.slice(2);
const sdkLock = JSON.parse(fs.readFileSync(lockPath, "utf8"));
const root = sdkLock.packages[""];
const spec = `file:../${tarball}`;
const packages = {
  "": { name: "hive-sdk-consumer", version: "1.0.0", dependencies: { "@hivebridge/client": spec } },
  "node_modules/@hivebridge/client": {
    version: root.version, resolved: spec, license: root.license, dependencies: root.dependencies,
    engines: root.engines,
  },
};
for (const [path, entry] of Object.entries(sdkLock.packages)) {
  if (path !== "" && !entry.dev) packages[path] = entry;
}
const pkg = { name: "hive-sdk-consumer", version: "1.0.0", private: true, dependencies: { "@hivebridge/client": spec } };
fs.writeFileSync(`${app}/package.json`, JSON.stringify(pkg, null, 2));
fs.writeFileSync(`${app}/package-lock.json`,
  JSON.stringify({ name: pkg.name, version: pkg.version, lockfileVersion: 3, requires: true, packages }, null, 2));
JS
if ! (cd "$app" && npm ci --offline --no-audit --no-fund --loglevel=error); then
  echo "FAIL: offline install of the tarball: npm's cache lacks what clients/node's lock needs;" \
       "\`(cd clients/node && npm ci)\` fills it (make deps does on a fresh machine)" >&2
  exit 1
fi
cp "$sdk"/test/*.js "$sdk"/test/consumer.ts "$app/"

# The shipped .d.ts files type-check a user's TypeScript.
"$sdk/node_modules/.bin/tsc" --noEmit --strict --esModuleInterop --skipLibCheck --module commonjs \
  --target es2020 --types node --typeRoots "$sdk/node_modules/@types" "$app/consumer.ts"
echo "consumer.ts type-checks against the installed package"

cd "$app"
node --test unit.test.js
"$here/bridge_harness.py" --hivebridge "$1" --device-sim "$2" \
  --extra-bridge-flags "$slow_bridge" -- node --test e2e.test.js
