# curves.mk - the small-sample study (docs/results.md, "Small samples"): learning curves at
# 5, 10, 25, 50 and 100% of the training patients (ct-split --train-fraction: nested, the same
# patients for every arm), several seeds, for each backbone alone and fused, without and with
# augmentation, head-only (cached features) and fine-tuned (fused, from cut activations: arm
# fused-ft-noaug); scored on val and test, with the
# style-matched AUC (COVID against the non-COVID paper figures; sources.tsv column 3).
#
#   make -f pipelines/curves.mk DATA=../shared/data/covid-ct OUT=out -j2
#   -> OUT/curves/curves.tsv (one row per arm, fraction, seed), summary.tsv (mean and sd),
#      curves.svg (the plot), curves.md (the table of docs/results.md)
#
# The features are those of pipelines/covid-ct.mk (OUT/feat-BACKBONE.LAYER[-noaug].h5); a
# missing one is made by that pipeline (AUGMENT=0 or 1), existing ones are used as they are.
# Each arm writes its own TSV (resumable: finished runs are kept), so -j2 runs two arms at once.
# The fine-tuned arm takes most of the time (its 15 runs: 33 min of CPU, 75 min wall on the
# shared 2-core machine; ARMS without fused-ft-noaug skips it).
# SEEDS (AUG_SEEDS for the augmented arms), FRACTIONS, FINETUNE_ARGS (default: the pipeline's
# MLP head) and ARMS select the grid.

TOP     := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
include $(TOP)/pipelines/tools.mk

DATA      ?= $(TOP)/../shared/data/covid-ct
OUT       ?= out
SEEDS     ?= 1 2 3 4 5
# The augmented arms train on 11x the rows: fewer seeds by default (2 cores shared here).
AUG_SEEDS ?= 1 2 3
FRACTIONS ?= 0.05 0.1 0.25 0.5 1
FINETUNE_ARGS ?= --head mlp
SOURCES   ?= $(wildcard $(DATA)/sources.tsv)
SOURCE_COLUMN ?= 3
PYTHON    ?= /usr/bin/python3
include $(TOP)/pipelines/backbones.mk

C := $(OUT)/curves
empty :=
space := $(empty) $(empty)
# Features of each backbone, augmented ('') or not (-noaug), as pipelines/covid-ct.mk names them.
feat = $(OUT)/feat-$(1).$(LAYER_$(1))$(2).h5
ARMS ?= inception_v3 mobilenet_v2 fused inception_v3-noaug mobilenet_v2-noaug fused-noaug fused-ft-noaug
FILE_inception_v3        = $(call feat,inception_v3,)
FILE_mobilenet_v2        = $(call feat,mobilenet_v2,)
FILE_fused               = $(C)/fused.h5
FILE_inception_v3-noaug  = $(call feat,inception_v3,-noaug)
FILE_mobilenet_v2-noaug  = $(call feat,mobilenet_v2,-noaug)
FILE_fused-noaug         = $(C)/fused-noaug.h5
# The fine-tuned arm (docs/finetune.md): the fused fine-tuned experiment of covid-ct.mk
# FINETUNE=1 (InceptionV3 from mixed5 to mixed6 and MobileNetV2 from block_9_add to
# block_10_project_BN, trained with the head) on the same patient subsets, from the cut
# activations of the plain images; FT_SEEDS (each run fine-tunes: minutes, not seconds).
CUT_inception_v3 ?= mixed5
CUT_mobilenet_v2 ?= block_9_add
cut = $(OUT)/cut-$(1).$(CUT_$(1))-noaug.h5
FT_SEEDS ?= 1 2 3
FT_CURVE_ARGS ?= --finetune --output-layer $(LAYER_inception_v3),$(LAYER_mobilenet_v2) --head mlp --epochs 30 --patience 5
FILES_fused-ft-noaug     = $(call cut,inception_v3) $(call cut,mobilenet_v2)
ARGS_fused-ft-noaug      = $(FT_CURVE_ARGS)
SEEDS_fused-ft-noaug     = $(FT_SEEDS)

.PHONY: all
.DELETE_ON_ERROR:
all: $(C)/summary.tsv $(C)/curves.svg $(C)/curves.md

# Missing features: made by the main pipeline (order-only for existing ones: never rebuilt here).
$(call feat,inception_v3,) $(call feat,mobilenet_v2,):
	$(MAKE) -f $(TOP)/pipelines/covid-ct.mk DATA=$(DATA) OUT=$(OUT) AUGMENT=1 $@
$(call feat,inception_v3,-noaug) $(call feat,mobilenet_v2,-noaug):
	$(MAKE) -f $(TOP)/pipelines/covid-ct.mk DATA=$(DATA) OUT=$(OUT) AUGMENT=0 $@

$(call cut,inception_v3) $(call cut,mobilenet_v2):
	$(MAKE) -f $(TOP)/pipelines/covid-ct.mk DATA=$(DATA) OUT=$(OUT) FINETUNE=1 \
		CUT_inception_v3=$(CUT_inception_v3) CUT_mobilenet_v2=$(CUT_mobilenet_v2) $@

$(C)/fused.h5: $(call feat,inception_v3,) $(call feat,mobilenet_v2,)
	@mkdir -p $(C)
	ct-fuse $^ -o $@ --force -q
$(C)/fused-noaug.h5: $(call feat,inception_v3,-noaug) $(call feat,mobilenet_v2,-noaug)
	@mkdir -p $(C)
	ct-fuse $^ -o $@ --force -q

# Parameter stamps, rewritten only when their text changes (as in covid-ct.mk): the training
# arguments (a change discards the arm's finished runs) and the grid (a change reruns the arm,
# reusing the runs it already has).
ARGS_TEXT := $(FINETUNE_ARGS) | $(SOURCES) $(SOURCE_COLUMN) | $(FT_CURVE_ARGS)
GRID_TEXT := $(SEEDS) | $(AUG_SEEDS) | $(FT_SEEDS) | $(FRACTIONS)
.PHONY: FORCE
FORCE:
$(if $(filter x$(ARGS_TEXT)x,x$(file <$(C)/.args)x),,$(eval $(C)/.args: FORCE))
$(if $(filter x$(GRID_TEXT)x,x$(file <$(C)/.grid)x),,$(eval $(C)/.grid: FORCE))
$(C)/.args:
	@mkdir -p $(C)
	@printf '%s\n' '$(ARGS_TEXT)' > $@
$(C)/.grid:
	@mkdir -p $(C)
	@printf '%s\n' '$(GRID_TEXT)' > $@

# One TSV per arm (OUT/curves/arm-ARM.tsv.part holds the finished runs while it runs).
# An arm reads FILE_ARM, or FILES_ARM (several files: one ct-finetune over all of them), with
# ARGS_ARM (default FINETUNE_ARGS) and SEEDS_ARM (default SEEDS, AUG_SEEDS for augmented arms).
define arm_rule
$(C)/arm-$(1).tsv: $(or $(FILES_$(1)),$(FILE_$(1))) $(C)/.args $(C)/.grid $(TOP)/scripts/curves.sh
	@if [ -f $$@.part ] && [ $(C)/.args -nt $$@.part ]; then rm -f $$@.part; fi
	SEEDS="$(or $(SEEDS_$(1)),$(if $(findstring noaug,$(1)),$(SEEDS),$(AUG_SEEDS)))" FRACTIONS="$(FRACTIONS)" \
		FINETUNE_ARGS="$(or $(ARGS_$(1)),$(FINETUNE_ARGS))" SOURCES="$(SOURCES)" \
		SOURCE_COLUMN=$(SOURCE_COLUMN) PYTHON=$(PYTHON) sh $(TOP)/scripts/curves.sh $(1) \
		$(subst $(space),+,$(strip $(or $(FILES_$(1)),$(FILE_$(1))))) $$@.part
	cp -f $$@.part $$@
endef
$(foreach a,$(ARMS),$(eval $(call arm_rule,$(a))))

$(C)/curves.tsv: $(foreach a,$(ARMS),$(C)/arm-$(a).tsv)
	{ head -n 1 $<; for f in $^; do tail -n +2 $$f; done; } > $@.tmp && mv -f $@.tmp $@

$(C)/summary.tsv $(C)/curves.svg $(C)/curves.md &: $(C)/curves.tsv $(TOP)/scripts/curves_plot.py
	$(PYTHON) $(TOP)/scripts/curves_plot.py $< $(C)/summary.tsv $(C)/curves.svg > $(C)/curves.md.tmp && \
		mv -f $(C)/curves.md.tmp $(C)/curves.md

# ---- selection protocol (docs/results.md, "Choosing by cross-validation") ----
# make -f pipelines/curves.mk DATA=... OUT=... select
# -> OUT/curves/select/{candidates.tsv,runs.tsv,summary.md}: each candidate (name, features,
# ct-finetune options) cross-validated over train+val with CV_K patient-grouped folds for each
# of CV_SEEDS (scripts/select_cv.sh); the test split is not read. CANDIDATES: names of
# CAND_<name> definitions "FEATURES|OPTIONS" below (add your own on the command line).
CV_SEEDS ?= 1 2 3 4 5
CV_K     ?= 5
S        := $(C)/select
FUSED13  := $(C)/fused13-noaug.h5
CAND_fused-mlp-noaug       = $(C)/fused-noaug.h5|--head mlp
CAND_fused-logreg-noaug    = $(C)/fused-noaug.h5|--head logreg
CAND_fused13-mlp-noaug     = $(FUSED13)|--head mlp
CAND_inception_v3-mlp-noaug = $(call feat,inception_v3,-noaug)|--head mlp
CAND_fused-mlp-aug         = $(C)/fused.h5|--head mlp
CAND_fused-mlp-ens3-noaug  = $(C)/fused-noaug.h5|--head mlp --ensemble 3
CAND_fused-mlp-ens5-noaug  = $(C)/fused-noaug.h5|--head mlp --ensemble 5
# fused-mlp-aug is defined but not listed by default: 5-10 min per seed here (docs/results.md
# ran it with CV_SEEDS="1 2": CANDIDATES="$(CANDIDATES) fused-mlp-aug").
# fused-mlp-ens3/ens5-noaug (seed ensembles of the head, ct-finetune --ensemble K): K times the
# head's cost, 1-1.5 min per seed here; CANDIDATES="fused-mlp-noaug fused-mlp-ens5-noaug".
CANDIDATES ?= fused-mlp-noaug fused-logreg-noaug fused13-mlp-noaug inception_v3-mlp-noaug
cand_file = $(firstword $(subst |, ,$(CAND_$(1))))
cand_opts = $(wordlist 2,100,$(subst |, ,$(CAND_$(1))))

$(OUT)/feat-mobilenet_v2.block_13_project_BN-noaug.h5:
	$(MAKE) -f $(TOP)/pipelines/covid-ct.mk DATA=$(DATA) OUT=$(OUT) AUGMENT=0 LAYER_mobilenet_v2=block_13_project_BN $@
$(FUSED13): $(call feat,inception_v3,-noaug) $(OUT)/feat-mobilenet_v2.block_13_project_BN-noaug.h5
	@mkdir -p $(C)
	ct-fuse $^ -o $@ --force -q

.PHONY: select
select: $(S)/summary.md
$(S)/candidates.tsv: FORCE
	@mkdir -p $(S)
	@{ $(foreach c,$(CANDIDATES),printf '%s\t%s\t%s\n' '$(c)' '$(call cand_file,$(c))' '$(call cand_opts,$(c))';) } > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi
$(S)/summary.md: $(S)/candidates.tsv $(foreach c,$(CANDIDATES),$(call cand_file,$(c))) $(TOP)/scripts/select_cv.sh
	SEEDS="$(CV_SEEDS)" K=$(CV_K) sh $(TOP)/scripts/select_cv.sh $(S)/candidates.tsv $(S)/runs.tsv > $@.tmp && mv -f $@.tmp $@
