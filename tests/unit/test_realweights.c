/* test_realweights.c - the real pretrained weights (weights/inception_v3.h5, mobilenet_v2.h5 of
 * `make weights`) in our engine and in ct-features against the same nsfwjs models run by
 * TensorFlow.js (tests/conformance/real_check.js), which loads nsfwjs' own TF.js files and
 * decodes their uint8 weights itself, so our importer, HDF5 file, graph definitions and kernels
 * are all checked at once. Three phantom slices (one with lesions) made by ct-phantom and ct-convert at 299 and
 * 224; per compared block max|ours - tfjs| / max|tfjs| <= 1e-4.
 * Skipped (TAP SKIP, exit 0) without the weights files, node, or tests/conformance/node_modules. */
#include "test.h"

#include "core/error.h"
#include "data/dataset.h"
#include "data/features.h"
#include "data/phantom_set.h"
#include "image/phantom.h"
#include "models/models.h"
#include "nn/net.h"
#include "formats/keras_h5.h"
#include "nn/weights.h"

#include <math.h>
#include <sys/wait.h>

#define NIMG 3
#define SEED 3
#define TOL 1e-4

static char dir[512], top[512];

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[4096], full[8800];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	snprintf(full, sizeof full, "cd '%s' && (%s) >>log.txt 2>&1", dir, cmd);
	int rc = system(full);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void show_log(void)
{
	char p[600], line[512];
	snprintf(p, sizeof p, "%s/log.txt", dir);
	FILE *f = fopen(p, "r");
	for (int i = 0; f && i < 20 && fgets(line, sizeof line, f); i++)
		diag("log: %.*s", (int)strcspn(line, "\n"), line);
	if (f)
		fclose(f);
}

/* ---- the tfjs output: golden v1 text, pool=avg blocks (tests/conformance/README.md) ---- */

typedef struct block {
	char name[64];
	int n, d;
	float *v;
} block;

typedef struct golden {
	int size, images, nblocks;
	block b[8];
} golden;

static void golden_free(golden *gd)
{
	for (int i = 0; i < gd->nblocks; i++)
		free(gd->b[i].v);
	memset(gd, 0, sizeof *gd);
}

static int read_golden(const char *path, const char *arch, golden *gd)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	memset(gd, 0, sizeof *gd);
	char got_arch[32];
	int rc = 0;
	if (fscanf(f, "# ctfuse golden v1 arch=%31s size=%d images=%d", got_arch, &gd->size, &gd->images) != 3 ||
	    strcmp(got_arch, arch))
		rc = -1;
	while (!rc && gd->nblocks < 8) {
		block *b = &gd->b[gd->nblocks];
		char pool[8];
		int got = fscanf(f, " layer %63s pool=%7s n=%d d=%d", b->name, pool, &b->n, &b->d);
		if (got == EOF)
			break;
		if (got != 4 || strcmp(pool, "avg") || b->n < 1 || b->d < 1 ||
		    !(b->v = malloc((size_t)b->n * b->d * sizeof(float)))) {
			rc = -1;
			break;
		}
		gd->nblocks++;
		for (long i = 0; i < (long)b->n * b->d; i++)
			if (fscanf(f, "%f", &b->v[i]) != 1) {
				rc = -1;
				break;
			}
	}
	fclose(f);
	if (rc)
		golden_free(gd);
	return rc;
}

/* max|x - ref| / max|ref| over a block; x has row stride ld (columns start .. start + d). */
static double block_error(const block *b, const float *x, int64_t ld, int64_t start)
{
	double e = 0, m = 1e-30;
	for (int i = 0; i < b->n; i++)
		for (int j = 0; j < b->d; j++) {
			double r = b->v[(long)i * b->d + j];
			double dd = fabs((double)x[i * ld + start + j] - r);
			if (!(dd <= e))
				e = dd; /* NaN propagates */
			m = fabs(r) > m ? fabs(r) : m;
		}
	return e / m;
}

/* ---- one architecture ---- */

typedef struct arch_case {
	const char *arch;
	int size;
	const char *layers;
} arch_case;

/* Write the images of NAME.h5 (from ct-convert) to NAME.raw, N x S x S x 3 uint8. */
static int images_to_raw(const char *name, int size, ct_tensor *x)
{
	char p[600];
	ct_images im;
	snprintf(p, sizeof p, "%s/%s.h5", dir, name);
	if (ct_images_open(&im, p) < 0)
		return -1;
	int rc = -1;
	if (im.n == NIMG && im.height == size && im.width == size && im.channels == 3 && im.dtype == CT_U8 &&
	    ct_tensor_alloc4(x, CT_U8, NIMG, size, size, 3) == 0) {
		rc = ct_images_read(&im, 0, x);
		snprintf(p, sizeof p, "%s/%s.raw", dir, name);
		FILE *f = rc ? NULL : fopen(p, "wb");
		size_t nb = ct_tensor_nbytes(x);
		rc = f && fwrite(x->data, 1, nb, f) == nb ? 0 : -1;
		if (f && fclose(f))
			rc = -1;
	}
	ct_images_close(&im);
	return rc;
}

/* Start TensorFlow.js on ARCH's images in the background (the slow part); finish with pclose. */
static FILE *start_tfjs(const arch_case *c)
{
	char cmd[2400];
	snprintf(cmd, sizeof cmd,
		 "cd '%s' && exec node '%s/tests/conformance/real_check.js' %s %d %d img%d.raw %s >tfjs_%s.txt 2>tfjs_%s.err",
		 dir, top, c->arch, c->size, NIMG, c->size, c->layers, c->arch, c->arch);
	return popen(cmd, "r");
}

static double check_arch(const arch_case *c, FILE *tfjs, const ct_tensor *x)
{
	char wpath[600], p[600];
	snprintf(wpath, sizeof wpath, "%s/weights/%s.h5", top, c->arch);
	double worst = 0;

	/* Our engine, called directly. */
	ct_graph *g = ct_model_build(c->arch);
	ct_weights w;
	memset(&w, 0, sizeof w);
	ct_net *net = NULL;
	int rc = !g || ct_weights_load(&w, wpath) < 0 || !(net = ct_net_new(g, &w, c->layers, CT_POOL_AVG)) ||
		 ct_net_run(net, x) < 0;
	ok(!rc, "%s: the engine runs the real weights on %d phantom slices", c->arch, NIMG);
	if (rc)
		diag("%s", ct_last_error());
	ct_weights_free(&w);

	/* ct-features as a user runs it. */
	ct_features f;
	memset(&f, 0, sizeof f);
	snprintf(p, sizeof p, "%s/feat_%s.h5", dir, c->arch);
	int frc = run("ct-features --backbone %s --weights '%s' --layer %s img%d.h5 -o feat_%s.h5 -q", c->arch, wpath,
		      c->layers, c->size, c->arch);
	frc = frc == 0 ? ct_features_read(p, &f) : -1;
	ok(frc == 0 && f.x.shape[0] == NIMG, "%s: ct-features writes %d feature vectors", c->arch, NIMG);
	if (frc)
		show_log();

	int trc = pclose(tfjs);
	snprintf(p, sizeof p, "%s/tfjs_%s.txt", dir, c->arch);
	golden gd;
	int grc = WIFEXITED(trc) && WEXITSTATUS(trc) == 0 ? read_golden(p, c->arch, &gd) : -1;
	ok(grc == 0 && gd.images == NIMG && gd.nblocks > 0, "%s: TensorFlow.js ran the nsfwjs model (%d blocks)", c->arch,
	   grc ? 0 : gd.nblocks);
	if (grc) {
		snprintf(p, sizeof p, "%s/tfjs_%s.err", dir, c->arch);
		FILE *e = fopen(p, "r");
		char line[512];
		for (int i = 0; e && i < 10 && fgets(line, sizeof line, e); i++)
			diag("tfjs: %.*s", (int)strcspn(line, "\n"), line);
		if (e)
			fclose(e);
		worst = INFINITY;
		goto out;
	}

	for (int bi = 0; bi < gd.nblocks; bi++) {
		const block *b = &gd.b[bi];
		/* The engine's output of this layer. */
		ct_tensor o;
		int oi = -1;
		for (int i = 0; !rc && i < ct_net_noutputs(net); i++)
			if (!strcmp(ct_net_output_name(net, i), b->name))
				oi = i;
		if (oi >= 0 && ct_net_output(net, oi, &o) == 0 && o.shape[0] == b->n && o.shape[1] == b->d) {
			double e = block_error(b, o.data, b->d, 0);
			worst = e > worst || isnan(e) ? e : worst;
			ok(e <= TOL, "%s: engine, %s avg-pooled matches TF.js (error %.3g)", c->arch, b->name, e);
		} else {
			ok(0, "%s: engine has a %d x %d output %s", c->arch, b->n, b->d, b->name);
		}
		/* ct-features' block of this layer. */
		int fb = -1;
		for (int i = 0; !frc && i < f.nblocks; i++)
			if (!strcmp(f.blocks[i].layer, b->name))
				fb = i;
		if (fb >= 0 && f.blocks[fb].width == b->d && !strcmp(f.blocks[fb].pool, "avg")) {
			double e = block_error(b, f.x.data, f.x.shape[1], f.blocks[fb].start);
			worst = e > worst || isnan(e) ? e : worst;
			ok(e <= TOL, "%s: ct-features, %s avg-pooled matches TF.js (error %.3g)", c->arch, b->name, e);
		} else {
			ok(0, "%s: ct-features has a %d-wide avg block of %s", c->arch, b->d, b->name);
		}
	}
	diag("%s: largest error vs TF.js with the real weights %.3g over %d blocks", c->arch, worst, gd.nblocks);
	golden_free(&gd);
out:
	if (!frc)
		ct_features_free(&f);
	ct_net_free(net);
	ct_graph_free(g);
	return worst;
}

/* The lesion patient's slice really shows lesions: it differs from its lesion-free twin. */
static void check_lesion(int patients)
{
	ct_phantom_set s;
	ct_phantom_set_defaults(&s);
	s.render.width = s.render.height = 256;
	s.render.slices_per_patient = 1;
	s.render.seed = SEED;
	uint8_t les[NIMG];
	int lp = -1, nles = 0;
	if (ct_phantom_assign(SEED, patients, 1.0 / 3, les) == 0)
		for (int p = 0; p < patients; p++)
			if (les[p]) {
				lp = p;
				nles++;
			}
	long changed = 0;
	ct_tensor a, b;
	if (nles == 1 && ct_phantom_render(&s.render, lp, 0, 1, &a, NULL) == 0) {
		if (ct_phantom_render(&s.render, lp, 0, 0, &b, NULL) == 0) {
			for (int64_t i = 0; i < ct_tensor_numel(&a); i++)
				changed += fabsf(((float *)a.data)[i] - ((float *)b.data)[i]) > 50;
			ct_tensor_free(&b);
		}
		ct_tensor_free(&a);
	}
	ok(nles == 1 && changed > 100, "one of the %d slices has lesions (%ld pixels over 50 HU brighter)", patients,
	   changed);
}

int main(void)
{
	const char *t = getenv("CT_TOP");
	if (t && *t)
		snprintf(top, sizeof top, "%s", t);
	else if (!getcwd(top, sizeof top))
		snprintf(top, sizeof top, ".");

	static const arch_case cases[] = {
		{ "inception_v3", 299, "mixed5,mixed10" },
		{ "mobilenet_v2", 224, "block_10_project_BN,out_relu" },
	};
	char p[700];
	const char *skip = NULL;
	for (int i = 0; i < 2 && !skip; i++) {
		snprintf(p, sizeof p, "%s/weights/%s.h5", top, cases[i].arch);
		if (access(p, R_OK) != 0)
			skip = i ? "weights/mobilenet_v2.h5 absent (make weights)" : "weights/inception_v3.h5 absent (make weights)";
	}
	snprintf(p, sizeof p, "%s/tests/conformance/node_modules/@tensorflow/tfjs/package.json", top);
	if (!skip && access(p, R_OK) != 0)
		skip = "tests/conformance/node_modules/@tensorflow/tfjs missing (cd tests/conformance && npm ci)";
	snprintf(p, sizeof p, "%s/tests/conformance/node_modules/nsfwjs/dist/models", top);
	if (!skip && access(p, R_OK) != 0)
		skip = "tests/conformance/node_modules/nsfwjs missing (cd tests/conformance && npm ci)";
	if (!skip && system("command -v node >/dev/null 2>&1") != 0)
		skip = "node not on PATH";
	if (skip) {
		printf("ok 1 # SKIP %s\n", skip);
		return 0;
	}

	snprintf(dir, sizeof dir, "%s", t_tmpdir());
	/* One slice from each of 3 patients, 1 of them (round(3 / 3)) with lesions. */
	ok(run("ct-phantom -o ph --patients %d --slices-per-patient 1 --size 256 --seed %d --lesion-fraction 0.3333333 && "
	       "ct-convert ph --size 299 -o img299.h5 -q && ct-convert ph --size 224 -o img224.h5 -q",
	       NIMG, SEED) == 0,
	   "%d phantom slices converted at 299 and 224", NIMG);
	check_lesion(NIMG);

	ct_tensor x[2];
	FILE *tfjs[2];
	for (int i = 0; i < 2; i++) {
		char name[16];
		snprintf(name, sizeof name, "img%d", cases[i].size);
		int rc = images_to_raw(name, cases[i].size, &x[i]);
		ok(rc == 0, "%s: %d x %d x %d x 3 uint8 images written raw", name, NIMG, cases[i].size, cases[i].size);
		if (rc) {
			diag("%s", ct_last_error());
			show_log();
			TEST_DONE();
		}
	}
	/* Both node processes in the background while our side runs. */
	for (int i = 0; i < 2; i++)
		tfjs[i] = start_tfjs(&cases[i]);
	for (int i = 0; i < 2; i++) {
		ok(tfjs[i] != NULL, "%s: node started", cases[i].arch);
		if (tfjs[i])
			check_arch(&cases[i], tfjs[i], &x[i]);
		ct_tensor_free(&x[i]);
	}
	TEST_DONE();
}
