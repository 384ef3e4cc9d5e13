/* codec_png.c - PNG decoding from memory and encoding to memory with libpng. */
#include "image/codec.h"
#include "core/error.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/* Everything the error path must release lives here, not in locals, because locals
 * modified after setjmp are indeterminate once longjmp returns (C11 7.13.2.1). */
struct png_ctx {
	const unsigned char *data;
	size_t len, pos;
	int truncated;
	char msg[200];
	jmp_buf jmp;
	png_bytep *rows;
	ct_tensor t;
	/* encoder */
	unsigned char *obuf;
	size_t olen, ocap;
	int oom;
	unsigned char *row;
};

static void on_error(png_structp png, png_const_charp msg)
{
	struct png_ctx *c = png_get_error_ptr(png);
	snprintf(c->msg, sizeof c->msg, "%s", msg);
	/* libpng capitalises its messages ("Not enough image data"); ours are lower-case,
	 * but chunk names ("IDAT: CRC error") keep their case */
	if (c->msg[0] >= 'A' && c->msg[0] <= 'Z' && !(c->msg[1] >= 'A' && c->msg[1] <= 'Z'))
		c->msg[0] = (char)(c->msg[0] - 'A' + 'a');
	longjmp(c->jmp, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg; /* the library never prints; benign problems are not failures */
}

static void read_mem(png_structp png, png_bytep dst, size_t n)
{
	struct png_ctx *c = png_get_io_ptr(png);
	if (n > c->len - c->pos) {
		c->truncated = 1;
		png_error(png, "truncated");
	}
	memcpy(dst, c->data + c->pos, n);
	c->pos += n;
}

static int host_little_endian(void)
{
	const uint16_t one = 1;
	return *(const unsigned char *)&one == 1;
}

int ct_image_decode_png(const void *buf, size_t len, int64_t max_pixels, ct_image *out)
{
	struct png_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return ct_error("out of memory");
	c->data = buf;
	c->len = len;
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, on_error, on_warning);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!info) {
		png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
		free(c);
		return ct_error("out of memory");
	}
	if (setjmp(c->jmp)) {
		if (c->truncated)
			ct_error("truncated PNG data");
		else
			ct_error("corrupt PNG data: %s", c->msg);
		goto fail;
	}
	png_set_read_fn(png, c, read_mem);
	/* Width/height are bounded by max_pixels below; lift libpng's own 1e6 cap so the
	 * caller's limit is the one reported. */
	png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
	/* libpng drops an ancillary chunk with a bad CRC and carries on; but tRNS becomes our
	 * alpha channel, so a damaged one would silently change the output. Damage is an error. */
	png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
	png_read_info(png, info);

	png_uint_32 w, h;
	int depth, ctype, interlace;
	png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
	if (ct_image_check_size(w, h, max_pixels) < 0)
		goto fail;

	if (ctype == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(png);
	if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(png); /* replicates bits: 1->255, 2-bit x85, 4-bit x17 */
	if (png_get_valid(png, info, PNG_INFO_tRNS))
		png_set_tRNS_to_alpha(png);
	if (depth == 16 && host_little_endian())
		png_set_swap(png);
	png_set_interlace_handling(png);
	png_read_update_info(png, info);

	int channels = png_get_channels(png, info);
	int odepth = png_get_bit_depth(png, info);
	ct_dtype dt = odepth == 16 ? CT_U16 : CT_U8;
	size_t rowbytes;
	if (channels < 1 || channels > 4 || (odepth != 8 && odepth != 16) ||
	    ct_mul_size((size_t)w * channels, ct_dtype_size(dt), &rowbytes) < 0 ||
	    rowbytes != png_get_rowbytes(png, info)) {
		ct_error("unsupported PNG layout (%d channels of %d bits)", channels, odepth);
		goto fail;
	}
	if (ct_tensor_alloc3(&c->t, dt, h, w, channels) < 0)
		goto fail;
	c->rows = malloc((size_t)h * sizeof *c->rows);
	if (!c->rows) {
		ct_error("out of memory");
		goto fail;
	}
	for (png_uint_32 y = 0; y < h; y++)
		c->rows[y] = (png_bytep)c->t.data + (size_t)y * rowbytes;
	png_read_image(png, c->rows);
	/* Read to IEND so a file cut after the pixels is still reported as truncated. */
	png_read_end(png, NULL);

	if (ct_image_take_page(out, &c->t, depth) < 0)
		goto fail;
	png_destroy_read_struct(&png, &info, NULL);
	free(c->rows);
	free(c);
	return 0;
fail:
	png_destroy_read_struct(&png, &info, NULL);
	free(c->rows);
	ct_tensor_free(&c->t);
	free(c);
	return -1;
}

static void write_mem(png_structp png, png_bytep src, size_t n)
{
	struct png_ctx *c = png_get_io_ptr(png);
	if (n > c->ocap - c->olen) {
		size_t cap = c->ocap ? c->ocap : 65536;
		while (cap - c->olen < n) {
			if (ct_mul_size(cap, 2, &cap) < 0) {
				c->oom = 1;
				png_error(png, "out of memory");
			}
		}
		unsigned char *p = realloc(c->obuf, cap);
		if (!p) {
			c->oom = 1;
			png_error(png, "out of memory");
		}
		c->obuf = p;
		c->ocap = cap;
	}
	memcpy(c->obuf + c->olen, src, n);
	c->olen += n;
}

static void flush_mem(png_structp png)
{
	(void)png;
}

int ct_image_encode_png(const ct_tensor *img, void **buf, size_t *len)
{
	*buf = NULL;
	*len = 0;
	if (!img || img->ndim != 3 || (img->dtype != CT_U8 && img->dtype != CT_U16) ||
	    img->shape[2] < 1 || img->shape[2] > 4 || img->shape[0] < 1 || img->shape[1] < 1)
		return ct_error("PNG needs an HxWxC uint8 or uint16 image with C in 1..4");
	if (img->shape[0] > 0x7fffffff || img->shape[1] > 0x7fffffff)
		return ct_error("image too large for PNG");
	static const int ctypes[5] = { 0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
				       PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA };
	int64_t H = img->shape[0], W = img->shape[1], C = img->shape[2];
	size_t es = ct_dtype_size(img->dtype), rowbytes;
	if (ct_mul_size((size_t)W * (size_t)C, es, &rowbytes) < 0)
		return ct_error("image too large for PNG");

	struct png_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return ct_error("out of memory");
	c->row = malloc(rowbytes);
	png_structp png = c->row ? png_create_write_struct(PNG_LIBPNG_VER_STRING, c, on_error,
							   on_warning)
				 : NULL;
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!info) {
		png_destroy_write_struct(png ? &png : NULL, NULL);
		free(c->row);
		free(c);
		return ct_error("out of memory");
	}
	if (setjmp(c->jmp)) {
		if (c->oom)
			ct_error("out of memory encoding PNG");
		else
			ct_error("cannot encode PNG: %s", c->msg);
		png_destroy_write_struct(&png, &info);
		free(c->obuf);
		free(c->row);
		free(c);
		return -1;
	}
	png_set_write_fn(png, c, write_mem, flush_mem);
	png_set_IHDR(png, info, (png_uint_32)W, (png_uint_32)H, (int)es * 8, ctypes[C],
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	if (es == 2 && host_little_endian())
		png_set_swap(png);
	for (int64_t y = 0; y < H; y++) {
		/* gather the row through the strides: the tensor may be a view */
		for (int64_t x = 0; x < W; x++)
			for (int64_t k = 0; k < C; k++) {
				const char *src = (const char *)img->data + y * img->stride[0] +
						  x * img->stride[1] + k * img->stride[2];
				memcpy(c->row + ((size_t)x * C + k) * es, src, es);
			}
		png_write_row(png, c->row);
	}
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	*buf = c->obuf;
	*len = c->olen;
	free(c->row);
	free(c);
	return 0;
}
