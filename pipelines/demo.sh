#!/bin/sh
# demo.sh - the whole pipeline on synthetic data (ct-phantom), as `make demo` runs it:
# phantom slices -> convert -> augment -> features (two backbones) -> fuse -> train -> score.
# It runs the same Makefile pipeline as the COVID-CT experiment (pipelines/covid-ct.mk).
set -e
# Runs from a source tree (tools in bin/) or installed (PREFIX/share/ctfuse/pipelines, tools
# in PREFIX/bin, weights on the search path of ctfuse(7)).
top=$(cd "$(dirname "$0")/.." && pwd)
if [ -f "$top/tools/ct-features.c" ]; then src=1; else src=; fi
if [ -n "$src" ]; then OUT=${OUT:-$top/demo-out}; else OUT=${OUT:-$PWD/demo-out}; fi
if [ -n "$src" ]; then BIN=${BIN:-$top/bin}; else BIN=${BIN:-$(cd "$top/../.." && pwd)/bin}; fi
PATH="$BIN:$PATH"
export PATH
mkdir -p "$OUT"
if [ ! -f "$OUT/phantom/patients.tsv" ]; then
	echo "demo: synthetic chest CT: ${PATIENTS:-80} patients x ${SLICES:-2} slices (classes normal / lesion)"
	ct-phantom -o "$OUT/phantom" --patients ${PATIENTS:-80} --slices-per-patient ${SLICES:-2} --size 256 --seed 1 \
		--split-dir "$OUT/split" --force
fi
[ -z "$src" ] || make --no-print-directory -C "$top" weights
echo "demo: running pipelines/covid-ct.mk on the phantom data"
BACKBONES=${BACKBONES:-inception_v3 mobilenet_v2}
make --no-print-directory -f "$top/pipelines/covid-ct.mk" CTBIN="$BIN" DATA="$OUT/phantom" \
	SPLIT="$OUT/split" GROUPS="$OUT/phantom/patients.tsv" OUT="$OUT/run" BACKBONES="$BACKBONES" \
	AUGMENT_ARGS="--copies 2 --shear 10 --rotate 10 --shift 0.05 --seed 1" -j2
E="$OUT/run/$(echo $BACKBONES | tr ' ' '+')"
echo
ct-info "$E/fused.h5" | sed -n '/^samples/,/^groups/p'
echo
echo "demo: test-split metrics of $E (report: $E/report.html)"
ct-score "$E/model.h5" "$E/fused.h5" --threshold youden --bootstrap 1000 --seed 1
