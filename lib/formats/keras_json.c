/* keras_json.c - Keras model JSON (functional API config) -> ct_graph. */
#include "formats/keras_json.h"
#include "core/error.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct alias {
	char name[CT_NODE_NAME];
	int node;
} alias;

static int lookup(const alias *a, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(a[i].name, name))
			return a[i].node;
	return -1;
}

static int pair(const cJSON *cfg, const char *key, int *a, int *b, int dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
	*a = *b = dflt;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsNumber(v)) {
		*a = *b = v->valueint;
		return 0;
	}
	if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 &&
	    cJSON_IsNumber(cJSON_GetArrayItem(v, 0)) && cJSON_IsNumber(cJSON_GetArrayItem(v, 1))) {
		*a = cJSON_GetArrayItem(v, 0)->valueint;
		*b = cJSON_GetArrayItem(v, 1)->valueint;
		return 0;
	}
	return -1;
}

static const char *str(const cJSON *cfg, const char *key, const char *dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
	return cJSON_IsString(v) ? v->valuestring : dflt;
}

static int boolean(const cJSON *cfg, const char *key, int dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static double num(const cJSON *cfg, const char *key, double dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
	return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static int act_of(const char *s, ct_act *a)
{
	if (!strcmp(s, "linear"))
		*a = CT_ACT_NONE;
	else if (!strcmp(s, "relu"))
		*a = CT_ACT_RELU;
	else if (!strcmp(s, "softmax"))
		*a = CT_ACT_SOFTMAX;
	else
		return -1;
	return 0;
}

/* One layer; returns its node index (or the aliased input's), -1 on error. */
static int add_layer(ct_graph *g, const char *cls, const char *name, const cJSON *cfg, int nin,
		     const int *in)
{
	int kh, kw, sh, sw, dh, dw;
	const char *padding = str(cfg, "padding", "valid");
	int same = !strcmp(padding, "same");
	ct_act act = CT_ACT_NONE;
	if (strcmp(cls, "InputLayer") && nin < 1)
		return ct_error("layer '%s': no inputs", name);
	if (!strcmp(cls, "InputLayer")) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(cfg, "batch_input_shape");
		if (!s)
			s = cJSON_GetObjectItemCaseSensitive(cfg, "batch_shape");
		if (cJSON_GetArraySize(s) != 4)
			return ct_error("layer '%s': input shape must be [null, h, w, c]", name);
		return ct_graph_input(g, name, cJSON_GetArrayItem(s, 1)->valueint,
				      cJSON_GetArrayItem(s, 2)->valueint,
				      cJSON_GetArrayItem(s, 3)->valueint);
	}
	if (!strcmp(cls, "Conv2D") || !strcmp(cls, "DepthwiseConv2D")) {
		if (pair(cfg, "kernel_size", &kh, &kw, 1) || pair(cfg, "strides", &sh, &sw, 1) ||
		    pair(cfg, "dilation_rate", &dh, &dw, 1))
			return ct_error("layer '%s': bad kernel_size, strides or dilation_rate", name);
		if (act_of(str(cfg, "activation", "linear"), &act) || act == CT_ACT_SOFTMAX)
			return ct_error("layer '%s': unsupported activation '%s'", name,
					str(cfg, "activation", ""));
		int bias = boolean(cfg, "use_bias", 1);
		if (!strcmp(cls, "Conv2D"))
			return ct_graph_conv2d_dilated(g, name, in[0], (int)num(cfg, "filters", 0), kh,
						       kw, sh, sw, dh, dw, same, bias, act);
		if (num(cfg, "depth_multiplier", 1) != 1 || dh != 1 || dw != 1 || act != CT_ACT_NONE)
			return ct_error("layer '%s': only depth_multiplier 1, no dilation, linear", name);
		return ct_graph_dwconv2d(g, name, in[0], kh, kw, sh, sw, same, bias);
	}
	if (!strcmp(cls, "BatchNormalization"))
		return ct_graph_batchnorm(g, name, in[0], (float)num(cfg, "epsilon", 1e-3),
					  boolean(cfg, "scale", 1), boolean(cfg, "center", 1));
	if (!strcmp(cls, "Activation")) {
		const char *a = str(cfg, "activation", "");
		if (!strcmp(a, "relu"))
			return ct_graph_relu(g, name, in[0]);
		if (!strcmp(a, "softmax"))
			return ct_graph_softmax(g, name, in[0]);
		return ct_error("layer '%s': unsupported activation '%s'", name, a);
	}
	if (!strcmp(cls, "ReLU")) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(cfg, "max_value");
		if (cJSON_IsNumber(m) && m->valuedouble == 6.0)
			return ct_graph_relu6(g, name, in[0]);
		if (!m || cJSON_IsNull(m))
			return ct_graph_relu(g, name, in[0]);
		return ct_error("layer '%s': unsupported ReLU max_value", name);
	}
	if (!strcmp(cls, "MaxPooling2D") || !strcmp(cls, "AveragePooling2D")) {
		if (pair(cfg, "pool_size", &kh, &kw, 2) || pair(cfg, "strides", &sh, &sw, -1))
			return ct_error("layer '%s': bad pool_size or strides", name);
		if (sh < 0) /* Keras: strides default to pool_size */
			sh = kh, sw = kw;
		return ct_graph_pool(g, name, cls[0] == 'M' ? CT_OP_MAXPOOL : CT_OP_AVGPOOL, in[0],
				     kh, kw, sh, sw, same);
	}
	if (!strcmp(cls, "ZeroPadding2D")) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(cfg, "padding");
		int t, b, l, r;
		if (cJSON_IsNumber(p)) {
			t = b = l = r = p->valueint;
		} else if (cJSON_GetArraySize(p) == 2 && cJSON_IsNumber(cJSON_GetArrayItem(p, 0))) {
			t = b = cJSON_GetArrayItem(p, 0)->valueint;
			l = r = cJSON_GetArrayItem(p, 1)->valueint;
		} else if (cJSON_GetArraySize(p) == 2 &&
			   cJSON_GetArraySize(cJSON_GetArrayItem(p, 0)) == 2 &&
			   cJSON_GetArraySize(cJSON_GetArrayItem(p, 1)) == 2) {
			t = cJSON_GetArrayItem(cJSON_GetArrayItem(p, 0), 0)->valueint;
			b = cJSON_GetArrayItem(cJSON_GetArrayItem(p, 0), 1)->valueint;
			l = cJSON_GetArrayItem(cJSON_GetArrayItem(p, 1), 0)->valueint;
			r = cJSON_GetArrayItem(cJSON_GetArrayItem(p, 1), 1)->valueint;
		} else {
			return ct_error("layer '%s': bad padding", name);
		}
		return ct_graph_zeropad(g, name, in[0], t, b, l, r);
	}
	if (!strcmp(cls, "Concatenate")) {
		int axis = (int)num(cfg, "axis", -1);
		if (axis != -1 && axis != 3)
			return ct_error("layer '%s': only channel concatenation is supported", name);
		return ct_graph_concat(g, name, nin, in);
	}
	if (!strcmp(cls, "Add"))
		return ct_graph_add(g, name, nin, in);
	if (!strcmp(cls, "GlobalAveragePooling2D"))
		return ct_graph_gpool(g, name, CT_OP_GAVGPOOL, in[0]);
	if (!strcmp(cls, "GlobalMaxPooling2D"))
		return ct_graph_gpool(g, name, CT_OP_GMAXPOOL, in[0]);
	if (!strcmp(cls, "Dense")) {
		if (act_of(str(cfg, "activation", "linear"), &act))
			return ct_error("layer '%s': unsupported activation '%s'", name,
					str(cfg, "activation", ""));
		return ct_graph_dense(g, name, in[0], (int)num(cfg, "units", 0),
				      boolean(cfg, "use_bias", 1), act);
	}
	if (!strcmp(cls, "Flatten") || !strcmp(cls, "Dropout"))
		return in[0];
	return ct_error("layer '%s': unsupported layer class '%s'", name, cls);
}

ct_graph *ct_graph_from_keras_json(const char *text, size_t len, const char *what)
{
	cJSON *root = cJSON_ParseWithLength(text, len);
	if (!root) {
		ct_error("'%s': not valid JSON", what);
		return NULL;
	}
	const cJSON *m = root, *t;
	if ((t = cJSON_GetObjectItemCaseSensitive(m, "modelTopology")))
		m = t;
	if ((t = cJSON_GetObjectItemCaseSensitive(m, "model_config")))
		m = t;
	const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(m, "config");
	const cJSON *layers = cJSON_GetObjectItemCaseSensitive(cfg, "layers");
	const char *mname = str(cfg, "name", "model");
	ct_graph *g = NULL;
	alias *al = NULL;
	if (!cJSON_IsArray(layers)) {
		ct_error("'%s': no config.layers (not a Keras functional model)", what);
		goto fail;
	}
	g = ct_graph_new(mname);
	int nl = cJSON_GetArraySize(layers), na = 0;
	al = calloc((size_t)nl + 1, sizeof *al);
	if (!g || !al)
		goto fail;
	g->prep = CT_PREP_TF;
	const cJSON *L;
	cJSON_ArrayForEach(L, layers)
	{
		const char *cls = str(L, "class_name", "");
		const cJSON *lc = cJSON_GetObjectItemCaseSensitive(L, "config");
		const char *name = str(L, "name", str(lc, "name", ""));
		int in[CT_NODE_MAXIN], nin = 0;
		const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(L, "inbound_nodes");
		if (cJSON_GetArraySize(nodes) > 1) {
			ct_error("'%s': layer '%s' is shared (several inbound nodes)", what, name);
			goto fail;
		}
		const cJSON *node = cJSON_GetArrayItem(nodes, 0), *src;
		cJSON_ArrayForEach(src, node)
		{
			const char *sn = cJSON_IsArray(src) ? str(src, "", NULL) : NULL;
			const cJSON *s0 = cJSON_GetArrayItem(src, 0);
			sn = cJSON_IsString(s0) ? s0->valuestring : sn;
			int id = sn ? lookup(al, na, sn) : -1;
			if (id < 0 || nin == CT_NODE_MAXIN) {
				ct_error("'%s': layer '%s': unknown or too many inputs", what, name);
				goto fail;
			}
			in[nin++] = id;
		}
		int id = add_layer(g, cls, name, lc, nin, in);
		if (id < 0) {
			ct_error_prefix("'%s'", what);
			goto fail;
		}
		snprintf(al[na].name, sizeof al[na].name, "%s", name);
		al[na++].node = id;
	}
	const cJSON *outs = cJSON_GetObjectItemCaseSensitive(cfg, "output_layers");
	const cJSON *o0 = cJSON_GetArrayItem(cJSON_GetArrayItem(outs, 0), 0);
	int onode = cJSON_IsString(o0) ? lookup(al, na, o0->valuestring) : g->n - 1;
	if (onode < 0)
		onode = g->n - 1;
	snprintf(g->default_output, sizeof g->default_output, "%s", g->nodes[onode].name);
	free(al);
	cJSON_Delete(root);
	return g;
fail:
	free(al);
	ct_graph_free(g);
	cJSON_Delete(root);
	return NULL;
}

ct_graph *ct_graph_from_keras_json_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		ct_error_errno("cannot open '%s'", path);
		return NULL;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? 2 * cap : 65536;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				ct_error("out of memory reading '%s'", path);
				return NULL;
			}
			buf = nb;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		ct_error("cannot read '%s'", path);
		return NULL;
	}
	ct_graph *g = ct_graph_from_keras_json(buf, len, path);
	free(buf);
	return g;
}
