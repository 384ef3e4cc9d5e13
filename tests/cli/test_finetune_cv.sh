#!/bin/sh
# test_finetune_cv.sh - ct-finetune --finetune --cv K: every fold is fine-tuned as a split would
# be. The held-out accuracy and AUC of each fold (the model's /cv) equal those ct-score gives
# for a model fine-tuned directly on a copy of the cut file whose split is that fold (train:
# the other folds, val: the fold); the folds of ct-split --folds are used; the final model is
# the one fine-tuned on the real split (byte-identical to a run without --cv); 1 and 2 threads
# give byte-identical models.
. "$(dirname "$0")/lib.sh"
d=$T_DIR
PY=/usr/bin/python3
ct-phantom -o "$d/ph" --patients 10 --slices-per-patient 2 --size 96 --seed 7 >/dev/null 2>&1
ok "phantom images, synthetic weights, a cut file with 3 folds over train+val" sh -c '
	cd "$1" && ct-convert ph --size 224 -o i.h5 -q && ct-split i.h5 -o s.h5 --fractions 0.6,0.2,0.2 -q &&
	ct-weights synth -b mobilenet_v2 -o w.h5 -q &&
	ct-features -b mobilenet_v2 -w w.h5 --cut block_15_add s.h5 -o c0.h5 -q &&
	ct-split c0.h5 -o c.h5 --keep-splits --folds 3 -q' sh "$d"
FT="--weights $d/w.h5 --epochs 3 --hidden 16 --backbone-lr 1e-2 --joint-head-lr 1e-2 --batch 4 --seed 3"
# shellcheck disable=SC2086
status 0 "ct-finetune --finetune --cv 3 runs" ct-finetune --finetune --cv 3 "$d/c.h5" $FT -o "$d/cv.h5"
ok "... using the file's folds and printing their mean and sd" sh -c '
	grep -q "uses the 3 folds of" "$1/err" && grep -q "^cv 3 folds: accuracy" "$1/out"' sh "$d"
# shellcheck disable=SC2086
ok "the final model is the one fine-tuned on the real split (as without --cv)" sh -c '
	ct-finetune --finetune "$1/c.h5" $2 -q -o "$1/nocv.h5" &&
	"$3" -c "import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
def walk(g, out, p=\"\"):
    for k, v in g.items():
        if isinstance(v, h5py.Dataset): out[p + k] = v[...]
        else: walk(v, out, p + k + \"/\")
x, y = {}, {}
walk(a[\"finetune\"], x); walk(b[\"finetune\"], y); walk(a[\"head\"], x, \"head/\"); walk(b[\"head\"], y, \"head/\")
sys.exit(0 if x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x) else 1)" "$1/cv.h5" "$1/nocv.h5"' \
	sh "$d" "$FT" "$PY"
# shellcheck disable=SC2086
ok "1 and 2 threads give byte-identical models" sh -c '
	cd "$1" && OMP_NUM_THREADS=1 ct-finetune --finetune --cv 3 c.h5 $2 -q -o t.h5 && mv t.h5 t1.h5 &&
	OMP_NUM_THREADS=2 ct-finetune --finetune --cv 3 c.h5 $2 -q -o t.h5 && cmp t.h5 t1.h5' sh "$d" "$FT"
if "$PY" -c 'import h5py' 2>/dev/null; then
	for f in 0 1 2; do
		# the cut file with split = this fold (val) and the other folds (train); test rows unchanged
		"$PY" -c 'import h5py, shutil, sys
src, dst, f = sys.argv[1], sys.argv[2], int(sys.argv[3])
shutil.copy(src, dst)
h = h5py.File(dst, "a")
folds = h["folds"][...]
sp = [s.decode() if isinstance(s, bytes) else s for s in h["splits"][...]]
new = ["val" if k == f else "train" if k >= 0 else s for k, s in zip(folds, sp)]
dt = h["splits"].dtype
del h["splits"]
h.create_dataset("splits", data=[s.encode() for s in new], dtype=dt)' "$d/c.h5" "$d/f$f.h5" "$f"
		# shellcheck disable=SC2086
		CT_NO_VERIFY=1 ct-finetune --finetune "$d/f$f.h5" $FT -o "$d/m$f.h5" 2>"$d/ft$f.err"
		CT_NO_VERIFY=1 ct-score "$d/m$f.h5" "$d/f$f.h5" --split val --bootstrap 0 --json >"$d/s$f.json" 2>"$d/s$f.err"
		r=$("$PY" -c 'import h5py, json, sys
cv = h5py.File(sys.argv[1])["cv"]; f = int(sys.argv[3])
m = json.load(open(sys.argv[2]))["metrics"]
a, b = m["accuracy"]["value"], m["auc"]["value"]
print("%.6f %.6f %.6f %.6f" % (cv["acc"][f], a, cv["auc"][f], b))
sys.exit(0 if abs(cv["acc"][f] - a) < 1e-9 and abs(cv["auc"][f] - b) < 1e-9 else 1)' "$d/cv.h5" "$d/s$f.json" "$f" 2>&1)
		t_report $? "fold $((f + 1)): held-out accuracy and AUC = those of the model fine-tuned on that split ($r)" ||
			sed 's/^/# /' "$d/ft$f.err" "$d/s$f.err" | head -n 4
	done
else
	for f in 0 1 2; do echo "ok $((T_N += 1)) # skip /usr/bin/python3 with h5py needed"; done
fi
echo "1..$T_N"
