#!/bin/sh
# test_split.sh - ct-split end to end: stratified patient-aware splits of features and images
# files, folds, byte-identical reruns; --check on clean files (0), shared patients and duplicated
# images (1); a split with an empty class, missing input, existing output (1); bad options (2).
. "$(dirname "$0")/lib.sh"
d=$T_DIR
ok "the fixture generator writes synthetic features files" "$T_BUILD/tests/test_train_fixtures" "$d"

status 0 "splits a features file without splits (20 patients x 3 slices)" ct-split "$d/nosplit.h5" -o "$d/s.h5" --force
err_has "60 samples -> train 36, val 12, test 12" "12/4/4 whole patients: 36/12/12 rows"
ok "every class is 18/6/6" sh -c 'ct-info "$1" | grep -E -q "normal +30 +18 +6 +6 +0" &&
	ct-info "$1" | grep -E -q "covid +30 +18 +6 +6 +0"' sh "$d/s.h5"
ok "no patient is in two splits" sh -c 'ct-info "$1" | grep -q ", 0 groups in several splits"' sh "$d/s.h5"
ok "features and blocks are copied unchanged" sh -c '
	ct-info "$1" | grep -q "features *float32 *60 x 6" && ct-finetune "$1" -o "$1.m" --epochs 2 -q' sh "$d/s.h5"
ok "the provenance gains a ct-split entry" sh -c 'ct-info "$1" | tail -n 1 | grep -q "ct-split"' sh "$d/s.h5"
status 0 "--check finds no leakage in it (0)" ct-split --check "$d/s.h5"
ok "... and says so on stdout" grep -q "^no leakage found" "$d/out"
ok "the same seed gives a byte-identical file" sh -c '
	cp "$1/s.h5" "$1/s.first" && ct-split "$1/nosplit.h5" -o "$1/s.h5" --force 2>/dev/null &&
	cmp "$1/s.h5" "$1/s.first"' sh "$d"
ok "another seed gives other splits" sh -c '
	ct-split "$1/nosplit.h5" -o "$1/s7.h5" --seed 7 -q && ! cmp -s "$1/s7.h5" "$1/s.h5"' sh "$d"

status 0 "--folds 5 with --fractions 0.8,0,0.2" ct-split "$d/nosplit.h5" -o "$d/f5.h5" --folds 5 --fractions 0.8,0,0.2
err_has "train 48, val 0, test 12; 5 folds" "... puts 48 rows in train and folds them"
ok "the file has a /folds int32 dataset" sh -c 'ct-info "$1" | grep -q "folds *int32 *60"' sh "$d/f5.h5"
status 0 "ct-finetune --cv 5 uses those folds" ct-finetune "$d/f5.h5" -o "$d/f5m.h5" --cv 5 --epochs 3
err_has "uses the 5 folds of" "... and says so"
status 1 "ct-finetune --cv 3 refuses a file with 5 folds" ct-finetune "$d/f5.h5" -o "$d/f3m.h5" --cv 3
status 0 "--keep-splits --folds 3 keeps the official split" ct-split "$d/a.h5" -o "$d/k3.h5" --keep-splits --folds 3
ok "... unchanged" sh -c 'ct-info "$1" | grep -E -q "covid +30 +18 +6 +6 +0"' sh "$d/k3.h5"
status 1 "--keep-splits refuses a split that shares a patient" ct-split "$d/leaky.h5" -o "$d/bad.h5" --keep-splits --folds 3
err_has "group 'P00' is in more than one split" "... naming the patient"

status 1 "--check finds a patient in train and test (1)" ct-split --check "$d/leaky.h5"
ok "... and reports the patient with its counts" grep -q "group 'P00': train 2, val 0, test 1" "$d/out"
ok "... and ends with 'leakage found'" sh -c 'tail -n 1 "$1" | grep -q "^leakage found"' sh "$d/out"
status 1 "one covid patient cannot fill three splits (1)" ct-split "$d/onecovid.h5" -o "$d/bad.h5"
err_has "split 'val' would have no 'covid' samples" "... the empty class is named"
status 1 "a missing input is a failure (1)" ct-split "$d/missing.h5" -o "$d/bad.h5"
err_has "cannot open '$d/missing.h5'" "... naming the file"
ok "failures leave no output" test ! -e "$d/bad.h5"
status 1 "an existing output is refused without --force (1)" ct-split "$d/nosplit.h5" -o "$d/s.h5"

# Images: a phantom set converted with patient-disjoint split lists and patient ids.
ph=$d/ph
ok "makes a phantom images file (8 patients x 3 slices) with split lists" sh -c '
	ct-phantom -o "$1/ph" --patients 8 --slices-per-patient 3 --size 64 --seed 3 --split-dir "$1/lists" &&
	ct-convert "$1/ph" -o "$1/im.h5" --size 64 --split "$1/lists" --groups "$1/ph/patients.tsv" -q' sh "$d"
status 0 "--check: the phantom split is clean (0)" ct-split --check "$d/im.h5"
ok "... the images were hashed" grep -q "near-duplicate images in different splits (dHash distance <= 4): 0" "$d/out"
status 0 "splits an images file anew" ct-split "$d/im.h5" -o "$d/im2.h5" --seed 5 --fractions 0.5,0.25,0.25
ok "the images are copied" sh -c 'ct-info "$1" | grep -q "images *uint8 *24 x 64 x 64 x 3"' sh "$d/im2.h5"
status 0 "... and it is clean" ct-split --check "$d/im2.h5"
# A copy of a test image under another name in the train list: a duplicate across splits.
ok "adds a copy of a test image to the train list" sh -c '
	f=$(cat "$1"/lists/TestingTXT/*.txt | head -n 1)
	c=$(ls "$1"/ph/*/"$f" | head -n 1); c=${c%/*}; c=${c##*/}
	cp "$1/ph/$c/$f" "$1/ph/$c/copy_$f" && echo "copy_$f" >>"$1/lists/TrainingTXT/train$c.txt" &&
	ct-convert "$1/ph" -o "$1/dup.h5" --size 64 --split "$1/lists" -q' sh "$d"
status 1 "--check finds the duplicated image (1)" ct-split --check "$d/dup.h5"
ok "... reporting the pair at distance 0" grep -q "copy_.*distance 0" "$d/out"

# --assign: every sample's split from a TSV (full names; P00 by base name; P19 in no split).
ok "writes an assignment TSV for the 20 patients" sh -c '
	{ printf "file\tsplit\n"
	  for p in $(seq 0 19); do for k in 0 1 2; do
		c=normal; [ $((p % 2)) -eq 1 ] && c=covid
		n=$(printf "%s/P%02d_s%d.png" $c $p $k); [ $p -eq 0 ] && n=${n#*/}
		s=train; [ $p -ge 10 ] && s=val; [ $p -ge 16 ] && s=test; [ $p -eq 19 ] && s=none
		printf "%s\t%s\n" "$n" $s
	  done; done; } >"$1/assign.tsv"' sh "$d"
status 0 "--assign takes the splits from it" ct-split "$d/nosplit.h5" -o "$d/as.h5" --assign "$d/assign.tsv"
err_has "60 samples -> train 30, val 18, test 9" "... 10/6/3 patients, one in no split"
ok "... P00, named by its base name, is in train" sh -c '
	ct-split --assign "$1/assign.tsv" "$1/nosplit.h5" -o - 2>/dev/null | ct-info - | grep -E -q "normal +30 +15 +9 +6 +0"' sh "$d"
status 0 "--assign with --folds 2 folds train and val" ct-split "$d/nosplit.h5" -o "$d/asf.h5" --assign "$d/assign.tsv" --folds 2
ok "a TSV that misses a sample" sh -c 'grep -v "P19_s2" "$1/assign.tsv" >"$1/miss.tsv"' sh "$d"
status 1 "... is refused (1)" ct-split "$d/nosplit.h5" -o "$d/bad.h5" --assign "$d/miss.tsv"
err_has "'$d/miss.tsv' does not name sample 'covid/P19_s2.png'" "... naming the TSV and the sample"
ok "a TSV with a misspelt split" sh -c 'sed "s/P05_s1.png\ttrain/P05_s1.png\ttrian/" "$1/assign.tsv" >"$1/typo.tsv"' sh "$d"
status 1 "... is refused (1)" ct-split "$d/nosplit.h5" -o "$d/bad.h5" --assign "$d/typo.tsv"
err_has "gives 'covid/P05_s1.png' the split 'trian'" "... naming the value"
ok "a TSV that puts one slice of P04 in test" sh -c 'sed "s/P04_s1.png\ttrain/P04_s1.png\ttest/" "$1/assign.tsv" >"$1/leak.tsv"' sh "$d"
status 1 "... is refused: a patient in two splits (1)" ct-split "$d/nosplit.h5" -o "$d/bad.h5" --assign "$d/leak.tsv"
err_has "group 'P04' is in more than one split" "... naming the patient"
ok "refusals leave no output" test ! -e "$d/bad.h5"
status 2 "--assign with --fractions is a usage error (2)" ct-split "$d/nosplit.h5" -o "$d/u.h5" --assign "$d/assign.tsv" --fractions 0.5,0.25,0.25
status 2 "--assign with --check is a usage error (2)" ct-split --check "$d/s.h5" --assign "$d/assign.tsv"

status 2 "fractions not summing to 1 are a usage error (2)" ct-split "$d/nosplit.h5" -o "$d/u.h5" --fractions 0.6,0.3,0.3
status 2 "two fractions are a usage error (2)" ct-split "$d/nosplit.h5" -o "$d/u.h5" --fractions 0.5,0.5
status 2 "--folds 1 is a usage error (2)" ct-split "$d/nosplit.h5" -o "$d/u.h5" --folds 1
status 2 "--keep-splits without --folds is a usage error (2)" ct-split "$d/nosplit.h5" -o "$d/u.h5" --keep-splits
status 2 "--check with -o is a usage error (2)" ct-split --check "$d/s.h5" -o "$d/u.h5"
status 2 "--hash-threshold without --check is a usage error (2)" ct-split "$d/s.h5" -o "$d/u.h5" --hash-threshold 3
status 2 "--hash-threshold 65 is a usage error (2)" ct-split --check "$d/s.h5" --hash-threshold 65
status 2 "a missing -o is a usage error (2)" ct-split "$d/nosplit.h5"
ok "usage errors create no output" test ! -e "$d/u.h5"
status 0 "--help exits 0" ct-split --help

# A cut file (ct-features --cut: /activations, one deflated chunk per image): its chunks are
# copied as stored, each decoded once on the way; the output's maps equal the input's, and a
# damaged chunk (read with CT_NO_VERIFY=1, past the whole-file checksum) fails the split.
PY=/usr/bin/python3
if $PY -c 'import h5py' 2>/dev/null; then
	ok "a MobileNetV2 cut file of phantoms (synthetic weights)" sh -c '
		cd "$1" && ct-phantom -o cph --patients 6 --slices-per-patient 2 --size 64 --seed 2 >/dev/null 2>&1 &&
		ct-convert cph --size 224 -o ci.h5 -q && ct-weights synth -b mobilenet_v2 -o mnv2.h5 -q &&
		ct-features -b mobilenet_v2 -w mnv2.h5 --cut block_13_project_BN ci.h5 -o cut.h5 -q' sh "$d"
	status 0 "ct-split of the cut file" ct-split "$d/cut.h5" -o "$d/cuts.h5" --fractions 0.5,0.25,0.25 -q
	ok "... keeps every map, its chunks and filters" $PY -c '
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1])["activations"], h5py.File(sys.argv[2])["activations"]
assert a.shape == b.shape and a.chunks == b.chunks and a.compression == b.compression
assert np.array_equal(a[()], b[()]) and np.abs(a[()]).max() > 0' "$d/cut.h5" "$d/cuts.h5"
	ok "a copy with one chunk of the maps damaged" $PY -c '
import sys, h5py
with h5py.File(sys.argv[1]) as f:
    c = f["activations"].id.get_chunk_info(3)
b = bytearray(open(sys.argv[1], "rb").read())
for i in range(64):
    b[c.byte_offset + c.size // 2 + i] ^= 0x5A
open(sys.argv[2], "wb").write(b)' "$d/cut.h5" "$d/cutbad.h5"
	status 1 "... is refused by its checksum (1)" ct-split "$d/cutbad.h5" -o "$d/cutbad-s.h5" --fractions 0.5,0.25,0.25
	status 1 "... and past it (CT_NO_VERIFY=1) the damaged chunk fails the split (1)" \
		env CT_NO_VERIFY=1 ct-split "$d/cutbad.h5" -o "$d/cutbad-s.h5" --fractions 0.5,0.25,0.25
	err_has "cannot read 'activations'" "... naming the dataset"
	ok "... leaving no output" test ! -e "$d/cutbad-s.h5"
else
	T_N=$((T_N + 1))
	echo "ok $T_N # SKIP no /usr/bin/python3 with h5py"
fi
echo "1..$T_N"
