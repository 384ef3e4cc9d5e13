/* shard.h - splitting a stage's input into N shards (--shard K/N) and merging the shard
 * files back into the file one unsharded run writes (ct-merge).
 *
 * Shard K of N (1-based) takes the contiguous range [floor((K-1) T / N), floor(K T / N))
 * of the T input units (input rows for ct-augment and ct-features, input image files in
 * sorted order for ct-convert), so the shards in order K = 1..N are the unsharded output's
 * rows in order, whatever machine ran each. A shard file records root attributes `shard`
 * ("K/N"), `shard_first`, `shard_end`, `shard_of` (T) and `input_fingerprint`
 * (docs/formats.md), which the merge checks. */
#ifndef CT_SHARD_H
#define CT_SHARD_H

#include "io/h5.h"

#include <stdint.h>

typedef struct ct_shard {
	int k, n;  /* shard k of n, 1 <= k <= n; n = 0: not sharded */
} ct_shard;

/* Parse "K/N" (1 <= K <= N <= 1000000). Returns 0, or -1 with a usage message. */
int ct_shard_parse(const char *s, ct_shard *sh);
/* The units [*first, *end) of `total` that shard `sh` takes (everything when not sharded). */
void ct_shard_range(const ct_shard *sh, int64_t total, int64_t *first, int64_t *end);
/* An empty shard (more shards than units) is an error naming them ("input rows", "image
 * files"): a merge would not know it was meant to be empty. */
int ct_shard_check(const ct_shard *sh, int64_t total, const char *units);
/* Record the shard attributes on a file being written (nothing when not sharded). */
int ct_shard_stamp(hid_t file, const ct_shard *sh, int64_t total);

/* The identity of the run that produced a file, from its provenance: the last entry without
 * its command line and the parameters that do not change the content (output, shard, threads,
 * force, quiet, resume, weights path); for a merged file, that of its shards. So an unsharded
 * file and the merge of its shards have the same identity (malloc'd; NULL when out of memory). */
char *ct_shard_run_identity(char *const *prov, int64_t nprov);
/* sha256 (hex) identifying an input: its sample names and its run identity (images), or the sorted source list with labels, groups and splits (ct-convert). */
struct ct_images;
struct ct_sources;
void ct_shard_fingerprint_images(const struct ct_images *in, char hex[65]);
void ct_shard_fingerprint_sources(const struct ct_sources *src, char hex[65]);

/* Merge shard files (any order) into `out_path`: checks that they are the N shards of one
 * run, each once (naming the missing or clashing shard otherwise), written by the same tool
 * with the same parameters from the same input, and complete; then concatenates the per-row
 * datasets in shard order. The datasets equal those of an unsharded run; the provenance is
 * shard 1's chain plus the ct-merge entry `run_entry`. */
typedef struct ct_merge_run {
	const char *command;  /* ct-merge's command line */
	const char *params;   /* and its parameters (JSON) */
} ct_merge_run;
int ct_shard_merge(char *const *paths, int npaths, const char *out_path, int force, const ct_merge_run *run,
		   int64_t *rows_out, int *nshards);

#endif
