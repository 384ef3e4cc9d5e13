#!/bin/sh
# test_fuse.sh - ct-fuse end to end on synthetic features files: concatenation, blocks, provenance
# union, byte-identical reruns; mismatched samples/labels, block clashes, NaN, missing input,
# existing output (exit 1) and bad options (exit 2), with no partial output.
. "$(dirname "$0")/lib.sh"
d=$T_DIR
ok "the fixture generator writes synthetic features files" "$T_BUILD/tests/test_train_fixtures" "$d"

status 0 "fuses a.h5 (8 columns) and b.h5 (5 columns, 2 blocks)" ct-fuse "$d/a.h5" "$d/b.h5" -o "$d/ab.h5"
err_has "3 blocks, 13 columns" "the summary counts 3 blocks and 13 columns"
ok "the output is a 60 x 13 features file" sh -c 'ct-info "$1" | grep -q "features *float32 *60 x 13"' sh "$d/ab.h5"
ok "samples keep their splits and groups" sh -c 'ct-info "$1" | grep -q "20 distinct, 0 samples without a group, 0 groups in several"' sh "$d/ab.h5"
ok "provenance holds both inputs' chains, shared entries once, ct-fuse last" sh -c '
	ct-info "$1" | sed -n "/^provenance:/,\$p" >"$1.prov"
	test "$(grep -c "ct-convert" "$1.prov")" -eq 2 && test "$(grep -c "test_train_fixtures" "$1.prov")" -eq 1 &&
	tail -n 1 "$1.prov" | grep -q "ct-fuse"' sh "$d/ab.h5"
status 1 "fusing the output with a.h5 again clashes on a block name" ct-fuse "$d/ab.h5" "$d/a.h5" -o "$d/x.h5"
err_has "block name 'synthA/l1/avg' is in both '$d/ab.h5' and '$d/a.h5'" "... the fused file carries the block names"
status 0 "fuses with --standardize and --weights" ct-fuse --standardize --weights 1,0.5 "$d/a.h5" "$d/b.h5" -o "$d/abs.h5" --force
err_has "(standardize)" "... and says so"
ok "the same command gives a byte-identical file" sh -c '
	cp "$1/abs.h5" "$1/abs.first" && cd "$1" &&
	ct-fuse --standardize --weights 1,0.5 "$1/a.h5" "$1/b.h5" -o "$1/abs.h5" --force 2>/dev/null && cmp abs.h5 abs.first' sh "$d"
status 0 "fuses with --l2" ct-fuse --l2 "$d/a.h5" "$d/b.h5" -o "$d/abl.h5"
status 0 "fuses a single file" ct-fuse "$d/a.h5" -o "$d/a1.h5"
ok "ct-finetune accepts the fused file" ct-finetune "$d/ab.h5" -o "$d/m.h5" --epochs 3 -q

status 1 "rows in another order are refused (1)" ct-fuse "$d/a.h5" "$d/b_order.h5" -o "$d/bad.h5"
err_has "'$d/b_order.h5': sample 4 is 'covid/P01_s2.png', expected 'covid/P01_s1.png' (as in '$d/a.h5')" \
	"... naming the first mismatching sample"
err_one_line "... in one line"
status 1 "a different label is refused (1)" ct-fuse "$d/a.h5" "$d/b_labels.h5" -o "$d/bad.h5"
err_has "sample 7 ('normal/P02_s1.png') has label 1, expected 0" "... naming the sample and both labels"
status 1 "a block name in two inputs is refused (1)" ct-fuse "$d/a.h5" "$d/a_clash.h5" -o "$d/bad.h5"
err_has "block name 'synthA/l1/avg' is in both" "... naming the block"
status 1 "an input with a NaN feature is refused (1)" ct-fuse "$d/a.h5" "$d/nan.h5" -o "$d/bad.h5"
err_has "non-finite feature" "... saying so"
status 1 "a missing input is a failure (1)" ct-fuse "$d/a.h5" "$d/missing.h5" -o "$d/bad.h5"
err_has "cannot open '$d/missing.h5': No such file or directory" "... naming the file"
status 1 "an images file is refused (1)" sh -c '
	ct-phantom -o "$1/ph" --patients 2 --slices-per-patient 1 --size 32 >/dev/null 2>&1 &&
	ct-convert "$1/ph" -o "$1/im.h5" --size 32 -q && ct-fuse "$1/im.h5" -o "$1/bad.h5"' sh "$d"
err_has "expected 'features'" "... as not a features file"
ok "failures leave no output" test ! -e "$d/bad.h5"
status 1 "an existing output is refused without --force (1)" ct-fuse "$d/a.h5" "$d/b.h5" -o "$d/ab.h5"
err_has "exists (use --force to overwrite)" "... saying how to overwrite"
status 0 "--force overwrites it" ct-fuse "$d/a.h5" "$d/b.h5" -o "$d/ab.h5" --force

status 2 "--standardize with --l2 is a usage error (2)" ct-fuse --standardize --l2 "$d/a.h5" "$d/b.h5" -o "$d/u.h5"
status 2 "one weight for two inputs is a usage error (2)" ct-fuse -w 1 "$d/a.h5" "$d/b.h5" -o "$d/u.h5"
status 2 "a negative weight is a usage error (2)" ct-fuse -w 1,-1 "$d/a.h5" "$d/b.h5" -o "$d/u.h5"
status 2 "a missing -o is a usage error (2)" ct-fuse "$d/a.h5" "$d/b.h5"
status 2 "no input is a usage error (2)" ct-fuse -o "$d/u.h5"
status 2 "an unknown option is a usage error (2)" ct-fuse --bogus "$d/a.h5" -o "$d/u.h5"
ok "usage errors create no output" test ! -e "$d/u.h5"
status 2 "a missing -o is a usage error (2)" ct-fuse "$d/a.h5" "$d/b.h5"
err_has "ct-fuse: option '-o' is required" "... naming the required option"
ok "--help marks -o required" sh -c "ct-fuse --help | grep -q -- '--output FILE .*(required)'"
status 0 "--help exits 0" ct-fuse --help
echo "1..$T_N"
