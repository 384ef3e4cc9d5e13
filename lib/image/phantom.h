/* phantom.h - synthetic axial chest CT slices in Hounsfield units, and class-folder data sets of them.
 *
 * A slice is drawn from three kinds of random streams of one seed, so that it depends only on
 * (seed, patient, slice, lesion) and never on the thread that renders it:
 *   anatomy  per patient: body size and shape, fat and muscle, lungs, heart, vessels, ribs;
 *   lesions  per patient: 3-d ground-glass opacities and consolidations inside the lungs;
 *   noise    per slice.
 * Slices of one patient are cross-sections at evenly spaced heights of the same 3-d model, so
 * they vary smoothly with the slice index. A lesion slice is its lesion-free twin (identical
 * pixels) plus opacities inside the lung mask: outside the lungs the two classes have the same
 * distribution, so a classifier can only learn from the lungs. */
#ifndef CT_PHANTOM_H
#define CT_PHANTOM_H

#include "core/tensor.h"

#include <stdint.h>

#define CT_PHANTOM_MAX_SLICES 998     /* slices per patient: streams are patient*1000+slice */
#define CT_PHANTOM_MAX_PATIENTS 100000

typedef struct ct_phantom_opts {
	int width, height;       /* pixels; anatomy scales with min(width, height) */
	int slices_per_patient;  /* 1..CT_PHANTOM_MAX_SLICES; the slab spans the mid chest */
	uint64_t seed;
	double noise_sd;         /* Gaussian noise, HU (default 20) */
	double blur_sigma;       /* Gaussian blur of the anatomy, pixels (default 0.7; 0 = none) */
} ct_phantom_opts;

void ct_phantom_defaults(ct_phantom_opts *o); /* 256x256, 5 slices, seed 1, noise 20, blur 0.7 */

/* Render slice `slice` (0-based) of patient `patient` (0-based), with lesions when `lesion` is
 * non-zero, into caller memory: hu[height*width] float HU, row-major; mask (may be NULL)
 * receives 1 on lung pixels (parenchyma with its vessels and small airways), else 0.
 * The mask does not depend on `lesion`. Returns 0, or -1 on bad arguments / out of memory. */
int ct_phantom_render_into(const ct_phantom_opts *o, int patient, int slice, int lesion, float *hu,
			   uint8_t *mask);

/* The same into newly allocated tensors: hu HxWx1 CT_F32; mask (may be NULL) HxWx1 CT_U8. */
int ct_phantom_render(const ct_phantom_opts *o, int patient, int slice, int lesion, ct_tensor *hu,
		      ct_tensor *mask);

/* Render n slices in parallel (OpenMP over slices) into out, an N x H x W x 1 CT_F32 tensor
 * allocated here; masks (may be NULL) an N x H x W x 1 CT_U8 tensor. */
int ct_phantom_render_batch(const ct_phantom_opts *o, int n, const int *patient, const int *slice,
			    const int *lesion, ct_tensor *out, ct_tensor *masks);

/* ---- data sets ----
 * DIR/<class>/P0001_s01.png ...  one folder per class that has patients ("normal", "lesion");
 * DIR/patients.tsv               file<TAB>class<TAB>patient with a header line;
 * SPLIT/{TrainingTXT,ValidationTXT,TestingTXT}/{train,val,test}<class>.txt, one file name a
 * line, when split_dir is set. Keep SPLIT outside DIR: a folder inside DIR would read as a class. */

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
