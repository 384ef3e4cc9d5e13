#!/bin/sh
# test_finetune_pipeline.sh - pipelines/covid-ct.mk FINETUNE=1 on phantom data with synthetic
# weights: the cut file, the fine-tuned model with its layers, scores from the cut file; the
# head-only experiment still runs beside it; a rerun with nothing changed does nothing.
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
echo "1..$T_N"
