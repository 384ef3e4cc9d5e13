#!/bin/sh
# test_docs.sh - every tool has a man page, and its --help and man page name the same options.
. "$(dirname "$0")/lib.sh"
top=${CT_TOP:-.}
for tool in $(ls "$top"/tools/ct-*.c | sed 's|.*/||; s|\.c$||'); do
	man="$top/man/$tool.1"
	ok "$tool has a man page" [ -f "$man" ]
	[ -f "$man" ] || continue
	ok "$tool --help exits 0" "$tool" --help
	help_opts=$("$tool" --help 2>/dev/null | grep -o -- '--[a-z][a-z0-9-]*' | sort -u)
	man_opts=$(sed 's/\\-/-/g' "$man" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u)
	# Options the OPTIONS section describes (other sections may cite other tools).
	man_described=$(sed 's/\\-/-/g' "$man" | sed -n '/^\.SH OPTIONS/,/^\.SH [A-NP-Z]/p' |
		awk 'tag { print; tag = 0 } /^\.TP/ { tag = 1 }' | grep -o -- '--[a-z][a-z0-9-]*' | sort -u)
	missing=""
	for o in $help_opts; do
		echo "$man_opts" | grep -qx -- "$o" || missing="$missing $o"
	done
	ok "$tool: every --help option is in the man page${missing:+ (missing:$missing)}" [ -z "$missing" ]
	extra=""
	for o in $man_described; do
		echo "$help_opts" | grep -qx -- "$o" || extra="$extra $o"
	done
	ok "$tool: the man page documents no option --help lacks${extra:+ (extra:$extra)}" [ -z "$extra" ]
done
echo "1..$T_N"
