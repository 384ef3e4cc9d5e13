/* models.c - the registry of architectures by name. */
#include "models/models.h"
#include "core/error.h"

#include <string.h>

static const struct {
	const char *name;
	ct_graph *(*build)(void);
} registry[] = {
	{ "inception_v3", ct_inception_v3_build },
	{ "mobilenet_v2", ct_mobilenet_v2_build },
	{ "resnet50", ct_resnet50_build },
	{ "vgg16", ct_vgg16_build },
	{ "densenet121", ct_densenet121_build },
	{ "xception", ct_xception_build },
};

static const char *const names[] = { "inception_v3", "mobilenet_v2", "resnet50", "vgg16",
				      "densenet121", "xception", NULL };

const char *const *ct_model_names(void)
{
	return names;
}

ct_graph *ct_model_build(const char *arch)
{
	for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
		if (arch && !strcmp(arch, registry[i].name))
			return registry[i].build();
	ct_error_usage("unknown architecture '%s' (known: inception_v3, mobilenet_v2, resnet50, vgg16, "
		 "densenet121, xception)",
		 arch ? arch : "");
	return NULL;
}
