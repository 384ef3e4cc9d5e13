# predict.mk - classify new images with a trained experiment of covid-ct.mk.
#
#   make -f pipelines/predict.mk MODEL_DIR=out/inception_v3+mobilenet_v2 IMAGES=new-scans/
#
# IMAGES is a folder (its files and those of its sub-folders, hidden entries skipped; names
# with spaces are fine) or a file listing image paths, one per line. PRED/predictions.tsv
# gets one line per image: file (path below IMAGES), probability of the positive class,
# predicted label (threshold from the model's metrics.json). Backbones, layers, pooling and
# class names come from the model (pipelines/model.mk), and so do the ct-convert options
# that changed the pixels of its training images (window, lung options, --equalise): new
# images are converted alike; CONVERT_ARGS adds options of your own. The experiment must have
# been fused
# without --standardize (the model standardises itself). A fine-tuned experiment (FINETUNE=1:
# MODEL_DIR=out/ft-inception_v3+mobilenet_v2) works the same way: ct-score takes the converted
# images, one file per source in the model's order (images-299.h5 images-224.h5), and runs each
# backbone to its cut with the pretrained weights (the weights search path, CT_WEIGHTS_DIR),
# then the model's fine-tuned layers.

IMAGES    ?= $(error set IMAGES to a folder of images to classify)
PRED      ?= $(MODEL_DIR)/predict
CONVERT_ARGS ?=
W := $(PRED)
include $(dir $(lastword $(MAKEFILE_LIST)))model.mk

.PHONY: all
.DELETE_ON_ERROR:
all: $(PRED)/predictions.tsv

$(eval $(call inputs_rule,$(IMAGES)))
CONVERT_OPTS = --unlabelled --class-names $(subst $(space),$(comma),$(CLASSES)) $(PREPROCESSING) $(CONVERT_ARGS) --force -q
define size_rule
$(PRED)/images-$(1).h5: $(PRED)/.inputs
	if [ -d "$(IMAGES)" ]; then ct-convert "$(IMAGES)" $$(CONVERT_OPTS) --size $(1) -o $$@; \
	else ct-convert - $$(CONVERT_OPTS) --size $(1) -o $$@ < "$(IMAGES)"; fi
endef
$(foreach s,$(SIZES),$(eval $(call size_rule,$(s))))

# ct-score's TSV: name, split, label, probability, predicted; keep file, probability, label.
$(PRED)/predictions.tsv: $(MODEL) $(SCORE_IN)
	ct-score $(MODEL) $(SCORE_IN) --split all --threshold $(THRESHOLD) --bootstrap 0 \
		--tsv $(PRED)/scores.tsv --force > /dev/null
	awk -F'\t' 'NR == 1 { print "file\tprobability\tlabel"; next } { print $$1 "\t" $$4 "\t" $$5 }' \
		$(PRED)/scores.tsv > $@.new && mv $@.new $@
	@echo "predict: $$(($$(wc -l < $@) - 1)) images classified (threshold $(THRESHOLD)) -> $@"
