#!/usr/bin/env bash
# `make run`: the server issue wires the bridge and a simulated device here.
set -euo pipefail
echo "hivebridge: the server is not built yet (see issue 'The bridge server end to end')." >&2
exit 1
