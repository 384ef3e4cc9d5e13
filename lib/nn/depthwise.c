/* depthwise.c - which depthwise convolutions the direct kernels take (depthwise.h): stride 1.
 * At stride 2 they were 3-5% slower than the per-pixel loops of ops_impl.h in an A/B of
 * MobileNetV2's strided layers (memory bound either way), so those stay there. */
#include "nn/depthwise.h"

int ct_dwk_fits(const ct_conv_geom *g)
{
	return g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1 && g->cin == g->cout &&
	       g->sh == 1 && g->sw == 1;
}
