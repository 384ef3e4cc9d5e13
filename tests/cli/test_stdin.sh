#!/bin/sh
# test_stdin.sh - '-' for every HDF5 input of every tool: each tool that reads an HDF5 file
# is run with that input piped on standard input, and its output must equal the run that names
# the file (same data: scripts/h5_same.py; same text for printed results). A tool that opens its
# input more than once (the model file: head, curves, fine-tuned layers; the folds of a
# features file) reads the same bytes each time.
. "$(dirname "$0")/lib.sh"
D=$T_DIR
top=$T_TOP
py=/usr/bin/python3
skip() {
	T_N=$((T_N + 1))
	echo "ok $T_N # SKIP $1"
}
if ! $py -c 'import h5py, numpy' 2>/dev/null; then
	skip "no /usr/bin/python3 with h5py and numpy (scripts/h5_same.py)"
	echo "1..$T_N"
	exit 0
fi
same() {
	$py "$top/scripts/h5_same.py" "$1" "$2" >"$D/same.log" 2>&1
}
# both DESCRIPTION FILE_OUT PIPE_OUT: the two outputs hold the same data
both() {
	same "$2" "$3"
	t_report $? "$1" || sed 's/^/# /' "$D/same.log" | head -n 5
}
# scores DESCRIPTION FILE_OUT PIPE_OUT: two scores files hold the same data; their metrics
# JSON differs only in the inputs' paths
scores() {
	$py - "$2" "$3" <<'PY' >"$D/same.log" 2>&1
import json, sys, h5py, numpy as np
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k != "path"}
    return [strip(v) for v in o] if isinstance(o, list) else o
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
for k in sorted(set(a) | set(b)):
    if k == "provenance":
        continue
    x, y = a[k][()], b[k][()]
    if k == "metrics":
        x, y = (strip(json.loads(v[0])) for v in (x, y))
        if x != y:
            sys.exit("metrics differ")
    elif not np.array_equal(x, y):
        sys.exit("dataset %s differs" % k)
PY
	t_report $? "$1" || sed 's/^/# /' "$D/same.log" | head -n 5
}
# texts DESCRIPTION A B: two printed outputs are the same
texts() {
	cmp -s "$2" "$3"
	t_report $? "$1" || diff "$2" "$3" | head -n 5 | sed 's/^/# /'
}
export CT_WEIGHTS_DIR="$D/w"
mkdir -p "$D/w"
ct-phantom -o "$D/ph" --patients 8 --slices-per-patient 2 --size 64 --seed 5 --split-dir "$D/split" >/dev/null 2>&1
ct-weights synth --backbone mobilenet_v2 -o "$D/w/mobilenet_v2.h5" -q
ct-convert "$D/ph" --split "$D/split" --groups "$D/ph/patients.tsv" --size 224 -o "$D/img.h5" -q
ct-features --backbone mobilenet_v2 --layer block_6_project_BN "$D/img.h5" -o "$D/fa.h5" -q
ct-features --backbone mobilenet_v2 --layer block_13_project_BN "$D/img.h5" -o "$D/fb.h5" -q
ct-fuse "$D/fa.h5" "$D/fb.h5" -o "$D/fused.h5" -q
ct-split "$D/fused.h5" --keep-splits --folds 3 --seed 2 -o "$D/folds.h5" -q
ct-finetune "$D/fused.h5" --head logreg --epochs 5 --seed 1 -o "$D/model.h5" -q
ct-features --backbone mobilenet_v2 --cut block_15_add "$D/img.h5" -o "$D/cut.h5" -q
ok "setup: images, features, fused features with folds, a model, a cut file" \
	sh -c "[ -s '$D/folds.h5' ] && [ -s '$D/model.h5' ] && [ -s '$D/cut.h5' ]"

# ct-augment, ct-features (images and weights), ct-fuse, ct-merge, ct-split
ct-augment "$D/img.h5" --copies 1 --seed 1 -o "$D/aug1.h5" -q
ct-augment - --copies 1 --seed 1 -o "$D/aug2.h5" -q <"$D/img.h5"
both "ct-augment: images from stdin" "$D/aug1.h5" "$D/aug2.h5"
ct-features --backbone mobilenet_v2 --layer block_6_project_BN - -o "$D/fa2.h5" -q <"$D/img.h5"
both "ct-features: images from stdin" "$D/fa.h5" "$D/fa2.h5"
ct-features --backbone mobilenet_v2 --layer block_6_project_BN --weights - "$D/img.h5" -o "$D/fa3.h5" -q \
	<"$D/w/mobilenet_v2.h5"
both "ct-features: weights from stdin" "$D/fa.h5" "$D/fa3.h5"
ct-fuse - "$D/fb.h5" -o "$D/fused2.h5" -q <"$D/fa.h5"
both "ct-fuse: one of its inputs from stdin" "$D/fused.h5" "$D/fused2.h5"
ct-augment "$D/img.h5" --copies 1 --seed 1 --shard 1/2 -o "$D/sh1.h5" -q
ct-augment "$D/img.h5" --copies 1 --seed 1 --shard 2/2 -o "$D/sh2.h5" -q
ct-merge - "$D/sh2.h5" -o "$D/merged.h5" -q <"$D/sh1.h5"
both "ct-merge: a shard from stdin" "$D/aug1.h5" "$D/merged.h5"
ct-split - --keep-splits --folds 3 --seed 2 -o "$D/folds2.h5" -q <"$D/fused.h5"
both "ct-split: features from stdin" "$D/folds.h5" "$D/folds2.h5"
ct-split --check "$D/img.h5" 2>&1 | sed "s|^$D/img.h5:|-:|" >"$D/check1"
ct-split --check - <"$D/img.h5" >"$D/check2" 2>&1
texts "ct-split --check: images from stdin" "$D/check1" "$D/check2"

# ct-finetune: features (with their folds), cut files
ct-finetune "$D/folds.h5" --head logreg --epochs 5 --cv 3 --seed 1 -o "$D/cv1.h5" >"$D/cv1.out" 2>"$D/cv1.err"
ct-finetune - --head logreg --epochs 5 --cv 3 --seed 1 -o "$D/cv2.h5" <"$D/folds.h5" >"$D/cv2.out" 2>"$D/cv2.err"
both "ct-finetune --cv: features from stdin" "$D/cv1.h5" "$D/cv2.h5"
texts "... the same cross-validation" "$D/cv1.out" "$D/cv2.out"
grep -q "uses the 3 folds of '-'" "$D/cv2.err"
t_report $? "... on the folds of the input on stdin" || sed 's/^/# /' "$D/cv2.err" | head -n 3
ct-finetune --finetune "$D/cut.h5" --head logreg --epochs 2 --batch 8 --seed 1 -o "$D/ft1.h5" -q
ct-finetune --finetune - --head logreg --epochs 2 --batch 8 --seed 1 -o "$D/ft2.h5" -q <"$D/cut.h5"
both "ct-finetune --finetune: the cut file from stdin" "$D/ft1.h5" "$D/ft2.h5"

# ct-score: model, features, a fine-tuned model's cut file, the audit's images
ct-score "$D/model.h5" "$D/fused.h5" --bootstrap 20 -o "$D/s1.h5" --json >"$D/s1.json"
cat "$D/model.h5" | ct-score - "$D/fused.h5" --bootstrap 20 -o "$D/s2.h5" --json >"$D/s2.json"
scores "ct-score: the model from stdin" "$D/s1.h5" "$D/s2.h5"
ct-score "$D/model.h5" - --bootstrap 20 -o "$D/s3.h5" <"$D/fused.h5" >/dev/null
scores "ct-score: the features from stdin" "$D/s1.h5" "$D/s3.h5"
ct-score "$D/ft1.h5" "$D/cut.h5" --bootstrap 20 -o "$D/s4.h5" >/dev/null
ct-score - "$D/cut.h5" --bootstrap 20 -o "$D/s5.h5" <"$D/ft1.h5" >/dev/null
scores "ct-score: a fine-tuned model from stdin" "$D/s4.h5" "$D/s5.h5"
ct-score "$D/ft1.h5" - --bootstrap 20 -o "$D/s6.h5" <"$D/cut.h5" >/dev/null
scores "ct-score: a cut file from stdin" "$D/s4.h5" "$D/s6.h5"
ct-score "$D/model.h5" "$D/fused.h5" --bootstrap 20 --audit "$D/img.h5" --json >"$D/a1.json" 2>/dev/null
ct-score "$D/model.h5" "$D/fused.h5" --bootstrap 20 --audit - --json <"$D/img.h5" >"$D/a2.json" 2>/dev/null
$py - "$D/a1.json" "$D/a2.json" <<'PY' >"$D/audit.log" 2>&1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert "shortcut_audit" in a, "no audit in the file run"
x, y = a["shortcut_audit"], b["shortcut_audit"]
assert x.pop("images") != y.pop("images"), "the images path is the input's"
sys.exit(0 if x == y else 1)
PY
t_report $? "ct-score --audit: the images from stdin" || sed 's/^/# /' "$D/audit.log" | head -n 3

# ct-explain: model, images
ct-explain "$D/model.h5" "$D/img.h5" -o "$D/e1" --dump "$D/e1.h5" -q >/dev/null 2>&1
ct-explain - "$D/img.h5" -o "$D/e2" --dump "$D/e2.h5" -q <"$D/model.h5" >/dev/null 2>&1
both "ct-explain: the model from stdin" "$D/e1.h5" "$D/e2.h5"
ct-explain "$D/model.h5" - -o "$D/e3" --dump "$D/e3.h5" -q <"$D/img.h5" >/dev/null 2>&1
both "ct-explain: the images from stdin" "$D/e1.h5" "$D/e3.h5"

# ct-info, ct-weights info / sha256
for f in img.h5 fused.h5 model.h5 s1.h5; do
	ct-info --json "$D/$f" | sed 's/"path":[^,]*,//' >"$D/i1"
	ct-info --json - <"$D/$f" | sed 's/"path":[^,]*,//' >"$D/i2"
	texts "ct-info: $f from stdin" "$D/i1" "$D/i2"
done
ct-weights info "$D/w/mobilenet_v2.h5" 2>&1 | sed "s|$D/w/mobilenet_v2.h5|X|g" >"$D/w1"
ct-weights info - <"$D/w/mobilenet_v2.h5" 2>&1 | sed "1s|  -\$|  X|" >"$D/w2"
texts "ct-weights info: weights from stdin" "$D/w1" "$D/w2"
echo "1..$T_N"
