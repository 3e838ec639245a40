// Tables: datasets that grow along dim 0 (core/h5.h).
#include <hdf5.h>

#include <algorithm>

#include "core/error.h"
#include "core/h5.h"
#include "core/h5_detail.h"

namespace sisyphus::h5 {

using namespace detail;

// --- tables -----------------------------------------------------------------
namespace {

void create_table_of(const Object& loc, const std::string& name, hid_t type,
                     const std::vector<int64_t>& inner, int64_t chunk_rows) {
  std::string path = child_path(loc, name);
  std::vector<hsize_t> dims = {0}, maxdims = {H5S_UNLIMITED},
                       chunk = {static_cast<hsize_t>(std::max<int64_t>(1, chunk_rows))};
  for (auto d : inner) {
    dims.push_back(static_cast<hsize_t>(d));
    maxdims.push_back(static_cast<hsize_t>(d));
    chunk.push_back(static_cast<hsize_t>(std::max<int64_t>(1, d)));
  }
  hid_t space =
      H5_CHECK(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), maxdims.data()),
               "H5Screate_simple", loc.file(), path);
  Guard space_guard{space, H5Sclose};
  hid_t dcpl = H5_CHECK(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate", loc.file(), path);
  Guard dcpl_guard{dcpl, H5Pclose};
  H5_CHECK(H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()), "H5Pset_chunk",
           loc.file(), path);
  hid_t dset =
      H5_CHECK(H5Dcreate2(loc.id(), name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
               "H5Dcreate2", loc.file(), path);
  H5Dclose(dset);
}

// The current extent of an open dataset ({} for a scalar).
std::vector<hsize_t> dataset_dims(hid_t dset, const std::string& file, const std::string& path) {
  hid_t space = H5_CHECK(H5Dget_space(dset), "H5Dget_space", file, path);
  Guard space_guard{space, H5Sclose};
  int rank = H5_CHECK(H5Sget_simple_extent_ndims(space), "H5Sget_simple_extent_ndims", file, path);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5_CHECK(H5Sget_simple_extent_dims(space, dims.data(), nullptr), "H5Sget_simple_extent_dims",
           file, path);
  return dims;
}

// Extends the table by `rows` rows and writes `data` (of memory type `mem`) there.
// Rows [first, first + rows) of a dataset of extent `dims`: the selection in
// the file and the matching memory space, closed by their guards.
void select_rows(hid_t dset, const std::vector<hsize_t>& dims, hsize_t first, hsize_t rows,
                 Guard& file_space, Guard& mem_space, const std::string& file,
                 const std::string& path) {
  std::vector<hsize_t> start(dims.size(), 0), count = dims;
  start[0] = first;
  count[0] = rows;
  file_space.id = H5_CHECK(H5Dget_space(dset), "H5Dget_space", file, path);
  H5_CHECK(H5Sselect_hyperslab(file_space.id, H5S_SELECT_SET, start.data(), nullptr, count.data(),
                               nullptr),
           "H5Sselect_hyperslab", file, path);
  mem_space.id = H5_CHECK(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr),
                          "H5Screate_simple", file, path);
}

void append_rows_of(const Object& loc, const std::string& name, hid_t mem, const void* data,
                    int64_t rows) {
  std::string path = child_path(loc, name);
  hid_t dset =
      H5_CHECK(H5Dopen2(loc.id(), name.c_str(), H5P_DEFAULT), "H5Dopen2", loc.file(), path);
  Guard dset_guard{dset, H5Dclose};
  std::vector<hsize_t> dims = dataset_dims(dset, loc.file(), path);
  const hsize_t first = dims[0];
  dims[0] += static_cast<hsize_t>(rows);
  H5_CHECK(H5Dset_extent(dset, dims.data()), "H5Dset_extent", loc.file(), path);
  Guard file_space{-1, H5Sclose}, mem_space{-1, H5Sclose};
  select_rows(dset, dims, first, static_cast<hsize_t>(rows), file_space, mem_space, loc.file(),
              path);
  H5_CHECK(H5Dwrite(dset, mem, mem_space.id, file_space.id, H5P_DEFAULT, data), "H5Dwrite",
           loc.file(), path);
}

}  // namespace

void create_table(const Object& loc, const std::string& name, DType dtype,
                  const std::vector<int64_t>& inner, int64_t chunk_rows) {
  create_table_of(loc, name, file_type(dtype), inner, chunk_rows);
}

void create_string_table(const Object& loc, const std::string& name, int64_t chunk_rows) {
  hid_t type = vlen_string_type(loc.file(), child_path(loc, name));
  Guard type_guard{type, H5Tclose};
  create_table_of(loc, name, type, {}, chunk_rows);
}

void append_rows(const Object& loc, const std::string& name, DType dtype, const void* data,
                 int64_t rows) {
  append_rows_of(loc, name, native_type(dtype), data, rows);
}

int64_t table_rows(const Object& loc, const std::string& name) {
  std::string path = child_path(loc, name);
  hid_t dset =
      H5_CHECK(H5Dopen2(loc.id(), name.c_str(), H5P_DEFAULT), "H5Dopen2", loc.file(), path);
  Guard dset_guard{dset, H5Dclose};
  const std::vector<hsize_t> dims = dataset_dims(dset, loc.file(), path);
  return dims.empty() ? 1 : static_cast<int64_t>(dims[0]);
}

void truncate_rows(const Object& loc, const std::string& name, int64_t rows) {
  std::string path = child_path(loc, name);
  hid_t dset =
      H5_CHECK(H5Dopen2(loc.id(), name.c_str(), H5P_DEFAULT), "H5Dopen2", loc.file(), path);
  Guard dset_guard{dset, H5Dclose};
  std::vector<hsize_t> dims = dataset_dims(dset, loc.file(), path);
  if (dims.empty() || rows < 0 || dims[0] <= static_cast<hsize_t>(rows)) return;
  dims[0] = static_cast<hsize_t>(rows);
  H5_CHECK(H5Dset_extent(dset, dims.data()), "H5Dset_extent", loc.file(), path);
}

void append_strings(const Object& loc, const std::string& name,
                    const std::vector<std::string>& values) {
  hid_t type = vlen_string_type(loc.file(), child_path(loc, name));
  Guard type_guard{type, H5Tclose};
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  append_rows_of(loc, name, type, ptrs.data(), static_cast<int64_t>(values.size()));
}

std::vector<std::string> read_strings(const Object& loc, const std::string& name) {
  std::string path = child_path(loc, name);
  hid_t dset = open_dataset(loc, name);
  Guard dset_guard{dset, H5Dclose};
  hid_t space = H5_CHECK(H5Dget_space(dset), "H5Dget_space", loc.file(), path);
  Guard space_guard{space, H5Sclose};
  hssize_t n = H5_CHECK(H5Sget_simple_extent_npoints(space), "H5Sget_simple_extent_npoints",
                        loc.file(), path);
  {
    hid_t stored_type = H5_CHECK(H5Dget_type(dset), "H5Dget_type", loc.file(), path);
    Guard stored_type_guard{stored_type, H5Tclose};
    const size_t stored_size = H5Tget_size(stored_type);
    if (stored_size == 0) h5_fail("H5Tget_size", loc.file(), path, __FILE__, __LINE__);
    check_stored(dset, {static_cast<hsize_t>(n)}, stored_size, loc.file(), path);
  }
  hid_t type = vlen_string_type(loc.file(), path);
  Guard type_guard{type, H5Tclose};
  std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
  if (n > 0)
    H5_CHECK(H5Dread(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), "H5Dread", loc.file(),
             path);
  return take_strings(ptrs);
}

namespace {

// Reads the first `rows` rows of the table into `out` (memory type `mem`).
void read_first_rows(const Object& loc, const std::string& name, hid_t mem, void* out, int64_t rows,
                     int64_t row_size) {
  std::string path = child_path(loc, name);
  hid_t dset = open_dataset(loc, name);
  Guard dset_guard{dset, H5Dclose};
  std::vector<hsize_t> dims = dataset_dims(dset, loc.file(), path);
  if (dims.empty() || rows < 0 || static_cast<hsize_t>(rows) > dims[0])
    SISYPHUS_FAIL(ErrorKind::kHdf5,
                  "table '" + path + "' in " + loc.file() + " has " +
                      (dims.empty() ? std::string("no rows") : std::to_string(dims[0]) + " rows") +
                      ", not the " + std::to_string(rows) + " asked for");
  int64_t stored_row = 1;
  for (size_t d = 1; d < dims.size(); ++d) stored_row *= static_cast<int64_t>(dims[d]);
  if (stored_row != row_size)
    SISYPHUS_FAIL(ErrorKind::kHdf5, "table '" + path + "' in " + loc.file() + " has rows of " +
                                        std::to_string(stored_row) + " values, not " +
                                        std::to_string(row_size) + ": the file is damaged");
  if (rows == 0) return;
  Guard file_space{-1, H5Sclose}, mem_space{-1, H5Sclose};
  select_rows(dset, dims, 0, static_cast<hsize_t>(rows), file_space, mem_space, loc.file(), path);
  H5_CHECK(H5Dread(dset, mem, mem_space.id, file_space.id, H5P_DEFAULT, out), "H5Dread", loc.file(),
           path);
}

}  // namespace

void read_rows(const Object& loc, const std::string& name, DType dtype, void* out, int64_t rows,
               int64_t row_size) {
  read_first_rows(loc, name, native_type(dtype), out, rows, row_size);
}

std::vector<std::string> read_strings(const Object& loc, const std::string& name, int64_t rows) {
  hid_t type = vlen_string_type(loc.file(), child_path(loc, name));
  Guard type_guard{type, H5Tclose};
  std::vector<char*> ptrs(static_cast<size_t>(std::max<int64_t>(rows, 0)), nullptr);
  read_first_rows(loc, name, type, ptrs.data(), rows, 1);
  return take_strings(ptrs);
}

}  // namespace sisyphus::h5
