#!/usr/bin/env bash
# The README's grpcurl walkthrough, run with the pinned `buf curl` and server
# reflection only (no .proto files), against a private hivebridge with one
# simulated device. grpcurl `list`/`describe` map to buf curl's
# --list-services/--list-methods. Bounded by 60 s.
set -uo pipefail

if [ -z "${HIVE_EXAMPLES_BOUNDED:-}" ]; then
  export HIVE_EXAMPLES_BOUNDED=1
  exec timeout --kill-after=5 60 "$0" "$@"
fi

. "$(dirname "${BASH_SOURCE[0]}")/bridge_fixture.sh"
bridge_start || exit 1

BASE="http://127.0.0.1:$BRIDGE_GRPC_PORT"
failures=0
step() { echo "== $*"; }
expect() { # expect <description> <pattern> <output>
  if grep -q -- "$2" <<<"$3"; then echo "ok: $1"; else echo "FAIL: $1 (no '$2' in:)"; echo "$3"; failures=$((failures+1)); fi
}
buf_curl() { "$BUF" curl --protocol grpc --http2-prior-knowledge "$@" 2>&1; }

# what is there  (grpcurl list / describe)
step "list services"
out="$(buf_curl --list-services "$BASE")"; echo "$out"
expect "DeviceBridge is listed" '^hive.bridge.v1.DeviceBridge$' "$out"
expect "Health is listed" '^grpc.health.v1.Health$' "$out"

step "list methods"
out="$(buf_curl --list-methods "$BASE")"; echo "$out"
for m in SendDeviceRequest SubscribeEvents ListDevices GetDevice; do
  expect "method $m" "^hive.bridge.v1.DeviceBridge/$m\$" "$out"
done
expect "health method" '^grpc.health.v1.Health/Check$' "$out"

# which devices are connected
step "ListDevices"
out="$(buf_curl "$BASE/hive.bridge.v1.DeviceBridge/ListDevices" -d '{}')"; echo "$out"
expect "the simulated device is listed" "\"deviceId\": \"$BRIDGE_DEVICE_ID\"" "$out"

# stop an app on the simulated device and wait for its result
step "SendDeviceRequest (SchedulerAction stop, WAIT_MODE_RESULT)"
out="$(buf_curl "$BASE/hive.bridge.v1.DeviceBridge/SendDeviceRequest" -d '{
  "device_id": "'"$BRIDGE_DEVICE_ID"'",
  "command": {"scheduler_action": {
    "action": "ACTION_STOP",
    "instance": "ad51b914-688a-4a5f-a073-5c5121a010e2",
    "application": {"appstore": "Fractal App Store", "name": "wikijs", "version": "latest"}}},
  "wait": "WAIT_MODE_RESULT"}')"; echo "$out"
expect "status SUCCEEDED" '"status": "REQUEST_STATUS_SUCCEEDED"' "$out"
expect "the device's result" '"handled_by": "hive-device-sim"' "$out"

# health
step "grpc.health.v1.Health/Check"
out="$(buf_curl "$BASE/grpc.health.v1.Health/Check" -d '{}')"; echo "$out"
expect "SERVING" '"status": "SERVING"' "$out"

if [ "$failures" -ne 0 ]; then
  echo "FAIL: $failures check(s) failed"; bridge_dump_logs; exit 1
fi
echo "walkthrough ok"
