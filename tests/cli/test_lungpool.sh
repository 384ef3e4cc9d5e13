#!/bin/sh
# test_lungpool.sh - pooling over the lung field (ct-features --pool lung-avg / lung-max):
# the features checked against an independent numpy computation from the raw maps
# (--pool none) and the images' /lung_mask (area weights by sub-pixel replication), at a
# size that is no multiple of the maps' (fractional cells); the fallback for an empty mask;
# the record that makes a model refuse unmasked features; threads and shards; bad input.
. "$(dirname "$0")/lib.sh"
D=$T_DIR
py=/usr/bin/python3
# Files edited here with h5py (an emptied mask) carry no ctfuse checksums.
export CT_NO_VERIFY=1
skip() {
	T_N=$((T_N + 1))
	echo "ok $T_N # SKIP $1"
}
ct-phantom -o "$D/ph" --patients 6 --slices-per-patient 2 --size 224 --seed 5 --split-dir "$D/split" >/dev/null 2>&1
# 230 x 230 images, resized by ct-features to MobileNetV2's 224: the mask is 230 x 230 and the
# 14 x 14 and 7 x 7 maps' cells cover 16.4 and 32.9 pixels (cut pixels count by their part).
ct-convert "$D/ph" --split "$D/split" --groups "$D/ph/patients.tsv" --size 230 --lung-mask -o "$D/im.h5" -q
ct-convert "$D/ph" --split "$D/split" --groups "$D/ph/patients.tsv" --size 230 -o "$D/nomask.h5" -q
ct-weights synth --backbone mobilenet_v2 -o "$D/mn.h5" -q
F="ct-features --backbone mobilenet_v2 -w $D/mn.h5 --resize"
L=block_6_project_BN,block_16_project_BN
ok "setup: phantoms with lung masks at 230 x 230, synthetic MobileNetV2" [ -s "$D/im.h5" ]

status 0 "--pool lung-avg runs" $F --layer $L --pool lung-avg "$D/im.h5" -o "$D/la.h5" -j 2
status 0 "--pool lung-max runs" $F --layer $L --pool lung-max "$D/im.h5" -o "$D/lx.h5" -q
$F --layer $L --pool none "$D/im.h5" -o "$D/raw.h5" -q
$F --layer $L --pool avg "$D/im.h5" -o "$D/avg.h5" -q

if ! $py -c 'import h5py, numpy' 2>/dev/null; then
	skip "no /usr/bin/python3 with h5py and numpy: no reference checks"
	echo "1..$T_N"
	exit 0
fi
# The reference: raw maps from --pool none, area weights by replicating every mask pixel h x w
# times (each cell is then exactly H x W sub-pixels), weighted mean / max over touched cells.
cat >"$D/ref.py" <<'PY'
import sys, h5py, numpy as np
img, raw, la, lx = sys.argv[1:5]
# each layer's map h x w x c, from the blocks' widths (raw: h w c, pooled: c); square maps
wr = h5py.File(raw, "r")["blocks"]["width"][()]
wp = h5py.File(la, "r")["blocks"]["width"][()]
shapes = [(int(round((a // b) ** 0.5)),) * 2 + (int(b),) for a, b in zip(wr, wp)]
assert all(h * w * c == a for (h, w, c), a in zip(shapes, wr)) and shapes[0][0] == 14 and shapes[1][0] == 7
with h5py.File(img, "r") as f:
    m = (f["lung_mask"][()] > 0).astype(np.float64)
n, H, W = m.shape[:3]
m = m.reshape(n, H, W)
def weights(mk, h, w):
    up = np.repeat(mk, h, axis=0)                              # (H h) x W
    rows = up.reshape(h, H, W).sum(axis=1)                     # h x W: cell rows
    up = np.repeat(rows, w, axis=1)                            # h x (W w)
    return up.reshape(h, w, W).sum(axis=2) / (H * W)          # each cell: H x W sub-pixels
X = h5py.File(raw, "r")["features"][()].astype(np.float64)
A = h5py.File(la, "r")["features"][()].astype(np.float64)
M = h5py.File(lx, "r")["features"][()].astype(np.float64)
fb = h5py.File(la, "r")["lung_pool_fallback"][()]
ea = em = 0.0
col = at = 0
for h, w, c in shapes:
    maps = X[:, at:at + h * w * c].reshape(n, h * w, c)
    at += h * w * c
    for i in range(n):
        wt = weights(m[i], h, w).reshape(-1)
        if wt.sum() == 0:
            ref_a, ref_m = maps[i].mean(0), maps[i].max(0)
        else:
            ref_a = (wt[:, None] * maps[i]).sum(0) / wt.sum()
            ref_m = maps[i][wt > 0].max(0)
        ea = max(ea, np.abs(ref_a - A[i, col:col + c]).max() / max(1e-12, np.abs(ref_a).max()))
        em = max(em, np.abs(ref_m - M[i, col:col + c]).max())
    col += c
want_fb = (m.reshape(n, -1).sum(1) == 0).astype(np.uint8)
print("ok" if ea < 1e-5 else "bad", "lung-avg equals the numpy weighted mean %.3g" % ea)
print("ok" if em == 0 else "bad", "lung-max equals the numpy maximum over touched cells %.3g" % em)
print("ok" if (fb == want_fb).all() else "bad", "lung_pool_fallback marks the empty masks %s" % list(fb))
PY
$py "$D/ref.py" "$D/im.h5" "$D/raw.h5" "$D/la.h5" "$D/lx.h5" >"$D/ref.txt" 2>&1
while read -r res name; do
	[ "$res" = ok ]
	t_report $? "reference: $name" || :
done <"$D/ref.txt"
ok "the reference ran its 3 checks" [ "$(grep -c '^ok' "$D/ref.txt")" -eq 3 ]
ok "masked features differ from whole-map ones (the mask matters)" $py -c "
import sys, h5py, numpy as np
a, b = (h5py.File(p, 'r')['features'][()] for p in sys.argv[1:3])
assert np.abs(a - b).max() > 1e-3" "$D/la.h5" "$D/avg.h5"
ok "block names and the pooling attribute say lung-avg" $py -c "
import sys, h5py
f = h5py.File(sys.argv[1], 'r')
s = lambda x: x.decode() if isinstance(x, bytes) else x
assert [s(x) for x in f['blocks']['pool'][()]] == ['lung-avg'] * 2, f['blocks']['pool'][()]
assert s(f.attrs['pooling']) == 'lung-avg'" "$D/la.h5"

# An image with no lung field: pooled over the whole map, marked and counted.
cp "$D/im.h5" "$D/hole.h5"
$py -c "
import sys, h5py
with h5py.File(sys.argv[1], 'a') as f:
    f['lung_mask'][3] = 0" "$D/hole.h5"
status 0 "an empty mask falls back to the whole map" $F --layer $L --pool lung-avg "$D/hole.h5" -o "$D/hole-f.h5"
err_has "1 images have no lung field" "... and the summary counts it"
$F --layer $L --pool lung-max "$D/hole.h5" -o "$D/hole-x.h5" -q
$py "$D/ref.py" "$D/hole.h5" "$D/raw.h5" "$D/hole-f.h5" "$D/hole-x.h5" >"$D/ref2.txt" 2>&1
ok "... equal to the numpy reference, row 3 marked in /lung_pool_fallback" \
	sh -c "[ \$(grep -c '^ok' '$D/ref2.txt') -eq 3 ] && grep -q 'fallback.*0, 0, 0, 1, 0' '$D/ref2.txt'"
ok "... its features are the plain average" $py -c "
import sys, h5py, numpy as np
a, b = (h5py.File(p, 'r')['features'][()] for p in sys.argv[1:3])
assert np.abs(a[3] - b[3]).max() < 1e-5 and np.abs(a[2] - b[2]).max() > 1e-3" "$D/hole-f.h5" "$D/avg.h5"

# Threads, shards and resume give the same file content.
$F --layer $L --pool lung-avg "$D/im.h5" -o "$D/la1.h5" -q -j 1
ok "the features do not depend on the thread count" $py -c "
import sys, h5py, numpy as np
a, b = (h5py.File(p, 'r') for p in sys.argv[1:3])
assert (a['features'][()] == b['features'][()]).all() and (a['lung_pool_fallback'][()] == b['lung_pool_fallback'][()]).all()" \
	"$D/la.h5" "$D/la1.h5"
$F --layer $L --pool lung-avg "$D/hole.h5" --shard 1/2 -o "$D/s1.h5" -q
$F --layer $L --pool lung-avg "$D/hole.h5" --shard 2/2 -o "$D/s2.h5" -q
status 0 "ct-merge joins lung-pooled shards" ct-merge "$D/s1.h5" "$D/s2.h5" -o "$D/merged.h5"
ok "... into the unsharded features and fallback rows" $py -c "
import sys, h5py, numpy as np
a, b = (h5py.File(p, 'r') for p in sys.argv[1:3])
assert (a['features'][()] == b['features'][()]).all() and (a['lung_pool_fallback'][()] == b['lung_pool_fallback'][()]).all()
assert b['lung_pool_fallback'][()].sum() == 1" "$D/hole-f.h5" "$D/merged.h5"
CT_TEST_INTERRUPT_AFTER=4 $F --layer $L --pool lung-avg --batch 4 "$D/hole.h5" -o "$D/res.h5" -q 2>/dev/null
status 0 "--resume continues an interrupted lung-pooled run" $F --layer $L --pool lung-avg --batch 4 "$D/hole.h5" -o "$D/res.h5" --resume
err_has "1 images have no lung field" "... and counts the fallback rows of the whole file"
ok "... to the same features" $py -c "
import sys, h5py, numpy as np
a, b = (h5py.File(p, 'r') for p in sys.argv[1:3])
assert (a['features'][()] == b['features'][()]).all() and (a['lung_pool_fallback'][()] == b['lung_pool_fallback'][()]).all()" \
	"$D/hole-f.h5" "$D/res.h5"

# The record: a model trained on lung-pooled features refuses whole-map ones, and says so.
$F --layer block_6_project_BN --pool lung-avg "$D/im.h5" -o "$D/m1.h5" -q
$F --layer block_6_project_BN --pool avg "$D/im.h5" -o "$D/m0.h5" -q
ct-finetune "$D/m1.h5" --head logreg --epochs 5 --seed 1 -o "$D/model.h5" -q
ok "ct-info --preprocessing asks for --lung-mask (new images need their lung field)" \
	sh -c "[ \"\$(ct-info --preprocessing '$D/model.h5')\" = '--lung-mask' ]"
status 0 "ct-score applies the model to lung-pooled features" ct-score "$D/model.h5" "$D/m1.h5" --bootstrap 0
status 1 "ct-score refuses features pooled over the whole map" ct-score "$D/model.h5" "$D/m0.h5" --bootstrap 0
err_has "lung-avg" "... naming the pooling"
err_one_line "... in one line"

# ct-explain follows the pooling: a fused model of a lung-avg and a lung-max block, checked by the
# numpy reference of test_explain.sh (explain_ref.py, which pools and differentiates over the lung
# field like ct-features), the heat kept on the lung field, the fallback counted.
export CT_WEIGHTS_DIR="$D/w"
mkdir -p "$D/w" "$D/exp" "$D/exp0"
cp "$D/mn.h5" "$D/w/mobilenet_v2.h5"
$F --layer block_6_project_BN --pool lung-max "$D/hole.h5" -o "$D/e1.h5" -q
$F --layer block_16_project_BN --pool lung-avg "$D/hole.h5" -o "$D/e2.h5" -q
ct-fuse "$D/e1.h5" "$D/e2.h5" -o "$D/efused.h5" -q
ct-finetune "$D/efused.h5" --head mlp --hidden 8 --epochs 10 --seed 1 -o "$D/exp/model.h5" -q
ct-score "$D/exp/model.h5" "$D/efused.h5" --split all --bootstrap 0 --tsv "$D/escores.tsv" --json >"$D/exp/metrics.json"
status 0 "ct-explain explains a model on lung-pooled features" \
	ct-explain "$D/exp/model.h5" "$D/hole.h5" -o "$D/ex" --split all --dump "$D/edump.h5"
$py "$T_TOP/tests/cli/explain_ref.py" "$D/exp/model.h5" "$D/hole.h5" "$D/edump.h5" "$D/ex/explain.json" "$D/escores.tsv" \
	>"$D/eref.txt" 2>&1
while read -r res name; do
	[ "$res" = ok ]
	t_report $? "numpy reference, lung pooling: $name" || :
done <"$D/eref.txt"
ok "the reference ran all its checks" [ "$(grep -c '^ok' "$D/eref.txt")" -eq 9 ]
ok "explain.json records the lung pooling and its one fallback image" $py -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert d['lung_pool'] == {'used': True, 'fallback': 1}, d['lung_pool']
assert [b['pool'] for b in d['model']['blocks']] == ['lung-max', 'lung-avg']" "$D/ex/explain.json"
# The same model pooled over the whole map puts less of its heat on the lung field.
$F --layer block_6_project_BN --pool max "$D/hole.h5" -o "$D/p1.h5" -q
$F --layer block_16_project_BN --pool avg "$D/hole.h5" -o "$D/p2.h5" -q
ct-fuse "$D/p1.h5" "$D/p2.h5" -o "$D/pfused.h5" -q
ct-finetune "$D/pfused.h5" --head mlp --hidden 8 --epochs 10 --seed 1 -o "$D/exp0/model.h5" -q
ct-explain "$D/exp0/model.h5" "$D/hole.h5" -o "$D/ex0" --split all --threshold 0.5 -q
# (measured: 0.63 against 0.24, the lung field's area 0.21; the 7 x 7 cells straddling the
# lung border spread part of their heat outside it when upsampled)
ok "more heat on the lung field than the whole-map model (median share +0.2, > 2x its area)" $py -c "
import json, sys
a, b = (json.load(open(p))['lung_share'] for p in sys.argv[1:3])
assert a['median'] > b['median'] + 0.2 and a['median'] > 2 * a['median_lung_area'], (a['median'], b['median'])" "$D/ex/explain.json" "$D/ex0/explain.json"
ok "... with no heat at all on lung-free cells (the maps at the cut are zero there)" $py -c "
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], 'r') as d, h5py.File(sys.argv[2], 'r') as f:
    cut, shp, rows = d['cut'][()], d['cut_shape'][()], d['rows'][()]
    m = f['lung_mask'][()][rows] > 0
n, H, W = m.shape[:3]
at = 0
for h, w, c in shp:
    cc = cut[:, at:at + h * w].reshape(n, h, w)
    at += h * w
    touch = np.repeat(np.repeat(m.reshape(n, H, W), h, 1).reshape(n, h, H, W).any(2), w, 2).reshape(n, h, w, W).any(3)
    empty = ~m.reshape(n, -1).any(1)
    assert (cc[~empty][~touch[~empty]] == 0).all()" "$D/edump.h5" "$D/hole.h5"
status 1 "ct-explain refuses images without /lung_mask for such a model" \
	ct-explain "$D/exp/model.h5" "$D/nomask.h5" -o "$D/bad-ex" --split all
err_has "no /lung_mask" "... saying what is missing"
err_one_line "... in one line"
ok "... leaving no output folder" sh -c "! ls -d '$D'/bad-ex* >/dev/null 2>&1"

# --also: a backbone that reads the other size's images pools over that file's mask.
ct-convert "$D/ph" --split "$D/split" --groups "$D/ph/patients.tsv" --size 224 --lung-mask -o "$D/m224.h5" -q
ct-convert "$D/ph" --split "$D/split" --groups "$D/ph/patients.tsv" --size 224 -o "$D/n224.h5" -q
ct-convert "$D/ph" --split "$D/split" --groups "$D/ph/patients.tsv" --size 160 -o "$D/n160.h5" -q
mkdir -p "$D/exp2"
ct-features --backbone mobilenet_v2 --layer block_13_project_BN --pool lung-avg "$D/m224.h5" -o "$D/a224.h5" -q
ct-finetune "$D/a224.h5" --head logreg --epochs 10 --seed 1 -o "$D/exp2/model.h5" -q
ct-score "$D/exp2/model.h5" "$D/a224.h5" --split all --bootstrap 0 --tsv "$D/a224.tsv" >/dev/null
status 0 "--also: 160 x 160 images shown, the backbone reads the 224 x 224 ones and their mask" \
	ct-explain "$D/exp2/model.h5" "$D/n160.h5" --also "$D/m224.h5" -o "$D/ex2" --split all --threshold 0.5 --json
ok "... probabilities equal to ct-score's" $py -c "
import json, sys
d = json.load(open(sys.argv[1]))
sc = {l.split('\t')[0]: float(l.split('\t')[3]) for l in open(sys.argv[2]).read().splitlines()[1:]}
assert max(abs(s['p'] - sc[s['name']]) for s in d['samples']) < 1e-5 and d['lung_pool']['used']" "$T_DIR/out" "$D/a224.tsv"
status 1 "... and an --also file without /lung_mask is refused" \
	ct-explain "$D/exp2/model.h5" "$D/n160.h5" --also "$D/n224.h5" -o "$D/bad-ex2" --split all
err_has "'$D/n224.h5' has no /lung_mask" "... naming it"

# The pipelines: covid-ct.mk trains on lung-pooled features; predict.mk reads the pooling from
# the model's blocks and converts new images with --lung-mask (ct-info --preprocessing).
bin=$(dirname "$(command -v ct-features)")
make --no-print-directory -f "$T_TOP/pipelines/covid-ct.mk" CTBIN="$bin" CT_WEIGHTS_DIR="$D/w" DATA="$D/ph" \
	SPLIT="$D/split" GROUPS="$D/ph/patients.tsv" OUT="$D/pipe" BACKBONES=mobilenet_v2 AUGMENT=0 AUDIT=0 \
	CONVERT_ARGS="--split $D/split --groups $D/ph/patients.tsv --lung-mask" FEATURE_ARGS="--batch 8 --pool lung-avg" \
	SCORE_ARGS="--threshold youden --bootstrap 0" FINETUNE_ARGS="--head logreg --epochs 20" >"$D/pipe.log" 2>&1
ok "covid-ct.mk trains on lung-pooled features (FEATURE_ARGS=--pool lung-avg)" \
	sh -c "[ -s '$D/pipe/mobilenet_v2-noaug/metrics.json' ] && ct-info '$D/pipe/mobilenet_v2-noaug/model.h5' | grep -q 'block_10_project_BN/lung-avg'"
make --no-print-directory -f "$T_TOP/pipelines/predict.mk" CTBIN="$bin" CT_WEIGHTS_DIR="$D/w" \
	MODEL_DIR="$D/pipe/mobilenet_v2-noaug" IMAGES="$D/ph/lesion" PRED="$D/pred" >"$D/pred.log" 2>&1
ok "predict.mk converts new images with their lung field and pools them alike" \
	sh -c "[ \$(tail -n +2 '$D/pred/predictions.tsv' | wc -l) -eq 6 ] && grep -q -- '--lung-mask' '$D/pred.log' && grep -q -- '--pool lung-avg' '$D/pred.log'"

# Bad input.
status 1 "an images file without /lung_mask is refused" $F --layer $L --pool lung-avg "$D/nomask.h5" -o "$D/bad.h5"
err_has "has no /lung_mask" "... saying what is missing"
err_one_line "... in one line"
ok "... and nothing is written" sh -c "! ls '$D'/bad.h5* >/dev/null 2>&1"
cp "$D/im.h5" "$D/badmask.h5"
$py -c "
import sys, h5py
with h5py.File(sys.argv[1], 'a') as f:
    del f['lung_mask']
    f.create_dataset('lung_mask', data=f['images'][:, :100, :, 0])" "$D/badmask.h5"
status 1 "a mask of the wrong shape is refused" $F --layer $L --pool lung-avg "$D/badmask.h5" -o "$D/bad.h5"
err_has "lung_mask" "... naming the dataset"
status 2 "--cut with --pool lung-avg is a usage error" \
	$F --layer $L --pool lung-avg --cut block_6_project_BN "$D/im.h5" -o "$D/bad.h5"
echo "1..$T_N"
