// Attributes on files, groups and datasets (core/h5.h).
#include <hdf5.h>

#include <algorithm>

#include "core/error.h"
#include "core/h5.h"
#include "core/h5_detail.h"

namespace sisyphus::h5 {

using namespace detail;

// --- attributes -------------------------------------------------------------
namespace {

void write_attr_1d(const Object& obj, const std::string& name, hid_t type, hsize_t n,
                   const void* data) {
  std::string what = obj.path() + "@" + name;
  if (H5_CHECK(H5Aexists(obj.id(), name.c_str()), "H5Aexists", obj.file(), what) > 0)
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
    if (shape == H5S_NO_CLASS)
      h5_fail("H5Sget_simple_extent_type", obj.file(), what, __FILE__, __LINE__);
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
  if (H5_CHECK(H5Aexists(obj.id(), name.c_str()), "H5Aexists", obj.file(), what) == 0) {
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
  return H5_CHECK(H5Aexists(obj.id(), name.c_str()), "H5Aexists", obj.file(),
                  obj.path() + "@" + name) > 0;
}

std::string attr_string(const Object& obj, const std::string& name) {
  std::string what = obj.path() + "@" + name;
  hid_t attr = open_attr(obj, name);
  Guard attr_guard{attr, H5Aclose};
  hid_t type = H5_CHECK(H5Aget_type(attr), "H5Aget_type", obj.file(), what);
  Guard type_guard{type, H5Tclose};
  const H5T_class_t cls = H5Tget_class(type);
  if (cls == H5T_NO_CLASS) h5_fail("H5Tget_class", obj.file(), what, __FILE__, __LINE__);
  if (cls != H5T_STRING) {
    SISYPHUS_FAIL(ErrorKind::kHdf5,
                  "attribute '" + what + "' in " + obj.file() + " is not a string");
  }
  if (H5_CHECK(H5Tis_variable_str(type), "H5Tis_variable_str", obj.file(), what) > 0) {
    hid_t mem = H5_CHECK(H5Tcopy(H5T_C_S1), "H5Tcopy", obj.file(), what);
    Guard mem_guard{mem, H5Tclose};
    H5_CHECK(H5Tset_size(mem, H5T_VARIABLE), "H5Tset_size", obj.file(), what);
    const H5T_cset_t cset = H5Tget_cset(type);
    if (cset == H5T_CSET_ERROR) h5_fail("H5Tget_cset", obj.file(), what, __FILE__, __LINE__);
    H5_CHECK(H5Tset_cset(mem, cset), "H5Tset_cset", obj.file(), what);
    char* ptr = nullptr;
    H5_CHECK(H5Aread(attr, mem, &ptr), "H5Aread", obj.file(), what);
    std::string out = ptr ? ptr : "";
    if (ptr) H5free_memory(ptr);
    return out;
  }
  const size_t size = H5Tget_size(type);
  if (size == 0) h5_fail("H5Tget_size", obj.file(), what, __FILE__, __LINE__);
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
