/* dicom.h - DICOM images through GDCM (lib/image/dicom_gdcm.cc, a C++ shim behind this C
 * header): pixels as modality values (Hounsfield units for CT), the tags that order slices
 * and group patients, and recognition by content.
 *
 * Decoded frames are HxWxC CT_F32 tensors of modality values: stored value * RescaleSlope +
 * RescaleIntercept (defaults 1 and 0; Enhanced CT: the shared or per-frame Pixel Value
 * Transformation), computed in double and rounded once to float - what pydicom's
 * apply_modality_lut gives. C is the Samples per Pixel (1, or 3 for colour: RGB, interleaved;
 * 8-bit full-range YCbCr converted with ITU-R BT.601 as pydicom's convert_color_space). Pixels
 * are not reoriented: row 0 is the first stored row. MONOCHROME1 is not
 * inverted (the values stay modality values). 1-bit data (segmentations) is unpacked to 0/1. */
#ifndef CT_DICOM_H
#define CT_DICOM_H

#include "core/tensor.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Tags read from a file. patient_id and the UIDs identify a person: callers must never
 * write them out (only keyed hashes of them; lib/data/convert.c). */
typedef struct ct_dicom_info {
	int rows, cols, samples, nframes;
	int has_position;          /* ImagePositionPatient and ImageOrientationPatient present */
	double position[3];        /* of the first frame, in mm (patient LPS) */
	double normal[3];          /* row direction x column direction */
	int instance;              /* InstanceNumber; 0 when absent */
	double slope, intercept;   /* top-level Rescale Slope / Intercept (1, 0 when absent) */
	char patient_id[72];       /* PatientID, trimmed; "" when absent */
	char study_uid[72];        /* StudyInstanceUID */
	char series_uid[72];       /* SeriesInstanceUID */
	char transfer_syntax[72];  /* UID */
	char photometric[20];      /* MONOCHROME2, RGB, ... as stored */
	int lossy;                 /* the pixel data went through lossy compression */
} ct_dicom_info;

typedef struct ct_dicom {
	ct_dicom_info info;
	ct_tensor *frames;   /* info.nframes tensors, each rows x cols x samples F32 */
	double *frame_pos;   /* per-frame position along info.normal (Enhanced multi-frame
				with per-frame Plane Position), or NULL */
} ct_dicom;

/* Whether the first bytes are DICOM: "DICM" at offset 128 (Part 10 file), or a data set
 * without preamble whose first element is a plausible group 0002/0008 element in explicit
 * (little or big endian) or implicit VR. Give at least 132 bytes when the file has them. */
int ct_dicom_sniff(const void *buf, size_t len);

/* Read and decode a file. `max_pixels` (> 0) bounds rows x cols, checked before the pixel
 * data is decompressed; the decoded size is bounded by 2 GiB. Returns 0; -1 with a message
 * naming the file ("'x.dcm': truncated or damaged DICOM file", "... unsupported transfer
 * syntax ..."); or -2 for a DICOM file that holds no image (DICOMDIR, structured report,
 * RT plan...), message "'x': no pixel data (not an image)". */
int ct_dicom_read(const char *path, int64_t max_pixels, ct_dicom *out);

void ct_dicom_free(ct_dicom *d);

#ifdef __cplusplus
}
#endif

#endif
