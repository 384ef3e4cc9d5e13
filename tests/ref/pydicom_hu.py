#!/usr/bin/python3
"""pydicom_hu.py - the reference decode for tests/unit/test_dicom.c: pydicom's pixel_array with
its modality LUT (Rescale Slope/Intercept) applied, as float64.

Usage: pydicom_hu.py --dir            the folder of pydicom's bundled test files
       pydicom_hu.py FILE             "OK frames rows cols samples photometric" + raw <f8 values
Prints "SKIP reason" (exit 0) where pydicom or a decoder it needs is missing."""
import os
import warnings
warnings.simplefilter("ignore")
import sys

try:
    import numpy as np
    import pydicom
    import pydicom.data
    from pydicom.pixel_data_handlers.util import apply_modality_lut
except ImportError as e:
    print("SKIP python3-pydicom or python3-numpy missing (%s)" % e)
    sys.exit(0)

if sys.argv[1] == "--dir":
    print(os.path.dirname(pydicom.data.get_testdata_file("CT_small.dcm")))
    sys.exit(0)

ds = pydicom.dcmread(sys.argv[1], force=True)
try:
    arr = ds.pixel_array
except Exception as e:  # no handler for this transfer syntax here (Pillow, GDCM, pylibjpeg...)
    print("SKIP pydicom cannot decode it here: %s" % str(e).splitlines()[0][:120])
    sys.exit(0)
hu = apply_modality_lut(arr, ds).astype(np.float64)
frames = int(ds.get("NumberOfFrames", 1) or 1)
spp = int(ds.SamplesPerPixel)
hu = hu.reshape(frames, int(ds.Rows), int(ds.Columns), spp)
sys.stdout.write("OK %d %d %d %d %s\n" % (frames, ds.Rows, ds.Columns, spp, ds.PhotometricInterpretation))
sys.stdout.flush()
sys.stdout.buffer.write(hu.astype("<f8").tobytes())
