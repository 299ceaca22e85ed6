# hivebridge — the two commands are `make run` and `make test`; each does all
# of its own set-up on a fresh Debian bookworm machine.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: deps configure build test run clean lint-proto

deps:
	@bash scripts/deps.sh

$(BUILD_DIR)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 300

run: build
	@bash scripts/run.sh $(BUILD_DIR)

lint-proto: deps
	node_modules/.bin/buf lint

clean:
	rm -rf $(BUILD_DIR)
