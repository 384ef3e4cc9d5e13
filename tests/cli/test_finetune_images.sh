#!/bin/sh
# test_finetune_images.sh - ct-score MODEL IMAGES.h5 for a fine-tuned model: the backbone runs
# from the images to the cut with the pretrained weights, then the stored layers, pooling and
# head; the probabilities equal those of ct-features --cut + ct-score MODEL CUT.h5 (bit for bit,
# or within 1e-6), with --weights, CT_WEIGHTS_DIR or another batch size. Refused with one line:
# images prepared otherwise (another --fit), of another size, weights of another sha256, no
# weights on the search path; --weights with a head-only model is a usage error.
. "$(dirname "$0")/lib.sh"
d=$T_DIR
PY=/usr/bin/python3
ct-phantom -o "$d/ph" --patients 8 --slices-per-patient 2 --size 96 --seed 5 >/dev/null 2>&1
ok "phantom images converted at 224 and split" sh -c '
	cd "$1" && ct-convert ph --size 224 -o i.h5 -q && ct-split i.h5 -o s.h5 --fractions 0.5,0.25,0.25 -q' sh "$d"
ok "synthetic MobileNetV2 weights" ct-weights synth -b mobilenet_v2 -o "$d/mnv2.h5" -q
ok "cut at block_15_add and fine-tuned (the last of 2 joint epochs kept)" sh -c '
	cd "$1" && ct-features -b mobilenet_v2 -w mnv2.h5 --cut block_15_add s.h5 -o c.h5 -q &&
	ct-finetune --finetune c.h5 --weights mnv2.h5 -o ft.h5 --epochs 2 --hidden 16 --backbone-lr 1e-4 --batch 4 \
		--val-fraction 0 -q' sh "$d"
status 0 "ct-score scores the cut file" ct-score "$d/ft.h5" "$d/c.h5" --split all --bootstrap 0 -o "$d/cut.h5" \
	--tsv "$d/cut.tsv"
status 0 "ct-score scores the images file itself (--weights)" ct-score "$d/ft.h5" "$d/s.h5" -w "$d/mnv2.h5" \
	--split all --bootstrap 0 -o "$d/img.h5" --tsv "$d/img.tsv"
# max |p_images - p_cut| over every row and class, from the two scores files
maxdiff() {
	"$PY" -c 'import h5py, numpy as np, sys
a = h5py.File(sys.argv[1])["probabilities"][...]; b = h5py.File(sys.argv[2])["probabilities"][...]
assert a.shape == b.shape and a.shape[0] == 16, (a.shape, b.shape)
print(float(np.abs(a.astype(np.float64) - b).max()))' "$1" "$2"
}
if "$PY" -c 'import h5py' 2>/dev/null; then
	e=$(maxdiff "$d/cut.h5" "$d/img.h5")
	t_report "$(awk -v e="$e" 'BEGIN { print (e != "" && e <= 1e-6) ? 0 : 1 }')" \
		"the probabilities from the images equal those from the cut file (max |d| = $e <= 1e-6)"
else
	echo "ok $((T_N += 1)) # skip /usr/bin/python3 with h5py is needed to compare the scores"
fi
ok "... and so do the TSVs (names, splits, labels, probabilities to 9 digits, predictions)" cmp "$d/cut.tsv" "$d/img.tsv"
ok "... and the probabilities vary between images (the check is not vacuous)" sh -c '
	[ "$(cut -f 4 "$1" | sort -u | wc -l)" -gt 8 ]' sh "$d/img.tsv"
mkdir -p "$d/wd"
cp "$d/mnv2.h5" "$d/wd/mobilenet_v2.h5"
status 0 "the weights are found through CT_WEIGHTS_DIR, with another batch size" env CT_WEIGHTS_DIR="$d/wd" \
	ct-score "$d/ft.h5" "$d/s.h5" --split all --bootstrap 0 --batch 3 --tsv "$d/img3.tsv"
ok "... with the same TSV" cmp "$d/cut.tsv" "$d/img3.tsv"

ct-convert "$d/ph" --size 224 --fit pad -o "$d/pad.h5" -q
status 1 "images prepared otherwise (--fit pad) are refused (1)" ct-score "$d/ft.h5" "$d/pad.h5" -w "$d/mnv2.h5" -o "$d/bad.h5"
err_has "images prepared with '--fit pad'" "... naming the difference"
err_one_line "... in one line"
ct-convert "$d/ph" --size 128 -o "$d/small.h5" -q
status 1 "images of another size are refused (1)" ct-score "$d/ft.h5" "$d/small.h5" -w "$d/mnv2.h5" -o "$d/bad.h5"
err_has "convert them with --size 224" "... saying which size"
ct-weights synth -b inception_v3 -o "$d/other.h5" -q
status 1 "weights of another sha256 are refused (1)" ct-score "$d/ft.h5" "$d/s.h5" -w "$d/other.h5" -o "$d/bad.h5"
err_has "was fine-tuned from mobilenet_v2 weights" "... naming the weights the model needs"
err_one_line "... in one line"
status 1 "no weights on the search path is refused (1)" env CT_WEIGHTS_DIR="$d/none" XDG_DATA_HOME="$d/none" \
	ct-score "$d/ft.h5" "$d/s.h5" -o "$d/bad.h5"
err_has "no weights for 'mobilenet_v2'" "... saying where it looked"
ok "no output is left by the failures" test ! -e "$d/bad.h5"
ok "a head-only model" ct-finetune "$d/c.h5" -o "$d/head.h5" --epochs 3 -q
status 2 "--weights with a model without fine-tuned layers is a usage error (2)" \
	ct-score "$d/head.h5" "$d/c.h5" -w "$d/mnv2.h5"
status 1 "a head-only model refuses an images file (1)" ct-score "$d/head.h5" "$d/s.h5"
err_has "expected 'features'" "... saying it needs features"
echo "1..$T_N"
[ "$T_FAILS" -eq 0 ]
