#!/bin/sh
# select_cv.sh - choose among candidate configurations by patient-grouped k-fold
# cross-validation over train+val, repeated over several seeds (issue 14, item 4): the 118
# validation slices alone are too few to choose with. The test split is never read.
# Usage: [SEEDS="1 2 3 4 5"] [K=5] scripts/select_cv.sh CANDIDATES.tsv RUNS.tsv > SUMMARY.md
# CANDIDATES.tsv: one candidate a line, "NAME<TAB>FEATURES.h5<TAB>ct-finetune options" (# comments).
# For each candidate and seed S: ct-finetune FEATURES --cv K --seed S OPTIONS (folds made from
# S: whole patients, stratified; augmented copies train only, never held out). RUNS.tsv gets
# one row per run (resumable: finished runs are kept):
#   candidate seed cv_acc cv_acc_sd cv_auc cv_auc_sd seconds   (mean and sd over the K folds)
# SUMMARY (stdout, markdown): per candidate (of CANDIDATES.tsv), over all its runs in RUNS.tsv
# (so a costly candidate may have fewer seeds: the seeds column says how many), the mean over
# seeds of the CV accuracy and AUC, their sd over seeds, and the mean within-seed sd over folds;
# ranked by mean CV AUC.
# Tools on PATH.
set -eu
[ $# -eq 2 ] || { echo "usage: scripts/select_cv.sh CANDIDATES.tsv RUNS.tsv > SUMMARY.md" >&2; exit 2; }
cands=$1 runs=$2
SEEDS=${SEEDS:-1 2 3 4 5}
K=${K:-5}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ctfuse-selcv-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
[ -s "$runs" ] || printf 'candidate\tseed\tcv_acc\tcv_acc_sd\tcv_auc\tcv_auc_sd\tseconds\n' >"$runs"
tab=$(printf '\t')
for seed in $SEEDS; do
	grep -v '^#' "$cands" | grep . | while IFS="$tab" read -r name feat opts; do
		if awk -F '\t' -v c="$name" -v s="$seed" '$1 == c && $2 == s { f = 1 } END { exit !f }' "$runs"; then
			continue
		fi
		t0=$(date +%s)
		# shellcheck disable=SC2086
		ct-finetune "$feat" $opts --cv "$K" --seed "$seed" -o "$tmp/m.h5" --force -q >"$tmp/cv.out" ||
			{ echo "select_cv.sh: candidate '$name' failed" >&2; exit 1; }
		line=$(sed -n 's/^cv [0-9]* folds: accuracy \([0-9.]*\) +- \([0-9.]*\), AUC \([0-9.]*\) +- \([0-9.]*\).*/\1\t\2\t\3\t\4/p' "$tmp/cv.out")
		[ -n "$line" ] || { echo "select_cv.sh: no cv line from candidate '$name'" >&2; exit 1; }
		cp "$runs" "$runs.tmp.$$"
		printf '%s\t%s\t%s\t%s\n' "$name" "$seed" "$line" "$(($(date +%s) - t0))" >>"$runs.tmp.$$"
		mv -f "$runs.tmp.$$" "$runs"
	done
done
grep -v '^#' "$cands" | grep . | cut -f 1 >"$tmp/names"
awk -F '\t' '
FNR == NR { want[$1] = 1; next }
FNR == 1 { next }
$1 in want {
	c = $1; if (!(c in n)) order[++m] = c
	n[c]++; a[c] += $3; aa[c] += $3 * $3; u[c] += $5; uu[c] += $5 * $5; fa[c] += $4; fu[c] += $6
}
END {
	print "| candidate | seeds | CV AUC: mean over seeds | sd over seeds | fold sd (mean) | CV accuracy: mean | sd over seeds | fold sd (mean) |"
	print "|---|---|---|---|---|---|---|---|"
	# rank by mean AUC (selection sort; a handful of candidates)
	for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
		if (u[order[j]] / n[order[j]] > u[order[i]] / n[order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
	for (i = 1; i <= m; i++) {
		c = order[i]; k = n[c]
		mu = u[c] / k; ma = a[c] / k
		vu = k > 1 ? (uu[c] - k * mu * mu) / (k - 1) : 0; va = k > 1 ? (aa[c] - k * ma * ma) / (k - 1) : 0
		su = vu > 0 ? sqrt(vu) : 0; sa = va > 0 ? sqrt(va) : 0
		printf "| %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", c, k, mu, su, fu[c] / k, ma, sa, fa[c] / k
	}
}' "$tmp/names" "$runs"
