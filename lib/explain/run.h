/* run.h - ct-explain's whole run: a model and an images file in, an output folder out
 * (overlay PNGs, gallery.html, explain.json) built under a temporary name and renamed when
 * complete, plus the JSON document (man/ct-explain.1 describes its members). */
#ifndef CT_EXPLAIN_RUN_H
#define CT_EXPLAIN_RUN_H

#include "data/dataset.h"

#include <cjson/cJSON.h>

typedef struct ct_explain_opts {
	const char *model_path, *images_path;
	const char *also_path;    /* the same images at another size (a backbone of that input size
				   * reads them, as ct-features did), or NULL */
	const char *split;        /* train, val, test, all; NULL: test if the file has test rows, else all */
	const char *positive;     /* positive class name; NULL: the metrics file's, else ct_positive_class */
	double threshold;         /* used when threshold_set */
	int threshold_set;
	const char *metrics_path; /* ct-score --json output; NULL: metrics.json beside the model, if any */
	const char *weights_dir;  /* NULL: $CT_WEIGHTS_DIR, else weights */
	int batch;
	int max_per_group;        /* gallery: overlays shown per group (0: all) */
	const char *dump_path;    /* debug HDF5 of every intermediate (docs/formats.md), or NULL */
	int force;                /* overwrite the dump file */
	const ct_run *run;
} ct_explain_opts;

/* Explain the images into the existing empty folder dir; *doc receives the explain.json
 * document (also written there). Errors name the file concerned. */
int ct_explain_run(const ct_explain_opts *o, const char *dir, cJSON **doc);

/* An output folder built under a temporary name beside `path` and renamed into place:
 * create refuses an existing path unless force (and then only a folder that is empty or
 * holds an explain.json, with no sub-folders: a previous output). */
typedef struct ct_outdir {
	char *path, *tmp;
	int force;
} ct_outdir;
int ct_outdir_create(ct_outdir *d, const char *path, int force);
int ct_outdir_commit(ct_outdir *d);
void ct_outdir_abort(ct_outdir *d);

#endif
