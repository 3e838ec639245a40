// malloc tuning: applied by default, and the user's environment wins.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "core/alloc.h"

using namespace sisyphus;

TEST(Alloc, TunesByDefaultAndYieldsToTheEnvironment) {
  unsetenv("SISYPHUS_MALLOC");
  unsetenv("MALLOC_MMAP_THRESHOLD_");
  unsetenv("MALLOC_TRIM_THRESHOLD_");
  std::string tuned = tune_malloc();
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // A sanitizer's allocator replaces glibc's and refuses mallopt: said, not hidden.
  EXPECT_NE(tuned.find("refused"), std::string::npos) << tuned;
#else
  EXPECT_EQ(tuned.find("refused"), std::string::npos) << tuned;
#endif
  EXPECT_NE(tuned.find("32 MiB"), std::string::npos) << tuned;
  setenv("SISYPHUS_MALLOC", "system", 1);
  EXPECT_NE(tune_malloc().find("glibc defaults"), std::string::npos);
  unsetenv("SISYPHUS_MALLOC");
  setenv("MALLOC_TRIM_THRESHOLD_", "0", 1);
  EXPECT_NE(tune_malloc().find("environment"), std::string::npos);
  unsetenv("MALLOC_TRIM_THRESHOLD_");
}
