#!/bin/sh
# weights_keras.sh - fetch the official keras-applications ImageNet notop weights of ResNet50,
# VGG16, DenseNet121 and Xception from the canonical Keras location into weights/<arch>.h5,
# checked against the md5 the Keras source publishes (file_hash in keras/applications/*.py)
# and, once recorded, the sha256 in weights/SHA256SUMS. Idempotent. Where the location is not
# reachable it stops at once and says which files to place by hand.
# Usage: scripts/weights_keras.sh [arch ...]     (default: all four; needs curl or wget)
# See docs/backbones.md.
set -eu

BASE=https://storage.googleapis.com/tensorflow/keras-applications
top=$(cd "$(dirname "$0")/.." && pwd)
dest="$top/weights"
sums="$dest/SHA256SUMS"

# arch  remote path  md5 (Keras' file_hash)
table() {
	cat <<'T'
resnet50 resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5 4d473c1dd8becc155b73f8504c6f6626
vgg16 vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 6d6bbae143d832006294945121d1f1fc
densenet121 densenet/densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5 30ee3e1110167f948a6b9946edeeb738
xception xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5 b0042744bf5b25fce3cb969f33bebb97
T
}

die() {
	echo "weights-keras: $*" >&2
	exit 1
}

archs=${*:-resnet50 vgg16 densenet121 xception}
for a in $archs; do
	table | grep -q "^$a " || die "unknown architecture '$a' (resnet50, vgg16, densenet121, xception)"
done

manual() {
	{
		echo "weights-keras: $1"
		echo "Download these files elsewhere and place them by hand (ct-features looks for"
		echo "\$CT_WEIGHTS_DIR/<arch>.h5, else weights/<arch>.h5):"
		for a in $archs; do
			set -- $(table | grep "^$a ")
			echo "  $BASE/$2"
			echo "      -> weights/$1.h5   (md5 $3)"
		done
		echo "then run 'make weights-keras' again to check them."
	} >&2
	exit 1
}

fetch() { # url file: short timeouts so that an offline machine fails at once
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --connect-timeout 10 --max-time 900 -o "$2" "$1"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -T 10 -t 1 -O "$2" "$1"
	else
		die "neither curl nor wget found (apt-get install curl)"
	fi
}

recorded() {
	if [ -f "$sums" ]; then
		awk -v f="$1" '$2 == f { print $1 }' "$sums"
	fi
}

mkdir -p "$dest"
todo=""
for a in $archs; do
	set -- $(table | grep "^$a ")
	f="$dest/$a.h5"
	if [ -f "$f" ]; then
		have=$(md5sum "$f" | cut -d' ' -f1)
		[ "$have" = "$3" ] || die "'weights/$a.h5' has md5 $have, Keras publishes $3 for $(basename "$2"); remove it to fetch again"
		sha=$(sha256sum "$f" | cut -d' ' -f1)
		want=$(recorded "$a.h5")
		if [ -z "$want" ]; then
			echo "$sha  $a.h5" >>"$sums"
		elif [ "$want" != "$sha" ]; then
			die "'weights/$a.h5' does not match weights/SHA256SUMS ($sha, recorded $want)"
		fi
	else
		todo="$todo $a"
	fi
done
if [ -z "$todo" ]; then
	echo "weights-keras: up to date ($(echo $archs | sed 's/ /, /g') match Keras' md5 and weights/SHA256SUMS)"
	exit 0
fi

# Probe the location with a short timeout before any large download.
probe=$(mktemp "${TMPDIR:-/tmp}/ctfuse-keras-XXXXXX")
trap 'rm -f "$probe" "$dest"/*.part' EXIT INT TERM
if command -v curl >/dev/null 2>&1; then
	curl -fsS --connect-timeout 10 --max-time 10 -r 0-0 -o "$probe" "$BASE/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" 2>/dev/null ||
		manual "cannot reach $BASE (no network or blocked)"
elif command -v wget >/dev/null 2>&1; then
	wget -q -T 10 -t 1 --spider "$BASE/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" 2>/dev/null ||
		manual "cannot reach $BASE (no network or blocked)"
else
	die "neither curl nor wget found (apt-get install curl)"
fi

archs=$todo
for a in $archs; do
	set -- $(table | grep "^$a ")
	echo "weights-keras: fetching $BASE/$2"
	fetch "$BASE/$2" "$dest/$a.h5.part" || manual "download of $2 failed"
	have=$(md5sum "$dest/$a.h5.part" | cut -d' ' -f1)
	[ "$have" = "$3" ] || die "$2: md5 $have, Keras publishes $3 (corrupt or changed upstream)"
	sha=$(sha256sum "$dest/$a.h5.part" | cut -d' ' -f1)
	want=$(recorded "$a.h5")
	[ -z "$want" ] || [ "$want" = "$sha" ] || die "$2: sha256 $sha, weights/SHA256SUMS records $want"
	mv "$dest/$a.h5.part" "$dest/$a.h5"
	[ -n "$want" ] || echo "$sha  $a.h5" >>"$sums"
	echo "weights-keras: weights/$a.h5 ok (md5 $have, sha256 $sha)"
done
