#include <gtest/gtest.h>

#include <array>
#include <random>
#include <vector>

#include "stack/wire/ipv4.hpp"
#include "tests/unit/wire/frames.hpp"

namespace ringlab::wire {
namespace {

std::span<const std::byte> ip_of(std::span<const std::byte> frame, std::size_t l2 = 14) { return frame.subspan(l2); }

TEST(Ipv4, ParsesKnownHeader) {
  auto v = ipv4::view::check(ip_of(test::icmp_echo_request));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->version(), 4);
  EXPECT_EQ(v->header_len(), 20u);
  EXPECT_EQ(v->total_len(), 44);
  EXPECT_EQ(v->ident(), 0x1c46);
  EXPECT_TRUE(v->dont_frag());
  EXPECT_FALSE(v->is_fragment());
  EXPECT_EQ(v->ttl(), 64);
  EXPECT_EQ(v->proto(), 1);
  EXPECT_EQ(v->header_checksum(), 0x0a89);
  EXPECT_EQ(v->src(), (ipv4_addr{10, 0, 0, 1}));
  EXPECT_EQ(v->dst(), (ipv4_addr{10, 0, 0, 2}));
  EXPECT_TRUE(v->options().empty());
  EXPECT_EQ(v->payload().size(), 24u);
  EXPECT_TRUE(v->verify_checksum());

  auto r = ipv4::repr::parse(*v);
  ASSERT_TRUE(r);
  const ipv4::repr expect{{10, 0, 0, 1}, {10, 0, 0, 2}, 1, 24, 64, 0, 0x1c46, true, false};
  EXPECT_EQ(*r, expect);
  std::array<std::byte, 20> out{};
  ASSERT_EQ(r->emit(out), 20u);
  EXPECT_TRUE(std::ranges::equal(out, ip_of(test::icmp_echo_request).first(20)));
  // Offload: same header, checksum left for the device.
  ASSERT_EQ(r->emit(out, csum::offload), 20u);
  EXPECT_EQ(load_be16(out.data() + 10), 0);
}

TEST(Ipv4, RouterAlertOptionSkippedByIhl) {
  auto v = ipv4::view::check(ip_of(test::igmpv2_report));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->ihl(), 6);
  EXPECT_EQ(v->header_len(), 24u);
  const auto ra = test::bytes_of<4>({0x94, 0x04, 0x00, 0x00});
  EXPECT_TRUE(std::ranges::equal(v->options(), ra));
  EXPECT_EQ(v->payload().size(), 8u);
  EXPECT_EQ(load_u8(v->payload().data()), 0x16);   // IGMPv2 report
  auto r = ipv4::repr::parse(*v);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->router_alert);
  EXPECT_EQ(r->payload_len, 8);
  // emit writes the same 24-byte header back.
  std::array<std::byte, 24> out{};
  ASSERT_EQ(r->emit(out), 24u);
  EXPECT_TRUE(std::ranges::equal(out, v->header()));
  EXPECT_FALSE(ipv4::repr::has_router_alert(test::bytes_of<4>({0x01, 0x01, 0x00, 0x94})));   // after end
  EXPECT_TRUE(ipv4::repr::has_router_alert(test::bytes_of<8>({0x01, 0x07, 0x03, 0x00, 0x94, 0x04, 0, 0})));
}

TEST(Ipv4, LinkPaddingIsNotPayload) {
  std::array<std::byte, 60> frame{};
  std::ranges::copy(test::udp_mcast, frame.begin());   // 54 bytes + 6 bytes of Ethernet padding
  auto v = ipv4::view::check(ip_of(frame));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->bytes().size(), 46u);
  EXPECT_EQ(v->payload().size(), 20u);
}

TEST(Ipv4, EveryTruncationGetsItsReason) {
  // Without options: < 20 truncated, then the header is whole and total length lies.
  const auto p = ip_of(test::icmp_echo_request);
  for (std::size_t n = 0; n < 44; ++n)
    EXPECT_EQ(ipv4::view::check(p.first(n)).error_code(), n < 20 ? error::truncated : error::bad_total_length) << n;
  EXPECT_TRUE(ipv4::view::check(p.first(44)));
  // With a 4-byte option: the bytes end inside the header up to 24.
  const auto q = ip_of(test::igmpv2_report);
  for (std::size_t n = 0; n < 32; ++n)
    EXPECT_EQ(ipv4::view::check(q.first(n)).error_code(), n < 24 ? error::truncated : error::bad_total_length) << n;
}

TEST(Ipv4, BadHeaderLengthVersionAndTotalLength) {
  for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
    auto f = test::icmp_echo_request;
    f[14] = std::byte(0x40 | ihl);
    EXPECT_EQ(ipv4::view::check(ip_of(f)).error_code(), error::bad_header_length) << int(ihl);
  }
  for (std::uint8_t ver : {0, 6, 15}) {
    auto f = test::icmp_echo_request;
    f[14] = std::byte(ver << 4 | 5);
    EXPECT_EQ(ipv4::view::check(ip_of(f)).error_code(), error::bad_version) << int(ver);
  }
  auto f = test::icmp_echo_request;
  store_be16(f.data() + 16, 19);   // total length shorter than the header
  EXPECT_EQ(ipv4::view::check(ip_of(f)).error_code(), error::bad_header_length);
  store_be16(f.data() + 16, 45);   // one byte more than there is
  EXPECT_EQ(ipv4::view::check(ip_of(f)).error_code(), error::bad_total_length);
  f = test::icmp_echo_request;
  f[14] = std::byte{0x4f};         // IHL 15 = 60 bytes > total length 44 (and > the 44 bytes there are)
  EXPECT_EQ(ipv4::view::check(ip_of(f)).error_code(), error::truncated);
  std::array<std::byte, 74> big{};
  std::ranges::copy(test::icmp_echo_request, big.begin());
  big[14] = std::byte{0x4f};       // now the bytes are there, but total length 44 < 60
  EXPECT_EQ(ipv4::view::check(ip_of(big)).error_code(), error::bad_header_length);
}

TEST(Ipv4, OptionsIhl6To15) {
  std::mt19937 rng(6);
  for (std::uint8_t ihl = 5; ihl <= 15; ++ihl) {
    const std::size_t hl = ihl * 4u, payload = 13;
    std::vector<std::byte> pkt(hl + payload);
    for (auto& b : pkt) b = std::byte(rng());
    ipv4::repr r{{10, 0, 0, 1}, {10, 0, 0, 2}, 17, static_cast<std::uint16_t>(payload), 9, 0, 77, false, false};
    for (std::size_t i = 20; i < hl; ++i) pkt[i] = std::byte{1};   // NOPs: no Router Alert
    ASSERT_EQ(r.emit(pkt), 20u);
    pkt[0] = std::byte(0x40 | ihl);
    store_be16(pkt.data() + 2, static_cast<std::uint16_t>(hl + payload));
    store_be16(pkt.data() + 10, 0);
    store_be16(pkt.data() + 10, checksum::compute(std::span(pkt).first(hl)));
    auto v = ipv4::view::check(pkt);
    ASSERT_TRUE(v) << int(ihl);
    EXPECT_EQ(v->header_len(), hl);
    EXPECT_EQ(v->options().size(), hl - 20);
    EXPECT_EQ(v->options().data(), pkt.data() + 20);
    EXPECT_EQ(v->payload().data(), pkt.data() + hl);
    EXPECT_EQ(v->payload().size(), payload);
    EXPECT_TRUE(v->verify_checksum());
    auto back = ipv4::repr::parse(*v);
    ASSERT_TRUE(back) << to_string(back.error_code());
    EXPECT_EQ(*back, r);
    for (std::size_t n = 0; n < hl + payload; ++n)
      EXPECT_EQ(ipv4::view::check(std::span(pkt).first(n)).error_code(),
                n < hl ? error::truncated : error::bad_total_length) << int(ihl) << " " << n;
  }
}

TEST(Ipv4, FragmentsAreRecognised) {
  auto f = test::udp_mcast;
  auto ip = std::span(f).subspan(14);
  auto set_frag = [&](std::uint16_t word) {
    store_be16(ip.data() + 6, word);
    store_be16(ip.data() + 10, 0);
    store_be16(ip.data() + 10, checksum::compute(ip.first(20)));
  };
  set_frag(0x2000);   // MF, offset 0: the first fragment
  auto v = ipv4::view::check(ip);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->more_frags());
  EXPECT_EQ(v->frag_offset(), 0u);
  EXPECT_TRUE(v->is_fragment());
  EXPECT_EQ(ipv4::repr::parse(*v).error_code(), error::fragment);
  set_frag(185);      // last fragment at byte 1480
  v = ipv4::view::check(ip);
  EXPECT_FALSE(v->more_frags());
  EXPECT_EQ(v->frag_offset(), 1480u);
  EXPECT_TRUE(v->is_fragment());
  EXPECT_EQ(ipv4::repr::parse(*v).error_code(), error::fragment);
  set_frag(0x4000);   // DF only: not a fragment
  EXPECT_FALSE(ipv4::view::check(ip)->is_fragment());
}

TEST(Ipv4, BadChecksumRefusedUnlessOffloaded) {
  auto f = test::icmp_echo_request;
  f[24] ^= std::byte{0xff};
  auto v = ipv4::view::check(ip_of(f));
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->verify_checksum());
  EXPECT_EQ(ipv4::repr::parse(*v).error_code(), error::bad_checksum);
  EXPECT_TRUE(ipv4::repr::parse(*v, csum::offload));
}

TEST(Ipv4, SetTtlKeepsChecksumValid) {
  auto f = test::igmpv2_report;
  auto hdr = std::span(f).subspan(14, 24);
  for (int ttl = 255; ttl >= 0; --ttl) {
    ipv4::set_ttl(hdr, static_cast<std::uint8_t>(ttl));
    auto v = ipv4::view::check(std::span(f).subspan(14));
    ASSERT_TRUE(v);
    ASSERT_EQ(v->ttl(), ttl);
    ASSERT_TRUE(v->verify_checksum()) << ttl;
  }
}

}  // namespace
}  // namespace ringlab::wire
