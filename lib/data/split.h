/* split.h - seeded, stratified, group-aware (patient) train/val/test splits and
 * k-fold assignments, and leakage checks of existing splits (shared groups,
 * near-duplicate images across splits). Used by ct-split and ct-finetune. */
#ifndef CT_SPLIT_H
#define CT_SPLIT_H

#include "data/dataset.h"

#include <stddef.h>
#include <stdint.h>

/* Assign whole groups to `nbins` bins with target shares frac[nbins] (bins with
 * share 0 get nothing), stratified by label. Rows with use[i] == 0 (use may be
 * NULL: all rows) get bin -1. A sample with an empty group is a group of its own.
 * Groups are visited largest first (ties in a seeded random order) and each goes
 * to the bin where it most reduces the squared distance of the per-class counts
 * from their targets, so the result depends only on (samples, frac, seed). */
int ct_assign_groups(const ct_samples *s, const uint8_t *use, int nbins, const double *frac, uint64_t seed,
		     int32_t *bin);

/* Parse "A,B,C" into three non-negative shares summing to 1 (within 1e-6). */
int ct_split_parse_fractions(const char *str, double frac[3]);

/* Rewrite s->splits: train/val/test with shares frac[3], stratified and
 * group-aware. A split with a positive share that would lack a class present in
 * the data (or be empty) is an error. When the achieved shares differ from the
 * requested ones by more than 0.05 (whole groups cannot meet them), a note is
 * written into note (else note[0] = 0). */
int ct_split_make(ct_samples *s, const double frac[3], uint64_t seed, char *note, size_t notelen);

/* Every sample's split from the TSV `tsv` (column 2: train, val, test, or none / "-" for no
 * split; names matched as data/sourcetsv.h does); a sample it does not name, or another
 * value, is an error naming the TSV. */
int ct_split_assign(ct_samples *s, const char *tsv);

/* Fold index 0..k-1 for every sample with use[i] != 0 (NULL: all), -1 for the
 * others; groups are never split across folds, folds are stratified. A fold
 * lacking a class present among the used rows, or k larger than the number of
 * groups, is an error. */
int ct_folds_make(const ct_samples *s, const uint8_t *use, int k, uint64_t seed, int32_t *fold);

/* ---- leakage ---- */
typedef struct ct_leak_group {
	char *group;
	int64_t count[3]; /* samples in train, val, test */
} ct_leak_group;

typedef struct ct_leak_pair {
	int64_t a, b;     /* rows, a < b, in different splits */
	int distance;     /* Hamming distance of their dHashes */
} ct_leak_pair;

typedef struct ct_leak_report {
	int64_t ngroups;        /* distinct non-empty groups */
	int64_t nleaky;
	ct_leak_group *leaky;   /* groups found in more than one split */
	int64_t npairs;
	ct_leak_pair *pairs;    /* near-duplicates across splits, by (a, b) */
	int hashed;             /* 1 when images were hashed */
} ct_leak_report;

/* Groups shared between splits (samples without a group or a split are ignored). */
int ct_leak_groups(const ct_samples *s, ct_leak_report *r);
/* Pairs of rows in different (non-empty) splits whose hashes differ in at most
 * `threshold` bits. */
int ct_leak_duplicates(const ct_samples *s, const uint64_t *hash, int threshold, ct_leak_report *r);
void ct_leak_report_free(ct_leak_report *r);

/* dHash of every image of an open images file (read in batches, hashed in parallel). */
int ct_images_dhash(ct_images *im, uint64_t *hash);

/* Write into the created `out` a copy of the file `in` (images or features) whose
 * /splits are those of s (same rows as the input) and, when folds is non-NULL, with
 * a /folds int32 dataset (attribute k); every other dataset, group and root
 * attribute is copied unchanged, and the provenance is the input's chain plus run. */
int ct_split_rewrite(const char *in, ct_h5 *out, const ct_samples *s, const int32_t *folds, int k,
		     const ct_run *run);

/* ---- ct-split: a file in, a file out, or a leakage report ---- */
typedef struct ct_split_opts {
	const char *fractions; /* "TRAIN,VAL,TEST" shares (ct_split_parse_fractions) */
	uint64_t seed;
	int folds;             /* > 0: also assign train+val to k folds (/folds) */
	int keep_splits;       /* keep the input's splits (only add folds) */
	double train_fraction; /* > 0: keep the input's splits, only this share of the train groups */
	int hash_threshold;    /* leakage check: near-duplicates at most this many dHash bits apart */
	const char *assign;    /* non-NULL: a TSV "file<TAB>train|val|test|none" giving every sample's split */
} ct_split_opts;

/* The defaults: fractions 0.6,0.2,0.2, seed 42, no folds, hash threshold 4. */
void ct_split_opts_default(ct_split_opts *o);

typedef struct ct_split_summary {
	int64_t n, train, val, test;        /* samples in each split of the output */
	int64_t kept_groups, total_groups;  /* with train_fraction */
	char note[256];                     /* ct_split_make's note, or "" */
} ct_split_summary;

/* Read the samples of `in` (images or features), assign splits (ct_split_make), or keep them
 * and take a share of the train groups (ct_subset_train), or take them from a TSV (o->assign,
 * matched as data/sourcetsv.h matches; a sample it does not name is an error), add folds, check that kept splits
 * do not share a group, and write the output (ct_split_rewrite), committed or left out.
 * Errors name the file; bad fractions are a usage error (core/error.h ct_error_usage). */
int ct_split_file(const char *in, const char *out_path, int force, const ct_split_opts *o, const ct_run *run,
		  ct_split_summary *sum);

/* The leakage report of `path` on `out`: its groups by split, the groups in more than one
 * split, and for an images file the near-duplicate images in different splits (at most
 * o->hash_threshold bits apart); *leak = 1 when any was found. */
int ct_split_check(const char *path, const ct_split_opts *o, FILE *out, int *leak);

#endif
