# tools.mk - the tools and their environment, for every pipeline (included after it sets TOP,
# the folder above pipelines/).
# The tools: bin/ of a source tree, or PREFIX/bin when installed (PREFIX/share/ctfuse/pipelines).
CTBIN   ?= $(if $(wildcard $(TOP)/tools/ct-features.c),$(TOP)/bin,$(abspath $(TOP)/../../bin))
export PATH := $(CTBIN):$(PATH)
export CT_WEIGHTS_DIR
# Stages run side by side under -j: OpenMP threads that spin while waiting would steal the
# cores the other stage needs (measured: 2x slower), so idle threads sleep.
export OMP_WAIT_POLICY ?= passive
