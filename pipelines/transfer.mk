# transfer.mk - does a configuration hold on a source it never saw? (docs/results.md,
# "Held-out sources"). Each variant (preprocessing, pooling, augmentation) is built by
# pipelines/covid-ct.mk in its own folder, then scripts/cross_source.py runs the
# leave-one-source-out cross-validation over train+val on its fused features: every
# non-COVID source held out in turn (never trained on, scored against the held-out folds'
# COVID slices), and nothing held out for comparison. The test split is not read.
#
#   make -f pipelines/transfer.mk DATA=../shared/data/covid-ct OUT=out -j2
#   -> OUT/transfer/{runs.tsv,summary.tsv,summary.md}
#
# VARIANTS picks the variants (VAR_<name>: "CONVERT_ARGS|FEATURE_ARGS|AUGMENT|FOLDER[|AUGMENT_ARGS]"
# below, add your own on the command line); XS_SEEDS, XS_K the seeds and folds; XS_ARGS goes to
# ct-finetune (default: the pipeline's MLP head); XS_DIR names the result folder (another head:
# XS_ARGS="--head logreg" XS_DIR=transfer-logreg). A variant with AUGMENT 1 trains on the
# augmented copies of its folds and is scored on the originals.

TOP     := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
include $(TOP)/pipelines/tools.mk

DATA     ?= $(TOP)/../shared/data/covid-ct
OUT      ?= out
SPLIT    ?= $(DATA)/Data-split
GROUPS   ?= $(DATA)/patients.tsv
SOURCES  ?= $(DATA)/sources.tsv
SOURCE_COLUMN ?= 3
XS_SEEDS ?= 1 2 3
XS_K     ?= 5
XS_ARGS  ?= --head mlp
PYTHON   ?= /usr/bin/python3
BACKBONES ?= inception_v3 mobilenet_v2

BASE := --split $(SPLIT) --groups $(GROUPS)
AFFINE := --copies 10 --shear 10 --rotate 10 --shift 0.1 --zoom 0.1 --seed 1
PHOTO  := $(AFFINE) --contrast 0.2 --gamma 0.3 --noise 0.02 --blur 1 --resolution 0.5
VAR_whole          = $(BASE)|--batch 16|0|whole
VAR_whole-aug      = $(BASE)|--batch 16|1|whole|$(AFFINE)
VAR_photo-aug      = $(BASE)|--batch 16|1|photo|$(PHOTO)
VAR_equalise       = $(BASE) --equalise 320:75|--batch 16|0|equalise
VAR_lung-only      = $(BASE) --lung-only|--batch 16|0|lung-only
VAR_lung-only-crop = $(BASE) --lung-only --lung-crop|--batch 16|0|lung-only-crop
VAR_lung-only-eq   = $(BASE) --lung-only --equalise 320:75|--batch 16|0|lung-only-eq
VAR_lung-avg       = $(BASE) --lung-mask|--batch 16 --pool lung-avg|0|lung-avg
VARIANTS ?= whole whole-aug photo-aug equalise lung-only lung-only-crop lung-only-eq lung-avg

XS_DIR ?= transfer
T := $(OUT)/$(XS_DIR)
F := $(OUT)/transfer
empty :=
space := $(empty) $(empty)
EXPN  := $(subst $(space),+,$(strip $(BACKBONES)))
# field N of VAR_v ("A|B|C"; spaces inside a field survive the split)
varg  = $(subst ~, ,$(word $(2),$(subst |, ,$(subst $(space),~,$(VAR_$(1))))))
# features of variant v: originals (scored) and, with AUGMENT 1, the augmented (trained on)
# (variants with the same convert and feature arguments share a FOLDER of OUT/transfer)
vdir  = $(F)/$(call varg,$(1),4)
noaug = $(call vdir,$(1))/$(EXPN)-noaug/fused.h5
aug   = $(call vdir,$(1))/$(EXPN)/fused.h5
spec  = $(1)=$(call noaug,$(1))$(if $(filter 1,$(call varg,$(1),3)),:$(call aug,$(1)))

.PHONY: all
.DELETE_ON_ERROR:
all: $(T)/summary.md

# one rule per folder for the originals, one per augmented variant for its copies
define variant_noaug
$(call noaug,$(1)):
	$$(MAKE) -f $(TOP)/pipelines/covid-ct.mk DATA=$(DATA) OUT=$(call vdir,$(1)) AUGMENT=0 BACKBONES="$(BACKBONES)" \
		CONVERT_ARGS="$(call varg,$(1),1)" FEATURE_ARGS="$(call varg,$(1),2)" AUDIT=0 $$@
endef
# after the originals: the two sub-makes share the folder's images files
define variant_aug
$(call aug,$(1)): | $(call noaug,$(1))
	$$(MAKE) -f $(TOP)/pipelines/covid-ct.mk DATA=$(DATA) OUT=$(call vdir,$(1)) AUGMENT=1 BACKBONES="$(BACKBONES)" \
		CONVERT_ARGS="$(call varg,$(1),1)" FEATURE_ARGS="$(call varg,$(1),2)" AUDIT=0 \
		$(if $(call varg,$(1),5),AUGMENT_ARGS="$(call varg,$(1),5)") $$@
endef
TARGETS :=
$(foreach v,$(VARIANTS),$(if $(filter $(call noaug,$(v)),$(TARGETS)),,$(eval $(call variant_noaug,$(v)))$(eval TARGETS += $(call noaug,$(v)))))
$(foreach v,$(VARIANTS),$(if $(filter 1,$(call varg,$(v),3)),$(if $(filter $(call aug,$(v)),$(TARGETS)),,$(eval $(call variant_aug,$(v)))$(eval TARGETS += $(call aug,$(v))))))

INPUTS := $(sort $(foreach v,$(VARIANTS),$(call noaug,$(v)) $(if $(filter 1,$(call varg,$(v),3)),$(call aug,$(v)))))
$(T)/summary.md: $(INPUTS) $(TOP)/scripts/cross_source.py
	$(PYTHON) $(TOP)/scripts/cross_source.py --sources $(SOURCES) --column $(SOURCE_COLUMN) \
		--folds $(XS_K) --seeds "$(XS_SEEDS)" -o $(T) $(foreach v,$(VARIANTS),$(call spec,$(v))) -- $(XS_ARGS) \
		> $@.tmp && mv -f $@.tmp $@
