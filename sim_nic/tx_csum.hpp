#pragma once
// TX checksum offload as a NIC (or Linux's loopback and veth) does it: the stack leaves a TCP/UDP
// checksum partial (port::tx_l4_csum_partial: the field holds the pseudo header's sum, as Linux's
// CHECKSUM_PARTIAL with csum_start at the L4 header), and the device finishes it: sums the L4 bytes
// from the header on and stores the complement. sim_nic finishes it only where the bytes are looked
// at: a frame written to the TX pcap, or put on a wire whose faults may corrupt it (so the receiver's
// check still catches the damage). Elsewhere the frame crosses sim's wire unfinished and arrives
// marked rx_l4_csum_good, as a veth hands a CHECKSUM_PARTIAL skb to its peer and the peer's TCP never
// sums it (sim_nic.hpp, tx_csum_offload).
#include <cstddef>
#include <span>

namespace ringlab::sim {

// Finishes the partial L4 checksum of an Ethernet II / IPv4 (at most one 802.1Q tag) TCP or UDP frame
// in place. False (frame untouched) when it is none of those, or a fragment.
bool finish_l4_checksum(std::span<std::byte> frame) noexcept;

}  // namespace ringlab::sim
