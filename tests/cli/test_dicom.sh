#!/bin/sh
# test_dicom.sh - ct-convert on DICOM series and NIfTI volumes as a user would run it: a folder
# of series (written with pydicom) gives one group per patient as keyed hashes, slices in
# position order, Hounsfield windows and presets recorded in the provenance; damaged files
# fail naming the file; and the privacy test: no identifying value of the inputs (names, ids,
# birth dates, institutions, UIDs) appears in the output file or on stderr.
. "$(dirname "$0")/lib.sh"
D=$T_DIR
PY=/usr/bin/python3
REF="$T_TOP/tests/ref"
if ! $PY -c "import pydicom, numpy, h5py" 2>/dev/null; then
	echo "1..0 # skip python3-pydicom, python3-numpy or python3-h5py missing"
	exit 0
fi
$PY "$REF/make_dicom_tree.py" "$D/tree/root" || echo "not ok 0 - the DICOM tree could not be written"
ids="$D/tree/identities.txt"
printf 'a-test-key-0123456789abcdef\n' >"$D/key"
printf 'another-key-0123456789abcdef\n' >"$D/key2"

# count NAME: the number of distinct values of a string dataset
count() { $PY -c "import h5py,sys; print(len(set(h5py.File(sys.argv[1])['$2'][:])))" "$1"; }

status 0 "ct-convert converts a folder of DICOM series with --groups dicom" \
	ct-convert "$D/tree/root" --groups dicom --group-key "$D/key" --size 32 --window -1000,2000 --float \
	--channels 1 -o "$D/g.h5"
ok "12 slices (the RT plan without pixels is left out)" [ "$($PY -c "import h5py; print(len(h5py.File('$D/g.h5')['names']))")" = 12 ]
err_has "without pixel data left out" "the summary counts the file left out"
ok "one group per patient (3)" [ "$(count "$D/g.h5" groups)" = 3 ]
ok "groups are keyed hashes (pt-...)" sh -c "$PY -c \"import h5py; g=h5py.File('$D/g.h5')['groups'][:]; assert all(x.startswith(b'pt-') and len(x)==19 for x in g)\""
ok "ct-info sees no group in two classes' splits issue and 0 samples without group" \
	sh -c "ct-info --json '$D/g.h5' | grep -q '\"samples_without_group\":[[:space:]]*0'"
# Position order: patient A's files are named against their positions; slice k holds -1000 + 300k HU,
# so in the lung-free window -1000,2000 its rows must read 0.5, 0.65, 0.8, 0.95 in order.
ok "a series is ordered by position, not by file name or InstanceNumber" $PY -c "
import h5py, numpy as np
f = h5py.File('$D/g.h5'); n = [x.decode() for x in f['names'][:]]
rows = [i for i, x in enumerate(n) if 'PAT-A' in x]
m = [float(f['images'][i].mean()) for i in rows]
assert [n[i].rsplit('/', 1)[1] for i in rows] == ['IM4', 'IM3', 'IM2', 'IM1'], n
assert np.allclose(m, [0.5, 0.65, 0.8, 0.95], atol=1e-5), m
"
status 0 "the same key gives the same groups" ct-convert "$D/tree/root" --groups dicom --group-key "$D/key" --size 16 -o "$D/g2.h5" -q
ok "(identical group lists)" $PY -c "import h5py; assert list(h5py.File('$D/g.h5')['groups'][:]) == list(h5py.File('$D/g2.h5')['groups'][:])"
status 0 "another key gives other groups" ct-convert "$D/tree/root" --groups dicom --group-key "$D/key2" --size 16 -o "$D/g3.h5" -q
ok "(no group in common)" $PY -c "import h5py; assert not set(h5py.File('$D/g.h5')['groups'][:]) & set(h5py.File('$D/g3.h5')['groups'][:])"
status 0 "--groups dicom-study takes the study" ct-convert "$D/tree/root" --groups dicom-study --group-key "$D/key" --size 16 -o "$D/st.h5" -q
ok "(3 studies, st-... hashes)" $PY -c "import h5py; g = h5py.File('$D/st.h5')['groups'][:]; assert len(set(g)) == 3 and all(x.startswith(b'st-') for x in g), g"
status 0 "without --group-key the local key file is made and used" \
	env XDG_CONFIG_HOME="$D/cfg" CT_GROUP_KEY_FILE= ct-convert "$D/tree/root" --groups dicom --size 16 -o "$D/lk.h5" -q
ok "(it is mode 600)" sh -c "[ \"\$(stat -c %a '$D/cfg/ctfuse/group.key')\" = 600 ]"
status 1 "a key file that is too short is refused" sh -c "printf short > '$D/k0'; ct-convert '$D/tree/root' --groups dicom --group-key '$D/k0' -o '$D/x.h5'"
err_has "16 to" "the message gives the needed length"

# Windows: presets and three windows as R, G, B, recorded in the provenance.
status 0 "--window lung:mediastinum:bone gives three channels" \
	ct-convert "$D/tree/root" --window lung:mediastinum:bone --size 16 -o "$D/w.h5" -q
ok "the windows are in the recorded params" $PY -c "
import h5py, json; p = json.loads(h5py.File('$D/w.h5').attrs['params'])
assert p['windows'] == [[-600, 1500], [40, 400], [400, 1800]], p"
ok "channel k is the slice through window k" $PY -c "
import h5py, numpy as np
f = h5py.File('$D/w.h5'); n = [x.decode() for x in f['names'][:]]
i = n.index('covid/PAT-A-4711/series1/IM3')   # -700 HU everywhere
want = [(-700 - (l - w / 2)) / w for l, w in ((-600, 1500), (40, 400), (400, 1800))]
want = np.clip(want, 0, 1) * 255
assert np.abs(f['images'][i][4, 4, :].astype(float) - want).max() <= 0.5 + 1e-9, (f['images'][i][4, 4], want)
"
status 2 "three windows with --channels 1 is a usage error" ct-convert "$D/tree/root" --window lung:mediastinum:bone --channels 1 -o "$D/x.h5"
status 2 "an unknown preset is a usage error" ct-convert "$D/tree/root" --window lungs -o "$D/x.h5"
err_has "lungs" "naming it"

# Damaged and unsupported files.
mkdir -p "$D/bad/covid" "$D/bad/normal"
cp "$D/tree/root/normal/patient_c/x0" "$D/bad/normal/"
head -c 2000 "$D/tree/root/normal/patient_c/x1" >"$D/bad/covid/cut.dcm"
status 1 "a truncated DICOM file fails" ct-convert "$D/bad" --size 16 -o "$D/bad.h5" -q
err_has "cut.dcm" "the message names the file"
err_one_line "in one line"
ok "and no output is left" [ ! -e "$D/bad.h5" ]

# An Enhanced multi-frame file: frames ordered by their per-frame positions (stored at z = 10,
# 0, 5), each frame rescaled with its own slope/intercept (-24, -1048, 200 HU).
mkdir -p "$D/mf"
$PY "$REF/make_multiframe.py" "$D/mf/mf.dcm"
status 0 "a multi-frame file converts" ct-convert -u "$D/mf" --window 0,8000 --float --channels 1 --size 8 -o "$D/mf.h5"
ok "its frames come in position order, with per-frame rescale" $PY -c "
import h5py, numpy as np
f = h5py.File('$D/mf.h5')
assert [x.decode() for x in f['names'][:]] == ['mf.dcm#p2', 'mf.dcm#p3', 'mf.dcm'], f['names'][:]
hu = [float(x.mean()) * 8000 - 4000 for x in f['images'][:]]
assert np.allclose(hu, [-1048, 200, -24], atol=0.01), hu"

# Threads: DICOM files decode in child processes, in parallel; the output does not depend on it.
for t in 1 2; do
	mkdir -p "$D/t$t" && (cd "$D/t$t" && OMP_NUM_THREADS=$t ct-convert "$D/tree/root" --groups dicom \
		--group-key "$D/key" --size 16 out.h5 -q)
done
ok "byte-identical output for 1 and 2 threads" cmp -s "$D/t1/out.h5" "$D/t2/out.h5"

# Damaged files: byte-mutated and truncated copies of a real CT slice either convert or fail
# with one line naming the file - never a crash, a hang or another exit status.
ct_small=$($PY -c "import pydicom.data; print(pydicom.data.get_testdata_file('CT_small.dcm'))")
$PY - "$ct_small" "$D/mut" <<'PYEOF'
import os, random, sys
data = open(sys.argv[1], "rb").read()
os.makedirs(sys.argv[2], exist_ok=True)
r = random.Random(13)
for i in range(40):
    b = bytearray(data)
    if i % 4 == 0:
        b = b[:r.randrange(8, len(b))]
    else:
        for _ in range(r.choice([1, 4, 16])):
            b[r.randrange(0, 1400 if i % 2 else len(b))] = r.randrange(256)
    d = os.path.join(sys.argv[2], "m%02d" % i)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "slice.dcm"), "wb").write(bytes(b))
PYEOF
bad=""
for m in "$D"/mut/m*; do
	ct-convert -u "$m" --window lung --size 8 -o "$m.h5" -q 2>"$m.err"
	rc=$?
	if [ $rc -eq 1 ]; then
		{ [ "$(wc -l <"$m.err")" -eq 1 ] && grep -q "slice.dcm" "$m.err"; } || bad="$bad $(basename "$m"):msg"
	elif [ $rc -ne 0 ]; then
		bad="$bad $(basename "$m"):exit$rc"
	fi
done
ok "40 mutated DICOM files: exit 0 or 1, errors in one line naming the file${bad:+ (bad:$bad)}" [ -z "$bad" ]

# The privacy test. Patient A's folder is named after its PatientID: without --anonymise the
# check must find it (it can fail), with --anonymise nothing identifying may remain anywhere.
ct-convert "$D/tree/root" --groups dicom --group-key "$D/key" --size 16 --compress 0 -o "$D/named.h5" 2>"$D/named.err"
ok "the leak check finds the id in a non-anonymised file (the check can fail)" sh -c "! $PY '$REF/find_leaks.py' '$ids' '$D/named.h5' >/dev/null"
status 0 "ct-convert --anonymise --groups dicom" ct-convert "$D/tree/root" --anonymise --groups dicom \
	--group-key "$D/key" --size 16 --compress 0 --window lung -o "$D/anon.h5"
cp "$D/err" "$D/anon.err"
ok "no identifying value in the output file or on stderr" $PY "$REF/find_leaks.py" "$ids" "$D/anon.h5" "$D/anon.err"
$PY "$REF/find_leaks.py" "$ids" "$D/anon.h5" "$D/anon.err" | sed 's/^/# /' | head -n 5
ok "names are anon-<hash> (with the folder gone)" $PY -c "
import h5py; n = h5py.File('$D/anon.h5')['names'][:]
assert all(x.startswith(b'anon-') and b'/' not in x for x in n), n"
status 0 "--anonymise --skip-bad: the skipped list does not name the path" \
	sh -c "cp '$D/bad/covid/cut.dcm' '$D/tree/root/covid/PAT-A-4711/series1/zz.dcm' && ct-convert '$D/tree/root' --anonymise --skip-bad --group-key '$D/key' --size 16 -o '$D/anon2.h5' -q"
ok "(no identifying value in it)" $PY "$REF/find_leaks.py" "$ids" "$D/anon2.h5"
rm -f "$D/tree/root/covid/PAT-A-4711/series1/zz.dcm"

# The same phantom slices as 16-bit PNG (HU + 1024) and as DICOM series give the same images;
# the example pipeline runs from the DICOM folder to a report, patients kept apart.
if $PY -c "import PIL" 2>/dev/null; then
	ct-phantom -o "$D/ph" --patients 12 --slices-per-patient 2 --size 64 --format png16 --seed 3 >/dev/null 2>&1
	$PY "$REF/phantom_to_dicom.py" "$D/ph" "$D/phd"
	ct-convert "$D/ph" --hu-offset -1024 --window lung --size 32 -o "$D/p16.h5" -q
	status 0 "ct-convert reads the DICOM series of the phantom" ct-convert "$D/phd" --window lung --size 32 -o "$D/pd.h5" -q
	ok "DICOM (rescale intercept -1024) and PNG (--hu-offset -1024) give identical images" $PY -c "
import h5py, numpy as np
a = h5py.File('$D/p16.h5')['images'][:]; b = h5py.File('$D/pd.h5')['images'][:]
assert a.shape == b.shape and (a == b).all()"
	mkdir -p "$D/w" && ct-weights synth --backbone mobilenet_v2 -o "$D/w/m.h5" -q
	status 0 "examples/dicom_report.sh runs from the DICOM folder to a report" env BIN="$(dirname "$(command -v ct-convert)")" \
		WEIGHTS="$D/w/m.h5" GROUP_KEY="$D/key" FRACTIONS=0.5,0.25,0.25 sh "$T_TOP/examples/dicom_report.sh" "$D/phd" "$D/ex"
	ok "it writes the report" [ -s "$D/ex/report.html" ]
	ct-info --json "$D/ex/split.h5" >"$D/ex.json"
	ok "12 patients as groups, none in two splits" sh -c "grep -q '\"distinct\":[[:space:]]*12' '$D/ex.json' && grep -q '\"groups_in_several_splits\":[[:space:]]*0' '$D/ex.json'"
	ok "no patient id or name in its files" $PY "$REF/find_leaks.py" /dev/stdin "$D/ex/images.h5" "$D/ex/features.h5" "$D/ex/report.html" <<IDS
$(sed 's/\t.*\t/ /' "$D/ph/patients.tsv" | awk 'NR > 1 {print $2}' | sort -u)
Phantom
IDS
else
	echo "ok $((T_N + 1)) # skip python3-pil missing (phantom to DICOM)"
	T_N=$((T_N + 1))
fi

# NIfTI volumes: a file is one group; slice selection.
if $PY -c "import nibabel" 2>/dev/null; then
	mkdir -p "$D/nii/vol"
	$PY "$REF/nibabel_slices.py" --make "$D/nii/vol"
	nib=$($PY "$REF/nibabel_slices.py" --dir)
	cp "$nib/anatomical.nii" "$D/nii/vol/anat.data" # by content, not by name
	status 0 "ct-convert reads NIfTI volumes (unlabelled folder)" ct-convert -u "$D/nii/vol" --groups dicom \
		--group-key "$D/key" --size 16 -o "$D/n.h5"
	ok "every slice of the four volumes (25 + 6 + 6 + 2 axial slices)" [ "$($PY -c "import h5py; print(len(h5py.File('$D/n.h5')['names']))")" = 39 ]
	ok "one group per file" [ "$(count "$D/n.h5" groups)" = 4 ]
	ok "slices are named name#zK" $PY -c "import h5py; assert b'anat.data#z0' in list(h5py.File('$D/n.h5')['names'][:])"
	status 0 "--slices range:2-20,every:3" ct-convert -u "$D/nii/vol" --slices range:2-20,every:3 --size 16 -o "$D/n2.h5"
	ok "keeps slices 2, 5, ..., 20 of each volume (7 of anat, 2 of each 6-slice one, none of the 2-slice one)" \
		$PY -c "
import h5py; n = [x.decode() for x in h5py.File('$D/n2.h5')['names'][:]]
a = sorted(int(x.split('#z')[1]) for x in n if x.startswith('anat'))
assert a == [2, 5, 8, 11, 14, 17, 20], n
assert len(n) == 11, n"
	status 1 "no selected slice at all fails" ct-convert -u "$D/nii/vol" --slices range:100-200 --size 16 -o "$D/n3.h5"
	err_has "no image" "the message says so"
	status 0 "--slices lung keeps slices with lung-window content" ct-convert -u "$D/nii/vol" --slices lung:0.2 --size 16 -o "$D/n5.h5" -q
	ok "exactly those with >= 20% of voxels in -950..-400 HU (counted with nibabel)" $PY -c "
import h5py, nibabel as nib, numpy as np, os, subprocess
n = sorted(x.decode() for x in h5py.File('$D/n5.h5')['names'][:])
want = []
for f in sorted(os.listdir('$D/nii/vol')):
    out = subprocess.run(['$PY', '$REF/nibabel_slices.py', '$D/nii/vol/' + f], capture_output=True).stdout
    head, raw = out.split(b'\\n', 1)
    s, r, c = map(int, head.split()[1:])
    v = np.frombuffer(raw, '<f8').reshape(s, r, c).astype(np.float32)
    want += ['%s#z%d' % (f, k) for k in range(s) if ((v[k] >= -950) & (v[k] <= -400)).mean() >= 0.2]
assert n == sorted(want) and len(n) > 0, (n, want)"
	status 2 "a bad --slices is a usage error" ct-convert -u "$D/nii/vol" --slices every:0 -o "$D/n4.h5"
else
	echo "ok $((T_N + 1)) # skip python3-nibabel missing"
	T_N=$((T_N + 1))
fi
echo "1..$T_N"
[ "$T_FAILS" -eq 0 ]
