#include "core/stop_signal.h"

#include <signal.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace sisyphus {
namespace {

volatile sig_atomic_t g_received = 0;  // written by the handler only
volatile sig_atomic_t g_installed = 0;
struct sigaction g_old_usr1, g_old_term;

extern "C" void on_stop_signal(int sig) { g_received = sig; }

void check_sigaction(int rc, const char* call) {
  if (rc != 0)
    SISYPHUS_FAIL(ErrorKind::kIo, std::string(call) + " failed: " + std::strerror(errno));
}

}  // namespace

StopSignal::StopSignal() {
  SISYPHUS_CHECK(g_installed == 0, ErrorKind::kIo, "a StopSignal is already installed");
  g_received = 0;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // blocking calls (MPI, file I/O) go on; the flag is read between steps
  check_sigaction(sigaction(SIGUSR1, &sa, &g_old_usr1), "sigaction(SIGUSR1)");
  check_sigaction(sigaction(SIGTERM, &sa, &g_old_term), "sigaction(SIGTERM)");
  g_installed = 1;
}

StopSignal::~StopSignal() {
  sigaction(SIGUSR1, &g_old_usr1, nullptr);  // best effort in a destructor
  sigaction(SIGTERM, &g_old_term, nullptr);
  g_installed = 0;
}

int StopSignal::received() const { return g_received; }

std::string StopSignal::name() const {
  switch (g_received) {
    case 0:
      return "";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGTERM:
      return "SIGTERM";
    default:
      return "signal " + std::to_string(static_cast<int>(g_received));
  }
}

}  // namespace sisyphus
