/* subset.h - a reproducible share of the training patients, for learning curves: keep a
 * fraction of the groups (patients) of each class, nested across fractions for one seed, and
 * the same groups in every file with the same patients (features of any backbone, with or
 * without augmented copies). Used by ct-split --train-fraction. */
#ifndef CT_SUBSET_H
#define CT_SUBSET_H

#include "data/dataset.h"

#include <stdint.h>

/* keep[i] = 1 for the rows with use[i] != 0 (use NULL: all rows) whose group is among the
 * kept groups, 0 for every other row. A row's group is s->groups[i]; a row without one is a
 * group of its own keyed by its name up to "#aug" (so augmented copies follow their original).
 * A group's class is the most frequent label among its used rows (lowest on ties; unlabelled
 * rows count only when the group has no labelled row, as class -1). Within each class the
 * groups are ranked by a 64-bit hash of (seed, group key) - ties by the key - and the first
 * max(1, round(fraction x groups of the class)) are kept (all with fraction 1). The choice
 * depends only on the keys, classes and seed, not on row order, other rows or the file: a
 * smaller fraction keeps a subset of the groups of a larger one. fraction in (0, 1].
 * kept_groups / total_groups (may be NULL) receive the counts over all classes. */
int ct_subset_groups(const ct_samples *s, const uint8_t *use, double fraction, uint64_t seed, uint8_t *keep,
		     int64_t *kept_groups, int64_t *total_groups);

/* Rows of split "train" not kept by ct_subset_groups (over the train rows) get split "" (no
 * split: unused by training and scoring); val and test are unchanged. */
int ct_subset_train(ct_samples *s, double fraction, uint64_t seed, int64_t *kept_groups, int64_t *total_groups);

#endif
