/* phash.h - perceptual hashes for finding near-duplicate images: dHash (64-bit
 * difference hash of a 9x8 grey downsample) and Hamming distances between hashes. */
#ifndef CT_PHASH_H
#define CT_PHASH_H

#include "core/tensor.h"

#include <stdint.h>

/* dHash of one H x W x C image (CT_U8 0..255 or CT_F32 0..1, any strides):
 * grey = mean of the channels, box-averaged to 9 columns x 8 rows; bit 8*r + c
 * is set when cell (r, c) is brighter than cell (r, c + 1). Images smaller than
 * 9x8 are refused. (Krawetz, "Kind of like that", hackerfactor.com, 2013.) */
int ct_dhash(const ct_tensor *image, uint64_t *hash);

/* Number of differing bits. */
static inline int ct_hamming64(uint64_t a, uint64_t b)
{
	return __builtin_popcountll(a ^ b);
}

#endif
