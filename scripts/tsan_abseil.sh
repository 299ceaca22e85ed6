#!/usr/bin/env bash
# Builds Debian's own Abseil (the installed libabsl20220623, same source, same
# patches, same options) with ThreadSanitizer into DIR/lib, for make test-tsan.
#
#   scripts/tsan_abseil.sh DIR
#
# Why: absl::Mutex is the lock under our code and under gRPC's (grpc_core::Mutex
# wraps it). Debian's libabsl is not instrumented, so TSan never sees those
# locks taken and reports every access they guard as a race. The instrumented
# libraries announce each lock and unlock to TSan; with DIR/lib on
# LD_LIBRARY_PATH both our binaries and libgrpc load them instead of
# /usr/lib's. The SONAMEs, options.h (inline namespace debian3, absl types
# not std aliases, hardened) come from Debian's patches, so the ABI is the
# installed headers' ABI.
#
# Idempotent: the downloads are checked against pinned SHA-256 sums and kept
# in DIR/download; a finished build leaves DIR/lib/.stamp and the next run
# does nothing.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 DIR   (e.g. build/tsan/absl)" >&2
  exit 2
fi
dir=$(realpath -m "$1")

version=20220623.1-1+deb12u2
installed=$(dpkg-query -W -f='${Version}' libabsl20220623 2>/dev/null || true)
if [ "$installed" != "$version" ]; then
  echo "tsan_abseil: this script builds libabsl20220623 $version, but the installed one is '${installed:-none}';" \
       "update version and the sums below to the installed package's" >&2
  exit 1
fi

stamp=$dir/lib/.stamp
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ]; then
  exit 0
fi

pool=http://deb.debian.org/debian/pool/main/a/abseil
# name sha256 (the .dsc's own sum pins the sums it lists for the other two)
files=(
  "abseil_$version.dsc ba731eaced569332fa4ce802a7ff2615ae57ac25beaf2d02f634ef908f2e62c2"
  "abseil_20220623.1.orig.tar.gz abfe2897f3a30edaa74bc34365afe3c2a3cd012091a97dc7e008f7016adcd5fe"
  "abseil_$version.debian.tar.xz e08490fc7b6f3beca1925953b0c4fb92df2de5e2a01295e4641e2a3d4e528eeb"
)
mkdir -p "$dir/download"
for entry in "${files[@]}"; do
  read -r name sum <<<"$entry"
  file=$dir/download/$name
  if [ ! -f "$file" ] || ! echo "$sum  $file" | sha256sum --check --quiet --status; then
    echo "tsan_abseil: downloading $pool/$name"
    curl -sSfL --retry 3 -o "$file.part" "$pool/$name"
    if ! echo "$sum  $file.part" | sha256sum --check --quiet --status; then
      echo "tsan_abseil: $name from $pool does not have the pinned SHA-256 $sum" >&2
      exit 1
    fi
    mv "$file.part" "$file"
  fi
done

# dpkg-source checks the tarballs against the .dsc and applies debian/patches
# (the .dsc's pinned sum stands in for its OpenPGP signature).
rm -rf "$dir/src"
dpkg-source --no-copy -x "$dir/download/abseil_$version.dsc" "$dir/src" >/dev/null

# debian/rules: the shared tree is configured with -DCMAKE_CXX_STANDARD=17
# -DBUILD_SHARED_LIBS=ON, through dh_auto_configure (build type None, flags
# from dpkg-buildflags with these maintainer options). Only -fsanitize=thread
# is added.
eval "$(DEB_BUILD_MAINT_OPTIONS='hardening=+bindnow reproducible=+fixfilepath' dpkg-buildflags --export=sh)"
tsan="-fsanitize=thread"
launcher=$(command -v ccache || true)
cmake -S "$dir/src" -B "$dir/build" -G Ninja \
  -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_CXX_STANDARD=17 -DBUILD_SHARED_LIBS=ON \
  -DCMAKE_CXX_FLAGS="$CPPFLAGS $CXXFLAGS $tsan" \
  -DCMAKE_SHARED_LINKER_FLAGS="$LDFLAGS $tsan" \
  -DCMAKE_INSTALL_PREFIX="$dir" -DCMAKE_INSTALL_LIBDIR=lib \
  ${launcher:+-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher"} \
  >/dev/null
cmake --build "$dir/build" -j "${JOBS:-$(nproc)}"
cmake --install "$dir/build" >/dev/null
echo "$version" >"$stamp"
echo "tsan_abseil: ThreadSanitizer Abseil $version in $dir/lib"
