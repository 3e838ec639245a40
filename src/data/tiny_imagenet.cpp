#include "data/tiny_imagenet.h"

#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "core/child_probe.h"
#include "core/error.h"
#include "core/h5.h"
#include "data/jpeg.h"

namespace sisyphus::data {
namespace {

constexpr int kSize = 64;
constexpr const char* kFormat = "sisyphus-tiny-imagenet";

std::vector<std::string> list_dir(const std::string& dir, const std::string& suffix) {
  DIR* d = opendir(dir.c_str());
  if (!d) SISYPHUS_FAIL(ErrorKind::kData, "cannot open folder '" + dir + "'");
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      names.push_back(name);
    }
  }
  closedir(d);
  std::sort(names.begin(), names.end());  // directory order is not stable
  return names;
}

// Appends one decoded 64x64 image, converted from interleaved RGB to planar.
void append_image(const std::string& path, ImageSet* set) {
  RgbImage img = decode_jpeg_file(path);
  if (img.width != kSize || img.height != kSize) {
    SISYPHUS_FAIL(ErrorKind::kData, "'" + path + "' is " + std::to_string(img.width) + "x" +
                                        std::to_string(img.height) + ", expected 64x64");
  }
  size_t base = set->pixels.size();
  set->pixels.resize(base + 3 * kSize * kSize);
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < kSize * kSize; ++p)
      set->pixels[base + c * kSize * kSize + p] = img.pixels[p * 3 + c];
  set->n += 1;
}

void write_split(const h5::Object& file, const std::string& name, const ImageSet& set) {
  h5::Object group = h5::create_group(file, name);
  h5::write_array(group, "images", h5::DType::kU8, {set.n, 3, kSize, kSize}, set.pixels.data(),
                  /*chunk_rows=*/256);
  h5::write_array(group, "labels", h5::DType::kI64, {set.n}, set.labels.data());
}

}  // namespace

PackStats pack_tiny_imagenet(const std::string& src_dir, const std::string& out_h5) {
  std::ifstream wnids_in(src_dir + "/wnids.txt");
  if (!wnids_in) SISYPHUS_FAIL(ErrorKind::kData, "cannot open '" + src_dir + "/wnids.txt'");
  std::vector<std::string> wnids;
  std::map<std::string, int64_t> label_of;
  for (std::string line; std::getline(wnids_in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) continue;
    if (label_of.count(line)) {
      SISYPHUS_FAIL(ErrorKind::kData, "'" + src_dir + "/wnids.txt' lists " + line + " twice");
    }
    label_of[line] = static_cast<int64_t>(wnids.size());
    wnids.push_back(line);
  }
  SISYPHUS_CHECK(!wnids.empty(), ErrorKind::kData, "'" + src_dir + "/wnids.txt' is empty");

  ImageSet train, val;
  for (ImageSet* s : {&train, &val}) {
    s->channels = 3;
    s->height = kSize;
    s->width = kSize;
    s->num_classes = static_cast<int64_t>(wnids.size());
  }
  train.source = src_dir + "/train";
  val.source = src_dir + "/val";
  for (size_t k = 0; k < wnids.size(); ++k) {
    std::string dir = src_dir + "/train/" + wnids[k] + "/images";
    for (const auto& name : list_dir(dir, ".JPEG")) {
      append_image(dir + "/" + name, &train);
      train.labels.push_back(static_cast<int64_t>(k));
    }
  }
  std::string ann_path = src_dir + "/val/val_annotations.txt";
  std::ifstream ann(ann_path);
  if (!ann) SISYPHUS_FAIL(ErrorKind::kData, "cannot open '" + ann_path + "'");
  int line_no = 0;
  for (std::string line; std::getline(ann, line);) {
    ++line_no;
    if (line.empty() || line == "\r") continue;
    std::istringstream fields(line);
    std::string file, wnid;
    if (!(fields >> file >> wnid)) {
      SISYPHUS_FAIL(ErrorKind::kData,
                    "'" + ann_path + "' line " + std::to_string(line_no) + " is malformed");
    }
    auto it = label_of.find(wnid);
    if (it == label_of.end()) {
      SISYPHUS_FAIL(ErrorKind::kData, "'" + ann_path + "' line " + std::to_string(line_no) +
                                          " names class " + wnid + " missing from wnids.txt");
    }
    append_image(src_dir + "/val/images/" + file, &val);
    val.labels.push_back(it->second);
  }
  train.validate();
  val.validate();

  std::string tmp = out_h5 + ".tmp";
  {
    h5::Object file = h5::create_file(tmp);
    h5::set_attr(file, "format", std::string(kFormat));
    h5::set_attr(file, "version", int64_t{1});
    h5::set_attr(file, "num_classes", static_cast<int64_t>(wnids.size()));
    std::string joined;
    for (const auto& w : wnids) joined += w + "\n";
    h5::set_attr(file, "wnids", joined);
    h5::set_attr(file, "layout", std::string("NCHW"));
    write_split(file, "train", train);
    write_split(file, "val", val);
    file.close();
  }
  if (std::rename(tmp.c_str(), out_h5.c_str()) != 0) {
    SISYPHUS_FAIL(ErrorKind::kIo, "cannot rename '" + tmp + "' to '" + out_h5 + "'");
  }
  return PackStats{train.n, val.n, static_cast<int64_t>(wnids.size())};
}

namespace {

ImageSet read_unguarded(const std::string& h5_path, const std::string& split) {
  h5::Object file = h5::open_file(h5_path);
  if (!h5::has_attr(file, "format") || h5::attr_string(file, "format") != kFormat) {
    SISYPHUS_FAIL(ErrorKind::kData, "'" + h5_path +
                                        "' is not a packed TinyImageNet file (HINT: make it with "
                                        "`sisyphus data pack-tiny <tiny-imagenet-200 dir>`)");
  }
  ImageSet set;
  set.source = h5_path + ":/" + split;
  set.num_classes = h5::attr_int(file, "num_classes");
  h5::Object group = h5::open_group(file, split);
  h5::ArrayInfo info = h5::array_info(group, "images");
  if (info.shape.size() != 4 || info.shape[1] != 3) {
    SISYPHUS_FAIL(ErrorKind::kData, "'" + set.source + "/images' must be [N, 3, H, W]");
  }
  set.n = info.shape[0];
  set.channels = 3;
  set.height = info.shape[2];
  set.width = info.shape[3];
  set.pixels.resize(static_cast<size_t>(info.numel()));
  h5::read_array(group, "images", h5::DType::kU8, set.pixels.data(), info.numel());
  set.labels.resize(static_cast<size_t>(set.n));
  h5::read_array(group, "labels", h5::DType::kI64, set.labels.data(), set.n);
  set.validate();
  return set;
}

}  // namespace

ImageSet read_tiny_imagenet(const std::string& h5_path, const std::string& split) {
  read_in_child_first(h5_path, ErrorKind::kData, [&] { read_unguarded(h5_path, split); });
  return read_unguarded(h5_path, split);
}

}  // namespace sisyphus::data
