// read_in_child_first: a reader's crash or endless loop in the child becomes
// one Error naming the file; a finished or refused read lets the caller go on.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "core/child_probe.h"
#include "core/error.h"
#include "support/fixtures.h"

using namespace sisyphus;

namespace {
int parent_reads = 0;  // the child's increments stay in the child
}

TEST(ChildProbe, FinishedOrRefusedReadsReturn) {
  fixtures::TempDir dir;
  fixtures::write_text(dir.file("f"), "x");
  EXPECT_NO_THROW(read_in_child_first(dir.file("f"), ErrorKind::kIo, [] { ++parent_reads; }));
  EXPECT_NO_THROW(read_in_child_first(dir.file("f"), ErrorKind::kIo,
                                      [] { SISYPHUS_FAIL(ErrorKind::kData, "refused"); }));
  EXPECT_EQ(parent_reads, 0);
}

TEST(ChildProbe, CrashIsAnErrorNamingTheFile) {
  fixtures::TempDir dir;
  fixtures::write_text(dir.file("bad.h5"), "x");
  for (int sig : {SIGSEGV, SIGABRT, SIGBUS}) {
    try {
      read_in_child_first(dir.file("bad.h5"), ErrorKind::kCheckpoint, [sig] { std::raise(sig); });
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kCheckpoint);
      EXPECT_NE(std::string(e.what()).find("bad.h5' is damaged"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("signal " + std::to_string(sig)), std::string::npos);
    }
  }
}

TEST(ChildProbe, EndlessLoopIsKilledAfterTheDeadline) {
  fixtures::TempDir dir;
  fixtures::write_text(dir.file("loop.h5"), "x");
  const auto start = std::chrono::steady_clock::now();
  try {
    read_in_child_first(dir.file("loop.h5"), ErrorKind::kIo, [] {
      volatile int spin = 0;
      while (spin == 0) {
      }
    });
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("endless loop"), std::string::npos) << e.what();
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(s, 9.5);
  EXPECT_LT(s, 30);
}

// A child that sleeps (stuck on a lock it inherited through fork, as under
// ASan's allocator) says nothing about the file: it is killed within about
// two seconds and the caller goes on to read the file itself.
TEST(ChildProbe, SleepingChildLetsTheCallerRead) {
  fixtures::TempDir dir;
  fixtures::write_text(dir.file("f.h5"), "x");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_NO_THROW(read_in_child_first(dir.file("f.h5"), ErrorKind::kIo, [] {
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(s, 5);
}
