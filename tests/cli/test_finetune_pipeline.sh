#!/bin/sh
# test_finetune_pipeline.sh - pipelines/covid-ct.mk FINETUNE=1 with one backbone on phantom data
# with synthetic weights: the cut file, the fine-tuned model with its layers (an empty
# LAYER_mobilenet_v2: up to the feature layer), scores from the cut file, in OUT/ft-mobilenet_v2;
# the head-only experiment still runs beside it; a rerun with nothing changed does nothing.
# The parameter stamps: another FT_ARGS reruns ct-finetune and ct-score only; another cut reruns
# its cut file too, and going back to a cut whose file is older than the model retrains it;
# FT_AUGMENT=1 cuts the augmented images into ft-mobilenet_v2-aug; a two-backbone
# FT_BACKBONES with xception is refused. (Two backbones: test_finetune_pipeline_fused.sh.)
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
		BACKBONES="mobilenet_v2" CUT_mobilenet_v2=block_15_add LAYER_mobilenet_v2= SCORE_ARGS="--threshold youden --bootstrap 50" \
		FINETUNE_ARGS="--head logreg --epochs 5" FT_ARGS="--head mlp --hidden 16 --epochs 2 --batch 8" "$@" 2>&1
}
F=$D/out/ft-mobilenet_v2
pipe FINETUNE=1 -j2 >"$D/run1.log"
ok "FINETUNE=1 runs end to end" [ -s "$F/report.html" ]
ok "... from the cut file" [ -s "$D/out/cut-mobilenet_v2.block_15_add-noaug.h5" ]
ok "... with scores and metrics" sh -c "[ -s '$F/scores.tsv' ] && grep -q '\"auc\"' '$F/metrics.json'"
ok "... and the head-only experiment beside it" [ -s "$D/out/mobilenet_v2-noaug/report.html" ]
ok "the model stores the fine-tuned layers" sh -c "/usr/bin/python3 -c \"import h5py,sys; f=h5py.File(sys.argv[1]); sys.exit(0 if 'block_16_project' in f['finetune/0'] else 1)\" '$F/model.h5' 2>/dev/null || ct-info '$F/model.h5' | grep -q finetune"
ok "... trained up to the feature layer (an empty LAYER_x)" sh -c "ct-info '$F/model.h5' | grep -q 'mobilenet_v2/out_relu/avg'"
pipe FINETUNE=1 -j2 >"$D/run2.log"
ok "a rerun with nothing changed runs no tool" sh -c "! grep -q '^ct-' '$D/run2.log'"
pipe FINETUNE=1 -q >/dev/null
t_report $? "... make -q agrees"
# tools_of LOG: the tool names a dry run lists, in order, one line
tools_of() { grep '^ct-[a-z]* ' "$1" | sed 's/^\(ct-[a-z]*\)\( --finetune\)\{0,1\}.*/\1\2/' | tr '\n' ' '; }
pipe FINETUNE=1 FT_ARGS="--head mlp --hidden 16 --epochs 3 --batch 8" -n >"$D/dry1.log"
[ "$(tools_of "$D/dry1.log")" = "ct-finetune --finetune ct-score " ]
t_report $? "another FT_ARGS reruns the fine-tuning and its scoring only ($(tools_of "$D/dry1.log"))"
pipe FINETUNE=1 CUT_mobilenet_v2=block_14_add -j2 >"$D/cut14.log"
[ "$(tools_of "$D/cut14.log")" = "ct-features ct-finetune --finetune ct-score " ] && grep -q -- '--cut block_14_add' "$D/cut14.log"
t_report $? "another cut reruns its cut file, the fine-tuning and the scoring ($(tools_of "$D/cut14.log"))"
pipe FINETUNE=1 -n >"$D/dry2.log"
[ "$(tools_of "$D/dry2.log")" = "ct-finetune --finetune ct-score " ]
t_report $? "... and back to the first cut (an older file) retrains without cutting again ($(tools_of "$D/dry2.log"))"
pipe FINETUNE=1 FT_AUGMENT=1 -n >"$D/dry3.log"
ok "FT_AUGMENT=1 fine-tunes on the cut maps of the augmented images, in ft-mobilenet_v2-aug" sh -c "
	grep -q '^ct-augment' '$D/dry3.log' && grep -q '^ct-features .*--cut block_15_add .*/aug-224.h5 -o .*/cut-mobilenet_v2.block_15_add.h5' '$D/dry3.log' &&
	grep -q '^ct-finetune --finetune .* -o .*/ft-mobilenet_v2-aug/model.h5' '$D/dry3.log'"
pipe FINETUNE=1 FT_BACKBONES="mobilenet_v2 xception" -n >"$D/dry4.log"
ok "xception is refused with a message" sh -c "grep -q 'xception cannot be fine-tuned' '$D/dry4.log' && ! grep -q '^ct-' '$D/dry4.log'"
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
[ "$T_FAILS" -eq 0 ]
