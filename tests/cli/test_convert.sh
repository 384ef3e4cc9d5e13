#!/bin/sh
# test_convert.sh - ct-convert, ct-augment and ct-info driven as a user would, on phantom data.
. "$(dirname "$0")/lib.sh"
D=$T_DIR
ct-phantom -o "$D/ph" --patients 6 --slices-per-patient 3 --size 64 --format png16 --seed 3 \
	--split-dir "$D/split" >/dev/null 2>&1 || echo "not ok 0 - ct-phantom failed"

status 0 "ct-convert converts a class-folder tree with splits and groups" \
	ct-convert "$D/ph" --size 32 --split "$D/split" --groups "$D/ph/patients.tsv" \
	--window -600,1500 --hu-offset -1024 -o "$D/c.h5"
ct-info --json "$D/c.h5" >"$D/c.json"
ok "ct-info counts all 18 slices" [ "$(json_num "$D/c.json" samples)" = 18 ]
ok "every slice has a group" [ "$(json_num "$D/c.json" samples_without_group)" = 0 ]
ok "no patient is in two splits" [ "$(json_num "$D/c.json" groups_in_several_splits)" = 0 ]
ok "ct-info text shows the provenance command" sh -c "ct-info '$D/c.h5' | grep -q 'ct-convert.*--size 32'"
ok "images dataset is 18 x 32 x 32 x 3 uint8" sh -c "ct-info '$D/c.h5' | grep -q 'images *uint8 *18 x 32 x 32 x 3'"

for t in 1 2; do
	mkdir -p "$D/c$t" && (cd "$D/c$t" && OMP_NUM_THREADS=$t ct-convert ../ph --size 32 out.h5 -q)
done
ok "ct-convert output is byte-identical for 1 and 2 threads" cmp -s "$D/c1/out.h5" "$D/c2/out.h5"

status 0 "ct-convert streams to stdout and ct-augment reads stdin" \
	sh -c "ct-convert '$D/ph' --size 32 --split '$D/split' - -q | ct-augment - '$D/aug.h5' --copies 2 --rotate 10 --shear 5 -q"
ct-info --json "$D/aug.h5" >"$D/aug.json"
ct-info --json "$D/c.h5" >"$D/c.json"
train=$(grep -c . "$D"/split/TrainingTXT/*.txt | awk -F: '{s+=$2} END {print s}')
ok "augmented file has N + 2 x train rows ($train train)" [ "$(json_num "$D/aug.json" samples)" = $((18 + 2 * train)) ]
ok "provenance chain has both stages" sh -c "ct-info '$D/aug.h5' | grep -q '2. ct-augment'"

for t in 1 2; do
	mkdir -p "$D/a$t"
	(cd "$D/a$t" && OMP_NUM_THREADS=$t ct-augment ../c.h5 aug.h5 --copies 3 --shear 10 --rotate 20 --shift 0.1 \
		--zoom 0.1 --hflip --seed 11 -q)
done
ok "ct-augment is byte-identical for 1 and 2 threads" cmp -s "$D/a1/aug.h5" "$D/a2/aug.h5"
(cd "$D/a1" && ct-augment ../c.h5 aug2.h5 --copies 3 --shear 10 --rotate 20 --seed 12 -q)
ok "another seed gives other images" sh -c "! cmp -s '$D/a1/aug.h5' '$D/a1/aug2.h5'"
status 0 "--all augments every split" ct-augment "$D/c.h5" "$D/all.h5" --copies 1 --all -q
ct-info --json "$D/all.h5" >"$D/all.json"
ok "--all doubles the rows" [ "$(json_num "$D/all.json" samples)" = 36 ]

# Paths on stdin and TSV lists.
ls "$D"/ph/normal/*.png | head -n 4 >"$D/paths.txt"
status 0 "paths on stdin with --label" sh -c "ct-convert - '$D/s.h5' --label normal --size 16 -q < '$D/paths.txt'"
status 2 "paths on stdin without --label is a usage error" sh -c "ct-convert - '$D/s2.h5' < '$D/paths.txt'"

# Bad input: one-line errors naming the file, non-zero exit, no output.
status 1 "an existing output is refused" ct-convert "$D/ph" --size 32 -o "$D/c.h5"
err_has "exists" "the message says it exists"
err_one_line "the error is one line"
status 0 "--force overwrites" ct-convert "$D/ph" --size 32 -o "$D/c.h5" --force -q
status 1 "a missing input fails" ct-convert "$D/nothere" -o "$D/x.h5"
err_has "nothere" "the message names the input"
ok "no output after a failure" [ ! -e "$D/x.h5" ]
cp -r "$D/ph" "$D/bad"
printf 'not an image at all' >"$D/bad/lesion/zz_broken.png"
head -c 300 "$(ls "$D"/ph/normal/*.png | head -n 1)" >"$D/bad/normal/zz_truncated.png"
status 1 "a corrupt image fails the conversion" ct-convert "$D/bad" --size 16 -o "$D/bad.h5"
err_has "zz_" "the message names the bad file"
ok "no partial output after the failure" sh -c "! ls '$D'/bad.h5* 2>/dev/null | grep -q ."
status 0 "--skip-bad skips and counts them" ct-convert "$D/bad" --size 16 -o "$D/bad.h5" --skip-bad -q
ct-info --json "$D/bad.h5" >"$D/bad.json"
ok "the two bad files are recorded as skipped" sh -c "h5dump -a skipped_count '$D/bad.h5' 2>/dev/null | grep -q '(0): 2' || ct-info '$D/bad.h5' | grep -q 'skipped *string *2'"
status 1 "images over --max-pixels are refused" ct-convert "$D/ph" --size 16 --max-pixels 0.001 -o "$D/mp.h5"
err_has "limit" "the message gives the limit"
mkdir -p "$D/full" "$D/ro" && chmod 555 "$D/ro"
if [ "$(id -u)" != 0 ]; then
	status 1 "an unwritable output folder fails before converting" ct-convert "$D/ph" -o "$D/ro/x.h5"
else
	status 1 "an output in a missing folder fails before converting" ct-convert "$D/ph" -o "$D/missing/x.h5"
fi
# A full disk: standard output on /dev/full, and a file size limit for files.
status 1 "a full standard output fails" sh -c "ct-convert '$D/ph' --size 16 - -q > /dev/full"
err_has "No space left" "the message gives the cause"
status 1 "a full disk while writing the output fails" sh -c "trap '' XFSZ; ulimit -f 40; ct-convert '$D/ph' --size 128 --compress 0 -o '$D/full/x.h5' -q"
err_has "disk full" "the message says so"
err_one_line "in one line"
ok "and leaves no output and no temporary file" sh -c "[ -z \"\$(ls '$D/full')\" ]"
status 1 "ct-augment on a full disk fails too" sh -c "trap '' XFSZ; ulimit -f 40; ct-augment '$D/c.h5' --copies 3 --compress 0 -o '$D/full/a.h5' -q"
ok "with no output left" sh -c "[ -z \"\$(ls '$D/full')\" ]"
status 2 "an unknown option is a usage error" ct-convert "$D/ph" -o "$D/y.h5" --bogus
status 2 "a bad size is a usage error" ct-convert "$D/ph" -o "$D/y.h5" --size 0x5
status 2 "a bad window is a usage error" ct-convert "$D/ph" -o "$D/y.h5" --window 5
mkdir -p "$D/split-bad/ExtraTXT" && echo "x.png" >"$D/split-bad/ExtraTXT/x.txt"
status 1 "an unknown split name is refused" ct-convert "$D/ph" -o "$D/y.h5" --split "$D/split-bad"
err_has "unknown split" "the message says unknown split"
status 1 "ct-augment refuses a non-HDF5 input" ct-augment "$D/paths.txt" "$D/z.h5"
err_has "not an HDF5 file" "and says so"
status 1 "ct-augment refuses a truncated input" sh -c "head -c 5000 '$D/c.h5' > '$D/cut.h5'; ct-augment '$D/cut.h5' '$D/z.h5'"
ok "no output from the refused augment" [ ! -e "$D/z.h5" ]
status 1 "ct-info refuses a non-ctfuse HDF5 file" ct-info "$D/ph/patients.tsv"
status 0 "--help exits 0" ct-convert --help
ok "--help lists every option of the man page" sh -c "ct-augment --help | grep -q -- '--shear' && ct-convert --help | grep -q -- '--window'"

# TIFF input (float32 Hounsfield units).
ct-phantom -o "$D/tif" --patients 2 --slices-per-patient 2 --size 48 --format tiff --seed 5 >/dev/null 2>&1
status 0 "float TIFF slices convert with a lung window" ct-convert "$D/tif" --size 24 --window -600,1500 -o "$D/tif.h5" --float
ok "float output is float32" sh -c "ct-info '$D/tif.h5' | grep -q 'images *float32'"
echo "1..$T_N"
