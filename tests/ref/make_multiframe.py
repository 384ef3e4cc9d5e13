#!/usr/bin/python3
"""make_multiframe.py - an Enhanced-CT-like multi-frame file for tests/cli/test_dicom.sh: three
frames stored at z = 10, 0, 5 mm (per-frame Plane Position), each with its own Pixel Value
Transformation; every pixel of frame f is stored as V[f]. Usage: make_multiframe.py FILE"""
import copy
import sys

import numpy as np
import pydicom
import pydicom.data
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

V, SLOPE, INTER, Z = [1000, 500, 1200], [1, 2, 1], [-1024, -2048, -1000], [10.0, 0.0, 5.0]
ds = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
ds.NumberOfFrames = 3
frames = np.stack([np.full((ds.Rows, ds.Columns), v, dtype=np.int16) for v in V])
ds.PixelData = frames.tobytes()
del ds.ImagePositionPatient
shared = Dataset()
po = Dataset()
po.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
shared.PlaneOrientationSequence = Sequence([po])
ds.SharedFunctionalGroupsSequence = Sequence([shared])
per = []
for f in range(3):
    item = Dataset()
    pp = Dataset()
    pp.ImagePositionPatient = [0.0, 0.0, Z[f]]
    item.PlanePositionSequence = Sequence([pp])
    pv = Dataset()
    pv.RescaleSlope, pv.RescaleIntercept, pv.RescaleType = SLOPE[f], INTER[f], "HU"
    item.PixelValueTransformationSequence = Sequence([pv])
    per.append(item)
ds.PerFrameFunctionalGroupsSequence = Sequence(per)
ds.save_as(sys.argv[1])
