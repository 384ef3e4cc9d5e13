/* testweights.h - deterministic synthetic weights and inputs shared with the
 * TensorFlow.js conformance script (tests/conformance/), which reproduces them
 * bit for bit in JavaScript with 32-bit integer arithmetic.
 *
 *   fmix32(k)  murmur3 finaliser: k^=k>>16; k*=0x85ebca6b; k^=k>>13; k*=0xc2b2ae35; k^=k>>16
 *   fnv1a32(s) FNV-1a over the bytes of s (offset 2166136261, prime 16777619)
 *   h          fnv1a32(layer_name) ^ fmix32(tensor_index + 1)   (tensor_index: Keras order)
 *   u(i)       fmix32(h ^ fmix32(i + 1)) / 2^32   for flat element i (row-major Keras shape)
 *   value      by short name, computed in double and rounded to float32:
 *     kernel, depthwise_kernel: (2u-1) * sqrt(6 / fan_in)   fan_in = product of all dims but
 *                                                           the last (kernel) or kh*kw (depthwise)
 *     bias, beta, moving_mean:  (2u-1) * 0.1
 *     gamma:                    0.8 + 0.4u
 *     moving_variance:          0.5 + u
 *   input pixel (image n, flat index i of H*W*3): fmix32(0x1234567 + n*0x9E3779B9 ^ fmix32(i+1)) & 255,
 *   as uint8, all arithmetic mod 2^32. */
#ifndef CT_TESTWEIGHTS_H
#define CT_TESTWEIGHTS_H

#include <stdint.h>

uint32_t ct_fmix32(uint32_t k);
uint32_t ct_fnv1a32(const char *s);
/* Fill n floats of tensor `tensor_index` of `layer`, whose Keras shape is shape[ndim]. */
void ct_testweight_fill(const char *layer, int tensor_index, const char *short_name,
			int ndim, const int64_t *shape, float *out);
/* Fill a synthetic uint8 input image n of size h x w x 3. */
void ct_testinput_fill(int n, int h, int w, uint8_t *out);

#endif
