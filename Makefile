# Thin wrapper over CMake. `make run` and `make test` work on a fresh Debian machine.
BUILD   ?= build
ENV     ?= dev
LISTEN  ?= 127.0.0.1:8080
JOBS    ?= $(shell nproc)

FUZZ_SECONDS ?= 60

.PHONY: all deps build run test unit integ pg bench bench-e2e asan faults fuzz clean fmt

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/Makefile: CMakeLists.txt
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS)

run: deps build
	@mkdir -p data
	$(BUILD)/orderly serve --env $(ENV) --listen $(LISTEN) --db data/$(ENV).db --config config/orderly.json

test: deps build
	@cd $(BUILD) && ctest --output-on-failure -j 1

unit: build
	@cd $(BUILD) && ctest --output-on-failure -R '^unit(-pg)?\.'

integ: build
	@cd $(BUILD) && ctest --output-on-failure -R '^integ(-pg)?\.'

pg: build
	@cd $(BUILD) && ctest --output-on-failure -L pg

bench: deps build
	@bench/run-all.sh

bench-e2e: deps build
	@bench/e2e.sh

# ASan/UBSan: the unit tests, and the fault-injection loops (a leak after a
# failed allocation, write or sync fails the server's exit there).
asan:
	@cmake -S . -B build-asan -DORDERLY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ctest --output-on-failure -R '^(unit|fuzz)\.|^integ\.t736_faults$$'

# The fault-injection loops in full: every one of SQLite's ~4,000 allocations
# of the workload failed in turn (make test takes every 47th past the 100th).
faults: build
	@cd $(BUILD) && ORDERLY_FAULT_MALLOC_ALL=1 ctest --output-on-failure -R '^integ\.t736_faults$$'

# libFuzzer targets (clang) in build-fuzz, each run FUZZ_SECONDS (default 60),
# one after the other; FUZZ_TARGETS="router config" runs only those.
fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DORDERLY_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build-fuzz --target fuzz-targets -j $(JOBS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh build-fuzz

fmt:
	@clang-format -i src/*.c src/*/*.[ch] tests/unit/*.c tests/fuzz/*.[ch]

clean:
	rm -rf $(BUILD) build-asan build-fuzz
