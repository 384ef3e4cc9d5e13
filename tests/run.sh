#!/bin/sh
# run.sh - run every unit test program and CLI test script, count TAP lines,
# and end with "N passed, N failed". A program that exits non-zero without a
# failing assertion (a crash, a sanitizer report) counts as one failure.
# Usage: tests/run.sh [name-filter]
# CT_SKIP_TESTS="name ..." skips those tests (make asan: ones too slow there), each named in a
# "skip" line with CT_SKIP_REASON.
BUILD=${BUILD:-build}
BIN=${BIN:-bin}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
case "$BIN" in /*) bindir=$BIN ;; *) bindir=$top/$BIN ;; esac
PATH="$bindir:$PATH"
export PATH
CT_TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ctfuse-check-XXXXXX")
export CT_TEST_TMP CT_TOP="$top"
trap 'rm -rf "$CT_TEST_TMP"' EXIT INT TERM
filter=${1:-}
pass=0
fail=0
log="$CT_TEST_TMP/log"
for t in "$BUILD"/tests/test_* tests/cli/test_*.sh; do
	[ -e "$t" ] || continue
	case "$t" in *.d | *.o) continue ;; esac
	name=$(basename "$t")
	[ -n "$filter" ] && case "$name" in *"$filter"*) ;; *) continue ;; esac
	case " ${CT_SKIP_TESTS:-} " in *" $name "*)
		echo "skip $name (${CT_SKIP_REASON:-CT_SKIP_TESTS})"
		continue
		;;
	esac
	case "$t" in
	*.sh) sh "$t" >"$log" 2>&1 ;;
	*) "$t" >"$log" 2>&1 ;;
	esac
	rc=$?
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $name exited with status $rc" >>"$log"
	fi
	pass=$((pass + p))
	fail=$((fail + f))
	if [ "$f" -gt 0 ]; then
		echo "FAIL $name ($p passed, $f failed)"
		grep -v '^ok ' "$log" | tail -n 40 | sed 's/^/    /'
	else
		echo "ok   $name ($p passed)"
		grep '^# ' "$log" | grep -i -E 'largest|error|max' | head -n 5 | sed 's/^/    /'
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
