# hivebridge image: built on Debian bookworm from the same package list as
# `make deps`, run on bookworm-slim as a non-root user.
#   docker build -t hivebridge:0.1.0 .
# tests/helm/image.test.mjs checks this file against scripts/debian-packages.txt,
# the binary's shared libraries and `hivebridge --help`.

# ---- build: exactly the packages `make deps` installs (scripts/deps.sh reads
# the same file with the same filter), then the hivebridge target only.
FROM debian:bookworm-slim AS build
COPY scripts/debian-packages.txt /src/scripts/debian-packages.txt
RUN apt-get update \
 && grep -v -e '^#' -e '^\s*$' /src/scripts/debian-packages.txt \
    | xargs env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/*
COPY . /src
WORKDIR /src
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && cmake --build build --target hivebridge \
 && strip --strip-debug -o /hivebridge build/server/hivebridge

# ---- runtime: only the packages holding the shared libraries hivebridge links
# (its DT_NEEDED entries, `objdump -p build/server/hivebridge`):
#   libjwt.so.0                          libjwt0          (from libjwt-dev)
#   libgrpc++.so.1.51, _reflection       libgrpc++1.51    (from libgrpc++-dev)
#   libgpr.so.29                         libgrpc29        (from libgrpc++-dev)
#   libabsl_*.so.20220623                libabsl20220623  (from libabsl-dev)
#   libprotobuf.so.32                    libprotobuf32    (from libprotobuf-dev)
#   librabbitmq.so.4                     librabbitmq4     (from librabbitmq-dev)
#   libtcmalloc_minimal.so.4             libtcmalloc-minimal4
#   libssl.so.3, libcrypto.so.3          libssl3          (from libssl-dev)
#   libstdc++.so.6, libgcc_s.so.1        libstdc++6, libgcc-s1
#   libc.so.6, libm.so.6                 libc6
# apt brings their own dependencies (re2, c-ares, upb, zlib). ca-certificates:
# the trust store for amqps:// bus URLs. websocketpp, asio and RapidJSON are
# header-only and need nothing at run time.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    ca-certificates \
    libabsl20220623 \
    libc6 \
    libgcc-s1 \
    libgrpc++1.51 \
    libgrpc29 \
    libjwt0 \
    libprotobuf32 \
    librabbitmq4 \
    libssl3 \
    libtcmalloc-minimal4 \
    libstdc++6 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 hivebridge \
 && useradd --system --uid 10001 --gid hivebridge --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin hivebridge
COPY --from=build /hivebridge /usr/local/bin/hivebridge
USER 10001:10001
# 8080: device WebSocket, /healthz, /readyz, /metrics. 9090: gRPC.
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/hivebridge"]
# The key (--jwt-secret-file or --jwt-public-key-file, or their HIVEBRIDGE_*
# variables) comes from the deployment; the Helm chart replaces these args.
CMD ["--ws-listen=0.0.0.0:8080", "--grpc-listen=0.0.0.0:9090"]
