# Sluice: `make demo` and `make test` set everything up on a fresh Debian 12 machine.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
SLUICE := $(BUILD_DIR)/src/app/sluice

.PHONY: all deps configure build demo test unit-test e2e-test fuzz bench chaos format clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	$(SLUICE) demo

unit-test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j 2

e2e-test: build
	cd tests/e2e && SLUICE_BIN=$(abspath $(SLUICE)) \
	  SCHEMA_VALIDATE_TOOL=$(abspath $(BUILD_DIR)/tests/schema_validate_tool) \
	  node --test --test-concurrency=1

test: build
	@bash scripts/run-tests.sh $(BUILD_DIR)

fuzz: deps
	@bash scripts/fuzz.sh $${FUZZ_SECONDS:-60}

# The crash harness's long form (issue #5): 200 kills -9 under 5,500 events/s (the bar: 5,000).
chaos: build
	@cd tests/crash && SLUICE_BIN=$(abspath $(SLUICE)) node harness.js --kills $${CHAOS_KILLS:-200} --rate $${CHAOS_RATE:-5500}

bench: build
	@bash scripts/bench.sh $(SLUICE)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
