// dicom_gdcm.cc - the C++ shim behind lib/image/dicom.h: GDCM reads the file and decodes
// the pixel data (every transfer syntax of Debian's GDCM build: uncompressed explicit and
// implicit VR little and big endian, deflate, RLE, JPEG baseline/extended/lossless, JPEG-LS,
// JPEG 2000); the rescale to modality values and the tags are ours. No C++ exception or
// GDCM message leaves this file: GDCM's trace output (which can quote tag values) is off.
extern "C" {
#include "core/error.h"
#include "core/tensor.h"
}
#include "image/dicom.h"

#include <gdcmDataSet.h>
#include <gdcmFile.h>
#include <gdcmImage.h>
#include <gdcmImageReader.h>
#include <gdcmReader.h>
#include <gdcmSequenceOfItems.h>
#include <gdcmTrace.h>
#include <gdcmTransferSyntax.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <ostream>
#include <streambuf>
#include <string>
#include <vector>

#include <csignal>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

const uint64_t kMaxDecodedBytes = (uint64_t)2 << 30; // 2 GiB

// GDCM's messages go to a per-thread buffer, never to stderr (they can quote tag values):
// its warnings are how it reports some damage it works around ("Incomplete Pixel Data").
thread_local std::string gdcm_log;

class log_buf : public std::streambuf {
protected:
	int overflow(int c) override
	{
		if (c != EOF && gdcm_log.size() < 65536)
			gdcm_log.push_back((char)c);
		return c == EOF ? 0 : c;
	}
	std::streamsize xsputn(const char *p, std::streamsize n) override
	{
		if (gdcm_log.size() < 65536)
			gdcm_log.append(p, (size_t)n);
		return n;
	}
};

void quiet_gdcm()
{
	static std::once_flag once;
	static log_buf buf;
	static std::ostream sink(&buf);
	std::call_once(once, [] {
		gdcm::Trace::SetStream(sink);
		gdcm::Trace::SetDebug(false);
		gdcm::Trace::SetWarning(true);
		gdcm::Trace::SetError(true);
	});
	gdcm_log.clear();
}

// The value of a string-valued element (DS, IS, UI, LO, CS...), trailing spaces and NULs
// dropped; "" when absent or empty.
std::string str_value(const gdcm::DataSet &ds, uint16_t g, uint16_t e)
{
	gdcm::Tag t(g, e);
	if (!ds.FindDataElement(t))
		return "";
	const gdcm::DataElement &de = ds.GetDataElement(t);
	const gdcm::ByteValue *bv = de.GetByteValue();
	if (!bv || !bv->GetPointer())
		return "";
	std::string s(bv->GetPointer(), bv->GetLength());
	size_t n = s.size();
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\0'))
		n--;
	s.resize(n);
	size_t b = 0;
	while (b < s.size() && s[b] == ' ')
		b++;
	return s.substr(b);
}

// Backslash-separated decimal numbers (DS, IS); returns how many were parsed (up to max).
int numbers(const std::string &s, double *v, int max)
{
	int n = 0;
	const char *p = s.c_str();
	while (*p && n < max) {
		char *end;
		errno = 0;
		double x = strtod(p, &end);
		if (end == p || errno || !std::isfinite(x))
			return -1;
		v[n++] = x;
		while (*end == ' ')
			end++;
		if (*end == '\\')
			end++;
		else if (*end)
			return -1;
		p = end;
	}
	return n;
}

void copy_str(char *dst, size_t cap, const std::string &s)
{
	size_t n = s.size() < cap - 1 ? s.size() : cap - 1;
	memcpy(dst, s.data(), n);
	dst[n] = '\0';
}

// The first item's data set of a sequence element, or NULL.
const gdcm::DataSet *first_item(const gdcm::DataSet &ds, uint16_t g, uint16_t e, size_t index = 1)
{
	gdcm::Tag t(g, e);
	if (!ds.FindDataElement(t))
		return nullptr;
	gdcm::SmartPointer<gdcm::SequenceOfItems> sq = ds.GetDataElement(t).GetValueAsSQ();
	if (!sq || sq->GetNumberOfItems() < index)
		return nullptr;
	return &sq->GetItem(index).GetNestedDataSet();
}

// Rescale slope/intercept from a Pixel Value Transformation Sequence (0028,9145) in a
// functional group item; returns whether found.
bool pixel_transform(const gdcm::DataSet *group, double *slope, double *inter)
{
	const gdcm::DataSet *pv = group ? first_item(*group, 0x0028, 0x9145) : nullptr;
	double s, i;
	if (!pv || numbers(str_value(*pv, 0x0028, 0x1053), &s, 1) != 1 ||
	    numbers(str_value(*pv, 0x0028, 0x1052), &i, 1) != 1)
		return false;
	*slope = s;
	*inter = i;
	return true;
}

// Plane position of a functional group item: (0020,9113) -> ImagePositionPatient.
bool plane_position(const gdcm::DataSet *group, double pos[3])
{
	const gdcm::DataSet *pp = group ? first_item(*group, 0x0020, 0x9113) : nullptr;
	return pp && numbers(str_value(*pp, 0x0020, 0x0032), pos, 3) == 3;
}

bool plane_orientation(const gdcm::DataSet *group, double o[6])
{
	const gdcm::DataSet *po = group ? first_item(*group, 0x0020, 0x9116) : nullptr;
	return po && numbers(str_value(*po, 0x0020, 0x0037), o, 6) == 6;
}

// Whether a SOP Class UID is an image storage class (CT, MR, CR/DX, US, SC, XA, NM, PET,
// VL, RT Image/Dose): a file of such a class without pixel data is a damaged image.
bool image_class(const std::string &uid)
{
	const std::string root = "1.2.840.10008.5.1.4.1.1.";
	if (uid.compare(0, root.size(), root) != 0)
		return false;
	std::string rest = uid.substr(root.size());
	std::string first = rest.substr(0, rest.find('.'));
	static const char *images[] = { "1", "2", "4", "6", "7", "12", "20", "77", "128", "130" };
	for (const char *c : images)
		if (first == c)
			return true;
	return rest.compare(0, 6, "481.1") == 0 || rest.compare(0, 6, "481.2") == 0;
}

double fetch(const char *buf, gdcm::PixelFormat::ScalarType st, size_t i)
{
	switch (st) {
	case gdcm::PixelFormat::UINT8: return (double)((const uint8_t *)buf)[i];
	case gdcm::PixelFormat::INT8: return (double)((const int8_t *)buf)[i];
	case gdcm::PixelFormat::UINT16: return (double)((const uint16_t *)buf)[i];
	case gdcm::PixelFormat::INT16: return (double)((const int16_t *)buf)[i];
	case gdcm::PixelFormat::UINT32: return (double)((const uint32_t *)buf)[i];
	case gdcm::PixelFormat::INT32: return (double)((const int32_t *)buf)[i];
	case gdcm::PixelFormat::FLOAT32: return (double)((const float *)buf)[i];
	case gdcm::PixelFormat::FLOAT64: return ((const double *)buf)[i];
	case gdcm::PixelFormat::SINGLEBIT: return (double)((((const uint8_t *)buf)[i >> 3] >> (i & 7)) & 1);
	default: return 0.0;
	}
}

int read_file(const char *path, int64_t max_pixels, ct_dicom *out)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return ct_error_errno("cannot open '%s'", path);
	if (!S_ISREG(st.st_mode))
		return ct_error("cannot read '%s': not a regular file", path);
	gdcm::ImageReader reader;
	reader.SetFileName(path);
	if (!reader.Read()) {
		// Tell a damaged file from a DICOM object that is no image.
		gdcm::Reader plain;
		plain.SetFileName(path);
		if (!plain.Read())
			return ct_error("'%s': truncated or damaged DICOM file", path);
		const gdcm::DataSet &ds = plain.GetFile().GetDataSet();
		if (!ds.FindDataElement(gdcm::Tag(0x7fe0, 0x0010)) && !ds.FindDataElement(gdcm::Tag(0x7fe0, 0x0008)) &&
		    !ds.FindDataElement(gdcm::Tag(0x7fe0, 0x0009))) {
			// An image description (Rows, Columns, Bits Allocated) without its pixels is a
			// truncated image; without one, an object that is no image.
			if (ds.FindDataElement(gdcm::Tag(0x0028, 0x0010)) || ds.FindDataElement(gdcm::Tag(0x0028, 0x0011)) ||
			    ds.FindDataElement(gdcm::Tag(0x0028, 0x0100)) || image_class(str_value(ds, 0x0008, 0x0016)))
				return ct_error("'%s': truncated or damaged DICOM file (image without pixel data)", path);
			ct_error("'%s': no pixel data (not an image)", path);
			return -2;
		}
		const gdcm::TransferSyntax &ts = plain.GetFile().GetHeader().GetDataSetTransferSyntax();
		return ct_error("'%s': unsupported DICOM image (transfer syntax %s, %s)", path,
				gdcm::TransferSyntax::GetTSString(ts),
				ts.IsValid() ? "or damaged pixel data" : "unknown");
	}
	if (gdcm_log.find("Incomplete Pixel Data") != std::string::npos)
		return ct_error("'%s': truncated or damaged DICOM file (incomplete pixel data)", path);
	const gdcm::Image &img = reader.GetImage();
	const gdcm::DataSet &ds = reader.GetFile().GetDataSet();
	const gdcm::TransferSyntax &ts = img.GetTransferSyntax();
	ct_dicom_info *info = &out->info;
	const unsigned *dims = img.GetDimensions();
	unsigned nd = img.GetNumberOfDimensions();
	info->cols = (int)dims[0];
	info->rows = (int)dims[1];
	info->nframes = nd > 2 ? (int)dims[2] : 1;
	gdcm::PixelFormat pf = img.GetPixelFormat();
	info->samples = pf.GetSamplesPerPixel();
	copy_str(info->transfer_syntax, sizeof info->transfer_syntax, ts.IsValid() ? gdcm::TransferSyntax::GetTSString(ts) : "");
	copy_str(info->photometric, sizeof info->photometric,
		 gdcm::PhotometricInterpretation::GetPIString(img.GetPhotometricInterpretation()) ?
			 gdcm::PhotometricInterpretation::GetPIString(img.GetPhotometricInterpretation()) : "");
	if (info->rows < 1 || info->cols < 1 || info->nframes < 1)
		return ct_error("'%s': DICOM image has no pixels (%d x %d, %d frames)", path, info->rows, info->cols,
				info->nframes);
	if (info->samples != 1 && info->samples != 3)
		return ct_error("'%s': unsupported DICOM image: %d samples per pixel", path, info->samples);
	if (max_pixels > 0 && (int64_t)info->rows * info->cols > max_pixels)
		return ct_error("'%s': image is %dx%d, over the limit of %lld pixels", path, info->cols, info->rows,
				(long long)max_pixels);
	gdcm::PixelFormat::ScalarType stype = pf.GetScalarType();
	switch (stype) {
	case gdcm::PixelFormat::UINT8: case gdcm::PixelFormat::INT8: case gdcm::PixelFormat::UINT16:
	case gdcm::PixelFormat::INT16: case gdcm::PixelFormat::UINT32: case gdcm::PixelFormat::INT32:
	case gdcm::PixelFormat::FLOAT32: case gdcm::PixelFormat::FLOAT64: case gdcm::PixelFormat::SINGLEBIT:
		break;
	default:
		return ct_error("'%s': unsupported DICOM pixel format (%s)", path, pf.GetScalarTypeAsString());
	}
	if (ds.FindDataElement(gdcm::Tag(0x0028, 0x3000)))
		return ct_error("'%s': unsupported DICOM image: Modality LUT Sequence", path);
	uint64_t npix = (uint64_t)info->rows * (uint64_t)info->cols * (uint64_t)info->nframes * (uint64_t)info->samples;
	unsigned long blen = img.GetBufferLength();
	if (npix * 8 > kMaxDecodedBytes || blen > kMaxDecodedBytes)
		return ct_error("'%s': DICOM image too large (%d x %d x %d frames)", path, info->cols, info->rows,
				info->nframes);
	uint64_t need = stype == gdcm::PixelFormat::SINGLEBIT ? (npix + 7) / 8 : npix * pf.GetPixelSize() / info->samples;
	if (blen < need)
		return ct_error("'%s': damaged DICOM image (pixel buffer of %lu bytes for %llu values)", path, blen,
				(unsigned long long)npix);
	info->lossy = img.IsLossy();
	unsigned bits_alloc = pf.GetBitsAllocated();
	if (ts == gdcm::TransferSyntax::RLELossless && bits_alloc > 8 && info->samples == 3)
		return ct_error("'%s': unsupported DICOM image: RLE with %u-bit colour samples", path, bits_alloc);
	if (!ts.IsEncapsulated()) {
		// Native pixel data shorter than the image: truncated (GDCM would pad it).
		const gdcm::DataElement &pd = ds.GetDataElement(gdcm::Tag(0x7fe0, 0x0010));
		const gdcm::ByteValue *bv = pd.GetByteValue();
		uint64_t want = stype == gdcm::PixelFormat::SINGLEBIT ? (npix + 7) / 8 : npix * (bits_alloc / 8);
		if (!bv || bv->GetLength() < want)
			return ct_error("'%s': truncated or damaged DICOM file (pixel data of %llu bytes, %llu expected)",
					path, (unsigned long long)(bv ? (uint64_t)bv->GetLength() : 0), (unsigned long long)want);
	}

	// Tags: identity (kept in memory only), order, rescale.
	copy_str(info->patient_id, sizeof info->patient_id, str_value(ds, 0x0010, 0x0020));
	copy_str(info->study_uid, sizeof info->study_uid, str_value(ds, 0x0020, 0x000d));
	copy_str(info->series_uid, sizeof info->series_uid, str_value(ds, 0x0020, 0x000e));
	double v[6];
	info->instance = numbers(str_value(ds, 0x0020, 0x0013), v, 1) == 1 ? (int)v[0] : 0;
	info->slope = 1.0;
	info->intercept = 0.0;
	if (numbers(str_value(ds, 0x0028, 0x1053), v, 1) == 1)
		info->slope = v[0];
	if (numbers(str_value(ds, 0x0028, 0x1052), v, 1) == 1)
		info->intercept = v[0];
	const gdcm::DataSet *shared = first_item(ds, 0x5200, 0x9229);
	double orient[6], pos[3];
	bool have_orient = numbers(str_value(ds, 0x0020, 0x0037), orient, 6) == 6 || plane_orientation(shared, orient);
	bool have_pos = numbers(str_value(ds, 0x0020, 0x0032), pos, 3) == 3 || plane_position(shared, pos) ||
			plane_position(first_item(ds, 0x5200, 0x9230), pos);
	if (have_orient && have_pos) {
		const double *r = orient, *c = orient + 3;
		double nrm[3] = { r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0] };
		if (std::fabs(nrm[0]) + std::fabs(nrm[1]) + std::fabs(nrm[2]) > 0.0) {
			info->has_position = 1;
			memcpy(info->position, pos, sizeof pos);
			memcpy(info->normal, nrm, sizeof nrm);
		}
	}
	// Enhanced multi-frame: per-frame rescale and position.
	std::vector<double> fslope(info->nframes, info->slope), finter(info->nframes, info->intercept);
	double s, i;
	if (pixel_transform(shared, &s, &i))
		std::fill(fslope.begin(), fslope.end(), s), std::fill(finter.begin(), finter.end(), i);
	std::vector<double> fpos;
	gdcm::Tag tpf(0x5200, 0x9230);
	if (info->nframes > 1 && ds.FindDataElement(tpf)) {
		gdcm::SmartPointer<gdcm::SequenceOfItems> sq = ds.GetDataElement(tpf).GetValueAsSQ();
		if (sq && sq->GetNumberOfItems() == (size_t)info->nframes) {
			bool all_pos = info->has_position;
			for (int f = 0; f < info->nframes; f++) {
				const gdcm::DataSet &fg = sq->GetItem(f + 1).GetNestedDataSet();
				if (pixel_transform(&fg, &s, &i))
					fslope[f] = s, finter[f] = i;
				double p[3];
				if (all_pos && plane_position(&fg, p))
					fpos.push_back(p[0] * info->normal[0] + p[1] * info->normal[1] + p[2] * info->normal[2]);
				else
					all_pos = false;
			}
			if (!all_pos)
				fpos.clear();
		}
	}

	std::vector<char> buf;
	try {
		buf.resize(blen);
	} catch (...) {
		return ct_error("out of memory");
	}
	if (!img.GetBuffer(buf.data()))
		return ct_error("'%s': cannot decode the DICOM pixel data (transfer syntax %s): damaged or unsupported",
				path, info->transfer_syntax);

	// GDCM swaps big endian data as 16-bit words: finish 32-bit values (checked against pydicom).
	if (ts == gdcm::TransferSyntax::ExplicitVRBigEndian && bits_alloc == 32)
		for (size_t k = 0; k + 3 < buf.size(); k += 4) {
			std::swap(buf[k], buf[k + 2]);
			std::swap(buf[k + 1], buf[k + 3]);
		}
	// Colour planes (Planar Configuration 1) to interleaved R, G, B.
	bool planar = info->samples == 3 && img.GetPlanarConfiguration() == 1;
	// Full-range YCbCr left as such by the decoder (8-bit): to RGB, ITU-R BT.601 as pydicom's
	// convert_color_space.
	gdcm::PhotometricInterpretation::PIType pit = img.GetPhotometricInterpretation();
	bool ybr = info->samples == 3 && bits_alloc == 8 && !planar &&
		   (pit == gdcm::PhotometricInterpretation::YBR_FULL || pit == gdcm::PhotometricInterpretation::YBR_FULL_422);
	if (ybr)
		copy_str(info->photometric, sizeof info->photometric, "RGB");
	out->frames = (ct_tensor *)calloc((size_t)info->nframes, sizeof *out->frames);
	if (!out->frames)
		return ct_error("out of memory");
	size_t fpix = (size_t)info->rows * info->cols * info->samples;
	for (int f = 0; f < info->nframes; f++) {
		if (ct_tensor_alloc3(&out->frames[f], CT_F32, info->rows, info->cols, info->samples) < 0)
			return ct_error("out of memory");
		float *dst = (float *)out->frames[f].data;
		size_t plane = (size_t)info->rows * info->cols;
		for (size_t k = 0; k < fpix; k++) {
			size_t src = planar ? (k % 3) * plane + k / 3 : k;
			double x = fetch(buf.data(), stype, (size_t)f * fpix + src);
			dst[k] = (float)(x * fslope[f] + finter[f]);
		}
		for (size_t k = 0; ybr && k + 2 < fpix; k += 3) {
			double y = dst[k], cb = dst[k + 1] - 128.0, cr = dst[k + 2] - 128.0;
			double rgb[3] = { y + 1.402 * cr, y - 0.114 * 1.772 / 0.587 * cb - 0.299 * 1.402 / 0.587 * cr,
					  y + 1.772 * cb };
			for (int c = 0; c < 3; c++)
				dst[k + c] = (float)std::floor((rgb[c] < 0 ? 0 : rgb[c] > 255 ? 255 : rgb[c]) + 0.5);
		}
	}
	if (!fpos.empty()) {
		out->frame_pos = (double *)malloc(fpos.size() * sizeof(double));
		if (!out->frame_pos)
			return ct_error("out of memory");
		memcpy(out->frame_pos, fpos.data(), fpos.size() * sizeof(double));
	}
	return 0;
}

int decode(const char *path, int64_t max_pixels, ct_dicom *out)
{
	memset(out, 0, sizeof *out);
	quiet_gdcm();
	int rc;
	try {
		rc = read_file(path, max_pixels, out);
	} catch (const std::bad_alloc &) {
		rc = ct_error("out of memory");
	} catch (...) {
		rc = ct_error("'%s': truncated or damaged DICOM file", path);
	}
	if (rc < 0)
		ct_dicom_free(out);
	return rc;
}

bool put(int fd, const void *p, size_t n)
{
	const char *c = (const char *)p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		c += w;
		n -= (size_t)w;
	}
	return true;
}

// The child's side: decode, then send rc, message, info, frames, frame positions.
void child(int fd, const char *path, int64_t max_pixels)
{
	ct_dicom d;
	int rc = decode(path, max_pixels, &d);
	std::string msg = rc < 0 ? ct_last_error() : "";
	uint32_t ml = (uint32_t)msg.size();
	bool okw = put(fd, &rc, sizeof rc) && put(fd, &ml, sizeof ml) && put(fd, msg.data(), ml);
	if (rc == 0 && okw) {
		okw = put(fd, &d.info, sizeof d.info);
		for (int f = 0; okw && f < d.info.nframes; f++)
			okw = put(fd, d.frames[f].data, ct_tensor_nbytes(&d.frames[f]));
		int hp = d.frame_pos != nullptr;
		okw = okw && put(fd, &hp, sizeof hp) && (!hp || put(fd, d.frame_pos, sizeof(double) * d.info.nframes));
	}
	_exit(okw ? 0 : 3);
}

bool get(std::vector<char> &buf, size_t &at, void *p, size_t n)
{
	if (buf.size() - at < n)
		return false;
	memcpy(p, buf.data() + at, n);
	at += n;
	return true;
}

} // namespace

// GDCM aborts (assert) or crashes on some damaged files, so it runs in a child process: a
// decoder that dies is a damaged file, reported as such, and never takes the tool down.
extern "C" int ct_dicom_read(const char *path, int64_t max_pixels, ct_dicom *out)
{
	memset(out, 0, sizeof *out);
	quiet_gdcm(); /* its one-time set-up done before any fork (a child must not inherit it half-done) */
	int fds[2];
	if (pipe(fds) < 0)
		return ct_error_errno("cannot decode '%s': pipe", path);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return ct_error_errno("cannot decode '%s': fork", path);
	}
	if (pid == 0) {
		close(fds[0]);
		// No crash handler of the tool here (it would remove the parent's outputs), and no
		// library chatter on the tool's stderr (assert messages).
		int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
		for (int sg : sigs)
			signal(sg, SIG_DFL);
		alarm(300); /* a decoder caught in a loop on a damaged file ends as a failure */
		int nul = open("/dev/null", O_WRONLY);
		if (nul >= 0)
			dup2(nul, 2);
		child(fds[1], path, max_pixels);
	}
	close(fds[1]);
	std::vector<char> buf;
	char chunk[1 << 16];
	bool read_err = false;
	for (;;) {
		ssize_t r = read(fds[0], chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			read_err = true;
		if (r <= 0)
			break;
		try {
			buf.insert(buf.end(), chunk, chunk + r);
		} catch (...) {
			read_err = true;
			break;
		}
	}
	close(fds[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (read_err)
		return ct_error("cannot decode '%s': out of memory or read error", path);
	size_t at = 0;
	int rc;
	uint32_t ml;
	if (!WIFEXITED(status) || !get(buf, at, &rc, sizeof rc) || !get(buf, at, &ml, sizeof ml) || buf.size() - at < ml)
		return ct_error("'%s': truncated or damaged DICOM file (the decoder failed on it)", path);
	std::string msg(buf.data() + at, ml);
	at += ml;
	if (rc < 0) {
		ct_error("%s", msg.c_str());
		return rc;
	}
	ct_dicom_info info;
	if (!get(buf, at, &info, sizeof info) || WEXITSTATUS(status) != 0)
		return ct_error("'%s': truncated or damaged DICOM file (the decoder failed on it)", path);
	out->info = info;
	out->frames = (ct_tensor *)calloc((size_t)info.nframes, sizeof *out->frames);
	if (!out->frames)
		return ct_error("out of memory");
	for (int f = 0; f < info.nframes; f++) {
		if (ct_tensor_alloc3(&out->frames[f], CT_F32, info.rows, info.cols, info.samples) < 0 ||
		    !get(buf, at, out->frames[f].data, ct_tensor_nbytes(&out->frames[f]))) {
			ct_dicom_free(out);
			return ct_error("'%s': cannot decode (out of memory or short result)", path);
		}
	}
	int hp = 0;
	if (get(buf, at, &hp, sizeof hp) && hp) {
		out->frame_pos = (double *)malloc(sizeof(double) * info.nframes);
		if (!out->frame_pos || !get(buf, at, out->frame_pos, sizeof(double) * info.nframes)) {
			ct_dicom_free(out);
			return ct_error("out of memory");
		}
	}
	return 0;
}

extern "C" void ct_dicom_free(ct_dicom *d)
{
	if (d->frames)
		for (int f = 0; f < d->info.nframes; f++)
			ct_tensor_free(&d->frames[f]);
	free(d->frames);
	free(d->frame_pos);
	memset(d, 0, sizeof *d);
}
