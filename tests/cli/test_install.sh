#!/bin/sh
# test_install.sh - make install into a temporary prefix gives tools, manual pages and
# pipelines that work from any folder: the demo pipeline runs from elsewhere with the
# installed tools only, weights come from the search path (here $XDG_DATA_HOME), a missing
# weight file is reported with the folders searched, and make uninstall removes it all.
. "$(dirname "$0")/lib.sh"
D=$T_DIR
bindir=$(dirname "$(command -v ct-convert)")
pre=$D/prefix
make --no-print-directory -C "$T_TOP" install PREFIX="$pre" WFILES= BIN="$bindir" BUILD="$T_BUILD" >"$D/install.log" 2>&1
ok "make install into a temporary prefix" [ -x "$pre/bin/ct-features" ] || sed 's/^/# /' "$D/install.log" | tail -5
ok "it installs every tool" [ "$(ls "$pre/bin" | wc -l)" -eq "$(ls "$T_TOP"/tools/ct-*.c | wc -l)" ]
ok "it installs the pipelines" [ -f "$pre/share/ctfuse/pipelines/covid-ct.mk" ] && [ -f "$pre/share/ctfuse/pipelines/backbones.mk" ] && [ -f "$pre/share/ctfuse/pipelines/slurm/submit.sh" ]
ok "ctfuse(7) and ctfuse-formats(5) are installed and render" sh -c \
	"man -l '$pre/share/man/man7/ctfuse.7' | grep -q 'WEIGHTS SEARCH PATH' && man -l '$pre/share/man/man5/ctfuse-formats.5' | grep -q 'input_fingerprint'"
ok "ctfuse-formats(5) is docs/formats.md as it is now" sh -c \
	"sh '$T_TOP/scripts/md2man.sh' ctfuse-formats 5 'file formats of ctfuse (HDF5 layouts)' < '$T_TOP/docs/formats.md' | cmp -s - '$T_TOP/man/ctfuse-formats.5'"
# the installed tools alone, from another folder, weights in the user's data folder
mkdir -p "$D/elsewhere" "$D/xdg/ctfuse/weights"
run() { (cd "$D/elsewhere" && env -u CT_WEIGHTS_DIR PATH="$pre/bin:/usr/bin:/bin" HOME="$D" XDG_DATA_HOME="$D/xdg" "$@"); }

run ct-phantom -o "$D/ph" --patients 2 --slices-per-patient 1 --size 64 --seed 1 >/dev/null 2>&1
run ct-convert "$D/ph" --size 224 -o "$D/i.h5" -q
status 1 "without weights, ct-features fails" run ct-features --backbone mobilenet_v2 "$D/i.h5" -o "$D/x.h5"
err_has "no mobilenet_v2.h5 in $D/xdg/ctfuse/weights, $pre/share/ctfuse/weights" "... naming the folders searched"
ok "... and no source-tree make target" sh -c "! grep -q 'make weights' '$D/err'"
run ct-weights synth --backbone mobilenet_v2 -o "$D/xdg/ctfuse/weights/mobilenet_v2.h5" -q
status 0 "weights in \$XDG_DATA_HOME/ctfuse/weights are found" run ct-features --backbone mobilenet_v2 "$D/i.h5" -o "$D/f.h5" -q
cp "$D/xdg/ctfuse/weights/mobilenet_v2.h5" "$pre/share/ctfuse/weights/"
rm "$D/xdg/ctfuse/weights/mobilenet_v2.h5"
status 0 "weights in PREFIX/share/ctfuse/weights are found" run ct-features --backbone mobilenet_v2 "$D/i.h5" -o "$D/f2.h5" -q
rm "$pre/share/ctfuse/weights/mobilenet_v2.h5"
run ct-weights synth --backbone mobilenet_v2 -o "$D/xdg/ctfuse/weights/mobilenet_v2.h5" -q
run env OUT="$D/demo" PATIENTS=8 SLICES=2 BACKBONES=mobilenet_v2 sh "$pre/share/ctfuse/pipelines/demo.sh" >"$D/demo.log" 2>&1
ok "the installed demo pipeline runs from another folder" [ -s "$D/demo/run/mobilenet_v2/report.html" ] || sed 's/^/# /' "$D/demo.log" | tail -8
ok "... with the installed tools" sh -c "ct-info '$D/demo/run/mobilenet_v2/model.h5' >/dev/null && ! grep -q '$T_TOP' '$D/demo.log'"
ok "... and prints the test metrics" grep -q '"auc"\|auc' "$D/demo.log"
ok "make -n on the finished pipeline has nothing to do" sh -c "cd '$D/elsewhere' && PATH='$pre/bin:/usr/bin:/bin' XDG_DATA_HOME='$D/xdg' make -n -f '$pre/share/ctfuse/pipelines/covid-ct.mk' DATA='$D/demo/phantom' SPLIT='$D/demo/split' GROUPS='$D/demo/phantom/patients.tsv' OUT='$D/demo/run' BACKBONES=mobilenet_v2 AUGMENT_ARGS='--copies 2 --shear 10 --rotate 10 --shift 0.05 --seed 1' | grep -q 'Nothing to be done'"
make --no-print-directory -C "$T_TOP" uninstall PREFIX="$pre" BIN="$bindir" BUILD="$T_BUILD" >"$D/uninstall.log" 2>&1
ok "make uninstall removes the tools, pages and pipelines" sh -c "[ -z \"\$(ls '$pre/bin')\" ] && [ ! -e '$pre/share/ctfuse' ] && [ -z \"\$(find '$pre/share/man' -type f)\" ]"
echo "1..$T_N"
