#!/bin/sh
# run.sh - the fuzzing campaign of make fuzz: each harness in $BUILD/fuzz/ (built by make fuzz)
# first replays its regression corpus tests/fuzz/regress/NAME/ (minimised crashers: each must
# now pass), then fuzzes for FUZZ_SECONDS from its seeds tests/fuzz/corpus/NAME/. New inputs
# are kept in $BUILD/corpus/NAME/ (later runs start from them), crashing inputs in
# $BUILD/crashes/NAME/ and the log in $BUILD/fuzz-NAME.log.
#
# A crash whose first frame outside the sanitizer runtime is inside HDF5 or GDCM (neither is
# instrumented, neither is ours to fix: a damaged HDF5 object header, a DICOM length that makes
# GDCM allocate a gigabyte) is set aside in $BUILD/thirdparty/NAME/ with its report, counted,
# and the fuzzer restarted for the rest of the time; any other crash, sanitizer report, leak or
# out-of-memory fails the run. Slow inputs that time out waiting for HDF5 or the GDCM child are
# third-party too.
# Usage: tests/fuzz/run.sh [harness-name-filter]     Exit 1 when a harness found a crash of ours.
BUILD=${BUILD:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
# FUZZ_SEED (libFuzzer's -seed, +1 per restart after a set-aside crash) and FUZZ_RUNS (at most
# that many inputs per harness): with both set, a campaign on a fresh clone is the same on every
# machine fast enough to reach FUZZ_RUNS in FUZZ_SECONDS (a slower one runs a prefix of it), as
# CI needs; without them every run explores anew.
FUZZ_SEED=${FUZZ_SEED:-}
FUZZ_RUNS=${FUZZ_RUNS:-}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
filter=${1:-}
# Leaks are reported (detect_leaks=1): the harnesses free everything they get, so a leak is a
# reader that loses memory on an error path; HDF5's own losses are suppressed (lsan.supp).
# An allocation over 1 GiB fails (returns NULL) instead of being made: HDF5 believes a damaged
# size field and asks for 16 GiB, which under ASan costs 2 GiB of shadow memory and ends the
# campaign at the RSS limit (an out-of-memory report naming no frame of ours); no reader of ours
# needs that much for a fuzz input of at most 64 kB, and a NULL must be reported, not used.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1:max_allocation_size_mb=1024}
LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$top/tests/fuzz/lsan.supp:print_suppressions=0}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
# The harnesses' temporary files (tests/fuzz/fuzz.h): a crash leaves its input there.
TMPDIR=$top/$BUILD/tmp
mkdir -p "$TMPDIR"
export TMPDIR

# whose LOG: "thirdparty" when the first report's first frame outside the sanitizer runtime
# and libFuzzer is in libhdf5 or libgdcm (for a timeout: any frame there, or the wait for the
# GDCM child in ct_dicom_read), else "ours".
whose() {
	awk '
	/ERROR: libFuzzer: timeout/ { timeout = 1 }
	/ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:/ { inrep = 1 }
	inrep && /^ *#[0-9]+ / {
		if (timeout) {
			if ($0 ~ /libhdf5|libgdcm|ct_dicom_read/) { print "thirdparty"; done = 1; exit }
			next
		}
		# the sanitizer runtime, libFuzzer, and libc string functions (a SEGV inside HDF5 stops
		# in glibc'"'"'s __memcpy_avx512_unaligned_erms or __memmove_avx_unaligned_erms, by CPU)
		if ($0 ~ /__interceptor_|__asan|__sanitizer|__ubsan|__lsan|fuzzer::|libclang_rt|in (malloc|calloc|realloc|free|memcpy|memmove|memset|strlen|strdup) |in __(memcpy|memmove|memset|strlen|strcpy|memcmp)_|string\/\.\.\/sysdeps\/|libc\.so/) next
		print ($0 ~ /libhdf5|libgdcm/) ? "thirdparty" : "ours"; done = 1; exit
	}
	END { if (!done) print "ours" }' "$1"
}

fail=0
total_third=0
for f in "$BUILD"/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	[ -n "$filter" ] && case "$name" in *"$filter"*) ;; *) continue ;; esac
	seeds=tests/fuzz/corpus/$name
	regress=tests/fuzz/regress/$name
	work=$BUILD/corpus/$name
	crashes=$BUILD/crashes/$name
	third=$BUILD/thirdparty/$name
	log=$BUILD/fuzz-$name.log
	mkdir -p "$work" "$crashes" "$third"
	if [ -d "$regress" ] && [ -n "$(ls "$regress")" ]; then
		if ! "$f" -runs=0 "$regress"/* >"$log" 2>&1; then
			echo "FAIL $name: a regression input crashes again (log: $log)"
			grep -E 'ERROR|SUMMARY|runtime error|^ *#[0-9]+ ' "$log" | head -n 12 | sed 's/^/    /'
			fail=1
			continue
		fi
	fi
	dirs="$work"
	[ -d "$seeds" ] && dirs="$dirs $seeds"
	[ -d "$regress" ] && dirs="$dirs $regress"
	start=$(date +%s)
	end=$((start + FUZZ_SECONDS))
	runs=0
	nthird=0
	status=ok
	: >"$log"
	while :; do
		left=$((end - $(date +%s)))
		[ $left -ge 1 ] || break
		# shellcheck disable=SC2086
		[ -n "$FUZZ_RUNS" ] && [ $runs -ge "$FUZZ_RUNS" ] && break
		det=
		[ -n "$FUZZ_SEED" ] && det="-seed=$((FUZZ_SEED + nthird))"
		[ -n "$FUZZ_RUNS" ] && det="$det -runs=$((FUZZ_RUNS - runs))"
		"$f" -max_total_time=$left -timeout=30 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
			$det -artifact_prefix="$crashes/" $dirs >"$log.run" 2>&1
		rc=$?
		cat "$log.run" >>"$log"
		r=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log.run" | tail -n 1)
		runs=$((runs + ${r:-0}))
		[ $rc -eq 0 ] && break
		art=$(sed -n "s/.*Test unit written to \(.*\)$/\1/p" "$log.run" | tail -n 1)
		if [ -n "$art" ] && [ -f "$art" ] && [ "$(whose "$log.run")" = thirdparty ]; then
			nthird=$((nthird + 1))
			mv "$art" "$third/"
			cp "$log.run" "$third/$(basename "$art").log"
			[ $nthird -lt 100 ] && continue
			break
		fi
		status=crash
		echo "FAIL $name ($(($(date +%s) - start)) s): ${art:-a crash}; log $log"
		grep -E 'ERROR|SUMMARY|runtime error|^ *#[0-9]+ ' "$log.run" | grep -v 'fuzzer::\|libc_start\|_start ' |
			head -n 14 | sed 's/^/    /'
		echo "    minimise: $f -minimize_crash=1 -runs=20000 $art; fix; add it to $regress/"
		fail=1
		break
	done
	rm -f "$log.run"
	total_third=$((total_third + nthird))
	[ $status = ok ] &&
		echo "ok   $name ($(($(date +%s) - start)) s, $runs runs, corpus $(ls "$work" | wc -l) found$([ $nthird -gt 0 ] && echo ", $nthird HDF5/GDCM defects set aside in $third/"))"
done
[ $total_third -gt 0 ] && echo "note: $total_third crashes inside HDF5 or GDCM (not instrumented, reached only without checksums or with --no-verify) set aside in $BUILD/thirdparty/"
exit $fail
