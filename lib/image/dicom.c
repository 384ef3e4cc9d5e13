/* dicom.c - recognising DICOM by content (the decoder is lib/image/dicom_gdcm.cc). */
#include "image/dicom.h"

#include <string.h>

/* Value representations of DICOM PS3.5 table 6.2-1. */
static int known_vr(const unsigned char *p)
{
	static const char vrs[] = "AEASATCSDADSDTFLFDISLOLTOBODOFOLOVOWPNSHSLSQSSSTSVTMUCUIULUNURUSUTUV";
	for (size_t i = 0; i + 1 < sizeof vrs; i += 2)
		if (p[0] == (unsigned char)vrs[i] && p[1] == (unsigned char)vrs[i + 1])
			return 1;
	return 0;
}

int ct_dicom_sniff(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	if (len >= 132 && !memcmp(p + 128, "DICM", 4))
		return 1;
	if (len < 8)
		return 0;
	/* A data set without preamble and meta header: the first element of group 0002 (meta)
	 * or 0008 (identification, e.g. Specific Character Set), element number small. */
	unsigned gle = p[0] | p[1] << 8, ele = p[2] | p[3] << 8;
	unsigned gbe = p[0] << 8 | p[1], ebe = p[2] << 8 | p[3];
	if ((gle == 0x0002 || gle == 0x0008) && ele < 0x0200) {
		if (known_vr(p + 4))
			return 1; /* explicit VR little endian */
		unsigned long n = (unsigned long)p[4] | (unsigned long)p[5] << 8 | (unsigned long)p[6] << 16 |
				  (unsigned long)p[7] << 24;
		return n <= 1024 && (n % 2 == 0 || n == 0xFFFFFFFFul) ? 1 : 0; /* implicit VR */
	}
	if (gbe == 0x0008 && ebe < 0x0200 && known_vr(p + 4))
		return 1; /* explicit VR big endian */
	return 0;
}
