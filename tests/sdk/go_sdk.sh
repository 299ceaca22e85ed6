#!/usr/bin/env bash
# The Go SDK (clients/go) as a module, built and tested with no network:
# copies the module to a scratch directory and gives it a vendor/ directory
# made of Debian's Go sources (/usr/share/gocode/src: golang-google-grpc-dev,
# golang-google-protobuf-dev, ...), one entry per module its go.mod
# requires, at the versions go.mod names. `go vet` and the unit tests run
# with -mod=vendor; then the end-to-end tests run under bridge_harness.py
# (real bridges and a simulated device).
#
#   tests/sdk/go_sdk.sh HIVEBRIDGE_BIN DEVICE_SIM_BIN
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 HIVEBRIDGE_BIN DEVICE_SIM_BIN" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
sdk="$here/../../clients/go"
gocode=/usr/share/gocode/src

# The slow-subscriber tests' bridge: a queue of 8 events per subscriber, and
# no per-device event rate, so that a device's burst of 2,000 overflows it.
slow_bridge="--subscriber-queue=8 --device-event-rate=0"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/hive-gosdk.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
mod="$scratch/mod"
cp -r "$sdk" "$mod"

# vendor/modules.txt: each required module, `## explicit` (go.mod lists them
# all, as Go 1.17+ wants) with its go version, then every package directory it has.
: > "$mod/vendor.txt"
mkdir -p "$mod/vendor"
while read -r path version; do
  src="$gocode/$path"
  [ -d "$src" ] || { echo "FAIL: $src missing: install the Debian package (scripts/debian-packages.txt)" >&2; exit 1; }
  mkdir -p "$mod/vendor/$(dirname "$path")"
  ln -s "$src" "$mod/vendor/$path"
  # The module's own `go` version, or its packages compile as Go 1.16.
  gover="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$src/go.mod" 2>/dev/null || true)"
  { echo "# $path $version"; echo "## explicit${gover:+; go $gover}"
    (cd "$src" && find . -name '*.go' ! -name '*_test.go' ! -path '*/testdata/*' -printf '%h\n' | sort -u |
       sed "s|^\.$|$path|; s|^\./|$path/|"); } >> "$mod/vendor.txt"
done < <(sed -n 's/^\t\([^ ]*\) \(v[^ ]*\).*/\1 \2/p' "$mod/go.mod")
mv "$mod/vendor.txt" "$mod/vendor/modules.txt"

export GOFLAGS=-mod=vendor GOPROXY=off GOENV=off GO111MODULE=on GOTOOLCHAIN=local
export GOPATH="$scratch/gopath" GOCACHE="${GOCACHE:-$scratch/gocache}"
cd "$mod"
go vet ./...
go test -count=1 ./...
go test -c -o "$scratch/e2e.test" .
"$here/bridge_harness.py" --hivebridge "$1" --device-sim "$2" \
  --extra-bridge-flags "$slow_bridge" -- \
  env HIVE_SDK_E2E=1 "$scratch/e2e.test" -test.v -test.run 'E2E' -test.count=1
