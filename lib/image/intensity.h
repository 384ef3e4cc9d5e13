/* intensity.h - map decoded pixel values (uint8, uint16, float) to float32 in [0, 1].
 *
 *   window : optional Hounsfield mapping hu = v*slope + offset, then
 *            (hu - (level - width/2)) / width, clamped to [0, 1]
 *            (e.g. the lung window level -600, width 1500);
 *   minmax : (v - min) / (max - min) over the image (all colour channels), 0 if flat;
 *   none   : v / 255 for uint8, v / 65535 for uint16, clamp(v, 0, 1) for float;
 *   auto   : none for uint8 data, minmax for uint16 and float data.
 * Alpha channels are dropped (composited on black). The output has `channels`
 * channels (1 or 3): grey is replicated to 3; RGB to 1 uses ITU-R BT.601 luma
 * (0.299 R + 0.587 G + 0.114 B). */
#ifndef CT_INTENSITY_H
#define CT_INTENSITY_H

#include "core/tensor.h"

typedef enum ct_intensity_mode {
	CT_INTENSITY_AUTO = 0,
	CT_INTENSITY_WINDOW,
	CT_INTENSITY_MINMAX,
	CT_INTENSITY_NONE,
} ct_intensity_mode;

typedef struct ct_intensity {
	ct_intensity_mode mode;
	double level, width;       /* window, in the units after slope/offset */
	double slope, offset;      /* Hounsfield mapping; defaults 1 and 0 */
	int channels;              /* 1 or 3 */
	/* Multi-window channels (window mode, grey input, 3 output channels): with nwin == 3,
	 * channel k is the grey value through window (wlevel[k], wwidth[k]) - e.g. lung,
	 * mediastinum and bone windows as R, G, B. nwin 0 or 1: the one window above. */
	int nwin;
	double wlevel[3], wwidth[3];
} ct_intensity;

/* Named windows (level, width in HU): lung -600/1500, mediastinum 40/400, bone 400/1800,
 * brain 40/80, abdomen 40/350. Returns 0, or -1 for an unknown name. */
int ct_window_preset(const char *name, double *level, double *width);
/* A window specification: one window ("lung" or "LEVEL,WIDTH") or three separated by ':'
 * ("lung:mediastinum:bone", "-600,1500:40,400:400,1800"), set into p (level/width, and
 * nwin/wlevel/wwidth). Widths must be > 0. Returns 0, or -1 with a message. */
int ct_window_parse(const char *spec, ct_intensity *p);

void ct_intensity_defaults(ct_intensity *p); /* auto, slope 1, offset 0, 3 channels */

/* in: HxWxC (C 1..4, U8/U16/F32). out: newly allocated HxWxchannels F32.
 * NaN or Inf in float input is an error. */
int ct_intensity_apply(const ct_tensor *in, const ct_intensity *p, ct_tensor *out);

/* The same map one row at a time, for images too large to hold as floats:
 * ct_intensity_prepare checks `in` and `p` as ct_intensity_apply does and resolves the
 * constants (min-max needs one pass over `in`, which must outlive the map); then
 * ct_intensity_row writes row y (w x channels floats, packed) exactly as
 * ct_intensity_apply would. */
typedef struct ct_intensity_map {
	const ct_tensor *in;
	ct_intensity p;
	ct_intensity_mode mode; /* resolved: window, minmax or none */
	double k0, k1, amax;
	int ncol, alpha, multi;
} ct_intensity_map;
int ct_intensity_prepare(const ct_tensor *in, const ct_intensity *p, ct_intensity_map *m);
void ct_intensity_row(const ct_intensity_map *m, int64_t y, float *dst);

#endif
