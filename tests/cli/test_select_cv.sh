#!/bin/sh
# test_select_cv.sh - scripts/select_cv.sh on the fixture: one run per candidate and seed,
# resumable, the summary ranked by mean CV AUC with the mean and sd over seeds computed from
# the runs; the test split is never used (flipping its labels changes nothing).
. "$(dirname "$0")/lib.sh"
d=$T_DIR
PY=/usr/bin/python3
ok "the fixture generator writes synthetic features files" "$T_BUILD/tests/test_train_fixtures" "$d"
tab=$(printf '\t')
cat >"$d/cands.tsv" <<EOT
# name, features, options
logreg${tab}$d/a.h5${tab}--head logreg --epochs 5
mlp${tab}$d/a.h5${tab}--head mlp --hidden 8 --epochs 5
EOT
status 0 "2 candidates x 2 seeds, 3 folds" env SEEDS="1 2" K=3 sh "$T_TOP/scripts/select_cv.sh" "$d/cands.tsv" "$d/runs.tsv"
cp "$d/out" "$d/summary.md"
ok "... one run per candidate and seed" test "$(tail -n +2 "$d/runs.tsv" | wc -l)" -eq 4
ok "... the summary lists both, best mean CV AUC first, mean and sd over seeds from the runs" awk -F '\t' '
	FNR == NR { if (FNR > 1) { s[$1] += $5; q[$1] += $5 * $5; n[$1]++ } next }
	/^\| (logreg|mlp) \|/ { split($0, f, " *\\| *"); c = f[2]; m = s[c] / n[c]
		sd = sqrt((q[c] - n[c] * m * m) / (n[c] - 1))
		if (f[3] != 2 || (f[4] - m) ^ 2 > 1e-6 || (f[5] - sd) ^ 2 > 1e-6) bad = 1
		if (prev != "" && f[4] > prev) bad = 1; prev = f[4]; rows++ }
	END { exit !(rows == 2 && !bad) }' "$d/runs.tsv" "$d/summary.md"
cp "$d/runs.tsv" "$d/runs.first"
status 0 "a rerun finds every run done" env SEEDS="1 2" K=3 sh "$T_TOP/scripts/select_cv.sh" "$d/cands.tsv" "$d/runs.tsv"
ok "... and leaves the runs as they were" cmp "$d/runs.tsv" "$d/runs.first"
if $PY -c 'import h5py' 2>/dev/null; then
	ok "a copy of the fixture with the test labels flipped" sh -c 'cp "$1/a.h5" "$1/flip.h5" && "$2" -c "$3" "$1/flip.h5"' sh "$d" "$PY" '
import sys, h5py
f = h5py.File(sys.argv[1], "r+")
s = f["splits"][:]; y = f["labels"][:]
for i in range(len(y)):
    if s[i] in (b"test", "test"): y[i] = 1 - y[i]
f["labels"][...] = y'
	sed "s|$d/a.h5|$d/flip.h5|" "$d/cands.tsv" >"$d/cands-flip.tsv"
	status 0 "... selects on it" env CT_NO_VERIFY=1 SEEDS="1 2" K=3 sh "$T_TOP/scripts/select_cv.sh" "$d/cands-flip.tsv" "$d/runs-flip.tsv"
	ok "... with the same CV results: the test split is not used" sh -c 'cut -f 1-6 "$1" >"$1.c"; cut -f 1-6 "$2" >"$2.c"; cmp "$1.c" "$2.c"' sh "$d/runs.tsv" "$d/runs-flip.tsv"
fi
status 2 "a missing argument is a usage error (2)" sh "$T_TOP/scripts/select_cv.sh" "$d/cands.tsv"
echo "1..$T_N"
