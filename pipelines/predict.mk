# predict.mk - classify a folder of new images with a trained experiment of covid-ct.mk.
#
#   make -f pipelines/predict.mk MODEL_DIR=out/inception_v3+mobilenet_v2 IMAGES=new-scans/
#
# Everything is taken from the experiment: the backbones, layers and pooling from the
# model's feature blocks, the class names from the model, the decision threshold from its
# metrics.json (chosen on the validation split). The images are converted, their features
# extracted and fused in the model's block order, and PRED/predictions.tsv gets one line per
# image: file, probability of the positive class, predicted label.
# The experiment must have been fused without --standardize (the model standardises itself).

TOP   := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
CTBIN ?= $(TOP)/bin
export PATH := $(CTBIN):$(PATH)
export CT_WEIGHTS_DIR ?= $(TOP)/weights
# Stages run side by side under -j: OpenMP threads that spin while waiting would steal the
# cores the other stage needs (measured: 2x slower), so idle threads sleep.
export OMP_WAIT_POLICY ?= passive
include $(TOP)/pipelines/backbones.mk

MODEL_DIR ?= out/inception_v3+mobilenet_v2
IMAGES    ?= $(error set IMAGES to a folder of images to classify)
PRED      ?= $(MODEL_DIR)/predict
CONVERT_ARGS ?=
FEATURE_ARGS ?= --batch 16

MODEL  := $(MODEL_DIR)/model.h5
# $(shell) does not see the exported PATH in make 4.3: name the tool's path.
CTINFO := $(if $(wildcard $(CTBIN)/ct-info),$(CTBIN)/ct-info,ct-info)
INFO   := $(shell $(CTINFO) $(MODEL) 2>/dev/null)
$(if $(INFO),,$(error cannot read the model '$(MODEL)' (run covid-ct.mk first, or set MODEL_DIR)))
BLOCKS := $(shell $(CTINFO) $(MODEL) | sed -n '/^blocks:/,/^provenance:/p' | awk 'NF > 1 && $$1 != "blocks:" { print $$1 }')
CLASSES := $(shell $(CTINFO) $(MODEL) | sed -n 's/^class names: *//p')
THRESHOLD := $(shell tr -d ' \n\t' < $(MODEL_DIR)/metrics.json | grep -o '"threshold":{"value":[0-9.e-]*' | sed 's/.*://')
$(if $(THRESHOLD),,$(error no threshold in $(MODEL_DIR)/metrics.json))
# Backbones in block order; each backbone's layers (comma-joined) and pooling.
BACKBONES := $(shell printf '%s\n' $(BLOCKS) | awk -F/ '!seen[$$1]++ { print $$1 }')
comma := ,
empty :=
space := $(empty) $(empty)
layers_of = $(subst $(space),$(comma),$(strip $(foreach b,$(BLOCKS),$(if $(filter $(1),$(word 1,$(subst /, ,$(b)))),$(word 2,$(subst /, ,$(b)))))))
pool_of = $(word 3,$(subst /, ,$(firstword $(foreach b,$(BLOCKS),$(if $(filter $(1),$(word 1,$(subst /, ,$(b)))),$(b))))))
SIZES := $(sort $(foreach b,$(BACKBONES),$(SIZE_$(b))))

.PHONY: all
.DELETE_ON_ERROR:
all: $(PRED)/predictions.tsv

define size_rule
$(PRED)/images-$(1).h5: $(wildcard $(IMAGES)/*)
	@mkdir -p $(PRED)
	ct-convert $(IMAGES) --unlabelled --class-names $(CLASSES) --size $(1) $(CONVERT_ARGS) -o $$@ --force -q
endef
$(foreach s,$(SIZES),$(eval $(call size_rule,$(s))))

define backbone_rule
$(PRED)/feat-$(1).h5: $(PRED)/images-$(SIZE_$(1)).h5 $(MODEL)
	ct-features --backbone $(1) --layer $(call layers_of,$(1)) --pool $(call pool_of,$(1)) $(FEATURE_ARGS) $$< -o $$@ --force -q
endef
$(foreach b,$(BACKBONES),$(eval $(call backbone_rule,$(b))))

FEATS := $(foreach b,$(BACKBONES),$(PRED)/feat-$(b).h5)
$(PRED)/fused.h5: $(FEATS)
	ct-fuse $(FEATS) -o $@ --force -q

# ct-score's TSV: name, split, label, probability, predicted; keep file, probability, label.
$(PRED)/predictions.tsv: $(MODEL) $(PRED)/fused.h5
	ct-score $(MODEL) $(PRED)/fused.h5 --split all --threshold $(THRESHOLD) --bootstrap 0 \
		--tsv $(PRED)/scores.tsv --force > /dev/null
	awk -F'\t' 'NR == 1 { print "file\tprobability\tlabel"; next } { print $$1 "\t" $$4 "\t" $$5 }' \
		$(PRED)/scores.tsv > $@.new && mv $@.new $@
	@echo "predict: $$(($$(wc -l < $@) - 1)) images classified (threshold $(THRESHOLD)) -> $@"
