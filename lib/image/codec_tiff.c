/* codec_tiff.c - TIFF decoding from memory (multi-page, strips or tiles) and encoding with libtiff. */
#include "image/codec.h"
#include "core/error.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

/* A TIFF "file" in memory. Reading uses `buf` as const; writing grows it. */
struct tiff_mem {
	unsigned char *buf;
	size_t len, cap, pos;
	int writable;
	int eof;     /* libtiff asked for bytes past the end: the file is cut */
	int oom;
	int nerrors; /* errors reported through our per-handle handler */
	char msg[256];
};

static tmsize_t mem_read(thandle_t h, void *dst, tmsize_t n)
{
	struct tiff_mem *m = h;
	if (n < 0)
		return -1;
	size_t avail = m->pos < m->len ? m->len - m->pos : 0;
	size_t k = (size_t)n < avail ? (size_t)n : avail;
	if (k < (size_t)n)
		m->eof = 1;
	memcpy(dst, m->buf + m->pos, k);
	m->pos += k;
	return (tmsize_t)k;
}

static tmsize_t mem_write(thandle_t h, void *src, tmsize_t n)
{
	struct tiff_mem *m = h;
	if (!m->writable || n < 0 || (size_t)n > SIZE_MAX / 2 - m->pos)
		return -1;
	size_t end = m->pos + (size_t)n;
	if (end > m->cap) {
		size_t cap = m->cap ? m->cap : 65536;
		while (cap < end)
			if (ct_mul_size(cap, 2, &cap) < 0) {
				m->oom = 1;
				return -1;
			}
		unsigned char *p = realloc(m->buf, cap);
		if (!p) {
			m->oom = 1;
			return -1;
		}
		m->buf = p;
		m->cap = cap;
	}
	if (m->pos > m->len) /* a seek past the end leaves a hole that reads as zeros */
		memset(m->buf + m->len, 0, m->pos - m->len);
	memcpy(m->buf + m->pos, src, (size_t)n);
	m->pos = end;
	if (end > m->len)
		m->len = end;
	return n;
}

static toff_t mem_seek(thandle_t h, toff_t off, int whence)
{
	struct tiff_mem *m = h;
	uint64_t base;
	switch (whence) {
	case SEEK_SET: base = 0; break;
	case SEEK_CUR: base = m->pos; break;
	case SEEK_END: base = m->len; break;
	default: return (toff_t)-1;
	}
	/* off is unsigned, but SEEK_CUR/SEEK_END may mean a negative step (two's complement) */
	uint64_t np = base + off;
	if ((int64_t)off >= 0 ? np < base : np > base)
		return (toff_t)-1;
	if (np > (uint64_t)SIZE_MAX / 2)
		return (toff_t)-1;
	m->pos = (size_t)np;
	return np;
}

static int mem_close(thandle_t h)
{
	(void)h;
	return 0;
}

static toff_t mem_size(thandle_t h)
{
	return ((struct tiff_mem *)h)->len;
}

/* No mapping: every read then goes through mem_read, which notices truncation. */
static int mem_map(thandle_t h, void **base, toff_t *size)
{
	(void)h;
	(void)base;
	(void)size;
	return 0;
}

static void mem_unmap(thandle_t h, void *base, toff_t size)
{
	(void)h;
	(void)base;
	(void)size;
}

static int on_error(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
	struct tiff_mem *m = ud;
	(void)tif;
	(void)module;
	if (m->nerrors++ == 0) { /* the first error is the cause; later ones are fallout */
		vsnprintf(m->msg, sizeof m->msg, fmt, ap);
		/* "Decoding error at scanline 16" -> lower-case like ours; keep "LZWDecode"-like names */
		if (m->msg[0] >= 'A' && m->msg[0] <= 'Z' && m->msg[1] >= 'a' && m->msg[1] <= 'z')
			m->msg[0] = (char)(m->msg[0] - 'A' + 'a');
	}
	return 1; /* handled: do not fall through to the global handler */
}

static int on_warning(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
	(void)tif, (void)ud, (void)module, (void)fmt, (void)ap;
	return 1; /* the library never prints */
}

/* The per-handle handlers above catch everything tied to a handle or to the open
 * options; a few libtiff paths report with no handle and would reach the global
 * handler, which prints to stderr by default. Silence it once, before first use. */
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void silence_global_handlers(void)
{
	TIFFSetErrorHandler(NULL);
	TIFFSetWarningHandler(NULL);
}

static TIFF *open_mem(struct tiff_mem *m, const char *mode)
{
	pthread_once(&global_once, silence_global_handlers);
	TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
	if (!opts) {
		m->oom = 1;
		return NULL;
	}
	TIFFOpenOptionsSetErrorHandlerExtR(opts, on_error, m);
	TIFFOpenOptionsSetWarningHandlerExtR(opts, on_warning, m);
	TIFF *tif = TIFFClientOpenExt("memory", mode, (thandle_t)m, mem_read, mem_write, mem_seek,
				      mem_close, mem_size, mem_map, mem_unmap, opts);
	TIFFOpenOptionsFree(opts); /* the handle keeps copies of the handler settings */
	return tif;
}

static int tiff_fail(const struct tiff_mem *m)
{
	if (m->eof)
		return ct_error("truncated TIFF data");
	if (m->oom)
		return ct_error("out of memory decoding TIFF");
	if (m->msg[0])
		return ct_error("corrupt TIFF data: %s", m->msg);
	return ct_error("corrupt TIFF data");
}

/* A strip or tile whose bytes lie past the end of the buffer means a cut file; say so
 * plainly instead of passing on libtiff's "read error on strip" wording. */
static int strile_in_bounds(TIFF *tif, struct tiff_mem *m, uint32_t s)
{
	int err = 0;
	uint64_t off = TIFFGetStrileOffsetWithErr(tif, s, &err);
	uint64_t bc = err ? 0 : TIFFGetStrileByteCountWithErr(tif, s, &err);
	if (err)
		return 0; /* libtiff reported why */
	if (bc > m->len || off > m->len - bc) {
		m->eof = 1;
		return 0;
	}
	return 1;
}

/* Copy a decoded block (rows x cols of `ps` samples, row pitch `pitch` bytes) into the
 * image at (y0, x0), samples going to channels c0.. (separate planes have ps == 1). */
static void put_block(ct_tensor *t, const unsigned char *src, size_t pitch, int64_t y0,
		      int64_t x0, int64_t rows, int64_t cols, int ps, int c0, size_t es)
{
	for (int64_t r = 0; r < rows; r++) {
		const unsigned char *s = src + (size_t)r * pitch;
		unsigned char *d = (unsigned char *)t->data + (y0 + r) * t->stride[0] +
				   x0 * t->stride[1] + c0 * t->stride[2];
		if (ps == t->shape[2]) {
			memcpy(d, s, (size_t)cols * ps * es);
			continue;
		}
		for (int64_t x = 0; x < cols; x++)
			for (int k = 0; k < ps; k++)
				memcpy(d + x * t->stride[1] + k * t->stride[2],
				       s + ((size_t)x * ps + k) * es, es);
	}
}

static const char *format_name(uint16_t f)
{
	switch (f) {
	case SAMPLEFORMAT_UINT: return "unsigned integer";
	case SAMPLEFORMAT_INT: return "signed integer";
	case SAMPLEFORMAT_IEEEFP: return "float";
	default: return "other";
	}
}

static int read_page(TIFF *tif, struct tiff_mem *m, int64_t max_pixels, ct_tensor *t, int *depth)
{
	uint32_t w = 0, h = 0;
	uint16_t spp = 1, bps = 1, fmt = SAMPLEFORMAT_UINT, planar = PLANARCONFIG_CONTIG, photo;
	if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h))
		return ct_error("corrupt TIFF data: no image size");
	if (ct_image_check_size(w, h, max_pixels) < 0)
		return -1;
	TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
	TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
	TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
	TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
	if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo))
		photo = spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;

	ct_dtype dt;
	if (bps == 8 && fmt == SAMPLEFORMAT_UINT)
		dt = CT_U8;
	else if (bps == 16 && fmt == SAMPLEFORMAT_UINT)
		dt = CT_U16;
	else if (bps == 32 && fmt == SAMPLEFORMAT_IEEEFP)
		dt = CT_F32;
	else
		return ct_error("unsupported TIFF sample format (%u-bit %s)", bps, format_name(fmt));
	int grey = photo == PHOTOMETRIC_MINISBLACK || photo == PHOTOMETRIC_MINISWHITE;
	if (!((grey && (spp == 1 || spp == 2)) || (photo == PHOTOMETRIC_RGB && (spp == 3 || spp == 4))))
		return ct_error("unsupported TIFF layout (photometric %u with %u samples per pixel)",
				photo, spp);
	if (photo == PHOTOMETRIC_MINISWHITE && dt == CT_F32)
		return ct_error("unsupported TIFF layout (inverted float grey)");
	if (planar != PLANARCONFIG_CONTIG && planar != PLANARCONFIG_SEPARATE)
		return ct_error("corrupt TIFF data: bad planar configuration %u", planar);
	uint16_t comp = COMPRESSION_NONE;
	TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &comp);
	if (!TIFFIsCODECConfigured(comp))
		return ct_error("unsupported TIFF compression (%u)", comp);

	int sep = planar == PLANARCONFIG_SEPARATE && spp > 1;
	int nplanes = sep ? spp : 1, ps = sep ? 1 : spp;
	size_t es = ct_dtype_size(dt), px;
	if (ct_mul_size((size_t)ps, es, &px) < 0)
		return ct_error("corrupt TIFF data");
	/* libtiff must agree on the row size, or the layout is one we do not understand */
	uint64_t want_row = (uint64_t)w * px;
	if (TIFFScanlineSize64(tif) != want_row)
		return ct_error("unsupported TIFF layout (row of %llu bytes, expected %llu)",
				(unsigned long long)TIFFScanlineSize64(tif),
				(unsigned long long)want_row);
	if (ct_tensor_alloc3(t, dt, h, w, spp) < 0)
		return -1;

	unsigned char *blk = NULL;
	if (TIFFIsTiled(tif)) {
		uint32_t tw = 0, th = 0;
		TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
		TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
		size_t pitch, need;
		if (tw == 0 || th == 0 || ct_mul_size(tw, px, &pitch) < 0 ||
		    ct_mul_size(pitch, th, &need) < 0 || (uint64_t)TIFFTileSize64(tif) != need) {
			ct_error("corrupt TIFF data: bad tile size");
			goto fail;
		}
		blk = malloc(need);
		if (!blk) {
			ct_error("out of memory (TIFF tile of %zu bytes)", need);
			goto fail;
		}
		for (int p = 0; p < nplanes; p++)
			for (uint32_t ty = 0; ty < h; ty += th)
				for (uint32_t tx = 0; tx < w; tx += tw) {
					uint32_t tile = TIFFComputeTile(tif, tx, ty, 0, (uint16_t)p);
					if (tile >= TIFFNumberOfTiles(tif) || !strile_in_bounds(tif, m, tile) ||
					    TIFFReadEncodedTile(tif, tile, blk, (tmsize_t)need) != (tmsize_t)need)
						goto fail_tiff;
					uint32_t rows = h - ty < th ? h - ty : th;
					uint32_t cols = w - tx < tw ? w - tx : tw;
					put_block(t, blk, pitch, ty, tx, rows, cols, ps, p, es);
				}
	} else {
		uint32_t rps = h;
		TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
		if (rps == 0 || rps > h)
			rps = h;
		uint32_t per_plane = h / rps + (h % rps != 0);
		size_t pitch = (size_t)want_row, need;
		if (ct_mul_size(pitch, rps, &need) < 0) {
			ct_error("corrupt TIFF data");
			goto fail;
		}
		if ((uint64_t)per_plane * nplanes > TIFFNumberOfStrips(tif)) {
			ct_error("corrupt TIFF data: %u strips, expected %llu", TIFFNumberOfStrips(tif),
				 (unsigned long long)per_plane * nplanes);
			goto fail;
		}
		blk = malloc(need);
		if (!blk) {
			ct_error("out of memory (TIFF strip of %zu bytes)", need);
			goto fail;
		}
		for (int p = 0; p < nplanes; p++)
			for (uint32_t i = 0; i < per_plane; i++) {
				uint32_t y0 = i * rps, rows = h - y0 < rps ? h - y0 : rps;
				uint32_t strip = (uint32_t)p * per_plane + i;
				tmsize_t n = (tmsize_t)(pitch * rows);
				if (!strile_in_bounds(tif, m, strip) ||
				    TIFFReadEncodedStrip(tif, strip, blk, n) != n)
					goto fail_tiff;
				put_block(t, blk, pitch, y0, 0, rows, w, ps, p, es);
			}
	}
	free(blk);
	if (photo == PHOTOMETRIC_MINISWHITE) { /* 0 is white: flip so that larger is brighter */
		int64_t n = ct_tensor_numel(t);
		for (int64_t i = 0; i < n; i++) {
			if (dt == CT_U8)
				((uint8_t *)t->data)[i] = (uint8_t)(255 - ((uint8_t *)t->data)[i]);
			else
				((uint16_t *)t->data)[i] = (uint16_t)(65535 - ((uint16_t *)t->data)[i]);
		}
		if (spp == 2) /* ...but alpha is not inverted: undo it there */
			for (int64_t i = 1; i < n; i += 2) {
				if (dt == CT_U8)
					((uint8_t *)t->data)[i] = (uint8_t)(255 - ((uint8_t *)t->data)[i]);
				else
					((uint16_t *)t->data)[i] =
						(uint16_t)(65535 - ((uint16_t *)t->data)[i]);
			}
	}
	*depth = bps;
	return 0;
fail_tiff:
	tiff_fail(m);
fail:
	free(blk);
	ct_tensor_free(t);
	return -1;
}

int ct_image_decode_tiff(const void *buf, size_t len, int64_t max_pixels, ct_image *out)
{
	struct tiff_mem m = { .buf = (unsigned char *)buf, .len = len }; /* read-only use */
	TIFF *tif = open_mem(&m, "rm");
	if (!tif)
		return tiff_fail(&m);
	int cap = 0, rc = -1;
	do {
		uint32_t sub = 0;
		/* reduced-resolution copies (thumbnails) are not slices */
		if (TIFFGetField(tif, TIFFTAG_SUBFILETYPE, &sub) && (sub & FILETYPE_REDUCEDIMAGE))
			continue;
		if (out->npages == cap) {
			int ncap = cap ? cap * 2 : 4;
			ct_tensor *p = realloc(out->pages, (size_t)ncap * sizeof *p);
			if (!p) {
				ct_error("out of memory");
				goto done;
			}
			out->pages = p;
			cap = ncap;
		}
		ct_tensor *t = &out->pages[out->npages];
		int depth = 0;
		if (read_page(tif, &m, max_pixels, t, &depth) < 0) {
			if (out->npages > 0 || !TIFFLastDirectory(tif))
				ct_error_prefix("page %d", out->npages + 1);
			goto done;
		}
		if (out->npages > 0 && (t->dtype != out->pages[0].dtype)) {
			ct_tensor_free(t);
			ct_error("page %d: sample format differs from page 1", out->npages + 1);
			goto done;
		}
		out->npages++;
		out->bit_depth = depth;
	} while (TIFFReadDirectory(tif));
	/* TIFFReadDirectory returns 0 both at the last page and on a broken link */
	if (m.nerrors || m.eof) {
		tiff_fail(&m);
		goto done;
	}
	if (out->npages == 0) {
		ct_error("TIFF has no full-resolution pages");
		goto done;
	}
	rc = 0;
done:
	TIFFClose(tif);
	if (rc < 0)
		ct_image_free(out);
	return rc;
}

int ct_image_encode_tiff(const ct_tensor *pages, int npages, ct_tiff_compression compression,
			 void **buf, size_t *len)
{
	*buf = NULL;
	*len = 0;
	if (!pages || npages < 1)
		return ct_error("TIFF needs at least one page");
	if (compression != CT_TIFF_DEFLATE && compression != CT_TIFF_NONE)
		return ct_error("unknown TIFF compression %d", (int)compression);
	ct_dtype dt = pages[0].dtype;
	uint64_t total = 0;
	size_t maxrow = 0;
	for (int i = 0; i < npages; i++) {
		const ct_tensor *t = &pages[i];
		if (t->ndim != 3 || (t->dtype != CT_U8 && t->dtype != CT_U16 && t->dtype != CT_F32) ||
		    (t->shape[2] != 1 && t->shape[2] != 3) || t->shape[0] < 1 || t->shape[1] < 1)
			return ct_error("page %d: TIFF needs an HxWxC uint8, uint16 or float32 image "
					"with C 1 or 3", i + 1);
		if (t->dtype != dt)
			return ct_error("page %d: TIFF pages must share one sample format", i + 1);
		if (t->shape[0] > UINT32_MAX || t->shape[1] > UINT32_MAX)
			return ct_error("page %d: image too large for TIFF", i + 1);
		size_t row;
		if (ct_mul_size((size_t)t->shape[1] * (size_t)t->shape[2], ct_dtype_size(dt), &row) < 0)
			return ct_error("page %d: image too large for TIFF", i + 1);
		if (row > maxrow)
			maxrow = row;
		total += (uint64_t)row * (uint64_t)t->shape[0];
	}
	unsigned char *row = malloc(maxrow);
	if (!row)
		return ct_error("out of memory");
	struct tiff_mem m = { .writable = 1 };
	/* classic TIFF offsets are 32-bit; go BigTIFF well before raw data could overflow them */
	TIFF *tif = open_mem(&m, total > ((uint64_t)3 << 30) ? "w8" : "w");
	if (!tif) {
		free(row);
		free(m.buf);
		return ct_error("cannot create TIFF: %s", m.msg[0] ? m.msg : "out of memory");
	}
	size_t es = ct_dtype_size(dt);
	for (int i = 0; i < npages; i++) {
		const ct_tensor *t = &pages[i];
		uint32_t H = (uint32_t)t->shape[0], W = (uint32_t)t->shape[1];
		uint16_t C = (uint16_t)t->shape[2];
		int ok = TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, W) &&
			 TIFFSetField(tif, TIFFTAG_IMAGELENGTH, H) &&
			 TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, C) &&
			 TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)(es * 8)) &&
			 TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT,
				      dt == CT_F32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT) &&
			 TIFFSetField(tif, TIFFTAG_PHOTOMETRIC,
				      C == 1 ? PHOTOMETRIC_MINISBLACK : PHOTOMETRIC_RGB) &&
			 TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) &&
			 TIFFSetField(tif, TIFFTAG_COMPRESSION, compression == CT_TIFF_DEFLATE
								? COMPRESSION_ADOBE_DEFLATE
								: COMPRESSION_NONE);
		/* the predictor turns smooth CT gradients into small residuals deflate packs well */
		if (ok && compression == CT_TIFF_DEFLATE)
			ok = TIFFSetField(tif, TIFFTAG_PREDICTOR,
					  dt == CT_F32 ? PREDICTOR_FLOATINGPOINT : PREDICTOR_HORIZONTAL);
		if (ok)
			ok = TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(tif, 0));
		if (ok && npages > 1)
			ok = TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE) &&
			     TIFFSetField(tif, TIFFTAG_PAGENUMBER, (uint16_t)(i < 65535 ? i : 65535),
					  (uint16_t)(npages < 65535 ? npages : 65535));
		for (uint32_t y = 0; ok && y < H; y++) {
			for (uint32_t x = 0; x < W; x++)
				for (uint16_t k = 0; k < C; k++)
					memcpy(row + ((size_t)x * C + k) * es,
					       (const char *)t->data + y * t->stride[0] +
						       x * t->stride[1] + k * t->stride[2],
					       es);
			ok = TIFFWriteScanline(tif, row, y, 0) == 1;
		}
		if (ok)
			ok = TIFFWriteDirectory(tif);
		if (!ok || m.nerrors || m.oom) {
			TIFFClose(tif);
			free(row);
			free(m.buf);
			if (m.oom)
				return ct_error("out of memory encoding TIFF");
			return ct_error("cannot encode TIFF page %d: %s", i + 1,
					m.msg[0] ? m.msg : "libtiff failed");
		}
	}
	TIFFClose(tif);
	free(row);
	if (m.nerrors || m.oom) {
		free(m.buf);
		return ct_error("cannot encode TIFF: %s", m.oom ? "out of memory" : m.msg);
	}
	*buf = m.buf;
	*len = m.len;
	return 0;
}
