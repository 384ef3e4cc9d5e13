#!/bin/sh
# test_pipeline.sh - pipelines/covid-ct.mk end to end on phantom data with synthetic weights:
# outputs, no-op reruns, incremental reruns after a parameter change, and predict.mk.
. "$(dirname "$0")/lib.sh"
D=$T_DIR
top=$T_TOP
bin=$(dirname "$(command -v ct-convert)")
ct-phantom -o "$D/ph" --patients 12 --slices-per-patient 2 --size 96 --seed 4 --split-dir "$D/split" -q \
	>/dev/null 2>&1 || ct-phantom -o "$D/ph" --patients 12 --slices-per-patient 2 --size 96 --seed 4 \
	--split-dir "$D/split" >/dev/null 2>&1
mkdir -p "$D/w"
ct-weights synth --backbone mobilenet_v2 -o "$D/w/mobilenet_v2.h5" -q
ct-weights synth --backbone inception_v3 -o "$D/w/inception_v3.h5" -q
pipe() {
	make --no-print-directory -f "$top/pipelines/covid-ct.mk" CTBIN="$bin" CT_WEIGHTS_DIR="$D/w" \
		DATA="$D/ph" SPLIT="$D/split" GROUPS="$D/ph/patients.tsv" OUT="$D/out" \
		BACKBONES="mobilenet_v2 inception_v3" SCORE_ARGS="--threshold youden --bootstrap 50" "$@" 2>&1
}
E=$D/out/mobilenet_v2+inception_v3
pipe AUGMENT_ARGS="--copies 1 --seed 1" FINETUNE_ARGS="--head logreg --epochs 20" -j2 >"$D/run1.log"
ok "the pipeline runs end to end" [ -s "$E/report.html" ]
ok "it writes scores, TSV and metrics JSON" sh -c "[ -s '$E/scores.h5' ] && [ -s '$E/scores.tsv' ] && grep -q '\"auc\"' '$E/metrics.json'"
ok "every stage ran once" sh -c "[ \$(grep -c '^ct-convert' '$D/run1.log') = 2 ] && [ \$(grep -c '^ct-features' '$D/run1.log') = 2 ] && grep -q '^ct-score' '$D/run1.log'"
pipe AUGMENT_ARGS="--copies 1 --seed 1" FINETUNE_ARGS="--head logreg --epochs 20" >"$D/run2.log"
ok "a rerun with nothing changed runs nothing" sh -c "! grep -q '^ct-' '$D/run2.log'"
pipe AUGMENT_ARGS="--copies 1 --seed 1" FINETUNE_ARGS="--head logreg --epochs 20" -n >"$D/dry1.log"
ok "make -n with nothing changed lists no stage" sh -c "! grep -q '^ct-' '$D/dry1.log'"
pipe AUGMENT_ARGS="--copies 1 --seed 1" FINETUNE_ARGS="--head logreg --epochs 10" -n >"$D/dry2.log"
ok "make -n after a head parameter change lists training and scoring only" sh -c "grep -q '^ct-finetune' '$D/dry2.log' && grep -q '^ct-score' '$D/dry2.log' && ! grep -q -e '^ct-features' -e '^ct-convert' -e '^ct-augment' -e '^ct-fuse' '$D/dry2.log'"
pipe AUGMENT_ARGS="--copies 1 --seed 1" FINETUNE_ARGS="--head logreg --epochs 20" OUT="$D/out3" SHARDS=3 -j2 >"$D/shards.log"
ok "SHARDS=3 gives the same images, augmented images and features (bit for bit)" sh -c "for f in images-224.h5 images-299.h5 aug-224.h5 aug-299.h5 feat-mobilenet_v2.block_10_project_BN.h5 feat-inception_v3.mixed6.h5; do /usr/bin/python3 '$top/scripts/h5_same.py' '$D/out/'\$f '$D/out3/'\$f || exit 1; done"
ok "... and the same model" /usr/bin/python3 "$top/scripts/h5_same.py" "$E/model.h5" "$D/out3/mobilenet_v2+inception_v3/model.h5"
pipe AUGMENT_ARGS="--copies 1 --seed 1" FINETUNE_ARGS="--head logreg --epochs 20" OUT="$D/out3" -n >"$D/dry3.log"
ok "make without SHARDS finds the sharded run up to date" sh -c "! grep -q '^ct-' '$D/dry3.log'"
pipe AUGMENT_ARGS="--copies 1 --seed 1" FINETUNE_ARGS="--head logreg --epochs 10" >"$D/run3.log"
ok "a head parameter reruns only training and scoring" sh -c "grep -q '^ct-finetune' '$D/run3.log' && grep -q '^ct-score' '$D/run3.log' && ! grep -q -e '^ct-features' -e '^ct-convert' -e '^ct-augment' -e '^ct-fuse' '$D/run3.log'"
pipe AUGMENT_ARGS="--copies 1 --seed 2" FINETUNE_ARGS="--head logreg --epochs 10" >"$D/run4.log"
ok "an augmentation parameter reruns augment and everything downstream, not convert" sh -c "[ \$(grep -c '^ct-augment' '$D/run4.log') = 2 ] && [ \$(grep -c '^ct-features' '$D/run4.log') = 2 ] && grep -q '^ct-score' '$D/run4.log' && ! grep -q '^ct-convert' '$D/run4.log'"
pipe AUGMENT_ARGS="--copies 1 --seed 2" FINETUNE_ARGS="--head logreg --epochs 10" LAYER_mobilenet_v2=block_13_project_BN >"$D/run5.log"
ok "a layer change reruns that backbone's features only" sh -c "[ \$(grep -c '^ct-features' '$D/run5.log') = 1 ] && grep -q 'ct-features --backbone mobilenet_v2' '$D/run5.log'"
pipe AUGMENT=0 AUGMENT_ARGS="--copies 1 --seed 2" FINETUNE_ARGS="--head logreg --epochs 10" LAYER_mobilenet_v2=block_13_project_BN >"$D/run6.log"
ok "AUGMENT=0 is a separate experiment" sh -c "[ -s '$D/out/mobilenet_v2+inception_v3-noaug/report.html' ] && [ -s '$E/report.html' ]"
ok "ct-info shows the whole chain in the model" sh -c "ct-info '$E/model.h5' | grep -q 'ct-augment' && ct-info '$E/model.h5' | grep -q 'ct-fuse'"
pipe TTA=1 AUGMENT_ARGS="--copies 1 --seed 2" FINETUNE_ARGS="--head logreg --epochs 10" LAYER_mobilenet_v2=block_13_project_BN >"$D/run7.log"
T=$D/out/mobilenet_v2+inception_v3-tta
ok "TTA=1 is a separate experiment: copies of every split, scored with --tta" sh -c "[ -s '$T/report.html' ] &&
	grep -q '^ct-augment .* --all ' '$D/run7.log' && grep -q '^ct-score .* --tta ' '$D/run7.log' && grep -q '\"tta_copies\":[[:space:]]*[1-9]' '$T/metrics.json'"
ok "... its head is the head trained on the train copies alone" sh -c "
	ct-score '$E/model.h5' '$D/out/mobilenet_v2+inception_v3-noaug/fused.h5' --split all --bootstrap 0 --tsv '$D/h1.tsv' >/dev/null 2>&1 &&
	ct-score '$T/model.h5' '$D/out/mobilenet_v2+inception_v3-noaug/fused.h5' --split all --bootstrap 0 --tsv '$D/h2.tsv' >/dev/null 2>&1 &&
	cmp '$D/h1.tsv' '$D/h2.tsv'"
ok "... its scores hold the original images only" sh -c "[ \$(wc -l <'$T/scores.tsv') = \$(wc -l <'$D/h1.tsv') ] && ! grep -q '#aug' '$T/scores.tsv'"
ok "predict.mk refuses the TTA=1 experiment, naming the one without TTA" sh -c "! make --no-print-directory -f '$top/pipelines/predict.mk' \
	CTBIN='$bin' MODEL_DIR='$T' IMAGES='$D/ph' PRED='$D/predtta' >'$D/predtta.log' 2>&1 &&
	grep -q 'is a TTA=1 experiment.*MODEL_DIR=$D/out/mobilenet_v2+inception_v3)' '$D/predtta.log' && [ ! -e '$D/predtta' ]"
ok "TTA=1 with AUGMENT=0 is refused, saying why" sh -c "! make --no-print-directory -f '$top/pipelines/covid-ct.mk' DATA='$D/ph' \
	OUT='$D/out' TTA=1 AUGMENT=0 >'$D/tta0.log' 2>&1 && grep -q 'needs AUGMENT=1' '$D/tta0.log'"
mkdir -p "$D/new"
cp "$D"/ph/normal/*_s01.png "$D/new/" 2>/dev/null
n=$(ls "$D/new" | wc -l)
make --no-print-directory -f "$top/pipelines/predict.mk" CTBIN="$bin" CT_WEIGHTS_DIR="$D/w" MODEL_DIR="$E" \
	IMAGES="$D/new" PRED="$D/pred" >"$D/pred.log" 2>&1
ok "predict.mk classifies a folder of new images ($n)" [ "$(($(wc -l <"$D/pred/predictions.tsv") - 1))" -eq "$n" ]
ok "predictions are file, probability in [0,1], a class label" awk -F'\t' 'NR > 1 && !($2 >= 0 && $2 <= 1 && ($3 == "lesion" || $3 == "normal")) { bad = 1 } NR == 1 && $1 != "file" { bad = 1 } END { exit bad }' "$D/pred/predictions.tsv"
echo "1..$T_N"
