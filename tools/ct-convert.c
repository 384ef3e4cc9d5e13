/* ct-convert - image files (class folders, a TSV list, or paths on stdin) to an images file. */
#include "tool.h"

#include "core/json.h"

#include "cli/progress.h"
#include "data/convert.h"
#include "data/images.h"
#include "data/shard.h"

#include <stdlib.h>
#include <string.h>

/* the table points into the library's options; defaults from ct_convert_opts_default */
static ct_convert_opts o;
static const char *out_path, *size_s = "224", *window_s, *intensity_s = "auto", *fit_s = "stretch",
		  *filter_s = "area", *groups_s, *split_s, *label_s, *classes_s, *class_names_s, *class_map_s, *shard_s;
static int unlabelled, force, threads, quiet, compress = CT_IMAGES_COMPRESS;
static const char *slices_s = "all", *group_key_s;
static double max_mpix = 100.0; /* o.max_pixels in megapixels */
static const char *standardise_s = "none", *equalise_s;

/* choices and the enums they set, in the order of their choices (NULL: 0, 1, ...) */
static const int intensity_v[] = { CT_INTENSITY_AUTO, CT_INTENSITY_WINDOW, CT_INTENSITY_MINMAX, CT_INTENSITY_NONE };
_Static_assert(CT_FIT_STRETCH == 0 && CT_FIT_PAD == 1 && CT_FILTER_AREA == 0 && CT_FILTER_BILINEAR == 1,
	       "--fit and --filter choices follow the enums");
_Static_assert(sizeof(ct_intensity_mode) == sizeof(int) && sizeof(ct_fit) == sizeof(int) &&
		       sizeof(ct_filter) == sizeof(int),
	       "the choices set the enums through an int");

static ct_opt options[] = {
	CT_OPT_STRING_('o', "output", &out_path, "FILE", "output images file ('-' for stdout)"),
	CT_OPT_STRING_('s', "size", &size_s, "N|WxH", "target size, e.g. 224, 299 or 320x240"),
	CT_OPT_INT_(0, "channels", &o.intensity.channels, "1|3", "output channels (grey is replicated to 3)", 1, 3),
	CT_OPT_CHOICE_ENUM_(0, "intensity", &intensity_s, "auto|window|minmax|none", (int *)&o.intensity.mode, intensity_v,
		       "intensity mapping to [0,1] (auto: none for 8-bit data, minmax for 16-bit and float)"),
	CT_OPT_STRING_('w', "window", &window_s, "W[:W:W]",
		       "intensity window W = LEVEL,WIDTH or lung, mediastinum, bone, brain, abdomen; three "
		       "windows give R, G, B (e.g. lung:mediastinum:bone); implies --intensity window"),
	CT_OPT_DOUBLE_(0, "hu-slope", &o.intensity.slope, "A", "Hounsfield mapping: hu = value * A + B", 0, 0),
	CT_OPT_DOUBLE_(0, "hu-offset", &o.intensity.offset, "B", "Hounsfield mapping offset (e.g. -1024)", 0, 0),
	CT_OPT_CHOICE_ENUM_(0, "fit", &fit_s, "stretch|pad", (int *)&o.fit, NULL, "stretch to the target, or keep the aspect ratio and pad"),
	CT_OPT_CHOICE_ENUM_(0, "filter", &filter_s, "area|bilinear", (int *)&o.filter, NULL, "antialiased resampling filter"),
	CT_OPT_FLAG_(0, "float", &o.as_float, "store float32 in [0,1] instead of uint8"),
	CT_OPT_STRING_('g', "groups", &groups_s, "TSV|dicom|dicom-study",
		       "group (patient) ids: file<TAB>...<TAB>group (e.g. patients.tsv), or from the DICOM PatientID "
		       "(dicom) or StudyInstanceUID (dicom-study) as keyed hashes; a NIfTI file is one group"),
	CT_OPT_STRING_(0, "group-key", &group_key_s, "FILE",
		       "secret key of the hashed groups and names (default: ~/.config/ctfuse/group.key, made if missing)"),
	CT_OPT_FLAG_(0, "anonymise", &o.anonymise,
		     "replace sample names (file paths) by keyed hashes, and paths in the recorded command by <path>"),
	CT_OPT_STRING_(0, "slices", &slices_s, "SPEC",
		       "NIfTI slices to keep: all, or range:A-B, every:K, lung[:F] (comma-separated, all must hold)"),
	CT_OPT_STRING_(0, "split", &split_s, "DIR", "COVID-CT-style split lists (TrainingTXT/, ValidationTXT/, TestingTXT/)"),
	CT_OPT_STRING_(0, "classes", &classes_s, "A,B,...", "class folders to use (default: every sub-folder holding images)"),
	CT_OPT_STRING_('l', "label", &label_s, "CLASS", "class of the paths read from stdin (INPUT '-')"),
	CT_OPT_FLAG_('u', "unlabelled", &unlabelled,
		     "new images to classify: INPUT is a folder of images (or '-' for paths), labels -1"),
	CT_OPT_STRING_(0, "class-names", &class_names_s, "A,B,...",
		       "the class list (in order) of the model the images are for; every class of the data must be in it"),
	CT_OPT_STRING_(0, "class-map", &class_map_s, "FROM=TO,...",
		       "rename classes of the data before --class-names, e.g. COVID=CT_COVID,normal=CT_NonCOVID"),
	CT_OPT_DOUBLE_(0, "max-pixels", &max_mpix, "MPIX", "refuse images over this many megapixels", 0.000001, 1e5),
	CT_OPT_FLAG_(0, "skip-bad", &o.skip_bad, "skip unreadable images (counted in the output) instead of failing"),
	CT_OPT_INT_(0, "compress", &compress, "0-9", "deflate level of the images dataset", 0, 9),
	CT_OPT_FLAG_(0, "clean-annotations", &o.lung.clean,
		     "remove blank figure margins, coloured marks and everything outside the body (text, arrows, letters)"),
	CT_OPT_FLAG_(0, "lung-crop", &o.lung.crop, "crop to the lung field's bounding box (plus --lung-margin)"),
	CT_OPT_DOUBLE_(0, "lung-margin", &o.lung.margin, "F", "margin of --lung-crop, a fraction of the box's size per side", 0, 1),
	CT_OPT_CHOICE_ENUM_(0, "standardise", &standardise_s, "none|lung", &o.lung.standardise, NULL,
		       "lung: map lung parenchyma and soft tissue to the grey levels of the lung window"),
	CT_OPT_FLAG_(0, "lung-only", &o.lung.only,
		     "blank (set to 0) everything outside the lung field and its pleural rim"),
	CT_OPT_STRING_(0, "equalise", &equalise_s, "SIZE:QUALITY",
		       "format equalisation: every image grey, resampled to SIZE x SIZE and passed through one JPEG encoding at QUALITY (e.g. 320:75), before the resize to --size"),
	CT_OPT_FLAG_(0, "lung-mask", &o.lung_mask, "write the lung field as /lung_mask (implied by the four options above)"),
	CT_OPT_STRING_(0, "shard", &shard_s, "K/N", "only image files of shard K of N, in sorted order (join with ct-merge)"),
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
	"paths on stdin (with --label). Class folders are searched at any depth (DICOM series in\n"
	"sub-folders). Images are opened by content (PNG, JPEG, TIFF, DICOM, NIfTI), never by name;\n"
	"DICOM and NIfTI values are Hounsfield units (rescale applied), so --hu-slope/--hu-offset\n"
	"apply to the other formats only.\n"
	"Exit status: 0 success, 1 failure (bad input, unwritable output), 2 usage error.",
	options,
	1,
	2,
};

/* An argument with the value `v` (a pointer into it) shown as "<path>". */
static char *redact_arg(const char *arg, const char *v)
{
	size_t pre = v > arg && v < arg + strlen(arg) ? (size_t)(v - arg) : 0;
	char *r = malloc(pre + 7);
	if (r) {
		memcpy(r, arg, pre);
		memcpy(r + pre, "<path>", 7);
	}
	return r;
}

/* The command and parameters recorded in the output: the windows in numbers and the key's
 * fingerprint added; with --anonymise, paths (INPUT, OUTPUT, lists, key) shown as <path>. */
static void record_run(int argc, char **argv, int nargs, char **args, char **cmdline, char **params)
{
	const char **hide[] = { &out_path, &groups_s, &split_s, &group_key_s };
	const char *saved[4];
	char **av = argv;
	if (o.anonymise) {
		av = calloc((size_t)argc + 1, sizeof *av);
		for (int k = 0; av && k < argc; k++) {
			av[k] = argv[k];
			for (int a = 0; a < nargs; a++)
				if (argv[k] == args[a])
					av[k] = redact_arg(argv[k], argv[k]);
			for (int h = 0; h < 4; h++) {
				const char *v = *hide[h];
				if (v && h == 1 && o.groups_from)
					continue; /* --groups dicom is no path */
				if (v && v >= argv[k] && v <= argv[k] + strlen(argv[k]) && av[k] == argv[k])
					av[k] = redact_arg(argv[k], v);
			}
		}
		for (int h = 0; h < 4; h++) {
			saved[h] = *hide[h];
			if (*hide[h] && !(h == 1 && o.groups_from))
				*hide[h] = "<path>";
		}
	}
	*cmdline = ct_cmdline(argc, av ? av : argv);
	cJSON *p = ct_opts_json_object(&cmd);
	if (o.anonymise) {
		for (int h = 0; h < 4; h++)
			*hide[h] = saved[h];
		for (int k = 0; av && k < argc; k++)
			if (av[k] != argv[k])
				free(av[k]);
		free(av);
	}
	/* extra fields: "windows":[[level,width],...], "group_key_id":"..." */
	if (p && o.intensity.mode == CT_INTENSITY_WINDOW) {
		int nw = o.intensity.nwin > 1 ? o.intensity.nwin : 1;
		cJSON *ws = cJSON_AddArrayToObject(p, "windows");
		for (int k = 0; ws && k < nw; k++) {
			cJSON *w = cJSON_CreateArray();
			cJSON_AddItemToArray(w, ct_json_double(nw > 1 ? o.intensity.wlevel[k] : o.intensity.level));
			cJSON_AddItemToArray(w, ct_json_double(nw > 1 ? o.intensity.wwidth[k] : o.intensity.width));
			cJSON_AddItemToArray(ws, w);
		}
	}
	if (p && o.key)
		cJSON_AddStringToObject(p, "group_key_id", o.key->id);
	*params = p ? ct_json_print(p) : NULL;
	cJSON_Delete(p);
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
	ct_convert_opts_default(&o);
	ct_tool_parse(&cmd, argc, argv, &nargs, &args);
	if (ct_tool_output(&cmd, nargs, args, &out_path))
		return CT_EXIT_USAGE;
	if (!strcmp(args[0], "-") && !label_s && !unlabelled)
		return ct_tool_usage(&cmd, "paths on stdin (INPUT '-') need --label CLASS or --unlabelled");
	if (unlabelled && label_s)
		return ct_tool_usage(&cmd, "--unlabelled and --label exclude each other");
	if (class_map_s && unlabelled)
		return ct_tool_usage(&cmd, "--class-map renames the classes of labelled data; unlabelled data have none");
	if (ct_parse_size(size_s, &o.width, &o.height) < 0)
		return ct_tool_usage(&cmd, ct_last_error());
	if (o.intensity.channels == 2)
		return ct_tool_usage(&cmd, "--channels must be 1 or 3");
	if (window_s) {
		if (ct_window_parse(window_s, &o.intensity) < 0)
			return ct_tool_usage(&cmd, ct_last_error());
		if (o.intensity.nwin == 3 && o.intensity.channels != 3)
			return ct_tool_usage(&cmd, "three windows give three channels (--channels 3)");
		if (o.intensity.mode != CT_INTENSITY_AUTO && o.intensity.mode != CT_INTENSITY_WINDOW)
			return ct_tool_usage(&cmd, "--window conflicts with --intensity");
		o.intensity.mode = CT_INTENSITY_WINDOW;
	} else if (o.intensity.mode == CT_INTENSITY_WINDOW) {
		return ct_tool_usage(&cmd, "--intensity window needs --window LEVEL,WIDTH");
	}
	o.max_pixels = (int64_t)(max_mpix * 1e6);
	if (equalise_s) {
		char *e1 = NULL, *e2 = NULL;
		long sz = strtol(equalise_s, &e1, 10), q = *e1 == ':' ? strtol(e1 + 1, &e2, 10) : -1;
		if (*e1 != ':' || e1 == equalise_s || e2 == e1 + 1 || *e2 || sz < 8 || sz > 4096 || q < 1 || q > 100)
			return ct_tool_usage(&cmd, "--equalise takes SIZE:QUALITY, SIZE 8-4096, QUALITY 1-100 (e.g. 320:75)");
		if (o.intensity.nwin == 3)
			return ct_tool_usage(&cmd, "--equalise makes images grey: it conflicts with three windows");
		o.equalise_size = (int)sz;
		o.equalise_quality = (int)q;
	}
	if (ct_opts_seen(&cmd, "lung-margin") && !o.lung.crop)
		return ct_tool_usage(&cmd, "--lung-margin goes with --lung-crop");
	ct_shard shard = { 0, 0 };
	if (shard_s && ct_shard_parse(shard_s, &shard) < 0)
		return ct_tool_usage(&cmd, ct_last_error());
	if (ct_slice_select_parse(slices_s, &o.slices) < 0)
		return ct_tool_usage(&cmd, ct_last_error());
	if (groups_s && !strcmp(groups_s, "dicom"))
		o.groups_from = CT_GROUPS_PATIENT;
	else if (groups_s && !strcmp(groups_s, "dicom-study"))
		o.groups_from = CT_GROUPS_STUDY;
	if (group_key_s && !o.groups_from && !o.anonymise)
		return ct_tool_usage(&cmd, "--group-key goes with --groups dicom, --groups dicom-study or --anonymise");
	ct_group_key key;
	if (o.groups_from || o.anonymise) {
		char kpath[4096];
		if (group_key_s)
			snprintf(kpath, sizeof kpath, "%s", group_key_s);
		else if (ct_group_key_default_path(kpath, sizeof kpath) < 0)
			return ct_tool_fail(&cmd);
		if (ct_group_key_load(kpath, !group_key_s, &key) < 0)
			return ct_tool_fail(&cmd);
		o.key = &key;
	}
	ct_tool_threads(threads);

	ct_sources src;
	ct_converted conv;
	ct_images_out out;
	ct_sources_spec spec = { args[0], unlabelled, label_s, classes_s, class_map_s, class_names_s,
				 o.groups_from ? NULL : groups_s, split_s };
	if (ct_sources_list(&src, &spec) < 0)
		return ct_tool_fail(&cmd);
	for (int i = 0; i < src.nignored && !quiet; i++)
		fprintf(stderr, "ct-convert: note: '%s' holds no images; not a class folder\n", src.ignored[i]);
	char fp[65];
	int64_t nsrc;
	if (ct_sources_shard(&src, &shard, fp, &nsrc) < 0)
		return fail_freeing(&src);
	for (int i = 0; i < src.nskipped; i++) /* even with --quiet: data left out */
		fprintf(stderr, "ct-convert: warning: %s\n", src.skipped[i]);
	/* Create the output before the long work, so an unwritable or existing output
	 * fails at once. */
	if (ct_images_create(&out, out_path, force) < 0)
		return fail_freeing(&src);
	ct_progress pr;
	ct_progress_init(&pr, stderr, "ct-convert", "files", 0, src.n, quiet);
	o.progress = ct_progress_callback;
	o.progress_ctx = &pr;
	if (ct_convert(&src, &o, &conv) < 0) {
		ct_images_abort(&out);
		return fail_freeing(&src);
	}
	char *cmdline, *params;
	record_run(argc, argv, nargs, args, &cmdline, &params);
	ct_run run = { "ct-convert", cmdline, params };
	ct_images_meta meta = { &run, o.anonymise ? "<path>" : args[0], fp, &shard, nsrc, compress };
	int rc = ct_images_write_converted(&out, &conv, &meta);
	if (rc == 0 && !quiet) {
		int64_t nosplit = split_s ? ct_samples_count(&conv.s, "", -2) : 0;
		fprintf(stderr, "ct-convert: %lld images, %d classes, %dx%dx%d %s -> %s", (long long)conv.s.n,
			conv.s.nclasses, o.width, o.height, o.intensity.channels, o.as_float ? "float32" : "uint8", out_path);
		if (conv.nskipped)
			fprintf(stderr, " (%lld bad files skipped)", (long long)conv.nskipped);
		if (conv.ndicom || conv.nnifti)
			fprintf(stderr, " (%lld DICOM, %lld NIfTI files)", (long long)conv.ndicom, (long long)conv.nnifti);
		if (conv.nnot_image)
			fprintf(stderr, " (%lld DICOM files without pixel data left out)", (long long)conv.nnot_image);
		if (nosplit)
			fprintf(stderr, " (%lld in no split list)", (long long)nosplit);
		if (conv.lung_mask.data && conv.lung_not_found)
			fprintf(stderr, " (no lung field found in %lld)", (long long)conv.lung_not_found);
		fprintf(stderr, "\n");
	}
	free(cmdline);
	free(params);
	ct_converted_free(&conv);
	ct_sources_free(&src);
	return rc == 0 ? CT_EXIT_OK : ct_tool_fail(&cmd);
}
