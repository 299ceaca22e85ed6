#!/usr/bin/env bash
# Runs the benchmarks behind issue #18's targets (and #16's and #21's
# ratios) against binaries already built in --build-dir, each next to its
# baseline in the same run, and gathers the results: codec micro-benchmarks
# vs a simdjson on-demand parse (and RapidJSON parse-only, issue #6's
# baseline), with allocations per message; the request correlator's heap per
# remembered request; SendDeviceRequest round trips vs a bare gRPC echo
# server (rate, p99, each server's CPU per request); event fan-out vs a bare
# websocketpp echo; the device twin's cost on the event path (fan-out with
# --state-dir vs without); queued requests (queueing and delivery rates vs the
# same requests sent live); fleet jobs (a job's dispatch rate vs the same
# requests sent live); idle-connection scale (RSS per device at several fleet
# sizes) vs the same echo server.
#
#   scripts/bench.sh --build-dir build/bench            # `make bench`: minutes; writes bench/results.json
#                                                       # and docs/PERFORMANCE.md
#   scripts/bench.sh --smoke --build-dir build --out D  # `make bench-smoke`, ctest bench.smoke: under a
#                                                       # minute; writes D/results.json and D/PERFORMANCE.md
#   scripts/bench.sh --phases jobs,queue ...            # only those phases (codec request fanout twin queue
#                                                       # jobs scale): raw outputs only, no results or report
#
# Both end by checking that the results are well formed and have every
# section (bench/results.py check). Nothing here asserts a speed: the numbers
# are ratios for people to read. With `perf` installed, the full run also
# profiles the bridge under the round-trip and fan-out loads.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
smoke=0
build_dir="$repo/build/bench"
out=""
results=""
report=""
all_phases="codec,request,fanout,twin,queue,jobs,scale"
phases="$all_phases"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --build-dir) build_dir="$2"; shift ;;
    --out) out="$2"; shift ;;
    --results) results="$2"; shift ;;
    --report) report="$2"; shift ;;
    --phases) phases="$2"; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
build_dir="$(cd "$build_dir" && pwd)"
for phase in ${phases//,/ }; do
  [[ ",$all_phases," == *",$phase,"* ]] || { echo "bench.sh: --phases: unknown phase $phase ($all_phases)" >&2; exit 2; }
done

if [ "$smoke" = 1 ]; then
  out="${out:-$build_dir/bench-smoke}"
  results="${results:-$out/results.json}"
  report="${report:-$out/PERFORMANCE.md}"
  rounds=1 warmup=0.2s duration=0.5s sim_devices=100 scale_target=200 scale_try_more=0 settle=0.5s perf_seconds=0
  scale_points=(50 100)
  queue_devices=20 queued=100
  job_devices=50 job_concurrency=16 job_warmup=0.2s job_duration=0.5s
  codec_args=(--benchmark_min_time=0.001)
else
  out="${out:-$build_dir/bench-run}"
  results="${results:-$repo/bench/results.json}"
  report="${report:-$repo/docs/PERFORMANCE.md}"
  rounds=3 warmup=2s duration=8s sim_devices=1000 scale_target=50000 scale_try_more=100000 settle=3s perf_seconds=10
  scale_points=(1000 5000)
  queue_devices=100 queued=2000
  job_devices=1000 job_concurrency=64 job_warmup=1s job_duration=4s
  codec_args=(--benchmark_min_time=0.5 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true)
fi
concurrencies=(1 16 256)
subscriber_counts=(1 10 100)
emitters=8 window=8

bridge_bin="$build_dir/server/hivebridge"
sim_bin="$build_dir/clients/device_sim/hive-device-sim"
loadgen_bin="$build_dir/clients/loadgen/hive-loadgen"
codec_bin="$build_dir/tests/bench/codec_bench"
correlator_bin="$build_dir/tests/bench/correlator_bench"
grpc_echo_bin="$build_dir/tests/bench/grpc_echo_server"
ws_echo_bin="$build_dir/tests/bench/ws_echo_server"
for bin in "$bridge_bin" "$sim_bin" "$loadgen_bin" "$codec_bin" "$correlator_bin" "$grpc_echo_bin" "$ws_echo_bin"; do
  [ -x "$bin" ] || { echo "bench.sh: not built: $bin" >&2; exit 2; }
done

# The fan-out measures how fast the event path can go; a bridge's per-device
# event rate limit (a policy, off here) would measure the policy instead.
unlimited_events=()
bridge_help="$("$bridge_bin" --help 2>&1 || true)"
[[ "$bridge_help" == *--device-event-rate* ]] && unlimited_events=(--device-event-rate=0)

raw="$out/raw"
rm -rf "$raw"
mkdir -p "$raw/request" "$raw/fanout" "$raw/twin" "$raw/queue" "$raw/jobs" "$raw/scale" "$raw/perf" "$raw/logs"
commands="$raw/commands.txt"
: > "$commands"
secret="$raw/jwt-secret"
head -c 48 /dev/urandom | base64 | tr -d '\n' > "$secret"

# Every device and connection is a file descriptor, in the bridge and here.
ulimit -n "$(ulimit -Hn)"

say() { echo "[bench] $*" >&2; }

# Command lines as the report shows them: paths relative to the repository,
# the secret by name.
shown() { local text="$*"; text="${text//$secret/JWT_SECRET}"; echo "${text//$repo\//}"; }

# Runs a measurement, records its exact command line, saves its stdout.
measure() {
  local save="$1"; shift
  shown "$*" >> "$commands"
  "$@" > "$save"
}

started=()
stop_all() {
  local pid
  for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
  started=()
}
trap stop_all EXIT

stop_one() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local kept=() pid
  for pid in "${started[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
  started=("${kept[@]}")
}

# Waits for `pattern` in `file`; prints the matching line.
await_line() {
  local file="$1" pattern="$2" pid="$3"
  for _ in $(seq 1 100); do
    if grep -q "$pattern" "$file" 2>/dev/null; then grep -m1 "$pattern" "$file"; return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  say "no '$pattern' in $file"; cat "$file" >&2; return 1
}

# start_bridge NAME WS_HOST [FLAG...]: sets bridge_pid, bridge_ws_port, bridge_grpc_port.
start_bridge() {
  local log="$raw/logs/$1.log" host="$2"
  shift 2
  shown "$bridge_bin --jwt-secret-file=$secret --ws-listen=$host:0 --grpc-listen=127.0.0.1:0 $*" >> "$commands"
  "$bridge_bin" --jwt-secret-file="$secret" --ws-listen="$host:0" --grpc-listen=127.0.0.1:0 "$@" 2> "$log" > /dev/null &
  bridge_pid=$!
  started+=("$bridge_pid")
  local line
  line="$(await_line "$log" 'event=started' "$bridge_pid")"
  bridge_ws_port="$(sed -n 's/.* ws_port=\([0-9]*\).*/\1/p' <<<"$line")"
  bridge_grpc_port="$(sed -n 's/.* grpc_port=\([0-9]*\).*/\1/p' <<<"$line")"
}

# start_echo NAME BINARY HOST: sets echo_pid, echo_port.
start_echo() {
  local log="$raw/logs/$1.log"
  shown "$2 --listen=$3:0" >> "$commands"
  "$2" --listen="$3:0" > "$log" 2>&1 &
  echo_pid=$!
  started+=("$echo_pid")
  echo_port="$(await_line "$log" 'listening port=' "$echo_pid" | sed 's/.*port=//')"
}

connected_devices() {
  curl -fsS "http://127.0.0.1:$bridge_ws_port/metrics" 2>/dev/null |
    awk '$1 == "hivebridge_devices_connected" { print $2 }'
}

await_devices() {
  for _ in $(seq 1 600); do
    [ "$(connected_devices)" = "$1" ] && return 0
    sleep 0.1
  done
  say "only $(connected_devices) of $1 devices connected"; return 1
}

# profile_bridge NAME SECONDS: samples the bridge's stacks while a load runs.
# DWARF call graphs, because the Release build keeps no frame pointers and
# the inclusive times (whose callees cost what) are the evidence.
profile_bridge() {
  [ "$perf_seconds" -gt 0 ] && command -v perf > /dev/null || return 0
  local data="$raw/perf/$1.data"
  shown "perf record --call-graph dwarf,16384 -F 199 -p BRIDGE_PID -o $data -- sleep $2" >> "$commands"
  perf record --call-graph dwarf,16384 -F 199 -p "$bridge_pid" -o "$data" -- sleep "$2" > /dev/null 2>&1 || true
  perf report -i "$data" --no-children -g none --sort dso,symbol --stdio --percent-limit 0.3 \
    2> /dev/null > "$raw/perf/$1.txt" || true
  perf report -i "$data" --no-children -g none --sort dso --stdio 2> /dev/null > "$raw/perf/$1.dso.txt" || true
  perf report -i "$data" --children -g none --sort symbol --stdio --percent-limit 1 \
    2> /dev/null > "$raw/perf/$1.children.txt" || true
  rm -f "$data"
}

machine_facts() {
  local compiler
  compiler="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build_dir/CMakeCache.txt")"
  python3 - "$@" <<PY > "$raw/machine.json"
import json, os, platform, subprocess
def run(*cmd):
    try: return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except Exception: return ""
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
print(json.dumps({
  "nproc": os.cpu_count(),
  "cpu_model": cpu,
  "kernel": platform.release(),
  "compiler": run("$compiler", "--version").splitlines()[0] if "$compiler" else "",
  "build_type": run("sed", "-n", "s/^CMAKE_BUILD_TYPE:[A-Z]*=//p", "$build_dir/CMakeCache.txt")
                or "RelWithDebInfo (the CMakeLists default)",
  "memory_mib": mem // 1024,
  "file_limit": int(run("bash", "-c", "ulimit -Hn") or 0),
  "load_average_at_start": os.getloadavg()[0],
  "grpc": run("dpkg-query", "-W", "-f", "\${Version}", "libgrpc++-dev"),
  "protobuf": run("dpkg-query", "-W", "-f", "\${Version}", "libprotobuf-dev"),
  "websocketpp": run("dpkg-query", "-W", "-f", "\${Version}", "libwebsocketpp-dev"),
  "commit": run("git", "-C", "$repo", "rev-parse", "--short", "HEAD")
            + (" + uncommitted changes" if run("git", "-C", "$repo", "status", "--porcelain", "--untracked-files=no") else ""),
  "perf": bool(run("bash", "-c", "command -v perf")),
}))
PY
}

# ---------------------------------------------------------------- codec
codec_phase() {
  say "codec micro-benchmarks"
  measure "$raw/codec.json" "$codec_bin" --benchmark_format=json "${codec_args[@]}"
  # The correlator's cost per /metrics scrape and per expiry tick, at 1,000
  # and 1,000,000 remembered requests: flat, or something walks every entry
  # (raw JSON only; the smoke run keeps to the small case). And its heap per
  # remembered request (issue #18), 100,000 of them, in the smoke run too:
  # one fill, a fraction of a second.
  local filter=()
  [ "$smoke" = 1 ] && filter=("--benchmark_filter=/1000$|RememberedBytes")
  measure "$raw/correlator.json" "$correlator_bin" --benchmark_format=json "${codec_args[@]}" "${filter[@]}"
}

# ---------------------------------------------------------------- request round trip
request_phase() {
  say "request round trip: concurrency ${concurrencies[*]}, $rounds round(s) of $duration"
  start_bridge bridge_request 127.0.0.1 "${unlimited_events[@]}"
  shown "$sim_bin --url ws://127.0.0.1:$bridge_ws_port/v1/devices --jwt-secret-file=$secret --devices $sim_devices --on-request ack --connect-rate 5000 --quiet" >> "$commands"
  "$sim_bin" --url "ws://127.0.0.1:$bridge_ws_port/v1/devices" --jwt-secret-file="$secret" \
    --devices "$sim_devices" --on-request ack --connect-rate 5000 --quiet 2> "$raw/logs/device-sim.log" &
  local sim_pid=$!
  started+=("$sim_pid")
  await_devices "$sim_devices"
  start_echo grpc_echo "$grpc_echo_bin" 127.0.0.1
  local grpc_echo_port="$echo_port"
  local round c
  # --server-pid: each server's CPU time over exactly the measured window
  # (hive-loadgen reads /proc/PID/stat next to its window's tallies), per
  # request: the figure the load generator on the same cores disturbs least.
  for round in $(seq 1 "$rounds"); do
    for c in "${concurrencies[@]}"; do
      measure "$raw/request/echo_c${c}_r${round}.json" "$loadgen_bin" --mode=request --echo \
        --server="127.0.0.1:$grpc_echo_port" --server-pid="$echo_pid" --concurrency="$c" \
        --warmup="$warmup" --duration="$duration"
      measure "$raw/request/bridge_c${c}_r${round}.json" "$loadgen_bin" --mode=request \
        --server="127.0.0.1:$bridge_grpc_port" --server-pid="$bridge_pid" --devices="$sim_devices" \
        --concurrency="$c" --warmup="$warmup" --duration="$duration"
    done
  done
  if [ "$perf_seconds" -gt 0 ]; then
    say "profiling the bridge under the round-trip load (concurrency 256)"
    "$loadgen_bin" --mode=request --server="127.0.0.1:$bridge_grpc_port" --devices="$sim_devices" \
      --concurrency=256 --warmup=1s --duration="$((perf_seconds + 2))s" > "$raw/perf/request.load.json" &
    local load=$!
    sleep 1
    profile_bridge request "$perf_seconds"
    wait "$load"
  fi
  stop_one "$echo_pid"
  # Evidence for bench/hot_spots.md: the same fan-out load as on a fresh
  # bridge, on this one, which remembers every request of the last
  # --dedupe-window (5 min) for retries.
  measure "$raw/fanout/after_requests_s10.json" "$loadgen_bin" --mode=fanout \
    --server="127.0.0.1:$bridge_grpc_port" --ws-url="ws://127.0.0.1:$bridge_ws_port/v1/devices" \
    --jwt-secret-file="$secret" --subscribers=10 --channels=10 --emitters="$emitters" --window="$window" \
    --warmup="$warmup" --duration="$duration"
  stop_one "$sim_pid"
  stop_one "$bridge_pid"
}

# ---------------------------------------------------------------- fan-out
fanout_phase() {
  say "event fan-out: subscribers ${subscriber_counts[*]}, $rounds round(s) of $duration"
  start_bridge bridge_fanout 127.0.0.1 "${unlimited_events[@]}"
  start_echo ws_echo "$ws_echo_bin" 127.0.0.1
  local ws_echo_port="$echo_port"
  local round s
  for round in $(seq 1 "$rounds"); do
    measure "$raw/fanout/echo_s1_r${round}.json" "$loadgen_bin" --mode=fanout --echo \
      --ws-url="ws://127.0.0.1:$ws_echo_port/" --emitters="$emitters" --window="$window" \
      --warmup="$warmup" --duration="$duration"
    for s in "${subscriber_counts[@]}"; do
      measure "$raw/fanout/bridge_s${s}_r${round}.json" "$loadgen_bin" --mode=fanout \
        --server="127.0.0.1:$bridge_grpc_port" --ws-url="ws://127.0.0.1:$bridge_ws_port/v1/devices" \
        --jwt-secret-file="$secret" --subscribers="$s" --channels="$s" --emitters="$emitters" \
        --window="$window" --warmup="$warmup" --duration="$duration"
    done
  done
  if [ "$perf_seconds" -gt 0 ]; then
    say "profiling the bridge under the fan-out load (10 subscribers)"
    "$loadgen_bin" --mode=fanout --server="127.0.0.1:$bridge_grpc_port" \
      --ws-url="ws://127.0.0.1:$bridge_ws_port/v1/devices" --jwt-secret-file="$secret" --subscribers=10 \
      --channels=10 --emitters="$emitters" --window="$window" --warmup=1s --duration="$((perf_seconds + 2))s" \
      > "$raw/perf/fanout.load.json" &
    local load=$!
    sleep 1.5
    profile_bridge fanout "$perf_seconds"
    wait "$load"
  fi
  stop_one "$echo_pid"
  stop_one "$bridge_pid"
}

# ---------------------------------------------------------------- device twin
# The twin's cost on the event path: the same 10-subscriber fan-out against
# a bridge that keeps its twins in memory (no --state-dir) and one that also
# persists them (--state-dir), alternating within each round.
twin_phase() {
  say "device twin: fan-out with 10 subscribers, without and with --state-dir, $rounds round(s) of $duration"
  local round side
  for round in $(seq 1 "$rounds"); do
    for side in memory state; do
      local flags=("${unlimited_events[@]}")
      [ "$side" = state ] && flags+=(--state-dir="$raw/state-twin-r$round")
      start_bridge "bridge_twin_${side}_r$round" 127.0.0.1 "${flags[@]}"
      measure "$raw/twin/${side}_s10_r${round}.json" "$loadgen_bin" --mode=fanout \
        --server="127.0.0.1:$bridge_grpc_port" --ws-url="ws://127.0.0.1:$bridge_ws_port/v1/devices" \
        --jwt-secret-file="$secret" --subscribers=10 --channels=10 --emitters="$emitters" \
        --window="$window" --warmup="$warmup" --duration="$duration"
      stop_one "$bridge_pid"
    done
  done
}

# ---------------------------------------------------------------- queued requests
# Requests queued for offline devices (queue_ttl; the store fsyncs each),
# then delivered as the devices connect; the baseline is the same requests
# sent live to the same devices on the same bridge, at the same concurrency.
queue_phase() {
  say "queued requests: $queued for $queue_devices offline devices, $rounds round(s)"
  start_bridge bridge_queue 127.0.0.1 --state-dir="$raw/state-queue"
  local round
  for round in $(seq 1 "$rounds"); do
    # Devices of a seed of their own each round: offline until it connects them.
    measure "$raw/queue/bridge_r${round}.json" "$loadgen_bin" --mode=queue \
      --server="127.0.0.1:$bridge_grpc_port" --ws-url="ws://127.0.0.1:$bridge_ws_port/v1/devices" \
      --jwt-secret-file="$secret" --devices="$queue_devices" --queued="$queued" --device-seed=$((5000 + round)) \
      --concurrency=16 --warmup="$warmup" --duration="$duration"
  done
  stop_one "$bridge_pid"
}

# ---------------------------------------------------------------- fleet jobs
# A fleet job over online devices that ack at once (WAIT_MODE_ACK, max_rate
# as high as StartJob accepts, max_in_flight the concurrency), timed from
# StartJob to the end of its WatchJob stream; the baseline is the same
# requests sent live by the load generator itself, at the same concurrency on
# the same bridge and devices, right after.
jobs_phase() {
  say "fleet jobs: $job_devices online devices, $job_concurrency in flight, $rounds round(s)"
  start_bridge bridge_jobs 127.0.0.1 --state-dir="$raw/state-jobs"
  local round
  for round in $(seq 1 "$rounds"); do
    # Devices (and their account, which the job selects) of a seed of their own each round.
    measure "$raw/jobs/bridge_r${round}.json" "$loadgen_bin" --mode=job \
      --server="127.0.0.1:$bridge_grpc_port" --ws-url="ws://127.0.0.1:$bridge_ws_port/v1/devices" \
      --jwt-secret-file="$secret" --devices="$job_devices" --device-seed=$((6000 + round)) \
      --concurrency="$job_concurrency" --warmup="$job_warmup" --duration="$job_duration"
  done
  stop_one "$bridge_pid"
}

# ---------------------------------------------------------------- connection scale
# As many devices as the target, or as the file-descriptor limit allows
# (each device is a descriptor in the server and one here), spread over
# enough 127.0.0.x addresses that no address runs out of ephemeral ports.
scale_devices_for() {
  local want="$1" limit
  limit="$(ulimit -n)"
  local most=$((limit - 1000))
  [ "$want" -le "$most" ] && echo "$want" || echo "$most"
}

scale_urls() {
  local devices="$1" port="$2" path="$3" per_address=25000 urls="" i
  local addresses=$(((devices + per_address - 1) / per_address))
  for i in $(seq 1 "$addresses"); do urls="${urls:+$urls,}ws://127.0.0.$i:$port$path"; done
  echo "$urls"
}

scale_run() {  # NAME TARGET_DEVICES
  local name="$1" devices
  devices="$(scale_devices_for "$2")"
  local host=127.0.0.1
  [ "$devices" -gt 25000 ] && host=0.0.0.0
  start_bridge "scale_$name" "$host"
  measure "$raw/scale/bridge_$name.json" "$loadgen_bin" --mode=scale \
    --ws-url="$(scale_urls "$devices" "$bridge_ws_port" /v1/devices)" --jwt-secret-file="$secret" \
    --devices="$devices" --connect-rate=10000 --sim-threads=2 --server-pid="$bridge_pid" --settle=$settle
  stop_one "$bridge_pid"
  start_echo "scale_echo_$name" "$ws_echo_bin" "$host"
  measure "$raw/scale/echo_$name.json" "$loadgen_bin" --mode=scale --echo \
    --ws-url="$(scale_urls "$devices" "$echo_port" /)" --jwt-secret-file="$secret" \
    --devices="$devices" --connect-rate=10000 --sim-threads=2 --server-pid="$echo_pid" --settle=$settle
  stop_one "$echo_pid"
  echo "{\"name\": \"$name\", \"requested\": $2, \"devices\": $devices, \"file_limit\": $(ulimit -n)}" \
    > "$raw/scale/meta_$name.json"
}

scale_phase() {
  say "connection scale: ${scale_points[*]} and $scale_target idle devices"
  # Smaller fleets first, each on a fresh bridge: per-device memory that
  # stays flat from them to the largest fleet measured is what makes an
  # extrapolation past the descriptor limit fair (a few seconds each).
  local point
  for point in "${scale_points[@]}"; do scale_run "d$point" "$point"; done
  scale_run target "$scale_target"
  # "then 100k if memory allows": and if the descriptors allow more than the first run had.
  if [ "$scale_try_more" -gt 0 ] && [ "$(scale_devices_for "$scale_try_more")" -gt "$(scale_devices_for "$scale_target")" ]; then
    local free_kib
    free_kib="$(awk '/MemAvailable/ { print $2 }' /proc/meminfo)"
    [ "$free_kib" -gt $((scale_try_more * 64)) ] && scale_run more "$scale_try_more"
  fi
}

# ---------------------------------------------------------------- main
# Each phase has a bridge of its own, so that one phase's state (remembered
# requests, connections) does not weigh on the next one's figures.
machine_facts
for phase in ${all_phases//,/ }; do
  if [[ ",$phases," == *",$phase,"* ]]; then "${phase}_phase"; fi
done

cut -d' ' -f1 /proc/loadavg > "$raw/load_average_at_end.txt"
if [ "$phases" != "$all_phases" ]; then
  say "phases $phases only: raw outputs in $raw (results and report need every phase)"
  exit 0
fi
python3 "$repo/bench/results.py" merge --raw "$raw" --mode "$([ "$smoke" = 1 ] && echo smoke || echo full)" \
  --out "$results"
python3 "$repo/bench/results.py" check "$results"
python3 "$repo/bench/performance_report.py" "$results" --hot-spots "$repo/bench/hot_spots.md" --out "$report"
say "results: $results; report: $report"
