#!/bin/sh
# test_onnx.sh - ct-weights export-onnx end to end, and ONNX Runtime as an independent check of
# the engine: the exported network run by onnxruntime-node (scripts/ort/ort_run.js) must give
# what our engine gives (ct_net, as ct-features) on the same deterministic input, to
# max|ours - ort| / max|ort| <= 1e-4, with synthetic weights for every backbone and with the
# real weights (weights/*.h5, `make weights`) for InceptionV3 and MobileNetV2.
# The export checks always run; the ORT ones are skipped (TAP SKIP) unless node and
# onnxruntime-node under scripts/ort/node_modules are there (cd scripts/ort && npm ci).
# The engine side is `$BUILD/tests/test_onnx --engine ...` (tests/unit/test_onnx.c).
. "$(dirname "$0")/lib.sh"
top=$T_TOP
build=$T_BUILD
d=$T_DIR
tol=1e-4

# ---- export: usage, failures, no partial output ----
ok "export-onnx --help exits 0 with its synopsis" sh -c "ct-weights export-onnx --help | grep -q -- '--backbone NAME'"
status 2 "export-onnx without --backbone is a usage error (2)" ct-weights export-onnx -o "$d/x.onnx"
status 2 "export-onnx without -o is a usage error (2)" ct-weights export-onnx -b mobilenet_v2 --synthetic
status 2 "--batch 0 is a usage error (2)" ct-weights export-onnx -b mobilenet_v2 --synthetic --batch 0 -o "$d/x.onnx"
status 2 "--batch abc is a usage error (2)" ct-weights export-onnx -b mobilenet_v2 --synthetic --batch abc -o "$d/x.onnx"
status 2 "--weights with --synthetic is a usage error (2)" ct-weights export-onnx -b mobilenet_v2 --synthetic -w x.h5 -o "$d/x.onnx"
status 2 "an unknown backbone is a usage error (2)" ct-weights export-onnx -b resnet9000 --synthetic -o "$d/x.onnx"
err_has "unknown architecture 'resnet9000'" "... naming it"
status 1 "a missing weight file fails (1)" ct-weights export-onnx -b mobilenet_v2 -w "$d/nope.h5" -o "$d/x.onnx"
err_has "^ct-weights: cannot open '$d/nope.h5'" "... with the git-style message"
status 2 "an unknown layer is a usage error (2)" ct-weights export-onnx -b mobilenet_v2 --synthetic -l out_relu,nope -o "$d/x.onnx"
err_has "has no layer 'nope'" "... naming the layer"
ok "failed exports leave no output and no temporary file" [ -z "$(ls "$d" | grep onnx)" ]
status 0 "a synthetic-weight export succeeds" ct-weights export-onnx -b mobilenet_v2 --synthetic -o "$d/m.onnx"
err_has "'$d/m.onnx': mobilenet_v2, outputs out_relu pooled avg, batch dynamic, weights synthetic" "... and says what it wrote"
ok "the model is a protobuf of the expected size (9 MB of weights)" [ "$(wc -c <"$d/m.onnx")" -gt 9000000 ]
status 1 "an existing output is refused without --force (1)" ct-weights export-onnx -b mobilenet_v2 --synthetic -o "$d/m.onnx"
err_has "exists (use --force to overwrite)" "... saying so"
status 0 "--force -q overwrites silently" ct-weights export-onnx -b mobilenet_v2 --synthetic -f -q -o "$d/m.onnx"
ok "... with nothing on stderr" [ ! -s "$d/err" ]
ok "the same export gives the same bytes" sh -c "ct-weights export-onnx -b mobilenet_v2 --synthetic -q -o - | cmp -s - '$d/m.onnx'"

# ---- ONNX Runtime vs our engine ----
ort_js=$top/scripts/ort/ort_run.js
engine=$build/tests/test_onnx
skip=$(ort_skip)
[ -z "$skip" ] && [ ! -x "$engine" ] && skip="'$engine' not built"

# compare ARCH WEIGHTS|synthetic LAYERS|default POOL BATCH [export options...]
compare() {
	arch=$1 w=$2 layers=$3 pool=$4 batch=$5
	shift 5
	desc="$arch, $([ "$w" = synthetic ] && echo synthetic || echo "$(basename "$w")") weights, $layers, pool $pool, batch $batch${*:+ ($*)}: ORT agrees with our engine to $tol"
	T_N=$((T_N + 1))
	if [ -n "$skip" ]; then
		echo "ok $T_N - $desc # SKIP $skip"
		return
	fi
	if [ "$w" != synthetic ] && [ ! -f "$w" ]; then
		echo "ok $T_N - $desc # SKIP no $w (make weights)"
		return
	fi
	if [ "$w" = synthetic ]; then wopt=--synthetic; else wopt="--weights=$w"; fi
	lopt=""
	[ "$layers" = default ] || lopt="--layer=$layers"
	rm -f "$d/t.onnx" "$d/in.f32" "$d/ours.f32"
	if ! ct-weights export-onnx -q -b "$arch" $wopt $lopt --pool "$pool" "$@" -o "$d/t.onnx" 2>"$d/err"; then
		echo "not ok $T_N - $desc (export failed)"
		sed 's/^/# /' "$d/err"
		return
	fi
	if ! OMP_NUM_THREADS=2 "$engine" --engine "$arch" "$w" "$layers" "$pool" "$batch" "$d/in.f32" "$d/ours.f32" 2>"$d/err"; then
		echo "not ok $T_N - $desc (engine failed)"
		sed 's/^/# /' "$d/err"
		return
	fi
	node "$ort_js" "$d/t.onnx" --threads 2 --input "$d/in.f32" --compare "$d/ours.f32" --tol "$tol" >"$d/ort" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "ok $T_N - $desc"
	else
		echo "not ok $T_N - $desc (ort_run exit $rc)"
	fi
	grep '^compare' "$d/ort" | sed "s/^compare /# $arch max rel error: /"
	[ $rc -eq 0 ] || grep -v '^compare' "$d/ort" | sed 's/^/# /' | head -n 5
}

wdir=${CT_WEIGHTS_DIR:-$top/weights}
compare mobilenet_v2 synthetic default avg 2
compare inception_v3 synthetic default avg 2
compare mobilenet_v2 "$wdir/mobilenet_v2.h5" block_10_project_BN,out_relu max 2
compare inception_v3 "$wdir/inception_v3.h5" mixed5,mixed10 avg 2
compare mobilenet_v2 "$wdir/mobilenet_v2.h5" out_relu none 2
compare mobilenet_v2 synthetic default avg 2 --batch 2
# every other backbone the library knows, with synthetic weights
others=$(ct-weights export-onnx -b '?' --synthetic -o "$d/none.onnx" 2>&1 | sed -n 's/.*(known: \(.*\)).*/\1/p' | tr -d ',')
for a in $others; do
	case "$a" in inception_v3 | mobilenet_v2) continue ;; esac
	compare "$a" synthetic default avg 1
done
echo "1..$T_N"
