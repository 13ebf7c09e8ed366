#pragma once
// ICMPv4 (RFC 792). The view reads any message's common header; repr handles echo request/reply
// only (other types are error::unsupported). The checksum covers the whole ICMP message, so the
// view must span exactly the IPv4 payload.
//
//   0      1      2          4          6          8
//   | type | code | checksum | ident    | seq no   | data ...
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "stack/wire/checksum.hpp"
#include "stack/wire/endian.hpp"
#include "stack/wire/error.hpp"

namespace ringlab::wire::icmp {

enum class type : std::uint8_t {
  echo_reply = 0,
  dest_unreachable = 3,
  echo_request = 8,
  time_exceeded = 11,
};

// Byte offsets within the message (as smoltcp's wire::icmpv4::field).
namespace field {
inline constexpr std::size_t type = 0;
inline constexpr std::size_t code = 1;
inline constexpr std::size_t checksum = 2;   // 2 bytes, over the whole message
inline constexpr std::size_t ident = 4;      // 2 bytes (echo)
inline constexpr std::size_t seq_no = 6;     // 2 bytes (echo)
inline constexpr std::size_t data = 8;
}  // namespace field

inline constexpr std::size_t header_len = field::data;
inline constexpr std::uint8_t ip_protocol = 1;

class view {
 public:
  constexpr view() noexcept = default;

  static constexpr result<view> check(std::span<const std::byte> b) noexcept {
    if (b.size() < header_len) return error::truncated;
    return view{b};
  }
  static constexpr view unchecked(std::span<const std::byte> b) noexcept { return view{b}; }

  constexpr std::uint8_t msg_type() const noexcept { return load_u8(b_.data() + field::type); }
  constexpr std::uint8_t code() const noexcept { return load_u8(b_.data() + field::code); }
  constexpr std::uint16_t checksum() const noexcept { return load_be16(b_.data() + field::checksum); }
  constexpr std::uint16_t ident() const noexcept { return load_be16(b_.data() + field::ident); }    // echo only
  constexpr std::uint16_t seq_no() const noexcept { return load_be16(b_.data() + field::seq_no); }   // echo only
  constexpr std::span<const std::byte> data() const noexcept { return b_.subspan(header_len); }
  constexpr std::span<const std::byte> bytes() const noexcept { return b_; }
  constexpr bool verify_checksum() const noexcept { return checksum::verify(b_); }

 private:
  constexpr explicit view(std::span<const std::byte> b) noexcept : b_(b) {}
  std::span<const std::byte> b_;
};

struct repr {
  type kind = type::echo_request;   // echo_request or echo_reply
  std::uint16_t ident = 0;
  std::uint16_t seq_no = 0;
  std::span<const std::byte> data;

  static constexpr result<repr> parse(const view& v, csum mode = csum::full) noexcept {
    if (mode == csum::full && !v.verify_checksum()) return error::bad_checksum;
    if ((v.msg_type() != 0 && v.msg_type() != 8) || v.code() != 0) return error::unsupported;
    return repr{static_cast<type>(v.msg_type()), v.ident(), v.seq_no(), v.data()};
  }

  constexpr std::size_t buffer_len() const noexcept { return header_len + data.size(); }

  // Writes the message (data copied unless already at field::data); returns buffer_len() or 0.
  std::size_t emit(std::span<std::byte> out, csum mode = csum::full) const noexcept {
    const std::size_t len = buffer_len();
    if (out.size() < len) return 0;
    std::byte* p = out.data();
    if (!data.empty() && data.data() != p + field::data) std::memmove(p + field::data, data.data(), data.size());
    store_u8(p + field::type, static_cast<std::uint8_t>(kind));
    store_u8(p + field::code, 0);
    store_be16(p + field::checksum, 0);
    store_be16(p + field::ident, ident);
    store_be16(p + field::seq_no, seq_no);
    if (mode == csum::full) store_be16(p + field::checksum, checksum::compute(out.first(len)));
    return len;
  }

  friend bool operator==(const repr& a, const repr& b) noexcept {
    return a.kind == b.kind && a.ident == b.ident && a.seq_no == b.seq_no && a.data.size() == b.data.size() &&
           (a.data.empty() || std::memcmp(a.data.data(), b.data.data(), a.data.size()) == 0);
  }
};

}  // namespace ringlab::wire::icmp
