#!/bin/sh
# check_slurm.sh - make check-slurm: the Slurm job graph (pipelines/slurm/submit.sh) on a real
# one-node Slurm cluster on localhost, against the make pipeline (pipelines/covid-ct.mk).
# Installs Debian's slurm-wlm and munge when missing (as root), starts munged (if no munge
# daemon answers), slurmctld and slurmd as root with a private configuration and ports
# (ProctrackType=proctrack/linuxproc, TaskPlugin=task/none: no cgroups needed), runs both
# pipelines on phantom data with synthetic weights and 4 shards, cancels one features task
# and resubmits (only that task and what follows run; it resumes from its partial file),
# requeues the resumed task while it runs, and checks that features are bit-identical and
# metrics equal. Stops the daemons it started and removes its files on any exit. Last line:
# "N passed, N failed". Set KEEP=1 to keep the folder (logs) for a look.
top=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-bin}
case $BIN in /*) ;; *) BIN=$top/$BIN ;; esac
PATH=$BIN:$PATH
export PATH
pass=0 fail=0
say() { echo "check-slurm: $*"; }
ok() { # DESCRIPTION COMMAND...
	d=$1
	shift
	if "$@"; then pass=$((pass + 1)); echo "ok - $d"; else fail=$((fail + 1)); echo "not ok - $d"; fi
}
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit $?
}
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
	if [ "$(id -u)" -ne 0 ]; then
		say "slurm-wlm and munge are missing and installing them needs root"
		fail=1
		finish
	fi
	say "installing slurm-wlm and munge"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null 2>&1; }
fi
ok "slurm-wlm and munge are installed" sh -c '{ command -v slurmctld && command -v slurmd && command -v munged; } >/dev/null'
[ "$(id -u)" -eq 0 ] || { say "the daemons run as root here: run as root"; fail=$((fail + 1)); finish; }
command -v slurmctld >/dev/null || finish

D=$(mktemp -d "${TMPDIR:-/tmp}/ctfuse-slurm-XXXXXX")
chmod 755 "$D"
pids=
stop() {
	# our cluster's jobs, then the daemons we started, each by its process id
	if [ -n "$pids" ]; then
		jobs=$(squeue -h -o %A 2>/dev/null | sort -u)
		[ -z "$jobs" ] || scancel $jobs 2>/dev/null
		for p in $pids; do kill "$p" 2>/dev/null; done
		for p in $pids; do
			i=0
			while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
		done
	fi
	[ -n "${KEEP:-}" ] && echo "check-slurm: kept $D" >&2 || rm -rf "$D"
}
trap stop EXIT
trap 'exit 1' INT TERM

# munge: use a running daemon, else start one (as the munge user, as Debian's service does).
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
	mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
	[ -f /etc/munge/munge.key ] || { mungekey -c >/dev/null 2>&1 || create-munge-key >/dev/null 2>&1; }
	runuser -u munge -- munged >"$D/munged.out" 2>&1
	pid=$(cat /run/munge/munged.pid 2>/dev/null || pgrep -u munge -n -x munged)
	[ -z "$pid" ] || pids="$pids $pid"
	i=0
	until munge -n 2>/dev/null | unmunge >/dev/null 2>&1 || [ $i -ge 50 ]; do sleep 0.2; i=$((i + 1)); done
fi
ok "munge authenticates" sh -c "munge -n | unmunge >/dev/null 2>&1"

host=$(hostname -s)
S=$D/cluster
mkdir -p "$S/state" "$S/spool"
cat >"$S/slurm.conf" <<CONF
ClusterName=ctfusecheck
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=26817
SlurmdPort=26818
AuthType=auth/munge
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
MinJobAge=3600
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerParameters=sched_interval=1
NodeName=$host CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=check Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
SLURM_CONF=$S/slurm.conf
export SLURM_CONF
slurmctld -D -i >"$S/slurmctld.out" 2>&1 &
pids="$pids $!"
sleep 1
slurmd -D -N "$host" >"$S/slurmd.out" 2>&1 &
pids="$pids $!"
i=0
until [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] || [ $i -ge 100 ]; do sleep 0.3; i=$((i + 1)); done
ok "a one-node Slurm cluster runs on localhost ($(sinfo -h -o '%N %c CPUs' 2>/dev/null))" [ "$(sinfo -h -o %T 2>/dev/null)" = idle ]
[ "$fail" -eq 0 ] || { tail -n 5 "$S"/*.log "$S"/*.out 2>/dev/null | sed 's/^/# /'; finish; }

# Data, weights, and the pipeline's variables (shared by make and Slurm).
ct-phantom -o "$D/ph" --patients 16 --slices-per-patient 2 --size 128 --seed 5 --split-dir "$D/split" >/dev/null 2>&1
mkdir -p "$D/w"
ct-weights synth --backbone inception_v3 -o "$D/w/inception_v3.h5" -q
ct-weights synth --backbone mobilenet_v2 -o "$D/w/mobilenet_v2.h5" -q
set -- CT_WEIGHTS_DIR="$D/w" DATA="$D/ph" SPLIT="$D/split" GROUPS="$D/ph/patients.tsv" \
	BACKBONES="inception_v3 mobilenet_v2" AUGMENT_ARGS="--copies 1 --rotate 10 --shear 5 --seed 1" \
	FEATURE_ARGS="--batch 1" FINETUNE_ARGS="--head logreg --epochs 30 --seed 1" \
	SCORE_ARGS="--threshold youden --bootstrap 200 --seed 1"
E=inception_v3+mobilenet_v2
cd "$D" || finish
make --no-print-directory -f "$top/pipelines/covid-ct.mk" "$@" OUT="$D/make" -j2 >"$D/make.log" 2>&1
ok "the make pipeline runs" [ -s "$D/make/$E/metrics.json" ]

submit() { "$top/pipelines/slurm/submit.sh" "$@" OUT="$D/slurm" SHARDS=4 CPUS=1; }
# wait_idle SECONDS: until our queue is empty
wait_idle() {
	i=0
	while [ -n "$(squeue -h -o %A 2>/dev/null)" ] && [ $i -lt $(($1 * 5)) ]; do sleep 0.2; i=$((i + 1)); done
	[ -z "$(squeue -h -o %A 2>/dev/null)" ]
}
# running_features: "JOBID_TASK" of a running features task that has written rows.
running_features() {
	squeue -h -n ctfuse-features -t R -o '%i' 2>/dev/null | while read -r id; do
		log=$(ls "$D/slurm/logs/features-${id%%_*}_${id#*_}.out" 2>/dev/null)
		[ -n "$log" ] && grep -q '^ct-features: [1-9][0-9]*/' "$log" && { echo "$id"; break; }
	done
}
submit "$@" >"$D/submit1.log" 2>&1
ok "submit.sh submits the job graph: arrays of 2 sizes or backbones x 4 shards, merges, fuse, train, score, chained" sh -c \
	"grep -q '^submit.sh: convert: job .*8 tasks' '$D/submit1.log' && grep -q '^submit.sh: convert-merge: job .*after' '$D/submit1.log' && grep -q '^submit.sh: features: job .*8 tasks' '$D/submit1.log' && grep -q '^submit.sh: score: job .*after' '$D/submit1.log'"
grep '^submit.sh' "$D/submit1.log" | sed 's/^/# /'
# cancel one features task once it is writing rows
i=0 victim=
while [ -z "$victim" ] && [ $i -lt 1500 ] && [ -n "$(squeue -h -o %A)" ]; do
	victim=$(running_features)
	[ -n "$victim" ] || sleep 0.2
	i=$((i + 1))
done
[ -z "$victim" ] || scancel "$victim"
ok "one running features task is cancelled (scancel $victim)" [ -n "$victim" ]
ok "the jobs that depended on it are cancelled with it, the rest finish" wait_idle 600
ok "the cancelled task left its partial features file" sh -c "ls '$D'/slurm/shards/feat-*.partial >/dev/null 2>&1"
submit "$@" >"$D/submit2.log" 2>&1
grep '^submit.sh' "$D/submit2.log" | sed 's/^/# /'
ok "resubmitting runs only what is missing: one features task, merge, fuse, train, score" sh -c \
	"grep -q '^submit.sh: features: job .*, array of 1 tasks' '$D/submit2.log' && ! grep -q -e '^submit.sh: convert' -e '^submit.sh: augment' '$D/submit2.log' && grep -q '^submit.sh: score' '$D/submit2.log'"
# requeue the resumed task while it runs: it starts again and resumes again
i=0 again=
while [ -z "$again" ] && [ $i -lt 1500 ] && [ -n "$(squeue -h -o %A)" ]; do
	again=$(running_features)
	[ -n "$again" ] || sleep 0.2
	i=$((i + 1))
done
[ -z "$again" ] || scontrol requeue "$again" 2>"$D/requeue.err"
# The resumed task has only what the cancelled one left: on a loaded host the victim may have
# been caught late and the rest done between two polls. Then there is nothing to requeue, and
# the two requeue checks are skipped (said so), not failed; a requeue that Slurm refuses fails.
if [ -z "$again" ]; then
	pass=$((pass + 1))
	echo "ok - the resumed task is requeued while it runs # skip it finished before it was seen running"
else
	ok "the resumed task is requeued while it runs (scontrol requeue $again)" sh -c "[ ! -s '$D/requeue.err' ]"
fi
ok "the graph finishes" wait_idle 600
log=$(ls "$D"/slurm/logs/features-*.out | xargs grep -l 'resuming at image' | head -n 1)
ok "the resubmitted task resumed from the cancelled task's partial file" [ -n "$log" ]
# Slurm may truncate the log when the task restarts, and a task requeued near its end finds
# its output complete; either way it must have restarted, and the outputs below must equal
# the make run's bit for bit.
if [ -z "$again" ]; then
	pass=$((pass + 1))
	echo "ok - the requeued task restarted and resumed # skip not requeued (above)"
else
	ok "the requeued task restarted and resumed" sh -c \
		"[ -n '$log' ] && grep -q 'restart 1' '$log' && grep -q 'resuming at image' '$log'"
fi

same() { /usr/bin/python3 "$top/scripts/h5_same.py" "$D/make/$1" "$D/slurm/$1"; }
for f in $(cd "$D/make" && ls images-*.h5 aug-*.h5 feat-*.h5); do
	ok "$f: the Slurm run's (4 shards, merged) equals the make run's, bit for bit" same "$f"
done
ok "$E/model.h5: the same classifier" same "$E/model.h5"
# same_metrics A B: two metrics.json files hold equal values (all but paths, checksums, provenance)
same_metrics() {
	/usr/bin/python3 -c "
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
drop = ('tool', 'version', 'model', 'features')
for d in (a, b):
    d.get('shortcut_audit', {}).pop('images', None)  # the images file's path
strip = lambda d: {k: v for k, v in d.items() if k not in drop}
sys.exit(strip(a) != strip(b) or not a.get('metrics'))" "$1" "$2"
}
ok "$E/metrics.json: equal metrics (every value but paths, checksums, provenance)" same_metrics \
	"$D/make/$E/metrics.json" "$D/slurm/$E/metrics.json"
submit "$@" >"$D/submit3.log" 2>&1
ok "resubmitting a finished graph submits nothing" grep -q 'nothing to submit: up to date' "$D/submit3.log"
ok "make -n on the Slurm run's outputs has nothing to do" sh -c \
	"make -n -f '$top/pipelines/covid-ct.mk' \"\$@\" OUT='$D/slurm' | grep -q 'Nothing to be done'" sh "$@"
first=$(cd "$D/slurm" && ls shards/feat-*.1-of-4.h5 | head -n 1)
sbatch --wait -o "$D/noop.out" "$top/pipelines/slurm/stage.sbatch" "$top/pipelines/covid-ct.mk" "$@" \
	OUT="$D/slurm" SHARDS=4 -- "$D/slurm/$first" >/dev/null 2>&1
rc=$?
ok "rerunning a finished task is a no-op that exits 0" sh -c "[ $rc -eq 0 ] && ! grep -q '^ct-' '$D/noop.out'"
# examples/slurm/features.sbatch, unmodified, from the top of the tree: 2 shards and a merge job
jid=$(cd "$top" && CT_WEIGHTS_DIR="$D/w" sbatch --parsable --array=1-2 -o "$D/example-%A_%a.out" \
	examples/slurm/features.sbatch "$D/slurm" mobilenet_v2)
f=feat-mobilenet_v2.block_10_project_BN
timeout 600 sbatch --wait --dependency="afterok:${jid%%;*}" --kill-on-invalid-dep=yes -o "$D/example-merge.out" \
	--wrap "ct-merge $D/slurm/shards/$f.1-of-2.h5 $D/slurm/shards/$f.2-of-2.h5 -o $D/example.h5" >/dev/null 2>&1
ok "examples/slurm/features.sbatch runs unmodified and gives the make run's features" \
	/usr/bin/python3 "$top/scripts/h5_same.py" --values "$D/make/$f.h5" "$D/example.h5"
ok "job logs show progress with rate and ETA" sh -c "grep -h '^ct-features: .*images/s, ETA' '$D'/slurm/logs/features-*.out | grep -q ."

# FINETUNE=1: the fine-tuned experiment, a second branch of the graph (convert -> cut ->
# finetune -> ft-score), from scratch in a new OUT with 2 shards, against the make run's.
F=ft-inception_v3+mobilenet_v2
set -- "$@" FINETUNE=1 FT_ARGS="--head mlp --hidden 8 --epochs 2 --batch 8 --backbone-lr 1e-3 --seed 1"
make --no-print-directory -f "$top/pipelines/covid-ct.mk" "$@" OUT="$D/make" -j2 >"$D/make-ft.log" 2>&1
ok "the make pipeline runs FINETUNE=1 ($F)" [ -s "$D/make/$F/metrics.json" ]
# AUGMENT=0 keeps it short: the fine-tuned experiment reads the plain images either way
fsubmit() { "$top/pipelines/slurm/submit.sh" "$@" AUGMENT=0 OUT="$D/slurm-ft" SHARDS=2 CPUS=1; }
fsubmit "$@" >"$D/submit-ft1.log" 2>&1
grep '^submit.sh' "$D/submit-ft1.log" | sed 's/^/# /'
# sjob LOG STAGE: the job a submit log gives STAGE; safter LOG STAGE: what that job waits for
sjob() { sed -n "s/^submit.sh: $2: job \([0-9]*\),.*/\1/p" "$1"; }
safter() { sed -n "s/^submit.sh: $2: job [0-9]*, .*, after \([0-9:]*\)\$/\1/p" "$1"; }
L=$D/submit-ft1.log
ok "submit.sh FINETUNE=1: cuts (2 backbones x 2 shards) after convert's merge, then cut-merge, finetune, ft-score" sh -c "
	[ -n '$(sjob "$L" convert-merge)' ] && grep -q '^submit.sh: cut: job .*, array of 4 tasks, after $(sjob "$L" convert-merge)\$' '$L' &&
	[ '$(safter "$L" cut-merge)' = '$(sjob "$L" cut)' ] && [ '$(safter "$L" finetune)' = '$(sjob "$L" cut-merge)' ] &&
	[ -n '$(sjob "$L" ft-score)' ] && [ '$(safter "$L" ft-score)' = '$(sjob "$L" finetune)' ] &&
	grep -q '^submit.sh: submitted 11 jobs, last $(sjob "$L" score):$(sjob "$L" ft-score)\$' '$L'"
ok "the FINETUNE=1 graph finishes" wait_idle 600
ok "... every job succeeded" sh -c "ls '$D'/slurm-ft/logs/ft-score-*.out >/dev/null && ! grep -q 'make: \*\*\*' '$D'/slurm-ft/logs/*.out"
same_ft() { /usr/bin/python3 "$top/scripts/h5_same.py" "$D/make/$1" "$D/slurm-ft/$1"; }
for f in $(cd "$D/make" && ls cut-*.h5); do
	ok "$f: the Slurm run's (2 shards, merged) equals the make run's, bit for bit" same_ft "$f"
done
ok "$F/model.h5: the same fine-tuned model" same_ft "$F/model.h5"
ok "$F/metrics.json: equal metrics" same_metrics "$D/make/$F/metrics.json" "$D/slurm-ft/$F/metrics.json"
ok "... and the head-only experiment beside it" [ -s "$D/slurm-ft/$E-noaug/metrics.json" ]
fsubmit "$@" >"$D/submit-ft2.log" 2>&1
ok "resubmitting the finished FINETUNE=1 graph submits nothing" grep -q 'nothing to submit: up to date' "$D/submit-ft2.log"
make -q -f "$top/pipelines/covid-ct.mk" "$@" AUGMENT=0 OUT="$D/slurm-ft" >/dev/null 2>&1
rc=$?
ok "make -q FINETUNE=1 on the Slurm run's outputs: up to date" [ "$rc" -eq 0 ]
finish
