/* ct-augment - random shear/rotation/shift/zoom/flip copies of the training images, with
 * optional contrast/gamma/noise/blur/resolution perturbations. */
#include "tool.h"

#include "cli/progress.h"
#include "data/augment.h"
#include "data/shard.h"

#include <string.h>

/* the table points into the library's options; defaults from ct_augment_opts_default */
static ct_augment_opts o;
static const char *out_path, *fill_s = "nearest", *zoom_s, *shard_s;
static double shift_h, zoom; /* as given: --shift-h defaults to --shift, --zoom is a range */
static int force, threads, quiet;

static const int fill_v[] = { CT_FILL_NEAREST, CT_FILL_CONSTANT, CT_FILL_REFLECT, CT_FILL_WRAP };
_Static_assert(sizeof(ct_fill) == sizeof(int), "--fill sets the enum through an int");

static ct_opt options[] = {
	CT_OPT_STRING_('o', "output", &out_path, "FILE", "output images file ('-' for stdout)"),
	CT_OPT_INT_('n', "copies", &o.copies, "N", "augmented copies per image (originals are kept)", 0, 100000),
	CT_OPT_DOUBLE_(0, "shear", &o.p.shear, "DEG", "shear ('miscut') range in degrees, uniform in [-DEG, DEG]", 0, 89),
	CT_OPT_DOUBLE_(0, "rotate", &o.p.rotation, "DEG", "rotation range in degrees, uniform in [-DEG, DEG]", 0, 360),
	CT_OPT_DOUBLE_(0, "shift", &o.p.width_shift, "F", "width and height shift as a fraction of the size", 0, 1),
	CT_OPT_DOUBLE_(0, "shift-h", &shift_h, "F", "height shift fraction (default: as --shift)", 0, 1),
	CT_OPT_DOUBLE_(0, "zoom", &zoom, "Z", "zoom range: scale uniform in [1-Z, 1+Z] per axis", 0, 0.99),
	CT_OPT_STRING_(0, "zoom-range", &zoom_s, "LO,HI", "zoom range as two bounds (overrides --zoom)"),
	CT_OPT_FLAG_(0, "hflip", &o.p.hflip, "random horizontal flips"),
	CT_OPT_FLAG_(0, "vflip", &o.p.vflip, "random vertical flips"),
	CT_OPT_CHOICE_ENUM_(0, "fill", &fill_s, "nearest|constant|reflect|wrap", (int *)&o.p.fill, fill_v,
			    "how points outside the image are filled"),
	CT_OPT_DOUBLE_(0, "cval", &o.p.cval, "V", "fill value for --fill constant (image units)", 0, 0),
	CT_OPT_DOUBLE_(0, "contrast", &o.ph.contrast, "C", "contrast factor uniform in [1-C, 1+C] about the image mean", 0, 0.9),
	CT_OPT_DOUBLE_(0, "gamma", &o.ph.gamma, "G", "gamma exp(u), u uniform in [-G, G]", 0, 1),
	CT_OPT_DOUBLE_(0, "noise", &o.ph.noise, "S", "Gaussian noise, sd uniform in [0, S] (grey levels 0..1)", 0, 0.5),
	CT_OPT_DOUBLE_(0, "blur", &o.ph.blur, "B", "Gaussian blur, sigma uniform in [0, B] pixels", 0, 10),
	CT_OPT_DOUBLE_(0, "resolution", &o.ph.resolution, "R",
		       "resolution loss: shrink to a scale uniform in [R, 1] and enlarge back (1: off)", 0.1, 1),
	CT_OPT_U64_(0, "seed", &o.seed, "S", "random seed"),
	CT_OPT_FLAG_(0, "all", &o.all, "augment every split, not only train"),
	CT_OPT_INT_(0, "compress", &o.compress, "0-9", "deflate level of the images dataset", 0, 9),
	CT_OPT_STRING_(0, "shard", &shard_s, "K/N", "only input rows of shard K of N (join with ct-merge)"),
	CT_OPT_THREADS_(threads),
	CT_OPT_FORCE_(force),
	CT_OPT_QUIET_(quiet),
	CT_OPT_END_,
};

static ct_cmd cmd = {
	"ct-augment",
	"[OPTIONS] INPUT [OUTPUT | -o OUTPUT]",
	"Expand the training images of an images file with random affine copies (Keras\n"
	"ImageDataGenerator semantics, bilinear resampling); val/test rows pass through unchanged.",
	"Each output row records its source row (source_index) and 2x3 matrix (affine), and with\n"
	"photometric options its draws (photometric); a lung_mask is warped along (nearest).\n"
	"The same seed gives byte-identical output for any number of threads.\n"
	"Exit status: 0 success, 1 failure, 2 usage error.",
	options,
	1,
	2,
};

int main(int argc, char **argv)
{
	int nargs;
	char **args;
	ct_augment_opts_default(&o);
	ct_tool_parse(&cmd, argc, argv, &nargs, &args);
	if (ct_tool_output(&cmd, nargs, args, &out_path))
		return CT_EXIT_USAGE;
	o.p.height_shift = ct_opts_seen(&cmd, "shift-h") ? shift_h : o.p.width_shift;
	o.p.zoom_lo = 1.0 - zoom;
	o.p.zoom_hi = 1.0 + zoom;
	if (zoom_s) {
		if (ct_parse_pair(zoom_s, &o.p.zoom_lo, &o.p.zoom_hi) < 0)
			return ct_tool_usage(&cmd, ct_last_error());
		if (o.p.zoom_lo <= 0 || o.p.zoom_hi < o.p.zoom_lo)
			return ct_tool_usage(&cmd, "--zoom-range needs 0 < LO <= HI");
	}
	if (ct_photo_check(&o.ph) < 0)
		return ct_tool_usage(&cmd, ct_last_error());
	ct_shard shard = { 0, 0 };
	if (shard_s && ct_shard_parse(shard_s, &shard) < 0)
		return ct_tool_usage(&cmd, ct_last_error());
	ct_tool_threads(threads);
	ct_images in;
	if (ct_images_open(&in, args[0]) < 0)
		return ct_tool_fail(&cmd);
	char *cmdline = ct_cmdline(argc, argv), *params = ct_opts_json(&cmd);
	ct_run run = { "ct-augment", cmdline, params };
	int64_t nout = 0;
	ct_progress pr;
	ct_progress_init(&pr, stderr, "ct-augment", "images", 0, 1, quiet);
	o.progress = ct_progress_callback;
	o.progress_ctx = &pr;
	int rc = ct_augment_file(&in, out_path, force, &o, &shard, &run, &nout);
	if (rc == 0 && !quiet)
		fprintf(stderr, "ct-augment: %lld images in, %lld out (%d copies of each %s image)%s%s -> %s\n",
			(long long)(o.row1 - o.row0), (long long)nout, o.copies, o.all ? "" : "train",
			shard_s ? ", shard " : "", shard_s ? shard_s : "", out_path);
	free(cmdline);
	free(params);
	ct_images_close(&in);
	return rc == 0 ? CT_EXIT_OK : ct_tool_fail(&cmd);
}
