#!/usr/bin/env bash
# End-to-end test of `hivectl job`: starts the real hivebridge with
# --state-dir (fleet jobs need queued requests) on kernel-picked loopback
# ports and five simulated devices of one account, then checks that
# `job start --dry-run` prints the five devices, `job start` with a rate and
# two waves starts a job, `job watch` prints every device's outcome and ends
# (exit 0) when the job does, `job get` shows it COMPLETED with 5 of 5
# succeeded, `job ls` lists it, `job cancel` of the ended job prints it
# unchanged, and an unknown job id exits 15 (10 + NOT_FOUND).
#
#   hivectl_job_e2e.sh HIVEBRIDGE HIVE_DEVICE_SIM HIVECTL
set -u

bridge_bin=$1 sim_bin=$2 hivectl_bin=$3
account=3f0e8b52-6a47-4c1d-9d2e-5b7a8c9d0e1f
unknown=00000000-0000-4000-8000-000000000001
devices=5

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

mkdir "$dir/state"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/secret"
env -u HIVECTL_SERVER "$bridge_bin" --jwt-secret-file="$dir/secret" --ws-listen=127.0.0.1:0 \
  --grpc-listen=127.0.0.1:0 --io-threads=2 --state-dir="$dir/state" </dev/null >"$dir/bridge.log" 2>&1 &
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

"$sim_bin" --url "ws://127.0.0.1:$ws_port/v1/devices" --jwt-secret-file "$dir/secret" --devices "$devices" \
  --account "$account" --on-request ack-result --quiet </dev/null >"$dir/sim.log" 2>&1 &
sim_pid=$!

# Wait until every simulated device is connected.
for _ in $(seq 100); do
  ((SECONDS < 20)) || break
  "$hivectl_bin" devices --account "$account" -o json --timeout 2s >"$dir/devices.out" 2>&1
  [[ $(grep -o '"device_id"' "$dir/devices.out" | wc -l) -eq $devices ]] && break
  sleep 0.1
done
[[ $(grep -o '"device_id"' "$dir/devices.out" | wc -l) -eq $devices ]] ||
  fail "the $devices simulated devices did not connect: $(cat "$dir/devices.out")"

select=(--account "$account" --presence online)
# 1. a dry run prints the selected devices, one id per line, and starts nothing.
"$hivectl_bin" job start device-command check-disk-space "${select[@]}" --rate 50 --queue-ttl 1m \
  --dry-run >"$dir/dry.out" 2>"$dir/dry.err" || fail "job start --dry-run exited $?: $(cat "$dir/dry.err")"
[[ $(wc -l <"$dir/dry.out") -eq $devices ]] || fail "dry run did not print $devices ids: $(cat "$dir/dry.out")"
grep -qvE '^[0-9a-f-]{36}$' "$dir/dry.out" && fail "dry run printed other than ids: $(cat "$dir/dry.out")"
echo "ok: hivectl job start --dry-run prints the $devices selected devices"

# 2. a staged rollout: two waves, an abort rule, a rate.
"$hivectl_bin" job start device-command check-disk-space "${select[@]}" --rate 20 --max-in-flight 2 \
  --wave 40 --wave 100 --abort-window 5 --abort-ratio 0.5 --queue-ttl 1m --wait result \
  --description "hivectl e2e" -o json >"$dir/start.out" 2>"$dir/start.err" ||
  fail "job start exited $?: $(cat "$dir/start.err")"
job=$(sed -n 's/.*"job_id":"\([0-9a-f-]*\)".*/\1/p' "$dir/start.out" | head -1)
[[ -n $job ]] || fail "job start printed no job id: $(cat "$dir/start.out")"
echo "ok: hivectl job start started job $job"

# 3. watch prints each device's outcome and ends with the job.
"$hivectl_bin" job watch "$job" --timeout 30s >"$dir/watch.out" 2>"$dir/watch.err" ||
  fail "job watch exited $?: $(cat "$dir/watch.err") $(cat "$dir/watch.out")"
[[ $(grep -cE '^[0-9]+  [0-9a-f-]{36}  SUCCEEDED ' "$dir/watch.out") -eq $devices ]] ||
  fail "job watch did not print $devices SUCCEEDED outcomes: $(cat "$dir/watch.out")"
tail -1 "$dir/watch.out" | grep -q "COMPLETED .* $devices/$devices succeeded" ||
  fail "job watch did not end on COMPLETED: $(cat "$dir/watch.out")"
echo "ok: hivectl job watch printed every outcome and ended with the job"

# 4. get shows it completed, every device succeeded.
"$hivectl_bin" job get "$job" >"$dir/get.out" 2>"$dir/get.err" || fail "job get exited $?: $(cat "$dir/get.err")"
grep -q '^state: *COMPLETED$' "$dir/get.out" || fail "job get: not COMPLETED: $(cat "$dir/get.out")"
grep -q "^devices: *$devices/$devices succeeded, 0 failed" "$dir/get.out" ||
  fail "job get: not $devices succeeded: $(cat "$dir/get.out")"
"$hivectl_bin" job get "$job" -o json >"$dir/get.json" 2>&1 || fail "job get -o json: $(cat "$dir/get.json")"
grep -q "\"succeeded\":\"$devices\"" "$dir/get.json" || fail "job get -o json: $(cat "$dir/get.json")"
echo "ok: hivectl job get shows COMPLETED, $devices/$devices succeeded"

# 5. ls lists it (and only finished states when asked).
"$hivectl_bin" job ls >"$dir/ls.out" 2>&1 || fail "job ls exited $?: $(cat "$dir/ls.out")"
grep -q "^$job  COMPLETED" "$dir/ls.out" || fail "job ls does not list $job: $(cat "$dir/ls.out")"
"$hivectl_bin" job ls --state running >"$dir/ls-running.out" 2>&1 || fail "job ls --state: $(cat "$dir/ls-running.out")"
grep -q "$job" "$dir/ls-running.out" && fail "job ls --state running lists the completed job"
echo "ok: hivectl job ls lists the job"

# 6. cancel of an ended job prints it unchanged.
"$hivectl_bin" job cancel "$job" >"$dir/cancel.out" 2>"$dir/cancel.err" ||
  fail "job cancel exited $?: $(cat "$dir/cancel.err")"
diff <(grep -v '^ended' "$dir/get.out") <(grep -v '^ended' "$dir/cancel.out") >/dev/null ||
  fail "job cancel changed the ended job: $(cat "$dir/cancel.out")"
grep -q '^state: *COMPLETED$' "$dir/cancel.out" || fail "job cancel: $(cat "$dir/cancel.out")"
echo "ok: hivectl job cancel of an ended job prints it unchanged"

# 7. an unknown job is NOT_FOUND: exit 10 + 5.
"$hivectl_bin" job get "$unknown" >"$dir/unknown.out" 2>"$dir/unknown.err"
rc=$?
[[ $rc -eq 15 ]] || fail "job get of an unknown job exited $rc, want 15: $(cat "$dir/unknown.err")"
grep -q '^hivectl: NOT_FOUND: ' "$dir/unknown.err" || fail "unexpected stderr: $(cat "$dir/unknown.err")"
echo "ok: hivectl job get of an unknown job exits 15"
