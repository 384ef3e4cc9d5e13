/* nifti.h - NIfTI-1 and NIfTI-2 volumes (.nii, gzip-compressed or not; recognised by content)
 * through nifti_clib (Debian's libnifti2), cut into axial slices; slice selection.
 *
 * Orientation of the slices (the DICOM display convention for axial CT, seen from the feet):
 * row 0 is the most anterior row, rows run anterior -> posterior; column 0 is the patient's
 * right, columns run right -> left; slices are numbered from 0, inferior -> superior. The voxel
 * axes are matched to these directions from the file's best affine, as nibabel does: the sform
 * when sform_code > 0, else the qform when qform_code > 0, else the Analyze default
 * diag(-dx, dy, dz); each voxel axis goes to the closest patient axis (oblique volumes are not
 * resampled). Slice K of a file equals nibabel's
 *     c = nib.as_closest_canonical(img).get_fdata()[..., K]     (RAS+)
 *     slice = c[::-1, ::-1].T                                   (rows A->P, columns R->L)
 * Values are scl_slope * stored + scl_inter when scl_slope is finite and non-zero (else the
 * stored values), computed in double and rounded once to float. 4-D files: the first volume
 * (t = 0); more dimensions must have size 1. Complex and RGB data types are refused. */
#ifndef CT_NIFTI_H
#define CT_NIFTI_H

#include "core/tensor.h"

#include <stddef.h>
#include <stdint.h>

/* Which slices of a volume to keep (ct-convert --slices). */
typedef struct ct_slice_select {
	int64_t first, last;   /* index range, inclusive; last < 0: to the end */
	int64_t every;         /* keep first, first + every, ... (>= 1) */
	double lung;           /* > 0: keep only slices with at least this fraction of lung pixels */
} ct_slice_select;

/* "all", or comma-separated terms (all must hold): "range:A-B" (0-based, inclusive; "A-" to
 * the end), "every:K", "lung" (fraction 0.05) or "lung:F" (0 < F <= 1). */
int ct_slice_select_parse(const char *spec, ct_slice_select *s);
/* Lung pixels: -950 <= HU <= -400 (aerated lung; air outside the body is about -1000 HU and
 * soft tissue above -100 HU). The fraction of such pixels of a slice (channel 0). */
double ct_lung_fraction(const ct_tensor *hu);
/* Whether slice `index` (with values `hu`) is kept. */
int ct_slice_keep(const ct_slice_select *s, int64_t index, const ct_tensor *hu);

typedef struct ct_nifti {
	int version;          /* 1 or 2 */
	int64_t nx, ny, nz;   /* voxel dimensions as stored */
	int64_t nslices;      /* slices kept */
	ct_tensor *slices;    /* nslices tensors, rows x cols x 1 F32 (rows: A->P, cols: R->L) */
	int64_t *index;       /* slice number (inferior -> superior, from 0) of each kept slice */
} ct_nifti;

/* Whether the first bytes (decompressed) are a single-file NIfTI-1 or NIfTI-2 header
 * (either byte order). Give at least 352 bytes when the data has them. */
int ct_nifti_sniff(const void *buf, size_t len);
/* ct_nifti_sniff on a file, gzip-compressed or not: 1 NIfTI, 0 not, -1 unreadable. */
int ct_nifti_sniff_file(const char *path);

/* Read a volume and cut the slices that `sel` keeps (NULL: all). `max_pixels` (> 0) bounds a
 * slice's pixels, checked from the header; decoded data is bounded by 2 GiB. Errors name the
 * file: "'x.nii.gz': truncated NIfTI file". */
int ct_nifti_read(const char *path, int64_t max_pixels, const ct_slice_select *sel, ct_nifti *out);
void ct_nifti_free(ct_nifti *v);

#endif
