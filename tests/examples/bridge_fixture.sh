# Sourced by the example tests: starts a private hivebridge on loopback
# (ports chosen by the kernel) with one simulated device, and stops both.
#
#   . tests/examples/bridge_fixture.sh
#   bridge_start            # sets BRIDGE_GRPC_PORT, BRIDGE_WS_PORT, BRIDGE_DEVICE_ID, BRIDGE_TMP
#   ...                     # bridge_stop runs on EXIT (trap); a sanitizer report
#                           # in either log fails the script
#
# Binaries: $HIVEBRIDGE_BIN and $HIVE_DEVICE_SIM_BIN (default: ./build of the repo).
# buf: $BUF (default: the repo's node_modules/.bin/buf).

BRIDGE_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
. "$BRIDGE_REPO_ROOT/tests/sanitizers/reports.sh"
HIVEBRIDGE_BIN="${HIVEBRIDGE_BIN:-$BRIDGE_REPO_ROOT/build/server/hivebridge}"
HIVE_DEVICE_SIM_BIN="${HIVE_DEVICE_SIM_BIN:-$BRIDGE_REPO_ROOT/build/clients/device_sim/hive-device-sim}"
BUF="${BUF:-$BRIDGE_REPO_ROOT/node_modules/.bin/buf}"
BRIDGE_DEVICE_ID="${BRIDGE_DEVICE_ID:-d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b}"

BRIDGE_PID=""
SIM_PID=""
BRIDGE_TMP=""

bridge_log() { echo "[bridge_fixture] $*" >&2; }

bridge_stop() {
  local rc=$? pid
  for pid in "$SIM_PID" "$BRIDGE_PID"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null
      # bounded wait, then force
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
    fi
  done
  SIM_PID=""; BRIDGE_PID=""
  if [ -n "$BRIDGE_TMP" ] && [ -d "$BRIDGE_TMP" ]; then
    sanitizer_clean "$BRIDGE_TMP/hivebridge.log" "$BRIDGE_TMP/sim.log" || rc=1
    if [ "${BRIDGE_KEEP_LOGS:-0}" = 1 ]; then bridge_log "logs kept in $BRIDGE_TMP"; else rm -rf "$BRIDGE_TMP"; fi
  fi
  BRIDGE_TMP=""
  exit $rc
}

# Calls a DeviceBridge/Health method through reflection: bridge_curl Service/Method [json]
bridge_curl() {
  local data="${2:-}"
  [ -n "$data" ] || data='{}'
  "$BUF" curl --protocol grpc --http2-prior-knowledge \
    "http://127.0.0.1:$BRIDGE_GRPC_PORT/$1" -d "$data"
}

bridge_dump_logs() {
  [ -n "$BRIDGE_TMP" ] || return 0
  bridge_log "---- hivebridge.log (tail)"; tail -n 30 "$BRIDGE_TMP/hivebridge.log" >&2 2>/dev/null
  bridge_log "---- sim.log (tail)"; tail -n 30 "$BRIDGE_TMP/sim.log" >&2 2>/dev/null
}

bridge_start() {
  local f
  for f in "$HIVEBRIDGE_BIN" "$HIVE_DEVICE_SIM_BIN" "$BUF"; do
    [ -x "$f" ] || { bridge_log "not executable: $f"; return 1; }
  done
  trap bridge_stop EXIT
  trap 'exit 130' INT TERM
  BRIDGE_TMP="$(mktemp -d "${TMPDIR:-/tmp}/hive-examples.XXXXXX")"
  head -c 48 /dev/urandom | base64 | tr -d '\n' > "$BRIDGE_TMP/jwt-secret"

  "$HIVEBRIDGE_BIN" --jwt-secret-file "$BRIDGE_TMP/jwt-secret" \
    --ws-listen=127.0.0.1:0 --grpc-listen=127.0.0.1:0 --state-dir="$BRIDGE_TMP/state" \
    2> "$BRIDGE_TMP/hivebridge.log" > /dev/null &
  BRIDGE_PID=$!

  local line=""
  for _ in $(seq 1 100); do
    line="$(grep -m1 'event=started' "$BRIDGE_TMP/hivebridge.log" 2>/dev/null || true)"
    [ -n "$line" ] && break
    kill -0 "$BRIDGE_PID" 2>/dev/null || break
    sleep 0.1
  done
  BRIDGE_WS_PORT="$(sed -n 's/.*[[:space:]]ws_port=\([0-9]*\).*/\1/p' <<<"$line")"
  BRIDGE_GRPC_PORT="$(sed -n 's/.*[[:space:]]grpc_port=\([0-9]*\).*/\1/p' <<<"$line")"
  if [ -z "$BRIDGE_WS_PORT" ] || [ -z "$BRIDGE_GRPC_PORT" ]; then
    bridge_log "hivebridge did not report its ports"; bridge_dump_logs; return 1
  fi
  bridge_log "hivebridge pid=$BRIDGE_PID ws_port=$BRIDGE_WS_PORT grpc_port=$BRIDGE_GRPC_PORT"

  "$HIVE_DEVICE_SIM_BIN" --url "ws://127.0.0.1:$BRIDGE_WS_PORT/v1/devices" \
    --jwt-secret-file "$BRIDGE_TMP/jwt-secret" --devices 1 --device-id "$BRIDGE_DEVICE_ID" \
    --on-request ack-result --event-rate 2 --quiet \
    > "$BRIDGE_TMP/sim.log" 2>&1 &
  SIM_PID=$!

  for _ in $(seq 1 100); do
    if bridge_curl hive.bridge.v1.DeviceBridge/ListDevices 2>/dev/null | grep -q "$BRIDGE_DEVICE_ID"; then
      bridge_log "device $BRIDGE_DEVICE_ID is connected"
      return 0
    fi
    kill -0 "$SIM_PID" 2>/dev/null || break
    sleep 0.1
  done
  bridge_log "device $BRIDGE_DEVICE_ID never showed up in ListDevices"; bridge_dump_logs
  return 1
}
