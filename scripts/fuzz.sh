#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang-14, ASan + UBSan) into
# build/fuzz, then runs each for FUZZ_SECONDS and prints one line per target
# with its total executions. Exits non-zero when any target crashed, leaked,
# timed out, ran out of memory or tripped a sanitizer; the reproducer's path
# and the command that replays it are in the output. See fuzz/README.md.
#
#   scripts/fuzz.sh [--build-only | --no-build] [--build-dir DIR] [TARGET...]
#
#   TARGET         device_frame, device_request, bearer_auth, jwt_claims,
#                  device_session (default: all)
#   FUZZ_SECONDS   seconds per target (default 120)
#   FUZZ_SEED      libFuzzer's random seed (default: a new one each run);
#                  make test fixes it, so that every run walks the same
#                  mutations and a red test is a regression, not a new find
#   FUZZ_CXX       the clang++ to build with (default clang++-14)
#   JOBS           parallel compile jobs (default: nproc)
#
# Each run starts from the seed corpus alone: the seeds in DIR/seeds/<target>/
# are copied into a fresh temporary corpus directory, which libFuzzer grows
# during the run and which is removed afterwards, so a run depends only on
# the seeds, the binary and FUZZ_SEED (no inputs left by earlier runs).
# Findings (crash, leak, timeout, OOM reproducers) are kept in
# DIR/artifacts/<target>/, which the failure message names; the log is
# DIR/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

build=1
run=1
fuzz_dir=build/fuzz
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-only) run=0 ;;
    --no-build) build=0 ;;
    --build-dir) fuzz_dir=$2; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
if [ ${#targets[@]} -eq 0 ]; then
  for source in fuzz/*_fuzzer.cc; do
    name=$(basename "$source" _fuzzer.cc)
    targets+=("$name")
  done
fi
seconds=${FUZZ_SECONDS:-120}

if [ "$build" = 1 ]; then
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$repo}
  if [ ! -f "$fuzz_dir/build.ninja" ]; then
    cmake -S fuzz -B "$fuzz_dir" -G Ninja -DCMAKE_CXX_COMPILER="${FUZZ_CXX:-clang++-14}" >/dev/null
  fi
  cmake --build "$fuzz_dir" -j "${JOBS:-$(nproc)}"
fi
[ "$run" = 1 ] || exit 0

# Every sanitizer report ends the run with an error, leaks included.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# The fresh corpus directories of this run, removed however it ends.
scratch=()
cleanup() { [ ${#scratch[@]} -eq 0 ] || rm -rf "${scratch[@]}"; }
trap cleanup EXIT

# A line of libFuzzer's -print_final_stats=1 report.
final_stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }

failed=0
summary=()
for target in "${targets[@]}"; do
  binary=$fuzz_dir/${target}_fuzzer
  if [ ! -x "$binary" ]; then
    echo "fuzz: $binary is not built (run scripts/fuzz.sh --build-only)" >&2
    exit 2
  fi
  seeds=$fuzz_dir/seeds/$target
  if [ ! -d "$seeds" ]; then
    echo "fuzz: no seed corpus $seeds (run scripts/fuzz.sh --build-only)" >&2
    exit 2
  fi
  artifacts=$fuzz_dir/artifacts/$target
  log=$fuzz_dir/logs/$target.log
  mkdir -p "$artifacts" "$(dirname "$log")"
  corpus=$(mktemp -d "${TMPDIR:-/tmp}/hive-fuzz-corpus.$target.XXXXXX")
  scratch+=("$corpus")
  cp -R "$seeds/." "$corpus/"
  seed_inputs=$(find "$corpus" -type f | wc -l)
  options=(-max_total_time="$seconds" -print_final_stats=1 -timeout=25 -rss_limit_mb=2048
           -artifact_prefix="$artifacts/")
  [ -f "fuzz/$target.dict" ] && options+=(-dict="fuzz/$target.dict")
  [ -n "${FUZZ_SEED:-}" ] && options+=(-seed="$FUZZ_SEED")

  echo "fuzz: $target for ${seconds}s from $seed_inputs seeds in a fresh corpus $corpus (log: $log)"
  status=0
  "$binary" "${options[@]}" "$corpus" >"$log" 2>&1 || status=$?

  execs=$(final_stat number_of_executed_units)
  rate=$(final_stat average_exec_per_sec)
  inputs=$(find "$corpus" -type f | wc -l)
  reproducer=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
  report=$(grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|==== fuzz check failed|ALARM: working on the last Unit|out-of-memory' "$log" || true)
  if [ "$status" -ne 0 ] || [ -n "$report" ] || [ -n "$reproducer" ]; then
    failed=1
    verdict="FAILED (exit $status)"
    echo "---- $target: last lines of $log"
    tail -n 60 "$log"
    echo "----"
    echo "fuzz: $target findings are kept in $artifacts/"
    [ -n "$reproducer" ] && echo "fuzz: $target reproducer: $reproducer" \
      && echo "fuzz: replay it with: $binary $reproducer"
  else
    verdict=ok
  fi
  summary+=("$(printf 'fuzz: %-15s %12s execs  %7s exec/s  %6s seeds -> %6s corpus inputs  %s' \
    "$target" "${execs:-?}" "${rate:-?}" "$seed_inputs" "$inputs" "$verdict")")
  rm -rf "$corpus"
done

printf '%s\n' "${summary[@]}"
exit "$failed"
