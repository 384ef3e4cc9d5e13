/* phantom.h - synthetic axial chest CT slices in Hounsfield units (data sets of them: data/phantom_set.h).
 *
 * A slice is drawn from three kinds of random streams of one seed, so that it depends only on
 * (seed, patient, slice, lesion) and never on the thread that renders it:
 *   anatomy  per patient: body size and shape, fat and muscle, lungs, heart, vessels, ribs;
 *   lesions  per patient: 3-d ground-glass opacities and consolidations inside the lungs;
 *   noise    per slice.
 * Slices of one patient are cross-sections at evenly spaced heights of the same 3-d model, so
 * they vary smoothly with the slice index. A lesion slice is its lesion-free twin (identical
 * pixels) plus opacities inside the lung mask: outside the lungs the two classes have the same
 * distribution, so a classifier can only learn from the lungs. */
#ifndef CT_PHANTOM_H
#define CT_PHANTOM_H

#include "core/tensor.h"

#include <stdint.h>

#define CT_PHANTOM_MAX_SLICES 998     /* slices per patient: streams are patient*1000+slice */
#define CT_PHANTOM_MAX_PATIENTS 100000

typedef struct ct_phantom_opts {
	int width, height;       /* pixels; anatomy scales with min(width, height) */
	int slices_per_patient;  /* 1..CT_PHANTOM_MAX_SLICES; the slab spans the mid chest */
	uint64_t seed;
	double noise_sd;         /* Gaussian noise, HU (default 20) */
	double blur_sigma;       /* Gaussian blur of the anatomy, pixels (default 0.7; 0 = none) */
} ct_phantom_opts;

void ct_phantom_defaults(ct_phantom_opts *o); /* 256x256, 5 slices, seed 1, noise 20, blur 0.7 */

/* Render slice `slice` (0-based) of patient `patient` (0-based), with lesions when `lesion` is
 * non-zero, into caller memory: hu[height*width] float HU, row-major; mask (may be NULL)
 * receives 1 on lung pixels (parenchyma with its vessels and small airways), else 0.
 * The mask does not depend on `lesion`. Returns 0, or -1 on bad arguments / out of memory. */
int ct_phantom_render_into(const ct_phantom_opts *o, int patient, int slice, int lesion, float *hu,
			   uint8_t *mask);

/* The same into newly allocated tensors: hu HxWx1 CT_F32; mask (may be NULL) HxWx1 CT_U8. */
int ct_phantom_render(const ct_phantom_opts *o, int patient, int slice, int lesion, ct_tensor *hu,
		      ct_tensor *mask);

/* Render n slices in parallel (OpenMP over slices) into out, an N x H x W x 1 CT_F32 tensor
 * allocated here; masks (may be NULL) an N x H x W x 1 CT_U8 tensor. */
int ct_phantom_render_batch(const ct_phantom_opts *o, int n, const int *patient, const int *slice,
			    const int *lesion, ct_tensor *out, ct_tensor *masks);

/* Check opts (size, slice count, noise, blur): 0, or -1 with a message. */
int ct_phantom_check_opts(const ct_phantom_opts *o);

/* Streams of the seed for data set choices (lib/data/phantom_set.c), disjoint from the
 * slices' streams (phantom.c). */
#define CT_PHANTOM_STREAM_ASSIGN ((uint64_t)2 << 40)
#define CT_PHANTOM_STREAM_SPLIT ((uint64_t)3 << 40)

#endif
