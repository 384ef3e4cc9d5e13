#!/bin/sh
# test_fuzz_corpus.sh - the libFuzzer harnesses (tests/fuzz/), built with a plain main by the
# ordinary build, replay their corpora: every seed is accepted by its reader (else fuzzing would
# start from the first check; rerun tests/fuzz/make_seeds.sh after a format change), and every
# minimised crasher of tests/fuzz/regress/ now ends without a crash (under make asan, without a
# sanitizer report).
. "$(dirname "$0")/lib.sh"
n=0
for f in "$T_BUILD"/tests/fuzz/fuzz_*; do
	case "$f" in *.o | *.d) continue ;; esac
	[ -x "$f" ] || continue
	name=$(basename "$f")
	n=$((n + 1))
	seeds=$T_TOP/tests/fuzz/corpus/$name
	CT_FUZZ_VERBOSE=1 "$f" "$seeds" >"$T_DIR/out" 2>"$T_DIR/err"
	rc=$?
	acc=$(grep -c '^accepted' "$T_DIR/err")
	ref=$(grep -c '^refused' "$T_DIR/err")
	[ $rc -eq 0 ] && [ "$acc" -gt 0 ] && [ "$ref" -eq 0 ]
	t_report $? "$name: its $acc seeds are read without error" " (exit $rc, $ref refused)" ||
		grep -v '^accepted' "$T_DIR/err" | head -n 5 | sed 's/^/# /'
	regress=$T_TOP/tests/fuzz/regress/$name
	if [ -d "$regress" ]; then
		k=$(ls "$regress" | wc -l)
		# under make asan, with the campaign's allocator limits (tests/fuzz/run.sh): an
		# allocation over 1 GiB fails instead of costing gigabytes of shadow memory
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1:max_allocation_size_mb=1024" \
			"$f" "$regress" >"$T_DIR/out" 2>"$T_DIR/err"
		rc=$?
		t_report $rc "$name: $k minimised crashers of tests/fuzz/regress/ replay without a crash" " (exit $rc)" ||
			grep -E 'ERROR|SUMMARY|runtime error|#[0-9] ' "$T_DIR/err" | head -n 8 | sed 's/^/# /'
	fi
done
[ $n -ge 10 ]
t_report $? "all harnesses were built ($n)"
echo "1..$T_N"
[ "$T_FAILS" -eq 0 ]
