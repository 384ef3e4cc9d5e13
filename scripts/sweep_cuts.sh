#!/bin/sh
# sweep_cuts.sh - choose feature cuts and heads on the VALIDATION split only.
# For every block of the given features files (and each head), train on train, and report
# the val accuracy and AUC; the choice of cut is then made from this table, never from test.
# Usage: scripts/sweep_cuts.sh FEATURES.h5... > sweep.tsv   (tools on PATH)
set -eu
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ctfuse-sweep-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
HEADS=${HEADS:-logreg}
printf 'file\tblock\thead\tval_acc\tval_auc\n'
for f in "$@"; do
	for b in $(ct-info "$f" | sed -n '/^blocks:/,/^provenance:/p' | awk 'NF > 1 && $1 != "blocks:" { print $1 }'); do
		ct-fuse "$f" --select "$b" --standardize -o "$tmp/sel.h5" --force -q
		for head in $HEADS; do
			ct-finetune "$tmp/sel.h5" --head "$head" -o "$tmp/m.h5" --force -q ${FINETUNE_ARGS:-}
			ct-score "$tmp/m.h5" "$tmp/sel.h5" --split val --bootstrap 0 --json >"$tmp/s.json"
			acc=$(tr -d ' \n\t' <"$tmp/s.json" | grep -o '"accuracy":{"value":[0-9.e-]*' | head -n 1 | sed 's/.*://')
			auc=$(tr -d ' \n\t' <"$tmp/s.json" | grep -o '"auc":{"value":[0-9.e-]*' | head -n 1 | sed 's/.*://')
			printf '%s\t%s\t%s\t%s\t%s\n' "$(basename "$f")" "$b" "$head" "$acc" "$auc"
		done
	done
done
