#pragma once
// TCP (RFC 9293) over IPv4: the header, every option the stack speaks, the pseudo-header checksum.
//
//   0          2          4                     8                     12   13     14         16         18         20
//   | src port | dst port | sequence number     | acknowledgment num  |doff| flags| window   | checksum | urgent   | options ... | payload
//                                                                      4 bits data offset (header length / 4), 4 reserved
//
// Options (RFC 9293 3.2, RFC 7323, RFC 2018), each kind, length, value except EOL and NOP:
//   0 EOL (ends the list)   1 NOP (padding)   2 MSS (len 4)   3 window scale (len 3)
//   4 SACK permitted (len 2)   5 SACK (len 2 + 8n, n = 1..4)   8 timestamps (len 10)
// Unknown kinds are skipped by their length, as RFC 9293 3.2 asks of a receiver.
//
// view::check(): bytes < 20 -> truncated; data offset < 5, or data offset * 4 > bytes -> bad_header_length
// (the bytes given are the whole segment, the IPv4 payload, as IHL*4 > total length is for IPv4).
// repr::parse(): an option whose length is < 2 or runs past the header, or a known option with the
// wrong length -> malformed; a wrong checksum -> bad_checksum (csum::full). Unlike UDP, a zero checksum
// is a checksum like any other (RFC 9293 3.1: no "no checksum" value).
//
// The repr keeps the window field as sent (unscaled): scaling belongs to the connection, which knows
// what was negotiated in its SYNs (RFC 7323 2.2: a SYN's window is never scaled).
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "stack/wire/checksum.hpp"
#include "stack/wire/endian.hpp"
#include "stack/wire/error.hpp"
#include "stack/wire/ipv4_addr.hpp"

namespace ringlab::wire::tcp {

inline constexpr std::size_t header_len = 20;          // without options
inline constexpr std::size_t max_header_len = 60;      // data offset 15
inline constexpr std::size_t max_options_len = max_header_len - header_len;
inline constexpr std::uint8_t ip_protocol = 6;
inline constexpr std::size_t max_sack_blocks = 4;      // (40 - 2) / 8; 3 beside timestamps

// Byte offsets of the fixed header's fields (as smoltcp's `mod field`).
namespace field {
inline constexpr std::size_t src_port = 0;
inline constexpr std::size_t dst_port = 2;
inline constexpr std::size_t seq_num = 4;
inline constexpr std::size_t ack_num = 8;
inline constexpr std::size_t data_offset = 12;   // high nibble: header length in 32-bit words
inline constexpr std::size_t flags = 13;
inline constexpr std::size_t window = 14;
inline constexpr std::size_t checksum = 16;
inline constexpr std::size_t urgent = 18;
inline constexpr std::size_t options = 20;
}  // namespace field

// The control bits (byte 13).
namespace flag {
inline constexpr std::uint8_t fin = 0x01;
inline constexpr std::uint8_t syn = 0x02;
inline constexpr std::uint8_t rst = 0x04;
inline constexpr std::uint8_t psh = 0x08;
inline constexpr std::uint8_t ack = 0x10;
inline constexpr std::uint8_t urg = 0x20;
inline constexpr std::uint8_t ece = 0x40;
inline constexpr std::uint8_t cwr = 0x80;
}  // namespace flag

namespace option {
inline constexpr std::uint8_t eol = 0;
inline constexpr std::uint8_t nop = 1;
inline constexpr std::uint8_t mss = 2;
inline constexpr std::uint8_t window_scale = 3;
inline constexpr std::uint8_t sack_permitted = 4;
inline constexpr std::uint8_t sack = 5;
inline constexpr std::uint8_t timestamps = 8;
inline constexpr std::uint8_t max_window_shift = 14;   // RFC 7323 2.3: a larger shift is used as 14
}  // namespace option

class view {
 public:
  constexpr view() noexcept = default;

  static constexpr result<view> check(std::span<const std::byte> b) noexcept {
    if (b.size() < header_len) return error::truncated;
    view v{b};
    if (v.header_length() < header_len || v.header_length() > b.size()) return error::bad_header_length;
    return v;
  }
  static constexpr view unchecked(std::span<const std::byte> b) noexcept { return view{b}; }

  constexpr std::uint16_t src_port() const noexcept { return load_be16(b_.data() + field::src_port); }
  constexpr std::uint16_t dst_port() const noexcept { return load_be16(b_.data() + field::dst_port); }
  constexpr std::uint32_t seq_num() const noexcept { return load_be32(b_.data() + field::seq_num); }
  constexpr std::uint32_t ack_num() const noexcept { return load_be32(b_.data() + field::ack_num); }
  constexpr std::size_t header_length() const noexcept {
    return static_cast<std::size_t>(load_u8(b_.data() + field::data_offset) >> 4) * 4;
  }
  constexpr std::uint8_t flags() const noexcept { return load_u8(b_.data() + field::flags); }
  constexpr bool has(std::uint8_t f) const noexcept { return (flags() & f) != 0; }
  constexpr std::uint16_t window() const noexcept { return load_be16(b_.data() + field::window); }
  constexpr std::uint16_t checksum() const noexcept { return load_be16(b_.data() + field::checksum); }
  constexpr std::uint16_t urgent() const noexcept { return load_be16(b_.data() + field::urgent); }
  constexpr std::span<const std::byte> options() const noexcept {
    return b_.subspan(header_len, header_length() - header_len);
  }
  constexpr std::span<const std::byte> payload() const noexcept { return b_.subspan(header_length()); }
  constexpr std::span<const std::byte> bytes() const noexcept { return b_; }

  // Whether pseudo header + segment sum to 0xffff.
  constexpr bool verify_checksum(ipv4_addr src, ipv4_addr dst) const noexcept {
    return checksum::verify_long(b_, checksum::pseudo_header(src, dst, ip_protocol, static_cast<std::uint16_t>(b_.size())));
  }

 private:
  constexpr explicit view(std::span<const std::byte> b) noexcept : b_(b) {}
  std::span<const std::byte> b_;
};

struct sack_block {
  std::uint32_t left = 0;    // first sequence number of the block
  std::uint32_t right = 0;   // the one after its last
  friend constexpr bool operator==(const sack_block&, const sack_block&) noexcept = default;
};

struct timestamps {
  std::uint32_t value = 0;   // TSval
  std::uint32_t echo = 0;    // TSecr
  friend constexpr bool operator==(const timestamps&, const timestamps&) noexcept = default;
};

// The options of one segment, parsed. Walks the option bytes once; malformed when an option is cut
// short or has a length its kind does not allow.
struct options_repr {
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> window_scale;   // as sent (a shift over 14 is kept; the connection caps it)
  bool sack_permitted = false;
  std::array<sack_block, max_sack_blocks> sack{};
  std::uint8_t sack_count = 0;
  std::optional<timestamps> ts;

  std::span<const sack_block> sack_blocks() const noexcept { return {sack.data(), sack_count}; }

  static constexpr result<options_repr> parse(std::span<const std::byte> o) noexcept {
    options_repr r;
    std::size_t i = 0;
    while (i < o.size()) {
      const std::uint8_t kind = load_u8(o.data() + i);
      if (kind == option::eol) break;
      if (kind == option::nop) {
        ++i;
        continue;
      }
      if (i + 1 >= o.size()) return error::malformed;   // a kind with no length byte
      const std::size_t len = load_u8(o.data() + i + 1);
      if (len < 2 || i + len > o.size()) return error::malformed;
      const std::byte* v = o.data() + i + 2;
      switch (kind) {
        case option::mss:
          if (len != 4) return error::malformed;
          r.mss = load_be16(v);
          break;
        case option::window_scale:
          if (len != 3) return error::malformed;
          r.window_scale = load_u8(v);
          break;
        case option::sack_permitted:
          if (len != 2) return error::malformed;
          r.sack_permitted = true;
          break;
        case option::sack: {
          if (len < 10 || (len - 2) % 8 != 0) return error::malformed;
          const std::size_t n = (len - 2) / 8;   // at most 4: 2 + 8 * 5 > 40
          r.sack_count = static_cast<std::uint8_t>(n);
          for (std::size_t k = 0; k < n; ++k) r.sack[k] = {load_be32(v + 8 * k), load_be32(v + 8 * k + 4)};
          break;
        }
        case option::timestamps:
          if (len != 10) return error::malformed;
          r.ts = timestamps{load_be32(v), load_be32(v + 4)};
          break;
        default: break;   // unknown: skipped by its length
      }
      i += len;
    }
    return r;
  }

  // Bytes emit() writes: a multiple of 4, as Linux lays them out (tcp_options_write): MSS; SACK
  // permitted and timestamps together (else each behind two NOPs); NOP + window scale; two NOPs + SACK.
  constexpr std::size_t buffer_len() const noexcept {
    std::size_t n = 0;
    if (mss) n += 4;
    if (ts) n += 12;                        // [SACK permitted | NOP NOP] + timestamps
    else if (sack_permitted) n += 4;        // NOP NOP SACK permitted
    if (window_scale) n += 4;               // NOP + window scale
    if (sack_count) n += 4 + 8 * std::size_t{sack_count};   // NOP NOP + SACK
    return n;
  }

  // Writes buffer_len() bytes; returns it, or 0 when out is too small or the options exceed 40 bytes
  // (four SACK blocks beside timestamps: a sender keeps to three, as RFC 2018 3 says).
  constexpr std::size_t emit(std::span<std::byte> out) const noexcept {
    const std::size_t len = buffer_len();
    if (len > max_options_len || out.size() < len) return 0;
    std::byte* p = out.data();
    auto put = [&](std::uint8_t b) { store_u8(p++, b); };
    if (mss) {
      put(option::mss), put(4);
      store_be16(p, *mss), p += 2;
    }
    if (ts) {
      if (sack_permitted) put(option::sack_permitted), put(2);
      else put(option::nop), put(option::nop);
      put(option::timestamps), put(10);
      store_be32(p, ts->value), store_be32(p + 4, ts->echo), p += 8;
    } else if (sack_permitted) {
      put(option::nop), put(option::nop), put(option::sack_permitted), put(2);
    }
    if (window_scale) put(option::nop), put(option::window_scale), put(3), put(*window_scale);
    if (sack_count) {
      put(option::nop), put(option::nop), put(option::sack), put(static_cast<std::uint8_t>(2 + 8 * sack_count));
      for (std::size_t k = 0; k < sack_count; ++k) store_be32(p, sack[k].left), store_be32(p + 4, sack[k].right), p += 8;
    }
    return len;
  }

  friend constexpr bool operator==(const options_repr& a, const options_repr& b) noexcept {
    if (a.mss != b.mss || a.window_scale != b.window_scale || a.sack_permitted != b.sack_permitted ||
        a.sack_count != b.sack_count || a.ts != b.ts)
      return false;
    for (std::size_t k = 0; k < a.sack_count; ++k)
      if (a.sack[k] != b.sack[k]) return false;
    return true;
  }
};

struct repr {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;          // meaningful with flag::ack (emitted as given either way)
  std::uint8_t flags = 0;
  std::uint16_t window = 0;       // the field as sent: unscaled
  std::uint16_t urgent = 0;
  options_repr opts;
  std::span<const std::byte> payload;

  constexpr bool has(std::uint8_t f) const noexcept { return (flags & f) != 0; }
  // Sequence space the segment occupies (RFC 9293 3.4: SYN and FIN count one each).
  constexpr std::uint32_t segment_len() const noexcept {
    return static_cast<std::uint32_t>(payload.size()) + (has(flag::syn) ? 1u : 0u) + (has(flag::fin) ? 1u : 0u);
  }

  static constexpr result<repr> parse(const view& v, ipv4_addr src, ipv4_addr dst, csum mode = csum::full) noexcept {
    if (mode == csum::full && !v.verify_checksum(src, dst)) return error::bad_checksum;
    const auto o = options_repr::parse(v.options());
    if (!o) return o.error_code();
    return repr{v.src_port(), v.dst_port(), v.seq_num(), v.ack_num(), v.flags(), v.window(), v.urgent(), *o,
                v.payload()};
  }

  constexpr std::size_t header_length() const noexcept { return header_len + opts.buffer_len(); }
  constexpr std::size_t buffer_len() const noexcept { return header_length() + payload.size(); }

  // Writes header, options and payload (the copy is skipped when the payload already sits where it
  // goes, as when a send buffer wrote it into the frame). Returns buffer_len(), or 0 when out is too
  // small, the options do not fit 40 bytes, or the segment would not fit a 16-bit length. csum::offload
  // leaves the checksum zero.
  std::size_t emit(std::span<std::byte> out, ipv4_addr src, ipv4_addr dst, csum mode = csum::full) const noexcept {
    const std::size_t hl = header_length(), len = buffer_len();
    if (opts.buffer_len() > max_options_len || out.size() < len || len > 0xffff) return 0;
    std::byte* p = out.data();
    if (!payload.empty() && payload.data() != p + hl) std::memmove(p + hl, payload.data(), payload.size());
    store_be16(p + field::src_port, src_port);
    store_be16(p + field::dst_port, dst_port);
    store_be32(p + field::seq_num, seq);
    store_be32(p + field::ack_num, ack);   // as given: a segment without ACK carries 0 by the caller's choice
    store_u8(p + field::data_offset, static_cast<std::uint8_t>((hl / 4) << 4));
    store_u8(p + field::flags, flags);
    store_be16(p + field::window, window);
    store_be16(p + field::checksum, 0);
    store_be16(p + field::urgent, urgent);
    opts.emit(out.subspan(field::options, hl - header_len));
    if (mode == csum::full)
      store_be16(p + field::checksum,
                 checksum::compute_long(out.first(len), checksum::pseudo_header(src, dst, ip_protocol,
                                                                           static_cast<std::uint16_t>(len))));
    return len;
  }

  // Compares payload contents, not where they live.
  friend bool operator==(const repr& a, const repr& b) noexcept {
    return a.src_port == b.src_port && a.dst_port == b.dst_port && a.seq == b.seq && a.ack == b.ack &&
           a.flags == b.flags && a.window == b.window && a.urgent == b.urgent && a.opts == b.opts &&
           a.payload.size() == b.payload.size() &&
           (a.payload.empty() || std::memcmp(a.payload.data(), b.payload.data(), a.payload.size()) == 0);
  }
};

}  // namespace ringlab::wire::tcp
