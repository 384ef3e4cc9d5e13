/* test_conformance.c - the engine against TensorFlow.js goldens (tests/golden/<arch>.txt,
 * made by tests/conformance/goldens.js and goldens_more.js): same synthetic weights (testweights.h), same
 * inputs, each golden block's error max|ours - golden| / max|golden| must be <= 1e-4.
 * File format: "# ctfuse golden v1 arch=A size=S images=N", then blocks
 * "layer NAME pool=avg|max|none n=N d=D" followed by N lines of D floats. */
#include "test.h"
#include "core/error.h"
#include "models/models.h"
#include "formats/keras_json.h"
#include "nn/net.h"
#include "nn/testweights.h"

#include <math.h>

typedef struct block {
	char name[64];
	int pool; /* ct_pool */
	int n, d;
	float *v;
} block;

typedef struct golden {
	char arch[32];
	int size, images, nblocks;
	block b[64];
} golden;

static int read_golden(const char *path, golden *gd)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	memset(gd, 0, sizeof *gd);
	int rc = 0;
	if (fscanf(f, "# ctfuse golden v1 arch=%31s size=%d images=%d", gd->arch, &gd->size,
		   &gd->images) != 3)
		rc = -2;
	while (!rc && gd->nblocks < 64) {
		block *b = &gd->b[gd->nblocks];
		char pool[8];
		int got = fscanf(f, " layer %63s pool=%7s n=%d d=%d", b->name, pool, &b->n, &b->d);
		if (got == EOF)
			break;
		if (got != 4 || b->n < 1 || b->d < 1) {
			rc = -2;
			break;
		}
		b->pool = !strcmp(pool, "avg") ? CT_POOL_AVG : !strcmp(pool, "max") ? CT_POOL_MAX : CT_POOL_NONE;
		b->v = malloc((size_t)b->n * b->d * sizeof(float));
		for (long i = 0; i < (long)b->n * b->d; i++)
			if (fscanf(f, "%f", &b->v[i]) != 1) {
				rc = -2;
				break;
			}
		gd->nblocks++;
	}
	fclose(f);
	return rc;
}

static void conform(const char *top, const char *arch)
{
	char path[512];
	snprintf(path, sizeof path, "%s/tests/golden/%s.txt", top, arch);
	golden *gd = calloc(1, sizeof *gd);
	int rc = read_golden(path, gd);
	if (rc == -1) {
		diag("%s absent: conformance for %s skipped", path, arch);
		free(gd);
		return;
	}
	ok(rc == 0 && gd->nblocks > 0, "%s: golden file parses (%d blocks)", arch, gd->nblocks);
	ct_graph *g = NULL;
	if (!strcmp(arch, "tiny")) {
		snprintf(path, sizeof path, "%s/tests/golden/tiny.json", top);
		g = ct_graph_from_keras_json_file(path);
	} else {
		g = ct_model_build(arch);
	}
	ok(g != NULL, "%s: graph builds", arch);
	if (!g) {
		diag("%s", ct_last_error());
		free(gd);
		return;
	}
	ok(g->in_h == gd->size && g->in_w == gd->size, "%s: input size %d matches the golden", arch,
	   gd->size);
	ct_weights w = { 0 };
	ct_graph_testweights(g, &w);
	ct_tensor x;
	ct_tensor_alloc4(&x, CT_U8, gd->images, g->in_h, g->in_w, g->in_c);
	for (int i = 0; i < gd->images; i++)
		ct_testinput_fill(i, g->in_h, g->in_w,
				  (uint8_t *)x.data + (size_t)i * g->in_h * g->in_w * g->in_c);
	double worst = 0;
	for (int bi = 0; bi < gd->nblocks; bi++) {
		block *b = &gd->b[bi];
		ct_net *net = ct_net_new(g, &w, b->name, (ct_pool)b->pool);
		ct_tensor o;
		if (!net || ct_net_run(net, &x) || ct_net_output(net, 0, &o)) {
			ok(0, "%s: layer %s runs (%s)", arch, b->name, ct_last_error());
			ct_net_free(net);
			continue;
		}
		int64_t d = ct_tensor_numel(&o) / o.shape[0];
		if (o.shape[0] != b->n || d != b->d) {
			ok(0, "%s: layer %s has %lld x %lld values, golden %d x %d", arch, b->name,
			   (long long)o.shape[0], (long long)d, b->n, b->d);
			ct_net_free(net);
			continue;
		}
		double e = 0, m = 1e-30;
		const float *p = o.data;
		for (long i = 0; i < (long)b->n * b->d; i++) {
			double dd = fabs((double)p[i] - b->v[i]);
			if (!(dd <= e))
				e = dd;
			m = fabs(b->v[i]) > m ? fabs(b->v[i]) : m;
		}
		e /= m;
		worst = e > worst ? e : worst;
		ok(e <= 1e-4, "%s: layer %s pool=%s matches TF.js (error %.3g)", arch, b->name,
		   b->pool == CT_POOL_AVG ? "avg" : b->pool == CT_POOL_MAX ? "max" : "none", e);
		ct_net_free(net);
	}
	diag("%s: largest error vs TF.js %.3g over %d blocks", arch, worst, gd->nblocks);
	for (int bi = 0; bi < gd->nblocks; bi++)
		free(gd->b[bi].v);
	free(gd);
	ct_tensor_free(&x);
	ct_weights_free(&w);
	ct_graph_free(g);
}

int main(void)
{
	const char *top = getenv("CT_TOP");
	if (!top)
		top = ".";
	conform(top, "tiny");
	conform(top, "mobilenet_v2");
	conform(top, "inception_v3");
	/* goldens_more.js: tf.layers models following keras-applications, 'caffe' / 'torch' /
	 * 'tf' preprocessing, SeparableConv2D */
	conform(top, "resnet50");
	conform(top, "vgg16");
	conform(top, "densenet121");
	conform(top, "xception");
	TEST_DONE();
}
