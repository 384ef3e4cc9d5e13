/* ct-phantom - write a class-folder data set of synthetic chest CT slices (lib/image/phantom.h). */
#include "data/phantom_set.h"
#include "image/phantom.h"
#include "tool.h"

#include <string.h>

int main(int argc, char **argv)
{
	ct_phantom_set set;
	ct_phantom_set_defaults(&set);
	/* the table points into the set's fields, so the defaults are ct_phantom_set_defaults' */
	const char *out = NULL, *size = "256x256", *format = "png8", *window = "-600,1500";

	ct_opt opts[] = {
		CT_OPT_STRING_REQUIRED_('o', "output", &out, "DIR", "output directory"),
		CT_OPT_INT_(0, "patients", &set.patients, "N", "number of synthetic patients", 1,
			    CT_PHANTOM_MAX_PATIENTS),
		CT_OPT_INT_(0, "slices-per-patient", &set.render.slices_per_patient, "K", "axial slices per patient", 1,
			    CT_PHANTOM_MAX_SLICES),
		CT_OPT_STRING_(0, "size", &size, "WxH", "slice size in pixels, N or WxH"),
		CT_OPT_CHOICE_(0, "format", &format, "png8|png16|tiff",
			       "png8: lung window; png16: HU+1024; tiff: float32 HU"),
		CT_OPT_U64_(0, "seed", &set.render.seed, "S", "random seed; the same seed gives the same files"),
		CT_OPT_DOUBLE_(0, "lesion-fraction", &set.lesion_fraction, "F", "share of patients with lesions", 0, 1),
		CT_OPT_STRING_(0, "window", &window, "LEVEL,WIDTH", "window for png8, in HU"),
		CT_OPT_DOUBLE_(0, "noise", &set.render.noise_sd, "HU", "standard deviation of the image noise", 0, 1000),
		CT_OPT_STRING_(0, "split-dir", &set.split_dir, "SPLIT",
			       "also write COVID-CT style split lists under SPLIT (keep it outside DIR)"),
		CT_OPT_FLAG_(0, "force", &set.force, "write into a non-empty output directory"),
		CT_OPT_END_,
	};
	ct_cmd cmd = {
		"ct-phantom",
		"-o DIR [OPTIONS]",
		"Write synthetic axial chest CT slices, classes 'normal' and 'lesion', as DIR/<class>/<file>.",
		"Output: DIR/normal/ and DIR/lesion/ with files P0001_s01.png ... (all slices of a\n"
		"patient in its class), DIR/patients.tsv (file, class, patient), and with --split-dir\n"
		"SPLIT/{TrainingTXT,ValidationTXT,TestingTXT}/{train,val,test}<class>.txt, a\n"
		"patient-disjoint 60/20/20 split stratified by class, for 'ct-convert DIR --split SPLIT'.\n"
		"Exit status: 0 success, 1 runtime failure, 2 usage error.",
		opts,
		0,
		0,
	};
	int nargs;
	char **args;
	ct_tool_parse(&cmd, argc, argv, &nargs, &args);

	if (ct_parse_size(size, &set.render.width, &set.render.height) < 0)
		return ct_tool_usage(&cmd, ct_last_error());
	if (ct_parse_pair(window, &set.window_level, &set.window_width) < 0)
		return ct_tool_usage(&cmd, ct_last_error());
	if (set.window_width <= 0)
		return ct_tool_usage(&cmd, "window width must be positive");
	if (ct_phantom_parse_format(format, &set.format) < 0)
		return ct_tool_usage(&cmd, ct_last_error());

	if (ct_phantom_write_set(out, &set) < 0)
		return ct_tool_fail(&cmd);
	return CT_EXIT_OK;
}
