# fuzz.mk - the libFuzzer harnesses tests/fuzz/fuzz_*.c (included by the Makefile;
# tests/fuzz/README.md). Every harness is built twice:
#   $(BUILD)/tests/fuzz/fuzz_X  with replay.c's main, by the ordinary build (make all, make
#                               asan): make check replays the seed and regression corpora;
#   $(BUILD)/fuzz/fuzz_X        with libFuzzer, by make fuzz (clang, BUILD=build-fuzz).
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY  := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/fuzz/%)
FUZZERS      := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_SECONDS ?= 30
FUZZ_CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
		-fsanitize=fuzzer-no-link -Wno-error

.PHONY: fuzz fuzzers
tests: $(FUZZ_REPLAY)

$(BUILD)/tests/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/replay.o $(LIBA)
	$(CC) $(OMPFLAGS) $(CFLAGS) $(EXTRA) -o $@ $(filter %.o,$^) $(LIBA) $(LDLIBS)

# Linked by the C++ driver: the library holds the GDCM shim (C++), and UBSan's C++ checks.
$(BUILD)/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CXX) $(OMPFLAGS) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIBA) $(LDLIBS)

fuzzers: $(FUZZERS)

# A campaign of FUZZ_SECONDS per harness over its seeds (tests/fuzz/corpus/) and the regression
# corpus of minimised crashers (tests/fuzz/regress/, replayed first); new inputs go to
# build-fuzz/corpus/, crashes to build-fuzz/crashes/. OpenMP off: one thread per harness.
fuzz:
	@sh scripts/deps.sh --fuzz
	@$(MAKE) --no-print-directory BUILD=build-fuzz BIN=build-fuzz/bin CC=clang CXX=clang++ OPENMP=0 \
		CFLAGS="$(FUZZ_CFLAGS)" fuzzers
	@BUILD=build-fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_SEED=$(FUZZ_SEED) FUZZ_RUNS=$(FUZZ_RUNS) sh tests/fuzz/run.sh $(FUZZ_ONLY)

-include $(FUZZ_SRC:%.c=$(BUILD)/%.d) $(BUILD)/tests/fuzz/replay.d
