/* activations.c - the /activations dataset of a features file (activations.h). */
#include "data/activations.h"
#include "data/dataset.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

uint16_t ct_f32_to_f16(float v)
{
	uint32_t x;
	memcpy(&x, &v, 4);
	uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
	uint32_t ax = x & 0x7fffffff;
	if (ax >= 0x7f800000) /* Inf or NaN */
		return sign | 0x7c00 | (ax > 0x7f800000 ? 0x200 : 0);
	if (ax >= 0x477ff000) /* rounds to >= 65520: overflow */
		return sign | 0x7c00;
	if (ax < 0x38800000) { /* below 2^-14: a subnormal half, step 2^-24 */
		float a;
		memcpy(&a, &ax, 4);
		float q = a * 16777216.0f; /* exact: a power-of-two scaling */
		uint32_t m = (uint32_t)q;
		float frac = q - (float)m;
		if (frac > 0.5f || (frac == 0.5f && (m & 1)))
			m++;
		return sign | (uint16_t)m; /* m == 0x400 carries into the smallest normal */
	}
	/* normal: rebias the exponent, round the 13 dropped mantissa bits to nearest even */
	uint32_t e = ((ax >> 23) - 127 + 15) << 10, m = (ax >> 13) & 0x3ff, rest = ax & 0x1fff;
	uint32_t h = e | m;
	if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
		h++; /* a carry into the exponent is the right result */
	return sign | (uint16_t)h;
}

float ct_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, x;
	if (e == 0) {
		float v = (float)m / 16777216.0f;
		return sign ? -v : v;
	}
	if (e == 31)
		x = sign | 0x7f800000 | (m << 13);
	else
		x = sign | ((e - 15 + 127) << 23) | (m << 13);
	float v;
	memcpy(&v, &x, 4);
	return v;
}

/* The IEEE binary16 file type (HDF5 1.10 has no predefined one). */
static hid_t half_type(void)
{
	hid_t t = H5Tcopy(H5T_IEEE_F32LE);
	if (t < 0 || H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_size(t, 2) < 0 ||
	    H5Tset_ebias(t, 15) < 0) {
		if (t >= 0)
			H5Tclose(t);
		return H5I_INVALID_HID;
	}
	return t;
}

hid_t ct_act_create(hid_t file, int64_t n, int h, int w, int c, int f16)
{
	hsize_t dims[4] = { (hsize_t)n, (hsize_t)h, (hsize_t)w, (hsize_t)c };
	hsize_t chunk[4] = { 1, (hsize_t)h, (hsize_t)w, (hsize_t)c };
	hid_t type = f16 ? half_type() : H5Tcopy(H5T_IEEE_F32LE);
	hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
	H5Pset_obj_track_times(dcpl, 0);
	if (n > 0) {
		H5Pset_chunk(dcpl, 4, chunk);
		H5Pset_shuffle(dcpl);
		H5Pset_deflate(dcpl, 4);
	}
	hid_t sp = H5Screate_simple(4, dims, NULL);
	hid_t d = type >= 0 ? H5Dcreate2(file, "activations", type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT)
			    : H5I_INVALID_HID;
	H5Sclose(sp);
	H5Pclose(dcpl);
	if (type >= 0)
		H5Tclose(type);
	if (d < 0)
		ct_error("cannot create dataset 'activations'");
	return d;
}

int ct_act_write(hid_t dset, int64_t start, int64_t rows, int64_t per, const float *x, int f16)
{
	if (rows <= 0)
		return 0;
	for (int64_t i = 0; i < rows * per; i++)
		if (!isfinite(x[i]) || (f16 && fabsf(x[i]) >= 65520.f))
			return ct_error("activation %g cannot be stored%s", (double)x[i],
					f16 ? " as float16" : "");
	hid_t fsp = H5Dget_space(dset);
	hsize_t dims[4];
	H5Sget_simple_extent_dims(fsp, dims, NULL);
	hsize_t off[4] = { (hsize_t)start, 0, 0, 0 }, cnt[4] = { (hsize_t)rows, dims[1], dims[2], dims[3] };
	H5Sselect_hyperslab(fsp, H5S_SELECT_SET, off, NULL, cnt, NULL);
	hid_t msp = H5Screate_simple(4, cnt, NULL);
	int rc = 0;
	if (f16) {
		uint16_t *hbuf = malloc((size_t)(rows * per) * sizeof *hbuf);
		hid_t t = half_type();
		if (!hbuf || t < 0) {
			rc = ct_error("out of memory");
		} else {
			for (int64_t i = 0; i < rows * per; i++)
				hbuf[i] = ct_f32_to_f16(x[i]);
			/* memory type = file type: HDF5 copies the bits, no conversion */
			if (H5Dwrite(dset, t, msp, fsp, H5P_DEFAULT, hbuf) < 0)
				rc = ct_error("cannot write activations");
		}
		if (t >= 0)
			H5Tclose(t);
		free(hbuf);
	} else if (H5Dwrite(dset, H5T_NATIVE_FLOAT, msp, fsp, H5P_DEFAULT, x) < 0) {
		rc = ct_error("cannot write activations");
	}
	H5Sclose(msp);
	H5Sclose(fsp);
	return rc;
}

int ct_actfile_open(ct_actfile *a, const char *path)
{
	memset(a, 0, sizeof *a);
	a->dset = H5I_INVALID_HID;
	if (ct_h5_open(&a->h, path) < 0)
		return -1;
	int nd = 0;
	int64_t shape[CT_MAX_DIMS];
	if (ct_file_check(a->h.file, "features") < 0 || !ct_h5_exists(a->h.file, "activations")) {
		ct_actfile_close(a);
		return ct_error("'%s' has no cut activations (make it with ct-features --cut LAYER)", path);
	}
	if (ct_h5_shape(a->h.file, "activations", &nd, shape) < 0 || nd != 4 || shape[0] < 1 ||
	    ct_h5_get_str(a->h.file, "cut_layer", &a->cut) < 0 ||
	    ct_h5_get_str(a->h.file, "backbone", &a->backbone) < 0 ||
	    ct_h5_get_str(a->h.file, "weights_sha256", &a->weights_sha256) < 0) {
		ct_actfile_close(a);
		return ct_error("'%s': bad activations dataset or attributes", path);
	}
	/* one image's map must fit an int per side and a size_t in memory (a damaged or foreign
	 * file could claim anything) */
	if (shape[1] < 1 || shape[2] < 1 || shape[3] < 1 || shape[1] > 65536 || shape[2] > 65536 ||
	    shape[3] > 1 << 20 || shape[1] * shape[2] > ((int64_t)1 << 28) / shape[3]) {
		ct_actfile_close(a);
		return ct_error("'%s': activation maps of %lld x %lld x %lld are out of range", path,
				(long long)shape[1], (long long)shape[2], (long long)shape[3]);
	}
	a->n = shape[0];
	a->height = (int)shape[1], a->width = (int)shape[2], a->channels = (int)shape[3];
	a->dset = H5Dopen2(a->h.file, "activations", H5P_DEFAULT);
	if (a->dset < 0) {
		ct_actfile_close(a);
		return ct_error("'%s': cannot open the activations", path);
	}
	if (ct_h5_check_stored(a->dset, "activations") < 0) {
		ct_actfile_close(a);
		return ct_error_prefix("'%s'", path);
	}
	return 0;
}

int ct_actfile_read(ct_actfile *a, int64_t start, int64_t rows, float *out)
{
	if (start < 0 || rows < 0 || start + rows > a->n)
		return ct_error("activation rows %lld..%lld out of range", (long long)start,
				(long long)(start + rows));
	hid_t fsp = H5Dget_space(a->dset);
	hsize_t off[4] = { (hsize_t)start, 0, 0, 0 };
	hsize_t cnt[4] = { (hsize_t)rows, (hsize_t)a->height, (hsize_t)a->width, (hsize_t)a->channels };
	H5Sselect_hyperslab(fsp, H5S_SELECT_SET, off, NULL, cnt, NULL);
	hid_t msp = H5Screate_simple(4, cnt, NULL);
	int rc = H5Dread(a->dset, H5T_NATIVE_FLOAT, msp, fsp, H5P_DEFAULT, out) < 0
			 ? ct_error("cannot read activations (truncated or corrupt)")
			 : 0;
	H5Sclose(msp);
	H5Sclose(fsp);
	int64_t m = rows * a->height * a->width * a->channels;
	for (int64_t i = 0; rc == 0 && i < m; i++)
		if (!isfinite(out[i]))
			rc = ct_error("non-finite activation in row %lld", (long long)(start + i / (m / rows)));
	return rc;
}

void ct_actfile_close(ct_actfile *a)
{
	if (a->dset > 0)
		H5Dclose(a->dset);
	a->dset = H5I_INVALID_HID;
	if (a->h.file > 0)
		ct_h5_close(&a->h);
	free(a->cut), free(a->backbone), free(a->weights_sha256);
	a->cut = a->backbone = a->weights_sha256 = NULL;
}
