# model.mk - shared by predict.mk and evaluate.mk: read a trained experiment of covid-ct.mk
# (MODEL_DIR/model.h5 and MODEL_DIR/metrics.json) and extract and fuse the features of an
# images file W/images-SIZE.h5 the way the model expects them (a fine-tuned model takes the
# images files themselves, one per source: SCORE_IN below).
#
# Everything is taken from the experiment: the backbones, layers and pooling from the
# model's feature blocks, the class names from the model, the decision threshold from its
# metrics.json (chosen on the validation split when the experiment used --threshold youden).
# The including file sets W (its work folder) and the rule for $(W)/images-SIZE.h5 for each
# SIZE in $(SIZES) (the call `images_rule`), then depends on $(SCORE_IN) and scores it.
#
# make cannot name files whose paths contain spaces as targets: MODEL_DIR and the work folder
# must not contain spaces (refused with a message); the input images may (they are only
# passed to ct-convert, quoted, and tracked through a listing under W).

TOP   := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
# The tools: bin/ of a source tree, or PREFIX/bin when installed (PREFIX/share/ctfuse/pipelines);
# weights from the tools' search path (ctfuse(7)) unless CT_WEIGHTS_DIR is set.
CTBIN ?= $(if $(wildcard $(TOP)/tools/ct-features.c),$(TOP)/bin,$(abspath $(TOP)/../../bin))
export PATH := $(CTBIN):$(PATH)
export CT_WEIGHTS_DIR
# Stages run side by side under -j: OpenMP threads that spin while waiting would steal the
# cores the other stage needs (measured: 2x slower), so idle threads sleep.
export OMP_WAIT_POLICY ?= passive
.DEFAULT_GOAL := all
include $(TOP)/pipelines/backbones.mk

MODEL_DIR ?= out/inception_v3+mobilenet_v2
FEATURE_ARGS ?= --batch 16
$(if $(word 2,$(MODEL_DIR)),$(error MODEL_DIR '$(MODEL_DIR)' contains a space; make cannot track such paths: use a symlink without spaces))
$(if $(word 2,$(W)),$(error the output folder '$(W)' contains a space; make cannot track such paths: choose another))

MODEL  := $(MODEL_DIR)/model.h5
# $(shell) does not see the exported PATH in make 4.3: name the tool's path.
CTINFO := $(if $(wildcard $(CTBIN)/ct-info),$(CTBIN)/ct-info,ct-info)
INFO   := $(shell $(CTINFO) $(MODEL) 2>/dev/null)
$(if $(INFO),,$(error cannot read the model '$(MODEL)' (run covid-ct.mk first, or set MODEL_DIR)))
BLOCKS := $(shell $(CTINFO) $(MODEL) | sed -n '/^blocks:/,/^provenance:/p' | awk 'NF > 1 && $$1 != "blocks:" { print $$1 }')
CLASSES := $(shell $(CTINFO) $(MODEL) | sed -n 's/^class names: *//p')
# The ct-convert options that changed the pixels of the model's training images (window, lung
# options, format equalisation, ...): new images are converted alike (ct-score refuses
# features prepared otherwise).
PREPROCESSING := $(shell $(CTINFO) --preprocessing $(MODEL) 2>/dev/null)
THRESHOLD := $(shell tr -d ' \n\t' < $(MODEL_DIR)/metrics.json 2>/dev/null | grep -o '"threshold":{"value":[0-9.e-]*' | sed 's/.*://')
$(if $(THRESHOLD),,$(error no threshold in $(MODEL_DIR)/metrics.json))
# A TTA=1 experiment chose its threshold on probabilities averaged over augmented copies; new
# images are scored alone here, so that threshold does not apply to them. Its head is the one
# of the experiment without TTA (covid-ct.mk: the same train copies; val copies left out).
ifneq ($(shell grep -c '"tta_copies"' $(MODEL_DIR)/metrics.json 2>/dev/null),0)
$(error $(MODEL_DIR) is a TTA=1 experiment: its threshold was chosen on slices scored with their augmented copies, and new images are scored alone here; use the same experiment without TTA (its head is the same: MODEL_DIR=$(patsubst %-tta,%,$(MODEL_DIR))))
endif
# A fine-tuned model (ct-finetune --finetune: covid-ct.mk FINETUNE=1, OUT/ft-EXP) scores the
# images files themselves: ct-score runs each backbone to its cut with the pretrained weights
# (the weights search path, CT_WEIGHTS_DIR) and then the model's own layers, so no features are
# extracted here. SCORE_IN is what ct-score takes: for a fine-tuned model one images file per
# source, in the model's source order (its blocks as ct-info lists them: one block
# BACKBONE/OUTPUT/avg per source), each at that backbone's input size
# (ft-inception_v3+mobilenet_v2: W/images-299.h5 W/images-224.h5); else the fused features.
FINETUNED := $(shell $(CTINFO) --json $(MODEL) 2>/dev/null | grep -m1 -E '^.?"command":' | grep -c -E -- ' --finetune( |",?$$)')
# Backbones in block order; each backbone's layers (comma-joined) and pooling.
BACKBONES := $(shell printf '%s\n' $(BLOCKS) | awk -F/ '!seen[$$1]++ { print $$1 }')
comma := ,
empty :=
space := $(empty) $(empty)
layers_of = $(subst $(space),$(comma),$(strip $(foreach b,$(BLOCKS),$(if $(filter $(1),$(word 1,$(subst /, ,$(b)))),$(word 2,$(subst /, ,$(b)))))))
pool_of = $(word 3,$(subst /, ,$(firstword $(foreach b,$(BLOCKS),$(if $(filter $(1),$(word 1,$(subst /, ,$(b)))),$(b))))))
SIZES := $(sort $(foreach b,$(BACKBONES),$(SIZE_$(b))))
FT_SOURCES := $(foreach b,$(BLOCKS),$(word 1,$(subst /, ,$(b))))
SCORE_IN := $(if $(filter-out 0,$(FINETUNED)),$(foreach b,$(FT_SOURCES),$(W)/images-$(SIZE_$(b)).h5),$(W)/fused.h5)

# $(W)/.inputs lists the input files (path, size, time) and is rewritten only when that
# list changes, so the images are converted again exactly when the input changed; it works
# for names with spaces, which make's own prerequisites cannot hold.
# $(call inputs_rule,PATH) where PATH is a folder or a list file.
define inputs_rule
$(W)/.inputs: FORCE
	@mkdir -p $(W)
	@{ if [ -d "$(1)" ]; then find -L "$(1)" -type f -printf '%P\t%s\t%T@\n'; else \
	   ls -lL --time-style=+%s "$(1)"; fi; } | LC_ALL=C sort > $$@.new; \
	 if cmp -s $$@.new $$@; then rm -f $$@.new; else mv -f $$@.new $$@; fi
endef
.PHONY: FORCE
FORCE:

define backbone_rule
$(W)/feat-$(1).h5: $(W)/images-$(SIZE_$(1)).h5 $(MODEL)
	ct-features --backbone $(1) --layer $(call layers_of,$(1)) --pool $(call pool_of,$(1)) $(FEATURE_ARGS) $$< -o $$@ --force -q
endef
$(foreach b,$(BACKBONES),$(eval $(call backbone_rule,$(b))))

FEATS := $(foreach b,$(BACKBONES),$(W)/feat-$(b).h5)
$(W)/fused.h5: $(FEATS)
	ct-fuse $(FEATS) -o $@ --force -q
