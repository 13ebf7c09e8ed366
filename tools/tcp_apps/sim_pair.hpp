#pragma once
// tcp_apps::sim_pair: `--backend sim` for the TCP apps: two simulated hosts in one process, each a
// sim_nic with a bypass lane (io_context + bypass_service + the user-space stack) on its one queue,
// joined by sim_nic's wire (latency, bandwidth, seeded faults per direction). The client runs on
// host A (10.0.0.1), the server on host B (10.0.0.2): the whole TCP path, frames through rings, with
// no privileges and no real clock.
//
//   client sockets ─ lane A ─ [tap] ─ sim_nic A ══ wire a→b (faults) ══► sim_nic B ─ RSS ─ queue q ─ lane q ─ server sockets
//                                              ◄══ wire b→a (faults) ══
//
// Host B is a bypass::tcp_lanes (mTCP's model, asio_bypass/tcp_lanes.hpp) on `server_lanes` RX queues
// of sim_nic B (Toeplitz + RETA over the 4-tuple): lanes.listen() puts a listener on every lane, and a
// client connection is served on the lane RSS gives its 4-tuple. One lane (the default) is the old
// one-queue host. Manual drive: this one thread polls every lane in each round.
//
// run() is sim::event_loop's rule for two NICs (as tests/netsim/tcp_hosts/two_hosts.cpp): each round
// takes the earliest event (a frame due on either NIC, either stack's next timer), moves both
// clocks there, polls both stacks, then runs the handlers that made ready (the application's turn).
// Same config and seed, same frames at the same virtual times.
#include <asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/tcp_lanes.hpp"
#include "port/fault_line.hpp"
#include "port/pcap_tap.hpp"
#include "sim_nic/sim_nic.hpp"
#include "stack/iface/time.hpp"
#include "stack/wire/ipv4_addr.hpp"

namespace ringlab::tcp_apps {

struct sim_pair_config {
  std::optional<port::fault_spec> faults;   // on both directions of the wire
  std::uint64_t seed = 1;                   // a→b uses seed, b→a seed + 100 (not the same positions)
  std::uint64_t latency_ns = 100'000;
  double bandwidth_bps = 1e9;
  std::string tap;                          // host A's frames, both directions, as tcpdump on A ("": none)
  std::uint16_t server_lanes = 1;           // host B's RX queues, one tcp_lanes lane on each
};

enum class sim_end : std::uint8_t { done, idle, until, stuck };
const char* to_string(sim_end e) noexcept;

class sim_pair {
 public:
  static constexpr wire::ipv4_addr client_ip{10, 0, 0, 1};
  static constexpr wire::ipv4_addr server_ip{10, 0, 0, 2};

  // Throws std::system_error when the tap's file cannot be written.
  explicit sim_pair(const sim_pair_config& cfg);
  sim_pair(const sim_pair&) = delete;
  sim_pair& operator=(const sim_pair&) = delete;
  ~sim_pair();

  asio::io_context& client_ctx() noexcept { return a_->ctx; }
  // Host B's lane 0 (the whole host with one lane); lanes() for the others.
  asio::io_context& server_ctx() noexcept { return b_->context(0); }
  bypass::bypass_service& client() noexcept { return *a_->svc; }
  bypass::bypass_service& server() noexcept { return b_->service(0); }
  bypass::tcp_lanes& lanes() noexcept { return *b_; }
  const sim::sim_nic& server_nic() const noexcept { return nb_; }   // its RSS: which lane a 4-tuple lands on
  stack::time_ns now() const noexcept { return now_; }
  stack::time_ns start_ns() const noexcept { return start_; }

  struct run_stats {
    sim_end ended = sim_end::idle;
    std::uint64_t rounds = 0;
    stack::time_ns elapsed_ns = 0;   // virtual time since the pair started
  };
  // Rounds until done() holds, nothing is left to happen, or virtual time passes `limit_ns` after the
  // start. every_ns > 0: tick(now) at each multiple of every_ns of virtual time (--stats).
  run_stats run(const std::function<bool()>& done, stack::time_ns limit_ns, stack::time_ns every_ns = 0,
                const std::function<void(stack::time_ns elapsed)>& tick = {});

  port::fault_counters wire_a_to_b() const { return wire_->counters_a_to_b(); }
  port::fault_counters wire_b_to_a() const { return wire_->counters_b_to_a(); }
  std::uint64_t tap_frames() const;
  // Frames still out of both pools (0 when every frame came home; call when the sockets are gone
  // and after a last run).
  std::uint32_t frames_out();

 private:
  struct lane {
    asio::io_context ctx{1};
    bypass::bypass_service* svc = nullptr;
  };
  using tap = port::erased<port::pcap_tap<port::any_port&>>;

  sim::sim_nic na_, nb_;
  std::unique_ptr<sim::wire> wire_;
  std::unique_ptr<tap> tap_;
  // After the ports: an io_context's services (the stacks) go first.
  std::unique_ptr<lane> a_;
  std::unique_ptr<bypass::tcp_lanes> b_;
  stack::time_ns start_ = 0, now_ = 0;
};

}  // namespace ringlab::tcp_apps
