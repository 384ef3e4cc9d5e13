#!/bin/sh
# test_generalise.sh - telling the disease from the data source: ct-convert's class names and
# class map for labelled data, unlabelled folders with sub-folders; pipelines/predict.mk and
# pipelines/evaluate.mk on folders whose names contain spaces; ct-score's metrics per source
# (checked against scikit-learn) and the shortcut audit (a planted intensity shortcut found,
# the model's margin reported).
. "$(dirname "$0")/lib.sh"
D=$T_DIR
top=$T_TOP
bin=$(dirname "$(command -v ct-convert)")

# ---- data: phantoms; the same patients written with two intensity windows ----
ct-phantom -o "$D/a" --patients 24 --slices-per-patient 2 --size 64 --seed 3 --split-dir "$D/split" >/dev/null 2>&1
ct-phantom -o "$D/b" --patients 24 --slices-per-patient 2 --size 64 --seed 3 --window -300,3000 >/dev/null 2>&1
# the shortcut set: lesion slices from the washed-out window, normal ones from the usual
mkdir -p "$D/short"
cp -r "$D/a/normal" "$D/short/normal"
cp -r "$D/b/lesion" "$D/short/lesion"

# ---- ct-convert: class names and map for labelled data ----
status 0 "--class-names sets the class order of labelled data" \
	ct-convert "$D/a" --size 32 --class-names normal,lesion -o "$D/cn.h5" -q
ok "labels follow the given order (normal = 0)" sh -c "ct-info '$D/cn.h5' | grep -q 'class names: *normal,lesion'"
status 1 "a data class missing from --class-names is refused" \
	ct-convert "$D/a" --size 32 --class-names normal,covid -o "$D/x.h5" -q
err_has "class 'lesion' of the data is not among" "  ... naming the class"
mkdir -p "$D/renamed"
cp -r "$D/a/normal" "$D/renamed/Normal cases"
cp -r "$D/a/lesion" "$D/renamed/Lesion cases"
status 0 "--class-map renames class folders (names with spaces)" \
	ct-convert "$D/renamed" --size 32 --class-map "Normal cases=normal,Lesion cases=lesion" \
	--class-names lesion,normal -o "$D/cm.h5" -q
ok "the mapped file has the model's classes" sh -c "ct-info '$D/cm.h5' | grep -q 'class names: *lesion,normal'"
status 1 "--class-map with an unknown class is refused" \
	ct-convert "$D/renamed" --size 32 --class-map "Nope=normal" -o "$D/x.h5" -q
status 1 "--class-map merging two classes is refused" \
	ct-convert "$D/renamed" --size 32 --class-map "Normal cases=Lesion cases" -o "$D/x.h5" -q
status 2 "--class-map with --unlabelled is a usage error" \
	ct-convert "$D/renamed" --unlabelled --class-map "a=b" -o "$D/x.h5" -q
ok "no output was left by the refused runs" [ ! -e "$D/x.h5" ]
status 0 "--unlabelled reads sub-folders" ct-convert "$D/renamed" --unlabelled --size 32 -o "$D/un.h5" -q
n=$(find "$D/renamed" -type f | wc -l)
ok "every file of every sub-folder is converted ($n)" sh -c "ct-info '$D/un.h5' | grep -q 'images  *uint8  *$n x'"

# ---- a model trained on the phantoms ----
mkdir -p "$D/w"
ct-weights synth --backbone mobilenet_v2 -o "$D/w/mobilenet_v2.h5" -q
make --no-print-directory -f "$top/pipelines/covid-ct.mk" CTBIN="$bin" CT_WEIGHTS_DIR="$D/w" \
	DATA="$D/a" SPLIT="$D/split" GROUPS="$D/a/patients.tsv" OUT="$D/exp" BACKBONES=mobilenet_v2 AUGMENT=0 \
	SCORE_ARGS="--threshold youden --bootstrap 50" FINETUNE_ARGS="--head logreg --epochs 20" >"$D/train.log" 2>&1
E=$D/exp/mobilenet_v2-noaug
ok "the experiment to evaluate was trained" [ -s "$E/metrics.json" ]

# ---- predict.mk: a folder with spaces and sub-folders ----
mkdir -p "$D/new scans/ward 1"
cp "$D/a/normal/"*_s01.png "$D/new scans/"
for f in "$D/a/lesion/"*_s01.png; do cp "$f" "$D/new scans/ward 1/slice $(basename "$f")"; done
n=$(find "$D/new scans" -type f | wc -l)
make --no-print-directory -f "$top/pipelines/predict.mk" CTBIN="$bin" CT_WEIGHTS_DIR="$D/w" MODEL_DIR="$E" \
	IMAGES="$D/new scans" PRED="$D/pred" >"$D/pred.log" 2>&1
ok "predict.mk classifies every file of a folder with spaces and sub-folders ($n)" \
	[ "$(($(wc -l <"$D/pred/predictions.tsv") - 1))" -eq "$n" ]
ok "sub-folder files keep their path" grep -q "^ward 1/slice " "$D/pred/predictions.tsv"
make --no-print-directory -f "$top/pipelines/predict.mk" CTBIN="$bin" CT_WEIGHTS_DIR="$D/w" MODEL_DIR="$E" \
	IMAGES="$D/new scans" PRED="$D/pred" >"$D/pred2.log" 2>&1
ok "a rerun with the same images runs nothing" sh -c "! grep -q '^ct-' '$D/pred2.log'"
touch "$D/new scans/ward 1/slice extra.png"
cp "$D/a/normal/P0001_s02.png" "$D/new scans/ward 1/slice extra.png"
make --no-print-directory -f "$top/pipelines/predict.mk" CTBIN="$bin" CT_WEIGHTS_DIR="$D/w" MODEL_DIR="$E" \
	IMAGES="$D/new scans" PRED="$D/pred" >"$D/pred3.log" 2>&1
ok "a new image makes it convert again" sh -c "grep -q 'ct-convert' '$D/pred3.log' && grep -q 'slice extra.png' '$D/pred/predictions.tsv'"

# ---- evaluate.mk: another labelled data set, classes mapped, names with spaces ----
make --no-print-directory -f "$top/pipelines/evaluate.mk" CTBIN="$bin" CT_WEIGHTS_DIR="$D/w" MODEL_DIR="$E" \
	DATA="$D/renamed" OUT="$D/eval" CLASS_MAP="Normal cases=normal,Lesion cases=lesion" \
	SCORE_ARGS="--bootstrap 100" >"$D/eval.log" 2>&1
ok "evaluate.mk writes metrics.json and report.html" sh -c "[ -s '$D/eval/metrics.json' ] && [ -s '$D/eval/report.html' ]"
nall=$(find "$D/renamed" -type f | wc -l)
ok "every labelled image is evaluated ($nall)" sh -c "grep -q '\"labelled\":[[:space:]]*$nall' '$D/eval/metrics.json'"
ok "with confidence intervals" grep -q '"ci"' "$D/eval/metrics.json"
thr=$(tr -d ' \n\t' <"$E/metrics.json" | grep -o '"threshold":{"value":[0-9.e-]*' | sed 's/.*://')
ok "at the model's threshold ($thr), not one tuned on the evaluated data" \
	sh -c "tr -d ' \n\t' <'$D/eval/metrics.json' | grep -q '\"threshold\":{\"value\":$thr,\"method\":\"fixed\"'"
make --no-print-directory -f "$top/pipelines/evaluate.mk" CTBIN="$bin" CT_WEIGHTS_DIR="$D/w" MODEL_DIR="$E" \
	DATA="$D/renamed" OUT="$D/eval bad" >"$D/evalbad.log" 2>&1
ok "an output folder with a space is refused with a message" grep -q "contains a space" "$D/evalbad.log"

# ---- the model's preprocessing follows it: predict.mk and evaluate.mk apply it, ct-score checks it ----
make --no-print-directory -f "$top/pipelines/covid-ct.mk" CTBIN="$bin" CT_WEIGHTS_DIR="$D/w" \
	DATA="$D/a" SPLIT="$D/split" GROUPS="$D/a/patients.tsv" OUT="$D/exq" BACKBONES=mobilenet_v2 AUGMENT=0 \
	CONVERT_ARGS="--split $D/split --groups $D/a/patients.tsv --equalise 96:70 --window 40,400" \
	SCORE_ARGS="--threshold youden --bootstrap 50" FINETUNE_ARGS="--head logreg --epochs 20" >"$D/trainq.log" 2>&1
Q=$D/exq/mobilenet_v2-noaug
ok "an experiment on equalised, windowed images was trained" [ -s "$Q/metrics.json" ]
ok "ct-info --preprocessing prints the pixel-changing options of its training images" \
	sh -c "[ \"\$(ct-info --preprocessing '$Q/model.h5')\" = '--window 40,400 --equalise 96:70' ]"
ok "and an empty line for a model of plain images" sh -c "[ -z \"\$(ct-info --preprocessing '$E/model.h5')\" ]"
status 2 "--preprocessing with --json is a usage error" ct-info --preprocessing --json "$Q/model.h5"
status 1 "ct-score refuses features of images prepared otherwise than the model's" \
	ct-score "$Q/model.h5" "$E/fused.h5" --split all --bootstrap 0
err_has "images prepared with '', the model's training images with '--window 40,400 --equalise 96:70'" \
	"  ... naming both"
make --no-print-directory -f "$top/pipelines/predict.mk" CTBIN="$bin" CT_WEIGHTS_DIR="$D/w" MODEL_DIR="$Q" \
	IMAGES="$D/new scans" PRED="$D/predq" >"$D/predq.log" 2>&1
ok "predict.mk converts new images as the model's were (and ct-score accepts them)" \
	sh -c "[ -s '$D/predq/predictions.tsv' ] && [ \"\$(ct-info --preprocessing '$D/predq/images-224.h5')\" = '--window 40,400 --equalise 96:70' ]"
make --no-print-directory -f "$top/pipelines/evaluate.mk" CTBIN="$bin" CT_WEIGHTS_DIR="$D/w" MODEL_DIR="$Q" \
	DATA="$D/renamed" OUT="$D/evalq" CLASS_MAP="Normal cases=normal,Lesion cases=lesion" \
	SCORE_ARGS="--bootstrap 0" >"$D/evalq.log" 2>&1
ok "so does evaluate.mk" sh -c "[ -s '$D/evalq/metrics.json' ] && grep -q 'equalise 96:70' '$D/evalq.log'"

# ---- metrics per source, against scikit-learn ----
# sources: odd patients from "site A", even ones from "site B"
awk -F'\t' 'NR == 1 { print "file\tsite"; next } { p = substr($3, 2) + 0; print $1 "\t" (p % 2 ? "site A" : "site B") }' \
	"$D/a/patients.tsv" >"$D/sources.tsv"
status 0 "ct-score --sources" ct-score "$E/model.h5" "$E/fused.h5" --split all --sources "$D/sources.tsv" \
	--bootstrap 0 --json --tsv "$D/s.tsv"
cp "$T_DIR/out" "$D/bysrc.json"
ok "the JSON has metrics for both sources" sh -c "grep -q '\"site A\"' '$D/bysrc.json' && grep -q '\"site B\"' '$D/bysrc.json'"
if /usr/bin/python3 -c 'import sklearn' >/dev/null 2>&1; then
	ok "per-source AUCs equal scikit-learn's roc_auc_score on the same rows" /usr/bin/python3 - "$D/s.tsv" "$D/sources.tsv" "$D/bysrc.json" <<'PY'
import csv, json, sys
from sklearn.metrics import roc_auc_score
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
site = {r["file"]: r["site"] for r in csv.DictReader(open(sys.argv[2]), delimiter="\t")}
j = json.load(open(sys.argv[3]))
pos = j["positive_class"]
for e in j["by_source"]["sources"]:
    s = e["source"]
    def of(r): return site[r["name"].split("/")[-1]]
    a = [r for r in rows if r["label"] == pos or of(r) == s]
    b = [r for r in rows if r["label"] != pos or of(r) == s]
    for key, sub in (("negatives_vs_all_positives", a), ("positives_vs_all_negatives", b)):
        ref = roc_auc_score([r["label"] == pos for r in sub], [float(r["probability"]) for r in sub])
        got = e[key]["auc"]["value"]
        if abs(ref - got) > 1e-9:
            sys.exit("%s %s: %r vs %r" % (s, key, got, ref))
PY
else
	echo "ok $((T_N = T_N + 1)) # skip scikit-learn not installed"
fi
ok "the report has a per-source table" sh -c "ct-score '$E/model.h5' '$E/fused.h5' --split all --sources '$D/sources.tsv' --bootstrap 0 --report '$D/r.html' >/dev/null && grep -q 'Metrics per source' '$D/r.html' && grep -q 'site A' '$D/r.html'"
status 1 "a missing sources file fails naming it" ct-score "$E/model.h5" "$E/fused.h5" --sources "$D/nope.tsv"
err_has "nope.tsv" "  ... naming the file"
mkfifo "$D/fifo.tsv"
status 1 "a FIFO as the sources list is refused, not waited on" timeout 20 ct-score "$E/model.h5" "$E/fused.h5" \
	--sources "$D/fifo.tsv" --bootstrap 0
err_has "fifo.tsv" "  ... naming it"

# ---- the shortcut audit ----
ct-convert "$D/short" --size 32 --split "$D/split" -o "$D/short.h5" -q
ct-convert "$D/a" --size 32 --split "$D/split" -o "$D/plain.h5" -q
status 0 "ct-score --audit on the test split" ct-score "$E/model.h5" "$E/fused.h5" --audit "$D/short.h5" --json --bootstrap 100
cp "$T_DIR/out" "$D/audit_short.json"
ct-score "$E/model.h5" "$E/fused.h5" --audit "$D/plain.h5" --json --bootstrap 100 >"$D/audit_plain.json" 2>/dev/null
best_auc() { tr -d ' \n\t' <"$1" | grep -o '"best":{[^}]*"auc":[0-9.e-]*' | sed 's/.*"auc"://'; }
int_auc() { tr -d ' \n\t' <"$1" | grep -o '"attributes":"intensity","method":"forest","auc":{"value":[0-9.e-]*' | sed 's/.*://'; }
s_int=$(int_auc "$D/audit_short.json")
p_int=$(int_auc "$D/audit_plain.json")
ok "a planted intensity-window shortcut is found (intensity/forest AUC $s_int >= 0.95)" \
	awk -v a="$s_int" 'BEGIN { exit !(a >= 0.95) }'
ok "and is weaker where both classes share the window ($p_int < $s_int)" awk -v a="$p_int" -v b="$s_int" 'BEGIN { exit !(a < b) }'
ok "the JSON reports the model's margin over the best baseline" \
	sh -c "tr -d ' \n\t' <'$D/audit_short.json' | grep -q '\"margin\":-*[0-9]'"
ok "the report shows the audit" sh -c "ct-score '$E/model.h5' '$E/fused.h5' --audit '$D/short.h5' --bootstrap 0 --report '$D/ra.html' >/dev/null && grep -q 'Shortcut audit' '$D/ra.html'"
status 1 "--audit on the train split is refused" ct-score "$E/model.h5" "$E/fused.h5" --audit "$D/short.h5" --split train
status 1 "--audit on an images file without attributes fails clearly" ct-score "$E/model.h5" "$E/fused.h5" --audit "$E/fused.h5"
err_one_line "  ... in one line"
echo "1..$T_N"
