/* codec.c - image format sniffing, decode dispatch, file reading, and the atomic file writers. */
#include "image/codec.h"
#include "core/error.h"
#include "io/outfile.h"
#include "io/target.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const unsigned char png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
static const unsigned char jpeg_sig[3] = { 0xff, 0xd8, 0xff };
/* Classic TIFF (42) and BigTIFF (43), both byte orders; libtiff reads all four. */
static const unsigned char tiff_sigs[4][4] = {
	{ 'I', 'I', 42, 0 }, { 'M', 'M', 0, 42 }, { 'I', 'I', 43, 0 }, { 'M', 'M', 0, 43 },
};

const char *ct_image_sniff(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	if (!p)
		return NULL;
	if (len >= sizeof png_sig && !memcmp(p, png_sig, sizeof png_sig))
		return "png";
	if (len >= sizeof jpeg_sig && !memcmp(p, jpeg_sig, sizeof jpeg_sig))
		return "jpeg";
	for (int i = 0; i < 4; i++)
		if (len >= 4 && !memcmp(p, tiff_sigs[i], 4))
			return "tiff";
	return NULL;
}

/* A buffer too short to hold a whole signature but matching its start is a cut file,
 * which deserves "truncated" rather than "not an image". */
static const char *sniff_prefix(const unsigned char *p, size_t len)
{
	if (len < sizeof png_sig && !memcmp(p, png_sig, len))
		return "PNG";
	if (len < sizeof jpeg_sig && !memcmp(p, jpeg_sig, len))
		return "JPEG";
	for (int i = 0; i < 4; i++)
		if (len < 4 && !memcmp(p, tiff_sigs[i], len))
			return "TIFF";
	return NULL;
}

int ct_image_check_size(int64_t width, int64_t height, int64_t max_pixels)
{
	int64_t n;
	if (width <= 0 || height <= 0)
		return ct_error("image has an empty size (%lldx%lld)", (long long)width,
				(long long)height);
	if (ct_mul_i64(width, height, &n) < 0 || n > max_pixels)
		return ct_error("image is %lldx%lld, over the limit of %lld pixels", (long long)width,
				(long long)height, (long long)max_pixels);
	return 0;
}

int ct_image_take_page(ct_image *out, const ct_tensor *page, int bit_depth)
{
	out->pages = calloc(1, sizeof *out->pages);
	if (!out->pages)
		return ct_error("out of memory");
	out->npages = 1;
	out->pages[0] = *page;
	out->bit_depth = bit_depth;
	return 0;
}

int ct_image_decode(const void *buf, size_t len, int64_t max_pixels, ct_image *out)
{
	memset(out, 0, sizeof *out);
	if (max_pixels <= 0)
		return ct_error("max_pixels must be positive (got %lld)", (long long)max_pixels);
	if (!buf || len == 0)
		return ct_error("empty image data");
	const char *fmt = ct_image_sniff(buf, len);
	int rc;
	if (!fmt) {
		const char *cut = sniff_prefix(buf, len);
		if (cut)
			return ct_error("truncated %s data", cut);
		return ct_error("not an image (unknown format)");
	}
	if (!strcmp(fmt, "png"))
		rc = ct_image_decode_png(buf, len, max_pixels, out);
	else if (!strcmp(fmt, "jpeg"))
		rc = ct_image_decode_jpeg(buf, len, max_pixels, out);
	else
		rc = ct_image_decode_tiff(buf, len, max_pixels, out);
	if (rc < 0) {
		ct_image_free(out); /* never a partial success */
		return -1;
	}
	snprintf(out->format, sizeof out->format, "%s", fmt);
	return 0;
}

void ct_image_free(ct_image *img)
{
	if (!img)
		return;
	for (int i = 0; i < img->npages && img->pages; i++)
		ct_tensor_free(&img->pages[i]);
	free(img->pages);
	memset(img, 0, sizeof *img);
}

/* Image files larger than this are refused before being read (the largest CT slice is a
 * few tens of MB; --max-pixels bounds the decoded size separately). */
#define CT_MAX_IMAGE_FILE (1LL << 30)

/* Whole file into memory: a regular file only (a FIFO would block, a device never end), no
 * larger than CT_MAX_IMAGE_FILE, and only once its first bytes are an image signature, so a
 * large file of another kind is refused after 16 bytes, not read whole. */
static int read_file(const char *path, unsigned char **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	int fd = ct_open_regular(path, CT_MAX_IMAGE_FILE);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		ct_error_errno("cannot stat '%s'", path);
		close(fd);
		return -1;
	}
	size_t cap = (size_t)st.st_size + 1, n = 0;
	if (cap < 16)
		cap = 16;
	unsigned char *p = malloc(cap);
	if (!p) {
		close(fd);
		return ct_error("cannot read '%s': out of memory (%zu bytes)", path, cap);
	}
	/* read to the end, or to cap: a file growing while read is cut there (and decoding it
	 * then fails as truncated or the extra bytes are ignored) */
	while (n < cap) {
		size_t want = n < 16 ? 16 : cap; /* the signature first */
		ssize_t r = read(fd, p + n, want - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ct_error_errno("cannot read '%s'", path);
			free(p);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n >= 16 && n - (size_t)r < 16 && !ct_image_sniff(p, n)) {
			free(p);
			close(fd);
			return ct_error("'%s': not an image (unknown format)", path);
		}
	}
	close(fd); /* read-only: a close error cannot lose data */
	*data = p;
	*len = n;
	return 0;
}

int ct_image_read(const char *path, int64_t max_pixels, ct_image *out)
{
	unsigned char *data;
	size_t len;
	memset(out, 0, sizeof *out);
	if (read_file(path, &data, &len) < 0)
		return -1;
	if (len == 0) {
		free(data);
		return ct_error("'%s': empty file", path);
	}
	int rc = ct_image_decode(data, len, max_pixels, out);
	free(data);
	if (rc < 0)
		return ct_error_prefix("'%s'", path);
	return 0;
}


static int write_encoded(const char *path, int rc, void *buf, size_t len)
{
	if (rc < 0)
		return ct_error_prefix("cannot write '%s'", path);
	rc = ct_write_file_atomic(path, buf, len);
	free(buf);
	return rc;
}

int ct_image_write_png(const char *path, const ct_tensor *img)
{
	void *buf;
	size_t len;
	int rc = ct_image_encode_png(img, &buf, &len);
	return write_encoded(path, rc, buf, len);
}

int ct_image_write_jpeg(const char *path, const ct_tensor *img, int quality)
{
	void *buf;
	size_t len;
	int rc = ct_image_encode_jpeg(img, quality, &buf, &len);
	return write_encoded(path, rc, buf, len);
}

int ct_image_write_tiff_ex(const char *path, const ct_tensor *pages, int npages,
			   ct_tiff_compression compression)
{
	void *buf;
	size_t len;
	int rc = ct_image_encode_tiff(pages, npages, compression, &buf, &len);
	return write_encoded(path, rc, buf, len);
}

int ct_image_write_tiff(const char *path, const ct_tensor *pages, int npages)
{
	return ct_image_write_tiff_ex(path, pages, npages, CT_TIFF_DEFLATE);
}
