/* histogram_features.c - swapping a stage: a feature extractor of your own.
 *
 * Reads an images file (ct-convert / ct-augment output) with nothing but the HDF5 C API and
 * writes a features file in the layout of docs/formats.md: a 34-column block of hand-made
 * features (a 32-bin intensity histogram plus mean and standard deviation of each image).
 * ct-fuse, ct-finetune and ct-score accept it like the output of ct-features:
 *
 *   histogram_features images.h5 hist.h5
 *   ct-fuse feat-mobilenet_v2.h5 hist.h5 -o fused.h5
 *
 * Build: cc histogram_features.c $(pkg-config --cflags --libs hdf5) -o histogram_features
 * (or `make examples`). A Python version with h5py is in histogram_features.py. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BINS 32

static int fail(const char *msg, const char *path)
{
	fprintf(stderr, "histogram_features: %s '%s'\n", msg, path);
	return 1;
}

/* Copy a dataset (any type, whole) from one file to another. */
static int copy(hid_t in, hid_t out, const char *name)
{
	return H5Ocopy(in, name, out, name, H5P_DEFAULT, H5P_DEFAULT) < 0 ? -1 : 0;
}

static void set_str(hid_t obj, const char *name, const char *v)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, H5T_VARIABLE);
	H5Tset_cset(t, H5T_CSET_UTF8);
	hid_t sp = H5Screate(H5S_SCALAR);
	hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
	H5Awrite(a, t, &v);
	H5Aclose(a);
	H5Sclose(sp);
	H5Tclose(t);
}

static void write_strs(hid_t loc, const char *name, const char **v, hsize_t n)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, H5T_VARIABLE);
	H5Tset_cset(t, H5T_CSET_UTF8);
	hid_t sp = H5Screate_simple(1, &n, NULL);
	hid_t d = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
	H5Dclose(d);
	H5Sclose(sp);
	H5Tclose(t);
}

static void write_i64(hid_t loc, const char *name, long long v)
{
	hsize_t n = 1;
	hid_t sp = H5Screate_simple(1, &n, NULL);
	hid_t d = H5Dcreate2(loc, name, H5T_NATIVE_LLONG, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(d, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v);
	H5Dclose(d);
	H5Sclose(sp);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: histogram_features IMAGES.h5 OUT.h5\n");
		return 2;
	}
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	hid_t in = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
	if (in < 0)
		return fail("cannot open", argv[1]);
	hid_t ds = H5Dopen2(in, "images", H5P_DEFAULT);
	if (ds < 0)
		return fail("no 'images' dataset in", argv[1]);
	hsize_t dims[4];
	hid_t sp = H5Dget_space(ds);
	if (H5Sget_simple_extent_ndims(sp) != 4)
		return fail("'images' is not N x H x W x C in", argv[1]);
	H5Sget_simple_extent_dims(sp, dims, NULL);
	size_t per = (size_t)(dims[1] * dims[2] * dims[3]);
	float *img = malloc(per * sizeof *img);
	float *feat = calloc((size_t)dims[0] * (BINS + 2), sizeof *feat);
	if (!img || !feat)
		return fail("out of memory for", argv[1]);
	for (hsize_t i = 0; i < dims[0]; i++) {
		/* One image at a time: read as float, uint8 images are scaled to [0,1]. */
		hsize_t off[4] = { i, 0, 0, 0 }, cnt[4] = { 1, dims[1], dims[2], dims[3] };
		H5Sselect_hyperslab(sp, H5S_SELECT_SET, off, NULL, cnt, NULL);
		hid_t ms = H5Screate_simple(4, cnt, NULL);
		H5Dread(ds, H5T_NATIVE_FLOAT, ms, sp, H5P_DEFAULT, img);
		H5Sclose(ms);
		hid_t t = H5Dget_type(ds);
		float scale = H5Tget_class(t) == H5T_INTEGER ? 1.0f / 255.0f : 1.0f;
		H5Tclose(t);
		float *f = feat + i * (BINS + 2);
		double s = 0, s2 = 0;
		for (size_t k = 0; k < per; k++) {
			float v = img[k] * scale;
			int b = (int)(v * BINS);
			f[b < 0 ? 0 : b >= BINS ? BINS - 1 : b] += 1.0f / (float)per;
			s += v;
			s2 += (double)v * v;
		}
		f[BINS] = (float)(s / per);
		f[BINS + 1] = (float)sqrt(fmax(s2 / per - (s / per) * (s / per), 0));
	}
	hid_t out = H5Fcreate(argv[2], H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
	if (out < 0)
		return fail("cannot create (exists?)", argv[2]);
	long long one = 1;
	hid_t as = H5Screate(H5S_SCALAR);
	hid_t a = H5Acreate2(out, "schema_version", H5T_NATIVE_LLONG, as, H5P_DEFAULT, H5P_DEFAULT);
	H5Awrite(a, H5T_NATIVE_LLONG, &one);
	H5Aclose(a);
	H5Sclose(as);
	set_str(out, "kind", "features");
	set_str(out, "tool", "histogram_features");
	set_str(out, "tool_version", "example");
	set_str(out, "command", "histogram_features");
	set_str(out, "params", "{\"bins\":32}");
	/* The samples' metadata is carried over unchanged: that is what keeps files aligned. */
	const char *meta[] = { "class_names", "labels", "names", "groups", "splits", "provenance" };
	for (int k = 0; k < 6; k++)
		if (copy(in, out, meta[k]) < 0)
			return fail("cannot copy the sample metadata of", argv[1]);
	hsize_t fd[2] = { dims[0], BINS + 2 };
	hid_t fs = H5Screate_simple(2, fd, NULL);
	hid_t d = H5Dcreate2(out, "features", H5T_NATIVE_FLOAT, fs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, feat);
	H5Dclose(d);
	H5Sclose(fs);
	hid_t g = H5Gcreate2(out, "blocks", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	const char *name[] = { "user/histogram/none" }, *bb[] = { "user" }, *layer[] = { "histogram" },
		   *pool[] = { "none" }, *sha[] = { "" };
	write_strs(g, "name", name, 1);
	write_strs(g, "backbone", bb, 1);
	write_strs(g, "layer", layer, 1);
	write_strs(g, "pool", pool, 1);
	write_strs(g, "weights_sha256", sha, 1);
	write_i64(g, "start", 0);
	write_i64(g, "width", BINS + 2);
	H5Gclose(g);
	H5Sclose(sp);
	H5Dclose(ds);
	H5Fclose(in);
	if (H5Fclose(out) < 0)
		return fail("cannot write", argv[2]);
	free(img);
	free(feat);
	return 0;
}
