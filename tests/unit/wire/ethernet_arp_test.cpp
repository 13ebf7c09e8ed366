#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "stack/wire/arp.hpp"
#include "stack/wire/ethernet.hpp"
#include "tests/unit/wire/frames.hpp"

namespace ringlab::wire {
namespace {

using test::bytes_of;

// Parsing is constexpr: a known frame checked at compile time.
static_assert(ethernet::view::check(test::arp_request)->type() == ethernet::ethertype::arp);
static_assert(arp::view::check(std::span(test::arp_request).subspan(14))->target_ip() == ipv4_addr{10, 0, 0, 2});

TEST(Ethernet, ParsesKnownFrame) {
  auto v = ethernet::view::check(test::arp_request);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->dst(), mac_addr::broadcast());
  EXPECT_EQ(v->src(), (mac_addr{2, 0, 0, 0, 0, 1}));
  EXPECT_EQ(v->type(), ethernet::ethertype::arp);
  EXPECT_FALSE(v->has_vlan());
  EXPECT_EQ(v->header_length(), 14u);
  EXPECT_EQ(v->payload().size(), 28u);
  auto r = ethernet::repr::parse(*v);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->vlan_id.has_value());
  std::array<std::byte, 14> out{};
  ASSERT_EQ(r->emit(out), 14u);
  EXPECT_TRUE(std::ranges::equal(out, std::span(test::arp_request).first(14)));
}

TEST(Ethernet, SkipsOneVlanTagAndReportsIt) {
  auto v = ethernet::view::check(test::udp_vlan);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->has_vlan());
  EXPECT_EQ(v->vlan_id(), 100);
  EXPECT_EQ(v->vlan_pcp(), 3);
  EXPECT_EQ(v->type(), ethernet::ethertype::ipv4);
  EXPECT_EQ(v->header_length(), 18u);
  EXPECT_EQ(v->payload().data(), test::udp_vlan.data() + 18);
  auto r = ethernet::repr::parse(*v);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->vlan_id, 100);
  EXPECT_EQ(r->buffer_len(), 18u);
  std::array<std::byte, 18> out{};
  ASSERT_EQ(r->emit(out), 18u);
  EXPECT_TRUE(std::ranges::equal(out, std::span(test::udp_vlan).first(18)));
  std::array<std::byte, 17> small{};
  EXPECT_EQ(r->emit(small), 0u);
}

TEST(Ethernet, EveryTruncationIsTruncated) {
  for (std::size_t n = 0; n < 14; ++n)
    EXPECT_EQ(ethernet::view::check(std::span(test::arp_request).first(n)).error_code(), error::truncated) << n;
  for (std::size_t n = 0; n < 18; ++n)
    EXPECT_EQ(ethernet::view::check(std::span(test::udp_vlan).first(n)).error_code(), error::truncated) << n;
  EXPECT_TRUE(ethernet::view::check(std::span(test::udp_vlan).first(18)));
  EXPECT_TRUE(ethernet::view::check(std::span(test::arp_request).first(14)));
}

TEST(Ethernet, UnknownEthertypeIsReportedNotRefused) {
  auto f = test::arp_request;
  store_be16(f.data() + 12, 0x88b5);
  auto v = ethernet::view::check(f);
  ASSERT_TRUE(v);
  EXPECT_EQ(static_cast<std::uint16_t>(v->type()), 0x88b5);
  ethernet::repr r{mac_addr{2, 0, 0, 0, 0, 1}, mac_addr::broadcast(), ethernet::ethertype{0x88b5}, std::nullopt, 0};
  EXPECT_EQ(ethernet::repr::parse(*v).value(), r);
}

TEST(Arp, ParsesKnownRequest) {
  auto v = arp::view::check(std::span(test::arp_request).subspan(14));
  ASSERT_TRUE(v);
  auto r = arp::repr::parse(*v);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->op, arp::operation::request);
  EXPECT_EQ(r->sender_mac, (mac_addr{2, 0, 0, 0, 0, 1}));
  EXPECT_EQ(r->sender_ip, (ipv4_addr{10, 0, 0, 1}));
  EXPECT_TRUE(r->target_mac.is_zero());
  EXPECT_EQ(r->target_ip, (ipv4_addr{10, 0, 0, 2}));
  std::array<std::byte, 28> out{};
  ASSERT_EQ(r->emit(out), 28u);
  EXPECT_TRUE(std::ranges::equal(out, std::span(test::arp_request).subspan(14)));
}

TEST(Arp, ReplyRoundTrip) {
  const arp::repr reply{arp::operation::reply, {2, 0, 0, 0, 0, 2}, {10, 0, 0, 2}, {2, 0, 0, 0, 0, 1}, {10, 0, 0, 1}};
  std::array<std::byte, 28> out{};
  ASSERT_EQ(reply.emit(out), 28u);
  // Exact bytes, field by field.
  constexpr auto expect = bytes_of<28>({0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02, 2, 0, 0, 0, 0, 2, 10, 0,
                                        0, 2, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1});
  EXPECT_EQ(out, expect);
  auto back = arp::repr::parse(*arp::view::check(out));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, reply);
}

TEST(Arp, EveryTruncationIsTruncated) {
  const auto p = std::span(test::arp_request).subspan(14);
  for (std::size_t n = 0; n < 28; ++n)
    EXPECT_EQ(arp::view::check(p.first(n)).error_code(), error::truncated) << n;
}

TEST(Arp, OtherHardwareOrProtocolIsUnsupported) {
  for (std::size_t at : {1u, 2u, 4u, 5u}) {   // htype, ptype, hlen, plen
    auto f = test::arp_request;
    f[14 + at] ^= std::byte{0x10};
    EXPECT_EQ(arp::view::check(std::span(f).subspan(14)).error_code(), error::unsupported) << at;
  }
  auto f = test::arp_request;
  f[14 + 7] = std::byte{3};   // RARP request
  auto v = arp::view::check(std::span(f).subspan(14));
  ASSERT_TRUE(v);
  EXPECT_EQ(arp::repr::parse(*v).error_code(), error::unsupported);
}

}  // namespace
}  // namespace ringlab::wire
