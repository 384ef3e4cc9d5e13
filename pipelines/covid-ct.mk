# covid-ct.mk - the method end to end as a make pipeline: convert, augment, features for each
# backbone, fuse, train the classifier head, score on the test split, write the report.
#
#   make -f pipelines/covid-ct.mk DATA=../shared/data/covid-ct OUT=out \
#        BACKBONES="inception_v3 mobilenet_v2"
#
# Runs in parallel with -j. Every stage's parameters are prerequisites (stamp files under
# $(OUT)/.params that change only when the parameters do), so changing one parameter reruns
# that stage and those downstream of it, and rerunning with nothing changed does nothing.
# Set AUGMENT=0 for the run without augmentation.

TOP     := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
CTBIN   ?= $(TOP)/bin
export PATH := $(CTBIN):$(PATH)
export CT_WEIGHTS_DIR ?= $(TOP)/weights

DATA      ?= $(TOP)/../shared/data/covid-ct
OUT       ?= out
BACKBONES ?= inception_v3 mobilenet_v2
SPLIT     ?= $(DATA)/Data-split
GROUPS    ?= $(DATA)/patients.tsv
AUGMENT   ?= 1
SEED      ?= 1

# Stage parameters (override on the command line; each is a prerequisite of its stage).
CONVERT_ARGS  ?= --split $(SPLIT) --groups $(GROUPS)
AUGMENT_ARGS  ?= --copies 10 --shear 10 --rotate 10 --shift 0.1 --zoom 0.1 --seed $(SEED)
FEATURE_ARGS  ?= --batch 16
FUSE_ARGS     ?= --standardize
FINETUNE_ARGS ?= --head logreg --seed $(SEED)
SCORE_ARGS    ?= --threshold youden --bootstrap 1000 --seed $(SEED)

# Input size and default feature cut per backbone (intermediate cuts transfer better to CT).
SIZE_inception_v3   ?= 299
SIZE_mobilenet_v2   ?= 224
SIZE_resnet50       ?= 224
SIZE_vgg16          ?= 224
SIZE_densenet121    ?= 224
SIZE_xception       ?= 299
LAYER_inception_v3  ?= mixed6
LAYER_mobilenet_v2  ?= block_13_project_BN

SIZES := $(sort $(foreach b,$(BACKBONES),$(SIZE_$(b))))
P     := $(OUT)/.params

.PHONY: all clean
.DELETE_ON_ERROR:
all: $(OUT)/report.html

# $(call stamp,NAME,TEXT): $(P)/NAME holds TEXT and is rewritten only when TEXT changes.
define stamp
$(P)/$(1): FORCE
	@mkdir -p $(P)
	@printf '%s\n' '$(subst ','\'',$(2))' > $$@.new; \
	 if cmp -s $$@.new $$@; then rm -f $$@.new; else mv -f $$@.new $$@; fi
endef
.PHONY: FORCE
FORCE:

# Images, per input size.
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

# Features, per backbone, from the augmented images (or the plain ones with AUGMENT=0).
IMAGES_FOR = $(OUT)/$(if $(filter 1,$(AUGMENT)),aug,images)-$(1).h5
define backbone_rules
$(eval $(call stamp,features-$(1),$(LAYER_$(1)) $(FEATURE_ARGS) augment=$(AUGMENT)))
$(OUT)/feat-$(1).h5: $(call IMAGES_FOR,$(SIZE_$(1))) $(P)/features-$(1) $(CT_WEIGHTS_DIR)/$(1).h5
	ct-features --backbone $(1) $(if $(LAYER_$(1)),--layer $(LAYER_$(1))) $(FEATURE_ARGS) $$< -o $$@ --force -q
endef
$(foreach b,$(BACKBONES),$(eval $(call backbone_rules,$(b))))

# The nsfwjs weights are fetched once for all backbones that need them.
NSFWJS := $(CT_WEIGHTS_DIR)/inception_v3.h5 $(CT_WEIGHTS_DIR)/mobilenet_v2.h5
$(NSFWJS) &:
	$(MAKE) -C $(TOP) weights

FEATS := $(foreach b,$(BACKBONES),$(OUT)/feat-$(b).h5)
$(eval $(call stamp,fuse,$(BACKBONES) $(FUSE_ARGS)))
$(OUT)/fused.h5: $(FEATS) $(P)/fuse
	ct-fuse $(FEATS) $(FUSE_ARGS) -o $@ --force

$(eval $(call stamp,finetune,$(FINETUNE_ARGS)))
$(OUT)/model.h5: $(OUT)/fused.h5 $(P)/finetune
	ct-finetune $< $(FINETUNE_ARGS) -o $@ --force

$(eval $(call stamp,score,$(SCORE_ARGS)))
$(OUT)/scores.h5 $(OUT)/scores.tsv $(OUT)/metrics.json $(OUT)/report.html &: $(OUT)/model.h5 $(OUT)/fused.h5 $(P)/score
	ct-score $(OUT)/model.h5 $(OUT)/fused.h5 $(SCORE_ARGS) -o $(OUT)/scores.h5 --tsv $(OUT)/scores.tsv \
		--report $(OUT)/report.html --force --json > $(OUT)/metrics.json.new && mv $(OUT)/metrics.json.new $(OUT)/metrics.json

clean:
	rm -rf $(OUT)
