#include "core/h5.h"

#include <hdf5.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "core/h5_detail.h"

namespace sisyphus::h5 {

using namespace detail;

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
  const H5I_type_t kind = H5Iget_type(id);
  if (kind == H5I_BADID) h5_fail("H5Iget_type", file_, path_, __FILE__, __LINE__);
  if (kind == H5I_FILE) {
    H5_CHECK(H5Fclose(id), "H5Fclose", file_, path_);
  } else {
    H5_CHECK(H5Oclose(id), "H5Oclose", file_, path_);
  }
}

// --- files ------------------------------------------------------------------
Object create_file(const std::string& filename, bool swmr_format) {
  silence_hdf5();
  hid_t fapl = H5_CHECK(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate", filename, "/");
  Guard fapl_guard{fapl, H5Pclose};
  if (swmr_format)
    H5_CHECK(H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST),
             "H5Pset_libver_bounds", filename, "/");
  hid_t id = H5_CHECK(H5Fcreate(filename.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), "H5Fcreate",
                      filename, "/");
  return Object(id, "/", filename);
}

namespace {

Object open_with(const std::string& filename, unsigned flags) {
  silence_hdf5();
  FILE* probe = std::fopen(filename.c_str(), "rb");
  if (!probe) {
    SISYPHUS_FAIL(ErrorKind::kIo, "cannot open '" + filename + "': no such file or not readable");
  }
  std::fclose(probe);
  hid_t id = H5Fopen(filename.c_str(), flags, H5P_DEFAULT);
  if (id >= 0) return Object(id, "/", filename);
  if (!(flags & H5F_ACC_SWMR_READ)) {
    // A file a single-writer/multiple-reader writer holds, or held when it was
    // killed, opens for SWMR reading only (its superblock says "open for write").
    hid_t swmr = H5Fopen(filename.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
    if (swmr >= 0) {
      H5Fclose(swmr);
      SISYPHUS_FAIL(ErrorKind::kHdf5,
                    "'" + filename +
                        "' is marked open for writing: a process writes it in SWMR mode, or "
                        "did when it was killed (HINT: read it with SWMR access, e.g. h5py's "
                        "swmr=True or `sisyphus trace`; after a killed writer `h5clear -s " +
                        filename + "` clears the mark)");
    }
  }
  SISYPHUS_FAIL(ErrorKind::kHdf5,
                "'" + filename + "' is not a readable HDF5 file (corrupt or truncated?)");
}

}  // namespace

// H5F_ACC_* are macros that call H5open(): the library must be silenced (and
// its exit-time shutdown declined) before they are evaluated.
Object open_file(const std::string& filename, bool writable) {
  silence_hdf5();
  return open_with(filename, writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY);
}

Object open_file_swmr_read(const std::string& filename) {
  silence_hdf5();
  return open_with(filename, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ);
}

void start_swmr_write(const Object& file) {
  H5_CHECK(H5Fstart_swmr_write(file.id()), "H5Fstart_swmr_write", file.file(), file.path());
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
    // every earlier component exists; a negative answer is an error (one that is not a group)
    const htri_t r =
        H5_CHECK(H5Lexists(loc.id(), prefix.c_str(), H5P_DEFAULT), "H5Lexists", loc.file(), prefix);
    if (r == 0) return false;
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
namespace detail {
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
}  // namespace detail
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

ArrayInfo array_info(const Object& loc, const std::string& name) {
  std::string path = child_path(loc, name);
  hid_t dset = open_dataset(loc, name);
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
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  if (cls == H5T_NO_CLASS || size == 0)
    h5_fail("H5Tget_class/H5Tget_size", loc.file(), path, __FILE__, __LINE__);
  if (cls == H5T_FLOAT) {
    info.dtype = size == 4 ? DType::kF32 : DType::kF64;
  } else if (cls == H5T_INTEGER) {
    const H5T_sign_t sign = H5Tget_sign(type);
    if (sign == H5T_SGN_ERROR) h5_fail("H5Tget_sign", loc.file(), path, __FILE__, __LINE__);
    const bool is_signed = sign == H5T_SGN_2;
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

}  // namespace sisyphus::h5
