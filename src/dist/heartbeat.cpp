#include "dist/heartbeat.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <torch/types.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>

#include "core/error.h"

namespace sisyphus::dist {
namespace {

constexpr int kMaxAddrs = 8;
constexpr int kHostWords = 8;  // 64 bytes of host name
// One rank's row of the exchange: port, address count, addresses, host name, token.
constexpr int kRow = 2 + kMaxAddrs + kHostWords + 1;
constexpr char kMagic[8] = {'S', 'I', 'S', 'Y', 'H', 'B', '1', '\0'};
enum : uint8_t { kBeat = 1, kBye = 2 };

struct Datagram {
  char magic[8];
  uint64_t token;
  int32_t from, to;
  uint8_t kind;
};

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string ip_text(uint32_t addr) {
  char buf[INET_ADDRSTRLEN] = "?";
  in_addr a{};
  a.s_addr = addr;
  if (!inet_ntop(AF_INET, &a, buf, sizeof(buf))) std::snprintf(buf, sizeof(buf), "?");
  return buf;
}

// Every up IPv4 address of this host, loopback last (a peer on another host
// tries the others first; one on this host may only reach loopback).
std::vector<uint32_t> local_addresses() {
  ifaddrs* list = nullptr;
  SISYPHUS_CHECK(getifaddrs(&list) == 0, ErrorKind::kIo,
                 std::string("getifaddrs for the heartbeat failed: ") + std::strerror(errno));
  std::vector<uint32_t> out, loop;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP)) continue;
    const uint32_t a = reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr;
    ((i->ifa_flags & IFF_LOOPBACK) ? loop : out).push_back(a);
  }
  freeifaddrs(list);
  out.insert(out.end(), loop.begin(), loop.end());
  if (out.size() > static_cast<size_t>(kMaxAddrs)) out.resize(kMaxAddrs);
  return out;
}

}  // namespace

Heartbeat::Heartbeat(Communicator& comm, double timeout_s, Lost on_lost)
    : rank_(comm.rank()),
      timeout_s_(timeout_s),
      interval_s_(std::min(1.0, timeout_s / 5)),
      on_lost_(std::move(on_lost)) {
  SISYPHUS_CHECK(timeout_s > 0, ErrorKind::kConfig, "--peer-timeout must be positive");
  fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  SISYPHUS_CHECK(fd_ >= 0, ErrorKind::kIo,
                 std::string("socket() for the heartbeat failed: ") + std::strerror(errno));
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_addr.s_addr = htonl(INADDR_ANY);
  any.sin_port = 0;
  socklen_t len = sizeof(any);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&any), sizeof(any)) != 0 ||
      getsockname(fd_, reinterpret_cast<sockaddr*>(&any), &len) != 0) {
    const std::string why = std::strerror(errno);
    close(fd_);
    SISYPHUS_FAIL(ErrorKind::kIo, "binding the heartbeat's UDP socket failed: " + why);
  }

  // This rank's row, then everyone's.
  const std::vector<uint32_t> addrs = local_addresses();
  torch::Tensor row = torch::zeros({kRow}, torch::kInt64);
  auto* r = row.data_ptr<int64_t>();
  r[0] = any.sin_port;
  r[1] = static_cast<int64_t>(addrs.size());
  for (size_t i = 0; i < addrs.size(); ++i) r[2 + i] = addrs[i];
  char host[kHostWords * 8] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "?");
  std::memcpy(r + 2 + kMaxAddrs, host, sizeof(host));
  r[kRow - 1] = static_cast<int64_t>(std::random_device{}() >> 1);
  const torch::Tensor all = comm.all_gather(row).contiguous();
  const auto* a = all.data_ptr<int64_t>();
  token_ = static_cast<uint64_t>(a[kRow - 1]);  // rank 0's
  const double start = now_s();
  peers_.resize(static_cast<size_t>(comm.size()));
  for (size_t p = 0; p < peers_.size(); ++p) {
    const int64_t* q = a + p * kRow;
    Peer& peer = peers_[p];
    peer.port = static_cast<uint16_t>(q[0]);
    for (int64_t i = 0; i < q[1] && i < kMaxAddrs; ++i)
      peer.addrs.push_back(static_cast<uint32_t>(q[2 + i]));
    char name[kHostWords * 8 + 1] = {};
    std::memcpy(name, q + 2 + kMaxAddrs, kHostWords * 8);
    peer.host = name;
    peer.last_heard = start;
  }
  thread_ = std::thread([this] { run(); });
}

Heartbeat::~Heartbeat() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  for (int i = 0; i < 3; ++i) send_all(kBye);  // datagrams may be lost: three
  close(fd_);
}

void Heartbeat::send_all(uint8_t kind) {
  Datagram d{};
  std::memcpy(d.magic, kMagic, sizeof(kMagic));
  d.token = token_;
  d.from = rank_;
  d.kind = kind;
  const double t = now_s();
  for (size_t p = 0; p < peers_.size(); ++p) {
    Peer& peer = peers_[p];
    if (static_cast<int>(p) == rank_ || peer.gone) continue;
    d.to = static_cast<int32_t>(p);
    // Once the peer is heard from an address, answer there; while it is
    // silent, every address it has.
    const bool fresh = peer.heard_from != 0 && t - peer.last_heard < timeout_s_ / 2;
    const std::vector<uint32_t> to = fresh ? std::vector<uint32_t>{peer.heard_from} : peer.addrs;
    for (uint32_t addr : to) {
      sockaddr_in dst{};
      dst.sin_family = AF_INET;
      dst.sin_addr.s_addr = addr;
      dst.sin_port = peer.port;
      // A datagram that cannot leave (no route, link down) is the silence
      // this watches for: the receiving side notices it. Nothing to do here.
      (void)sendto(fd_, &d, sizeof(d), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&dst),
                   sizeof(dst));
    }
  }
}

void Heartbeat::receive(double wait_s) {
  pollfd pfd{fd_, POLLIN, 0};
  const int ready = poll(&pfd, 1, static_cast<int>(std::max(0.0, wait_s) * 1000));
  if (ready <= 0) return;  // timeout, or EINTR: the loop comes back
  for (;;) {
    Datagram d{};
    sockaddr_in src{};
    socklen_t len = sizeof(src);
    const ssize_t n =
        recvfrom(fd_, &d, sizeof(d), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&src), &len);
    if (n < 0) return;  // EAGAIN: drained (any other error: the next poll tries again)
    if (n != static_cast<ssize_t>(sizeof(d)) || std::memcmp(d.magic, kMagic, sizeof(kMagic)) ||
        d.token != token_ || d.to != rank_ || d.from < 0 ||
        d.from >= static_cast<int32_t>(peers_.size()) || d.from == rank_)
      continue;  // not ours
    Peer& peer = peers_[static_cast<size_t>(d.from)];
    peer.last_heard = now_s();
    peer.heard_from = src.sin_addr.s_addr;
    if (d.kind == kBye) peer.gone = true;
  }
}

void Heartbeat::run() {
  double last_send = -1e9, last_loop = now_s();
  while (!stop_) {
    double t = now_s();
    if (t - last_loop > std::max(timeout_s_ / 2, 3 * interval_s_)) {
      // This thread was not running (a suspended job): the silence it did
      // not watch is not the peers' fault.
      for (Peer& p : peers_) p.last_heard = t;
    }
    last_loop = t;
    if (t - last_send >= interval_s_) {
      send_all(kBeat);
      last_send = t;
    }
    receive(interval_s_ - (now_s() - last_send));
    t = now_s();
    for (size_t p = 0; p < peers_.size(); ++p) {
      const Peer& peer = peers_[p];
      if (static_cast<int>(p) == rank_ || peer.gone || t - peer.last_heard <= timeout_s_) continue;
      char line[512];
      std::snprintf(
          line, sizeof(line),
          "lost rank %zu (host %s, %s): no heartbeat for %.1f s (--peer-timeout %g): it "
          "died, or the network between us is cut",
          p, peer.host.c_str(),
          ip_text(peer.heard_from ? peer.heard_from : (peer.addrs.empty() ? 0 : peer.addrs[0]))
              .c_str(),
          t - peer.last_heard, timeout_s_);
      on_lost_(line);
      return;
    }
  }
}

std::shared_ptr<Heartbeat> watch_peers(Communicator& comm, double timeout_s,
                                       Heartbeat::Lost on_lost) {
  if (comm.size() == 1) return nullptr;  // nobody to lose
  return std::make_shared<Heartbeat>(comm, timeout_s, std::move(on_lost));
}

}  // namespace sisyphus::dist
