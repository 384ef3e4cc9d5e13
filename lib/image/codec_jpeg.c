/* codec_jpeg.c - JPEG decoding from memory and encoding to memory with libjpeg(-turbo). */
#include "image/codec.h"
#include "core/error.h"

#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jpeglib.h first: jerror.h's message list depends on jconfig.h's feature macros */
#include <jpeglib.h>
#include <jerror.h>

/* State the error path needs lives here, not in locals modified after setjmp. */
struct jpeg_ctx {
	struct jpeg_error_mgr mgr; /* first: libjpeg hands us a pointer to it */
	jmp_buf jmp;
	int eof;     /* the source ran dry: libjpeg inserted a fake EOI */
	int corrupt; /* a "corrupt data" warning: the pixels are not what was encoded */
	char msg[JMSG_LENGTH_MAX + 8];
	ct_tensor t;
	unsigned char *row;
	/* encoder output; our own destination manager because jpeg_mem_dest's buffer
	 * pointer dangles if an error strikes after it has grown */
	struct jpeg_destination_mgr dest;
	unsigned char *obuf;
	size_t ocap;
	size_t olen;
};

static void keep_message(j_common_ptr cinfo, struct jpeg_ctx *c)
{
	char m[JMSG_LENGTH_MAX];
	(*cinfo->err->format_message)(cinfo, m);
	const char *p = m;
	/* "Corrupt JPEG data: bad Huffman code" -> "bad Huffman code"; we add our own prefix */
	if (!strncmp(p, "Corrupt JPEG data: ", 19))
		p += 19;
	snprintf(c->msg, sizeof c->msg, "%s", p);
	if (c->msg[0] >= 'A' && c->msg[0] <= 'Z' && !(c->msg[1] >= 'A' && c->msg[1] <= 'Z'))
		c->msg[0] = (char)(c->msg[0] - 'A' + 'a');
}

static void on_error_exit(j_common_ptr cinfo)
{
	struct jpeg_ctx *c = (struct jpeg_ctx *)cinfo->err;
	if (cinfo->err->msg_code == JERR_INPUT_EMPTY)
		c->eof = 1;
	keep_message(cinfo, c);
	longjmp(c->jmp, 1);
}

/* libjpeg reports damaged or cut data only as warnings and goes on to return grey or
 * garbage pixels; we stop at the first such warning so a bad file never "succeeds". */
static void on_emit_message(j_common_ptr cinfo, int level)
{
	struct jpeg_ctx *c = (struct jpeg_ctx *)cinfo->err;
	if (level != -1)
		return; /* trace messages */
	switch (cinfo->err->msg_code) {
	case JWRN_JPEG_EOF:
		c->eof = 1;
		break;
#if defined(C_ARITH_CODING_SUPPORTED) || defined(D_ARITH_CODING_SUPPORTED) || JPEG_LIB_VERSION >= 70
	case JWRN_ARITH_BAD_CODE:
#endif
	case JWRN_HIT_MARKER:
	case JWRN_HUFF_BAD_CODE:
	case JWRN_MUST_RESYNC:
	case JWRN_NOT_SEQUENTIAL:
	case JWRN_BOGUS_PROGRESSION:
	case JWRN_TOO_MUCH_DATA:
		c->corrupt = 1;
		break;
	default:
		return; /* e.g. unknown JFIF revision, stray bytes between markers: harmless */
	}
	keep_message(cinfo, c);
	longjmp(c->jmp, 1);
}

static void on_output_message(j_common_ptr cinfo)
{
	(void)cinfo; /* the library never prints */
}

static void init_errors(struct jpeg_ctx *c)
{
	jpeg_std_error(&c->mgr);
	c->mgr.error_exit = on_error_exit;
	c->mgr.emit_message = on_emit_message;
	c->mgr.output_message = on_output_message;
}

int ct_image_decode_jpeg(const void *buf, size_t len, int64_t max_pixels, ct_image *out)
{
	struct jpeg_decompress_struct cinfo;
	struct jpeg_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return ct_error("out of memory");
	init_errors(c);
	cinfo.err = &c->mgr;
	if (setjmp(c->jmp)) {
		if (c->eof)
			ct_error("truncated JPEG data");
		else
			ct_error("corrupt JPEG data: %s", c->msg);
		goto fail;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, buf, (unsigned long)len);
	if (jpeg_read_header(&cinfo, TRUE) != JPEG_HEADER_OK) {
		ct_error("corrupt JPEG data: no image");
		goto fail;
	}
	if (ct_image_check_size(cinfo.image_width, cinfo.image_height, max_pixels) < 0)
		goto fail;
	int C;
	switch (cinfo.jpeg_color_space) {
	case JCS_GRAYSCALE:
		cinfo.out_color_space = JCS_GRAYSCALE;
		C = 1;
		break;
	case JCS_YCbCr:
	case JCS_RGB:
		cinfo.out_color_space = JCS_RGB;
		C = 3;
		break;
	case JCS_CMYK:
	case JCS_YCCK:
		/* Adobe's inverted-CMYK convention makes a faithful conversion guesswork; CT
		 * images are never CMYK, so refuse rather than return wrong colours. */
		ct_error("unsupported JPEG colour space (CMYK)");
		goto fail;
	default:
		ct_error("unsupported JPEG colour space (%d)", (int)cinfo.jpeg_color_space);
		goto fail;
	}
	jpeg_start_decompress(&cinfo);
	if (cinfo.output_components != C || cinfo.output_width != cinfo.image_width ||
	    cinfo.output_height != cinfo.image_height) {
		ct_error("unsupported JPEG layout");
		goto fail;
	}
	if (ct_tensor_alloc3(&c->t, CT_U8, cinfo.output_height, cinfo.output_width, C) < 0)
		goto fail;
	while (cinfo.output_scanline < cinfo.output_height) {
		JSAMPROW row = (JSAMPROW)c->t.data + (size_t)cinfo.output_scanline * c->t.stride[0];
		if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) {
			/* only a suspending source returns 0; jpeg_mem_src never suspends */
			ct_error("truncated JPEG data");
			goto fail;
		}
	}
	/* Reading to EOI catches a file cut inside trailing progressive scans / markers. */
	jpeg_finish_decompress(&cinfo);

	if (ct_image_take_page(out, &c->t, 8) < 0)
		goto fail;
	jpeg_destroy_decompress(&cinfo);
	free(c);
	return 0;
fail:
	jpeg_destroy_decompress(&cinfo);
	ct_tensor_free(&c->t);
	free(c);
	return -1;
}

static struct jpeg_ctx *dest_ctx(j_compress_ptr cinfo)
{
	return (struct jpeg_ctx *)((char *)cinfo->dest - offsetof(struct jpeg_ctx, dest));
}

static void dest_init(j_compress_ptr cinfo)
{
	struct jpeg_ctx *c = dest_ctx(cinfo);
	c->ocap = 65536;
	c->obuf = malloc(c->ocap);
	if (!c->obuf)
		ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 0);
	c->dest.next_output_byte = c->obuf;
	c->dest.free_in_buffer = c->ocap;
}

/* Called when the buffer is full (libjpeg ignores free_in_buffer's history here). */
static boolean dest_empty(j_compress_ptr cinfo)
{
	struct jpeg_ctx *c = dest_ctx(cinfo);
	size_t cap;
	if (ct_mul_size(c->ocap, 2, &cap) < 0)
		ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 1);
	unsigned char *p = realloc(c->obuf, cap);
	if (!p)
		ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 1);
	c->obuf = p;
	c->dest.next_output_byte = p + c->ocap;
	c->dest.free_in_buffer = cap - c->ocap;
	c->ocap = cap;
	return TRUE;
}

static void dest_term(j_compress_ptr cinfo)
{
	struct jpeg_ctx *c = dest_ctx(cinfo);
	c->olen = c->ocap - c->dest.free_in_buffer;
}

int ct_image_encode_jpeg(const ct_tensor *img, int quality, void **buf, size_t *len)
{
	*buf = NULL;
	*len = 0;
	if (!img || img->ndim != 3 || img->dtype != CT_U8 ||
	    (img->shape[2] != 1 && img->shape[2] != 3) || img->shape[0] < 1 || img->shape[1] < 1)
		return ct_error("JPEG needs an HxWxC uint8 image with C 1 or 3");
	if (img->shape[0] > JPEG_MAX_DIMENSION || img->shape[1] > JPEG_MAX_DIMENSION)
		return ct_error("image is %lldx%lld, over JPEG's limit of %d per side",
				(long long)img->shape[1], (long long)img->shape[0], (int)JPEG_MAX_DIMENSION);
	if (quality < 1 || quality > 100)
		return ct_error("JPEG quality must be in 1..100 (got %d)", quality);
	int64_t H = img->shape[0], W = img->shape[1], C = img->shape[2];

	struct jpeg_compress_struct cinfo;
	struct jpeg_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return ct_error("out of memory");
	c->row = malloc((size_t)W * (size_t)C);
	if (!c->row) {
		free(c);
		return ct_error("out of memory");
	}
	init_errors(c);
	cinfo.err = &c->mgr;
	if (setjmp(c->jmp)) {
		ct_error("cannot encode JPEG: %s", c->msg);
		jpeg_destroy_compress(&cinfo);
		free(c->obuf);
		free(c->row);
		free(c);
		return -1;
	}
	jpeg_create_compress(&cinfo);
	c->dest.init_destination = dest_init;
	c->dest.empty_output_buffer = dest_empty;
	c->dest.term_destination = dest_term;
	cinfo.dest = &c->dest;
	cinfo.image_width = (JDIMENSION)W;
	cinfo.image_height = (JDIMENSION)H;
	cinfo.input_components = (int)C;
	cinfo.in_color_space = C == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(&cinfo);
	jpeg_set_quality(&cinfo, quality, TRUE);
	jpeg_start_compress(&cinfo, TRUE);
	for (int64_t y = 0; y < H; y++) {
		for (int64_t x = 0; x < W; x++)
			for (int64_t k = 0; k < C; k++)
				c->row[x * C + k] = *((const unsigned char *)img->data +
						      y * img->stride[0] + x * img->stride[1] +
						      k * img->stride[2]);
		JSAMPROW row = c->row;
		jpeg_write_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_compress(&cinfo);
	jpeg_destroy_compress(&cinfo);
	*buf = c->obuf;
	*len = c->olen;
	free(c->row);
	free(c);
	return 0;
}
