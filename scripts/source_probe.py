#!/usr/bin/python3
"""source_probe.py - how well a features file tells COVID-CT's two non-COVID sources apart
(docs/results.md, Generalisation: the "source probe"): the non-COVID rows of crawled paper
figures and of MedPix, a standardised L2 logistic regression (scikit-learn, C = 0.01) in
patient-grouped 5-fold cross-validation, and the AUC of its out-of-fold probabilities.
0.5: the features carry no trace of the source.

Usage: /usr/bin/python3 scripts/source_probe.py SOURCES.tsv FEATURES.h5...
SOURCES.tsv: file, class, source_kind, ... (COVID-CT's sources.tsv), rows matched by name."""
import sys

import h5py
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def text(x):
    return x.decode() if isinstance(x, bytes) else x


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    kind = {}
    for line in open(argv[1], encoding="utf-8"):
        f = line.rstrip("\n").split("\t")
        if len(f) >= 3:
            kind[f[0]] = f[2]
    for path in argv[2:]:
        with h5py.File(path, "r") as f:
            x = f["features"][()]
            names = [text(n) for n in f["names"][()]]
            groups = np.array([text(g) for g in f["groups"][()]])
        src = [kind.get(n, kind.get(n.rsplit("/", 1)[-1], "")) for n in names]
        keep = np.array([s in ("crawled-paper-figure", "medpix") for s in src])
        y = np.array([s == "medpix" for s in src])[keep]
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=5000))
        p = cross_val_predict(clf, x[keep], y, groups=groups[keep], cv=GroupKFold(5), method="predict_proba")[:, 1]
        print("%s\t%d rows\tsource probe AUC %.3f" % (path, keep.sum(), roc_auc_score(y, p)))


if __name__ == "__main__":
    main(sys.argv)
