#!/bin/sh
# test_phantom.sh - ct-phantom end to end: tree and counts, patients.tsv, patient-disjoint split
# lists, --help, usage errors (2), refusing existing output (1), byte-identical reruns.
. "$(dirname "$0")/lib.sh"
tmp=$T_DIR

d=$tmp/set
ok "writes a data set (5 patients x 3 slices, 2 with lesions, with split lists)" \
	ct-phantom -o "$d" --patients 5 --slices-per-patient 3 --lesion-fraction 0.4 --size 96x80 \
	--seed 3 --split-dir "$tmp/split"
ok "class folders normal/ and lesion/ and nothing else" \
	test "$(cd "$d" && find . -mindepth 1 -maxdepth 1 -type d | sort | tr '\n' ' ')" = "./lesion ./normal "
ok "2 lesion patients give 6 files in lesion/" test "$(ls "$d/lesion" | wc -l)" -eq 6
ok "3 normal patients give 9 files in normal/" test "$(ls "$d/normal" | wc -l)" -eq 9
ok "file names are P0001_s01.png .. P0005_s03.png" \
	test "$(ls "$d/normal" "$d/lesion" | grep -c '^P000[1-5]_s0[1-3]\.png$')" -eq 15
ok "patients.tsv has the header file<TAB>class<TAB>patient" \
	test "$(head -n 1 "$d/patients.tsv")" = "$(printf 'file\tclass\tpatient')"
ok "patients.tsv has one row per file" test "$(tail -n +2 "$d/patients.tsv" | wc -l)" -eq 15
ok "every patients.tsv row names an existing file in its class folder" sh -c '
	tail -n +2 "$1/patients.tsv" | while IFS="	" read -r f c p; do
		test -f "$1/$c/$f" || exit 1
		case "$f" in "${p}_"*) ;; *) exit 1 ;; esac
	done' sh "$d"
ok "all slices of a patient are in one class" sh -c '
	test "$(tail -n +2 "$1/patients.tsv" | cut -f2,3 | sort -u | cut -f2 | sort | uniq -d | wc -l)" -eq 0' sh "$d"
ok "the images are 96x80 8-bit PNGs" sh -c '
	f=$(ls "$1"/normal/* | head -n 1)
	test "$(od -An -tx1 -j16 -N10 "$f" | tr -d " \n")" = "00000060000000500800"' sh "$d"

s=$tmp/split
ok "split lists exist for 3 parts x 2 classes" sh -c '
	for p in TrainingTXT/train ValidationTXT/val TestingTXT/test; do
		for c in normal lesion; do test -f "$1/$p$c.txt" || exit 1; done
	done' sh "$s"
ok "split lists cover every file exactly once" sh -c '
	test "$(cat "$1"/*/*.txt | sort | uniq | wc -l)" -eq 15 && test "$(cat "$1"/*/*.txt | wc -l)" -eq 15' sh "$s"
ok "split lists are patient-disjoint" sh -c '
	for p in TrainingTXT ValidationTXT TestingTXT; do
		cat "$1/$p"/*.txt | cut -d_ -f1 | sort -u
	done | sort | uniq -d | grep -q . && exit 1 || exit 0' sh "$s"
ok "split lists agree with the classes" sh -c '
	for f in $(cat "$1"/*/*lesion.txt); do test -f "$2/lesion/$f" || exit 1; done
	for f in $(cat "$1"/*/*normal.txt); do test -f "$2/normal/$f" || exit 1; done' sh "$s" "$d"

ok "--help exits 0" ct-phantom --help
ct-phantom --help >"$tmp/help" 2>&1
ok "--help lists every option" sh -c '
	for o in --output --patients --slices-per-patient --size --format --seed --lesion-fraction \
		--window --split-dir --force; do grep -q -e "$o" "$1" || exit 1; done' sh "$tmp/help"
status 2 "missing -o is a usage error (2)" ct-phantom --patients 2
status 2 "an unknown option is a usage error (2)" ct-phantom -o "$tmp/x" --bogus
status 2 "a bad --format is a usage error (2)" ct-phantom -o "$tmp/x" --format jpeg
status 2 "a bad --size is a usage error (2)" ct-phantom -o "$tmp/x" --size 12y4
status 2 "--lesion-fraction 1.5 is a usage error (2)" \
	ct-phantom -o "$tmp/x" --lesion-fraction 1.5
status 2 "a zero window width is a usage error (2)" ct-phantom -o "$tmp/x" --window -600,0
status 2 "--patients 0 is a usage error (2)" ct-phantom -o "$tmp/x" --patients 0
ok "usage errors create no output" test ! -e "$tmp/x"

status 1 "an existing non-empty output is refused (1)" \
	ct-phantom -o "$d" --patients 1 --size 32
ok "... with a message naming the directory" grep -q "ct-phantom: output directory '$d' is not empty" "$tmp/err"
ok "... and leaves it untouched" test "$(tail -n +2 "$d/patients.tsv" | wc -l)" -eq 15
ok "--force writes into it" ct-phantom -o "$d" --patients 5 --slices-per-patient 3 \
	--lesion-fraction 0.4 --size 96x80 --seed 3 --force

ok "same seed again into a new directory" ct-phantom -o "$tmp/again" --patients 5 \
	--slices-per-patient 3 --lesion-fraction 0.4 --size 96x80 --seed 3
ok "same seed gives byte-identical files" sh -c '
	cmp "$1/patients.tsv" "$2/patients.tsv" || exit 1
	for f in "$1"/*/*.png; do cmp "$f" "$2/${f#"$1"/}" || exit 1; done' sh "$d" "$tmp/again"
ok "one thread gives the same files as two" sh -c '
	OMP_NUM_THREADS=1 ct-phantom -o "$1/one" --patients 5 --slices-per-patient 3 --lesion-fraction 0.4 \
		--size 96x80 --seed 3 || exit 1
	for f in "$2"/*/*.png; do cmp "$f" "$1/one/${f#"$2"/}" || exit 1; done' sh "$tmp" "$d"
ok "another seed gives other pixels" sh -c '
	ct-phantom -o "$1/other" --patients 5 --slices-per-patient 3 --size 96x80 --seed 4 || exit 1
	for f in "$1"/other/*/*.png; do
		b=${f##*/}
		for g in "$1"/again/*/"$b"; do cmp -s "$f" "$g" && exit 1; done
	done
	exit 0' sh "$tmp"
ok "png16 and tiff formats write .png and .tif files" sh -c '
	ct-phantom -o "$1/p16" --patients 2 --slices-per-patient 1 --size 48 --format png16 &&
	ct-phantom -o "$1/tif" --patients 2 --slices-per-patient 1 --size 48 --format tiff &&
	test "$(ls "$1"/p16/*/*.png | wc -l)" -eq 2 && test "$(ls "$1"/tif/*/*.tif | wc -l)" -eq 2' sh "$tmp"
ok "--lesion-fraction 0 makes no lesion folder" sh -c '
	ct-phantom -o "$1/none" --patients 3 --slices-per-patient 1 --size 32 --lesion-fraction 0 &&
	test -d "$1/none/normal" && test ! -e "$1/none/lesion"' sh "$tmp"
if command -v ct-convert >/dev/null 2>&1; then
	ok "ct-convert reads the tree with the split lists and patients.tsv" \
		ct-convert "$d" -o "$tmp/set.h5" --size 64 --split "$s" --groups "$d/patients.tsv"
fi

rm -rf "$tmp"
[ "$T_FAILS" -eq 0 ]
