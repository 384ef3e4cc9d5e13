#!/bin/sh
# make_seeds.sh - regenerate the seed corpora tests/fuzz/corpus/<harness>/ (small valid inputs,
# a few KB each) with the tools (bin/, make all) and /usr/bin/python3 (PIL, nibabel, pydicom,
# h5py, numpy). The seeds are committed; rerun after a format change.
# Usage: tests/fuzz/make_seeds.sh
set -e
top=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-bin}
case "$BIN" in /*) ;; *) BIN=$top/$BIN ;; esac
PATH="$BIN:$PATH"
C=$top/tests/fuzz/corpus
W=$(mktemp -d "${TMPDIR:-/tmp}/ctfuse-seeds-XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"
for h in image nifti dicom tfjs h5_images h5_features h5_activations h5_model h5_any h5_weights; do
	rm -rf "${C:?}/fuzz_$h"
	mkdir -p "$C/fuzz_$h"
done

# Images (PNG 8/16-bit, float TIFF) and the HDF5 files of a small pipeline. Relative paths:
# the same command lines, so the same bytes, on every run.
ct-phantom -o ph --patients 6 --slices-per-patient 1 --size 16 --seed 3 --split-dir split >/dev/null
ct-phantom -o ph16 --patients 2 --slices-per-patient 1 --size 12 --seed 3 --format png16 >/dev/null
ct-phantom -o pht --patients 2 --slices-per-patient 1 --size 8 --seed 3 --format tiff >/dev/null
cp "$(ls ph/normal/*.png | head -n 1)" "$C/fuzz_image/phantom8.png"
cp "$(ls ph16/normal/*.png | head -n 1)" "$C/fuzz_image/phantom16.png"
cp "$(ls pht/normal/*.tif* | head -n 1)" "$C/fuzz_image/phantom_f32.tiff"
ct-convert ph --size 8 --split split -o img.h5 -q
ct-weights synth --backbone mobilenet_v2 -o w.h5 -q
ct-features --backbone mobilenet_v2 --weights w.h5 --layer block_1_project_BN --resize img.h5 -o feat.h5 -q
ct-finetune feat.h5 --head logreg --epochs 2 --val-fraction 0 -o model.h5 -q
ct-finetune feat.h5 --head mlp --hidden 3 --epochs 2 --val-fraction 0 -o mlp.h5 -q
ct-score model.h5 feat.h5 --bootstrap 0 -o scores.h5 >/dev/null
cp img.h5 "$C/fuzz_h5_images/images.h5"
cp feat.h5 "$C/fuzz_h5_features/features.h5"
cp model.h5 "$C/fuzz_h5_model/logreg.h5"
cp mlp.h5 "$C/fuzz_h5_model/mlp.h5"
cp scores.h5 "$C/fuzz_h5_any/scores.h5"
cp img.h5 "$C/fuzz_h5_any/images.h5"

/usr/bin/python3 - "$C" <<'PY'
import io, json, struct, sys
import numpy as np
import h5py, nibabel, pydicom
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
C = sys.argv[1]
rng = np.random.default_rng(1)
g8 = rng.integers(0, 256, (8, 8), dtype=np.uint8)
# more PNG kinds, JPEG (grey, RGB), multi-page 8-bit TIFF, 16-bit TIFF
Image.fromarray(g8).convert("P").save(f"{C}/fuzz_image/palette.png")
Image.fromarray(np.dstack([g8, g8])).convert("LA").save(f"{C}/fuzz_image/grey_alpha.png")
Image.fromarray(np.dstack([g8, g8[::-1], g8.T])).save(f"{C}/fuzz_image/rgb.jpg", quality=80)
Image.fromarray(g8).save(f"{C}/fuzz_image/grey.jpg", quality=80)
Image.fromarray(g8).save(f"{C}/fuzz_image/pages.tiff", save_all=True,
                         append_images=[Image.fromarray(g8.T)], compression="tiff_deflate")
Image.fromarray(g8.astype(np.uint16) * 257).save(f"{C}/fuzz_image/grey16.tiff")
# NIfTI-1 (plain and gzip) and NIfTI-2 volumes, 8x8x3 int16 HU with a scale
vol = (rng.integers(-1000, 400, (8, 8, 3))).astype(np.int16)
img = nibabel.Nifti1Image(vol, np.diag([0.7, 0.7, 2.5, 1]))
img.header.set_slope_inter(1.0, -24.0)
nibabel.save(img, f"{C}/fuzz_nifti/vol.nii")
nibabel.save(img, f"{C}/fuzz_nifti/vol.nii.gz")
nibabel.save(nibabel.Nifti2Image(vol.astype(np.float32), np.eye(4)), f"{C}/fuzz_nifti/vol2.nii")
# DICOM: one 8x8 MONOCHROME2 CT slice, explicit VR little endian
meta = FileMetaDataset()
meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["ctfuse-fuzz"])
meta.TransferSyntaxUID = ExplicitVRLittleEndian
ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
ds.SOPClassUID = meta.MediaStorageSOPClassUID
ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
ds.Modality = "CT"
ds.PatientID = "fuzz"
ds.StudyInstanceUID = generate_uid(entropy_srcs=["study"])
ds.SeriesInstanceUID = generate_uid(entropy_srcs=["series"])
ds.InstanceNumber = 1
ds.ImagePositionPatient = [0, 0, 0]
ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
ds.Rows = ds.Columns = 8
ds.SamplesPerPixel = 1
ds.PhotometricInterpretation = "MONOCHROME2"
ds.BitsAllocated = ds.BitsStored = 16
ds.HighBit = 15
ds.PixelRepresentation = 1
ds.RescaleSlope = 1
ds.RescaleIntercept = -1024
ds.PixelData = (vol[:, :, 0] + 1024).astype(np.int16).tobytes()
ds.save_as(f"{C}/fuzz_dicom/ct.dcm", write_like_original=False)
# TF.js: model.json text, a NUL, then the one shard s.bin (float32, uint8, uint16, float16)
topo = {"class_name": "Model", "config": {"name": "m", "layers": [
    {"name": "input_1", "class_name": "InputLayer", "config": {"batch_input_shape": [None, 4, 4, 3]}},
    {"name": "conv", "class_name": "Conv2D", "config": {"name": "conv"}},
    {"name": "bn", "class_name": "BatchNormalization", "config": {"name": "bn"}},
    {"name": "sub", "class_name": "Sequential", "config": {"name": "sub", "layers": [
        {"class_name": "Dense", "config": {"name": "dense_9"}}]}}]}}
ws = [{"name": "bn/beta", "shape": [3], "dtype": "float32",
       "quantization": {"dtype": "uint8", "scale": 0.01, "min": -1.5}},
      {"name": "bn/gamma", "shape": [3], "dtype": "float32"},
      {"name": "bn/moving_mean", "shape": [3], "dtype": "float32",
       "quantization": {"dtype": "uint16", "scale": 0.001, "min": 0.25}},
      {"name": "bn/moving_variance", "shape": [3], "dtype": "float32", "quantization": {"dtype": "float16"}},
      {"name": "conv/bias", "shape": [2], "dtype": "float32"},
      {"name": "conv/kernel", "shape": [1, 1, 3, 2], "dtype": "float32"},
      {"name": "dense_9/kernel", "shape": [2, 2], "dtype": "float32"},
      {"name": "dense_9/bias", "shape": [2], "dtype": "float32"}]
shard = bytes([0, 150, 255]) + struct.pack("<3f", 1.5, -0.25, 3) + struct.pack("<3H", 0, 1000, 65535) \
    + struct.pack("<3H", 0x3c00, 1, 0xfc00) + struct.pack("<2f", 0.125, -7) + struct.pack("<6f", *range(6)) \
    + struct.pack("<6f", -1, 0.5, 1e-20, 1e20, 1, 2)
for name, top in (("model_config", {"modelTopology": {"model_config": topo}}), ("plain", {"modelTopology": topo})):
    doc = dict(top, weightsManifest=[{"paths": ["s.bin"], "weights": ws}])
    with open(f"{C}/fuzz_tfjs/{name}.json", "wb") as f:
        f.write(json.dumps(doc).encode() + b"\0" + shard)
# Keras weight files: layer_names on the root (ct-weights' layout) and under /model_weights
# (model.save), float32 and float16 datasets
def keras(path, under, dt):
    with h5py.File(path, "w", libver="earliest") as f:
        g = f.create_group("model_weights") if under else f
        g.attrs["layer_names"] = np.array([b"conv1", b"bn1", b"relu"])
        c = g.create_group("conv1")
        c.attrs["weight_names"] = np.array([b"conv1/kernel:0", b"conv1/bias:0"])
        c.create_dataset("conv1/kernel:0", data=rng.standard_normal((1, 1, 3, 2)).astype(dt))
        c.create_dataset("conv1/bias:0", data=np.zeros(2, dt))
        b = g.create_group("bn1")
        b.attrs["weight_names"] = np.array([b"bn1/gamma:0", b"bn1/beta:0", b"bn1/moving_mean:0",
                                            b"bn1/moving_variance:0"])
        for k in ("gamma", "beta", "moving_mean", "moving_variance"):
            b.create_dataset(f"bn1/{k}:0", data=np.ones(2, dt))
        r = g.create_group("relu")
        r.attrs["weight_names"] = np.array([], dtype="S1")
keras(f"{C}/fuzz_h5_weights/root_f32.h5", False, np.float32)
keras(f"{C}/fuzz_h5_weights/model_weights_f16.h5", True, np.float16)
PY

# Cut activations: the features file with a tiny /activations added (float32 and float16), as
# ct-features --cut writes it (its real maps are too large for a seed).
for dt in float32 float16; do
	cp feat.h5 "act_$dt.h5"
	/usr/bin/python3 - "act_$dt.h5" "$dt" <<'PY'
import sys
import numpy as np, h5py
path, dt = sys.argv[1], sys.argv[2]
with h5py.File(path, "r+") as f:
    n = f["features"].shape[0]
    a = np.linspace(-2, 2, n * 2 * 2 * 3).reshape(n, 2, 2, 3).astype(dt)
    f.create_dataset("activations", data=a, chunks=(1, 2, 2, 3), shuffle=True, compression="gzip")
    f.attrs["cut_layer"] = "block_1_project_BN"
    f.attrs["cut_dtype"] = dt
PY
	cp "act_$dt.h5" "$C/fuzz_h5_activations/features_$dt.h5"
done
cp feat.h5 "$C/fuzz_h5_any/features.h5"
cp model.h5 "$C/fuzz_h5_any/model.h5"
ls -l "$C"/*/ | awk '$5 > 65536 { print "make_seeds: " $9 " is over 64 KiB (make fuzz -max_len)"; bad = 1 } END { exit bad }'
du -sh "$C"
