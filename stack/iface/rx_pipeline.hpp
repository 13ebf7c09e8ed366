#pragma once
// stack::rx_pipeline: the receive half of one interface, one frame at a time through the layers.
//
//   run_burst(now): rx_burst ─► per frame: UDP fast path, else
//                    eth ─┬─► arp    (answer requests for us, learn, ip_output sends what waited)
//                         └─► ipv4 ──► reassembler (fragments) ─┬─► icmp (echo ─► reply via ip_output)
//                                                               ├─► igmp (queries ─► igmp_host timers)
//                                                               ├─► udp  ─► socket_table ─► socket
//                                                               └─► tcp  ─► tcp_lane (4-tuple, listener, RST)
//                   then the frames nobody kept go back through frame_releaser in one rx_release.
//
// Each header is checked once by a wire:: view and turned into a repr; from there on the pipeline
// works with values. Every drop is counted by trace::drop_reason and traced with the packet id. It owns
// the interface's counters (the other parts add to them through a reference) and the reassembler.
#include <cstddef>
#include <cstdint>
#include <source_location>
#include <span>
#include <vector>

#include "port/port.hpp"
#include "trace/trace.hpp"
#include "stack/iface/timer_queue.hpp"
#include "stack/iface/interface_config.hpp"
#include "stack/iface/reassembler.hpp"
#include "stack/iface/socket_table.hpp"
#include "stack/iface/time.hpp"
#include "stack/socket/endpoint.hpp"
#include "stack/wire/mac_addr.hpp"

namespace ringlab::stack {

class frame_releaser;
class igmp_host;
class ip_output;
class tcp_lane;
class udp_socket;

class rx_pipeline {
 public:
  // References only: the owning interface wires the parts together and they outlive each other.
  rx_pipeline(port::any_port& port, const interface_config& cfg, frame_releaser& frames, ip_output& out,
              socket_table& sockets, igmp_host& igmp, timer_queue& timers, tcp_lane& tcp);
  rx_pipeline(const rx_pipeline&) = delete;
  rx_pipeline& operator=(const rx_pipeline&) = delete;

  // One burst: receive and dispatch up to cfg.rx_burst frames, give back what nobody kept.
  // Returns true when the burst was full (more frames may wait in the ring).
  bool run_burst(time_ns now) noexcept;
  // A frame of our own (ip_output's loopback copy) received as if it had arrived; given back to the
  // pool unless a socket kept it.
  void receive_own(const port::frame_ref& f, time_ns now) noexcept;

  interface_counters& counters() noexcept { return ctr_; }
  const interface_counters& counters() const noexcept { return ctr_; }
  reassembler& fragments() noexcept { return frags_; }
  const reassembler& fragments() const noexcept { return frags_; }

 private:
  // One received frame on its way through the layers.
  struct rx_ctx {
    const port::frame_ref& frame;   // the burst's slot (or a frame of ours): outlives the context
    bool from_port = true;
    bool kept = false;     // a socket took it
    time_ns now = 0;
  };
  struct ip_values;        // the parsed IPv4 header, as the upper layers see it

  void receive(rx_ctx& c) noexcept;
  // The UDP fast path: true when it delivered the frame; false sends it down the general path, which
  // then reaches the same verdict it always did (the fast path changes nothing before it says true).
  bool fast_udp(rx_ctx& c) noexcept;
  [[gnu::noinline]] udp_socket* fast_udp_flow(const std::byte* p, socket_table::flow_key key) noexcept;
  void deliver_udp(rx_ctx& c, udp_socket* s, endpoint source, wire::ipv4_addr dst,
                   std::span<const std::byte> payload) noexcept;
  bool ours(wire::ipv4_addr dst) const noexcept;   // unicast to us, or a broadcast (limited or directed)
  void on_arp(rx_ctx& c, std::span<const std::byte> bytes) noexcept;
  void on_ipv4(rx_ctx& c, std::span<const std::byte> bytes, wire::mac_addr l2_src) noexcept;
  void on_l4(rx_ctx& c, const ip_values& ip, std::span<const std::byte> payload) noexcept;
  void on_icmp(rx_ctx& c, const ip_values& ip, std::span<const std::byte> payload) noexcept;
  void on_igmp(rx_ctx& c, const ip_values& ip, std::span<const std::byte> payload) noexcept;
  void on_udp(rx_ctx& c, const ip_values& ip, std::span<const std::byte> payload) noexcept;
  void on_tcp(rx_ctx& c, const ip_values& ip, std::span<const std::byte> payload) noexcept;
  // Both keep their caller's source location, so a route names the code that decided, not these helpers.
  void drop(const rx_ctx& c, trace::hop where, trace::drop_reason why,
            std::source_location loc = std::source_location::current()) noexcept;
  // Inline: with tracing off a hop is one relaxed load and a branch (it runs several times per frame).
  void hop(const rx_ctx& c, trace::hop where, trace::verdict v = trace::verdict::pass,
           std::source_location loc = std::source_location::current()) noexcept {
    if (trace::enabled()) [[unlikely]] hop_traced(c, where, v, loc);
  }
  void hop_traced(const rx_ctx& c, trace::hop where, trace::verdict v, std::source_location loc) noexcept;

  port::any_port& port_;
  const interface_config& cfg_;
  frame_releaser& frames_;
  ip_output& out_;
  socket_table& sockets_;
  igmp_host& igmp_;
  tcp_lane& tcp_;
  interface_counters ctr_;                  // owned here: the fast path bumps five of them per datagram
  wire::mac_addr mac_;                      // cfg_.mac, kept beside the counters for the fast path
  wire::ipv4_addr directed_broadcast_;
  reassembler frags_;
  std::vector<port::frame_ref> rx_;         // the burst being worked on
};

}  // namespace ringlab::stack
