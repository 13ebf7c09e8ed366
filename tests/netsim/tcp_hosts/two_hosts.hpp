#pragma once
// two_hosts: two simulated hosts on one virtual clock, each a sim_nic with a stack::interface on its
// one queue, joined by sim_nic's wire (latency, bandwidth, seeded faults per direction). What the
// socket-level tests of tests/netsim/tcp_hosts run on: the whole path, frames through rings, the
// stack's parsing and checksums, ARP, IP output, the sockets, with nothing in between that a real pair
// of machines would not have.
//
//        host A (10.0.0.1)                                              host B (10.0.0.2)
//   sockets ─ interface ─ [pcap tap A] ─ sim_nic A ══ wire a→b (faults) ══► sim_nic B ─ [pcap tap B] ─ interface ─ sockets
//                                                 ◄══ wire b→a (faults) ══
//
// Each tap writes what its host sent and what reached it (both directions, as tcpdump on that host):
// its own segments before the wire's faults, the peer's after them (a lost frame is missing, a
// corrupted one is captured corrupted). tshark's tcp.analysis reads a host's capture as it would
// read a capture taken on a real machine.
//
// The driver is sim::event_loop's rule for two NICs: each round takes the earliest event (a frame
// due on either NIC, either stack's next timer, the application's next turn), moves both NICs' clocks
// there (frames due by then land in the rings), polls both stacks, then gives the application its
// turn. Nothing reads a real clock: the same config and seeds give the same frames at the same times,
// the same capture bytes (the repro property, tested).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "port/pcap_tap.hpp"
#include "port/port.hpp"
#include "sim_nic/sim_nic.hpp"
#include "stack/iface/interface.hpp"
#include "stack/iface/time.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"

namespace ringlab::netsim {

struct two_hosts_config {
  // One direction each; seeds apart so the two directions do not lose the same positions.
  sim::link_config a_to_b{.latency_ns = 100'000, .bandwidth_bps = 1e9, .faults = {}, .seed = 1};
  sim::link_config b_to_a{.latency_ns = 100'000, .bandwidth_bps = 1e9, .faults = {}, .seed = 2};
  std::string pcap_a, pcap_b;          // host captures, both directions ("": none)
  std::uint32_t pool_frames = 4096;    // per NIC
  std::uint32_t ring_size = 2048;      // RX descriptors per NIC
  std::size_t rx_burst = 64;
  // ARP is not what these tests study: entries stay for the run, and resolution keeps asking (a lossy
  // wire can lose three requests in a row, and the stack would then drop what waited on it).
  stack::time_ns arp_reachable_for = 3600 * stack::sec;
  unsigned arp_max_requests = 30;
  // sim's TX checksum offload on both NICs (sim_nic_config::tx_csum_offload): TCP leaves its
  // checksums partial and the NIC finishes them before the capture and the faulty wire.
  bool tx_csum_offload = false;
};

enum class run_end : std::uint8_t {
  done,    // the caller's condition held
  idle,    // no frame in flight, no timer pending, the application asked for no turn
  until,   // the next event is later than the limit
  stuck,   // rounds kept coming at one time with nothing moving (a lane that always says "again now")
};
const char* to_string(run_end e) noexcept;

class two_hosts {
 public:
  static constexpr wire::ipv4_addr a_ip{10, 0, 0, 1};
  static constexpr wire::ipv4_addr b_ip{10, 0, 0, 2};
  static constexpr wire::mac_addr a_mac{0x02, 0, 0, 0, 0, 0x01};
  static constexpr wire::mac_addr b_mac{0x02, 0, 0, 0, 0, 0x02};

  // Throws std::system_error when a capture file cannot be opened (construction is the edge).
  explicit two_hosts(const two_hosts_config& cfg);
  two_hosts(const two_hosts&) = delete;
  two_hosts& operator=(const two_hosts&) = delete;
  ~two_hosts();

  stack::interface& a() noexcept { return ia_; }
  stack::interface& b() noexcept { return ib_; }
  sim::sim_nic& nic_a() noexcept { return na_; }
  sim::sim_nic& nic_b() noexcept { return nb_; }
  const sim::wire& link() const noexcept { return wire_; }
  stack::time_ns now() const noexcept { return now_; }

  // The application's turn, after both stacks polled at `now`: it sends, reads, closes, and returns
  // when it next wants a turn without an event of its own (never: only when a frame or timer comes;
  // <= now: at once, which counts towards `stuck` while nothing else moves).
  using app_fn = std::function<stack::time_ns(stack::time_ns now)>;
  struct run_stats {
    run_end ended = run_end::idle;
    std::uint64_t rounds = 0;
    stack::time_ns end_ns = 0;
  };
  // Rounds until done() holds after a round, nothing is left to happen, or the next event is past
  // `until` (virtual time).
  run_stats run(const app_fn& app, const std::function<bool()>& done, stack::time_ns until = stack::never);

  // Writes both captures out (they are complete once the hosts are destroyed, too).
  void flush_captures();
  // Frames out of each pool once the NICs' ingest caches are given back: zero when every frame the
  // stacks and rings held came home (call when the run is over).
  std::uint32_t frames_out_a();
  std::uint32_t frames_out_b();

 private:
  using tap = port::erased<port::pcap_tap<port::any_port&>>;
  static std::unique_ptr<tap> make_tap(sim::sim_nic& nic, const std::string& path);
  static stack::interface_config host_config(const two_hosts_config& cfg, wire::mac_addr mac, wire::ipv4_addr ip);

  sim::sim_nic na_, nb_;
  sim::wire wire_;
  std::unique_ptr<tap> tap_a_, tap_b_;   // null without a capture
  stack::interface ia_, ib_;
  stack::time_ns now_ = 0;
};

}  // namespace ringlab::netsim
