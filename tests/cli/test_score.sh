#!/bin/sh
# test_score.sh - ct-score end to end: scores file, TSV, metrics table and JSON, thresholds,
# splits, multi-class, unlabelled rows, reproducibility across thread counts, bad input
# (other layout, missing files, empty split, existing output, usage errors), and the HTML
# report rendered by headless Chromium (DOM has the plots, the screenshot is not blank).
. "$(dirname "$0")/lib.sh"
tmp=$T_DIR
fx=$T_BUILD/tests/test_score_fixture
skip() {
	T_N=$((T_N + 1))
	echo "ok $T_N # SKIP $1"
}

if [ ! -x "$fx" ] || ! command -v ct-score >/dev/null 2>&1; then
	skip "test_score_fixture or ct-score not built"
	exit 0
fi
d=$tmp/fx
mkdir -p "$d"
ok "fixtures: features files of a user's extractor, fixture models" "$fx" write "$d"
model=$d/model.h5
if command -v ct-finetune >/dev/null 2>&1; then
	ok "a model trained by ct-finetune on the fixture features" \
		ct-finetune "$d/feat.h5" -o "$tmp/ft.h5" --head mlp --hidden 8 --epochs 25 --seed 1 -q
	[ -f "$tmp/ft.h5" ] && model=$tmp/ft.h5
else
	skip "ct-finetune not on PATH (fixture model used)"
fi
echo "# model: $model"

s=$tmp/s.h5
ok "ct-score writes the scores file, a TSV and a report" \
	ct-score "$model" "$d/feat.h5" -o "$s" --tsv "$tmp/s.tsv" --report "$tmp/r.html" --bootstrap 300
ct-score "$model" "$d/feat.h5" -o "$tmp/s_table.h5" --bootstrap 300 >"$tmp/table" 2>&1
ok "the table names the split, its counts and the positive class" sh -c '
	grep -q "^split: *test: 45 samples, 40 labelled" "$1" && grep -q "^positive: *CT_COVID" "$1" &&
	grep -q "^  auc " "$1" && grep -q "^threshold: *0.5 (default)" "$1"' sh "$tmp/table"
if command -v ct-info >/dev/null 2>&1; then
	ok "ct-info reads the scores file: kind scores, probabilities 135 x 2" sh -c '
		ct-info --json "$1" >"$2" && grep -q "\"kind\":[[:space:]]*\"scores\"" "$2" &&
		grep -q "\"probabilities\"" "$2" && grep -q "\"predicted\"" "$2" && grep -q "\"metrics\"" "$2"' \
		sh "$s" "$tmp/info"
else
	skip "ct-info not on PATH"
fi
ok "TSV header: name split label probability predicted" \
	test "$(head -n 1 "$tmp/s.tsv")" = "$(printf 'name\tsplit\tlabel\tprobability\tpredicted')"
ok "TSV has one row of 5 fields per sample (135)" sh -c '
	test "$(tail -n +2 "$1" | wc -l)" -eq 135 && test "$(tail -n +2 "$1" | awk -F "\t" "NF != 5" | wc -l)" -eq 0' \
	sh "$tmp/s.tsv"
ok "unlabelled rows: empty label, a probability and a prediction" sh -c '
	test "$(tail -n +2 "$1" | awk -F "\t" "\$3 == \"\" && \$4 >= 0 && \$4 <= 1 && \$5 != \"\"" | wc -l)" -eq 5' \
	sh "$tmp/s.tsv"
ok "TSV predictions follow p >= 0.5 for the positive class" sh -c '
	test "$(tail -n +2 "$1" | awk -F "\t" "(\$4 >= 0.5) != (\$5 == \"CT_COVID\")" | wc -l)" -eq 0' sh "$tmp/s.tsv"

# JSON
ct-score "$model" "$d/feat.h5" -o "$tmp/j.h5" --json --bootstrap 300 >"$tmp/j1.json" 2>"$tmp/err"
ok "--json prints one object with metrics, intervals, confusion matrix, threshold, provenance" sh -c '
	grep -q "\"metrics\":" "$1" && grep -q "\"auc\":" "$1" && grep -q "\"ci\":" "$1" &&
	grep -q "\"confusion_matrix\":" "$1" && grep -q "\"method\":[[:space:]]*\"default\"" "$1" &&
	grep -q "\"provenance\":" "$1" && grep -q "\"positive_class\":[[:space:]]*\"CT_COVID\"" "$1" &&
	test "$(head -c 1 "$1")" = "{"' sh "$tmp/j1.json"
rm -f "$tmp/j.h5"
OMP_NUM_THREADS=1 ct-score "$model" "$d/feat.h5" -o "$tmp/j.h5" --json --bootstrap 300 >"$tmp/j2.json" 2>&1
cp "$tmp/j.h5" "$tmp/j1.h5" 2>/dev/null
rm -f "$tmp/j.h5"
OMP_NUM_THREADS=2 ct-score "$model" "$d/feat.h5" -o "$tmp/j.h5" --json --bootstrap 300 >"$tmp/j3.json" 2>&1
ok "1 and 2 threads give identical JSON" cmp "$tmp/j2.json" "$tmp/j3.json"
ok "1 and 2 threads give byte-identical scores files" cmp "$tmp/j1.h5" "$tmp/j.h5"
ct-score "$model" "$d/feat.h5" -o "$tmp/j7.h5" --json --bootstrap 300 --seed 7 >"$tmp/j7.json" 2>&1
ok "another seed changes the intervals" sh -c '! cmp -s "$1" "$2"' sh "$tmp/j1.json" "$tmp/j7.json"
ok "--bootstrap 0: no intervals" sh -c '
	ct-score "$1" "$2" -o "$3" --json --bootstrap 0 >"$4" && ! grep -q "\"ci\":" "$4"' \
	sh "$model" "$d/feat.h5" "$tmp/b0.h5" "$tmp/b0.json"

# thresholds, splits, classes
ok "--threshold youden is chosen on val and recorded" sh -c '
	ct-score "$1" "$2" -o "$3" --json --bootstrap 50 --threshold youden >"$4" &&
	grep -q "\"method\":[[:space:]]*\"youden\"" "$4" && grep -q "\"chosen_on\":[[:space:]]*\"val\"" "$4"' \
	sh "$model" "$d/feat.h5" "$tmp/y.h5" "$tmp/y.json"
ok "--threshold 0.3 is recorded as fixed" sh -c '
	ct-score "$1" "$2" -o "$3" --bootstrap 50 --threshold 0.3 >"$4" && grep -q "^threshold: *0.3 (fixed)" "$4"' \
	sh "$model" "$d/feat.h5" "$tmp/t3.h5" "$tmp/t3.out"
ok "--split val evaluates the 30 val samples" sh -c '
	ct-score "$1" "$2" -o "$3" --bootstrap 50 --split val >"$4" && grep -q "^split: *val: 30 samples, 30 labelled" "$4"' \
	sh "$model" "$d/feat.h5" "$tmp/v.h5" "$tmp/v.out"
ok "--positive CT_NonCOVID switches the positive class" sh -c '
	ct-score "$1" "$2" -o "$3" --bootstrap 50 --positive CT_NonCOVID >"$4" && grep -q "^positive: *CT_NonCOVID" "$4"' \
	sh "$model" "$d/feat.h5" "$tmp/p.h5" "$tmp/p.out"
ok "3 classes: arg-max, macro metrics, a p:<class> column per class" sh -c '
	ct-score "$1" "$2" -o "$3" --bootstrap 50 --tsv "$4" >"$5" && grep -q "arg-max of 3 classes" "$5" &&
	grep -q "macro auc" "$5" &&
	test "$(head -n 1 "$4")" = "$(printf "name\tsplit\tlabel\tp:covid\tp:normal\tp:pneumonia\tpredicted")"' \
	sh "$d/model3.h5" "$d/feat3.h5" "$tmp/m3.h5" "$tmp/m3.tsv" "$tmp/m3.out"
ok "a split of unlabelled and labelled rows: metrics over the 12 labelled" sh -c '
	ct-score "$1" "$2" -o "$3" --bootstrap 50 >"$4" && grep -q "^split: *test: 24 samples, 12 labelled" "$4"' \
	sh "$d/model.h5" "$d/unl.h5" "$tmp/u.h5" "$tmp/u.out"

# bad input
status 1 "features of another layout: exit 1" ct-score "$model" "$d/other.h5" -o "$tmp/x.h5"
ok "... naming both files and the mismatch" \
	grep -q "ct-score: features '$d/other.h5' do not fit model '$model': features have 6 columns" "$tmp/err"
ok "... and no output" test ! -e "$tmp/x.h5"
status 1 "a missing model file: exit 1" ct-score "$tmp/none.h5" "$d/feat.h5" -o "$tmp/x.h5"
ok "... with a message naming it" grep -q "'$tmp/none.h5'" "$tmp/err"
status 1 "a missing features file: exit 1" ct-score "$model" "$tmp/none.h5" -o "$tmp/x.h5"
ok "... with a message naming it" grep -q "'$tmp/none.h5'" "$tmp/err"
status 1 "a features file given as the model: exit 1" \
	ct-score "$d/feat.h5" "$d/feat.h5" -o "$tmp/x.h5"
status 1 "a split with no samples: exit 1" \
	ct-score "$d/model.h5" "$d/train.h5" -o "$tmp/x.h5" --split test
ok "... saying so" grep -q "has no samples in split 'test'" "$tmp/err"
status 1 "--threshold youden without val samples: exit 1" \
	ct-score "$d/model.h5" "$d/train.h5" -o "$tmp/x.h5" --threshold youden
status 2 "--positive naming no class: a usage error (2)" \
	ct-score "$model" "$d/feat.h5" -o "$tmp/x.h5" --positive nosuch
ok "failures leave no output" test ! -e "$tmp/x.h5"
cp "$s" "$tmp/s.bak"
status 1 "an existing output without --force: exit 1" \
	ct-score "$model" "$d/feat.h5" -o "$s" --bootstrap 10
ok "... saying it exists, leaving it untouched" sh -c 'grep -q "exists" "$1" && cmp "$2" "$3"' \
	sh "$tmp/err" "$s" "$tmp/s.bak"
ok "an existing --tsv target: exit 1 and no scores file either" sh -c '
	ct-score "$1" "$2" -o "$3" --tsv "$4" --bootstrap 10 >/dev/null 2>&1; test $? -eq 1 && test ! -e "$3"' \
	sh "$model" "$d/feat.h5" "$tmp/new.h5" "$tmp/s.tsv"
ok "--force overwrites" ct-score "$model" "$d/feat.h5" -o "$s" --bootstrap 10 --force
for bad in "--threshold 1.5" "--threshold abc" "--bootstrap -1" "--split holdout" "--resample bag" \
	"--level 1" "--bogus"; do
	# shellcheck disable=SC2086
	status 2 "usage error $bad: exit 2" ct-score "$model" "$d/feat.h5" -o "$tmp/x.h5" $bad
done
ok "without -o: metrics printed, exit 0, no scores file written" sh -c '
	ct-score "$1" "$2" --bootstrap 20 > "$3/noout.txt" && grep -q "auc" "$3/noout.txt" && ! ls "$3"/*.tmp-* 2>/dev/null' sh "$model" "$d/feat.h5" "$tmp"
status 2 "a missing FEATURES argument: exit 2" ct-score "$model"
status 2 "one positional argument: exit 2" ct-score "$model" -o "$tmp/x.h5"
ok "usage errors leave no output" test ! -e "$tmp/x.h5"
ok "--help exits 0 and lists every option" sh -c '
	ct-score --help >"$1" || exit 1
	for o in --output --tsv --json --report --split --positive --threshold --bootstrap --resample --level \
		--seed --threads --force; do grep -q -e "$o" "$1" || exit 1; done' sh "$tmp/help"
if [ -f "$T_TOP/man/ct-score.1" ]; then
	ok "the man page SYNOPSIS matches --help" sh -c '
		grep -q "^usage: ct-score \[OPTIONS\] MODEL FEATURES|IMAGES \[IN\.\.\.\] \[-o SCORES\]" "$1" &&
		grep -q "MODEL FEATURES" "$2" && grep -q "^\.SH EXIT STATUS" "$2"' sh "$tmp/help" "$T_TOP/man/ct-score.1"
fi

# the report
r=$tmp/r.html
ok "report: one self-contained file (no script, src, href, url(), @import)" sh -c '
	test -s "$1" && ! grep -q -i -e "<script" -e "src=" -e "href=" -e "url(" -e "@import" "$1"' sh "$r"
ok "report: roc, confusion, loss and accuracy plots" sh -c '
	for id in roc confusion loss accuracy; do grep -q "<svg id=\"$id\"" "$1" || exit 1; done' sh "$r"
ok "report: provenance of the model and features with their commands" sh -c '
	grep -q "my-extractor --in ct/ --out &lt;feat&gt;.h5" "$1" && grep -q "test_score_fixture write" "$1"' sh "$r"
ct-score "$d/evil_model.h5" "$d/evil.h5" -o "$tmp/e.h5" --report "$tmp/e.html" --bootstrap 20 >/dev/null 2>&1
ok "report: class names holding html are escaped" sh -c '
	grep -q "&lt;b&gt;covid&lt;/b&gt; &amp; &quot;x&quot;" "$1" && ! grep -q "<b>covid" "$1" &&
	! grep -q "<script" "$1"' sh "$tmp/e.html"

chromium=/usr/bin/chromium
if [ ! -x "$chromium" ]; then
	skip "chromium not installed"
	skip "chromium not installed"
	skip "chromium not installed"
	skip "chromium not installed"
else
	mkdir -p "$tmp/home"
	run_chromium() { # run_chromium ARGS... : headless, no network, a throw-away profile
		ud=$(mktemp -d "$tmp/chrome-XXXXXX")
		HOME=$tmp/home timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
			--disable-background-networking --disable-component-update --disable-sync \
			--user-data-dir="$ud" "$@"
		rc=$?
		rm -rf "$ud"
		return $rc
	}
	run_chromium --dump-dom "file://$r" >"$tmp/dom.html" 2>"$tmp/chrome.err"
	ok "chromium renders the report (DOM dumped)" grep -q "</svg>" "$tmp/dom.html"
	ok "DOM: the ROC path has many points" sh -c '
		d=$(grep -o "class=\"roc\"[^>]* d=\"[^\"]*\"" "$1" | head -n 1 | sed "s/.* d=\"//")
		test "$(printf "%s" "$d" | tr -cd L | wc -c)" -ge 10' sh "$tmp/dom.html"
	ok "DOM: confusion cells, ROC band and training curves are paths and rects with data" sh -c '
		test "$(grep -o "<rect class=\"cell\"" "$1" | wc -l)" -eq 4 &&
		grep -q "class=\"band\"[^>]* d=\"M[0-9]" "$1" &&
		test "$(grep -o "class=\"series[^\"]*\"[^>]* d=\"M[0-9][^\"]*L" "$1" | wc -l)" -ge 4' sh "$tmp/dom.html"
	run_chromium --screenshot="$tmp/shot.png" --window-size=1200,2000 "file://$r" >/dev/null 2>&1
	ok "the screenshot is not blank (many distinct colours, mostly non-white page)" sh -c '
		set -- $("$1" png-stats "$2") || exit 1
		test "$1" -eq 1200 && test "$2" -eq 2000 && test "$3" -ge 200 && test "$4" -ge 100' sh "$fx" "$tmp/shot.png"
fi

rm -rf "$tmp"
[ "$T_FAILS" -eq 0 ]
