#!/bin/sh
# test_features_profile.sh - ct-features --profile: the per-layer profile of a real run, to a
# file or standard output; the features are the same bits as without it; a profile that
# cannot be written fails the run and leaves no features; an existing profile is refused
# without --force.
. "$(dirname "$0")/lib.sh"
D=$T_DIR
(
	cd "$D" || exit 1
	ct-phantom -o "ph ant" --patients 3 --slices-per-patient 2 --size 48 --seed 5 >/dev/null 2>&1
	ct-convert "ph ant" --size 48 -o img.h5 -q
	ct-weights synth --backbone mobilenet_v2 -o w.h5 -q
	ct-features --backbone mobilenet_v2 --weights w.h5 --resize img.h5 -o plain.h5 -q
)
ok "fixtures: images, synthetic weights, features without a profile" test -s "$D/plain.h5"

status 0 "ct-features --profile FILE succeeds" \
	ct-features --backbone mobilenet_v2 --weights "$D/w.h5" --resize --batch 4 "$D/img.h5" \
	-o "$D/prof.h5" --profile "$D/my profile.txt" -q
# the profile: a header with the image count, one line per step, a summary per op kind whose
# times add up to the header's (within rounding)
ok "the profile names the 6 images of the run" grep -q "^# profile: 6 images" "$D/my profile.txt"
ok "the profile has a line per step, among them the first conv and a fused group" \
	sh -c "grep -q 'Conv1..Conv1_relu .*conv3x3/s2' '$D/my profile.txt' &&
	       grep -q 'block_2_expand..block_2_expand_relu' '$D/my profile.txt'"
ok "the per-op-kind times add up to the total of the header" \
	awk '/^# profile:/ { total = $5 } /^# per op kind/ { kinds = 1; next }
	     kinds && NF >= 6 { sum += $3 }
	     END { d = sum - total; if (d < 0) d = -d; exit !(total > 0 && d <= 0.01 * total + 0.005) }' \
	"$D/my profile.txt"
ok "the steps' GFLOP per image add up to the header's" \
	awk '/^# profile:/ { for (i = 1; i <= NF; i++) if ($i == "GFLOP" && $(i+1) == "per") total = $(i-1) }
	     /^# per op kind/ { kinds = 1; next }
	     kinds && NF >= 7 { sum += $7 }
	     END { d = sum - total; if (d < 0) d = -d; exit !(total > 0 && d <= 0.005 + 0.01 * total) }' \
	"$D/my profile.txt"
ok "profiling changes no feature (the same bits as without it)" \
	/usr/bin/python3 -c "
import h5py, numpy, sys
a = h5py.File(sys.argv[1], 'r')['features'][...]; b = h5py.File(sys.argv[2], 'r')['features'][...]
sys.exit(0 if a.shape == b.shape and numpy.array_equal(a, b) else 1)" "$D/plain.h5" "$D/prof.h5"

status 0 "--profile - writes the profile to standard output" \
	ct-features --backbone mobilenet_v2 --weights "$D/w.h5" --resize "$D/img.h5" \
	-o "$D/prof2.h5" --profile - -q
ok "the profile is on standard output" grep -q "^# per op kind" "$T_DIR/out"

status 1 "an existing profile is refused without --force" \
	ct-features --backbone mobilenet_v2 --weights "$D/w.h5" --resize "$D/img.h5" \
	-o "$D/prof3.h5" --profile "$D/my profile.txt" -q
err_has "my profile.txt" "the error names the profile file"
ok "and no features were written" test ! -e "$D/prof3.h5"

status 1 "a profile into a missing folder fails the run" \
	ct-features --backbone mobilenet_v2 --weights "$D/w.h5" --resize "$D/img.h5" \
	-o "$D/prof4.h5" --profile "$D/no such dir/p.txt" -q
err_has "no such dir/p.txt" "the error names the profile file"
ok "and leaves no features or temporary file" \
	sh -c "! ls '$D' | grep -q prof4"
if [ -e /dev/full ]; then
	status 1 "a profile to a full disk (/dev/full) fails the run" \
		ct-features --backbone mobilenet_v2 --weights "$D/w.h5" --resize "$D/img.h5" \
		-o "$D/prof5.h5" --profile /dev/full --force -q
	ok "and leaves no features" sh -c "! ls '$D' | grep -q prof5"
fi

echo "1..$T_N"
[ "$T_FAILS" -eq 0 ]
