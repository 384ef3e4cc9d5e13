/* test_features.c - ct-features as a user runs it (on PATH), against the engine called
 * directly: values, layers and blocks, resume after a kill, thread and batch invariance,
 * and refusal of bad input (sizes, NaN pixels, wrong or truncated weights, unknown layers). */
#include "test.h"

#include "core/error.h"
#include "data/dataset.h"
#include "data/features.h"
#include "models/models.h"
#include "nn/net.h"
#include "formats/keras_h5.h"
#include "nn/weights.h"

#include <math.h>

static char dir[512];

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	char full[8800];
	snprintf(full, sizeof full, "cd %s && (%s) > log.txt 2>&1", dir, cmd);
	int rc = system(full);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int log_has(const char *s)
{
	char p[600], buf[8192];
	snprintf(p, sizeof p, "%s/log.txt", dir);
	FILE *f = fopen(p, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	if (!strstr(buf, s))
		diag("log: %s", buf);
	return strstr(buf, s) != NULL;
}

static int exists(const char *name)
{
	char p[600];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

static double max_rel_diff(const ct_tensor *a, const ct_tensor *b)
{
	double m = 0, ref = 0;
	int64_t n = ct_tensor_numel(a);
	for (int64_t i = 0; i < n; i++) {
		double d = fabs((double)((float *)a->data)[i] - ((float *)b->data)[i]);
		m = d > m ? d : m;
		double r = fabs(((float *)b->data)[i]);
		ref = r > ref ? r : ref;
	}
	return ref > 0 ? m / ref : m;
}

static int read_feats(const char *name, ct_features *f)
{
	char p[600];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	int rc = ct_features_read(p, f);
	if (rc < 0)
		diag("%s", ct_last_error());
	return rc;
}

int main(void)
{
	snprintf(dir, sizeof dir, "%s", t_tmpdir());
	/* Synthetic weights for mobilenet_v2 (the tests never download anything). */
	ct_graph *g = ct_model_build("mobilenet_v2");
	ct_weights w;
	memset(&w, 0, sizeof w);
	char wpath[600];
	snprintf(wpath, sizeof wpath, "%s/mnv2.h5", dir);
	ok(g && ct_graph_testweights(g, &w) == 0 && ct_weights_save(&w, wpath) == 0, "synthetic weights written");
	ct_weights_free(&w);

	ok(run("ct-phantom -o ph --patients 3 --slices-per-patient 3 --size 96 --seed 2 && "
	       "ct-convert ph --size 224 -o img.h5 -q && ct-convert ph --size 160 -o small.h5 -q && "
	       "ct-convert ph --size 224 --float -o flt.h5 -q") == 0,
	   "phantom images converted at 224, 160 and as float");

	ok(run("ct-features --backbone mobilenet_v2 --weights mnv2.h5 img.h5 -o f.h5 --batch 4 -q") == 0,
	   "ct-features runs");
	ct_features f;
	ok(read_feats("f.h5", &f) == 0 && f.x.shape[0] == 9 && f.x.shape[1] == 1280 && f.nblocks == 1 &&
		   !strcmp(f.blocks[0].layer, "out_relu") && strlen(f.blocks[0].weights_sha256) == 64,
	   "9 x 1280 features from out_relu, with the weights' sha256 in the block");
	/* The same images through the engine directly. */
	char ipath[600];
	snprintf(ipath, sizeof ipath, "%s/img.h5", dir);
	ct_images im;
	ct_tensor batch;
	ct_weights_load(&w, wpath);
	ct_net *net = ct_net_new(g, &w, NULL, CT_POOL_AVG);
	ct_weights_free(&w);
	ct_images_open(&im, ipath);
	ct_tensor_alloc4(&batch, CT_U8, im.n, 224, 224, 3);
	ct_images_read(&im, 0, &batch);
	ct_net_run(net, &batch);
	ct_tensor ref;
	ct_net_output(net, 0, &ref);
	double e = max_rel_diff(&f.x, &ref);
	diag("ct-features vs engine: largest relative difference %.3g", e);
	ok(e < 1e-5, "features equal the engine's output on the same images (batch 4 vs 9)");
	ok(!strcmp(f.s.names[0], im.s.names[0]) && f.s.labels[8] == im.s.labels[8] && f.nprov == 2,
	   "names, labels and provenance carried over");
	ct_images_close(&im);
	ct_tensor_free(&batch);
	ct_net_free(net);

	ok(run("OMP_NUM_THREADS=1 ct-features --backbone mobilenet_v2 --weights mnv2.h5 img.h5 -o f1.h5 --batch 4 -q") == 0,
	   "one thread");
	ct_features f1;
	ok(read_feats("f1.h5", &f1) == 0 && memcmp(f1.x.data, f.x.data, ct_tensor_nbytes(&f.x)) == 0,
	   "features are bit-identical for 1 and 2 threads");
	ct_features_free(&f1);

	/* Resume after a kill. */
	ok(run("CT_TEST_INTERRUPT_AFTER=4 ct-features --backbone mobilenet_v2 --weights mnv2.h5 img.h5 -o r.h5 --batch 2 -q") == 137 &&
		   exists("r.h5.partial") && !exists("r.h5"),
	   "a killed run leaves only r.h5.partial");
	ok(run("ct-features --backbone mobilenet_v2 --weights mnv2.h5 img.h5 -o r.h5 --batch 2 --resume") == 0 &&
		   log_has("resuming at image 4"),
	   "--resume continues from the last written batch");
	ok(read_feats("r.h5", &f1) == 0 && max_rel_diff(&f1.x, &f.x) < 1e-5 && !exists("r.h5.partial"),
	   "the resumed output equals an uninterrupted run");
	ct_features_free(&f1);
	run("CT_TEST_INTERRUPT_AFTER=2 ct-features --backbone mobilenet_v2 --weights mnv2.h5 img.h5 -o r2.h5 --batch 2 -q");
	ok(run("ct-features --backbone mobilenet_v2 --weights mnv2.h5 --layer block_13_project_BN img.h5 -o r2.h5 --resume") == 1 &&
		   log_has("other settings"),
	   "resuming with other settings is refused");

	ok(run("ct-features --backbone mobilenet_v2 --weights mnv2.h5 --layer block_10_project_BN,out_relu --pool max "
	       "img.h5 -o two.h5 -q") == 0,
	   "two layers with max pooling");
	ok(read_feats("two.h5", &f1) == 0 && f1.x.shape[1] == 96 + 1280 && f1.nblocks == 2 && f1.blocks[1].start == 96 &&
		   !strcmp(f1.blocks[0].pool, "max"),
	   "blocks tile the 96 + 1280 columns");
	ct_features_free(&f1);

	ok(run("ct-features --backbone mobilenet_v2 --weights mnv2.h5 flt.h5 -o flt-f.h5 -q") == 0,
	   "float images are accepted");
	ok(run("ct-features --backbone mobilenet_v2 --weights mnv2.h5 small.h5 -o s.h5") == 1 &&
		   log_has("160x160") && log_has("--resize") && !exists("s.h5"),
	   "images of another size are refused, saying how to fix it");
	ok(run("ct-features --backbone mobilenet_v2 --weights mnv2.h5 small.h5 -o s.h5 --resize -q") == 0, "--resize resizes them");

	/* NaN pixels in a float images file. */
	char fp[600];
	snprintf(fp, sizeof fp, "%s/flt.h5", dir);
	ct_h5 h;
	ct_h5_open_rw(&h, fp);
	hid_t d = H5Dopen2(h.file, "images", H5P_DEFAULT);
	hsize_t off[4] = { 5, 10, 10, 1 }, cnt[4] = { 1, 1, 1, 1 };
	float nan = NAN;
	hid_t fs = H5Dget_space(d), ms = H5Screate_simple(4, cnt, NULL);
	H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL);
	H5Dwrite(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, &nan);
	H5Sclose(fs);
	H5Sclose(ms);
	H5Dclose(d);
	ct_h5_close(&h);
	ct_h5_reseal(fp); /* written with the NaN: the reader must find it */
	ok(run("ct-features --backbone mobilenet_v2 --weights mnv2.h5 flt.h5 -o nan.h5") == 1 && log_has("NaN") &&
		   log_has(f.s.names[5]) && !exists("nan.h5") && !exists("nan.h5.partial"),
	   "a NaN pixel is refused naming the sample, with no output");

	ok(run("ct-features --backbone mobilenet_v2 --weights mnv2.h5 --layer no_such_layer img.h5 -o u.h5") == 2 &&
		   log_has("no_such_layer"),
	   "an unknown layer is a usage error (2) naming it");
	ok(run("ct-features --backbone nosuchnet img.h5 -o u.h5") == 2 && log_has("mobilenet_v2"),
	   "an unknown backbone is a usage error listing the known ones");
	ct_graph *gi = ct_model_build("inception_v3");
	char ipw[600];
	snprintf(ipw, sizeof ipw, "%s/incep.h5", dir);
	memset(&w, 0, sizeof w);
	ct_graph_testweights(gi, &w);
	ct_weights_save(&w, ipw);
	ct_weights_free(&w);
	ct_graph_free(gi);
	ok(run("ct-features --backbone mobilenet_v2 --weights incep.h5 img.h5 -o u.h5") == 1 && log_has("layer") &&
		   !exists("u.h5"),
	   "weights of another architecture are refused, naming a layer");
	ok(run("head -c 100000 mnv2.h5 > cut.h5; ct-features --backbone mobilenet_v2 --weights cut.h5 img.h5 -o u.h5") == 1 &&
		   log_has("cut.h5") && !exists("u.h5"),
	   "a truncated weights file is refused, naming it");
	ok(run("ct-features --backbone mobilenet_v2 --weights missing.h5 img.h5 -o u.h5") == 1 && log_has("missing.h5") &&
		   log_has("No such file"),
	   "missing weights: the path and the cause");
	ok(run("ct-features --backbone mobilenet_v2 --weights mnv2.h5 img.h5 -o f.h5") == 1 && log_has("exists"),
	   "an existing output is refused");
	ct_features_free(&f);
	ct_graph_free(g);
	TEST_DONE();
}
