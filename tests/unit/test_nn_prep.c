/* test_nn_prep.c - the vectorised input preprocessing (prep.h) gives, value for value, the
 * float32 arithmetic of Keras preprocess_input as numpy does it (one value at a time here),
 * for every mode, every byte value, lengths not a multiple of the vector width. */
#include "test.h"
#include "nn/prep.h"

#include <math.h>

static float one(ct_prep prep, const uint8_t *px, int ch)
{
	static const float caffe_mean[3] = { 103.939f, 116.779f, 123.68f };
	static const float torch_mean[3] = { 0.485f, 0.456f, 0.406f };
	static const float torch_std[3] = { 0.229f, 0.224f, 0.225f };
	switch (prep) {
	case CT_PREP_TF: {
		float v = (float)px[ch];
		v = v / 127.5f;
		return v - 1.f;
	}
	case CT_PREP_CAFFE: {
		float v = (float)px[2 - ch];
		return v - caffe_mean[ch];
	}
	case CT_PREP_TORCH: {
		float v = (float)px[ch] / 255.f;
		v = v - torch_mean[ch];
		return v / torch_std[ch];
	}
	default:
		return (float)px[ch];
	}
}

int main(void)
{
	enum { NPIX = 301 };
	uint8_t p[NPIX * 3];
	for (int i = 0; i < NPIX * 3; i++)
		p[i] = (uint8_t)((i * 97 + i / 256) & 255); /* every byte value, mixed channels */
	static const ct_prep modes[] = { CT_PREP_TF, CT_PREP_NONE, CT_PREP_CAFFE, CT_PREP_TORCH };
	static const char *names[] = { "tf", "none", "caffe", "torch" };
	for (int m = 0; m < 4; m++) {
		float x[NPIX * 3];
		ct_prep_u8(modes[m], 3, p, NPIX * 3, x);
		int same = 1;
		double worst = 0;
		for (int i = 0; i < NPIX; i++)
			for (int ch = 0; ch < 3; ch++) {
				float want = one(modes[m], p + 3 * i, ch);
				same &= memcmp(&x[3 * i + ch], &want, sizeof want) == 0;
				/* against double: within float rounding of the formula */
				double v = modes[m] == CT_PREP_TF	? p[3 * i + ch] / 127.5 - 1
					   : modes[m] == CT_PREP_CAFFE ? p[3 * i + 2 - ch] - (double[]){ 103.939, 116.779, 123.68 }[ch]
					   : modes[m] == CT_PREP_TORCH ? (p[3 * i + ch] / 255.0 - (double[]){ 0.485, 0.456, 0.406 }[ch]) / (double[]){ 0.229, 0.224, 0.225 }[ch]
									 : p[3 * i + ch];
				double e = fabs(x[3 * i + ch] - v);
				worst = e > worst ? e : worst;
			}
		ok(same && worst < 1e-4, "prep '%s': %d pixels as numpy's float32 steps, bit for bit "
		   "(largest difference to double %.2g)", names[m], NPIX, worst);
	}
	/* one channel: 'caffe' and 'torch' are taken as 'none', odd lengths for 'tf' */
	float x[13];
	ct_prep_u8(CT_PREP_CAFFE, 1, p, 13, x);
	int same = 1;
	for (int i = 0; i < 13; i++)
		same &= x[i] == (float)p[i];
	ct_prep_u8(CT_PREP_TF, 1, p, 13, x);
	for (int i = 0; i < 13; i++)
		same &= x[i] == (float)p[i] / 127.5f - 1.f;
	ok(same, "one channel: 'caffe' is the identity, 'tf' on 13 values (a vector and a tail)");
	TEST_DONE();
}
