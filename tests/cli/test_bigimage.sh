#!/bin/sh
# test_bigimage.sh - memory of ct-convert on a large image: a 9999 x 9999 grey PNG (145 KB on
# disk, 100 MB of pixels) converts at 1 thread within a peak RSS bound (it took 1.3 GB when the
# image was held as RGB floats), to the values a reference computes from the band pattern; and
# an image over the pixel cap (--max-pixels, default 100 megapixels) is refused from its header
# with a one-line error.
. "$(dirname "$0")/lib.sh"
D=$T_DIR
PY=/usr/bin/python3
if ! $PY -c "import h5py, numpy, resource" 2>/dev/null; then
	echo "1..0 # skip /usr/bin/python3 with h5py and numpy missing"
	exit 0
fi
mkdir -p "$D/big/scan"
$PY "$T_TOP/tests/ref/make_big_png.py" "$D/big/scan/big.png" 9999 9999 || echo "not ok 0 - the PNG could not be written"

# peak_rss_kb COMMAND...: run COMMAND, print its peak resident set in KB (getrusage of the
# children), exit with its status
peak_rss_kb() {
	$PY -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)' "$@"
}
LIMIT_KB=300000
status 0 "ct-convert converts a 9999 x 9999 PNG at 1 thread" \
	peak_rss_kb ct-convert "$D/big" --size 64 -j 1 -q -o "$D/big.h5"
kb=$(tail -n 1 "$T_DIR/out")
echo "# peak RSS of ct-convert on a 9999 x 9999 grey PNG: ${kb:-?} KB"
[ -n "$kb" ] && [ "$kb" -lt $LIMIT_KB ]
t_report $? "its peak RSS (${kb:-?} KB) is under $LIMIT_KB KB (1 byte per pixel plus rows)" || :
# reference: the area filter of a product of two box profiles is the product of their box
# averages; the band covers rows and columns [2499, 7499) of 9999 (tests/ref/make_big_png.py)
ok "the converted image is the area average of the band pattern (within 1 grey level)" $PY -c "
import h5py, numpy as np, sys
f = h5py.File(sys.argv[1], 'r')
im = f['images'][0].astype(float)
s = 9999 / 64
cover = np.array([max(0.0, min((i + 1) * s, 7499) - max(i * s, 2499)) / s for i in range(64)])
want = 0x10 + (0xc0 - 0x10) * np.outer(cover, cover)
ok = im.shape == (64, 64, 3) and np.abs(im - want[:, :, None]).max() <= 1.0
sys.exit(0 if ok and f['orig_size'][0].tolist() == [9999, 9999] else 1)
" "$D/big.h5"

# the pixel cap: checked from the header, before any pixel is decompressed
mkdir -p "$D/huge/scan"
$PY "$T_TOP/tests/ref/make_big_png.py" "$D/huge/scan/huge.png" 10001 10000 >/dev/null 2>&1 ||
	echo "not ok 0 - the PNG could not be written"
status 1 "an image over the default cap of 100 megapixels is refused" \
	peak_rss_kb ct-convert "$D/huge" --size 64 -j 1 -q -o "$D/huge.h5"
err_has "10001x10000, over the limit of 100000000 pixels" "the message gives the size and the cap"
err_has "huge.png" "the message names the file"
err_one_line "the error is one line"
ok "no output" [ ! -e "$D/huge.h5" ]
kb=$(tail -n 1 "$T_DIR/out")
[ -n "$kb" ] && [ "$kb" -lt 100000 ]
t_report $? "refused before decoding (peak RSS ${kb:-?} KB)" || :
status 1 "--max-pixels lowers the cap" ct-convert "$D/big" --size 64 --max-pixels 50 -q -o "$D/cap.h5"
err_has "over the limit of 50000000 pixels" "the message gives the lowered cap"
echo "1..$T_N"
[ "$T_FAILS" -eq 0 ]
