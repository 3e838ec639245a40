#include "core/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "core/error.h"
#include "core/fs.h"

namespace sisyphus {
namespace {

std::string lock_path(const std::string& folder) { return folder + "/.lock"; }

// What the holder wrote, as "process P on H since T".
std::string describe(int fd) {
  char buf[512] = {};
  const ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  std::string text = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  auto field = [&](const std::string& key) {
    const auto at = text.find(key + "=");
    if (at == std::string::npos) return std::string("?");
    const auto from = at + key.size() + 1;
    return text.substr(from, text.find_first_of(" \n", from) - from);
  };
  return "process " + field("pid") + " on " + field("host") + " since " + field("started");
}

int open_lock_file(const std::string& folder) {
  const std::string path = lock_path(folder);
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  SISYPHUS_CHECK(fd >= 0, ErrorKind::kIo,
                 "open('" + path + "') failed: " + std::strerror(errno) +
                     " (HINT: is the run folder writable?)");
  return fd;
}

}  // namespace

RunLock::RunLock(const std::string& folder, const std::string& run) {
  fs::make_dirs(folder);
  fd_ = open_lock_file(folder);
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string who = err == EWOULDBLOCK ? describe(fd_) : "";
    close(fd_);
    fd_ = -1;
    SISYPHUS_CHECK(err == EWOULDBLOCK, ErrorKind::kIo,
                   "flock('" + lock_path(folder) + "') failed: " + std::strerror(err));
    SISYPHUS_FAIL(ErrorKind::kConfig,
                  "run '" + run + "' (" + folder + ") is in use by " + who +
                      "; one process per run: wait for it to end (or stop it), or use another "
                      "--run");
  }
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "?");
  char when[32] = {};
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &utc);
  const std::string text =
      "pid=" + std::to_string(getpid()) + " host=" + host + " started=" + when + "\n";
  const bool written = ftruncate(fd_, 0) == 0 && pwrite(fd_, text.data(), text.size(), 0) ==
                                                     static_cast<ssize_t>(text.size());
  if (!written) {
    const int err = errno;
    close(fd_);  // releases the lock
    fd_ = -1;
    SISYPHUS_FAIL(ErrorKind::kIo,
                  "writing '" + lock_path(folder) + "' failed: " + std::strerror(err));
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) close(fd_);  // the kernel drops the flock with the last descriptor
}

std::optional<std::string> RunLock::holder(const std::string& folder) {
  const std::string path = lock_path(folder);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;  // never locked
  std::optional<std::string> who;
  if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) who = describe(fd);
  } else {
    flock(fd, LOCK_UN);  // a probe: released at once (close would release it too)
  }
  close(fd);
  return who;
}

}  // namespace sisyphus
