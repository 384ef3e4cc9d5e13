/* sourcetsv.h - a value per sample (its source, its split...) from a TSV whose first column
 * names a file: matched to a sample name exactly, or with any '#augK' / '#pK' suffix dropped,
 * or by its base name with the suffix dropped (augmented copies and patches follow their
 * image); a header line whose first column is "file" or "name" is skipped. */
#ifndef CT_SOURCETSV_H
#define CT_SOURCETSV_H

#include "data/dataset.h"

#define CT_TSV_UNKNOWN "(unknown)"

/* Source of every sample from the TSV's column `column` (1-based; 0 = the last column).
 * src[i] is malloc'd ("(unknown)" when unnamed). */
int ct_sources_tsv_read(const char *tsv, int column, const ct_samples *s, char ***src, char **column_name);

#endif
