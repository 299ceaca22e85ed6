#!/usr/bin/env bash
# `make run`'s script (scripts/run.sh) as a newcomer meets it: it starts the
# bridge and a simulated device, prints what to try, binds only loopback by
# default, the device answers the printed ListDevices, and Ctrl-C stops both.
# Kernel-picked ports (RUN_*_PORT=0) so it runs beside other tests. Bounded by 60 s.
#   tests/examples/make_run.sh <build-dir>
set -uo pipefail
if [ -z "${HIVE_EXAMPLES_BOUNDED:-}" ]; then
  export HIVE_EXAMPLES_BOUNDED=1
  exec timeout --kill-after=5 60 "$0" "$@"
fi
build=$(realpath "$1")
repo=$(realpath "$(dirname "${BASH_SOURCE[0]}")/../..")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hive-make-run.XXXXXX")
# A private copy of the build tree's layout: run.sh writes its dev/ secret and
# logs under the build dir it is given.
mkdir -p "$tmp/build/server" "$tmp/build/clients/device_sim"
ln -s "$build/server/hivebridge" "$tmp/build/server/hivebridge"
ln -s "$build/clients/device_sim/hive-device-sim" "$tmp/build/clients/device_sim/hive-device-sim"

fail() { echo "FAIL: $*"; echo "--- run.sh output"; cat "$tmp/out"; for f in "$tmp"/build/dev/*.log; do echo "--- $f"; cat "$f"; done; exit 1; }
RUN_GRPC_PORT=0 RUN_WS_PORT=0 setsid bash "$repo/scripts/run.sh" "$tmp/build" > "$tmp/out" 2>&1 &
run=$!
trap 'kill -TERM -- -$run 2>/dev/null; rm -rf "$tmp"' EXIT

for _ in $(seq 200); do grep -q '^Ctrl-C to stop' "$tmp/out" && break; kill -0 $run 2>/dev/null || break; sleep 0.1; done
grep -q '^Ctrl-C to stop' "$tmp/out" || fail "run.sh did not print its instructions"
grep -q '^bound to 127.0.0.1 only' "$tmp/out" || fail "run.sh does not say it binds loopback only"
port=$(sed -n 's/^hivebridge is running: gRPC on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$tmp/out")
[ -n "$port" ] || fail "no gRPC port in the first line"

bridge=$(pgrep -f -n "$tmp/build/server/hivebridge") || fail "no hivebridge process"
listeners=$(ss -ltnpH | grep "pid=$bridge,")
echo "$listeners"
[ "$(wc -l <<<"$listeners")" -ge 2 ] || fail "hivebridge listens on fewer than two sockets"
# Column 4 is the local address: 127.0.0.1:P, or [::ffff:127.0.0.1]:P for gRPC's dual-stack socket.
beyond=$(awk '$4 !~ /^(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]):[0-9]+$/' <<<"$listeners")
[ -z "$beyond" ] || fail "hivebridge listens beyond loopback: $beyond"


# The printed buf curl line, as printed, lists the simulated device once it connects.
line=$(grep -m1 'buf curl' "$tmp/out" | sed 's/^ *//')
device=$(sed -n 's/^one simulated device: \([0-9a-f-]*\) .*/\1/p' "$tmp/out")
for _ in $(seq 100); do
  out=$(cd "$repo" && eval "$line" 2>&1)
  grep -q "\"deviceId\": \"$device\"" <<<"$out" && break
  sleep 0.1
done
grep -q "\"deviceId\": \"$device\"" <<<"$out" || fail "the printed ListDevices line does not list $device: $out"

# Ctrl-C stops the bridge and the device.
kill -INT -- -$run
for _ in $(seq 100); do kill -0 $run 2>/dev/null || break; sleep 0.1; done
kill -0 $run 2>/dev/null && fail "run.sh still running after Ctrl-C"
pgrep -f "$tmp/build/" >/dev/null && fail "a child of run.sh outlived it"
echo "make run ok"
