#pragma once
// A frame is an offset into one frame_pool area (as AF_XDP UMEM addresses and netmap buf_idx are);
// a frame_ref is what travels NIC -> ring -> stack -> handler, never the bytes themselves.
#include <cstddef>
#include <cstdint>
#include <span>

namespace ringlab::port {

using frame_id = std::uint32_t;
inline constexpr frame_id no_frame = ~frame_id{0};

// Receive metadata a NIC fills in, as DPDK's mbuf or AF_XDP's xdp_desc + timestamp would carry.
struct rx_meta {
  std::uint64_t packet_id = 0;   // position in the replayed trace (1-based), or a per-port counter
  std::uint64_t t_ns = 0;        // arrival time on the port's clock (virtual for sim_nic)
  std::uint32_t rss_hash = 0;
  std::uint32_t ring_slot = 0;   // slot index (masked) of the RX descriptor ring it came through
  std::uint16_t queue = 0;
  std::uint16_t flags = 0;       // rx_flags below
};

enum rx_flags : std::uint16_t {
  rx_ip_csum_good = 1u << 0,     // the device verified the IPv4 header checksum
  rx_l4_csum_good = 1u << 1,     // the device verified the UDP/TCP checksum
  rx_ip_csum_bad = 1u << 2,      // the device found the IPv4 header checksum wrong (the stack drops it)
  rx_l4_csum_bad = 1u << 3,      // the device found the UDP/TCP checksum wrong (the stack drops it)
  // On a TX frame (set by the stack, only where caps().tx_l4_csum): the UDP/TCP checksum field holds
  // the pseudo header's sum and the device finishes the checksum (Linux's CHECKSUM_PARTIAL).
  tx_l4_csum_partial = 1u << 4,
};

struct frame_ref {
  frame_id id = no_frame;
  std::span<std::byte> bytes;    // the packet: starts after the headroom the port chose
  rx_meta meta;

  bool valid() const noexcept { return id != no_frame; }
};

}  // namespace ringlab::port
