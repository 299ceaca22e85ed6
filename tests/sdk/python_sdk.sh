#!/usr/bin/env bash
# The Python SDK as a user gets it: builds the hivebridge-client wheel from
# clients/python offline (Debian's setuptools, no build isolation), installs
# it into a clean venv that sees Debian's grpcio and protobuf
# (--system-site-packages), checks its dependencies are met, then runs its
# unit tests and its end-to-end tests (under bridge_harness.py: real bridges
# and a simulated device) against the installed package, not the source tree.
#
#   tests/sdk/python_sdk.sh HIVEBRIDGE_BIN DEVICE_SIM_BIN
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 HIVEBRIDGE_BIN DEVICE_SIM_BIN" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
sdk="$here/../../clients/python"
python=/usr/bin/python3

# The slow-subscriber tests' bridge: a queue of 8 events per subscriber, and
# no per-device event rate, so that a device's burst of 2,000 overflows it.
slow_bridge="--subscriber-queue=8 --device-event-rate=0"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/hive-pysdk.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
# Build from a copy: an in-tree build would leave build/ and *.egg-info behind.
cp -r "$sdk" "$scratch/src"
rm -rf "$scratch/src/tests"
"$python" -m pip wheel --quiet --no-build-isolation --no-deps --no-index -w "$scratch/dist" "$scratch/src"
wheel="$(ls "$scratch"/dist/hivebridge_client-*.whl)"
echo "built $(basename "$wheel")"

# --without-pip: Debian's pip installs into the venv (--python), which spares
# the venv its own copy of pip (ensurepip: the slowest step by far).
"$python" -m venv --without-pip --system-site-packages "$scratch/venv"
"$python" -m pip --python "$scratch/venv/bin/python" install --quiet --no-index --no-deps "$wheel"
# The wheel's declared dependencies (grpcio, protobuf) are met by Debian's.
if "$python" -m pip --python "$scratch/venv/bin/python" check | grep -i hivebridge; then
  echo "FAIL: hivebridge-client's dependencies are not met" >&2; exit 1
fi
cp -r "$sdk/tests" "$scratch/tests"
cd "$scratch/tests"
"$scratch/venv/bin/python" - <<'PY'
import hivebridge_client, hive.bridge.v1.device_bridge_pb2 as api, sys
for module in (hivebridge_client, api):
    assert module.__file__.startswith(sys.prefix), "%s not from the venv: %s" % (module.__name__, module.__file__)
print("installed hivebridge-client %s in %s" % (hivebridge_client.__version__, sys.prefix))
PY
"$scratch/venv/bin/python" -m unittest test_unit
"$scratch/venv/bin/python" "$here/bridge_harness.py" --hivebridge "$1" --device-sim "$2" \
  --extra-bridge-flags "$slow_bridge" -- \
  "$scratch/venv/bin/python" -m unittest -v test_e2e
