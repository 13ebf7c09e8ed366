#pragma once
// Receive-side scaling as a NIC does it: a Toeplitz hash over the IPv4 2-tuple (src, dst) or 4-tuple
// (src, dst, sport, dport, for TCP and UDP that are not fragments), then an indirection table (RETA)
// maps the hash's low bits to a queue. The key and the input order are Microsoft's RSS specification;
// tests/unit/sim_nic checks them against its verification vectors.
//
// The hash takes one table look-up per input byte: for a fixed key, the contribution of byte i with
// value v is the XOR of the 32-bit key windows at the set bits of v, so rss_hasher precomputes
// 12 x 256 words (the longest IPv4 input is 12 bytes).
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace ringlab::sim {

inline constexpr std::size_t rss_key_size = 40;
// The standard key (Microsoft's verification suite, and the default of many drivers).
inline constexpr std::array<std::uint8_t, rss_key_size> default_rss_key = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

// The textbook bit-by-bit Toeplitz hash (the reference the table form is tested against).
std::uint32_t toeplitz_hash(std::span<const std::uint8_t> key, std::span<const std::uint8_t> input) noexcept;

// The fields RSS hashes, in network byte order as they sit in the packet.
struct rss_tuple {
  std::array<std::uint8_t, 12> bytes{};   // src ip, dst ip, src port, dst port
  std::uint8_t len = 0;                    // 0: not IPv4 (hash 0), 8: 2-tuple, 12: 4-tuple
};

// The 4-tuple of an IPv4 TCP/UDP packet from src to dst (addresses and ports in host order): what
// a NIC hashes for it, for those who choose ports by their hash (mTCP's per-core source ports).
rss_tuple make_rss_tuple(std::uint32_t src_ip, std::uint32_t dst_ip, std::uint16_t src_port,
                         std::uint16_t dst_port) noexcept;

// Finds the tuple in an Ethernet frame through wire::ipv4_flow (one 802.1Q or 802.1ad tag skipped;
// IPv4 total length not checked, as a NIC hashes before it validates). `l4` chooses whether TCP/UDP
// ports are hashed. Frames without a whole IPv4 header give len 0.
rss_tuple extract_rss_tuple(std::span<const std::byte> frame, bool l4 = true) noexcept;

class rss_hasher {
 public:
  static constexpr std::size_t reta_size = 128;   // as ixgbe/i40e VF tables

  explicit rss_hasher(std::uint16_t queues = 1,
                      std::span<const std::uint8_t> key = default_rss_key) noexcept;

  std::uint32_t hash(const rss_tuple& t) const noexcept {
    if (t.len == 0) return 0;
    std::uint32_t h = 0;
    for (std::size_t i = 0; i < 8; ++i) h ^= table_[i][t.bytes[i]];
    if (t.len == 12)
      for (std::size_t i = 8; i < 12; ++i) h ^= table_[i][t.bytes[i]];
    return h;
  }
  std::uint16_t queue_of(std::uint32_t hash) const noexcept { return reta_[hash & (reta_size - 1)]; }
  // The RETA can be rewritten, as ethtool -X does (entries >= queues are clamped to queues - 1).
  void set_reta(std::span<const std::uint16_t> reta) noexcept;
  std::span<const std::uint16_t> reta() const noexcept { return reta_; }
  std::uint16_t queues() const noexcept { return queues_; }

 private:
  std::array<std::array<std::uint32_t, 256>, 12> table_{};
  std::array<std::uint16_t, reta_size> reta_{};
  std::uint16_t queues_;
};

}  // namespace ringlab::sim
