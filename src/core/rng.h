// Deterministic seeds derived from (run seed, epoch, sample index).
//
// Every random choice in the data pipeline is a pure function of these so that
// a resumed run, or a run on a different number of ranks, draws the same
// numbers for the same sample (bit-exact resume depends on it).
#pragma once

#include <cstdint>

namespace sisyphus {

// SplitMix64 finaliser: a good 64-bit mix of one value.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

inline uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b = 0) {
  return splitmix64(splitmix64(splitmix64(seed) ^ a) ^ b);
}

}  // namespace sisyphus
