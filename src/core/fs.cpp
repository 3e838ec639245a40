#include "core/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace sisyphus::fs {
namespace {

// Closes a descriptor on every path out of a function.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now, reporting a failure (a write error may only show here).
  bool close() {
    int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0;
  }

 private:
  int fd_;
};

std::string why() { return std::strerror(errno); }

}  // namespace

bool file_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

void make_dirs(const std::string& path) {
  std::string partial;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!partial.empty() && !file_exists(partial) && mkdir(partial.c_str(), 0755) != 0 &&
          !file_exists(partial)) {
        SISYPHUS_FAIL(ErrorKind::kIo, "cannot create folder '" + partial + "'");
      }
    }
    if (i < path.size()) partial += path[i];
  }
}

void sync_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY));
  if (fd.get() < 0)
    SISYPHUS_FAIL(ErrorKind::kIo, "cannot reopen '" + path + "' to sync it: " + why());
  if (::fsync(fd.get()) != 0)
    SISYPHUS_FAIL(ErrorKind::kIo, "fsync of '" + path + "' failed (disk full?): " + why());
}

void rename_over(const std::string& from, const std::string& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0)
    SISYPHUS_FAIL(ErrorKind::kIo, "cannot rename '" + from + "' to '" + to + "': " + why());
}

void copy_file_atomic(const std::string& src, const std::string& dst) {
  const std::string tmp = dst + ".tmp";
  {
    Fd in(::open(src.c_str(), O_RDONLY));
    if (in.get() < 0)
      SISYPHUS_FAIL(ErrorKind::kIo, "cannot open '" + src + "' to copy it: " + why());
    Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
    if (out.get() < 0) SISYPHUS_FAIL(ErrorKind::kIo, "cannot create '" + tmp + "': " + why());
    std::vector<char> buf(1 << 20);
    for (;;) {
      ssize_t n = ::read(in.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) SISYPHUS_FAIL(ErrorKind::kIo, "cannot read '" + src + "': " + why());
      if (n == 0) break;
      for (ssize_t done = 0; done < n;) {
        ssize_t w = ::write(out.get(), buf.data() + done, static_cast<size_t>(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0)
          SISYPHUS_FAIL(ErrorKind::kIo, "cannot write '" + tmp + "' (disk full?): " + why());
        done += w;
      }
    }
    if (::fsync(out.get()) != 0)
      SISYPHUS_FAIL(ErrorKind::kIo, "fsync of '" + tmp + "' failed (disk full?): " + why());
    if (!out.close()) SISYPHUS_FAIL(ErrorKind::kIo, "cannot close '" + tmp + "': " + why());
  }
  rename_over(tmp, dst);
}

void write_text_file(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) SISYPHUS_FAIL(ErrorKind::kIo, "cannot create '" + path + "': " + why());
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed)
    SISYPHUS_FAIL(ErrorKind::kIo, "cannot write '" + path + "' (disk full?): " + why());
}

}  // namespace sisyphus::fs
