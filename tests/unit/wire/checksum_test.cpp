// RFC 1071 sums, the pseudo header, and RFC 1624 incremental updates against full recomputes.
#include <gtest/gtest.h>

#include <array>
#include <random>
#include <vector>

#include "stack/wire/checksum.hpp"
#include "stack/wire/ipv4.hpp"
#include "tests/unit/wire/frames.hpp"

namespace ringlab::wire {
namespace {

// RFC 1071 section 3's worked example: words 0001 f203 f4f5 f6f7 sum to ddf2 (checksum 220d).
constexpr auto rfc1071 = test::bytes_of<8>({0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7});
static_assert(checksum::sum(rfc1071) == 0xddf2);
static_assert(checksum::compute(rfc1071) == 0x220d);
static_assert(checksum::verify(std::span(test::icmp_echo_request).subspan(14, 20)));   // constexpr all through

TEST(Checksum, Rfc1071Example) {
  EXPECT_EQ(checksum::sum(rfc1071), 0xddf2);
  EXPECT_EQ(checksum::compute(rfc1071), 0x220d);
}

TEST(Checksum, OddLengthPadsWithZero) {
  constexpr auto odd = test::bytes_of<3>({0x12, 0x34, 0x56});
  EXPECT_EQ(checksum::sum(odd), 0x1234 + 0x5600);
  EXPECT_EQ(checksum::sum(std::span<const std::byte>{}), 0);
}

TEST(Checksum, SpansSumAsIfConcatenated) {
  std::mt19937 rng(7);
  std::vector<std::byte> buf(1501);
  for (auto& b : buf) b = std::byte(rng());
  const std::uint16_t whole = checksum::sum(buf);
  for (std::size_t cut = 0; cut <= buf.size(); cut += 2) {
    const std::span<const std::byte> s(buf);
    EXPECT_EQ(checksum::sum(s.subspan(cut), checksum::sum(s.first(cut))), whole) << "cut " << cut;
  }
}

TEST(Checksum, KnownHeadersVerify) {
  // The IPv4 header of the ping, and a header with the Router Alert option (IGMP).
  EXPECT_TRUE(checksum::verify(std::span(test::icmp_echo_request).subspan(14, 20)));
  EXPECT_TRUE(checksum::verify(std::span(test::igmpv2_report).subspan(14, 24)));
  auto bad = test::icmp_echo_request;
  bad[22] ^= std::byte{1};   // TTL
  EXPECT_FALSE(checksum::verify(std::span(bad).subspan(14, 20)));
}

TEST(Checksum, PseudoHeaderOfKnownDatagram) {
  // udp_mcast: 10.0.0.1 -> 239.1.1.1, UDP length 20.
  const std::uint16_t ph = checksum::pseudo_header({10, 0, 0, 1}, {239, 1, 1, 1}, 17, 20);
  EXPECT_EQ(ph, checksum::fold(0x0a00 + 0x0001 + 0xef01 + 0x0101 + 17 + 20));
  EXPECT_TRUE(checksum::verify(std::span(test::udp_mcast).subspan(34, 20), ph));
}

// Fills a random valid 20..60 byte header.
std::vector<std::byte> random_header(std::mt19937& rng) {
  const std::size_t ihl = 5 + rng() % 11;
  std::vector<std::byte> h(ihl * 4);
  for (auto& b : h) b = std::byte(rng());
  h[0] = std::byte(0x40 | ihl);
  store_be16(h.data() + 10, 0);
  store_be16(h.data() + 10, checksum::compute(h));
  return h;
}

std::uint16_t recompute(std::vector<std::byte> h) {
  store_be16(h.data() + 10, 0);
  return checksum::compute(h);
}

TEST(Checksum, IncrementalTtlDecrementEqualsRecompute) {
  std::mt19937 rng(20261127);
  for (int i = 0; i < 20000; ++i) {
    auto h = random_header(rng);
    const auto ttl = static_cast<std::uint8_t>(rng());
    ipv4::set_ttl(h, ttl);
    ASSERT_EQ(load_u8(h.data() + 8), ttl);
    ASSERT_EQ(load_be16(h.data() + 10), recompute(h)) << "iteration " << i;
    ASSERT_TRUE(checksum::verify(h));
  }
}

TEST(Checksum, IncrementalWordAndAddressChangesEqualRecompute) {
  std::mt19937 rng(1624);
  for (int i = 0; i < 20000; ++i) {
    auto h = random_header(rng);
    std::uint16_t hc = load_be16(h.data() + 10);
    // A random 16-bit word other than the checksum itself, then the destination address.
    std::size_t at = 2 * (rng() % (h.size() / 2));
    if (at == 10) at = 12;
    const std::uint16_t old_w = load_be16(h.data() + at), new_w = static_cast<std::uint16_t>(rng());
    store_be16(h.data() + at, new_w);
    hc = checksum::update(hc, old_w, new_w);
    ASSERT_EQ(hc, recompute(h)) << "iteration " << i << " word at " << at;
    const std::uint32_t old_a = load_be32(h.data() + 16), new_a = static_cast<std::uint32_t>(rng());
    store_be32(h.data() + 16, new_a);
    hc = checksum::update32(hc, old_a, new_a);
    store_be16(h.data() + 10, hc);
    ASSERT_EQ(hc, recompute(h)) << "iteration " << i;
  }
}

TEST(Checksum, IncrementalEdgeWords) {
  // All-ones and all-zero words on both sides of the update: the cases where eqn. 2 went wrong.
  std::array<std::byte, 20> h{};
  h[0] = std::byte{0x45};
  for (std::uint16_t a : {0x0000, 0xffff, 0x0001, 0xfffe}) {
    for (std::uint16_t b : {0x0000, 0xffff, 0x0001, 0xfffe}) {
      store_be16(h.data() + 4, a);
      store_be16(h.data() + 10, 0);
      const std::uint16_t hc = checksum::compute(h);
      store_be16(h.data() + 4, b);
      store_be16(h.data() + 10, 0);
      EXPECT_EQ(checksum::update(hc, a, b), checksum::compute(h)) << std::hex << a << " -> " << b;
    }
  }
}

}  // namespace
}  // namespace ringlab::wire

namespace ringlab::wire {
namespace {

// The run-time sum (eight bytes a step, native order, one swap) equals the plain big-endian 16-bit
// loop for every length 0..200, random bytes, all-zero and all-0xff data, and any starting partial.
std::uint16_t reference_sum(std::span<const std::byte> d, std::uint16_t acc) {
  std::uint64_t s = acc;
  std::size_t i = 0;
  for (; i + 1 < d.size(); i += 2) s += (std::to_integer<unsigned>(d[i]) << 8) | std::to_integer<unsigned>(d[i + 1]);
  if (i < d.size()) s += std::to_integer<unsigned>(d[i]) << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}

TEST(Checksum, WideRuntimeSumEqualsTheWordLoop) {
  std::mt19937 rng(7);
  std::vector<std::byte> buf(208);
  for (int fill = 0; fill < 3; ++fill) {
    for (auto& b : buf) b = fill == 0 ? std::byte(rng()) : fill == 1 ? std::byte{0} : std::byte{0xff};
    for (std::size_t len = 0; len <= 200; ++len)
      for (std::uint16_t acc : {std::uint16_t{0}, std::uint16_t{1}, std::uint16_t{0xfffe}, std::uint16_t{0xffff},
                                static_cast<std::uint16_t>(rng())}) {
        // Also from an odd address (alignment must not matter; the span's offset in its message is even).
        for (std::size_t at : {std::size_t{0}, std::size_t{1}}) {
          const std::span<const std::byte> d(buf.data() + at, len);
          ASSERT_EQ(checksum::sum(d, acc), reference_sum(d, acc)) << "len " << len << " acc " << acc << " fill " << fill;
        }
      }
  }
}

// sum_long (TCP's segments): its 32-byte steps, 16-byte tail, sub-16-byte rest and 2^15-byte chunks
// (lanes must not overflow on all-0xff data) against the word loop, from an even and an odd address.
TEST(Checksum, LongSpansEqualTheWordLoop) {
  std::mt19937 rng(11);
  std::vector<std::byte> buf(140'000);
  for (int fill = 0; fill < 2; ++fill) {
    for (auto& b : buf) b = fill == 0 ? std::byte(rng()) : std::byte{0xff};
    for (std::size_t len : {std::size_t{0}, std::size_t{127}, std::size_t{128}, std::size_t{129}, std::size_t{143},
                            std::size_t{1448}, std::size_t{1460}, std::size_t{1461}, std::size_t{9000}, std::size_t{32768},
                            std::size_t{32768 + 16}, std::size_t{32768 + 33}, std::size_t{65535}, std::size_t{139'999}})
      for (std::size_t at : {std::size_t{0}, std::size_t{1}}) {
        const std::span<const std::byte> d(buf.data() + at, len);
        for (std::uint16_t acc : {std::uint16_t{0}, std::uint16_t{0x1234}, std::uint16_t{0xffff}})
          ASSERT_EQ(checksum::sum_long(d, acc), reference_sum(d, acc)) << "len " << len << " fill " << fill;
      }
  }
}

}  // namespace
}  // namespace ringlab::wire
