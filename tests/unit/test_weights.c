/* test_weights.c - Keras weight files: save/load round trip, files written the ways Keras versions did, refusals. */
#include "core/error.h"
#include "core/sha256.h"
#include "nn/testweights.h"
#include "formats/keras_h5.h"
#include "nn/weights.h"
#include "test.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>

static char *tpath(const char *name)
{
	static char buf[8][512];
	static int k;
	char *p = buf[k++ % 8];
	snprintf(p, 512, "%s/%s", t_tmpdir(), name);
	return p;
}

/* ---- writing files the way h5py/Keras did ------------------------------------------- */

enum { FIXED_NULL, FIXED_SPACE, VLEN_UTF8 };

static void put_strings(hid_t obj, const char *name, const char *const *s, int n, int kind)
{
	hsize_t dim = (hsize_t)n;
	hid_t sp = H5Screate_simple(1, &dim, NULL);
	hid_t t = H5Tcopy(H5T_C_S1);
	if (kind == VLEN_UTF8) {
		H5Tset_size(t, H5T_VARIABLE);
		H5Tset_cset(t, H5T_CSET_UTF8);
		hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
		H5Awrite(a, t, s);
		H5Aclose(a);
	} else {
		size_t size = 1;
		for (int i = 0; i < n; i++)
			if (strlen(s[i]) > size)
				size = strlen(s[i]);
		char *buf = malloc((size_t)n * size + 1);
		memset(buf, kind == FIXED_SPACE ? ' ' : 0, (size_t)n * size + 1);
		for (int i = 0; i < n; i++)
			memcpy(buf + (size_t)i * size, s[i], strlen(s[i]));
		H5Tset_size(t, size);
		H5Tset_strpad(t, kind == FIXED_SPACE ? H5T_STR_SPACEPAD : H5T_STR_NULLPAD);
		hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
		H5Awrite(a, t, buf);
		H5Aclose(a);
		free(buf);
	}
	H5Tclose(t);
	H5Sclose(sp);
}

/* Keras 2 writes the weight_names of a layer without weights as np.asarray([]): empty float64. */
static void put_empty_float_attr(hid_t obj, const char *name)
{
	hsize_t dim = 0;
	hid_t sp = H5Screate_simple(1, &dim, NULL);
	hid_t a = H5Acreate2(obj, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
	H5Aclose(a);
	H5Sclose(sp);
}

static void put_dataset(hid_t g, const char *name, hid_t ftype, hid_t mtype, int ndim, const hsize_t *dims,
			const void *data)
{
	hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
	H5Pset_create_intermediate_group(lcpl, 1);
	hid_t sp = H5Screate_simple(ndim, dims, NULL);
	hid_t d = H5Dcreate2(g, name, ftype, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
	H5Dclose(d);
	H5Sclose(sp);
	H5Pclose(lcpl);
}

/* A Keras-layout file: conv (kernel 1x1x2x3 + bias 3), an activation without weights, a BN
 * without gamma. `under_model_weights` puts it all under /model_weights (model.save). */
static const float KER[6] = { 0.5f, -1.25f, 2.0f, 3.5f, -0.125f, 7.0f };
static const double BIAS[3] = { 0.1, -0.2, 0.3 };
static void write_keras(const char *path, int kind, int under_model_weights)
{
	hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	hid_t base = under_model_weights ? H5Gcreate2(f, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
					 : H5Gopen2(f, "/", H5P_DEFAULT);
	const char *layers[] = { "conv2d_1", "activation_1", "batch_normalization_1" };
	put_strings(base, "layer_names", layers, 3, kind);
	hid_t g = H5Gcreate2(base, "conv2d_1", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	const char *wn[] = { "conv2d_1/kernel:0", "conv2d_1/bias:0" };
	put_strings(g, "weight_names", wn, 2, kind);
	hsize_t kd[4] = { 1, 1, 2, 3 }, bd[1] = { 3 };
	put_dataset(g, wn[0], H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, kd, KER);
	put_dataset(g, wn[1], H5T_IEEE_F64BE, H5T_NATIVE_DOUBLE, 1, bd, BIAS); /* float64, big-endian */
	H5Gclose(g);
	g = H5Gcreate2(base, "activation_1", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	if (kind == VLEN_UTF8)
		put_strings(g, "weight_names", NULL, 0, kind);
	else
		put_empty_float_attr(g, "weight_names");
	H5Gclose(g);
	g = H5Gcreate2(base, "batch_normalization_1", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	const char *bn[] = { "batch_normalization_1/beta:0", "batch_normalization_1/moving_mean:0",
			     "batch_normalization_1/moving_variance:0" };
	put_strings(g, "weight_names", bn, 3, kind);
	float v[3][2] = { { 1, 2 }, { 3, 4 }, { 5, 6 } };
	hsize_t d2[1] = { 2 };
	for (int i = 0; i < 3; i++)
		put_dataset(g, bn[i], H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, d2, v[i]);
	H5Gclose(g);
	H5Gclose(base);
	H5Fclose(f);
}

static int check_keras(const ct_weights *w)
{
	int good = w->nlayers == 3 && !strcmp(w->layers[0].name, "conv2d_1") &&
		   !strcmp(w->layers[1].name, "activation_1") && w->layers[1].n == 0 &&
		   !strcmp(w->layers[2].name, "batch_normalization_1") && w->layers[2].n == 3;
	if (!good)
		return 0;
	const ct_wlayer *c = ct_weights_find(w, "conv2d_1");
	const ct_wtensor *k = c ? ct_wlayer_get(c, "kernel") : NULL, *b = c ? ct_wlayer_get(c, "bias") : NULL;
	if (!k || !b || strcmp(k->name, "conv2d_1/kernel:0") || k->t.ndim != 4 || k->t.shape[2] != 2 ||
	    k->t.shape[3] != 3 || b->t.ndim != 1 || b->t.shape[0] != 3)
		return 0;
	for (int i = 0; i < 6; i++)
		if (((float *)k->t.data)[i] != KER[i])
			return 0;
	for (int i = 0; i < 3; i++)
		if (((float *)b->t.data)[i] != (float)BIAS[i])
			return 0;
	const ct_wtensor *mv = ct_wlayer_get(&w->layers[2], "moving_variance");
	return mv && ((float *)mv->t.data)[1] == 6.0f && !ct_wlayer_get(&w->layers[2], "gamma");
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_round_trip(void)
{
	ct_weights w = { 0 };
	ct_wlayer *l = ct_weights_add_layer(&w, "block_1_depthwise");
	int64_t s4[4] = { 3, 3, 5, 1 }, s1[1] = { 5 };
	ct_wtensor *t = ct_wlayer_add(l, "block_1_depthwise/depthwise_kernel:0", 4, s4);
	for (int i = 0; i < 45; i++)
		((float *)t->t.data)[i] = (float)i * 0.25f - 3.0f;
	ct_weights_add_layer(&w, "block_1_relu");
	l = ct_weights_add_layer(&w, "dense_1");
	t = ct_wlayer_add(l, "dense_1/kernel:0", 1, s1);
	for (int i = 0; i < 5; i++)
		((float *)t->t.data)[i] = 1e-30f * (float)(i + 1);
	t = ct_wlayer_add(l, "dense_1/bias:0", 1, s1);
	((float *)t->t.data)[4] = -INFINITY;

	const char *p = tpath("round.h5");
	int rc = ct_weights_save(&w, p);
	ok(rc == 0, "save writes a weight file (%s)", rc ? ct_last_error() : "ok");
	ct_weights r = { 0 };
	rc = ct_weights_load(&r, p);
	ok(rc == 0, "the saved file loads (%s)", rc ? ct_last_error() : "ok");
	int same = r.nlayers == w.nlayers;
	for (int i = 0; same && i < w.nlayers; i++) {
		same &= !strcmp(r.layers[i].name, w.layers[i].name) && r.layers[i].n == w.layers[i].n;
		for (int k = 0; same && k < w.layers[i].n; k++) {
			const ct_tensor *a = &w.layers[i].w[k].t, *b = &r.layers[i].w[k].t;
			same &= !strcmp(w.layers[i].w[k].name, r.layers[i].w[k].name) && a->ndim == b->ndim &&
				!memcmp(a->shape, b->shape, sizeof a->shape[0] * (size_t)a->ndim) &&
				!memcmp(a->data, b->data, ct_tensor_nbytes(a));
		}
	}
	ok(same, "round trip keeps layer order, weight names, shapes and every bit of the values");
	char hex[65];
	ct_sha256_file(p, hex);
	ok(strlen(r.sha256) == 64 && !strcmp(r.sha256, hex), "load records the file's sha256 (%s)", r.sha256);
	const ct_wlayer *d = ct_weights_find(&r, "dense_1");
	ok(d && ct_wlayer_get(d, "bias") && !ct_wlayer_get(d, "gamma") && !ct_weights_find(&r, "dense_2") &&
		   ct_wlayer_get(ct_weights_find(&r, "block_1_depthwise"), "depthwise_kernel"),
	   "find and get by short name, NULL when absent");

	/* the file is in the Keras layout, with fixed-length strings on the root */
	hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
	hid_t a = H5Aopen(f, "layer_names", H5P_DEFAULT);
	hid_t at = H5Aget_type(a);
	ok(a >= 0 && H5Tget_class(at) == H5T_STRING && H5Tis_variable_str(at) == 0 &&
		   H5Lexists(f, "dense_1/dense_1/kernel:0", H5P_DEFAULT) > 0,
	   "saved layout: fixed-length layer_names on the root, datasets at <layer>/<weight name>");
	H5Tclose(at);
	H5Aclose(a);
	H5Fclose(f);

	/* no timestamps in the file: saving the same weights later gives the same bytes */
	sleep(2);
	const char *p2 = tpath("round2.h5");
	char hex2[65] = "";
	ok(ct_weights_save(&w, p2) == 0 && ct_sha256_file(p2, hex2) == 0 && !strcmp(hex, hex2),
	   "saving again two seconds later gives a byte-identical file (%s)", hex2);

	/* saving over an existing file replaces it whole; a failed save leaves nothing behind */
	ok(ct_weights_save(&r, p) == 0, "saving over an existing file succeeds");
	const char *bad = tpath("no-such-dir/x.h5");
	struct stat st;
	ok(ct_weights_save(&w, bad) == -1 && stat(bad, &st) != 0 && strstr(ct_last_error(), "no-such-dir"),
	   "saving into a missing directory fails naming it (%s)", ct_last_error());
	ct_weights_free(&r);
	ok(r.nlayers == 0 && r.layers == NULL, "free leaves an empty set");

	/* many long layer names: layer_names is split into layer_names0, 1, ... as Keras does */
	ct_weights big = { 0 };
	char name[160];
	for (int i = 0; i < 800; i++) {
		snprintf(name, sizeof name, "layer_with_a_rather_long_name_to_exceed_the_attribute_limit_%04d_"
					    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", i);
		ct_weights_add_layer(&big, name);
	}
	p = tpath("big.h5");
	rc = ct_weights_save(&big, p);
	ok(rc == 0, "a weight file with 800 long layer names saves (%s)", rc ? ct_last_error() : "ok");
	f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
	ok(H5Aexists(f, "layer_names0") > 0 && H5Aexists(f, "layer_names1") > 0 && H5Aexists(f, "layer_names") == 0,
	   "layer_names beyond 64 KiB is split into layer_names0, layer_names1, ...");
	H5Fclose(f);
	ok(ct_weights_load(&r, p) == 0 && r.nlayers == 800 && !strcmp(r.layers[799].name, big.layers[799].name) &&
		   !strcmp(r.layers[0].name, big.layers[0].name),
	   "the split list loads back in order");
	ct_weights_free(&r);
	ct_weights_free(&big);
	ct_weights_free(&w);
}

static void test_keras_encodings(void)
{
	struct {
		int kind, mw;
		const char *what;
	} cases[] = {
		{ FIXED_NULL, 0, "fixed-length null-padded strings, layer_names on the root (Keras 2 save_weights)" },
		{ FIXED_SPACE, 0, "fixed-length space-padded strings" },
		{ FIXED_NULL, 1, "fixed-length strings under /model_weights (Keras 2 model.save)" },
		{ VLEN_UTF8, 0, "variable-length UTF-8 strings on the root (h5py 3)" },
		{ VLEN_UTF8, 1, "variable-length UTF-8 strings under /model_weights" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char name[64];
		snprintf(name, sizeof name, "keras%zu.h5", i);
		const char *p = tpath(name);
		write_keras(p, cases[i].kind, cases[i].mw);
		ct_weights w = { 0 };
		int rc = ct_weights_load(&w, p);
		ok(rc == 0 && check_keras(&w), "loads %s (%s)", cases[i].what, rc ? ct_last_error() : "ok");
		ct_weights_free(&w);
	}
}

static void test_float16(void)
{
	const char *p = tpath("f16.h5");
	hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	const char *ln[] = { "half" };
	put_strings(f, "layer_names", ln, 1, FIXED_NULL);
	hid_t g = H5Gcreate2(f, "half", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	const char *wn[] = { "half/kernel:0" };
	put_strings(g, "weight_names", wn, 1, FIXED_NULL);
	/* IEEE binary16 as numpy's float16 is stored by h5py: sign 15, exponent 10..14, mantissa 0..9 */
	hid_t h16 = H5Tcopy(H5T_IEEE_F32LE);
	H5Tset_fields(h16, 15, 10, 5, 0, 10);
	H5Tset_size(h16, 2);
	H5Tset_precision(h16, 16);
	H5Tset_ebias(h16, 15);
	uint16_t bits[6] = { 0x3c00, 0xc100, 0x7bff, 0x0400, 0x0001, 0x3555 };
	const float want[6] = { 1.0f, -2.5f, 65504.0f, 6.103515625e-05f, 5.9604644775390625e-08f, 0.333251953125f };
	hsize_t dim[2] = { 2, 3 };
	put_dataset(g, wn[0], h16, h16, 2, dim, bits);
	H5Tclose(h16);
	H5Gclose(g);
	H5Fclose(f);
	ct_weights w = { 0 };
	int rc = ct_weights_load(&w, p);
	int good = rc == 0 && w.nlayers == 1 && w.layers[0].n == 1;
	float got[6] = { 0 };
	if (good) {
		memcpy(got, w.layers[0].w[0].t.data, sizeof got);
		for (int i = 0; i < 6; i++)
			good &= got[i] == want[i];
	}
	ok(good, "float16 datasets convert exactly to float32, subnormals included (%s; got %g %g %g %g %g %g)",
	   rc ? ct_last_error() : "ok", got[0], got[1], got[2], got[3], got[4], got[5]);
	ct_weights_free(&w);
}

static void test_refusals(void)
{
	ct_weights w = { 0 };
	const char *p = tpath("missing.h5");
	ok(ct_weights_load(&w, p) == -1 && strstr(ct_last_error(), "cannot open") &&
		   strstr(ct_last_error(), "missing.h5'") && strstr(ct_last_error(), "No such file"),
	   "a missing file: %s", ct_last_error());

	p = tpath("text.h5");
	FILE *f = fopen(p, "w");
	fputs("this is not an HDF5 file, it is plain text\n", f);
	fclose(f);
	ok(ct_weights_load(&w, p) == -1 && strstr(ct_last_error(), "text.h5'") &&
		   strstr(ct_last_error(), "not an HDF5 file"),
	   "a file that is not HDF5: %s", ct_last_error());

	/* a valid file cut in half */
	const char *full = tpath("keras_full.h5");
	write_keras(full, FIXED_NULL, 0);
	FILE *in = fopen(full, "rb");
	fseek(in, 0, SEEK_END);
	long size = ftell(in);
	fseek(in, 0, SEEK_SET);
	char *buf = malloc((size_t)size);
	size_t got = fread(buf, 1, (size_t)size, in);
	fclose(in);
	p = tpath("trunc.h5");
	f = fopen(p, "wb");
	fwrite(buf, 1, got / 2, f);
	fclose(f);
	free(buf);
	ok(ct_weights_load(&w, p) == -1 && strstr(ct_last_error(), "trunc.h5'") && strstr(ct_last_error(), "truncated"),
	   "a truncated file: %s", ct_last_error());
	ok(w.nlayers == 0 && w.layers == NULL && w.sha256[0] == 0, "a failed load leaves the set empty");

	/* HDF5, but no layer_names anywhere */
	p = tpath("nolayers.h5");
	hid_t h = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	hid_t g = H5Gcreate2(h, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Gclose(g);
	H5Fclose(h);
	ok(ct_weights_load(&w, p) == -1 && strstr(ct_last_error(), "nolayers.h5': not a Keras weight file (no layer_names)"),
	   "an HDF5 file without layer_names: %s", ct_last_error());

	/* a weight name pointing at nothing */
	p = tpath("dangling.h5");
	h = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	const char *ln[] = { "conv" };
	put_strings(h, "layer_names", ln, 1, FIXED_NULL);
	g = H5Gcreate2(h, "conv", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	const char *wn[] = { "conv/kernel:0" };
	put_strings(g, "weight_names", wn, 1, FIXED_NULL);
	H5Gclose(g);
	H5Fclose(h);
	ok(ct_weights_load(&w, p) == -1 && strstr(ct_last_error(), "layer 'conv'") &&
		   strstr(ct_last_error(), "conv/kernel:0"),
	   "a weight name without its dataset: %s", ct_last_error());

	/* absurd shapes: five dimensions, a zero dimension, and an integer dataset */
	struct {
		int ndim;
		hsize_t dims[5];
		hid_t type;
		const char *what, *expect;
	} bad[] = {
		{ 5, { 1, 1, 1, 1, 2 }, H5T_IEEE_F32LE, "a 5-d dataset", "dimensions" },
		{ 2, { 3, 0 }, H5T_IEEE_F32LE, "a dataset with a zero dimension", "absurd shape" },
		{ 1, { 2 }, H5T_STD_I32LE, "an integer dataset", "not float" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		p = tpath("bad.h5");
		h = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
		put_strings(h, "layer_names", ln, 1, FIXED_NULL);
		g = H5Gcreate2(h, "conv", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
		put_strings(g, "weight_names", wn, 1, FIXED_NULL);
		float zeros[2] = { 0 };
		put_dataset(g, wn[0], bad[i].type, H5T_NATIVE_FLOAT, bad[i].ndim, bad[i].dims, zeros);
		H5Gclose(g);
		H5Fclose(h);
		ok(ct_weights_load(&w, p) == -1 && strstr(ct_last_error(), bad[i].expect) && strstr(ct_last_error(), "bad.h5'"),
		   "refuses %s: %s", bad[i].what, ct_last_error());
	}

	/* an absurd shape requested when building in memory */
	ct_wlayer *l = ct_weights_add_layer(&w, "x");
	int64_t huge[4] = { 1 << 30, 1 << 30, 1 << 30, 1 << 30 };
	ok(l && ct_wlayer_add(l, "x/kernel:0", 4, huge) == NULL && l->n == 0, "an overflowing shape is refused in memory");
	ct_weights_free(&w);
}

/* ct_testweight_fill / ct_testinput_fill against values printed by the JavaScript twin in
 * tests/conformance/goldens.js (node, Math.imul/Math.fround), element by element. */
static void test_testweights(void)
{
	static float v[3 * 3 * 32 * 64];
	int64_t shape[4] = { 3, 3, 32, 64 };
	struct {
		int index;
		const char *name;
		const char *js[3]; /* elements 0, 977, 1954 */
	} cases[] = {
		{ 0, "kernel", { "0.0245110616", "-0.123796806", "-0.0552708991" } },
		{ 1, "depthwise_kernel", { "0.498395085", "0.071617946", "-0.593879819" } },
		{ 2, "bias", { "0.0661717132", "-0.0566285774", "-0.0864001662" } },
		{ 3, "gamma", { "1.07488346", "0.99119246", "0.892033875" } },
		{ 4, "beta", { "-0.0837749019", "-0.00493090972", "0.0590359867" } },
		{ 5, "moving_mean", { "0.0584015697", "0.00367560354", "-0.0918431208" } },
		{ 6, "moving_variance", { "1.18790007", "0.728902638", "1.02150035" } },
	};
	int same = 1;
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		ct_testweight_fill("block_1_expand_BN", cases[c].index, cases[c].name, 4, shape, v);
		for (int k = 0; k < 3; k++)
			same &= v[977 * k] == strtof(cases[c].js[k], NULL);
	}
	ok(same, "synthetic weights of every kind equal the JavaScript twin's, bit for bit");
	uint8_t img[5 * 7 * 3];
	static const uint8_t js1[10] = { 133, 145, 89, 4, 155, 112, 111, 134, 87, 233 };
	static const uint8_t js0[10] = { 29, 221, 58, 239, 249, 60, 32, 40, 227, 105 };
	ct_testinput_fill(1, 5, 7, img);
	int in_same = !memcmp(img, js1, 10);
	ct_testinput_fill(0, 5, 7, img);
	in_same &= !memcmp(img, js0, 10);
	ok(in_same, "synthetic input pixels of images 0 and 1 equal the JavaScript twin's");
	ok(ct_fnv1a32("mixed10") == 2578792001u && ct_fmix32(12345) == 1011272156u && ct_fnv1a32("") == 2166136261u,
	   "fnv1a32 and fmix32 reference values");
}

int main(void)
{
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	test_round_trip();
	test_keras_encodings();
	test_float16();
	test_refusals();
	test_testweights();
	TEST_DONE();
}
