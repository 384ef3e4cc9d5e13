#!/bin/sh
# test_weights.sh - ct-weights end to end: import a generated TF.js model, info, sha256, exit codes, no partial output.
# Prints TAP lines; uses ct-weights from PATH (tests/run.sh puts the built tools first).
. "$(dirname "$0")/lib.sh"
code() { # code EXPECTED command...: run, keep stdout/stderr in $d/out $d/err, compare the exit status
	want=$1
	shift
	"$@" >"$d/out" 2>"$d/err"
	[ $? -eq "$want" ]
}
has() { grep -q -- "$1" "$2"; }

d=$T_DIR
trap 'rm -rf "$d"' EXIT

# A TF.js layers model: input, a dense layer (kernel 2x1 float32 = 1, -2; bias uint8 q=4,
# scale 0.5, min -1 -> 1), a relu. The manifest lists bias before kernel, as the converter does.
cat >"$d/model.json" <<'EOF'
{"modelTopology": {"keras_version": "2.2.4", "model_config": {"class_name": "Model", "config": {"name": "m",
 "layers": [{"name": "input_1", "class_name": "InputLayer", "config": {"batch_input_shape": [null, 2]}},
            {"name": "dense", "class_name": "Dense", "config": {"name": "dense", "units": 1}},
            {"name": "relu", "class_name": "ReLU", "config": {"name": "relu"}}]}}},
 "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": [
   {"name": "dense/bias", "shape": [1], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1}},
   {"name": "dense/kernel", "shape": [2, 1], "dtype": "float32"}]}]}
EOF
printf '\004\000\000\200\077\000\000\000\300' >"$d/group1-shard1of1.bin"

ok "--help exits 0 and lists the commands" sh -c "ct-weights --help | grep -q 'ct-weights import-tfjs'"
ok "no command is a usage error (2)" code 2 ct-weights
code 2 ct-weights frobnicate && has "unknown command 'frobnicate'" "$d/err"
ok "an unknown command is a usage error (2) naming it" [ $? -eq 0 ]
ok "import-tfjs --help exits 0 with its synopsis" sh -c "ct-weights import-tfjs --help | grep -q 'MODEL.json -o OUTPUT'"
code 2 ct-weights import-tfjs "$d/model.json"
ok "import-tfjs without -o is a usage error (2)" [ $? -eq 0 ]
code 2 ct-weights import-tfjs --bogus "$d/model.json" -o "$d/w.h5"
ok "an unknown option is a usage error (2)" [ $? -eq 0 ]

code 0 ct-weights import-tfjs "$d/model.json" -o "$d/w.h5"
ok "import-tfjs writes a weight file (exit 0)" [ $? -eq 0 -a -s "$d/w.h5" ]
ok "the summary names the file and counts 3 layers, 2 tensors, 3 parameters" \
	grep -q "w.h5': 3 layers, 2 tensors, 3 parameters" "$d/err"

code 0 ct-weights info "$d/w.h5"
ok "info lists the layers in topology order" sh -c "grep -E '^(input_1|dense|relu)\$' '$d/out' | tr '\n' ' ' | grep -q '^input_1 dense relu \$'"
ok "info shows Keras weight names in Keras order with shapes" \
	sh -c "grep -E '^ +dense/' '$d/out' | tr -s ' ' | tr '\n' '|' | grep -q '^ dense/kernel:0 2x1 2| dense/bias:0 1 1|\$'"
ok "info counts parameters" grep -q '^parameters  3$' "$d/out"
hash=$(sed -n 's/^sha256 *//p' "$d/out")

code 0 ct-weights info --json "$d/w.h5"
ok "info --json has the totals and shapes" sh -c "tr -d ' \t\n' <'$d/out' | grep -q '\"tensors\":2,\"parameters\":3' &&
	tr -d ' \t\n' <'$d/out' | grep -q '\"name\":\"dense/kernel:0\",\"shape\":\[2,1\]'"

code 0 ct-weights sha256 "$d/w.h5"
got=$(cut -d' ' -f1 "$d/out")
ok "sha256 prints 'HASH  FILE' like sha256sum" grep -q "^[0-9a-f]\{64\}  $d/w.h5\$" "$d/out"
ok "sha256 agrees with info's sha256" [ -n "$hash" -a "$got" = "$hash" ]
if command -v sha256sum >/dev/null 2>&1; then
	ok "sha256 agrees with coreutils sha256sum" [ "$got" = "$(sha256sum "$d/w.h5" | cut -d' ' -f1)" ]
fi
code 1 ct-weights sha256 "$d/nope"
ok "sha256 of a missing file fails (1) naming it" has "ct-weights: cannot open '$d/nope': No such file or directory" "$d/err"

code 1 ct-weights import-tfjs "$d/model.json" -o "$d/w.h5"
ok "an existing output is refused without --force (1)" has "exists (use --force to overwrite)" "$d/err"
ok "the refused run left the existing file untouched" [ "$(ct-weights sha256 "$d/w.h5" | cut -d' ' -f1)" = "$hash" ]
code 0 ct-weights import-tfjs --force -q "$d/model.json" -o "$d/w.h5"
ok "--force overwrites, -q is silent, same content gives the same bytes" \
	[ $? -eq 0 -a ! -s "$d/err" -a "$(ct-weights sha256 "$d/w.h5" | cut -d' ' -f1)" = "$hash" ]

code 1 ct-weights import-tfjs "$d/nope.json" -o "$d/x.h5"
ok "a missing model.json fails (1) with the git-style message" \
	has "^ct-weights: cannot open '$d/nope.json': No such file or directory\$" "$d/err"

mkdir "$d/short"
cp "$d/model.json" "$d/short/"
printf '\004\000\000\200\077' >"$d/short/group1-shard1of1.bin"
code 1 ct-weights import-tfjs "$d/short/model.json" -o "$d/short/x.h5"
ok "a short shard fails (1) naming the weight" has "dense/kernel:0' runs past the end" "$d/err"
ok "a failed import leaves no output and no temporary file" [ "$(ls "$d/short")" = "$(printf 'group1-shard1of1.bin\nmodel.json')" ]

echo "not a weight file" >"$d/text.h5"
code 1 ct-weights info "$d/text.h5"
ok "info on a non-HDF5 file fails (1) naming it" has "^ct-weights: '$d/text.h5': not an HDF5 file" "$d/err"
code 1 ct-weights info "$d/nope.h5"
ok "info on a missing file fails (1)" has "cannot open '$d/nope.h5': No such file or directory" "$d/err"

# DenseNet121's Keras layer names hold '/' ("conv1/conv"): nested groups, as h5py writes them
code 0 ct-weights synth -b densenet121 -o "$d/dn.h5" -q
ok "synth writes DenseNet121 weights, whose layer names hold '/' (exit 0)" [ $? -eq 0 -a -s "$d/dn.h5" ]
code 0 ct-weights info "$d/dn.h5"
ok "... read back: conv1/conv with its kernel conv1/conv/kernel:0" \
	sh -c "grep -q '^conv1/conv\$' '$d/out' && grep -q 'conv1/conv/kernel:0' '$d/out'"
if /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
	ok "... in h5py's layout: group conv1 holds conv, whose weight_names name the kernel" \
		/usr/bin/python3 -c "import h5py,sys; f=h5py.File(sys.argv[1],'r'); g=f['conv1']['conv']; assert b'conv1/conv' in list(f.attrs['layer_names']); assert list(g.attrs['weight_names'])==[b'conv1/conv/kernel:0']; assert g['conv1']['conv']['kernel:0'].ndim==4" "$d/dn.h5"
fi

[ "$T_FAILS" -eq 0 ]
