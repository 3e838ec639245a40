// One process per run folder (core/run_lock.h): a second lock on a held
// folder fails at once naming the holder; the kernel releases a dead
// holder's lock (kill -9), so nothing is stale.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "core/error.h"
#include "core/run_lock.h"
#include "support/fixtures.h"

using namespace sisyphus;

TEST(RunLock, SecondHolderStopsNamingTheFirst) {
  fixtures::TempDir dir;
  const std::string folder = dir.file("runs/r1");  // made by the lock
  EXPECT_FALSE(RunLock::holder(folder).has_value());
  {
    RunLock first(folder, "r1");
    const auto who = RunLock::holder(folder);
    ASSERT_TRUE(who.has_value());
    EXPECT_NE(who->find("process " + std::to_string(getpid()) + " on "), std::string::npos) << *who;
    try {
      RunLock second(folder, "r1");
      FAIL() << "a second lock on a held run";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kConfig);
      const std::string what = e.what();
      EXPECT_NE(what.find("run 'r1' (" + folder + ") is in use by process " +
                          std::to_string(getpid()) + " on "),
                std::string::npos)
          << what;
      EXPECT_NE(what.find("another --run"), std::string::npos) << what;
    }
  }
  EXPECT_FALSE(RunLock::holder(folder).has_value());  // released with its holder
  RunLock again(folder, "r1");
}

// A holder killed by SIGKILL leaves the file but no lock.
TEST(RunLock, KilledHolderLeavesNothingStale) {
  fixtures::TempDir dir;
  const std::string folder = dir.path();
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    RunLock lock(folder, "r");
    const char ok = 1;
    if (write(ready[1], &ok, 1) != 1) _exit(2);
    pause();  // until killed
    _exit(0);
  }
  close(ready[1]);
  char ok = 0;
  ASSERT_EQ(read(ready[0], &ok, 1), 1);  // the child holds the lock now
  close(ready[0]);
  const auto who = RunLock::holder(folder);
  ASSERT_TRUE(who.has_value());
  EXPECT_NE(who->find("process " + std::to_string(child)), std::string::npos) << *who;
  EXPECT_THROW(RunLock(folder, "r"), Error);
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);  // the kernel has released it when this returns
  EXPECT_FALSE(RunLock::holder(folder).has_value());
  RunLock mine(folder, "r");
}
