#!/bin/sh
# test_slurm_graph.sh - the Slurm job graph of FINETUNE=1 without Slurm: `covid-ct.mk plan` lists
# the fine-tuned stages (cut-input, cut, cut-merge, finetune, ft-score) with the files make
# itself would write (compared with make -n), and nothing new with FINETUNE=0 (the head-only
# lines are those of FINETUNE=1); pipelines/slurm/submit.sh, with a fake sbatch on PATH that
# records its arguments, submits the cuts after the job making the images they read (convert's
# merge; the convert array with SHARDS=1; augment's merge with FT_AUGMENT=1; nothing when the
# images exist), finetune after the cuts' merge, ft-score after finetune, each job with the
# plan's files, and names both branches' last jobs. SHARDS=2 cut files merged by make equal the
# unsharded ones. (The graph on a real Slurm: make check-slurm.)
. "$(dirname "$0")/lib.sh"
D=$T_DIR
top=$T_TOP
bin=$(dirname "$(command -v ct-convert)")
mk=$top/pipelines/covid-ct.mk
ct-phantom -o "$D/ph" --patients 4 --slices-per-patient 2 --size 64 --seed 3 --split-dir "$D/split" >/dev/null 2>&1
mkdir -p "$D/w" "$D/fake"
ct-weights synth --backbone mobilenet_v2 -o "$D/w/mobilenet_v2.h5" -q
ct-weights synth --backbone inception_v3 -o "$D/w/inception_v3.h5" -q
# the pipeline's variables for make and submit.sh
set -- CTBIN="$bin" CT_WEIGHTS_DIR="$D/w" DATA="$D/ph" SPLIT="$D/split" GROUPS="$D/ph/patients.tsv" \
	BACKBONES="inception_v3 mobilenet_v2"
pmake() { make --no-print-directory -f "$mk" "$@"; }
# field FILE STAGE: the files of a plan line (empty when the line is missing or empty)
field() { sed -n "s/^$2 //p" "$1"; }

# ---- plan ----
pmake "$@" OUT="$D/o" SHARDS=2 plan >"$D/plan0" 2>&1
pmake "$@" OUT="$D/o" SHARDS=2 FINETUNE=1 plan >"$D/plan1" 2>&1
ok "FINETUNE=0: no fine-tuned stage in the plan" sh -c "[ \$(wc -l <'$D/plan0') -eq 10 ] &&
	! grep -q -e '^cut' -e '^finetune' -e '^ft-' '$D/plan0'"
ok "FINETUNE=1: the head-only lines are those of FINETUNE=0, followed by five fine-tuned ones" sh -c "
	head -n 10 '$D/plan1' | cmp -s - '$D/plan0' &&
	[ \"\$(sed -n '11,\$s/ .*//p' '$D/plan1' | tr '\n' ' ')\" = 'cut-input cut cut-merge finetune ft-score ' ]"
pmake "$@" OUT="$D/o" FINETUNE=1 -n all >"$D/dry1" 2>&1
cuts=$(sed -n 's/^ct-features .*--cut .* -o \([^ ]*\) .*/\1/p' "$D/dry1" | sort | tr '\n' ' ')
model=$(sed -n 's/^ct-finetune --finetune .* -o \([^ ]*\) .*/\1/p' "$D/dry1")
[ -n "$cuts" ] && [ "$(field "$D/plan1" cut-merge | tr ' ' '\n' | sort | tr '\n' ' ')" = "$cuts" ]
t_report $? "cut-merge: the cut files make -n would write ($(for f in $cuts; do basename "$f"; done | tr "\n" " "))"
shards_of=$(field "$D/plan1" cut | tr ' ' '\n' | sed 's,/shards/\(.*\)\.[12]-of-2\.h5$,/\1.h5,' | sort | uniq -c |
	awk '$1 == 2 { print $2 }' | tr '\n' ' ')
ok "cut: two shards of each ($(field "$D/plan1" cut | wc -w) files)" sh -c "[ '$shards_of' = '$cuts' ] && [ $(field "$D/plan1" cut | wc -w) -eq 4 ]"
ok "finetune: the model make -n would train ($model)" sh -c "[ -n '$model' ] && [ \"\$(sed -n 's/^finetune //p' '$D/plan1')\" = '$model' ]"
ok "ft-score: the fine-tuned report beside it" sh -c "[ \"\$(sed -n 's/^ft-score //p' '$D/plan1')\" = '$(dirname "$model")/report.html' ]"
ok "cut-input: the images the cuts read" sh -c "[ \"\$(sed -n 's/^cut-input //p' '$D/plan1')\" = '$D/o/images-224.h5 $D/o/images-299.h5' ] &&
	grep -q '^ct-features .*--cut .* $D/o/images-299.h5 -o' '$D/dry1'"
pmake "$@" OUT="$D/o" BACKBONES=inception_v3 FT_BACKBONES=mobilenet_v2 AUGMENT=0 FT_AUGMENT=1 FINETUNE=1 plan >"$D/plan2" 2>&1
ok "FT_AUGMENT=1 with another input size: its images and augmented images join convert and augment" sh -c "
	[ \"\$(sed -n 's/^convert //p' '$D/plan2')\" = '$D/o/images-224.h5 $D/o/images-299.h5' ] &&
	[ \"\$(sed -n 's/^augment //p' '$D/plan2')\" = '$D/o/aug-224.h5' ] &&
	[ \"\$(sed -n 's/^cut-input //p' '$D/plan2')\" = '$D/o/aug-224.h5' ]"

# ---- submit.sh with a fake sbatch: job N+100 for the Nth call, its arguments in sbatch.log ----
cat >"$D/fake/sbatch" <<'EOF'
#!/bin/sh
n=$(($(cat "$SBATCH_LOG" 2>/dev/null | wc -l) + 101))
echo "$n $*" >>"$SBATCH_LOG"
echo "$n;fake"
EOF
chmod +x "$D/fake/sbatch"
# submit RUN [VAR=value ...]: submit.sh with the fake sbatch; its log in RUN.log, sbatch's in RUN.sb
submit() {
	r=$1
	shift
	rm -f "$D/$r.sb"
	PATH="$D/fake:$PATH" SBATCH_LOG="$D/$r.sb" "$top/pipelines/slurm/submit.sh" "$@" >"$D/$r.log" 2>&1
}
# jid RUN STAGE, dep RUN STAGE, files RUN STAGE, array RUN STAGE: the job id, its afterok
# dependency, its files (after --), its --array of a stage's job in RUN
jid() { awk -v n="--job-name=ctfuse-$2" '{ for (i = 2; i <= NF; i++) if ($i == n) print $1 }' "$D/$1.sb"; }
dep() { awk -v n="--job-name=ctfuse-$2" '{ h = 0; for (i = 2; i <= NF; i++) if ($i == n) h = 1
	if (h) for (i = 2; i <= NF; i++) if ($i ~ /^--dependency=/) { sub(/^--dependency=afterok:/, "", $i); print $i } }' "$D/$1.sb"; }
files() { awk -v n="--job-name=ctfuse-$2" '{ h = 0; for (i = 2; i <= NF; i++) if ($i == n) h = 1
	if (h) { s = ""; for (i = 2; i <= NF; i++) if ($i == "--") { for (j = i + 1; j <= NF; j++) s = s (s ? " " : "") $j; break } print s } }' "$D/$1.sb"; }
array() { awk -v n="--job-name=ctfuse-$2" '{ h = 0; for (i = 2; i <= NF; i++) if ($i == n) h = 1
	if (h) for (i = 2; i <= NF; i++) if ($i ~ /^--array=/) print substr($i, 9) }' "$D/$1.sb"; }
# names RUN: the job names in submission order
names() { sed 's/.*--job-name=ctfuse-\([^ ]*\).*/\1/' "$D/$1.sb" | tr '\n' ' '; }

submit s2 "$@" OUT="$D/s" SHARDS=2 FINETUNE=1
pmake "$@" OUT="$D/s" SHARDS=2 FINETUNE=1 plan >"$D/plan.s2" 2>&1
ok "submit.sh FINETUNE=1 submits the head-only graph, then the fine-tuned stages" sh -c "
	[ \"\$(sed 's/.*--job-name=ctfuse-\([^ ]*\).*/\1/' '$D/s2.sb' | tr '\n' ' ')\" = \
	'convert convert-merge augment augment-merge features features-merge fuse train score cut cut-merge finetune ft-score ' ]"
ok "cut: an array of 2 backbones x 2 shards, after convert's merge (not the head-only stages)" sh -c "
	[ '$(array s2 cut)' = 0-3 ] && [ -n '$(jid s2 convert-merge)' ] && [ '$(dep s2 cut)' = '$(jid s2 convert-merge)' ]"
ok "... of the plan's cut files" sh -c "[ -n '$(files s2 cut)' ] && [ '$(files s2 cut)' = '$(field "$D/plan.s2" cut)' ]"
ok "cut-merge after the cuts, of the cut files" sh -c "[ -n '$(jid s2 cut)' ] && [ '$(dep s2 cut-merge)' = '$(jid s2 cut)' ] &&
	[ '$(files s2 cut-merge)' = '$(field "$D/plan.s2" cut-merge)' ] && [ -z '$(array s2 cut-merge)' ]"
ok "finetune after cut-merge, of the model" sh -c "[ '$(dep s2 finetune)' = '$(jid s2 cut-merge)' ] &&
	[ '$(files s2 finetune)' = '$D/s/ft-inception_v3+mobilenet_v2/model.h5' ]"
ok "ft-score after finetune, of the report" sh -c "[ '$(dep s2 ft-score)' = '$(jid s2 finetune)' ] &&
	[ '$(files s2 ft-score)' = '$D/s/ft-inception_v3+mobilenet_v2/report.html' ]"
ok "the head-only chain is unchanged (score after train, features after augment's merge)" sh -c "
	[ '$(dep s2 score)' = '$(jid s2 train)' ] && [ '$(dep s2 features)' = '$(jid s2 augment-merge)' ]"
ok "every job runs covid-ct.mk with FINETUNE=1" sh -c "[ \$(grep -c ' FINETUNE=1 .*SHARDS=2 -- ' '$D/s2.sb') -eq 13 ]"
ok "the last line names the last job of both branches" \
	grep -q "^submit.sh: submitted 13 jobs, last $(jid s2 score):$(jid s2 ft-score)\$" "$D/s2.log"

submit f0 "$@" OUT="$D/s" SHARDS=2
ok "FINETUNE=0: the head-only graph alone" sh -c "[ '$(names f0)' = 'convert convert-merge augment augment-merge features features-merge fuse train score ' ] &&
	grep -q '^submit.sh: submitted 9 jobs, last $(jid f0 score)\$' '$D/f0.log'"
submit s1 "$@" OUT="$D/s" SHARDS=1 FINETUNE=1
ok "SHARDS=1: one cut task per backbone, after the convert array, no merge" sh -c "
	[ '$(array s1 cut)' = 0-1 ] && [ '$(dep s1 cut)' = '$(jid s1 convert)' ] && [ -z '$(jid s1 cut-merge)' ] &&
	[ '$(dep s1 finetune)' = '$(jid s1 cut)' ]"
submit fa "$@" OUT="$D/s" SHARDS=2 FINETUNE=1 FT_AUGMENT=1
ok "FT_AUGMENT=1: the cuts wait for augment's merge, into ft-EXP-aug" sh -c "
	[ '$(dep fa cut)' = '$(jid fa augment-merge)' ] && [ '$(files fa ft-score)' = '$D/s/ft-inception_v3+mobilenet_v2-aug/report.html' ]"

# the images exist (made by make, unsharded): nothing to wait for
pmake "$@" OUT="$D/s" "$D/s/images-224.h5" "$D/s/images-299.h5" >"$D/conv.log" 2>&1
submit sx "$@" OUT="$D/s" SHARDS=2 FINETUNE=1
ok "with the images made: no convert job, the cuts and augment wait for nothing" sh -c "
	[ -s '$D/s/images-299.h5' ] && ! grep -q 'ctfuse-convert' '$D/sx.sb' && [ -n '$(jid sx cut)' ] &&
	[ -z '$(dep sx cut)' ] && [ -z '$(dep sx augment)' ] && [ '$(dep sx finetune)' = '$(jid sx cut-merge)' ]"

# ---- SHARDS=2 cut files, merged, equal the unsharded one ----
set -- "$@" FINETUNE=1 FT_BACKBONES=mobilenet_v2 CUT_mobilenet_v2=block_5_add FEATURE_ARGS="--batch 2"
c=cut-mobilenet_v2.block_5_add-noaug.h5
pmake "$@" OUT="$D/m1" "$D/m1/$c" >"$D/m1.log" 2>&1
pmake "$@" OUT="$D/m2" SHARDS=2 -j2 "$D/m2/$c" >"$D/m2.log" 2>&1
ok "make SHARDS=2 cuts in 2 shards (resumable) and merges them" sh -c "
	[ \$(grep -c '^ct-features .*--cut block_5_add .*--shard [12]/2 .*--resume' '$D/m2.log') -eq 2 ] && grep -q '^ct-merge ' '$D/m2.log'"
ok "... into the unsharded cut file" /usr/bin/python3 "$top/scripts/h5_same.py" "$D/m1/$c" "$D/m2/$c"
pmake "$@" OUT="$D/m2" SHARDS=2 -q "$D/m2/$c"
t_report $? "... which is up to date afterwards (make -q)"
echo "1..$T_N"
[ "$T_FAILS" -eq 0 ]
