// Thin RAII layer over the HDF5 C API: files, groups, whole-array datasets and
// scalar/string attributes. Every HDF5 call is checked; a failure throws
// Error(kHdf5) naming the call, the file and the object.
//
// Layout conventions used by sisyphus files (checkpoints, packed data sets):
// arrays are stored contiguously (or chunked+deflated when asked) with their
// natural C-order shape; strings are variable-length UTF-8 attributes, which
// h5py returns as `str`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sisyphus::h5 {

using Id = int64_t;  // hid_t, without pulling hdf5.h into every includer

enum class DType { kU8, kU16, kI32, kI64, kF32, kF64 };
const char* dtype_name(DType t);
size_t dtype_size(DType t);

// An open HDF5 object (file, group or dataset); closes itself.
class Object {
 public:
  Object() = default;
  Object(Id id, std::string path, std::string file);
  ~Object();
  Object(Object&& other) noexcept;
  Object& operator=(Object&& other) noexcept;
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;

  Id id() const { return id_; }
  const std::string& path() const { return path_; }  // object path inside the file
  const std::string& file() const { return file_; }  // file name, for messages
  bool valid() const { return id_ >= 0; }
  void close();  // checked close; the destructor closes unchecked

 private:
  Id id_ = -1;
  std::string path_;
  std::string file_;
};

struct ArrayInfo {
  DType dtype;
  std::vector<int64_t> shape;
  int64_t numel() const;
};

// --- files ------------------------------------------------------------------
// Truncates. swmr_format: HDF5's latest file format, which single-writer/
// multiple-reader access needs (read by HDF5 1.10 and later: every h5py wheel).
Object create_file(const std::string& filename, bool swmr_format = false);
Object open_file(const std::string& filename, bool writable = false);
// Read-only, while another process may be appending to it in SWMR mode (and
// after such a writer was killed); any HDF5 file opens this way.
Object open_file_swmr_read(const std::string& filename);
// From here on, readers in other processes see the file consistently as of
// each flush (open_file_swmr_read; h5py: swmr=True). The file must have been
// created with swmr_format; no object may be created and no attribute added
// while it lasts: tables may grow, existing scalar attributes be rewritten.
void start_swmr_write(const Object& file);
void flush(const Object& file);
bool is_hdf5(const std::string& filename);

// --- groups -----------------------------------------------------------------
Object create_group(const Object& loc, const std::string& name);
Object open_group(const Object& loc, const std::string& name);
bool exists(const Object& loc, const std::string& name);
std::vector<std::string> list(const Object& group);  // child names, sorted

// --- datasets ---------------------------------------------------------------
// chunk_rows > 0 stores the array chunked along dim 0 and deflate-compressed.
void write_array(const Object& loc, const std::string& name, DType dtype,
                 const std::vector<int64_t>& shape, const void* data, int64_t chunk_rows = 0);
ArrayInfo array_info(const Object& loc, const std::string& name);
// Reads the whole dataset, converted to `dtype`; `count` must equal its numel.
void read_array(const Object& loc, const std::string& name, DType dtype, void* out, int64_t count);

// --- tables: datasets that grow along dim 0 (chunked, unlimited) -------------
// A table has shape [rows, inner...]; append_rows adds `rows` rows of
// C-ordered data. String tables hold one variable-length UTF-8 string per
// row (h5py reads them as bytes; .asstr() gives str).
void create_table(const Object& loc, const std::string& name, DType dtype,
                  const std::vector<int64_t>& inner, int64_t chunk_rows = 64);
void create_string_table(const Object& loc, const std::string& name, int64_t chunk_rows = 64);
void append_rows(const Object& loc, const std::string& name, DType dtype, const void* data,
                 int64_t rows);
void append_strings(const Object& loc, const std::string& name,
                    const std::vector<std::string>& values);
std::vector<std::string> read_strings(const Object& loc, const std::string& name);
// The first `rows` rows of a table, converted to `dtype` (a writer may be
// appending past them), each of `row_size` values; Error(kHdf5) when it has
// fewer rows or rows of another size (out holds rows * row_size values).
void read_rows(const Object& loc, const std::string& name, DType dtype, void* out, int64_t rows,
               int64_t row_size);
std::vector<std::string> read_strings(const Object& loc, const std::string& name, int64_t rows);
// Rows of a table (numeric or string): its first dimension.
int64_t table_rows(const Object& loc, const std::string& name);
// Shrinks a table to its first `rows` rows (no more than it has).
void truncate_rows(const Object& loc, const std::string& name, int64_t rows);

// --- attributes (on a file, group or dataset) --------------------------------
void set_attr(const Object& obj, const std::string& name, const std::string& value);
void set_attr(const Object& obj, const std::string& name, int64_t value);
void set_attr(const Object& obj, const std::string& name, double value);
// 1-D attributes (h5py: an array of str / of float)
void set_attr(const Object& obj, const std::string& name, const std::vector<std::string>& values);
void set_attr(const Object& obj, const std::string& name, const std::vector<double>& values);
std::vector<std::string> attr_strings(const Object& obj, const std::string& name);
bool has_attr(const Object& obj, const std::string& name);
std::string attr_string(const Object& obj, const std::string& name);
int64_t attr_int(const Object& obj, const std::string& name);
double attr_double(const Object& obj, const std::string& name);

}  // namespace sisyphus::h5
