# covid-ct.mk - the method end to end as a make pipeline: convert, augment, features for each
# backbone, fuse, train the classifier head, score on the test split, write the report.
#
#   make -f pipelines/covid-ct.mk DATA=../shared/data/covid-ct OUT=out \
#        BACKBONES="inception_v3 mobilenet_v2"
#
# Shared stages live in OUT (images-SIZE.h5, aug[-tta]-SIZE.h5, feat-BACKBONE.LAYER[-noaug|-tta].h5); each
# experiment (a set of backbones, with or without augmentation) gets its own folder
# OUT/EXP (fused.h5, model.h5, scores.h5, scores.tsv, metrics.json, report.html), so runs
# with other backbone sets reuse the features already computed. EXP defaults to the
# backbones joined by '+', with '-noaug' when AUGMENT=0, '-tta' when TTA=1.
#
# Runs in parallel with -j. Every stage's parameters are prerequisites (stamp files under
# OUT/.params that change only when the parameters do), so changing one parameter reruns
# that stage and those downstream of it, and rerunning with nothing changed does nothing;
# `make -n` lists exactly the stages a run would run.
#
# SHARDS=N splits convert, augment and features (and FINETUNE=1's cut activations) into N
# shard files each (OUT/shards/, made with --shard K/N, joined by ct-merge into the same file
# names): the Slurm job graph (pipelines/slurm/submit.sh) builds one shard per array task
# with this makefile. The merged files equal the unsharded ones, so a run with any SHARDS
# picks up another's outputs.
# QUIET= (empty) lets the tools print progress and summaries (job logs).

TOP     := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
include $(TOP)/pipelines/tools.mk

DATA      ?= $(TOP)/../shared/data/covid-ct
OUT       ?= out
BACKBONES ?= inception_v3 mobilenet_v2
SPLIT     ?= $(DATA)/Data-split
GROUPS    ?= $(DATA)/patients.tsv
AUGMENT   ?= 1
# TTA=1: test-time augmentation (docs/results.md, "Test-time augmentation"): the val and test
# images get augmented copies too (ct-augment --all: OUT/aug-tta-SIZE.h5, features
# feat-...-tta.h5), the head is the same (ct-finetune leaves val copies out), and ct-score --tta
# scores each image by the mean over it and its copies. Needs AUGMENT=1; experiment EXP-tta.
TTA       ?= 0
SEED      ?= 1
SHARDS    ?= 1
QUIET     ?= -q

# Stage parameters (override on the command line; each is a prerequisite of its stage).
# Defaults: cuts and head chosen on the validation split (docs/results.md).
CONVERT_ARGS  ?= --split $(SPLIT) --groups $(GROUPS)
AUGMENT_ARGS  ?= --copies 10 --shear 10 --rotate 10 --shift 0.1 --zoom 0.1 --seed $(SEED)
FEATURE_ARGS  ?= --batch 16
FUSE_ARGS     ?=
FINETUNE_ARGS ?= --head mlp --seed $(SEED)
SCORE_ARGS    ?= --threshold youden --bootstrap 1000 --seed $(SEED)
# Source rather than disease (docs/results.md, "Generalisation"): metrics per source when the
# data set lists its sources (COVID-CT's sources.tsv: column 3, the source kind), and the
# shortcut audit (AUDIT=1): baselines from the nuisance attributes of the images file.
SOURCES       ?= $(wildcard $(DATA)/sources.tsv)
SOURCE_COLUMN ?= 3
AUDIT         ?= 1

include $(TOP)/pipelines/backbones.mk

empty :=
space := $(empty) $(empty)
ifeq ($(TTA)$(AUGMENT),10)
$(error TTA=1 averages augmented copies: it needs AUGMENT=1)
endif
TTA_SUFFIX := $(if $(filter 1,$(TTA)),-tta)
SUFFIX := $(if $(filter 1,$(AUGMENT)),$(TTA_SUFFIX),-noaug)
# the augmented images: train copies (aug-SIZE.h5), or copies of every split (aug-tta-SIZE.h5)
AUGNAME := aug$(TTA_SUFFIX)
AUG_ALL := $(if $(filter 1,$(TTA)),--all)
SCORE_TTA := $(if $(filter 1,$(TTA)),--tta)
EXP    ?= $(subst $(space),+,$(strip $(BACKBONES)))$(SUFFIX)
E      := $(OUT)/$(EXP)
SIZES  := $(sort $(foreach b,$(BACKBONES),$(SIZE_$(b))))
P      := $(OUT)/.params

.PHONY: all clean
.DELETE_ON_ERROR:
all: $(E)/report.html

# $(call stamp,NAME,TEXT): $(P)/NAME holds TEXT and is rewritten only when TEXT changes. The
# comparison happens while make reads this file, so a stamp is out of date (and `make -n`
# shows it and the stages after it) only when its parameters changed. Both sides are stripped:
# inside this makefile, make 4.3's $(file <) returned the fine-tuning stamp (261 bytes of long
# paths) with its final newline, so that stage reran every time (not reproduced standalone).
same = $(and $(findstring x$(1)x,x$(2)x),$(findstring x$(2)x,x$(1)x))
STAMPS :=
define stamp
$(if $(call same,$(strip $(file <$(P)/$(1))),$(strip $(2))),,$(eval $(P)/$(1): FORCE))
STAMPS += $(P)/$(1)
$(P)/$(1):
	@mkdir -p $(P)
	@printf '%s\n' '$(subst ','\'',$(2))' > $$@.$$$$$$$$ && mv -f $$@.$$$$$$$$ $$@
endef
.PHONY: FORCE stamps
FORCE:

# $(call shards,FILE): FILE's shard files OUT/shards/NAME.K-of-N.h5, K = 1..SHARDS.
SH := $(OUT)/shards
shards = $(foreach k,$(shell seq 1 $(SHARDS)),$(SH)/$(basename $(notdir $(1))).$(k)-of-$(SHARDS).h5)
# The shard number K of a shard file.
shard_k = $(subst .,,$(suffix $(firstword $(subst -of-, ,$(notdir $(1))))))

# Images, per input size; augmented copies of the training images.
define size_rules
$(eval $(call stamp,convert-$(1),$(DATA) --size $(1) $(CONVERT_ARGS)))
ifeq ($(SHARDS),1)
$(OUT)/images-$(1).h5: $(P)/convert-$(1)
	@mkdir -p $(OUT)
	ct-convert $(DATA) --size $(1) $(CONVERT_ARGS) -o $$@ --force $(QUIET)
else
$(call shards,images-$(1).h5): $(P)/convert-$(1)
	@mkdir -p $(SH)
	ct-convert $(DATA) --size $(1) $(CONVERT_ARGS) --shard $$(call shard_k,$$@)/$(SHARDS) -o $$@ --force $(QUIET)
$(OUT)/images-$(1).h5: $(call shards,images-$(1).h5)
	ct-merge $$^ -o $$@ --force $(QUIET)
endif
$(eval $(call stamp,augment$(TTA_SUFFIX)-$(1),$(AUGMENT_ARGS) $(AUG_ALL)))
ifeq ($(SHARDS),1)
$(OUT)/$(AUGNAME)-$(1).h5: $(OUT)/images-$(1).h5 $(P)/augment$(TTA_SUFFIX)-$(1)
	ct-augment $$< $(AUGMENT_ARGS) $(AUG_ALL) -o $$@ --force $(QUIET)
else
$(call shards,$(AUGNAME)-$(1).h5): $(OUT)/images-$(1).h5 $(P)/augment$(TTA_SUFFIX)-$(1)
	@mkdir -p $(SH)
	ct-augment $$< $(AUGMENT_ARGS) $(AUG_ALL) --shard $$(call shard_k,$$@)/$(SHARDS) -o $$@ --force $(QUIET)
$(OUT)/$(AUGNAME)-$(1).h5: $(call shards,$(AUGNAME)-$(1).h5)
	ct-merge $$^ -o $$@ --force $(QUIET)
endif
endef
$(foreach s,$(SIZES),$(eval $(call size_rules,$(s))))

# Features, per backbone and cut, from the augmented images (or the plain ones with
# AUGMENT=0); the file name carries the cut, so experiments with other cuts keep theirs.
comma := ,
FEAT = $(OUT)/feat-$(1)$(if $(LAYER_$(1)),.$(subst $(comma),+,$(LAYER_$(1))))$(SUFFIX).h5
# The weight file of each backbone: the first on the tools' weights search path (ctfuse(7)),
# passed with --weights so that it is also the stage's prerequisite. In a source tree a
# missing file is fetched (below); installed, ct-features says where it looked.
XDG_WEIGHTS  := $(or $(XDG_DATA_HOME),$(HOME)/.local/share)/ctfuse/weights
WEIGHTS_PATH := $(subst :, ,$(CT_WEIGHTS_DIR)) $(XDG_WEIGHTS) $(abspath $(CTBIN)/../share/ctfuse/weights) \
		$(if $(wildcard $(TOP)/tools/ct-features.c),$(TOP)/weights)
weights_of = $(or $(firstword $(wildcard $(addsuffix /$(1).h5,$(WEIGHTS_PATH)))),$(if $(wildcard \
	$(TOP)/tools/ct-features.c),$(or $(firstword $(subst :, ,$(CT_WEIGHTS_DIR))),$(TOP)/weights)/$(1).h5))
FEATURES_CMD = ct-features --backbone $(1) $(if $(LAYER_$(1)),--layer $(LAYER_$(1))) \
	$(if $(call weights_of,$(1)),--weights $(call weights_of,$(1))) $(FEATURE_ARGS)
define backbone_rules
$(eval $(call stamp,features-$(1)$(if $(LAYER_$(1)),.$(subst $(comma),+,$(LAYER_$(1))))$(SUFFIX),$(FEATURE_ARGS)))
ifeq ($(SHARDS),1)
$(call FEAT,$(1)): $(OUT)/$(if $(filter -noaug,$(SUFFIX)),images,$(AUGNAME))-$(SIZE_$(1)).h5 \
		$(P)/features-$(1)$(if $(LAYER_$(1)),.$(subst $(comma),+,$(LAYER_$(1))))$(SUFFIX) $(call weights_of,$(1))
	$(call FEATURES_CMD,$(1)) $$< -o $$@ --resume --force $(QUIET)
else
$(call shards,$(call FEAT,$(1))): $(OUT)/$(if $(filter -noaug,$(SUFFIX)),images,$(AUGNAME))-$(SIZE_$(1)).h5 \
		$(P)/features-$(1)$(if $(LAYER_$(1)),.$(subst $(comma),+,$(LAYER_$(1))))$(SUFFIX) $(call weights_of,$(1))
	@mkdir -p $(SH)
	$(call FEATURES_CMD,$(1)) --shard $$(call shard_k,$$@)/$(SHARDS) $$< -o $$@ --resume --force $(QUIET)
$(call FEAT,$(1)): $(call shards,$(call FEAT,$(1)))
	ct-merge $$^ -o $$@ --force $(QUIET)
endif
endef
$(foreach b,$(BACKBONES),$(eval $(call backbone_rules,$(b))))

# Shard files are intermediate: once merged they may be deleted without making anything stale.
ifneq ($(SHARDS),1)
.SECONDARY: $(foreach s,$(SIZES),$(call shards,images-$(s).h5) $(call shards,$(AUGNAME)-$(s).h5)) \
	$(foreach b,$(BACKBONES),$(call shards,$(call FEAT,$(b))))
endif

# In a source tree, the nsfwjs weights are fetched once for the backbones that need them; the
# official Keras files of the others cannot be fetched from here (make weights-keras says what
# to place).
ifneq ($(wildcard $(TOP)/tools/ct-features.c),)
WDIR := $(or $(firstword $(subst :, ,$(CT_WEIGHTS_DIR))),$(TOP)/weights)
$(WDIR)/inception_v3.h5 $(WDIR)/mobilenet_v2.h5 &:
	$(MAKE) -C $(TOP) weights
$(WDIR)/%.h5:
	$(MAKE) -C $(TOP) weights-keras
endif

FEATS := $(foreach b,$(BACKBONES),$(call FEAT,$(b)))
# The experiment's fuse stamp names its feature files, so other cuts refuse the fused file.
$(eval $(call stamp,fuse-$(EXP),$(FEATS) $(FUSE_ARGS)))
$(E)/fused.h5: $(FEATS) $(P)/fuse-$(EXP)
	@mkdir -p $(E)
	ct-fuse $(FEATS) $(FUSE_ARGS) -o $@ --force $(QUIET)

$(eval $(call stamp,finetune-$(EXP),$(FINETUNE_ARGS)))
$(E)/model.h5: $(E)/fused.h5 $(P)/finetune-$(EXP)
	ct-finetune $< $(FINETUNE_ARGS) -o $@ --force $(QUIET)

AUDIT_IMAGES := $(if $(filter 1,$(AUDIT)),$(OUT)/images-$(firstword $(SIZES)).h5)
GEN_ARGS = $(if $(SOURCES),--sources $(SOURCES) --source-column $(SOURCE_COLUMN)) $(if $(AUDIT_IMAGES),--audit $(AUDIT_IMAGES))
$(eval $(call stamp,score-$(EXP),$(SCORE_ARGS) $(SCORE_TTA) $(GEN_ARGS)))
$(E)/scores.h5 $(E)/scores.tsv $(E)/metrics.json $(E)/report.html &: $(E)/model.h5 $(E)/fused.h5 $(P)/score-$(EXP) \
		$(AUDIT_IMAGES)
	ct-score $(E)/model.h5 $(E)/fused.h5 $(SCORE_ARGS) $(SCORE_TTA) $(GEN_ARGS) -o $(E)/scores.h5 --tsv $(E)/scores.tsv \
		--report $(E)/report.html --force --json > $(E)/metrics.json.new && mv $(E)/metrics.json.new $(E)/metrics.json

# FINETUNE=1 adds the fine-tuned experiment OUT/ft-EXP (docs/finetune.md, "The pipeline"):
# for each backbone of FT_BACKBONES (default: BACKBONES, all fused under one head) the
# activations at its cut CUT_BACKBONE (ct-features --cut: OUT/cut-BACKBONE.CUT[-noaug].h5), then
# one ct-finetune --finetune CUT_1 CUT_2 ... trains the layers from each cut to the layer the
# head reads (--output-layer: LAYER_BACKBONE of backbones.mk, the head-only pipeline's layers;
# empty = the backbone's feature layer) together with the fused head, and ct-score MODEL CUT_1
# CUT_2 ... scores the test split. EXP is the backbones joined by '+' (ft-inception_v3+mobilenet_v2;
# ft-mobilenet_v2 with FT_BACKBONES=mobilenet_v2), with '-aug' when FT_AUGMENT=1.
# FT_AUGMENT=0 (default): the cut maps of the plain images (images-SIZE.h5), whatever AUGMENT
# says: ct-finetune holds the maps of every train and val row in memory, and with the augmented
# copies the run leaves the issue's budget (mixed5: 17x17x768 float32 = 0.89 MB per image;
# COVID-CT with 10 copies: 425 x 11 train + 118 val rows, 4.3 GB for InceptionV3's maps alone,
# and an epoch costs ~11x: about 5 min, so 30 epochs of patience run far past 30 minutes).
# FT_AUGMENT=1 reads aug-SIZE.h5
# (AUGMENT_ARGS) instead. The weights are each backbone's file on the weights search path (as
# for the features). FT_ARGS may add --cv K (each fold fine-tuned; K times the cost).
# predict.mk and evaluate.mk take the experiment's folder as MODEL_DIR and score plain images.
# FT_BACKBONE (one name) is the older spelling of FT_BACKBONES.
FINETUNE     ?= 0
FT_BACKBONES ?= $(or $(FT_BACKBONE),$(BACKBONES))
FT_AUGMENT   ?= 0
# The cuts measured best on COVID-CT validation (docs/results.md): InceptionV3 trains mixed6,
# MobileNetV2 block_10 (the heads read mixed6 and block_10_project_BN). For the others, the
# last block trains (not measured); Xception has no backward pass (SeparableConv2D).
CUT_inception_v3 ?= mixed5
CUT_mobilenet_v2 ?= block_9_add
CUT_resnet50     ?= conv5_block2_out
CUT_vgg16        ?= block5_conv2
CUT_densenet121  ?= conv5_block15_concat
FT_ARGS      ?= --head mlp --seed $(SEED) --epochs 30 --patience 5
ifeq ($(FINETUNE),1)
$(foreach b,$(FT_BACKBONES),$(if $(filter xception,$(b)),$(error FINETUNE=1: xception cannot be fine-tuned \
	(SeparableConv2D has no backward pass); set FT_BACKBONES to the others)))
$(foreach b,$(FT_BACKBONES),$(if $(CUT_$(b)),,$(error FINETUNE=1: no cut for $(b): set CUT_$(b)=LAYER)))
$(foreach b,$(FT_BACKBONES),$(if $(SIZE_$(b)),,$(error FINETUNE=1: unknown backbone '$(b)' in FT_BACKBONES)))
$(foreach b,$(FT_BACKBONES),$(if $(findstring $(comma),$(LAYER_$(b))),$(error FINETUNE=1: LAYER_$(b)=$(LAYER_$(b)): \
	the fine-tuned head reads one layer per backbone)))
FT_SUFFIX := $(if $(filter 1,$(FT_AUGMENT)),$(TTA_SUFFIX),-noaug)
# TTA=1 with FT_AUGMENT=1: the cuts of aug-tta-SIZE.h5, scored with --tta
FT_TTA := $(if $(filter 1,$(FT_AUGMENT)),$(SCORE_TTA))
# images of the sizes BACKBONES does not need
$(foreach s,$(filter-out $(SIZES),$(sort $(foreach b,$(FT_BACKBONES),$(SIZE_$(b))))),$(eval $(call size_rules,$(s))))
FT_EXP    ?= ft-$(subst $(space),+,$(strip $(FT_BACKBONES)))$(if $(filter 1,$(FT_AUGMENT)),-aug$(TTA_SUFFIX))
FE        := $(OUT)/$(FT_EXP)
# $(call CUT_NAME,B): the shared stage name of B's cut file; $(call CUTF,B) the file
CUT_NAME = cut-$(1).$(CUT_$(1))$(FT_SUFFIX)
CUTF     = $(OUT)/$(call CUT_NAME,$(1)).h5
CUT_CMD  = ct-features --backbone $(1) --layer $(CUT_$(1)) --cut $(CUT_$(1)) \
	$(if $(call weights_of,$(1)),--weights $(call weights_of,$(1))) $(FEATURE_ARGS)
# SHARDS=N: N shard files per cut (resumable, as the features), joined by ct-merge.
define cut_rules
$(eval $(call stamp,$(call CUT_NAME,$(1)),$(FEATURE_ARGS)))
ifeq ($(SHARDS),1)
$(call CUTF,$(1)): $(OUT)/$(if $(filter -noaug,$(FT_SUFFIX)),images,$(AUGNAME))-$(SIZE_$(1)).h5 $(P)/$(call CUT_NAME,$(1)) $(call weights_of,$(1))
	$(call CUT_CMD,$(1)) $$< -o $$@ --force $(QUIET)
else
$(call shards,$(call CUTF,$(1))): $(OUT)/$(if $(filter -noaug,$(FT_SUFFIX)),images,$(AUGNAME))-$(SIZE_$(1)).h5 $(P)/$(call CUT_NAME,$(1)) \
		$(call weights_of,$(1))
	@mkdir -p $(SH)
	$(call CUT_CMD,$(1)) --shard $$(call shard_k,$$@)/$(SHARDS) $$< -o $$@ --resume --force $(QUIET)
$(call CUTF,$(1)): $(call shards,$(call CUTF,$(1)))
	ct-merge $$^ -o $$@ --force $(QUIET)
endif
endef
$(foreach b,$(FT_BACKBONES),$(eval $(call cut_rules,$(b))))
FT_CUTS    := $(foreach b,$(FT_BACKBONES),$(call CUTF,$(b)))
ifneq ($(SHARDS),1)
.SECONDARY: $(foreach f,$(FT_CUTS),$(call shards,$(f)))
endif
# for the job graph (plan): the input sizes the cuts read, as images or augmented images
FT_SIZES := $(sort $(foreach b,$(FT_BACKBONES),$(SIZE_$(b))))
FT_READS := $(foreach s,$(FT_SIZES),$(OUT)/$(if $(filter -noaug,$(FT_SUFFIX)),images,$(AUGNAME))-$(s).h5)
FT_WEIGHTS := $(foreach b,$(FT_BACKBONES),$(call weights_of,$(b)))
# one item per backbone, in order (an empty item: the backbone's feature layer)
FT_OUTPUTS := $(subst @,,$(subst $(space),$(comma),$(strip $(foreach b,$(FT_BACKBONES),$(or $(LAYER_$(b)),@)))))
FT_CMD_ARGS = $(if $(subst $(comma),,$(FT_OUTPUTS)),--output-layer $(FT_OUTPUTS)) $(if $(filter $(words $(FT_BACKBONES)),$(words $(FT_WEIGHTS))),--weights \
	$(subst $(space),$(comma),$(strip $(FT_WEIGHTS)))) $(FT_ARGS)
# The stamp names the cut files and the weights, so that another cut (even one whose file is
# older than the model) retrains the model, and nothing else does.
$(eval $(call stamp,$(FT_EXP),$(FT_CUTS) $(FT_CMD_ARGS)))
$(FE)/model.h5: $(FT_CUTS) $(FT_WEIGHTS) $(P)/$(FT_EXP)
	@mkdir -p $(FE)
	ct-finetune --finetune $(FT_CUTS) $(FT_CMD_ARGS) -o $@ --force
# scored like the head-only experiment: metrics per source and the shortcut audit (GEN_ARGS)
$(eval $(call stamp,score-$(FT_EXP),$(SCORE_ARGS) $(FT_TTA) $(GEN_ARGS)))
$(FE)/scores.h5 $(FE)/scores.tsv $(FE)/metrics.json $(FE)/report.html &: $(FE)/model.h5 $(FT_CUTS) \
		$(P)/score-$(FT_EXP) $(AUDIT_IMAGES)
	ct-score $(FE)/model.h5 $(FT_CUTS) $(SCORE_ARGS) $(FT_TTA) $(GEN_ARGS) -o $(FE)/scores.h5 --tsv $(FE)/scores.tsv \
		--report $(FE)/report.html --force --json > $(FE)/metrics.json.new && mv $(FE)/metrics.json.new $(FE)/metrics.json
all: $(FE)/report.html
endif

# The job graph that pipelines/slurm/submit.sh submits: "STAGE TARGET..." lines in order, the
# shards of a stage as one job array, each merge and the last three stages as single jobs.
# With FINETUNE=1 the images and augmented images the cuts read join them, and four stages
# follow: the cut activations (cut-input: the files they read, whose jobs the cuts wait for),
# their merge, the fine-tuning and its scoring (single jobs too).
IMAGES := $(foreach s,$(sort $(SIZES) $(FT_SIZES)),$(OUT)/images-$(s).h5)
AUGS   := $(foreach s,$(sort $(if $(filter -noaug,$(SUFFIX)),,$(SIZES)) $(if $(filter -noaug,$(FT_SUFFIX)),,$(FT_SIZES))),$(OUT)/$(AUGNAME)-$(s).h5)
sharded = $(if $(filter 1,$(SHARDS)),$(1),$(foreach f,$(1),$(call shards,$(f))))
.PHONY: plan
plan:
	@echo 'out $(OUT)'
	@echo 'convert $(call sharded,$(IMAGES))'
	@echo 'convert-merge $(if $(filter 1,$(SHARDS)),,$(IMAGES))'
	@echo 'augment $(if $(AUGS),$(call sharded,$(AUGS)))'
	@echo 'augment-merge $(if $(filter 1,$(SHARDS)),,$(AUGS))'
	@echo 'features $(call sharded,$(FEATS))'
	@echo 'features-merge $(if $(filter 1,$(SHARDS)),,$(FEATS))'
	@echo 'fuse $(E)/fused.h5'
	@echo 'train $(E)/model.h5'
	@echo 'score $(E)/report.html'
ifeq ($(FINETUNE),1)
	@echo 'cut-input $(FT_READS)'
	@echo 'cut $(call sharded,$(FT_CUTS))'
	@echo 'cut-merge $(if $(filter 1,$(SHARDS)),,$(FT_CUTS))'
	@echo 'finetune $(FE)/model.h5'
	@echo 'ft-score $(FE)/report.html'
endif

# Bring every parameter stamp up to date (the Slurm submit script does before submitting, so
# that concurrent array tasks find them current).
stamps: $(STAMPS)

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
