/* gallery.h - what ct-explain shows: heat overlays (a colour map blended over the greyscale
 * slice, the lung-field outline drawn on top) and one self-contained HTML gallery whose
 * images are embedded as base64 data URIs, grouped into true/false positives/negatives. */
#ifndef CT_GALLERY_H
#define CT_GALLERY_H

#include "core/tensor.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

/* The colour of heat t in [0, 1] ("jet": blue, cyan, yellow, red). */
void ct_heat_colour(double t, uint8_t rgb[3]);

/* Overlay of one image: img H x W x C (C 1 or 3; uint8 0..255 or float 0..1) shown as grey,
 * heat H x W scaled by its maximum, blended with opacity 0.6 t (cool areas stay visible);
 * mask (H x W, may be NULL) outlined in magenta. out: new H x W x 3 uint8 tensor. */
int ct_overlay(const ct_tensor *img, const float *heat, const uint8_t *mask, ct_tensor *out);

/* Base64 (RFC 4648, padded) of n bytes: a malloc'd NUL-terminated string, NULL when out of memory. */
char *ct_base64(const void *buf, size_t n);

/* The gallery of an explain.json document (the object ct-explain writes; man/ct-explain.1):
 * summary tables, then one section per group (TP, FN, FP, TN, unlabelled) with the overlays
 * read from png_dir/<sample png>, at most max_per_group each (0: all; the first by row order,
 * the rest counted). Errors name the file that could not be read. */
int ct_gallery_write(FILE *f, const cJSON *doc, const char *png_dir, int max_per_group);

#endif
