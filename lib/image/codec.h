/* codec.h - image decoding by content (magic bytes, never the file name) and encoding.
 *
 * Decoded pixels are HxWxC tensors:
 *   dtype  CT_U8  for 1/2/4/8-bit PNG (low bit depths scaled to 0..255), JPEG, 8-bit TIFF;
 *          CT_U16 for 16-bit PNG and TIFF;
 *          CT_F32 for 32-bit float TIFF (values as stored, e.g. Hounsfield units).
 *   C      1 grey, 2 grey+alpha, 3 RGB, 4 RGBA; palette images are expanded to RGB(A).
 * A multi-page TIFF yields one page per slice. */
#ifndef CT_CODEC_H
#define CT_CODEC_H

#include "core/tensor.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ct_image {
	int npages;
	ct_tensor *pages;      /* npages tensors, each HxWxC */
	char format[8];        /* "png", "jpeg", "tiff" */
	int bit_depth;         /* as stored in the file: 1, 2, 4, 8, 16 or 32 */
} ct_image;

/* Identify the format from the first bytes: "png", "jpeg", "tiff" or NULL. */
const char *ct_image_sniff(const void *buf, size_t len);

/* Decode an image held in memory. `max_pixels` (> 0) bounds width*height of each
 * page, checked from the header before any pixel is decompressed (decompression
 * bombs). On error returns -1 with a message that does not name the file
 * (callers prefix it): "truncated PNG data", "not an image (unknown format)", ... */
int ct_image_decode(const void *buf, size_t len, int64_t max_pixels, ct_image *out);

/* Read and decode a file; errors name the file: "'a/b.png': truncated PNG data". */
int ct_image_read(const char *path, int64_t max_pixels, ct_image *out);

void ct_image_free(ct_image *img);

/* Writers (temporary file + rename: no partial output on failure).
 * PNG: HxWxC, C in 1..4, CT_U8 or CT_U16. */
int ct_image_write_png(const char *path, const ct_tensor *img);
/* JPEG: HxWxC, C 1 or 3, CT_U8; quality 1..100. */
int ct_image_write_jpeg(const char *path, const ct_tensor *img, int quality);
/* TIFF with npages pages (all the same dtype and C), CT_U8, CT_U16 or CT_F32; C 1 or 3. */
int ct_image_write_tiff(const char *path, const ct_tensor *pages, int npages);

/* Additions. ct_image_write_tiff compresses with deflate (lossless, with the horizontal or
 * floating-point predictor); this form chooses. */
typedef enum ct_tiff_compression {
	CT_TIFF_DEFLATE = 0,
	CT_TIFF_NONE,
} ct_tiff_compression;
int ct_image_write_tiff_ex(const char *path, const ct_tensor *pages, int npages,
			   ct_tiff_compression compression);

/* Encoders to memory (same rules as the writers): on success *buf is a malloc'd
 * buffer of *len bytes that the caller frees; on error *buf is NULL. Tensors may be strided. */
int ct_image_encode_png(const ct_tensor *img, void **buf, size_t *len);
int ct_image_encode_jpeg(const ct_tensor *img, int quality, void **buf, size_t *len);
int ct_image_encode_tiff(const ct_tensor *pages, int npages, ct_tiff_compression compression,
			 void **buf, size_t *len);

/* Per-format decoders behind ct_image_decode (no sniffing; same contract, `out` must be
 * zeroed). Exposed for codec_*.c and tests; callers should use ct_image_decode. */
int ct_image_decode_png(const void *buf, size_t len, int64_t max_pixels, ct_image *out);
int ct_image_decode_jpeg(const void *buf, size_t len, int64_t max_pixels, ct_image *out);
int ct_image_decode_tiff(const void *buf, size_t len, int64_t max_pixels, ct_image *out);
/* The limit check shared by the decoders: 0, or -1 with "image is WxH, over the limit of N pixels". */
int ct_image_check_size(int64_t width, int64_t height, int64_t max_pixels);
/* The end shared by the one-page decoders: `out` takes `page` (its data too) as its only
 * page. 0, or -1 with "out of memory" and `page` still the caller's. */
int ct_image_take_page(ct_image *out, const ct_tensor *page, int bit_depth);

#endif
