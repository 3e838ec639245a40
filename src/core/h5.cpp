#include "core/h5.h"

#include <hdf5.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"

namespace sisyphus::h5 {
namespace {

// HDF5 prints its own error stack by default; we report one line instead.
// And no library shutdown at exit: after a write that failed (the disk full)
// HDF5 keeps the file's half-closed handle and crashed closing it again at
// exit, after our error line. Every file is closed by its Object (RAII, also
// when an error unwinds), so there is nothing left for the shutdown to do.
void silence_hdf5() {
  static bool done = [] {
    H5dont_atexit();  // before any other call initialises the library
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

[[noreturn]] void h5_fail(const char* call, const std::string& file, const std::string& what,
                          const char* src, int line) {
  ::sisyphus::fail(ErrorKind::kHdf5,
                   std::string(call) + " failed for '" + what + "' in " + file +
                       " (HINT: is the file an intact sisyphus HDF5 file, readable and not "
                       "truncated?)",
                   src, line);
}

#define H5_CHECK(expr, call, file, what)                             \
  ([&]() {                                                           \
    auto _r = (expr);                                                \
    if (_r < 0) h5_fail((call), (file), (what), __FILE__, __LINE__); \
    return _r;                                                       \
  }())

hid_t native_type(DType t) {
  switch (t) {
    case DType::kU8:
      return H5T_NATIVE_UINT8;
    case DType::kU16:
      return H5T_NATIVE_UINT16;
    case DType::kI32:
      return H5T_NATIVE_INT32;
    case DType::kI64:
      return H5T_NATIVE_INT64;
    case DType::kF32:
      return H5T_NATIVE_FLOAT;
    case DType::kF64:
      return H5T_NATIVE_DOUBLE;
  }
  return H5T_NATIVE_UINT8;
}

// Standard little-endian file types, so files are portable across machines.
hid_t file_type(DType t) {
  switch (t) {
    case DType::kU8:
      return H5T_STD_U8LE;
    case DType::kU16:
      return H5T_STD_U16LE;
    case DType::kI32:
      return H5T_STD_I32LE;
    case DType::kI64:
      return H5T_STD_I64LE;
    case DType::kF32:
      return H5T_IEEE_F32LE;
    case DType::kF64:
      return H5T_IEEE_F64LE;
  }
  return H5T_STD_U8LE;
}

std::string child_path(const Object& loc, const std::string& name) {
  if (loc.path() == "/" || loc.path().empty()) return "/" + name;
  return loc.path() + "/" + name;
}

// Closes an hid_t of any kind on scope exit.
struct Guard {
  hid_t id;
  herr_t (*closer)(hid_t);
  ~Guard() {
    if (id >= 0) closer(id);
  }
};

}  // namespace

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kU8:
      return "uint8";
    case DType::kU16:
      return "uint16";
    case DType::kI32:
      return "int32";
    case DType::kI64:
      return "int64";
    case DType::kF32:
      return "float32";
    case DType::kF64:
      return "float64";
  }
  return "?";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kU8:
      return 1;
    case DType::kU16:
      return 2;
    case DType::kI32:
      return 4;
    case DType::kI64:
      return 8;
    case DType::kF32:
      return 4;
    case DType::kF64:
      return 8;
  }
  return 1;
}

int64_t ArrayInfo::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

// --- Object -----------------------------------------------------------------
Object::Object(Id id, std::string path, std::string file)
    : id_(id), path_(std::move(path)), file_(std::move(file)) {}

namespace {
// Unchecked close for destructors: files and objects close differently.
void close_quietly(hid_t id) {
  if (id < 0) return;
  if (H5Iget_type(id) == H5I_FILE) {
    H5Fclose(id);
  } else {
    H5Oclose(id);
  }
}
}  // namespace

Object::~Object() { close_quietly(id_); }

Object::Object(Object&& other) noexcept
    : id_(other.id_), path_(std::move(other.path_)), file_(std::move(other.file_)) {
  other.id_ = -1;
}

Object& Object::operator=(Object&& other) noexcept {
  if (this != &other) {
    close_quietly(id_);
    id_ = other.id_;
    path_ = std::move(other.path_);
    file_ = std::move(other.file_);
    other.id_ = -1;
  }
  return *this;
}

void Object::close() {
  if (id_ < 0) return;
  hid_t id = id_;
  id_ = -1;
  if (H5Iget_type(id) == H5I_FILE) {
    H5_CHECK(H5Fclose(id), "H5Fclose", file_, path_);
  } else {
    H5_CHECK(H5Oclose(id), "H5Oclose", file_, path_);
  }
}

// --- files ------------------------------------------------------------------
Object create_file(const std::string& filename) {
  silence_hdf5();
  hid_t id = H5_CHECK(H5Fcreate(filename.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                      "H5Fcreate", filename, "/");
  return Object(id, "/", filename);
}

Object open_file(const std::string& filename, bool writable) {
  silence_hdf5();
  FILE* probe = std::fopen(filename.c_str(), "rb");
  if (!probe) {
    SISYPHUS_FAIL(ErrorKind::kIo, "cannot open '" + filename + "': no such file or not readable");
  }
  std::fclose(probe);
  hid_t id = H5Fopen(filename.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) {
    SISYPHUS_FAIL(ErrorKind::kHdf5,
                  "'" + filename + "' is not a readable HDF5 file (corrupt or truncated?)");
  }
  return Object(id, "/", filename);
}

void flush(const Object& file) {
  H5_CHECK(H5Fflush(file.id(), H5F_SCOPE_GLOBAL), "H5Fflush", file.file(), file.path());
}

bool is_hdf5(const std::string& filename) {
  silence_hdf5();
  return H5Fis_hdf5(filename.c_str()) > 0;
}

// --- groups -----------------------------------------------------------------
Object create_group(const Object& loc, const std::string& name) {
  std::string path = child_path(loc, name);
  hid_t id = H5_CHECK(H5Gcreate2(loc.id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                      "H5Gcreate2", loc.file(), path);
  return Object(id, path, loc.file());
}

Object open_group(const Object& loc, const std::string& name) {
  std::string path = child_path(loc, name);
  if (!exists(loc, name)) {
    SISYPHUS_FAIL(ErrorKind::kHdf5, "group '" + path + "' is missing in " + loc.file());
  }
  hid_t id = H5_CHECK(H5Gopen2(loc.id(), name.c_str(), H5P_DEFAULT), "H5Gopen2", loc.file(), path);
  return Object(id, path, loc.file());
}

bool exists(const Object& loc, const std::string& name) {
  // H5Lexists only looks at the last component; walk the path one link at a time.
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    std::string prefix = name.substr(0, slash == std::string::npos ? name.size() : slash);
    htri_t r = H5Lexists(loc.id(), prefix.c_str(), H5P_DEFAULT);
    if (r <= 0) return false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return true;
}

std::vector<std::string> list(const Object& group) {
  H5G_info_t info;
  H5_CHECK(H5Gget_info(group.id(), &info), "H5Gget_info", group.file(), group.path());
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t len = H5_CHECK(
        H5Lget_name_by_idx(group.id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT),
        "H5Lget_name_by_idx", group.file(), group.path());
    std::string name(static_cast<size_t>(len) + 1, '\0');
    H5_CHECK(H5Lget_name_by_idx(group.id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(),
                                name.size(), H5P_DEFAULT),
             "H5Lget_name_by_idx", group.file(), group.path());
    name.resize(static_cast<size_t>(len));
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// --- datasets ---------------------------------------------------------------
void write_array(const Object& loc, const std::string& name, DType dtype,
                 const std::vector<int64_t>& shape, const void* data, int64_t chunk_rows) {
  std::string path = child_path(loc, name);
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  hid_t space = dims.empty()
                    ? H5Screate(H5S_SCALAR)
                    : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  H5_CHECK(space, "H5Screate_simple", loc.file(), path);
  Guard space_guard{space, H5Sclose};

  hid_t dcpl = H5_CHECK(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate", loc.file(), path);
  Guard dcpl_guard{dcpl, H5Pclose};
  if (chunk_rows > 0 && !dims.empty() && dims[0] > 0) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = std::min<hsize_t>(dims[0], static_cast<hsize_t>(chunk_rows));
    H5_CHECK(H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()), "H5Pset_chunk",
             loc.file(), path);
    H5_CHECK(H5Pset_deflate(dcpl, 4), "H5Pset_deflate", loc.file(), path);
  }
  hid_t dset = H5_CHECK(
      H5Dcreate2(loc.id(), name.c_str(), file_type(dtype), space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
      "H5Dcreate2", loc.file(), path);
  Guard dset_guard{dset, H5Dclose};
  int64_t n = 1;
  for (auto d : shape) n *= d;
  if (n > 0) {
    H5_CHECK(H5Dwrite(dset, native_type(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "H5Dwrite",
             loc.file(), path);
  }
}

namespace {

// A damaged or hostile file can claim any shape for a dataset (a few bytes
// of header describe 2^60 values): refuse a shape that the bytes stored for it
// cannot hold, before any caller allocates memory for it. Data that was written
// (by us, h5py or h5dump) is always stored; compressed data at most ~1000x
// smaller (deflate's limit), so those may claim 2048x their stored bytes.
void check_stored(hid_t dset, const std::vector<hsize_t>& dims, size_t type_size,
                  const std::string& file, const std::string& path) {
  constexpr uint64_t kMaxBytes = uint64_t(1) << 50;
  uint64_t bytes = type_size;
  for (hsize_t d : dims) {
    if (d != 0 && bytes > kMaxBytes / d) {
      SISYPHUS_FAIL(ErrorKind::kHdf5, "dataset '" + path + "' in " + file +
                                          " claims an impossible shape (over 2^50 bytes): the "
                                          "file is damaged");
    }
    bytes *= d;
  }
  if (bytes == 0) return;
  const uint64_t stored = H5Dget_storage_size(dset);  // 0 for no data, or on an error
  hid_t dcpl = H5_CHECK(H5Dget_create_plist(dset), "H5Dget_create_plist", file, path);
  Guard dcpl_guard{dcpl, H5Pclose};
  const int filters = H5_CHECK(H5Pget_nfilters(dcpl), "H5Pget_nfilters", file, path);
  const uint64_t ratio = filters > 0 ? 2048 : 1;
  if (stored < (bytes + ratio - 1) / ratio) {
    SISYPHUS_FAIL(ErrorKind::kHdf5, "dataset '" + path + "' in " + file + " claims " +
                                        std::to_string(bytes) + " bytes of data but stores " +
                                        std::to_string(stored) + ": the file is damaged");
  }
}

}  // namespace

ArrayInfo array_info(const Object& loc, const std::string& name) {
  std::string path = child_path(loc, name);
  if (!exists(loc, name)) {
    SISYPHUS_FAIL(ErrorKind::kHdf5, "dataset '" + path + "' is missing in " + loc.file());
  }
  hid_t dset =
      H5_CHECK(H5Dopen2(loc.id(), name.c_str(), H5P_DEFAULT), "H5Dopen2", loc.file(), path);
  Guard dset_guard{dset, H5Dclose};
  hid_t space = H5_CHECK(H5Dget_space(dset), "H5Dget_space", loc.file(), path);
  Guard space_guard{space, H5Sclose};
  int rank =
      H5_CHECK(H5Sget_simple_extent_ndims(space), "H5Sget_simple_extent_ndims", loc.file(), path);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) {
    H5_CHECK(H5Sget_simple_extent_dims(space, dims.data(), nullptr), "H5Sget_simple_extent_dims",
             loc.file(), path);
  }
  hid_t type = H5_CHECK(H5Dget_type(dset), "H5Dget_type", loc.file(), path);
  Guard type_guard{type, H5Tclose};
  ArrayInfo info;
  H5T_class_t cls = H5Tget_class(type);
  size_t size = H5Tget_size(type);
  if (cls == H5T_FLOAT) {
    info.dtype = size == 4 ? DType::kF32 : DType::kF64;
  } else if (cls == H5T_INTEGER) {
    bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    if (size == 1)
      info.dtype = DType::kU8;
    else if (size == 2)
      info.dtype = DType::kU16;
    else if (size == 4)
      info.dtype = is_signed ? DType::kI32 : DType::kI64;
    else
      info.dtype = DType::kI64;
  } else {
    SISYPHUS_FAIL(ErrorKind::kHdf5, "dataset '" + path + "' in " + loc.file() + " is not numeric");
  }
  check_stored(dset, dims, size, loc.file(), path);
  info.shape.assign(dims.begin(), dims.end());
  return info;
}

void read_array(const Object& loc, const std::string& name, DType dtype, void* out, int64_t count) {
  std::string path = child_path(loc, name);
  ArrayInfo info = array_info(loc, name);
  if (info.numel() != count) {
    SISYPHUS_FAIL(ErrorKind::kHdf5, "dataset '" + path + "' in " + loc.file() + " holds " +
                                        std::to_string(info.numel()) + " values, expected " +
                                        std::to_string(count));
  }
  hid_t dset =
      H5_CHECK(H5Dopen2(loc.id(), name.c_str(), H5P_DEFAULT), "H5Dopen2", loc.file(), path);
  Guard dset_guard{dset, H5Dclose};
  if (count > 0) {
    H5_CHECK(H5Dread(dset, native_type(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, out), "H5Dread",
             loc.file(), path);
  }
}

// --- tables -----------------------------------------------------------------
namespace {

// A variable-length UTF-8 string type; the caller closes it.
hid_t vlen_string_type(const std::string& file, const std::string& what) {
  hid_t type = H5_CHECK(H5Tcopy(H5T_C_S1), "H5Tcopy", file, what);
  if (H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0) {
    H5Tclose(type);
    h5_fail("H5Tset_size/H5Tset_cset", file, what, __FILE__, __LINE__);
  }
  return type;
}

// Copies strings HDF5 allocated for a variable-length read, and frees them.
std::vector<std::string> take_strings(const std::vector<char*>& ptrs) {
  std::vector<std::string> out;
  for (char* p : ptrs) {
    out.emplace_back(p ? p : "");
    if (p) H5free_memory(p);
  }
  return out;
}

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
void append_rows_of(const Object& loc, const std::string& name, hid_t mem, const void* data,
                    int64_t rows) {
  std::string path = child_path(loc, name);
  hid_t dset =
      H5_CHECK(H5Dopen2(loc.id(), name.c_str(), H5P_DEFAULT), "H5Dopen2", loc.file(), path);
  Guard dset_guard{dset, H5Dclose};
  std::vector<hsize_t> dims = dataset_dims(dset, loc.file(), path);
  const int rank = static_cast<int>(dims.size());
  std::vector<hsize_t> start(dims.size(), 0), count = dims;
  start[0] = dims[0];
  count[0] = static_cast<hsize_t>(rows);
  dims[0] += static_cast<hsize_t>(rows);
  H5_CHECK(H5Dset_extent(dset, dims.data()), "H5Dset_extent", loc.file(), path);
  hid_t file_space = H5_CHECK(H5Dget_space(dset), "H5Dget_space", loc.file(), path);
  Guard file_space_guard{file_space, H5Sclose};
  H5_CHECK(
      H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
      "H5Sselect_hyperslab", loc.file(), path);
  hid_t mem_space =
      H5_CHECK(H5Screate_simple(rank, count.data(), nullptr), "H5Screate_simple", loc.file(), path);
  Guard mem_space_guard{mem_space, H5Sclose};
  H5_CHECK(H5Dwrite(dset, mem, mem_space, file_space, H5P_DEFAULT, data), "H5Dwrite", loc.file(),
           path);
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
  if (!exists(loc, name))
    SISYPHUS_FAIL(ErrorKind::kHdf5, "dataset '" + path + "' is missing in " + loc.file());
  hid_t dset =
      H5_CHECK(H5Dopen2(loc.id(), name.c_str(), H5P_DEFAULT), "H5Dopen2", loc.file(), path);
  Guard dset_guard{dset, H5Dclose};
  hid_t space = H5_CHECK(H5Dget_space(dset), "H5Dget_space", loc.file(), path);
  Guard space_guard{space, H5Sclose};
  hssize_t n = H5_CHECK(H5Sget_simple_extent_npoints(space), "H5Sget_simple_extent_npoints",
                        loc.file(), path);
  {
    hid_t stored_type = H5_CHECK(H5Dget_type(dset), "H5Dget_type", loc.file(), path);
    Guard stored_type_guard{stored_type, H5Tclose};
    check_stored(dset, {static_cast<hsize_t>(n)}, H5Tget_size(stored_type), loc.file(), path);
  }
  hid_t type = vlen_string_type(loc.file(), path);
  Guard type_guard{type, H5Tclose};
  std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
  if (n > 0)
    H5_CHECK(H5Dread(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), "H5Dread", loc.file(),
             path);
  return take_strings(ptrs);
}

// --- attributes -------------------------------------------------------------
namespace {

void write_attr_1d(const Object& obj, const std::string& name, hid_t type, hsize_t n,
                   const void* data) {
  std::string what = obj.path() + "@" + name;
  if (H5Aexists(obj.id(), name.c_str()) > 0)
    H5_CHECK(H5Adelete(obj.id(), name.c_str()), "H5Adelete", obj.file(), what);
  hid_t space = H5_CHECK(H5Screate_simple(1, &n, nullptr), "H5Screate_simple", obj.file(), what);
  Guard space_guard{space, H5Sclose};
  hid_t attr = H5_CHECK(H5Acreate2(obj.id(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                        "H5Acreate2", obj.file(), what);
  Guard attr_guard{attr, H5Aclose};
  if (n > 0) H5_CHECK(H5Awrite(attr, type, data), "H5Awrite", obj.file(), what);
}

void write_attr(const Object& obj, const std::string& name, hid_t type, const void* value) {
  std::string what = obj.path() + "@" + name;
  if (H5_CHECK(H5Aexists(obj.id(), name.c_str()), "H5Aexists", obj.file(), what) > 0) {
    // A scalar of the same type is overwritten in place: one object-header
    // change, so a kill around the next flush leaves the old or the new value,
    // never no attribute (the trace's committed-records count relies on it).
    hid_t old = H5_CHECK(H5Aopen(obj.id(), name.c_str(), H5P_DEFAULT), "H5Aopen", obj.file(), what);
    Guard old_guard{old, H5Aclose};
    hid_t old_type = H5_CHECK(H5Aget_type(old), "H5Aget_type", obj.file(), what);
    Guard old_type_guard{old_type, H5Tclose};
    hid_t old_space = H5_CHECK(H5Aget_space(old), "H5Aget_space", obj.file(), what);
    Guard old_space_guard{old_space, H5Sclose};
    const H5S_class_t shape = H5Sget_simple_extent_type(old_space);
    if (H5_CHECK(H5Tequal(old_type, type), "H5Tequal", obj.file(), what) > 0 &&
        shape == H5S_SCALAR) {
      H5_CHECK(H5Awrite(old, type, value), "H5Awrite", obj.file(), what);
      return;
    }
    H5_CHECK(H5Adelete(obj.id(), name.c_str()), "H5Adelete", obj.file(), what);
  }
  hid_t space = H5_CHECK(H5Screate(H5S_SCALAR), "H5Screate", obj.file(), what);
  Guard space_guard{space, H5Sclose};
  hid_t attr = H5_CHECK(H5Acreate2(obj.id(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                        "H5Acreate2", obj.file(), what);
  Guard attr_guard{attr, H5Aclose};
  H5_CHECK(H5Awrite(attr, type, value), "H5Awrite", obj.file(), what);
}

hid_t open_attr(const Object& obj, const std::string& name) {
  std::string what = obj.path() + "@" + name;
  if (H5Aexists(obj.id(), name.c_str()) <= 0) {
    SISYPHUS_FAIL(ErrorKind::kHdf5, "attribute '" + what + "' is missing in " + obj.file());
  }
  return H5_CHECK(H5Aopen(obj.id(), name.c_str(), H5P_DEFAULT), "H5Aopen", obj.file(), what);
}

}  // namespace

void set_attr(const Object& obj, const std::string& name, const std::string& value) {
  hid_t type = vlen_string_type(obj.file(), obj.path() + "@" + name);
  Guard type_guard{type, H5Tclose};
  const char* ptr = value.c_str();
  write_attr(obj, name, type, &ptr);
}

void set_attr(const Object& obj, const std::string& name, int64_t value) {
  write_attr(obj, name, H5T_NATIVE_INT64, &value);
}

void set_attr(const Object& obj, const std::string& name, double value) {
  write_attr(obj, name, H5T_NATIVE_DOUBLE, &value);
}

void set_attr(const Object& obj, const std::string& name, const std::vector<std::string>& values) {
  hid_t type = vlen_string_type(obj.file(), obj.path() + "@" + name);
  Guard type_guard{type, H5Tclose};
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  write_attr_1d(obj, name, type, ptrs.size(), ptrs.data());
}

void set_attr(const Object& obj, const std::string& name, const std::vector<double>& values) {
  write_attr_1d(obj, name, H5T_NATIVE_DOUBLE, values.size(), values.data());
}

std::vector<std::string> attr_strings(const Object& obj, const std::string& name) {
  std::string what = obj.path() + "@" + name;
  hid_t attr = open_attr(obj, name);
  Guard attr_guard{attr, H5Aclose};
  hid_t space = H5_CHECK(H5Aget_space(attr), "H5Aget_space", obj.file(), what);
  Guard space_guard{space, H5Sclose};
  hssize_t n = H5_CHECK(H5Sget_simple_extent_npoints(space), "H5Sget_simple_extent_npoints",
                        obj.file(), what);
  hid_t type = vlen_string_type(obj.file(), what);
  Guard type_guard{type, H5Tclose};
  std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
  if (n > 0) H5_CHECK(H5Aread(attr, type, ptrs.data()), "H5Aread", obj.file(), what);
  return take_strings(ptrs);
}

bool has_attr(const Object& obj, const std::string& name) {
  return H5Aexists(obj.id(), name.c_str()) > 0;
}

std::string attr_string(const Object& obj, const std::string& name) {
  std::string what = obj.path() + "@" + name;
  hid_t attr = open_attr(obj, name);
  Guard attr_guard{attr, H5Aclose};
  hid_t type = H5_CHECK(H5Aget_type(attr), "H5Aget_type", obj.file(), what);
  Guard type_guard{type, H5Tclose};
  if (H5Tget_class(type) != H5T_STRING) {
    SISYPHUS_FAIL(ErrorKind::kHdf5,
                  "attribute '" + what + "' in " + obj.file() + " is not a string");
  }
  if (H5Tis_variable_str(type) > 0) {
    hid_t mem = H5_CHECK(H5Tcopy(H5T_C_S1), "H5Tcopy", obj.file(), what);
    Guard mem_guard{mem, H5Tclose};
    H5_CHECK(H5Tset_size(mem, H5T_VARIABLE), "H5Tset_size", obj.file(), what);
    H5_CHECK(H5Tset_cset(mem, H5Tget_cset(type)), "H5Tset_cset", obj.file(), what);
    char* ptr = nullptr;
    H5_CHECK(H5Aread(attr, mem, &ptr), "H5Aread", obj.file(), what);
    std::string out = ptr ? ptr : "";
    if (ptr) H5free_memory(ptr);
    return out;
  }
  size_t size = H5Tget_size(type);
  std::string out(size, '\0');
  H5_CHECK(H5Aread(attr, type, out.data()), "H5Aread", obj.file(), what);
  out.resize(out.find('\0') == std::string::npos ? size : out.find('\0'));
  return out;
}

namespace {
template <class T>
T read_scalar_attr(const Object& obj, const std::string& name, hid_t mem_type) {
  hid_t attr = open_attr(obj, name);
  Guard attr_guard{attr, H5Aclose};
  T v{};
  H5_CHECK(H5Aread(attr, mem_type, &v), "H5Aread", obj.file(), obj.path() + "@" + name);
  return v;
}
}  // namespace

int64_t attr_int(const Object& obj, const std::string& name) {
  return read_scalar_attr<int64_t>(obj, name, H5T_NATIVE_INT64);
}

double attr_double(const Object& obj, const std::string& name) {
  return read_scalar_attr<double>(obj, name, H5T_NATIVE_DOUBLE);
}

}  // namespace sisyphus::h5
