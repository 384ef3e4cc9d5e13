#!/usr/bin/python3
"""curves_plot.py - summarise the learning curves of scripts/curves.sh and draw them.

Usage: curves_plot.py CURVES.tsv SUMMARY.tsv PLOT.svg > TABLE.md

SUMMARY.tsv: per arm and fraction, the number of seeds and the mean and sample sd (n - 1) of
every metric; PLOT.svg: test AUC, style-matched test AUC and val AUC against the share of the
training patients (log axis), mean +- sd over seeds, one line per arm (colour: backbone;
dashed: without augmentation); the markdown table goes to stdout. Standard library only.
"""
import math
import sys
from collections import OrderedDict

METRICS = ["train_groups", "train_rows", "val_auc", "val_style_auc", "test_acc", "test_auc", "test_style_auc"]


def read(path):
    with open(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        rows = [dict(zip(head, line.rstrip("\n").split("\t"))) for line in f if line.strip()]
    return rows


def mean_sd(v):
    v = [x for x in v if x is not None]
    if not v:
        return None, None
    m = sum(v) / len(v)
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else float("nan")
    return m, sd


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


def summarise(rows):
    groups = OrderedDict()
    for r in rows:
        groups.setdefault((r["arm"], float(r["fraction"])), []).append(r)
    out = []
    for (arm, fr), rs in sorted(groups.items(), key=lambda kv: (arm_order(kv[0][0]), kv[0][1])):
        s = {"arm": arm, "fraction": fr, "seeds": len(rs)}
        for m in METRICS:
            s[m] = mean_sd([num(r[m]) for r in rs])
        out.append(s)
    return out


ORDER = ["inception_v3", "mobilenet_v2", "fused", "fused-ft"]


def arm_order(arm):
    base = arm.replace("-noaug", "")
    return (ORDER.index(base) if base in ORDER else len(ORDER), base, arm.endswith("-noaug"))


COLOURS = {"inception_v3": "#1f77b4", "mobilenet_v2": "#ff7f0e", "fused": "#2ca02c", "fused-ft": "#9467bd"}


def svg(summary, path):
    panels = [("test_auc", "test AUC"), ("test_style_auc", "style-matched test AUC"), ("val_auc", "val AUC")]
    W, H, L, R, T, B = 330, 300, 48, 10, 28, 42
    arms = sorted({s["arm"] for s in summary}, key=arm_order)
    fracs = sorted({s["fraction"] for s in summary})
    lo = 0.2
    hi = 1.0
    X = lambda f, p: p * W + L + (math.log(f) - math.log(fracs[0])) / (math.log(fracs[-1]) - math.log(fracs[0]) or 1) * (W - L - R)
    Y = lambda v: T + (hi - v) / (hi - lo) * (H - T - B)
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">'
         % (W * len(panels), H + 60 + (32 if any(a.replace("-noaug", "") in ORDER[len(panels):] for a in arms) else 0)),
         '<rect width="100%" height="100%" fill="white"/>']
    for p, (key, title) in enumerate(panels):
        o.append('<text x="%.1f" y="16" text-anchor="middle" font-size="12">%s</text>' % (p * W + (W + L - R) / 2, title))
        for k in range(9):
            v = lo + k * 0.1
            o.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (p * W + L, p * W + W - R, Y(v), Y(v)))
            o.append('<text x="%d" y="%.1f" text-anchor="end">%.1f</text>' % (p * W + L - 4, Y(v) + 4, v))
        o.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="2,2"/>'
                 % (p * W + L, p * W + W - R, Y(0.5), Y(0.5)))
        for f in fracs:
            o.append('<text x="%.1f" y="%d" text-anchor="middle">%g%%</text>' % (X(f, p), H - B + 14, f * 100))
        o.append('<text x="%.1f" y="%d" text-anchor="middle">training patients (log scale)</text>'
                 % (p * W + (W + L - R) / 2, H - B + 30))
        for arm in arms:
            pts = [(s["fraction"], s[key]) for s in summary if s["arm"] == arm and s[key][0] is not None]
            if not pts:
                continue
            base = arm.replace("-noaug", "")
            c = COLOURS.get(base, "#666")
            dash = ' stroke-dasharray="5,3"' if arm.endswith("-noaug") else ""
            off = (arms.index(arm) - (len(arms) - 1) / 2) * 2.0  # spread the error bars apart
            o.append('<polyline fill="none" stroke="%s" stroke-width="1.6"%s points="%s"/>'
                     % (c, dash, " ".join("%.1f,%.1f" % (X(f, p) + off, Y(m)) for f, (m, _) in pts)))
            for f, (m, sd) in pts:
                if sd == sd:  # not NaN
                    o.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s"/>'
                             % (X(f, p) + off, X(f, p) + off, Y(max(lo, m - sd)), Y(min(hi, m + sd)), c))
                o.append('<circle cx="%.1f" cy="%.1f" r="2.2" fill="%s"/>' % (X(f, p) + off, Y(m), c))
    # legend: one column per backbone, augmented on the first row, without on the second; the
    # fine-tuned arm under the fused one (rows 3-4)
    for arm in arms:
        base = arm.replace("-noaug", "")
        col = ORDER.index(base) if base in ORDER else len(ORDER)
        noaug = arm.endswith("-noaug")
        row = (1 if noaug else 0) + 2 * (col // len(panels))
        col %= len(panels)
        x, y = 10 + col * W, H + 22 + row * 16
        c = COLOURS.get(base, "#666")
        dash = ' stroke-dasharray="5,3"' if noaug else ""
        name = "fused (both), fine-tuned" if base == "fused-ft" else base.replace("fused", "fused (both)")
        label = name + (", no augmentation" if noaug else ", augmented")
        o.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="1.6"%s/>' % (x, x + 22, y, y, c, dash))
        o.append('<text x="%d" y="%d">%s</text>' % (x + 26, y + 4, label))
    o.append("</svg>")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(o) + "\n")
    import os
    os.replace(path + ".tmp", path)


def fmt(ms, d=3):
    m, sd = ms
    if m is None:
        return "-"
    return ("%.*f +- %.*f" % (d, m, d, sd)) if sd == sd else "%.*f" % (d, m)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: curves_plot.py CURVES.tsv SUMMARY.tsv PLOT.svg > TABLE.md")
    rows = read(sys.argv[1])
    summary = summarise(rows)
    with open(sys.argv[2] + ".tmp", "w") as f:
        cols = ["arm", "fraction", "seeds"]
        f.write("\t".join(cols + ["%s_%s" % (m, s) for m in METRICS for s in ("mean", "sd")]) + "\n")
        for s in summary:
            vals = [s["arm"], "%g" % s["fraction"], str(s["seeds"])]
            for m in METRICS:
                vals += ["%.4f" % x if x is not None and x == x else "-" for x in s[m]]
            f.write("\t".join(vals) + "\n")
    import os
    os.replace(sys.argv[2] + ".tmp", sys.argv[2])
    svg(summary, sys.argv[3])
    print("| arm | train patients | train rows | seeds | val AUC | test accuracy | test AUC | style-matched test AUC |")
    print("|---|---|---|---|---|---|---|---|")
    for s in summary:
        print("| %s | %g%% (%.0f) | %.0f | %d | %s | %s | %s | %s |" % (
            s["arm"], s["fraction"] * 100, s["train_groups"][0], s["train_rows"][0], s["seeds"], fmt(s["val_auc"]),
            fmt(s["test_acc"]), fmt(s["test_auc"]), fmt(s["test_style_auc"])))
    paired(rows)


def paired(rows):
    """Paired differences over the seeds both arms ran (same patients, same seed)."""
    by = {}
    for r in rows:
        by[(r["arm"], float(r["fraction"]), r["seed"])] = r
    arms = {r["arm"] for r in rows}
    pairs = []
    for a in sorted(arms, key=arm_order):
        if not a.endswith("-noaug") and a + "-noaug" in arms:
            pairs.append((a, a + "-noaug", "augmentation (%s)" % a))
    for suf in ("", "-noaug"):
        for single in ("inception_v3", "mobilenet_v2"):
            if "fused" + suf in arms and single + suf in arms:
                pairs.append(("fused" + suf, single + suf, "fusion vs %s%s" % (single, ", no augmentation" if suf else ", augmented")))
    for suf in ("", "-noaug"):
        if "fused-ft" + suf in arms and "fused" + suf in arms:
            pairs.append(("fused-ft" + suf, "fused" + suf, "fine-tuned vs head-only (fused%s)" % (", no augmentation" if suf else "")))
    if not pairs:
        return
    fracs = sorted({float(r["fraction"]) for r in rows})
    print()
    print("Paired differences, test AUC / style-matched test AUC (mean +- sd over the seeds both ran):")
    print()
    print("| difference | " + " | ".join("%g%%" % (f * 100) for f in fracs) + " |")
    print("|---|" + "---|" * len(fracs))
    for a, b, label in pairs:
        cells = []
        for f in fracs:
            seeds = sorted({k[2] for k in by if k[0] == a and k[1] == f} & {k[2] for k in by if k[0] == b and k[1] == f})
            d1 = [num(by[(a, f, x)]["test_auc"]) - num(by[(b, f, x)]["test_auc"]) for x in seeds]
            d2 = [num(by[(a, f, x)]["test_style_auc"]) - num(by[(b, f, x)]["test_style_auc"]) for x in seeds
                  if num(by[(a, f, x)]["test_style_auc"]) is not None and num(by[(b, f, x)]["test_style_auc"]) is not None]
            m1, s1 = mean_sd(d1)
            m2, s2 = mean_sd(d2)
            cells.append("-" if m1 is None else "%+.3f +- %.3f / %s (%d)" % (m1, s1, "-" if m2 is None else "%+.3f" % m2, len(seeds)))
        print("| %s | %s |" % (label, " | ".join(cells)))


if __name__ == "__main__":
    main()
