#pragma once
// IPv4 (RFC 791). Options are skipped by IHL, not interpreted. Fragments are recognised (flags and
// offset exposed, is_fragment()) but not reassembled: repr::parse refuses them with error::fragment.
//
//   0       4       8              16   19           32
//   |ver|ihl|dscp|ecn| total length   |
//   | identification  |flg| frag offset|
//   | ttl   | proto   | header checksum |
//   | source address                    |
//   | destination address               |
//   | options (ihl - 5 words) ...       |
//
// check() order, and so the reason a bad header gets:
//   bytes < 20 -> truncated; version != 4 -> bad_version; ihl < 5 -> bad_header_length;
//   bytes < ihl*4 -> truncated; total length < ihl*4 -> bad_header_length;
//   bytes < total length -> bad_total_length. Bytes beyond total length are link padding.
#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/wire/checksum.hpp"
#include "stack/wire/endian.hpp"
#include "stack/wire/error.hpp"
#include "stack/wire/ipv4_addr.hpp"

namespace ringlab::wire::ipv4 {

enum class protocol : std::uint8_t { icmp = 1, igmp = 2, tcp = 6, udp = 17 };

// Byte offsets within the header (as smoltcp's wire::ipv4::field).
namespace field {
inline constexpr std::size_t ver_ihl = 0;      // version (high 4 bits), IHL in 32-bit words (low 4)
inline constexpr std::size_t tos = 1;          // DSCP (high 6 bits), ECN (low 2)
inline constexpr std::size_t total_len = 2;    // 2 bytes
inline constexpr std::size_t ident = 4;        // 2 bytes
inline constexpr std::size_t flags_frag = 6;   // 2 bytes: flags (3 bits) and fragment offset (13 bits, 8-byte units)
inline constexpr std::size_t ttl = 8;
inline constexpr std::size_t proto = 9;
inline constexpr std::size_t checksum = 10;    // 2 bytes
inline constexpr std::size_t src = 12;         // ipv4_addr::size bytes
inline constexpr std::size_t dst = 16;         // ipv4_addr::size bytes
inline constexpr std::size_t options = 20;     // up to IHL * 4
}  // namespace field

// The 16-bit word at field::flags_frag.
inline constexpr std::uint16_t flag_dont_frag = 0x4000;
inline constexpr std::uint16_t flag_more_frags = 0x2000;
inline constexpr std::uint16_t frag_offset_mask = 0x1fff;
// Set bits here make a packet a fragment (more to come, or not the first).
inline constexpr std::uint16_t fragment_mask = flag_more_frags | frag_offset_mask;

inline constexpr std::size_t min_header_len = field::options;
inline constexpr std::size_t max_header_len = 60;

class view {
 public:
  constexpr view() noexcept = default;

  static constexpr result<view> check(std::span<const std::byte> b) noexcept {
    if (b.size() < min_header_len) return error::truncated;
    view v{b};
    if (v.version() != 4) return error::bad_version;
    if (v.ihl() < 5) return error::bad_header_length;
    if (b.size() < v.header_len()) return error::truncated;
    if (v.total_len() < v.header_len()) return error::bad_header_length;
    if (b.size() < v.total_len()) return error::bad_total_length;
    return v;
  }
  static constexpr view unchecked(std::span<const std::byte> b) noexcept { return view{b}; }

  constexpr std::uint8_t version() const noexcept { return load_u8(b_.data() + field::ver_ihl) >> 4; }
  constexpr std::uint8_t ihl() const noexcept { return load_u8(b_.data() + field::ver_ihl) & 0x0f; }   // in 32-bit words
  constexpr std::size_t header_len() const noexcept { return std::size_t{ihl()} * 4; }
  constexpr std::uint8_t tos() const noexcept { return load_u8(b_.data() + field::tos); }
  constexpr std::uint8_t dscp() const noexcept { return tos() >> 2; }
  constexpr std::uint8_t ecn() const noexcept { return tos() & 3; }
  constexpr std::uint16_t total_len() const noexcept { return load_be16(b_.data() + field::total_len); }
  constexpr std::uint16_t ident() const noexcept { return load_be16(b_.data() + field::ident); }
  constexpr bool dont_frag() const noexcept { return (load_be16(b_.data() + field::flags_frag) & flag_dont_frag) != 0; }
  constexpr bool more_frags() const noexcept { return (load_be16(b_.data() + field::flags_frag) & flag_more_frags) != 0; }
  // In bytes (the field counts 8-byte units).
  constexpr std::uint32_t frag_offset() const noexcept { return (std::uint32_t{load_be16(b_.data() + field::flags_frag)} & frag_offset_mask) * 8; }
  constexpr bool is_fragment() const noexcept { return more_frags() || frag_offset() != 0; }
  constexpr std::uint8_t ttl() const noexcept { return load_u8(b_.data() + field::ttl); }
  constexpr std::uint8_t proto() const noexcept { return load_u8(b_.data() + field::proto); }
  constexpr std::uint16_t header_checksum() const noexcept { return load_be16(b_.data() + field::checksum); }
  constexpr ipv4_addr src() const noexcept { return ipv4_addr::load(b_.data() + field::src); }
  constexpr ipv4_addr dst() const noexcept { return ipv4_addr::load(b_.data() + field::dst); }

  constexpr std::span<const std::byte> header() const noexcept { return b_.first(header_len()); }
  constexpr std::span<const std::byte> options() const noexcept {
    return b_.subspan(min_header_len, header_len() - min_header_len);
  }
  // The bytes from the end of the header to total length (link padding cut off).
  constexpr std::span<const std::byte> payload() const noexcept {
    return b_.subspan(header_len(), total_len() - header_len());
  }
  constexpr std::span<const std::byte> bytes() const noexcept { return b_; }

  constexpr bool verify_checksum() const noexcept { return checksum::verify(header()); }

 private:
  constexpr explicit view(std::span<const std::byte> b) noexcept : b_(b) {}
  std::span<const std::byte> b_;
};

// A checked header's TTL rewritten in place, its checksum updated incrementally (RFC 1624), as a
// router does on forwarding. TTL shares a 16-bit word with the protocol.
constexpr void set_ttl(std::span<std::byte> header, std::uint8_t ttl) noexcept {
  const std::uint16_t old_word = load_be16(header.data() + field::ttl);
  const std::uint16_t new_word = static_cast<std::uint16_t>(ttl << 8 | (old_word & 0xff));
  store_be16(header.data() + field::ttl, new_word);
  store_be16(header.data() + field::checksum,
             checksum::update(load_be16(header.data() + field::checksum), old_word, new_word));
}

struct repr {
  ipv4_addr src;
  ipv4_addr dst;
  std::uint8_t proto = 0;       // protocol value (a byte, so unknown protocols survive a round trip)
  std::uint16_t payload_len = 0;
  std::uint8_t ttl = 64;
  std::uint8_t tos = 0;
  std::uint16_t ident = 0;
  bool dont_frag = true;
  bool router_alert = false;    // RFC 2113 option (IGMP messages carry it): emit writes IHL 6

  // mode full: a wrong header checksum is bad_checksum. Fragments are error::fragment.
  static constexpr result<repr> parse(const view& v, csum mode = csum::full) noexcept {
    if (mode == csum::full && !v.verify_checksum()) return error::bad_checksum;
    if (v.is_fragment()) return error::fragment;
    return repr{v.src(),
                v.dst(),
                v.proto(),
                static_cast<std::uint16_t>(v.total_len() - v.header_len()),
                v.ttl(),
                v.tos(),
                v.ident(),
                v.dont_frag(),
                has_router_alert(v.options())};
  }

  // Options other than Router Alert are skipped on parse and never emitted.
  constexpr std::size_t buffer_len() const noexcept { return router_alert ? min_header_len + 4 : min_header_len; }

  // Writes the header (total length = buffer_len() + payload_len); returns buffer_len(), or 0 if
  // out is too small.
  constexpr std::size_t emit(std::span<std::byte> out, csum mode = csum::full) const noexcept {
    const std::size_t hl = buffer_len();
    if (out.size() < hl) return 0;
    std::byte* p = out.data();
    store_u8(p + field::ver_ihl, static_cast<std::uint8_t>(0x40 | hl / 4));
    store_u8(p + field::tos, tos);
    store_be16(p + field::total_len, static_cast<std::uint16_t>(hl + payload_len));
    store_be16(p + field::ident, ident);
    store_be16(p + field::flags_frag, dont_frag ? flag_dont_frag : 0);
    store_u8(p + field::ttl, ttl);
    store_u8(p + field::proto, proto);
    store_be16(p + field::checksum, 0);
    src.store(p + field::src);
    dst.store(p + field::dst);
    if (hl > min_header_len) store_be32(p + field::options, 0x94040000);   // Router Alert: "examine this packet"
    if (mode == csum::full) store_be16(p + field::checksum, checksum::compute(out.first(hl)));
    return hl;
  }

  // True if the options hold a Router Alert (type 148). A malformed option list ends the walk.
  static constexpr bool has_router_alert(std::span<const std::byte> opts) noexcept {
    std::size_t i = 0;
    while (i < opts.size()) {
      const std::uint8_t t = load_u8(opts.data() + i);
      if (t == 0) return false;                     // end of options
      if (t == 1) { ++i; continue; }                // no-op
      if (i + 1 >= opts.size()) return false;
      const std::uint8_t len = load_u8(opts.data() + i + 1);
      if (len < 2) return false;
      if (t == 148) return true;
      i += len;
    }
    return false;
  }

  friend constexpr bool operator==(const repr&, const repr&) noexcept = default;
};

}  // namespace ringlab::wire::ipv4
