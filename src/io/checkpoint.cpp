#include "io/checkpoint.h"

#include <limits>

#include <map>

#include "core/error.h"
#include "core/fs.h"
#include "core/h5.h"

namespace sisyphus::io {
namespace {

constexpr const char* kFormat = "sisyphus-checkpoint";

h5::DType h5_dtype(const torch::Tensor& t, const std::string& name) {
  switch (t.scalar_type()) {
    case torch::kFloat32:
      return h5::DType::kF32;
    case torch::kFloat64:
      return h5::DType::kF64;
    case torch::kInt64:
      return h5::DType::kI64;
    case torch::kInt32:
      return h5::DType::kI32;
    case torch::kUInt8:
      return h5::DType::kU8;
    default:
      SISYPHUS_FAIL(ErrorKind::kCheckpoint, "tensor '" + name + "' has unsupported dtype " +
                                                std::string(c10::toString(t.scalar_type())));
  }
}

torch::ScalarType torch_dtype(h5::DType t) {
  switch (t) {
    case h5::DType::kF32:
      return torch::kFloat32;
    case h5::DType::kF64:
      return torch::kFloat64;
    case h5::DType::kI64:
      return torch::kInt64;
    case h5::DType::kI32:
      return torch::kInt32;
    case h5::DType::kU8:
      return torch::kUInt8;
    case h5::DType::kU16:
      return torch::kInt32;
  }
  return torch::kFloat32;
}

void write_tensor(const h5::Object& group, const std::string& name, const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
  h5::write_array(group, name, h5_dtype(c, name), c.sizes().vec(), c.data_ptr());
}

torch::Tensor read_tensor(const h5::Object& group, const std::string& name) {
  h5::ArrayInfo info = h5::array_info(group, name);
  torch::ScalarType st = torch_dtype(info.dtype);
  h5::DType read_as = info.dtype == h5::DType::kU16 ? h5::DType::kI32 : info.dtype;
  torch::Tensor t = torch::empty(info.shape, torch::TensorOptions().dtype(st));
  h5::read_array(group, name, read_as, t.data_ptr(), info.numel());
  return t;
}

void write_list(const h5::Object& group, const TensorList& list) {
  for (const auto& [name, t] : list) write_tensor(group, name, t);
}

TensorList read_list(const h5::Object& group) {
  TensorList list;
  for (const auto& name : h5::list(group)) list.emplace_back(name, read_tensor(group, name));
  return list;
}

void check_format(const h5::Object& file, const std::string& path) {
  if (!h5::has_attr(file, "format") || h5::attr_string(file, "format") != kFormat) {
    SISYPHUS_FAIL(ErrorKind::kCheckpoint, "'" + path + "' is not a sisyphus checkpoint");
  }
  int64_t version = h5::attr_int(file, "version");
  if (version != kCheckpointVersion) {
    SISYPHUS_FAIL(ErrorKind::kCheckpoint, "'" + path + "' has checkpoint version " +
                                              std::to_string(version) + ", this build reads " +
                                              std::to_string(kCheckpointVersion));
  }
}

CheckpointMeta read_meta(const h5::Object& file) {
  CheckpointMeta m;
  m.network = h5::attr_string(file, "network");
  m.dataset = h5::attr_string(file, "dataset");
  m.stage = h5::attr_string(file, "stage");
  m.epoch = h5::attr_int(file, "epoch");
  m.step = h5::attr_int(file, "step");
  m.config = h5::attr_string(file, "config");
  m.config_hash = h5::attr_string(file, "config_hash");
  m.test_acc = h5::attr_double(file, "test_acc");
  m.test_loss = h5::attr_double(file, "test_loss");
  m.num_classes = h5::attr_int(file, "num_classes");
  m.in_channels = h5::attr_int(file, "in_channels");
  m.image_size = h5::attr_int(file, "image_size");
  m.imagenet_stem = h5::attr_int(file, "imagenet_stem") != 0;
  m.batchnorm = h5::attr_int(file, "batchnorm") != 0;
  if (h5::has_attr(file, "folded")) m.folded = h5::attr_int(file, "folded") != 0;
  if (h5::has_attr(file, "activation")) m.activation = h5::attr_string(file, "activation");
  if (h5::has_attr(file, "point")) m.point = h5::attr_int(file, "point");
  if (h5::has_attr(file, "stage_epochs")) m.stage_epochs = h5::attr_int(file, "stage_epochs");
  if (h5::has_attr(file, "train_loss")) m.train_loss = h5::attr_double(file, "train_loss");
  if (h5::has_attr(file, "test_nonfinite")) m.test_nonfinite = h5::attr_int(file, "test_nonfinite");
  // older checkpoints lack it: all their outputs were finite unless test_nonfinite says otherwise
  m.test_acc_finite =
      h5::has_attr(file, "test_acc_finite") ? h5::attr_double(file, "test_acc_finite") : m.test_acc;
  if (h5::has_attr(file, "teacher")) m.teacher = h5::attr_string(file, "teacher");
  if (h5::has_attr(file, "epoch_step")) {
    m.epoch_step = h5::attr_int(file, "epoch_step");
    m.partial_seconds = h5::attr_double(file, "partial_seconds");
  }
  return m;
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& ckpt) {
  const std::string tmp = path + ".tmp";
  {
    h5::Object file = h5::create_file(tmp);
    const CheckpointMeta& m = ckpt.meta;
    h5::set_attr(file, "format", std::string(kFormat));
    h5::set_attr(file, "version", kCheckpointVersion);
    h5::set_attr(file, "network", m.network);
    h5::set_attr(file, "dataset", m.dataset);
    h5::set_attr(file, "stage", m.stage);
    h5::set_attr(file, "epoch", m.epoch);
    h5::set_attr(file, "step", m.step);
    h5::set_attr(file, "config", m.config);
    h5::set_attr(file, "config_hash", m.config_hash);
    h5::set_attr(file, "test_acc", m.test_acc);
    h5::set_attr(file, "test_loss", m.test_loss);
    h5::set_attr(file, "num_classes", m.num_classes);
    h5::set_attr(file, "in_channels", m.in_channels);
    h5::set_attr(file, "image_size", m.image_size);
    h5::set_attr(file, "imagenet_stem", static_cast<int64_t>(m.imagenet_stem));
    h5::set_attr(file, "batchnorm", static_cast<int64_t>(m.batchnorm));
    h5::set_attr(file, "folded", static_cast<int64_t>(m.folded));
    h5::set_attr(file, "activation", m.activation);
    h5::set_attr(file, "point", m.point);
    h5::set_attr(file, "stage_epochs", m.stage_epochs);
    h5::set_attr(file, "train_loss", m.train_loss);
    h5::set_attr(file, "test_nonfinite", m.test_nonfinite);
    h5::set_attr(file, "test_acc_finite", m.test_acc_finite);
    h5::set_attr(file, "teacher", m.teacher);
    h5::set_attr(file, "epoch_step", m.epoch_step);
    h5::set_attr(file, "partial_seconds", m.partial_seconds);
    write_list(h5::create_group(file, "model"), ckpt.model);
    h5::Object opt = h5::create_group(file, "optimizer");
    for (const auto& [kind, list] : ckpt.optimizer) write_list(h5::create_group(opt, kind), list);
    h5::Object rng = h5::create_group(file, "rng");
    if (ckpt.rng_state.defined()) write_tensor(rng, "torch_cpu", ckpt.rng_state);
    if (ckpt.partial_sums.defined())
      write_tensor(h5::create_group(file, "progress"), "partial_sums", ckpt.partial_sums);
    file.close();
  }
  fs::sync_file(tmp);
  fs::rename_over(tmp, path);
}

CheckpointMeta read_checkpoint_meta(const std::string& path) {
  h5::Object file = h5::open_file(path);
  check_format(file, path);
  return read_meta(file);
}

Checkpoint load_checkpoint(const std::string& path) {
  h5::Object file = h5::open_file(path);
  check_format(file, path);
  Checkpoint ckpt;
  try {
    ckpt.meta = read_meta(file);
    ckpt.model = read_list(h5::open_group(file, "model"));
    h5::Object opt = h5::open_group(file, "optimizer");
    for (const auto& kind : h5::list(opt))
      ckpt.optimizer.emplace_back(kind, read_list(h5::open_group(opt, kind)));
    h5::Object rng = h5::open_group(file, "rng");
    if (h5::exists(rng, "torch_cpu")) ckpt.rng_state = read_tensor(rng, "torch_cpu");
    if (ckpt.meta.epoch_step > 0) {
      ckpt.partial_sums = read_tensor(h5::open_group(file, "progress"), "partial_sums");
      if (ckpt.partial_sums.dim() != 2 || ckpt.partial_sums.size(1) != 3)
        SISYPHUS_FAIL(ErrorKind::kCheckpoint, "progress/partial_sums is not [ranks, 3]");
    }
  } catch (const Error& e) {
    SISYPHUS_FAIL(ErrorKind::kCheckpoint,
                  "checkpoint '" + path + "' is incomplete or damaged: " + e.what());
  }
  return ckpt;
}

TensorList module_state(const torch::nn::Module& module) {
  TensorList list;
  for (const auto& item : module.named_parameters()) list.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers()) list.emplace_back(item.key(), item.value());
  return list;
}

std::vector<std::string> load_module_state(torch::nn::Module& module, const TensorList& state,
                                           const std::string& source,
                                           const std::vector<std::string>& optional_suffixes) {
  std::map<std::string, torch::Tensor> given(state.begin(), state.end());
  TensorList mine = module_state(module);
  auto optional = [&optional_suffixes](const std::string& name) {
    for (const auto& s : optional_suffixes)
      if (name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0)
        return true;
    return false;
  };
  std::vector<std::string> missing;
  for (const auto& [name, t] : mine) {
    auto it = given.find(name);
    if (it == given.end() && optional(name)) {
      missing.push_back(name);
      continue;
    }
    if (it == given.end()) {
      SISYPHUS_FAIL(ErrorKind::kCheckpoint,
                    "'" + source + "' has no tensor '" + name + "' (written for another network?)");
    }
    if (it->second.sizes() != t.sizes()) {
      SISYPHUS_FAIL(ErrorKind::kCheckpoint, "'" + source + "': tensor '" + name + "' has shape " +
                                                c10::str(it->second.sizes()) +
                                                ", the network expects " + c10::str(t.sizes()));
    }
  }
  if (given.size() + missing.size() != mine.size()) {
    for (const auto& [name, t] : state) {
      bool known = false;
      for (const auto& m : mine) known = known || m.first == name;
      if (!known)
        SISYPHUS_FAIL(ErrorKind::kCheckpoint,
                      "'" + source + "' has tensor '" + name + "' that the network does not have");
    }
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : mine) {
    auto it = given.find(name);
    if (it != given.end())
      t.copy_(it->second);
    else
      t.fill_(std::numeric_limits<double>::quiet_NaN());
  }
  return missing;
}

}  // namespace sisyphus::io
