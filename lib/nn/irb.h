/* irb.h - private to the engine: inverted residual blocks ([conv ->] depthwise -> 1x1 conv)
 * run as one step in row tiles (irb.c). */
#ifndef CT_IRB_H
#define CT_IRB_H

#include "nn/net_impl.h"

/* After liveness, before the buffers are placed: mark the groups of steps that can run fused (step.fuse,
 * .tile, .fwork). CT_IRB=0 in the environment turns fusion off (A/B), CT_IRB_KB sets the
 * tile's cache budget in KiB, CT_IRB_PAIRS=1 fuses depthwise -> 1x1 pairs without an expand
 * conv too (off by default: slower on Xception); CT_IRB_MINROWS the output rows per thread a
 * block needs to run fused when split over the threads (default 7). */
void ct_irb_plan(ct_net *net);
/* Whether the group at st runs fused for n images on nt threads per op. */
int ct_irb_use(const ct_net *net, const step *st, int n, int nt);
/* Run the group at st (st->fuse + 1 steps) on activation set cx. */
void ct_irb_run(const ct_net *net, int cx, float *work, const step *st, int n, int nt);

#endif
