#include "data/jpeg.h"

#include <csetjmp>
#include <cstdint>
#include <cstdio>
// jpeglib.h needs FILE and size_t declared first.
#include <jpeglib.h>

#include "core/error.h"

namespace sisyphus::data {
namespace {

// Far above any image we pack (TinyImageNet's are 64x64), far below what a
// damaged header can claim (fuzzing found 65280x65280, 12 GB): decoding
// would allocate before it finds the data missing.
constexpr uint64_t kMaxPixels = uint64_t(1) << 26;  // 8192 x 8192
constexpr long kMaxLibjpegMemory = 1L << 30;        // libjpeg's own buffers

// libjpeg reports fatal errors through error_exit; we jump back and throw.
struct ErrorManager {
  jpeg_error_mgr base;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_error(j_common_ptr cinfo) {
  auto* mgr = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, mgr->message);
  longjmp(mgr->jump, 1);
}

// Returns false (with `message` set) on a libjpeg error; no C++ objects with
// destructors live between setjmp and longjmp in here.
bool decode(FILE* f, RgbImage* out, char* message) {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  cinfo.err = jpeg_std_error(&err.base);
  err.base.error_exit = on_error;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    std::snprintf(message, JMSG_LENGTH_MAX, "%s", err.message);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  cinfo.mem->max_memory_to_use = kMaxLibjpegMemory;
  jpeg_stdio_src(&cinfo, f);
  jpeg_read_header(&cinfo, TRUE);
  if (uint64_t(cinfo.image_width) * cinfo.image_height > kMaxPixels) {
    std::snprintf(message, JMSG_LENGTH_MAX, "its header claims %ux%u pixels, more than %llu",
                  cinfo.image_width, cinfo.image_height,
                  static_cast<unsigned long long>(kMaxPixels));
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  out->width = static_cast<int>(cinfo.output_width);
  out->height = static_cast<int>(cinfo.output_height);
  out->pixels.resize(static_cast<size_t>(out->width) * out->height * 3);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out->pixels.data() + static_cast<size_t>(cinfo.output_scanline) * out->width * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

bool encode(FILE* f, const uint8_t* pixels, int width, int height, int channels, int quality,
            char* message) {
  jpeg_compress_struct cinfo;
  ErrorManager err;
  cinfo.err = jpeg_std_error(&err.base);
  err.base.error_exit = on_error;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    std::snprintf(message, JMSG_LENGTH_MAX, "%s", err.message);
    return false;
  }
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, f);
  cinfo.image_width = static_cast<JDIMENSION>(width);
  cinfo.image_height = static_cast<JDIMENSION>(height);
  cinfo.input_components = channels;
  cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row =
        const_cast<JSAMPROW>(pixels + static_cast<size_t>(cinfo.next_scanline) * width * channels);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

}  // namespace

RgbImage decode_jpeg_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) SISYPHUS_FAIL(ErrorKind::kData, "cannot open '" + path + "': no such file");
  RgbImage img;
  char message[JMSG_LENGTH_MAX] = {0};
  bool ok = decode(f, &img, message);
  std::fclose(f);
  if (!ok) SISYPHUS_FAIL(ErrorKind::kData, "'" + path + "' is not a valid JPEG: " + message);
  return img;
}

void encode_jpeg_file(const std::string& path, const uint8_t* pixels, int width, int height,
                      int channels, int quality) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) SISYPHUS_FAIL(ErrorKind::kIo, "cannot write '" + path + "'");
  char message[JMSG_LENGTH_MAX] = {0};
  bool ok = encode(f, pixels, width, height, channels, quality, message);
  bool closed = std::fclose(f) == 0;
  if (!ok) SISYPHUS_FAIL(ErrorKind::kData, "JPEG encoding of '" + path + "' failed: " + message);
  if (!closed) SISYPHUS_FAIL(ErrorKind::kIo, "cannot finish writing '" + path + "'");
}

}  // namespace sisyphus::data
