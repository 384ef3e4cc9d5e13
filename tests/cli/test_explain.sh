#!/bin/sh
# test_explain.sh - ct-explain on phantom data with synthetic weights: file names with spaces,
# overlays and a self-contained gallery, lung-field shares in [0, 1] checked with an
# independent numpy/scipy computation of the whole Grad-CAM chain (explain_ref.py, from the
# activations dumped with --dump), probabilities equal to ct-score's, the threshold from
# metrics.json or --threshold, no lung mask, thread-count independence, and bad input.
. "$(dirname "$0")/lib.sh"
D=$T_DIR
top=$T_TOP
helper=$T_BUILD/tests/test_gradcam
# Files written here with h5py (a planted /lung_mask, a marker data set) carry no ctfuse
# checksums; the tools must read them all the same (checksums are tested in test_hardening.sh).
export CT_NO_VERIFY=1
py=/usr/bin/python3
skip() {
	T_N=$((T_N + 1))
	echo "ok $T_N # SKIP $1"
}
real_w=${CT_WEIGHTS_DIR:-$top/weights} # pretrained weights, for the localisation check
export CT_WEIGHTS_DIR="$D/w"
mkdir -p "$D/w"
ct-phantom -o "$D/ph" --patients 10 --slices-per-patient 2 --size 224 --seed 3 --split-dir "$D/split" >/dev/null 2>&1
# File names with spaces: rename the slices and their entries in the split lists.
for f in "$D"/ph/*/*.png; do mv "$f" "${f%.png} scan.png"; done
sed -i 's/\.png/ scan.png/' "$D"/split/*/*.txt "$D/ph/patients.tsv"
ct-convert "$D/ph" --split "$D/split" --groups "$D/ph/patients.tsv" --size 224 -o "$D/images.h5" -q
ct-weights synth --backbone mobilenet_v2 -o "$D/w/mobilenet_v2.h5" -q
# A fused model: an avg-pooled and a max-pooled cut of the backbone, MLP head.
ct-features --backbone mobilenet_v2 --layer block_6_project_BN "$D/images.h5" -o "$D/fa.h5" -q
ct-features --backbone mobilenet_v2 --layer block_13_project_BN --pool max "$D/images.h5" -o "$D/fb.h5" -q
ct-fuse "$D/fa.h5" "$D/fb.h5" -o "$D/fused.h5" -q
mkdir -p "$D/exp"
ct-finetune "$D/fused.h5" --head mlp --hidden 8 --epochs 10 --seed 1 -o "$D/exp/model.h5" -q
ct-score "$D/exp/model.h5" "$D/fused.h5" --threshold 0.4 --bootstrap 0 --json >"$D/exp/metrics.json"
ct-score "$D/exp/model.h5" "$D/fused.h5" --split all --bootstrap 0 --tsv "$D/scores.tsv" >/dev/null
ok "setup: phantoms with spaces in their names, features, fused model, metrics" [ -s "$D/exp/metrics.json" ]

have_py=0
$py -c 'import h5py, numpy, scipy' 2>/dev/null && have_py=1
cp "$D/images.h5" "$D/masked.h5"
if [ $have_py = 1 ]; then
	# /lung_mask from the phantom's true masks (the helper renders them for the same options)
	$py - "$helper" "$D/masked.h5" <<'PY'
import re, subprocess, sys, h5py, numpy as np
helper, path = sys.argv[1:3]
with h5py.File(path, "r") as f:
    names = [n.decode() if isinstance(n, bytes) else n for n in f["names"][()]]
    H, W = f["images"].shape[1:3]
pairs = "".join("%d %d\n" % (int(m.group(1)) - 1, int(m.group(2)) - 1)
                for m in (re.search(r"P(\d+)_s(\d+)", n) for n in names))
raw = subprocess.run([helper, "phantom-masks", str(W), str(H), "2", "3"], input=pairs.encode(),
                     capture_output=True, check=True).stdout
with h5py.File(path, "a") as f:
    f.create_dataset("lung_mask", data=np.frombuffer(raw, np.uint8).reshape(len(names), H, W))
PY
fi
if [ $have_py = 0 ] || ! $py -c "import h5py; assert 'lung_mask' in h5py.File('$D/masked.h5', 'r')" 2>/dev/null; then
	skip "no /usr/bin/python3 with h5py, numpy and scipy: no lung mask, no reference checks"
	echo "1..$T_N"
	exit 0
fi

O="$D/out dir"
status 0 "ct-explain runs on the test split (output folder name with a space)" \
	ct-explain "$D/exp/model.h5" "$D/masked.h5" -o "$O" --dump "$D/dump.h5" -j 2
cp "$T_DIR/out" "$D/summary.txt"
ntest=$(grep -c . "$D"/split/TestingTXT/*.txt | awk -F: '{ s += $2 } END { print s }')
ok "the gallery and explain.json are written" sh -c "[ -s '$O/gallery.html' ] && [ -s '$O/explain.json' ]"
ok "one overlay PNG per test image ($ntest), named after the image, spaces kept" \
	sh -c "[ \$(ls '$O' | grep -c ' scan\\.png\$') -eq $ntest ]"
ok "the overlays are PNG images of the images' size" $py -c "
import sys, glob, struct
fs = glob.glob(sys.argv[1] + '/*.png')
for f in fs:
    b = open(f, 'rb').read(24)
    assert b[:8] == b'\x89PNG\r\n\x1a\n' and struct.unpack('>II', b[16:24]) == (224, 224), f
assert fs" "$O"
ok "the gallery embeds every overlay as a data URI and links nothing" $py -c "
import base64, glob, json, re, sys
o = sys.argv[1]
html = open(o + '/gallery.html').read()
uris = re.findall(r'src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"', html)
doc = json.load(open(o + '/explain.json'))
pngs = [open(o + '/' + s['png'], 'rb').read() for s in doc['samples']]
assert sorted(base64.b64decode(u) for u in uris) == sorted(pngs)
assert len(re.findall(r'src=', html)) == len(uris) and 'href=' not in html" "$O"
ok "the gallery groups images into true/false positives/negatives" sh -c "grep -q 'True positives' '$O/gallery.html' && grep -q 'False negatives' '$O/gallery.html' && grep -q 'False positives' '$O/gallery.html' && grep -q 'True negatives' '$O/gallery.html'"
ok "every image has a heat share in [0, 1]; the median is in [0, 1] and printed" $py -c "
import json, sys
d = json.load(open(sys.argv[1]))
v = [s['lung_share'] for s in d['samples']]
assert all(isinstance(x, float) and 0 <= x <= 1 for x in v), v
m = d['lung_share']['median']
assert 0 <= m <= 1 and d['lung_share']['median_by_split']['test'] == m
assert ('%.3f' % m) in open(sys.argv[2]).read()" "$O/explain.json" "$D/summary.txt"
ok "the threshold comes from metrics.json beside the model, groups follow it" $py -c "
import json, sys
d = json.load(open(sys.argv[1]))
t = d['threshold']
assert t['value'] == 0.4 and t['source'].endswith('metrics.json'), t
for s in d['samples']:
    pred = s['p'] >= 0.4
    want = ('TP' if pred else 'FN') if s['label'] == d['positive_class'] else ('FP' if pred else 'TN')
    assert s['group'] == want, s
assert sum(d['counts'][g] for g in ('TP', 'FN', 'FP', 'TN')) == len(d['samples'])" "$O/explain.json"
$py "$top/tests/cli/explain_ref.py" "$D/exp/model.h5" "$D/masked.h5" "$D/dump.h5" "$O/explain.json" "$D/scores.tsv" \
	>"$D/ref.txt" 2>&1
while read -r res name; do
	[ "$res" = ok ]
	t_report $? "numpy/scipy reference: $name" || :
done <"$D/ref.txt"
ok "the reference ran all its checks" [ "$(grep -c '^ok' "$D/ref.txt")" -eq 9 ]

status 0 "--json prints explain.json; --threshold overrides the metrics file" \
	ct-explain "$D/exp/model.h5" "$D/masked.h5" "$D/o2" --threshold 0.9 --json -j 1
ok "--json output is the document written to the folder" $py -c "
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a == b and a['threshold'] == {'value': 0.9, 'source': '--threshold'}" "$T_DIR/out" "$D/o2/explain.json"
ok "results do not depend on the thread count (-j 1 and -j 2)" $py -c "
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
key = lambda d: [(s['name'], s['p'], s['lung_share'], s['block_lung_share']) for s in d['samples']]
assert key(a) == key(b)" "$O/explain.json" "$D/o2/explain.json"

# An L2-fused logistic-regression model on one avg-pooled block, all splits, no lung mask.
ct-fuse "$D/fa.h5" --l2 -o "$D/fl2.h5" -q
ct-finetune "$D/fl2.h5" --head logreg --epochs 10 --seed 1 -o "$D/l2model.h5" -q
ct-score "$D/l2model.h5" "$D/fl2.h5" --split all --bootstrap 0 --tsv "$D/l2scores.tsv" >/dev/null
status 0 "an L2-fused logreg model, --split all" \
	ct-explain "$D/l2model.h5" "$D/masked.h5" "$D/o3" --split all --dump "$D/dump3.h5"
$py "$top/tests/cli/explain_ref.py" "$D/l2model.h5" "$D/masked.h5" "$D/dump3.h5" "$D/o3/explain.json" "$D/l2scores.tsv" \
	>"$D/ref3.txt" 2>&1
ok "L2 fusion: the numpy reference agrees on every check" sh -c "[ \$(grep -c '^ok' '$D/ref3.txt') -eq 9 ] && ! grep -q '^bad' '$D/ref3.txt'"
ok "--split all reports a median per split" $py -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert sorted(d['lung_share']['median_by_split']) == ['test', 'train', 'val'] and d['counts']['images'] == 20" "$D/o3/explain.json"
status 0 "without /lung_mask the share is reported unavailable" \
	ct-explain "$D/l2model.h5" "$D/images.h5" "$D/o4" --threshold 0.5
ok "... in the summary, the JSON and the gallery" sh -c "grep -q 'unavailable' '$T_DIR/out' && grep -q '\"available\":[[:space:]]*false' '$D/o4/explain.json' && grep -q 'Unavailable' '$D/o4/gallery.html'"

# The images shown at another size than the backbone's: --also gives the backbone the pixels
# its features came from (probabilities exactly ct-score's); without it they are resized.
ct-convert "$D/ph" --split "$D/split" --groups "$D/ph/patients.tsv" --size 160 -o "$D/small.h5" -q
status 0 "images of 160x160 with --also the 224x224 ones" \
	ct-explain "$D/exp/model.h5" "$D/small.h5" "$D/o5" --also "$D/images.h5" --split all
ok "... overlays of the shown images' size, probabilities equal to ct-score's" $py -c "
import json, struct, sys
d = json.load(open(sys.argv[1] + '/explain.json'))
sc = {l.split('\t')[0]: float(l.split('\t')[3]) for l in open(sys.argv[2]).read().splitlines()[1:]}
assert max(abs(s['p'] - sc[s['name']]) for s in d['samples']) < 1e-5
b = open(sys.argv[1] + '/' + d['samples'][0]['png'], 'rb').read(24)
assert struct.unpack('>II', b[16:24]) == (160, 160)" "$D/o5" "$D/scores.tsv"
status 0 "without --also the images are resized to the backbone's input" \
	ct-explain "$D/exp/model.h5" "$D/small.h5" "$D/o6" --split all --json
ok "... which changes the probabilities (why --also exists)" $py -c "
import json, sys
d = json.load(open(sys.argv[1]))
sc = {l.split('\t')[0]: float(l.split('\t')[3]) for l in open(sys.argv[2]).read().splitlines()[1:]}
e = max(abs(s['p'] - sc[s['name']]) for s in d['samples'])
assert e > 1e-4, e" "$T_DIR/out" "$D/scores.tsv"
status 1 "--also with other images fails" \
	ct-explain "$D/exp/model.h5" "$D/small.h5" "$D/bad7" --also "$D/fused.h5"

# Localisation with the pretrained MobileNetV2: a checkerboard marker planted on every positive
# image (outside the body) is what the model learns; /lung_mask is set to the marker's box, so
# the "share" is the heat on the marker. Grad-CAM must put there several times the box's area
# on the positives, and nothing on the negatives (a flipped sign, transposed or shifted maps fail).
if [ -f "$real_w/mobilenet_v2.h5" ]; then
	$py - "$D/images.h5" "$D/marker.h5" <<'PY'
import shutil, sys, h5py, numpy as np
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "a") as f:
    im, lab = f["images"][()], f["labels"][()]
    pos = [c.decode() if isinstance(c, bytes) else c for c in f["class_names"][()]].index("lesion")
    yy, xx = np.mgrid[0:36, 0:36]
    im[lab == pos, 160:196, 16:52, :] = (((yy // 6 + xx // 6) % 2) * 255).astype(np.uint8)[..., None]
    f["images"][...] = im
    m = np.zeros(im.shape[:3], np.uint8)
    m[:, 160:196, 16:52] = 1
    f.create_dataset("lung_mask", data=m)
PY
	ct-features --backbone mobilenet_v2 --layer block_10_project_BN -w "$real_w/mobilenet_v2.h5" "$D/marker.h5" -o "$D/mk.h5" -q
	ct-finetune "$D/mk.h5" --head logreg --epochs 100 --seed 1 -o "$D/mk-model.h5" -q
	status 0 "pretrained MobileNetV2: a model that learnt a planted marker is explained" \
		ct-explain "$D/mk-model.h5" "$D/marker.h5" "$D/o7" --split all --threshold 0.5 --weights-dir "$real_w"
	ok "the heat is on the marker in the positives (> 4x its area), off it in the negatives" $py -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert d['counts']['TP'] >= 8 and d['counts']['TN'] >= 8, d['counts']
m = d['lung_share']['median_by_group']
area = d['lung_share']['median_lung_area']
assert m['TP'] > 4 * area and m['TN'] < area, (m, area)" "$D/o7/explain.json"
else
	skip "no pretrained $real_w/mobilenet_v2.h5 (make weights): localisation check"
	skip "no pretrained weights"
fi

# Bad input: one-line errors, exit 1 (usage 2), nothing left behind.
status 1 "a missing model fails" ct-explain "$D/nope.h5" "$D/masked.h5" "$D/bad1"
err_has "cannot open '$D/nope.h5'" "... naming the file"
err_one_line "... in one line"
status 1 "a features file as IMAGES fails" ct-explain "$D/exp/model.h5" "$D/fused.h5" "$D/bad2"
err_one_line "... in one line"
ct-convert "$D/ph" --split "$D/split" --groups "$D/ph/patients.tsv" --size 224 --equalise 128:80 -o "$D/eqim.h5" -q
status 1 "images prepared otherwise than the model's training images are refused" \
	ct-explain "$D/exp/model.h5" "$D/eqim.h5" "$D/bad2"
err_has "images prepared with '--equalise 128:80', the model's training images with ''" "... naming both"
ok "... and nothing is left behind" [ ! -e "$D/bad2" ]
status 1 "an existing output folder is refused without --force" ct-explain "$D/exp/model.h5" "$D/masked.h5" "$O"
ok "... and left as it was" [ -s "$O/gallery.html" ]
mkdir -p "$D/mine"
echo keep >"$D/mine/notes.txt"
status 1 "--force does not replace a folder that is not a ct-explain output" \
	ct-explain "$D/exp/model.h5" "$D/masked.h5" "$D/mine" --force
ok "... whose files stay" [ -s "$D/mine/notes.txt" ]
status 0 "--force replaces a previous output" ct-explain "$D/exp/model.h5" "$D/masked.h5" "$O" --force -q
ct-weights synth --backbone inception_v3 -o "$D/w2.h5" -q
mkdir -p "$D/wbad"
cp "$D/w2.h5" "$D/wbad/mobilenet_v2.h5"
status 1 "weights other than the model's fail" ct-explain "$D/exp/model.h5" "$D/masked.h5" "$D/bad3" --weights-dir "$D/wbad"
err_has "sha256" "... naming the sha256 mismatch"
ct-fuse "$D/fa.h5" "$D/fb.h5" --standardize -o "$D/fst.h5" -q
ct-finetune "$D/fst.h5" --head logreg --epochs 3 -o "$D/stmodel.h5" -q
status 1 "a model fused with --standardize is refused" ct-explain "$D/stmodel.h5" "$D/masked.h5" "$D/bad4"
err_has "standardize" "... saying why"
$py -c "
import h5py, sys
with h5py.File(sys.argv[1], 'a') as f:
    del f['lung_mask']
    f.create_dataset('lung_mask', data=f['images'][:, :100, :, 0])" "$D/badmask.h5" 2>/dev/null ||
	{ cp "$D/masked.h5" "$D/badmask.h5" && $py -c "
import h5py, sys
with h5py.File(sys.argv[1], 'a') as f:
    del f['lung_mask']
    f.create_dataset('lung_mask', data=f['images'][:, :100, :, 0])" "$D/badmask.h5"; }
status 1 "a lung mask of the wrong shape fails" ct-explain "$D/exp/model.h5" "$D/badmask.h5" "$D/bad5"
err_has "lung_mask" "... naming the dataset"
status 2 "a threshold outside [0, 1] is a usage error" ct-explain "$D/exp/model.h5" "$D/masked.h5" "$D/bad6" --threshold 2
status 2 "a missing output is a usage error" ct-explain "$D/exp/model.h5" "$D/masked.h5"
ok "failed runs leave no output folder and no temporary folder" \
	sh -c "! ls -d '$D'/bad* '$D'/*.tmp.* >/dev/null 2>&1"
echo "1..$T_N"
