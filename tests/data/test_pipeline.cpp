// Sampler, augmentation and the background batch loader.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "core/error.h"
#include "core/rng.h"
#include "data/augment.h"
#include "data/loader.h"
#include "data/sampler.h"
#include "support/fixtures.h"

using namespace sisyphus;

TEST(Sampler, EpochOrderIsAPermutationFixedBySeedAndEpoch) {
  auto a = data::epoch_order(1000, 42, 3, true);
  auto b = data::epoch_order(1000, 42, 3, true);
  auto c = data::epoch_order(1000, 42, 4, true);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::set<int64_t> unique(a.begin(), a.end());
  EXPECT_EQ(unique.size(), 1000u);
  EXPECT_EQ(*unique.begin(), 0);
  EXPECT_EQ(*unique.rbegin(), 999);
  auto plain = data::epoch_order(5, 42, 0, false);
  EXPECT_EQ(plain, (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST(Sampler, RankSharesSplitAGlobalBatchWithTheRemainderFirst) {
  // 10 over 4 ranks: 3, 3, 2, 2 at offsets 0, 3, 6, 8
  const int64_t sizes[] = {3, 3, 2, 2}, offsets[] = {0, 3, 6, 8};
  for (int r = 0; r < 4; ++r) {
    EXPECT_EQ(data::rank_share(10, r, 4).size, sizes[r]);
    EXPECT_EQ(data::rank_share(10, r, 4).offset, offsets[r]);
  }
  EXPECT_EQ(data::rank_share(1, 1, 2).size, 0);  // a rank without samples
  EXPECT_EQ(data::rank_share(1, 1, 2).offset, 1);
}

// Whatever the number of ranks, the ranks' k-th batches joined in rank order
// are the k-th global batch of one process (the remainder handled): the
// property that makes R ranks compute what one process computes.
TEST(Sampler, RankBatchesRebuildTheGlobalBatchesForAnyWorld) {
  auto order = data::epoch_order(103, 7, 0, true);
  const int64_t global_batch = 30;  // 3 full batches, then 13 samples
  EXPECT_EQ(data::num_global_batches(103, global_batch), 4);
  for (int world : {1, 2, 3, 4, 7}) {
    std::vector<data::RankBatches> shards;
    for (int r = 0; r < world; ++r)
      shards.push_back(data::shard_batches(order, r, world, global_batch));
    std::vector<size_t> pos(static_cast<size_t>(world), 0);
    for (int64_t k = 0; k < 4; ++k) {
      const int64_t count = data::global_batch_count(103, global_batch, k);
      EXPECT_EQ(count, k < 3 ? 30 : 13);
      std::vector<int64_t> joined;
      for (int r = 0; r < world; ++r) {
        const auto& s = shards[static_cast<size_t>(r)];
        ASSERT_EQ(s.sizes.size(), 4u) << "every rank has every batch (some empty)";
        const int64_t n = s.sizes[static_cast<size_t>(k)];
        EXPECT_LE(std::abs(n - count / world), 1) << "ranks' shares differ by one at most";
        joined.insert(joined.end(), s.indices.begin() + static_cast<int64_t>(pos[r]),
                      s.indices.begin() + static_cast<int64_t>(pos[r]) + n);
        pos[r] += static_cast<size_t>(n);
      }
      std::vector<int64_t> global(order.begin() + k * global_batch,
                                  order.begin() + k * global_batch + count);
      EXPECT_EQ(joined, global) << "world " << world << " batch " << k;
    }
  }
  EXPECT_EQ(data::global_batch_count(103, global_batch, 4), 0);
}

// A run resumed inside an epoch starts at global batch k: the same batches
// as the whole shard from k on, for every rank (an empty one included).
TEST(Sampler, DropFirstBatchesKeepsTheRest) {
  const std::vector<int64_t> order = data::epoch_order(103, 5, 1, true);
  for (int world : {1, 3, 7}) {
    for (int r = 0; r < world; ++r) {
      const data::RankBatches all = data::shard_batches(order, r, world, 30);
      for (int64_t k = 0; k <= 4; ++k) {
        const data::RankBatches rest = data::drop_first_batches(all, k);
        ASSERT_EQ(rest.sizes.size(), 4u - static_cast<size_t>(k));
        EXPECT_TRUE(std::equal(rest.sizes.begin(), rest.sizes.end(), all.sizes.begin() + k));
        EXPECT_TRUE(std::equal(rest.indices.rbegin(), rest.indices.rend(), all.indices.rbegin()));
        EXPECT_EQ(static_cast<int64_t>(rest.indices.size()),
                  std::accumulate(rest.sizes.begin(), rest.sizes.end(), int64_t{0}));
      }
    }
  }
  EXPECT_THROW(data::drop_first_batches(data::shard_batches(order, 0, 1, 30), 5), sisyphus::Error);
}

namespace {
const float kMean[3] = {0.5f, 0.25f, 0.0f};
const float kInvStd[3] = {2.0f, 4.0f, 1.0f};
// the documented formula: (v/255 - mean) / std, with 1/255 and 1/std precomputed
float norm(int c, uint8_t v) { return (v * (1.0f / 255.0f) - kMean[c]) * kInvStd[c]; }
}  // namespace

TEST(Augment, NoneOnlyNormalises) {
  std::vector<uint8_t> img = fixtures::pattern_bytes(3 * 5 * 6, 4);
  std::vector<float> out(img.size());
  data::prepare_image(img.data(), 3, 5, 6, data::Augment::kNone, 1, {kMean, kInvStd}, out.data());
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < 30; ++p) EXPECT_FLOAT_EQ(out[c * 30 + p], norm(c, img[c * 30 + p]));
}

TEST(Augment, CropFlipIsAShiftOfThePaddedImage) {
  const int h = 32, w = 32;
  std::vector<uint8_t> img = fixtures::pattern_bytes(3 * h * w, 5);
  int flips = 0, shifted = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    std::vector<float> out(img.size());
    data::prepare_image(img.data(), 3, h, w, data::Augment::kCropFlip, seed, {kMean, kInvStd},
                        out.data());
    // find the (flip, dy, dx) that explains the output exactly
    bool found = false;
    for (int flip = 0; flip < 2 && !found; ++flip)
      for (int dy = -4; dy <= 4 && !found; ++dy)
        for (int dx = -4; dx <= 4 && !found; ++dx) {
          bool ok = true;
          for (int c = 0; c < 3 && ok; ++c)
            for (int y = 0; y < h && ok; ++y)
              for (int x = 0; x < w && ok; ++x) {
                int sx = (flip ? w - 1 - x : x) + dx, sy = y + dy;
                uint8_t v =
                    (sx >= 0 && sx < w && sy >= 0 && sy < h) ? img[(c * h + sy) * w + sx] : 0;
                ok = out[(c * h + y) * w + x] == norm(c, v);
              }
          if (ok) {
            found = true;
            flips += flip;
            shifted += (dx != 0 || dy != 0);
          }
        }
    EXPECT_TRUE(found) << "seed " << seed;
  }
  EXPECT_GT(flips, 5);  // both branches of the coin are taken
  EXPECT_LT(flips, 35);
  EXPECT_GT(shifted, 30);
}

TEST(Augment, RotationKeepsTheCentreAndIsDeterministic) {
  const int h = 65, w = 65;  // odd size: an exact centre pixel
  std::vector<uint8_t> img = fixtures::pattern_bytes(3 * h * w, 6);
  std::vector<float> a(img.size()), b(img.size());
  data::prepare_image(img.data(), 3, h, w, data::Augment::kRotateFlip, 11, {kMean, kInvStd},
                      a.data());
  data::prepare_image(img.data(), 3, h, w, data::Augment::kRotateFlip, 11, {kMean, kInvStd},
                      b.data());
  EXPECT_EQ(a, b);
  for (int c = 0; c < 3; ++c)
    EXPECT_FLOAT_EQ(a[(c * h + 32) * w + 32], norm(c, img[(c * h + 32) * w + 32]));
  // corners rotate out of the image for angles up to 20 degrees unless the
  // angle is tiny; over many seeds some corner must be zero-filled.
  int filled = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    data::prepare_image(img.data(), 3, h, w, data::Augment::kRotateFlip, seed, {kMean, kInvStd},
                        a.data());
    filled += a[0] == norm(0, 0);
  }
  EXPECT_GT(filled, 10);
}

TEST(Loader, BatchesCoverTheShardInOrder) {
  const data::ImageSet set = fixtures::memory_set(
      10, 1, 2, 10, [](int64_t i, int64_t) { return static_cast<uint8_t>(i * 10); },
      [](int64_t i) { return i; });
  data::DatasetSpec spec{"t", 1, 2, 10, {0.0f}, {1.0f}, data::Augment::kNone, ""};
  data::LoaderOptions opts;
  opts.batch_size = 4;
  opts.prefetch = 1;
  std::vector<int64_t> indices = {9, 3, 5, 0, 1, 7, 2};
  data::BatchLoader loader(set, spec, indices, opts);
  EXPECT_EQ(loader.num_batches(), 2);
  data::Batch b;
  std::vector<int64_t> labels;
  std::vector<int64_t> sizes;
  while (loader.next(&b)) {
    sizes.push_back(b.size());
    EXPECT_EQ(b.images.sizes(), (std::vector<int64_t>{b.size(), 1, 2, 2}));
    for (int64_t i = 0; i < b.size(); ++i) {
      labels.push_back(b.labels[i].item<int64_t>());
      EXPECT_FLOAT_EQ(b.images[i][0][1][1].item<float>(), labels.back() * 10 / 255.0f);
    }
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(labels, indices);
  EXPECT_FALSE(loader.next(&b));

  // a rank's batches of given sizes, one of them empty (a short last global batch)
  data::BatchLoader given(set, spec, data::RankBatches{indices, {3, 0, 4}}, opts);
  EXPECT_EQ(given.num_batches(), 3);
  sizes.clear();
  while (given.next(&b)) {
    sizes.push_back(b.size());
    EXPECT_EQ(b.images.sizes(), (std::vector<int64_t>{b.size(), 1, 2, 2}));
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{3, 0, 4}));
}

TEST(Loader, StopsCleanlyWhenDestroyedEarly) {
  const data::ImageSet set = fixtures::memory_set(
      1000, 1, 8, 2, [](int64_t, int64_t) { return 1; }, [](int64_t) { return 1; });
  data::DatasetSpec spec{"t", 1, 8, 2, {0.0f}, {1.0f}, data::Augment::kNone, ""};
  data::LoaderOptions opts;
  opts.batch_size = 10;
  for (int rep = 0; rep < 20; ++rep) {
    data::BatchLoader loader(set, spec, data::epoch_order(1000, 1, rep, true), opts);
    data::Batch b;
    ASSERT_TRUE(loader.next(&b));
  }  // destructor must join without hanging
}
