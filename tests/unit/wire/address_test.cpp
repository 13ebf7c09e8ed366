#include <gtest/gtest.h>

#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"

namespace ringlab::wire {
namespace {

static_assert(ipv4_addr::parse("239.1.1.1")->is_multicast());
static_assert(multicast_mac({239, 129, 1, 1}) == mac_addr{0x01, 0x00, 0x5e, 0x01, 0x01, 0x01});
static_assert(sizeof(ipv4_addr) == 4 && sizeof(mac_addr) == 6);

TEST(Ipv4Addr, ParseAndPrint) {
  EXPECT_EQ(ipv4_addr::parse("10.0.0.2"), (ipv4_addr{10, 0, 0, 2}));
  EXPECT_EQ(ipv4_addr::parse("10.0.0.2")->value, 0x0a000002u);
  EXPECT_EQ(ipv4_addr::parse("255.255.255.255"), ipv4_addr::broadcast());
  EXPECT_EQ(ipv4_addr::parse("0.0.0.0"), ipv4_addr::any());
  EXPECT_EQ((ipv4_addr{239, 1, 1, 42}).to_string(), "239.1.1.42");
  EXPECT_EQ(ipv4_addr{}.to_string(), "0.0.0.0");
  for (const char* bad : {"", "10.0.0", "10.0.0.2.", "10.0.0.256", "10.0.0.02", "1.2.3.4 ", " 1.2.3.4", "a.b.c.d",
                          "10..0.1", "1.2.3.-4", "1000.1.1.1", "10.0.0.2x"})
    EXPECT_FALSE(ipv4_addr::parse(bad).has_value()) << bad;
}

TEST(Ipv4Addr, Classes) {
  EXPECT_TRUE((ipv4_addr{224, 0, 0, 1}).is_multicast());
  EXPECT_TRUE((ipv4_addr{239, 255, 255, 255}).is_multicast());
  EXPECT_FALSE((ipv4_addr{240, 0, 0, 1}).is_multicast());
  EXPECT_FALSE((ipv4_addr{223, 255, 255, 255}).is_multicast());
  EXPECT_TRUE((ipv4_addr{10, 0, 0, 2}).is_unicast());
  EXPECT_FALSE(ipv4_addr::broadcast().is_unicast());
  EXPECT_TRUE((ipv4_addr{127, 0, 0, 1}).is_loopback());
  EXPECT_TRUE((ipv4_addr{10, 0, 0, 2}).same_subnet({10, 0, 0, 200}, 24));
  EXPECT_FALSE((ipv4_addr{10, 0, 0, 2}).same_subnet({10, 0, 1, 2}, 24));
  EXPECT_TRUE((ipv4_addr{10, 0, 0, 2}).same_subnet({11, 0, 1, 2}, 0));
  EXPECT_FALSE((ipv4_addr{10, 0, 0, 2}).same_subnet({10, 0, 0, 3}, 32));
}

TEST(MacAddr, ParsePrintClasses) {
  constexpr mac_addr host{0x02, 0, 0, 0, 0, 0x02};
  EXPECT_EQ(mac_addr::parse("02:00:00:00:00:02"), host);
  EXPECT_EQ(mac_addr::parse("0A-bC-00-00-00-02"), (mac_addr{0x0a, 0xbc, 0, 0, 0, 2}));
  EXPECT_EQ(host.to_string(), "02:00:00:00:00:02");
  EXPECT_EQ(mac_addr::broadcast().to_string(), "ff:ff:ff:ff:ff:ff");
  for (const char* bad : {"", "02:00:00:00:00", "02:00:00:00:00:0g", "02:00:00:00:00:002", "02.00.00.00.00.02"})
    EXPECT_FALSE(mac_addr::parse(bad).has_value()) << bad;
  EXPECT_TRUE(host.is_unicast());
  EXPECT_TRUE(mac_addr::broadcast().is_multicast());
  EXPECT_TRUE(mac_addr::broadcast().is_broadcast());
  EXPECT_TRUE(multicast_mac({224, 0, 0, 1}).is_multicast());
}

TEST(MacAddr, MulticastMappingKeepsLow23Bits) {
  EXPECT_EQ(multicast_mac({239, 1, 1, 1}).to_string(), "01:00:5e:01:01:01");
  EXPECT_EQ(multicast_mac({224, 0, 0, 22}).to_string(), "01:00:5e:00:00:16");
  EXPECT_EQ(multicast_mac({239, 255, 255, 255}).to_string(), "01:00:5e:7f:ff:ff");
  // 32 groups share a MAC: the top bit of the second octet is dropped.
  EXPECT_EQ(multicast_mac({224, 128, 1, 1}), multicast_mac({239, 0, 1, 1}));
}

}  // namespace
}  // namespace ringlab::wire
