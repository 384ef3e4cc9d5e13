/* zeropad.c - ZeroPadding2D. */
#include "nn/ops.h"
#include "nn/graph.h"
#include "ops_par.h"

#include <string.h>

void ct_op_zeropad(int n, int h, int w, int c, int t, int b, int l, int r, const float *in,
		   float *out, int nthreads)
{
	int oh = h + t + b, ow = w + l + r;
	int64_t rows = (int64_t)n * oh;
	nthreads = par_threads(rows * ow * c, nthreads);
	PAR_RANGE(rows, nthreads, r0, r1)
	{
		for (int64_t row = r0; row < r1; row++) {
			int img = (int)(row / oh), oy = (int)(row % oh);
			float *o = out + row * ow * c;
			int iy = oy - t;
			if (iy < 0 || iy >= h) {
				memset(o, 0, (size_t)ow * c * sizeof(float));
				continue;
			}
			memset(o, 0, (size_t)l * c * sizeof(float));
			memcpy(o + (int64_t)l * c, in + (((int64_t)img * h + iy) * w) * c,
			       (size_t)w * c * sizeof(float));
			memset(o + (int64_t)(l + w) * c, 0, (size_t)r * c * sizeof(float));
		}
	}
}
