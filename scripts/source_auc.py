#!/usr/bin/python3
"""source_auc.py - AUC of COVID-CT scores overall and per non-COVID source, per split.

    /usr/bin/python3 scripts/source_auc.py SOURCES_TSV NAME=OUT/EXP/scores.tsv ...

SOURCES_TSV is the data set's sources.tsv (file, class, source_kind, source). Each scores.tsv
(ct-score --tsv: name, split, label, probability of the positive class, predicted) is joined
with it by file name. Prints a Markdown table: for val and test, the AUC of COVID against all
non-COVID slices, against the `crawled-paper-figure` ones (the style-matched pair) and against
the `medpix` ones. AUC from scikit-learn's roc_auc_score.
"""
import csv
import os
import sys

from sklearn.metrics import roc_auc_score


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: source_auc.py SOURCES_TSV NAME=scores.tsv ...")
    kind = {}
    with open(sys.argv[1], newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            kind[row["file"]] = row["source_kind"]
    cols = [(s, k) for s in ("val", "test") for k in ("all", "crawled-paper-figure", "medpix")]
    print("| run | " + " | ".join(f"{s} {k if k != 'all' else 'overall'}" for s, k in cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for arg in sys.argv[2:]:
        name, path = arg.split("=", 1)
        rows = []
        with open(path, newline="") as f:
            for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                if row["split"] not in ("val", "test"):
                    continue  # train rows, augmented copies among them
                base = os.path.basename(row["name"])
                if base not in kind:
                    sys.exit(f"source_auc.py: '{base}' is not in {sys.argv[1]}")
                rows.append((row["split"], kind[base], row["label"] == "CT_COVID", float(row["probability"])))
        cells = []
        for s, k in cols:
            sel = [(y, p) for sp, kd, y, p in rows if sp == s and (y or k == "all" or kd == k)]
            ys = [y for y, _ in sel]
            if len(set(ys)) < 2:
                cells.append("-")
                continue
            cells.append(f"{roc_auc_score(ys, [p for _, p in sel]):.3f} (n={len(sel)})")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
