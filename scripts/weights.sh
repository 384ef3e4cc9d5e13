#!/bin/sh
# weights.sh - fetch nsfwjs from npm, unwrap its TF.js InceptionV3 and MobileNetV2 layers models,
# import them as Keras weight files weights/inception_v3.h5 and weights/mobilenet_v2.h5, and
# record (first run) or verify (later runs) their sha256 in weights/SHA256SUMS. Idempotent.
# Usage: scripts/weights.sh          (BIN=dir of ct-weights, default bin; needs node and npm)
# See docs/weights.md for where the weights come from and what they are.
set -eu

PKG=nsfwjs@4.3.0
# sha256 of the npm tarball nsfwjs-4.3.0.tgz (npm also checks its registry integrity hash)
PKG_SHA256=4496790efc9bdc6f3e85a826a8e482c1fa1e9db4b3d18c095e98cc0c73cfb12f
top=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-bin}
case "$BIN" in /*) ctw="$BIN/ct-weights" ;; *) ctw="$top/$BIN/ct-weights" ;; esac
dest="$top/weights"
sums="$dest/SHA256SUMS"
models="inception_v3 mobilenet_v2"

die() {
	echo "weights: $*" >&2
	exit 1
}

[ -x "$ctw" ] || die "'$ctw' not built (run make first)"
mkdir -p "$dest"

# The recorded hash of a file name in SHA256SUMS, or nothing.
recorded() {
	if [ -f "$sums" ]; then
		awk -v f="$1" '$2 == f { print $1 }' "$sums"
	fi
}

# Those already there and matching the record are kept; the others are imported.
todo=""
for m in $models; do
	want=$(recorded "$m.h5")
	if [ -n "$want" ] && [ -f "$dest/$m.h5" ]; then
		have=$("$ctw" sha256 "$dest/$m.h5" | cut -d' ' -f1)
		[ "$have" = "$want" ] || die "'weights/$m.h5' does not match weights/SHA256SUMS ($have, recorded $want); remove it to re-import"
	else
		todo="$todo $m"
	fi
done
if [ -z "$todo" ]; then
	echo "weights: up to date ($(echo "$models" | sed 's/ /, /g') match weights/SHA256SUMS)"
	exit 0
fi

command -v npm >/dev/null 2>&1 || die "npm not found (apt-get install npm)"
command -v node >/dev/null 2>&1 || die "node not found (apt-get install nodejs)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ctfuse-weights-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "weights: fetching $PKG from the npm registry"
(cd "$tmp" && npm pack --silent "$PKG" >pack.out 2>pack.err) || {
	cat "$tmp/pack.err" >&2
	die "npm pack $PKG failed"
}
tgz="$tmp/nsfwjs-${PKG#nsfwjs@}.tgz"
[ -f "$tgz" ] || die "npm pack produced no '$(basename "$tgz")'"
got=$("$ctw" sha256 "$tgz" | cut -d' ' -f1)
[ "$got" = "$PKG_SHA256" ] || die "$PKG tarball has sha256 $got, expected $PKG_SHA256"
tar -xzf "$tgz" -C "$tmp" || die "cannot unpack '$tgz'"

# nsfwjs ships each model as browserify bundles; scripts/nsfwjs_unwrap.js evaluates them in an
# empty vm context (no require, no fs) and writes model.json and the raw shards.

for m in $todo; do
	src="$tmp/package/dist/models/$m"
	[ -f "$src/model.min.js" ] || die "$PKG has no dist/models/$m/model.min.js"
	node "$top/scripts/nsfwjs_unwrap.js" "$src" "$tmp/tfjs/$m" || die "cannot unwrap the $m model"
	"$ctw" import-tfjs -q --force "$tmp/tfjs/$m/model.json" -o "$dest/$m.h5" || die "import of $m failed"
	have=$("$ctw" sha256 "$dest/$m.h5" | cut -d' ' -f1)
	want=$(recorded "$m.h5")
	if [ -n "$want" ] && [ "$have" != "$want" ]; then
		rm -f "$dest/$m.h5"
		die "imported weights/$m.h5 has sha256 $have, weights/SHA256SUMS records $want (another HDF5 library version may write other bytes: check, then remove the line from weights/SHA256SUMS to record the new value)"
	fi
	if [ -z "$want" ]; then
		printf '%s  %s\n' "$have" "$m.h5" >>"$sums"
	fi
	echo "weights: weights/$m.h5  sha256 $have"
done
