#!/bin/sh
# test_cross_source.sh - scripts/cross_source.py (leave-one-source-out CV over train+val) on the
# synthetic fixture with two negative sources: one row per held-out source, seed, fold and
# negative source; a held-out source is scored on all its train+val samples, the other on its
# fold's; the summary's means come from the runs; the test split is never read.
. "$(dirname "$0")/lib.sh"
d=$T_DIR
PY=/usr/bin/python3
if ! $PY -c 'import h5py' 2>/dev/null; then
	T_N=$((T_N + 1))
	echo "ok $T_N # SKIP no /usr/bin/python3 with h5py"
	echo "1..$T_N"
	exit 0
fi
ok "the fixture generator writes synthetic features files" "$T_BUILD/tests/test_train_fixtures" "$d"
# 20 patients x 3 slices, odd patients covid; normal patients 0,4,8,... from srcA, 2,6,10,... from srcB.
ok "a sources TSV: covid from 'pos', normal patients from srcA or srcB" sh -c '
	{ printf "file\tsource\n"
	  for p in $(seq 0 19); do for k in 0 1 2; do
		if [ $((p % 2)) -eq 1 ]; then c=covid s=pos; elif [ $((p % 4)) -eq 0 ]; then c=normal s=srcA; else c=normal s=srcB; fi
		printf "%s/P%02d_s%d.png\t%s\n" $c $p $k $s
	  done; done; } >"$1/src.tsv"' sh "$d"
X="$PY $T_TOP/scripts/cross_source.py --sources $d/src.tsv --column 2 --folds 2 --seeds 1"
status 0 "2 folds, 1 seed, nothing / srcA / srcB held out" $X -o "$d/xs" "fx=$d/a.h5" -- --epochs 60 --val-fraction 0
R=$d/xs/runs.tsv
ok "... 3 held-out settings x 2 folds x (srcA, srcB, all) rows" test "$(tail -n +2 "$R" | wc -l)" -eq 18
# train+val normal patients: srcA 0,4,8,12 and srcB 2,6,10,14: 12 slices each.
ok "... a held-out source is scored on all its 12 train+val slices in every fold" sh -c '
	test "$(awk -F "\t" "\$2 == \"srcA\" && \$5 == \"srcA\" && \$6 == 12" "$1" | wc -l)" -eq 2 &&
	test "$(awk -F "\t" "\$2 == \"srcB\" && \$5 == \"srcB\" && \$6 == 12" "$1" | wc -l)" -eq 2' sh "$R"
ok "... a trained-on source only on its held-out fold (the folds' counts add up to 12)" sh -c '
	test "$(awk -F "\t" "\$2 == \"srcA\" && \$5 == \"srcB\" { n += \$6 } END { print n }" "$1")" -eq 12 &&
	test "$(awk -F "\t" "\$2 == \"none\" && \$5 == \"srcA\" { n += \$6 } END { print n }" "$1")" -eq 12' sh "$R"
ok "... the fixture's strong signal: every AUC with nothing held out above 0.9" awk -F '\t' '
	NR > 1 && $2 == "none" { n++; if ($7 <= 0.9) bad = 1 } END { exit !(n == 6 && !bad) }' "$R"
ok "... AUCs between 0 and 1" awk -F '\t' 'NR > 1 && ($7 < 0 || $7 > 1) { bad = 1 } END { exit bad }' "$R"
ok "... the summary's means are the runs' means over folds" awk -F '\t' '
	FNR == NR { if (FNR > 1) { k = $1 SUBSEP $2 SUBSEP $5; s[k] += $7; n[k]++ } next }
	FNR > 1 { k = $1 SUBSEP $2 SUBSEP $3; if (!(k in n) || ($5 - s[k] / n[k]) ^ 2 > 1e-7) bad = 1; rows++ }
	END { exit !(rows == 9 && !bad) }' "$R" "$d/xs/summary.tsv"
ok "... summary.md has the held-out columns" grep -q "vs srcA, held out" "$d/xs/summary.md"
cp "$R" "$d/runs.first"
ok "a rerun finds every run done and leaves the runs as they were" sh -c '
	'"$X"' -o "$1/xs" "fx=$1/a.h5" -- --epochs 60 --val-fraction 0 2>"$1/rerun.err" &&
	cmp "$1/xs/runs.tsv" "$1/runs.first" && ! grep -q "held-out" "$1/rerun.err"' sh "$d"
ok "an interrupted run (the last runs cut off) is completed to the same runs" sh -c '
	head -n 10 "$1/runs.first" >"$1/xs/runs.tsv.tmp" && printf "fx\tsrcA\t1" >>"$1/xs/runs.tsv.tmp" &&
	'"$X"' -o "$1/xs" "fx=$1/a.h5" -- --epochs 60 --val-fraction 0 2>/dev/null &&
	cmp "$1/xs/runs.tsv" "$1/runs.first" && test ! -e "$1/xs/runs.tsv.tmp"' sh "$d"
ok "a features file whose name has a '+' (as the pipeline's BACKBONE+BACKBONE folders) is one file" sh -c '
	mkdir -p "$1/inc+mob" && cp "$1/a.h5" "$1/inc+mob/fused.h5" &&
	'"$X"' -o "$1/xplus" "fx=$1/inc+mob/fused.h5" -- --epochs 60 --val-fraction 0 2>/dev/null &&
	cmp "$1/xplus/runs.tsv" "$1/runs.first"' sh "$d"
ok "a copy of the fixture with the test labels flipped" sh -c 'cp "$1/a.h5" "$1/flip.h5" && "$2" -c "$3" "$1/flip.h5"' sh "$d" "$PY" '
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    s = f["splits"][:]; l = f["labels"][:]
    l[s == b"test"] = 1 - l[s == b"test"]; f["labels"][:] = l'
status 0 "... the same protocol on it" env CT_NO_VERIFY=1 $X -o "$d/xf" "fx=$d/flip.h5" -- --epochs 60 --val-fraction 0
ok "... gives the same runs: the test split is never read" cmp "$R" "$d/xf/runs.tsv"
ok "a sources TSV that misses samples" sh -c 'head -n 10 "$1/src.tsv" >"$1/short.tsv"' sh "$d"
status 1 "... is an error (1)" $X -o "$d/xbad" "fx=$d/a.h5" --sources "$d/short.tsv"
err_has "does not name" "... naming the sample"

# pipelines/transfer.mk, dry run: the variants' features by covid-ct.mk in shared folders, then
# one cross_source.py over them (originals scored, augmented copies trained on).
ok "transfer.mk -n: whole and whole-aug share a folder, lung-avg pools over the lung field" sh -c '
	make -s -n -f "$1/pipelines/transfer.mk" DATA=/data OUT=/o VARIANTS="whole whole-aug lung-avg" >"$2/n.txt" 2>&1 &&
	grep -q "OUT=/o/transfer/whole AUGMENT=0 .*/o/transfer/whole/inception_v3+mobilenet_v2-noaug/fused.h5" "$2/n.txt" &&
	grep -q "OUT=/o/transfer/whole AUGMENT=1 .*AUGMENT_ARGS=\"--copies 10 .*/o/transfer/whole/inception_v3+mobilenet_v2/fused.h5" "$2/n.txt" &&
	grep -q "OUT=/o/transfer/lung-avg AUGMENT=0 .*CONVERT_ARGS=\"[^\"]*--lung-mask\" FEATURE_ARGS=\"--batch 16 --pool lung-avg\"" "$2/n.txt" &&
	test "$(grep -c "OUT=/o/transfer/whole AUGMENT=0" "$2/n.txt")" -eq 1' sh "$T_TOP" "$d"
ok "... and one cross_source.py run over the three, whole-aug trained on the copies" sh -c '
	test "$(grep -c "scripts/cross_source.py" "$1")" -eq 1 &&
	grep -q "whole=/o/transfer/whole/inception_v3+mobilenet_v2-noaug/fused.h5 whole-aug=/o/transfer/whole/inception_v3+mobilenet_v2-noaug/fused.h5:/o/transfer/whole/inception_v3+mobilenet_v2/fused.h5 lung-avg=/o/transfer/lung-avg/" "$1"' sh "$d/n.txt"

# A fused fine-tuned model (NAME=CUT_A+CUT_B -- --finetune ...): each file split alike, the model
# trained on both and scored with both. MobileNetV2 twice (synthetic weights), phantoms at 224:
# 16 patients, lesion = positive, the normal patients alternately from srcA and srcB.
ct-phantom -o "$d/ph" --patients 16 --slices-per-patient 2 --size 64 --seed 5 >/dev/null 2>&1
ok "phantoms converted (patient groups), split train/test, two cut files" sh -c '
	cd "$1" && ct-convert ph --size 224 --groups ph/patients.tsv -o pi.h5 -q &&
	ct-split pi.h5 -o ps.h5 --fractions 0.75,0,0.25 --seed 3 -q && ct-weights synth -b mobilenet_v2 -o mnv2.h5 -q &&
	ct-features -b mobilenet_v2 -w mnv2.h5 --cut block_13_project_BN ps.h5 -o c13.h5 -q &&
	ct-features -b mobilenet_v2 -w mnv2.h5 --cut block_14_add ps.h5 -o c14.h5 -q &&
	{ printf "file\tsource\n"; cd ph; n=0
	  for f in lesion/*.png; do printf "%s\tpos\n" "$f"; done
	  for p in $(ls normal | cut -c1-5 | sort -u); do
		n=$((n + 1)); for f in normal/$p*; do printf "%s\tsrc%s\n" "$f" $((n % 2 ? 1 : 2)); done
	  done; } >"$1/psrc.tsv"' sh "$d"
XF="$PY $T_TOP/scripts/cross_source.py --sources $d/psrc.tsv --column 2 --folds 2 --seeds 1"
FT="--finetune --output-layer block_14_add,block_15_add --weights $d/mnv2.h5,$d/mnv2.h5 --epochs 2 --hidden 8 --batch 4 --val-fraction 0"
status 0 "CUT_A+CUT_B: the fused model fine-tuned in every fold and held-out setting" $XF -o "$d/xft" "ft=$d/c13.h5+$d/c14.h5" -- $FT
ok "... 3 held-out settings x 2 folds x (src1, src2, all) rows, AUCs in [0, 1]" awk -F '\t' '
	NR > 1 { n++; if ($7 < 0 || $7 > 1) bad = 1 } END { exit !(n == 18 && !bad) }' "$d/xft/runs.tsv"
ok "... a held-out source scored on all its train+val slices" sh -c '
	n=$(awk -F "\t" "\$2 == \"src1\" && \$5 == \"src1\" { print \$6; exit }" "$1/xft/runs.tsv") &&
	test "$n" -gt 0 && test "$(awk -F "\t" "\$2 == \"none\" && \$5 == \"src1\" { s += \$6 } END { print s }" "$1/xft/runs.tsv")" -eq "$n"' sh "$d"
status 1 "... one file alone for the two-source options: ct-finetune's error is passed on (1)" \
	$XF -o "$d/xft1" "ft=$d/c13.h5" -- $FT
err_has "ct-finetune failed" "... naming the tool"
ct-phantom -o "$d/ph2" --patients 4 --slices-per-patient 2 --size 64 --seed 6 >/dev/null 2>&1
ct-convert "$d/ph2" --size 224 -o "$d/other.h5" -q 2>/dev/null
status 1 "files of other samples joined by '+' are refused (1)" $XF -o "$d/xft2" "ft=$d/c13.h5+$d/other.h5" -- $FT
err_has "hold other samples" "... naming both files"
status 1 "two scored files but one trained on are refused (1)" $XF -o "$d/xft3" "ft=$d/c13.h5+$d/c14.h5:$d/c13.h5" -- $FT
err_has "2 scored files but 1 trained on" "... saying so"
status 1 "a missing file is refused (1)" $XF -o "$d/xft4" "ft=$d/c13.h5+$d/nonexistent.h5" -- $FT
err_has "cannot read '$d/nonexistent.h5'" "... naming it"
err_one_line "... in one line"
echo "1..$T_N"
