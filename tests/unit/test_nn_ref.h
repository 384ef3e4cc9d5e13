/* test_nn_ref.h - a plain reference interpreter for the layer graph: direct loops in double
 * straight from the Keras/TensorFlow definitions (padding recomputed here from the TF
 * formula, not taken from the graph), used to check the engine op by op and end to end. */
#ifndef TEST_NN_REF_H
#define TEST_NN_REF_H

#include "nn/graph.h"
#include "nn/weights.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* TensorFlow padding for one axis (tf.nn.conv2d docs): 'same' out = ceil(in/s),
 * pad_total = max((out-1)*s + (k-1)*d + 1 - in, 0), pad_before = floor(pad_total/2). */
static void ref_pad(int in, int k, int s, int d, int same, int *out, int *before)
{
	int ek = (k - 1) * d + 1;
	if (same) {
		*out = (in + s - 1) / s;
		int total = (*out - 1) * s + ek - in;
		*before = total > 0 ? total / 2 : 0;
	} else {
		*out = (in - ek) / s + 1;
		*before = 0;
	}
}

static const float *ref_w(const ct_weights *w, const char *layer, const char *name)
{
	const ct_wtensor *t = ct_wlayer_get(ct_weights_find(w, layer), name);
	return t ? (const float *)t->t.data : NULL;
}

/* Evaluate nodes 0..upto for n images; x is the input (n*H*W*C doubles); returns the
 * output of every node (caller frees each and the array). Shapes: per node h*w*c. */
static double **ref_run(const ct_graph *g, const ct_weights *wt, int n, const double *x, int upto)
{
	double **v = calloc((size_t)g->n, sizeof *v);
	for (int id = 0; id <= upto; id++) {
		const ct_node *nd = &g->nodes[id];
		const ct_node *p = nd->nin ? &g->nodes[nd->in[0]] : nd;
		const double *in = nd->nin ? v[nd->in[0]] : x;
		int H = p->h, W = p->w, C = p->c;
		int oh = nd->h, ow = nd->w, oc = nd->c;
		double *o = calloc((size_t)n * oh * ow * oc, sizeof *o);
		v[id] = o;
		switch (nd->op) {
		case CT_OP_INPUT:
			memcpy(o, x, (size_t)n * oh * ow * oc * sizeof *o);
			break;
		case CT_OP_CONV2D:
		case CT_OP_DWCONV2D: {
			int dw = nd->op == CT_OP_DWCONV2D;
			const float *k = ref_w(wt, nd->name, dw ? "depthwise_kernel" : "kernel");
			const float *b = nd->use_bias ? ref_w(wt, nd->name, "bias") : NULL;
			int rh, rw, pt, pl;
			ref_pad(H, nd->kh, nd->sh, nd->dh, nd->same, &rh, &pt);
			ref_pad(W, nd->kw, nd->sw, nd->dw, nd->same, &rw, &pl);
			for (int i = 0; i < n; i++)
				for (int y = 0; y < oh; y++)
					for (int xx = 0; xx < ow; xx++)
						for (int co = 0; co < oc; co++) {
							double s = b ? b[co] : 0;
							for (int ky = 0; ky < nd->kh; ky++)
								for (int kx = 0; kx < nd->kw; kx++) {
									int iy = y * nd->sh - pt + ky * nd->dh;
									int ix = xx * nd->sw - pl + kx * nd->dw;
									if (iy < 0 || iy >= H || ix < 0 || ix >= W)
										continue;
									const double *ip = in + (((size_t)i * H + iy) * W + ix) * C;
									if (dw) {
										s += ip[co] * k[(ky * nd->kw + kx) * C + co];
										continue;
									}
									for (int ci = 0; ci < C; ci++)
										s += ip[ci] * k[((size_t)(ky * nd->kw + kx) * C + ci) * oc + co];
								}
							if (nd->act == CT_ACT_RELU)
								s = s > 0 ? s : 0;
							if (nd->act == CT_ACT_RELU6)
								s = s < 0 ? 0 : s > 6 ? 6 : s;
							o[(((size_t)i * oh + y) * ow + xx) * oc + co] = s;
						}
			break;
		}
		case CT_OP_SEPCONV2D: { /* SeparableConv2D: depthwise (no bias), then 1x1, bias, act */
			const float *dk = ref_w(wt, nd->name, "depthwise_kernel");
			const float *pk = ref_w(wt, nd->name, "pointwise_kernel");
			const float *b = nd->use_bias ? ref_w(wt, nd->name, "bias") : NULL;
			int rh, rw, pt, pl;
			ref_pad(H, nd->kh, nd->sh, 1, nd->same, &rh, &pt);
			ref_pad(W, nd->kw, nd->sw, 1, nd->same, &rw, &pl);
			double *d = calloc((size_t)C, sizeof *d);
			for (int i = 0; i < n; i++)
				for (int y = 0; y < oh; y++)
					for (int xx = 0; xx < ow; xx++) {
						for (int c = 0; c < C; c++) {
							d[c] = 0;
							for (int ky = 0; ky < nd->kh; ky++)
								for (int kx = 0; kx < nd->kw; kx++) {
									int iy = y * nd->sh - pt + ky, ix = xx * nd->sw - pl + kx;
									if (iy >= 0 && iy < H && ix >= 0 && ix < W)
										d[c] += in[(((size_t)i * H + iy) * W + ix) * C + c] *
											dk[(ky * nd->kw + kx) * C + c];
								}
						}
						for (int co = 0; co < oc; co++) {
							double s = b ? b[co] : 0;
							for (int c = 0; c < C; c++)
								s += d[c] * pk[(size_t)c * oc + co];
							if (nd->act == CT_ACT_RELU)
								s = s > 0 ? s : 0;
							if (nd->act == CT_ACT_RELU6)
								s = s < 0 ? 0 : s > 6 ? 6 : s;
							o[(((size_t)i * oh + y) * ow + xx) * oc + co] = s;
						}
					}
			free(d);
			break;
		}
		case CT_OP_BATCHNORM: {
			const float *ga = ref_w(wt, nd->name, "gamma"), *be = ref_w(wt, nd->name, "beta");
			const float *mu = ref_w(wt, nd->name, "moving_mean");
			const float *va = ref_w(wt, nd->name, "moving_variance");
			for (size_t e = 0; e < (size_t)n * oh * ow; e++)
				for (int c = 0; c < oc; c++)
					o[e * oc + c] = (in[e * oc + c] - mu[c]) / sqrt(va[c] + (double)nd->eps) *
							(ga ? ga[c] : 1.0) + (be ? be[c] : 0.0);
			break;
		}
		case CT_OP_RELU:
		case CT_OP_RELU6:
			for (size_t e = 0; e < (size_t)n * oh * ow * oc; e++) {
				double s = in[e] > 0 ? in[e] : 0;
				o[e] = nd->op == CT_OP_RELU6 && s > 6 ? 6 : s;
			}
			break;
		case CT_OP_MAXPOOL:
		case CT_OP_AVGPOOL: {
			int rh, rw, pt, pl;
			ref_pad(H, nd->kh, nd->sh, 1, nd->same, &rh, &pt);
			ref_pad(W, nd->kw, nd->sw, 1, nd->same, &rw, &pl);
			for (int i = 0; i < n; i++)
				for (int y = 0; y < oh; y++)
					for (int xx = 0; xx < ow; xx++)
						for (int c = 0; c < oc; c++) {
							double m = -DBL_MAX, s = 0;
							int cnt = 0;
							for (int ky = 0; ky < nd->kh; ky++)
								for (int kx = 0; kx < nd->kw; kx++) {
									int iy = y * nd->sh - pt + ky, ix = xx * nd->sw - pl + kx;
									if (iy < 0 || iy >= H || ix < 0 || ix >= W)
										continue; /* padding never counts */
									double e = in[(((size_t)i * H + iy) * W + ix) * C + c];
									m = e > m ? e : m;
									s += e;
									cnt++;
								}
							o[(((size_t)i * oh + y) * ow + xx) * oc + c] =
								nd->op == CT_OP_MAXPOOL ? m : s / cnt;
						}
			break;
		}
		case CT_OP_ZEROPAD:
			for (int i = 0; i < n; i++)
				for (int y = 0; y < H; y++)
					for (int xx = 0; xx < W; xx++)
						for (int c = 0; c < C; c++)
							o[(((size_t)i * oh + y + nd->pad_t) * ow + xx + nd->pad_l) * oc + c] =
								in[(((size_t)i * H + y) * W + xx) * C + c];
			break;
		case CT_OP_CONCAT: {
			int off = 0;
			for (int j = 0; j < nd->nin; j++) {
				int cj = g->nodes[nd->in[j]].c;
				for (size_t e = 0; e < (size_t)n * oh * ow; e++)
					for (int c = 0; c < cj; c++)
						o[e * oc + off + c] = v[nd->in[j]][e * cj + c];
				off += cj;
			}
			break;
		}
		case CT_OP_ADD:
			for (int j = 0; j < nd->nin; j++)
				for (size_t e = 0; e < (size_t)n * oh * ow * oc; e++)
					o[e] += v[nd->in[j]][e];
			break;
		case CT_OP_GAVGPOOL:
		case CT_OP_GMAXPOOL:
			for (int i = 0; i < n; i++)
				for (int c = 0; c < oc; c++) {
					double m = -DBL_MAX, s = 0;
					for (int q = 0; q < H * W; q++) {
						double e = in[((size_t)i * H * W + q) * C + c];
						m = e > m ? e : m;
						s += e;
					}
					o[(size_t)i * oc + c] = nd->op == CT_OP_GMAXPOOL ? m : s / (H * W);
				}
			break;
		case CT_OP_DENSE: {
			const float *k = ref_w(wt, nd->name, "kernel");
			const float *b = nd->use_bias ? ref_w(wt, nd->name, "bias") : NULL;
			int fin = H * W * C;
			for (int i = 0; i < n; i++) {
				for (int u = 0; u < oc; u++) {
					double s = b ? b[u] : 0;
					for (int f = 0; f < fin; f++)
						s += in[(size_t)i * fin + f] * k[(size_t)f * oc + u];
					if (nd->act == CT_ACT_RELU && s < 0)
						s = 0;
					o[(size_t)i * oc + u] = s;
				}
				if (nd->act == CT_ACT_SOFTMAX) {
					double m = -DBL_MAX, z = 0;
					for (int u = 0; u < oc; u++)
						m = o[(size_t)i * oc + u] > m ? o[(size_t)i * oc + u] : m;
					for (int u = 0; u < oc; u++)
						z += exp(o[(size_t)i * oc + u] - m);
					for (int u = 0; u < oc; u++)
						o[(size_t)i * oc + u] = exp(o[(size_t)i * oc + u] - m) / z;
				}
			}
			break;
		}
		case CT_OP_SOFTMAX:
			for (size_t e = 0; e < (size_t)n * oh * ow; e++) {
				double m = -DBL_MAX, z = 0;
				for (int c = 0; c < oc; c++)
					m = in[e * oc + c] > m ? in[e * oc + c] : m;
				for (int c = 0; c < oc; c++)
					z += exp(in[e * oc + c] - m);
				for (int c = 0; c < oc; c++)
					o[e * oc + c] = exp(in[e * oc + c] - m) / z;
			}
			break;
		}
	}
	return v;
}

static void ref_free(const ct_graph *g, double **v)
{
	for (int i = 0; i < g->n; i++)
		free(v[i]);
	free(v);
}

/* max|a - b| / max|b| */
static double rel_err(const float *a, const double *b, size_t n)
{
	double e = 0, m = 1e-30;
	for (size_t i = 0; i < n; i++) {
		double d = fabs(a[i] - b[i]);
		if (!(d <= e))
			e = d; /* NaN propagates as a failure */
		m = fabs(b[i]) > m ? fabs(b[i]) : m;
	}
	return e / m;
}

#endif
