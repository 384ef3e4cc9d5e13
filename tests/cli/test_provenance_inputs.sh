#!/bin/sh
# test_provenance_inputs.sh - every stage records the files it read and their SHA-256 in its
# provenance entry ("inputs", docs/formats.md), checked against digests computed here with
# Python's hashlib: an HDF5 file of ours by the digest its trailer holds (the bytes before
# it), any other file (weights) whole, standard input by its bytes, and ct-convert's images as
# one digest over their names and contents. And ct-features --resume fingerprints the content
# of an input without checksums (an older or foreign file): one changed pixel, same names and
# command lines, and --resume refuses.
. "$(dirname "$0")/lib.sh"
D=$T_DIR
PY=/usr/bin/python3
if ! $PY -c "import h5py, numpy" 2>/dev/null; then
	echo "1..0 # skip /usr/bin/python3 with h5py and numpy missing"
	exit 0
fi
(
	cd "$D" || exit 1
	ct-phantom -o ph --patients 4 --slices-per-patient 2 --size 32 --seed 3 >/dev/null 2>&1
	ct-convert ph --size 32 -o img.h5 -q
	ct-augment - aug.h5 --copies 1 -q <img.h5
	ct-weights synth --backbone mobilenet_v2 -o w.h5 -q
	ct-features --backbone mobilenet_v2 --weights w.h5 --layer block_1_project_BN --resize img.h5 -o f1.h5 -q
	ct-features --backbone mobilenet_v2 --weights w.h5 --layer block_2_project_BN --resize img.h5 -o f2.h5 -q
	ct-fuse f1.h5 f2.h5 -o fused.h5 -q
	ct-split fused.h5 -o split.h5 -q
	ct-finetune split.h5 --head logreg --epochs 2 -o model.h5 -q
	ct-score model.h5 split.h5 -o scores.h5 --bootstrap 10 >/dev/null
)
ok "fixtures: every stage ran" test -s "$D/scores.h5"

# inputs_of FILE: the last provenance entry's inputs, one "path sha256 [files]" line each
cat >"$D/inputs.py" <<'PYEOF'
import h5py, json, sys
entry = json.loads(h5py.File(sys.argv[1], "r")["provenance"][-1])
for x in entry.get("inputs", []):
    print(x["path"], x["sha256"], x.get("files", ""))
PYEOF
# digest FILE: the trailer's digest, recomputed (the bytes before the 48-byte trailer), or the whole file's
cat >"$D/digest.py" <<'PYEOF'
import hashlib, sys
b = open(sys.argv[1], "rb").read() if sys.argv[1] != "-" else sys.stdin.buffer.read()
if len(b) >= 48 and b[-48:-32] == b"CTFUSE-SHA256\0\0\0":
    assert hashlib.sha256(b[:-48]).digest() == b[-32:]
    b = b[:-48]
print(hashlib.sha256(b).hexdigest())
PYEOF
# has FILE PATH DIGEST-FILE: the entry of FILE lists PATH with the digest of DIGEST-FILE
has() {
	want="$2 $($PY "$D/digest.py" "$3") "
	(cd "$D" && $PY inputs.py "$1") | grep -qx -- "$want"
}
# the images of ct-convert: sha256 over "name NUL hex-sha256 LF", names in sorted order
want=$(cd "$D" && $PY -c '
import hashlib, os
files = sorted(os.path.relpath(os.path.join(r, f), "ph") for r, _, fs in os.walk("ph") for f in fs if f.endswith(".png"))
h = hashlib.sha256()
for n in files:
    h.update(n.encode() + b"\0" + hashlib.sha256(open(os.path.join("ph", n), "rb").read()).hexdigest().encode() + b"\n")
print("ph", h.hexdigest(), len(files))')
ok "ct-convert records one digest over its 8 images' names and contents" \
	sh -c "cd '$D' && $PY inputs.py img.h5 | grep -qx -- '$want'"
ok "ct-augment records its input read from standard input" has aug.h5 - "$D/img.h5"
ok "ct-features records the images file (the digest in its trailer)" has f1.h5 img.h5 "$D/img.h5"
ok "... and the weights file (hashed whole)" has f1.h5 w.h5 "$D/w.h5"
ok "ct-fuse records both features files" sh -c "cd '$D' && $PY inputs.py fused.h5 | grep -c . | grep -qx 2"
ok "... the first with its digest" has fused.h5 f1.h5 "$D/f1.h5"
ok "... the second with its digest" has fused.h5 f2.h5 "$D/f2.h5"
ok "ct-split records its input" has split.h5 fused.h5 "$D/fused.h5"
ok "ct-finetune records its input" has model.h5 split.h5 "$D/split.h5"
ok "ct-score records the model" has scores.h5 model.h5 "$D/model.h5"
ok "... and the features" has scores.h5 split.h5 "$D/split.h5"
ok "the upstream entries keep theirs (the chain of ct-score's output)" sh -c \
	"$PY -c \"import h5py, json, sys; p = h5py.File(sys.argv[1], 'r')['provenance']; sys.exit(0 if all('inputs' in json.loads(x) for x in p) else 1)\" '$D/scores.h5'"

# --resume of an input without checksums: one pixel changed, same names and command lines
cat >"$D/strip.py" <<'PYEOF'
import h5py, sys
# a file as an older ctfuse or another program writes it: no content_sha256 anywhere (and
# h5py's rewrite drops the trailer)
with h5py.File(sys.argv[1], "r+") as f:
    objs = [f]
    f.visititems(lambda n, o: objs.append(o))
    for o in objs:
        if "content_sha256" in o.attrs:
            del o.attrs["content_sha256"]
    if len(sys.argv) > 2:
        px = f["images"][0]
        px[0, 0, 0] = 255 - px[0, 0, 0]
        f["images"][0] = px
PYEOF
(
	cd "$D" || exit 1
	cp img.h5 old.h5
	$PY strip.py old.h5
	cp old.h5 keep.h5
	CT_TEST_INTERRUPT_AFTER=2 ct-features --backbone mobilenet_v2 --weights w.h5 --layer block_1_project_BN \
		--resize --batch 2 old.h5 -o r.h5 -q 2>/dev/null
	cp r.h5.partial r.keep
	$PY strip.py old.h5 flip
)
ok "the stripped input has no checksums" sh -c "! ct-info --verify '$D/keep.h5'"
ok "an interrupted run left its partial file" test -s "$D/r.h5.partial"
status 1 "--resume refuses the input with one pixel changed (same names and commands)" sh -c "cd '$D' &&
	ct-features --backbone mobilenet_v2 --weights w.h5 --layer block_1_project_BN --resize --batch 2 old.h5 -o r.h5 --resume -q"
err_has "another input or other settings" "... saying why"
ok "... and keeps the partial file" test -s "$D/r.h5.partial"
status 0 "--resume continues with the unchanged input" sh -c "cd '$D' && cp keep.h5 old.h5 &&
	ct-features --backbone mobilenet_v2 --weights w.h5 --layer block_1_project_BN --resize --batch 2 old.h5 -o r.h5 --resume -q"
echo "1..$T_N"
[ "$T_FAILS" -eq 0 ]
