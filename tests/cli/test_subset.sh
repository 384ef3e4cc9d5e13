#!/bin/sh
# test_subset.sh - ct-split --train-fraction on phantom data (learning curves): whole patients,
# per-class shares, nested subsets for one seed, the same patients in the plain and the
# augmented file, val/test unchanged, byte-identical reruns, ct-finetune training on the
# subset only; usage errors (2).
. "$(dirname "$0")/lib.sh"
d=$T_DIR
PY=/usr/bin/python3
ok "makes a phantom set (40 patients x 3 slices), converted with split lists, and 2 augmented copies" sh -c '
	ct-phantom -o "$1/ph" --patients 40 --slices-per-patient 3 --size 48 --seed 5 --split-dir "$1/lists" &&
	ct-convert "$1/ph" -o "$1/im.h5" --size 48 --split "$1/lists" --groups "$1/ph/patients.tsv" -q &&
	ct-augment "$1/im.h5" -o "$1/aug.h5" --copies 2 --rotate 10 --seed 1 -q' sh "$d"
for f in 0.05 0.1 0.25 0.5 1; do
	for s in 1 2; do
		ct-split "$d/im.h5" -o "$d/im-$f-$s.h5" --train-fraction $f --seed $s -q 2>"$d/err.$f.$s" &&
		ct-split "$d/aug.h5" -o "$d/aug-$f-$s.h5" --train-fraction $f --seed $s -q 2>>"$d/err.$f.$s" ||
		echo "$f $s" >>"$d/failed"
	done
done
ok "--train-fraction 0.05 .. 1 with seeds 1 and 2 on both files" test ! -e "$d/failed"
status 0 "the summary names the groups kept" ct-split "$d/im.h5" -o "$d/s.h5" --train-fraction 0.25 --seed 1
err_has "of 24 train groups kept" "... '(N of 24 train groups kept)'"
ok "a rerun is byte-identical" sh -c 'cp "$1/s.h5" "$1/s.first" &&
	rm "$1/s.h5" && ct-split "$1/im.h5" -o "$1/s.h5" --train-fraction 0.25 --seed 1 2>/dev/null && cmp "$1/s.h5" "$1/s.first"' sh "$d"

# Independent check of every property from the files (h5py).
cat >"$d/check.py" <<'PY'
import sys, h5py, collections
d = sys.argv[1]
def rows(path):
    f = h5py.File(path, "r")
    dec = lambda a: [x.decode() if isinstance(x, bytes) else x for x in a]
    return dec(f["names"][:]), dec(f["groups"][:]), dec(f["splits"][:]), list(f["labels"][:])
base = rows(d + "/im.h5")
augb = rows(d + "/aug.h5")
tr = {}  # train groups per class in the input
for g, s, y in zip(base[1], base[2], base[3]):
    if s == "train":
        tr.setdefault(y, set()).add(g)
fails = []
for seed in (1, 2):
    prev = None
    for fr in ("0.05", "0.1", "0.25", "0.5", "1"):
        for kind, ref in (("im", base), ("aug", augb)):
            n, g, s, y = rows("%s/%s-%s-%s.h5" % (d, kind, fr, seed))
            if n != ref[0] or g != ref[1] or y != ref[3]:
                fails.append("rows changed")
            kept = set()
            for i in range(len(n)):
                if ref[2][i] in ("val", "test") and s[i] != ref[2][i]:
                    fails.append("val/test changed")
                if ref[2][i] == "train" and s[i] not in ("train", ""):
                    fails.append("train row moved to " + s[i])
                if s[i] == "train":
                    kept.add(g[i])
            for i in range(len(n)):  # whole groups
                if ref[2][i] == "train" and (s[i] == "train") != (g[i] in kept):
                    fails.append("group %s split" % g[i])
            for c, gs in tr.items():
                want = max(1, int(float(fr) * len(gs) + 0.5))
                got = len(kept & gs)
                if got != want:
                    fails.append("%s %s seed %d class %d: %d groups, want %d" % (kind, fr, seed, c, got, want))
            if kind == "im":
                kim = kept
            elif kept != kim:
                fails.append("aug and plain keep other patients at %s seed %d" % (fr, seed))
        if prev is not None and not prev <= kim:
            fails.append("not nested at %s seed %d" % (fr, seed))
        prev = kim
    if seed == 1:
        k1 = prev
s1 = set(g for g, s in zip(*rows(d + "/im-0.25-1.h5")[1:3]) if s == "train")
s2 = set(g for g, s in zip(*rows(d + "/im-0.25-2.h5")[1:3]) if s == "train")
if s1 == s2:
    fails.append("seeds 1 and 2 keep the same groups")
print("\n".join(fails[:5]))
sys.exit(1 if fails else 0)
PY
if $PY -c 'import h5py' 2>/dev/null; then
	status 0 "h5py: whole patients, max(1, round(F x groups)) per class, nested, same in the augmented file, val/test unchanged, seeds differ" \
		$PY "$d/check.py" "$d"
	[ -s "$d/out" ] && sed 's/^/# /' "$d/out"
else
	echo "ok $((T_N = T_N + 1)) # skip h5py missing in /usr/bin/python3"
fi

# Features (the fixture: 20 patients x 3 slices, official-like split 12/4/4 patients): train
# 36 rows = 6 + 6 patients; half of them per class is 3 + 3 patients, 18 rows.
ok "the fixture generator writes synthetic features files" "$T_BUILD/tests/test_train_fixtures" "$d"
status 0 "--train-fraction 0.5 on a features file" ct-split "$d/a.h5" -o "$d/a50.h5" --train-fraction 0.5 --seed 4
err_has "train 18, val 12, test 12 (6 of 12 train groups kept)" "... keeps 3 + 3 of the 6 + 6 train patients: 18 rows"
status 0 "ct-finetune trains on the subset's rows only" ct-finetune "$d/a50.h5" -o "$d/m.h5" --epochs 2
err_has "18 train / 12 val samples" "... 18 train rows, the val split unchanged"
# The learning-curve driver and its plot on the fixture (pipelines/curves.mk runs them).
status 0 "scripts/curves.sh: 2 fractions x 2 seeds" env FRACTIONS="0.5 1" SEEDS="1 2" FINETUNE_ARGS="--head logreg --epochs 3" \
	sh "$T_TOP/scripts/curves.sh" fixture "$d/a.h5" "$d/curves.tsv"
ok "... one row per run, 18 and 36 train rows, metrics in [0, 1]" awk -F '\t' '
	NR > 1 { n++; if (($2 == 0.5 && $5 != 18) || ($2 == 1 && $5 != 36)) bad = 1
		for (i = 7; i <= 11; i++) if (i != 9 && ($i < 0 || $i > 1)) bad = 1 }
	END { exit !(n == 4 && !bad) }' "$d/curves.tsv"
status 0 "... a rerun finds every run done and keeps the file" env FRACTIONS="0.5 1" SEEDS="1 2" sh "$T_TOP/scripts/curves.sh" fixture "$d/a.h5" "$d/curves.tsv"
ok "... still 4 runs" test "$(wc -l <"$d/curves.tsv")" -eq 5
if $PY -c 'import h5py' 2>/dev/null; then
	status 0 "scripts/curves_plot.py: summary, SVG and table" $PY "$T_TOP/scripts/curves_plot.py" "$d/curves.tsv" "$d/sum.tsv" "$d/c.svg"
	ok "... the SVG is well-formed XML with a line in the test and val AUC panels (no sources: none in the style panel)" $PY -c '
import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
sys.exit(len([e for e in r if e.tag.endswith("polyline")]) != 2)' "$d/c.svg"
	ok "... the summary has the mean of the 2 seeds" $PY -c '
import sys, csv
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
runs = list(csv.DictReader(open(sys.argv[2]), delimiter="\t"))
m = sum(float(r["test_auc"]) for r in runs if r["fraction"] == "1") / 2
s = [r for r in rows if r["fraction"] == "1"][0]
sys.exit(not (len(rows) == 2 and s["seeds"] == "2" and abs(float(s["test_auc_mean"]) - m) < 1e-4))' "$d/sum.tsv" "$d/curves.tsv"
	# the fine-tuned arm: its own colour and a paired row against the head-only fused arm
	printf 'arm\tfraction\tseed\ttrain_groups\ttrain_rows\tbest_epoch\tval_acc\tval_auc\tval_style_auc\ttest_acc\ttest_auc\ttest_style_auc\tseconds\n' >"$d/ft.tsv"
	for s in 1 2; do for a in fused-noaug:0.70:0.60 fused-ft-noaug:0.75:0.66; do
		printf '%s\t0.5\t%s\t10\t20\t1\t0.7\t0.7\t0.6\t0.7\t%s\t%s\t5\n' "${a%%:*}" $s \
			"$(echo "$a" | cut -d: -f2)$s" "$(echo "$a" | cut -d: -f3)$s" >>"$d/ft.tsv"
	done; done
	$PY "$T_TOP/scripts/curves_plot.py" "$d/ft.tsv" "$d/ftsum.tsv" "$d/ft.svg" >"$d/ft.md" 2>/dev/null
	ok "curves_plot.py: the fine-tuned arm pairs with the head-only fused arm (+0.050 test AUC, +0.060 style-matched)" \
		grep -q '^| fine-tuned vs head-only (fused, no augmentation) | +0.050 +- 0.000 / +0.060 (2) |' "$d/ft.md"
	ok "... and is drawn in its own colour" grep -q '#9467bd' "$d/ft.svg"
fi

status 2 "--train-fraction 0 is a usage error (2)" ct-split "$d/im.h5" -o "$d/u.h5" --train-fraction 0
status 2 "--train-fraction 1.5 is a usage error (2)" ct-split "$d/im.h5" -o "$d/u.h5" --train-fraction 1.5
status 2 "--train-fraction with --folds is a usage error (2)" ct-split "$d/im.h5" -o "$d/u.h5" --train-fraction 0.5 --folds 3
status 2 "--train-fraction with --fractions is a usage error (2)" ct-split "$d/im.h5" -o "$d/u.h5" --train-fraction 0.5 --fractions 0.6,0.2,0.2
ok "usage errors create no output" test ! -e "$d/u.h5"
echo "1..$T_N"
