// HDF5 wrapper: round trips, attributes, and clear errors for bad files.
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "core/h5.h"
#include "support/fixtures.h"

using namespace sisyphus;

TEST(H5, ArrayAndAttributeRoundTrip) {
  fixtures::TempDir dir;
  std::string path = dir.file("a.h5");
  std::vector<float> values = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f};
  {
    h5::Object f = h5::create_file(path);
    h5::Object g = h5::create_group(f, "model");
    h5::write_array(g, "layer1.0.conv1.weight", h5::DType::kF32, {2, 3}, values.data());
    h5::set_attr(f, "network", std::string("lenet"));
    h5::set_attr(f, "epoch", int64_t{7});
    h5::set_attr(f, "acc", 0.875);
    f.close();
  }
  h5::Object f = h5::open_file(path);
  EXPECT_EQ(h5::attr_string(f, "network"), "lenet");
  EXPECT_EQ(h5::attr_int(f, "epoch"), 7);
  EXPECT_DOUBLE_EQ(h5::attr_double(f, "acc"), 0.875);
  h5::Object g = h5::open_group(f, "model");
  EXPECT_EQ(h5::list(g), std::vector<std::string>{"layer1.0.conv1.weight"});
  h5::ArrayInfo info = h5::array_info(g, "layer1.0.conv1.weight");
  EXPECT_EQ(info.dtype, h5::DType::kF32);
  EXPECT_EQ(info.shape, (std::vector<int64_t>{2, 3}));
  std::vector<float> back(6);
  h5::read_array(g, "layer1.0.conv1.weight", h5::DType::kF32, back.data(), 6);
  EXPECT_EQ(back, values);
  EXPECT_TRUE(h5::exists(f, "model/layer1.0.conv1.weight"));
  EXPECT_FALSE(h5::exists(f, "model/nothing"));
}

TEST(H5, ChunkedCompressedArray) {
  fixtures::TempDir dir;
  std::vector<uint8_t> data = fixtures::pattern_bytes(1000 * 12, 3);
  {
    h5::Object f = h5::create_file(dir.file("c.h5"));
    h5::write_array(f, "images", h5::DType::kU8, {1000, 12}, data.data(), /*chunk_rows=*/64);
  }
  h5::Object f = h5::open_file(dir.file("c.h5"));
  std::vector<uint8_t> back(data.size());
  h5::read_array(f, "images", h5::DType::kU8, back.data(), static_cast<int64_t>(back.size()));
  EXPECT_EQ(back, data);
}

TEST(H5, MissingFileIsAnIoError) {
  try {
    h5::open_file("/nonexistent/x.h5");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.h5"), std::string::npos);
  }
}

TEST(H5, GarbageFileIsAnHdf5Error) {
  fixtures::TempDir dir;
  fixtures::write_text(dir.file("bad.h5"), "this is not hdf5 at all");
  try {
    h5::open_file(dir.file("bad.h5"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kHdf5);
    EXPECT_NE(std::string(e.what()).find("bad.h5"), std::string::npos);
  }
}

TEST(H5, WrongCountAndMissingObjectsAreErrors) {
  fixtures::TempDir dir;
  std::vector<int64_t> v = {1, 2, 3};
  {
    h5::Object f = h5::create_file(dir.file("a.h5"));
    h5::write_array(f, "v", h5::DType::kI64, {3}, v.data());
  }
  h5::Object f = h5::open_file(dir.file("a.h5"));
  std::vector<int64_t> out(4);
  EXPECT_THROW(h5::read_array(f, "v", h5::DType::kI64, out.data(), 4), Error);
  EXPECT_THROW(h5::array_info(f, "w"), Error);
  EXPECT_THROW(h5::open_group(f, "g"), Error);
  EXPECT_THROW(h5::attr_string(f, "nope"), Error);
}
