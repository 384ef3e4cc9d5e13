#!/bin/sh
# test_finetune_images.sh - ct-score MODEL IMAGES.h5 for a fine-tuned model: the backbone runs
# from the images to the cut with the pretrained weights, then the stored layers, pooling and
# head; the probabilities equal those of ct-features --cut + ct-score MODEL CUT.h5 (bit for bit,
# or within 1e-6), with --weights, CT_WEIGHTS_DIR or another batch size. Refused with one line:
# images prepared otherwise (another --fit), of another size, weights of another sha256, no
# weights on the search path; --weights with a head-only model is a usage error.
# ct-weights export-onnx --model: the backbone with the fine-tuned layers merged in, run by ONNX
# Runtime (scripts/ort; skipped without node_modules), gives the features our engine gives with
# the weights merged independently (h5py), within 1e-4, and not the pretrained ones; refusals.
. "$(dirname "$0")/lib.sh"
d=$T_DIR
PY=/usr/bin/python3
ct-phantom -o "$d/ph" --patients 8 --slices-per-patient 2 --size 96 --seed 5 >/dev/null 2>&1
ok "phantom images converted at 224 and split" sh -c '
	cd "$1" && ct-convert ph --size 224 -o i.h5 -q && ct-split i.h5 -o s.h5 --fractions 0.5,0.25,0.25 -q' sh "$d"
ok "synthetic MobileNetV2 weights" ct-weights synth -b mobilenet_v2 -o "$d/mnv2.h5" -q
ok "cut at block_15_add and fine-tuned (the last of 3 joint epochs kept)" sh -c '
	cd "$1" && ct-features -b mobilenet_v2 -w mnv2.h5 --cut block_15_add s.h5 -o c.h5 -q &&
	ct-finetune --finetune c.h5 --weights mnv2.h5 -o ft.h5 --epochs 3 --hidden 16 --backbone-lr 1e-2 --batch 4 \
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
# merge.py WEIGHTS MODEL OUT [back]: WEIGHTS with MODEL's /finetune/0 tensors put in (matched by
# layer and short weight name, independently of lib/train/ft_apply.c); "back": MODEL with the
# WEIGHTS' values put into its /finetune/0 instead (a model whose stored layers are pretrained).
cat >"$d/merge.py" <<'PY'
import h5py, shutil, sys
base, model, out = sys.argv[1:4]
back = len(sys.argv) > 4
shutil.copy(model if back else base, out)
def s(x): return x.decode() if isinstance(x, bytes) else x
def short(n): return n.split('/')[-1].split(':')[0]
o = h5py.File(out, 'a')
b = o if not back else h5py.File(base, 'r')
ft = (h5py.File(model, 'r') if not back else o)['finetune/0']
for l in map(s, ft.attrs['layer_names']):
    names = {short(s(w)): s(w) for w in b[l].attrs['weight_names']}
    for w in map(s, ft[l].attrs['weight_names']):
        if back:
            ft[l][w][...] = b[l][names[short(w)]][...]
        else:
            b[l][names[short(w)]][...] = ft[l][w][...]
o.close()
PY
if "$PY" -c 'import h5py' 2>/dev/null; then
	"$PY" "$d/merge.py" "$d/mnv2.h5" "$d/ft.h5" "$d/ftpre.h5" back
	CT_NO_VERIFY=1 ct-score "$d/ftpre.h5" "$d/s.h5" -w "$d/mnv2.h5" --split all --bootstrap 0 --tsv "$d/pre.tsv" >/dev/null 2>&1
	ok "the stored layers make the difference: with pretrained values in their place the scores change" \
		sh -c '[ -s "$1" ] && ! cmp -s "$1" "$2"' sh "$d/pre.tsv" "$d/img.tsv"
else
	echo "ok $((T_N += 1)) # skip /usr/bin/python3 with h5py is needed to rewrite the model"
fi
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
# a copy of the tool outside the checkout: the checkout's weights/ (make weights) is on the
# search path of the tools in bin/
mkdir -p "$d/nobin" && cp "$(command -v ct-score)" "$d/nobin/ct-score"
status 1 "no weights on the search path is refused (1)" env CT_WEIGHTS_DIR="$d/none" XDG_DATA_HOME="$d/none" \
	"$d/nobin/ct-score" "$d/ft.h5" "$d/s.h5" -o "$d/bad.h5"
err_has "no weights for 'mobilenet_v2'" "... saying where it looked"
ok "no output is left by the failures" test ! -e "$d/bad.h5"
ok "a head-only model" ct-finetune "$d/c.h5" -o "$d/head.h5" --epochs 3 -q
# ---- ct-weights export-onnx --model: the backbone with the fine-tuned layers merged in ----
status 0 "export-onnx --model exports the fine-tuned backbone" ct-weights export-onnx --model "$d/ft.h5" -w "$d/mnv2.h5" \
	-o "$d/ft.onnx"
err_has "outputs out_relu pooled avg.*with the fine-tuned layers of" "... to the model's output layer, and says so"
ok "... and the same export gives the same bytes" sh -c '
	ct-weights export-onnx --model "$1" -w "$2" -q -o - | cmp -s - "$3"' sh "$d/ft.h5" "$d/mnv2.h5" "$d/ft.onnx"
status 1 "... refuses weights of another sha256 (1)" ct-weights export-onnx --model "$d/ft.h5" -w "$d/other.h5" -o "$d/bad.onnx"
err_one_line "... in one line"
status 1 "... refuses a model without fine-tuned layers (1)" ct-weights export-onnx --model "$d/head.h5" -w "$d/mnv2.h5" \
	-o "$d/bad.onnx"
status 2 "--model with another --backbone is a usage error (2)" ct-weights export-onnx --model "$d/ft.h5" -b inception_v3 \
	-w "$d/mnv2.h5" -o "$d/bad.onnx"
status 2 "--model with --synthetic is a usage error (2)" ct-weights export-onnx --model "$d/ft.h5" --synthetic -o "$d/bad.onnx"
ok "no ONNX output is left by the failures" test ! -e "$d/bad.onnx"
# ONNX Runtime on the images vs our engine with the weights merged by merge.py (independent of ours)
ort_js=$T_TOP/scripts/ort/ort_run.js
skip=$(ort_skip)
"$PY" -c 'import h5py' 2>/dev/null || skip="${skip:-/usr/bin/python3 with h5py needed}"
if [ -z "$skip" ]; then
	"$PY" "$d/merge.py" "$d/mnv2.h5" "$d/ft.h5" "$d/merged.h5"
	CT_NO_VERIFY=1 ct-features -b mobilenet_v2 -w "$d/merged.h5" "$d/s.h5" -o "$d/mf.h5" -q
	ct-features -b mobilenet_v2 -w "$d/mnv2.h5" "$d/s.h5" -o "$d/pf.h5" -q
	"$PY" -c 'import h5py, numpy as np, sys
d = sys.argv[1]
im = h5py.File(d + "/s.h5", "r")["images"][...]
(im.astype(np.float32) / np.float32(127.5) - np.float32(1)).astype(np.float32).tofile(d + "/in.f32")
for n in ("mf", "pf"):
    h5py.File(d + "/" + n + ".h5", "r")["features"][...].astype(np.float32).tofile(d + "/" + n + ".f32")' "$d"
	node "$ort_js" "$d/ft.onnx" --threads 2 --input "$d/in.f32" --compare "$d/mf.f32" --tol 1e-4 >"$d/ort" 2>&1
	t_report $? "ONNX Runtime on the exported model gives the fine-tuned features of our engine (max rel <= 1e-4)"
	grep '^compare' "$d/ort" | sed 's/^/# /'
	node "$ort_js" "$d/ft.onnx" --threads 2 --input "$d/in.f32" --compare "$d/pf.f32" --tol 1e-4 >"$d/ort2" 2>&1
	grep -q '^compare .* FAIL' "$d/ort2"
	t_report $? "... and not the pretrained backbone's (the check is not vacuous)"
else
	echo "ok $((T_N += 1)) # skip ONNX Runtime check: $skip"
	echo "ok $((T_N += 1)) # skip ONNX Runtime check: $skip"
fi

status 2 "--weights with a model without fine-tuned layers is a usage error (2)" \
	ct-score "$d/head.h5" "$d/c.h5" -w "$d/mnv2.h5"
status 1 "a head-only model refuses an images file (1)" ct-score "$d/head.h5" "$d/s.h5"
err_has "expected 'features'" "... saying it needs features"

# --output-layer: only the layers from the cut to that layer train, and the head reads it.
ok "cut at block_13_project_BN, fine-tuned to --output-layer block_14_add" sh -c '
	cd "$1" && ct-features -b mobilenet_v2 -w mnv2.h5 --cut block_13_project_BN s.h5 -o c13.h5 -q &&
	ct-finetune --finetune c13.h5 --output-layer block_14_add --weights mnv2.h5 -o ft14.h5 --epochs 3 --hidden 16 \
		--backbone-lr 1e-2 --batch 4 --val-fraction 0 -q' sh "$d"
if "$PY" -c 'import h5py' 2>/dev/null; then
	ok "... the model stores block_14's layers only, and output_layer block_14_add" "$PY" -c '
import h5py, sys
g = h5py.File(sys.argv[1])["finetune/0"]
names = [x.decode() if isinstance(x, bytes) else x for x in g.attrs["layer_names"]]
out = g.attrs["output_layer"]; out = out.decode() if isinstance(out, bytes) else out
assert out == "block_14_add", out
assert names and all(n.startswith("block_14_") for n in names), names' "$d/ft14.h5"
else
	echo "ok $((T_N += 1)) # skip /usr/bin/python3 with h5py is needed to read the model"
fi
ok "... its head reads 160 features (block_14_add), not out_relu's 1280" sh -c '
	ct-info "$1" | grep -q "mobilenet_v2/block_14_add/avg"' sh "$d/ft14.h5"
ok "... and ct-score gives the same probabilities from the images as from the cut file" sh -c '
	ct-score "$1/ft14.h5" "$1/c13.h5" --split all --bootstrap 0 --tsv "$1/c14.tsv" >/dev/null &&
	ct-score "$1/ft14.h5" "$1/s.h5" -w "$1/mnv2.h5" --split all --bootstrap 0 --tsv "$1/i14.tsv" >/dev/null &&
	cmp "$1/c14.tsv" "$1/i14.tsv"' sh "$d"
status 2 "--output-layer without --finetune is a usage error (2)" ct-finetune "$d/c13.h5" --output-layer block_14_add -o "$d/u.h5"
status 1 "an --output-layer before the cut is refused (1)" \
	ct-finetune --finetune "$d/c13.h5" --output-layer block_12_add --weights "$d/mnv2.h5" -o "$d/u.h5"
err_has "layer 'block_12_add' does not come after the cut 'block_13_project_BN'" "... naming both layers"
status 1 "two --output-layer items for one cut file are refused (1)" \
	ct-finetune --finetune "$d/c13.h5" --output-layer block_14_add,block_15_add --weights "$d/mnv2.h5" -o "$d/u.h5"
err_has "names 2 layers for 1 cut file" "... saying so"
status 1 "two --weights items for one cut file are refused (1)" \
	ct-finetune --finetune "$d/c13.h5" --weights "$d/mnv2.h5,$d/mnv2.h5" -o "$d/u.h5"
err_has "names 2 files for 1 cut file" "... saying so"
ok "... and no output is left" test ! -e "$d/u.h5"
echo "1..$T_N"
[ "$T_FAILS" -eq 0 ]
