#!/bin/sh
# dicom_report.sh - from a folder of DICOM series to a scored HTML report, patients kept apart.
#
# Usage: examples/dicom_report.sh DICOM_ROOT OUT [BACKBONE]
#   DICOM_ROOT/<class>/<any sub-folders>/<DICOM files> (e.g. covid/<patient>/<series>/IM*),
#   BACKBONE mobilenet_v2 (default) or inception_v3, ... (weights: $CT_WEIGHTS_DIR/NAME.h5 or
#   WEIGHTS=FILE; `make weights` fetches them).
#
# 1. ct-convert: every slice in Hounsfield units, lung/mediastinum/bone windows as R, G, B;
#    groups = keyed hashes of the PatientID (key: GROUP_KEY=FILE, else the local key file,
#    see man ct-convert); file names replaced by hashes (--anonymise).
# 2. ct-split: stratified train/val/test by patient (no patient in two splits).
# 3. ct-features, ct-finetune, ct-score: features of the backbone, a classifier head, the
#    test-split metrics and OUT/report.html.
set -e
[ $# -ge 2 ] || { echo "usage: $0 DICOM_ROOT OUT [BACKBONE]" >&2; exit 2; }
root=$1
out=$2
bb=${3:-mobilenet_v2}
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="${BIN:-$top/bin}:$PATH"
case "$bb" in inception_v3 | xception) size=299 ;; *) size=224 ;; esac
mkdir -p "$out"
ct-convert "$root" --groups dicom ${GROUP_KEY:+--group-key "$GROUP_KEY"} --anonymise \
	--window lung:mediastinum:bone --size "$size" -o "$out/images.h5" --force
ct-split "$out/images.h5" -o "$out/split.h5" --fractions ${FRACTIONS:-0.6,0.2,0.2} --seed 1 --force
ct-features --backbone "$bb" ${WEIGHTS:+--weights "$WEIGHTS"} "$out/split.h5" -o "$out/features.h5" --force -q
ct-finetune "$out/features.h5" --head ${HEAD:-logreg} --seed 1 -o "$out/model.h5" --force -q
ct-score "$out/model.h5" "$out/features.h5" --report "$out/report.html" | tee "$out/metrics.txt"
echo "dicom_report: $out/report.html"
