#!/bin/bash
# submit.sh - the COVID-CT experiment (pipelines/covid-ct.mk) as a Slurm job graph:
#   convert -> augment -> features -> fuse -> train -> score
# and with FINETUNE=1 the fine-tuned experiment (OUT/ft-EXP) as a second branch, from the
# images (convert; augment with FT_AUGMENT=1), beside augment, features and the rest:
#   convert -> cut -> finetune -> ft-score
# Convert, augment, features and cut are each an array of SHARDS tasks per input size or
# backbone followed by a ct-merge job, chained with --dependency=afterok. Every task runs
# covid-ct.mk for its own files, so the file names, parameters and results are those of the
# make pipeline, and either picks up the other's outputs.
#
#   pipelines/slurm/submit.sh [VAR=value ...] [-- SBATCH-OPTION ...]
#   pipelines/slurm/submit.sh DATA=/shared/covid-ct OUT=/shared/out SHARDS=16 CPUS=4 \
#       BACKBONES="inception_v3 mobilenet_v2" -- --partition=long --mem=8G
#   pipelines/slurm/submit.sh DATA=/shared/covid-ct OUT=/shared/out SHARDS=16 CPUS=4 \
#       FINETUNE=1 -- --partition=long --mem=8G
#
# VAR=value: every variable of covid-ct.mk (DATA, OUT, BACKBONES, LAYER_*, AUGMENT, SPLIT,
# GROUPS, *_ARGS, EXP, FINETUNE, FT_BACKBONES, CUT_*, FT_AUGMENT, FT_ARGS, ...) plus SHARDS
# (default 4) and CPUS (--cpus-per-task; default: the partition's default; tasks use
# SLURM_CPUS_PER_TASK threads). Options after -- go to every
# sbatch. Only what is missing or out of date is submitted: run it again after a failure, a
# scancel or a parameter change. Logs: OUT/logs/STAGE-JOB_TASK.out. Prints one line per job
# submitted, then "submitted N jobs, last JOB" (or "nothing to submit: up to date"); with
# FINETUNE=1, when both branches have jobs, "last J1:J2" (afterany:J1:J2 waits for both).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@" # also when started with sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mkfile=$(cd "$here/.." && pwd)/covid-ct.mk
shards=4 cpus= vars=() extra=()
while [ $# -gt 0 ]; do
	case $1 in
	--) shift; extra=("$@"); break ;;
	SHARDS=*) shards=${1#SHARDS=} ;;
	CPUS=*) cpus=${1#CPUS=} ;;
	*=*) vars+=("$1") ;;
	*) echo "submit.sh: '$1' is not VAR=value (sbatch options go after --)" >&2; exit 2 ;;
	esac
	shift
done
case $shards in '' | *[!0-9]* | 0) echo "submit.sh: SHARDS must be a positive number" >&2; exit 2 ;; esac
vars+=("SHARDS=$shards")
mk=(make --no-print-directory -f "$mkfile" "${vars[@]}")
command -v sbatch >/dev/null || { echo "submit.sh: sbatch not found (run this on a Slurm login node)" >&2; exit 1; }
# Parameter stamps first, so that the tasks running side by side find them current.
"${mk[@]}" stamps >/dev/null
plan=$("${mk[@]}" plan)
line() { echo "$plan" | sed -n "s/^$1 //p"; }
out=$(line out)
mkdir -p "$out/logs"

# Targets among $@ that make would remake.
pending() {
	local t
	for t; do "${mk[@]}" -q "$t" >/dev/null 2>&1 || echo "$t"; done
}
dep= njobs=0 last=
declare -A made_by=() # file -> the job submitted to make it
submit() { # NAME ARRAY(0|1) TARGET...
	local name=$1 array=$2
	shift 2
	local args=(--parsable --job-name="ctfuse-$name" --kill-on-invalid-dep=yes)
	if [ "$array" = 1 ]; then
		args+=(--array="0-$(($# - 1))" --output="$out/logs/$name-%A_%a.out")
	else
		args+=(--output="$out/logs/$name-%j.out")
	fi
	[ -z "$dep" ] || args+=(--dependency="afterok:$dep")
	[ -z "$cpus" ] || args+=(--cpus-per-task="$cpus")
	local id
	id=$(sbatch "${args[@]}" ${extra[@]+"${extra[@]}"} "$here/stage.sbatch" "$mkfile" "${vars[@]}" -- "$@")
	id=${id%%;*}
	if [ "$array" = 1 ]; then
		echo "submit.sh: $name: job $id, array of $# tasks${dep:+, after $dep}"
	else
		echo "submit.sh: $name: job $id, $# file$([ $# = 1 ] || echo s)${dep:+, after $dep}"
	fi
	for t; do made_by[$t]=$id; done
	dep=$id last=$id njobs=$((njobs + 1))
}
# files_stage STAGE: the stage's pending files as one job array (with SHARDS > 1 the pending
# shards, then a STAGE-merge job, both only when the merged files are pending), after $dep.
files_stage() {
	local stage=$1 todo merged
	# shellcheck disable=SC2046
	set -- $(line "$stage")
	[ $# -gt 0 ] || return 0
	if [ "$shards" -gt 1 ]; then
		# shellcheck disable=SC2046
		merged=$(pending $(line "$stage-merge"))
		[ -n "$merged" ] || return 0
		todo=$(pending "$@")
		[ -z "$todo" ] || submit "$stage" 1 $todo
		submit "$stage-merge" 0 $merged
	else
		todo=$(pending "$@")
		[ -z "$todo" ] || submit "$stage" 1 $todo
	fi
}
# single_stage STAGE: one job for the stage's pending files, after $dep.
single_stage() {
	local todo
	# shellcheck disable=SC2046
	todo=$(pending $(line "$1"))
	[ -z "$todo" ] || submit "$1" 0 $todo
}
for stage in convert augment features; do files_stage "$stage"; done
for stage in fuse train score; do single_stage "$stage"; done
# FINETUNE=1: the cut activations wait only for the jobs making the files they read
# (cut-input: the images or augmented images), not for the head-only stages; then the
# fine-tuning and its scoring. The two branches end in two jobs: "last" names both (J1:J2).
if [ -n "$(line finetune)" ]; then
	ends=$last n0=$njobs dep=
	for f in $(line cut-input); do
		id=${made_by[$f]:-}
		[ -n "$id" ] || continue
		case ":$dep:" in *":$id:"*) ;; *) dep=${dep:+$dep:}$id ;; esac
	done
	files_stage cut
	single_stage finetune
	single_stage ft-score
	[ "$njobs" = "$n0" ] || last=${ends:+$ends:}$last
fi
if [ "$njobs" = 0 ]; then
	echo "submit.sh: nothing to submit: up to date"
else
	echo "submit.sh: submitted $njobs jobs, last $last"
fi
