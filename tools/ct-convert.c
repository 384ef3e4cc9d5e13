/* ct-convert - image files (class folders, a TSV list, or paths on stdin) to an images file. */
#include "tool.h"

#include "data/convert.h"
#include "data/dataset.h"
#include "io/h5.h"

#include <string.h>
#include <sys/stat.h>

static const char *out_path, *size_s = "224", *window_s, *intensity_s = "auto", *fit_s = "stretch",
		  *filter_s = "area", *groups_s, *split_s, *label_s, *classes_s, *class_names_s;
static int unlabelled, channels = 3, as_float, skip_bad, force, threads, quiet, compress = 1;
static double hu_slope = 1.0, hu_offset = 0.0, max_mpix = 100.0;

static ct_opt options[] = {
	CT_OPT_STRING_('o', "output", &out_path, "FILE", "output images file ('-' for stdout)"),
	CT_OPT_STRING_('s', "size", &size_s, "N|WxH", "target size, e.g. 224, 299 or 320x240"),
	CT_OPT_INT_(0, "channels", &channels, "1|3", "output channels (grey is replicated to 3)", 1, 3),
	CT_OPT_CHOICE_(0, "intensity", &intensity_s, "auto|window|minmax|none",
		       "intensity mapping to [0,1] (auto: none for 8-bit data, minmax for 16-bit and float)"),
	CT_OPT_STRING_('w', "window", &window_s, "LEVEL,WIDTH",
		       "intensity window after the HU mapping, e.g. -600,1500 (lung); implies --intensity window"),
	CT_OPT_DOUBLE_(0, "hu-slope", &hu_slope, "A", "Hounsfield mapping: hu = value * A + B", 0, 0),
	CT_OPT_DOUBLE_(0, "hu-offset", &hu_offset, "B", "Hounsfield mapping offset (e.g. -1024)", 0, 0),
	CT_OPT_CHOICE_(0, "fit", &fit_s, "stretch|pad", "stretch to the target, or keep the aspect ratio and pad"),
	CT_OPT_CHOICE_(0, "filter", &filter_s, "area|bilinear", "antialiased resampling filter"),
	CT_OPT_FLAG_(0, "float", &as_float, "store float32 in [0,1] instead of uint8"),
	CT_OPT_STRING_('g', "groups", &groups_s, "TSV", "group (patient) ids: file<TAB>...<TAB>group, e.g. patients.tsv"),
	CT_OPT_STRING_(0, "split", &split_s, "DIR", "COVID-CT-style split lists (TrainingTXT/, ValidationTXT/, TestingTXT/)"),
	CT_OPT_STRING_(0, "classes", &classes_s, "A,B,...", "class folders to use (default: every sub-folder holding images)"),
	CT_OPT_STRING_('l', "label", &label_s, "CLASS", "class of the paths read from stdin (INPUT '-')"),
	CT_OPT_FLAG_('u', "unlabelled", &unlabelled,
		     "new images to classify: INPUT is a folder of images (or '-' for paths), labels -1"),
	CT_OPT_STRING_(0, "class-names", &class_names_s, "A,B,...",
		       "with --unlabelled: the class list of the model the images are for"),
	CT_OPT_DOUBLE_(0, "max-pixels", &max_mpix, "MPIX", "refuse images over this many megapixels", 0.000001, 1e5),
	CT_OPT_FLAG_(0, "skip-bad", &skip_bad, "skip unreadable images (counted in the output) instead of failing"),
	CT_OPT_INT_(0, "compress", &compress, "0-9", "deflate level of the images dataset", 0, 9),
	CT_OPT_THREADS_(threads),
	CT_OPT_FORCE_(force),
	CT_OPT_QUIET_(quiet),
	CT_OPT_END_,
};

static ct_cmd cmd = {
	"ct-convert",
	"[OPTIONS] INPUT [OUTPUT | -o OUTPUT]",
	"Convert CT images to an HDF5 images file (N x H x W x C) with labels, names, groups and splits.",
	"INPUT is a folder ROOT/<class>/<image>, a TSV list path<TAB>label[<TAB>group], or '-' for\n"
	"paths on stdin (with --label). Images are opened by content (PNG, JPEG, TIFF), never by name.\n"
	"Exit status: 0 success, 1 failure (bad input, unwritable output), 2 usage error.",
	options,
	1,
	2,
};

static int make_sources(const char *input, ct_sources *src)
{
	int rc;
	if (!strcmp(input, "-"))
		rc = ct_sources_from_lines(src, stdin, "standard input", unlabelled ? NULL : label_s);
	else if (unlabelled)
		rc = ct_sources_from_folder(src, input);
	else
		rc = -2;
	if (rc != -2) {
		if (rc == 0 && class_names_s && ct_sources_set_class_names(src, class_names_s) < 0) {
			ct_sources_free(src);
			return -1;
		}
		return rc;
	}
	struct stat st;
	if (stat(input, &st) < 0)
		return ct_error_errno("cannot open '%s'", input);
	if (S_ISDIR(st.st_mode))
		return ct_sources_from_tree(src, input, classes_s);
	return ct_sources_from_tsv(src, input);
}

/* A runtime failure after the sources were listed. */
static int fail_freeing(ct_sources *src)
{
	ct_sources_free(src);
	return ct_tool_fail(&cmd);
}

int main(int argc, char **argv)
{
	int nargs;
	char **args;
	ct_tool_parse(&cmd, argc, argv, &nargs, &args);
	if (ct_tool_output(&cmd, nargs, args, &out_path))
		return CT_EXIT_USAGE;
	if (!strcmp(args[0], "-") && !label_s && !unlabelled)
		return ct_tool_usage(&cmd, "paths on stdin (INPUT '-') need --label CLASS or --unlabelled");
	if (unlabelled && label_s)
		return ct_tool_usage(&cmd, "--unlabelled and --label exclude each other");
	if (class_names_s && !unlabelled)
		return ct_tool_usage(&cmd, "--class-names goes with --unlabelled (labelled data name their classes)");
	ct_convert_opts o;
	memset(&o, 0, sizeof o);
	ct_intensity_defaults(&o.intensity);
	if (ct_parse_size(size_s, &o.width, &o.height) < 0)
		return ct_tool_usage(&cmd, ct_last_error());
	if (channels == 2)
		return ct_tool_usage(&cmd, "--channels must be 1 or 3");
	o.intensity.channels = channels;
	o.intensity.slope = hu_slope;
	o.intensity.offset = hu_offset;
	if (!strcmp(intensity_s, "window"))
		o.intensity.mode = CT_INTENSITY_WINDOW;
	else if (!strcmp(intensity_s, "minmax"))
		o.intensity.mode = CT_INTENSITY_MINMAX;
	else if (!strcmp(intensity_s, "none"))
		o.intensity.mode = CT_INTENSITY_NONE;
	if (window_s) {
		if (ct_parse_pair(window_s, &o.intensity.level, &o.intensity.width) < 0)
			return ct_tool_usage(&cmd, ct_last_error());
		if (o.intensity.width <= 0)
			return ct_tool_usage(&cmd, "--window width must be positive");
		if (o.intensity.mode != CT_INTENSITY_AUTO && o.intensity.mode != CT_INTENSITY_WINDOW)
			return ct_tool_usage(&cmd, "--window conflicts with --intensity");
		o.intensity.mode = CT_INTENSITY_WINDOW;
	} else if (o.intensity.mode == CT_INTENSITY_WINDOW) {
		return ct_tool_usage(&cmd, "--intensity window needs --window LEVEL,WIDTH");
	}
	o.fit = !strcmp(fit_s, "pad") ? CT_FIT_PAD : CT_FIT_STRETCH;
	o.filter = !strcmp(filter_s, "bilinear") ? CT_FILTER_BILINEAR : CT_FILTER_AREA;
	o.as_float = as_float;
	o.max_pixels = (int64_t)(max_mpix * 1e6);
	o.skip_bad = skip_bad;
	ct_tool_threads(threads);

	ct_sources src;
	ct_converted conv;
	ct_h5 h;
	int64_t matched;
	if (make_sources(args[0], &src) < 0)
		return ct_tool_fail(&cmd);
	if (ct_sources_sort(&src) < 0 || (groups_s && ct_sources_set_groups(&src, groups_s, &matched) < 0) ||
	    (split_s && ct_sources_set_splits(&src, split_s, &matched) < 0))
		return fail_freeing(&src);
	for (int i = 0; i < src.nignored && !quiet; i++)
		fprintf(stderr, "ct-convert: note: '%s' holds no images; not a class folder\n", src.ignored[i]);
	for (int i = 0; i < src.nskipped; i++) /* even with --quiet: data left out */
		fprintf(stderr, "ct-convert: warning: %s\n", src.skipped[i]);
	/* Create the output before the long work, so an unwritable or existing output
	 * fails at once. */
	if (ct_h5_create(&h, out_path, force) < 0)
		return fail_freeing(&src);
	if (ct_convert(&src, &o, &conv) < 0) {
		ct_h5_abort(&h);
		return fail_freeing(&src);
	}
	char *cmdline = ct_cmdline(argc, argv), *params = ct_opts_json(&cmd);
	ct_run run = { "ct-convert", cmdline, params };
	hid_t f = h.file;
	int rc = ct_file_stamp(f, "images", &run, NULL, 0);
	if (rc == 0) {
		hid_t d = ct_h5_create_dataset(f, "images", conv.images.dtype, 4, conv.images.shape, 1, compress);
		rc = d < 0 ? -1 : ct_h5_write_rows_z(d, 0, &conv.images, compress);
		if (d >= 0)
			H5Dclose(d);
	}
	if (rc == 0)
		rc = ct_samples_write(f, &conv.s);
	if (rc == 0)
		rc = ct_h5_write(f, "orig_size", &conv.orig_size, 0, 0);
	if (rc == 0)
		rc = ct_h5_set_int(f, "skipped_count", conv.nskipped);
	if (rc == 0)
		rc = ct_h5_write_strings(f, "skipped", conv.skipped, conv.nskipped);
	if (rc == 0)
		rc = ct_h5_commit(&h);
	else
		ct_h5_abort(&h);
	if (rc == 0 && !quiet) {
		int64_t nosplit = split_s ? ct_samples_count(&conv.s, "", -2) : 0;
		fprintf(stderr, "ct-convert: %lld images, %d classes, %dx%dx%d %s -> %s", (long long)conv.s.n,
			conv.s.nclasses, o.width, o.height, channels, as_float ? "float32" : "uint8", out_path);
		if (conv.nskipped)
			fprintf(stderr, " (%lld bad files skipped)", (long long)conv.nskipped);
		if (nosplit)
			fprintf(stderr, " (%lld in no split list)", (long long)nosplit);
		fprintf(stderr, "\n");
	}
	free(cmdline);
	free(params);
	ct_converted_free(&conv);
	ct_sources_free(&src);
	return rc == 0 ? CT_EXIT_OK : ct_tool_fail(&cmd);
}
