#!/usr/bin/env bash
# `make run`: the bridge on the in-process bus with one simulated device, and
# the lines to try against it. Ctrl-C stops both.
#
# The gRPC port has no authentication here, so both ports bind to loopback
# unless asked otherwise:
#   make run                       gRPC 127.0.0.1:9090, devices 127.0.0.1:8080
#   make run RUN_HOST=0.0.0.0      every interface (anyone who reaches the
#                                  machine can command the device)
#   RUN_GRPC_PORT / RUN_WS_PORT    other ports; 0 lets the kernel pick
set -euo pipefail
build=${1:-build}
host=${RUN_HOST:-127.0.0.1}
grpc_port=${RUN_GRPC_PORT:-9090}
ws_port=${RUN_WS_PORT:-8080}
cd "$(dirname "$0")/.."

dev_dir="$build/dev"
mkdir -p "$dev_dir"
secret="$dev_dir/jwt-secret"
# A development secret made once per build tree; never use it in production.
[ -s "$secret" ] || head -c 48 /dev/urandom | base64 > "$secret"

device=d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b
account=8813b625-e219-4390-9a7b-fe0e22c9e50b

device_sim=""
"$build/server/hivebridge" --jwt-secret-file="$secret" \
  --ws-listen="$host:$ws_port" --grpc-listen="$host:$grpc_port" \
  2> "$dev_dir/hivebridge.log" &
bridge=$!
trap 'kill $bridge $device_sim 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
started=""
for _ in $(seq 100); do  # polls the log for the start line, 10 s at most
  started="$(grep -m1 'event=started' "$dev_dir/hivebridge.log" 2>/dev/null || true)"
  [ -n "$started" ] && break
  kill -0 $bridge 2>/dev/null || break
  sleep 0.1
done
[ -n "$started" ] || { cat "$dev_dir/hivebridge.log"; exit 1; }
# The ports it really bound (they differ from the flags when those ask for 0).
ws_port="$(sed -n 's/.*[[:space:]]ws_port=\([0-9]*\).*/\1/p' <<<"$started")"
grpc_port="$(sed -n 's/.*[[:space:]]grpc_port=\([0-9]*\).*/\1/p' <<<"$started")"

"$build/clients/device_sim/hive-device-sim" --url "ws://127.0.0.1:$ws_port/v1/devices" --jwt-secret-file="$secret" \
  --devices 1 --device-id "$device" --account "$account" --on-request ack-result --event-rate 0.2 --quiet \
  2> "$dev_dir/device-sim.log" &
device_sim=$!

if [ "$host" = "127.0.0.1" ] || [ "$host" = "localhost" ]; then
  exposure="bound to $host only (make run RUN_HOST=0.0.0.0 to listen on every interface)"
else
  exposure="bound to $host: the gRPC port has NO authentication, anyone who reaches it can command the device"
fi
target="localhost:$grpc_port"
cat <<TXT
hivebridge is running: gRPC on $host:$grpc_port, devices on ws://$host:$ws_port/v1/devices
$exposure
one simulated device: $device (account $account)
logs: $dev_dir/hivebridge.log, $dev_dir/device-sim.log

Try it (grpcurl, or the pinned buf in node_modules/.bin with the same JSON):
  grpcurl -plaintext $target list
  grpcurl -plaintext $target hive.bridge.v1.DeviceBridge/ListDevices
  grpcurl -plaintext -d '{"device_id":"$device","command":{"scheduler_action":{"action":"ACTION_STOP","instance":"ad51b914-688a-4a5f-a073-5c5121a010e2","application":{"appstore":"Fractal App Store","name":"wikijs","version":"latest"}}},"wait":"WAIT_MODE_RESULT"}' $target hive.bridge.v1.DeviceBridge/SendDeviceRequest
  grpcurl -plaintext -d '{"types":["device-state"]}' $target hive.bridge.v1.DeviceBridge/SubscribeEvents

  node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge http://$target/hive.bridge.v1.DeviceBridge/ListDevices -d '{}'

Ctrl-C to stop.
TXT
wait $bridge
