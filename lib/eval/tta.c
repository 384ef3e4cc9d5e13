/* tta.c - copies averaged into their originals (tta.h). */
#include "eval/tta.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

int ct_tta_is_copy(const char *name, size_t *base_len)
{
	size_t len = strlen(name), d = len;
	while (d > 0 && name[d - 1] >= '0' && name[d - 1] <= '9')
		d--;
	if (d == len || d < 4 || strncmp(name + d - 4, "#aug", 4))
		return 0;
	*base_len = d - 4;
	return 1;
}

/* an original's name and row, sorted by name (no global state for qsort to read) */
typedef struct {
	const char *name;
	int64_t row;
} named_row;

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const named_row *)a)->name, ((const named_row *)b)->name);
}

int ct_tta_origins(const ct_samples *s, const char *path, int64_t *orig, int64_t *ncopies)
{
	int64_t n = s->n, no = 0, nc = 0;
	named_row *idx = malloc(((size_t)n + 1) * sizeof *idx);
	char *key = NULL;
	size_t keycap = 0;
	int rc = 0;
	if (!idx)
		return ct_error("out of memory");
	for (int64_t i = 0; i < n; i++) {
		size_t bl;
		orig[i] = i;
		if (!ct_tta_is_copy(s->names[i], &bl)) {
			idx[no].name = s->names[i];
			idx[no++].row = i;
		}
	}
	qsort(idx, (size_t)no, sizeof *idx, cmp_name);
	for (int64_t i = 0; rc == 0 && i < n; i++) {
		size_t bl;
		if (!ct_tta_is_copy(s->names[i], &bl))
			continue;
		if (bl + 1 > keycap) {
			char *k2 = realloc(key, bl + 1);
			if (!k2) {
				rc = ct_error("out of memory");
				break;
			}
			key = k2, keycap = bl + 1;
		}
		memcpy(key, s->names[i], bl);
		key[bl] = 0;
		int64_t lo = 0, hi = no; /* binary search over the originals' names */
		while (lo < hi) {
			int64_t mid = lo + (hi - lo) / 2;
			if (strcmp(idx[mid].name, key) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == no || strcmp(idx[lo].name, key)) {
			rc = ct_error("'%s': augmented copy '%s' has no original row '%s' to be averaged into", path,
				      s->names[i], key);
			break;
		}
		int64_t o = idx[lo].row;
		if (strcmp(s->splits[o], s->splits[i]) || s->labels[o] != s->labels[i]) {
			rc = ct_error("'%s': augmented copy '%s' differs from its original in split or label", path,
				      s->names[i]);
			break;
		}
		orig[i] = o;
		nc++;
	}
	free(idx);
	free(key);
	if (rc == 0)
		*ncopies = nc;
	return rc;
}

int ct_tta_mean(const int64_t *orig, int64_t n, int k, float *probs)
{
	double *sum = calloc((size_t)n * (size_t)k + 1, sizeof *sum);
	int64_t *cnt = calloc((size_t)n + 1, sizeof *cnt);
	if (!sum || !cnt) {
		free(sum);
		free(cnt);
		return ct_error("out of memory");
	}
	for (int64_t i = 0; i < n; i++) {
		int64_t o = orig[i];
		for (int c = 0; c < k; c++)
			sum[o * k + c] += probs[i * k + c];
		cnt[o]++;
	}
	for (int64_t i = 0; i < n; i++)
		if (orig[i] == i)
			for (int c = 0; c < k; c++)
				probs[i * k + c] = (float)(sum[i * k + c] / (double)cnt[i]);
	free(sum);
	free(cnt);
	return 0;
}
