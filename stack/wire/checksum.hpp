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
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#if defined(__SSE2__) && defined(__x86_64__)
#include <emmintrin.h>
#endif

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

// The same sum for long spans (TCP's full segments, summed twice per payload byte: send and
// receive). Where SSE2 is there (every x86-64) sixteen bytes a step: the native 16-bit words widened
// to 32-bit lanes and added, two loads a loop, ~0.4 instructions a byte against ~0.9 for sum()'s
// 64-bit loop. Kept apart from sum(), which stays small enough to inline into UDP's and IPv4's
// per-packet checks (short spans go to it from here too).
#if defined(__SSE2__) && defined(__x86_64__)
// sum_long's loop, out of line: a short span stays on sum()'s inlined path.
[[gnu::noinline]] inline std::uint16_t sum_wide(std::span<const std::byte> data, std::uint16_t acc) noexcept {
  const std::byte* p = data.data();
  std::size_t n = data.size();
  std::uint64_t s = 0;
  // A lane takes at most 2 x 0xffff per 32-byte step: chunks of 2^15 bytes stay far below 2^32.
  while (n >= 16) {
    const std::size_t chunk = std::min<std::size_t>(n & ~std::size_t{15}, std::size_t{1} << 15);
    const std::byte* const end = p + chunk;
    const __m128i zero = _mm_setzero_si128();
    __m128i a = zero, b = zero;
    for (; end - p >= 32; p += 32) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
      a = _mm_add_epi32(a, _mm_unpacklo_epi16(v, zero));
      b = _mm_add_epi32(b, _mm_unpackhi_epi16(v, zero));
      a = _mm_add_epi32(a, _mm_unpacklo_epi16(w, zero));
      b = _mm_add_epi32(b, _mm_unpackhi_epi16(w, zero));
    }
    if (p != end) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      a = _mm_add_epi32(a, _mm_unpacklo_epi16(v, zero));
      b = _mm_add_epi32(b, _mm_unpackhi_epi16(v, zero));
      p += 16;
    }
    // Four 32-bit lanes of each, added as 64-bit values: no overflow.
    const __m128i t = _mm_add_epi64(_mm_add_epi64(_mm_unpacklo_epi32(a, zero), _mm_unpackhi_epi32(a, zero)),
                                    _mm_add_epi64(_mm_unpacklo_epi32(b, zero), _mm_unpackhi_epi32(b, zero)));
    s += static_cast<std::uint64_t>(_mm_cvtsi128_si64(t)) +
         static_cast<std::uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(t, t)));
    n -= chunk;
  }
  // Native-order words, as in sum(): fold, swap into network order once. The rest (< 16 bytes) starts
  // at an even offset, so sum() takes it as a continuation.
  std::uint16_t folded = fold(s);
  if constexpr (std::endian::native == std::endian::little)
    folded = static_cast<std::uint16_t>(folded << 8 | folded >> 8);
  return add(add(folded, acc), sum({p, n}));
}
#endif

constexpr std::uint16_t sum_long(std::span<const std::byte> data, std::uint16_t acc = 0) noexcept {
#if defined(__SSE2__) && defined(__x86_64__)
  if (!std::is_constant_evaluated() && data.size() >= 128) return sum_wide(data, acc);
#endif
  return sum(data, acc);
}

constexpr std::uint16_t compute_long(std::span<const std::byte> data, std::uint16_t acc = 0) noexcept {
  return finish(sum_long(data, acc));
}
constexpr bool verify_long(std::span<const std::byte> data, std::uint16_t acc = 0) noexcept {
  return sum_long(data, acc) == 0xffff;
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
