/* warp.h - affine warps and the random transforms of Keras' ImageDataGenerator.
 *
 * A transform is a 2x3 matrix m mapping an OUTPUT pixel (row, col) to the INPUT
 * position sampled, in pixel-centre coordinates:
 *     in_row = m[0]*row + m[1]*col + m[2]
 *     in_col = m[3]*row + m[4]*col + m[5]
 * (the convention of scipy.ndimage.affine_transform that Keras uses, with rows as
 * the first axis). Sampling is bilinear; positions outside the image are filled
 * per ct_fill, as scipy's modes: nearest (edge value), constant (cval),
 * reflect (half-sample symmetric, 'reflect'), wrap (periodic). */
#ifndef CT_WARP_H
#define CT_WARP_H

#include "core/rng.h"
#include "core/tensor.h"

typedef enum ct_fill {
	CT_FILL_NEAREST = 0,
	CT_FILL_CONSTANT,
	CT_FILL_REFLECT,
	CT_FILL_WRAP,
} ct_fill;

/* Ranges as ImageDataGenerator's arguments: rotation_range (degrees), width/height
 * shift as a fraction of the size, shear_range (degrees, Keras 2 semantics),
 * zoom in [zoom_lo, zoom_hi] drawn independently for x and y, horizontal and
 * vertical flips with probability 1/2. All zero = identity. */
typedef struct ct_augment_params {
	double rotation;
	double width_shift, height_shift;
	double shear;
	double zoom_lo, zoom_hi;   /* 1,1 = no zoom */
	int hflip, vflip;
	ct_fill fill;
	double cval;
} ct_augment_params;

void ct_augment_defaults(ct_augment_params *p);

/* Draw one random transform for an h x w image, composed as Keras does
 * (rotation, then shift, shear, zoom, about the image centre; flips folded into
 * the matrix), writing the 2x3 matrix to m. */
void ct_augment_sample(const ct_augment_params *p, ct_rng *rng, int h, int w, double m[6]);

/* The two halves of ct_augment_sample, for callers that record or test the
 * parameters. Names and units follow Keras' get_random_transform: tx is the shift
 * along rows (a fraction of h, in pixels), ty along columns, zx scales rows, zy
 * columns, theta and shear are in degrees. ct_augment_random draws exactly eight
 * uniforms from rng, in the order theta, tx, ty, shear, zx, zy, flip_h, flip_v,
 * whether or not each component is enabled. */
typedef struct ct_augment_transform {
	double theta, tx, ty, shear, zx, zy;
	int flip_h, flip_v;
} ct_augment_transform;

void ct_augment_random(const ct_augment_params *p, ct_rng *rng, int h, int w, ct_augment_transform *t);
void ct_augment_matrix(const ct_augment_transform *t, int h, int w, double m[6]);

/* Warp in (HxWxC, CT_U8 or CT_F32) into out (same shape and dtype, preallocated).
 * uint8 results are rounded to nearest. Deterministic; no allocation. */
int ct_warp_affine(const ct_tensor *in, const double m[6], ct_fill fill, double cval, ct_tensor *out);

/* Helpers for building matrices (row/col convention above). */
void ct_affine_identity(double m[6]);
void ct_affine_compose(const double a[6], const double b[6], double out[6]); /* out = a * b */
int ct_affine_invert(const double m[6], double out[6]);
/* Rotation by `deg` degrees about the centre of an h x w image. */
void ct_affine_rotate(double deg, int h, int w, double m[6]);

#endif
