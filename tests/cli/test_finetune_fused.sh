#!/bin/sh
# test_finetune_fused.sh - ct-score of a model that fine-tunes two backbones with one fused head
# (ct-finetune --finetune CUT_A CUT_B): MobileNetV2 twice, cut at block_13_project_BN (trained to
# block_14_add) and at block_14_add (trained to block_15_add), synthetic weights, 3 joint epochs.
# ct-score MODEL IN_1 IN_2 takes one input per source, each a cut file or the images file; all
# four combinations give the same probabilities (within 1e-6, the TSVs bit for bit), and they
# equal an independent reconstruction: each source's stored layers merged into the weights by
# h5py, whole-network features at its output layer (ct-features), ct-fuse, and the model's head
# alone (within 1e-5: another engine path); the pretrained weights there give other scores.
# Refused: inputs in the wrong order (1, naming the file and the source), a wrong number of
# inputs (2), inputs of other samples (1, naming both files), a head-only model with two inputs
# (2), --weights lists longer than the sources (2); no output is left.
# ct-weights export-onnx --model of the two sources: --source K exports source K, whose
# initializers equal those of the weights with that source merged in by h5py (ONNX Runtime on
# it when scripts/ort is set up); without a choice, or a --backbone two sources share: usage error.
. "$(dirname "$0")/lib.sh"
d=$T_DIR
PY=/usr/bin/python3
ct-phantom -o "$d/ph" --patients 8 --slices-per-patient 2 --size 96 --seed 5 >/dev/null 2>&1
# no val split: --val-fraction 0 then trains fixed epochs and keeps the last (the stored layers
# differ from the pretrained ones, so the checks below are not vacuous)
ok "phantom images converted at 224 and split (train/test)" sh -c '
	cd "$1" && ct-convert ph --size 224 -o i.h5 -q && ct-split i.h5 -o s.h5 --fractions 0.75,0,0.25 -q' sh "$d"
ok "synthetic MobileNetV2 weights" ct-weights synth -b mobilenet_v2 -o "$d/mnv2.h5" -q
ok "cut at block_13_project_BN and at block_14_add" sh -c '
	cd "$1" && ct-features -b mobilenet_v2 -w mnv2.h5 --cut block_13_project_BN s.h5 -o c13.h5 -q &&
	ct-features -b mobilenet_v2 -w mnv2.h5 --cut block_14_add s.h5 -o c14.h5 -q' sh "$d"
status 0 "two sources fine-tuned jointly with one head" ct-finetune --finetune "$d/c13.h5" "$d/c14.h5" \
	--output-layer block_14_add,block_15_add --weights "$d/mnv2.h5,$d/mnv2.h5" -o "$d/ft.h5" --epochs 3 --hidden 16 \
	--backbone-lr 1e-2 --batch 4 --val-fraction 0
err_has "joint epoch 3 of 3 kept" "... the last joint epoch kept"

status 0 "ct-score MODEL CUT_1 CUT_2 scores it" ct-score "$d/ft.h5" "$d/c13.h5" "$d/c14.h5" --split all --bootstrap 0 \
	-o "$d/cc.h5" --tsv "$d/cc.tsv"
ok "... naming both inputs" grep -q "c13.h5 + .*c14.h5 (16 samples)" "$d/out"
status 0 "ct-score MODEL IMAGES IMAGES (--weights per source)" ct-score "$d/ft.h5" "$d/s.h5" "$d/s.h5" \
	-w "$d/mnv2.h5,$d/mnv2.h5" --split all --bootstrap 0 -o "$d/ii.h5" --tsv "$d/ii.tsv"
status 0 "ct-score MODEL CUT_1 IMAGES (an empty --weights item: the search path)" env CT_WEIGHTS_DIR="$d/none" \
	ct-score "$d/ft.h5" "$d/c13.h5" "$d/s.h5" -w ",$d/mnv2.h5" --split all --bootstrap 0 --tsv "$d/ci.tsv"
mkdir -p "$d/wd" && cp "$d/mnv2.h5" "$d/wd/mobilenet_v2.h5"
status 0 "ct-score MODEL IMAGES CUT_2 (weights from CT_WEIGHTS_DIR, another batch size)" env CT_WEIGHTS_DIR="$d/wd" \
	ct-score "$d/ft.h5" "$d/s.h5" "$d/c14.h5" --batch 3 --split all --bootstrap 0 --tsv "$d/ic.tsv"
# max |p_a - p_b| over every row and class of two scores files
maxdiff() {
	"$PY" -c 'import h5py, numpy as np, sys
a = h5py.File(sys.argv[1])["probabilities"][...]; b = h5py.File(sys.argv[2])["probabilities"][...]
assert a.shape == b.shape and a.shape[0] == 16, (a.shape, b.shape)
print(float(np.abs(a.astype(np.float64) - b).max()))' "$1" "$2"
}
# le E LIMIT: E is a number <= LIMIT
le() { awk -v e="$1" -v l="$2" 'BEGIN { exit !(e != "" && e + 0 <= l + 0) }'; }
if "$PY" -c 'import h5py' 2>/dev/null; then
	e=$(maxdiff "$d/cc.h5" "$d/ii.h5")
	le "$e" 1e-6
	t_report $? "the probabilities from the images equal those from the cut files (max |d| = $e <= 1e-6)"
else
	echo "ok $((T_N += 1)) # skip /usr/bin/python3 with h5py is needed to compare the scores"
fi
ok "... and so do the TSVs of all four input combinations" sh -c '
	cmp "$1/cc.tsv" "$1/ii.tsv" && cmp "$1/cc.tsv" "$1/ci.tsv" && cmp "$1/cc.tsv" "$1/ic.tsv"' sh "$d"
ok "... and the probabilities vary between images" sh -c '[ "$(cut -f 4 "$1" | sort -u | wc -l)" -gt 8 ]' sh "$d/cc.tsv"
ok "the JSON lists both inputs with their sha256, in order" sh -c '
	ct-score "$1/ft.h5" "$1/c13.h5" "$1/c14.h5" --split all --bootstrap 0 --json >"$1/j.json" &&
	/usr/bin/python3 -c "import json, sys
j = json.load(open(sys.argv[1]))[\"features\"]
assert [x[\"path\"] for x in j[\"inputs\"]] == [sys.argv[2] + \"/c13.h5\", sys.argv[2] + \"/c14.h5\"], j[\"inputs\"]
assert all(len(x[\"sha256\"]) == 64 for x in j[\"inputs\"])
assert [b[\"name\"] for b in j[\"blocks\"]] == [\"mobilenet_v2/block_14_add/avg\", \"mobilenet_v2/block_15_add/avg\"]
" "$1/j.json" "$1"' sh "$d"

ok "the HTML report names the second input" sh -c '
	ct-score "$1/ft.h5" "$1/c13.h5" "$1/c14.h5" --split all --bootstrap 0 --report "$1/r.html" >/dev/null &&
	grep -q "<dt>Input 2</dt><dd><code>$1/c14.h5</code>" "$1/r.html"' sh "$d"

# The reconstruction, independent of lib/train/ft_apply.c: weights with /finetune/SRC merged in by
# h5py, the whole backbone to the output layer (ct-features), the two fused (ct-fuse), and the
# model without /finetune (its head alone) scoring them.
cat >"$d/merge.py" <<'PY'
import h5py, shutil, sys
base, model, src, out = sys.argv[1:5]
shutil.copy(base, out)
def s(x): return x.decode() if isinstance(x, bytes) else x
def short(n): return n.split('/')[-1].split(':')[0]
o = h5py.File(out, 'a')
ft = h5py.File(model, 'r')['finetune/' + src]
for l in map(s, ft.attrs['layer_names']):
    names = {short(s(w)): s(w) for w in o[l].attrs['weight_names']}
    for w in map(s, ft[l].attrs['weight_names']):
        o[l][names[short(w)]][...] = ft[l][w][...]
o.close()
PY
if "$PY" -c 'import h5py' 2>/dev/null; then
	"$PY" "$d/merge.py" "$d/mnv2.h5" "$d/ft.h5" 0 "$d/m0.h5"
	"$PY" "$d/merge.py" "$d/mnv2.h5" "$d/ft.h5" 1 "$d/m1.h5"
	"$PY" -c 'import h5py, shutil, sys
shutil.copy(sys.argv[1], sys.argv[2])
f = h5py.File(sys.argv[2], "a"); del f["finetune"]; f.close()' "$d/ft.h5" "$d/head.h5"
	# rec W0 W1 OUT: scores of the head on the fused features of weights W0 and W1
	rec() {
		CT_NO_VERIFY=1 ct-features -b mobilenet_v2 -w "$1" -l block_14_add "$d/s.h5" -o "$d/f0.h5" -q -f &&
			CT_NO_VERIFY=1 ct-features -b mobilenet_v2 -w "$2" -l block_15_add "$d/s.h5" -o "$d/f1.h5" -q -f &&
			ct-fuse "$d/f0.h5" "$d/f1.h5" -o "$d/fu.h5" -q -f &&
			CT_NO_VERIFY=1 ct-score "$d/head.h5" "$d/fu.h5" --split all --bootstrap 0 -o "$3" >/dev/null
	}
	rec "$d/m0.h5" "$d/m1.h5" "$d/rec.h5"
	e=$(maxdiff "$d/cc.h5" "$d/rec.h5")
	le "$e" 1e-5
	t_report $? "they equal the fused reconstruction from merged weights (max |d| = $e <= 1e-5)"
	rec "$d/mnv2.h5" "$d/mnv2.h5" "$d/pre.h5"
	e=$(maxdiff "$d/cc.h5" "$d/pre.h5")
	! le "$e" 1e-4
	t_report $? "... and not the one from the pretrained weights (max |d| = $e > 1e-4)"
else
	echo "ok $((T_N += 1)) # skip /usr/bin/python3 with h5py is needed for the reconstruction"
	echo "ok $((T_N += 1)) # skip /usr/bin/python3 with h5py is needed for the reconstruction"
fi

# ---- ct-weights export-onnx --model of two sources: --source K / --backbone NAME ----
status 2 "export-onnx --model of two sources without a choice is a usage error (2)" \
	ct-weights export-onnx --model "$d/ft.h5" -w "$d/mnv2.h5" -o "$d/bad.onnx"
err_has "fine-tunes 2 backbones (1: mobilenet_v2 block_13_project_BN -> block_14_add, 2: mobilenet_v2 block_14_add -> block_15_add): choose one with --source K or --backbone NAME" \
	"... listing the sources and the options"
status 2 "... and so is --backbone naming a backbone two sources share (2)" \
	ct-weights export-onnx --model "$d/ft.h5" -b mobilenet_v2 -w "$d/mnv2.h5" -o "$d/bad.onnx"
err_has "fine-tunes mobilenet_v2 2 times" "... saying so"
status 2 "... --source 3 of 2 (2)" ct-weights export-onnx --model "$d/ft.h5" --source 3 -w "$d/mnv2.h5" -o "$d/bad.onnx"
status 2 "... --source without --model (2)" ct-weights export-onnx -b mobilenet_v2 --synthetic --source 1 -o "$d/bad.onnx"
ok "... leaving no output" test ! -e "$d/bad.onnx"
status 0 "export-onnx --model --source 2 exports the second source" \
	ct-weights export-onnx --model "$d/ft.h5" --source 2 -w "$d/mnv2.h5" -o "$d/s2.onnx"
err_has "outputs block_15_add pooled avg.*source 2/2" "... to its output layer, and says which source"
ok "... recording it in the metadata (ctfuse.finetune_source 2/2)" grep -a -q "ctfuse.finetune_source.*2/2" "$d/s2.onnx"
status 0 "export-onnx --model --source 1 exports the first" \
	ct-weights export-onnx --model "$d/ft.h5" --source 1 -w "$d/mnv2.h5" -o "$d/s1.onnx"
err_has "outputs block_14_add pooled avg.*source 1/2" "... to its output layer"
# The initializers (name -> raw bytes) of an ONNX file, read by a minimal protobuf walk written
# here (ModelProto 7 graph -> GraphProto 5 initializer -> TensorProto 8 name, 9 raw_data).
cat >"$d/inits.py" <<'PY'
import sys
def varint(b, i):
    r = s = 0
    while True:
        c = b[i]; i += 1; r |= (c & 0x7f) << s; s += 7
        if c < 0x80: return r, i
def fields(b):
    i = 0
    while i < len(b):
        k, i = varint(b, i); f, t = k >> 3, k & 7
        if t == 0: v, i = varint(b, i)
        elif t == 2: n, i = varint(b, i); v = b[i:i + n]; i += n
        elif t == 5: v = b[i:i + 4]; i += 4
        elif t == 1: v = b[i:i + 8]; i += 8
        else: raise ValueError(t)
        yield f, v
def inits(path):
    b = open(path, 'rb').read()
    g = [v for f, v in fields(b) if f == 7][0]
    out = {}
    for f, v in fields(g):
        if f == 5:
            d = dict((ff, vv) for ff, vv in fields(v) if ff in (8, 9))
            out[d[8].decode()] = d.get(9, b'')
    return out
a, b = inits(sys.argv[1]), inits(sys.argv[2])
same = a == b and len(a) > 0
print('initializers', len(a), len(b), 'equal' if same else 'differ:',
      '' if same else sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))[:4])
sys.exit(0 if same else 1)
PY
if "$PY" -c 'import h5py' 2>/dev/null; then
	# the same backbone exported from the weights merge.py made (h5py, independent of ft_apply.c)
	ct-weights export-onnx -b mobilenet_v2 -w "$d/m1.h5" -l block_15_add -o "$d/m1.onnx" -q
	ct-weights export-onnx -b mobilenet_v2 -w "$d/m0.h5" -l block_14_add -o "$d/m0.onnx" -q
	ct-weights export-onnx -b mobilenet_v2 -w "$d/mnv2.h5" -l block_15_add -o "$d/p1.onnx" -q
	ok "source 2's initializers equal those of the weights with /finetune/1 merged in by h5py" \
		"$PY" "$d/inits.py" "$d/s2.onnx" "$d/m1.onnx"
	ok "source 1's equal those with /finetune/0 merged in" "$PY" "$d/inits.py" "$d/s1.onnx" "$d/m0.onnx"
	ok "... and source 2's are not the pretrained ones (the check is not vacuous)" \
		sh -c '! "$1" "$2/inits.py" "$2/s2.onnx" "$2/p1.onnx"' sh "$PY" "$d"
else
	for i in 1 2 3; do echo "ok $((T_N += 1)) # skip /usr/bin/python3 with h5py is needed for the merged weights"; done
fi
# ONNX Runtime on source 2 against our engine's features with the h5py-merged weights
ort_js=$T_TOP/scripts/ort/ort_run.js
skip=$(ort_skip)
"$PY" -c 'import h5py' 2>/dev/null || skip="${skip:-/usr/bin/python3 with h5py needed}"
if [ -z "$skip" ]; then
	CT_NO_VERIFY=1 ct-features -b mobilenet_v2 -w "$d/m1.h5" -l block_15_add "$d/s.h5" -o "$d/o1.h5" -q -f
	"$PY" -c 'import h5py, numpy as np, sys
d = sys.argv[1]
im = h5py.File(d + "/s.h5", "r")["images"][...]
(im.astype(np.float32) / np.float32(127.5) - np.float32(1)).astype(np.float32).tofile(d + "/in.f32")
h5py.File(d + "/o1.h5", "r")["features"][...].astype(np.float32).tofile(d + "/o1.f32")' "$d"
	node "$ort_js" "$d/s2.onnx" --threads 2 --input "$d/in.f32" --compare "$d/o1.f32" --tol 1e-4 >"$d/ort" 2>&1
	t_report $? "ONNX Runtime on source 2 gives our engine's features of the merged weights (max rel <= 1e-4)"
else
	echo "ok $((T_N += 1)) # skip ONNX Runtime check: $skip"
fi

# ct-finetune's own evaluation: with a val split it reports the kept epoch's val loss (mean
# cross-entropy); ct-score's val probabilities must give the same loss (to its 4 decimals).
ok "a val split of the same images, cut at both layers" sh -c '
	cd "$1" && ct-split i.h5 -o sv.h5 --fractions 0.5,0.25,0.25 -q &&
	ct-features -b mobilenet_v2 -w mnv2.h5 --cut block_13_project_BN sv.h5 -o v13.h5 -q &&
	ct-features -b mobilenet_v2 -w mnv2.h5 --cut block_14_add sv.h5 -o v14.h5 -q' sh "$d"
status 0 "fine-tuned with the val split choosing the epoch" ct-finetune --finetune "$d/v13.h5" "$d/v14.h5" \
	--output-layer block_14_add,block_15_add --weights "$d/mnv2.h5,$d/mnv2.h5" -o "$d/fv.h5" --epochs 3 --hidden 16 \
	--backbone-lr 3e-3 --batch 4 --seed 1
want=$(sed -n 's/.*joint epoch [1-9][0-9]* of [0-9]* kept.*: val loss \([0-9.]*\) .*/\1/p' "$d/err")
ct-score "$d/fv.h5" "$d/sv.h5" "$d/v14.h5" -w "$d/mnv2.h5" --split val --bootstrap 0 --tsv "$d/fv.tsv" >/dev/null 2>&1
got=$(awk -F'\t' 'NR > 1 && $2 == "val" { p = $3 == "lesion" ? $4 : 1 - $4; s -= log(p); n++ }
	END { if (n) printf "%.4f", s / n }' "$d/fv.tsv")
[ -n "$want" ] && [ "$got" = "$want" ]
t_report $? "ct-score's val probabilities give the val loss ct-finetune kept (${got:-none} = ${want:-none})"

# refusals
status 1 "inputs in the wrong order are refused (1)" ct-score "$d/ft.h5" "$d/c14.h5" "$d/c13.h5" -o "$d/bad.h5"
err_has "'$d/c14.h5' is cut at mobilenet_v2/block_14_add, but source 1 of 2" "... naming the file and the source"
err_one_line "... in one line"
status 2 "one input for two sources is a usage error (2)" ct-score "$d/ft.h5" "$d/c13.h5" -o "$d/bad.h5"
err_has "fine-tunes 2 backbones: give 2 inputs.*not 1" "... naming the counts"
status 2 "three inputs for two sources are a usage error (2)" ct-score "$d/ft.h5" "$d/c13.h5" "$d/c14.h5" "$d/c14.h5" \
	-o "$d/bad.h5"
err_has "not 3" "... naming the counts"
ct-phantom -o "$d/ph2" --patients 8 --slices-per-patient 2 --size 96 --seed 6 >/dev/null 2>&1
ok "another images file (other samples) cut at block_14_add" sh -c '
	cd "$1" && ct-convert ph2 --size 224 -o i2.h5 -q && ct-split i2.h5 -o s2.h5 --fractions 0.5,0.25,0.25 -q --seed 9 &&
	ct-features -b mobilenet_v2 -w mnv2.h5 --cut block_14_add s2.h5 -o o14.h5 -q' sh "$d"
status 1 "inputs of other samples are refused (1)" ct-score "$d/ft.h5" "$d/c13.h5" "$d/o14.h5" -o "$d/bad.h5"
err_has "'$d/o14.h5' and '$d/c13.h5' differ at sample" "... naming both files"
err_one_line "... in one line"
status 1 "... also an images file of other samples with a cut file" ct-score "$d/ft.h5" "$d/s2.h5" "$d/c14.h5" \
	-w "$d/mnv2.h5" -o "$d/bad.h5"
err_has "'$d/c14.h5' and '$d/s2.h5' differ" "... naming both files"
status 2 "--weights listing more files than sources is a usage error (2)" ct-score "$d/ft.h5" "$d/s.h5" "$d/s.h5" \
	-w "$d/mnv2.h5,$d/mnv2.h5,$d/mnv2.h5" -o "$d/bad.h5"
status 2 "--weights without an images input is a usage error (2)" ct-score "$d/ft.h5" "$d/c13.h5" "$d/c14.h5" \
	-w "$d/mnv2.h5" -o "$d/bad.h5"
ok "a head-only model" ct-finetune "$d/c13.h5" -o "$d/ho.h5" --epochs 2 -q
status 2 "a head-only model with two inputs is a usage error (2)" ct-score "$d/ho.h5" "$d/c13.h5" "$d/c13.h5" -o "$d/bad.h5"
err_has "no fine-tuned layers: it scores one features file, not 2" "... saying it takes one"
status 0 "... and scores its one features file as before" ct-score "$d/ho.h5" "$d/c13.h5" --split all --bootstrap 0
ok "no output is left by the failures" test ! -e "$d/bad.h5"
echo "1..$T_N"
[ "$T_FAILS" -eq 0 ]
