/* test_backbones.c - ResNet50, VGG16, DenseNet121, Xception: Keras layer names, shapes and
 * parameter counts of the notop models, and weight files in the layouts of the official
 * keras-applications *_notop.h5 / full files (Keras 2 names, Keras 1 names bound by position,
 * layer names with '/', classifier tops that notop use ignores) written with the HDF5 C API,
 * loaded and run bit-identically to the same weights built in memory; wrong files refused
 * naming the first mismatching layer. */
#include "test.h"
#include "nn_testutil.h"
#include "core/error.h"
#include "models/models.h"
#include "nn/net.h"
#include "nn/testweights.h"
#include "formats/keras_h5.h"
#include "nn/weights.h"

#include <hdf5.h>

/* ---- writing Keras weight files as h5py does (fixed-length null-padded string arrays) -- */

static void put_strings(hid_t obj, const char *name, char **s, int n)
{
	size_t size = 1;
	for (int i = 0; i < n; i++)
		size = strlen(s[i]) > size ? strlen(s[i]) : size;
	char *buf = calloc(n > 0 ? (size_t)n : 1, size);
	for (int i = 0; i < n; i++)
		memcpy(buf + (size_t)i * size, s[i], strlen(s[i]));
	hsize_t dim = (hsize_t)n;
	hid_t sp = n ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_NULL);
	hid_t t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, size);
	H5Tset_strpad(t, H5T_STR_NULLPAD);
	hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
	if (n)
		H5Awrite(a, t, buf);
	H5Aclose(a);
	H5Tclose(t);
	H5Sclose(sp);
	free(buf);
}

typedef enum { NAMES_KERAS2, NAMES_KERAS1 } naming;

/* One layer of a file in memory: its name, weight names and tensors. */
typedef struct flayer {
	char name[64];
	int n;
	char wname[4][96];
	int ndim[4];
	int64_t shape[4][4];
	const char *shortn[4];
} flayer;

/* Keras 1 short names by Keras 2 short name ("kernel" was "W", "bias" "b", ...). */
static const char *keras1_name(const char *s)
{
	if (!strcmp(s, "kernel"))
		return "W";
	if (!strcmp(s, "bias"))
		return "b";
	if (!strcmp(s, "moving_mean"))
		return "running_mean";
	if (!strcmp(s, "moving_variance"))
		return "running_std";
	return s;
}

/* Layers of g in file form (every node; weightless ones listed with no weight names as
 * Keras does), then `extra` top layers. */
static int file_layers(const ct_graph *g, naming nm, flayer *out)
{
	int n = 0;
	for (int i = 0; i < g->n; i++) {
		const ct_node *nd = &g->nodes[i];
		flayer *l = &out[n++];
		memset(l, 0, sizeof *l);
		snprintf(l->name, sizeof l->name, "%s", nd->name);
		l->n = nd->nw;
		for (int j = 0; j < nd->nw; j++) {
			const ct_wspec *s = &nd->wspec[j];
			if (nm == NAMES_KERAS2)
				snprintf(l->wname[j], sizeof l->wname[j], "%s/%s:0", nd->name, s->name);
			else /* Keras 1 with TensorFlow: "block1_conv1_W_1:0" */
				snprintf(l->wname[j], sizeof l->wname[j], "%s_%s_1:0", nd->name,
					 keras1_name(s->name));
			l->ndim[j] = s->ndim;
			memcpy(l->shape[j], s->shape, sizeof s->shape);
			l->shortn[j] = s->name;
		}
	}
	return n;
}

static void add_dense(flayer *l, const char *name, int64_t in, int64_t out)
{
	memset(l, 0, sizeof *l);
	snprintf(l->name, sizeof l->name, "%s", name);
	l->n = 2;
	snprintf(l->wname[0], sizeof l->wname[0], "%s/kernel:0", name);
	snprintf(l->wname[1], sizeof l->wname[1], "%s/bias:0", name);
	l->ndim[0] = 2, l->shape[0][0] = in, l->shape[0][1] = out, l->shortn[0] = "kernel";
	l->ndim[1] = 1, l->shape[1][0] = out, l->shortn[1] = "bias";
}

static void add_empty(flayer *l, const char *name)
{
	memset(l, 0, sizeof *l);
	snprintf(l->name, sizeof l->name, "%s", name);
}

/* Write the layers as keras save_weights does: layer_names, backend and keras_version on
 * the root; a group per layer (names with '/' nest, as h5py makes them) with weight_names;
 * each dataset at <group>/<weight name>. Values: ct_testweight_fill by Keras short name. */
static int write_keras(const char *path, const flayer *ls, int n, const char *version)
{
	hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	if (f < 0)
		return -1;
	hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
	H5Pset_create_intermediate_group(lcpl, 1);
	char **names = malloc(sizeof *names * (size_t)n);
	for (int i = 0; i < n; i++)
		names[i] = (char *)ls[i].name;
	put_strings(f, "layer_names", names, n);
	char *be = "tensorflow", *kv = (char *)version;
	put_strings(f, "backend", &be, 1);
	put_strings(f, "keras_version", &kv, 1);
	for (int i = 0; i < n; i++) {
		const flayer *l = &ls[i];
		hid_t g = H5Gcreate2(f, l->name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
		char *wn[4];
		for (int j = 0; j < l->n; j++)
			wn[j] = (char *)l->wname[j];
		put_strings(g, "weight_names", wn, l->n);
		for (int j = 0; j < l->n; j++) {
			hsize_t dims[4];
			int64_t e = 1;
			for (int d = 0; d < l->ndim[j]; d++)
				dims[d] = (hsize_t)l->shape[j][d], e *= l->shape[j][d];
			float *v = malloc((size_t)e * sizeof *v);
			ct_testweight_fill(l->name, j, l->shortn[j], l->ndim[j], l->shape[j], v);
			hid_t sp = H5Screate_simple(l->ndim[j], dims, NULL);
			hid_t d = H5Dcreate2(g, l->wname[j], H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT,
					     H5P_DEFAULT);
			H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
			H5Dclose(d);
			H5Sclose(sp);
			free(v);
		}
		H5Gclose(g);
	}
	free(names);
	H5Pclose(lcpl);
	return H5Fclose(f) < 0 ? -1 : 0;
}

static char *tpath(const char *name)
{
	static char buf[4][512];
	static int k;
	char *p = buf[k++ % 4];
	snprintf(p, 512, "%s/%s", t_tmpdir(), name);
	return p;
}

/* The default output of g for one synthetic image with weights w (NULL on error). */
static float *features(const ct_graph *g, const ct_weights *w, const char *out, int *d)
{
	ct_net *net = ct_net_new(g, w, out, CT_POOL_AVG);
	if (!net)
		return NULL;
	ct_tensor x, o;
	ct_tensor_alloc4(&x, CT_U8, 1, g->in_h, g->in_w, g->in_c);
	ct_testinput_fill(0, g->in_h, g->in_w, x.data);
	float *r = NULL;
	if (!ct_net_run(net, &x) && !ct_net_output(net, 0, &o)) {
		*d = (int)o.shape[1];
		r = malloc((size_t)*d * sizeof *r);
		memcpy(r, o.data, (size_t)*d * sizeof *r);
	}
	ct_tensor_free(&x);
	ct_net_free(net);
	return r;
}

/* Write g's weights as an official file would hold them (+ top layers), load, bind, run:
 * the features must equal those of the same weights built in memory, bit for bit. */
static void official_file(const ct_graph *g, naming nm, const flayer *top, int ntop,
			  const char *cut, const char *what)
{
	flayer *ls = calloc((size_t)g->n + 8, sizeof *ls);
	int n = file_layers(g, nm, ls);
	for (int i = 0; i < ntop; i++)
		ls[n++] = top[i];
	char fname[96];
	snprintf(fname, sizeof fname, "%s_%s.h5", g->arch, ntop ? "top" : "notop");
	const char *path = tpath(fname);
	ok(write_keras(path, ls, n, nm == NAMES_KERAS1 ? "1.2.2" : "2.2.4") == 0,
	   "%s: wrote %s", g->arch, what);
	ct_weights w = { 0 }, mem = { 0 };
	int rc = ct_weights_load(&w, path);
	ok(rc == 0 && w.nlayers == n, "%s: the file loads (%d layers)", g->arch, w.nlayers);
	if (rc)
		diag("%s", ct_last_error());
	ok(ct_graph_check_weights(g, &w) == 0, "%s: ct_graph_check_weights accepts it%s", g->arch,
	   ntop ? " (top layers ignored)" : "");
	ct_graph_testweights(g, &mem);
	int d1 = 0, d2 = 0;
	float *a = features(g, &w, cut, &d1);
	if (!a)
		diag("%s", ct_last_error());
	float *b = features(g, &mem, cut, &d2);
	ok(a && b && d1 == d2 && d1 > 0 && !memcmp(a, b, (size_t)d1 * sizeof *a),
	   "%s: features at %s from the file equal those of the same weights in memory (%d)",
	   g->arch, cut ? cut : g->default_output, d1);
	free(a);
	free(b);
	ct_weights_free(&w);
	ct_weights_free(&mem);
	free(ls);
}

int main(void)
{
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	const char *const *names = ct_model_names();
	int nn = 0;
	while (names[nn])
		nn++;
	ok(nn == 6 && !strcmp(names[2], "resnet50") && !strcmp(names[5], "xception"),
	   "six architectures are registered");

	/* ---- ResNet50 ---- */
	ct_graph *rn = ct_model_build("resnet50");
	ok(rn != NULL, "resnet50 builds");
	if (!rn)
		return 1;
	ok(ct_graph_nparams(rn) == 23587712, "resnet50 notop has 23,587,712 parameters (%lld)",
	   (long long)ct_graph_nparams(rn));
	ok(rn->in_h == 224 && rn->prep == CT_PREP_CAFFE &&
		   !strcmp(rn->default_output, "conv5_block3_out") &&
		   shape_is(rn, "conv5_block3_out", 7, 7, 2048),
	   "resnet50: 224x224, 'caffe', default conv5_block3_out 7x7x2048");
	ok(shape_is(rn, "conv1_relu", 112, 112, 64) && shape_is(rn, "pool1_pool", 56, 56, 64) &&
		   shape_is(rn, "conv2_block3_out", 56, 56, 256) &&
		   shape_is(rn, "conv3_block4_out", 28, 28, 512) &&
		   shape_is(rn, "conv4_block6_out", 14, 14, 1024),
	   "resnet50 stage outputs 56x56x256, 28x28x512, 14x14x1024");
	const ct_node *c1 = node(rn, "conv1_conv"), *s3 = node(rn, "conv3_block1_1_conv");
	ok(c1 && c1->kh == 7 && c1->sh == 2 && c1->use_bias && node(rn, "conv1_bn")->eps == 1.001e-5f &&
		   s3 && s3->kh == 1 && s3->sh == 2 && node(rn, "conv3_block1_0_conv") &&
		   !node(rn, "conv3_block2_0_conv"),
	   "resnet50: conv1 7x7/2 with bias, eps 1.001e-5, stride on the first 1x1, shortcuts only in block1");
	ok(count_op(rn, CT_OP_CONV2D) == 53 && count_op(rn, CT_OP_ADD) == 16,
	   "resnet50 has 53 convolutions and 16 adds");

	/* ---- VGG16 ---- */
	ct_graph *vg = ct_model_build("vgg16");
	ok(vg != NULL, "vgg16 builds");
	if (!vg)
		return 1;
	ok(ct_graph_nparams(vg) == 14714688, "vgg16 notop has 14,714,688 parameters (%lld)",
	   (long long)ct_graph_nparams(vg));
	ok(vg->prep == CT_PREP_CAFFE && shape_is(vg, "block5_pool", 7, 7, 512) &&
		   shape_is(vg, "block3_conv3", 56, 56, 256) && shape_is(vg, "block4_pool", 14, 14, 512) &&
		   node(vg, "block1_conv1")->act == CT_ACT_RELU && count_op(vg, CT_OP_CONV2D) == 13,
	   "vgg16: 13 conv+relu layers, block5_pool 7x7x512, 'caffe'");

	/* ---- DenseNet121 ---- */
	ct_graph *dn = ct_model_build("densenet121");
	ok(dn != NULL, "densenet121 builds");
	if (!dn)
		return 1;
	ok(ct_graph_nparams(dn) == 7037504, "densenet121 notop has 7,037,504 parameters (%lld)",
	   (long long)ct_graph_nparams(dn));
	ok(dn->prep == CT_PREP_TORCH && !strcmp(dn->default_output, "relu") &&
		   shape_is(dn, "relu", 7, 7, 1024) && shape_is(dn, "pool2_pool", 28, 28, 128) &&
		   shape_is(dn, "pool3_pool", 14, 14, 256) && shape_is(dn, "pool4_pool", 7, 7, 512) &&
		   shape_is(dn, "conv4_block24_concat", 14, 14, 1024),
	   "densenet121: 'torch', transitions 28x28x128, 14x14x256, 7x7x512, relu 7x7x1024");
	ok(node(dn, "conv1/conv") && node(dn, "conv1/bn")->eps == 1.001e-5f &&
		   node(dn, "conv2_block1_0_bn") && node(dn, "conv5_block16_2_conv") &&
		   count_op(dn, CT_OP_CONCAT) == 58,
	   "densenet121 names conv1/conv, conv1/bn, conv2_block1_0_bn .. conv5_block16 (58 concats)");

	/* ---- Xception ---- */
	ct_graph *xc = ct_model_build("xception");
	ok(xc != NULL, "xception builds");
	if (!xc)
		return 1;
	ok(ct_graph_nparams(xc) == 20861480, "xception notop has 20,861,480 parameters (%lld)",
	   (long long)ct_graph_nparams(xc));
	ok(xc->in_h == 299 && xc->prep == CT_PREP_TF &&
		   shape_is(xc, "block14_sepconv2_act", 10, 10, 2048) &&
		   shape_is(xc, "block1_conv2_act", 147, 147, 64) && shape_is(xc, "add_1", 74, 74, 128) &&
		   shape_is(xc, "add_3", 19, 19, 728) && shape_is(xc, "add_11", 19, 19, 728) &&
		   shape_is(xc, "add_12", 10, 10, 1024),
	   "xception: 299x299 'tf', block14_sepconv2_act 10x10x2048, adds at 74/37/19/19/10");
	const ct_node *sp = node(xc, "block2_sepconv1");
	ok(sp && sp->op == CT_OP_SEPCONV2D && sp->nw == 2 &&
		   !strcmp(sp->wspec[0].name, "depthwise_kernel") && sp->wspec[0].shape[2] == 64 &&
		   !strcmp(sp->wspec[1].name, "pointwise_kernel") && sp->wspec[1].shape[3] == 128 &&
		   count_op(xc, CT_OP_SEPCONV2D) == 34 && node(xc, "conv2d_4") && !node(xc, "conv2d_5"),
	   "xception: 34 SeparableConv2D (depthwise 3x3x64x1 + pointwise 1x1x64x128), 4 shortcuts");

	/* ---- official layouts ---- */
	flayer top[4];
	/* resnet50 (tf.keras naming, Keras 2 weight names): avg_pool + probs */
	add_empty(&top[0], "avg_pool");
	add_dense(&top[1], "probs", 2048, 1000);
	official_file(rn, NAMES_KERAS2, NULL, 0, NULL, "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5 layout");
	official_file(rn, NAMES_KERAS2, top, 2, "conv4_block6_out", "the full file layout (avg_pool, probs)");
	/* vgg16: a Keras 1 file ("block1_conv1_W_1:0"), bound by position */
	official_file(vg, NAMES_KERAS1, NULL, 0, NULL, "vgg16 notop layout with Keras 1 weight names");
	/* densenet121: '/' in layer and weight names; top avg_pool + fc1000 */
	add_dense(&top[1], "fc1000", 1024, 1000);
	official_file(dn, NAMES_KERAS2, top, 2, NULL, "the densenet121 full layout ('conv1/conv/kernel:0', fc1000)");
	/* xception: SeparableConv2D depthwise_kernel + pointwise_kernel; top avg_pool + predictions */
	add_dense(&top[1], "predictions", 2048, 1000);
	official_file(xc, NAMES_KERAS2, top, 2, "add_3", "the xception full layout (avg_pool, predictions)");
	official_file(xc, NAMES_KERAS1, NULL, 0, "add_3", "xception with Keras 1 weight names");

	/* ---- refusals name the first mismatching layer ---- */
	ct_weights w = { 0 };
	ct_weights_load(&w, tpath("resnet50_notop.h5"));
	ok(ct_graph_check_weights(vg, &w) < 0 &&
		   strstr(ct_last_error(), "'block1_conv1': missing from the weights"),
	   "a resnet50 file for vgg16 is refused: %s", ct_last_error());
	ct_net *bad = ct_net_new(dn, &w, NULL, CT_POOL_AVG);
	ok(!bad && strstr(ct_last_error(), "densenet121") && strstr(ct_last_error(), "'conv1/conv'"),
	   "a resnet50 file for densenet121 is refused: %s", ct_last_error());
	ct_weights_free(&w);
	/* a DenseNet169-like file: same names, conv2_block1_1_conv with other shapes */
	flayer *ls = calloc((size_t)dn->n, sizeof *ls);
	int n = file_layers(dn, NAMES_KERAS2, ls);
	for (int i = 0; i < n; i++)
		if (!strcmp(ls[i].name, "conv3_block1_1_conv"))
			ls[i].shape[0][2] = 160;
	write_keras(tpath("dn_wrong.h5"), ls, n, "2.2.4");
	free(ls);
	ct_weights_load(&w, tpath("dn_wrong.h5"));
	ok(ct_graph_check_weights(dn, &w) < 0 &&
		   strstr(ct_last_error(), "'conv3_block1_1_conv': kernel has shape 1x1x160x128, expected 1x1x128x128"),
	   "a mis-shaped layer is named with both shapes: %s", ct_last_error());
	ct_weights_free(&w);
	/* xception weights for resnet50's graph */
	ct_weights_load(&w, tpath("xception_notop.h5"));
	ok(ct_graph_check_weights(rn, &w) < 0 && strstr(ct_last_error(), "'conv1_conv'"),
	   "an xception file for resnet50 is refused: %s", ct_last_error());
	ct_weights_free(&w);

	ct_graph_free(rn);
	ct_graph_free(vg);
	ct_graph_free(dn);
	ct_graph_free(xc);
	TEST_DONE();
}
