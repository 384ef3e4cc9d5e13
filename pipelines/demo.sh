#!/bin/sh
# demo.sh - the whole pipeline on synthetic data (ct-phantom), as `make demo` runs it:
# phantom slices -> convert -> augment -> features (two backbones) -> fuse -> train -> score.
# It runs the same Makefile pipeline as the COVID-CT experiment (pipelines/covid-ct.mk).
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$top/demo-out}
BIN=${BIN:-$top/bin}
PATH="$BIN:$PATH"
export PATH
mkdir -p "$OUT"
if [ ! -f "$OUT/phantom/patients.tsv" ]; then
	echo "demo: synthetic chest CT: 40 patients x 4 slices (classes normal / lesion)"
	ct-phantom -o "$OUT/phantom" --patients 40 --slices-per-patient 4 --size 256 --seed 1 \
		--split-dir "$OUT/split" --force
fi
make --no-print-directory -C "$top" weights
echo "demo: running pipelines/covid-ct.mk on the phantom data"
make --no-print-directory -f "$top/pipelines/covid-ct.mk" CTBIN="$BIN" DATA="$OUT/phantom" \
	SPLIT="$OUT/split" GROUPS="$OUT/phantom/patients.tsv" OUT="$OUT/run" \
	BACKBONES="${BACKBONES:-mobilenet_v2 inception_v3}" \
	AUGMENT_ARGS="--copies 2 --shear 10 --rotate 10 --shift 0.05 --seed 1" -j2
echo
ct-info "$OUT/run/fused.h5" | sed -n '/^samples/,/^groups/p'
echo
echo "demo: test-split metrics (report: $OUT/run/report.html)"
ct-score "$OUT/run/model.h5" "$OUT/run/fused.h5" --threshold youden --bootstrap 200
