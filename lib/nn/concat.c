/* concat.c - Concatenate along channels (an input written in place is skipped). */
#include "nn/ops.h"
#include "nn/graph.h"
#include "ops_par.h"

#include <string.h>

void ct_op_concat(int64_t rows, int nin, const float *const *in, const int *c, float *out,
		  int64_t out_pitch, int nthreads)
{
	nthreads = par_threads(rows * out_pitch, nthreads);
	PAR_RANGE(rows, nthreads, r0, r1)
	{
		for (int64_t r = r0; r < r1; r++) {
			float *o = out + r * out_pitch;
			for (int i = 0; i < nin; i++) {
				if (in[i]) /* NULL: already written in place */
					memcpy(o, in[i] + r * c[i], (size_t)c[i] * sizeof(float));
				o += c[i];
			}
		}
	}
}
