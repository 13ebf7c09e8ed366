#pragma once
// The Internet checksum (RFC 1071): the one's complement of the one's complement sum of 16-bit words.
//
//   partial sums   sum(span, acc) adds a span to a running 16-bit partial sum. Spans are summed as
//                  if concatenated, so each span must start at an even offset of the message: only
//                  the last one may have an odd length (it is padded with a zero byte).
//   pseudo header  pseudo_header(src, dst, proto, len) is the partial sum of the IPv4 pseudo header
//                  that UDP and TCP checksums cover (RFC 768).
//   finish         finish(partial) is the value to store in a checksum field; a message whose sum
//                  including its checksum field folds to 0xffff is valid (verify()).
//   incremental    update(hc, old, new) is RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'): the checksum after
//                  one 16-bit word changed from m to m', equal to a full recompute (no -0 trouble).
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

#include "stack/wire/ipv4_addr.hpp"

namespace ringlab::wire {

// What parse() and emit() do with a checksum. full: parse verifies it, emit computes it.
// offload: parse trusts it (the device verified it, port::rx_ip_csum_good / rx_l4_csum_good) and
// emit leaves it zero for the device to fill.
enum class csum : std::uint8_t { full, offload };

}  // namespace ringlab::wire

namespace ringlab::wire::checksum {

constexpr std::uint16_t fold(std::uint64_t s) noexcept {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}

constexpr std::uint16_t sum(std::span<const std::byte> data, std::uint16_t acc = 0) noexcept {
  if (std::is_constant_evaluated()) {   // the plain RFC 1071 loop: 16-bit big-endian words
    std::uint64_t s = acc;
    std::size_t i = 0;
    for (; i + 1 < data.size(); i += 2) s += load_be16(data.data() + i);
    if (i < data.size()) s += std::uint32_t{std::to_integer<std::uint8_t>(data[i])} << 8;
    return fold(s);
  }
  // Eight bytes per step (RFC 1071 1.2 "parallel summation", "byte order independence"): add the
  // native-order 32-bit halves of 64-bit loads into a 64-bit sum (no overflow below 2^32 steps), fold
  // to 16 bits, and swap the folded sum into network order once. Valid because the span starts at an
  // even offset of the message (the contract above): native words then pair the same bytes as
  // big-endian ones, and an odd last byte is the high-order byte of its big-endian word.
  const std::byte* p = data.data();
  std::size_t n = data.size();
  std::uint64_t s = 0;
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    s += (w & 0xffffffffu) + (w >> 32);
  }
  if (n >= 4) {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    s += w;
    p += 4, n -= 4;
  }
  if (n >= 2) {
    std::uint16_t w;
    std::memcpy(&w, p, 2);
    s += w;
    p += 2, n -= 2;
  }
  std::uint16_t last = 0;
  if (n) {
    const std::byte pair[2] = {p[0], std::byte{0}};
    std::memcpy(&last, pair, 2);
  }
  s += last;
  std::uint16_t folded = fold(s);
  if constexpr (std::endian::native == std::endian::little)
    folded = static_cast<std::uint16_t>(folded << 8 | folded >> 8);
  return fold(std::uint32_t{folded} + acc);
}

// One's complement addition of partial sums (the word order does not matter).
constexpr std::uint16_t add(std::uint16_t a, std::uint16_t b) noexcept { return fold(std::uint32_t{a} + b); }

constexpr std::uint16_t pseudo_header(ipv4_addr src, ipv4_addr dst, std::uint8_t protocol,
                                      std::uint16_t length) noexcept {
  return fold(std::uint64_t{src.value >> 16} + (src.value & 0xffff) + (dst.value >> 16) + (dst.value & 0xffff) +
              protocol + length);
}

constexpr std::uint16_t finish(std::uint16_t partial) noexcept { return static_cast<std::uint16_t>(~partial); }

// The checksum field value for data whose own checksum field is zero.
constexpr std::uint16_t compute(std::span<const std::byte> data, std::uint16_t acc = 0) noexcept {
  return finish(sum(data, acc));
}

// True when data (checksum field included) sums to 0xffff, i.e. the stored checksum is right.
constexpr bool verify(std::span<const std::byte> data, std::uint16_t acc = 0) noexcept {
  return sum(data, acc) == 0xffff;
}

// RFC 1624 eqn. 3 for one 16-bit word changed from old_word to new_word.
constexpr std::uint16_t update(std::uint16_t hc, std::uint16_t old_word, std::uint16_t new_word) noexcept {
  return static_cast<std::uint16_t>(
      ~fold(std::uint32_t{static_cast<std::uint16_t>(~hc)} + static_cast<std::uint16_t>(~old_word) + new_word));
}

// The same for a 32-bit field (an address): two words.
constexpr std::uint16_t update32(std::uint16_t hc, std::uint32_t old_value, std::uint32_t new_value) noexcept {
  hc = update(hc, static_cast<std::uint16_t>(old_value >> 16), static_cast<std::uint16_t>(new_value >> 16));
  return update(hc, static_cast<std::uint16_t>(old_value), static_cast<std::uint16_t>(new_value));
}

}  // namespace ringlab::wire::checksum
