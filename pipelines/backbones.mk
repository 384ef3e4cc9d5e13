# backbones.mk - input size and default feature cut of each backbone, shared by the pipelines.
# The cuts for inception_v3 and mobilenet_v2 were chosen on the COVID-CT validation split
# (scripts/sweep_cuts.sh; docs/results.md): intermediate cuts transfer better to CT.
SIZE_inception_v3   ?= 299
SIZE_mobilenet_v2   ?= 224
SIZE_resnet50       ?= 224
SIZE_vgg16          ?= 224
SIZE_densenet121    ?= 224
SIZE_xception       ?= 299
LAYER_inception_v3  ?= mixed6
LAYER_mobilenet_v2  ?= block_10_project_BN
