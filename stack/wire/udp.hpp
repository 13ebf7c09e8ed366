#pragma once
// UDP (RFC 768) over IPv4. The checksum covers a pseudo header (addresses, protocol, UDP length);
// zero means "no checksum" and is accepted; a computed zero is sent as 0xffff.
//
//   0          2          4          6          8
//   | src port | dst port | length   | checksum | payload ...
//
// check(): bytes < 8 -> truncated; length field < 8 or > bytes -> bad_length.
// Bytes beyond the length field (IPv4 padding) are not payload.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "stack/wire/checksum.hpp"
#include "stack/wire/endian.hpp"
#include "stack/wire/error.hpp"
#include "stack/wire/ipv4_addr.hpp"

namespace ringlab::wire::udp {

// Byte offsets within the header (as smoltcp's wire::udp::field); 2 bytes each. TCP's ports sit at
// the same offsets (src_port, dst_port), which is what a NIC's flow hash relies on.
namespace field {
inline constexpr std::size_t src_port = 0;
inline constexpr std::size_t dst_port = 2;
inline constexpr std::size_t length = 4;
inline constexpr std::size_t checksum = 6;
inline constexpr std::size_t payload = 8;
}  // namespace field

inline constexpr std::size_t header_len = field::payload;
inline constexpr std::uint8_t ip_protocol = 17;

class view {
 public:
  constexpr view() noexcept = default;

  static constexpr result<view> check(std::span<const std::byte> b) noexcept {
    if (b.size() < header_len) return error::truncated;
    view v{b};
    if (v.length() < header_len || v.length() > b.size()) return error::bad_length;
    return v;
  }
  static constexpr view unchecked(std::span<const std::byte> b) noexcept { return view{b}; }

  constexpr std::uint16_t src_port() const noexcept { return load_be16(b_.data() + field::src_port); }
  constexpr std::uint16_t dst_port() const noexcept { return load_be16(b_.data() + field::dst_port); }
  constexpr std::uint16_t length() const noexcept { return load_be16(b_.data() + field::length); }
  constexpr std::uint16_t checksum() const noexcept { return load_be16(b_.data() + field::checksum); }
  constexpr std::span<const std::byte> payload() const noexcept {
    return b_.subspan(header_len, length() - header_len);
  }
  constexpr std::span<const std::byte> bytes() const noexcept { return b_; }

  // True for a zero (absent) checksum, else whether pseudo header + datagram sum to 0xffff.
  constexpr bool verify_checksum(ipv4_addr src, ipv4_addr dst) const noexcept {
    if (checksum() == 0) return true;
    return checksum::verify(b_.first(length()), checksum::pseudo_header(src, dst, ip_protocol, length()));
  }

 private:
  constexpr explicit view(std::span<const std::byte> b) noexcept : b_(b) {}
  std::span<const std::byte> b_;
};

struct repr {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::span<const std::byte> payload;

  static constexpr result<repr> parse(const view& v, ipv4_addr src, ipv4_addr dst, csum mode = csum::full) noexcept {
    if (mode == csum::full && !v.verify_checksum(src, dst)) return error::bad_checksum;
    return repr{v.src_port(), v.dst_port(), v.payload()};
  }

  constexpr std::size_t buffer_len() const noexcept { return header_len + payload.size(); }

  // Writes header and payload (the copy is skipped when the payload already sits at field::payload, as
  // when a socket wrote it into the frame). Returns buffer_len(), or 0 if out is too small or the
  // datagram would not fit the 16-bit length. mode offload leaves the checksum zero.
  std::size_t emit(std::span<std::byte> out, ipv4_addr src, ipv4_addr dst, csum mode = csum::full) const noexcept {
    const std::size_t len = buffer_len();
    if (out.size() < len || len > 0xffff) return 0;
    std::byte* p = out.data();
    if (!payload.empty() && payload.data() != p + field::payload)
      std::memmove(p + field::payload, payload.data(), payload.size());
    store_be16(p + field::src_port, src_port);
    store_be16(p + field::dst_port, dst_port);
    store_be16(p + field::length, static_cast<std::uint16_t>(len));
    store_be16(p + field::checksum, 0);
    if (mode == csum::full) {
      std::uint16_t c =
          checksum::compute(out.first(len), checksum::pseudo_header(src, dst, ip_protocol, static_cast<std::uint16_t>(len)));
      store_be16(p + field::checksum, c == 0 ? 0xffff : c);
    }
    return len;
  }

  // Compares payload contents, not where they live.
  friend bool operator==(const repr& a, const repr& b) noexcept {
    return a.src_port == b.src_port && a.dst_port == b.dst_port && a.payload.size() == b.payload.size() &&
           (a.payload.empty() || std::memcmp(a.payload.data(), b.payload.data(), a.payload.size()) == 0);
  }
};

}  // namespace ringlab::wire::udp
