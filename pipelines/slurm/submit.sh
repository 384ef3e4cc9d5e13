#!/bin/bash
# submit.sh - the COVID-CT experiment (pipelines/covid-ct.mk) as a Slurm job graph:
#   convert -> augment -> features -> fuse -> train -> score
# each of the first three an array of SHARDS tasks per input size or backbone followed by a
# ct-merge job, chained with --dependency=afterok. Every task runs covid-ct.mk for its own
# files, so the file names, parameters and results are those of the make pipeline, and either
# picks up the other's outputs.
#
#   pipelines/slurm/submit.sh [VAR=value ...] [-- SBATCH-OPTION ...]
#   pipelines/slurm/submit.sh DATA=/shared/covid-ct OUT=/shared/out SHARDS=16 CPUS=4 \
#       BACKBONES="inception_v3 mobilenet_v2" -- --partition=long --mem=8G
#
# VAR=value: every variable of covid-ct.mk (DATA, OUT, BACKBONES, LAYER_*, AUGMENT, SPLIT,
# GROUPS, *_ARGS, EXP, ...) plus SHARDS (default 4) and CPUS (--cpus-per-task; default: the
# partition's default; tasks use SLURM_CPUS_PER_TASK threads). Options after -- go to every
# sbatch. Only what is missing or out of date is submitted: run it again after a failure, a
# scancel or a parameter change. Logs: OUT/logs/STAGE-JOB_TASK.out. Prints one line per job
# submitted, then "submitted N jobs, last JOB" (or "nothing to submit: up to date").
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
	dep=$id last=$id njobs=$((njobs + 1))
}
for stage in convert augment features; do
	# shellcheck disable=SC2046
	set -- $(line "$stage")
	[ $# -gt 0 ] || continue
	if [ "$shards" -gt 1 ]; then
		merged=$(pending $(line "$stage-merge"))
		[ -n "$merged" ] || continue
		todo=$(pending "$@")
		[ -z "$todo" ] || submit "$stage" 1 $todo
		submit "$stage-merge" 0 $merged
	else
		todo=$(pending "$@")
		[ -z "$todo" ] || submit "$stage" 1 $todo
	fi
done
for stage in fuse train score; do
	todo=$(pending $(line "$stage"))
	[ -z "$todo" ] || submit "$stage" 0 $todo
done
if [ "$njobs" = 0 ]; then
	echo "submit.sh: nothing to submit: up to date"
else
	echo "submit.sh: submitted $njobs jobs, last $last"
fi
