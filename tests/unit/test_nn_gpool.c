/* test_nn_gpool.c - global average / max pooling (ct_op_gpool, read position by position
 * over blocks of channels) gives the bits of the plain per-channel loop: each channel's
 * positions summed in order in double, then divided; shapes with channel blocks and tails. */
#include "test.h"
#include "core/rng.h"
#include "nn/ops.h"

#include <float.h>

static void ref_gpool(int is_max, int n, int64_t hw, int c, const float *in, float *out)
{
	for (int i = 0; i < n; i++)
		for (int ch = 0; ch < c; ch++) {
			const float *p = in + (int64_t)i * hw * c + ch;
			double s = 0;
			float m = -FLT_MAX;
			for (int64_t q = 0; q < hw; q++) {
				s += p[q * c];
				m = p[q * c] > m ? p[q * c] : m;
			}
			out[(int64_t)i * c + ch] = is_max ? m : (float)(s / (double)hw);
		}
}

int main(void)
{
	static const int shapes[][3] = { /* n, hw, c */
					 { 1, 64, 2048 }, { 2, 49, 1280 }, { 3, 100, 300 },
					 { 1, 1, 7 },	  { 2, 5, 257 } };
	ct_rng rng;
	ct_rng_init(&rng, 5, 0);
	for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
		int n = shapes[s][0], hw = shapes[s][1], c = shapes[s][2];
		size_t numel = (size_t)n * hw * c;
		float *in = malloc(numel * sizeof(float));
		float *a = malloc((size_t)n * c * sizeof(float)), *b = malloc((size_t)n * c * sizeof(float));
		for (size_t i = 0; i < numel; i++)
			in[i] = (float)ct_rng_range(&rng, -3, 5);
		for (int is_max = 0; is_max < 2; is_max++) {
			ct_op_gpool(is_max, n, hw, c, in, a);
			ref_gpool(is_max, n, hw, c, in, b);
			ok(!memcmp(a, b, (size_t)n * c * sizeof(float)),
			   "global %s pooling of %d x %d positions x %d channels: the per-channel "
			   "loop's bits", is_max ? "max" : "average", n, hw, c);
		}
		free(in), free(a), free(b);
	}
	TEST_DONE();
}
