# hivebridge — the two commands are `make run` and `make test`; each does all
# of its own set-up on a fresh Debian bookworm machine.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: deps configure build test run clean lint-proto bench bench-smoke fuzz soak test-asan test-tsan

deps:
	@bash scripts/deps.sh

$(BUILD_DIR)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 300

# Loopback only unless asked (the gRPC port has no authentication in make run):
# `make run RUN_HOST=0.0.0.0` listens on every interface.
RUN_HOST ?= 127.0.0.1
run: build
	@RUN_HOST=$(RUN_HOST) bash scripts/run.sh $(BUILD_DIR)

# libFuzzer targets (fuzz/README.md), FUZZ_SECONDS each; fails on any finding.
FUZZ_SECONDS ?= 120
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) bash scripts/fuzz.sh --build-dir $(BUILD_DIR)/fuzz

# The benchmarks behind issue #18's targets, optimised, in their own tree inside $(BUILD_DIR):
# writes bench/results.json and docs/PERFORMANCE.md (about 20 minutes).
BENCH_DIR ?= $(BUILD_DIR)/bench
BENCH_TARGETS = hivebridge hive-device-sim hive-loadgen codec_bench correlator_bench grpc_echo_server ws_echo_server

bench: deps
	cmake -S . -B $(BENCH_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BENCH_DIR) -j $(JOBS) --target $(BENCH_TARGETS)
	bash scripts/bench.sh --build-dir $(BENCH_DIR)

# Every benchmark, briefly, from the test build (ctest runs it as bench.smoke).
bench-smoke: build
	bash scripts/bench.sh --smoke --build-dir $(BUILD_DIR)

# Issue #9: the whole ctest suite under ASan + UBSan, and under TSan (with
# Abseil rebuilt under TSan), each in its own tree inside $(BUILD_DIR); any
# sanitizer report fails (docs/SECURITY.md, Sanitizers).
test-asan: deps
	JOBS=$(JOBS) bash scripts/sanitizer_test.sh asan $(BUILD_DIR)/asan

test-tsan: deps
	JOBS=$(JOBS) bash scripts/sanitizer_test.sh tsan $(BUILD_DIR)/tsan

# Issue #9's soak: steady requests, events, subscribers and device churn for
# SOAK_SECONDS; fails when memory keeps growing after the warm-up, or anything
# is lost, runs twice or dies. Report in $(BUILD_DIR)/soak/report.md. (make
# test runs it for 30 s as soak.short.)
SOAK_SECONDS ?= 300
soak: build
	/usr/bin/python3 scripts/soak.py --seconds $(SOAK_SECONDS) --build-dir $(BUILD_DIR)

# clang-format and clang-tidy over the project's own C++ (scripts/lint.sh;
# .clang-format, .clang-tidy); every finding fails. make test runs the format
# check and clang-tidy over the shipped code (tests/lint/CMakeLists.txt says
# why not over the tests too); make lint checks every translation unit.
.PHONY: lint
lint: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target hive_api
	JOBS=$(JOBS) bash scripts/lint.sh --build-dir $(BUILD_DIR)

lint-proto: deps
	node_modules/.bin/buf lint

clean:
	rm -rf $(BUILD_DIR)

# The container image without Docker (README, Container image): Release
# hivebridge and hivectl in $(BUILD_DIR)/release, then scripts/image.sh writes
# the OCI layout $(BUILD_DIR)/image/oci and $(BUILD_DIR)/image/hivebridge-<version>.oci.tar
# (ref hivebridge:<version>), which `skopeo copy oci-archive:… docker://…` pushes.
.PHONY: image
image: deps
	cmake -S . -B $(BUILD_DIR)/release -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_DIR)/release -j $(JOBS) --target hivebridge hivectl
	bash scripts/image.sh --out $(BUILD_DIR)/image $(BUILD_DIR)/release/server/hivebridge $(BUILD_DIR)/release/clients/hivectl/hivectl
