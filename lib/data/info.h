/* info.h - what ct-info reports about any ctfuse HDF5 file: the summary (kind, schema,
 * datasets, classes and splits, groups, feature blocks, provenance) as text or JSON, the
 * content checksum verification, and the preprocessing behind a file. */
#ifndef CT_INFO_H
#define CT_INFO_H

#include <stdio.h>

/* Open `path` ('-': standard input), check it is a ctfuse file and write its summary to
 * `out`: the text table, or with `json` one JSON object. Errors name the file; output
 * errors are left to the caller (fflush). */
int ct_info_print(const char *path, int json, FILE *out);

/* Verify the whole-file checksum and the content checksum of every group and dataset of
 * `path` (verification is turned on for this and later opens) and write
 * "PATH: N objects match their checksums". A file without checksums is an error. */
int ct_info_verify(const char *path, FILE *out);

/* The pixel-changing ct-convert options behind `path` (data/preprocessing.h): 1 and *args
 * (malloc'd) when its provenance records a ct-convert run, 0 and *args = NULL when none,
 * -1 on an error naming the file. */
int ct_info_preprocessing(const char *path, char **args);

#endif
