#!/bin/sh
# test_finetune_ensemble.sh - ct-finetune --ensemble K on synthetic features: K = 1 is the model
# without the option; a K = 3 model is byte-identical at 1 and 2 threads, holds the three heads
# of seeds S, S+1, S+2 and ct-score gives the mean of the three single-head models' probabilities
# (numpy, from their own ct-score runs); --cv with K = 3 scores each fold by the mean of three
# single-head models trained on that fold's split (ct-split --assign, sklearn's AUC); bad K and
# --finetune are usage errors (2); ct-explain and ct-weights export-onnx refuse an ensemble.
. "$(dirname "$0")/lib.sh"
d=$T_DIR
PY=/usr/bin/python3
ok "the fixture generator writes synthetic features files" "$T_BUILD/tests/test_train_fixtures" "$d"
ok "fuses a.h5 and b.h5" ct-fuse "$d/a.h5" "$d/b.h5" -o "$d/ab.h5" -q
# short, weak training: the heads of different seeds disagree, so a fold that averaged fewer heads
# would score otherwise
TR="--epochs 6 --patience 2 --hidden 8 --lr 3e-4 --seed 7"

# shellcheck disable=SC2086
status 0 "--ensemble 3 trains three heads" ct-finetune "$d/ab.h5" -o "$d/e3.h5" $TR --ensemble 3
err_has "ensemble of 3 heads (seeds 7..9), epochs kept: [0-9]*, [0-9]*, [0-9]*" "... and names their seeds and kept epochs"
# shellcheck disable=SC2086
ok "1 and 2 threads give byte-identical ensembles" sh -c '
	cd "$1" && shift && OMP_NUM_THREADS=1 ct-finetune ab.h5 -o t.h5 "$@" --ensemble 3 -q && mv t.h5 t1.h5 &&
	OMP_NUM_THREADS=2 ct-finetune ab.h5 -o t.h5 "$@" --ensemble 3 -q && cmp t.h5 t1.h5' sh "$d" $TR
# the single-head models: the same command lines but for the seed (params record the output name)
for s in 7 8 9; do
	trs=$(echo "$TR" | sed "s/--seed 7/--seed $s/")
	# shellcheck disable=SC2086
	(cd "$d" && ct-finetune ab.h5 -o x.h5 $trs -q && mv x.h5 "s$s.h5")
	ct-score "$d/s$s.h5" "$d/ab.h5" --split all -o "$d/sc$s.h5" >/dev/null 2>&1
done
# shellcheck disable=SC2086
(cd "$d" && ct-finetune ab.h5 -o x.h5 $TR --ensemble 1 -q && mv x.h5 e1.h5)
status 0 "ct-score scores the ensemble" ct-score "$d/e3.h5" "$d/ab.h5" --split all -o "$d/sce3.h5"
ok "... says it averages 3 heads" grep -q "mean of 3 mlp heads" "$d/out"
ok "... and its JSON has model.heads 3" sh -c 'ct-score "$1" "$2" --split all --json | grep -q "\"heads\":[[:space:]]*3"' \
	sh "$d/e3.h5" "$d/ab.h5"

if $PY -c 'import h5py, numpy, sklearn' 2>/dev/null; then
	ok "--ensemble 1 writes the model of no --ensemble (every object but the command line)" $PY -c '
import sys, json, h5py, numpy as np
def walk(path):
    out = {}
    def attrs(name, obj):
        return {k: (v.tobytes() if isinstance(v, np.ndarray) else v) for k, v in obj.attrs.items()
                if k not in ("command", "content_sha256")}
    f = h5py.File(path)
    out["/"] = attrs("/", f)
    def visit(name, obj):
        a = attrs(name, obj)
        if isinstance(obj, h5py.Dataset):
            v = obj[()]
            if name == "provenance":
                v = [json.loads(x) for x in v]
                for e in v:
                    e.pop("command", None)
            else:
                v = v.tobytes() if isinstance(v, np.ndarray) else v
            out[name] = (a, v)
        else:
            out[name] = a
    f.visititems(visit)
    return out
a, b = walk(sys.argv[1]), walk(sys.argv[2])
sys.exit(not (a == b and "ensemble" not in a and "head/w1" in a))' "$d/s7.h5" "$d/e1.h5"
	ok "the ensemble holds the seed-7 head as /head and the seed-8 and seed-9 heads as /ensemble/1 and /2" $PY -c '
import sys, h5py, numpy as np
e = h5py.File(sys.argv[1]); s = [h5py.File(p) for p in sys.argv[2:5]]
g = [e["head"], e["ensemble/1"], e["ensemble/2"]]
same = all(np.array_equal(g[i][w][()], s[i]["head"][w][()]) for i in range(3) for w in ("mean", "std", "w1", "b1", "w2", "b2"))
sys.exit(not (same and e["ensemble"].attrs["heads"] == 3 and e["ensemble/2"].attrs["seed"] in (b"9", "9")
              and "ensemble/3" not in e and not np.array_equal(g[0]["w1"][()], g[1]["w1"][()])))' \
		"$d/e3.h5" "$d/s7.h5" "$d/s8.h5" "$d/s9.h5"
	ok "the ensemble's probabilities are the mean of the three single models' (which differ)" $PY -c '
import sys, h5py, numpy as np
p = [h5py.File(x)["probabilities"][()].astype(np.float64) for x in sys.argv[1:4]]
e = h5py.File(sys.argv[4])["probabilities"][()].astype(np.float64)
m = sum(p) / 3
sys.exit(not (np.abs(e - m).max() < 1e-6 and np.abs(p[0] - p[1]).max() > 1e-3 and np.abs(e - p[0]).max() > 1e-4))' \
		"$d/sc7.h5" "$d/sc8.h5" "$d/sc9.h5" "$d/sce3.h5"

	# --cv: fold f of an ensemble is the mean of three single heads trained with fold f as val
	ok "ct-split adds 3 folds" ct-split "$d/ab.h5" --keep-splits --folds 3 -o "$d/abf.h5" -q
	# shellcheck disable=SC2086
	status 0 "--cv 3 --ensemble 3 cross-validates the ensemble" ct-finetune "$d/abf.h5" -o "$d/cv3.h5" $TR --cv 3 --ensemble 3
	# shellcheck disable=SC2086
	ct-finetune "$d/abf.h5" -o "$d/cv1.h5" $TR --cv 3 -q
	$PY -c '
import sys, h5py
f = h5py.File(sys.argv[1]); d = sys.argv[2]
names = [x.decode() for x in f["names"][()]]; folds = f["folds"][()]
for k in range(3):
    with open("%s/fold%d.tsv" % (d, k), "w") as o:
        for n, g in zip(names, folds):
            o.write("%s\t%s\n" % (n, "none" if g < 0 else "val" if g == k else "train"))' "$d/abf.h5" "$d"
	for k in 0 1 2; do
		ct-split "$d/abf.h5" --assign "$d/fold$k.tsv" -o "$d/f$k.h5" -q
		for s in 7 8 9; do
			trs=$(echo "$TR" | sed "s/--seed 7/--seed $s/")
			# shellcheck disable=SC2086
			ct-finetune "$d/f$k.h5" -o "$d/f${k}s$s.h5" $trs -q
			ct-score "$d/f${k}s$s.h5" "$d/f$k.h5" --split val -o "$d/f${k}sc$s.h5" >/dev/null 2>&1
		done
	done
	ok "... each fold's accuracy and AUC are those of the mean of three single models (sklearn)" $PY -c '
import sys, h5py, numpy as np
from sklearn.metrics import roc_auc_score
d = sys.argv[1]; cv = h5py.File(d + "/cv3.h5")["cv"]; cv1 = h5py.File(d + "/cv1.h5")["cv"]
good = True
for k in range(3):
    sc = [h5py.File("%s/f%dsc%d.h5" % (d, k, s)) for s in (7, 8, 9)]
    spl = np.array([x.decode() for x in sc[0]["splits"][()]]); v = spl == "val"
    y = sc[0]["labels"][()][v]
    p = sum(s["probabilities"][()][v].astype(np.float64) for s in sc) / 3
    acc = np.mean(np.argmax(p, axis=1) == y); auc = roc_auc_score(y, p[:, 1])
    good &= abs(acc - cv["acc"][k]) < 1e-9 and abs(auc - cv["auc"][k]) < 1e-9
    print("# fold %d: acc %.4f (cv %.4f), auc %.4f (cv %.4f; one head %.4f)" % (k, acc, cv["acc"][k], auc, cv["auc"][k], cv1["auc"][k]))
sys.exit(not good)' "$d"
	ok "... and differ from one head'\''s cross-validation" $PY -c '
import sys, h5py, numpy as np
a = h5py.File(sys.argv[1])["cv/auc"][()]; b = h5py.File(sys.argv[2])["cv/auc"][()]; c = h5py.File(sys.argv[1])["cv/acc"][()]; e = h5py.File(sys.argv[2])["cv/acc"][()]
sys.exit(np.array_equal(a, b) and np.array_equal(c, e))' "$d/cv3.h5" "$d/cv1.h5"

	# a damaged /ensemble is refused by name (CT_NO_VERIFY: past the checksums h5py invalidates)
	for b in heads4 heads1 din; do cp "$d/e3.h5" "$d/$b.h5"; done
	$PY -c '
import sys, h5py, numpy as np
d = sys.argv[1]
with h5py.File(d + "/heads4.h5", "r+") as f: f["ensemble"].attrs["heads"] = np.int64(4)
with h5py.File(d + "/heads1.h5", "r+") as f: f["ensemble"].attrs["heads"] = np.int64(1)
with h5py.File(d + "/din.h5", "r+") as f: f["ensemble/1"].attrs["d_in"] = np.int64(12)' "$d"
	status 1 "ct-score refuses an ensemble that says 4 heads and holds 3 (1)" env CT_NO_VERIFY=1 ct-score "$d/heads4.h5" "$d/ab.h5"
	err_has "'$d/heads4.h5': missing group 'ensemble/3'" "... naming the file and the missing head"
	status 1 "... and one that says 1 head (1)" env CT_NO_VERIFY=1 ct-score "$d/heads1.h5" "$d/ab.h5"
	err_has "group 'ensemble': 1 heads (2 to 100)" "... saying so"
	status 1 "... and a member whose shape disagrees with its weights (1)" env CT_NO_VERIFY=1 ct-score "$d/din.h5" "$d/ab.h5"
	err_has "dataset 'ensemble/1/mean' does not have 12 values" "... naming the dataset"
else
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13; do
		echo "ok $((T_N += 1)) # skip /usr/bin/python3 with h5py, numpy and scikit-learn needed"
	done
fi

for k in 0 -1 1000000 x; do
	status 2 "--ensemble $k is a usage error (2)" ct-finetune "$d/ab.h5" -o "$d/u.h5" --ensemble "$k"
	ok "... in one message line naming the option" sh -c '[ "$(grep -c "^ct-finetune: .*--ensemble" "$1")" -eq 1 ] &&
		[ "$(grep -vc "^Try " "$1")" -eq 1 ]' sh "$d/err"
done
status 2 "--ensemble 2 with --finetune is a usage error (2)" ct-finetune --finetune "$d/ab.h5" -o "$d/u.h5" --ensemble 2
err_has "--ensemble applies to head-only training" "... saying why"
ok "usage errors create no output" test ! -e "$d/u.h5"

status 1 "ct-explain refuses an ensemble (1)" ct-explain "$d/e3.h5" "$d/ab.h5" -o "$d/ex"
err_has "'$d/e3.h5': ensemble of 3 heads: not supported by ct-explain" "... naming the file and the head count"
err_one_line "... in one line"
status 1 "ct-weights export-onnx --model refuses it (no fine-tuned layers to export)" \
	ct-weights export-onnx --model "$d/e3.h5" -o "$d/e3.onnx"
err_one_line "... in one line"
ok "ct-finetune --help lists --ensemble" sh -c 'ct-finetune --help | grep -q -- "--ensemble K"'
echo "1..$T_N"
