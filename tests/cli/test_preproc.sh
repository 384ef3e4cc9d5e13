#!/bin/sh
# test_preproc.sh - lung preprocessing in ct-convert (/lung_mask, cropping, cleaning,
# standardisation, provenance) and ct-augment's photometric options and mask warping, driven as
# a user would on phantom data; masks and warps checked with h5py/numpy/scipy where present.
. "$(dirname "$0")/lib.sh"
D=$T_DIR
PY=/usr/bin/python3
ct-phantom -o "$D/ph" --patients 4 --slices-per-patient 2 --size 128 --seed 5 \
	--split-dir "$D/split" >/dev/null 2>&1 || echo "not ok 0 - ct-phantom failed"
have_py=0
"$PY" -c 'import h5py, numpy, scipy.ndimage' 2>/dev/null && have_py=1
# py_ok DESCRIPTION SCRIPT ARGS...: a check done in Python (skipped without h5py and scipy).
py_ok() {
	desc=$1
	shift
	if [ $have_py = 0 ]; then
		T_N=$((T_N + 1))
		echo "ok $T_N # skip $desc (needs /usr/bin/python3 with h5py, numpy, scipy)"
		return
	fi
	"$PY" -c "$@" >"$T_DIR/py.out" 2>&1
	t_report $? "$desc" " ($(tail -n 1 "$T_DIR/py.out"))" && sed 's/^/# /' "$T_DIR/py.out"
}

status 0 "ct-convert without lung options" ct-convert "$D/ph" --size 64 -o "$D/plain.h5" -q
ok "writes no lung_mask" sh -c "! ct-info '$D/plain.h5' | grep -q lung_mask"
status 0 "ct-convert --lung-mask" ct-convert "$D/ph" --size 64 --lung-mask -o "$D/m.h5" -q
ok "writes lung_mask as 8 x 64 x 64 uint8" sh -c "ct-info '$D/m.h5' | grep -q 'lung_mask *uint8 *8 x 64 x 64'"
py_ok "--lung-mask alone leaves the images as without it" "
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
assert (a['images'][:] == b['images'][:]).all(), 'images differ'
" "$D/plain.h5" "$D/m.h5"
# The phantom's lungs are the dark regions inside the body (lung window): the mask must cover
# them and little else. Reference: the phantom PNGs thresholded at the lung-window value of
# -400 HU, largest components inside the body, resized like the images.
py_ok "lung_mask is 0/1 and covers the dark lung regions (Dice >= 0.85 against a scipy threshold mask)" "
import h5py, numpy as np, sys
from scipy import ndimage as nd
f = h5py.File(sys.argv[1]); m = f['lung_mask'][:]; im = f['images'][:, :, :, 0].astype(float) / 255
assert set(np.unique(m)) <= {0, 1}, 'values other than 0/1'
ds = []
for i in range(len(m)):
    g = im[i]; body = nd.binary_fill_holes(g > 0.5)
    dark = body & (g < (-400 + 1350) / 1500)
    lab, n = nd.label(dark); sizes = nd.sum(dark, lab, range(1, n + 1))
    ref = np.isin(lab, 1 + np.argsort(sizes)[-2:])
    ds.append(2 * (ref & (m[i] > 0)).sum() / (ref.sum() + m[i].sum()))
print('dice min %.3f' % min(ds)); assert min(ds) >= 0.85
" "$D/m.h5"

for t in 1 2; do
	mkdir -p "$D/t$t"
	(cd "$D/t$t" && OMP_NUM_THREADS=$t ct-convert ../ph --size 64 --clean-annotations --lung-crop \
		--standardise lung --split ../split out.h5 -q)
done
ok "lung preprocessing is byte-identical for 1 and 2 threads" cmp -s "$D/t1/out.h5" "$D/t2/out.h5"
ok "the options are in the provenance" sh -c "ct-info '$D/t1/out.h5' | grep -q 'ct-convert.*--lung-crop.*--standardise lung'"
ok "and in the params" sh -c "ct-info --json '$D/t1/out.h5' | grep -q 'lung-crop'"
py_ok "--lung-crop enlarges the lungs: the mask covers more of the image than without cropping" "
import h5py, sys
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
fa, fb = a['lung_mask'][:].mean(), b['lung_mask'][:].mean()
print('%.3f -> %.3f' % (fa, fb)); assert fb > 1.3 * fa
assert a.attrs['lung_not_found'] == 0 and b.attrs['lung_not_found'] == 0
" "$D/m.h5" "$D/t1/out.h5"
py_ok "--standardise lung puts the lung field's 10th percentile at 0.333" "
import h5py, numpy as np, sys
f = h5py.File(sys.argv[1]); im = f['images'][:, :, :, 0] / 255.0; m = f['lung_mask'][:] > 0
p = [np.percentile(im[i][m[i]], 10) for i in range(len(im))]
print('p10 %.3f..%.3f' % (min(p), max(p))); assert all(abs(x - 1 / 3) < 0.03 for x in p)
" "$D/t1/out.h5"
status 2 "--lung-margin without --lung-crop is a usage error" ct-convert "$D/ph" --lung-margin 0.2 -o "$D/x.h5"
status 2 "--standardise with an unknown mode is a usage error" ct-convert "$D/ph" --standardise hu -o "$D/x.h5"
ok "no output after usage errors" [ ! -e "$D/x.h5" ]

# --equalise SIZE:Q: grey, SIZE x SIZE, one JPEG round trip. Reference: our plain grey
# conversion at SIZE (the same luma and resampling) encoded and decoded by PIL's libjpeg at Q.
status 0 "ct-convert --equalise 96:60" ct-convert "$D/ph" --size 96 --channels 1 --equalise 96:60 -o "$D/eq.h5" -q
status 0 "the plain grey conversion at 96" ct-convert "$D/ph" --size 96 --channels 1 -o "$D/g96.h5" -q
ok "--equalise is in the params" sh -c "ct-info --json '$D/eq.h5' | grep -q 'equalise'"
py_ok "--equalise equals a PIL JPEG round trip (quality 60) of the plain conversion" "
import h5py, numpy as np, sys, io
from PIL import Image
e = h5py.File(sys.argv[1])['images'][:, :, :, 0]; p = h5py.File(sys.argv[2])['images'][:, :, :, 0]
ref = []
for im in p:
    b = io.BytesIO(); Image.fromarray(im).save(b, format='JPEG', quality=60); ref.append(np.asarray(Image.open(b)))
d = np.abs(e.astype(int) - np.array(ref, int))
print('max diff %d, changed by JPEG %.3f' % (d.max(), (e != p).mean()))
assert d.max() <= 1 and (e != p).mean() > 0.05
" "$D/eq.h5" "$D/g96.h5"
for t in 1 2; do
	mkdir -p "$D/e$t"
	(cd "$D/e$t" && OMP_NUM_THREADS=$t ct-convert ../ph --size 64 --equalise 80:75 -o eq.h5 -q)
done
ok "--equalise is byte-identical for 1 and 2 threads" cmp -s "$D/e1/eq.h5" "$D/e2/eq.h5"
status 2 "--equalise without a quality is a usage error" ct-convert "$D/ph" --equalise 320 -o "$D/x.h5"
status 2 "--equalise with quality 0 is a usage error" ct-convert "$D/ph" --equalise 320:0 -o "$D/x.h5"
ok "no output after those" [ ! -e "$D/x.h5" ]
status 0 "ct-convert --lung-only" ct-convert "$D/ph" --size 64 --lung-only -o "$D/lo.h5" -q
ok "--lung-only is in the params" sh -c "ct-info --json '$D/lo.h5' | grep -q 'lung-only'"
# Reference: the mask widened by a disk of radius 0.02 x sqrt(h x w) of the decoded image (128 px:
# 2.56 px; at 64 px after resizing, about 1.3 px) - every pixel farther than 3 px from the mask
# is 0, every lung pixel keeps its grey level (as in the plain conversion).
py_ok "--lung-only blanks everything away from the lung field and keeps the lungs" "
import h5py, numpy as np, sys
from scipy import ndimage as nd
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
lo = a['images'][:, :, :, 0].astype(int); m = a['lung_mask'][:] > 0; pl = b['images'][:, :, :, 0].astype(int)
assert (m == (b['lung_mask'][:] > 0)).all(), 'lung field changed'
far = ~nd.binary_dilation(m, structure=np.ones((1, 7, 7), bool))
core = nd.binary_erosion(m, structure=np.ones((1, 3, 3), bool))
print('far max %d, far share %.2f, core max diff %d' % (lo[far].max(), far.mean(), np.abs(lo[core] - pl[core]).max()))
assert lo[far].max() == 0 and far.mean() > 0.3 and pl[far].max() > 100
assert np.abs(lo[core] - pl[core]).max() <= 1
" "$D/lo.h5" "$D/m.h5"

# ct-augment: the mask follows its image; photometric options are reproducible.
status 0 "ct-augment warps lung_mask along" ct-augment "$D/m.h5" "$D/am.h5" --all --copies 2 --rotate 25 \
	--shift 0.1 --zoom 0.1 --hflip --seed 3 -q
py_ok "each copy's mask is its source mask warped with its affine (nearest; >= 99% as scipy)" "
import h5py, numpy as np, sys
from scipy import ndimage as nd
a, s = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
src = s['lung_mask'][:]; out = a['lung_mask'][:]; A = a['affine'][:]; ix = a['source_index'][:]
agree = []
for r in range(len(out)):
    M = A[r]; ref = nd.affine_transform(src[ix[r]], M[:, :2], offset=M[:, 2], order=0, mode='nearest')
    agree.append((ref == out[r]).mean())
print('min agreement %.4f' % min(agree)); assert min(agree) >= 0.99
assert (out[::3] == src).all(), 'originals changed'
" "$D/am.h5" "$D/m.h5"
PH="--contrast 0.3 --gamma 0.3 --noise 0.03 --blur 1.5 --resolution 0.5"
for t in 1 2; do
	(cd "$D/t$t" && OMP_NUM_THREADS=$t ct-augment ../m.h5 aug.h5 --copies 3 --rotate 10 $PH --seed 9 -q)
done
ok "photometric augmentation is byte-identical for 1 and 2 threads" cmp -s "$D/t1/aug.h5" "$D/t2/aug.h5"
(cd "$D/t1" && ct-augment ../m.h5 aug_affine.h5 --copies 3 --rotate 10 --seed 9 -q)
py_ok "photometric options keep the affine draws and records its own (identity on originals)" "
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
assert (a['affine'][:] == b['affine'][:]).all(), 'affine draws changed'
assert (a['lung_mask'][:] == b['lung_mask'][:]).all(), 'masks changed'
p = a['photometric'][:]; orig = a['affine'][:, 0, 0] == 1
ident = (p == [1, 1, 0, 0, 1]).all(1)
copies = a['source_index'][:] == np.roll(a['source_index'][:], 1)
assert ident[~copies].all() and not ident[copies].any()
assert (p[copies, 0] >= 0.7).all() and (p[copies, 0] <= 1.3).all() and (p[copies, 4] >= 0.5).all()
assert 'photometric' not in b
" "$D/t1/aug.h5" "$D/t1/aug_affine.h5"
status 2 "a photometric range outside its bounds is a usage error" ct-augment "$D/m.h5" "$D/x.h5" --gamma 1.5
err_has "'--gamma' must be in \\[0, 1\\]" "the message names the option and its range"
if [ $have_py = 1 ]; then
	cp "$D/m.h5" "$D/bad.h5"
	"$PY" -c "
import h5py, numpy, sys
f = h5py.File(sys.argv[1], 'a'); del f['lung_mask']; f['lung_mask'] = numpy.zeros((3, 64, 64), 'u1')
" "$D/bad.h5"
	status 1 "a lung_mask that does not match the images fails" env CT_NO_VERIFY=1 ct-augment "$D/bad.h5" "$D/x.h5"
	err_has "lung_mask' does not match" "the message names the dataset"
	ok "and leaves no output" [ ! -e "$D/x.h5" ]
fi
echo "1..$T_N"
