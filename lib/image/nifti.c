/* nifti.c - NIfTI-1/2 volumes to axial slices (orientation and scaling in nifti.h); the header
 * is decoded and checked by nifti_clib, the file is read through zlib (gzip or plain). */
#include "image/nifti.h"

#include "core/error.h"

#include <nifti2_io.h>
#include <zlib.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DECODED ((int64_t)2 << 30)

int ct_slice_select_parse(const char *spec, ct_slice_select *s)
{
	s->first = 0;
	s->last = -1;
	s->every = 1;
	s->lung = 0.0;
	if (!spec || !strcmp(spec, "all"))
		return 0;
	const char *p = spec;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char term[64];
		if (n == 0 || n >= sizeof term)
			return ct_error("bad slice selection '%s' (expected all, range:A-B, every:K, lung[:F])", spec);
		memcpy(term, p, n);
		term[n] = '\0';
		char *e;
		if (!strncmp(term, "range:", 6)) {
			errno = 0;
			long long a = strtoll(term + 6, &e, 10), b = -1;
			if (e == term + 6 || *e != '-' || a < 0 || errno)
				return ct_error("bad slice range '%s' (expected range:A-B, from 0)", term);
			if (e[1]) {
				char *e2;
				b = strtoll(e + 1, &e2, 10);
				if (*e2 || b < a)
					return ct_error("bad slice range '%s' (expected range:A-B with A <= B)", term);
			}
			s->first = a;
			s->last = b;
		} else if (!strncmp(term, "every:", 6)) {
			errno = 0;
			long long k = strtoll(term + 6, &e, 10);
			if (e == term + 6 || *e || k < 1 || errno)
				return ct_error("bad slice step '%s' (expected every:K, K >= 1)", term);
			s->every = k;
		} else if (!strcmp(term, "lung")) {
			s->lung = 0.05;
		} else if (!strncmp(term, "lung:", 5)) {
			double f = strtod(term + 5, &e);
			if (e == term + 5 || *e || !(f > 0.0 && f <= 1.0))
				return ct_error("bad lung fraction '%s' (expected lung:F, 0 < F <= 1)", term);
			s->lung = f;
		} else {
			return ct_error("bad slice selection '%s' (expected all, range:A-B, every:K, lung[:F])", term);
		}
		p = end ? end + 1 : p + n;
	}
	return 0;
}

double ct_lung_fraction(const ct_tensor *hu)
{
	int64_t h = hu->shape[0], w = hu->shape[1], n = 0;
	for (int64_t y = 0; y < h; y++)
		for (int64_t x = 0; x < w; x++) {
			float v = *(const float *)((const char *)hu->data + y * hu->stride[0] + x * hu->stride[1]);
			n += v >= -950.0f && v <= -400.0f;
		}
	return h > 0 && w > 0 ? (double)n / (double)(h * w) : 0.0;
}

int ct_slice_keep(const ct_slice_select *s, int64_t index, const ct_tensor *hu)
{
	if (!s)
		return 1;
	if (index < s->first || (s->last >= 0 && index > s->last) || (index - s->first) % s->every)
		return 0;
	return s->lung <= 0.0 || ct_lung_fraction(hu) >= s->lung;
}

static int32_t get_i32(const unsigned char *p, int swap)
{
	uint32_t v = swap ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
			  : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
	return (int32_t)v;
}

/* 1 or 2 for a single-file NIfTI header, else 0. */
static int header_version(const unsigned char *p, size_t len)
{
	if (len < 4)
		return 0;
	int32_t le = get_i32(p, 0), be = get_i32(p, 1);
	if ((le == 348 || be == 348) && len >= 348)
		return !memcmp(p + 344, "n+1\0", 4) ? 1 : 0;
	if ((le == 540 || be == 540) && len >= 12)
		return !memcmp(p + 4, "n+2\0\r\n\032\n", 8) ? 2 : 0;
	return 0;
}

int ct_nifti_sniff(const void *buf, size_t len)
{
	return header_version(buf, len) != 0;
}

int ct_nifti_sniff_file(const char *path)
{
	gzFile g = gzopen(path, "rb");
	if (!g)
		return -1;
	unsigned char buf[352];
	int n = gzread(g, buf, sizeof buf);
	gzclose(g);
	return n > 0 && ct_nifti_sniff(buf, (size_t)n);
}

/* Read exactly n bytes (gzip or plain); 0, or -1 when the data ends first. */
static int read_exact(gzFile g, void *dst, int64_t n)
{
	char *p = dst;
	while (n > 0) {
		unsigned chunk = n > (1 << 30) ? 1u << 30 : (unsigned)n;
		int r = gzread(g, p, chunk);
		if (r <= 0)
			return -1;
		p += r;
		n -= r;
	}
	return 0;
}

static double voxel(const void *data, int dtype, int64_t i)
{
	switch (dtype) {
	case DT_UINT8: return ((const uint8_t *)data)[i];
	case DT_INT8: return ((const int8_t *)data)[i];
	case DT_INT16: return ((const int16_t *)data)[i];
	case DT_UINT16: return ((const uint16_t *)data)[i];
	case DT_INT32: return ((const int32_t *)data)[i];
	case DT_UINT32: return ((const uint32_t *)data)[i];
	case DT_INT64: return (double)((const int64_t *)data)[i];
	case DT_UINT64: return (double)((const uint64_t *)data)[i];
	case DT_FLOAT32: return ((const float *)data)[i];
	default: return ((const double *)data)[i]; /* DT_FLOAT64 */
	}
}

void ct_nifti_free(ct_nifti *v)
{
	for (int64_t i = 0; v->slices && i < v->nslices; i++)
		ct_tensor_free(&v->slices[i]);
	free(v->slices);
	free(v->index);
	memset(v, 0, sizeof *v);
}

/* The voxel axis along each patient direction and whether it runs backwards. */
typedef struct axis_map {
	int axis[3];  /* voxel axis (0 i, 1 j, 2 k) for: columns (R->L), rows (A->P), slices (I->S) */
	int flip[3];  /* 1: the index runs against that direction */
} axis_map;

static int orient(const nifti_image *nim, axis_map *m)
{
	nifti_dmat44 a;
	if (nim->sform_code > 0) {
		a = nim->sto_xyz;
	} else if (nim->qform_code > 0) {
		a = nim->qto_xyz;
	} else { /* Analyze default (nibabel's base affine): x runs right -> left */
		memset(&a, 0, sizeof a);
		a.m[0][0] = -(nim->dx > 0 ? nim->dx : 1.0);
		a.m[1][1] = nim->dy > 0 ? nim->dy : 1.0;
		a.m[2][2] = nim->dz > 0 ? nim->dz : 1.0;
		a.m[3][3] = 1.0;
	}
	int code[3];
	nifti_dmat44_to_orientation(a, &code[0], &code[1], &code[2]);
	int seen[3] = { 0, 0, 0 };
	for (int ax = 0; ax < 3; ax++) {
		int d, flip;
		switch (code[ax]) {
		case NIFTI_R2L: d = 0, flip = 0; break;
		case NIFTI_L2R: d = 0, flip = 1; break;
		case NIFTI_A2P: d = 1, flip = 0; break;
		case NIFTI_P2A: d = 1, flip = 1; break;
		case NIFTI_I2S: d = 2, flip = 0; break;
		case NIFTI_S2I: d = 2, flip = 1; break;
		default: return -1;
		}
		if (seen[d]++)
			return -1;
		m->axis[d] = ax;
		m->flip[d] = flip;
	}
	return 0;
}

/* dim[0] in the header's own byte order is 1..7. nifti_clib's header converters trust it (its
 * checks are in nifti_image_read, which is not used here): out of range, they write past the
 * header's dim[8] on the stack (found by fuzzing, tests/fuzz/regress/fuzz_nifti/). */
static int header_rank_ok(const unsigned char *p, int ver)
{
	int swap = get_i32(p, 0) != (ver == 1 ? 348 : 540);
	int64_t d0;
	if (ver == 1) {
		d0 = (int16_t)(swap ? p[40] << 8 | p[41] : p[41] << 8 | p[40]);
	} else {
		uint64_t v = 0;
		for (int i = 0; i < 8; i++)
			v |= (uint64_t)p[16 + (swap ? 7 - i : i)] << (8 * i);
		d0 = (int64_t)v;
	}
	return d0 >= 1 && d0 <= 7;
}

static int read_volume(gzFile g, const char *path, int64_t max_pixels, const ct_slice_select *sel, ct_nifti *out)
{
	unsigned char hdr[540];
	int n = gzread(g, hdr, 348);
	if (n < 0)
		return ct_error("cannot read '%s': %s", path, "read error");
	if (n == 348 && (get_i32(hdr, 0) == 540 || get_i32(hdr, 1) == 540)) {
		int more = gzread(g, hdr + 348, 540 - 348);
		n += more > 0 ? more : 0;
	}
	int ver = header_version(hdr, (size_t)n);
	if (!ver)
		return ct_error("'%s': not a single-file NIfTI-1/2 image", path);
	if ((ver == 1 && n < 348) || (ver == 2 && n < 540))
		return ct_error("'%s': truncated NIfTI file (header)", path);
	if (!header_rank_ok(hdr, ver))
		return ct_error("'%s': damaged NIfTI header (dimensions)", path);
	nifti_image *nim;
	if (ver == 1) {
		nifti_1_header h1;
		memcpy(&h1, hdr, sizeof h1);
		nim = nifti_convert_n1hdr2nim(h1, NULL);
	} else {
		nifti_2_header h2;
		memcpy(&h2, hdr, sizeof h2);
		nim = nifti_convert_n2hdr2nim(h2, NULL);
	}
	if (!nim)
		return ct_error("'%s': damaged NIfTI header", path);
	int rc = 0;
	out->version = ver;
	int64_t nx = nim->nx, ny = nim->ny, nz = nim->ndim >= 3 ? nim->nz : 1;
	int64_t vox_offset = (int64_t)nim->iname_offset;
	int dt = nim->datatype;
	axis_map m;
	switch (dt) {
	case DT_UINT8: case DT_INT8: case DT_INT16: case DT_UINT16: case DT_INT32: case DT_UINT32:
	case DT_INT64: case DT_UINT64: case DT_FLOAT32: case DT_FLOAT64:
		break;
	default:
		rc = ct_error("'%s': unsupported NIfTI data type %s", path, nifti_datatype_string(dt));
	}
	for (int d = 5; rc == 0 && d <= nim->ndim && d <= 7; d++)
		if (nim->dim[d] > 1)
			rc = ct_error("'%s': unsupported NIfTI image with %d dimensions", path, (int)nim->ndim);
	if (rc == 0 && (nim->ndim < 2 || nx < 1 || ny < 1 || nz < 1))
		rc = ct_error("'%s': damaged NIfTI header (dimensions)", path);
	if (rc == 0 && orient(nim, &m) < 0)
		rc = ct_error("'%s': damaged NIfTI header (degenerate orientation)", path);
	int64_t nbytes = 0;
	if (rc == 0 && (ct_mul_i64(nx, ny, &nbytes) < 0 || ct_mul_i64(nbytes, nz, &nbytes) < 0 ||
			ct_mul_i64(nbytes, nim->nbyper, &nbytes) < 0 || nbytes > MAX_DECODED))
		rc = ct_error("'%s': NIfTI volume too large (%lld x %lld x %lld)", path, (long long)nx, (long long)ny,
			      (long long)nz);
	int64_t sdim[3] = { nx, ny, nz };
	int64_t cols = rc == 0 ? sdim[m.axis[0]] : 0, rows = rc == 0 ? sdim[m.axis[1]] : 0;
	int64_t nsl = rc == 0 ? sdim[m.axis[2]] : 0;
	if (rc == 0 && max_pixels > 0 && rows * cols > max_pixels)
		rc = ct_error("'%s': image is %lldx%lld, over the limit of %lld pixels", path, (long long)cols,
			      (long long)rows, (long long)max_pixels);
	if (rc == 0 && vox_offset < n)
		rc = ct_error("'%s': damaged NIfTI header (vox_offset %lld)", path, (long long)vox_offset);
	double slope = nim->scl_slope, inter = nim->scl_inter;
	int scaled = isfinite(slope) && slope != 0.0;
	if (rc == 0 && scaled && !isfinite(inter))
		rc = ct_error("'%s': damaged NIfTI header (scl_slope %g with scl_inter %g)", path, slope, inter);
	int swap = nim->byteorder != nifti_short_order();
	int nbyper = nim->nbyper;
	nifti_image_free(nim);
	if (rc < 0)
		return -1;

	/* Skip to the data (extensions are not read), then read the first volume. */
	int64_t skip = vox_offset - n;
	char tmp[4096];
	while (skip > 0) {
		int k = gzread(g, tmp, skip > (int64_t)sizeof tmp ? (unsigned)sizeof tmp : (unsigned)skip);
		if (k <= 0)
			return ct_error("'%s': truncated NIfTI file", path);
		skip -= k;
	}
	void *data = malloc((size_t)nbytes);
	if (!data)
		return ct_error("out of memory");
	if (read_exact(g, data, nbytes) < 0) {
		free(data);
		return ct_error("'%s': truncated NIfTI file", path);
	}
	if (swap && nbyper > 1)
		nifti_swap_Nbytes(nbytes / nbyper, nbyper, data);

	out->nx = nx;
	out->ny = ny;
	out->nz = nz;
	out->slices = calloc((size_t)nsl, sizeof *out->slices);
	out->index = calloc((size_t)nsl, sizeof *out->index);
	if (!out->slices || !out->index) {
		free(data);
		return ct_error("out of memory");
	}
	int64_t stride[3] = { 1, nx, nx * ny };
	for (int64_t s = 0; s < nsl; s++) {
		ct_tensor *t = &out->slices[out->nslices];
		if (ct_tensor_alloc3(t, CT_F32, rows, cols, 1) < 0) {
			free(data);
			return ct_error("out of memory");
		}
		float *dst = t->data;
		int64_t base = (m.flip[2] ? nsl - 1 - s : s) * stride[m.axis[2]];
		int finite = 1;
		for (int64_t r = 0; r < rows; r++) {
			int64_t rb = base + (m.flip[1] ? rows - 1 - r : r) * stride[m.axis[1]];
			for (int64_t c = 0; c < cols; c++) {
				double v = voxel(data, dt, rb + (m.flip[0] ? cols - 1 - c : c) * stride[m.axis[0]]);
				if (scaled)
					v = v * slope + inter;
				finite &= isfinite(v);
				dst[r * cols + c] = (float)v;
			}
		}
		if (!finite) {
			ct_tensor_free(t);
			free(data);
			return ct_error("'%s': slice %lld holds values that are not finite", path, (long long)s);
		}
		if (!ct_slice_keep(sel, s, t)) {
			ct_tensor_free(t);
			continue;
		}
		out->index[out->nslices++] = s;
	}
	free(data);
	return 0;
}

int ct_nifti_read(const char *path, int64_t max_pixels, const ct_slice_select *sel, ct_nifti *out)
{
	memset(out, 0, sizeof *out);
	gzFile g = gzopen(path, "rb");
	if (!g)
		return ct_error_errno("cannot open '%s'", path);
	gzbuffer(g, 1 << 17);
	nifti_set_debug_level(0); /* nifti_clib prints to stderr otherwise */
	int rc = read_volume(g, path, max_pixels, sel, out);
	gzclose(g);
	if (rc < 0)
		ct_nifti_free(out);
	return rc;
}
