/* test_codec.c - PNG/JPEG/TIFF decoding against images made by the libraries' own writers,
 * robustness to cut and damaged data, the max_pixels guard, file errors and writer round trips. */
#include "image/codec.h"

#include "core/error.h"
#include "core/tensor.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/stat.h>
#include <tiffio.h>

#include <jpeglib.h>

/* ---------------------------------------------------------------- helpers */

static char *tpath(const char *name)
{
	static char bufs[8][512];
	static int next;
	char *p = bufs[next++ & 7];
	snprintf(p, 512, "%s/%s", t_tmpdir(), name);
	return p;
}

static int spit(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t n = fwrite(buf, 1, len, f);
	return (fclose(f) == 0 && n == len) ? 0 : -1;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *p = malloc(n > 0 ? (size_t)n : 1);
	*len = fread(p, 1, (size_t)n, f);
	fclose(f);
	return p;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

struct membuf {
	unsigned char *p;
	size_t len, cap;
};

static void mb_put(struct membuf *m, const void *src, size_t n)
{
	if (m->len + n > m->cap) {
		m->cap = (m->len + n) * 2 + 1024;
		m->p = realloc(m->p, m->cap);
	}
	memcpy(m->p + m->len, src, n);
	m->len += n;
}

static int has(const char *msg, const char *needle)
{
	return strstr(msg, needle) != NULL;
}

/* value of element (y, x, c) of a decoded page, whatever its dtype, as double */
static double px(const ct_tensor *t, int64_t y, int64_t x, int64_t c)
{
	const char *p = (const char *)t->data + y * t->stride[0] + x * t->stride[1] + c * t->stride[2];
	switch (t->dtype) {
	case CT_U8: return *(const uint8_t *)p;
	case CT_U16: return *(const uint16_t *)p;
	case CT_F32: return *(const float *)p;
	default: return NAN;
	}
}

static int shape_is(const ct_tensor *t, ct_dtype dt, int64_t h, int64_t w, int64_t c)
{
	return t->ndim == 3 && t->dtype == dt && t->shape[0] == h && t->shape[1] == w &&
	       t->shape[2] == c;
}

/* ---------------------------------------------------------------- PNG by libpng */

static void png_mb_write(png_structp png, png_bytep d, size_t n)
{
	mb_put(png_get_io_ptr(png), d, n);
}
static void png_mb_flush(png_structp png)
{
	(void)png;
}

/* Sample (x, y, k) of a test pattern with values in 0..maxv; covers 0 and maxv. */
static unsigned pat(int x, int y, int k, unsigned maxv)
{
	unsigned v = (unsigned)(x * 2731 + y * 977 + k * 6007 + x * y * 31);
	if (x == 0 && y == 0)
		return 0;
	if (x == 1 && y == 0)
		return maxv;
	return v % (maxv + 1);
}

struct png_case {
	int depth, ctype, interlace;
	int npal, ntrns;
};

/* Encode the pattern with libpng's write API; palette index images use pat() % npal. */
static struct membuf make_png(const struct png_case *pc, int w, int h, png_color *pal, png_byte *trns)
{
	struct membuf m = { 0 };
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	if (setjmp(png_jmpbuf(png))) {
		diag("libpng failed writing a test image");
		exit(3);
	}
	png_set_write_fn(png, &m, png_mb_write, png_mb_flush);
	png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, pc->depth, pc->ctype, pc->interlace,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (pc->ctype == PNG_COLOR_TYPE_PALETTE)
		png_set_PLTE(png, info, pal, pc->npal);
	if (pc->ntrns)
		png_set_tRNS(png, info, trns, pc->ntrns, NULL);
	png_write_info(png, info);
	int ch = pc->ctype == PNG_COLOR_TYPE_GRAY ? 1 : pc->ctype == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
		 : pc->ctype == PNG_COLOR_TYPE_RGB ? 3 : pc->ctype == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : 1;
	unsigned maxv = pc->ctype == PNG_COLOR_TYPE_PALETTE ? (unsigned)pc->npal - 1
							   : (1u << pc->depth) - 1;
	size_t rowbytes = ((size_t)w * ch * pc->depth + 7) / 8;
	png_bytep *rows = malloc(sizeof *rows * (size_t)h);
	for (int y = 0; y < h; y++) {
		rows[y] = calloc(1, rowbytes);
		for (int x = 0; x < w; x++)
			for (int k = 0; k < ch; k++) {
				unsigned v = pat(x, y, k, maxv);
				size_t bit = ((size_t)x * ch + k) * pc->depth;
				if (pc->depth == 16) {
					rows[y][bit / 8] = (png_byte)(v >> 8); /* PNG is big-endian */
					rows[y][bit / 8 + 1] = (png_byte)v;
				} else if (pc->depth == 8) {
					rows[y][bit / 8] = (png_byte)v;
				} else { /* packed, most significant bits first */
					int shift = 8 - pc->depth - (int)(bit % 8);
					rows[y][bit / 8] |= (png_byte)(v << shift);
				}
			}
	}
	png_write_image(png, rows);
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	for (int y = 0; y < h; y++)
		free(rows[y]);
	free(rows);
	return m;
}

static void check_png_case(const struct png_case *pc, const char *what)
{
	enum { W = 37, H = 23 }; /* odd sizes: partial bytes at row ends, partial Adam7 blocks */
	png_color pal[256];
	png_byte trns[256];
	for (int i = 0; i < 256; i++) {
		pal[i].red = (png_byte)(i * 7 + 3);
		pal[i].green = (png_byte)(255 - i);
		pal[i].blue = (png_byte)(i * 31);
		trns[i] = (png_byte)(i * 40 + 1);
	}
	struct membuf m = make_png(pc, W, H, pal, trns);
	ct_image img;
	int rc = ct_image_decode(m.p, m.len, 1 << 20, &img);
	ok(rc == 0, "%s: decodes (%s)", what, rc ? ct_last_error() : "ok");
	if (rc) {
		free(m.p);
		return;
	}
	int pal_img = pc->ctype == PNG_COLOR_TYPE_PALETTE;
	int ch = pc->ctype == PNG_COLOR_TYPE_GRAY ? 1 : pc->ctype == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
		 : pc->ctype == PNG_COLOR_TYPE_RGB ? 3 : pc->ctype == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : 1;
	int C = pal_img ? (pc->ntrns ? 4 : 3) : ch;
	ct_dtype dt = pc->depth == 16 ? CT_U16 : CT_U8;
	ok(img.npages == 1 && !strcmp(img.format, "png") && img.bit_depth == pc->depth &&
		   shape_is(&img.pages[0], dt, H, W, C),
	   "%s: one page, format png, bit depth %d, %dx%dx%d %s", what, pc->depth, H, W, C,
	   ct_dtype_name(dt));
	int bad = 0;
	unsigned maxv = pal_img ? (unsigned)pc->npal - 1 : (1u << pc->depth) - 1;
	unsigned scale = pc->depth < 8 && !pal_img ? 255 / maxv : 1;
	for (int y = 0; y < H && !bad; y++)
		for (int x = 0; x < W; x++)
			for (int k = 0; k < C; k++) {
				double want;
				if (pal_img) {
					unsigned i = pat(x, y, 0, maxv);
					want = k == 0 ? pal[i].red : k == 1 ? pal[i].green
						: k == 2 ? pal[i].blue : (int)i < pc->ntrns ? trns[i] : 255;
				} else {
					want = pat(x, y, k, maxv) * scale;
				}
				if (px(&img.pages[0], y, x, k) != want) {
					diag("%s: (%d,%d,%d) = %g, want %g", what, y, x, k,
					     px(&img.pages[0], y, x, k), want);
					bad = 1;
				}
			}
	ok(!bad, "%s: every pixel equals the encoded value%s", what,
	   scale > 1 ? " scaled to 0..255" : pal_img ? " looked up in the palette" : "");
	ct_image_free(&img);
	ok(img.npages == 0 && img.pages == NULL, "%s: ct_image_free empties the image", what);
	free(m.p);
}

static void test_png(void)
{
	static const struct {
		struct png_case pc;
		const char *what;
	} cases[] = {
		{ { 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, 0, 0 }, "png 1-bit grey" },
		{ { 2, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, 0, 0 }, "png 2-bit grey" },
		{ { 4, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, 0, 0 }, "png 4-bit grey" },
		{ { 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, 0, 0 }, "png 8-bit grey" },
		{ { 16, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, 0, 0 }, "png 16-bit grey" },
		{ { 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_ADAM7, 0, 0 }, "png 1-bit grey interlaced" },
		{ { 4, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_ADAM7, 0, 0 }, "png 4-bit grey interlaced" },
		{ { 8, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_INTERLACE_NONE, 0, 0 }, "png 8-bit grey+alpha" },
		{ { 16, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_INTERLACE_NONE, 0, 0 }, "png 16-bit grey+alpha" },
		{ { 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, 0, 0 }, "png 8-bit rgb" },
		{ { 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, 0, 0 }, "png 8-bit rgb interlaced" },
		{ { 16, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, 0, 0 }, "png 16-bit rgb interlaced" },
		{ { 8, PNG_COLOR_TYPE_RGB_ALPHA, PNG_INTERLACE_NONE, 0, 0 }, "png 8-bit rgba" },
		{ { 16, PNG_COLOR_TYPE_RGB_ALPHA, PNG_INTERLACE_NONE, 0, 0 }, "png 16-bit rgba" },
		{ { 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, 200, 0 }, "png 8-bit palette" },
		{ { 4, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, 16, 5 }, "png 4-bit palette+tRNS" },
		{ { 2, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_ADAM7, 4, 4 }, "png 2-bit palette+tRNS interlaced" },
		{ { 1, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, 2, 0 }, "png 1-bit palette" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_png_case(&cases[i].pc, cases[i].what);
}

/* ---------------------------------------------------------------- JPEG by libjpeg */

static unsigned char src_pixel(int x, int y, int k)
{
	/* smooth, so that JPEG error stays small and a wrong channel order shows */
	double v = 128 + 90 * sin(x / 9.0 + k) * cos(y / 7.0 - k * 0.5);
	return (unsigned char)lrint(v);
}

static struct membuf make_jpeg(int w, int h, int C, int quality, int progressive)
{
	struct jpeg_compress_struct ci;
	struct jpeg_error_mgr err;
	unsigned char *out = NULL;
	unsigned long outlen = 0;
	ci.err = jpeg_std_error(&err);
	jpeg_create_compress(&ci);
	jpeg_mem_dest(&ci, &out, &outlen);
	ci.image_width = (JDIMENSION)w;
	ci.image_height = (JDIMENSION)h;
	ci.input_components = C;
	ci.in_color_space = C == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(&ci);
	jpeg_set_quality(&ci, quality, TRUE);
	if (progressive)
		jpeg_simple_progression(&ci);
	jpeg_start_compress(&ci, TRUE);
	unsigned char *row = malloc((size_t)w * C);
	for (int y = 0; y < h; y++) {
		for (int x = 0; x < w; x++)
			for (int k = 0; k < C; k++)
				row[x * C + k] = src_pixel(x, y, k);
		JSAMPROW r = row;
		jpeg_write_scanlines(&ci, &r, 1);
	}
	jpeg_finish_compress(&ci);
	jpeg_destroy_compress(&ci);
	free(row);
	struct membuf m = { out, outlen, outlen };
	return m;
}

/* libjpeg's own decode, as the exact reference */
static unsigned char *ref_jpeg(const struct membuf *m, int *w, int *h, int *C)
{
	struct jpeg_decompress_struct ci;
	struct jpeg_error_mgr err;
	ci.err = jpeg_std_error(&err);
	jpeg_create_decompress(&ci);
	jpeg_mem_src(&ci, m->p, (unsigned long)m->len);
	jpeg_read_header(&ci, TRUE);
	jpeg_start_decompress(&ci);
	*w = (int)ci.output_width, *h = (int)ci.output_height, *C = ci.output_components;
	unsigned char *px8 = malloc((size_t)*w * *h * *C);
	while (ci.output_scanline < ci.output_height) {
		JSAMPROW r = px8 + (size_t)ci.output_scanline * *w * *C;
		jpeg_read_scanlines(&ci, &r, 1);
	}
	jpeg_finish_decompress(&ci);
	jpeg_destroy_decompress(&ci);
	return px8;
}

static void check_jpeg_case(int C, int progressive, const char *what)
{
	enum { W = 61, H = 45 };
	struct membuf m = make_jpeg(W, H, C, 95, progressive);
	ct_image img;
	int rc = ct_image_decode(m.p, m.len, 1 << 20, &img);
	ok(rc == 0, "%s: decodes (%s)", what, rc ? ct_last_error() : "ok");
	if (rc) {
		free(m.p);
		return;
	}
	ok(img.npages == 1 && !strcmp(img.format, "jpeg") && img.bit_depth == 8 &&
		   shape_is(&img.pages[0], CT_U8, H, W, C),
	   "%s: format jpeg, %dx%dx%d uint8", what, H, W, C);
	int maxerr = 0;
	double sum = 0;
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			for (int k = 0; k < C; k++) {
				int d = abs((int)px(&img.pages[0], y, x, k) - src_pixel(x, y, k));
				maxerr = d > maxerr ? d : maxerr;
				sum += d;
			}
	double mean = sum / (W * H * C);
	ok(maxerr <= 12 && mean <= 2.0, "%s: within JPEG tolerance of the source (max %d <= 12, mean %.2f <= 2)",
	   what, maxerr, mean);
	int rw, rh, rc_;
	unsigned char *ref = ref_jpeg(&m, &rw, &rh, &rc_);
	ok(rw == W && rh == H && rc_ == C && !memcmp(ref, img.pages[0].data, (size_t)W * H * C),
	   "%s: byte-identical to libjpeg's own decode", what);
	free(ref);
	ct_image_free(&img);
	free(m.p);
}

/* ---------------------------------------------------------------- TIFF by libtiff */

struct tiff_case {
	int bps, fmt, spp, photo, planar;
	int tile; /* 0: strips of `rps` rows; else square tiles of this size */
	int rps;
	int comp;
	int npages;
	int bigendian;
};

static double tiff_val(const struct tiff_case *tc, int page, int x, int y, int k)
{
	if (tc->fmt == SAMPLEFORMAT_IEEEFP) /* Hounsfield-like: negative, fractional, large */
		return -1024.25 + (x * 37 + y * 11 + k * 500 + page * 1000) * 0.5 + (x == 3 ? 1e6 : 0);
	unsigned maxv = tc->bps == 8 ? 255 : 65535;
	return pat(x + page * 3, y, k, maxv);
}

static void tiff_put(const struct tiff_case *tc, unsigned char *dst, double v)
{
	if (tc->fmt == SAMPLEFORMAT_IEEEFP) {
		float f = (float)v;
		memcpy(dst, &f, 4);
	} else if (tc->bps == 16) {
		uint16_t u = (uint16_t)v;
		memcpy(dst, &u, 2);
	} else {
		*dst = (unsigned char)v;
	}
}

static int tiff_w(int page)
{
	return 41 + page * 5;
}
static int tiff_h(int page)
{
	return 29 - page * 4;
}

static int make_tiff(const char *path, const struct tiff_case *tc)
{
	TIFF *tif = TIFFOpen(path, tc->bigendian ? "wb" : "wl");
	if (!tif)
		return -1;
	int es = tc->bps / 8;
	for (int p = 0; p < tc->npages; p++) {
		int w = tiff_w(p), h = tiff_h(p);
		TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, w);
		TIFFSetField(tif, TIFFTAG_IMAGELENGTH, h);
		TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, tc->spp);
		TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, tc->bps);
		TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, tc->fmt);
		TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, tc->photo);
		TIFFSetField(tif, TIFFTAG_PLANARCONFIG, tc->planar);
		TIFFSetField(tif, TIFFTAG_COMPRESSION, tc->comp);
		if (tc->comp == COMPRESSION_ADOBE_DEFLATE) /* LZW cases go without a predictor */
			TIFFSetField(tif, TIFFTAG_PREDICTOR,
				     tc->fmt == SAMPLEFORMAT_IEEEFP ? PREDICTOR_FLOATINGPOINT : PREDICTOR_HORIZONTAL);
		if (tc->npages > 1) {
			TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
			TIFFSetField(tif, TIFFTAG_PAGENUMBER, p, tc->npages);
		}
		int sep = tc->planar == PLANARCONFIG_SEPARATE;
		int nplanes = sep ? tc->spp : 1, ps = sep ? 1 : tc->spp;
		if (tc->tile) {
			TIFFSetField(tif, TIFFTAG_TILEWIDTH, tc->tile);
			TIFFSetField(tif, TIFFTAG_TILELENGTH, tc->tile);
			unsigned char *buf = calloc((size_t)tc->tile * tc->tile * ps, (size_t)es);
			for (int s = 0; s < nplanes; s++)
				for (int ty = 0; ty < h; ty += tc->tile)
					for (int tx = 0; tx < w; tx += tc->tile) {
						for (int r = 0; r < tc->tile; r++)
							for (int c = 0; c < tc->tile; c++)
								for (int k = 0; k < ps; k++) {
									int x = tx + c, y = ty + r;
									double v = x < w && y < h ? tiff_val(tc, p, x, y, sep ? s : k) : 0;
									tiff_put(tc, buf + (((size_t)r * tc->tile + c) * ps + k) * es, v);
								}
						if (TIFFWriteTile(tif, buf, (uint32_t)tx, (uint32_t)ty, 0, (uint16_t)s) < 0)
							return -1;
					}
			free(buf);
		} else {
			TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, tc->rps);
			unsigned char *row = malloc((size_t)w * ps * es);
			for (int s = 0; s < nplanes; s++)
				for (int y = 0; y < h; y++) {
					for (int x = 0; x < w; x++)
						for (int k = 0; k < ps; k++)
							tiff_put(tc, row + ((size_t)x * ps + k) * es,
								 tiff_val(tc, p, x, y, sep ? s : k));
					if (TIFFWriteScanline(tif, row, (uint32_t)y, (uint16_t)s) < 0)
						return -1;
				}
			free(row);
		}
		if (!TIFFWriteDirectory(tif))
			return -1;
	}
	TIFFClose(tif);
	return 0;
}

static void check_tiff_case(const struct tiff_case *tc, const char *what)
{
	char *path = tpath("case.tif");
	if (make_tiff(path, tc) < 0) {
		ok(0, "%s: libtiff wrote the test image", what);
		return;
	}
	ct_image img;
	int rc = ct_image_read(path, 1 << 20, &img);
	ok(rc == 0, "%s: decodes (%s)", what, rc ? ct_last_error() : "ok");
	if (rc)
		return;
	ct_dtype dt = tc->fmt == SAMPLEFORMAT_IEEEFP ? CT_F32 : tc->bps == 16 ? CT_U16 : CT_U8;
	int shapes = img.npages == tc->npages && !strcmp(img.format, "tiff") && img.bit_depth == tc->bps;
	for (int p = 0; shapes && p < img.npages; p++)
		shapes = shape_is(&img.pages[p], dt, tiff_h(p), tiff_w(p), tc->spp);
	ok(shapes, "%s: %d page(s) of the written sizes, %d-bit, %s", what, tc->npages, tc->bps,
	   ct_dtype_name(dt));
	int bad = 0;
	for (int p = 0; shapes && p < img.npages && !bad; p++)
		for (int y = 0; y < tiff_h(p) && !bad; y++)
			for (int x = 0; x < tiff_w(p); x++)
				for (int k = 0; k < tc->spp; k++) {
					double want = tiff_val(tc, p, x, y, k);
					if (tc->fmt == SAMPLEFORMAT_IEEEFP)
						want = (float)want;
					if (tc->photo == PHOTOMETRIC_MINISWHITE)
						want = (tc->bps == 8 ? 255 : 65535) - want;
					if (!bad && px(&img.pages[p], y, x, k) != want) {
						diag("%s: page %d (%d,%d,%d) = %g, want %g", what, p, y, x, k,
						     px(&img.pages[p], y, x, k), want);
						bad = 1;
					}
				}
	ok(shapes && !bad, "%s: every sample equals the written value", what);
	ct_image_free(&img);
}

static void test_tiff(void)
{
	static const struct {
		struct tiff_case tc;
		const char *what;
	} cases[] = {
		{ { 8, SAMPLEFORMAT_UINT, 1, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG, 0, 5, COMPRESSION_NONE, 1, 0 },
		  "tiff 8-bit grey strips uncompressed" },
		{ { 16, SAMPLEFORMAT_UINT, 1, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG, 16, 0, COMPRESSION_ADOBE_DEFLATE, 1, 0 },
		  "tiff 16-bit grey tiles deflate" },
		{ { 16, SAMPLEFORMAT_UINT, 1, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG, 0, 7, COMPRESSION_NONE, 1, 1 },
		  "tiff 16-bit grey big-endian" },
		{ { 32, SAMPLEFORMAT_IEEEFP, 1, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG, 0, 8, COMPRESSION_ADOBE_DEFLATE, 1, 0 },
		  "tiff float32 grey deflate+fp predictor" },
		/* no big-endian + floating-point predictor case: libtiff 4.5's writer produces wrong
		 * bytes for it (checked against TIFF TN3 by hand), so it cannot make the input */
		{ { 32, SAMPLEFORMAT_IEEEFP, 1, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG, 0, 5, COMPRESSION_LZW, 1, 1 },
		  "tiff float32 grey big-endian strips lzw" },
		{ { 32, SAMPLEFORMAT_IEEEFP, 1, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG, 16, 0, COMPRESSION_NONE, 1, 1 },
		  "tiff float32 grey big-endian tiles" },
		{ { 8, SAMPLEFORMAT_UINT, 3, PHOTOMETRIC_RGB, PLANARCONFIG_CONTIG, 0, 3, COMPRESSION_PACKBITS, 1, 0 },
		  "tiff 8-bit rgb contiguous packbits" },
		{ { 16, SAMPLEFORMAT_UINT, 3, PHOTOMETRIC_RGB, PLANARCONFIG_SEPARATE, 0, 4, COMPRESSION_LZW, 1, 0 },
		  "tiff 16-bit rgb separate planes strips" },
		{ { 8, SAMPLEFORMAT_UINT, 3, PHOTOMETRIC_RGB, PLANARCONFIG_SEPARATE, 16, 0, COMPRESSION_NONE, 1, 0 },
		  "tiff 8-bit rgb separate planes tiles" },
		{ { 8, SAMPLEFORMAT_UINT, 4, PHOTOMETRIC_RGB, PLANARCONFIG_CONTIG, 0, 29, COMPRESSION_NONE, 1, 0 },
		  "tiff 8-bit rgba one strip" },
		{ { 8, SAMPLEFORMAT_UINT, 1, PHOTOMETRIC_MINISWHITE, PLANARCONFIG_CONTIG, 0, 6, COMPRESSION_NONE, 1, 0 },
		  "tiff 8-bit min-is-white (inverted)" },
		{ { 8, SAMPLEFORMAT_UINT, 1, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG, 0, 4, COMPRESSION_ADOBE_DEFLATE, 4, 0 },
		  "tiff 8-bit grey 4 pages" },
		{ { 32, SAMPLEFORMAT_IEEEFP, 1, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG, 0, 64, COMPRESSION_NONE, 3, 0 },
		  "tiff float32 3 pages" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_tiff_case(&cases[i].tc, cases[i].what);

	/* signed 16-bit is refused clearly rather than misread as unsigned */
	struct tiff_case s16 = { 16, SAMPLEFORMAT_INT, 1, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG, 0, 8, COMPRESSION_NONE, 1, 0 };
	make_tiff(tpath("s16.tif"), &s16);
	ct_image img;
	ok(ct_image_read(tpath("s16.tif"), 1 << 20, &img) < 0 &&
		   has(ct_last_error(), "unsupported TIFF sample format (16-bit signed integer)"),
	   "signed 16-bit TIFF is refused by name (%s)", ct_last_error());
}

/* ---------------------------------------------------------------- sniffing, files */

static struct membuf file_buf(const char *path)
{
	struct membuf m = { 0 };
	m.p = slurp(path, &m.len);
	m.cap = m.len;
	return m;
}

static void test_sniff_and_files(void)
{
	static const unsigned char png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	ok(ct_image_sniff(png_sig, 8) && !strcmp(ct_image_sniff(png_sig, 8), "png"), "sniff: PNG signature");
	ok(ct_image_sniff(png_sig, 7) == NULL, "sniff: 7 bytes of the PNG signature are not enough");
	ok(ct_image_sniff("\xff\xd8\xff\xe0", 4) && !strcmp(ct_image_sniff("\xff\xd8\xff\xe0", 4), "jpeg"),
	   "sniff: JPEG SOI");
	ok(ct_image_sniff("II*\0", 4) && ct_image_sniff("MM\0*", 4) && ct_image_sniff("II+\0", 4) &&
		   !strcmp(ct_image_sniff("MM\0*", 4), "tiff"),
	   "sniff: TIFF both byte orders and BigTIFF");
	ok(ct_image_sniff("GIF89a", 6) == NULL && ct_image_sniff("II*", 3) == NULL &&
		   ct_image_sniff(NULL, 0) == NULL,
	   "sniff: other formats, short and NULL buffers are not recognised");

	/* a JPEG named .png is decoded as JPEG: content decides, never the name */
	struct membuf j = make_jpeg(20, 10, 3, 90, 0);
	spit(tpath("really-a-jpeg.png"), j.p, j.len);
	ct_image img;
	int rc = ct_image_read(tpath("really-a-jpeg.png"), 1 << 20, &img);
	ok(rc == 0 && !strcmp(img.format, "jpeg") && shape_is(&img.pages[0], CT_U8, 10, 20, 3),
	   "a JPEG file named .png is decoded as JPEG (%s)", rc ? ct_last_error() : img.format);
	if (rc == 0)
		ct_image_free(&img);

	char want[1024];
	const char *missing = tpath("no-such.png");
	snprintf(want, sizeof want, "cannot open '%s': No such file or directory", missing);
	ok(ct_image_read(missing, 1 << 20, &img) < 0 && !strcmp(ct_last_error(), want),
	   "missing file: \"%s\"", ct_last_error());
	ok(img.npages == 0 && img.pages == NULL, "a failed read leaves the image empty");

	spit(tpath("empty.png"), "", 0);
	snprintf(want, sizeof want, "'%s': empty file", tpath("empty.png"));
	ok(ct_image_read(tpath("empty.png"), 1 << 20, &img) < 0 && !strcmp(ct_last_error(), want),
	   "empty file: \"%s\"", ct_last_error());

	spit(tpath("notes.txt"), "hello, world\n", 13);
	snprintf(want, sizeof want, "'%s': not an image (unknown format)", tpath("notes.txt"));
	ok(ct_image_read(tpath("notes.txt"), 1 << 20, &img) < 0 && !strcmp(ct_last_error(), want),
	   "text file: \"%s\"", ct_last_error());

	spit(tpath("cut.jpg"), j.p, j.len / 2);
	snprintf(want, sizeof want, "'%s': truncated JPEG data", tpath("cut.jpg"));
	ok(ct_image_read(tpath("cut.jpg"), 1 << 20, &img) < 0 && !strcmp(ct_last_error(), want),
	   "half a JPEG file: \"%s\"", ct_last_error());

	ok(ct_image_read(t_tmpdir(), 1 << 20, &img) < 0 && has(ct_last_error(), t_tmpdir()),
	   "a directory is refused, naming it (%s)", ct_last_error());
	ok(ct_image_decode(j.p, j.len, 0, &img) < 0 && has(ct_last_error(), "max_pixels"),
	   "max_pixels 0 is refused (%s)", ct_last_error());
	ok(ct_image_decode(j.p, 0, 1 << 20, &img) < 0 && has(ct_last_error(), "empty"),
	   "zero-length buffer is refused (%s)", ct_last_error());
	free(j.p);
}

/* ---------------------------------------------------------------- max_pixels */

static void be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* zlib is not linked directly; PNG needs only CRC-32 and a stored-block zlib stream */
static uint32_t crc32_of(uint32_t crc, const unsigned char *p, size_t n)
{
	crc = ~crc;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

static size_t zlib_stored(unsigned char *z, const unsigned char *raw, uint16_t n)
{
	uint32_t a = 1, b = 0;
	for (size_t i = 0; i < n; i++)
		a = (a + raw[i]) % 65521, b = (b + a) % 65521;
	z[0] = 0x78, z[1] = 0x01, z[2] = 0x01; /* final stored block */
	z[3] = (unsigned char)n, z[4] = (unsigned char)(n >> 8);
	z[5] = (unsigned char)~n, z[6] = (unsigned char)(~n >> 8);
	memcpy(z + 7, raw, n);
	be32(z + 7 + n, b << 16 | a);
	return 11 + (size_t)n;
}

static void png_chunk(struct membuf *m, const char *type, const unsigned char *data, uint32_t n)
{
	unsigned char hdr[8];
	be32(hdr, n);
	memcpy(hdr + 4, type, 4);
	mb_put(m, hdr, 8);
	if (n)
		mb_put(m, data, n);
	uint32_t crc = crc32_of(0, (const unsigned char *)type, 4);
	crc = crc32_of(crc, data, n);
	unsigned char c[4];
	be32(c, crc);
	mb_put(m, c, 4);
}

/* A valid PNG header claiming w x h 8-bit grey, followed by a few bytes of real deflate data. */
static struct membuf bomb_png(uint32_t w, uint32_t h)
{
	struct membuf m = { 0 };
	mb_put(&m, "\x89PNG\r\n\x1a\n", 8);
	unsigned char ihdr[13] = { 0 };
	be32(ihdr, w);
	be32(ihdr + 4, h);
	ihdr[8] = 8, ihdr[9] = 0;
	png_chunk(&m, "IHDR", ihdr, 13);
	unsigned char raw[200] = { 0 }, z[300];
	size_t zn = zlib_stored(z, raw, sizeof raw);
	png_chunk(&m, "IDAT", z, (uint32_t)zn);
	png_chunk(&m, "IEND", NULL, 0);
	return m;
}

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
}
static void put32(unsigned char *p, uint32_t v)
{
	put16(p, (uint16_t)v), put16(p + 2, (uint16_t)(v >> 16));
}

/* A little-endian TIFF claiming w x h 8-bit grey in one strip that lies past the end. */
static struct membuf bomb_tiff(uint32_t w, uint32_t h)
{
	unsigned char b[8 + 2 + 8 * 12 + 4 + 16] = { 'I', 'I', 42, 0 };
	put32(b + 4, 8);
	put16(b + 8, 8);
	const uint16_t tags[8] = { 256, 257, 258, 259, 262, 273, 278, 279 };
	const uint32_t vals[8] = { w, h, 8, 1, 1, 8 + 2 + 96 + 4, h, (uint32_t)((uint64_t)w * h) };
	for (int i = 0; i < 8; i++) {
		unsigned char *e = b + 10 + i * 12;
		put16(e, tags[i]);
		put16(e + 2, i >= 2 && i <= 4 ? 3 : 4); /* SHORT for bps/compression/photometric */
		put32(e + 4, 1);
		if (i >= 2 && i <= 4)
			put16(e + 8, (uint16_t)vals[i]);
		else
			put32(e + 8, vals[i]);
	}
	put32(b + 10 + 96, 0);
	struct membuf m = { 0 };
	mb_put(&m, b, sizeof b);
	return m;
}

static void test_max_pixels(void)
{
	ct_image img;
	struct membuf m = bomb_png(20000, 20000);
	ok(ct_image_decode(m.p, m.len, 100000000, &img) < 0 &&
		   !strcmp(ct_last_error(), "image is 20000x20000, over the limit of 100000000 pixels"),
	   "a 20000x20000 PNG header with %zu bytes of data is refused from the header: \"%s\"", m.len,
	   ct_last_error());
	free(m.p);
	/* the same trick under the limit reaches the decompressor, which finds the data short:
	 * so the refusal above came before any decompression */
	m = bomb_png(3000, 3000);
	ok(ct_image_decode(m.p, m.len, 9000000, &img) < 0 && has(ct_last_error(), "PNG data") &&
		   !has(ct_last_error(), "limit"),
	   "under the limit the same tiny PNG fails in decoding instead (%s)", ct_last_error());
	ok(ct_image_decode(m.p, m.len, 8999999, &img) < 0 &&
		   !strcmp(ct_last_error(), "image is 3000x3000, over the limit of 8999999 pixels"),
	   "the limit is inclusive: 3000x3000 passes at 9000000, not at 8999999");
	free(m.p);

	m = make_jpeg(64, 48, 1, 80, 0);
	ok(ct_image_decode(m.p, m.len, 3071, &img) < 0 &&
		   !strcmp(ct_last_error(), "image is 64x48, over the limit of 3071 pixels"),
	   "JPEG 64x48 refused at 3071 pixels (%s)", ct_last_error());
	ok(ct_image_decode(m.p, m.len, 3072, &img) == 0, "JPEG 64x48 accepted at 3072 pixels");
	ct_image_free(&img);
	free(m.p);

	m = bomb_tiff(100000, 100000);
	ok(ct_image_decode(m.p, m.len, 1000000, &img) < 0 &&
		   has(ct_last_error(), "image is 100000x100000, over the limit of 1000000 pixels"),
	   "a 100000x100000 TIFF header is refused from the header (%s)", ct_last_error());
	ok(ct_image_decode(m.p, m.len, INT64_MAX, &img) < 0 &&
		   !strcmp(ct_last_error(), "truncated TIFF data"),
	   "without the limit the same TIFF is reported truncated, not read (%s)", ct_last_error());
	free(m.p);

	ct_tensor pg[3];
	ct_tensor_alloc3(&pg[0], CT_U8, 10, 10, 1);
	ct_tensor_alloc3(&pg[1], CT_U8, 30, 40, 1);
	ct_tensor_alloc3(&pg[2], CT_U8, 10, 10, 1);
	ct_image_write_tiff(tpath("pages.tif"), pg, 3);
	for (int i = 0; i < 3; i++)
		ct_tensor_free(&pg[i]);
	ok(ct_image_read(tpath("pages.tif"), 1199, &img) < 0 &&
		   has(ct_last_error(), "page 2: image is 40x30, over the limit of 1199 pixels"),
	   "every TIFF page is checked against the limit (%s)", ct_last_error());
	ok(img.npages == 0 && img.pages == NULL, "a page over the limit leaves no partial result");
}

/* ---------------------------------------------------------------- robustness */

struct sample {
	const char *name, *fmt;
	struct membuf m;
};

static int decode_fails_cleanly(const unsigned char *p, size_t n, const char *fmt, char *why, size_t whylen)
{
	ct_image img;
	memset(&img, 0x5a, sizeof img); /* garbage in: the decoder must reset it */
	int rc = ct_image_decode(p, n, 1 << 22, &img);
	const char *e = ct_last_error();
	snprintf(why, whylen, "%s", rc == 0 ? "decoded" : e);
	if (rc == 0) {
		ct_image_free(&img);
		return 0;
	}
	return rc == -1 && img.npages == 0 && img.pages == NULL && e[0] &&
	       (has(e, "truncated") || has(e, "corrupt")) && has(e, fmt);
}

static void test_truncation(struct sample *s, int ns)
{
	for (int i = 0; i < ns; i++) {
		size_t len = s[i].m.len;
		size_t cuts[] = { 1, 2, 3, 5, 8, 12, 16, 24, 33, 50, 100, len / 4, len / 2, 3 * len / 4,
				  len - 40, len - 12, len - 8, len - 4, len - 2, len - 1 };
		int bad = 0, tried = 0, trunc = 0;
		for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
			if (cuts[c] == 0 || cuts[c] >= len)
				continue;
			/* a fresh copy of exactly the cut size, so reading past it is caught by ASan */
			unsigned char *p = malloc(cuts[c]);
			memcpy(p, s[i].m.p, cuts[c]);
			char why[300];
			tried++;
			if (!decode_fails_cleanly(p, cuts[c], s[i].fmt, why, sizeof why)) {
				diag("%s cut at %zu of %zu: %s", s[i].name, cuts[c], len, why);
				bad++;
			}
			trunc += has(why, "truncated") != 0;
			free(p);
		}
		ok(!bad && tried >= 15, "%s: cut at %d points, each fails with a message and no result",
		   s[i].name, tried);
		ok(trunc * 2 >= tried, "%s: most cuts (%d of %d) are reported as \"truncated\"", s[i].name,
		   trunc, tried);
	}
}

static void test_garbage(struct sample *s, int ns)
{
	/* pure noise, never starting with a magic byte */
	int bad = 0;
	for (int it = 0; it < 300; it++) {
		size_t n = 1 + rnd() % 3000;
		unsigned char *p = malloc(n);
		for (size_t k = 0; k < n; k++)
			p[k] = (unsigned char)rnd();
		if (p[0] == 0x89 || p[0] == 0xff || p[0] == 'I' || p[0] == 'M')
			p[0] = 'x';
		ct_image img;
		if (ct_image_decode(p, n, 1 << 22, &img) != -1 ||
		    strcmp(ct_last_error(), "not an image (unknown format)"))
			bad++;
		free(p);
	}
	ok(!bad, "300 random buffers: all \"not an image (unknown format)\"");

	/* noise behind each real signature / header */
	static const char *heads[] = { "\x89PNG\r\n\x1a\n", "\xff\xd8\xff", "II*\0", "MM\0*" };
	static const size_t headlen[] = { 8, 3, 4, 4 };
	static const char *fmts[] = { "PNG", "JPEG", "TIFF", "TIFF" };
	for (int h = 0; h < 4; h++) {
		int unclean = 0;
		for (int it = 0; it < 300; it++) {
			size_t n = headlen[h] + rnd() % 2000;
			unsigned char *p = malloc(n);
			memcpy(p, heads[h], headlen[h]);
			for (size_t k = headlen[h]; k < n; k++)
				p[k] = (unsigned char)rnd();
			if (h >= 2 && n >= 8) { /* point the first IFD inside the buffer */
				memset(p + 4, 0, 4);
				p[h == 2 ? 4 : 7] = (unsigned char)(8 + rnd() % 64);
			}
			ct_image img;
			int rc = ct_image_decode(p, n, 1 << 22, &img);
			if (rc == 0)
				ct_image_free(&img); /* possible in principle; must then be a whole image */
			else if (!(has(ct_last_error(), fmts[h]) || has(ct_last_error(), "unsupported") ||
				   has(ct_last_error(), "limit") || has(ct_last_error(), "empty size")))
				unclean++, diag("%s noise: %s", fmts[h], ct_last_error());
			free(p);
		}
		ok(!unclean, "300 noise buffers behind a %s header: no crash, every error explained",
		   fmts[h]);
	}

	/* damaged bytes inside real files: PNG's CRCs must catch every one */
	for (int i = 0; i < ns; i++) {
		int fails = 0, total = 0, unclean = 0;
		size_t len = s[i].m.len;
		size_t step = len > 600 ? len / 300 : 1;
		for (size_t pos = 0; pos < len; pos += step) {
			unsigned char *p = malloc(len);
			memcpy(p, s[i].m.p, len);
			p[pos] ^= 0x55;
			ct_image img;
			total++;
			if (ct_image_decode(p, len, 1 << 22, &img) == 0) {
				if (!strcmp(s[i].fmt, "PNG")) /* the CRCs should have caught it */
					diag("%s: damage at byte %zu of %zu decoded", s[i].name, pos, len);
				ct_image_free(&img);
			} else {
				fails++;
				if (!ct_last_error()[0])
					unclean++;
			}
			free(p);
		}
		if (!strcmp(s[i].fmt, "PNG"))
			ok(fails == total, "%s: each of %d damaged copies is refused (CRC) (%d refused)", s[i].name, total, fails);
		else
			ok(!unclean, "%s: %d damaged copies, no crash, %d refused with a message", s[i].name,
			   total, fails);
	}
}

/* ---------------------------------------------------------------- writers */

static int tensors_equal(const ct_tensor *a, const ct_tensor *b)
{
	if (a->dtype != b->dtype || a->ndim != 3 || b->ndim != 3)
		return 0;
	for (int d = 0; d < 3; d++)
		if (a->shape[d] != b->shape[d])
			return 0;
	for (int64_t y = 0; y < a->shape[0]; y++)
		for (int64_t x = 0; x < a->shape[1]; x++)
			for (int64_t c = 0; c < a->shape[2]; c++) {
				double u = px(a, y, x, c), v = px(b, y, x, c);
				if (!(u == v))
					return 0;
			}
	return 1;
}

static void fill(ct_tensor *t, int seed)
{
	for (int64_t y = 0; y < t->shape[0]; y++)
		for (int64_t x = 0; x < t->shape[1]; x++)
			for (int64_t c = 0; c < t->shape[2]; c++) {
				char *p = (char *)t->data + y * t->stride[0] + x * t->stride[1] + c * t->stride[2];
				unsigned v = pat((int)x + seed, (int)y, (int)c, 65535);
				if (t->dtype == CT_U8)
					*(uint8_t *)p = (uint8_t)(v >> 8);
				else if (t->dtype == CT_U16)
					*(uint16_t *)p = (uint16_t)v;
				else
					*(float *)p = -1000.0f + (float)v * 0.03125f - (float)seed;
			}
}

static int leftovers(void)
{
	DIR *d = opendir(t_tmpdir());
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)))
		n += strstr(e->d_name, ".tmp.") != NULL;
	closedir(d);
	return n;
}

static void test_writers(void)
{
	ct_image img;
	for (int dt = 0; dt < 2; dt++)
		for (int C = 1; C <= 4; C++) {
			ct_tensor t;
			ct_tensor_alloc3(&t, dt ? CT_U16 : CT_U8, 19, 27, C);
			fill(&t, C);
			char *p = tpath("rt.png");
			int rc = ct_image_write_png(p, &t);
			int rc2 = rc ? -1 : ct_image_read(p, 1 << 20, &img);
			ok(rc == 0 && rc2 == 0 && !strcmp(img.format, "png") && img.bit_depth == (dt ? 16 : 8) &&
				   tensors_equal(&t, &img.pages[0]),
			   "png round trip %s C=%d is exact (%s)", dt ? "uint16" : "uint8", C,
			   rc || rc2 ? ct_last_error() : "ok");
			if (rc2 == 0)
				ct_image_free(&img);
			ct_tensor_free(&t);
		}

	/* a strided view (every other column of a wider image) is written as seen */
	{
		ct_tensor wide, view;
		ct_tensor_alloc3(&wide, CT_U8, 10, 16, 3);
		fill(&wide, 7);
		view = wide;
		view.owned = 0;
		view.shape[1] = 8;
		view.stride[1] = wide.stride[1] * 2;
		int rc = ct_image_write_png(tpath("view.png"), &view);
		int rc2 = rc ? -1 : ct_image_read(tpath("view.png"), 1 << 20, &img);
		ok(rc2 == 0 && tensors_equal(&view, &img.pages[0]), "png writer honours strides");
		if (rc2 == 0)
			ct_image_free(&img);
		int rc3 = ct_image_write_tiff(tpath("view.tif"), &view, 1);
		rc2 = rc3 ? -1 : ct_image_read(tpath("view.tif"), 1 << 20, &img);
		ok(rc2 == 0 && tensors_equal(&view, &img.pages[0]), "tiff writer honours strides");
		if (rc2 == 0)
			ct_image_free(&img);
		ct_tensor_free(&wide);
	}

	for (int C = 1; C <= 3; C += 2) {
		ct_tensor t;
		ct_tensor_alloc3(&t, CT_U8, 40, 56, C);
		for (int y = 0; y < 40; y++)
			for (int x = 0; x < 56; x++)
				for (int k = 0; k < C; k++)
					((uint8_t *)t.data)[(y * 56 + x) * C + k] = src_pixel(x, y, k);
		int rc = ct_image_write_jpeg(tpath("rt.jpg"), &t, 92);
		int rc2 = rc ? -1 : ct_image_read(tpath("rt.jpg"), 1 << 20, &img);
		int maxerr = 999;
		if (rc2 == 0 && shape_is(&img.pages[0], CT_U8, 40, 56, C)) {
			maxerr = 0;
			for (int64_t i = 0; i < 40 * 56 * C; i++) {
				int d = abs(((uint8_t *)t.data)[i] - ((uint8_t *)img.pages[0].data)[i]);
				maxerr = d > maxerr ? d : maxerr;
			}
		}
		ok(rc2 == 0 && !strcmp(img.format, "jpeg") && maxerr <= 16,
		   "jpeg round trip C=%d at quality 92 within 16 levels (max error %d)", C, maxerr);
		if (rc2 == 0)
			ct_image_free(&img);
		ok(ct_image_write_jpeg(tpath("q.jpg"), &t, 0) < 0 && has(ct_last_error(), "quality") &&
			   ct_image_write_jpeg(tpath("q.jpg"), &t, 101) < 0,
		   "jpeg quality outside 1..100 is refused (%s)", ct_last_error());
		ct_tensor_free(&t);
	}
	{
		ct_tensor t;
		ct_tensor_alloc3(&t, CT_U8, 4, 4, 2);
		ok(ct_image_write_jpeg(tpath("c2.jpg"), &t, 90) < 0, "jpeg with 2 channels is refused (%s)",
		   ct_last_error());
		ct_tensor_free(&t);
		ct_tensor_alloc3(&t, CT_U16, 4, 4, 1);
		ok(ct_image_write_jpeg(tpath("u16.jpg"), &t, 90) < 0, "jpeg of uint16 is refused");
		ct_tensor_free(&t);
		ct_tensor_alloc3(&t, CT_F32, 4, 4, 1);
		ok(ct_image_write_png(tpath("f.png"), &t) < 0, "png of float32 is refused");
		ct_tensor_free(&t);
	}

	/* TIFF: multi-page in all three sample formats, both compressions */
	static const ct_dtype dts[3] = { CT_U8, CT_U16, CT_F32 };
	for (int d = 0; d < 3; d++)
		for (int C = 1; C <= 3; C += 2)
			for (int comp = 0; comp < 2; comp++) {
				ct_tensor pages[3];
				for (int p = 0; p < 3; p++) {
					ct_tensor_alloc3(&pages[p], dts[d], 17 + p, 23 - p, C);
					fill(&pages[p], p * 11 + C);
				}
				char *path = tpath("rt.tif");
				int rc = ct_image_write_tiff_ex(path, pages, 3, comp ? CT_TIFF_NONE : CT_TIFF_DEFLATE);
				int rc2 = rc ? -1 : ct_image_read(path, 1 << 20, &img);
				int same = rc2 == 0 && img.npages == 3 && !strcmp(img.format, "tiff");
				for (int p = 0; same && p < 3; p++)
					same = tensors_equal(&pages[p], &img.pages[p]);
				ok(same, "tiff round trip 3 pages %s C=%d %s is exact (%s)", ct_dtype_name(dts[d]),
				   C, comp ? "uncompressed" : "deflate", rc || rc2 ? ct_last_error() : "ok");
				if (rc2 == 0)
					ct_image_free(&img);
				for (int p = 0; p < 3; p++)
					ct_tensor_free(&pages[p]);
			}

	/* deflate really compresses: a smooth uint16 slice shrinks against the uncompressed file */
	{
		ct_tensor t;
		ct_tensor_alloc3(&t, CT_U16, 64, 64, 1);
		for (int i = 0; i < 64 * 64; i++)
			((uint16_t *)t.data)[i] = (uint16_t)(1000 + (i % 64) * 3 + (i / 64));
		void *b1, *b2;
		size_t n1, n2;
		int rc = ct_image_encode_tiff(&t, 1, CT_TIFF_DEFLATE, &b1, &n1);
		rc |= ct_image_encode_tiff(&t, 1, CT_TIFF_NONE, &b2, &n2);
		ok(rc == 0 && n2 > 8192 && n1 * 4 < n2, "deflate tiff is under a quarter of the raw size (%zu vs %zu)",
		   n1, n2);
		free(b1);
		free(b2);
		ct_tensor pages[2] = { t, t };
		pages[1].dtype = CT_U8; /* mixed sample formats */
		ok(ct_image_write_tiff(tpath("mixed.tif"), pages, 2) < 0 && has(ct_last_error(), "page 2"),
		   "tiff pages of different sample formats are refused (%s)", ct_last_error());
		ok(ct_image_write_tiff(tpath("none.tif"), pages, 0) < 0, "tiff with no pages is refused");
		ct_tensor_free(&t);
	}

	/* failures: no output, no temporary left, message names the file and the cause */
	{
		ct_tensor t;
		ct_tensor_alloc3(&t, CT_U8, 8, 8, 1);
		fill(&t, 1);
		char bad[600];
		snprintf(bad, sizeof bad, "%s/no-such-dir/x.png", t_tmpdir());
		ok(ct_image_write_png(bad, &t) < 0 && has(ct_last_error(), "x.png") &&
			   has(ct_last_error(), "No such file or directory"),
		   "writing into a missing directory fails with strerror (%s)", ct_last_error());

		char *keep = tpath("keep.png");
		ct_image_write_png(keep, &t);
		size_t n0, n1;
		unsigned char *before = slurp(keep, &n0);
		ct_tensor f;
		ct_tensor_alloc3(&f, CT_F32, 8, 8, 1);
		ok(ct_image_write_png(keep, &f) < 0 && has(ct_last_error(), "keep.png"),
		   "a refused write names the file (%s)", ct_last_error());
		unsigned char *after = slurp(keep, &n1);
		ok(before && after && n0 == n1 && !memcmp(before, after, n0),
		   "a failed write leaves the existing file untouched");
		free(before);
		free(after);
		ct_tensor_free(&f);

		fill(&t, 2); /* overwrite with different content */
		ok(ct_image_write_png(keep, &t) == 0 && ct_image_read(keep, 1 << 20, &img) == 0 &&
			   tensors_equal(&t, &img.pages[0]),
		   "writing over an existing file replaces it");
		ct_image_free(&img);

		mode_t um = umask(022);
		umask(um);
		struct stat st;
		ok(stat(keep, &st) == 0 && (st.st_mode & 0777) == (0666 & ~um),
		   "written files get 0666 minus the umask, not mkstemp's 0600 (%o)", st.st_mode & 0777);
		ok(leftovers() == 0, "no temporary files are left behind in the directory");
		ct_tensor_free(&t);
	}
}

/* ---------------------------------------------------------------- threads */

static void test_threads(struct sample *s, int ns)
{
	ct_image ref[8];
	for (int i = 0; i < ns; i++)
		if (ct_image_decode(s[i].m.p, s[i].m.len, 1 << 22, &ref[i]) < 0)
			ref[i].npages = -1;
	int wrong = 0, wrong_err = 0;
#pragma omp parallel for schedule(dynamic) reduction(+ : wrong, wrong_err)
	for (int it = 0; it < 96; it++) {
		int i = it % ns;
		ct_image img;
		int rc = ct_image_decode(s[i].m.p, s[i].m.len, 1 << 22, &img);
		if (rc != 0 || ref[i].npages != img.npages)
			wrong++;
		else {
			for (int p = 0; p < img.npages; p++)
				if (!tensors_equal(&ref[i].pages[p], &img.pages[p]))
					wrong++;
			ct_image_free(&img);
		}
		/* a failure on this thread leaves this thread's own message */
		rc = ct_image_decode(s[i].m.p, s[i].m.len / 2, 1 << 22, &img);
		char want[32];
		snprintf(want, sizeof want, "truncated %s data", s[i].fmt);
		if (rc == 0 || strcmp(ct_last_error(), want))
			wrong_err++;
	}
	ok(wrong == 0, "96 concurrent decodes equal the serial ones");
	ok(wrong_err == 0, "concurrent failures each report their own thread's message");
	for (int i = 0; i < ns; i++)
		if (ref[i].npages > 0)
			ct_image_free(&ref[i]);
}

int main(void)
{
	test_png();
	{
		check_jpeg_case(1, 0, "jpeg grey");
		check_jpeg_case(3, 0, "jpeg colour");
		check_jpeg_case(3, 1, "jpeg colour progressive");
	}
	test_tiff();
	test_sniff_and_files();
	test_max_pixels();

	/* sample files for the robustness tests */
	png_color pal[16];
	png_byte trns[16];
	for (int i = 0; i < 16; i++)
		pal[i].red = pal[i].green = pal[i].blue = (png_byte)(i * 16), trns[i] = (png_byte)i;
	struct png_case grey8 = { 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, 0, 0 };
	struct png_case rgbi = { 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, 0, 0 };
	struct png_case palt = { 4, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, 16, 8 };
	struct tiff_case tstrips = { 8, SAMPLEFORMAT_UINT, 1, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG, 0, 4, COMPRESSION_NONE, 1, 0 };
	struct tiff_case ttiles = { 16, SAMPLEFORMAT_UINT, 3, PHOTOMETRIC_RGB, PLANARCONFIG_CONTIG, 16, 0, COMPRESSION_ADOBE_DEFLATE, 1, 0 };
	struct tiff_case tpages = { 32, SAMPLEFORMAT_IEEEFP, 1, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG, 0, 8, COMPRESSION_LZW, 3, 0 };
	make_tiff(tpath("s1.tif"), &tstrips);
	make_tiff(tpath("s2.tif"), &ttiles);
	make_tiff(tpath("s3.tif"), &tpages);
	struct sample s[8] = {
		{ "png grey", "PNG", make_png(&grey8, 40, 30, pal, trns) },
		{ "png rgb interlaced", "PNG", make_png(&rgbi, 40, 30, pal, trns) },
		{ "png palette+tRNS", "PNG", make_png(&palt, 40, 30, pal, trns) },
		{ "jpeg grey", "JPEG", make_jpeg(40, 30, 1, 90, 0) },
		{ "jpeg colour progressive", "JPEG", make_jpeg(40, 30, 3, 90, 1) },
		{ "tiff strips", "TIFF", file_buf(tpath("s1.tif")) },
		{ "tiff tiles deflate", "TIFF", file_buf(tpath("s2.tif")) },
		{ "tiff 3 pages lzw", "TIFF", file_buf(tpath("s3.tif")) },
	};
	int ns = 8;

	/* the library never prints: send stderr to a file across the hostile inputs */
	fflush(stderr);
	int saved = dup(2);
	int fd = open(tpath("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dup2(fd, 2);
	close(fd);
	test_truncation(s, ns);
	test_garbage(s, ns);
	test_threads(s, ns);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	struct stat st = { 0 };
	int st_rc = stat(tpath("stderr.txt"), &st);
	ok(st_rc == 0 && st.st_size == 0,
	   "nothing was printed to stderr while decoding bad data (%lld bytes)", (long long)st.st_size);

	test_writers();
	for (int i = 0; i < ns; i++)
		free(s[i].m.p);
	TEST_DONE();
}
