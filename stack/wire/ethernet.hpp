#pragma once
// Ethernet II frames, with at most one 802.1Q tag skipped (its VLAN id reported). The frame check
// sequence is not part of the bytes (NICs strip it, pcaps rarely hold it).
//
//   0        6        12       14 (no tag)          0        6        12   14   16   18
//   | dst    | src    | type   | payload ...         | dst    | src    |8100| TCI|type| payload ...
//   field::  dst      src      type  payload                                 tci  inner_type tagged_payload
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "stack/wire/endian.hpp"
#include "stack/wire/error.hpp"
#include "stack/wire/mac_addr.hpp"

namespace ringlab::wire::ethernet {

enum class ethertype : std::uint16_t {
  ipv4 = 0x0800,
  arp = 0x0806,
  vlan = 0x8100,   // 802.1Q tag
  qinq = 0x88a8,   // 802.1ad service tag: not skipped by view (a NIC's flow parser skips it, see flow.hpp)
  ipv6 = 0x86dd,
};

// Byte offsets within the header (as smoltcp's wire::ethernet::field). The tag, when present,
// sits where the type would; the payload's type follows it.
namespace field {
inline constexpr std::size_t dst = 0;          // mac_addr::size bytes
inline constexpr std::size_t src = 6;          // mac_addr::size bytes
inline constexpr std::size_t type = 12;        // 2 bytes: ethertype, or vlan when a tag follows
inline constexpr std::size_t payload = 14;
inline constexpr std::size_t tci = 14;         // 2 bytes (tagged): PCP (3 bits), DEI, VLAN id (12 bits)
inline constexpr std::size_t inner_type = 16;  // 2 bytes (tagged): the payload's ethertype
inline constexpr std::size_t tagged_payload = 18;
}  // namespace field

inline constexpr std::size_t header_len = field::payload;
inline constexpr std::size_t vlan_tag_len = field::tagged_payload - field::payload;
inline constexpr std::size_t min_frame_len = 60;   // without FCS; shorter frames are runts

class view {
 public:
  constexpr view() noexcept = default;

  // Checked construction for untrusted bytes: truncated if the header (and the tag, if any) is cut.
  static constexpr result<view> check(std::span<const std::byte> b) noexcept {
    if (b.size() < header_len) return error::truncated;
    if (load_be16(b.data() + field::type) == static_cast<std::uint16_t>(ethertype::vlan) &&
        b.size() < header_len + vlan_tag_len)
      return error::truncated;
    return view{b};
  }
  // For bytes already checked (or written by us).
  static constexpr view unchecked(std::span<const std::byte> b) noexcept { return view{b}; }

  constexpr mac_addr dst() const noexcept { return mac_addr::load(b_.data() + field::dst); }
  constexpr mac_addr src() const noexcept { return mac_addr::load(b_.data() + field::src); }
  constexpr bool has_vlan() const noexcept {
    return load_be16(b_.data() + field::type) == static_cast<std::uint16_t>(ethertype::vlan);
  }
  constexpr std::uint16_t tci() const noexcept { return has_vlan() ? load_be16(b_.data() + field::tci) : 0; }
  constexpr std::uint16_t vlan_id() const noexcept { return tci() & 0x0fff; }
  constexpr std::uint8_t vlan_pcp() const noexcept { return static_cast<std::uint8_t>(tci() >> 13); }
  // The type of the payload: after the tag, if there is one. A second tag (QinQ) shows as vlan.
  constexpr ethertype type() const noexcept {
    return static_cast<ethertype>(load_be16(b_.data() + (has_vlan() ? field::inner_type : field::type)));
  }
  constexpr std::size_t header_length() const noexcept { return has_vlan() ? header_len + vlan_tag_len : header_len; }
  // Everything after the header, Ethernet padding included (IPv4 trims it by its total length).
  constexpr std::span<const std::byte> payload() const noexcept { return b_.subspan(header_length()); }
  constexpr std::span<const std::byte> bytes() const noexcept { return b_; }

 private:
  constexpr explicit view(std::span<const std::byte> b) noexcept : b_(b) {}
  std::span<const std::byte> b_;
};

struct repr {
  mac_addr src;
  mac_addr dst;
  ethertype type = ethertype::ipv4;
  std::optional<std::uint16_t> vlan_id;   // set: emit an 802.1Q tag
  std::uint8_t vlan_pcp = 0;

  static constexpr result<repr> parse(const view& v) noexcept {
    repr r;
    r.src = v.src();
    r.dst = v.dst();
    r.type = v.type();
    if (v.has_vlan()) {
      r.vlan_id = v.vlan_id();
      r.vlan_pcp = v.vlan_pcp();
    }
    return r;
  }

  constexpr std::size_t buffer_len() const noexcept { return vlan_id ? header_len + vlan_tag_len : header_len; }

  // Writes the header at the front of out; returns its length, or 0 if out is too small.
  constexpr std::size_t emit(std::span<std::byte> out) const noexcept {
    const std::size_t len = buffer_len();
    if (out.size() < len) return 0;
    dst.store(out.data() + field::dst);
    src.store(out.data() + field::src);
    // The type is written as an offset from len so that the compiler sees the store inside the
    // checked size (len - 2 is field::type untagged, field::inner_type tagged).
    if (len == header_len + vlan_tag_len) {
      store_be16(out.data() + field::type, static_cast<std::uint16_t>(ethertype::vlan));
      store_be16(out.data() + field::tci, static_cast<std::uint16_t>((vlan_pcp & 7u) << 13 | (vlan_id.value_or(0) & 0x0fffu)));
    }
    store_be16(out.data() + len - 2, static_cast<std::uint16_t>(type));
    return len;
  }

  friend constexpr bool operator==(const repr&, const repr&) noexcept = default;
};

}  // namespace ringlab::wire::ethernet
