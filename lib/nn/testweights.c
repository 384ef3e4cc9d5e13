/* testweights.c - deterministic synthetic weights and inputs, bit-identical to tests/conformance/goldens.js. */
#include "nn/testweights.h"

#include <math.h>
#include <string.h>

uint32_t ct_fmix32(uint32_t k)
{
	k ^= k >> 16;
	k *= 0x85ebca6bu;
	k ^= k >> 13;
	k *= 0xc2b2ae35u;
	k ^= k >> 16;
	return k;
}

uint32_t ct_fnv1a32(const char *s)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h;
}

void ct_testweight_fill(const char *layer, int tensor_index, const char *short_name,
			int ndim, const int64_t *shape, float *out)
{
	uint32_t h = ct_fnv1a32(layer) ^ ct_fmix32((uint32_t)tensor_index + 1u);
	int64_t n = 1;
	for (int d = 0; d < ndim; d++)
		n *= shape[d];

	/* value = a * (2u - 1) + 0 for symmetric tensors, or lo + span * u; all in double
	 * and rounded once to float32, as Math.fround does in the JS twin. */
	int symmetric = 1;
	double a = 0.1, lo = 0.0, span = 1.0;
	if (!strcmp(short_name, "kernel") || !strcmp(short_name, "depthwise_kernel")) {
		double fan_in = 1.0;
		int upto = !strcmp(short_name, "kernel") ? ndim - 1 : (ndim < 2 ? ndim : 2);
		for (int d = 0; d < upto; d++)
			fan_in *= (double)shape[d];
		a = sqrt(6.0 / fan_in);
	} else if (!strcmp(short_name, "gamma")) {
		symmetric = 0;
		lo = 0.8;
		span = 0.4;
	} else if (!strcmp(short_name, "moving_variance")) {
		symmetric = 0;
		lo = 0.5;
		span = 1.0;
	} /* bias, beta, moving_mean and any other name: (2u-1) * 0.1 */

	for (int64_t i = 0; i < n; i++) {
		uint32_t r = ct_fmix32(h ^ ct_fmix32((uint32_t)i + 1u));
		double u = (double)r / 4294967296.0;
		double v = symmetric ? (2.0 * u - 1.0) * a : lo + span * u;
		out[i] = (float)v;
	}
}

void ct_testinput_fill(int n, int h, int w, uint8_t *out)
{
	uint32_t seed = 0x1234567u + (uint32_t)n * 0x9E3779B9u;
	size_t count = (size_t)h * (size_t)w * 3;
	for (size_t i = 0; i < count; i++)
		out[i] = (uint8_t)(ct_fmix32(seed ^ ct_fmix32((uint32_t)i + 1u)) & 255u);
}
