/* test_info.c - the images file writer (data/images.h) and the ct-info summary (data/info.h):
 * a hand-made conversion written and read back (pixels, samples, orig_size, lung mask, input
 * identity), an existing output refused and kept; the summary's counts per class and split,
 * groups (a group in train and val counts as in several splits, one in train and no split does
 * not: data/split.h), dataset shapes and types, as JSON and text; checksum verification; the
 * preprocessing of a file without a ct-convert run; errors naming the file. */
#include "test.h"

#include "core/error.h"
#include "data/convert.h"
#include "data/images.h"
#include "data/info.h"
#include "image/nuisance.h"

#include <cjson/cJSON.h>

enum { N = 8, H = 4, W = 5 };
static const char *names[N] = { "a.png", "b.png", "c.png", "d.png", "e.png", "f.png", "g.png", "h.png" };
static const char *groups[N] = { "P1", "P1", "P2", "P2", "P3", "P3", "", "" };
static const char *splits[N] = { "train", "train", "train", "val", "train", "", "test", "test" };
static const int labels[N] = { 0, 0, 1, 1, 0, -1, 1, 0 };

static void make(ct_converted *c)
{
	memset(c, 0, sizeof *c);
	ct_samples_alloc(&c->s, N, 2);
	c->s.class_names[0] = strdup("normal");
	c->s.class_names[1] = strdup("lesion");
	for (int i = 0; i < N; i++) {
		c->s.names[i] = strdup(names[i]);
		c->s.groups[i] = strdup(groups[i]);
		c->s.splits[i] = strdup(splits[i]);
		c->s.labels[i] = labels[i];
	}
	ct_tensor_alloc4(&c->images, CT_U8, N, H, W, 1);
	for (int64_t k = 0; k < N * H * W; k++)
		((uint8_t *)c->images.data)[k] = (uint8_t)(k * 7 + 3);
	ct_tensor_alloc3(&c->orig_size, CT_I32, N, 2, 1);
	c->orig_size.ndim = 2;
	for (int i = 0; i < 2 * N; i++)
		((int32_t *)c->orig_size.data)[i] = 100 + i;
	ct_tensor_alloc3(&c->nuisance, CT_F32, N, CT_NUISANCE_COUNT, 1);
	c->nuisance.ndim = 2;
	memset(c->nuisance.data, 0, (size_t)N * CT_NUISANCE_COUNT * sizeof(float));
	ct_tensor_alloc3(&c->lung_mask, CT_U8, N, H, W);
	for (int64_t k = 0; k < N * H * W; k++)
		((uint8_t *)c->lung_mask.data)[k] = (uint8_t)(k % 3 == 0);
	c->lung_not_found = 1;
	snprintf(c->sources_sha256, sizeof c->sources_sha256, "%064d", 0);
	c->nsources = N;
}

static int write_file(const char *path, const ct_converted *c, int force)
{
	ct_run run = { "test-info", "test-info -o x", "{}" };
	ct_shard whole = { 0, 0 };
	ct_images_meta m = { &run, "in", "f00d", &whole, N, 1 };
	ct_images_out o;
	if (ct_images_create(&o, path, force) < 0)
		return -1;
	return ct_images_write_converted(&o, c, &m);
}

static char *slurp(FILE *f)
{
	static char buf[1 << 16];
	rewind(f);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	return buf;
}

static double num(cJSON *o, const char *k)
{
	return cJSON_GetNumberValue(cJSON_GetObjectItem(o, k));
}

int main(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/im.h5", t_tmpdir());
	ct_converted c;
	make(&c);
	ok(write_file(path, &c, 0) == 0, "a conversion is written and committed: %s", ct_last_error());

	/* read back with the images reader */
	ct_images im;
	int rc = ct_images_open(&im, path);
	ok(rc == 0 && im.n == N && im.height == H && im.width == W && im.channels == 1 && im.dtype == CT_U8,
	   "it reads back as %d x %d x %d x 1 uint8", N, H, W);
	if (rc == 0) {
		ct_tensor b;
		ct_tensor_alloc4(&b, CT_U8, N, H, W, 1);
		ok(ct_images_read(&im, 0, &b) == 0 && !memcmp(b.data, c.images.data, (size_t)N * H * W),
		   "with the same pixels");
		ct_tensor_free(&b);
		int same = im.s.nclasses == 2;
		for (int i = 0; same && i < N; i++)
			same = !strcmp(im.s.names[i], names[i]) && !strcmp(im.s.groups[i], groups[i]) &&
			       !strcmp(im.s.splits[i], splits[i]) && im.s.labels[i] == labels[i];
		ok(same, "and the same names, groups, splits and labels");
		ct_tensor os = { 0 }, lm = { 0 };
		char *fp = NULL;
		int64_t lnf = -1;
		ok(ct_h5_read(im.h.file, "orig_size", CT_I32, &os) == 0 && os.shape[0] == N &&
			   !memcmp(os.data, c.orig_size.data, 2 * N * sizeof(int32_t)) &&
			   ct_h5_read(im.h.file, "lung_mask", CT_U8, &lm) == 0 && lm.ndim == 3 &&
			   !memcmp(lm.data, c.lung_mask.data, (size_t)N * H * W) &&
			   ct_h5_get_int(im.h.file, "lung_not_found", &lnf) == 0 && lnf == 1 &&
			   ct_h5_get_str(im.h.file, "input_fingerprint", &fp) == 0 && !strcmp(fp, "f00d") &&
			   !ct_h5_attr_exists(im.h.file, "shard"),
		   "orig_size, lung_mask, lung_not_found and input_fingerprint as given; no shard attributes");
		free(fp);
		ct_tensor_free(&os);
		ct_tensor_free(&lm);
		ct_images_close(&im);
	}
	ct_converted c2;
	make(&c2);
	((uint8_t *)c2.images.data)[0] ^= 0xff;
	ok(write_file(path, &c2, 0) < 0 && strstr(ct_last_error(), "exists"), "an existing output is refused: %s",
	   ct_last_error());
	ok(ct_images_open(&im, path) == 0, "and the first file is still there");
	ct_tensor b1;
	ct_tensor_alloc4(&b1, CT_U8, 1, H, W, 1);
	ok(ct_images_read(&im, 0, &b1) == 0 && ((uint8_t *)b1.data)[0] == ((uint8_t *)c.images.data)[0],
	   "unchanged");
	ct_tensor_free(&b1);
	ct_images_close(&im);
	ct_converted_free(&c2);

	/* the summary as JSON, against counts taken from the arrays above */
	FILE *f = tmpfile();
	ok(ct_info_print(path, 1, f) == 0, "ct_info_print --json succeeds");
	cJSON *j = cJSON_Parse(slurp(f));
	fclose(f);
	ok(j && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "kind")), "images") && num(j, "samples") == N &&
		   num(j, "schema_version") == 1 && num(j, "unlabelled") == 1,
	   "kind images, schema 1, %d samples, 1 unlabelled", N);
	const char *sp[4] = { "train", "val", "test", "" }, *spk[4] = { "train", "val", "test", "none" };
	int good = 1, k = 0;
	cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "classes"))
	{
		int total = 0;
		for (int i = 0; i < N; i++)
			total += labels[i] == k;
		good &= num(e, "count") == total;
		for (int s = 0; s < 4; s++) {
			int cnt = 0;
			for (int i = 0; i < N; i++)
				cnt += labels[i] == k && !strcmp(splits[i], sp[s]);
			good &= num(cJSON_GetObjectItem(e, "splits"), spk[s]) == cnt;
		}
		k++;
	}
	ok(good && k == 2, "per class and split counts match the samples");
	cJSON *g = cJSON_GetObjectItem(j, "groups");
	ok(g && num(g, "distinct") == 3 && num(g, "samples_without_group") == 2 && num(g, "groups_in_several_splits") == 1,
	   "3 groups, 2 samples without one, 1 (P2: train and val) in several splits (P3: train and none is not)");
	int found = 0;
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "datasets"))
	{
		cJSON *shp = cJSON_GetObjectItem(e, "shape");
		const char *nm = cJSON_GetStringValue(cJSON_GetObjectItem(e, "name"));
		const char *dt = cJSON_GetStringValue(cJSON_GetObjectItem(e, "dtype"));
		if (!strcmp(nm, "images"))
			found += !strcmp(dt, "uint8") && cJSON_GetArraySize(shp) == 4 &&
				 cJSON_GetArrayItem(shp, 0)->valuedouble == N && cJSON_GetArrayItem(shp, 2)->valuedouble == W;
		if (!strcmp(nm, "orig_size"))
			found += !strcmp(dt, "int32") && cJSON_GetArraySize(shp) == 2;
		if (!strcmp(nm, "nuisance"))
			found += !strcmp(dt, "float32") && cJSON_GetArrayItem(shp, 1)->valuedouble == CT_NUISANCE_COUNT;
		if (!strcmp(nm, "names"))
			found += !strcmp(dt, "string");
	}
	ok(found == 4, "datasets images, orig_size, nuisance and names with their shapes and types");
	cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "provenance"), 0);
	ok(p && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(p, "tool")), "test-info"),
	   "the provenance entry of the writing run");
	cJSON_Delete(j);

	/* as text */
	f = tmpfile();
	ok(ct_info_print(path, 0, f) == 0, "ct_info_print (text) succeeds");
	const char *t = slurp(f);
	ok(strstr(t, "kind:       images (schema 1), written by test-info") &&
		   strstr(t, "  images         uint8    8 x 4 x 5 x 1\n") &&
		   strstr(t, "groups:     3 distinct, 2 samples without a group, 1 groups in several splits\n") &&
		   strstr(t, "            normal                 4       3       0       1       0\n") &&
		   strstr(t, "unlabelled: 1\n") && strstr(t, "  1. test-info "),
	   "the text table");
	fclose(f);

	/* verification and preprocessing */
	f = tmpfile();
	ok(ct_info_verify(path, f) == 0 && strstr(slurp(f), "objects match their checksums"), "its checksums verify");
	fclose(f);
	char *args = (char *)"x";
	ok(ct_info_preprocessing(path, &args) == 0 && args == NULL, "no ct-convert run: preprocessing 0, no args");
	char missing[600];
	snprintf(missing, sizeof missing, "%s/none.h5", t_tmpdir());
	f = tmpfile();
	ok(ct_info_print(missing, 0, f) < 0 && strstr(ct_last_error(), "none.h5") && !*slurp(f),
	   "a missing file fails naming it, printing nothing: %s", ct_last_error());
	fclose(f);
	ct_converted_free(&c);
	TEST_DONE();
}
