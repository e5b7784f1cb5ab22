# Thin wrapper over CMake. `make run` and `make test` work on a fresh Debian machine.
BUILD   ?= build
ENV     ?= dev
LISTEN  ?= 127.0.0.1:8080
JOBS    ?= $(shell nproc)

.PHONY: all deps build run test unit integ pg bench bench-e2e asan clean fmt

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

asan:
	@cmake -S . -B build-asan -DORDERLY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ctest --output-on-failure -R '^unit\.'

fmt:
	@clang-format -i src/*.c src/*/*.[ch] tests/unit/*.c

clean:
	rm -rf $(BUILD) build-asan
