/* test_fuse.c - fusion of features: alignment errors name the first mismatch, block name clashes,
 * concatenation order, weights, L2 norm per block and sample, standardisation from train rows
 * only, provenance union. */
#include "test.h"

#include "core/error.h"
#include "data/fuse.h"

#include <math.h>

static void make(ct_features *f, int64_t n, const char *block, int64_t d, float base, const char *prov)
{
	memset(f, 0, sizeof *f);
	ct_samples_alloc(&f->s, n, 2);
	f->s.class_names[0] = strdup("normal");
	f->s.class_names[1] = strdup("covid");
	for (int64_t i = 0; i < n; i++) {
		char b[32];
		snprintf(b, sizeof b, "s%d.png", (int)i);
		f->s.names[i] = strdup(b);
		f->s.groups[i] = strdup("");
		f->s.splits[i] = strdup(i < 4 ? "train" : "test");
		f->s.labels[i] = (int)(i % 2);
	}
	ct_tensor_alloc(&f->x, CT_F32, 2, (int64_t[2]){ n, d });
	for (int64_t i = 0; i < n * d; i++)
		((float *)f->x.data)[i] = base + (float)i;
	f->nblocks = 1;
	f->blocks = calloc(1, sizeof *f->blocks);
	f->blocks[0] = (ct_fblock){ strdup(block), strdup("user"), strdup("l"), strdup("avg"), strdup("ab12"), 0, d };
	f->prov = calloc(2, sizeof(char *));
	f->prov[0] = strdup(prov);
	f->nprov = 1;
}

int main(void)
{
	ct_features in[2], out;
	ct_fuse_info info;
	const char *paths[2] = { "a.h5", "b.h5" };
	make(&in[0], 6, "A/x/avg", 3, 0, "{\"tool\":\"one\"}");
	make(&in[1], 6, "B/y/avg", 2, 100, "{\"tool\":\"two\"}");
	ct_fuse_opts o = { CT_FUSE_NONE, NULL, NULL };
	ok(ct_fuse(in, paths, 2, &o, &out, &info) == 0, "fuses two aligned inputs");
	const float *y = out.x.data;
	ok(out.x.shape[1] == 5 && y[0] == 0 && y[3] == 100 && y[5 + 2] == 5 && y[5 + 4] == 103,
	   "columns are the first input's then the second's");
	ok(out.nblocks == 2 && out.blocks[1].start == 3 && out.blocks[1].width == 2 &&
		   !strcmp(out.blocks[1].weights_sha256, "ab12"),
	   "blocks are carried over with shifted starts");
	ok(out.nprov == 2 && strstr(out.prov[1], "two"), "provenance is the union of the inputs' chains");
	ct_features_free(&out);
	ct_fuse_info_free(&info);

	double w[2] = { 2.0, 0.5 };
	o = (ct_fuse_opts){ CT_FUSE_L2, w, NULL };
	ok(ct_fuse(in, paths, 2, &o, &out, &info) == 0, "fuses with --l2 and weights");
	y = out.x.data;
	double n1 = 0, n2 = 0;
	for (int j = 0; j < 3; j++)
		n1 += (double)y[5 * 2 + j] * y[5 * 2 + j];
	for (int j = 3; j < 5; j++)
		n2 += (double)y[5 * 2 + j] * y[5 * 2 + j];
	ok(fabs(sqrt(n1) - 2.0) < 1e-5 && fabs(sqrt(n2) - 0.5) < 1e-5,
	   "each block of each sample has L2 norm equal to its weight (%.6f, %.6f)", sqrt(n1), sqrt(n2));
	ok(info.block_weight[0] == 2.0 && info.block_weight[1] == 0.5 && info.block_input[1] == 1,
	   "the weights and inputs of the blocks are recorded");
	ct_features_free(&out);
	ct_fuse_info_free(&info);

	/* Standardisation: a huge value in a test row must not change the statistics. */
	((float *)in[0].x.data)[5 * 3 + 0] = 1e6f;
	o = (ct_fuse_opts){ CT_FUSE_STANDARDIZE, NULL, NULL };
	ok(ct_fuse(in, paths, 2, &o, &out, &info) == 0 && info.ntrain == 4, "standardises with the 4 train rows");
	/* column 0 of input 0 over train rows: 0, 3, 6, 9 -> mean 4.5, sd sqrt(11.25) */
	ok(fabs(info.mean[0] - 4.5) < 1e-9 && fabs(info.std[0] - sqrt(11.25)) < 1e-9,
	   "mean and sd come from the train rows only (%.3f, %.3f)", info.mean[0], info.std[0]);
	double m = 0;
	for (int i = 0; i < 4; i++)
		m += ((float *)out.x.data)[i * 5 + 3];
	ok(fabs(m) < 1e-5, "train columns are centred after standardisation");
	ct_features_free(&out);
	ct_fuse_info_free(&info);

	/* Alignment errors. */
	free(in[1].s.names[2]);
	in[1].s.names[2] = strdup("other.png");
	o = (ct_fuse_opts){ CT_FUSE_NONE, NULL, NULL };
	ok(ct_fuse(in, paths, 2, &o, &out, &info) < 0 &&
		   !strcmp(ct_last_error(), "'b.h5': sample 2 is 'other.png', expected 's2.png' (as in 'a.h5')"),
	   "a different name is named: %s", ct_last_error());
	free(in[1].s.names[2]);
	in[1].s.names[2] = strdup("s2.png");
	in[1].s.labels[3] = 0;
	ok(ct_fuse(in, paths, 2, &o, &out, &info) < 0 && strstr(ct_last_error(), "sample 3 ('s3.png') has label 0"),
	   "a different label is named: %s", ct_last_error());
	in[1].s.labels[3] = 1;
	free(in[1].s.splits[1]);
	in[1].s.splits[1] = strdup("val");
	ok(ct_fuse(in, paths, 2, &o, &out, &info) < 0 && strstr(ct_last_error(), "is in split 'val', expected 'train'"),
	   "a different split is named: %s", ct_last_error());
	free(in[1].s.splits[1]);
	in[1].s.splits[1] = strdup("train");
	free(in[1].s.groups[0]);
	in[1].s.groups[0] = strdup("P1");
	ok(ct_fuse(in, paths, 2, &o, &out, &info) < 0 && strstr(ct_last_error(), "has group 'P1', expected ''"),
	   "a different group is named: %s", ct_last_error());
	free(in[1].s.groups[0]);
	in[1].s.groups[0] = strdup("");
	free(in[1].s.class_names[1]);
	in[1].s.class_names[1] = strdup("lesion");
	ok(ct_fuse(in, paths, 2, &o, &out, &info) < 0 && strstr(ct_last_error(), "class 1 is 'lesion', expected 'covid'"),
	   "different class names are named: %s", ct_last_error());
	free(in[1].s.class_names[1]);
	in[1].s.class_names[1] = strdup("covid");
	free(in[1].blocks[0].name);
	in[1].blocks[0].name = strdup("A/x/avg");
	ok(ct_fuse(in, paths, 2, &o, &out, &info) < 0 &&
		   !strcmp(ct_last_error(), "block name 'A/x/avg' is in both 'a.h5' and 'b.h5'"),
	   "a block name clash is refused: %s", ct_last_error());
	ct_features_free(&in[0]);
	ct_features_free(&in[1]);
	make(&in[0], 6, "A/x/avg", 3, 0, "{}");
	make(&in[1], 5, "B/x/avg", 3, 0, "{}");
	ok(ct_fuse(in, paths, 2, &o, &out, &info) < 0 && strstr(ct_last_error(), "'b.h5': 5 samples, expected 6"),
	   "a different sample count is refused: %s", ct_last_error());
	ct_features_free(&in[0]);
	ct_features_free(&in[1]);
	double ww[3];
	ok(ct_parse_weights("1,0.5", ww, 2) == 0 && ww[1] == 0.5 && ct_parse_weights("1", ww, 2) < 0 &&
		   ct_parse_weights("1,2,3", ww, 2) < 0 && ct_parse_weights("1,-2", ww, 2) < 0,
	   "weights: exactly one positive number per input");
	TEST_DONE();
}
