/* activations.h - per-image activation maps at a cut layer (ct-features --cut): the
 * /activations dataset of a features file, N x H x W x C, one image per chunk, shuffled and
 * deflated, stored as float32 or IEEE half (float16: round to nearest even, relative error
 * at most 2^-11 for |v| in [2^-14, 65504]; smaller values keep an absolute error of at most
 * 2^-25; larger ones are an error). Read back as float32. */
#ifndef CT_ACTIVATIONS_H
#define CT_ACTIVATIONS_H

#include "io/h5.h"

#include <stdint.h>

uint16_t ct_f32_to_f16(float v); /* round to nearest even; overflow gives +-Inf */
float ct_f16_to_f32(uint16_t h);

/* Create /activations (n x h x w x c) in file; f16 selects half precision storage. */
hid_t ct_act_create(hid_t file, int64_t n, int h, int w, int c, int f16);
/* Write rows [start, start + rows) from x (rows x per floats). Non-finite values, and with
 * f16 values beyond the half range, are an error. */
int ct_act_write(hid_t dset, int64_t start, int64_t rows, int64_t per, const float *x, int f16);

/* The activations of a features file: open it and read rows as float32. */
typedef struct ct_actfile {
	ct_h5 h;
	hid_t dset;
	int64_t n;
	int height, width, channels;
	char *cut;	    /* root attribute cut_layer */
	char *backbone;	    /* root attribute backbone */
	char *weights_sha256;
} ct_actfile;

int ct_actfile_open(ct_actfile *a, const char *path);
int ct_actfile_read(ct_actfile *a, int64_t start, int64_t rows, float *out);
void ct_actfile_close(ct_actfile *a);

#endif
