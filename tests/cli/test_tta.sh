#!/bin/sh
# test_tta.sh - test-time augmentation from the command line, on histogram features of phantom
# slices (examples/histogram_features) with ct-augment --all copies: ct-score --tta scores the
# originals only, each with the mean probability of itself and its copies (checked with numpy
# against the per-row probabilities of a plain --split all run); without --tta, copies outside
# train are scored as rows and ct-score says so; ct-finetune leaves val copies out of early
# stopping (the model equals the one trained without them) and --cv --tta scores each held-out
# image with its copies; refusals: no copies, --tta without --cv, with --finetune.
. "$(dirname "$0")/lib.sh"
D=$T_DIR
PY=/usr/bin/python3
ex=$T_BUILD/examples/histogram_features
ct-phantom -o "$D/ph" --patients 12 --slices-per-patient 3 --size 64 --seed 4 --split-dir "$D/split" >/dev/null 2>&1
ct-convert "$D/ph" --size 32 --split "$D/split" --groups "$D/ph/patients.tsv" -o "$D/img.h5" -q
AUG="--copies 3 --rotate 10 --shift 0.1 --seed 2"
# shellcheck disable=SC2086
ct-augment "$D/img.h5" $AUG --all -o "$D/all.h5" -q
# shellcheck disable=SC2086
ct-augment "$D/img.h5" $AUG -o "$D/train.h5" -q
"$ex" "$D/all.h5" "$D/fall.h5" && "$ex" "$D/train.h5" "$D/ftrain.h5" && "$ex" "$D/img.h5" "$D/fimg.h5"
ok "histogram features of the originals, the train copies and all copies" test -s "$D/fall.h5" -a -s "$D/ftrain.h5"
if $PY -c 'import h5py, numpy' 2>/dev/null; then
	ok "--all makes the same train copies as without it, and copies of val and test too (h5py)" $PY -c '
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
na = [x.decode() for x in a["names"][()]]
nb = [x.decode() for x in b["names"][()]]
ia = {n: i for i, n in enumerate(na)}
sa = [x.decode() for x in a["splits"][()]]
assert all(np.array_equal(a["images"][ia[n]], b["images"][j]) for j, n in enumerate(nb))
assert any("#aug" in n and s == "test" for n, s in zip(na, sa)) and len(na) > len(nb)
' "$D/all.h5" "$D/train.h5"
else
	echo "ok $((T_N = T_N + 1)) # SKIP h5py not installed"
fi

TR="--head logreg --epochs 30 --seed 3"
# shellcheck disable=SC2086
status 0 "ct-finetune trains on a file with val and test copies" ct-finetune "$D/fall.h5" $TR -o "$D/m_all.h5"
err_has "augmented copies in the val split are not used" "... and says the val copies are left out of validation"
nval=$(ct-score "$D/m_all.h5" "$D/fimg.h5" --split val --bootstrap 0 2>/dev/null | sed -n 's/^split: *val: \([0-9]*\) samples.*/\1/p')
err_has " / ${nval:-?} val samples" "... validating on the $nval val originals"
# shellcheck disable=SC2086
(cd "$D" && ct-finetune ftrain.h5 $TR -o m.h5 -q && mv m.h5 m_train.h5 && ct-finetune fall.h5 $TR -o m.h5 -q && mv m.h5 m_all2.h5)
ok "... the same head as trained on the train copies alone" sh -c '
	ct-score "$1" "$3" --split test --bootstrap 0 --tsv "$4.a" >/dev/null 2>&1 &&
	ct-score "$2" "$3" --split test --bootstrap 0 --tsv "$4.b" >/dev/null 2>&1 && cmp "$4.a" "$4.b"' \
	sh "$D/m_train.h5" "$D/m_all2.h5" "$D/fimg.h5" "$D/cmp"

status 0 "ct-score --tta scores the test split" ct-score "$D/m_all.h5" "$D/fall.h5" --tta --bootstrap 0 \
	--tsv "$D/tta.tsv" --json -o "$D/tta.h5"
ntest=$(awk -F'\t' 'NR > 1 && $2 == "test"' "$D/tta.tsv" | wc -l)
nimg=$(awk -F"\t" "NR > 1" "$D/tta.tsv" | wc -l)
ok "... its TSV holds originals only ($nimg rows, $ntest test)" sh -c '! grep -q "#aug" "$1" && [ "$2" -gt 0 ]' sh "$D/tta.tsv" "$ntest"
ok "... its JSON counts the copies averaged in" grep -q '"tta_copies":' "$D/out"
ok "... the text report says so" sh -c 'ct-score "$1" "$2" --tta --bootstrap 0 | grep -q "tta: *[0-9]* augmented copies averaged"' \
	sh "$D/m_all.h5" "$D/fall.h5"
status 0 "without --tta the copies are scored as samples" ct-score "$D/m_all.h5" "$D/fall.h5" --split all --bootstrap 0 \
	--tsv "$D/rows.tsv"
err_has "augmented copies outside the train split are scored as samples of their own" "... and ct-score says so"
if $PY -c 'import numpy' 2>/dev/null; then
	ok "each original's probability is the mean over it and its copies (numpy)" $PY -c '
import sys, csv, numpy as np
rows = list(csv.reader(open(sys.argv[1]), delimiter="\t"))[1:]
tta = {r[0]: float(r[3]) for r in csv.reader(open(sys.argv[2]), delimiter="\t") if r[0] != "name"}
groups = {}
for r in rows:
    groups.setdefault(r[0].split("#aug")[0], []).append(float(r[3]))
assert set(tta) == set(groups), "the TSV holds the originals"
err = max(abs(np.mean(groups[k]) - tta[k]) for k in tta)
ncopies = sum(len(v) - 1 for v in groups.values())
assert ncopies > 0 and err < 1e-6, (ncopies, err)
' "$D/rows.tsv" "$D/tta.tsv"
else
	echo "ok $((T_N = T_N + 1)) # SKIP numpy not installed"
fi
status 0 "ct-score --tta on a file without copies scores it as it is" ct-score "$D/m_all.h5" "$D/fimg.h5" --tta --bootstrap 0 --json
ok "... with tta_copies 0" grep -q '"tta_copies":[[:space:]]*0' "$D/out"

# shellcheck disable=SC2086
status 0 "ct-finetune --cv 3 --tta cross-validates with the copies averaged in" ct-finetune "$D/fall.h5" $TR --cv 3 --tta -o "$D/cv_tta.h5"
err_has "each held-out image scored with its copies" "... and says so"
# shellcheck disable=SC2086
status 0 "ct-finetune --cv 3 without --tta on the same file" ct-finetune "$D/fall.h5" $TR --cv 3 -o "$D/cv_plain.h5"
ok "... the two give other fold scores (the copies count)" sh -c '
	a=$(ct-finetune "$1" $2 --cv 3 --tta -o "$3.a" -q -f | grep "^cv"); b=$(ct-finetune "$1" $2 --cv 3 -o "$3.b" -q -f | grep "^cv")
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ]' sh "$D/fall.h5" "$TR" "$D/cvx"
# shellcheck disable=SC2086
status 1 "--cv --tta on a file without copies fails" ct-finetune "$D/fimg.h5" $TR --cv 3 --tta -q -o "$D/x.h5"
err_has "no augmented copies" "... naming the problem"
err_one_line "... in one line"
ok "... and writes no model" test ! -e "$D/x.h5"
status 2 "--tta without --cv is a usage error" ct-finetune "$D/fall.h5" --tta -o "$D/x.h5"
status 2 "--tta with --finetune is a usage error" ct-finetune "$D/fall.h5" --tta --cv 3 --finetune -o "$D/x.h5"
echo "1..$T_N"
