#!/bin/sh
# sweep_cuts.sh - choose feature cuts and heads on the VALIDATION split only.
# For every block of the given features files (and each head), train on train, and report
# the val accuracy and AUC; the choice of cut is then made from this table, never from test.
# With COMBOS="a,b c,d" set, also every combination of blocks fused across all the files.
# Usage: [HEADS="logreg mlp"] [SEED=1] [COMBOS=...] [SOURCES=sources.tsv [SOURCE_COLUMN=N]]
#        scripts/sweep_cuts.sh FEATURES.h5... > sweep.tsv
# (tools on PATH; SEED is the ct-finetune seed, the pipeline's by default)
# With SOURCES (ct-score --sources), two more columns: the val AUC of every positive against the
# negatives of each source ("source=AUC;..."), and the lowest of them, val_worst_source_auc:
# the selection criterion that rewards what holds across sources (docs/results.md,
# "Generalisation"), since the overall AUC also rewards telling the sources apart.
set -eu
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ctfuse-sweep-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
HEADS=${HEADS:-logreg}
SEED=${SEED:-1}
# evaluate FUSED.h5 LABEL: one row per head, val metrics only
evaluate() {
	for head in $HEADS; do
		ct-finetune "$1" --head "$head" --seed "$SEED" -o "$tmp/m.h5" --force -q ${FINETUNE_ARGS:-}
		ct-score "$tmp/m.h5" "$1" --split val --bootstrap 0 --json >"$tmp/s.json"
		acc=$(tr -d ' \n\t' <"$tmp/s.json" | grep -o '"accuracy":{"value":[0-9.e-]*' | head -n 1 | sed 's/.*://')
		auc=$(tr -d ' \n\t' <"$tmp/s.json" | grep -o '"auc":{"value":[0-9.e-]*' | head -n 1 | sed 's/.*://')
		if [ -n "${SOURCES:-}" ]; then
			per=$(ct-score "$tmp/m.h5" "$1" --split val --bootstrap 0 --sources "$SOURCES" \
				--source-column "${SOURCE_COLUMN:-0}" | awk '
				/^by source:/ { on = 1; next }
				on == 1 { on = 2; next }
				on == 2 && $(NF - 1) != "-" { n = ""; for (i = 1; i <= NF - 4; i++) n = n (i > 1 ? " " : "") $i
					s = s (s ? ";" : "") n "=" $(NF - 1); if (min == "" || $(NF - 1) < min) min = $(NF - 1) }
				END { printf "%s\t%s", s, min }')
			printf '%s\t%s\t%s\t%.4f\t%.4f\t%s\n' "$2" "$3" "$head" "$acc" "$auc" "$per"
		else
			printf '%s\t%s\t%s\t%.4f\t%.4f\n' "$2" "$3" "$head" "$acc" "$auc"
		fi
	done
}
printf 'file\tblock\thead\tval_acc\tval_auc%b\n' "${SOURCES:+\tval_auc_by_source\tval_worst_source_auc}"
for f in "$@"; do
	for b in $(ct-info "$f" | sed -n '/^blocks:/,/^provenance:/p' | awk 'NF > 1 && $1 != "blocks:" { print $1 }'); do
		ct-fuse "$f" --select "$b" -o "$tmp/sel.h5" --force -q
		evaluate "$tmp/sel.h5" "$(basename "$f")" "$b"
	done
done
for c in ${COMBOS:-}; do
	ct-fuse "$@" --select "$c" -o "$tmp/sel.h5" --force -q
	evaluate "$tmp/sel.h5" fused "$c"
done
