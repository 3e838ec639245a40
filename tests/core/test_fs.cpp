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
}  // namespace

TEST(Fs, CopyIsExactAndReplacesTheTarget) {
  fixtures::TempDir dir;
  std::string content;
  for (int i = 0; i < 3 * (1 << 20) + 17; ++i) content += static_cast<char>((i * 131) % 251);  // > one buffer
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
  try {
    fs::copy_file_atomic(dir.file("missing.bin"), dir.file("dst.bin"));
    FAIL() << "no error for a missing source";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_NE(std::string(e.what()).find("missing.bin"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_all(dir.file("dst.bin")), "kept");
  { std::ofstream(dir.file("src.bin"), std::ios::binary) << "x"; }
  try {
    fs::copy_file_atomic(dir.file("src.bin"), dir.file("no/such/folder/dst.bin"));
    FAIL() << "no error for an impossible target";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_NE(std::string(e.what()).find("no/such/folder/dst.bin.tmp"), std::string::npos) << e.what();
  }
}
