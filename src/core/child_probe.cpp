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
  // code does): the child gets 10 s plus 1 s per 10 MB of file.
  struct stat st {};
  const double size_mb = ::stat(file.c_str(), &st) == 0 ? st.st_size / 1e6 : 0.0;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(10000 + int64_t(size_mb * 100));
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) {
      SISYPHUS_FAIL(ErrorKind::kIo,
                    "waitpid failed after reading '" + file + "': " + std::strerror(errno));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      SISYPHUS_FAIL(kind, "'" + file +
                              "' is damaged: reading it sent the HDF5 library into an endless "
                              "loop; it cannot be used");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(done == 0 ? 5 : 0));
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
