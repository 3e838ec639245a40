// Checkpoints: exact round trip, atomic replacement, clear errors for
// corrupt, truncated, foreign and mismatched files.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "core/error.h"
#include "core/h5.h"
#include "io/checkpoint.h"
#include "nn/act_spec.h"
#include "nn/amm.h"
#include "nn/registry.h"
#include "support/fixtures.h"

using namespace sisyphus;

namespace {

io::Checkpoint make_checkpoint(nn::NetworkImpl& net) {
  io::Checkpoint c;
  c.meta.network = net.arch();
  c.meta.dataset = "fashion-mnist";
  c.meta.epoch = 3;
  c.meta.step = 1407;
  c.meta.config = "[train]\nnet=\"lenet\"\n";
  c.meta.config_hash = "0123456789abcdef";
  c.meta.test_acc = 0.9;
  c.meta.num_classes = 10;
  c.meta.in_channels = 1;
  c.meta.image_size = 28;
  c.model = io::module_state(net);
  io::TensorList momentum;
  for (const auto& item : net.named_parameters())
    momentum.emplace_back(item.key(), torch::randn(item.value().sizes()));
  c.optimizer.emplace_back("momentum", momentum);
  c.rng_state = at::detail::getDefaultCPUGenerator().get_state();
  return c;
}

void expect_checkpoint_error(const std::string& path, const std::string& needle) {
  try {
    io::load_checkpoint(path);
    FAIL() << "expected an error for " << path;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(Checkpoint, RoundTripIsExact) {
  fixtures::TempDir dir;
  torch::manual_seed(1);
  nn::Network net = nn::make_network("lenet", {1, 28, 10});
  // make BN buffers non-trivial
  net->train();
  net->forward(torch::randn({4, 1, 28, 28}));
  io::Checkpoint c = make_checkpoint(*net);
  io::save_checkpoint(dir.file("a.h5"), c);
  std::ifstream tmp(dir.file("a.h5.tmp"));
  EXPECT_FALSE(tmp.good()) << "temp file left behind";

  io::Checkpoint back = io::load_checkpoint(dir.file("a.h5"));
  EXPECT_EQ(back.meta.network, "lenet");
  EXPECT_EQ(back.meta.epoch, 3);
  EXPECT_EQ(back.meta.step, 1407);
  EXPECT_EQ(back.meta.config, c.meta.config);
  EXPECT_EQ(back.meta.image_size, 28);
  ASSERT_EQ(back.model.size(), c.model.size());
  std::map<std::string, torch::Tensor> m(back.model.begin(), back.model.end());
  for (const auto& [name, t] : c.model) {
    ASSERT_TRUE(m.count(name)) << name;
    EXPECT_EQ(m[name].scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(m[name], t)) << name;
  }
  ASSERT_EQ(back.optimizer.size(), 1u);
  EXPECT_EQ(back.optimizer[0].first, "momentum");
  EXPECT_TRUE(torch::equal(back.rng_state, c.rng_state));

  // loading into a fresh network reproduces its outputs bit for bit
  torch::manual_seed(2);
  nn::Network other = nn::make_network("lenet", {1, 28, 10});
  io::load_module_state(*other, back.model, "a.h5");
  net->eval();
  other->eval();
  auto x = torch::randn({5, 1, 28, 28});
  EXPECT_TRUE(torch::equal(net->forward(x), other->forward(x)));
}

// A GPU run's checkpoint carries its device's generator too (16 bytes of
// Philox seed and offset on CUDA): stored, loaded and covered by the checksum.
// What a CPU can show; the restore itself is checked on a GPU by gpu_check.
TEST(Checkpoint, CudaGeneratorStateRoundTripsAndIsChecksummed) {
  fixtures::TempDir dir;
  nn::Network net = nn::make_network("mlp", {1, 28, 10});
  io::Checkpoint c = make_checkpoint(*net);
  const std::string cpu_only = io::content_checksum(c);
  c.cuda_rng_state = torch::arange(16, torch::kUInt8);
  EXPECT_NE(io::content_checksum(c), cpu_only);
  io::save_checkpoint(dir.file("gpu.h5"), c);
  io::Checkpoint back = io::load_checkpoint(dir.file("gpu.h5"));
  ASSERT_TRUE(back.cuda_rng_state.defined());
  EXPECT_TRUE(torch::equal(back.cuda_rng_state, c.cuda_rng_state));
  EXPECT_TRUE(torch::equal(back.rng_state, c.rng_state));
  // a CPU run's checkpoint has none
  io::save_checkpoint(dir.file("cpu.h5"), make_checkpoint(*net));
  EXPECT_FALSE(io::load_checkpoint(dir.file("cpu.h5")).cuda_rng_state.defined());
}

TEST(Checkpoint, SaveReplacesAtomically) {
  fixtures::TempDir dir;
  nn::Network net = nn::make_network("mlp", {1, 28, 10});
  io::Checkpoint c = make_checkpoint(*net);
  io::save_checkpoint(dir.file("last.h5"), c);
  c.meta.epoch = 4;
  // a stale temp file from a killed writer does not disturb the next save
  fixtures::write_text(dir.file("last.h5.tmp"), "half-written garbage");
  io::save_checkpoint(dir.file("last.h5"), c);
  EXPECT_EQ(io::read_checkpoint_meta(dir.file("last.h5")).epoch, 4);
}

TEST(Checkpoint, BadFiles) {
  fixtures::TempDir dir;
  expect_checkpoint_error(dir.file("missing.h5"), "missing.h5");
  fixtures::write_text(dir.file("garbage.h5"), std::string(4096, 'x'));
  expect_checkpoint_error(dir.file("garbage.h5"), "not a readable HDF5 file");

  nn::Network net = nn::make_network("lenet", {1, 28, 10});
  io::save_checkpoint(dir.file("good.h5"), make_checkpoint(*net));
  std::string bytes = fixtures::read_text(dir.file("good.h5"));
  {
    std::ofstream f(dir.file("truncated.h5"), std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  try {
    io::load_checkpoint(dir.file("truncated.h5"));
    FAIL() << "truncated checkpoint loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated.h5"), std::string::npos) << e.what();
  }

  // a foreign HDF5 file
  {
    h5::Object f = h5::create_file(dir.file("foreign.h5"));
    h5::set_attr(f, "format", std::string("something-else"));
  }
  expect_checkpoint_error(dir.file("foreign.h5"), "not a sisyphus checkpoint");
}

TEST(Checkpoint, ContentChecksumRefusesOneFlippedBit) {
  fixtures::TempDir dir;
  torch::manual_seed(3);
  nn::Network net = nn::make_network("lenet", {1, 28, 10});
  io::Checkpoint c = make_checkpoint(*net);
  io::save_checkpoint(dir.file("good.h5"), c);
  // what is stored is what the loaded content hashes to (the file lists
  // tensors in name order, the network in state_dict order)
  io::Checkpoint back = io::load_checkpoint(dir.file("good.h5"));
  EXPECT_EQ(io::content_checksum(back), io::content_checksum(c));
  EXPECT_EQ(h5::attr_string(h5::open_file(dir.file("good.h5")), "checksum"),
            io::content_checksum(c));
  // one bit of one weight, found by its bytes in the file (HDF5 stores them as they are)
  const torch::Tensor w = c.model.front().second.contiguous();
  const std::string needle(static_cast<const char*>(w.data_ptr()), 64);
  std::string bytes = fixtures::read_text(dir.file("good.h5"));
  const size_t at = bytes.find(needle);
  ASSERT_NE(at, std::string::npos);
  bytes[at + 17] = static_cast<char>(bytes[at + 17] ^ 0x04);
  fixtures::write_text(dir.file("flipped.h5"), bytes);
  expect_checkpoint_error(dir.file("flipped.h5"),
                          "flipped.h5' is damaged: its content does not match");
  // the metadata counts too: another epoch in the same bytes is refused
  c.meta.epoch = 4;
  EXPECT_NE(io::content_checksum(c), io::content_checksum(back));
}

TEST(Checkpoint, MismatchedNetworkIsRefused) {
  fixtures::TempDir dir;
  nn::Network lenet = nn::make_network("lenet", {1, 28, 10});
  io::Checkpoint c = make_checkpoint(*lenet);
  nn::Network mlp = nn::make_network("mlp", {1, 28, 10});
  try {
    io::load_module_state(*mlp, c.model, "lenet.h5");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCheckpoint);
    EXPECT_NE(std::string(e.what()).find("lenet.h5"), std::string::npos);
  }
  nn::Network lenet100 = nn::make_network("lenet", {1, 28, 100});
  try {
    io::load_module_state(*lenet100, c.model, "lenet.h5");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("shape"), std::string::npos) << e.what();
  }
}

// The compatibility rule for buffers added to a layer later (AMM's biggest
// statistics): a checkpoint without them loads, they become NaN and are
// named; any other missing tensor is still refused.
TEST(Checkpoint, OptionalLaterBuffersLoadAsNaN) {
  nn::Network net = nn::make_network("lenet", {1, 28, 10});
  nn::set_activations(*net, "amm+quad", torch::zeros({1, 1, 28, 28}));
  io::TensorList old_state;
  for (const auto& [name, t] : io::module_state(*net))
    if (name.find(".amm.biggest_") == std::string::npos) old_state.emplace_back(name, t.clone());
  nn::Network back = nn::make_network("lenet", {1, 28, 10});
  nn::set_activations(*back, "amm+quad", torch::zeros({1, 1, 28, 28}));
  const std::vector<std::string> missing =
      io::load_module_state(*back, old_state, "old.h5", nn::amm_later_buffers());
  EXPECT_EQ(missing.size(), 2u * 4);  // LeNet's four activation slots, two buffers each
  EXPECT_FALSE(nn::has_amm_statistics(*back, nn::AmmMode::kBiggest));
  EXPECT_TRUE(nn::has_amm_statistics(*back, nn::AmmMode::kAmm));
  try {
    io::load_module_state(*back, old_state, "old.h5");  // without the rule: refused
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("biggest"), std::string::npos) << e.what();
  }
  old_state.erase(old_state.begin());  // a parameter missing: refused even with the rule
  EXPECT_THROW(io::load_module_state(*back, old_state, "old.h5", nn::amm_later_buffers()), Error);
}
