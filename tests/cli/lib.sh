# lib.sh - TAP helpers for the CLI tests (sourced). Tools are on PATH (tests/run.sh).
T_N=0
T_FAILS=0
T_DIR=$(mktemp -d "${CT_TEST_TMP:-/tmp}/cli-XXXXXX")
# T_TOP, T_BUILD: the source tree and the build folder with the test programs (tests/run.sh
# exports CT_TOP and BUILD; a relative BUILD is taken from the top).
T_TOP=${CT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
T_BUILD=${BUILD:-build}
case "$T_BUILD" in /*) ;; *) T_BUILD=$T_TOP/$T_BUILD ;; esac
# t_report RC DESCRIPTION [DETAIL]: the next TAP line for a check whose result is RC (0 passes);
# a failure is counted in T_FAILS, DETAIL appended to its line, and t_report returns 1.
t_report() {
	T_N=$((T_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_N - $2"
		return 0
	fi
	echo "not ok $T_N - $2${3:-}"
	T_FAILS=$((T_FAILS + 1))
	return 1
}
# ok DESCRIPTION -- COMMAND...: passes when the command succeeds.
ok() {
	desc=$1
	shift
	"$@" >/dev/null 2>&1
	t_report $? "$desc" || :
}
# status EXPECTED DESCRIPTION COMMAND...: passes when the command exits with EXPECTED;
# its stderr is kept in $T_DIR/err for later checks.
status() {
	want=$1
	desc=$2
	shift 2
	"$@" >"$T_DIR/out" 2>"$T_DIR/err"
	got=$?
	[ "$got" -eq "$want" ]
	t_report $? "$desc" " (exit $got, expected $want)" || sed 's/^/# /' "$T_DIR/err" | head -n 5
}
# err_has TEXT DESCRIPTION: the last status command's stderr contains TEXT.
err_has() {
	grep -q -- "$1" "$T_DIR/err"
	t_report $? "$2" || sed 's/^/# stderr: /' "$T_DIR/err" | head -n 3
}
# one_line: the last status command's stderr is a single line.
err_one_line() {
	[ "$(wc -l <"$T_DIR/err")" -eq 1 ]
	t_report $? "$1" || sed 's/^/# stderr: /' "$T_DIR/err" | head -n 5
}
# json_num FILE KEY: the first numeric value of "KEY": in a JSON file.
json_num() {
	grep -o "\"$2\":[[:space:]]*[0-9.e+-]*" "$1" | head -n 1 | sed 's/.*:[[:space:]]*//'
}
# ort_skip: why the ONNX Runtime peer (scripts/ort, node) cannot run here, or "" when it can;
# tests that compare against it skip with this reason.
ort_skip() {
	if ! command -v node >/dev/null 2>&1; then
		echo "node not found"
	elif [ ! -d "$T_TOP/scripts/ort/node_modules/onnxruntime-node" ]; then
		echo "onnxruntime-node not installed (cd scripts/ort && npm ci)"
	fi
}
