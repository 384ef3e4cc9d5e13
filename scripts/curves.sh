#!/bin/sh
# curves.sh - learning curves (docs/results.md, "Small samples"): train a head on a share of
# the training PATIENTS and score it on the val and test splits, for every fraction and seed.
# Usage: [FRACTIONS="0.05 0.1 0.25 0.5 1"] [SEEDS="1 2 3 4 5"] [FINETUNE_ARGS="--head mlp"]
#        [SOURCES=sources.tsv [SOURCE_COLUMN=3] [STYLE_SOURCE=crawled-paper-figure]]
#        scripts/curves.sh ARM FEATURES.h5[+FEATURES2.h5...] OUT.tsv
# Several files joined by '+' (cut activations of fused backbones, with FINETUNE_ARGS="--finetune
# --output-layer ..."): each is split alike and all go to one ct-finetune and ct-score.
# For each seed S and fraction F: ct-split --train-fraction F --seed S (the same patients for
# every features file of those patients, nested across F), ct-finetune --seed S, ct-score on
# val (threshold 0.5) and on test (threshold by Youden's J on val). One TSV row per run:
#   arm fraction seed train_groups train_rows best_epoch val_acc val_auc val_style_auc
#   test_acc test_auc test_style_auc seconds
# style_auc: the AUC of every positive against the negatives of source STYLE_SOURCE (ct-score
# --sources; "-" without SOURCES). Rows already in OUT.tsv are kept and not rerun (resumable;
# the file is rewritten whole through a temporary name after each run); at the end, rows of
# other fractions or seeds are dropped. Tools on PATH.
set -eu
[ $# -eq 3 ] || { echo "usage: scripts/curves.sh ARM FEATURES.h5[+FEATURES2.h5...] OUT.tsv" >&2; exit 2; }
arm=$1 feats=$2 out=$3
FRACTIONS=${FRACTIONS:-0.05 0.1 0.25 0.5 1}
SEEDS=${SEEDS:-1 2 3 4 5}
FINETUNE_ARGS=${FINETUNE_ARGS:---head mlp}
STYLE_SOURCE=${STYLE_SOURCE:-crawled-paper-figure}
PY=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ctfuse-curves-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
header='arm	fraction	seed	train_groups	train_rows	best_epoch	val_acc	val_auc	val_style_auc	test_acc	test_auc	test_style_auc	seconds'
[ -s "$out" ] || printf '%s\n' "$header" >"$out"
# metrics JSON FILE -> "acc auc style_auc"
metrics() {
	"$PY" - "$1" "$STYLE_SOURCE" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
m = j["metrics"]
style = "-"
for s in (j.get("by_source") or {}).get("sources", []):
    if s["source"] == sys.argv[2] and s.get("negatives_vs_all_positives"):
        style = "%.4f" % s["negatives_vs_all_positives"]["auc"]["value"]
print("%.4f %.4f %s" % (m["accuracy"]["value"], m["auc"]["value"], style))
PY
}
src_args=
[ -n "${SOURCES:-}" ] && src_args="--sources $SOURCES --source-column ${SOURCE_COLUMN:-3}"
for seed in $SEEDS; do
	for f in $FRACTIONS; do
		if awk -F '\t' -v a="$arm" -v f="$f" -v s="$seed" '$1 == a && $2 == f && $3 == s { found = 1 } END { exit !found }' "$out"; then
			continue
		fi
		t0=$(date +%s)
		# one subset per file (the same patients in each: nested by seed), the first one's counts
		set --
		k=0
		rest=$feats
		while [ -n "$rest" ]; do
			feat=${rest%%+*}
			case $rest in *+*) rest=${rest#*+} ;; *) rest= ;; esac
			k=$((k + 1))
			ct-split "$feat" --train-fraction "$f" --seed "$seed" -o "$tmp/sub$k.h5" --force 2>"$tmp/split$k.err" ||
				{ cat "$tmp/split$k.err" >&2; exit 1; }
			set -- "$@" "$tmp/sub$k.h5"
		done
		groups=$(sed -n 's/.*(\([0-9]*\) of [0-9]* train groups kept).*/\1/p' "$tmp/split1.err")
		rows=$(sed -n 's/.*-> train \([0-9]*\),.*/\1/p' "$tmp/split1.err")
		# shellcheck disable=SC2086
		ct-finetune "$@" $FINETUNE_ARGS --seed "$seed" -o "$tmp/m.h5" --force 2>"$tmp/ft.err" ||
			{ cat "$tmp/ft.err" >&2; exit 1; }
		best=$(sed -n 's/.*; epoch \([0-9]*\) of .*/\1/p' "$tmp/ft.err")
		# shellcheck disable=SC2086
		ct-score "$tmp/m.h5" "$@" --split val --bootstrap 0 $src_args --json >"$tmp/val.json"
		# shellcheck disable=SC2086
		ct-score "$tmp/m.h5" "$@" --threshold youden --bootstrap 0 $src_args --json >"$tmp/test.json"
		v=$(metrics "$tmp/val.json") t=$(metrics "$tmp/test.json")
		set -- $v $t
		cp "$out" "$out.tmp.$$"
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$arm" "$f" "$seed" "$groups" "$rows" "$best" \
			"$1" "$2" "$3" "$4" "$5" "$6" "$(($(date +%s) - t0))" >>"$out.tmp.$$"
		mv -f "$out.tmp.$$" "$out"
	done
done
# Keep only this grid's rows (a rerun with fewer seeds or fractions).
awk -F '\t' -v fr=" $FRACTIONS " -v se=" $SEEDS " 'NR == 1 || (index(fr, " " $2 " ") && index(se, " " $3 " "))' \
	"$out" >"$out.tmp.$$" && mv -f "$out.tmp.$$" "$out"
