// wire::ipv4_flow: the lenient parse a NIC's flow steering does (sim_nic's RSS uses it). Where it is
// more lenient than the views, and where it gives up.
#include <gtest/gtest.h>

#include <vector>

#include "stack/wire/ipv4_flow.hpp"
#include "tests/unit/wire/frames.hpp"

namespace ringlab::wire {
namespace {

std::vector<std::byte> copy(std::span<const std::byte> b) { return {b.begin(), b.end()}; }

TEST(Ipv4Flow, UntaggedUdp) {
  const auto f = ipv4_flow::find(test::udp_mcast);
  ASSERT_TRUE(f);
  EXPECT_EQ(*f, (ipv4_flow{{10, 0, 0, 1}, {239, 1, 1, 1}, 17, false, true, 40000, 5001}));
}

TEST(Ipv4Flow, Tagged8021QAnd8021ad) {
  auto b = copy(test::udp_vlan);
  const ipv4_flow want{{10, 0, 0, 1}, {10, 0, 0, 2}, 17, false, true, 1234, 5001};
  ASSERT_TRUE(ipv4_flow::find(b));
  EXPECT_EQ(*ipv4_flow::find(b), want);
  store_be16(b.data() + ethernet::field::type, 0x88a8);   // an 802.1ad service tag: skipped the same way
  ASSERT_TRUE(ipv4_flow::find(b));
  EXPECT_EQ(*ipv4_flow::find(b), want);
  EXPECT_FALSE(ethernet::view::check(b)->has_vlan());     // which the stack's view does not do
  b.resize(ethernet::field::tagged_payload - 1);          // the tag cut
  EXPECT_FALSE(ipv4_flow::find(b));
}

TEST(Ipv4Flow, IgnoresTotalLengthAndChecksumsAsANicDoes) {
  auto b = copy(test::udp_mcast);
  std::byte* ip = b.data() + ethernet::header_len;
  store_be16(ip + ipv4::field::total_len, 9000);   // more than there is: the view says bad_total_length
  store_be16(ip + ipv4::field::checksum, 0);
  EXPECT_FALSE(ipv4::view::check(std::span(b).subspan(ethernet::header_len)));
  const auto f = ipv4_flow::find(b);
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->has_ports);
  EXPECT_EQ(f->dst_port, 5001);
}

TEST(Ipv4Flow, PortsOnlyForUnfragmentedTcpAndUdpWithFourBytes) {
  auto b = copy(test::udp_mcast);
  std::byte* ip = b.data() + ethernet::header_len;
  store_be16(ip + ipv4::field::flags_frag, ipv4::flag_more_frags);   // first fragment
  auto f = ipv4_flow::find(b);
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->fragment);
  EXPECT_FALSE(f->has_ports);
  EXPECT_EQ(f->src_port, 0);
  store_be16(ip + ipv4::field::flags_frag, 0);
  store_u8(ip + ipv4::field::proto, 6);   // TCP: ports at the same offsets
  f = ipv4_flow::find(b);
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->has_ports);
  EXPECT_EQ(f->src_port, 40000);
  store_u8(ip + ipv4::field::proto, 1);   // ICMP: addresses only
  f = ipv4_flow::find(b);
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->has_ports);
  EXPECT_EQ(f->proto, 1);
  store_u8(ip + ipv4::field::proto, 17);
  b.resize(ethernet::header_len + ipv4::min_header_len + 3);   // 3 bytes of UDP
  f = ipv4_flow::find(b);
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->has_ports);
  EXPECT_EQ(f->dst, (ipv4_addr{239, 1, 1, 1}));
}

TEST(Ipv4Flow, NothingWithoutAWholeIpv4Header) {
  EXPECT_FALSE(ipv4_flow::find(test::arp_request));                       // not IPv4
  auto b = copy(test::udp_mcast);
  std::byte* ip = b.data() + ethernet::header_len;
  store_u8(ip + ipv4::field::ver_ihl, 0x65);                              // version 6
  EXPECT_FALSE(ipv4_flow::find(b));
  store_u8(ip + ipv4::field::ver_ihl, 0x44);                              // IHL 4
  EXPECT_FALSE(ipv4_flow::find(b));
  store_u8(ip + ipv4::field::ver_ihl, 0x46);                              // IHL 6: 24 bytes
  b.resize(ethernet::header_len + 23);
  EXPECT_FALSE(ipv4_flow::find(b));
  b.resize(ethernet::header_len + 24);
  EXPECT_TRUE(ipv4_flow::find(b));
  b.resize(ethernet::header_len - 1);
  EXPECT_FALSE(ipv4_flow::find(b));
}

}  // namespace
}  // namespace ringlab::wire
