/* ft_run.h - the inputs of ct-finetune --finetune: one cut file per backbone (ct-features
 * --cut), each checked against the first input's samples, the pretrained weights of the layers
 * above its cut (sha256 as recorded by ct-features), the sub-network built from them and the
 * activations of the rows used (train and val), read into memory. */
#ifndef CT_FT_RUN_H
#define CT_FT_RUN_H

#include "data/features.h"
#include "train/finetune.h"

/* The sources (one per input file), their activations for the used rows. */
typedef struct ct_ft_run {
	int nsrc;
	ct_ft_source src[8];
	ct_graph *g[8];
	char *backbone[8], *sha[8];
	float *x[8];
	ct_fblock *blocks;
	int64_t nuse, *idx; /* rows used (train or val), their indices in the files */
} ct_ft_run;

/* Open every cut file (paths[0] is the file f was read from), check it matches f's samples, load
 * its backbone's weights (weights_list: comma-separated files in input order, NULL or fewer:
 * NAME.h5 on the weights search path), the sub-network from its cut to its output layer
 * (outputs_list: comma-separated layers in input order, NULL, fewer or "" for one: the
 * backbone's feature layer) and the activations of the rows with role != CT_ROLE_NONE.
 * Errors name the file. */
int ct_ft_run_prepare(ct_ft_run *r, char *const *paths, int npaths, const ct_features *f, const uint8_t *role,
		      const char *weights_list, const char *outputs_list);
void ct_ft_run_free(ct_ft_run *r);

#endif
