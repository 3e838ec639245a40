// IDX, CIFAR and TinyImageNet readers on small files in the real formats,
// including every bad-input case: missing, truncated, wrong magic, counts,
// labels out of range, wrong image sizes.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "core/error.h"
#include "data/cifar_reader.h"
#include "data/dataset.h"
#include "data/idx_reader.h"
#include "data/jpeg.h"
#include "data/tiny_imagenet.h"
#include "support/fixtures.h"

using namespace sisyphus;
using sisyphus::fixtures::TempDir;

namespace {

// Expects `fn` to throw Error(kind) whose message contains `needle`.
template <class Fn>
void expect_error(Fn fn, ErrorKind kind, const std::string& needle) {
  try {
    fn();
    FAIL() << "expected an error mentioning " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

void truncate_file(const std::string& path, long keep) {
  std::string data = fixtures::read_text(path);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), keep);
}

}  // namespace

TEST(Idx, ReadsGzipAndPlain) {
  for (bool gz : {true, false}) {
    TempDir dir;
    std::vector<uint8_t> pixels = fixtures::pattern_bytes(3 * 4 * 5, 1);
    std::string img = dir.file(gz ? "i.gz" : "i"), lab = dir.file(gz ? "l.gz" : "l");
    fixtures::write_idx_images(img, 3, 4, 5, pixels, gz);
    fixtures::write_idx_labels(lab, {0, 9, 4}, gz);
    data::ImageSet s = data::read_idx(img, lab);
    EXPECT_EQ(s.n, 3);
    EXPECT_EQ(s.channels, 1);
    EXPECT_EQ(s.height, 4);
    EXPECT_EQ(s.width, 5);
    EXPECT_EQ(s.pixels, pixels);
    EXPECT_EQ(s.labels, (std::vector<int64_t>{0, 9, 4}));
  }
}

TEST(Idx, ReadsTheShippedFashionMnist) {
  const char* dir = "/usr/share/datasets/fashion-mnist";
  std::ifstream probe(std::string(dir) + "/t10k-labels-idx1-ubyte.gz");
  if (!probe) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  data::ImageSet s = data::read_idx_dir(dir, /*train=*/false);
  EXPECT_EQ(s.n, 10000);
  EXPECT_EQ(s.height, 28);
  std::vector<int64_t> per_class(10, 0);
  for (auto l : s.labels) per_class[l]++;
  for (auto c : per_class) EXPECT_EQ(c, 1000);  // the test split is balanced
}

TEST(Idx, BadInputs) {
  TempDir dir;
  std::vector<uint8_t> pixels = fixtures::pattern_bytes(2 * 28 * 28, 2);
  fixtures::write_idx_images(dir.file("img"), 2, 28, 28, pixels, false);
  fixtures::write_idx_labels(dir.file("lab"), {1, 2}, false);
  expect_error([&] { data::read_idx(dir.file("missing"), dir.file("lab")); }, ErrorKind::kData,
               "missing");
  // labels file given as images: wrong magic
  expect_error([&] { data::read_idx(dir.file("lab"), dir.file("lab")); }, ErrorKind::kData,
               "not an IDX image file");
  // count mismatch
  fixtures::write_idx_labels(dir.file("lab3"), {1, 2, 3}, false);
  expect_error([&] { data::read_idx(dir.file("img"), dir.file("lab3")); }, ErrorKind::kData,
               "holds 3 labels");
  // label out of range
  fixtures::write_idx_labels(dir.file("lab_bad"), {1, 12}, false);
  expect_error([&] { data::read_idx(dir.file("img"), dir.file("lab_bad")); }, ErrorKind::kData,
               "label 12");
  // truncated plain and gzip files
  truncate_file(dir.file("img"), 16 + 28 * 28 + 10);
  expect_error([&] { data::read_idx(dir.file("img"), dir.file("lab")); }, ErrorKind::kData,
               "truncated");
  fixtures::write_idx_images(dir.file("img.gz"), 2, 28, 28, pixels, true);
  truncate_file(dir.file("img.gz"), 40);
  expect_error([&] { data::read_idx(dir.file("img.gz"), dir.file("lab")); }, ErrorKind::kData,
               "img.gz");
}

// A header that claims far more than the file holds (here 2^32-1 images of
// 4096x4096, 72 PB; fuzzing found such headers) is refused as truncated after
// reading what is there, without allocating what the header claims (which
// threw std::bad_alloc, or took all memory, before).
TEST(Idx, HeaderClaimingMoreThanTheFileHoldsIsTruncated) {
  TempDir dir;
  for (bool gz : {false, true}) {
    const std::string img = dir.file(gz ? "huge.gz" : "huge");
    // n = -1 is written as 0xffffffff; 4096 bytes of pixels follow the header.
    fixtures::write_idx_images(img, -1, 4096, 4096, fixtures::pattern_bytes(4096, 5), gz);
    fixtures::write_idx_labels(dir.file("lab"), {1}, false);
    expect_error([&] { data::read_idx(img, dir.file("lab")); }, ErrorKind::kData, "truncated");
  }
}

TEST(Cifar, Cifar10AndCifar100Records) {
  TempDir dir;
  fixtures::write_cifar10_dir(dir.file("c10"), 4);
  data::ImageSet train = data::read_cifar10(dir.file("c10"), true);
  data::ImageSet test = data::read_cifar10(dir.file("c10"), false);
  EXPECT_EQ(train.n, 20);
  EXPECT_EQ(test.n, 4);
  EXPECT_EQ(train.channels, 3);
  EXPECT_EQ(train.labels[5], (1 + 1) % 10);  // record 1 of data_batch_2
  std::vector<uint8_t> expect = fixtures::pattern_bytes(4 * 3072, 101);
  EXPECT_TRUE(std::equal(expect.begin(), expect.end(), train.pixels.begin() + 4 * 3072));

  // CIFAR-100: the fine label (second byte) is the class.
  fixtures::make_dirs(dir.file("c100"));
  fixtures::write_cifar_file(dir.file("c100/train.bin"), {{3, 77}, {19, 5}},
                             fixtures::pattern_bytes(2 * 3072, 9));
  data::ImageSet c100 = data::read_cifar100(dir.file("c100"), true);
  EXPECT_EQ(c100.num_classes, 100);
  EXPECT_EQ(c100.labels, (std::vector<int64_t>{77, 5}));
}

TEST(Cifar, BadInputs) {
  TempDir dir;
  expect_error([&] { data::read_cifar10(dir.file("none"), true); }, ErrorKind::kData,
               "data_batch_1.bin");
  fixtures::write_cifar10_dir(dir.file("c10"), 3);
  truncate_file(dir.file("c10/test_batch.bin"), 3073 * 2 + 100);
  expect_error([&] { data::read_cifar10(dir.file("c10"), false); }, ErrorKind::kData,
               "not a whole number");
  fixtures::write_cifar_file(dir.file("c10/test_batch.bin"), {{1}, {10}},
                             fixtures::pattern_bytes(2 * 3072, 1));
  expect_error([&] { data::read_cifar10(dir.file("c10"), false); }, ErrorKind::kData, "label 10");
}

namespace {

// A tiny-imagenet-200 tree: `classes` classes, `per_class` train images each,
// one val image per class; class k images are filled with grey level 40*k+20
// (the first val image is stored as a greyscale JPEG, as some real ones are).
void make_tiny_tree(const std::string& root, int classes, int per_class) {
  std::string wnids;
  std::string ann;
  for (int k = 0; k < classes; ++k) {
    char wnid[16];
    std::snprintf(wnid, sizeof(wnid), "n%08d", 1000 + k);
    wnids += std::string(wnid) + "\n";
    std::string dir = root + "/train/" + wnid + "/images";
    fixtures::make_dirs(dir);
    std::vector<uint8_t> rgb(64 * 64 * 3, static_cast<uint8_t>(40 * k + 20));
    for (int i = 0; i < per_class; ++i)
      data::encode_jpeg_file(dir + "/" + wnid + "_" + std::to_string(i) + ".JPEG", rgb.data(), 64,
                             64, 3);
    fixtures::make_dirs(root + "/val/images");
    std::string val = "val_" + std::to_string(k) + ".JPEG";
    if (k == 0) {
      std::vector<uint8_t> grey(64 * 64, static_cast<uint8_t>(20));
      data::encode_jpeg_file(root + "/val/images/" + val, grey.data(), 64, 64, 1);
    } else {
      data::encode_jpeg_file(root + "/val/images/" + val, rgb.data(), 64, 64, 3);
    }
    ann += val + "\t" + wnid + "\t0\t0\t63\t63\n";
  }
  fixtures::write_text(root + "/wnids.txt", wnids);
  fixtures::write_text(root + "/val/val_annotations.txt", ann);
}

}  // namespace

TEST(TinyImageNet, PackAndRead) {
  TempDir dir;
  make_tiny_tree(dir.file("tiny"), 3, 2);
  data::PackStats st = data::pack_tiny_imagenet(dir.file("tiny"), dir.file("tiny.h5"));
  EXPECT_EQ(st.train, 6);
  EXPECT_EQ(st.val, 3);
  EXPECT_EQ(st.classes, 3);
  data::ImageSet train = data::read_tiny_imagenet(dir.file("tiny.h5"), "train");
  data::ImageSet val = data::read_tiny_imagenet(dir.file("tiny.h5"), "val");
  EXPECT_EQ(train.n, 6);
  EXPECT_EQ(train.num_classes, 3);
  EXPECT_EQ(train.labels, (std::vector<int64_t>{0, 0, 1, 1, 2, 2}));
  EXPECT_EQ(val.labels, (std::vector<int64_t>{0, 1, 2}));
  // flat images survive JPEG within a grey level or two; grey expands to RGB
  for (int64_t i = 0; i < train.n; ++i) {
    int expect = 40 * static_cast<int>(train.labels[i]) + 20;
    for (int64_t p = 0; p < train.image_bytes(); p += 997)
      EXPECT_NEAR(train.image(i)[p], expect, 2);
  }
  EXPECT_NEAR(val.image(0)[2 * 4096 + 5], 20, 2);
}

TEST(TinyImageNet, BadInputs) {
  TempDir dir;
  expect_error([&] { data::pack_tiny_imagenet(dir.file("none"), dir.file("t.h5")); },
               ErrorKind::kData, "wnids.txt");
  make_tiny_tree(dir.file("tiny"), 2, 1);
  // a wrong-size image
  std::vector<uint8_t> small(32 * 32 * 3, 9);
  data::encode_jpeg_file(dir.file("tiny/train/n00001000/images/n00001000_0.JPEG"), small.data(), 32,
                         32, 3);
  expect_error([&] { data::pack_tiny_imagenet(dir.file("tiny"), dir.file("t.h5")); },
               ErrorKind::kData, "expected 64x64");
  // a corrupt JPEG
  fixtures::write_text(dir.file("tiny/train/n00001000/images/n00001000_0.JPEG"), "garbage");
  expect_error([&] { data::pack_tiny_imagenet(dir.file("tiny"), dir.file("t.h5")); },
               ErrorKind::kData, "not a valid JPEG");
  // nothing half-written is left behind
  std::ifstream out(dir.file("t.h5"));
  EXPECT_FALSE(out.good());
  // a val class that is not in wnids.txt
  TempDir dir2;
  make_tiny_tree(dir2.file("tiny"), 2, 1);
  fixtures::write_text(dir2.file("tiny/val/val_annotations.txt"),
                       "val_0.JPEG\tn99999999\t0\t0\t1\t1\n");
  expect_error([&] { data::pack_tiny_imagenet(dir2.file("tiny"), dir2.file("t.h5")); },
               ErrorKind::kData, "n99999999");
  // an HDF5 file that is not a packed data set
  expect_error([&] { data::read_tiny_imagenet(dir2.file("tiny/wnids.txt"), "train"); },
               ErrorKind::kHdf5, "wnids.txt");
}

// A JPEG header that claims 20000x20000 pixels (1.2 GB of RGB; fuzzing found
// 65280x65280, 12 GB) is refused before anything is allocated for it; a real
// image still decodes.
TEST(Jpeg, HeaderClaimingAHugeImageIsRefused) {
  TempDir dir;
  std::vector<uint8_t> rgb = fixtures::pattern_bytes(16 * 16 * 3, 3);
  data::encode_jpeg_file(dir.file("a.jpg"), rgb.data(), 16, 16, 3);
  EXPECT_EQ(data::decode_jpeg_file(dir.file("a.jpg")).width, 16);
  std::string bytes;
  {
    std::ifstream in(dir.file("a.jpg"), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t sof = bytes.find("\xff\xc0");  // baseline frame header: length, precision, h, w
  ASSERT_NE(sof, std::string::npos);
  for (size_t i : {sof + 5, sof + 7}) {  // height, width: 20000 = 0x4e20
    bytes[i] = '\x4e';
    bytes[i + 1] = '\x20';
  }
  std::ofstream(dir.file("huge.jpg"), std::ios::binary) << bytes;
  expect_error([&] { data::decode_jpeg_file(dir.file("huge.jpg")); }, ErrorKind::kData,
               "claims 20000x20000 pixels");
}

TEST(Dataset, SpecsAndShapeChecks) {
  EXPECT_EQ(data::dataset_spec("cifar100").num_classes, 100);
  expect_error([] { data::dataset_spec("imagenet"); }, ErrorKind::kConfig, "unknown data set");
  // an MNIST-shaped folder handed to cifar10 is refused by the reader; a
  // CIFAR folder is checked against the spec's shape.
  TempDir dir;
  fixtures::write_cifar10_dir(dir.file("c10"), 2);
  EXPECT_EQ(data::load_split(data::dataset_spec("cifar10"), dir.file("c10"), true).n, 10);
}
