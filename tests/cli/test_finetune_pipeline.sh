#!/bin/sh
# test_finetune_pipeline.sh - pipelines/covid-ct.mk FINETUNE=1 on phantom data with synthetic
# weights: the cut file, the fine-tuned model with its layers, scores from the cut file; the
# head-only experiment still runs beside it; a rerun with nothing changed does nothing.
# predict.mk and evaluate.mk with the fine-tuned MODEL_DIR score the converted images through
# ct-score (backbone to the cut, then the fine-tuned layers) and give the probabilities the
# experiment got from its cut file; other pretrained weights are refused.
. "$(dirname "$0")/lib.sh"
D=$T_DIR
top=$T_TOP
bin=$(dirname "$(command -v ct-convert)")
ct-phantom -o "$D/ph" --patients 10 --slices-per-patient 2 --size 96 --seed 4 --split-dir "$D/split" -q \
	>/dev/null 2>&1 || ct-phantom -o "$D/ph" --patients 10 --slices-per-patient 2 --size 96 --seed 4 \
	--split-dir "$D/split" >/dev/null 2>&1
mkdir -p "$D/w"
ct-weights synth --backbone mobilenet_v2 -o "$D/w/mobilenet_v2.h5" -q
pipe() {
	make --no-print-directory -f "$top/pipelines/covid-ct.mk" CTBIN="$bin" CT_WEIGHTS_DIR="$D/w" \
		DATA="$D/ph" SPLIT="$D/split" GROUPS="$D/ph/patients.tsv" OUT="$D/out" AUGMENT=0 \
		BACKBONES="mobilenet_v2" CUT_mobilenet_v2=block_15_add SCORE_ARGS="--threshold youden --bootstrap 50" \
		FINETUNE_ARGS="--head logreg --epochs 5" FT_ARGS="--head mlp --hidden 16 --epochs 2 --batch 8" "$@" 2>&1
}
F=$D/out/ft-mobilenet_v2-noaug
pipe FINETUNE=1 -j2 >"$D/run1.log"
ok "FINETUNE=1 runs end to end" [ -s "$F/report.html" ]
ok "... from the cut file" [ -s "$D/out/cut-mobilenet_v2.block_15_add-noaug.h5" ]
ok "... with scores and metrics" sh -c "[ -s '$F/scores.tsv' ] && grep -q '\"auc\"' '$F/metrics.json'"
ok "... and the head-only experiment beside it" [ -s "$D/out/mobilenet_v2-noaug/report.html" ]
ok "the model stores the fine-tuned layers" sh -c "/usr/bin/python3 -c \"import h5py,sys; f=h5py.File(sys.argv[1]); sys.exit(0 if 'block_16_project' in f['finetune/0'] else 1)\" '$F/model.h5' 2>/dev/null || ct-info '$F/model.h5' | grep -q finetune"
pipe FINETUNE=1 -j2 >"$D/run2.log"
ok "a rerun with nothing changed runs no tool" sh -c "! grep -q '^ct-' '$D/run2.log'"
# ---- predict.mk and evaluate.mk with the fine-tuned experiment: plain images through ct-score ----
# same_probs A B: every image of B (TSV: name col 1, probability col PB) has the probability that
# the experiment's scores.tsv A (name col 1 matched by its last KEEP path parts, col 4) gives it,
# within 1e-6; at least one image compared.
same_probs() {
	awk -F'\t' -v keep="$3" -v pb="$4" 'FNR == 1 { next }
		NR == FNR { n = $1; if (keep == 1) sub(/.*\//, "", n); p[n] = $4; next }
		{ m++; if (!($1 in p)) { bad = 1; next } d = p[$1] - $pb; if (d < 0) d = -d; if (d > 1e-6) bad = 1 }
		END { exit bad || m == 0 }' "$1" "$2"
}
mkdir -p "$D/new"
cp "$D"/ph/lesion/*_s01.png "$D"/ph/normal/*_s01.png "$D/new/"
n=$(ls "$D/new" | wc -l)
make --no-print-directory -f "$top/pipelines/predict.mk" CTBIN="$bin" CT_WEIGHTS_DIR="$D/w" MODEL_DIR="$F" \
	IMAGES="$D/new" PRED="$D/pred" >"$D/pred.log" 2>&1
ok "predict.mk classifies new images with the fine-tuned model ($n)" \
	[ "$(($(wc -l <"$D/pred/predictions.tsv" 2>/dev/null || echo 0) - 1))" -eq "$n" ]
ok "... scoring the converted images themselves (no features extracted)" \
	sh -c "grep -q '^ct-score .*/images-224.h5' '$D/pred.log' && ! grep -q '^ct-features' '$D/pred.log'"
ok "... with the probabilities the experiment got from its cut file" same_probs "$F/scores.tsv" "$D/pred/predictions.tsv" 1 2
make --no-print-directory -f "$top/pipelines/evaluate.mk" CTBIN="$bin" CT_WEIGHTS_DIR="$D/w" MODEL_DIR="$F" \
	DATA="$D/ph" OUT="$D/eval" SCORE_ARGS="--bootstrap 50" >"$D/eval.log" 2>&1
ok "evaluate.mk evaluates the fine-tuned model on a labelled folder" \
	sh -c "[ -s '$D/eval/metrics.json' ] && [ -s '$D/eval/report.html' ] && ! grep -q '^ct-features' '$D/eval.log'"
nall=$(find "$D/ph" -name '*.png' | wc -l)
ok "... every image labelled and scored ($nall)" grep -q "\"labelled\":[[:space:]]*$nall" "$D/eval/metrics.json"
ok "... with the experiment's probabilities" same_probs "$F/scores.tsv" "$D/eval/scores.tsv" 0 4
mkdir -p "$D/w2"
ct-weights synth --backbone inception_v3 -o "$D/w2/mobilenet_v2.h5" -q
make --no-print-directory -f "$top/pipelines/predict.mk" CTBIN="$bin" CT_WEIGHTS_DIR="$D/w2" MODEL_DIR="$F" \
	IMAGES="$D/new" PRED="$D/pred2" >"$D/pred2.log" 2>&1
ok "predict.mk with other pretrained weights fails, naming the weights the model needs" \
	sh -c "grep -q 'was fine-tuned from mobilenet_v2 weights' '$D/pred2.log' && [ ! -e '$D/pred2/predictions.tsv' ]"
echo "1..$T_N"
