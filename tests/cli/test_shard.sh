#!/bin/sh
# test_shard.sh - --shard K/N of ct-convert, ct-augment, ct-features and ct-merge: the merged
# shards hold the datasets of an unsharded run (bit-identical, same layout), in any argument
# order and for shard counts that do not divide the rows; a missing, doubled or foreign shard
# is named and nothing is written; an interrupted shard resumes.
. "$(dirname "$0")/lib.sh"
D=$T_DIR
same() { /usr/bin/python3 "$T_TOP/scripts/h5_same.py" "$@"; }
ct-phantom -o "$D/ph" --patients 7 --slices-per-patient 2 --size 64 --seed 3 --split-dir "$D/split" >/dev/null 2>&1
conv() { ct-convert "$D/ph" --size 64 --split "$D/split" --groups "$D/ph/patients.tsv" -q "$@"; }
conv -o "$D/img.h5"
for k in 1 2 3; do conv --shard $k/3 -o "$D/img.$k.h5"; done
ok "ct-merge joins ct-convert shards given in any order" ct-merge "$D/img.3.h5" "$D/img.1.h5" "$D/img.2.h5" -o "$D/img.m.h5" -q
ok "merged convert shards = the unsharded images file (datasets, attributes, layout)" same "$D/img.h5" "$D/img.m.h5"
ok "a shard holds its range of the sorted files" sh -c "[ \$(ct-info '$D/img.1.h5' | grep -c .) -gt 0 ] && /usr/bin/python3 -c \"
import h5py,sys
a=h5py.File('$D/img.h5','r'); b=h5py.File('$D/img.2.h5','r')
n=len(a['names']); s,e=b.attrs['shard_first'],b.attrs['shard_end']
sys.exit(not (s==n//3 and e==2*n//3 and list(b['names'])==list(a['names'][s:e])))\""
ct-augment "$D/img.h5" --copies 2 --rotate 15 --shear 5 --seed 7 -o "$D/aug.h5" -q
for k in 1 2 3 4 5; do ct-augment "$D/img.h5" --copies 2 --rotate 15 --shear 5 --seed 7 --shard $k/5 -o "$D/aug.$k.h5" -q; done
ok "merged augment shards = the unsharded augmented file (5 shards of 14 rows)" sh -c \
	"ct-merge '$D'/aug.?.h5 -o '$D/aug.m.h5' -q && /usr/bin/python3 '$T_TOP/scripts/h5_same.py' '$D/aug.h5' '$D/aug.m.h5'"
conv --lung-mask -o "$D/lm.h5"
ct-augment "$D/lm.h5" --copies 1 --rotate 10 --seed 7 -o "$D/lma.h5" -q
status 0 "ct-augment --shard of a file with a lung_mask" ct-augment "$D/lm.h5" --copies 1 --rotate 10 --seed 7 --shard 1/2 -o "$D/lma.1.h5" -q
ct-augment "$D/lm.h5" --copies 1 --rotate 10 --seed 7 --shard 2/2 -o "$D/lma.2.h5" -q
ok "... merged = the unsharded augmented file, lung_mask included" sh -c \
	"ct-merge '$D'/lma.?.h5 -o '$D/lma.m.h5' -q && /usr/bin/python3 '$T_TOP/scripts/h5_same.py' '$D/lma.h5' '$D/lma.m.h5'"
mkdir -p "$D/w"
ct-weights synth --backbone mobilenet_v2 -o "$D/w/mobilenet_v2.h5" -q
feat() { ct-features --backbone mobilenet_v2 -w "$D/w/mobilenet_v2.h5" --layer block_3_project_BN --batch 4 -q "$@"; }
conv --size 224 -o "$D/i224.h5"
ct-augment "$D/i224.h5" --copies 1 --rotate 10 --seed 1 -o "$D/a224.h5" -q
feat "$D/a224.h5" -o "$D/f.h5"
for k in 1 2 3 4; do feat --shard $k/4 "$D/a224.h5" -o "$D/f.$k.h5"; done
ok "merged feature shards = the unsharded features, bit for bit" sh -c \
	"ct-merge '$D'/f.?.h5 -o '$D/f.m.h5' -q && /usr/bin/python3 '$T_TOP/scripts/h5_same.py' '$D/f.h5' '$D/f.m.h5'"
ok "the merged file records the shard run and the merge (provenance)" sh -c \
	"ct-info '$D/f.m.h5' | grep -q 'ct-merge' && ct-info '$D/f.m.h5' | grep -q -- '--shard 1/4'"
status 1 "a missing shard fails" ct-merge "$D/f.1.h5" "$D/f.2.h5" "$D/f.4.h5" -o "$D/x.h5"
err_has "missing shard 3/4" "... naming it"
ok "... and writes nothing" [ ! -e "$D/x.h5" ]
status 1 "a shard given twice fails" ct-merge "$D/f.1.h5" "$D/f.2.h5" "$D/f.2.h5" "$D/f.3.h5" "$D/f.4.h5" -o "$D/x.h5"
err_has "are both shard 2/4" "... naming it"
feat --shard 3/4 --pool max "$D/a224.h5" -o "$D/g.3.h5"
status 1 "a shard made with other settings fails" ct-merge "$D/f.1.h5" "$D/f.2.h5" "$D/g.3.h5" "$D/f.4.h5" -o "$D/x.h5"
err_has "'$D/g.3.h5' (shard 3/4) does not match .* pooling 'max', not 'avg'" "... naming the shard and the setting"
ct-augment "$D/i224.h5" --copies 1 --rotate 10 --seed 2 -o "$D/b224.h5" -q
feat --shard 2/4 "$D/b224.h5" -o "$D/h.2.h5"
status 1 "a shard of another input fails" ct-merge "$D/f.1.h5" "$D/h.2.h5" "$D/f.3.h5" "$D/f.4.h5" -o "$D/x.h5"
err_has "'$D/h.2.h5' (shard 2/4) comes from another input" "... naming it"
feat --batch 2 --shard 2/4 "$D/a224.h5" -o "$D/h.2.h5" --force
status 1 "a shard with another parameter fails" ct-merge "$D/f.1.h5" "$D/h.2.h5" "$D/f.3.h5" "$D/f.4.h5" -o "$D/x.h5"
err_has "\-\-batch 2, not 4" "... naming the option"
feat --shard 2/3 "$D/a224.h5" -o "$D/h.2.h5" --force
status 1 "shards of another split fail" ct-merge "$D/f.1.h5" "$D/h.2.h5" "$D/f.3.h5" "$D/f.4.h5" -o "$D/x.h5"
err_has "shards of different runs" "... saying so"
status 1 "an unsharded file is refused" ct-merge "$D/f.h5" -o "$D/x.h5"
err_has "is not a shard" "... saying so"
status 1 "features and images shards do not mix" ct-merge "$D/f.1.h5" "$D/aug.2.h5" -o "$D/x.h5"
status 2 "--shard 0/4 is a usage error" feat --shard 0/4 "$D/a224.h5" -o "$D/x.h5"
status 2 "--shard 5/4 is a usage error" ct-augment --shard 5/4 "$D/img.h5" -o "$D/x.h5"
status 1 "an empty shard (more shards than rows) is an error" ct-augment --shard 1/1000 "$D/img.h5" -o "$D/x.h5"
err_has "is empty" "... saying so"
# an interrupted shard resumes into the same shard file
CT_TEST_INTERRUPT_AFTER=4 feat --shard 1/4 "$D/a224.h5" -o "$D/r.1.h5" 2>/dev/null
ok "an interrupted shard leaves its .partial file" [ -f "$D/r.1.h5.partial" ]
status 1 "resuming it as another shard is refused" feat --shard 2/4 --resume "$D/a224.h5" -o "$D/r.1.h5"
ok "resuming the same shard completes it" feat --shard 1/4 --resume "$D/a224.h5" -o "$D/r.1.h5"
ok "the resumed shard equals the uninterrupted one" same "$D/f.1.h5" "$D/r.1.h5"
# progress in logs (stderr not a terminal): a line per 5 % of the rows, with rate and ETA
n=$(/usr/bin/python3 -c "import h5py; print(len(h5py.File('$D/a224.h5','r')['names']))")
ct-features --backbone mobilenet_v2 -w "$D/w/mobilenet_v2.h5" --layer block_3_project_BN --batch 1 "$D/a224.h5" \
	-o "$D/p.h5" 2>"$D/progress.log"
lines=$(grep -cE "^ct-features: [0-9]+/$n images \([0-9]+%\), [0-9.]+ images/s, ETA [0-9]+:[0-9][0-9]\$" "$D/progress.log")
ok "without a terminal, progress lines with rate and ETA at every 5 % ($lines lines for $n rows)" \
	[ "$lines" -ge $((n < 20 ? n : 20)) ] && [ "$lines" -le $((n + 1)) ]
ok "the last progress line says 100 %" grep -q "^ct-features: $n/$n images (100%)" "$D/progress.log"
ct-features --backbone mobilenet_v2 -w "$D/w/mobilenet_v2.h5" --layer block_3_project_BN --batch 1 "$D/a224.h5" \
	-o "$D/p.h5" --force -q 2>"$D/quiet.log"
ok "-q: no progress lines" [ ! -s "$D/quiet.log" ]
echo "1..$T_N"
[ "$T_FAILS" -eq 0 ]
