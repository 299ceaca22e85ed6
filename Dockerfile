# hivebridge image: hivebridge and hivectl built on Debian bookworm from the
# build-only package list, run on bookworm-slim as a non-root user.
#   docker build -t hivebridge:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
# `make image` builds the same image without Docker (umoci, from the Release
# binaries) and names it hivebridge:<version>, the chart's default image.
# tests/helm/image.test.mjs checks this file against
# scripts/debian-packages-build.txt, the CMake files, the files the build of
# the two binaries reads, their shared libraries and `hivebridge --help`.

# ---- build: only what compiling the two binaries needs
# (scripts/debian-packages-build.txt, read with scripts/deps.sh's filter), and
# the project configured without its tests, benchmarks and Go example.
FROM debian:bookworm-slim AS build
COPY scripts/debian-packages-build.txt /src/scripts/debian-packages-build.txt
RUN apt-get update \
 && grep -v -e '^#' -e '^\s*$' /src/scripts/debian-packages-build.txt \
    | xargs env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/*
COPY . /src
WORKDIR /src
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHIVE_TESTS=OFF \
 && cmake --build build --target hivebridge hivectl \
 && strip --strip-debug -o /hivebridge build/server/hivebridge \
 && strip --strip-debug -o /hivectl build/clients/hivectl/hivectl

# ---- runtime: only the packages holding the shared libraries hivebridge and
# hivectl link (their DT_NEEDED entries, `objdump -p`):
#   libjwt.so.0                          libjwt0          (from libjwt-dev)
#   libgrpc++.so.1.51, _reflection       libgrpc++1.51    (from libgrpc++-dev)
#   libgpr.so.29                         libgrpc29        (from libgrpc++-dev)
#   libabsl_*.so.20220623                libabsl20220623  (from libabsl-dev)
#   libprotobuf.so.32                    libprotobuf32    (from libprotobuf-dev)
#   librabbitmq.so.4                     librabbitmq4     (from librabbitmq-dev)
#   libsqlite3.so.0                      libsqlite3-0     (from libsqlite3-dev)
#   libprometheus-cpp-core.so.1.0        libprometheus-cpp-core1.0 (from prometheus-cpp-dev)
#   libcpp-httplib.so.0.11               libcpp-httplib0.11 (from libcpp-httplib-dev)
#   libtcmalloc_minimal.so.4             libtcmalloc-minimal4
#   libssl.so.3, libcrypto.so.3          libssl3          (from libssl-dev)
#   libstdc++.so.6, libgcc_s.so.1        libstdc++6, libgcc-s1
#   libc.so.6, libm.so.6                 libc6
# apt brings their own dependencies (re2, c-ares, upb, zlib). ca-certificates:
# the trust store for amqps:// bus URLs and hivectl's TLS. websocketpp, asio,
# RapidJSON and CLI11 are header-only and need nothing at run time.
FROM debian:bookworm-slim
# VERSION: project(hivebridge VERSION …) in CMakeLists.txt, the chart's
# appVersion; REVISION: the commit built (git rev-parse HEAD); SOURCE_URL: the
# repository's address, by default Chart.yaml's home (a placeholder until the
# project has a public one); no licence is stated yet, hence NOASSERTION (as
# scripts/image.sh, which `make image` runs).
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE_URL=https://git.example.com/hivebridge/hivebridge
LABEL org.opencontainers.image.title="hivebridge" \
      org.opencontainers.image.description="gRPC ⇄ WebSocket bridge for IoT device fleets, with the hivectl client" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.url="${SOURCE_URL}" \
      org.opencontainers.image.licenses="NOASSERTION"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    ca-certificates \
    libabsl20220623 \
    libc6 \
    libcpp-httplib0.11 \
    libgcc-s1 \
    libgrpc++1.51 \
    libgrpc29 \
    libjwt0 \
    libprometheus-cpp-core1.0 \
    libprotobuf32 \
    librabbitmq4 \
    libsqlite3-0 \
    libssl3 \
    libtcmalloc-minimal4 \
    libstdc++6 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 hivebridge \
 && useradd --system --uid 10001 --gid hivebridge --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin hivebridge
COPY --from=build /hivebridge /usr/local/bin/hivebridge
# hivectl, the backend-side client: `kubectl exec deploy/hivebridge -- hivectl …`.
COPY --from=build /hivectl /usr/local/bin/hivectl
USER 10001:10001
# 8080: device WebSocket, /healthz, /readyz, /metrics. 9090: gRPC.
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/hivebridge"]
# The key (--jwt-secret-file or --jwt-public-key-file, or their HIVEBRIDGE_*
# variables) comes from the deployment; the Helm chart replaces these args.
CMD ["--ws-listen=0.0.0.0:8080", "--grpc-listen=0.0.0.0:9090"]
