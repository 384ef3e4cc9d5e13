/* keras_h5.c - Keras-layout HDF5 weight files: load (every string encoding Keras versions wrote), save. */
#include "formats/keras_h5.h"
#include "core/error.h"
#include "core/sha256.h"
#include "core/str.h"
#include "io/h5.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

/* Refuse tensors beyond these: the largest Keras weight we know (VGG's fc1, 102M
 * parameters) is far below; a corrupt header asking for more is not a weight. */
#define MAX_DIM ((int64_t)1 << 31)
#define MAX_ELEMS ((int64_t)1 << 30)
/* HDF5's object header limits an attribute to 64 KiB; Keras splits longer
 * string lists into name0, name1, ... (save_attributes_to_hdf5_group). */
#define ATTR_LIMIT 64000

static void strings_free(char **s, int n)
{
	if (!s)
		return;
	for (int i = 0; i < n; i++)
		free(s[i]);
	free(s);
}

/* Append a copy of the first `len` bytes of p (NUL-stopped, trailing blanks of a
 * space-padded type dropped) to the list. */
static int push_string(char ***list, int *n, const char *p, size_t len, int spacepad)
{
	size_t l = 0;
	while (l < len && p[l])
		l++;
	if (spacepad)
		while (l > 0 && p[l - 1] == ' ')
			l--;
	char *s = malloc(l + 1);
	char **grown = realloc(*list, ((size_t)*n + 1) * sizeof **list);
	if (!s || !grown) {
		free(s);
		if (grown)
			*list = grown;
		return ct_error("out of memory");
	}
	memcpy(s, p, l);
	s[l] = 0;
	*list = grown;
	(*list)[(*n)++] = s;
	return 0;
}

/* Read one string attribute (scalar or 1-d; fixed-length null/space-padded or
 * variable-length; ASCII or UTF-8, whose bytes we keep as they are) and append
 * its strings. An empty attribute of any type is an empty list: Keras 2 writes
 * `weight_names` of a layer without weights as np.asarray([]), a float64 array. */
static int read_attr_strings(hid_t obj, const char *name, char ***list, int *n)
{
	hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
	if (a < 0)
		return ct_error("cannot read attribute '%s'", name);
	hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
	int rc = 0;
	hssize_t count = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
	int ndims = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
	if (ft < 0 || count < 0 || ndims < 0 || ndims > 1) {
		rc = ct_error("attribute '%s' is not a list of strings", name);
		goto out;
	}
	if (count == 0)
		goto out;
	if (H5Tget_class(ft) != H5T_STRING) {
		rc = ct_error("attribute '%s' is not a list of strings", name);
		goto out;
	}
	if (count > 1000000) {
		rc = ct_error("attribute '%s' has an absurd length (%lld)", name, (long long)count);
		goto out;
	}
	H5T_cset_t cset = H5Tget_cset(ft);
	if (H5Tis_variable_str(ft) > 0) {
		hid_t mt = H5Tcopy(H5T_C_S1);
		H5Tset_size(mt, H5T_VARIABLE);
		H5Tset_cset(mt, cset);
		char **tmp = calloc((size_t)count, sizeof *tmp);
		if (!tmp || H5Aread(a, mt, tmp) < 0) {
			rc = ct_error("cannot read attribute '%s' (corrupt)", name);
		} else {
			for (hssize_t i = 0; i < count && rc == 0; i++)
				rc = push_string(list, n, tmp[i] ? tmp[i] : "", tmp[i] ? strlen(tmp[i]) : 0, 0);
			H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, tmp);
		}
		free(tmp);
		H5Tclose(mt);
	} else {
		size_t size = H5Tget_size(ft);
		int spacepad = H5Tget_strpad(ft) == H5T_STR_SPACEPAD;
		/* Read the bytes as stored (memory type = file type), and strip the padding here. */
		hid_t mt = H5Tcopy(ft);
		char *buf = size ? malloc((size_t)count * size) : NULL;
		if (!buf || H5Aread(a, mt, buf) < 0) {
			rc = ct_error("cannot read attribute '%s' (corrupt)", name);
		} else {
			for (hssize_t i = 0; i < count && rc == 0; i++)
				rc = push_string(list, n, buf + (size_t)i * size, size, spacepad);
		}
		free(buf);
		H5Tclose(mt);
	}
out:
	if (ft >= 0)
		H5Tclose(ft);
	if (sp >= 0)
		H5Sclose(sp);
	H5Aclose(a);
	return rc;
}

/* A string-list attribute, or its Keras chunks name0, name1, ...
 * Returns 1 when found, 0 when absent, -1 on error. */
static int get_string_list(hid_t obj, const char *name, char ***list, int *n)
{
	*list = NULL;
	*n = 0;
	if (H5Aexists(obj, name) > 0)
		return read_attr_strings(obj, name, list, n) < 0 ? -1 : 1;
	char chunk[256];
	int k = 0;
	for (;; k++) {
		snprintf(chunk, sizeof chunk, "%s%d", name, k);
		if (H5Aexists(obj, chunk) <= 0)
			break;
		if (read_attr_strings(obj, chunk, list, n) < 0) {
			strings_free(*list, *n);
			*list = NULL;
			*n = 0;
			return -1;
		}
	}
	return k > 0;
}

static int load_tensor(hid_t g, const char *wname, ct_wlayer *l)
{
	hid_t d = H5Dopen2(g, wname, H5P_DEFAULT);
	if (d < 0)
		return ct_error("missing dataset '%s'", wname);
	hid_t ft = H5Dget_type(d), sp = H5Dget_space(d);
	int rc = 0;
	hsize_t dims[H5S_MAX_RANK];
	int ndim = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
	if (ndim < 0 || ndim > CT_MAX_DIMS) {
		rc = ndim < 0 ? ct_error("dataset '%s' is unreadable (corrupt)", wname)
			      : ct_error("dataset '%s' has %d dimensions (at most %d)", wname, ndim, CT_MAX_DIMS);
		goto out;
	}
	H5Sget_simple_extent_dims(sp, dims, NULL);
	int64_t shape[CT_MAX_DIMS], total = 1;
	for (int i = 0; i < ndim; i++) {
		if (dims[i] == 0 || dims[i] > (hsize_t)MAX_DIM || ct_mul_i64(total, (int64_t)dims[i], &total) < 0 ||
		    total > MAX_ELEMS) {
			rc = ct_error("dataset '%s' has an absurd shape", wname);
			goto out;
		}
		shape[i] = (int64_t)dims[i];
	}
	size_t fsize = ft >= 0 ? H5Tget_size(ft) : 0;
	if (ft < 0 || H5Tget_class(ft) != H5T_FLOAT || (fsize != 2 && fsize != 4 && fsize != 8)) {
		rc = ct_error("dataset '%s' is not float16, float32 or float64", wname);
		goto out;
	}
	ct_wtensor *w = ct_wlayer_add(l, wname, ndim, shape);
	if (!w) {
		rc = -1;
		goto out;
	}
	/* HDF5 converts any IEEE-style float (float16 included: its soft
	 * float-to-float conversion handles the 1-5-10 layout) to native float. */
	if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w->t.data) < 0)
		rc = ct_error("cannot read dataset '%s' (truncated or corrupt)", wname);
out:
	if (ft >= 0)
		H5Tclose(ft);
	if (sp >= 0)
		H5Sclose(sp);
	H5Dclose(d);
	return rc;
}

static int load_layers(ct_weights *w, hid_t base)
{
	char **names = NULL;
	int n = 0, rc = 0;
	int found = get_string_list(base, "layer_names", &names, &n);
	if (found < 0)
		return -1;
	for (int i = 0; i < n && rc == 0; i++) {
		ct_wlayer *l = ct_weights_add_layer(w, names[i]);
		if (!l) {
			rc = -1;
			break;
		}
		hid_t g = H5Gopen2(base, names[i], H5P_DEFAULT);
		if (g < 0) {
			rc = ct_error("layer '%s': missing group", names[i]);
			break;
		}
		char **wn = NULL;
		int nw = 0;
		int got = get_string_list(g, "weight_names", &wn, &nw);
		if (got < 0)
			rc = ct_error_prefix("layer '%s'", names[i]);
		for (int k = 0; k < nw && rc == 0; k++)
			if (load_tensor(g, wn[k], l) < 0)
				rc = ct_error_prefix("layer '%s'", names[i]);
		strings_free(wn, nw);
		H5Gclose(g);
	}
	strings_free(names, n);
	return rc;
}

int ct_weights_load(ct_weights *w, const char *path)
{
	memset(w, 0, sizeof *w);
	if (ct_h5_sha256(path, w->sha256) < 0)
		return -1;
	ct_h5 h;
	if (ct_h5_open(&h, path) < 0) {
		w->sha256[0] = 0;
		return -1;
	}
	int rc = 0;
	hid_t base = H5I_INVALID_HID;
	if (H5Aexists(h.file, "layer_names") > 0 || H5Aexists(h.file, "layer_names0") > 0) {
		base = H5Gopen2(h.file, "/", H5P_DEFAULT);
	} else if (H5Lexists(h.file, "model_weights", H5P_DEFAULT) > 0) {
		base = H5Gopen2(h.file, "model_weights", H5P_DEFAULT);
		if (base >= 0 && H5Aexists(base, "layer_names") <= 0 && H5Aexists(base, "layer_names0") <= 0) {
			H5Gclose(base);
			base = H5I_INVALID_HID;
		}
	}
	if (base < 0) {
		rc = ct_error("'%s': not a Keras weight file (no layer_names)", path);
	} else {
		if (load_layers(w, base) < 0)
			rc = ct_error_prefix("'%s'", path);
		H5Gclose(base);
	}
	ct_h5_close(&h);
	if (rc < 0) {
		ct_weights_free(w);
		return -1;
	}
	return 0;
}

/* A 1-d fixed-length, null-padded ASCII string attribute, as h5py writes a numpy
 * 'S' array (what Keras 2 wrote). Split into name0, name1, ... beyond 64 KiB. */
static int write_attr_strings(hid_t obj, const char *name, char *const *s, int n)
{
	size_t size = 1;
	for (int i = 0; i < n; i++)
		if (strlen(s[i]) > size)
			size = strlen(s[i]);
	int per = n;
	int chunks = 1;
	if ((size_t)n * size > ATTR_LIMIT) {
		per = (int)(ATTR_LIMIT / size);
		if (per < 1)
			return ct_error("attribute '%s': a string is too long (%zu bytes)", name, size);
		chunks = (n + per - 1) / per;
	}
	char *buf = calloc((size_t)(n ? n : 1), size);
	if (!buf)
		return ct_error("out of memory");
	for (int i = 0; i < n; i++)
		memcpy(buf + (size_t)i * size, s[i], strlen(s[i]));
	hid_t t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, size);
	H5Tset_strpad(t, H5T_STR_NULLPAD);
	int rc = 0;
	for (int c = 0; c < chunks && rc == 0; c++) {
		int first = c * per, cnt = n - first < per ? n - first : per;
		char an[256];
		if (chunks == 1)
			snprintf(an, sizeof an, "%s", name);
		else
			snprintf(an, sizeof an, "%s%d", name, c);
		hsize_t dim = (hsize_t)cnt;
		hid_t sp = H5Screate_simple(1, &dim, NULL);
		hid_t a = sp >= 0 ? H5Acreate2(obj, an, t, sp, H5P_DEFAULT, H5P_DEFAULT) : H5I_INVALID_HID;
		if (a < 0 || (cnt > 0 && H5Awrite(a, t, buf + (size_t)first * size) < 0))
			rc = ct_error("cannot write attribute '%s'", an);
		if (a >= 0)
			H5Aclose(a);
		if (sp >= 0)
			H5Sclose(sp);
	}
	H5Tclose(t);
	free(buf);
	return rc;
}

/* The outer groups of a path below loc: Keras layer names may hold '/' (DenseNet's
 * "conv1/conv"), weight names do ("conv2d_1/kernel:0"); h5py makes them nested groups.
 * Create the outer ones here, untimed like the rest (not through the lcpl, whose
 * intermediate groups would carry modification times). */
static int make_parents(hid_t file, const char *name, hid_t gcpl)
{
	char *path = ct_strdup(name);
	int rc = path ? 0 : ct_error("out of memory");
	for (char *sl = path ? strchr(path, '/') : NULL; sl && rc == 0; sl = strchr(sl + 1, '/')) {
		*sl = 0;
		if (path[0] && H5Lexists(file, path, H5P_DEFAULT) <= 0) {
			hid_t ig = H5Gcreate2(file, path, H5P_DEFAULT, gcpl, H5P_DEFAULT);
			if (ig < 0)
				rc = ct_error("'%s': cannot create group '%s'", name, path);
			else
				H5Gclose(ig);
		}
		*sl = '/';
	}
	free(path);
	return rc;
}

/* A layer name is a relative HDF5 path without empty, "." or ".." components. */
static int layer_name_ok(const char *name)
{
	if (!name[0] || name[0] == '/')
		return 0;
	for (const char *p = name; *p;) {
		size_t len = strcspn(p, "/");
		if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += len;
		if (*p == '/' && !*++p)
			return 0; /* trailing '/' */
	}
	return 1;
}

static int save_layer(hid_t file, const ct_wlayer *l, hid_t lcpl, hid_t gcpl, hid_t dcpl)
{
	if (make_parents(file, l->name, gcpl) < 0)
		return -1;
	hid_t g = H5Gcreate2(file, l->name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
	if (g < 0)
		return ct_error("layer '%s': cannot create group (duplicate name?)", l->name);
	char **wn = malloc(sizeof *wn * (size_t)(l->n ? l->n : 1));
	int rc = 0;
	if (!wn) {
		rc = ct_error("out of memory");
		goto out;
	}
	for (int k = 0; k < l->n; k++)
		wn[k] = l->w[k].name;
	rc = write_attr_strings(g, "weight_names", wn, l->n);
	for (int k = 0; k < l->n && rc == 0; k++) {
		const ct_wtensor *t = &l->w[k];
		if (t->t.dtype != CT_F32 || !ct_tensor_is_contiguous(&t->t)) {
			rc = ct_error("weight '%s' is not a contiguous float32 tensor", t->name);
			break;
		}
		/* the inner groups of "conv2d_1/kernel:0", untimed like the rest */
		rc = make_parents(g, t->name, gcpl);
		if (rc < 0)
			break;
		hsize_t dims[CT_MAX_DIMS];
		for (int i = 0; i < t->t.ndim; i++)
			dims[i] = (hsize_t)t->t.shape[i];
		hid_t sp = H5Screate_simple(t->t.ndim, dims, NULL);
		hid_t d = sp >= 0 ? H5Dcreate2(g, t->name, H5T_IEEE_F32LE, sp, lcpl, dcpl, H5P_DEFAULT)
				  : H5I_INVALID_HID;
		if (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->t.data) < 0)
			rc = ct_error("weight '%s': cannot write dataset", t->name);
		if (d >= 0)
			H5Dclose(d);
		if (sp >= 0)
			H5Sclose(sp);
	}
out:
	free(wn);
	H5Gclose(g);
	return rc;
}

int ct_weights_save(const ct_weights *w, const char *path)
{
	ct_h5 h;
	if (ct_h5_create(&h, path, 1) < 0)
		return -1;
	h.no_checksum = 1; /* Keras' layout, byte-identical to the sums in weights/SHA256SUMS */
	int rc = 0;
	char **names = malloc(sizeof *names * (size_t)(w->nlayers ? w->nlayers : 1));
	hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), gcpl = H5Pcreate(H5P_GROUP_CREATE),
	      dcpl = H5Pcreate(H5P_DATASET_CREATE);
	if (!names || lcpl < 0 || gcpl < 0 || dcpl < 0) {
		rc = ct_error("out of memory");
		goto out;
	}
	/* weight names such as "conv2d_1/kernel:0" are paths: create the inner groups */
	H5Pset_create_intermediate_group(lcpl, 1);
	/* no modification times: the same weights give byte-identical files (SHA256SUMS) */
	H5Pset_obj_track_times(gcpl, 0);
	H5Pset_obj_track_times(dcpl, 0);
	for (int i = 0; i < w->nlayers; i++) {
		names[i] = w->layers[i].name;
		if (!layer_name_ok(names[i])) {
			rc = ct_error("'%s': bad layer name '%s'", path, names[i]);
			goto out;
		}
	}
	rc = write_attr_strings(h.file, "layer_names", names, w->nlayers);
	if (rc == 0)
		rc = ct_h5_set_str(h.file, "backend", "tensorflow");
	for (int i = 0; i < w->nlayers && rc == 0; i++)
		rc = save_layer(h.file, &w->layers[i], lcpl, gcpl, dcpl);
	if (rc < 0)
		ct_error_prefix("'%s'", path);
out:
	free(names);
	if (lcpl >= 0)
		H5Pclose(lcpl);
	if (gcpl >= 0)
		H5Pclose(gcpl);
	if (dcpl >= 0)
		H5Pclose(dcpl);
	if (rc < 0) {
		ct_h5_abort(&h);
		return -1;
	}
	return ct_h5_commit(&h);
}

int ct_weights_write(hid_t loc, const ct_weights *w)
{
	int rc = 0;
	char **names = malloc(sizeof *names * (size_t)(w->nlayers ? w->nlayers : 1));
	hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), gcpl = H5Pcreate(H5P_GROUP_CREATE),
	      dcpl = H5Pcreate(H5P_DATASET_CREATE);
	if (!names || lcpl < 0 || gcpl < 0 || dcpl < 0) {
		rc = ct_error("out of memory");
		goto out;
	}
	H5Pset_create_intermediate_group(lcpl, 1);
	H5Pset_obj_track_times(gcpl, 0);
	H5Pset_obj_track_times(dcpl, 0);
	for (int i = 0; i < w->nlayers && rc == 0; i++) {
		names[i] = w->layers[i].name;
		if (!layer_name_ok(names[i]))
			rc = ct_error("bad layer name '%s'", names[i]);
	}
	if (rc == 0)
		rc = write_attr_strings(loc, "layer_names", names, w->nlayers);
	for (int i = 0; i < w->nlayers && rc == 0; i++)
		rc = save_layer(loc, &w->layers[i], lcpl, gcpl, dcpl);
out:
	free(names);
	if (lcpl >= 0)
		H5Pclose(lcpl);
	if (gcpl >= 0)
		H5Pclose(gcpl);
	if (dcpl >= 0)
		H5Pclose(dcpl);
	return rc;
}

int ct_weights_read(hid_t loc, ct_weights *w)
{
	memset(w, 0, sizeof *w);
	if (load_layers(w, loc) < 0) {
		ct_weights_free(w);
		return -1;
	}
	return 0;
}
