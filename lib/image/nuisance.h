/* nuisance.h - attributes of an image that say where it comes from, not what it shows:
 * its stored size, file format and channels, its intensity histogram, and its borders and
 * text-like content (figure margins, captions, arrows, coloured annotations). A classifier
 * that separates the classes from these alone has found a shortcut in the data
 * (lib/metrics/audit.h); ct-convert records them per image (docs/formats.md, /nuisance).
 * Every attribute belongs to one group, so the audit can tell which kind of shortcut works. */
#ifndef CT_NUISANCE_H
#define CT_NUISANCE_H

#include "core/tensor.h"

enum { CT_NUI_SIZE = 0, CT_NUI_FORMAT, CT_NUI_INTENSITY, CT_NUI_BORDER, CT_NUI_NGROUPS };

#define CT_NUISANCE_COUNT 34

/* Name ("orig_height", ...) and group (CT_NUI_*) of attribute k. */
extern const char *const ct_nuisance_names[CT_NUISANCE_COUNT];
extern const int ct_nuisance_group[CT_NUISANCE_COUNT];
extern const char *const ct_nuisance_group_names[CT_NUI_NGROUPS]; /* "size", "format", "intensity", "border_text" */

/* Attributes of a decoded page (H x W x C, C 1..4; U8, U16 or F32) stored as `format`
 * ("png", "jpeg", "tiff", or other) at `bit_depth`: out[CT_NUISANCE_COUNT], all finite. */
int ct_nuisance(const ct_tensor *page, const char *format, int bit_depth, float *out);

#endif
