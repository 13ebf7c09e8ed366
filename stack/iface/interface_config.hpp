#pragma once
// What one stack::interface is told (interface_config) and what it counts (interface_counters).
// Every part of the interface (rx_pipeline, ip_output, socket_table, igmp_host) reads the one config
// and adds to the one counter block its interface owns, so the counters read as before the split.
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "trace/trace.hpp"
#include "stack/iface/arp_cache.hpp"
#include "stack/iface/reassembler.hpp"
#include "stack/socket/endpoint.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"

namespace ringlab::stack {

struct interface_config {
  wire::mac_addr mac;
  wire::ipv4_addr addr;
  int prefix_len = 24;
  wire::ipv4_addr gateway;                 // any(): no default route (off-subnet sends fail)
  std::size_t rx_burst = 32;
  std::uint8_t default_ttl = 64;
  int igmp_version = 3;                    // 2 or 3: which reports we send
  std::uint64_t seed = 1;                  // IGMP report delays; same seed -> same reports
  std::size_t socket_queue_depth = 256;    // datagrams per UDP socket unless the socket says otherwise
  std::uint16_t ephemeral_first = 49152;   // IANA dynamic range
  std::uint16_t ephemeral_last = 65535;
  // Where the TCP ephemeral search starts (outside [first, last]: at ephemeral_first). Lanes of one
  // host start apart (mTCP: a per-core random start), so their searches do not walk the same ports.
  std::uint16_t tcp_ephemeral_start = 0;
  // Active opens' source port (mTCP's per-core ports): when set, connect() with an ephemeral port
  // takes only a free port this accepts for (local, remote): the one whose RSS hash brings the peer's
  // segments back to this lane's queue (asio_bypass/tcp_lanes sets it from the device's RSS). The
  // stack knows nothing of RSS; empty: any free port.
  std::function<bool(const endpoint& local, const endpoint& remote)> tcp_port_ok;
  // The interface's TCP secret (RFC 6528): keys the initial sequence numbers and the 4-tuple table's
  // hash. A number so that sim runs are deterministic; 0: each lane draws its own from the OS (what
  // a real port wants: tools/mcast/bypass_host.hpp's attach_lane sets it for every device but sim).
  std::uint64_t tcp_secret = 0x5eed7c9;
  arp_config arp;
  reassembler_config fragments;

  // The limited broadcast's subnet twin (10.0.0.255 for 10.0.0.2/24): ours to receive, broadcast to send.
  wire::ipv4_addr directed_broadcast() const noexcept {
    const std::uint32_t mask = prefix_len <= 0 ? 0 : prefix_len >= 32 ? ~0u : ~0u << (32 - prefix_len);
    return wire::ipv4_addr{addr.value | ~mask};
  }
};

struct interface_counters {
  std::uint64_t rx_frames = 0, rx_bytes = 0;
  std::uint64_t arp_requests_answered = 0, arp_replies_received = 0;
  std::uint64_t icmp_echo_answered = 0;
  std::uint64_t igmp_queries = 0;
  std::uint64_t udp_received = 0, udp_delivered = 0;
  std::uint64_t fragments_received = 0, datagrams_reassembled = 0;
  std::uint64_t tx_frames = 0, tx_bytes = 0, tx_no_frame = 0;
  // Of tx_frames, those ip_output::send_train built in TX bursts from one header (TCP's segment
  // trains, issue 13 point 6), and the bursts.
  std::uint64_t tx_train_frames = 0, tx_train_bursts = 0;
  std::uint64_t arp_requests_sent = 0, igmp_reports_sent = 0, igmp_leaves_sent = 0;
  std::uint64_t udp_sent = 0, looped_back = 0;
  std::uint64_t udp_fast_path = 0;   // of udp_delivered, how many took the UDP fast path
  std::array<std::uint64_t, static_cast<std::size_t>(trace::drop_reason::count_)> drops{};

  std::uint64_t dropped(trace::drop_reason r) const noexcept { return drops[static_cast<std::size_t>(r)]; }
  std::uint64_t dropped_total() const noexcept {
    std::uint64_t n = 0;
    for (auto d : drops) n += d;
    return n;
  }
  void count_drop(trace::drop_reason r, std::uint64_t n = 1) noexcept { drops[static_cast<std::size_t>(r)] += n; }
};

}  // namespace ringlab::stack
