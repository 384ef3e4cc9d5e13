/* onnx.c - ONNX export of a graph and its weights: a small protobuf encoder and the op mapping.
 *
 * Field numbers and enum values are those of onnx/onnx.proto (proto2; repeated scalars are
 * written unpacked, which every protobuf parser accepts):
 *   ModelProto        1 ir_version, 2 producer_name, 3 producer_version, 6 doc_string,
 *                     7 graph, 8 opset_import, 14 metadata_props
 *   OperatorSetIdProto 1 domain, 2 version       StringStringEntryProto 1 key, 2 value
 *   GraphProto        1 node, 2 name, 5 initializer, 10 doc_string, 11 input, 12 output
 *   NodeProto         1 input, 2 output, 3 name, 4 op_type, 5 attribute
 *   AttributeProto    1 name, 2 f, 3 i, 8 ints, 20 type (FLOAT 1, INT 2, INTS 7)
 *   TensorProto       1 dims, 2 data_type (FLOAT 1, INT64 7), 8 name, 9 raw_data (little-endian)
 *   ValueInfoProto    1 name, 2 type; TypeProto 1 tensor_type; TypeProto.Tensor 1 elem_type,
 *                     2 shape; TensorShapeProto 1 dim; Dimension 1 dim_value, 2 dim_param
 * Wire types: 0 varint, 2 length-delimited, 5 fixed32. */
#include "formats/onnx.h"
#include "core/error.h"
#include "io/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef CT_VERSION
#define CT_VERSION "unknown"
#endif

enum { WT_VARINT = 0, WT_LEN = 2, WT_FIXED32 = 5 };
enum { DT_FLOAT = 1, DT_INT64 = 7 };
enum { AT_FLOAT = 1, AT_INT = 2, AT_INTS = 7 };

/* A growing byte buffer; a failed allocation makes it sticky-bad (checked once at the end). */
typedef struct pb {
	uint8_t *p;
	size_t n, cap;
	int err;
} pb;

static void pb_free(pb *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}

static int pb_reserve(pb *b, size_t extra)
{
	if (b->err)
		return -1;
	if (extra > SIZE_MAX / 2 - b->n) {
		b->err = 1;
		return -1;
	}
	if (b->n + extra <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->n + extra)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p) {
		b->err = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

static void pb_raw(pb *b, const void *d, size_t n)
{
	if (n == 0 || pb_reserve(b, n))
		return;
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void pb_varint(pb *b, uint64_t v)
{
	uint8_t t[10];
	int k = 0;
	do {
		t[k] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			t[k] |= 0x80;
		k++;
	} while (v);
	pb_raw(b, t, (size_t)k);
}

static void pb_tag(pb *b, int field, int wt)
{
	pb_varint(b, (uint64_t)field << 3 | (uint64_t)wt);
}

/* int32/int64/enum fields: negative values as 64-bit two's complement, as protobuf does. */
static void pb_int(pb *b, int field, int64_t v)
{
	pb_tag(b, field, WT_VARINT);
	pb_varint(b, (uint64_t)v);
}

static void pb_bytes(pb *b, int field, const void *d, size_t n)
{
	pb_tag(b, field, WT_LEN);
	pb_varint(b, n);
	pb_raw(b, d, n);
}

static void pb_str(pb *b, int field, const char *s)
{
	pb_bytes(b, field, s, strlen(s));
}

static void pb_f32_field(pb *b, int field, float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	uint8_t t[4] = { (uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24) };
	pb_tag(b, field, WT_FIXED32);
	pb_raw(b, t, 4);
}

/* Append a sub-message as a length-delimited field and release it. */
static void pb_msg(pb *b, int field, pb *sub)
{
	if (sub->err)
		b->err = 1;
	else
		pb_bytes(b, field, sub->p, sub->n);
	pb_free(sub);
}

static int host_little_endian(void)
{
	const uint16_t one = 1;
	uint8_t c;
	memcpy(&c, &one, 1);
	return c == 1;
}

/* raw_data of n float32 values, little-endian whatever the host. */
static void pb_f32_raw(pb *b, int field, const float *v, size_t n)
{
	pb_tag(b, field, WT_LEN);
	pb_varint(b, n * 4);
	if (host_little_endian()) {
		pb_raw(b, v, n * 4);
		return;
	}
	if (pb_reserve(b, n * 4))
		return;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &v[i], 4);
		uint8_t *o = b->p + b->n + 4 * i;
		o[0] = (uint8_t)u, o[1] = (uint8_t)(u >> 8), o[2] = (uint8_t)(u >> 16), o[3] = (uint8_t)(u >> 24);
	}
	b->n += n * 4;
}

/* ---- the export ---- */

typedef struct ex {
	const ct_graph *g;
	const ct_weights *w;
	pb graph;	 /* GraphProto body: nodes and initializers as they come (order is free) */
	int have_clip;	 /* the shared Clip bounds are written */
	int have_shape;	 /* the shared Reshape target is written */
	int fail;	 /* a ct_error was recorded */
} ex;

static void init_f32(ex *e, const char *name, int ndim, const int64_t *dims, const float *v)
{
	pb t = { 0 };
	size_t n = 1;
	for (int i = 0; i < ndim; i++) {
		pb_int(&t, 1, dims[i]);
		n *= (size_t)dims[i];
	}
	pb_int(&t, 2, DT_FLOAT);
	pb_str(&t, 8, name);
	pb_f32_raw(&t, 9, v, n);
	pb_msg(&e->graph, 5, &t);
}

static void init_i64(ex *e, const char *name, int n, const int64_t *v)
{
	pb t = { 0 };
	pb_int(&t, 1, n);
	pb_int(&t, 2, DT_INT64);
	pb_str(&t, 8, name);
	uint8_t buf[8 * 8];
	for (int i = 0; i < n && i < 8; i++)
		for (int k = 0; k < 8; k++)
			buf[8 * i + k] = (uint8_t)((uint64_t)v[i] >> (8 * k));
	pb_bytes(&t, 9, buf, (size_t)n * 8);
	pb_msg(&e->graph, 5, &t);
}

/* A NodeProto under construction: inputs, output, name and op type, then attributes. */
static void node_begin(pb *nd, const char *op, const char *name, int nin, const char *const *in,
		       const char *out)
{
	memset(nd, 0, sizeof *nd);
	for (int i = 0; i < nin; i++)
		pb_str(nd, 1, in[i]);
	pb_str(nd, 2, out);
	pb_str(nd, 3, name);
	pb_str(nd, 4, op);
}

static void attr_int(pb *nd, const char *name, int64_t v)
{
	pb a = { 0 };
	pb_str(&a, 1, name);
	pb_int(&a, 20, AT_INT);
	pb_int(&a, 3, v);
	pb_msg(nd, 5, &a);
}

static void attr_float(pb *nd, const char *name, float v)
{
	pb a = { 0 };
	pb_str(&a, 1, name);
	pb_int(&a, 20, AT_FLOAT);
	pb_f32_field(&a, 2, v);
	pb_msg(nd, 5, &a);
}

static void attr_ints(pb *nd, const char *name, int n, const int64_t *v)
{
	pb a = { 0 };
	pb_str(&a, 1, name);
	pb_int(&a, 20, AT_INTS);
	for (int i = 0; i < n; i++)
		pb_int(&a, 8, v[i]);
	pb_msg(nd, 5, &a);
}

static void node_end(ex *e, pb *nd)
{
	pb_msg(&e->graph, 1, nd);
}

/* A node without attributes. */
static void simple(ex *e, const char *op, const char *name, int nin, const char *const *in,
		   const char *out)
{
	pb nd;
	node_begin(&nd, op, name, nin, in, out);
	node_end(e, &nd);
}

static void transpose(ex *e, const char *name, const char *in, const char *out, const int64_t perm[4])
{
	pb nd;
	node_begin(&nd, "Transpose", name, 1, &in, out);
	attr_ints(&nd, "perm", 4, perm);
	node_end(e, &nd);
}

static void flatten(ex *e, const char *name, const char *in, const char *out)
{
	pb nd;
	node_begin(&nd, "Flatten", name, 1, &in, out);
	attr_int(&nd, "axis", 1);
	node_end(e, &nd);
}

static const int64_t to_nchw[4] = { 0, 3, 1, 2 }, to_nhwc[4] = { 0, 2, 3, 1 };

/* An activation from `in` to `out` (Relu, Clip(0, 6) or Softmax over channels). */
static void activation(ex *e, ct_act act, const char *name, const char *in, const char *out)
{
	if (act == CT_ACT_RELU) {
		simple(e, "Relu", name, 1, &in, out);
	} else if (act == CT_ACT_RELU6) {
		if (!e->have_clip) {
			static const float zero = 0.f, six = 6.f;
			init_f32(e, "ct/clip_min", 0, NULL, &zero);
			init_f32(e, "ct/clip_max", 0, NULL, &six);
			e->have_clip = 1;
		}
		const char *in3[3] = { in, "ct/clip_min", "ct/clip_max" };
		simple(e, "Clip", name, 3, in3, out);
	} else if (act == CT_ACT_SOFTMAX) {
		pb nd;
		node_begin(&nd, "Softmax", name, 1, &in, out);
		attr_int(&nd, "axis", 1);
		node_end(e, &nd);
	}
}

static const float *wdata(ex *e, const ct_node *nd, const char *short_name)
{
	const ct_wtensor *t = ct_wlayer_get(ct_weights_find(e->w, nd->name), short_name);
	return t ? (const float *)t->t.data : NULL;
}

static void name2(char *buf, size_t n, const char *a, const char *b)
{
	snprintf(buf, n, "%s/%s", a, b);
}

#define VNAME (CT_NODE_NAME + 32)

/* A Keras kernel (kh, kw, cin, last) as an ONNX Conv weight (O, I/group, kh, kw): for a
 * convolution last = cout and O = last; for a depthwise one group = cin, last = the depth
 * multiplier and output channel i * mult + m (Keras' order). */
static int conv_weight(ex *e, const ct_node *nd, const char *wname, const float *k, int kh, int kw,
		       int cin, int last, int depthwise)
{
	int cout = depthwise ? cin * last : last, icg = depthwise ? 1 : cin;
	size_t nk = (size_t)cout * icg * kh * kw;
	float *t = malloc(nk * sizeof *t);
	if (!t)
		return ct_error("layer '%s': out of memory", nd->name);
	for (int y = 0; y < kh; y++)
		for (int x = 0; x < kw; x++)
			for (int i = 0; i < cin; i++)
				for (int m = 0; m < last; m++) {
					float v = k[(((size_t)y * kw + x) * cin + i) * last + m];
					int o = depthwise ? i * last + m : m, ii = depthwise ? 0 : i;
					t[(((size_t)o * icg + ii) * kh + y) * kw + x] = v;
				}
	int64_t dims[4] = { cout, icg, kh, kw };
	init_f32(e, wname, 4, dims, t);
	free(t);
	return 0;
}

static void conv_node(ex *e, const char *name, int nin, const char *const *in, const char *out, int kh,
		      int kw, int sh, int sw, int dh, int dw, const int64_t pads[4], int group)
{
	pb n;
	node_begin(&n, "Conv", name, nin, in, out);
	int64_t ks[2] = { kh, kw }, st[2] = { sh, sw }, dl[2] = { dh, dw };
	attr_ints(&n, "kernel_shape", 2, ks);
	attr_ints(&n, "strides", 2, st);
	attr_ints(&n, "dilations", 2, dl);
	attr_ints(&n, "pads", 4, pads);
	attr_int(&n, "group", group);
	node_end(e, &n);
}

/* Conv2D, DepthwiseConv2D, and SeparableConv2D as a depthwise Conv ("<layer>/depthwise")
 * followed by a 1x1 Conv; bias and activation come last, as in Keras. */
static int conv(ex *e, const ct_node *nd)
{
	const ct_node *src = &e->g->nodes[nd->in[0]];
	int dw = nd->op == CT_OP_DWCONV2D, sep = nd->op == CT_OP_SEPCONV2D;
	int cin = src->c, mult = dw ? nd->filters : 1;
	const float *k = wdata(e, nd, dw || sep ? "depthwise_kernel" : "kernel");
	const float *pk = sep ? wdata(e, nd, "pointwise_kernel") : NULL;
	const float *bias = nd->use_bias ? wdata(e, nd, "bias") : NULL;
	if (!k || (sep && !pk) || (nd->use_bias && !bias))
		return ct_error("layer '%s': missing weights", nd->name);
	char wn[VNAME], pn[VNAME], bn[VNAME], cv[VNAME], dv[VNAME];
	name2(wn, sizeof wn, nd->name, dw || sep ? "depthwise_kernel" : "kernel");
	name2(pn, sizeof pn, nd->name, "pointwise_kernel");
	name2(bn, sizeof bn, nd->name, "bias");
	name2(cv, sizeof cv, nd->name, "conv");
	name2(dv, sizeof dv, nd->name, "depthwise");
	if (conv_weight(e, nd, wn, k, nd->kh, nd->kw, cin, dw ? mult : sep ? 1 : nd->filters, dw || sep))
		return -1;
	if (sep && conv_weight(e, nd, pn, pk, 1, 1, cin, nd->filters, 0))
		return -1;
	if (bias) {
		int64_t bd = nd->c;
		init_f32(e, bn, 1, &bd, bias);
	}
	const char *out = nd->act != CT_ACT_NONE ? cv : nd->name;
	int64_t pads[4] = { nd->pad_t, nd->pad_l, nd->pad_b, nd->pad_r };
	if (sep) {
		static const int64_t none[4] = { 0, 0, 0, 0 };
		const char *din[2] = { src->name, wn }, *pin[3] = { dv, pn, bn };
		conv_node(e, dv, 2, din, dv, nd->kh, nd->kw, nd->sh, nd->sw, 1, 1, pads, cin);
		conv_node(e, nd->name, bias ? 3 : 2, pin, out, 1, 1, 1, 1, 1, 1, none, 1);
	} else {
		const char *in[3] = { src->name, wn, bn };
		conv_node(e, nd->name, bias ? 3 : 2, in, out, nd->kh, nd->kw, nd->sh, nd->sw, nd->dh, nd->dw, pads,
			  dw ? cin : 1);
	}
	if (nd->act != CT_ACT_NONE) {
		char an[VNAME];
		name2(an, sizeof an, nd->name, "act");
		activation(e, nd->act, an, cv, nd->name);
	}
	return 0;
}

static int batchnorm(ex *e, const ct_node *nd)
{
	const float *gamma = nd->bn_scale ? wdata(e, nd, "gamma") : NULL;
	const float *beta = nd->bn_center ? wdata(e, nd, "beta") : NULL;
	const float *mean = wdata(e, nd, "moving_mean"), *var = wdata(e, nd, "moving_variance");
	if ((nd->bn_scale && !gamma) || (nd->bn_center && !beta) || !mean || !var)
		return ct_error("layer '%s': missing weights", nd->name);
	int c = nd->c;
	float *ones = NULL, *zeros = NULL;
	if (!gamma || !beta) {
		ones = malloc((size_t)c * sizeof *ones);
		zeros = calloc((size_t)c, sizeof *zeros);
		if (!ones || !zeros) {
			free(ones), free(zeros);
			return ct_error("layer '%s': out of memory", nd->name);
		}
		for (int i = 0; i < c; i++)
			ones[i] = 1.f;
	}
	char gn[VNAME], bn[VNAME], mn[VNAME], vn[VNAME];
	name2(gn, sizeof gn, nd->name, "gamma");
	name2(bn, sizeof bn, nd->name, "beta");
	name2(mn, sizeof mn, nd->name, "moving_mean");
	name2(vn, sizeof vn, nd->name, "moving_variance");
	int64_t d = c;
	init_f32(e, gn, 1, &d, gamma ? gamma : ones);
	init_f32(e, bn, 1, &d, beta ? beta : zeros);
	init_f32(e, mn, 1, &d, mean);
	init_f32(e, vn, 1, &d, var);
	free(ones), free(zeros);
	const char *in[5] = { e->g->nodes[nd->in[0]].name, gn, bn, mn, vn };
	pb n;
	node_begin(&n, "BatchNormalization", nd->name, 5, in, nd->name);
	attr_float(&n, "epsilon", nd->eps);
	node_end(e, &n);
	return 0;
}

static void pool(ex *e, const ct_node *nd)
{
	const char *in = e->g->nodes[nd->in[0]].name;
	pb n;
	node_begin(&n, nd->op == CT_OP_MAXPOOL ? "MaxPool" : "AveragePool", nd->name, 1, &in, nd->name);
	int64_t ks[2] = { nd->kh, nd->kw }, st[2] = { nd->sh, nd->sw };
	int64_t pads[4] = { nd->pad_t, nd->pad_l, nd->pad_b, nd->pad_r };
	attr_ints(&n, "kernel_shape", 2, ks);
	attr_ints(&n, "strides", 2, st);
	attr_ints(&n, "pads", 4, pads);
	if (nd->op == CT_OP_AVGPOOL)
		attr_int(&n, "count_include_pad", 0);
	node_end(e, &n);
}

static void zeropad(ex *e, const ct_node *nd)
{
	char pn[VNAME];
	name2(pn, sizeof pn, nd->name, "pads");
	/* ONNX Pad: all begins, then all ends, over N, C, H, W */
	int64_t pads[8] = { 0, 0, nd->pad_t, nd->pad_l, 0, 0, nd->pad_b, nd->pad_r };
	init_i64(e, pn, 8, pads);
	const char *in[2] = { e->g->nodes[nd->in[0]].name, pn };
	simple(e, "Pad", nd->name, 2, in, nd->name);
}

static int merge(ex *e, const ct_node *nd)
{
	const char *in[CT_NODE_MAXIN];
	for (int i = 0; i < nd->nin; i++)
		in[i] = e->g->nodes[nd->in[i]].name;
	if (nd->op == CT_OP_CONCAT) {
		pb n;
		node_begin(&n, "Concat", nd->name, nd->nin, in, nd->name);
		attr_int(&n, "axis", 1);
		node_end(e, &n);
	} else {
		simple(e, nd->nin == 1 ? "Identity" : nd->nin == 2 ? "Add" : "Sum", nd->name, nd->nin, in,
		       nd->name);
	}
	return 0;
}

/* Dense on N x C x H x W: Keras flattens in NHWC order, so transpose back first when H*W > 1. */
static int dense(ex *e, const ct_node *nd)
{
	const ct_node *src = &e->g->nodes[nd->in[0]];
	const float *k = wdata(e, nd, "kernel");
	const float *bias = nd->use_bias ? wdata(e, nd, "bias") : NULL;
	if (!k || (nd->use_bias && !bias))
		return ct_error("layer '%s': missing weights", nd->name);
	char nhwc[VNAME], flat[VNAME], gemm[VNAME], act[VNAME], wn[VNAME], bn[VNAME];
	name2(nhwc, sizeof nhwc, nd->name, "nhwc");
	name2(flat, sizeof flat, nd->name, "flatten");
	name2(gemm, sizeof gemm, nd->name, "gemm");
	name2(act, sizeof act, nd->name, "act");
	name2(wn, sizeof wn, nd->name, "kernel");
	name2(bn, sizeof bn, nd->name, "bias");
	const char *x = src->name;
	if ((int64_t)src->h * src->w > 1) {
		transpose(e, nhwc, x, nhwc, to_nhwc);
		x = nhwc;
	}
	flatten(e, flat, x, flat);
	int64_t kd[2] = { (int64_t)src->h * src->w * src->c, nd->filters }, bd = nd->filters;
	init_f32(e, wn, 2, kd, k);
	if (bias)
		init_f32(e, bn, 1, &bd, bias);
	const char *in[3] = { flat, wn, bn };
	simple(e, "Gemm", gemm, bias ? 3 : 2, in, gemm);
	const char *y = gemm;
	if (nd->act != CT_ACT_NONE) {
		activation(e, nd->act, act, gemm, act);
		y = act;
	}
	if (!e->have_shape) {
		static const int64_t s[4] = { 0, -1, 1, 1 };
		init_i64(e, "ct/shape_nc11", 4, s);
		e->have_shape = 1;
	}
	const char *rin[2] = { y, "ct/shape_nc11" };
	simple(e, "Reshape", nd->name, 2, rin, nd->name);
	return 0;
}

static int emit_node(ex *e, const ct_node *nd)
{
	const char *in = nd->nin ? e->g->nodes[nd->in[0]].name : NULL;
	switch (nd->op) {
	case CT_OP_INPUT:
		transpose(e, nd->name, "images", nd->name, to_nchw);
		return 0;
	case CT_OP_CONV2D:
	case CT_OP_DWCONV2D:
	case CT_OP_SEPCONV2D:
		return conv(e, nd);
	case CT_OP_BATCHNORM:
		return batchnorm(e, nd);
	case CT_OP_RELU:
		activation(e, CT_ACT_RELU, nd->name, in, nd->name);
		return 0;
	case CT_OP_RELU6:
		activation(e, CT_ACT_RELU6, nd->name, in, nd->name);
		return 0;
	case CT_OP_MAXPOOL:
	case CT_OP_AVGPOOL:
		pool(e, nd);
		return 0;
	case CT_OP_ZEROPAD:
		zeropad(e, nd);
		return 0;
	case CT_OP_CONCAT:
	case CT_OP_ADD:
		return merge(e, nd);
	case CT_OP_GAVGPOOL:
		simple(e, "GlobalAveragePool", nd->name, 1, &in, nd->name);
		return 0;
	case CT_OP_GMAXPOOL:
		simple(e, "GlobalMaxPool", nd->name, 1, &in, nd->name);
		return 0;
	case CT_OP_DENSE:
		return dense(e, nd);
	case CT_OP_SOFTMAX:
		activation(e, CT_ACT_SOFTMAX, nd->name, in, nd->name);
		return 0;
	}
	return ct_error("layer '%s': no ONNX mapping for %s", nd->name, ct_op_name(nd->op));
}

/* A ValueInfoProto for a float32 tensor; dims[0] < 1 is the symbolic batch "N". */
static void value_info(pb *graph, int field, const char *name, int ndim, const int64_t *dims)
{
	pb shape = { 0 }, tt = { 0 }, type = { 0 }, vi = { 0 };
	for (int i = 0; i < ndim; i++) {
		pb d = { 0 };
		if (i == 0 && dims[0] < 1)
			pb_str(&d, 2, "N");
		else
			pb_int(&d, 1, dims[i]);
		pb_msg(&shape, 1, &d);
	}
	pb_int(&tt, 1, DT_FLOAT);
	pb_msg(&tt, 2, &shape);
	pb_msg(&type, 1, &tt);
	pb_str(&vi, 1, name);
	pb_msg(&vi, 2, &type);
	pb_msg(graph, field, &vi);
}

static void metadata(pb *model, const char *key, const char *value)
{
	pb m = { 0 };
	pb_str(&m, 1, key);
	pb_str(&m, 2, value);
	pb_msg(model, 14, &m);
}

/* Keras preprocess_input modes, as the engine applies them to uint8 pixels (run.c). */
static const char *prep_text(ct_prep p)
{
	switch (p) {
	case CT_PREP_TF:
		return "tf: x / 127.5 - 1";
	case CT_PREP_CAFFE:
		return "caffe: RGB -> BGR, minus the BGR ImageNet mean 103.939, 116.779, 123.68";
	case CT_PREP_TORCH:
		return "torch: (x / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]";
	case CT_PREP_NONE:
		break;
	}
	return "none: x as float";
}

static const char *pool_suffix(ct_pool p)
{
	return p == CT_POOL_AVG ? "avg" : p == CT_POOL_MAX ? "max" : "flat";
}

/* Parse the output list into node indices (at most g->n, no repeats). Returns the count or -1. */
static int parse_outputs(const ct_graph *g, const char *outputs, int *idx)
{
	const char *spec = outputs && *outputs ? outputs : g->default_output;
	int n = 0;
	while (*spec) {
		const char *end = strchr(spec, ',');
		size_t len = end ? (size_t)(end - spec) : strlen(spec);
		char name[CT_NODE_NAME];
		if (len == 0 || len >= sizeof name)
			return ct_error("bad output layer list '%s'", spec);
		memcpy(name, spec, len);
		name[len] = 0;
		int node = ct_graph_find(g, name);
		if (node < 0)
			return ct_error_usage("model '%s' has no layer '%s'", g->arch, name);
		for (int i = 0; i < n; i++)
			if (idx[i] == node)
				return ct_error("layer '%s' is listed twice", name);
		if (n == g->n)
			return ct_error("too many output layers");
		idx[n++] = node;
		spec += len + (end ? 1 : 0);
	}
	if (n == 0)
		return ct_error("model '%s': no output layer", g->arch);
	return n;
}

int ct_onnx_encode(const ct_graph *g, const ct_weights *w, const ct_onnx_opts *o, uint8_t **buf,
		   size_t *len)
{
	*buf = NULL;
	*len = 0;
	if (!g || g->err || g->n == 0)
		return ct_error("graph '%s' is not usable", g ? g->arch : "");
	if (o->pool != CT_POOL_AVG && o->pool != CT_POOL_MAX && o->pool != CT_POOL_NONE)
		return ct_error("bad pooling %d", (int)o->pool);
	if (o->batch < 0)
		return ct_error("bad batch size %d", o->batch);
	if (g->nodes[0].op != CT_OP_INPUT)
		return ct_error("model '%s': the input layer must come first", g->arch);
	if (ct_graph_find(g, "images") >= 0)
		return ct_error("model '%s': a layer is named 'images', the name of the ONNX input", g->arch);
	if (ct_graph_check_weights(g, w))
		return ct_error_prefix("model '%s'", g->arch);

	int *outs = malloc((size_t)g->n * sizeof *outs);
	char *need = calloc((size_t)g->n, 1);
	if (!outs || !need) {
		free(outs), free(need);
		return ct_error("out of memory");
	}
	int nout = parse_outputs(g, o->outputs, outs);
	if (nout < 0) {
		free(outs), free(need);
		return -1;
	}
	for (int i = 0; i < nout; i++)
		need[outs[i]] = 1;
	for (int i = g->n - 1; i >= 0; i--)
		if (need[i])
			for (int k = 0; k < g->nodes[i].nin; k++)
				need[g->nodes[i].in[k]] = 1;

	ex e = { .g = g, .w = w };
	int rc = 0;
	pb_str(&e.graph, 2, g->arch);
	for (int i = 0; i < g->n && rc == 0; i++)
		if (need[i])
			rc = emit_node(&e, &g->nodes[i]);

	/* outputs, pooled as ct-features pools them */
	char list[4096] = "";
	size_t ll = 0;
	for (int i = 0; i < nout && rc == 0; i++) {
		const ct_node *nd = &g->nodes[outs[i]];
		char out[VNAME], tmp[VNAME];
		name2(out, sizeof out, nd->name, pool_suffix(o->pool));
		if (o->pool == CT_POOL_NONE) {
			name2(tmp, sizeof tmp, nd->name, "out_nhwc");
			transpose(&e, tmp, nd->name, tmp, to_nhwc);
		} else {
			name2(tmp, sizeof tmp, nd->name, o->pool == CT_POOL_AVG ? "gap" : "gmp");
			simple(&e, o->pool == CT_POOL_AVG ? "GlobalAveragePool" : "GlobalMaxPool", tmp, 1,
			       (const char *const[]){ nd->name }, tmp);
		}
		flatten(&e, out, tmp, out);
		int64_t c = o->pool == CT_POOL_NONE ? (int64_t)nd->h * nd->w * nd->c : nd->c;
		int64_t dims[2] = { o->batch, c };
		value_info(&e.graph, 12, out, 2, dims);
		if (ll < sizeof list)
			ll += (size_t)snprintf(list + ll, sizeof list - ll, "%s%s", i ? "," : "", nd->name);
	}
	int64_t idims[4] = { o->batch, g->in_h, g->in_w, g->in_c };
	value_info(&e.graph, 11, "images", 4, idims);
	free(outs), free(need);
	if (rc) {
		pb_free(&e.graph);
		return -1;
	}

	pb model = { 0 }, opset = { 0 };
	char doc[256];
	pb_int(&model, 1, CT_ONNX_IR_VERSION);
	pb_str(&model, 2, "ctfuse");
	pb_str(&model, 3, CT_VERSION);
	snprintf(doc, sizeof doc,
		 "%s notop network exported by ctfuse: input 'images' N x %d x %d x %d float32 NHWC, "
		 "preprocessed (%s)", g->arch, g->in_h, g->in_w, g->in_c, prep_text(g->prep));
	pb_str(&model, 6, doc);
	pb_int(&opset, 2, CT_ONNX_OPSET);
	pb_msg(&model, 8, &opset);
	metadata(&model, "ctfuse.arch", g->arch);
	metadata(&model, "ctfuse.outputs", list);
	metadata(&model, "ctfuse.pool", o->pool == CT_POOL_AVG ? "avg" : o->pool == CT_POOL_MAX ? "max" : "none");
	metadata(&model, "ctfuse.preprocessing", prep_text(g->prep));
	metadata(&model, "ctfuse.weights_sha256", w->sha256);
	if (o->finetune_model_sha256)
		metadata(&model, "ctfuse.finetune_model_sha256", o->finetune_model_sha256);
	if (o->finetune_source)
		metadata(&model, "ctfuse.finetune_source", o->finetune_source);
	pb_msg(&model, 7, &e.graph);
	if (model.err) {
		pb_free(&model);
		return ct_error("model '%s': out of memory while encoding the ONNX model", g->arch);
	}
	*buf = model.p;
	*len = model.n;
	return 0;
}


int ct_onnx_save(const ct_graph *g, const ct_weights *w, const ct_onnx_opts *o, const char *path)
{
	uint8_t *buf;
	size_t len;
	if (ct_onnx_encode(g, w, o, &buf, &len))
		return -1;
	int rc;
	if (!strcmp(path, "-")) {
		rc = fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : -1;
		if (rc)
			ct_error_errno("cannot write to standard output");
	} else {
		rc = ct_write_file_atomic(path, buf, len);
	}
	free(buf);
	return rc;
}
