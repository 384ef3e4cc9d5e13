/* equalise.h - format equalisation: give every image the same last encoding step.
 *
 * COVID-CT's classes differ in how their files were made (every crawled non-COVID slice is a
 * JPEG, almost every COVID test slice a PNG; docs/results.md, "Generalisation"), and the
 * compression artefacts reach the pixels a network sees. Equalising makes every image grey,
 * resamples it to one size and passes it through one JPEG encoding, so that what is left of
 * the file's history is the same for every source. */
#ifndef CT_EQUALISE_H
#define CT_EQUALISE_H

#include "core/tensor.h"
#include "image/resize.h"

/* in: H x W x C F32 in [0, 1] (C 1 or 3). out (allocated): size x size x channels F32 in
 * [0, 1]: BT.601 luma of in, resampled to size x size (fit and filter as ct_resize; pad fills
 * 0), rounded to 8 bits, encoded as a baseline greyscale JPEG at quality (1-100, libjpeg's
 * integer DCT: the same bytes on every machine) and decoded, replicated to channels (1 or 3). */
int ct_equalise(const ct_tensor *in, int size, int quality, ct_fit fit, ct_filter filter, int channels,
		ct_tensor *out);

#endif
