#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/udp.hpp"
#include "tests/unit/wire/frames.hpp"

namespace ringlab::wire {
namespace {

constexpr ipv4_addr src{10, 0, 0, 1}, group{239, 1, 1, 1};

TEST(Udp, ParsesKnownDatagram) {
  const auto d = std::span(test::udp_mcast).subspan(34);
  auto v = udp::view::check(d);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->src_port(), 40000);
  EXPECT_EQ(v->dst_port(), 5001);
  EXPECT_EQ(v->length(), 20);
  EXPECT_EQ(v->checksum(), 0xb031);
  EXPECT_TRUE(v->verify_checksum(src, group));
  EXPECT_FALSE(v->verify_checksum(src, {239, 1, 1, 2}));   // the pseudo header counts
  auto r = udp::repr::parse(*v, src, group);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->payload.size(), 12u);
  EXPECT_EQ(load_be32(r->payload.data()), 0x524c5351u);   // "RLSQ"
  std::vector<std::byte> out(r->buffer_len());
  ASSERT_EQ(r->emit(out, src, group), 20u);
  EXPECT_TRUE(std::ranges::equal(out, d));
}

TEST(Udp, WholeFrameEmitEqualsKnownBytes) {
  const auto payload = std::span(test::udp_mcast).subspan(42);
  std::array<std::byte, 54> f{};
  const ethernet::repr eth{{2, 0, 0, 0, 0, 1}, multicast_mac(group), ethernet::ethertype::ipv4, std::nullopt, 0};
  const udp::repr u{40000, 5001, payload};
  const ipv4::repr ip{src, group, udp::ip_protocol, static_cast<std::uint16_t>(u.buffer_len()), 64, 0, 0x0102, true};
  std::size_t at = eth.emit(f);
  at += ip.emit(std::span(f).subspan(at));
  at += u.emit(std::span(f).subspan(at), src, group);
  EXPECT_EQ(at, f.size());
  EXPECT_EQ(f, test::udp_mcast);

  // The same through the VLAN frame.
  const auto vf = ethernet::view::check(test::udp_vlan);
  const auto vip = ipv4::view::check(vf->payload());
  const auto vu = udp::view::check(vip->payload());
  auto vr = udp::repr::parse(*vu, vip->src(), vip->dst());
  ASSERT_TRUE(vr);
  EXPECT_EQ(vr->dst_port, 5001);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(vr->payload.data()), vr->payload.size()), "hello");
}

TEST(Udp, EveryTruncationGetsItsReason) {
  const auto d = std::span(test::udp_mcast).subspan(34);
  for (std::size_t n = 0; n < d.size(); ++n)
    EXPECT_EQ(udp::view::check(d.first(n)).error_code(), n < 8 ? error::truncated : error::bad_length) << n;
  std::vector<std::byte> b(d.begin(), d.end());
  store_be16(b.data() + 4, 7);
  EXPECT_EQ(udp::view::check(b).error_code(), error::bad_length);
  store_be16(b.data() + 4, 8);   // shorter length is allowed: the rest is padding
  auto v = udp::view::check(b);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->payload().empty());
}

TEST(Udp, ZeroChecksumMeansNone) {
  std::vector<std::byte> b(test::udp_mcast.begin() + 34, test::udp_mcast.end());
  store_be16(b.data() + 6, 0);
  auto v = udp::view::check(b);
  EXPECT_TRUE(v->verify_checksum(src, group));
  EXPECT_TRUE(udp::repr::parse(*v, src, group));
  b[10] ^= std::byte{1};   // a payload change stays undetected without a checksum
  EXPECT_TRUE(udp::repr::parse(*udp::view::check(b), src, group));
}

TEST(Udp, BadChecksumRefusedUnlessOffloaded) {
  std::vector<std::byte> b(test::udp_mcast.begin() + 34, test::udp_mcast.end());
  b[19] ^= std::byte{0x40};
  auto v = udp::view::check(b);
  EXPECT_EQ(udp::repr::parse(*v, src, group).error_code(), error::bad_checksum);
  EXPECT_TRUE(udp::repr::parse(*v, src, group, csum::offload));
}

TEST(Udp, ComputedZeroIsSentAsAllOnes) {
  // A 2-byte payload chosen so that the datagram's sum is 0xffff with a zero checksum field.
  std::array<std::byte, 10> out{};
  udp::repr r{1000, 2000, std::span(out).subspan(8, 2)};
  const std::uint16_t partial =
      checksum::sum(std::span(out).first(8),
                    checksum::add(checksum::pseudo_header(src, group, 17, 10), checksum::add(1000, checksum::add(2000, 10))));
  store_be16(out.data() + 8, static_cast<std::uint16_t>(0xffff - partial));
  ASSERT_EQ(r.emit(out, src, group), 10u);   // payload in place
  EXPECT_EQ(load_be16(out.data() + 6), 0xffff);
  EXPECT_TRUE(udp::view::check(out)->verify_checksum(src, group));
  EXPECT_TRUE(udp::repr::parse(*udp::view::check(out), src, group));
}

TEST(Udp, EmitRefusesSmallBuffer) {
  std::array<std::byte, 4> p{};
  udp::repr r{1, 2, p};
  std::array<std::byte, 11> out{};
  EXPECT_EQ(r.emit(out, src, group), 0u);
  std::array<std::byte, 12> ok{};
  EXPECT_EQ(r.emit(ok, src, group, csum::offload), 12u);
  EXPECT_EQ(load_be16(ok.data() + 6), 0);
}

}  // namespace
}  // namespace ringlab::wire
