# The two commands of the quick start, and the ones behind them.
#   make demo   set up, build, replay the bundled trace on the default configuration
#   make test   set up, build, then every test: unit, end-to-end, sanitizers, fuzzing (briefly),
#               formatting
#   make fuzz   the trace readers' fuzzers for FUZZ_SECONDS each (default 300)
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
# Seconds per fuzz target: `make test` runs each briefly, `make fuzz` longer.
FUZZ_TEST_SECONDS ?= 15
FUZZ_SECONDS      ?= 300
JOBS       ?= $(shell nproc)
PAGESIM    := $(BUILD)/sim/pagesim
# pysim's interpreter: Debian's, with its python3-* packages (README, "Python").
PYTHON     ?= /usr/bin/python3

.PHONY: all setup build demo test unit-test validate validate-sample py-test asan-test fuzz-build \
        fuzz-test fuzz format-check bench clean

all: build

setup:
	@scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(PAGESIM) replay traces/examples/demo.trace

test: build unit-test validate py-test asan-test fuzz-test format-check

unit-test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Validation against this host's KVM (docs/validation.md): every preset, every bundled trace
# replayed by the guest (--trace), and a fixed sample of 40 scenarios drawn from the whole
# parameter space (about 3 minutes here), measured and predicted. Exit status 77 (no
# /dev/kvm, no tracepoints, no permission) is a skip.
EXAMPLE_TRACES := $(sort $(wildcard traces/examples/*.trace traces/examples/*.pgt))
# The fixed sample `make test` runs beside the presets (docs/validation.md, "Sampling").
TEST_SAMPLE_SEED := 20261208
validate: build
	@$(BUILD)/validate/pagesim-validate --all > $(BUILD)/validate/report.txt; rc=$$?; \
	if [ $$rc -eq 77 ]; then echo "validate: SKIPPED (see the message above)"; \
	elif [ $$rc -ne 0 ]; then cat $(BUILD)/validate/report.txt; echo "validate: FAILED"; exit 1; \
	else tail -n 1 $(BUILD)/validate/report.txt; echo "validate: presets passed (table in $(BUILD)/validate/report.txt)"; fi
	@$(BUILD)/validate/pagesim-validate $(foreach t,$(EXAMPLE_TRACES),--trace $(t)) \
	  > $(BUILD)/validate/traces.txt; rc=$$?; \
	if [ $$rc -eq 77 ]; then echo "validate: traces SKIPPED (see the message above)"; \
	elif [ $$rc -ne 0 ]; then cat $(BUILD)/validate/traces.txt; echo "validate: traces FAILED"; exit 1; \
	else tail -n 1 $(BUILD)/validate/traces.txt; echo "validate: bundled traces passed (table in $(BUILD)/validate/traces.txt)"; fi
	@scripts/validate_sample.sh $(BUILD) 40 $(TEST_SAMPLE_SEED) $(BUILD)/validate/sample40.txt; rc=$$?; \
	if [ $$rc -eq 77 ]; then echo "validate: sample SKIPPED (see the message above)"; \
	elif [ $$rc -ne 0 ]; then echo "validate: sample of 40 FAILED (report in $(BUILD)/validate/sample40.txt)"; exit 1; \
	else grep -h "scenarios passed" $(BUILD)/validate/sample40.txt; echo "validate: sample of 40 (seed $(TEST_SAMPLE_SEED)) passed (report in $(BUILD)/validate/sample40.txt)"; fi

# A sample of scenarios drawn from every option and their combinations (docs/validation.md,
# "Sampling"): SAMPLE of them, drawn with SAMPLE_SEED (empty: a random seed, printed first so
# the run can be repeated). Each scenario's verdict is printed as it finishes (with the rows of
# one that did not pass), then the summary; the report is also in $(BUILD)/validate/sample.txt
# and sample.json. Not part of `make test` (which runs a fixed sample of 40).
# Exit status 77 (no /dev/kvm, ...) is a skip. About 70 minutes on the 2-core
# development VM (the scenarios' page counts are log-uniform up to 259,504).
SAMPLE      ?= 500
SAMPLE_SEED ?=
validate-sample: build
	@{ $(BUILD)/validate/pagesim-validate --sample $(SAMPLE) $(if $(SAMPLE_SEED),--seed $(SAMPLE_SEED)) \
	  --json $(BUILD)/validate/sample.json; echo $$? > $(BUILD)/validate/sample.rc; } \
	  | tee $(BUILD)/validate/sample.txt; rc=$$(cat $(BUILD)/validate/sample.rc); \
	if [ $$rc -eq 77 ]; then echo "validate-sample: SKIPPED (see the message above)"; \
	elif [ $$rc -ne 0 ]; then echo "validate-sample: some scenarios did not pass (rows in $(BUILD)/validate/sample.txt)"; exit 1; \
	else echo "validate-sample: passed (report in $(BUILD)/validate/sample.txt)"; fi

# pysim: the pytest suite, then every notebook top to bottom through nbclient (figures and
# executed copies in $(BUILD)/notebooks).
py-test: build
	PYSIM_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q pysim/tests
	PYTHONPATH=$(abspath $(BUILD))/python $(PYTHON) pysim/run_notebooks.py --out $(BUILD)/notebooks

# Address and undefined-behaviour sanitizers over the same tests (benchmarks left out).
asan-test: setup
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DPAGESIM_SANITIZE=ON -DPAGESIM_BENCH=OFF > /dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

# libFuzzer targets of the trace readers (fuzz/CMakeLists.txt), built with clang: any crash,
# sanitizer report, hang or leak fails (scripts/fuzz.sh prints runs and coverage per target).
fuzz-build: setup
	@cmake -S fuzz -B $(FUZZ_BUILD) -G Ninja -DCMAKE_CXX_COMPILER=clang++ > /dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)

fuzz-test: fuzz-build
	@scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_TEST_SECONDS)

fuzz: fuzz-build
	@scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

format-check:
	@git ls-files '*.cc' '*.h' '*.c' | xargs clang-format --dry-run --Werror
	@echo "format-check: clang-format clean"

# Replay throughput and peak memory, and pagesim against a bare two-level TLB loop (see
# README, "Performance"), then the Google Benchmark micro-benchmarks of the TLB, the walker
# and the trace readers.
bench: build
	scripts/bench.sh $(BUILD)
	$(BUILD)/models/tlb/pagesim_tlb_bench --benchmark_min_time=0.2
	$(BUILD)/models/walker/pagesim_walker_bench --benchmark_min_time=0.2
	$(BUILD)/traces/pagesim_traces_bench --benchmark_min_time=0.2

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# The randomized --check suite at length (docs/testing.md, "Randomized check"): N seeds from
# SEED0, JOBS at a time; failing traces, their shrunk versions and the commands that reproduce
# them go to $(BUILD)/random_check. `make test` runs a fixed seed list (ctest
# random_check_fixed_seeds).
N     ?= 2000
SEED0 ?= 1
.PHONY: check-random
check-random: build
	$(PYTHON) tests/random_check/random_check.py --pagesim $(PAGESIM) \
	  --seeds $(SEED0)-$(shell echo $$(($(SEED0) + $(N) - 1))) --jobs $(JOBS) \
	  --out $(BUILD)/random_check --shrink
