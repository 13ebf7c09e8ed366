#pragma once
// bypass::tcp_lanes: TCP on every RX queue of a device, mTCP's per-core model. One LANE per queue:
// its own io_context (lane_threading::one_thread: no lock inside Asio), bypass_service, stack
// (interface, socket table, TCP flows) and thread. Nothing is shared between lanes: no lock, no
// shared flow table, no hand-off; a connection lives and dies on one lane.
//
//   NIC RSS ─► queue 0 ─► lane 0: io_context + bypass_service + stack ─► acceptor ─► on_accept(0, socket)
//           ─► queue 1 ─► lane 1: ...                                 ─► acceptor ─► on_accept(1, socket)
//
//   passive opens  listen() puts an acceptor on EVERY lane (same endpoint); a SYN is taken by the lane
//                  RSS gave it to, and so is every later segment of that 4-tuple.
//   active opens   a socket on lane q (bypass::tcp::socket(lanes.context(q))) connects from a source
//                  port whose RSS hash brings the peer's segments back to queue q (rss_steering, given
//                  in the options; sim: rss_steering::of(nic)). Without a steering (a device whose
//                  queue choice is not a known hash: veth), a connection whose segments reach another
//                  lane is answered there with RST (no socket), as Linux would (README, "TCP on every
//                  lane").
//   ARP            a NIC gives non-IP frames to queue 0: lanes 1.. never see an ARP reply. Neighbours
//                  in the options are entered on every lane at start (static entries, mTCP's arp.conf).
//
// Use:
//   bypass::tcp_lanes lanes(ports, opts);               // one lane_port per queue
//   lanes.listen({addr, 80}, [](std::size_t lane, bypass::tcp::socket s) { ... on lane's thread ... });
//   lanes.for_each_lane([](std::size_t lane, asio::io_context& ctx) { ... per-lane set-up ... });
//   lanes.run();                                        // blocks until lanes.stop() (any thread)
//
// Threading: everything of lane q (its io_context, sockets, counters) is used on lane q's thread once
// start() ran, never from another: post nothing to a lane from outside (the io_context has no lock).
// Before start() and after join(), the constructing thread may use them all. stop() is the one call
// for any thread (an atomic flag each lane reads between handlers).
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/socket_base.hpp>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "asio_bypass/backend.hpp"
#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/rss_steering.hpp"
#include "asio_bypass/tcp_acceptor.hpp"
#include "asio_bypass/tcp_socket.hpp"
#include "port/port.hpp"
#include "stack/iface/interface_config.hpp"
#include "stack/socket/tcp_lane_counters.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"

namespace ringlab::bypass {

// One queue as a lane drives it: the port and, for a device that needs one per queue, its ingest step
// (run on the lane's thread before each poll; empty: the device fills the ring itself, as DMA does).
struct lane_port {
  port::any_port* port = nullptr;
  std::function<std::size_t(stack::time_ns)> ingest;
};

struct neighbour {
  wire::ipv4_addr ip;
  wire::mac_addr mac;
};

struct tcp_lanes_options {
  // The host: the same address and MAC on every lane. tcp_port_ok and tcp_ephemeral_start are set
  // per lane from `rss` and `seed`.
  stack::interface_config iface;
  drive_mode drive = drive_mode::busy_poll;   // manual: no threads, the owner calls poll_all()
  std::function<stack::time_ns()> clock;      // empty: CLOCK_MONOTONIC
  std::optional<rss_steering> rss;            // the device's RSS (active opens return to their lane)
  std::vector<neighbour> neighbours;          // static ARP entries on every lane (see ARP above)
  bool pin = false;                           // lane q's thread on CPU q % CPUs
  std::uint64_t seed = 1;                     // where each lane's ephemeral port search starts
  // The TCP secret on a real device (ISNs, SYN cookies): empty, each lane draws its own from the OS;
  // a number, that one (a repeatable run). A sim device keeps iface.tcp_secret either way.
  std::optional<std::uint64_t> tcp_secret;
};

class tcp_lanes {
 public:
  // The accepted connection, on its lane's thread. Each lane calls its own copy of the function.
  using accept_fn = std::function<void(std::size_t lane, tcp::socket s)>;

  // One lane per port. Throws std::invalid_argument (no port, a null port, more lanes than the
  // steering's queues) or std::system_error (a lane's stack could not attach).
  tcp_lanes(std::vector<lane_port> ports, tcp_lanes_options o);
  // Every queue of `dev`, with its clock and, when `o.rss` is empty, its RSS when known (sim_nic's).
  // The device's ingest step (sim: one step for all queues) runs on lane 0 before its polls.
  tcp_lanes(device& dev, tcp_lanes_options o);
  tcp_lanes(const tcp_lanes&) = delete;
  tcp_lanes& operator=(const tcp_lanes&) = delete;
  ~tcp_lanes();   // stop(), join(); then acceptors, sockets and io_contexts go, lane by lane

  std::size_t size() const noexcept { return lanes_.size(); }
  asio::io_context& context(std::size_t lane) noexcept { return lanes_[lane]->ctx; }
  bypass_service& service(std::size_t lane) noexcept { return *lanes_[lane]->svc; }
  // fn(lane, io_context&) for every lane, on the calling thread: per-lane set-up before start().
  template <class Fn>
  void for_each_lane(Fn&& fn) {
    for (std::size_t q = 0; q < lanes_.size(); ++q) fn(q, lanes_[q]->ctx);
  }

  // An acceptor for `local` on EVERY lane, each accepting in a loop into on_accept(lane, socket).
  // Before start(). Errors: the first lane's open/bind/listen error (then no lane listens).
  std::error_code listen(const asio::ip::tcp::endpoint& local, accept_fn on_accept,
                         int backlog = asio::socket_base::max_listen_connections);
  std::size_t accepted(std::size_t lane) const noexcept { return lanes_[lane]->accepted; }

  void start();           // a thread per lane: its service started, its io_context run until stop()
  void run();             // start(), then join(): returns after stop()
  void stop() noexcept;   // any thread: every lane returns at its next handler boundary
  void join();            // waits for the lane threads (after stop())
  bool stopping() const noexcept { return stop_.load(std::memory_order_acquire); }

  // Manual drive (tests, deterministic): one ingest + poll of every lane, then their ready handlers,
  // on the calling thread. Returns handlers run.
  std::size_t poll_all();

  // Lane q's TCP counters (nstat's names): on lane q's thread, or while no lane thread runs.
  const stack::tcp_lane_counters& tcp_counters(std::size_t lane) const noexcept;
  const stack::interface_counters& iface_counters(std::size_t lane) const noexcept;

 private:
  struct lane {
    explicit lane(std::size_t i) : index(i) {}
    std::size_t index;
    asio::io_context ctx{concurrency_hint(lane_threading::one_thread)};
    bypass_service* svc = nullptr;
    std::vector<std::unique_ptr<tcp::acceptor>> acceptors;   // after ctx: closed before it goes
    std::size_t accepted = 0;
    std::thread thread;
  };
  void accept_next(lane& l, tcp::acceptor& a, const std::shared_ptr<accept_fn>& fn);
  void lane_main(lane& l) noexcept;

  tcp_lanes_options o_;
  std::vector<std::unique_ptr<lane>> lanes_;
  std::atomic<bool> stop_{false};   // (any thread) R1 release in stop(): pairs with A1 in lane_main
  bool started_ = false;            // the owner's thread only
};

// The device's RSS as tcp_lanes can use it: sim_nic's; nullopt for AF_XDP (veth: no hash) and DPDK
// (net_af_xdp: none; a PMD with RSS would give rte_eth_dev_rss_hash_conf_get's key and RETA here).
std::optional<rss_steering> steering_of(device& dev);

}  // namespace ringlab::bypass
