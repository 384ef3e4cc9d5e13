/* test_train_fixtures.c - synthetic features files for the ct-fuse/ct-split/ct-finetune CLI tests.
 * `test_train_fixtures DIR` writes them into DIR; without arguments it writes them into a temporary
 * directory and checks they read back (so the generator itself is tested by tests/run.sh).
 *
 * The data: 20 patients x 3 slices, patient p has class p % 2 ("normal", "covid"); official splits
 * by patient (0-11 train, 12-15 val, 16-19 test). Features are two Gaussian clouds 6 sd apart along
 * a fixed direction, so a linear head separates them. */
#include "test.h"

#include "core/error.h"
#include "core/rng.h"
#include "data/features.h"
#include "io/h5.h"

#include <math.h>

#define NP 20
#define SL 3
#define N (NP * SL)

typedef struct spec {
	const char *file;
	int d;                   /* columns */
	const char *blocks[3];   /* block names; widths split d as evenly as possible */
	int nblocks;
	uint64_t seed;
	int swap;                /* swap rows 4 and 5 */
	int relabel;             /* flip the label of row 7 */
	int nosplit;             /* all splits "" */
	int leaky;               /* patient 0's last slice in test */
	int onecovid;            /* only patient 1 is covid */
	int nocovid_train;       /* every covid patient in val or test */
	int nan;                 /* a NaN at row 3 */
} spec;

static const spec specs[] = {
	{ "a.h5", 8, { "synthA/l1/avg" }, 1, 1, 0, 0, 0, 0, 0, 0, 0 },
	{ "b.h5", 5, { "synthB/x/avg", "synthB/y/max" }, 2, 2, 0, 0, 0, 0, 0, 0, 0 },
	{ "b_order.h5", 5, { "synthB/x/avg", "synthB/y/max" }, 2, 2, 1, 0, 0, 0, 0, 0, 0 },
	{ "b_labels.h5", 5, { "synthB/x/avg", "synthB/y/max" }, 2, 2, 0, 1, 0, 0, 0, 0, 0 },
	{ "a_clash.h5", 4, { "synthA/l1/avg" }, 1, 3, 0, 0, 0, 0, 0, 0, 0 },
	{ "nosplit.h5", 6, { "synthC/l/avg" }, 1, 4, 0, 0, 1, 0, 0, 0, 0 },
	{ "leaky.h5", 6, { "synthC/l/avg" }, 1, 4, 0, 0, 0, 1, 0, 0, 0 },
	{ "onecovid.h5", 6, { "synthC/l/avg" }, 1, 4, 0, 0, 1, 0, 1, 0, 0 },
	{ "nocovid_train.h5", 6, { "synthC/l/avg" }, 1, 4, 0, 0, 0, 0, 0, 1, 0 },
	{ "nan.h5", 6, { "synthC/l/avg" }, 1, 4, 0, 0, 0, 0, 0, 0, 1 },
};

static char *fmt(const char *f, int a, int b)
{
	char buf[128];
	snprintf(buf, sizeof buf, f, a, b);
	return strdup(buf);
}

static int write_spec(const char *dir, const spec *sp)
{
	ct_features f;
	memset(&f, 0, sizeof f);
	if (ct_samples_alloc(&f.s, N, 2) < 0)
		return -1;
	f.s.class_names[0] = strdup("normal");
	f.s.class_names[1] = strdup("covid");
	for (int p = 0; p < NP; p++)
		for (int k = 0; k < SL; k++) {
			int i = p * SL + k;
			int lab = sp->onecovid ? p == 1 : p % 2;
			const char *split = p < 12 ? "train" : p < 16 ? "val" : "test";
			if (sp->nocovid_train && lab == 1)
				split = p < 10 ? "val" : "test";
			if (sp->leaky && p == 0 && k == SL - 1)
				split = "test";
			if (sp->nosplit)
				split = "";
			f.s.labels[i] = lab;
			f.s.names[i] = fmt(lab ? "covid/P%02d_s%d.png" : "normal/P%02d_s%d.png", p, k);
			f.s.groups[i] = fmt("P%02d", p, 0);
			f.s.splits[i] = strdup(split);
		}
	if (sp->swap) {
		char *t = f.s.names[4];
		f.s.names[4] = f.s.names[5];
		f.s.names[5] = t;
	}
	if (sp->relabel)
		f.s.labels[7] = 1 - f.s.labels[7];
	if (ct_tensor_alloc(&f.x, CT_F32, 2, (int64_t[2]){ N, sp->d }) < 0)
		return -1;
	float *x = f.x.data;
	ct_rng r;
	ct_rng_init(&r, sp->seed, 0);
	for (int i = 0; i < N; i++)
		for (int j = 0; j < sp->d; j++) {
			double sgn = (j % 2 ? 1.0 : -1.0) / sqrt(sp->d);
			x[i * sp->d + j] = (float)(ct_rng_normal(&r) * 0.5 + (f.s.labels[i] ? 1.5 : -1.5) * sgn + j);
		}
	if (sp->nan)
		x[3 * sp->d + 1] = NAN;
	f.nblocks = sp->nblocks;
	f.blocks = calloc((size_t)sp->nblocks, sizeof *f.blocks);
	int64_t at = 0;
	for (int b = 0; b < sp->nblocks; b++) {
		int64_t w = sp->d / sp->nblocks + (b < sp->d % sp->nblocks);
		f.blocks[b].name = strdup(sp->blocks[b]);
		f.blocks[b].backbone = strdup(sp->blocks[b]);
		*strchr(f.blocks[b].backbone, '/') = 0;
		f.blocks[b].layer = strdup("layer");
		f.blocks[b].pool = strdup("avg");
		f.blocks[b].weights_sha256 = strdup("");
		f.blocks[b].start = at;
		f.blocks[b].width = w;
		at += w;
	}
	f.prov = calloc(2, sizeof *f.prov);
	f.prov[0] = fmt("{\"tool\":\"ct-convert\",\"version\":\"0.1.0\",\"kind\":\"images\",\"seed\":%d%d}",
			(int)sp->seed, 0);
	f.nprov = 1;
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, sp->file);
	ct_h5 h;
	ct_run run = { "test_train_fixtures", "test_train_fixtures", "{}" };
	int rc = ct_h5_create(&h, path, 1);
	if (rc == 0) {
		rc = ct_features_write(&h, &f, &run);
		rc = rc == 0 ? ct_h5_commit(&h) : (ct_h5_abort(&h), -1);
	}
	ct_features_free(&f);
	return rc;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : t_tmpdir();
	for (size_t k = 0; k < sizeof specs / sizeof *specs; k++)
		if (write_spec(dir, &specs[k]) < 0) {
			fprintf(stderr, "test_train_fixtures: %s\n", ct_last_error());
			return 1;
		}
	if (argc > 1)
		return 0;
	char path[512];
	ct_features f;
	snprintf(path, sizeof path, "%s/a.h5", dir);
	ok(ct_features_read(path, &f) == 0, "a.h5 reads back as a features file");
	ok(f.s.n == N && f.x.shape[1] == 8 && f.nblocks == 1, "a.h5 has 60 x 8 features in one block");
	ok(ct_samples_count(&f.s, "train", 1) == 18 && ct_samples_count(&f.s, "val", 0) == 6,
	   "a.h5 splits by patient: 18 covid train rows, 6 normal val rows");
	ct_features_free(&f);
	snprintf(path, sizeof path, "%s/b.h5", dir);
	ok(ct_features_read(path, &f) == 0 && f.nblocks == 2 && f.blocks[1].start == 3, "b.h5 has blocks 3 + 2");
	ct_features_free(&f);
	snprintf(path, sizeof path, "%s/nan.h5", dir);
	ok(ct_features_read(path, &f) < 0 && strstr(ct_last_error(), "non-finite"), "nan.h5 is refused: %s",
	   ct_last_error());
	TEST_DONE();
}
