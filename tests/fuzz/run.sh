#!/bin/sh
# run.sh - the fuzzing campaign of make fuzz: each harness in $BUILD/fuzz/ (built by make fuzz)
# first replays its regression corpus tests/fuzz/regress/NAME/ (minimised crashers: each must
# now pass), then fuzzes for FUZZ_SECONDS from its seeds tests/fuzz/corpus/NAME/. New inputs
# are kept in $BUILD/corpus/NAME/ (next runs start from them), crashes in $BUILD/crashes/.
# Usage: tests/fuzz/run.sh [harness-name-filter]     Exit 1 when any harness found a crash.
BUILD=${BUILD:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
filter=${1:-}
# Leaks are reported (detect_leaks=1): the harnesses free everything they get, so a leak is a
# reader that loses memory on some error path. HDF5 is not instrumented but its allocations
# are seen; it keeps them reachable (free lists), so it reports none.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export ASAN_OPTIONS UBSAN_OPTIONS
fail=0
for f in "$BUILD"/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	[ -n "$filter" ] && case "$name" in *"$filter"*) ;; *) continue ;; esac
	seeds=tests/fuzz/corpus/$name
	regress=tests/fuzz/regress/$name
	work=$BUILD/corpus/$name
	crashes=$BUILD/crashes/$name
	mkdir -p "$work" "$crashes"
	log=$BUILD/fuzz-$name.log
	rc=0
	if [ -d "$regress" ] && [ -n "$(ls "$regress")" ]; then
		"$f" -runs=0 "$regress"/* >"$log" 2>&1 || rc=$?
		if [ $rc -ne 0 ]; then
			echo "FAIL $name: a regression input crashes again (log: $log)"
			grep -E 'ERROR|SUMMARY|#[0-9]+ ' "$log" | head -n 20 | sed 's/^/    /'
			fail=1
			continue
		fi
	fi
	dirs="$work"
	[ -d "$seeds" ] && dirs="$dirs $seeds"
	[ -d "$regress" ] && dirs="$dirs $regress"
	start=$(date +%s)
	# shellcheck disable=SC2086
	"$f" -max_total_time="$FUZZ_SECONDS" -timeout=20 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$crashes/" $dirs >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	if [ $rc -ne 0 ]; then
		echo "FAIL $name ($(($(date +%s) - start)) s): crash, see $log; input in $crashes/"
		grep -E 'ERROR|SUMMARY|^    #[0-9]+ ' "$log" | head -n 20 | sed 's/^/    /'
		echo "    minimise: $f -minimize_crash=1 -runs=10000 $crashes/crash-...; then add it to $regress/"
		fail=1
	else
		echo "ok   $name ($(($(date +%s) - start)) s, ${runs:-?} runs, coverage ${cov:-?}, corpus $(ls "$work" | wc -l) new)"
	fi
done
exit $fail
