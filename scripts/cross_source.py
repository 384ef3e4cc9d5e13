#!/usr/bin/python3
"""cross_source.py - does a model transfer to a source it never saw?

A leave-one-source-out cross-validation over train+val (the test split is never read):
for every negative source H (and for none), patient-grouped K folds (ct-split --folds,
the seed's), and every fold k:
  train  = train+val samples of fold != k whose source is not H   (ct-split --assign);
           ct-finetune holds out --val-fraction of those patients for early stopping
  score  = fold k's samples whose source is not H, plus every sample of H (never trained on)
and ct-score reports the AUC of fold k's positives against each negative source. With H
held out, "AUC against H" is transfer to an unseen source (the situation of a model taken
to another hospital); against the other negative source it is the in-source AUC. A model
that learned what the sources look like, not the disease, loses most when H is held out.

    cross_source.py --sources S.tsv --column 3 --folds 5 --seeds "1 2 3" -o OUT \\
        NAME=FEATURES.h5[:TRAIN_FEATURES.h5] ...  [-- ct-finetune options]

FEATURES may be several files joined by '+' (the cut files of a fused fine-tuned model:
NAME=CUT_A.h5+CUT_B.h5 -- --finetune --output-layer LA,LB ...), each split alike.
TRAIN_FEATURES (optional): the same images' features with augmented copies, trained on
(copies follow their image); FEATURES (originals) is scored. A FEATURES file that holds
augmented copies itself (ct-augment --all) is scored with test-time augmentation (ct-score
--tta: each image by the mean over it and its copies, which follow their image into the scored
fold). Writes OUT/runs.tsv (one row
per name, held-out source, seed, fold and negative source), OUT/summary.tsv and
OUT/summary.md. Needs h5py (reads /names, /labels, /splits and the folds) and the ct-* tools
on PATH (or BIN=dir).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

import h5py


def tool(name):
    b = os.environ.get("BIN")
    return os.path.join(b, name) if b else name


def run(cmd, out=None):
    r = subprocess.run(cmd, stdout=subprocess.PIPE if out is None else out, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit("cross_source.py: %s failed (exit %d): %s" % (cmd[0], r.returncode, r.stderr.strip()))
    return r.stdout


def base(name):
    n = name.split("#aug")[0]
    return n.rsplit("/", 1)[-1], n


def read_sources(path, col):
    src = {}
    with open(path) as f:
        for i, line in enumerate(f):
            p = line.rstrip("\n\r").split("\t")
            if i == 0 and p[0] in ("file", "name"):
                continue
            if len(p) < col:
                sys.exit("cross_source.py: '%s' line %d has no column %d" % (path, i + 1, col))
            src[p[0]] = p[col - 1]
    return src


def h5open(path):
    try:
        return h5py.File(path, "r")
    except OSError as e:
        sys.exit("cross_source.py: cannot read '%s': %s" % (path, e.strerror or e))


def samples(path):
    with h5open(path) as f:
        names = [x.decode() for x in f["names"][:]]
        labels = [int(x) for x in f["labels"][:]]
        splits = [x.decode() for x in f["splits"][:]]
        folds = [int(x) for x in f["folds"][:]] if "folds" in f else None
        classes = [x.decode() for x in f["class_names"][:]]
    return names, labels, splits, folds, classes


def sample_names(path):
    with h5open(path) as f:
        return [x.decode() for x in f["names"][:]] if "names" in f else None


def positive_label(classes, want):
    """ct-score's default: the class named like covid (not non-covid), else class 1."""
    if want:
        if want not in classes:
            sys.exit("cross_source.py: no class '%s' (classes: %s)" % (want, ", ".join(classes)))
        return classes.index(want)
    for i, c in enumerate(classes):
        lc = c.lower()
        if ("covid" in lc or "lesion" in lc) and "non" not in lc:
            return i
    return 1


def source_of(src, name):
    b, full = base(name)
    for k in (name, full, b):
        if k in src:
            return src[k]
    sys.exit("cross_source.py: the sources TSV does not name '%s'" % name)


def files_of(spec):
    """FILE or FILE_A+FILE_B...: the files, a path that exists taken whole."""
    return [spec] if os.path.exists(spec) else spec.split("+")


def write_assign(path, names, split_of):
    with open(path, "w") as f:
        f.write("file\tsplit\n")
        for n in names:
            f.write("%s\t%s\n" % (n, split_of(n)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--sources", required=True)
    ap.add_argument("--column", type=int, default=0, help="1-based column of the source (0: last)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seeds", default="1 2 3")
    ap.add_argument("--positive", default="", help="positive class (default: as ct-score)")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("runs", nargs="+", help="NAME=FEATURES.h5[:TRAIN_FEATURES.h5] ... [-- ct-finetune options]")
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    a = ap.parse_args(argv)
    seeds = [int(s) for s in a.seeds.split()]
    os.makedirs(a.out, exist_ok=True)
    tmp = os.path.join(a.out, "tmp")
    os.makedirs(tmp, exist_ok=True)
    col = a.column
    with open(a.sources) as f:
        ncol = len(f.readline().rstrip("\n").split("\t"))
    src = read_sources(a.sources, col if col > 0 else ncol)
    # Resumable: runs already in OUT/runs.tsv under the same arguments are kept, not rerun.
    rows = []
    params = os.path.join(a.out, "params")
    args_text = "\n".join([a.sources, str(col), str(a.folds), a.positive] + extra) + "\n"
    runs_path = os.path.join(a.out, "runs.tsv")
    # (an interrupted run left its finished runs in runs.tsv.tmp; a cut-off last line is dropped)
    old = [x for x in (runs_path + ".tmp", runs_path) if os.path.exists(x)]
    if os.path.exists(params) and open(params).read() == args_text and old:
        with open(old[0]) as f:
            for line in list(f)[1:]:
                p = line.rstrip("\n").split("\t")
                if not line.endswith("\n") or len(p) != 7:
                    continue
                rows.append((p[0], p[1], int(p[2]), int(p[3]), p[4], int(p[5]) if p[5] else None, float(p[6])))
        # a run counts only when all its rows (every negative source and "(all)") are there
        last = {}
        for r in rows:
            last[r[:4]] = last.get(r[:4], False) or r[4] == "(all)"
        rows = [r for r in rows if last[r[:4]]]
    with open(params + ".tmp", "w") as f:
        f.write(args_text)
    os.replace(params + ".tmp", params)
    done_runs = {r[:4] for r in rows}
    runs_file = open(runs_path + ".tmp", "w")
    runs_file.write("name\theld_out\tseed\tfold\tnegatives\tn_negatives\tauc\n")

    def save(r):
        runs_file.write("\t".join("" if x is None else str(x) for x in r) + "\n")
        runs_file.flush()

    for r in rows:
        save(r)
    for spec in a.runs:
        if "=" not in spec:
            sys.exit("cross_source.py: '%s' is not NAME=FEATURES.h5[:TRAIN.h5]" % spec)
        name, files = spec.split("=", 1)
        feat, _, train_feat = files.partition(":")
        train_feat = train_feat or feat
        # several files joined by '+': one per source of a fused fine-tuned model
        # (ct-finetune --finetune CUT_A CUT_B), the same samples in each
        # (a path that exists is one file, '+' and all: the pipeline's experiment folders are
        # named BACKBONE+BACKBONE)
        feats, train_feats = files_of(feat), files_of(train_feat)
        if len(feats) != len(train_feats):
            sys.exit("cross_source.py: '%s': %d scored files but %d trained on" % (spec, len(feats), len(train_feats)))
        feat, train_feat = feats[0], train_feats[0]
        names, labels, splits, _, classes = samples(feat)
        tnames = samples(train_feat)[0]
        for f in feats[1:]:
            if sample_names(f) != names:
                sys.exit("cross_source.py: '%s' and '%s' hold other samples" % (feat, f))
        for f in train_feats[1:]:
            if sample_names(f) != tnames:
                sys.exit("cross_source.py: '%s' and '%s' hold other samples" % (train_feat, f))
        pos = positive_label(classes, a.positive)
        # copies in the scored file (ct-augment --all): averaged into their image, never scored alone
        tta = ["--tta"] if any("#aug" in n for n in names) else []
        s_of = {n: source_of(src, n) for n in names}
        pool = [i for i, sp in enumerate(splits) if sp in ("train", "val")]
        negsrc = sorted({s_of[names[i]] for i in pool if labels[i] >= 0 and labels[i] != pos})
        for seed in seeds:
            fpath = os.path.join(tmp, "folds.h5")
            run([tool("ct-split"), feat, "--folds", str(a.folds), "--keep-splits", "--seed", str(seed), "-o", fpath,
                 "-f", "-q"])
            folds = samples(fpath)[3]
            fold_of = {names[i]: folds[i] for i in pool}
            for held in ["none"] + negsrc:
                for k in range(a.folds):
                    if (name, held, seed, k) in done_runs:
                        continue
                    def train_split(n):
                        b = base(n)[1]
                        if b not in fold_of or fold_of[b] == k or s_of[b] == held:
                            return "none"
                        return "train"

                    def score_split(n):
                        if n not in fold_of:
                            return "none"
                        return "val" if s_of[n] == held or fold_of[n] == k else "none"

                    ta, sa = os.path.join(tmp, "train.tsv"), os.path.join(tmp, "score.tsv")
                    write_assign(ta, tnames, lambda n: train_split(n))
                    write_assign(sa, names, score_split)
                    mh = os.path.join(tmp, "model.h5")
                    th = [os.path.join(tmp, "train%d.h5" % j) for j in range(len(feats))]
                    sh = [os.path.join(tmp, "score%d.h5" % j) for j in range(len(feats))]
                    for j in range(len(feats)):
                        run([tool("ct-split"), train_feats[j], "--assign", ta, "-o", th[j], "-f", "-q"])
                        run([tool("ct-split"), feats[j], "--assign", sa, "-o", sh[j], "-f", "-q"])
                    run([tool("ct-finetune")] + th + ["-o", mh, "--seed", str(seed), "-f", "-q"] + extra)
                    out = run([tool("ct-score"), mh] + sh + tta + ["--split", "val", "--json", "--bootstrap", "0",
                               "--sources", a.sources, "--source-column", str(col), "--positive", classes[pos]])
                    d = json.loads(out)
                    for s in d["by_source"]["sources"]:
                        e = s.get("negatives_vs_all_positives")
                        if not e:
                            continue
                        rows.append((name, held, seed, k, s["source"], s["negatives"], float(e["auc"]["value"])))
                    rows.append((name, held, seed, k, "(all)", None, float(d["metrics"]["auc"]["value"])))
                    done = [r for r in rows if r[:4] == (name, held, seed, k)]
                    for r in done:
                        save(r)
                    print("%s held-out=%s seed=%d fold=%d: %s" % (
                        name, held, seed, k, " ".join("%s %.3f" % (r[4], r[6]) for r in done)), file=sys.stderr, flush=True)
    runs_file.close()
    os.replace(runs_path + ".tmp", runs_path)
    names = [spec.split("=", 1)[0] for spec in a.runs]
    summarise([r for r in rows if r[0] in names and r[2] in seeds], a.out)


def summarise(rows, out):
    """Mean over folds per seed, then mean and sd over seeds."""
    keys = []
    per = {}
    for name, held, seed, k, neg, _, auc in rows:
        key = (name, held, neg)
        if key not in per:
            keys.append(key)
            per[key] = {}
        per[key].setdefault(seed, []).append(auc)
    summ = {}
    with open(os.path.join(out, "summary.tsv"), "w") as f:
        f.write("name\theld_out\tnegatives\tseeds\tauc_mean\tauc_sd_seeds\tauc_sd_folds\n")
        for key in keys:
            means = [statistics.mean(v) for v in per[key].values()]
            sdf = statistics.mean(statistics.pstdev(v) for v in per[key].values())
            m, sd = statistics.mean(means), statistics.stdev(means) if len(means) > 1 else 0.0
            summ[key] = (m, sd)
            f.write("%s\t%s\t%s\t%d\t%.4f\t%.4f\t%.4f\n" % (key + (len(means), m, sd, sdf)))
    names = list(dict.fromkeys(k[0] for k in keys))
    negs = sorted({k[2] for k in keys if k[2] != "(all)"})
    with open(os.path.join(out, "summary.md"), "w") as f:
        hdr = ["name", "in-distribution AUC (nothing held out)"]
        for n in negs:
            hdr += ["vs %s, trained on it" % n, "vs %s, held out" % n]
        hdr += ["mean held-out AUC", "mean drop"]
        f.write("| " + " | ".join(hdr) + " |\n|" + "---|" * len(hdr) + "\n")
        for nm in names:
            def g(h, n):
                return summ.get((nm, h, n))
            cells = [nm, "%.3f +- %.3f" % g("none", "(all)") if g("none", "(all)") else ""]
            held, drops = [], []
            for n in negs:
                a, b = g("none", n), g(n, n)
                cells += ["%.3f +- %.3f" % a if a else "", "%.3f +- %.3f" % b if b else ""]
                if a and b:
                    held.append(b[0])
                    drops.append(a[0] - b[0])
            cells += ["%.3f" % statistics.mean(held) if held else "", "%.3f" % statistics.mean(drops) if drops else ""]
            f.write("| " + " | ".join(cells) + " |\n")
    sys.stdout.write(open(os.path.join(out, "summary.md")).read())


if __name__ == "__main__":
    main()
