#!/bin/sh
# bench.sh - throughput benchmarks (make bench; docs/benchmarks.md): our CNN engine against
# ONNX Runtime on the same networks, and the data tools. Everything with 2 threads.
#
#   1. per backbone, batch 1 and 16: our engine's images/s and peak RSS (tests/bench/bench_nn.c,
#      synthetic weights, OMP_NUM_THREADS=2) and ONNX Runtime's (onnxruntime-node, 2 intra-op
#      threads) on the same network exported by `ct-weights export-onnx --synthetic`, run by
#      scripts/ort/ort_run.js, in the same run; the ratio ours/ORT. ORT is skipped (with a note)
#      when node or scripts/ort/node_modules is missing (cd scripts/ort && npm ci).
#   2. data tools: ct-phantom -> ct-convert -> ct-augment, images/s.
#
# Usage: scripts/bench.sh [backbone...]     (default: every backbone the library knows)
# Env:   BUILD (object dir, default build), BIN (tool dir, default bin), THREADS (default 2),
#        ROUNDS (default 5: ours and ORT alternate; the best of the rounds is kept and each
#        round's own ratio reported as median and range),
#        PROFILE=1 (after the table, each backbone's per-layer profile at batch 16:
#        bench_nn --profile, docs/performance.md).
# The host may be shared: absolute numbers vary between runs, the ratios of one run are what count.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD=${BUILD:-build}
BIN=${BIN:-bin}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-5}
case "$BUILD" in /*) build=$BUILD ;; *) build=$top/$BUILD ;; esac
case "$BIN" in /*) bin=$BIN ;; *) bin=$top/$BIN ;; esac
export OMP_NUM_THREADS=$THREADS

die() {
	echo "bench: $*" >&2
	exit 1
}

[ -x "$bin/ct-weights" ] || die "'$bin/ct-weights' not built (run make first)"

# bench_nn (tests/bench/bench_nn.c): built by make with the library's flags. Make is asked for
# the path exactly as its rules spell it ($BUILD/bench_nn, relative or absolute as given): an
# absolute path for a relative BUILD matches no rule.
bench_nn=$build/bench_nn
make --no-print-directory -s BUILD="$BUILD" BIN="$BIN" "$BUILD/bench_nn" ||
	die "cannot build tests/bench/bench_nn.c"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ctfuse-bench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

if [ $# -gt 0 ]; then
	archs="$*"
else
	archs=$("$bin/ct-weights" export-onnx -b '?' --synthetic -o "$tmp/x" 2>&1 |
		sed -n 's/.*(known: \(.*\)).*/\1/p' | tr -d ',')
	[ -n "$archs" ] || archs="inception_v3 mobilenet_v2"
fi

ort=""
if command -v node >/dev/null 2>&1 && [ -d scripts/ort/node_modules/onnxruntime-node ]; then
	ort=scripts/ort/ort_run.js
	ortver=$(node -e "console.log(require('./scripts/ort/node_modules/onnxruntime-node/package.json').version)")
else
	echo "bench: ONNX Runtime column skipped: node or scripts/ort/node_modules missing (cd scripts/ort && npm ci)" >&2
fi

cpu=$(LC_ALL=C lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
avx512=$(grep -q avx512f /proc/cpuinfo 2>/dev/null && echo "avx512f yes" || echo "avx512f no")
echo "# ctfuse benchmarks, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "# cpu: ${cpu:-unknown}, $(nproc) cores visible, $avx512; threads $THREADS"
echo "# ours: OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset (libgomp spins)}, CT_WINOGRAD=${CT_WINOGRAD:-1}; load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
[ -n "$ort" ] && echo "# peer: onnxruntime-node $ortver (CPU execution provider, $THREADS intra-op threads, graph optimisations all)"
echo

# json_field FILE KEY: a number from ort_run.js --json output
json_field() {
	sed -n "s/.*\"$2\":\([0-9.eE+-]*\).*/\1/p" "$1"
}

# best (highest) of several numbers
maxof() { awk 'BEGIN { m = "" } $1 != "" && (m == "" || $1 + 0 > m + 0) { m = $1 } END { print m }'; }

# "median (lowest-highest)" of several numbers
spread() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.2f (%.2f-%.2f)", m, v[1], v[NR] }'
}

# round ARCH BATCH REPS: round $r for one backbone and batch, ours then ORT in odd rounds, ORT
# then ours in even ones (neither side always runs second, on a core the other just heated),
# each a fresh process with one warm-up run and the best of REPS timed runs. Appends "ours_ips ours_rss
# ort_ips ort_rss" to $tmp/rBATCH ("-" for a side that failed; the failure in $tmp/failed).
run_ours() {
	o=$("$bench_nn" --run --batch "$2" --reps "$3" "$1" 2>"$tmp/ours.err") ||
		echo "ours: $(head -n 1 "$tmp/ours.err")" >"$tmp/failed"
	oi=$(echo "$o" | sed -n 's/.*(best run \([0-9.]*\)).*/\1/p')
	orss=$(echo "$o" | sed -n 's/.*peak RSS \([0-9]*\) MB.*/\1/p')
	kern=$(echo "$o" | sed -n 's/.*kernel \([a-z0-9]*\):.*/\1/p')
	[ -z "$kern" ] || echo "$kern" >"$tmp/kern"
}
run_ort() {
	[ -f "$tmp/$1.onnx" ] || return 0
	if node "$ort" "$tmp/$1.onnx" --batch "$2" --threads "$THREADS" --reps "$3" --json >"$tmp/ort.json" 2>"$tmp/ort.err"; then
		pi=$(json_field "$tmp/ort.json" images_per_s) prss=$(json_field "$tmp/ort.json" peak_rss_mb)
	else
		echo "ORT: $(head -n 1 "$tmp/ort.err")" >"$tmp/failed"
	fi
}
round() {
	oi=- orss=- pi=- prss=-
	if [ $((r % 2)) = 1 ]; then
		run_ours "$@" && run_ort "$@"
	else
		run_ort "$@" && run_ours "$@"
	fi
	echo "${oi:--} ${orss:--} ${pi:--} ${prss:--}" >>"$tmp/r$2"
}

# column N of $tmp/rB, the failed sides left out
col() { cut -d' ' -f"$2" "$tmp/r$1" | grep -v '^-$' || true; }

anyfail=0
printf '| backbone | batch | ours images/s | ORT images/s | ours/ORT | per round: median (range) | ours peak RSS MB | ORT peak RSS MB | kernel |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|---|\n'
for a in $archs; do
	if [ -n "$ort" ]; then
		"$bin/ct-weights" export-onnx -q -f -b "$a" --synthetic -o "$tmp/$a.onnx" 2>"$tmp/exp.err" || rm -f "$tmp/$a.onnx"
	fi
	rm -f "$tmp/failed" "$tmp/kern" "$tmp/r1" "$tmp/r16"
	# ROUNDS rounds; in each, per batch, ours and ORT back to back: a round's ratio compares
	# two runs seconds apart, and the best over the rounds keeps a burst of load from other
	# processes from deciding a side.
	r=0
	while [ $r -lt "$ROUNDS" ]; do
		r=$((r + 1))
		round "$a" 1 8
		round "$a" 16 3
	done
	for b in 1 16; do
		ours=$(col $b 1 | maxof) rss=$(col $b 2 | maxof)
		oi=$(col $b 3 | maxof) orss=$(col $b 4 | maxof)
		kern=$(cat "$tmp/kern" 2>/dev/null || true)
		ratio=$(awk -v x="$ours" -v y="$oi" 'BEGIN { if (x > 0 && y > 0) printf "%.2f", x / y; else print "-" }')
		per=$(awk '$1 != "-" && $3 != "-" && $3 > 0 { print $1 / $3 }' "$tmp/r$b" | spread)
		[ -n "$oi" ] && oi=$(awk -v y="$oi" 'BEGIN { printf "%.1f", y }')
		echo "| $a | $b | ${ours:--} | ${oi:--} | $ratio | $per | ${rss:--} | ${orss:--} | ${kern:--} |"
	done
	[ ! -f "$tmp/failed" ] || { echo "| $a | | $(cat "$tmp/failed") | | | | | | |"; anyfail=1; }
	rm -f "$tmp/$a.onnx"
done
echo
echo "(ours: synthetic weights, uint8 input preprocessed inside; ORT: the same network exported with"
echo "ct-weights export-onnx --synthetic, float32 input. Each side a fresh process per batch: one"
echo "warm-up run, then the best of 8 runs at batch 1, of 3 at batch 16. $ROUNDS rounds; in each, per"
echo "batch, the two back to back, first in turn. images/s: the best over the rounds, ours/ORT their"
echo "ratio; per round: the ratio within each round. Peak RSS of the process at that batch; ORT's"
echo "includes node, ~50 MB.)"
echo

if [ "${PROFILE:-0}" = 1 ]; then
	for a in $archs; do
		"$bench_nn" --profile --reps 3 "$a" || echo "(profile of $a failed)"
		echo
	done
fi

# ---- data tools: ct-phantom -> ct-convert -> ct-augment ----------------------------------
# (images/s with $THREADS threads; the lead may extend this section)
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", n / (b - a) }'; }
if [ -x "$bin/ct-phantom" ] && [ -x "$bin/ct-convert" ] && [ -x "$bin/ct-augment" ]; then
	np=40 ns=5 copies=10
	n=$((np * ns))
	t0=$(now)
	"$bin/ct-phantom" -o "$tmp/ph" --patients $np --slices-per-patient $ns --size 512 --seed 7 >/dev/null
	t1=$(now)
	"$bin/ct-convert" "$tmp/ph" -o "$tmp/ph.h5" --size 224 -g "$tmp/ph/patients.tsv" >/dev/null 2>&1
	t2=$(now)
	"$bin/ct-augment" "$tmp/ph.h5" -o "$tmp/aug.h5" -n $copies --rotate 10 --shear 5 --zoom 0.1 --hflip --all -j "$THREADS" >/dev/null 2>&1
	t3=$(now)
	echo "| data tool | images | images/s |"
	echo "|---|---:|---:|"
	echo "| ct-phantom (512x512 png8) | $n | $(rate $n "$t0" "$t1") |"
	echo "| ct-convert (512 png -> 224 uint8, area filter) | $n | $(rate $n "$t1" "$t2") |"
	echo "| ct-augment ($copies copies each: rotate, shear, zoom, flip) | $((n * copies)) | $(rate $((n * copies)) "$t2" "$t3") |"
else
	echo "(data tools not built: ct-phantom, ct-convert, ct-augment)"
fi
[ "$anyfail" = 0 ] || die "a benchmark failed (its row above)"
