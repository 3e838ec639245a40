#include "core/child_probe.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <thread>

namespace sisyphus {
namespace {
constexpr int kFinished = 0;
constexpr int kRefused = 3;  // threw Error: the parent's own read says why

struct ChildState {
  bool sleeping = false;  // S or D in /proc/<pid>/stat
  long cpu_ticks = -1;    // user + system time
};

ChildState child_state(pid_t pid) {
  ChildState out;
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (!f) return out;
  char buf[1024] = {0};
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  const char* close = std::strrchr(buf, ')');  // the command name may hold spaces
  if (n == 0 || !close) return out;
  char state = 0;
  unsigned long utime = 0, stime = 0;
  // Fields 3 (state) to 15 (stime); 4-13 are skipped.
  if (std::sscanf(close + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &state, &utime,
                  &stime) == 3) {
    out.sleeping = state == 'S' || state == 'D';
    out.cpu_ticks = static_cast<long>(utime + stime);
  }
  return out;
}

}  // namespace

void read_in_child_first(const std::string& file, ErrorKind kind,
                         const std::function<void()>& read) {
  std::fflush(nullptr);  // nothing buffered is written twice
  const pid_t pid = fork();
  if (pid < 0) {
    SISYPHUS_FAIL(ErrorKind::kIo,
                  "fork failed before reading '" + file + "': " + std::strerror(errno));
  }
  if (pid == 0) {
    // Default actions: a crash ends this child, not through handlers the
    // parent installed (a stop signal's, a fuzzer's).
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM, SIGINT, SIGUSR1})
      ::signal(sig, SIG_DFL);
    int status = kFinished;
    try {
      read();
    } catch (const Error&) {
      status = kRefused;
    }
    _exit(status);
  }
  // A damaged file can also send HDF5 into an endless loop (its global heap
  // code does): a child still busy after 10 s plus 1 s per 10 MB of file is
  // killed and the file refused. A child that sleeps instead (no CPU time for
  // a second) is stuck on a lock another thread of this process held when it
  // forked (ASan's allocator, which, unlike glibc's, is not made safe across
  // fork): that says nothing about the file, so it is killed and the caller
  // reads the file itself, unguarded.
  struct stat st {};
  const double size_mb = ::stat(file.c_str(), &st) == 0 ? st.st_size / 1e6 : 0.0;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::milliseconds(10000 + int64_t(size_mb * 100));
  auto next_look = start + std::chrono::seconds(1);
  long last_ticks = -1;
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) {
      SISYPHUS_FAIL(ErrorKind::kIo,
                    "waitpid failed after reading '" + file + "': " + std::strerror(errno));
    }
    const auto now = std::chrono::steady_clock::now();
    const bool looping = now > deadline;
    bool asleep = false;
    if (now > next_look) {
      const ChildState state = child_state(pid);
      asleep = state.sleeping && state.cpu_ticks == last_ticks;
      last_ticks = state.cpu_ticks;
      next_look = now + std::chrono::seconds(1);
    }
    if (looping || asleep) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (asleep) return;
      SISYPHUS_FAIL(kind, "'" + file +
                              "' is damaged: reading it sent the HDF5 library into an endless "
                              "loop; it cannot be used");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status) && (WEXITSTATUS(status) == kFinished || WEXITSTATUS(status) == kRefused))
    return;
  const std::string how = WIFSIGNALED(status)
                              ? "signal " + std::to_string(WTERMSIG(status))
                              : "exit status " + std::to_string(WEXITSTATUS(status));
  SISYPHUS_FAIL(kind, "'" + file + "' is damaged: reading it crashed the HDF5 library (" + how +
                          "); it cannot be used");
}

}  // namespace sisyphus
