/* convert.h - from image files to an images file: listing the inputs (class-folder
 * tree, TSV list, stdin), attaching groups and COVID-CT-style split lists, and
 * decoding + intensity mapping + resizing in parallel in a thread-independent order. */
#ifndef CT_CONVERT_H
#define CT_CONVERT_H

#include "core/tensor.h"
#include "data/dataset.h"
#include "data/groupkey.h"
#include "image/intensity.h"
#include "image/lung.h"
#include "image/nifti.h"
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
/* The files in a folder and its sub-folders (hidden entries skipped), unlabelled (-1):
 * new images to classify; names are paths below the folder ("sub/x.png"). */
int ct_sources_from_folder(ct_sources *s, const char *dir);
/* Set the class list (comma-separated), so that the labels line up with a model trained
 * on those classes: labelled sources are renumbered to the new order, and a class of the
 * data that is not in the list is an error. */
int ct_sources_set_class_names(ct_sources *s, const char *csv);
/* Rename classes: "FROM=TO,..." (e.g. a folder 'COVID' to a model's 'CT_COVID'). A FROM
 * that is not a class of the data, or a TO that is another class, is an error. */
int ct_sources_map_classes(ct_sources *s, const char *map);
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

/* Everything that says which files ct-convert reads, with which labels, groups and splits. */
typedef struct ct_sources_spec {
	const char *input;       /* folder ROOT/<class>/<image>, a TSV list, or "-": paths on stdin */
	int unlabelled;          /* new images: INPUT a folder of images (or "-"), labels -1 */
	const char *label;       /* the class of the paths on stdin (labelled "-") */
	const char *classes;     /* class folders to use (comma-separated), or NULL: every one */
	const char *class_map;   /* ct_sources_map_classes, or NULL */
	const char *class_names; /* ct_sources_set_class_names, or NULL */
	const char *groups_tsv;  /* ct_sources_set_groups, or NULL */
	const char *split_dir;   /* ct_sources_set_splits, or NULL */
} ct_sources_spec;

/* List the sources of `spec` (stdin lines, a folder of unlabelled images, a class-folder tree
 * or a TSV list, told apart by what INPUT is), rename and reorder the classes, sort by name
 * and attach groups and splits. On failure nothing is left to free. */
int ct_sources_list(ct_sources *s, const ct_sources_spec *spec);

/* Keep shard `sh` (data/shard.h) of the sorted list: fp = the fingerprint of the whole list
 * (ct_shard_fingerprint_sources), *total its length; an empty shard is an error. */
struct ct_shard;
int ct_sources_shard(ct_sources *s, const struct ct_shard *sh, char fp[65], int64_t *total);

typedef struct ct_convert_opts {
	int width, height;
	ct_intensity intensity;
	ct_fit fit;
	ct_filter filter;
	int as_float;        /* store float32 in [0,1] instead of uint8 */
	int64_t max_pixels;
	int skip_bad;
	/* Lung-field preprocessing (image/lung.h) after the intensity mapping, before resizing.
	 * With clean, crop or standardise the image becomes grey (luma, replicated to the output
	 * channels); with any of them or lung_mask, the lung field is returned as lung_mask. */
	ct_lung_opts lung;
	int lung_mask;
	/* Format equalisation (image/equalise.h), after the lung step, before resizing: grey,
	 * equalise_size square, one JPEG round trip at equalise_quality. 0: off. */
	int equalise_size, equalise_quality;
	/* DICOM and NIfTI inputs (their values are Hounsfield units already: the intensity's
	 * slope/offset apply to PNG/JPEG/TIFF inputs only). */
	ct_slice_select slices;      /* NIfTI slices to keep (every == 0: all) */
	int groups_from;             /* CT_GROUPS_*: groups from the DICOM tags, a NIfTI file one group */
	int anonymise;               /* sample names replaced by keyed hashes */
	const ct_group_key *key;     /* the key of those hashes (needed by both) */
	/* called with (ctx, files done, files) as files finish, one call at a time; may be NULL */
	void (*progress)(void *ctx, int64_t done, int64_t total);
	void *progress_ctx;
} ct_convert_opts;

enum { CT_GROUPS_NONE = 0, CT_GROUPS_PATIENT, CT_GROUPS_STUDY };

/* The defaults: the target size 224, intensity auto (ct_intensity_defaults: 3 channels, slope 1,
 * offset 0), stretch, area filter, uint8, at most 100 megapixels, every NIfTI slice, the lung
 * options off (ct_lung_defaults: margin 0.1), no groups from DICOM, no anonymising. */
void ct_convert_opts_default(ct_convert_opts *o);

typedef struct ct_converted {
	ct_tensor images;    /* N x H x W x C, U8 or F32 */
	ct_tensor orig_size; /* N x 2 I32 (height, width) */
	ct_tensor nuisance;  /* N x CT_NUISANCE_COUNT F32: source attributes (image/nuisance.h) */
	ct_samples s;
	int64_t nskipped;
	char **skipped;      /* "name: reason" */
	ct_tensor lung_mask; /* N x H x W U8 (1 on the lung field) when requested, else empty */
	int64_t lung_not_found; /* images in which no lung field was found (all-zero mask rows) */
	int64_t nnot_image;  /* DICOM files without pixel data (DICOMDIR, reports), left out */
	int64_t ndicom, nnifti; /* files of each kind converted */
	/* digest of the source files, for the provenance: SHA-256 (hex) over every source in
	 * order, its recorded name (the keyed hash with anonymise), a NUL, the hex SHA-256 of its
	 * bytes ("" when it could not be read) and a newline; over `nsources` files */
	char sources_sha256[65];
	int64_t nsources;
} ct_converted;

/* Decode and convert every source (OpenMP over files), recognised by content: PNG, JPEG,
 * TIFF, DICOM, NIfTI. Multi-page files (TIFF pages, DICOM frames) give one sample per page,
 * named "name#pK" (K from 1) after the first; a NIfTI volume one sample per kept slice,
 * "name#zK" (K the slice number, from 0, inferior -> superior). Rows follow the sources'
 * order, except that the files of one DICOM series (same folder and SeriesInstanceUID) are
 * ordered by their position along the slice normal (else InstanceNumber), as one block
 * where its first file by name would be; frames of an Enhanced multi-frame file likewise.
 * With skip_bad, bad files are skipped and listed; otherwise the first bad file (in sorted
 * order) fails. DICOM files without pixel data are left out (counted in nnot_image). */
int ct_convert(const ct_sources *src, const ct_convert_opts *o, ct_converted *out);
void ct_converted_free(ct_converted *c);

#endif
