#!/usr/bin/env bash
# The SDKs' committed generated code (clients/go/gen, clients/python/src/hive,
# clients/node/src/gen) is exactly what `buf generate` (buf.gen.yaml) makes of
# proto/ now: regenerates into a scratch directory and fails on any file that
# differs, is missing, or is left over from a removed .proto. Fix with
# `buf generate` from the repo root, then commit.
#
#   tests/sdk/generated_code_fresh.sh        (BUF: the pinned buf, default node_modules/.bin/buf)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
BUF="${BUF:-$root/node_modules/.bin/buf}"
ts_plugin=clients/node/node_modules/.bin/protoc-gen-ts_proto
for f in "$BUF" "$ts_plugin"; do
  [ -x "$f" ] || { echo "FAIL: not executable: $f (run \`make deps\`)" >&2; exit 1; }
done

scratch="$(mktemp -d "${TMPDIR:-/tmp}/hive-gen.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
"$BUF" generate --template buf.gen.yaml --output "$scratch"

# Every generated file of each tree, as paths relative to the repo root.
generated_in() {
  (cd "$1" && find clients/go/gen clients/python/src/hive clients/node/src/gen -type f \
     \( -name '*.pb.go' -o -name '*_pb2.py' -o -name '*_pb2.pyi' -o -name '*_pb2_grpc.py' \
        -o -name '*.ts' \) 2>/dev/null | sort)
}
fresh="$(generated_in "$scratch")"
committed="$(generated_in "$root")"
[ -n "$fresh" ] || { echo "FAIL: buf generate wrote nothing" >&2; exit 1; }

status=0
if [ "$fresh" != "$committed" ]; then
  echo "FAIL: the committed generated files are not the ones buf generate makes:" >&2
  diff <(echo "$committed") <(echo "$fresh") | sed -n 's/^</  committed only:/p; s/^>/  generated only:/p' >&2  || true
  status=1
fi
while read -r f; do
  if [ -f "$root/$f" ] && ! cmp -s "$scratch/$f" "$root/$f"; then
    echo "FAIL: $f is stale:" >&2
    diff -u "$root/$f" "$scratch/$f" | head -20 >&2 || true
    status=1
  fi
done <<<"$fresh"
[ $status -eq 0 ] && echo "PASS: $(wc -l <<<"$fresh") generated files match proto/"
exit $status
