/* tta.h - test-time augmentation: the augmented copies in a file (ct-augment names copy k of
 * row "NAME" "NAME#augk") scored with their original, the mean of their class probabilities
 * standing for the original (ct-score --tta, ct-finetune --cv --tta). */
#ifndef CT_TTA_H
#define CT_TTA_H

#include "data/dataset.h"

#include <stdint.h>

/* 1 if name is an augmented copy's ("...#aug" and digits at the end); *base_len: the length of
 * its original's name. */
int ct_tta_is_copy(const char *name, size_t *base_len);

/* orig[i] = the row of row i's original: i for an original, the row named like the copy
 * without its "#augk" suffix for a copy. *ncopies: the copies found. An error (naming `path`)
 * when a copy's original is not in the file, or is in another split or has another label. */
int ct_tta_origins(const ct_samples *s, const char *path, int64_t *orig, int64_t *ncopies);

/* probs (n x k): each original's row becomes the mean of its own and its copies' rows,
 * summed in row order (the same bits for any thread count); copies' rows are left as they
 * are. */
int ct_tta_mean(const int64_t *orig, int64_t n, int k, float *probs);

#endif
