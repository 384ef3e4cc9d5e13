#!/usr/bin/python3
"""phantom_to_dicom.py - ct-phantom's png16 slices (HU + 1024) as DICOM CT series, for the
example pipeline test: SRC/<class>/<patient>_<k>.png -> DST/<class>/<patient>/IM<k> with one
series per patient, PatientID from patients.tsv, RescaleIntercept -1024, positions by k.
Usage: phantom_to_dicom.py SRC DST"""
import copy
import csv
import os
import sys

import numpy as np
import pydicom
import pydicom.data
from pydicom.uid import generate_uid


def read_png16(path):
    from PIL import Image
    return np.array(Image.open(path)).astype(np.int32)


src, dst = sys.argv[1], sys.argv[2]
groups = {}
with open(os.path.join(src, "patients.tsv")) as f:
    for row in csv.reader(f, delimiter="\t"):
        if row and row[0] != "file":
            groups[row[0]] = row[-1]
base = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
series = {}
for cls in sorted(os.listdir(src)):
    d = os.path.join(src, cls)
    if not os.path.isdir(d) or cls in ("split",):
        continue
    for k, name in enumerate(sorted(os.listdir(d))):
        if not name.endswith(".png"):
            continue
        pid = groups.get(name, "unknown")
        study, ser = series.setdefault(pid, (generate_uid(), generate_uid()))
        hu = read_png16(os.path.join(d, name)).astype(np.int32) - 1024
        ds = copy.deepcopy(base)
        ds.PatientID = pid
        ds.PatientName = "Phantom^" + pid
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, ser
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.Rows, ds.Columns = hu.shape
        ds.ImagePositionPatient = [0.0, 0.0, float(5 * k)]
        ds.InstanceNumber = k + 1
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.PixelData = (hu + 1024).astype(np.int16).tobytes()
        out = os.path.join(dst, cls, pid)
        os.makedirs(out, exist_ok=True)
        ds.save_as(os.path.join(out, "IM%d" % k))
