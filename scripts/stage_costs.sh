#!/bin/sh
# stage_costs.sh [N] - time and peak memory of each pipeline stage per 1,000 images, per
# backbone, on N phantom slices (default 500), with the pipeline's defaults (cuts of
# backbones.mk, --batch 16) and the threads OpenMP gives (OMP_NUM_THREADS); CPU seconds (user +
# system) are the cost to book on a cluster, wall seconds depend on the load. Weights: those on
# the search path, else synthetic ones (the same arithmetic). Prints a Markdown table (docs/hpc.md).
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
PATH=$top/bin:$PATH
n=${1:-500}
D=$(mktemp -d "${TMPDIR:-/tmp}/ctfuse-costs-XXXXXX")
trap 'rm -rf "$D"' EXIT
ct-phantom -o "$D/ph" --patients $((n / 2)) --slices-per-patient 2 --size 512 --seed 1 --split-dir "$D/split" >/dev/null 2>&1
mkdir -p "$D/w"
for b in inception_v3 mobilenet_v2; do
	[ -f "${CT_WEIGHTS_DIR:-/nonexistent}/$b.h5" ] || ct-weights synth --backbone $b -o "$D/w/$b.h5" -q
done
export CT_WEIGHTS_DIR=${CT_WEIGHTS_DIR:+$CT_WEIGHTS_DIR:}$D/w
rows() { /usr/bin/python3 -c "import h5py,sys; print(len(h5py.File(sys.argv[1],'r')['names']))" "$1"; }
# measure LABEL IMAGES COMMAND...: one table row
measure() {
	label=$1 imgs=$2
	shift 2
	/usr/bin/time -f '%e %U %S %M' -o "$D/t" "$@" >/dev/null 2>&1
	read -r s u sy kb <"$D/t"
	awk -v l="$label" -v n="$imgs" -v s="$s" -v c="$(echo "$u $sy" | awk '{ print $1 + $2 }')" -v kb="$kb" \
		'BEGIN { printf "| %s | %d | %.1f | %.1f | %.1f | %.0f |\n", l, n, s, s * 1000 / n, c * 1000 / n, kb / 1024 }'
}
echo "| stage | images | wall s | wall s / 1,000 images | CPU s / 1,000 images | peak memory (MB) |"
echo "|---|---|---|---|---|---|"
for size in 299 224; do
	measure "ct-convert --size $size (PNG 512x512)" $n ct-convert "$D/ph" --size $size --split "$D/split" -o "$D/i$size.h5"
done
ct-augment "$D/i224.h5" --copies 1 --rotate 10 --shear 10 -o "$D/a0.h5" -q
measure "ct-augment --copies 1 (224; per output row)" "$(rows "$D/a0.h5")" \
	ct-augment "$D/i224.h5" --copies 1 --rotate 10 --shear 10 -o "$D/a224.h5"
measure "ct-features inception_v3 mixed6 (299)" $n ct-features --backbone inception_v3 --layer mixed6 "$D/i299.h5" -o "$D/f1.h5"
measure "ct-features mobilenet_v2 block_10_project_BN (224)" $n ct-features --backbone mobilenet_v2 --layer block_10_project_BN "$D/i224.h5" -o "$D/f2.h5"
for k in 1 2 3 4; do ct-features --backbone mobilenet_v2 --layer block_10_project_BN --shard $k/4 "$D/i224.h5" -o "$D/s.$k.h5" -q; done
measure "ct-merge of 4 features shards" $n ct-merge "$D"/s.?.h5 -o "$D/m.h5"
for k in 1 2 3 4; do ct-convert "$D/ph" --size 299 --split "$D/split" --shard $k/4 -o "$D/c.$k.h5" -q; done
measure "ct-merge of 4 images shards (299)" $n ct-merge "$D"/c.?.h5 -o "$D/mi.h5"
ct-fuse "$D/f1.h5" "$D/f2.h5" -o "$D/fused.h5" -q
measure "ct-fuse (2 backbones)" $n ct-fuse "$D/f1.h5" "$D/f2.h5" -o "$D/fused2.h5"
measure "ct-finetune --head mlp" $n ct-finetune "$D/fused.h5" --head mlp -o "$D/model.h5"
measure "ct-score --bootstrap 1000" $n ct-score "$D/model.h5" "$D/fused.h5" --bootstrap 1000 -o "$D/scores.h5"
