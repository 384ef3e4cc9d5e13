#!/bin/sh
# results_table.sh - one Markdown row per experiment of a covid-ct.mk run, from the
# metrics.json that ct-score wrote there (test split; 95% bootstrap intervals).
# Usage: scripts/results_table.sh OUT/EXP... 
set -eu
printf '| experiment | accuracy | AUC | F1 | sensitivity | specificity | threshold (val) |\n'
printf '|---|---|---|---|---|---|---|\n'
for e in "$@"; do
	j=$(tr -d ' \n\t' <"$e/metrics.json")
	m() { # metric value [lo, hi]
		printf '%s' "$j" | grep -o "\"$1\":{\"value\":[0-9.e-]*,\"ci\":\[[0-9.e-]*,[0-9.e-]*\]" | head -n 1 |
			sed 's/.*"value":\([0-9.e-]*\),"ci":\[\([0-9.e-]*\),\([0-9.e-]*\)\]/\1 \2 \3/' |
			awk '{ printf "%.3f [%.3f, %.3f]", $1, $2, $3 }'
	}
	t=$(printf '%s' "$j" | grep -o '"threshold":{"value":[0-9.e-]*' | head -n 1 | sed 's/.*://')
	split=$(printf '%s' "$j" | grep -o '"split":"[a-z]*"' | head -n 1 | sed 's/.*:"\(.*\)"/\1/')
	[ "$split" = test ] || { echo "results_table: '$e': metrics are on split '$split', not test" >&2; exit 1; }
	printf '| %s | %s | %s | %s | %s | %s | %.3f |\n' "$(basename "$e")" "$(m accuracy)" "$(m auc)" "$(m f1)" \
		"$(m recall)" "$(m specificity)" "$t"
done
