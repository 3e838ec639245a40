#include "data/image_set.h"

#include "core/error.h"

namespace sisyphus::data {

void ImageSet::validate() const {
  SISYPHUS_CHECK(n > 0, ErrorKind::kData, "'" + source + "' holds no images");
  SISYPHUS_CHECK(static_cast<int64_t>(pixels.size()) == n * image_bytes(), ErrorKind::kData,
                 "'" + source + "': pixel buffer does not match " + std::to_string(n) + " images");
  SISYPHUS_CHECK(static_cast<int64_t>(labels.size()) == n, ErrorKind::kData,
                 "'" + source + "': " + std::to_string(labels.size()) + " labels for " +
                     std::to_string(n) + " images");
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] < 0 || labels[i] >= num_classes) {
      SISYPHUS_FAIL(ErrorKind::kData, "'" + source + "': label " + std::to_string(labels[i]) +
                                          " of image " + std::to_string(i) + " is outside [0, " +
                                          std::to_string(num_classes) + ")");
    }
  }
}

void ImageSet::truncate(int64_t count) {
  if (count <= 0 || count >= n) return;
  n = count;
  pixels.resize(static_cast<size_t>(n * image_bytes()));
  labels.resize(static_cast<size_t>(n));
}

}  // namespace sisyphus::data
