#!/bin/sh
# md2man.sh NAME SECTION TITLE < doc.md > page - the small Markdown subset of docs/*.md
# (headings, paragraphs, bullet lists, pipe tables, indented code, `code`, *em*, **strong**)
# as a man page: ctfuse-formats(5) is made from docs/formats.md this way (make man).
name=$1 sec=$2 title=$3
printf '.\\" %s.%s - generated from docs by scripts/md2man.sh; do not edit.\n' "$name" "$sec"
printf '.TH %s %s "2026" "ctfuse 0.1.0" "ctfuse manual"\n.SH NAME\n%s \\- %s\n' \
	"$(echo "$name" | tr a-z A-Z)" "$sec" "$name" "$title"
awk '
function inline(s,   out) {
	gsub(/\\/, "\\e", s)
	gsub(/-/, "\\-", s)
	while (match(s, /`[^`]*`/)) s = substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 1, RLENGTH - 2) "\\fR" substr(s, RSTART + RLENGTH)
	while (match(s, /\*\*[^*]+\*\*/)) s = substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 2, RLENGTH - 4) "\\fR" substr(s, RSTART + RLENGTH)
	while (match(s, /\*[^* ][^*]*\*/)) s = substr(s, 1, RSTART - 1) "\\fI" substr(s, RSTART + 1, RLENGTH - 2) "\\fR" substr(s, RSTART + RLENGTH)
	while (match(s, /\[[^]]*\]\([^)]*\)/)) { t = substr(s, RSTART + 1); t = substr(t, 1, index(t, "]") - 1); s = substr(s, 1, RSTART - 1) t substr(s, RSTART + RLENGTH) }
	if (s ~ /^[.\047]/) s = "\\&" s
	return s
}
function cell(s) { sub(/^ +/, "", s); sub(/ +$/, "", s); return inline(s) }
/^# / { next }
/^## / { sub(/^## /, ""); print ".SH " toupper(inline($0)); code = 0; next }
/^### / { sub(/^### /, ""); print ".SS " inline($0); code = 0; next }
/^    / && !inlist { if (!code) { print ".PP\n.RS 4\n.nf"; code = 1 } sub(/^    /, ""); print inline($0); next }
code { print ".fi\n.RE"; code = 0 }
/^\|/ {
	if ($0 ~ /^\|[- |:]+\|$/) { header = 0; next }
	n = split($0, c, "|")
	if (!intable) { intable = 1; header = 1; next }   # the header row names the columns
	line = ".TP\n\\fB" cell(c[2]) "\\fR"
	rest = ""
	for (i = 3; i < n; i++) { v = cell(c[i]); if (v != "") rest = rest (rest == "" ? "" : " \\(em ") v }
	print line; print rest; blank = 0; next
}
{ intable = 0 }
/^\* / { sub(/^\* /, ""); print ".IP \\(bu 2"; print inline($0); inlist = 1; blank = 0; next }
/^$/ { if (!blank) print ".PP"; blank = 1; inlist = 0; next }
{ blank = 0; print inline($0) }
END { if (code) print ".fi\n.RE" }
'
printf '.SH SEE ALSO\n.BR ctfuse (7),\n.BR ct-info (1)\n'
