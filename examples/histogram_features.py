#!/usr/bin/env python3
"""histogram_features.py - the same extractor as histogram_features.c, in Python with h5py.

Reads an images file and writes a features file (docs/formats.md) that ct-fuse, ct-finetune
and ct-score accept:  python3 histogram_features.py images.h5 hist.h5
Needs numpy and h5py (Debian: apt-get install python3-h5py).
"""
import sys

import h5py
import numpy as np

BINS = 32


def main(src, dst):
    with h5py.File(src, "r") as fin, h5py.File(dst, "w-") as fout:
        images = fin["images"]
        scale = 1 / 255 if images.dtype == np.uint8 else 1.0
        feats = np.zeros((images.shape[0], BINS + 2), np.float32)
        for i in range(images.shape[0]):  # one image at a time: any data set size
            v = images[i].astype(np.float64).ravel() * scale
            hist, _ = np.histogram(np.clip(v, 0, 1), bins=BINS, range=(0, 1))
            feats[i, :BINS] = hist / v.size
            feats[i, BINS] = v.mean()
            feats[i, BINS + 1] = v.std()
        fout.attrs["schema_version"] = np.int64(1)
        for key, val in (("kind", "features"), ("tool", "histogram_features.py"),
                         ("tool_version", "example"), ("command", " ".join(sys.argv)),
                         ("params", '{"bins": 32}')):
            fout.attrs[key] = val
        for name in ("class_names", "labels", "names", "groups", "splits", "provenance"):
            fin.copy(fin[name], fout, name)  # sample metadata carried over unchanged
        fout["features"] = feats
        blocks = fout.create_group("blocks")
        strs = h5py.string_dtype()
        for key, val in (("name", "user/histogram/none"), ("backbone", "user"),
                         ("layer", "histogram"), ("pool", "none"), ("weights_sha256", "")):
            blocks.create_dataset(key, data=[val], dtype=strs)
        blocks["start"] = np.array([0], np.int64)
        blocks["width"] = np.array([BINS + 2], np.int64)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: histogram_features.py IMAGES.h5 OUT.h5")
    main(sys.argv[1], sys.argv[2])
