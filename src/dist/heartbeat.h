// Knowing that a peer is gone: a datagram heartbeat between the ranks, beside
// the communicator.
//
// A collective whose peer has died or become unreachable (a cut link, a host
// gone) may never return: MPI over TCP retransmits for many minutes, and the
// collective does not say which peer it waits for. So every rank runs a
// thread that sends a small UDP datagram to every other rank each interval
// and notes when it last heard from each. A peer silent for `timeout_s` is
// lost: `on_lost` is called once with a line naming it (rank, host,
// address); it is expected to end the process. The thread runs whatever the
// main thread is doing (a long step, a checkpoint write, a collective), so a
// busy peer is never taken for a lost one.
//
// The ranks exchange their addresses once through the communicator (every
// up IPv4 interface, loopback included, and the port), then send to every
// address of a peer until one of them answers, and after that to the address
// the peer's datagrams come from. Datagrams carry a job token and the sender's
// and receiver's ranks: one that reaches the wrong socket is ignored. A rank
// that ends normally says goodbye, and its peers stop watching it. When the
// thread itself has been stopped for a while (a suspended job, SIGSTOP), it
// forgives the silence it did not see.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dist/communicator.h"

namespace sisyphus::dist {

class Heartbeat {
 public:
  using Lost = std::function<void(const std::string& why)>;
  // Collective: every rank of `comm` constructs it at the same point.
  Heartbeat(Communicator& comm, double timeout_s, Lost on_lost);
  ~Heartbeat();  // goodbye to every peer, then the thread stops
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

  double interval_s() const { return interval_s_; }

 private:
  struct Peer {
    std::string host;
    std::vector<uint32_t> addrs;  // IPv4, network byte order
    uint16_t port = 0;            // network byte order
    uint32_t heard_from = 0;      // the address its datagrams come from (0: none yet)
    double last_heard = 0;        // seconds on the steady clock
    bool gone = false;            // said goodbye
  };
  void run();
  void send_all(uint8_t kind);
  void receive(double wait_s);

  int rank_ = 0;
  int fd_ = -1;
  uint64_t token_ = 0;
  double timeout_s_ = 0, interval_s_ = 1;
  std::vector<Peer> peers_;  // indexed by rank; this rank's entry unused
  Lost on_lost_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The heartbeat a job needs: one over `comm` when it has other ranks to watch,
// none (null) for a single process. Collective like the constructor.
std::shared_ptr<Heartbeat> watch_peers(Communicator& comm, double timeout_s,
                                       Heartbeat::Lost on_lost);

}  // namespace sisyphus::dist
