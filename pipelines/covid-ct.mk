# covid-ct.mk - the method end to end as a make pipeline: convert, augment, features for each
# backbone, fuse, train the classifier head, score on the test split, write the report.
#
#   make -f pipelines/covid-ct.mk DATA=../shared/data/covid-ct OUT=out \
#        BACKBONES="inception_v3 mobilenet_v2"
#
# Shared stages live in OUT (images-SIZE.h5, aug-SIZE.h5, feat-BACKBONE.LAYER[-noaug].h5); each
# experiment (a set of backbones, with or without augmentation) gets its own folder
# OUT/EXP (fused.h5, model.h5, scores.h5, scores.tsv, metrics.json, report.html), so runs
# with other backbone sets reuse the features already computed. EXP defaults to the
# backbones joined by '+', with '-noaug' when AUGMENT=0.
#
# Runs in parallel with -j. Every stage's parameters are prerequisites (stamp files under
# OUT/.params that change only when the parameters do), so changing one parameter reruns
# that stage and those downstream of it, and rerunning with nothing changed does nothing.

TOP     := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
CTBIN   ?= $(TOP)/bin
export PATH := $(CTBIN):$(PATH)
export CT_WEIGHTS_DIR ?= $(TOP)/weights
# Stages run side by side under -j: OpenMP threads that spin while waiting would steal the
# cores the other stage needs (measured: 2x slower), so idle threads sleep.
export OMP_WAIT_POLICY ?= passive

DATA      ?= $(TOP)/../shared/data/covid-ct
OUT       ?= out
BACKBONES ?= inception_v3 mobilenet_v2
SPLIT     ?= $(DATA)/Data-split
GROUPS    ?= $(DATA)/patients.tsv
AUGMENT   ?= 1
SEED      ?= 1

# Stage parameters (override on the command line; each is a prerequisite of its stage).
# Defaults: cuts and head chosen on the validation split (docs/results.md).
CONVERT_ARGS  ?= --split $(SPLIT) --groups $(GROUPS)
AUGMENT_ARGS  ?= --copies 10 --shear 10 --rotate 10 --shift 0.1 --zoom 0.1 --seed $(SEED)
FEATURE_ARGS  ?= --batch 16
FUSE_ARGS     ?=
FINETUNE_ARGS ?= --head mlp --seed $(SEED)
SCORE_ARGS    ?= --threshold youden --bootstrap 1000 --seed $(SEED)

include $(TOP)/pipelines/backbones.mk

empty :=
space := $(empty) $(empty)
SUFFIX := $(if $(filter 1,$(AUGMENT)),,-noaug)
EXP    ?= $(subst $(space),+,$(strip $(BACKBONES)))$(SUFFIX)
E      := $(OUT)/$(EXP)
SIZES  := $(sort $(foreach b,$(BACKBONES),$(SIZE_$(b))))
P      := $(OUT)/.params

.PHONY: all clean
.DELETE_ON_ERROR:
all: $(E)/report.html

# $(call stamp,NAME,TEXT): $(P)/NAME holds TEXT and is rewritten only when TEXT changes.
define stamp
$(P)/$(1): FORCE
	@mkdir -p $(P)
	@printf '%s\n' '$(subst ','\'',$(2))' > $$@.new; \
	 if cmp -s $$@.new $$@; then rm -f $$@.new; else mv -f $$@.new $$@; fi
endef
.PHONY: FORCE
FORCE:

# Images, per input size; augmented copies of the training images.
define size_rules
$(eval $(call stamp,convert-$(1),$(DATA) --size $(1) $(CONVERT_ARGS)))
$(OUT)/images-$(1).h5: $(P)/convert-$(1)
	@mkdir -p $(OUT)
	ct-convert $(DATA) --size $(1) $(CONVERT_ARGS) -o $$@ --force -q
$(eval $(call stamp,augment-$(1),$(AUGMENT_ARGS)))
$(OUT)/aug-$(1).h5: $(OUT)/images-$(1).h5 $(P)/augment-$(1)
	ct-augment $$< $(AUGMENT_ARGS) -o $$@ --force -q
endef
$(foreach s,$(SIZES),$(eval $(call size_rules,$(s))))

# Features, per backbone and cut, from the augmented images (or the plain ones with
# AUGMENT=0); the file name carries the cut, so experiments with other cuts keep theirs.
comma := ,
FEAT = $(OUT)/feat-$(1)$(if $(LAYER_$(1)),.$(subst $(comma),+,$(LAYER_$(1))))$(SUFFIX).h5
define backbone_rules
$(eval $(call stamp,features-$(1)$(if $(LAYER_$(1)),.$(subst $(comma),+,$(LAYER_$(1))))$(SUFFIX),$(FEATURE_ARGS)))
$(call FEAT,$(1)): $(OUT)/$(if $(SUFFIX),images,aug)-$(SIZE_$(1)).h5 \
		$(P)/features-$(1)$(if $(LAYER_$(1)),.$(subst $(comma),+,$(LAYER_$(1))))$(SUFFIX) $(CT_WEIGHTS_DIR)/$(1).h5
	ct-features --backbone $(1) $(if $(LAYER_$(1)),--layer $(LAYER_$(1))) $(FEATURE_ARGS) $$< -o $$@ --force -q
endef
$(foreach b,$(BACKBONES),$(eval $(call backbone_rules,$(b))))

# The nsfwjs weights are fetched once for the backbones that need them; the official Keras
# files of the others cannot be fetched from here (make weights-keras says what to place).
NSFWJS := $(CT_WEIGHTS_DIR)/inception_v3.h5 $(CT_WEIGHTS_DIR)/mobilenet_v2.h5
$(NSFWJS) &:
	$(MAKE) -C $(TOP) weights
$(CT_WEIGHTS_DIR)/%.h5:
	$(MAKE) -C $(TOP) weights-keras

FEATS := $(foreach b,$(BACKBONES),$(call FEAT,$(b)))
# The experiment's fuse stamp names its feature files, so other cuts refuse the fused file.
$(eval $(call stamp,fuse-$(EXP),$(FEATS) $(FUSE_ARGS)))
$(E)/fused.h5: $(FEATS) $(P)/fuse-$(EXP)
	@mkdir -p $(E)
	ct-fuse $(FEATS) $(FUSE_ARGS) -o $@ --force -q

$(eval $(call stamp,finetune-$(EXP),$(FINETUNE_ARGS)))
$(E)/model.h5: $(E)/fused.h5 $(P)/finetune-$(EXP)
	ct-finetune $< $(FINETUNE_ARGS) -o $@ --force -q

$(eval $(call stamp,score-$(EXP),$(SCORE_ARGS)))
$(E)/scores.h5 $(E)/scores.tsv $(E)/metrics.json $(E)/report.html &: $(E)/model.h5 $(E)/fused.h5 $(P)/score-$(EXP)
	ct-score $(E)/model.h5 $(E)/fused.h5 $(SCORE_ARGS) -o $(E)/scores.h5 --tsv $(E)/scores.tsv \
		--report $(E)/report.html --force --json > $(E)/metrics.json.new && mv $(E)/metrics.json.new $(E)/metrics.json

clean:
	rm -rf $(OUT)

# Grad-CAM heat maps of the experiment's model on the test split (ct-explain; not part of
# 'all'): OUT/EXP/gradcam/{gallery.html,explain.json,*.png}. Shown on the largest input size;
# backbones of the other size read their own images (--also). The share of heat inside the
# lung field needs /lung_mask in the images files.
EXPLAIN_ARGS ?=
.PHONY: gradcam
gradcam: $(E)/gradcam/explain.json
$(E)/gradcam/explain.json: $(E)/model.h5 $(E)/metrics.json $(foreach s,$(SIZES),$(OUT)/images-$(s).h5)
	ct-explain $(E)/model.h5 $(OUT)/images-$(lastword $(SIZES)).h5 \
		$(if $(word 2,$(SIZES)),--also $(OUT)/images-$(firstword $(SIZES)).h5) \
		-o $(E)/gradcam --force -q $(EXPLAIN_ARGS)
