#!/usr/bin/python3
"""nibabel_slices.py - the reference for tests/unit/test_nifti.c: nibabel's decode of a NIfTI
file, as axial slices in ct-convert's documented orientation (lib/image/nifti.h).

Usage: nibabel_slices.py --dir                 the folder of nibabel's bundled test files
       nibabel_slices.py --make DIR            write generated test volumes into DIR
       nibabel_slices.py FILE                  "OK slices rows cols" + raw <f8 values
Prints "SKIP reason" (exit 0) where nibabel is missing."""
import os
import sys
import warnings

warnings.simplefilter("ignore")
try:
    import numpy as np
    import nibabel as nib
except ImportError as e:
    print("SKIP python3-nibabel or python3-numpy missing (%s)" % e)
    sys.exit(0)

if sys.argv[1] == "--dir":
    print(os.path.join(os.path.dirname(nib.__file__), "tests", "data"))
    sys.exit(0)

if sys.argv[1] == "--make":
    out = sys.argv[2]
    rng = np.random.default_rng(7)
    data = rng.integers(-1024, 2000, size=(7, 6, 5)).astype(np.int16)
    # scaled, permuted and flipped axes (voxel j runs S->I, k runs R->L: sagittal storage)
    aff = np.array([[0, 0, -0.8, 10], [0.7, 0, 0, -5], [0, -2.5, 0, 30], [0, 0, 0, 1]])
    img = nib.Nifti1Image(data, aff)
    img.header.set_sform(aff, code=1)
    path = os.path.join(out, "scaled_sagittal.nii")
    nib.save(img, path)
    with open(path, "r+b") as fh:  # scl_slope, scl_inter (nibabel would rescale on save)
        fh.seek(112)
        fh.write(np.array([2.0, -1024.0], dtype="<f4").tobytes())
    # NIfTI-2, float32, LPI-ish orientation, gzip
    f = rng.normal(size=(5, 4, 6)).astype(np.float32) * 300
    aff2 = np.diag([1.5, -1.5, -3.0, 1.0])
    img2 = nib.Nifti2Image(f, aff2)
    img2.header.set_qform(aff2, code=1)
    img2.header.set_sform(None, code=0)
    nib.save(img2, os.path.join(out, "float_lpi.nii.gz"))
    # uint8 with neither qform nor sform (the Analyze default)
    u = rng.integers(0, 255, size=(4, 3, 2)).astype(np.uint8)
    img3 = nib.Nifti1Image(u, None)
    img3.header.set_qform(None, code=0)
    img3.header.set_sform(None, code=0)
    nib.save(img3, os.path.join(out, "noform.nii"))
    sys.exit(0)

path = sys.argv[1]
if not path.endswith((".nii", ".nii.gz")):  # nibabel goes by the name; ct-convert by content
    import tempfile
    gz = open(path, "rb").read(2) == b"\x1f\x8b"
    link = os.path.join(tempfile.mkdtemp(), "v.nii.gz" if gz else "v.nii")
    os.symlink(os.path.abspath(path), link)
    path = link
img = nib.load(path)
if len(img.shape) > 3:
    img = img.slicer[..., 0]
c = nib.as_closest_canonical(img).get_fdata()
if c.ndim == 2:
    c = c[..., None]
slices = np.stack([c[::-1, ::-1, k].T for k in range(c.shape[2])])
sys.stdout.write("OK %d %d %d\n" % slices.shape)
sys.stdout.flush()
sys.stdout.buffer.write(slices.astype("<f8").tobytes())
