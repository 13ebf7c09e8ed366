// --so_flags: packetdrill's own address defaults with no flags, every key read, every bad value named.
#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "tools/packetdrill/so_flags.hpp"

namespace ringlab::packetdrill {
namespace {

so_config ok(std::string_view flags) {
  auto r = parse_so_flags(flags);
  if (auto* msg = std::get_if<std::string>(&r)) ADD_FAILURE() << "rejected '" << flags << "': " << *msg;
  return std::holds_alternative<so_config>(r) ? std::get<so_config>(r) : so_config{};
}

std::string error_of(std::string_view flags) {
  auto r = parse_so_flags(flags);
  return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : std::string("(accepted)");
}

TEST(so_flags, no_flags_give_packetdrills_default_addresses) {
  // packetdrill's config.c: local 192.168.0.1, netmask 255.255.0.0, gateway 192.168.0.2; remote
  // 192.0.2.1 is off-link, so it is reached through the gateway.
  const so_config c = ok("");
  EXPECT_EQ(c.iface.addr, (wire::ipv4_addr{192, 168, 0, 1}));
  EXPECT_EQ(c.iface.prefix_len, 16);
  EXPECT_EQ(c.iface.gateway, (wire::ipv4_addr{192, 168, 0, 2}));
  EXPECT_EQ(c.mtu, 1500u);
  EXPECT_EQ(c.tick_usecs, 1u);
  EXPECT_EQ(c.start_usecs, 1'000'000'000'000'000u);
  EXPECT_EQ(c.receive_limit_secs, 600u);
  EXPECT_EQ(c.stall_ms, 10'000u);
  EXPECT_TRUE(c.tcp.sack);
  EXPECT_TRUE(c.tcp.timestamps);
  EXPECT_TRUE(c.tcp.window_scaling);
  EXPECT_EQ(c.tcp.mss, 1460);
}

TEST(so_flags, every_key_is_read_with_any_separator) {
  const so_config c = ok(
      "local_ip=10.1.2.3,prefix_len=8;gateway_ip=10.0.0.1 local_mac=02:aa:bb:cc:dd:ee peer_mac=02-11-22-33-44-55 "
      "mtu=1400 start_usecs=5 tick_usecs=3 receive_limit_secs=9 stall_ms=250 sack=0 timestamps=off window_scaling=false "
      "nagle=0 congestion=reno rto_min_ms=1000 rto_initial_ms=3000 delayed_ack_ms=200 msl_secs=60 mss=1000 seed=42 "
      "rcvbuf=6291456 sndbuf=16384 rack_tlp=0 limited_transmit=off prr=1 dsack=0 cwnd_validation=0");
  EXPECT_EQ(c.iface.addr, (wire::ipv4_addr{10, 1, 2, 3}));
  EXPECT_EQ(c.iface.prefix_len, 8);
  EXPECT_EQ(c.iface.gateway, (wire::ipv4_addr{10, 0, 0, 1}));
  EXPECT_EQ(c.iface.mac, (wire::mac_addr{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}));
  EXPECT_EQ(c.peer_mac, (wire::mac_addr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}));
  EXPECT_EQ(c.mtu, 1400u);
  EXPECT_EQ(c.start_usecs, 5u);
  EXPECT_EQ(c.tick_usecs, 3u);
  EXPECT_EQ(c.receive_limit_secs, 9u);
  EXPECT_EQ(c.stall_ms, 250u);
  EXPECT_FALSE(c.tcp.sack);
  EXPECT_FALSE(c.tcp.timestamps);
  EXPECT_FALSE(c.tcp.window_scaling);
  EXPECT_FALSE(c.tcp.nagle);
  EXPECT_EQ(c.tcp.congestion, tcp::congestion_control::newreno);
  EXPECT_EQ(c.tcp.rto_min, 1000 * stack::ms);
  EXPECT_EQ(c.tcp.rto_initial, 3000 * stack::ms);
  EXPECT_EQ(c.tcp.delayed_ack, 200 * stack::ms);
  EXPECT_EQ(c.tcp.msl, 60 * stack::sec);
  EXPECT_EQ(c.tcp.mss, 1000);
  EXPECT_EQ(c.iface.seed, 42u);
  EXPECT_EQ(c.tcp.recv_buffer, 6291456u);
  EXPECT_EQ(c.tcp.send_buffer, 16384u);
  EXPECT_FALSE(c.tcp.rack_tlp);
  EXPECT_FALSE(c.tcp.limited_transmit);
  EXPECT_TRUE(c.tcp.prr);
  EXPECT_FALSE(c.tcp.dsack);
  EXPECT_FALSE(c.tcp.cwnd_validation);
}

TEST(so_flags, the_mss_never_exceeds_what_the_mtu_carries) {
  EXPECT_EQ(ok("mtu=1000").tcp.mss, 960);
}

TEST(so_flags, a_bad_value_names_the_key_the_value_and_what_was_expected) {
  EXPECT_EQ(error_of("local_ip=192.168.0.256"),
            "so_flags: bad value '192.168.0.256' for local_ip: expected a dotted IPv4 unicast address");
  EXPECT_EQ(error_of("prefix_len=33"), "so_flags: bad value '33' for prefix_len: expected a prefix length, 1..32");
  EXPECT_EQ(error_of("sack=yes"), "so_flags: bad value 'yes' for sack: expected 0 or 1 (off/on)");
  EXPECT_EQ(error_of("congestion=bbr"), "so_flags: bad value 'bbr' for congestion: expected cubic or reno");
  EXPECT_EQ(error_of("peer_mac=01:00:5e:00:00:01"),
            "so_flags: bad value '01:00:5e:00:00:01' for peer_mac: expected a unicast MAC address, six hex pairs");
  EXPECT_EQ(error_of("tick_usecs=0"), "so_flags: bad value '0' for tick_usecs: expected microseconds, 1..1000");
  EXPECT_EQ(error_of("mtu=15x0"), "so_flags: bad value '15x0' for mtu: expected an MTU, 576..1500 (frames are 2 KiB)");
}

TEST(so_flags, an_unknown_key_or_a_word_without_value_is_refused) {
  EXPECT_EQ(error_of("sack=1 bogus=2").rfind("so_flags: unknown key 'bogus' (known: local_ip prefix_len", 0), 0u);
  EXPECT_EQ(error_of("sack"), "so_flags: 'sack' is not key=value");
  EXPECT_EQ(error_of("=1"), "so_flags: '=1' is not key=value");
}

TEST(so_flags, a_gateway_off_the_local_subnet_is_refused) {
  EXPECT_EQ(error_of("local_ip=10.0.0.2 prefix_len=24"),
            "so_flags: gateway_ip 192.168.0.2 is not on 10.0.0.2/24");
}

}  // namespace
}  // namespace ringlab::packetdrill
