#!/usr/bin/env bash
# Builds Debian's own Abseil and gRPC (the installed packages' source, patches
# and options) with ThreadSanitizer, for make test-tsan:
#
#   scripts/tsan_libs.sh DIR     ->  DIR/absl/lib, DIR/grpc/lib
#
# Why: TSan sees only what is instrumented. absl::Mutex is the lock under our
# code and under gRPC's (grpc_core::Mutex wraps it); gRPC's own atomics and
# reference counts order what its threads hand each other: a call's end on
# its executor against a completion tag read on a poller thread. Debian's
# libraries are not instrumented, so TSan never sees those orders and reports
# every access they guard as a race. With DIR/grpc/lib and DIR/absl/lib on
# LD_LIBRARY_PATH, our binaries load the instrumented copies instead of
# /usr/lib's, and the instrumented libgrpc loads the instrumented Abseil.
# The SONAMEs and the ABI are the installed headers': the same source, the
# same Debian patches, the same CMake options (Abseil's options.h pins its
# inline namespace and its non-std types), only -fsanitize=thread added.
#
# Idempotent: downloads are checked against pinned SHA-256 sums and kept in
# DIR/download; a finished library leaves DIR/NAME/lib/.stamp with its
# version, and the next run skips it.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 DIR   (e.g. build/tsan)" >&2
  exit 2
fi
dir=$(realpath -m "$1")
jobs=${JOBS:-$(nproc)}
tsan="-fsanitize=thread"
launcher=$(command -v ccache || true)

# The flags Debian's packages were built with (dh_auto_configure: build type
# None, dpkg-buildflags with these maintainer options).
eval "$(DEB_BUILD_MAINT_OPTIONS='hardening=+bindnow reproducible=+fixfilepath' dpkg-buildflags --export=sh)"

# check_installed PACKAGE VERSION: the build below is that package's source.
check_installed() {
  local installed
  installed=$(dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true)
  if [ "$installed" != "$2" ]; then
    echo "tsan_libs: this script builds $1 $2, but the installed one is '${installed:-none}';" \
         "update the version and the sums below to the installed package's" >&2
    exit 1
  fi
}

# needs_build PACKAGE VERSION OUT: whether OUT/lib lacks this build of the
# installed PACKAGE (which must be VERSION).
needs_build() {
  check_installed "$1" "$2"
  [ "$(cat "$3/lib/.stamp" 2>/dev/null)" != "$2" ]
}

# built OUT VERSION WHAT: marks OUT/lib as holding VERSION.
built() {
  echo "$2" >"$1/lib/.stamp"
  echo "tsan_libs: ThreadSanitizer $3 $2 in $1/lib"
}

# unpack POOL SRCDIR "NAME SHA256"...: downloads the source package's files
# (the .dsc first), checks each against its pinned sum, and unpacks it with
# Debian's patches applied into SRCDIR. dpkg-source checks the tarballs
# against the .dsc, whose pinned sum stands in for its OpenPGP signature.
unpack() {
  local pool=$1 src=$2 entry name sum file
  shift 2
  mkdir -p "$dir/download"
  for entry in "$@"; do
    read -r name sum <<<"$entry"
    file=$dir/download/$name
    if [ ! -f "$file" ] || ! echo "$sum  $file" | sha256sum --check --quiet --status; then
      echo "tsan_libs: downloading $pool/$name"
      curl -sSfL --retry 3 -o "$file.part" "$pool/$name"
      if ! echo "$sum  $file.part" | sha256sum --check --quiet --status; then
        echo "tsan_libs: $name from $pool does not have the pinned SHA-256 $sum" >&2
        exit 1
      fi
      mv "$file.part" "$file"
    fi
  done
  read -r name _ <<<"$1"
  rm -rf "$src"
  mkdir -p "$(dirname "$src")"
  dpkg-source --no-copy -x "$dir/download/$name" "$src" >/dev/null
}

# configure SRC BUILD CMAKE_ARG...: Debian's flags plus TSan, shared libraries.
configure() {
  local src=$1 build=$2
  shift 2
  cmake -S "$src" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=None -DBUILD_SHARED_LIBS=ON \
    -DCMAKE_C_FLAGS="$CPPFLAGS $CFLAGS $tsan" \
    -DCMAKE_CXX_FLAGS="$CPPFLAGS $CXXFLAGS $tsan" \
    -DCMAKE_SHARED_LINKER_FLAGS="$LDFLAGS $tsan" \
    ${launcher:+-DCMAKE_C_COMPILER_LAUNCHER="$launcher" -DCMAKE_CXX_COMPILER_LAUNCHER="$launcher"} \
    "$@" >/dev/null
}

build_abseil() {
  local version=20220623.1-1+deb12u2 out=$dir/absl
  needs_build libabsl20220623 "$version" "$out" || return 0
  unpack http://deb.debian.org/debian/pool/main/a/abseil "$out/src" \
    "abseil_$version.dsc ba731eaced569332fa4ce802a7ff2615ae57ac25beaf2d02f634ef908f2e62c2" \
    "abseil_20220623.1.orig.tar.gz abfe2897f3a30edaa74bc34365afe3c2a3cd012091a97dc7e008f7016adcd5fe" \
    "abseil_$version.debian.tar.xz e08490fc7b6f3beca1925953b0c4fb92df2de5e2a01295e4641e2a3d4e528eeb"
  # debian/rules: the shared tree is configured with -DCMAKE_CXX_STANDARD=17.
  configure "$out/src" "$out/build" -DCMAKE_CXX_STANDARD=17 \
    -DCMAKE_INSTALL_PREFIX="$out" -DCMAKE_INSTALL_LIBDIR=lib
  cmake --build "$out/build" -j "$jobs"
  cmake --install "$out/build" >/dev/null
  built "$out" "$version" Abseil
}

build_grpc() {
  # The binary package is 1.51.1-3+b1, a rebuild of source 1.51.1-3.
  local version=1.51.1-3+b1 source=1.51.1-3 out=$dir/grpc
  needs_build libgrpc29 "$version" "$out" || return 0
  unpack http://deb.debian.org/debian/pool/main/g/grpc "$out/src" \
    "grpc_$source.dsc b402e403c08b74110390391bd384704c8018db88e8ae5277dc8c864e060720a0" \
    "grpc_1.51.1.orig.tar.gz b55696fb249669744de3e71acc54a9382bea0dce7cd5ba379b356b12b82d4229" \
    "grpc_$source.debian.tar.xz 767b69da166bae708a54c4740056d9e847d57d89885173016bfc57ebbf154b2d"
  # debian/rules' shared tree, less its tests and code generators (this tree
  # links none of them). No build RPATH: LD_LIBRARY_PATH picks every library.
  # grpc_plugin_support is declared even with codegen off, and CMake refuses
  # a NOTFOUND library; it is never built, so libprotoc's runtime file (the
  # -dev package is not installed) stands in.
  configure "$out/src" "$out/build" -DCMAKE_SKIP_BUILD_RPATH=ON \
    -DProtobuf_PROTOC_LIBRARY=/usr/lib/x86_64-linux-gnu/libprotoc.so.32 \
    -DgRPC_ABSL_PROVIDER=package -DgRPC_CARES_PROVIDER=package \
    -DgRPC_PROTOBUF_PROVIDER=package -DgRPC_RE2_PROVIDER=package \
    -DgRPC_SSL_PROVIDER=package -DgRPC_ZLIB_PROVIDER=package \
    -DgRPC_BENCHMARK_PROVIDER=none -DgRPC_BUILD_TESTS=OFF \
    -DgRPC_BACKWARDS_COMPATIBILITY_MODE=OFF -DgRPC_BUILD_CODEGEN=OFF
  # libgrpc++ and what it needs (libgrpc, libgpr, libupb, libaddress_sorting):
  # every thread and lock of a call is in these. libgrpc++_reflection, which
  # the bridge also loads, stays Debian's: it is a service built on libgrpc++
  # (it loads the instrumented one), and building it would need codegen.
  cmake --build "$out/build" -j "$jobs" --target grpc++
  mkdir -p "$out/lib"
  find "$out/build" -maxdepth 1 -name 'lib*.so.*' -exec cp -P {} "$out/lib/" \;
  built "$out" "$version" gRPC
}

build_abseil
build_grpc
