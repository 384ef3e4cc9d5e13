/* test_onnx.c - the ONNX export (lib/nn/onnx.c) decoded by a protobuf reader written here from
 * onnx.proto, independent of the encoder: model header, op types and attributes, topological
 * order, initializer shapes, sizes and layouts (HWIO -> OIHW), inputs and outputs, only the
 * needed layers, errors and no partial output. No ONNX Runtime needed.
 *
 * Also the engine side of tests/cli/test_onnx.sh (not a test when called so):
 *   test_onnx --engine ARCH WEIGHTS.h5|synthetic LAYERS|default avg|max|none BATCH IN.f32 OUT.f32
 * writes the deterministic input (ct_testinput_fill, preprocessed to float32) and our engine's
 * outputs on it (N x sum(C), ct_net_features' layout; pool none: each output flattened NHWC). */
#include "test.h"
#include "core/error.h"
#include "nn/graph.h"
#include "nn/net.h"
#include "formats/keras_h5.h"
#include "formats/onnx.h"
#include "nn/testweights.h"
#include "models/models.h"

#include <dirent.h>
#include <sys/stat.h>
#include <stdint.h>

/* ---- a minimal protobuf reader ---- */

typedef struct fld {
	int num, wt;
	uint64_t v;	      /* varint / fixed32 value */
	const uint8_t *p;     /* length-delimited payload */
	size_t len;
} fld;

/* Next field of [*p, end); 1 on success, 0 at the end, -1 on malformed input. */
static int next(const uint8_t **p, const uint8_t *end, fld *f)
{
	if (*p >= end)
		return 0;
	uint64_t key = 0, v = 0;
	for (int s = 0;; s += 7) {
		if (*p >= end || s > 63)
			return -1;
		uint8_t b = *(*p)++;
		key |= (uint64_t)(b & 0x7f) << s;
		if (!(b & 0x80))
			break;
	}
	f->num = (int)(key >> 3);
	f->wt = (int)(key & 7);
	f->p = NULL;
	f->len = 0;
	if (f->wt == 0 || f->wt == 2) {
		for (int s = 0;; s += 7) {
			if (*p >= end || s > 63)
				return -1;
			uint8_t b = *(*p)++;
			v |= (uint64_t)(b & 0x7f) << s;
			if (!(b & 0x80))
				break;
		}
		f->v = v;
		if (f->wt == 2) {
			if (v > (uint64_t)(end - *p))
				return -1;
			f->p = *p;
			f->len = (size_t)v;
			*p += v;
		}
		return 1;
	}
	if (f->wt == 5) {
		if (end - *p < 4)
			return -1;
		f->v = (uint64_t)(*p)[0] | (uint64_t)(*p)[1] << 8 | (uint64_t)(*p)[2] << 16 | (uint64_t)(*p)[3] << 24;
		*p += 4;
		return 1;
	}
	return -1;
}

/* Every field of a message with number `num`, in order: up to max of them. */
static int fields(const uint8_t *p, size_t len, int num, fld *out, int max)
{
	const uint8_t *end = p + len;
	fld f;
	int n = 0, r;
	while ((r = next(&p, end, &f)) == 1)
		if (f.num == num) {
			if (n == max)
				return -1; /* more than the caller can hold: never truncate silently */
			out[n++] = f;
		}
	return r < 0 ? -1 : n;
}

static int field1(const uint8_t *p, size_t len, int num, fld *out)
{
	return fields(p, len, num, out, 1) == 1;
}

static int str_is(const fld *f, const char *s)
{
	return f->wt == 2 && f->len == strlen(s) && !memcmp(f->p, s, f->len);
}

static void str_copy(const fld *f, char *buf, size_t n)
{
	size_t k = f->len < n - 1 ? f->len : n - 1;
	memcpy(buf, f->p, k);
	buf[k] = 0;
}

/* ---- a decoded graph ---- */

#define MAXN 2048
#define MAXS 64

typedef struct dnode {
	char op[32], name[96];
	int nin;
	char in[8][96];
	char out[96];
	fld attr[16];
	int nattr;
} dnode;

typedef struct dinit {
	char name[96];
	int type, ndim;
	int64_t dims[4];
	const uint8_t *raw;
	size_t rawlen;
} dinit;

typedef struct dgraph {
	int nn, ni;
	dnode node[MAXN];
	dinit init[MAXN];
	fld input[4], output[8];
	int nin, nout;
} dgraph;

static int decode_graph(const fld *gf, dgraph *g)
{
	static fld nf[MAXN], inf[MAXN];
	memset(g, 0, sizeof *g);
	g->nn = fields(gf->p, gf->len, 1, nf, MAXN);
	g->ni = fields(gf->p, gf->len, 5, inf, MAXN);
	g->nin = fields(gf->p, gf->len, 11, g->input, 4);
	g->nout = fields(gf->p, gf->len, 12, g->output, 8);
	if (g->nn < 0 || g->ni < 0 || g->nin < 0 || g->nout < 0)
		return -1;
	for (int i = 0; i < g->nn; i++) {
		dnode *d = &g->node[i];
		fld f[8];
		int k = fields(nf[i].p, nf[i].len, 1, f, 8);
		d->nin = k;
		for (int j = 0; j < k; j++)
			str_copy(&f[j], d->in[j], sizeof d->in[j]);
		if (fields(nf[i].p, nf[i].len, 2, f, 8) != 1)
			return -1;
		str_copy(&f[0], d->out, sizeof d->out);
		if (field1(nf[i].p, nf[i].len, 3, f))
			str_copy(&f[0], d->name, sizeof d->name);
		if (!field1(nf[i].p, nf[i].len, 4, f))
			return -1;
		str_copy(&f[0], d->op, sizeof d->op);
		d->nattr = fields(nf[i].p, nf[i].len, 5, d->attr, 16);
	}
	for (int i = 0; i < g->ni; i++) {
		dinit *t = &g->init[i];
		fld f[4];
		t->ndim = fields(inf[i].p, inf[i].len, 1, f, 4);
		for (int j = 0; j < t->ndim; j++)
			t->dims[j] = (int64_t)f[j].v;
		if (field1(inf[i].p, inf[i].len, 2, f))
			t->type = (int)f[0].v;
		if (field1(inf[i].p, inf[i].len, 8, f))
			str_copy(&f[0], t->name, sizeof t->name);
		if (field1(inf[i].p, inf[i].len, 9, f))
			t->raw = f[0].p, t->rawlen = f[0].len;
	}
	return 0;
}

static const dnode *find_node(const dgraph *g, const char *name)
{
	for (int i = 0; i < g->nn; i++)
		if (!strcmp(g->node[i].name, name))
			return &g->node[i];
	return NULL;
}

static const dinit *find_init(const dgraph *g, const char *name)
{
	for (int i = 0; i < g->ni; i++)
		if (!strcmp(g->init[i].name, name))
			return &g->init[i];
	return NULL;
}

/* An attribute's ints (or its single int / float bits), -1 if absent. */
static int attr(const dnode *d, const char *name, int64_t *v, int max)
{
	for (int i = 0; i < d->nattr; i++) {
		fld f[8];
		if (!field1(d->attr[i].p, d->attr[i].len, 1, f) || !str_is(&f[0], name))
			continue;
		int n = fields(d->attr[i].p, d->attr[i].len, 8, f, 8);
		if (n > 0) {
			for (int k = 0; k < n && k < max; k++)
				v[k] = (int64_t)f[k].v;
			return n;
		}
		if (field1(d->attr[i].p, d->attr[i].len, 3, f) || field1(d->attr[i].p, d->attr[i].len, 2, f)) {
			v[0] = (int64_t)f[0].v;
			return 1;
		}
		return 0;
	}
	return -1;
}

static int ints_are(const int64_t *v, int n, const int64_t *want, int wn)
{
	if (n != wn)
		return 0;
	for (int i = 0; i < n; i++)
		if (v[i] != want[i])
			return 0;
	return 1;
}

/* dims of a ValueInfoProto: dim_value, or -1 for a dim_param (its name in *param). */
static int vi_dims(const fld *vi, char *name, size_t nn, int64_t *dims, char *param, size_t np)
{
	fld f[8], t, tt, sh;
	if (!field1(vi->p, vi->len, 1, f))
		return -1;
	str_copy(&f[0], name, nn);
	if (!field1(vi->p, vi->len, 2, &t) || !field1(t.p, t.len, 1, &tt))
		return -1;
	if (!field1(tt.p, tt.len, 1, f) || f[0].v != 1) /* elem_type FLOAT */
		return -1;
	if (!field1(tt.p, tt.len, 2, &sh))
		return -1;
	int n = fields(sh.p, sh.len, 1, f, 8);
	for (int i = 0; i < n; i++) {
		fld d;
		if (field1(f[i].p, f[i].len, 1, &d)) {
			dims[i] = (int64_t)d.v;
		} else if (field1(f[i].p, f[i].len, 2, &d)) {
			dims[i] = -1;
			str_copy(&d, param, np);
		} else {
			return -1;
		}
	}
	return n;
}

static float raw_f32(const dinit *t, size_t i)
{
	uint32_t u = (uint32_t)t->raw[4 * i] | (uint32_t)t->raw[4 * i + 1] << 8 |
		     (uint32_t)t->raw[4 * i + 2] << 16 | (uint32_t)t->raw[4 * i + 3] << 24;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

/* The model's graph field and header checks. */
static int decode_model(const uint8_t *buf, size_t len, fld *graph, int64_t *ir, int64_t *opset, char *arch,
			size_t an)
{
	fld f[16];
	*ir = *opset = -1;
	arch[0] = 0;
	if (field1(buf, len, 1, f))
		*ir = (int64_t)f[0].v;
	if (field1(buf, len, 8, f)) {
		fld v;
		if (field1(f[0].p, f[0].len, 2, &v))
			*opset = (int64_t)v.v;
	}
	int nm = fields(buf, len, 14, f, 16);
	for (int i = 0; i < nm; i++) {
		fld k, v;
		if (field1(f[i].p, f[i].len, 1, &k) && str_is(&k, "ctfuse.arch") && field1(f[i].p, f[i].len, 2, &v))
			str_copy(&v, arch, an);
	}
	return field1(buf, len, 7, graph) ? 0 : -1;
}

/* ---- the test graph: every op kind of the two backbones, as tests/golden/tiny.json ---- */

static ct_graph *tiny(void)
{
	ct_graph *g = ct_graph_new("tiny");
	int x = ct_graph_input(g, "input_1", 16, 16, 3);
	int p = ct_graph_zeropad(g, "pad", x, 0, 1, 0, 1);
	int c1 = ct_graph_conv2d(g, "conv1", p, 4, 3, 3, 2, 2, 0, 0, CT_ACT_NONE);
	int b1 = ct_graph_batchnorm(g, "bn1", c1, 1e-3f, 0, 1);
	int r1 = ct_graph_relu6(g, "relu1", b1);
	int c17 = ct_graph_conv2d(g, "conv_1x7", r1, 4, 1, 7, 1, 1, 1, 1, CT_ACT_NONE);
	int c71 = ct_graph_conv2d(g, "conv_7x1", c17, 4, 7, 1, 1, 1, 1, 1, CT_ACT_RELU);
	int dw = ct_graph_dwconv2d(g, "dw", r1, 3, 3, 1, 1, 1, 0);
	int dwb = ct_graph_batchnorm(g, "dw_bn", dw, 1e-3f, 1, 1);
	int dwr = ct_graph_relu6(g, "dw_relu", dwb);
	int dwp = ct_graph_conv2d(g, "dw_project", dwr, 4, 1, 1, 1, 1, 1, 1, CT_ACT_NONE);
	int ap = ct_graph_pool(g, "avgpool", CT_OP_AVGPOOL, r1, 3, 3, 1, 1, 1);
	int pp = ct_graph_conv2d(g, "pool_proj", ap, 4, 1, 1, 1, 1, 1, 1, CT_ACT_NONE);
	int mp = ct_graph_pool(g, "maxpool_same", CT_OP_MAXPOOL, r1, 3, 3, 2, 2, 1);
	int add = ct_graph_add(g, "add", 2, (int[]){ dwp, pp });
	int sep = ct_graph_sepconv2d(g, "sep", r1, 6, 3, 3, 1, 1, 1, 1, CT_ACT_RELU);
	int cat = ct_graph_concat(g, "concat", 4, (int[]){ add, c71, r1, sep });
	int gap = ct_graph_gpool(g, "gap", CT_OP_GAVGPOOL, cat);
	int d = ct_graph_dense(g, "dense", gap, 5, 1, CT_ACT_RELU);
	ct_graph_softmax(g, "softmax", d);
	(void)mp;
	snprintf(g->default_output, sizeof g->default_output, "concat");
	if (g->err) {
		ct_graph_free(g);
		return NULL;
	}
	return g;
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_tiny(void)
{
	ct_graph *g = tiny();
	ok(g != NULL, "the test graph builds");
	if (!g)
		return;
	ct_weights w = { 0 };
	ok(ct_graph_testweights(g, &w) == 0, "synthetic weights for it");

	uint8_t *buf;
	size_t len;
	ct_onnx_opts o = { .outputs = "concat,maxpool_same,softmax", .pool = CT_POOL_AVG, .batch = 0 };
	ok(ct_onnx_encode(g, &w, &o, &buf, &len) == 0, "encodes (%s)", ct_last_error());

	fld gf;
	int64_t ir, opset;
	char arch[64];
	ok(decode_model(buf, len, &gf, &ir, &opset, arch, sizeof arch) == 0 && ir == CT_ONNX_IR_VERSION &&
		   opset == 13 && !strcmp(arch, "tiny"),
	   "ModelProto: ir_version 7 (field 1), opset_import version 13 (field 8), graph (field 7), "
	   "metadata ctfuse.arch (field 14)");
	static dgraph dg;
	int dec = decode_graph(&gf, &dg);
	ok(dec == 0, "GraphProto decodes: %d nodes, %d initializers", dg.nn, dg.ni);

	/* topological: every node input is the graph input, an initializer or an earlier output */
	int topo = 1;
	for (int i = 0; i < dg.nn && topo; i++)
		for (int k = 0; k < dg.node[i].nin; k++) {
			const char *s = dg.node[i].in[k];
			int found = !strcmp(s, "images") || find_init(&dg, s);
			for (int j = 0; j < i && !found; j++)
				found = !strcmp(dg.node[j].out, s);
			if (!found) {
				diag("node '%s' input '%s' is not defined before it", dg.node[i].name, s);
				topo = 0;
			}
		}
	ok(topo, "nodes are in topological order, every input defined");

	const dnode *in = find_node(&dg, "input_1");
	int64_t v[8];
	ok(in && !strcmp(in->op, "Transpose") && !strcmp(in->in[0], "images") &&
		   ints_are(v, attr(in, "perm", v, 8), (int64_t[]){ 0, 3, 1, 2 }, 4),
	   "the NHWC input 'images' is transposed to NCHW (perm 0,3,1,2)");
	const dnode *pad = find_node(&dg, "pad");
	const dinit *pads = find_init(&dg, "pad/pads");
	int pads_ok = pads && pads->type == 7 && pads->ndim == 1 && pads->dims[0] == 8 && pads->rawlen == 64;
	for (int i = 0; pads_ok && i < 8; i++) {
		static const int want[8] = { 0, 0, 0, 0, 0, 0, 1, 1 };
		pads_ok = pads->raw[8 * i] == want[i];
	}
	ok(pad && !strcmp(pad->op, "Pad") && pad->nin == 2 && pads_ok,
	   "ZeroPadding2D ((0,1),(0,1)) is Pad with int64 pads 0,0,0,0,0,0,1,1");

	const dnode *c1 = find_node(&dg, "conv1");
	const dinit *k1 = find_init(&dg, "conv1/kernel");
	ok(c1 && !strcmp(c1->op, "Conv") && c1->nin == 2 && k1 && k1->ndim == 4 && k1->dims[0] == 4 &&
		   k1->dims[1] == 3 && k1->dims[2] == 3 && k1->dims[3] == 3 && k1->type == 1 &&
		   k1->rawlen == 4 * 4 * 3 * 3 * 3,
	   "Conv2D without bias: Conv with a 4x3x3x3 (OIHW) float kernel of 432 raw bytes");
	const ct_wtensor *kk = ct_wlayer_get(ct_weights_find(&w, "conv1"), "kernel");
	int layout = kk != NULL && k1 != NULL;
	for (int oc = 0; layout && oc < 4; oc++)
		for (int i = 0; i < 3; i++)
			for (int y = 0; y < 3; y++)
				for (int x = 0; x < 3; x++) {
					float keras = ((const float *)kk->t.data)[((y * 3 + x) * 3 + i) * 4 + oc];
					layout &= raw_f32(k1, (size_t)((oc * 3 + i) * 3 + y) * 3 + x) == keras;
				}
	ok(layout, "kernel element [o][i][y][x] is the Keras HWIO element [y][x][i][o]");
	ok(c1 && ints_are(v, attr(c1, "strides", v, 8), (int64_t[]){ 2, 2 }, 2) &&
		   ints_are(v, attr(c1, "pads", v, 8), (int64_t[]){ 0, 0, 0, 0 }, 4) &&
		   ints_are(v, attr(c1, "kernel_shape", v, 8), (int64_t[]){ 3, 3 }, 2) && attr(c1, "group", v, 1) == 1 &&
		   v[0] == 1,
	   "conv1: strides 2, valid pads 0, kernel 3x3, group 1");
	const dnode *c17 = find_node(&dg, "conv_1x7");
	ok(c17 && c17->nin == 3 && ints_are(v, attr(c17, "pads", v, 8), (int64_t[]){ 0, 3, 0, 3 }, 4) &&
		   find_init(&dg, "conv_1x7/bias") && find_init(&dg, "conv_1x7/bias")->dims[0] == 4,
	   "1x7 'same' conv: explicit pads (t,l,b,r) = 0,3,0,3 and a bias input");
	const dnode *c71 = find_node(&dg, "conv_7x1"), *c71a = find_node(&dg, "conv_7x1/act");
	ok(c71 && !strcmp(c71->out, "conv_7x1/conv") && c71a && !strcmp(c71a->op, "Relu") &&
		   !strcmp(c71a->out, "conv_7x1"),
	   "a conv's relu activation is a Relu node producing the layer's value");

	const dnode *bn1 = find_node(&dg, "bn1");
	const dinit *g1 = find_init(&dg, "bn1/gamma");
	ok(bn1 && !strcmp(bn1->op, "BatchNormalization") && bn1->nin == 5 && attr(bn1, "epsilon", v, 1) == 1 &&
		   v[0] == 0x3a83126f /* 1e-3f */ && g1 && g1->dims[0] == 4 && raw_f32(g1, 0) == 1.f &&
		   raw_f32(g1, 3) == 1.f,
	   "BatchNormalization with epsilon 1e-3 (fixed32) and gamma = 1 when scale=False");
	const dnode *r1 = find_node(&dg, "relu1");
	const dinit *cmax = find_init(&dg, "ct/clip_max");
	ok(r1 && !strcmp(r1->op, "Clip") && r1->nin == 3 && cmax && cmax->ndim == 0 && cmax->rawlen == 4 &&
		   raw_f32(cmax, 0) == 6.f,
	   "ReLU6 is Clip(x, 0, 6) with scalar bounds");
	const dnode *dw = find_node(&dg, "dw");
	const dinit *dk = find_init(&dg, "dw/depthwise_kernel");
	ok(dw && !strcmp(dw->op, "Conv") && attr(dw, "group", v, 1) == 1 && v[0] == 4 && dk && dk->dims[0] == 4 &&
		   dk->dims[1] == 1 && dk->dims[2] == 3 && dk->dims[3] == 3 &&
		   ints_are(v, attr(dw, "pads", v, 8), (int64_t[]){ 1, 1, 1, 1 }, 4),
	   "DepthwiseConv2D is Conv with group = 4 and a 4x1x3x3 kernel, pads 1");
	const dnode *sd = find_node(&dg, "sep/depthwise"), *sp = find_node(&dg, "sep");
	const dinit *spk = find_init(&dg, "sep/pointwise_kernel");
	ok(sd && sp && attr(sd, "group", v, 1) == 1 && v[0] == 4 && !strcmp(sp->in[0], "sep/depthwise") &&
		   sp->nin == 3 && attr(sp, "group", v, 1) == 1 && v[0] == 1 && spk && spk->dims[0] == 6 &&
		   spk->dims[1] == 4 && spk->dims[2] == 1 && spk->dims[3] == 1 && !strcmp(sp->out, "sep/conv"),
	   "SeparableConv2D: depthwise Conv (group 4), then 1x1 Conv 6x4x1x1 with the bias, then the activation");
	const dnode *avg = find_node(&dg, "avgpool"), *mx = find_node(&dg, "maxpool_same");
	ok(avg && !strcmp(avg->op, "AveragePool") && attr(avg, "count_include_pad", v, 1) == 1 && v[0] == 0 &&
		   ints_are(v, attr(avg, "pads", v, 8), (int64_t[]){ 1, 1, 1, 1 }, 4),
	   "'same' AveragePooling2D: AveragePool with count_include_pad 0 and explicit pads");
	ok(mx && !strcmp(mx->op, "MaxPool") && ints_are(v, attr(mx, "pads", v, 8), (int64_t[]){ 0, 0, 1, 1 }, 4) &&
		   ints_are(v, attr(mx, "strides", v, 8), (int64_t[]){ 2, 2 }, 2),
	   "'same' stride-2 MaxPool on 8x8: TensorFlow pads the extra cell after (0,0,1,1)");
	const dnode *add = find_node(&dg, "add"), *cat = find_node(&dg, "concat");
	ok(add && !strcmp(add->op, "Add") && add->nin == 2 && cat && !strcmp(cat->op, "Concat") && cat->nin == 4 &&
		   attr(cat, "axis", v, 1) == 1 && v[0] == 1,
	   "Add, and Concatenate as Concat on axis 1 (NCHW channels)");
	const dnode *gemm = find_node(&dg, "dense/gemm"), *dn = find_node(&dg, "dense");
	const dinit *dk2 = find_init(&dg, "dense/kernel");
	ok(gemm && !strcmp(gemm->op, "Gemm") && gemm->nin == 3 && dk2 && dk2->dims[0] == 18 && dk2->dims[1] == 5 &&
		   dn && !strcmp(dn->op, "Reshape") && !find_node(&dg, "dense/nhwc"),
	   "Dense on 1x1: Flatten, Gemm with the (in, out) kernel, Reshape back to N x C x 1 x 1");
	const dnode *sm = find_node(&dg, "softmax");
	ok(sm && !strcmp(sm->op, "Softmax") && attr(sm, "axis", v, 1) == 1 && v[0] == 1, "Softmax over axis 1");

	int sizes = 1;
	for (int i = 0; i < dg.ni; i++) {
		int64_t n = 1;
		for (int k = 0; k < dg.init[i].ndim; k++)
			n *= dg.init[i].dims[k];
		size_t want = (size_t)n * (dg.init[i].type == 7 ? 8 : 4);
		if (dg.init[i].rawlen != want || (dg.init[i].type != 1 && dg.init[i].type != 7)) {
			diag("initializer '%s': %zu raw bytes, expected %zu", dg.init[i].name, dg.init[i].rawlen, want);
			sizes = 0;
		}
	}
	ok(sizes, "every initializer's raw_data has 4 (float) or 8 (int64) bytes per element of its dims");

	char name[96], param[16] = "";
	int64_t dims[8];
	ok(dg.nin == 1 && vi_dims(&dg.input[0], name, sizeof name, dims, param, sizeof param) == 4 &&
		   !strcmp(name, "images") && dims[0] == -1 && !strcmp(param, "N") && dims[1] == 16 && dims[2] == 16 &&
		   dims[3] == 3,
	   "one input 'images' float N x 16 x 16 x 3 with a symbolic batch");
	static const char *const want_out[3] = { "concat/avg", "maxpool_same/avg", "softmax/avg" };
	static const int want_c[3] = { 18, 4, 5 };
	int outs_ok = dg.nout == 3;
	for (int i = 0; outs_ok && i < 3; i++) {
		int nd = vi_dims(&dg.output[i], name, sizeof name, dims, param, sizeof param);
		outs_ok = nd == 2 && !strcmp(name, want_out[i]) && dims[0] == -1 && dims[1] == want_c[i] &&
			  find_node(&dg, want_out[i]) && !strcmp(find_node(&dg, want_out[i])->op, "Flatten");
	}
	ok(outs_ok, "outputs '<layer>/avg' N x C in the order asked, each GlobalAveragePool + Flatten");
	free(buf);

	/* only what the outputs need; fixed batch; pool none */
	o = (ct_onnx_opts){ .outputs = "relu1", .pool = CT_POOL_NONE, .batch = 2 };
	ok(ct_onnx_encode(g, &w, &o, &buf, &len) == 0 && decode_model(buf, len, &gf, &ir, &opset, arch, sizeof arch) == 0 &&
		   decode_graph(&gf, &dg) == 0,
	   "encodes relu1 alone, unpooled, batch 2");
	ok(!find_node(&dg, "dw") && !find_node(&dg, "add") && !find_init(&dg, "dense/kernel") &&
		   find_node(&dg, "conv1") && dg.ni == 8 /* pads, conv1 kernel, 4 BN, 2 clip bounds */,
	   "only the layers relu1 needs are written (%d initializers)", dg.ni);
	const dnode *fo = find_node(&dg, "relu1/out_nhwc");
	ok(dg.nout == 1 && vi_dims(&dg.output[0], name, sizeof name, dims, param, sizeof param) == 2 &&
		   !strcmp(name, "relu1/flat") && dims[0] == 2 && dims[1] == 8 * 8 * 4 && fo &&
		   ints_are(v, attr(fo, "perm", v, 8), (int64_t[]){ 0, 2, 3, 1 }, 4),
	   "pool none: 'relu1/flat' 2 x 256, transposed back to NHWC before flattening");
	ok(dg.nin == 1 && vi_dims(&dg.input[0], name, sizeof name, dims, param, sizeof param) == 4 && dims[0] == 2,
	   "a fixed batch is a dim_value");

	/* the file is the encoding; failures leave nothing behind */
	char path[1024], dir[512];
	snprintf(dir, sizeof dir, "%s/out", t_tmpdir());
	mkdir(dir, 0777);
	snprintf(path, sizeof path, "%s/tiny.onnx", dir);
	ok(ct_onnx_save(g, &w, &o, path) == 0, "saves to a file");
	FILE *f = fopen(path, "rb");
	uint8_t *fb = malloc(len + 1);
	size_t got = f && fb ? fread(fb, 1, len + 1, f) : 0;
	if (f)
		fclose(f);
	ok(got == len && !memcmp(fb, buf, len), "the file holds exactly the encoded bytes (%zu)", len);
	free(fb);
	free(buf);
	ok(count_files(dir) == 1, "no temporary file is left beside it");

	o.outputs = "relu1,nope";
	ok(ct_onnx_save(g, &w, &o, path) == -1 && strstr(ct_last_error(), "no layer 'nope'"),
	   "an unknown output layer is an error naming it: %s", ct_last_error());
	o.outputs = "relu1,relu1";
	ok(ct_onnx_encode(g, &w, &o, &buf, &len) == -1 && strstr(ct_last_error(), "twice"),
	   "a layer listed twice is an error");
	o.outputs = NULL;
	snprintf(path, sizeof path, "%s/no/such/dir/x.onnx", dir);
	ok(ct_onnx_save(g, &w, &o, path) == -1 && strstr(ct_last_error(), "No such file or directory"),
	   "an unwritable path fails with strerror: %s", ct_last_error());
	ok(count_files(dir) == 1, "failed saves leave no partial or temporary file");

	ct_weights w2 = { 0 };
	ct_wlayer *l = ct_weights_add_layer(&w2, "conv1");
	ok(l && ct_onnx_encode(g, &w2, &o, &buf, &len) == -1 && strstr(ct_last_error(), "tiny"),
	   "weights that do not fit the graph are refused: %s", ct_last_error());
	ct_weights_free(&w2);
	ct_weights_free(&w);
	ct_graph_free(g);
}

static void test_backbones(void)
{
	const char *const *names = ct_model_names();
	for (int i = 0; names[i]; i++) {
		ct_graph *g = ct_model_build(names[i]);
		ct_weights w = { 0 };
		uint8_t *buf = NULL;
		size_t len = 0;
		ct_onnx_opts o = { .pool = CT_POOL_AVG };
		int rc = g && ct_graph_testweights(g, &w) == 0 ? ct_onnx_encode(g, &w, &o, &buf, &len) : -1;
		ok(rc == 0, "%s exports (%s)", names[i], rc ? ct_last_error() : "");
		if (rc == 0) {
			fld gf;
			int64_t ir, opset;
			char arch[64];
			static dgraph dg;
			int dec = decode_model(buf, len, &gf, &ir, &opset, arch, sizeof arch) == 0 && decode_graph(&gf, &dg) == 0;
			int64_t params = 0;
			for (int k = 0; dec && k < dg.ni; k++) {
				int64_t n = 1;
				for (int d = 0; d < dg.init[k].ndim; d++)
					n *= dg.init[k].dims[d];
				if (dg.init[k].type == 1 && strncmp(dg.init[k].name, "ct/", 3))
					params += n;
			}
			/* BN without scale gets ones for gamma: count the graph's own parameters */
			int64_t extra = 0;
			for (int k = 0; k < g->n; k++)
				if (g->nodes[k].op == CT_OP_BATCHNORM)
					extra += (!g->nodes[k].bn_scale + !g->nodes[k].bn_center) * (int64_t)g->nodes[k].c;
			if (params - extra != ct_graph_nparams(g))
				diag("initializers %lld, BN fill-ins %lld", (long long)params, (long long)extra);
			ok(dec && params - extra == ct_graph_nparams(g),
			   "%s: the initializers hold the %lld parameters of the graph (%zu bytes)", names[i],
			   (long long)ct_graph_nparams(g), len);
		}
		free(buf);
		ct_weights_free(&w);
		ct_graph_free(g);
	}
}

/* ---- engine mode for tests/cli/test_onnx.sh ---- */

static int write_f32(const char *path, const float *v, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return ct_error_errno("cannot open '%s'", path);
	size_t k = fwrite(v, sizeof *v, n, f);
	if (fclose(f) != 0 || k != n)
		return ct_error_errno("cannot write '%s'", path);
	return 0;
}

static int engine(int argc, char **argv)
{
	if (argc != 9) {
		fprintf(stderr, "usage: test_onnx --engine ARCH WEIGHTS|synthetic LAYERS|default avg|max|none BATCH IN.f32 OUT.f32\n");
		return 2;
	}
	const char *arch = argv[2], *wpath = argv[3], *layers = argv[4], *pool_s = argv[5];
	int batch = atoi(argv[6]);
	ct_pool pool = !strcmp(pool_s, "max") ? CT_POOL_MAX : !strcmp(pool_s, "none") ? CT_POOL_NONE : CT_POOL_AVG;
	ct_graph *g = ct_model_build(arch);
	ct_weights w = { 0 };
	ct_net *net = NULL;
	ct_tensor x = { 0 }, feats = { 0 };
	float *out = NULL;
	int rc = -1;
	if (!g || batch < 1)
		goto done;
	if (!strcmp(wpath, "synthetic") ? ct_graph_testweights(g, &w) : ct_weights_load(&w, wpath))
		goto done;
	net = ct_net_new(g, &w, strcmp(layers, "default") ? layers : NULL, pool);
	if (!net || ct_tensor_alloc4(&x, CT_F32, batch, g->in_h, g->in_w, g->in_c))
		goto done;
	size_t per = (size_t)g->in_h * g->in_w * g->in_c;
	uint8_t *px = malloc(per);
	if (!px)
		goto done;
	for (int n = 0; n < batch; n++) {
		ct_testinput_fill(n, g->in_h, g->in_w, px);
		float *d = (float *)x.data + n * per;
		for (size_t i = 0; i < per; i++)
			d[i] = (float)px[i] / 127.5f - 1.f; /* as the engine preprocesses uint8 */
	}
	free(px);
	if (write_f32(argv[7], x.data, (size_t)batch * per) || ct_net_run(net, &x))
		goto done;
	if (pool != CT_POOL_NONE) {
		if (ct_net_features(net, &feats) || write_f32(argv[8], feats.data, (size_t)ct_tensor_numel(&feats)))
			goto done;
	} else {
		size_t total = 0;
		for (int i = 0; i < ct_net_noutputs(net); i++) {
			ct_tensor v;
			ct_net_output(net, i, &v);
			total += (size_t)(ct_tensor_numel(&v) / batch);
		}
		out = malloc(total * batch * sizeof *out);
		if (!out)
			goto done;
		size_t off = 0;
		for (int i = 0; i < ct_net_noutputs(net); i++) {
			ct_tensor v;
			ct_net_output(net, i, &v);
			size_t c = (size_t)(ct_tensor_numel(&v) / batch);
			for (int n = 0; n < batch; n++)
				memcpy(out + n * total + off, (const float *)v.data + n * c, c * sizeof *out);
			off += c;
		}
		if (write_f32(argv[8], out, total * batch))
			goto done;
	}
	rc = 0;
done:
	if (rc)
		fprintf(stderr, "test_onnx: %s\n", ct_last_error());
	free(out);
	ct_tensor_free(&feats);
	ct_tensor_free(&x);
	ct_net_free(net);
	ct_weights_free(&w);
	ct_graph_free(g);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--engine"))
		return engine(argc, argv);
	test_tiny();
	test_backbones();
	TEST_DONE();
}
