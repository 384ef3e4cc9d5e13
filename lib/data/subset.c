/* subset.c - nested, seeded, patient-grouped shares of the training rows (subset.h). */
#include "data/subset.h"
#include "core/error.h"
#include "core/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct gkey {
	char *key;       /* group id, or the row's name up to "#aug" */
	int64_t row;
} gkey;

typedef struct gitem {
	const char *key;
	uint64_t rank;
	int cls;         /* majority label, -1 unlabelled */
	int64_t first;   /* index of its first entry in the sorted row keys */
	int64_t count;
} gitem;

static int cmp_gkey(const void *a, const void *b)
{
	const gkey *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->row < y->row ? -1 : x->row > y->row);
}

static int cmp_gitem(const void *a, const void *b)
{
	const gitem *x = a, *y = b;
	if (x->cls != y->cls)
		return x->cls < y->cls ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* FNV-1a of the key, mixed with the seed: the group's place in the seed's order. */
static uint64_t key_rank(const char *k, uint64_t seed)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)k; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return ct_mix64(ct_mix64(seed ^ 0x5b5e7c0ffee5ULL) ^ h);
}

int ct_subset_groups(const ct_samples *s, const uint8_t *use, double fraction, uint64_t seed, uint8_t *keep,
		     int64_t *kept_groups, int64_t *total_groups)
{
	if (!(fraction > 0 && fraction <= 1))
		return ct_error("the fraction of groups to keep must be in (0, 1], not %g", fraction);
	int64_t n = s->n, m = 0;
	for (int64_t i = 0; i < n; i++)
		keep[i] = 0;
	gkey *k = malloc(((size_t)n + 1) * sizeof *k);
	gitem *g = malloc(((size_t)n + 1) * sizeof *g);
	int64_t *cnt = calloc((size_t)s->nclasses + 2, sizeof *cnt);
	int rc = k && g && cnt ? 0 : ct_error("out of memory");
	for (int64_t i = 0; rc == 0 && i < n; i++) {
		if (use && !use[i])
			continue;
		const char *src = s->groups[i][0] ? s->groups[i] : s->names[i];
		size_t len = strlen(src);
		const char *aug = s->groups[i][0] ? NULL : strstr(src, "#aug");
		if (aug)
			len = (size_t)(aug - src);
		/* Keys of ungrouped rows get a prefix no group id can clash with (groups are ids). */
		char *key = malloc(len + 2);
		if (!key) {
			rc = ct_error("out of memory");
			break;
		}
		key[0] = s->groups[i][0] ? 'g' : 'n';
		memcpy(key + 1, src, len);
		key[len + 1] = 0;
		k[m++] = (gkey){ key, i };
	}
	int64_t ng = 0;
	if (rc == 0) {
		qsort(k, (size_t)m, sizeof *k, cmp_gkey);
		for (int64_t a = 0; a < m;) {
			int64_t b = a;
			for (int c = 0; c <= s->nclasses; c++)
				cnt[c] = 0;
			while (b < m && !strcmp(k[b].key, k[a].key)) {
				int32_t y = s->labels[k[b].row];
				if (y >= 0 && y < s->nclasses)
					cnt[y]++;
				b++;
			}
			int cls = -1;
			for (int c = 0; c < s->nclasses; c++)
				if (cnt[c] > 0 && (cls < 0 || cnt[c] > cnt[cls]))
					cls = c;
			g[ng++] = (gitem){ k[a].key, key_rank(k[a].key, seed), cls, a, b - a };
			a = b;
		}
		qsort(g, (size_t)ng, sizeof *g, cmp_gitem);
		int64_t kept = 0;
		for (int64_t a = 0; a < ng;) {
			int64_t b = a;
			while (b < ng && g[b].cls == g[a].cls)
				b++;
			int64_t want = fraction >= 1 ? b - a : (int64_t)floor(fraction * (double)(b - a) + 0.5);
			if (want < 1)
				want = 1;
			for (int64_t j = a; j < a + want; j++)
				for (int64_t r = 0; r < g[j].count; r++)
					keep[k[g[j].first + r].row] = 1;
			kept += want;
			a = b;
		}
		if (kept_groups)
			*kept_groups = kept;
		if (total_groups)
			*total_groups = ng;
	}
	for (int64_t i = 0; k && i < m; i++)
		free(k[i].key);
	free(k);
	free(g);
	free(cnt);
	return rc;
}

int ct_subset_train(ct_samples *s, double fraction, uint64_t seed, int64_t *kept_groups, int64_t *total_groups)
{
	int64_t n = s->n;
	uint8_t *use = malloc((size_t)n + 1), *keep = malloc((size_t)n + 1);
	int rc = use && keep ? 0 : ct_error("out of memory");
	for (int64_t i = 0; rc == 0 && i < n; i++)
		use[i] = !strcmp(s->splits[i], "train");
	if (rc == 0)
		rc = ct_subset_groups(s, use, fraction, seed, keep, kept_groups, total_groups);
	for (int64_t i = 0; rc == 0 && i < n; i++) {
		if (use[i] && !keep[i]) {
			char *e = strdup("");
			if (!e) {
				rc = ct_error("out of memory");
				break;
			}
			free(s->splits[i]);
			s->splits[i] = e;
		}
	}
	free(use);
	free(keep);
	return rc;
}
