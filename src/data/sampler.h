// Epoch order and per-rank shards.
//
// Epoch e visits a permutation of [0, n) that depends only on (seed, e).
// Training: global batch k is positions [k*R*B, (k+1)*R*B) of it, and rank r
// takes the r-th block of B positions of every global batch
// (shard_batches). So R ranks x B see exactly the batches of 1 rank x R*B;
// an uneven last global batch fills the low ranks first, and a rank may get
// no sample in it (it still joins the step's all-reduce with zeros).
// Evaluation: rank r takes positions r, r+R, ... (shard), disjoint shards
// that differ in size by at most one.
#pragma once

#include <cstdint>
#include <vector>

namespace sisyphus::data {

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle);
std::vector<int64_t> shard(const std::vector<int64_t>& order, int rank, int world_size);
std::vector<int64_t> shard_batches(const std::vector<int64_t>& order, int rank, int world_size,
                                   int64_t batch);
// Samples in global batch k (all ranks together) of an epoch over n samples.
int64_t global_batch_count(int64_t n, int world_size, int64_t batch, int64_t k);

}  // namespace sisyphus::data
