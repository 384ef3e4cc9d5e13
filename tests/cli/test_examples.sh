#!/bin/sh
# test_examples.sh - swapping a stage: the example extractor (examples/histogram_features.c,
# HDF5 API only) writes a features file that ct-info, ct-fuse, ct-finetune and ct-score accept.
. "$(dirname "$0")/lib.sh"
D=$T_DIR
ex=$T_BUILD/examples/histogram_features
ct-phantom -o "$D/ph" --patients 10 --slices-per-patient 2 --size 64 --seed 9 --split-dir "$D/split" >/dev/null 2>&1
ct-convert "$D/ph" --size 32 --split "$D/split" -o "$D/img.h5" -q
mkdir -p "$D/w" && ct-weights synth --backbone mobilenet_v2 -o "$D/w/m.h5" -q
status 0 "the example extractor runs" "$ex" "$D/img.h5" "$D/hist.h5"
ok "ct-info reads its output as a features file with a 'user' block" sh -c "ct-info '$D/hist.h5' | grep -q 'user/histogram/none'"
ct-convert "$D/ph" --size 224 --split "$D/split" -o "$D/img224.h5" -q
ct-features --backbone mobilenet_v2 --weights "$D/w/m.h5" --layer block_10_project_BN "$D/img224.h5" -o "$D/cnn.h5" -q
ct-convert "$D/ph" --size 32 --classes lesion -o "$D/lesion.h5" -q
"$ex" "$D/lesion.h5" "$D/hist-lesion.h5"
status 1 "ct-fuse refuses it next to features of other samples" ct-fuse "$D/cnn.h5" "$D/hist-lesion.h5" -o "$D/bad.h5"
err_has "sample" "naming the first sample that differs"
"$ex" "$D/img224.h5" "$D/hist224.h5"
status 0 "ct-fuse fuses it with CNN features of the same images" ct-fuse "$D/cnn.h5" "$D/hist224.h5" -o "$D/fused.h5" -q
ok "the fused file has both blocks" sh -c "ct-info '$D/fused.h5' | grep -q 'user/histogram' && ct-info '$D/fused.h5' | grep -q 'mobilenet_v2/block_10'"
status 0 "ct-finetune trains on it" ct-finetune "$D/fused.h5" --head logreg --epochs 5 -o "$D/model.h5" -q
status 0 "ct-score scores it" ct-score "$D/model.h5" "$D/fused.h5" --bootstrap 0
echo "1..$T_N"
