/* graph.c - building the layer graph: shape inference, TensorFlow padding, weight specs. */
#include "nn/graph.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *op_names[] = {
	"InputLayer", "Conv2D",	   "DepthwiseConv2D", "BatchNormalization",
	"Activation", "ReLU",	   "MaxPooling2D",    "AveragePooling2D",
	"ZeroPadding2D", "Concatenate", "Add",	      "GlobalAveragePooling2D",
	"GlobalMaxPooling2D", "Dense", "Softmax", "SeparableConv2D",
};

const char *ct_op_name(ct_op op)
{
	if ((unsigned)op < sizeof op_names / sizeof op_names[0])
		return op_names[op];
	return "?";
}

ct_graph *ct_graph_new(const char *arch)
{
	ct_graph *g = calloc(1, sizeof *g);
	if (!g) {
		ct_error("out of memory");
		return NULL;
	}
	snprintf(g->arch, sizeof g->arch, "%s", arch ? arch : "");
	return g;
}

void ct_graph_free(ct_graph *g)
{
	if (!g)
		return;
	free(g->nodes);
	free(g);
}

int ct_tf_padding(int in, int k, int s, int d, int same, int *out, int *before, int *after)
{
	int ek = (k - 1) * d + 1; /* effective (dilated) kernel extent */
	if (same) {
		int o = (in + s - 1) / s;
		int total = (o - 1) * s + ek - in;
		if (total < 0)
			total = 0;
		*out = o;
		*before = total / 2;
		*after = total - total / 2;
	} else {
		*out = in < ek ? 0 : (in - ek) / s + 1;
		*before = *after = 0;
	}
	return *out > 0 ? 0 : -1;
}

int ct_graph_find(const ct_graph *g, const char *name)
{
	for (int i = 0; i < g->n; i++)
		if (!strcmp(g->nodes[i].name, name))
			return i;
	return -1;
}

/* Start a node: checks the sticky error, the name, the inputs; returns NULL on failure. */
static ct_node *node_begin(ct_graph *g, const char *name, ct_op op, int nin, const int *in)
{
	if (g->err)
		return NULL;
	if (!name || !*name || strlen(name) >= CT_NODE_NAME) {
		g->err = 1;
		ct_error("graph '%s': bad layer name '%s'", g->arch, name ? name : "");
		return NULL;
	}
	if (ct_graph_find(g, name) >= 0) {
		g->err = 1;
		ct_error("graph '%s': duplicate layer name '%s'", g->arch, name);
		return NULL;
	}
	if (nin > CT_NODE_MAXIN) {
		g->err = 1;
		ct_error("layer '%s': too many inputs (%d)", name, nin);
		return NULL;
	}
	for (int i = 0; i < nin; i++)
		if (in[i] < 0 || in[i] >= g->n) {
			g->err = 1;
			ct_error("layer '%s': bad input index %d", name, in[i]);
			return NULL;
		}
	if (g->n == g->cap) {
		int cap = g->cap ? 2 * g->cap : 64;
		ct_node *nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
		if (!nn) {
			g->err = 1;
			ct_error("out of memory");
			return NULL;
		}
		g->nodes = nn;
		g->cap = cap;
	}
	ct_node *n = &g->nodes[g->n];
	memset(n, 0, sizeof *n);
	snprintf(n->name, sizeof n->name, "%s", name);
	n->op = op;
	n->nin = nin;
	for (int i = 0; i < nin; i++)
		n->in[i] = in[i];
	n->kh = n->kw = n->sh = n->sw = n->dh = n->dw = 1;
	if (nin > 0) {
		const ct_node *p = &g->nodes[in[0]];
		n->h = p->h, n->w = p->w, n->c = p->c;
	}
	return n;
}

static int node_fail(ct_graph *g, const ct_node *n, const char *why)
{
	g->err = 1;
	return ct_error("layer '%s': %s", n->name, why);
}

static int node_commit(ct_graph *g, ct_node *n)
{
	if (n->h <= 0 || n->w <= 0 || n->c <= 0)
		return node_fail(g, n, "empty output shape");
	return g->n++;
}

static void wspec(ct_node *n, const char *name, int ndim, int64_t a, int64_t b, int64_t c,
		  int64_t d)
{
	ct_wspec *w = &n->wspec[n->nw++];
	snprintf(w->name, sizeof w->name, "%s", name);
	w->ndim = ndim;
	w->shape[0] = a, w->shape[1] = b, w->shape[2] = c, w->shape[3] = d;
}

int ct_graph_input(ct_graph *g, const char *name, int h, int w, int c)
{
	ct_node *n = node_begin(g, name, CT_OP_INPUT, 0, NULL);
	if (!n)
		return -1;
	n->h = h, n->w = w, n->c = c;
	g->in_h = h, g->in_w = w, g->in_c = c;
	return node_commit(g, n);
}

static int geometry(ct_graph *g, ct_node *n, int kh, int kw, int sh, int sw, int dh, int dw,
		    int same)
{
	if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || dh < 1 || dw < 1)
		return node_fail(g, n, "bad kernel size, stride or dilation");
	n->kh = kh, n->kw = kw, n->sh = sh, n->sw = sw, n->dh = dh, n->dw = dw;
	n->same = same;
	int oh, ow;
	if (ct_tf_padding(n->h, kh, sh, dh, same, &oh, &n->pad_t, &n->pad_b) ||
	    ct_tf_padding(n->w, kw, sw, dw, same, &ow, &n->pad_l, &n->pad_r))
		return node_fail(g, n, "input smaller than the kernel");
	n->h = oh, n->w = ow;
	return 0;
}

/* What Conv2D and SeparableConv2D share: the node, the checks on filters and activation,
 * the geometry and the output channels. *cin gets the input channels for the weight specs;
 * NULL when refused (the graph records why). */
static ct_node *conv_begin(ct_graph *g, const char *name, ct_op op, int in, int filters, int kh, int kw,
			   int sh, int sw, int dh, int dw, int same, int use_bias, ct_act act, int *cin)
{
	ct_node *n = node_begin(g, name, op, 1, &in);
	if (!n)
		return NULL;
	*cin = n->c;
	if (filters < 1) {
		node_fail(g, n, "filters must be positive");
		return NULL;
	}
	if (act == CT_ACT_SOFTMAX) {
		node_fail(g, n, "softmax activation on a convolution is not supported");
		return NULL;
	}
	if (geometry(g, n, kh, kw, sh, sw, dh, dw, same))
		return NULL;
	n->filters = filters;
	n->c = filters;
	n->use_bias = use_bias;
	n->act = act;
	return n;
}

int ct_graph_conv2d_dilated(ct_graph *g, const char *name, int in, int filters, int kh, int kw,
			    int sh, int sw, int dh, int dw, int same, int use_bias, ct_act act)
{
	int cin;
	ct_node *n = conv_begin(g, name, CT_OP_CONV2D, in, filters, kh, kw, sh, sw, dh, dw, same, use_bias, act, &cin);
	if (!n)
		return -1;
	wspec(n, "kernel", 4, kh, kw, cin, filters);
	if (use_bias)
		wspec(n, "bias", 1, filters, 0, 0, 0);
	return node_commit(g, n);
}

int ct_graph_conv2d(ct_graph *g, const char *name, int in, int filters, int kh, int kw, int sh,
		    int sw, int same, int use_bias, ct_act act)
{
	return ct_graph_conv2d_dilated(g, name, in, filters, kh, kw, sh, sw, 1, 1, same, use_bias,
				       act);
}

int ct_graph_dwconv2d(ct_graph *g, const char *name, int in, int kh, int kw, int sh, int sw,
		      int same, int use_bias)
{
	ct_node *n = node_begin(g, name, CT_OP_DWCONV2D, 1, &in);
	if (!n)
		return -1;
	int cin = n->c;
	if (geometry(g, n, kh, kw, sh, sw, 1, 1, same))
		return -1;
	n->filters = 1; /* depth multiplier */
	n->use_bias = use_bias;
	wspec(n, "depthwise_kernel", 4, kh, kw, cin, 1);
	if (use_bias)
		wspec(n, "bias", 1, cin, 0, 0, 0);
	return node_commit(g, n);
}

int ct_graph_sepconv2d(ct_graph *g, const char *name, int in, int filters, int kh, int kw, int sh,
		       int sw, int same, int use_bias, ct_act act)
{
	int cin;
	ct_node *n = conv_begin(g, name, CT_OP_SEPCONV2D, in, filters, kh, kw, sh, sw, 1, 1, same, use_bias, act, &cin);
	if (!n)
		return -1;
	wspec(n, "depthwise_kernel", 4, kh, kw, cin, 1);
	wspec(n, "pointwise_kernel", 4, 1, 1, cin, filters);
	if (use_bias)
		wspec(n, "bias", 1, filters, 0, 0, 0);
	return node_commit(g, n);
}

int ct_graph_batchnorm(ct_graph *g, const char *name, int in, float eps, int scale, int center)
{
	ct_node *n = node_begin(g, name, CT_OP_BATCHNORM, 1, &in);
	if (!n)
		return -1;
	if (!(eps > 0))
		return node_fail(g, n, "epsilon must be positive");
	n->eps = eps;
	n->bn_scale = scale;
	n->bn_center = center;
	if (scale)
		wspec(n, "gamma", 1, n->c, 0, 0, 0);
	if (center)
		wspec(n, "beta", 1, n->c, 0, 0, 0);
	wspec(n, "moving_mean", 1, n->c, 0, 0, 0);
	wspec(n, "moving_variance", 1, n->c, 0, 0, 0);
	return node_commit(g, n);
}

int ct_graph_relu(ct_graph *g, const char *name, int in)
{
	ct_node *n = node_begin(g, name, CT_OP_RELU, 1, &in);
	return n ? node_commit(g, n) : -1;
}

int ct_graph_relu6(ct_graph *g, const char *name, int in)
{
	ct_node *n = node_begin(g, name, CT_OP_RELU6, 1, &in);
	return n ? node_commit(g, n) : -1;
}

int ct_graph_pool(ct_graph *g, const char *name, ct_op op, int in, int kh, int kw, int sh, int sw,
		  int same)
{
	ct_node *n = node_begin(g, name, op, 1, &in);
	if (!n)
		return -1;
	if (op != CT_OP_MAXPOOL && op != CT_OP_AVGPOOL)
		return node_fail(g, n, "not a pooling op");
	if (geometry(g, n, kh, kw, sh, sw, 1, 1, same))
		return -1;
	return node_commit(g, n);
}

int ct_graph_zeropad(ct_graph *g, const char *name, int in, int top, int bottom, int left,
		     int right)
{
	ct_node *n = node_begin(g, name, CT_OP_ZEROPAD, 1, &in);
	if (!n)
		return -1;
	if (top < 0 || bottom < 0 || left < 0 || right < 0)
		return node_fail(g, n, "negative padding");
	n->pad_t = top, n->pad_b = bottom, n->pad_l = left, n->pad_r = right;
	n->h += top + bottom;
	n->w += left + right;
	return node_commit(g, n);
}

static int merge(ct_graph *g, const char *name, ct_op op, int nin, const int *in)
{
	ct_node *n = node_begin(g, name, op, nin, in);
	if (!n)
		return -1;
	if (nin < 1)
		return node_fail(g, n, "no inputs");
	int c = 0;
	for (int i = 0; i < nin; i++) {
		const ct_node *p = &g->nodes[in[i]];
		if (p->h != n->h || p->w != n->w)
			return node_fail(g, n, "inputs differ in height or width");
		if (op == CT_OP_ADD && p->c != n->c)
			return node_fail(g, n, "inputs differ in channels");
		c += p->c;
	}
	if (op == CT_OP_CONCAT)
		n->c = c;
	return node_commit(g, n);
}

int ct_graph_concat(ct_graph *g, const char *name, int n, const int *in)
{
	return merge(g, name, CT_OP_CONCAT, n, in);
}

int ct_graph_add(ct_graph *g, const char *name, int n, const int *in)
{
	return merge(g, name, CT_OP_ADD, n, in);
}

int ct_graph_gpool(ct_graph *g, const char *name, ct_op op, int in)
{
	ct_node *n = node_begin(g, name, op, 1, &in);
	if (!n)
		return -1;
	if (op != CT_OP_GAVGPOOL && op != CT_OP_GMAXPOOL)
		return node_fail(g, n, "not a global pooling op");
	n->h = n->w = 1;
	return node_commit(g, n);
}

int ct_graph_dense(ct_graph *g, const char *name, int in, int units, int use_bias, ct_act act)
{
	ct_node *n = node_begin(g, name, CT_OP_DENSE, 1, &in);
	if (!n)
		return -1;
	if (units < 1)
		return node_fail(g, n, "units must be positive");
	int64_t fan_in = (int64_t)n->h * n->w * n->c; /* Flatten is implicit (NHWC order) */
	n->filters = units;
	n->use_bias = use_bias;
	n->act = act;
	n->h = n->w = 1;
	n->c = units;
	wspec(n, "kernel", 2, fan_in, units, 0, 0);
	if (use_bias)
		wspec(n, "bias", 1, units, 0, 0, 0);
	return node_commit(g, n);
}

int ct_graph_softmax(ct_graph *g, const char *name, int in)
{
	ct_node *n = node_begin(g, name, CT_OP_SOFTMAX, 1, &in);
	return n ? node_commit(g, n) : -1;
}

int64_t ct_graph_nparams(const ct_graph *g)
{
	int64_t total = 0;
	for (int i = 0; i < g->n; i++)
		for (int j = 0; j < g->nodes[i].nw; j++) {
			const ct_wspec *w = &g->nodes[i].wspec[j];
			int64_t e = 1;
			for (int d = 0; d < w->ndim; d++)
				e *= w->shape[d];
			total += e;
		}
	return total;
}

const char *ct_prep_name(ct_prep p)
{
	switch (p) {
	case CT_PREP_TF:
		return "tf";
	case CT_PREP_NONE:
		return "none";
	case CT_PREP_CAFFE:
		return "caffe";
	case CT_PREP_TORCH:
		return "torch";
	}
	return "?";
}
