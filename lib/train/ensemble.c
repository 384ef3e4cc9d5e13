/* ensemble.c - seed ensembles of the classifier head: training, mean prediction, model-file
 * group /ensemble (ensemble.h). The cross-validation of an ensemble is in train.c. */
#include "train/ensemble.h"
#include "core/error.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ct_train_ensemble(const float *x, const int32_t *y, int64_t n, int d, int k, const uint8_t *role,
		      const ct_train_opts *o, int nheads, ct_head *heads, ct_train_log *logs)
{
	if (nheads < 1 || nheads > CT_ENSEMBLE_MAX)
		return ct_error("an ensemble of %d heads (1 to %d)", nheads, CT_ENSEMBLE_MAX);
	memset(heads, 0, (size_t)nheads * sizeof *heads);
	memset(logs, 0, (size_t)nheads * sizeof *logs);
	for (int j = 0; j < nheads; j++) {
		ct_train_opts oj = *o;
		oj.seed = o->seed + (uint64_t)j; /* wraps modulo 2^64 */
		if (ct_train_head(x, y, n, d, k, role, &oj, &heads[j], &logs[j]) < 0) {
			for (int i = 0; i < j; i++) {
				ct_head_free(&heads[i]);
				ct_train_log_free(&logs[i]);
			}
			return nheads > 1 ? ct_error_prefix("head %d of %d (seed %" PRIu64 ")", j + 1, nheads, oj.seed) : -1;
		}
	}
	return 0;
}

int ct_heads_predict(const ct_head *const *heads, int nheads, const float *x, int64_t n, float *probs)
{
	if (nheads < 1)
		return ct_error("no heads to predict with");
	if (nheads == 1)
		return ct_head_predict(heads[0], x, n, probs);
	const int k = heads[0]->nclasses;
	for (int j = 1; j < nheads; j++)
		if (heads[j]->nclasses != k || heads[j]->d_in != heads[0]->d_in)
			return ct_error("head %d of the ensemble has %d inputs and %d classes, head 1 %d and %d", j + 1,
					heads[j]->d_in, heads[j]->nclasses, heads[0]->d_in, k);
	size_t nk;
	if (n < 0 || ct_mul_size((size_t)n, (size_t)k, &nk) < 0)
		return ct_error("too many rows (%lld)", (long long)n);
	double *sum = calloc(nk + 1, sizeof *sum);
	float *p = malloc((nk + 1) * sizeof *p);
	int rc = 0;
	if (!sum || !p)
		rc = ct_error("out of memory for %lld x %d probabilities", (long long)n, k);
	/* head after head, each row's sum in head order: the same at any thread count */
	for (int j = 0; rc == 0 && j < nheads; j++) {
		if (ct_head_predict(heads[j], x, n, p) < 0) {
			rc = -1;
			break;
		}
		for (size_t i = 0; i < nk; i++)
			sum[i] += p[i];
	}
	for (size_t i = 0; rc == 0 && i < nk; i++)
		probs[i] = (float)(sum[i] / nheads);
	free(sum);
	free(p);
	return rc;
}

int ct_ensemble_write(hid_t file, const ct_head *heads, const uint64_t *seeds, const ct_train_log *logs, int nheads)
{
	if (nheads < 2)
		return 0;
	hid_t g = ct_h5_create_group(file, "ensemble");
	if (g < 0)
		return -1;
	int rc = 0;
	if (ct_h5_set_int(g, "heads", nheads) < 0 || ct_h5_set_str(g, "combine", "mean probability") < 0)
		rc = -1;
	for (int j = 1; rc == 0 && j < nheads; j++) {
		char name[32], seed[32];
		snprintf(name, sizeof name, "%d", j);
		snprintf(seed, sizeof seed, "%" PRIu64, seeds[j]);
		if (ct_head_group_write(g, name, &heads[j]) < 0) {
			rc = ct_error_prefix("ensemble");
			break;
		}
		hid_t m = H5Gopen2(g, name, H5P_DEFAULT);
		if (m < 0) {
			rc = ct_error("cannot open group 'ensemble/%s'", name);
			break;
		}
		if (ct_h5_set_str(m, "seed", seed) < 0 || ct_h5_set_int(m, "epochs", logs[j].epochs) < 0 ||
		    ct_h5_set_int(m, "best_epoch", logs[j].best_epoch) < 0 ||
		    ct_h5_set_int(m, "stopped_early", logs[j].stopped_early) < 0)
			rc = -1;
		H5Gclose(m);
	}
	H5Gclose(g);
	return rc;
}

void ct_ensemble_free(ct_head *members, int nheads)
{
	if (!members)
		return;
	for (int j = 0; j < nheads - 1; j++)
		ct_head_free(&members[j]);
	free(members);
}

int ct_ensemble_read(hid_t file, const ct_head *head0, int *nheads, ct_head **members)
{
	*nheads = 1;
	*members = NULL;
	if (!ct_h5_exists(file, "ensemble"))
		return 0;
	hid_t g = H5Gopen2(file, "ensemble", H5P_DEFAULT);
	if (g < 0)
		return ct_error("cannot open group 'ensemble'");
	int64_t k = 0;
	if (ct_h5_get_int(g, "heads", &k) < 0) {
		H5Gclose(g);
		return ct_error_prefix("group 'ensemble'");
	}
	H5Gclose(g);
	if (k < 2 || k > CT_ENSEMBLE_MAX)
		return ct_error("group 'ensemble': %lld heads (2 to %d)", (long long)k, CT_ENSEMBLE_MAX);
	ct_head *m = calloc((size_t)k, sizeof *m);
	if (!m)
		return ct_error("out of memory");
	int rc = 0;
	for (int j = 1; rc == 0 && j < k; j++) {
		char name[48];
		snprintf(name, sizeof name, "ensemble/%d", j);
		if (ct_head_group_read(file, name, &m[j - 1]) < 0)
			rc = -1;
		else if (m[j - 1].d_in != head0->d_in || m[j - 1].nclasses != head0->nclasses)
			rc = ct_error("group '%s' takes %d inputs to %d classes, /head %d to %d", name, m[j - 1].d_in,
				      m[j - 1].nclasses, head0->d_in, head0->nclasses);
	}
	if (rc < 0) {
		ct_ensemble_free(m, (int)k);
		return -1;
	}
	*nheads = (int)k;
	*members = m;
	return 0;
}
