// FNV-1a, 64 bit: the one checksum used for config texts (rank agreement,
// checkpoint attribute) and for comparing parameter bytes across ranks; its
// word-wise form for checkpoint contents.
// Not cryptographic; chained calls hash a sequence of buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sisyphus {

inline constexpr uint64_t kFnvOffset = 1469598103934665603ULL;

inline uint64_t fnv1a64(const void* data, size_t size, uint64_t h = kFnvOffset) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

inline uint64_t fnv1a64(const std::string& text) { return fnv1a64(text.data(), text.size()); }

// FNV-1a's step on 64-bit words (then the tail bytes): the same kind of
// checksum about eight times faster, for hundreds of megabytes of tensors
// (the checkpoint content checksum). Not FNV-1a's value.
inline uint64_t fnv1a64_words(const void* data, size_t size, uint64_t h = kFnvOffset) {
  const auto* p = static_cast<const unsigned char*>(data);
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t w;
    __builtin_memcpy(&w, p + i, 8);
    h ^= w;
    h *= 1099511628211ULL;
  }
  return fnv1a64(p + i, size - i, h);
}

}  // namespace sisyphus
