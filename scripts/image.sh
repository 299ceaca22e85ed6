#!/usr/bin/env bash
# Builds hivebridge's container image without Docker: an OCI image whose one
# layer holds the two binaries (stripped), exactly the shared libraries they
# load (ldd, the dynamic loader included) at their real paths with the host's
# symlinks beside them, the CA trust store, a non-root user 10001 and a
# writable /tmp. umoci writes the OCI layout, skopeo turns it into an OCI
# archive that `skopeo copy oci-archive:… docker://…` pushes.
#
#   scripts/image.sh [--out DIR] [--tag NAME:TAG] [--source URL] [--licenses SPDX] HIVEBRIDGE HIVECTL
#
# Writes DIR/oci (OCI layout) and DIR/hivebridge-<version>.oci.tar, each with
# the ref hivebridge:<version> unless --tag (default DIR: build/image). The version is
# CMakeLists.txt's project(VERSION), the revision `git rev-parse HEAD`. Layer
# mtimes and the created dates are SOURCE_DATE_EPOCH, by default the commit
# time of HEAD, so two builds of one commit from the same binaries give the
# same image (manifest digest); only the archive's own tar headers differ. `make image` builds Release binaries and calls this;
# tests/image/image_test.py calls it with the test tree's binaries. The
# repository states no licence yet: org.opencontainers.image.licenses is
# NOASSERTION, and .source is the chart's `home` (helm/hivebridge/Chart.yaml,
# also the Dockerfile's SOURCE_URL), unless --licenses / --source (or
# HIVE_IMAGE_LICENSES / HIVE_IMAGE_SOURCE) say. Never the clone's remote: that
# may be a path on the building machine.
set -euo pipefail
umask 022
source_dir=$(cd "$(dirname "$0")/.." && pwd)

out=build/image
tag=""
source_url=${HIVE_IMAGE_SOURCE:-}
licenses=${HIVE_IMAGE_LICENSES:-NOASSERTION}
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --source) source_url=$2; shift 2 ;;
    --licenses) licenses=$2; shift 2 ;;
    -h|--help) usage ;;
    --*) echo "image: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || usage
hivebridge_bin=$1
hivectl_bin=$2
for b in "$hivebridge_bin" "$hivectl_bin"; do
  [ -x "$b" ] || { echo "image: $b: not an executable" >&2; exit 1; }
done
for tool in umoci skopeo ldd strip; do
  command -v "$tool" >/dev/null || { echo "image: $tool not found (make deps installs it)" >&2; exit 1; }
done

# --- metadata ---------------------------------------------------------------
version=$(sed -n 's/^project(hivebridge VERSION \([0-9][0-9.]*\).*/\1/p' "$source_dir/CMakeLists.txt")
[ -n "$version" ] || { echo "image: no project(hivebridge VERSION …) in CMakeLists.txt" >&2; exit 1; }
tag=${tag:-hivebridge:$version}
revision=$(git -C "$source_dir" rev-parse HEAD 2>/dev/null || echo unknown)
[ -n "$source_url" ] || source_url=$(sed -n 's/^home: *//p' "$source_dir/helm/hivebridge/Chart.yaml")
[ -n "$source_url" ] || { echo "image: no home: in helm/hivebridge/Chart.yaml" >&2; exit 1; }
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$source_dir" log -1 --format=%ct 2>/dev/null || date +%s)
fi
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
case $(uname -m) in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) arch=$(uname -m) ;;
esac
# Matches the Dockerfile: the binary's path, its user and ports, its default args.
entrypoint=/usr/local/bin/hivebridge
uid=10001

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
mkdir -p "$rootfs"

# --- root filesystem --------------------------------------------------------
# copy_paths ROOTFS PATH...: each file at its real path under ROOTFS, and every
# symlink on the way to it, directories (bookworm's /lib -> usr/lib) and files
# (libfoo.so.1 -> libfoo.so.1.2.3) alike, recreated as relative links. One
# Python process: hundreds of realpath calls in bash crawl on a loaded machine.
copy_paths() {
  /usr/bin/python3 - "$@" <<'EOF'
import os, shutil, sys
root, paths = sys.argv[1], sys.argv[2:]

def link(entry, target):
    """Recreates the host symlink `entry` (absolute path) under root; returns its target."""
    parent = os.path.dirname(entry)
    resolved = os.path.normpath(os.path.join(parent, target))
    dst = root + entry
    if not os.path.islink(dst):
        os.symlink(os.path.relpath(resolved, parent), dst)
    return resolved

def place(path):
    """Recreates `path` under root: its directories, symlinks and final file."""
    cur = "/"
    parts = [p for p in path.split("/") if p]
    for i, comp in enumerate(parts):
        entry = os.path.join(os.path.realpath(cur), comp)
        if os.path.islink(entry):
            resolved = link(entry, os.readlink(entry))
            rest = parts[i + 1:]
            place(os.path.join(resolved, *rest) if rest else resolved)
            return
        if i == len(parts) - 1:
            if not os.path.exists(root + entry):
                shutil.copy(entry, root + entry)  # content and mode
        else:
            os.makedirs(root + entry, exist_ok=True)
        cur = entry

for p in paths:
    place(p)
EOF
}

# The binaries, stripped, where the Dockerfile puts hivebridge.
mkdir -p "$rootfs/usr/local/bin"
strip -o "$rootfs/usr/local/bin/hivebridge" "$hivebridge_bin"
strip -o "$rootfs/usr/local/bin/hivectl" "$hivectl_bin"
chmod 0755 "$rootfs/usr/local/bin/hivebridge" "$rootfs/usr/local/bin/hivectl"

# Exactly the libraries the loader maps for them: "name => /path (addr)" and
# the loader's own "/path (addr)"; the vDSO has no file.
mapfile -t libs < <(
  for b in "$hivebridge_bin" "$hivectl_bin"; do
    env -u LD_LIBRARY_PATH -u LD_PRELOAD ldd "$b"
  done | awk '
    /not found/ { print "MISSING " $1; next }
    $2 == "=>" && $3 ~ /^\// { print $3; next }
    $1 ~ /^\// { print $1 }' | sort -u)
for lib in "${libs[@]}"; do
  case $lib in MISSING*) echo "image: ldd: ${lib#MISSING } not found" >&2; exit 1 ;; esac
done
# The loader named in PT_INTERP must be there even if ldd printed another alias.
interp=$(readelf -l "$hivebridge_bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
# and the CA trust store (amqps:// bus URLs, gRPC's system roots).
copy_paths "$rootfs" "${libs[@]}" $interp /etc/ssl/certs/ca-certificates.crt

# The non-root user the Helm chart's securityContext runs as.
mkdir -p "$rootfs/etc"
cat > "$rootfs/etc/passwd" <<EOF
root:x:0:0:root:/root:/usr/sbin/nologin
hivebridge:x:$uid:$uid:hivebridge:/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat > "$rootfs/etc/group" <<EOF
root:x:0:
hivebridge:x:$uid:
nogroup:x:65534:
EOF
# glibc 2.36 has the files and dns modules built in; say which to use.
cat > "$rootfs/etc/nsswitch.conf" <<EOF
passwd: files
group: files
shadow: files
hosts: files dns
EOF
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group" "$rootfs/etc/nsswitch.conf"
mkdir -p "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"

# Fixed mtimes: the layer's bytes depend on the inputs only.
find "$rootfs" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

# --- OCI layout and archive -------------------------------------------------
rootless=()
[ "$(id -u)" -eq 0 ] || rootless=(--rootless)
layout=$out/oci
rm -rf "$layout"
umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci insert "${rootless[@]}" --image "$layout:$tag" \
  --history.created "$created" --history.created_by "scripts/image.sh" \
  --history.comment "hivebridge, hivectl, their shared libraries, CA certificates, user $uid" \
  "$rootfs" /
umoci config --image "$layout:$tag" \
  --created "$created" --author "hivebridge" \
  --os linux --architecture "$arch" \
  --config.user "$uid:$uid" \
  --config.entrypoint "$entrypoint" \
  --config.cmd=--ws-listen=0.0.0.0:8080 --config.cmd=--grpc-listen=0.0.0.0:9090 \
  --config.exposedports 8080/tcp --config.exposedports 9090/tcp \
  --config.workingdir / \
  --config.env PATH=/usr/local/bin:/usr/bin:/bin \
  --config.label org.opencontainers.image.title=hivebridge \
  --config.label "org.opencontainers.image.description=gRPC to WebSocket bridge for IoT devices (hivebridge, hivectl)" \
  --config.label "org.opencontainers.image.version=$version" \
  --config.label "org.opencontainers.image.revision=$revision" \
  --config.label "org.opencontainers.image.source=$source_url" \
  --config.label "org.opencontainers.image.licenses=$licenses" \
  --config.label "org.opencontainers.image.created=$created" \
  --history.created "$created" --history.created_by "scripts/image.sh" \
  --history.comment "entrypoint $entrypoint, user $uid:$uid, ports 8080 9090"
umoci gc --layout "$layout"

archive=$out/hivebridge-$version.oci.tar
rm -f "$archive"
skopeo --insecure-policy copy --quiet "oci:$layout:$tag" "oci-archive:$archive:$tag"

echo "image: $layout (ref $tag) and $archive"
echo "image: push with  skopeo copy oci-archive:$archive docker://<registry>/$tag"
