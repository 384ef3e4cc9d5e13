/* phantom_set.h - class-folder data sets of synthetic CT slices (image/phantom.h):
 *
 * DIR/<class>/P0001_s01.png ...  one folder per class that has patients ("normal", "lesion");
 * DIR/patients.tsv               file<TAB>class<TAB>patient with a header line;
 * SPLIT/{TrainingTXT,ValidationTXT,TestingTXT}/{train,val,test}<class>.txt, one file name a
 * line, when split_dir is set. Keep SPLIT outside DIR: a folder inside DIR would read as a class. */
#ifndef CT_PHANTOM_SET_H
#define CT_PHANTOM_SET_H

#include "image/phantom.h"

#include <stdint.h>

typedef enum ct_phantom_format {
	CT_PHANTOM_PNG8 = 0, /* the window mapped to 0..255 */
	CT_PHANTOM_PNG16,    /* HU + 1024 as uint16, clamped to 0..65535 */
	CT_PHANTOM_TIFF,     /* float32 HU, one slice per file */
} ct_phantom_format;

/* "png8", "png16", "tiff" -> format; -1 with a message otherwise. */
int ct_phantom_parse_format(const char *name, ct_phantom_format *f);

typedef struct ct_phantom_set {
	ct_phantom_opts render;
	int patients;                 /* 1..CT_PHANTOM_MAX_PATIENTS */
	double lesion_fraction;       /* share of patients in class "lesion", 0..1 */
	ct_phantom_format format;
	double window_level, window_width; /* png8 only (default -600, 1500) */
	const char *split_dir;        /* also write COVID-CT style lists under it, or NULL */
	int force;                    /* write into a non-empty DIR (files are overwritten, none removed) */
} ct_phantom_set;

void ct_phantom_set_defaults(ct_phantom_set *s); /* 20 patients, fraction 0.5, png8 -600,1500, no split */

/* Class of every patient: lesion[i] = 1 for round(fraction * patients) patients chosen by a
 * seeded shuffle, else 0. Returns 0, or -1 when out of memory. */
int ct_phantom_assign(uint64_t seed, int patients, double fraction, uint8_t *lesion);

/* Split of every patient: 0 train, 1 val, 2 test; within each class round(0.2 n) patients go
 * to test, round(0.2 n) to val and the rest to train, chosen by a seeded shuffle, so the
 * split is patient-disjoint and stratified by class. Returns 0, or -1 when out of memory. */
int ct_phantom_split(uint64_t seed, int patients, const uint8_t *lesion, uint8_t *split);

/* Write the data set (creating directories as needed). Refuses a non-empty DIR unless force. */
int ct_phantom_write_set(const char *dir, const ct_phantom_set *s);

#endif
