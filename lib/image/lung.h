/* lung.h - lung-field preprocessing of chest CT slices by classical means (no training): body
 * and lung-field masks, cropping to the lung field, removal of figure borders and annotations,
 * standardised lung-window grey levels; and the binary morphology they are built from.
 *
 * The morphology follows scipy.ndimage's definitions (tests/unit/test_lung.c checks it against
 * scipy on random masks): masks are h x w uint8 arrays, row-major, non-zero = set. */
#ifndef CT_LUNG_H
#define CT_LUNG_H

#include "core/tensor.h"

#include <stdint.h>

/* ---- binary morphology ---- */

/* Label the connected components of the set pixels (conn 4: edge neighbours, scipy's default
 * structure; 8: also diagonal) with 1..K in raster order of each component's first pixel (as
 * scipy.ndimage.label numbers them); 0 on background. Returns K, or -1 (out of memory). */
int ct_cc_label(const uint8_t *m, int h, int w, int conn, int32_t *labels);

/* scipy.ndimage.binary_fill_holes with its default structure: background pixels not
 * 4-connected to the image border become set. out may be m. Returns 0 or -1. */
int ct_fill_holes(const uint8_t *m, int h, int w, uint8_t *out);

/* The largest component (conn 4 or 8; on a tie the one labelled first) into out (may be m).
 * Returns its area (0 for an empty mask), or -1. */
int64_t ct_largest_component(const uint8_t *m, int h, int w, int conn, uint8_t *out);

/* Squared Euclidean distance from each pixel to the nearest set pixel (0 on set pixels;
 * INT64_MAX / 4 everywhere when none is set), exact (Felzenszwalb & Huttenlocher 2012). */
int ct_edt_sq(const uint8_t *m, int h, int w, int64_t *d2);

/* Dilation and erosion by the disk {(dy, dx): dy^2 + dx^2 <= r^2} (scipy's binary_dilation /
 * binary_erosion with that structure). Erosion treats pixels outside the image as `border`
 * (scipy's border_value: 0 erodes from the image edge). out may be m. Return 0 or -1. */
int ct_dilate_disk(const uint8_t *m, int h, int w, double r, uint8_t *out);
int ct_erode_disk(const uint8_t *m, int h, int w, double r, int border, uint8_t *out);
/* Closing (dilation, then erosion) as if the image were padded by r background pixels on each
 * side: unlike scipy's binary_closing with border_value 0, the image edge does not erode. */
int ct_close_disk(const uint8_t *m, int h, int w, double r, uint8_t *out);

/* Otsu's threshold over the values v[i] in [0, 1] where `where` is NULL or non-zero, from a
 * 256-bin histogram: returns t such that the classes are v < t and v >= t (0.5 when fewer than
 * two distinct bins are occupied). */
double ct_otsu(const float *v, const uint8_t *where, int64_t n);

/* The q-quantile (0..1) of the values v[i] in [0, 1] where `where` is NULL or non-zero, from a
 * 4096-bin histogram (bin centre); NAN when no value is selected. */
double ct_grey_quantile(const float *v, const uint8_t *where, int64_t n, double q);

/* ---- masks ---- */

/* Body and lung-field masks of a grey image g (h x w, values in [0, 1], any window).
 *   body: Otsu threshold over the image, opening by a disk of radius 0.5% of the image size
 *         (detaches thin lines and text touching the body), largest component, holes filled;
 *   lung: Otsu threshold over the body's pixels; the dark components inside the body that touch
 *         neither the image border nor the outside air, larger than 0.1% of the image and 5% of
 *         the largest such component (drops the trachea and specks; when none qualifies, those
 *         touching the border are allowed: figures cropped through the chest), holes filled,
 *         closed by a disk of radius 5% of the square root of their area (takes in vessels,
 *         nodules and juxtapleural opacities), holes filled again, within the body.
 * body and lung are h x w outputs (0/1); either may be NULL. Sets *body_found (the body covers
 * at least 5% of the image) and *lung_found (a lung field was found), each may be NULL. */
int ct_lung_masks(const float *g, int h, int w, uint8_t *body, uint8_t *lung, int *body_found,
		  int *lung_found);

/* ---- the preprocessing ---- */

typedef struct ct_lung_opts {
	int clean;         /* blank margins, coloured marks, everything outside the body */
	int crop;          /* crop to the lung field's bounding box plus margin */
	double margin;     /* crop margin as a fraction of the box's height and width */
	int standardise;   /* map parenchyma and soft tissue to fixed grey levels */
	int only;          /* blank everything outside the (slightly widened) lung field */
} ct_lung_opts;

void ct_lung_defaults(ct_lung_opts *o); /* all off, margin 0.1 */

/* Fixed grey levels of --standardise lung: what the standard lung window (level -600 HU,
 * width 1500 HU) shows for aerated parenchyma (-850 HU) and soft tissue (0 HU). */
#define CT_LUNG_STD_PARENCHYMA (500.0 / 1500.0)
#define CT_LUNG_STD_TISSUE (1350.0 / 1500.0)

/* --lung-only keeps the lung field widened by this fraction of sqrt(h x w): the pleura and the
 * subpleural band where ground-glass opacities of COVID-19 typically lie. */
#define CT_LUNG_ONLY_WIDEN 0.02

typedef struct ct_lung_info {
	int body_found, lung_found;
	int trim[4];          /* blank margin lines removed: top, bottom, left, right */
	int box[4];           /* the crop in the trimmed image: y0, x0, y1, x1 (exclusive) */
	int64_t marked;       /* pixels of coloured marks painted over */
	int standardised;     /* 1 when the grey-level mapping was applied */
	int64_t blanked;      /* pixels set to 0 by only */
	double parenchyma, tissue; /* its anchors: lung-field 10th percentile, median of the body outside the lungs */
} ct_lung_info;

/* Preprocess one image: in is H x W x C F32 in [0, 1] (C 1 or 3: colour finds coloured marks).
 * Steps, in order, those enabled:
 *   clean:  coloured pixels (max - min over R, G, B > 0.15, dilated by 1) painted over from
 *           their neighbours; blank margin lines (98% of the line within 0.06 of its median; at
 *           most a third of the size per side; side by side until none is blank, so a frame and
 *           the blank air inside it both go) trimmed; masks computed; everything outside the
 *           body set to the outside air's median (when a body was found);
 *   crop:   to the lung field's bounding box, or the body's when no lung field was found,
 *           widened by margin x its size on each side, within the image;
 *   standardise: linear map of the grey levels so that the lung field's 10th percentile goes to
 *           CT_LUNG_STD_PARENCHYMA and the median of the body outside the lungs to
 *           CT_LUNG_STD_TISSUE, clamped to [0, 1] (skipped when either is missing or they are
 *           less than 0.05 apart);
 *   only:   every pixel farther than CT_LUNG_ONLY_WIDEN x sqrt(h x w) from the lung field set
 *           to 0 (black, as air in the lung window), so that nothing but the lungs and their
 *           pleural rim reaches a model (skipped when no lung field was found).
 * out: newly allocated h x w x 1 F32 grey image (ITU-R BT.601 luma of in, then the steps);
 * mask: newly allocated h x w x 1 U8 lung field of out (1/0). info may be NULL. */
int ct_lung_preprocess(const ct_tensor *in, const ct_lung_opts *o, ct_tensor *out, ct_tensor *mask,
		       ct_lung_info *info);

/* Nearest-neighbour affine warp of an h x w uint8 mask (the matrix convention and fill modes
 * of ct_warp_affine in image/warp.h; constant fills with 0), for warping a mask along with
 * its image: out pixel (r, c) takes in at (round(m0 r + m1 c + m2), round(m3 r + m4 c + m5)). */
int ct_warp_mask_nearest(const uint8_t *in, int h, int w, const double m[6], int fill, uint8_t *out);

#endif
