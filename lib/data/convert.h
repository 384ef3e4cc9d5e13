/* convert.h - from image files to an images file: listing the inputs (class-folder
 * tree, TSV list, stdin), attaching groups and COVID-CT-style split lists, and
 * decoding + intensity mapping + resizing in parallel in a thread-independent order. */
#ifndef CT_CONVERT_H
#define CT_CONVERT_H

#include "core/tensor.h"
#include "data/dataset.h"
#include "image/intensity.h"
#include "image/resize.h"

#include <stdio.h>

/* One input file. */
typedef struct ct_source {
	char *path;   /* to open */
	char *name;   /* recorded name: path relative to the root / as listed */
	int label;
	char *group;  /* "" when unknown */
	char *split;  /* "" when unknown */
} ct_source;

typedef struct ct_sources {
	int64_t n;
	ct_source *v;
	int nclasses;
	char **classes;
	int nignored;
	char **ignored;  /* sub-folders of the root that hold no image (not classes) */
	int nskipped;
	char **skipped;  /* "'path': reason" for entries of class folders that are not read
			  * (sub-folders, dangling links, FIFOs, devices): the tool warns */
} ct_sources;

void ct_sources_free(ct_sources *s);
/* ROOT/<class>/<image>: classes are the sorted sub-folder names; hidden entries skipped.
 * Without `classes` (comma-separated folder names), a sub-folder counts as a class
 * when at least one of its files is an image by content; others (split lists,
 * metadata) are listed in s->ignored. An empty folder, a named class folder that
 * is missing, or a root without class folders is an error. */
int ct_sources_from_tree(ct_sources *s, const char *root, const char *classes);
/* TSV lines "path<TAB>label[<TAB>group]"; relative paths are taken relative to the
 * TSV's folder; a header line starting "path\t" is skipped; classes in order of
 * first appearance sorted by name. */
int ct_sources_from_tsv(ct_sources *s, const char *tsv);
/* One path per line from f, all with class `label`, or unlabelled (-1) when label is NULL. */
int ct_sources_from_lines(ct_sources *s, FILE *f, const char *what, const char *label);
/* The image files directly in a folder (hidden entries skipped), unlabelled (-1): new
 * images to classify. */
int ct_sources_from_folder(ct_sources *s, const char *dir);
/* Set the class list (comma-separated) of unlabelled sources, so that their files line
 * up with a model trained on those classes. */
int ct_sources_set_class_names(ct_sources *s, const char *csv);
/* Sort by name (the output order); duplicate names are an error. */
int ct_sources_sort(ct_sources *s);
/* Groups from a TSV whose first column is a file name (matched to the base name of
 * each source) and whose last column is the group; a header line "file..." is skipped.
 * Sources absent from the TSV keep "". Returns the number matched in *matched. */
int ct_sources_set_groups(ct_sources *s, const char *tsv, int64_t *matched);
/* COVID-CT-style split lists: DIR/{Training,Validation,Testing}TXT/ lists (.txt) or
 * DIR/{train,val,test}-prefixed .txt files, one file name a line (CRLF tolerated). A list naming a
 * file absent from the sources, or a file in two splits, is an error; so is a list
 * whose split cannot be told from its name. */
int ct_sources_set_splits(ct_sources *s, const char *dir, int64_t *matched);

typedef struct ct_convert_opts {
	int width, height;
	ct_intensity intensity;
	ct_fit fit;
	ct_filter filter;
	int as_float;        /* store float32 in [0,1] instead of uint8 */
	int64_t max_pixels;
	int skip_bad;
} ct_convert_opts;

typedef struct ct_converted {
	ct_tensor images;    /* N x H x W x C, U8 or F32 */
	ct_tensor orig_size; /* N x 2 I32 (height, width) */
	ct_samples s;
	int64_t nskipped;
	char **skipped;      /* "name: reason" */
} ct_converted;

/* Decode and convert every source (OpenMP over files). Multi-page files give one
 * sample per page, named "name#pK" (K from 1) after the first. With skip_bad, bad
 * files are skipped and listed; otherwise the first bad file (in sorted order) fails. */
int ct_convert(const ct_sources *src, const ct_convert_opts *o, ct_converted *out);
void ct_converted_free(ct_converted *c);

#endif
