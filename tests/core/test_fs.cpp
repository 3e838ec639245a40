// File helpers: atomic copies (stage checkpoints are copies of last.h5) and
// clear errors when a copy cannot be made.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "core/error.h"
#include "core/fs.h"
#include "support/fixtures.h"

using namespace sisyphus;

namespace {
std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The copy fails with Error(kIo) whose message names `needle`.
void expect_io_error(const std::string& src, const std::string& dst, const std::string& needle) {
  try {
    fs::copy_file_atomic(src, dst);
    ADD_FAILURE() << "no error copying " << src << " to " << dst;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}
}  // namespace

TEST(Fs, CopyIsExactAndReplacesTheTarget) {
  fixtures::TempDir dir;
  std::string content;
  for (int i = 0; i < 3 * (1 << 20) + 17; ++i)
    content += static_cast<char>((i * 131) % 251);  // > one buffer
  {
    std::ofstream(dir.file("src.bin"), std::ios::binary) << content;
    std::ofstream(dir.file("dst.bin"), std::ios::binary) << "an older, shorter stage file";
  }
  fs::copy_file_atomic(dir.file("src.bin"), dir.file("dst.bin"));
  EXPECT_EQ(read_all(dir.file("dst.bin")), content);
  EXPECT_FALSE(fs::file_exists(dir.file("dst.bin.tmp")));
  fs::copy_file_atomic(dir.file("src.bin"), dir.file("new.bin"));
  EXPECT_EQ(read_all(dir.file("new.bin")), content);
}

TEST(Fs, CopyErrorsNameTheFileAndKeepTheTarget) {
  fixtures::TempDir dir;
  { std::ofstream(dir.file("dst.bin"), std::ios::binary) << "kept"; }
  expect_io_error(dir.file("missing.bin"), dir.file("dst.bin"), "missing.bin");
  EXPECT_EQ(read_all(dir.file("dst.bin")), "kept");
  { std::ofstream(dir.file("src.bin"), std::ios::binary) << "x"; }
  expect_io_error(dir.file("src.bin"), dir.file("no/such/folder/dst.bin"),
                  "no/such/folder/dst.bin.tmp");
}
