// HDF5 wrapper: round trips, attributes, and clear errors for bad files.
#include <gtest/gtest.h>

#include <fstream>

#include <hdf5.h>
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

// A damaged file can claim any shape: here a chunked dataset of 2^40 doubles
// (8 TB) of which nothing is stored, in a file of a few KB. The wrapper
// refuses it before any caller allocates for it; data that is stored reads.
TEST(H5, ShapeBeyondTheStoredBytesIsRefused) {
  fixtures::TempDir dir;
  const std::string path = dir.file("claims.h5");
  {
    hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    hsize_t dims[1] = {hsize_t(1) << 40}, chunk[1] = {1024};
    hid_t space = H5Screate_simple(1, dims, nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    ASSERT_GE(H5Pset_chunk(dcpl, 1, chunk), 0);
    hid_t d = H5Dcreate2(f, "big", H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ASSERT_GE(d, 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(f);
    h5::Object file = h5::open_file(path, /*writable=*/true);
    std::vector<double> small = {1, 2, 3};
    h5::write_array(file, "small", h5::DType::kF64, {3}, small.data());
  }
  h5::Object f = h5::open_file(path);
  try {
    h5::array_info(f, "big");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kHdf5);
    EXPECT_NE(std::string(e.what()).find("claims 8796093022208 bytes"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("claims.h5"), std::string::npos);
  }
  EXPECT_EQ(h5::array_info(f, "small").numel(), 3);
}
