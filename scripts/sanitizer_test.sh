#!/usr/bin/env bash
# Builds the whole tree with a sanitizer and runs the whole ctest suite under
# it (make test-asan, make test-tsan; docs/SECURITY.md, Sanitizers).
#
#   scripts/sanitizer_test.sh asan|tsan TREE [CTEST_ARG...]
#
#   asan   AddressSanitizer + LeakSanitizer + UndefinedBehaviorSanitizer
#   tsan   ThreadSanitizer, with Abseil and gRPC rebuilt under TSan (scripts/tsan_libs.sh)
#   TREE   the build directory (make uses $(BUILD_DIR)/asan, $(BUILD_DIR)/tsan)
#   CTEST_ARG  passed on to ctest, e.g. -L integration or -R Shutdown
#   JOBS   parallel compile jobs and tests (default: nproc)
#
# Every report fails: the options below stop a process at its first report
# with a non-zero status, the test binaries and every process they start
# (hivebridge, hive-device-sim, hivectl) inherit them, and the integration
# harness fails a test whose server logged a report. What is suppressed, and
# why it is not ours, is in tests/sanitizers/*.supp.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

if [ $# -lt 2 ]; then
  echo "usage: $0 asan|tsan TREE [CTEST_ARG...]" >&2
  exit 2
fi
kind=$1
tree=$(realpath -m "$2")
shift 2
case "$kind" in
  asan) sanitize=address,undefined ;;
  tsan) sanitize=thread ;;
  *) echo "sanitizer_test: unknown sanitizer build '$kind' (asan or tsan)" >&2; exit 2 ;;
esac
jobs=${JOBS:-$(nproc)}
supp=$repo/tests/sanitizers

export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$repo}
cmake -S . -B "$tree" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHIVE_SANITIZE="$sanitize" >/dev/null
cmake --build "$tree" -j "$jobs"

if [ "$kind" = tsan ]; then
  JOBS=$jobs bash scripts/tsan_libs.sh "$tree"
  export LD_LIBRARY_PATH=$tree/grpc/lib:$tree/absl/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  # Every copy must come from the TSan builds, or the uninstrumented one is
  # loaded after all: our binaries' libgrpc and libgrpc++, and the Abseil that
  # they and the libgrpc they load resolve.
  check_loads() {  # BINARY LIBRARY DIR
    if ! ldd "$1" | grep -q "$2.* => $3/"; then
      echo "sanitizer_test: $1 does not load $2 from $3:" >&2
      ldd "$1" | grep "$2" >&2
      exit 1
    fi
  }
  check_loads "$tree/server/hivebridge" 'libgrpc\.so' "$tree/grpc/lib"
  check_loads "$tree/server/hivebridge" 'libgrpc++\.so' "$tree/grpc/lib"
  for binary in "$tree/server/hivebridge" "$tree/grpc/lib/libgrpc.so.29"; do
    check_loads "$binary" libabsl_synchronization.so "$tree/absl/lib"
  done
fi

# halt_on_error: the first report ends the process with a non-zero status.
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1
export LSAN_OPTIONS=suppressions=$supp/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp
# history_size=7: the earlier access of a report keeps its stack under load, so
# the suppressions, which match frames, can tell whose it is.
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:history_size=7:suppressions=$supp/tsan.supp

# Left out, each for a reason that is the sanitizer's, not the test's:
# bench.smoke runs codec_bench, whose allocation counter (bench/alloc_counter.cc)
# replaces malloc, which the sanitizer's runtime must own (it crashed at
# once under ASan); helm.image compares the image's packages with
# hivebridge's NEEDED libraries, and a sanitized binary also needs the
# sanitizer's runtime library, which the image rightly does not ship;
# image.oci runs the image's hivebridge in a chroot of the image's files,
# where there is no /proc, which LeakSanitizer needs to stop the process's
# threads at exit ("Can't open /proc/PID/task", a fatal error);
# lint.clang_tidy runs none of the tree's code (it reads the same sources as
# make test's run of it, which stays the check) and would take a quarter of an
# hour of the two cores from the sanitized tests.
excluded=('^bench\.smoke$' '^helm\.image$' '^image\.oci$' '^lint\.clang_tidy$')
if [ "$kind" = asan ]; then
  # FdExhaustionTest runs the bridge out of descriptors on purpose. UBSan
  # needs descriptors to check a vtable (it probes the memory through a pipe)
  # and to symbolize, so it reports "invalid vptr ... memory cannot be
  # printed" on libstdc++'s error_code::message() and cannot honour a
  # suppression for it.
  excluded+=('^FdExhaustionTest\.')
fi
if [ "$kind" = tsan ]; then
  # sdk.python's client is Debian's python3-grpcio, whose libgrpc resolves
  # itself and Abseil through LD_LIBRARY_PATH to the TSan builds above, which
  # need libtsan, which cannot be loaded into a Python that did not start with it
  # ("cannot allocate memory in static TLS block"). The bridge it talks to is
  # the binary every integration test runs under TSan.
  excluded+=('^sdk\.python$')
fi
if [ ${#excluded[@]} -gt 0 ]; then
  echo "sanitizer_test: not run under $kind: ${excluded[*]} (reasons in $0)"
fi

# A sanitized process runs several times slower: the default timeout is
# raised (cases with their own TIMEOUT keep it).
cd "$tree"
ctest --output-on-failure -j "$jobs" --timeout 900 ${excluded:+-E "$(IFS='|'; echo "${excluded[*]}")"} "$@"
