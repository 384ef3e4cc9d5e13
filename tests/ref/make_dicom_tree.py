#!/usr/bin/python3
"""make_dicom_tree.py - a small folder of DICOM series for tests/cli/test_dicom.sh, written with
pydicom from its CT_small.dcm: ROOT/<class>/<patient folder>/<series>/<files>.

Patient A (covid): one series of 4 slices whose file names run against their positions and
whose InstanceNumbers are scrambled; slice k (by position) has every pixel at -1000 + 300 k HU.
Patient B (covid): two series of 3 slices (the second without preamble and meta header).
Patient C (normal): one series of 2 slices and an RT plan (no pixel data) beside them.
Folder names of patient A carry its PatientID (so that only --anonymise hides it).
Prints the identifying values written (one per line) to ROOT/identities.txt."""
import copy
import os
import sys

import numpy as np
import pydicom
import pydicom.data
from pydicom.uid import generate_uid

root = sys.argv[1]
base = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
plan = pydicom.data.get_testdata_file("rtplan.dcm")
people = {
    "A": dict(PatientName="Doe^Jane", PatientID="PAT-A-4711", PatientBirthDate="19700101",
              InstitutionName="St Example Hospital", AccessionNumber="ACC998877",
              ReferringPhysicianName="House^Gregory"),
    "B": dict(PatientName="Roe^Richard", PatientID="PAT-B-0815", PatientBirthDate="19651231",
              InstitutionName="Northfield Clinic", AccessionNumber="ACC112233",
              ReferringPhysicianName="Quinn^Michaela"),
    "C": dict(PatientName="Poe^Edgar", PatientID="PAT-C-1849", PatientBirthDate="18090119",
              InstitutionName="Baltimore General", AccessionNumber="ACC181818",
              ReferringPhysicianName="Usher^Roderick"),
}
ids = set()


def write(path, who, study, series, z, instance, hu, meta=True):
    ds = copy.deepcopy(base)
    for k, v in people[who].items():
        setattr(ds, k, v)
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.ImagePositionPatient = [-158.0, -179.0, float(z)]
    ds.InstanceNumber = instance
    arr = np.full((ds.Rows, ds.Columns), int(hu) + 1024, dtype=np.int16)
    ds.PixelData = arr.tobytes()
    for k in ("PatientName", "PatientID", "PatientBirthDate", "InstitutionName", "AccessionNumber",
              "ReferringPhysicianName", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        ids.add(str(getattr(ds, k)))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if meta:
        ds.save_as(path)
    else:  # a bare data set: no preamble, no meta header
        ds.preamble = None
        del ds.file_meta
        pydicom.dcmwrite(path, ds, write_like_original=True)


study = generate_uid()
series = generate_uid()
for k in range(4):  # names IM4..IM1 run against z = 0, 5, 10, 15; instances scrambled
    write(f"{root}/covid/PAT-A-4711/series1/IM{4 - k}", "A", study, series, 5 * k, [3, 1, 4, 2][k], -1000 + 300 * k)
study = generate_uid()
for s in range(2):
    series = generate_uid()
    for k in range(3):
        write(f"{root}/covid/patient_b/s{s}/slice{k:02d}.dcm", "B", study, series, 2.5 * k, k + 1, -800 + 100 * k,
              meta=(s == 0))
study = generate_uid()
series = generate_uid()
for k in range(2):
    write(f"{root}/normal/patient_c/x{k}", "C", study, series, 3.0 * k, k + 1, -700)
rp = pydicom.dcmread(plan)
rp.save_as(f"{root}/normal/patient_c/plan.dcm")
for k in ("PatientName", "PatientID", "PatientBirthDate"):
    if str(rp.get(k, "")):
        ids.add(str(rp.get(k)))
for v in people.values():
    ids.update(p for p in v["PatientName"].split("^"))
with open(f"{root}/../identities.txt", "w") as f:
    for v in sorted(ids):
        if len(v) >= 4:
            f.write(v + "\n")
