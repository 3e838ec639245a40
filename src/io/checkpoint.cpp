#include "io/checkpoint.h"

#include "io/checkpoint_meta.h"

#include <cstdio>
#include <limits>
#include <map>

#include "core/child_probe.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/h5.h"
#include "core/hash.h"

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
  if (version != kCheckpointVersion && version != 1) {
    SISYPHUS_FAIL(ErrorKind::kCheckpoint, "'" + path + "' has checkpoint version " +
                                              std::to_string(version) + ", this build reads " +
                                              std::to_string(kCheckpointVersion));
  }
}

CheckpointMeta read_meta(const h5::Object& file) {
  CheckpointMeta m;
  for (const MetaField& f : meta_fields()) {
    if (f.optional && !h5::has_attr(file, f.name)) continue;
    std::visit(
        [&](auto member) {
          using T = std::remove_cvref_t<decltype(m.*member)>;
          if constexpr (std::is_same_v<T, std::string>)
            m.*member = h5::attr_string(file, f.name);
          else if constexpr (std::is_same_v<T, double>)
            m.*member = h5::attr_double(file, f.name);
          else if constexpr (std::is_same_v<T, bool>)
            m.*member = h5::attr_int(file, f.name) != 0;
          else
            m.*member = h5::attr_int(file, f.name);
        },
        f.member);
  }
  // older checkpoints lack it: all their outputs were finite unless test_nonfinite says otherwise
  if (!h5::has_attr(file, "test_acc_finite")) m.test_acc_finite = m.test_acc;
  return m;
}

// Every metadata field as text, in one fixed order (the checksum's first part).
std::string meta_text(const CheckpointMeta& m) {
  std::string out;
  for (const MetaField& f : meta_fields()) {
    std::string value = std::visit(
        [&](auto member) -> std::string {
          using T = std::remove_cvref_t<decltype(m.*member)>;
          if constexpr (std::is_same_v<T, std::string>) {
            return m.*member;
          } else if constexpr (std::is_same_v<T, double>) {
            char num[64];
            std::snprintf(num, sizeof(num), "%.17g", m.*member);
            return num;
          } else {
            return std::to_string(static_cast<int64_t>(m.*member));
          }
        },
        f.member);
    out += std::string(f.name) + "=" + value + "\n";
  }
  return out;
}

uint64_t hash_tensor(uint64_t h, const std::string& name, const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
  const std::string head =
      name + ":" + std::string(c10::toString(c.scalar_type())) + ":" + c10::str(c.sizes()) + "\n";
  h = fnv1a64(head.data(), head.size(), h);
  return fnv1a64_words(c.data_ptr(), static_cast<size_t>(c.numel()) * c.element_size(), h);
}

// Refuses a file whose content does not match its stored checksum (version 2).
// A version-1 file (written before checksums) is refused: its content cannot
// be verified; `sisyphus checkpoint seal` adds the checksum, asked for once.
void verify_checksum(const h5::Object& file, const Checkpoint& ckpt, const std::string& path) {
  if (h5::attr_int(file, "version") == 1)
    SISYPHUS_FAIL(ErrorKind::kCheckpoint,
                  "checkpoint '" + path +
                      "' is version 1 (written before content checksums): its content cannot be "
                      "verified (HINT: if you trust it, `sisyphus checkpoint seal " +
                      path + "` adds the checksum)");
  if (!h5::has_attr(file, "checksum"))
    SISYPHUS_FAIL(ErrorKind::kCheckpoint, "checkpoint '" + path + "' has no checksum: damaged");
  const std::string stored = h5::attr_string(file, "checksum");
  const std::string actual = content_checksum(ckpt);
  if (stored != actual)
    SISYPHUS_FAIL(
        ErrorKind::kCheckpoint,
        "checkpoint '" + path + "' is damaged: its content does not match its checksum (" + actual +
            " != " + stored +
            "); a flipped bit or a partial copy (HINT: use an earlier checkpoint of the run)");
}

}  // namespace

std::string content_checksum(const Checkpoint& ckpt) {
  // by full name: a file lists its tensors in name order, memory in state_dict order
  std::map<std::string, torch::Tensor> all;
  for (const auto& [name, t] : ckpt.model) all["model/" + name] = t;
  for (const auto& [kind, list] : ckpt.optimizer)
    for (const auto& [name, t] : list) all["optimizer/" + kind + "/" + name] = t;
  if (ckpt.rng_state.defined()) all["rng/torch_cpu"] = ckpt.rng_state;
  if (ckpt.cuda_rng_state.defined()) all["rng/torch_cuda"] = ckpt.cuda_rng_state;
  if (ckpt.partial_sums.defined()) all["progress/partial_sums"] = ckpt.partial_sums;
  const std::string meta = meta_text(ckpt.meta);
  uint64_t h = fnv1a64(meta.data(), meta.size());
  for (const auto& [name, t] : all) h = hash_tensor(h, name, t);
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

void save_checkpoint(const std::string& path, const Checkpoint& ckpt) {
  const std::string tmp = path + ".tmp";
  try {
    h5::Object file = h5::create_file(tmp);
    const CheckpointMeta& m = ckpt.meta;
    h5::set_attr(file, "format", std::string(kFormat));
    h5::set_attr(file, "version", kCheckpointVersion);
    for (const MetaField& f : meta_fields()) {
      std::visit(
          [&](auto member) {
            using T = std::remove_cvref_t<decltype(m.*member)>;
            if constexpr (std::is_same_v<T, bool>)
              h5::set_attr(file, f.name, static_cast<int64_t>(m.*member));
            else
              h5::set_attr(file, f.name, m.*member);
          },
          f.member);
    }
    write_list(h5::create_group(file, "model"), ckpt.model);
    h5::Object opt = h5::create_group(file, "optimizer");
    for (const auto& [kind, list] : ckpt.optimizer) write_list(h5::create_group(opt, kind), list);
    h5::Object rng = h5::create_group(file, "rng");
    if (ckpt.rng_state.defined()) write_tensor(rng, "torch_cpu", ckpt.rng_state);
    if (ckpt.cuda_rng_state.defined()) write_tensor(rng, "torch_cuda", ckpt.cuda_rng_state);
    if (ckpt.partial_sums.defined())
      write_tensor(h5::create_group(file, "progress"), "partial_sums", ckpt.partial_sums);
    h5::set_attr(file, "checksum", content_checksum(ckpt));
    file.close();
    fs::sync_file(tmp);
  } catch (const Error& e) {
    std::remove(tmp.c_str());  // a partial file helps no one; `path` is untouched
    SISYPHUS_FAIL(e.kind(), "writing checkpoint '" + path + "' failed (disk full?): " + e.what());
  }
  fs::rename_over(tmp, path);
}

namespace {

CheckpointMeta read_meta_unguarded(const std::string& path) {
  h5::Object file = h5::open_file(path);
  check_format(file, path);
  return read_meta(file);
}

enum class Verify { kChecksum, kNone };

Checkpoint load_unguarded(const std::string& path, Verify verify = Verify::kChecksum) {
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
    if (h5::exists(rng, "torch_cuda")) ckpt.cuda_rng_state = read_tensor(rng, "torch_cuda");
    if (ckpt.meta.epoch_step > 0) {
      ckpt.partial_sums = read_tensor(h5::open_group(file, "progress"), "partial_sums");
      if (ckpt.partial_sums.dim() != 2 || ckpt.partial_sums.size(1) != 3)
        SISYPHUS_FAIL(ErrorKind::kCheckpoint, "progress/partial_sums is not [ranks, 3]");
    }
  } catch (const Error& e) {
    SISYPHUS_FAIL(ErrorKind::kCheckpoint,
                  "checkpoint '" + path + "' is incomplete or damaged: " + e.what());
  }
  if (verify == Verify::kChecksum) verify_checksum(file, ckpt, path);
  return ckpt;
}

}  // namespace

// Each read happens first in a child (core/child_probe.h). Nothing in it may
// touch torch's thread pools: they do not exist in a forked child (setting the
// thread count there waits for workers that are gone). Reading only allocates
// tensors and hashes their bytes, which uses no threads.
CheckpointMeta read_checkpoint_meta(const std::string& path) {
  read_in_child_first(path, ErrorKind::kCheckpoint, [&] { read_meta_unguarded(path); });
  return read_meta_unguarded(path);
}

void seal_checkpoint(const std::string& path) {
  read_in_child_first(path, ErrorKind::kCheckpoint, [&] { load_unguarded(path, Verify::kNone); });
  {  // the version before the content: a version-2 file is refused without a full read
    h5::Object file = h5::open_file(path);
    const int64_t version = h5::attr_int(file, "version");
    if (version != 1)
      SISYPHUS_FAIL(ErrorKind::kCheckpoint, "checkpoint '" + path + "' is version " +
                                                std::to_string(version) +
                                                ": it has its checksum already; nothing to seal");
  }
  const Checkpoint ckpt = load_unguarded(path, Verify::kNone);
  // on a copy, renamed over the file: a kill leaves the old file or the sealed one
  const std::string tmp = path + ".tmp";
  try {
    fs::copy_file_atomic(path, tmp);
    h5::Object file = h5::open_file(tmp, /*writable=*/true);
    h5::set_attr(file, "version", kCheckpointVersion);
    h5::set_attr(file, "checksum", content_checksum(ckpt));
    file.close();
    fs::sync_file(tmp);
  } catch (const Error& e) {
    std::remove(tmp.c_str());
    SISYPHUS_FAIL(e.kind(), "sealing checkpoint '" + path + "' failed: " + e.what());
  }
  fs::rename_over(tmp, path);
  load_unguarded(path);  // verifies as every later load will
}

Checkpoint load_checkpoint(const std::string& path) {
  read_in_child_first(path, ErrorKind::kCheckpoint, [&] { load_unguarded(path); });
  return load_unguarded(path);
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
