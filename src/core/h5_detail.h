// What the HDF5 wrapper's source files share (core/h5.cpp, h5_table.cpp,
// h5_attr.cpp): the one-line error with its HINT, the check macro that names
// the call, the file and the object, type mappings and a scope guard. Only
// those files include it (it pulls hdf5.h).
#pragma once

#include <hdf5.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "core/h5.h"

namespace sisyphus::h5::detail {

// HDF5 prints its own error stack by default; we report one line instead.
// And no library shutdown at exit: after a write that failed (the disk full)
// HDF5 keeps the file's half-closed handle and crashed closing it again at
// exit, after our error line. Every file is closed by its Object (RAII, also
// when an error unwinds), so there is nothing left for the shutdown to do.
inline void silence_hdf5() {
  static bool done = [] {
    H5dont_atexit();  // before any other call initialises the library
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

[[noreturn]] inline void h5_fail(const char* call, const std::string& file, const std::string& what,
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

inline hid_t native_type(DType t) {
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
inline hid_t file_type(DType t) {
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

inline std::string child_path(const Object& loc, const std::string& name) {
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

// A variable-length UTF-8 string type; the caller closes it.
inline hid_t vlen_string_type(const std::string& file, const std::string& what) {
  hid_t type = H5_CHECK(H5Tcopy(H5T_C_S1), "H5Tcopy", file, what);
  if (H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0) {
    H5Tclose(type);
    h5_fail("H5Tset_size/H5Tset_cset", file, what, __FILE__, __LINE__);
  }
  return type;
}

// Copies strings HDF5 allocated for a variable-length read, and frees them.
inline std::vector<std::string> take_strings(const std::vector<char*>& ptrs) {
  std::vector<std::string> out;
  for (char* p : ptrs) {
    out.emplace_back(p ? p : "");
    if (p) H5free_memory(p);
  }
  return out;
}

// Opens the dataset `name` under `loc`; Error(kHdf5) naming it when it is
// missing. The caller closes it (a Guard with H5Dclose).
inline hid_t open_dataset(const Object& loc, const std::string& name) {
  const std::string path = child_path(loc, name);
  if (!exists(loc, name))
    SISYPHUS_FAIL(ErrorKind::kHdf5, "dataset '" + path + "' is missing in " + loc.file());
  return H5_CHECK(H5Dopen2(loc.id(), name.c_str(), H5P_DEFAULT), "H5Dopen2", loc.file(), path);
}

// A damaged or hostile file can claim any shape for a dataset: refuse a
// shape that the bytes stored for it cannot hold (core/h5.cpp).
void check_stored(hid_t dset, const std::vector<hsize_t>& dims, size_t type_size,
                  const std::string& file, const std::string& path);

}  // namespace sisyphus::h5::detail
