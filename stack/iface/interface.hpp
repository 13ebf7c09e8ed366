#pragma once
// stack::interface: the user-space Ethernet/ARP/IPv4/ICMP/IGMP/UDP/TCP stack of ONE port queue, as the
// thin owner that wires its parts together. One interface per RX queue, share-nothing: no locks, no
// atomics, everything on the polling thread.
//
//            poll(now) ─► rx_pipeline ── eth ─► arp / ipv4 (+ reassembler) ─► icmp, igmp, udp, tcp seam
//                             │   │                      │                        │
//                             │   │ replies, ARP         │ queries                │ find socket (+ flow memo)
//                             │   ▼                      ▼                        ▼
//   udp_socket ── udp_host ──►ip_output ◄──────────── igmp_host            socket_table ◄── bind/unbind
//        │         (refs)     route, ARP cache + pending, IPv4+Ethernet in front of L4, commit, loopback
//   tcp_socket / tcp_listener ── tcp_host ──► tcp_lane ──► socket_table's TCP side (4-tuples, listeners),
//                                             ip_output (segments), timer_queue (one timer per connection)
//        ▼
//   frame_releaser: THE rule for lent frames (port frame ─► rx_release, batched; ours ─► pool free)
//        then run_timers (ARP retries, fragment timeouts, IGMP report delays): the one place that
//        knows every timer owner; poll returns when it next needs a poll.
//
// The parts reach each other by reference (no friends); a udp_socket gets them as a udp_host.
// Time is passed in: `now` on the port's clock. Nothing here reads a clock or keeps one.
#include <cstddef>
#include <system_error>

#include "port/port.hpp"
#include "stack/iface/arp_cache.hpp"
#include "stack/iface/frame_releaser.hpp"
#include "stack/iface/igmp_host.hpp"
#include "stack/iface/interface_config.hpp"
#include "stack/iface/ip_output.hpp"
#include "stack/iface/rx_pipeline.hpp"
#include "stack/iface/socket_table.hpp"
#include "stack/iface/time.hpp"
#include "stack/iface/timer_queue.hpp"
#include "stack/socket/tcp_host.hpp"
#include "stack/socket/tcp_lane.hpp"
#include "stack/socket/udp_host.hpp"
#include "stack/wire/ipv4_addr.hpp"

namespace ringlab::stack {

class interface {
 public:
  interface(port::any_port& port, const interface_config& cfg);
  interface(const interface&) = delete;
  interface& operator=(const interface&) = delete;
  // Sockets must be closed or destroyed before their interface.
  ~interface();

  // One turn of the loop: receive and dispatch up to rx_burst frames, run the timers due at `now`,
  // give back what nobody kept. Returns the time of the next timer (never: none), so a caller can
  // sleep until then or until the port's wait_fd turns readable.
  time_ns poll(time_ns now) noexcept;
  time_ns next_deadline() const noexcept;

  // Multicast membership, counted per group; the first join sends a report, the last leave a leave.
  std::error_code join(wire::ipv4_addr group, time_ns now) noexcept { return igmp_.join(group, now); }
  std::error_code leave(wire::ipv4_addr group, time_ns now) noexcept { return igmp_.leave(group, now); }
  bool joined(wire::ipv4_addr group) const noexcept { return igmp_.joined(group); }

  const interface_config& config() const noexcept { return cfg_; }
  const interface_counters& counters() const noexcept { return rx_.counters(); }
  const arp_cache& arp() const noexcept { return out_.arp(); }
  // A neighbour known without asking (`ip neigh add`, mTCP's arp.conf): what a lane other than queue
  // 0 needs, as a NIC's RSS gives every non-IP frame (ARP replies too) to queue 0. Kept as a reachable
  // entry for cfg.arp.reachable_for. False: the table is full of incomplete entries.
  bool add_neighbour(wire::ipv4_addr ip, wire::mac_addr mac, time_ns now) noexcept { return out_.arp().insert(ip, mac, now); }
  std::size_t fragments_in_flight() const noexcept { return rx_.fragments().in_flight(); }
  std::size_t arp_pending() const noexcept { return out_.pending(); }
  port::any_port& port() noexcept { return port_; }

  // Between hold_releases() and the matching flush_releases(), port frames released one by one (a
  // reader done with a datagram) go back in one rx_release at the flush (frame_releaser::hold).
  void hold_releases() noexcept { frames_.hold(); }
  void flush_releases() noexcept { frames_.flush(); }

  // The parts, for sockets (udp_socket takes the host, tcp_socket and tcp_listener the tcp_host) and
  // for the layers above.
  udp_host& host() noexcept { return host_; }
  stack::tcp_host& tcp_host() noexcept { return tcp_host_; }
  // The lane's TCP counters (nstat's names; to_nstat prints them).
  const tcp_lane_counters& tcp_counters() const noexcept { return tcp_.counters(); }
  frame_releaser& frames() noexcept { return frames_; }

 private:
  void run_timers(time_ns now) noexcept;

  port::any_port& port_;
  interface_config cfg_;
  frame_releaser frames_;
  socket_table sockets_;
  timer_queue timers_;   // every timer of this lane; built before the parts that arm timers in it
  // Built first, it only stores its references to out_ and igmp_; it owns the counters, which
  // ip_output and igmp_host then add to through a reference.
  rx_pipeline rx_;
  ip_output out_;
  igmp_host igmp_;
  tcp_lane tcp_;
  udp_host host_;
  stack::tcp_host tcp_host_;
};

}  // namespace ringlab::stack
