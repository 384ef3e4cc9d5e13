/* test_split.c - stratified group-aware splits and folds (class shares, whole groups, determinism,
 * errors), leakage reports, and dHash properties (identical images 0 bits apart, a shifted noisy
 * copy a few bits, different images many). */
#include "test.h"

#include "core/error.h"
#include "core/rng.h"
#include "data/split.h"
#include "image/phash.h"

#include <math.h>

/* n samples; group g of sample i given by gof[i] (-1: no group); label lab[i]. */
static void make(ct_samples *s, int64_t n, const int *gof, const int *lab)
{
	ct_samples_alloc(s, n, 2);
	s->class_names[0] = strdup("normal");
	s->class_names[1] = strdup("covid");
	for (int64_t i = 0; i < n; i++) {
		char b[32];
		snprintf(b, sizeof b, "img%03d.png", (int)i);
		s->names[i] = strdup(b);
		if (gof[i] >= 0)
			snprintf(b, sizeof b, "P%03d", gof[i]);
		else
			b[0] = 0;
		s->groups[i] = strdup(b);
		s->splits[i] = strdup("");
		s->labels[i] = lab[i];
	}
}

static int count(const ct_samples *s, const char *split, int label)
{
	return (int)ct_samples_count(s, split, label);
}

/* Every group's samples share one split. */
static int groups_whole(const ct_samples *s)
{
	for (int64_t i = 0; i < s->n; i++)
		for (int64_t j = i + 1; j < s->n; j++)
			if (s->groups[i][0] && !strcmp(s->groups[i], s->groups[j]) && strcmp(s->splits[i], s->splits[j]))
				return 0;
	return 1;
}

/* A smooth random image: a sum of Gaussian blobs, optionally shifted right by dx pixels and noisy. */
static void blob_image(ct_tensor *t, uint64_t seed, int dx, double noise)
{
	ct_tensor_alloc3(t, CT_U8, 64, 64, 1);
	ct_rng r;
	ct_rng_init(&r, seed, 0);
	double cx[6], cy[6], a[6], sg[6];
	for (int k = 0; k < 6; k++) {
		cx[k] = ct_rng_range(&r, 0, 64);
		cy[k] = ct_rng_range(&r, 0, 64);
		a[k] = ct_rng_range(&r, -120, 120);
		sg[k] = ct_rng_range(&r, 6, 16);
	}
	ct_rng nr;
	ct_rng_init(&nr, seed, 1);
	uint8_t *p = t->data;
	for (int y = 0; y < 64; y++)
		for (int x = 0; x < 64; x++) {
			double v = 128;
			for (int k = 0; k < 6; k++) {
				double ex = x - dx - cx[k], ey = y - cy[k];
				v += a[k] * exp(-(ex * ex + ey * ey) / (2 * sg[k] * sg[k]));
			}
			v += noise * ct_rng_normal(&nr);
			p[y * 64 + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lrint(v));
		}
}

int main(void)
{
	/* 100 samples without groups, 70 normal / 30 covid. */
	int g1[100], l1[100];
	for (int i = 0; i < 100; i++) {
		g1[i] = -1;
		l1[i] = i % 10 < 3;
	}
	ct_samples s;
	make(&s, 100, g1, l1);
	double fr[3] = { 0.6, 0.2, 0.2 };
	char note[256];
	ok(ct_split_make(&s, fr, 1, note, sizeof note) == 0, "splits 100 ungrouped samples 0.6/0.2/0.2");
	ok(count(&s, "train", 0) == 42 && count(&s, "train", 1) == 18 && count(&s, "val", 0) == 14 &&
		   count(&s, "val", 1) == 6 && count(&s, "test", 0) == 14 && count(&s, "test", 1) == 6,
	   "stratified exactly: train 42+18, val 14+6, test 14+6 (got %d+%d, %d+%d, %d+%d)", count(&s, "train", 0),
	   count(&s, "train", 1), count(&s, "val", 0), count(&s, "val", 1), count(&s, "test", 0),
	   count(&s, "test", 1));
	ok(note[0] == 0, "no note when the fractions are met");
	char *first[100];
	for (int i = 0; i < 100; i++)
		first[i] = strdup(s.splits[i]);
	ct_split_make(&s, fr, 1, NULL, 0);
	int same = 1;
	for (int i = 0; i < 100; i++)
		same &= !strcmp(first[i], s.splits[i]);
	ok(same, "the same seed gives the same split");
	ct_split_make(&s, fr, 2, NULL, 0);
	same = 1;
	for (int i = 0; i < 100; i++)
		same &= !strcmp(first[i], s.splits[i]);
	ok(!same, "another seed gives another split");
	for (int i = 0; i < 100; i++)
		free(first[i]);
	ct_samples_free(&s);

	/* 40 patients with 1..6 slices each; patient class alternates by a seeded draw. */
	int g2[400], l2[400], n2 = 0;
	ct_rng r;
	ct_rng_init(&r, 5, 0);
	for (int p = 0; p < 40; p++) {
		int m = 1 + (int)ct_rng_below(&r, 6), lab = ct_rng_uniform(&r) < 0.4;
		for (int k = 0; k < m; k++) {
			g2[n2] = p;
			l2[n2++] = lab;
		}
	}
	make(&s, n2, g2, l2);
	ok(ct_split_make(&s, fr, 3, note, sizeof note) == 0, "splits %d samples of 40 patients", n2);
	ok(groups_whole(&s), "every patient is in exactly one split");
	double tr = (double)count(&s, "train", -2) / n2, va = (double)count(&s, "val", -2) / n2;
	ok(fabs(tr - 0.6) < 0.06 && fabs(va - 0.2) < 0.06, "shares near 0.6/0.2/0.2 with whole patients (%.3f, %.3f)",
	   tr, va);
	double c_tr = (double)count(&s, "train", 1) / count(&s, "train", -2),
	       c_all = (double)ct_samples_count(&s, NULL, 1) / n2;
	ok(fabs(c_tr - c_all) < 0.06, "class share in train %.3f near the overall %.3f", c_tr, c_all);

	/* Folds over train+val. */
	int32_t fold[400];
	uint8_t use[400];
	for (int i = 0; i < n2; i++)
		use[i] = strcmp(s.splits[i], "test") != 0;
	ok(ct_folds_make(&s, use, 5, 3, fold) == 0, "assigns 5 folds over train+val");
	int okf = 1, sizes[5] = { 0 };
	for (int i = 0; i < n2; i++) {
		if (!use[i])
			okf &= fold[i] == -1;
		else if (fold[i] < 0 || fold[i] > 4)
			okf = 0;
		else
			sizes[fold[i]]++;
		for (int j = 0; j < n2; j++)
			if (use[i] && use[j] && g2[i] == g2[j] && fold[i] != fold[j])
				okf = 0;
	}
	ok(okf, "test rows get -1, the others a fold in 0..4, and no patient spans two folds");
	int mn = sizes[0], mx = sizes[0];
	for (int k = 1; k < 5; k++) {
		mn = sizes[k] < mn ? sizes[k] : mn;
		mx = sizes[k] > mx ? sizes[k] : mx;
	}
	ok(mn > 0 && mx - mn <= 8, "fold sizes are balanced (%d..%d)", mn, mx);
	int32_t fold2[400];
	ct_folds_make(&s, use, 5, 3, fold2);
	ok(!memcmp(fold, fold2, sizeof(int32_t) * n2), "folds are deterministic for a seed");
	ok(ct_folds_make(&s, use, 200, 3, fold2) < 0 && strstr(ct_last_error(), "folds from"),
	   "more folds than groups is an error: %s", ct_last_error());

	/* Leakage: move one slice of a patient into another split. */
	ct_leak_report rep = { 0 };
	ok(ct_leak_groups(&s, &rep) == 0 && rep.nleaky == 0 && rep.ngroups == 40, "a fresh split has no shared groups");
	ct_leak_report_free(&rep);
	int64_t moved = -1;
	for (int i = 1; i < n2 && moved < 0; i++)
		if (g2[i] == g2[i - 1] && !strcmp(s.splits[i], "train")) {
			free(s.splits[i]);
			s.splits[i] = strdup("test");
			moved = i;
		}
	ok(moved > 0 && ct_leak_groups(&s, &rep) == 0 && rep.nleaky == 1 && !strcmp(rep.leaky[0].group, s.groups[moved]) &&
		   rep.leaky[0].count[2] == 1,
	   "a patient in train and test is reported with its counts");
	ct_leak_report_free(&rep);
	uint64_t *hash = calloc((size_t)n2, sizeof *hash);
	for (int i = 0; i < n2; i++)
		hash[i] = ct_mix64((uint64_t)i);
	int64_t a = -1, b = -1;
	for (int i = 0; i < n2 && b < 0; i++)
		for (int j = i + 1; j < n2 && b < 0; j++)
			if (strcmp(s.splits[i], s.splits[j])) {
				a = i;
				b = j;
			}
	hash[b] = hash[a] ^ 0x5; /* 2 bits apart */
	ok(ct_leak_duplicates(&s, hash, 4, &rep) == 0 && rep.npairs == 1 && rep.pairs[0].a == a && rep.pairs[0].b == b &&
		   rep.pairs[0].distance == 2,
	   "near-duplicate hashes in different splits are reported (distance 2)");
	ct_leak_report_free(&rep);
	ok(ct_leak_duplicates(&s, hash, 1, &rep) == 0 && rep.npairs == 0, "... and not with --hash-threshold 1");
	ct_leak_report_free(&rep);
	free(hash);
	ct_samples_free(&s);

	/* Errors: one covid patient cannot fill three splits. */
	int g3[30], l3[30];
	for (int i = 0; i < 30; i++) {
		g3[i] = i / 3;
		l3[i] = i / 3 == 4;
	}
	make(&s, 30, g3, l3);
	ok(ct_split_make(&s, fr, 1, NULL, 0) < 0 && strstr(ct_last_error(), "no 'covid' samples"),
	   "a split that would lack a class is an error: %s", ct_last_error());
	ok(ct_folds_make(&s, NULL, 3, 1, fold2) < 0 && strstr(ct_last_error(), "'covid'"),
	   "a fold that would lack a class is an error: %s", ct_last_error());
	ct_samples_free(&s);
	ok(ct_split_parse_fractions("0.6,0.2,0.2", fr) == 0 && ct_split_parse_fractions("0.5,0.5", fr) < 0 &&
		   ct_split_parse_fractions("0.6,0.3,0.2", fr) < 0 && ct_split_parse_fractions("0,0.5,0.5", fr) < 0,
	   "fractions must be three shares summing to 1 with a positive train share");

	/* dHash. */
	ct_tensor im1, im2, sh, other;
	uint64_t h1, h2, hs, ho;
	blob_image(&im1, 9, 0, 0);
	blob_image(&im2, 9, 0, 0);
	blob_image(&sh, 9, 1, 3.0);
	blob_image(&other, 10, 0, 0);
	ok(ct_dhash(&im1, &h1) == 0 && ct_dhash(&im2, &h2) == 0 && h1 == h2 && ct_hamming64(h1, h2) == 0,
	   "identical images hash 0 bits apart");
	ct_dhash(&sh, &hs);
	ct_dhash(&other, &ho);
	int dsh = ct_hamming64(h1, hs), dot = ct_hamming64(h1, ho);
	ok(dsh <= 6, "a 1-pixel shifted, noisy copy is %d bits away (<= 6)", dsh);
	ok(dot >= 16, "a different image is %d bits away (>= 16)", dot);
	int far = 0;
	for (uint64_t k = 20; k < 40; k++) {
		ct_tensor t;
		uint64_t hk;
		blob_image(&t, k, 0, 0);
		ct_dhash(&t, &hk);
		far += ct_hamming64(h1, hk) > 4;
		ct_tensor_free(&t);
	}
	ok(far == 20, "20 other random images are all beyond the default threshold of 4 bits");
	ct_tensor f32;
	ct_tensor_alloc3(&f32, CT_F32, 64, 64, 3);
	for (int i = 0; i < 64 * 64; i++)
		for (int c = 0; c < 3; c++)
			((float *)f32.data)[i * 3 + c] = ((uint8_t *)im1.data)[i] / 255.0f;
	uint64_t hf;
	ok(ct_dhash(&f32, &hf) == 0 && ct_hamming64(hf, h1) <= 1, "a float RGB copy hashes like the uint8 grey image");
	ct_tensor tiny;
	ct_tensor_alloc3(&tiny, CT_U8, 7, 20, 1);
	ok(ct_dhash(&tiny, &hf) < 0, "images under 9x8 are refused: %s", ct_last_error());
	ct_tensor_free(&im1);
	ct_tensor_free(&im2);
	ct_tensor_free(&sh);
	ct_tensor_free(&other);
	ct_tensor_free(&f32);
	ct_tensor_free(&tiny);
	TEST_DONE();
}
