// Epoch order and per-rank shards.
//
// Epoch e visits a permutation of [0, n) that depends only on (seed, e).
// The batch size that defines an experiment is the global one, G: global
// batch k is positions [k*G, (k+1)*G) of the order (the last may be
// shorter), whichever the number of ranks R. Each global batch of c samples
// is split into consecutive blocks, one per rank: c/R samples each, the
// first c%R ranks one more (rank_share). So R ranks see exactly the batches
// of one process with batch G; a rank may get no sample in a short last
// batch (it still joins the step's collectives). Evaluation splits the
// (unshuffled) test set the same way, so that layers whose inference uses
// batch statistics (AMM's mm mode) see the batches of one process.
#pragma once

#include <cstdint>
#include <vector>

namespace sisyphus::data {

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle);

// Rank r's block of a global batch of `count` samples: its offset and size.
struct Share {
  int64_t offset = 0, size = 0;
};
Share rank_share(int64_t count, int rank, int world_size);

// One rank's batches of an epoch: the sample indices of all of them in
// order, and each batch's size (one entry per global batch, possibly 0).
struct RankBatches {
  std::vector<int64_t> indices;
  std::vector<int64_t> sizes;
};
RankBatches shard_batches(const std::vector<int64_t>& order, int rank, int world_size,
                          int64_t global_batch);
// The same batches without the first `k` (a run resumed inside an epoch).
RankBatches drop_first_batches(RankBatches batches, int64_t k);
// Samples in global batch k (all ranks together) of an epoch over n samples,
// and the number of global batches.
int64_t global_batch_count(int64_t n, int64_t global_batch, int64_t k);
int64_t num_global_batches(int64_t n, int64_t global_batch);

}  // namespace sisyphus::data
