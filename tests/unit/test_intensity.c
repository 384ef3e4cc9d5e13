/* test_intensity.c - window/minmax/none arithmetic, alpha, channel conversion and NaN refusal of ct_intensity_apply. */
#include "image/intensity.h"

#include "core/error.h"
#include "core/tensor.h"
#include "test.h"

#include <math.h>

static float at(const ct_tensor *t, int y, int x, int c)
{
	return ((const float *)t->data)[(y * t->shape[1] + x) * t->shape[2] + c];
}

int main(void)
{
	ct_intensity p;
	ct_tensor out;

	/* window: lung -600/1500 on float HU values */
	{
		float v[5] = { -1350, 150, -600, -2000, 900 };
		int64_t sh[3] = { 1, 5, 1 };
		ct_tensor in = ct_tensor_wrap(v, CT_F32, 3, sh);
		ct_intensity_defaults(&p);
		p.mode = CT_INTENSITY_WINDOW;
		p.level = -600, p.width = 1500, p.channels = 1;
		ok(ct_intensity_apply(&in, &p, &out) == 0, "window on float input succeeds");
		ok(out.shape[0] == 1 && out.shape[1] == 5 && out.shape[2] == 1 && out.dtype == CT_F32,
		   "output is h x w x 1 float32");
		ok(at(&out, 0, 0, 0) == 0.0f, "window bottom -1350 HU -> 0");
		ok(at(&out, 0, 1, 0) == 1.0f, "window top 150 HU -> 1");
		ok(fabsf(at(&out, 0, 2, 0) - 0.5f) < 1e-7f, "window level -600 HU -> 0.5");
		ok(at(&out, 0, 3, 0) == 0.0f && at(&out, 0, 4, 0) == 1.0f, "values outside the window are clamped");
		ct_tensor_free(&out);
	}
	/* window with HU rescale: stored uint16 = HU + 2048 (slope 1, offset -2048) */
	{
		uint16_t v[3] = { 2048 - 1350, 2048 + 150, 2048 - 225 };
		int64_t sh[3] = { 1, 3, 1 };
		ct_tensor in = ct_tensor_wrap(v, CT_U16, 3, sh);
		ct_intensity_defaults(&p);
		p.mode = CT_INTENSITY_WINDOW;
		p.level = -600, p.width = 1500, p.slope = 1, p.offset = -2048, p.channels = 1;
		ok(ct_intensity_apply(&in, &p, &out) == 0, "window on uint16 with offset succeeds");
		ok(at(&out, 0, 0, 0) == 0.0f && at(&out, 0, 1, 0) == 1.0f &&
			   fabsf(at(&out, 0, 2, 0) - 0.75f) < 1e-7f,
		   "offset -2048 applied before the window (-1350 -> 0, 150 -> 1, -225 -> 0.75)");
		ct_tensor_free(&out);
		p.slope = 2, p.offset = 0;
		uint16_t v2[1] = { 0 };
		int64_t s1[3] = { 1, 1, 1 };
		ct_tensor in2 = ct_tensor_wrap(v2, CT_U16, 3, s1);
		p.level = 0, p.width = 4;
		ok(ct_intensity_apply(&in2, &p, &out) == 0 && at(&out, 0, 0, 0) == 0.5f, "slope scales stored values");
		ct_tensor_free(&out);
		p.width = 0;
		ok(ct_intensity_apply(&in2, &p, &out) < 0 && strstr(ct_last_error(), "width"), "zero window width refused");
	}
	/* minmax over all colour channels; none; auto */
	{
		uint16_t v[4] = { 100, 300, 200, 500 };
		int64_t sh[3] = { 2, 2, 1 };
		ct_tensor in = ct_tensor_wrap(v, CT_U16, 3, sh);
		ct_intensity_defaults(&p);
		p.mode = CT_INTENSITY_MINMAX;
		p.channels = 1;
		ok(ct_intensity_apply(&in, &p, &out) == 0, "minmax succeeds");
		ok(at(&out, 0, 0, 0) == 0.0f && at(&out, 1, 1, 0) == 1.0f && fabsf(at(&out, 0, 1, 0) - 0.5f) < 1e-7f &&
			   fabsf(at(&out, 1, 0, 0) - 0.25f) < 1e-7f,
		   "minmax maps min->0, max->1, linear between");
		ct_tensor_free(&out);
		p.mode = CT_INTENSITY_AUTO;
		ok(ct_intensity_apply(&in, &p, &out) == 0 && at(&out, 1, 1, 0) == 1.0f && at(&out, 0, 0, 0) == 0.0f,
		   "auto on uint16 is minmax");
		ct_tensor_free(&out);
		p.mode = CT_INTENSITY_NONE;
		ok(ct_intensity_apply(&in, &p, &out) == 0 && fabsf(at(&out, 1, 1, 0) - 500.0f / 65535.0f) < 1e-9f,
		   "none on uint16 divides by 65535");
		ct_tensor_free(&out);

		uint16_t flat[4] = { 7, 7, 7, 7 };
		ct_tensor fin = ct_tensor_wrap(flat, CT_U16, 3, sh);
		p.mode = CT_INTENSITY_MINMAX;
		ok(ct_intensity_apply(&fin, &p, &out) == 0 && at(&out, 0, 0, 0) == 0.0f && at(&out, 1, 1, 0) == 0.0f,
		   "minmax of a flat image is 0");
		ct_tensor_free(&out);

		/* minmax spans channels: channel 1 holds the max, so channel 0 does not reach 1 */
		float rgb[6] = { 0, 10, 5, 2, 4, 6 };
		int64_t s2[3] = { 1, 2, 3 };
		ct_tensor rin = ct_tensor_wrap(rgb, CT_F32, 3, s2);
		p.channels = 3;
		ok(ct_intensity_apply(&rin, &p, &out) == 0 && at(&out, 0, 0, 1) == 1.0f &&
			   fabsf(at(&out, 0, 0, 2) - 0.5f) < 1e-7f && fabsf(at(&out, 0, 1, 0) - 0.2f) < 1e-7f,
		   "minmax uses one min/max over all colour channels");
		ct_tensor_free(&out);
	}
	/* uint8: auto is none (v/255); float none clamps */
	{
		uint8_t v[3] = { 0, 51, 255 };
		int64_t sh[3] = { 1, 3, 1 };
		ct_tensor in = ct_tensor_wrap(v, CT_U8, 3, sh);
		ct_intensity_defaults(&p);
		p.channels = 1;
		ok(ct_intensity_apply(&in, &p, &out) == 0 && at(&out, 0, 0, 0) == 0.0f &&
			   fabsf(at(&out, 0, 1, 0) - 0.2f) < 1e-7f && at(&out, 0, 2, 0) == 1.0f,
		   "auto on uint8 is v/255 (not minmax)");
		ct_tensor_free(&out);
		float f[3] = { -0.5f, 0.25f, 3.0f };
		ct_tensor fin = ct_tensor_wrap(f, CT_F32, 3, sh);
		p.mode = CT_INTENSITY_NONE;
		ok(ct_intensity_apply(&fin, &p, &out) == 0 && at(&out, 0, 0, 0) == 0.0f && at(&out, 0, 1, 0) == 0.25f &&
			   at(&out, 0, 2, 0) == 1.0f,
		   "none on float clamps to [0, 1]");
		ct_tensor_free(&out);
	}
	/* channel conversions */
	{
		uint8_t g[2] = { 0, 102 };
		int64_t sh[3] = { 1, 2, 1 };
		ct_tensor in = ct_tensor_wrap(g, CT_U8, 3, sh);
		ct_intensity_defaults(&p);
		p.channels = 3;
		ok(ct_intensity_apply(&in, &p, &out) == 0 && out.shape[2] == 3 && at(&out, 0, 1, 0) == at(&out, 0, 1, 1) &&
			   at(&out, 0, 1, 1) == at(&out, 0, 1, 2) && fabsf(at(&out, 0, 1, 0) - 0.4f) < 1e-7f,
		   "grey is replicated to 3 channels");
		ct_tensor_free(&out);

		uint8_t rgb[9] = { 255, 0, 0, 0, 255, 0, 10, 20, 30 };
		int64_t s3[3] = { 1, 3, 3 };
		ct_tensor rin = ct_tensor_wrap(rgb, CT_U8, 3, s3);
		p.channels = 1;
		double ref = (0.299 * 10 + 0.587 * 20 + 0.114 * 30) / 255.0;
		ok(ct_intensity_apply(&rin, &p, &out) == 0 && out.shape[2] == 1 && fabsf(at(&out, 0, 0, 0) - 0.299f) < 1e-6f &&
			   fabsf(at(&out, 0, 1, 0) - 0.587f) < 1e-6f && fabs(at(&out, 0, 2, 0) - ref) < 1e-6,
		   "RGB to 1 channel is BT.601 luma");
		ct_tensor_free(&out);
		p.channels = 3;
		ok(ct_intensity_apply(&rin, &p, &out) == 0 && at(&out, 0, 0, 0) == 1.0f && at(&out, 0, 0, 1) == 0.0f &&
			   fabsf(at(&out, 0, 2, 2) - 30.0f / 255.0f) < 1e-7f,
		   "RGB to 3 channels keeps the channels");
		ct_tensor_free(&out);

		/* RGBA: alpha dropped, composited over black */
		uint8_t rgba[8] = { 200, 100, 50, 255, 200, 100, 50, 0 };
		int64_t s4[3] = { 1, 2, 4 };
		ct_tensor ain = ct_tensor_wrap(rgba, CT_U8, 3, s4);
		ok(ct_intensity_apply(&ain, &p, &out) == 0 && out.shape[2] == 3 &&
			   fabsf(at(&out, 0, 0, 0) - 200.0f / 255.0f) < 1e-7f && at(&out, 0, 1, 0) == 0.0f &&
			   at(&out, 0, 1, 2) == 0.0f,
		   "RGBA: alpha dropped; opaque keeps colour, transparent becomes black");
		ct_tensor_free(&out);
		uint8_t ga[2] = { 200, 128 };
		int64_t s5[3] = { 1, 1, 2 };
		ct_tensor gin = ct_tensor_wrap(ga, CT_U8, 3, s5);
		p.channels = 1;
		ok(ct_intensity_apply(&gin, &p, &out) == 0 && out.shape[2] == 1 &&
			   fabsf(at(&out, 0, 0, 0) - (200.0f / 255.0f) * (128.0f / 255.0f)) < 1e-6f,
		   "grey+alpha: value scaled by alpha (over black)");
		ct_tensor_free(&out);
	}
	/* refusals */
	{
		float v[4] = { 0, 1, NAN, 2 };
		int64_t sh[3] = { 2, 2, 1 };
		ct_tensor in = ct_tensor_wrap(v, CT_F32, 3, sh);
		ct_intensity_defaults(&p);
		out.data = NULL;
		ok(ct_intensity_apply(&in, &p, &out) < 0 && strstr(ct_last_error(), "non-finite"), "NaN in float input is refused");
		v[2] = INFINITY;
		ok(ct_intensity_apply(&in, &p, &out) < 0, "Inf in float input is refused");
		v[2] = 0;
		p.channels = 2;
		ok(ct_intensity_apply(&in, &p, &out) < 0, "2 output channels refused");
		p.channels = 3;
		int32_t iv[4] = { 0 };
		ct_tensor iin = ct_tensor_wrap(iv, CT_I32, 3, sh);
		ok(ct_intensity_apply(&iin, &p, &out) < 0, "int32 input refused");
		int64_t s5[3] = { 1, 1, 5 };
		float f5[5] = { 0 };
		ct_tensor in5 = ct_tensor_wrap(f5, CT_F32, 3, s5);
		ok(ct_intensity_apply(&in5, &p, &out) < 0, "5 input channels refused");
	}
	/* strided input (a view) is honoured */
	{
		uint8_t big[2 * 4] = { 0, 255, 51, 255, 102, 255, 153, 255 };
		int64_t sh[3] = { 1, 4, 1 };
		ct_tensor in = ct_tensor_wrap(big, CT_U8, 3, sh);
		in.stride[1] = 2; /* every other byte: a 1x4 view */
		ct_intensity_defaults(&p);
		p.channels = 1;
		ok(ct_intensity_apply(&in, &p, &out) == 0 && fabsf(at(&out, 0, 3, 0) - 0.6f) < 1e-7f &&
			   fabsf(at(&out, 0, 1, 0) - 0.2f) < 1e-7f,
		   "byte strides of the input are honoured");
		ct_tensor_free(&out);
	}
	/* named windows and three windows as R, G, B */
	{
		ct_intensity_defaults(&p);
		ok(ct_window_parse("mediastinum", &p) == 0 && p.level == 40 && p.width == 400 && p.nwin == 1,
		   "preset mediastinum is 40/400");
		ok(ct_window_parse("lung", &p) == 0 && p.level == -600 && p.width == 1500, "preset lung is -600/1500");
		ok(ct_window_parse("-500,1000", &p) == 0 && p.level == -500 && p.width == 1000, "LEVEL,WIDTH parses");
		ok(ct_window_parse("lung:mediastinum", &p) < 0, "two windows are refused (one or three)");
		ok(ct_window_parse("lungs", &p) < 0 && strstr(ct_last_error(), "lungs"), "an unknown name is named");
		ok(ct_window_parse("40,0", &p) < 0, "a zero width is refused");
		ok(ct_window_parse("lung:mediastinum:100,200", &p) == 0 && p.nwin == 3 && p.wlevel[2] == 100 &&
			   p.wwidth[1] == 400,
		   "three windows parse");
		float v[3] = { -600, 40, 100 };
		int64_t sh[3] = { 1, 3, 1 };
		ct_tensor in = ct_tensor_wrap(v, CT_F32, 3, sh);
		p.mode = CT_INTENSITY_WINDOW;
		p.channels = 3;
		ok(ct_intensity_apply(&in, &p, &out) == 0, "three windows apply to a grey HU image");
		/* expected from the window formula, value by value */
		int good = 1;
		for (int x = 0; x < 3; x++)
			for (int k = 0; k < 3; k++) {
				double e = (v[x] - (p.wlevel[k] - p.wwidth[k] / 2)) / p.wwidth[k];
				e = e < 0 ? 0 : e > 1 ? 1 : e;
				good &= fabs(at(&out, 0, x, k) - e) < 1e-6;
			}
		ok(good, "channel k is the value through window k");
		ok(fabsf(at(&out, 0, 0, 0) - 0.5f) < 1e-6f && fabsf(at(&out, 0, 1, 1) - 0.5f) < 1e-6f &&
			   fabsf(at(&out, 0, 2, 2) - 0.5f) < 1e-6f,
		   "each window's level maps to 0.5 in its channel");
		ct_tensor_free(&out);
		p.channels = 1;
		ok(ct_intensity_apply(&in, &p, &out) < 0, "three windows into one channel are refused");
	}
	TEST_DONE();
}
