#pragma once
// IGMP v1/v2 (RFC 2236) and v3 (RFC 3376) for IPv4 multicast membership. The checksum covers the
// whole IGMP message, so the view must span exactly the IPv4 payload.
//
//   v1/v2 (8 B):   | type | max resp | checksum | group address |
//   v3 query:      | 0x11 | max resp code | checksum | group | rsv,S,QRV | QQIC | N sources | sources ...
//   v3 report:     | 0x22 | rsv | checksum | rsv (2) | M records | group records ...
//   group record:  | record type | aux words | N sources | group | sources ... | aux data ...
//
// A query's version comes from its length (RFC 3376 7.1): 8 bytes is v1 (max resp 0) or v2, 12 or
// more is v3; 9..11 bytes is truncated. Source lists and group records are views over the message
// bytes, checked once by check() so iterating them never reads past the end.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>

#include "stack/wire/checksum.hpp"
#include "stack/wire/endian.hpp"
#include "stack/wire/error.hpp"
#include "stack/wire/ipv4_addr.hpp"

namespace ringlab::wire::igmp {

enum class type : std::uint8_t {
  membership_query = 0x11,
  v1_report = 0x12,
  v2_report = 0x16,
  leave = 0x17,
  v3_report = 0x22,
};

enum class record_type : std::uint8_t {
  mode_is_include = 1,
  mode_is_exclude = 2,
  change_to_include = 3,   // a v3 leave: TO_IN {}
  change_to_exclude = 4,   // a v3 join:  TO_EX {}
  allow_new_sources = 5,
  block_old_sources = 6,
};

// Byte offsets within the message (as smoltcp's wire::igmp::field).
namespace field {
inline constexpr std::size_t type = 0;
inline constexpr std::size_t max_resp = 1;      // max resp time (v2) or code (v3 query); reserved in reports
inline constexpr std::size_t checksum = 2;      // 2 bytes, over the whole message
inline constexpr std::size_t group = 4;         // ipv4_addr::size bytes (queries, v1/v2 reports, leave)
inline constexpr std::size_t end_v2 = 8;
// v3 query (RFC 3376 4.1)
inline constexpr std::size_t s_qrv = 8;         // reserved (4 bits), S flag (0x08), QRV (low 3 bits)
inline constexpr std::size_t qqic = 9;
inline constexpr std::size_t num_sources = 10;  // 2 bytes
inline constexpr std::size_t sources = 12;      // num_sources addresses
// v3 report (RFC 3376 4.2)
inline constexpr std::size_t report_reserved = 4;   // 2 bytes
inline constexpr std::size_t num_records = 6;       // 2 bytes
inline constexpr std::size_t records = 8;
}  // namespace field

// Byte offsets within one v3 group record.
namespace record_field {
inline constexpr std::size_t type = 0;
inline constexpr std::size_t aux_words = 1;     // aux data length in 32-bit words
inline constexpr std::size_t num_sources = 2;   // 2 bytes
inline constexpr std::size_t group = 4;         // ipv4_addr::size bytes
inline constexpr std::size_t sources = 8;       // num_sources addresses, then the aux data
}  // namespace record_field

inline constexpr std::uint8_t s_flag_bit = 0x08;   // in the byte at field::s_qrv
inline constexpr std::uint8_t qrv_mask = 0x07;

inline constexpr std::size_t header_len = field::end_v2;
inline constexpr std::size_t v3_query_len = field::sources;
inline constexpr std::size_t record_header_len = record_field::sources;
inline constexpr std::uint8_t ip_protocol = 2;

// RFC 3376 4.1.1 / 4.1.7: codes >= 128 are a floating point value (mantissa 4 bits, exponent 3 bits).
constexpr std::uint32_t decode_code(std::uint8_t c) noexcept {
  if (c < 128) return c;
  return std::uint32_t{(c & 0x0fu) | 0x10u} << (((c >> 4) & 7u) + 3);
}

// A list of IPv4 addresses stored back to back in wire order.
class address_list {
 public:
  constexpr address_list() noexcept = default;
  static constexpr address_list unchecked(std::span<const std::byte> b) noexcept { return address_list{b}; }

  constexpr std::size_t size() const noexcept { return b_.size() / 4; }
  constexpr bool empty() const noexcept { return b_.size() < 4; }
  constexpr ipv4_addr operator[](std::size_t i) const noexcept { return ipv4_addr::load(b_.data() + 4 * i); }
  constexpr std::span<const std::byte> bytes() const noexcept { return b_; }

  struct iterator {
    using iterator_category = std::forward_iterator_tag;
    using value_type = ipv4_addr;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = ipv4_addr;   // made on the fly from the bytes
    const std::byte* p = nullptr;
    constexpr ipv4_addr operator*() const noexcept { return ipv4_addr::load(p); }
    constexpr iterator& operator++() noexcept { p += 4; return *this; }
    constexpr iterator operator++(int) noexcept { auto t = *this; p += 4; return t; }
    friend constexpr bool operator==(iterator a, iterator b) noexcept { return a.p == b.p; }
  };
  constexpr iterator begin() const noexcept { return {b_.data()}; }
  constexpr iterator end() const noexcept { return {b_.data() + size() * 4}; }

  friend constexpr bool operator==(const address_list& a, const address_list& b) noexcept {
    return std::ranges::equal(a.b_, b.b_);
  }

 private:
  constexpr explicit address_list(std::span<const std::byte> b) noexcept : b_(b) {}
  std::span<const std::byte> b_;
};

// Writes addresses into out (wire order) and returns the list over them; empty if out is too small.
constexpr address_list store_addresses(std::span<const ipv4_addr> addrs, std::span<std::byte> out) noexcept {
  if (out.size() < addrs.size() * 4) return {};
  for (std::size_t i = 0; i < addrs.size(); ++i) addrs[i].store(out.data() + 4 * i);
  return address_list::unchecked(out.first(addrs.size() * 4));
}

// One v3 group record, over exactly its bytes.
class group_record {
 public:
  constexpr group_record() noexcept = default;
  static constexpr group_record unchecked(std::span<const std::byte> b) noexcept { return group_record{b}; }

  constexpr std::uint8_t record_type_value() const noexcept { return load_u8(b_.data() + record_field::type); }
  constexpr record_type kind() const noexcept { return static_cast<record_type>(record_type_value()); }
  constexpr std::uint8_t aux_words() const noexcept { return load_u8(b_.data() + record_field::aux_words); }
  constexpr std::uint16_t source_count() const noexcept { return load_be16(b_.data() + record_field::num_sources); }
  constexpr ipv4_addr group() const noexcept { return ipv4_addr::load(b_.data() + record_field::group); }
  constexpr address_list sources() const noexcept {
    return address_list::unchecked(b_.subspan(record_field::sources, std::size_t{source_count()} * 4));
  }
  constexpr std::span<const std::byte> aux_data() const noexcept {
    return b_.subspan(record_field::sources + std::size_t{source_count()} * 4, std::size_t{aux_words()} * 4);
  }
  constexpr std::span<const std::byte> bytes() const noexcept { return b_; }
  // Length of the record starting at p (its header must be readable).
  static constexpr std::size_t length_at(const std::byte* p) noexcept {
    return record_field::sources + std::size_t{load_be16(p + record_field::num_sources)} * 4 +
           std::size_t{load_u8(p + record_field::aux_words)} * 4;
  }

 private:
  constexpr explicit group_record(std::span<const std::byte> b) noexcept : b_(b) {}
  std::span<const std::byte> b_;
};

// The group records of a v3 report: count records back to back in bytes (already checked).
class record_list {
 public:
  constexpr record_list() noexcept = default;
  static constexpr record_list unchecked(std::span<const std::byte> b, std::uint16_t count) noexcept {
    return record_list{b, count};
  }

  constexpr std::size_t size() const noexcept { return n_; }
  constexpr bool empty() const noexcept { return n_ == 0; }
  constexpr std::span<const std::byte> bytes() const noexcept { return b_; }

  struct iterator {
    using iterator_category = std::forward_iterator_tag;
    using value_type = group_record;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = group_record;
    const std::byte* p = nullptr;
    std::size_t left = 0;
    constexpr group_record operator*() const noexcept {
      return group_record::unchecked({p, group_record::length_at(p)});
    }
    constexpr iterator& operator++() noexcept {
      p += group_record::length_at(p);
      --left;
      return *this;
    }
    constexpr iterator operator++(int) noexcept { auto t = *this; ++*this; return t; }
    friend constexpr bool operator==(iterator a, iterator b) noexcept { return a.left == b.left; }
  };
  constexpr iterator begin() const noexcept { return {b_.data(), n_}; }
  constexpr iterator end() const noexcept { return {nullptr, 0}; }

  friend constexpr bool operator==(const record_list& a, const record_list& b) noexcept {
    return a.n_ == b.n_ && std::ranges::equal(a.b_, b.b_);
  }

 private:
  constexpr record_list(std::span<const std::byte> b, std::uint16_t n) noexcept : b_(b), n_(n) {}
  std::span<const std::byte> b_;
  std::uint16_t n_ = 0;
};

class view {
 public:
  constexpr view() noexcept = default;

  static constexpr result<view> check(std::span<const std::byte> b) noexcept {
    if (b.size() < header_len) return error::truncated;
    view v{b};
    if (v.msg_type() == static_cast<std::uint8_t>(type::membership_query) && b.size() > header_len) {
      if (b.size() < v3_query_len) return error::truncated;
      if (b.size() < v3_query_len + std::size_t{v.source_count()} * 4) return error::truncated;
    } else if (v.msg_type() == static_cast<std::uint8_t>(type::v3_report)) {
      std::size_t at = field::records;
      for (std::uint16_t i = 0; i < v.record_count(); ++i) {
        if (b.size() < at + record_header_len) return error::truncated;
        at += group_record::length_at(b.data() + at);
        if (b.size() < at) return error::truncated;
      }
      v.records_len_ = at - field::records;
    }
    return v;
  }
  static constexpr view unchecked(std::span<const std::byte> b) noexcept {
    auto r = check(b);
    return r ? *r : view{b};
  }

  constexpr std::uint8_t msg_type() const noexcept { return load_u8(b_.data() + field::type); }
  constexpr std::uint8_t max_resp_code() const noexcept { return load_u8(b_.data() + field::max_resp); }
  constexpr std::uint16_t checksum() const noexcept { return load_be16(b_.data() + field::checksum); }
  constexpr ipv4_addr group() const noexcept { return ipv4_addr::load(b_.data() + field::group); }   // not in v3 reports
  constexpr bool is_v3_query() const noexcept {
    return msg_type() == static_cast<std::uint8_t>(type::membership_query) && b_.size() >= v3_query_len;
  }
  // v3 query fields (valid when is_v3_query()).
  constexpr bool s_flag() const noexcept { return (load_u8(b_.data() + field::s_qrv) & s_flag_bit) != 0; }
  constexpr std::uint8_t qrv() const noexcept { return load_u8(b_.data() + field::s_qrv) & qrv_mask; }
  constexpr std::uint8_t qqic() const noexcept { return load_u8(b_.data() + field::qqic); }
  constexpr std::uint16_t source_count() const noexcept { return load_be16(b_.data() + field::num_sources); }
  constexpr address_list sources() const noexcept {
    return address_list::unchecked(b_.subspan(field::sources, std::size_t{source_count()} * 4));
  }
  // v3 report fields.
  constexpr std::uint16_t record_count() const noexcept { return load_be16(b_.data() + field::num_records); }
  constexpr record_list records() const noexcept {
    return record_list::unchecked(b_.subspan(field::records, records_len_), record_count());
  }
  constexpr std::span<const std::byte> bytes() const noexcept { return b_; }
  constexpr bool verify_checksum() const noexcept { return checksum::verify(b_); }

 private:
  constexpr explicit view(std::span<const std::byte> b) noexcept : b_(b) {}
  std::span<const std::byte> b_;
  std::size_t records_len_ = 0;
};

struct repr {
  type kind = type::membership_query;
  std::uint8_t version = 2;         // 1, 2 or 3 (queries by length and max resp; reports by type)
  std::uint8_t max_resp_code = 0;   // queries: tenths of a second (v3: decode_code())
  ipv4_addr group;                  // query (0.0.0.0 = general), v1/v2 report, leave
  bool s_flag = false;              // v3 query
  std::uint8_t qrv = 0;             // v3 query
  std::uint8_t qqic = 0;            // v3 query
  address_list sources;             // v3 query
  record_list records;              // v3 report

  static constexpr result<repr> parse(const view& v, csum mode = csum::full) noexcept {
    if (mode == csum::full && !v.verify_checksum()) return error::bad_checksum;
    repr r;
    switch (static_cast<type>(v.msg_type())) {
      case type::membership_query:
        r.kind = type::membership_query;
        r.max_resp_code = v.max_resp_code();
        r.group = v.group();
        if (v.is_v3_query()) {
          r.version = 3;
          r.s_flag = v.s_flag();
          r.qrv = v.qrv();
          r.qqic = v.qqic();
          r.sources = v.sources();
        } else {
          r.version = v.max_resp_code() == 0 ? 1 : 2;
        }
        return r;
      case type::v1_report:
      case type::v2_report:
      case type::leave:
        r.kind = static_cast<type>(v.msg_type());
        r.version = r.kind == type::v1_report ? 1 : 2;
        r.group = v.group();
        return r;
      case type::v3_report:
        r.kind = type::v3_report;
        r.version = 3;
        r.records = v.records();
        return r;
    }
    return error::unsupported;
  }

  // Maximum response time in tenths of a second.
  constexpr std::uint32_t max_resp_ds() const noexcept {
    return version == 3 ? decode_code(max_resp_code) : max_resp_code;
  }

  constexpr std::size_t buffer_len() const noexcept {
    if (kind == type::membership_query && version == 3) return v3_query_len + sources.bytes().size();
    if (kind == type::v3_report) return header_len + records.bytes().size();
    return header_len;
  }

  // Writes the whole message; returns buffer_len(), or 0 if out is too small.
  constexpr std::size_t emit(std::span<std::byte> out, csum mode = csum::full) const noexcept {
    const std::size_t len = buffer_len();
    if (out.size() < len) return 0;
    std::byte* p = out.data();
    store_u8(p + field::type, static_cast<std::uint8_t>(kind));
    store_u8(p + field::max_resp, kind == type::v3_report || kind == type::v1_report ? 0 : max_resp_code);
    store_be16(p + field::checksum, 0);
    if (kind == type::v3_report) {
      store_be16(p + field::report_reserved, 0);
      store_be16(p + field::num_records, static_cast<std::uint16_t>(records.size()));
      std::ranges::copy(records.bytes(), p + field::records);
    } else {
      group.store(p + field::group);
      if (kind == type::membership_query && version == 3) {
        store_u8(p + field::s_qrv, static_cast<std::uint8_t>((s_flag ? s_flag_bit : 0) | (qrv & qrv_mask)));
        store_u8(p + field::qqic, qqic);
        store_be16(p + field::num_sources, static_cast<std::uint16_t>(sources.size()));
        std::ranges::copy(sources.bytes(), p + field::sources);
      }
    }
    if (mode == csum::full) store_be16(p + field::checksum, checksum::compute(out.first(len)));
    return len;
  }

  friend constexpr bool operator==(const repr&, const repr&) noexcept = default;
};

// What a host puts in a v3 report: one record per group.
struct record_repr {
  record_type kind = record_type::change_to_exclude;
  ipv4_addr group;
  std::span<const ipv4_addr> sources;
};

constexpr std::size_t v3_report_len(std::span<const record_repr> recs) noexcept {
  std::size_t n = header_len;
  for (const auto& r : recs) n += record_header_len + r.sources.size() * 4;
  return n;
}

// Writes a v3 membership report with the given records (no aux data); returns its length or 0.
constexpr std::size_t emit_v3_report(std::span<const record_repr> recs, std::span<std::byte> out,
                                     csum mode = csum::full) noexcept {
  const std::size_t len = v3_report_len(recs);
  if (out.size() < len || recs.size() > 0xffff) return 0;
  std::byte* p = out.data();
  store_u8(p + field::type, static_cast<std::uint8_t>(type::v3_report));
  store_u8(p + field::max_resp, 0);
  store_be16(p + field::checksum, 0);
  store_be16(p + field::report_reserved, 0);
  store_be16(p + field::num_records, static_cast<std::uint16_t>(recs.size()));
  std::size_t at = field::records;
  for (const auto& r : recs) {
    store_u8(p + at + record_field::type, static_cast<std::uint8_t>(r.kind));
    store_u8(p + at + record_field::aux_words, 0);
    store_be16(p + at + record_field::num_sources, static_cast<std::uint16_t>(r.sources.size()));
    r.group.store(p + at + record_field::group);
    at += record_field::sources;
    for (const auto& s : r.sources) {
      s.store(p + at);
      at += 4;
    }
  }
  if (mode == csum::full) store_be16(p + field::checksum, checksum::compute(out.first(len)));
  return len;
}

}  // namespace ringlab::wire::igmp
