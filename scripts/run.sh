#!/usr/bin/env bash
# `make run`: the bridge on the in-process bus (gRPC :9090, WebSocket :8080)
# with one simulated device, and the lines to try against it. Ctrl-C stops both.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."

dev_dir="$build/dev"
mkdir -p "$dev_dir"
secret="$dev_dir/jwt-secret"
# A development secret made once per build tree; never use it in production.
[ -s "$secret" ] || head -c 48 /dev/urandom | base64 > "$secret"

device=d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b
account=8813b625-e219-4390-9a7b-fe0e22c9e50b

device_sim=""
"$build/server/hivebridge" --jwt-secret-file="$secret" --ws-listen=0.0.0.0:8080 --grpc-listen=0.0.0.0:9090 \
  2> "$dev_dir/hivebridge.log" &
bridge=$!
trap 'kill $bridge $device_sim 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
for _ in $(seq 50); do grep -q 'event=started' "$dev_dir/hivebridge.log" && break; sleep 0.1; done
grep -q 'event=started' "$dev_dir/hivebridge.log" || { cat "$dev_dir/hivebridge.log"; exit 1; }

"$build/clients/device_sim/hive-device-sim" --url ws://127.0.0.1:8080/v1/devices --jwt-secret-file="$secret" \
  --devices 1 --device-id "$device" --account "$account" --on-request ack-result --event-rate 0.2 --quiet \
  2> "$dev_dir/device-sim.log" &
device_sim=$!

cat <<TXT
hivebridge is running: gRPC on :9090, devices on ws://localhost:8080/v1/devices
one simulated device: $device (account $account)
logs: $dev_dir/hivebridge.log, $dev_dir/device-sim.log

Try it (grpcurl, or the pinned buf in node_modules/.bin with the same JSON):
  grpcurl -plaintext localhost:9090 list
  grpcurl -plaintext localhost:9090 hive.bridge.v1.DeviceBridge/ListDevices
  grpcurl -plaintext -d '{"device_id":"$device","command":{"scheduler_action":{"action":"ACTION_STOP","instance":"ad51b914-688a-4a5f-a073-5c5121a010e2","application":{"appstore":"Fractal App Store","name":"wikijs","version":"latest"}}},"wait":"WAIT_MODE_RESULT"}' localhost:9090 hive.bridge.v1.DeviceBridge/SendDeviceRequest
  grpcurl -plaintext -d '{"types":["device-state"]}' localhost:9090 hive.bridge.v1.DeviceBridge/SubscribeEvents

  node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge http://localhost:9090/hive.bridge.v1.DeviceBridge/ListDevices -d '{}'

Ctrl-C to stop.
TXT
wait $bridge
