#!/bin/sh
# test_finetune.sh - ct-finetune end to end on synthetic features: both heads learn the separable
# fixture, the model file has its parts, one thread and two give byte-identical models, --cv,
# validation held out or none; NaN features, no train samples, a class missing from train, an
# images file, a missing input, existing output (1); bad options (2); a model applied to features
# of another layout is refused (ct-score, when built).
. "$(dirname "$0")/lib.sh"
d=$T_DIR
ok "the fixture generator writes synthetic features files" "$T_BUILD/tests/test_train_fixtures" "$d"
ok "fuses a.h5 and b.h5" ct-fuse "$d/a.h5" "$d/b.h5" -o "$d/ab.h5" -q

status 0 "trains an MLP head on the fused features" ct-finetune "$d/ab.h5" -o "$d/m.h5" --epochs 30
err_has "validation: val split" "validation uses the val split, and says so"
err_has "mlp 13->256->2, 36 train / 12 val samples" "the summary names the head and the row counts"
err_has "val loss [0-9.]* acc 1.0000" "the separable fixture is learnt (val accuracy 1)"
ok "the output is a model file" sh -c 'ct-info "$1" | grep -q "kind: *model"' sh "$d/m.h5"
ok "... with its class names and provenance ending in ct-finetune" sh -c '
	ct-info "$1" | grep -q "class_names *string *2" && ct-info "$1" | tail -n 1 | grep -q "ct-finetune"' sh "$d/m.h5"
if command -v h5ls >/dev/null 2>&1; then
	ok "... with head weights, standardisation, blocks and the training curve" sh -c '
		h5ls -r "$1" >"$1.ls" && for o in /head/w1 /head/b1 /head/w2 /head/b2 /head/mean /head/std /blocks/name \
			/training/train_loss /training/val_loss /training/train_acc /training/val_acc; do
			grep -q "^$o " "$1.ls" || exit 1
		done' sh "$d/m.h5"
fi
status 0 "trains a logistic regression head with SGD and balanced class weights" \
	ct-finetune "$d/ab.h5" -o "$d/lr.h5" --head logreg --optimizer sgd --class-weights balanced --epochs 30
err_has "logreg 13->2" "... and names it"
ok "1 and 2 threads give byte-identical models" sh -c '
	cd "$1" && OMP_NUM_THREADS=1 ct-finetune ab.h5 -o t.h5 --epochs 8 --hidden 32 -q &&
	mv t.h5 t1.h5 && OMP_NUM_THREADS=2 ct-finetune ab.h5 -o t.h5 --epochs 8 --hidden 32 -q && cmp t.h5 t1.h5' sh "$d"
ok "another seed gives another model" sh -c '
	cd "$1" && ct-finetune ab.h5 -o t.h5 --epochs 8 --hidden 32 -q --seed 9 --force && ! cmp -s t.h5 t1.h5' sh "$d"
status 0 "--cv 4 cross-validates on train+val" ct-finetune "$d/ab.h5" -o "$d/cv.h5" --cv 4 --epochs 20 --head logreg
ok "... printing the mean and sd of accuracy and AUC" grep -q "^cv 4 folds: accuracy [0-9.]* +- [0-9.]*, AUC [0-9.]* +- [0-9.]*" "$d/out"
ok "... and one line per fold" test "$(grep -c "fold [1-4]/4: val accuracy" "$d/err")" -eq 4
ok "ct-split makes a file without a val split" ct-split "$d/nosplit.h5" -o "$d/f5.h5" --fractions 0.8,0,0.2 -q
status 0 "without a val split, part of train is held out" ct-finetune "$d/f5.h5" -o "$d/ho.h5" --epochs 5
err_has "validation: held out from train (--val-fraction)" "... and it says so"
status 0 "--val-fraction 0 trains for fixed epochs" ct-finetune "$d/f5.h5" -o "$d/fx.h5" --epochs 5 --val-fraction 0
err_has "validation: none (fixed epochs)" "... and it says so"
err_has "epoch 5 of 5 kept" "... keeping the last epoch"
status 0 "--patience stops early on a val loss that stops falling" \
	ct-finetune "$d/ab.h5" -o "$d/es.h5" --epochs 500 --patience 3 --lr 0.05 --weight-decay 0
err_has "(stopped early)" "... and says so"

status 1 "NaN features are refused (1)" ct-finetune "$d/nan.h5" -o "$d/bad.h5"
err_has "non-finite feature" "... saying so"
status 1 "a file without splits is refused (1)" ct-finetune "$d/nosplit.h5" -o "$d/bad.h5"
err_has "no labelled train samples" "... suggesting ct-split"
status 1 "a train split without 'covid' samples is refused (1)" ct-finetune "$d/nocovid_train.h5" -o "$d/bad.h5"
err_has "split 'train' has no 'covid' samples" "... naming the class"
status 1 "a missing input is a failure (1)" ct-finetune "$d/missing.h5" -o "$d/bad.h5"
err_has "cannot open '$d/missing.h5'" "... naming the file"
status 1 "a model file as input is refused (1)" ct-finetune "$d/m.h5" -o "$d/bad.h5"
err_has "is a 'model' file, expected 'features'" "... as not a features file"
ok "failures leave no output" test ! -e "$d/bad.h5"
status 1 "an existing output is refused without --force (1)" ct-finetune "$d/ab.h5" -o "$d/m.h5"
err_has "exists (use --force to overwrite)" "... at once"

if command -v ct-score >/dev/null 2>&1; then
	status 1 "ct-score refuses features of another layout (1)" ct-score "$d/m.h5" "$d/a.h5" -o "$d/sc.h5"
	err_has "the model expects 13" "... naming the column counts"
fi

status 2 "an unknown head is a usage error (2)" ct-finetune "$d/ab.h5" -o "$d/u.h5" --head svm
status 2 "--hidden with --head logreg is a usage error (2)" ct-finetune "$d/ab.h5" -o "$d/u.h5" --head logreg --hidden 8
status 2 "--momentum with adam is a usage error (2)" ct-finetune "$d/ab.h5" -o "$d/u.h5" --momentum 0.5
status 2 "--dropout 1 is a usage error (2)" ct-finetune "$d/ab.h5" -o "$d/u.h5" --dropout 1
status 2 "--lr 0 is a usage error (2)" ct-finetune "$d/ab.h5" -o "$d/u.h5" --lr 0
status 2 "--cv 1 is a usage error (2)" ct-finetune "$d/ab.h5" -o "$d/u.h5" --cv 1
status 2 "--batch 0 is a usage error (2)" ct-finetune "$d/ab.h5" -o "$d/u.h5" --batch 0
status 2 "a missing -o is a usage error (2)" ct-finetune "$d/ab.h5"
status 2 "two inputs are a usage error (2)" ct-finetune "$d/ab.h5" "$d/a.h5" -o "$d/u.h5"
status 2 "--sd-floor -1 is a usage error (2)" ct-finetune "$d/ab.h5" -o "$d/u.h5" --sd-floor -1

# --sd-floor F: each column's sd at least F x the mean column sd of the train rows (numpy on the
# train rows as the reference); without it only the train rows' own sd (population).
if /usr/bin/python3 -c 'import h5py, numpy' 2>/dev/null; then
	ct-finetune "$d/ab.h5" -o "$d/sdf0.h5" --epochs 2 -q && ct-finetune "$d/ab.h5" -o "$d/sdf5.h5" --epochs 2 --sd-floor 5 -q
	ok "--sd-floor 5 floors the stored sd at 5 x the mean train sd; the default keeps each column's own" \
		/usr/bin/python3 -c 'import sys, h5py, numpy as np
f = h5py.File(sys.argv[1]); s = np.array([x.decode() for x in f["splits"][:]])
x = f["features"][:][s == "train"].astype(np.float64)
sd = x.std(axis=0); sd[sd <= 1e-12] = 1
floor = np.maximum(sd, 5 * x.std(axis=0).mean())
s0 = h5py.File(sys.argv[2])["head/std"][:]; s5 = h5py.File(sys.argv[3])["head/std"][:]
sys.exit(not (np.allclose(s0, sd, rtol=1e-5) and np.allclose(s5, floor, rtol=1e-5) and (s5 > s0 * 1.01).any()))' \
		"$d/ab.h5" "$d/sdf0.h5" "$d/sdf5.h5"
fi
ok "usage errors create no output" test ! -e "$d/u.h5"
status 0 "--help exits 0" ct-finetune --help
echo "1..$T_N"
