#!/usr/bin/env bash
# End-to-end test of hivectl: starts the real hivebridge on kernel-picked
# loopback ports and one simulated device, then checks that hivectl lists the
# device, gets a result for a scheduler action, exits 15 (10 + NOT_FOUND) for
# an unknown device, prints one subscribed event, and refuses a duration
# without a unit (exit 2). Cleans up after itself.
#
#   hivectl_e2e.sh HIVEBRIDGE HIVE_DEVICE_SIM HIVECTL
set -u

bridge_bin=$1 sim_bin=$2 hivectl_bin=$3
device=d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b
unknown=00000000-0000-4000-8000-000000000001
instance=ad51b914-688a-4a5f-a073-5c5121a010e2

. "$(dirname "$0")/../sanitizers/reports.sh"

dir=$(mktemp -d)
bridge_pid='' sim_pid=''
cleanup() {
  local rc=$?
  [[ -n $sim_pid ]] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  [[ -n $bridge_pid ]] && kill "$bridge_pid" 2>/dev/null && wait "$bridge_pid" 2>/dev/null
  sanitizer_clean "$dir/bridge.log" "$dir/sim.log" || rc=1
  rm -rf "$dir"
  exit $rc
}
trap cleanup EXIT
trap 'exit 1' TERM INT  # so that a ctest timeout still runs cleanup

fail() {
  echo "FAIL: $*" >&2
  echo "--- hivebridge log" >&2; cat "$dir/bridge.log" >&2
  echo "--- hive-device-sim log" >&2; cat "$dir/sim.log" >&2
  exit 1
}

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/secret"
env -u HIVECTL_SERVER "$bridge_bin" --jwt-secret-file="$dir/secret" --ws-listen=127.0.0.1:0 \
  --grpc-listen=127.0.0.1:0 --io-threads=2 </dev/null >"$dir/bridge.log" 2>&1 &
bridge_pid=$!

ws_port='' grpc_port=''
for _ in $(seq 100); do
  line=$(grep -m1 ' event=started' "$dir/bridge.log")
  if [[ -n $line ]]; then
    ws_port=$(sed -n 's/.* ws_port=\([0-9]*\).*/\1/p' <<<"$line")
    grpc_port=$(sed -n 's/.* grpc_port=\([0-9]*\).*/\1/p' <<<"$line")
    break
  fi
  kill -0 "$bridge_pid" 2>/dev/null || fail "hivebridge exited before it started"
  sleep 0.1
done
[[ -n $ws_port && -n $grpc_port ]] || fail "hivebridge did not log event=started with ports"
export HIVECTL_SERVER=127.0.0.1:$grpc_port

"$sim_bin" --url "ws://127.0.0.1:$ws_port/v1/devices" --jwt-secret-file "$dir/secret" --devices 1 \
  --device-id "$device" --on-request ack-result --event-rate 2 --quiet </dev/null >"$dir/sim.log" 2>&1 &
sim_pid=$!

# 1. devices lists the simulated device (once it has connected).
listed=''
for _ in $(seq 50); do
  ((SECONDS < 15)) || break
  if "$hivectl_bin" devices --timeout 2s >"$dir/devices.out" 2>&1 && grep -q "$device" "$dir/devices.out"; then
    listed=yes
    break
  fi
  sleep 0.1
done
[[ -n $listed ]] || fail "hivectl devices did not list $device: $(cat "$dir/devices.out")"
echo "ok: hivectl devices lists the device"

# 2. a scheduler action waits for the device's result.
out=$("$hivectl_bin" send "$device" scheduler-action stop --instance "$instance" --app wikijs \
  --appstore "Fractal App Store" --version latest --wait result -o json 2>&1)
rc=$?
[[ $rc -eq 0 ]] || fail "send exited $rc: $out"
grep -q REQUEST_STATUS_SUCCEEDED <<<"$out" || fail "send did not print REQUEST_STATUS_SUCCEEDED: $out"
echo "ok: hivectl send ... --wait result succeeded"

# 3. an unknown device is NOT_FOUND: exit 10 + 5.
"$hivectl_bin" send "$unknown" upgrade >"$dir/unknown.out" 2>"$dir/unknown.err"
rc=$?
[[ $rc -eq 15 ]] || fail "send to an unknown device exited $rc, want 15: $(cat "$dir/unknown.err")"
grep -q '^hivectl: NOT_FOUND: ' "$dir/unknown.err" || fail "unexpected stderr: $(cat "$dir/unknown.err")"
echo "ok: hivectl send to an unknown device exits 15"

# 4. subscribe prints exactly one device-state event, then exits 0.
"$hivectl_bin" subscribe --type device-state --count 1 --timeout 15s -o json >"$dir/sub.out" 2>"$dir/sub.err"
rc=$?
[[ $rc -eq 0 ]] || fail "subscribe exited $rc: $(cat "$dir/sub.err")"
[[ $(wc -l <"$dir/sub.out") -eq 1 ]] || fail "subscribe printed other than one line: $(cat "$dir/sub.out")"
grep -q '"type":"device-state"' "$dir/sub.out" || fail "not a device-state event: $(cat "$dir/sub.out")"
grep -q "\"device_id\":\"$device\"" "$dir/sub.out" || fail "not the device's event: $(cat "$dir/sub.out")"
echo "ok: hivectl subscribe --count 1 printed one device-state event"

# 5. durations carry a unit: a bare number of seconds is a usage error, named.
"$hivectl_bin" devices --timeout 2 >"$dir/bare.out" 2>&1
rc=$?
[[ $rc -eq 2 ]] || fail "--timeout 2 exited $rc, want 2: $(cat "$dir/bare.out")"
grep -q '^hivectl: --timeout: expected a duration such as 30s' "$dir/bare.out" || fail "unexpected: $(cat "$dir/bare.out")"
echo "ok: hivectl refuses --timeout 2 (no unit)"
