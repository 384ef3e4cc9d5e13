# lib.sh - TAP helpers for the CLI tests (sourced). Tools are on PATH (tests/run.sh).
T_N=0
T_DIR=$(mktemp -d "${CT_TEST_TMP:-/tmp}/cli-XXXXXX")
# ok DESCRIPTION -- COMMAND...: passes when the command succeeds.
ok() {
	desc=$1
	shift
	T_N=$((T_N + 1))
	if "$@" >/dev/null 2>&1; then
		echo "ok $T_N - $desc"
	else
		echo "not ok $T_N - $desc"
	fi
}
# status EXPECTED DESCRIPTION COMMAND...: passes when the command exits with EXPECTED;
# its stderr is kept in $T_DIR/err for later checks.
status() {
	want=$1
	desc=$2
	shift 2
	T_N=$((T_N + 1))
	"$@" >"$T_DIR/out" 2>"$T_DIR/err"
	got=$?
	if [ "$got" -eq "$want" ]; then
		echo "ok $T_N - $desc"
	else
		echo "not ok $T_N - $desc (exit $got, expected $want)"
		sed 's/^/# /' "$T_DIR/err" | head -n 5
	fi
}
# err_has TEXT DESCRIPTION: the last status command's stderr contains TEXT.
err_has() {
	T_N=$((T_N + 1))
	if grep -q -- "$1" "$T_DIR/err"; then
		echo "ok $T_N - $2"
	else
		echo "not ok $T_N - $2"
		sed 's/^/# stderr: /' "$T_DIR/err" | head -n 3
	fi
}
# one_line: the last status command's stderr is a single line.
err_one_line() {
	T_N=$((T_N + 1))
	if [ "$(wc -l <"$T_DIR/err")" -eq 1 ]; then
		echo "ok $T_N - $1"
	else
		echo "not ok $T_N - $1"
		sed 's/^/# stderr: /' "$T_DIR/err" | head -n 5
	fi
}
# json_num FILE KEY: the first numeric value of "KEY": in a JSON file.
json_num() {
	grep -o "\"$2\":[[:space:]]*[0-9.e+-]*" "$1" | head -n 1 | sed 's/.*:[[:space:]]*//'
}
