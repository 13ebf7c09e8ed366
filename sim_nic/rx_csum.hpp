#pragma once
// RX checksum offload as a NIC does it (ixgbe/i40e/mlx5 "RX checksum", DPDK's
// RTE_MBUF_F_RX_IP_CKSUM_GOOD/BAD and _L4_CKSUM_GOOD/BAD): the hardware checks the IPv4 header
// checksum and the UDP/TCP checksum while the frame comes in and reports the outcome in the RX
// descriptor. Nothing is dropped here: the stack reads the flags (port::rx_meta::flags) and drops a
// bad frame itself, counted as it would count its own failed check.
//
// What is vouched for (anything else gets no flag, and the stack checks in software):
//   Ethernet II, at most one 802.1Q tag, IPv4 whose header passes wire::ipv4::view::check
//     -> rx_ip_csum_good or rx_ip_csum_bad
//   and, when the IPv4 checksum is good and the packet is not a fragment:
//     UDP whose length field fits (wire::udp::view::check) -> rx_l4_csum_good (also for a zero,
//       i.e. absent, checksum) or rx_l4_csum_bad
//     TCP (the IPv4 payload, at least 20 bytes)           -> rx_l4_csum_good or rx_l4_csum_bad
#include <cstddef>
#include <cstdint>
#include <span>

namespace ringlab::sim {

// The rx_meta flags (port::rx_flags) a checksum-offloading NIC sets for this frame.
std::uint16_t rx_checksum_flags(std::span<const std::byte> frame) noexcept;

}  // namespace ringlab::sim
