#pragma once
// ip_port: a port whose far side is packetdrill, which speaks IP packets, not Ethernet frames.
//
//   netdev_send(ip)  ─► inject_ip: Ethernet {peer_mac -> our mac, IPv4} in front ─► rx_burst ─► stack
//   stack ─► tx_commit ─┬─ IPv4: Ethernet stripped, cut at the IPv4 total length (the stack pads short
//                       │        frames to 60 bytes), queued with the time it left ─► take_sent ─► netdev_receive
//                       └─ ARP request: answered at once (an ARP reply from peer_mac for the address
//                                asked, queued for rx_burst), as the gateway or any on-link host would
//
// Packetdrill's remote (192.0.2.1) sits behind a gateway: every address our stack asks for is
// answered with the one peer MAC, so the stack needs no static ARP entry and the cache ages as it
// would on a wire. The answer arrives in the same virtual instant, so it costs the script no time.
// Frames that are neither (none today: no IPv6 from our stack) are counted and dropped.
//
// One thread at a time (the instance's lock): no atomics here.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <system_error>
#include <vector>

#include "port/port.hpp"
#include "stack/iface/time.hpp"
#include "stack/wire/mac_addr.hpp"

namespace ringlab::packetdrill {

struct ip_port_config {
  wire::mac_addr ours;
  wire::mac_addr peer;
  std::uint32_t mtu = 1500;
  std::uint32_t frames = 1024;   // the pool: RX frames in flight + TX frames + the ARP-pending queue
};

struct ip_port_counters {
  std::uint64_t injected = 0;       // IPv4 packets in (netdev_send)
  std::uint64_t sent = 0;           // IPv4 packets out (queued for netdev_receive)
  std::uint64_t arp_answered = 0;   // ARP requests from our stack, answered
  std::uint64_t tx_other = 0;       // frames out that were neither: dropped
};

class ip_port final : public port::any_port {
 public:
  struct sent_packet {
    std::vector<std::byte> ip;   // from the IPv4 header to its total length
    stack::time_ns t = 0;        // when the stack committed it
  };

  explicit ip_port(const ip_port_config& cfg);
  ~ip_port() override;
  ip_port(const ip_port&) = delete;
  ip_port& operator=(const ip_port&) = delete;

  // One IPv4 packet from the remote. invalid_argument: not IPv4 (version nibble), shorter than its
  // header, or longer than the MTU; no_buffer_space: the pool is dry.
  std::error_code inject_ip(std::span<const std::byte> ip, stack::time_ns now);
  // The time stamped on what the stack commits from now on (the caller's clock).
  void set_now(stack::time_ns now) noexcept { now_ = now; }

  bool has_sent() const noexcept { return !sent_.empty(); }
  sent_packet take_sent();   // the oldest; call only when has_sent()
  std::size_t pending_rx() const noexcept { return rx_.size(); }
  const ip_port_counters& counters() const noexcept { return ctr_; }

  // port::any_port
  std::size_t rx_burst(std::span<port::frame_ref> out) noexcept override;
  void rx_release(std::span<const port::frame_ref> frames) noexcept override;
  port::tx_batch tx_reserve(std::size_t n) noexcept override;
  void tx_commit(std::span<port::frame_ref> frames) noexcept override;
  void tx_cancel(std::span<port::frame_ref> frames) noexcept override;
  port::port_caps caps() const override;
  port::frame_pool& pool() noexcept override { return pool_; }

 private:
  bool queue_frame(std::span<const std::byte> l3, std::uint16_t ethertype, wire::mac_addr dst) noexcept;
  void answer_arp(std::span<const std::byte> arp) noexcept;

  ip_port_config cfg_;
  port::frame_pool pool_;
  std::deque<port::frame_ref> rx_;
  std::deque<sent_packet> sent_;
  stack::time_ns now_ = 0;
  std::uint64_t next_id_ = 0;
  ip_port_counters ctr_;
};

}  // namespace ringlab::packetdrill
