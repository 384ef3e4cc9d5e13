# evaluate.mk - external evaluation: score a trained experiment of covid-ct.mk on any
# labelled data set, with the same metrics, confidence intervals and report as ct-score.
#
#   make -f pipelines/evaluate.mk MODEL_DIR=out/inception_v3+mobilenet_v2 \
#        DATA=other-set/ OUT=eval/other-set CLASS_MAP=COVID=CT_COVID,non-COVID=CT_NonCOVID
#   -> OUT/metrics.json, OUT/report.html, OUT/scores.tsv, OUT/scores.h5
#
# DATA is a folder DATA/<class>/<image> or a TSV list path<TAB>class (ct-convert's inputs);
# names with spaces are fine. CLASS_MAP renames the data's classes to the model's
# (FROM=TO,...); every class of the data must then be one of the model's classes. The
# decision threshold is the model's (its metrics.json: chosen on the validation split of the
# training data), never tuned on the data evaluated here. SOURCES (optional) is a TSV
# name<TAB>...<TAB>source giving the source (hospital, scanner, web site) of each image:
# ct-score then adds metrics per source (docs/results.md, "Generalisation").
# Backbones, layers, pooling and class names come from the model (pipelines/model.mk).
# A fine-tuned experiment (FINETUNE=1: MODEL_DIR=out/ft-inception_v3+mobilenet_v2) scores the
# converted images directly, one file per source in the model's order: each backbone to its cut
# with the pretrained weights, then the model's own layers.

DATA      ?= $(error set DATA to a labelled folder DATA/<class>/<image> or a TSV list)
OUT       ?= $(MODEL_DIR)/eval
CLASS_MAP ?=
SOURCES   ?=
CONVERT_ARGS ?=
SCORE_ARGS ?= --bootstrap 1000 --seed 1
W := $(OUT)
include $(dir $(lastword $(MAKEFILE_LIST)))model.mk

.PHONY: all
.DELETE_ON_ERROR:
all: $(OUT)/metrics.json

$(eval $(call inputs_rule,$(DATA)))
CONVERT_OPTS = --class-names $(subst $(space),$(comma),$(CLASSES)) $(if $(CLASS_MAP),--class-map "$(CLASS_MAP)") \
	$(PREPROCESSING) $(CONVERT_ARGS) --force -q
define size_rule
$(OUT)/images-$(1).h5: $(OUT)/.inputs
	ct-convert "$(DATA)" $$(CONVERT_OPTS) --size $(1) -o $$@
endef
$(foreach s,$(SIZES),$(eval $(call size_rule,$(s))))

$(OUT)/metrics.json: $(MODEL) $(SCORE_IN)
	ct-score $(MODEL) $(SCORE_IN) --split all --threshold $(THRESHOLD) $(if $(SOURCES),--sources "$(SOURCES)") \
		$(SCORE_ARGS) -o $(OUT)/scores.h5 --tsv $(OUT)/scores.tsv --report $(OUT)/report.html --force --json \
		> $@.new && mv $@.new $@
	@echo "evaluate: $(OUT)/metrics.json and $(OUT)/report.html (threshold $(THRESHOLD) from the model)"
