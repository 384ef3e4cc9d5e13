#!/bin/sh
# test_finetune_pipeline_fused.sh - pipelines/covid-ct.mk FINETUNE=1 with two backbones (the
# default: every backbone of BACKBONES under one fused head) on phantom data with synthetic
# weights: one cut file per backbone at its default cut (InceptionV3 mixed5, MobileNetV2
# block_9_add) of the plain images, one ct-finetune --finetune of both to the head-only
# pipeline's layers (mixed6, block_10_project_BN), scores from the two cut files in
# OUT/ft-inception_v3+mobilenet_v2; a rerun with nothing changed does nothing (make -q).
# predict.mk and evaluate.mk with that MODEL_DIR convert the images at both input sizes and give
# ct-score the two images files in the model's source order (folder names with spaces): the
# probabilities equal those the experiment got from its cut files.
. "$(dirname "$0")/lib.sh"
D=$T_DIR
top=$T_TOP
bin=$(dirname "$(command -v ct-convert)")
ct-phantom -o "$D/ph" --patients 8 --slices-per-patient 2 --size 96 --seed 4 --split-dir "$D/split" >/dev/null 2>&1
mkdir -p "$D/w"
ct-weights synth --backbone mobilenet_v2 -o "$D/w/mobilenet_v2.h5" -q
ct-weights synth --backbone inception_v3 -o "$D/w/inception_v3.h5" -q
F=$D/out/ft-inception_v3+mobilenet_v2
pipe() {
	make --no-print-directory -f "$top/pipelines/covid-ct.mk" CTBIN="$bin" CT_WEIGHTS_DIR="$D/w" \
		DATA="$D/ph" SPLIT="$D/split" GROUPS="$D/ph/patients.tsv" OUT="$D/out" \
		BACKBONES="inception_v3 mobilenet_v2" SCORE_ARGS="--threshold youden --bootstrap 50" \
		FT_ARGS="--head mlp --hidden 8 --epochs 2 --batch 8 --backbone-lr 1e-3" FINETUNE=1 "$@" 2>&1
}
# the fine-tuned experiment alone (the head-only one beside it: test_finetune_pipeline.sh)
pipe -j2 "$F/report.html" >"$D/run1.log"
ok "FINETUNE=1 with two backbones runs end to end (report, metrics)" \
	sh -c "[ -s '$F/report.html' ] && grep -q '\"auc\"' '$F/metrics.json' && [ -s '$F/scores.tsv' ]"
ok "... from one cut file per backbone at its default cut, of the plain images" sh -c "
	[ -s '$D/out/cut-inception_v3.mixed5-noaug.h5' ] && [ -s '$D/out/cut-mobilenet_v2.block_9_add-noaug.h5' ] &&
	! grep -q '^ct-augment' '$D/run1.log'"
ok "... fine-tuned by one ct-finetune --finetune of both, to the head-only layers" grep -q \
	"^ct-finetune --finetune .*/cut-inception_v3.mixed5-noaug.h5 .*/cut-mobilenet_v2.block_9_add-noaug.h5 --output-layer mixed6,block_10_project_BN --weights .*/inception_v3.h5,.*/mobilenet_v2.h5" \
	"$D/run1.log"
ok "... scored with the shortcut audit, as the head-only experiment (AUDIT=1)" sh -c "
	grep -q -- '--audit .*/images-224.h5' '$D/run1.log' && tr -d ' \n\t' <'$F/metrics.json' | grep -q '\"margin\":'"
ok "the model's blocks are the two sources in order" sh -c "
	ct-info '$F/model.h5' | grep -A2 '^blocks:' | awk 'NR == 2 { a = \$1 } NR == 3 { b = \$1 }
		END { exit !(a == \"inception_v3/mixed6/avg\" && b == \"mobilenet_v2/block_10_project_BN/avg\") }'"
ok "... with the layers above each cut stored (finetune/0: mixed6, finetune/1: block_10)" \
	/usr/bin/python3 -c "import h5py, sys
f = h5py.File(sys.argv[1])['finetune']
n0 = [x.decode() if isinstance(x, bytes) else x for x in f['0'].attrs['layer_names']]
n1 = [x.decode() if isinstance(x, bytes) else x for x in f['1'].attrs['layer_names']]
assert any(n.startswith('conv2d_') for n in n0) and not any(n.startswith('block_') for n in n0), n0
assert n1 and all(n.startswith('block_10_') for n in n1), n1" "$F/model.h5"
pipe -q "$F/report.html" >"$D/q.log"
t_report $? "a rerun with nothing changed has nothing to do (make -q)"
pipe -n "$F/report.html" >"$D/n.log"
ok "... and make -n lists no tool" sh -c "! grep -q '^ *ct-' '$D/n.log'"

# The fine-tuned arm of the learning curves (pipelines/curves.mk fused-ft-noaug): curves.sh
# with the two cut files joined by '+' splits both alike and fine-tunes over both.
ok "scripts/curves.sh A.h5+B.h5: the fused fine-tuned arm, 2 fractions" env FRACTIONS="0.5 1" SEEDS="1" \
	FINETUNE_ARGS="--finetune --output-layer mixed6,block_10_project_BN --weights $D/w/inception_v3.h5,$D/w/mobilenet_v2.h5 --head mlp --hidden 8 --epochs 1 --batch 8" \
	sh "$top/scripts/curves.sh" ft "$D/out/cut-inception_v3.mixed5-noaug.h5+$D/out/cut-mobilenet_v2.block_9_add-noaug.h5" "$D/curves.tsv" 2>"$D/curves.err"
ok "... one row per fraction, fewer train rows at 0.5, metrics in [0, 1]" awk -F '\t' '
	NR > 1 { n++; r[$2] = $5; for (i = 7; i <= 11; i++) if (i != 9 && ($i < 0 || $i > 1 || $i == "")) bad = 1 }
	END { exit !(n == 2 && !bad && r[0.5] > 0 && r[0.5] < r[1]) }' "$D/curves.tsv"
ok "... at 100% every train row of the cut files" /usr/bin/python3 -c "import h5py, sys, csv
f = h5py.File(sys.argv[1])
n = sum(1 for x in f['splits'][:] if (x.decode() if isinstance(x, bytes) else x) == 'train')
r = [r for r in csv.DictReader(open(sys.argv[2]), delimiter='\t') if r['fraction'] == '1']
sys.exit(not (len(r) == 1 and int(r[0]['train_rows']) == n))" "$D/out/cut-mobilenet_v2.block_9_add-noaug.h5" "$D/curves.tsv"

# ---- predict.mk and evaluate.mk with the fused fine-tuned experiment ----
# same_probs A B KEEP PB: every image of B (TSV: name col 1, probability col PB) has the
# probability the experiment's scores.tsv A (name col 1, probability col 4) gives it, within
# 1e-6 (KEEP=1: names compared by their file name); at least 4 images compared.
same_probs() {
	awk -F'\t' -v keep="$3" -v pb="$4" 'FNR == 1 { next }
		{ n = $1; if (keep == 1) sub(/.*\//, "", n) }
		NR == FNR { p[n] = $4; next }
		{ m++; if (!(n in p)) { bad = 1; next } d = p[n] - $pb; if (d < 0) d = -d; if (d > 1e-6) bad = 1 }
		END { exit bad || m < 4 }' "$1" "$2"
}
# the test split's images, in folders whose names have spaces
mkdir -p "$D/new scans/sub dir"
awk -F'\t' 'NR > 1 && $2 == "test" { print $1 }' "$F/scores.tsv" >"$D/test.list"
while read -r n; do cp "$D/ph/$n" "$D/new scans/sub dir/"; done <"$D/test.list"
nt=$(wc -l <"$D/test.list")
make --no-print-directory -f "$top/pipelines/predict.mk" CTBIN="$bin" CT_WEIGHTS_DIR="$D/w" MODEL_DIR="$F" \
	IMAGES="$D/new scans" PRED="$D/pred" >"$D/pred.log" 2>&1
ok "predict.mk classifies the test split's images with the fused fine-tuned model ($nt)" \
	[ "$(($(wc -l <"$D/pred/predictions.tsv" 2>/dev/null || echo 0) - 1))" -eq "$nt" ]
ok "... giving ct-score the images at 299 and 224, in the model's source order (no features)" \
	sh -c "grep -q '^ct-score .*/images-299.h5 .*/images-224.h5 ' '$D/pred.log' && ! grep -q '^ct-features' '$D/pred.log'"
ok "... with the probabilities the experiment got from its cut files" same_probs "$F/scores.tsv" "$D/pred/predictions.tsv" 1 2
make --no-print-directory -f "$top/pipelines/evaluate.mk" CTBIN="$bin" CT_WEIGHTS_DIR="$D/w" MODEL_DIR="$F" \
	DATA="$D/ph" OUT="$D/eval" SCORE_ARGS="--bootstrap 50" >"$D/eval.log" 2>&1
ok "evaluate.mk evaluates the fused fine-tuned model on a labelled folder" \
	sh -c "[ -s '$D/eval/metrics.json' ] && [ -s '$D/eval/report.html' ] && ! grep -q '^ct-features' '$D/eval.log'"
nall=$(find "$D/ph" -name '*.png' | wc -l)
ok "... every image labelled and scored ($nall)" grep -q "\"labelled\":[[:space:]]*$nall" "$D/eval/metrics.json"
ok "... with the experiment's probabilities" same_probs "$F/scores.tsv" "$D/eval/scores.tsv" 0 4
# ct-finetune --weights ",B": an empty item is the search path for that source (as ct-score);
# here the search path holds only InceptionV3's weights, so giving source 1 B would fail.
mkdir -p "$D/wi" && cp "$D/w/inception_v3.h5" "$D/wi/"
# (ok, not status: status writes T_DIR/out, the pipeline's output folder here)
ok "ct-finetune --weights ',MNV2': source 1 from the search path, source 2 from the list" \
	env CT_WEIGHTS_DIR="$D/wi" ct-finetune --finetune "$D/out/cut-inception_v3.mixed5-noaug.h5" \
	"$D/out/cut-mobilenet_v2.block_9_add-noaug.h5" --output-layer mixed6,block_10_project_BN \
	--weights ",$D/w/mobilenet_v2.h5" --head mlp --hidden 8 --epochs 1 --batch 8 -o "$D/wlist.h5" -q
echo "1..$T_N"
[ "$T_FAILS" -eq 0 ]
