#!/usr/bin/env bash
# The request round trip through the RabbitMQ bus (issue #7), measured with
# the same hive-loadgen as `make bench`: a private rabbitmq-server, two
# replicas, 1,000 simulated devices on replica 1; SendDeviceRequest (ack) at
# each concurrency through replica 1 (the device is local: no broker on the
# path) and through replica 2 (routed through the broker and back), and a
# single in-process bridge as the baseline. Prints a Markdown table.
#
#   scripts/bench_cluster.sh [BUILD_DIR]      (default build/; needs hivebridge,
#                                              hive-device-sim, hive-loadgen)
set -euo pipefail

build="${1:-build}"
bridge="$build/server/hivebridge"
sim="$build/clients/device_sim/hive-device-sim"
loadgen="$build/clients/loadgen/hive-loadgen"
devices=1000
duration="${BENCH_CLUSTER_DURATION:-5s}"
concurrencies=(1 16 256)

tmp="$(mktemp -d "${TMPDIR:-/tmp}/hive-bench-cluster.XXXXXX")"
pids=()
node="benchcluster-$$@localhost"
export RABBITMQ_NODENAME="$node" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
  RABBITMQ_MNESIA_BASE="$tmp/mnesia" RABBITMQ_LOG_BASE="$tmp/log" \
  RABBITMQ_ENABLED_PLUGINS_FILE="$tmp/enabled_plugins" HOME="$tmp/home"
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  /usr/lib/rabbitmq/bin/rabbitmqctl -n "$node" stop > /dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mkdir -p "$tmp/mnesia" "$tmp/log" "$tmp/home"
echo '[].' > "$tmp/enabled_plugins"
head -c 48 /dev/urandom | base64 | tr -d '\n' > "$tmp/secret"
# The replicas sign their messages to each other with a shared key (--cluster-key-file).
head -c 48 /dev/urandom | base64 | tr -d '\n' > "$tmp/cluster-key"
amqp_port="$(free_port)"
RABBITMQ_NODE_PORT="$amqp_port" RABBITMQ_DIST_PORT="$(free_port)" \
  /usr/lib/rabbitmq/bin/rabbitmq-server > "$tmp/rabbitmq.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do (exec 3<>"/dev/tcp/127.0.0.1/$amqp_port") 2>/dev/null && break; sleep 0.1; done

# start_bridge NAME FLAGS... → sets ws_port, grpc_port
start_bridge() {
  local name="$1"; shift
  "$bridge" --jwt-secret-file="$tmp/secret" --ws-listen=127.0.0.1:0 --grpc-listen=127.0.0.1:0 \
    --device-event-rate=0 "$@" 2> "$tmp/$name.log" > /dev/null &
  pids+=($!)
  local line=""
  for _ in $(seq 1 100); do
    line="$(grep -m1 'event=started' "$tmp/$name.log" || true)"; [ -n "$line" ] && break; sleep 0.1
  done
  ws_port="$(sed -n 's/.* ws_port=\([0-9]*\).*/\1/p' <<<"$line")"
  grpc_port="$(sed -n 's/.* grpc_port=\([0-9]*\).*/\1/p' <<<"$line")"
}

wait_log() { for _ in $(seq 1 300); do grep -q "$2" "$tmp/$1.log" && return 0; sleep 0.1; done; echo "no '$2' in $1" >&2; return 1; }

start_sim() {
  "$sim" --url "ws://127.0.0.1:$1/v1/devices" --jwt-secret-file="$tmp/secret" --devices "$devices" \
    --on-request ack --connect-rate 5000 --quiet 2> "$tmp/sim-$1.log" &
  pids+=($!)
  sleep 3
}

rate() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rps"])' "$1"; }
p99() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["latency_us"]["p99"] / 1000)' "$1"; }

measure() {  # measure NAME GRPC_PORT CONCURRENCY
  "$loadgen" --mode=request --server="127.0.0.1:$2" --devices="$devices" --concurrency="$3" \
    --warmup=1s --duration="$duration" > "$tmp/$1.json" 2> "$tmp/$1.err"
}

start_bridge inproc
inproc_grpc="$grpc_port"; start_sim "$ws_port"
bus="amqp://guest:guest@127.0.0.1:$amqp_port/%2f"
start_bridge replica1 --bus="$bus" --replica-id=bench-1 --cluster-key-file="$tmp/cluster-key"
r1_grpc="$grpc_port"; r1_ws="$ws_port"
start_bridge replica2 --bus="$bus" --replica-id=bench-2 --cluster-key-file="$tmp/cluster-key"
r2_grpc="$grpc_port"
wait_log replica1 event=bus_connected; wait_log replica2 event=bus_connected
start_sim "$r1_ws"
sleep 2

echo "| concurrency | in-process req/s | cluster, device local req/s | cluster, through the broker req/s | broker / in-process | p99 in-process ms | p99 through the broker ms |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for c in "${concurrencies[@]}"; do
  measure "inproc_c$c" "$inproc_grpc" "$c"
  measure "local_c$c" "$r1_grpc" "$c"
  measure "routed_c$c" "$r2_grpc" "$c"
  /usr/bin/python3 - "$c" "$(rate "$tmp/inproc_c$c.json")" "$(rate "$tmp/local_c$c.json")" "$(rate "$tmp/routed_c$c.json")" \
    "$(p99 "$tmp/inproc_c$c.json")" "$(p99 "$tmp/routed_c$c.json")" <<'PY'
import sys
c, inproc, local, routed, p99_in, p99_routed = sys.argv[1:]
f = lambda x: float(x)
print(f"| {c} | {f(inproc):,.0f} | {f(local):,.0f} | {f(routed):,.0f} | {f(routed)/f(inproc):.2f}× | {f(p99_in):.2f} | {f(p99_routed):.2f} |")
PY
done
