#!/usr/bin/env bash
# Runs one backend example against a private hivebridge with one simulated
# device: appends `--server 127.0.0.1:PORT --device ID` to the given command,
# and passes when it exits 0 and prints `example ok`. Bounded by 60 s.
#
#   tests/examples/run_against_bridge.sh /usr/bin/python3 clients/examples/python/backend_example.py
set -uo pipefail

if [ -z "${HIVE_EXAMPLES_BOUNDED:-}" ]; then
  export HIVE_EXAMPLES_BOUNDED=1
  exec timeout --kill-after=5 60 "$0" "$@"
fi
[ $# -ge 1 ] || { echo "usage: $0 <command...>" >&2; exit 2; }

. "$(dirname "${BASH_SOURCE[0]}")/bridge_fixture.sh"
bridge_start || exit 1

out="$BRIDGE_TMP/example.out"
# The example is the client, not what is under test: make test-tsan points
# LD_LIBRARY_PATH at its TSan-built Abseil for the bridge, which Python's grpc
# module cannot load (libtsan needs the static TLS of a process it starts).
env -u LD_LIBRARY_PATH "$@" --server "127.0.0.1:$BRIDGE_GRPC_PORT" --device "$BRIDGE_DEVICE_ID" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
  echo "FAIL: example exited $rc" >&2; bridge_dump_logs; exit 1
fi
if ! grep -qx 'example ok' "$out"; then
  echo "FAIL: example did not print 'example ok'" >&2; bridge_dump_logs; exit 1
fi
echo "PASS: $*"
