/* checksum.c - per-object content checksums of the HDF5 files we write (h5.h, docs/formats.md):
 * every object (the root group, each group, each dataset) carries a string attribute
 * content_sha256, the SHA-256 of its attributes (by name: name, NUL, the stored bytes) and,
 * for a dataset, of its data as stored (the file's element type, rows in order). Written at
 * commit, checked when a file is opened for reading; files without it (older ctfuse, Keras
 * weights) are read unchecked. */
#include "core/error.h"
#include "core/sha256.h"
#include "io/h5.h"

#include <stdlib.h>
#include <string.h>

#define CT_SUM_ATTR "content_sha256"

static int verify_on = 1;

void ct_h5_set_verify(int on)
{
	verify_on = on;
}

int ct_h5_verify_enabled(void)
{
	const char *e = getenv("CT_NO_VERIFY");
	return verify_on && !(e && *e && strcmp(e, "0"));
}

static herr_t hash_attr(hid_t obj, const char *name, const H5A_info_t *info, void *data)
{
	(void)info;
	ct_sha256 *s = data;
	if (!strcmp(name, CT_SUM_ATTR))
		return 0;
	ct_sha256_update(s, name, strlen(name) + 1);
	hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
	if (a < 0)
		return -1;
	hid_t t = H5Aget_type(a);
	herr_t rc = 0;
	if (H5Tdetect_class(t, H5T_VLEN) > 0 || H5Tis_variable_str(t) > 0) {
		ct_sha256_update(s, "vlen", 4); /* not ours: variable-length values are not covered */
	} else {
		hsize_t n = H5Aget_storage_size(a);
		unsigned char *buf = malloc(n ? n : 1);
		if (!buf || H5Aread(a, t, buf) < 0)
			rc = -1;
		else
			ct_sha256_update(s, buf, n);
		free(buf);
	}
	H5Tclose(t);
	H5Aclose(a);
	return rc;
}

/* Data as stored, in blocks of rows along axis 0 (bounded memory for large datasets). */
static int hash_data(hid_t d, ct_sha256 *s)
{
	hid_t t = H5Dget_type(d), fsp = H5Dget_space(d);
	int rc = 0;
	if (H5Tdetect_class(t, H5T_VLEN) > 0 || H5Tis_variable_str(t) > 0) {
		ct_sha256_update(s, "vlen", 4);
		goto out;
	}
	int nd = H5Sget_simple_extent_ndims(fsp);
	hsize_t dims[H5S_MAX_RANK];
	if (nd < 0 || H5Sget_simple_extent_dims(fsp, dims, NULL) < 0) {
		rc = -1;
		goto out;
	}
	size_t esz = H5Tget_size(t);
	if (nd == 0) {
		unsigned char *buf = malloc(esz);
		if (!buf || H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
			rc = -1;
		else
			ct_sha256_update(s, buf, esz);
		free(buf);
		goto out;
	}
	size_t row = esz;
	for (int i = 1; i < nd; i++)
		if (ct_mul_size(row, (size_t)dims[i], &row) < 0) {
			rc = -1;
			goto out;
		}
	if (dims[0] == 0 || row == 0)
		goto out;
	hsize_t per = (hsize_t)((64u << 20) / row);
	if (per < 1)
		per = 1;
	if (per > dims[0])
		per = dims[0];
	unsigned char *buf = malloc((size_t)per * row);
	if (!buf) {
		rc = -1;
		goto out;
	}
	for (hsize_t start = 0; rc == 0 && start < dims[0]; start += per) {
		hsize_t off[H5S_MAX_RANK] = { 0 }, cnt[H5S_MAX_RANK];
		memcpy(cnt, dims, sizeof(hsize_t) * (size_t)nd);
		off[0] = start;
		cnt[0] = dims[0] - start < per ? dims[0] - start : per;
		H5Sselect_hyperslab(fsp, H5S_SELECT_SET, off, NULL, cnt, NULL);
		hid_t msp = H5Screate_simple(nd, cnt, NULL);
		if (H5Dread(d, t, msp, fsp, H5P_DEFAULT, buf) < 0)
			rc = -1;
		else
			ct_sha256_update(s, buf, (size_t)cnt[0] * row);
		H5Sclose(msp);
	}
	free(buf);
out:
	H5Tclose(t);
	H5Sclose(fsp);
	return rc;
}

static int digest(hid_t obj, int is_dataset, char hex[65])
{
	ct_sha256 s;
	uint8_t out[32];
	ct_sha256_init(&s);
	hsize_t idx = 0;
	if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, hash_attr, &s) < 0)
		return -1;
	ct_sha256_update(&s, is_dataset ? "D" : "G", 1);
	if (is_dataset && hash_data(obj, &s) < 0)
		return -1;
	ct_sha256_final(&s, out);
	ct_sha256_hex(out, hex);
	return 0;
}

typedef struct names {
	char **v;
	int n, cap;
} names;

static herr_t collect(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
	(void)g;
	names *l = data;
	if (info->type != H5L_TYPE_HARD)
		return 0;
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 32;
		char **v = realloc(l->v, (size_t)cap * sizeof *v);
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(name)))
		return -1;
	l->n++;
	return 0;
}

/* The root and every object below it, by path ("." first). */
static int list_objects(hid_t file, names *l)
{
	memset(l, 0, sizeof *l);
	H5L_info_t root = { .type = H5L_TYPE_HARD };
	if (collect(file, ".", &root, l) < 0 || H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, collect, l) < 0)
		return -1;
	return 0;
}

static void names_free(names *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

int ct_h5_checksum_stamp(hid_t file)
{
	names l;
	int rc = 0;
	if (list_objects(file, &l) < 0) {
		names_free(&l);
		return ct_error("cannot list the objects to checksum");
	}
	for (int i = 0; rc == 0 && i < l.n; i++) {
		hid_t o = H5Oopen(file, l.v[i], H5P_DEFAULT);
		if (o < 0) {
			rc = ct_error("cannot open '%s' to checksum it", l.v[i]);
			break;
		}
		H5I_type_t ty = H5Iget_type(o);
		char hex[65];
		if (ty == H5I_DATASET || ty == H5I_GROUP) {
			if (digest(o, ty == H5I_DATASET, hex) < 0)
				rc = ct_error("cannot checksum '%s' (disk full?)", l.v[i]);
			else if (ct_h5_set_str(o, CT_SUM_ATTR, hex) < 0)
				rc = -1;
		}
		H5Oclose(o);
	}
	names_free(&l);
	return rc;
}

int ct_h5_checksum_verify(hid_t file, int64_t *nchecked)
{
	int64_t n = 0;
	if (nchecked)
		*nchecked = 0;
	if (!ct_h5_attr_exists(file, CT_SUM_ATTR))
		return 0; /* a file without checksums: older ctfuse or not ours */
	names l;
	int rc = 0;
	if (list_objects(file, &l) < 0) {
		names_free(&l);
		return ct_error("cannot list its objects (corrupt)");
	}
	for (int i = 0; rc == 0 && i < l.n; i++) {
		const char *what = strcmp(l.v[i], ".") ? l.v[i] : "/";
		hid_t o = H5Oopen(file, l.v[i], H5P_DEFAULT);
		if (o < 0) {
			rc = ct_error("cannot open '%s' (corrupt)", what);
			break;
		}
		H5I_type_t ty = H5Iget_type(o);
		if (ty == H5I_DATASET || ty == H5I_GROUP) {
			char *want = NULL, hex[65];
			if (!ct_h5_attr_exists(o, CT_SUM_ATTR))
				rc = ct_error("'%s' has no checksum in a checksummed file (altered)", what);
			else if (ct_h5_get_str(o, CT_SUM_ATTR, &want) < 0 || digest(o, ty == H5I_DATASET, hex) < 0)
				rc = ct_error("cannot read '%s' to verify it (corrupt)", what);
			else if (strcmp(want, hex))
				rc = ct_error("'%s' does not match its checksum (corrupt; --no-verify to read it anyway)",
					      what);
			n++;
			free(want);
		}
		H5Oclose(o);
	}
	names_free(&l);
	if (nchecked)
		*nchecked = n;
	return rc;
}
