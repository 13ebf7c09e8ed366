// backends::parse_spec and backends::probe: the reasons AsioService prints when it falls back.
#include <gtest/gtest.h>

#include "backends/probe.hpp"
#include "tests/support/preconditions.hpp"

namespace rb = ringlab::backends;

TEST(probe, parses_afxdp_spec_with_options) {
  auto s = rb::parse_spec("afxdp:veth0:udp=5000+5001,tcp=80,icmp,arp=kernel");
  ASSERT_TRUE(s) << s.error().reason;
  EXPECT_EQ(s->backend, "afxdp");
  EXPECT_EQ(s->device, "veth0");
  EXPECT_EQ(s->udp_ports, (std::vector<std::uint16_t>{5000, 5001}));
  EXPECT_EQ(s->tcp_ports, (std::vector<std::uint16_t>{80}));
  EXPECT_TRUE(s->icmp);
  EXPECT_FALSE(s->arp_to_us);
  EXPECT_FALSE(s->all_ipv4);
}

TEST(probe, dpdk_spec_keeps_the_vdev_string_whole) {
  auto s = rb::parse_spec("dpdk:net_pcap0,rx_pcap=a.pcap,tx_pcap=b.pcap");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->backend, "dpdk");
  EXPECT_EQ(s->device, "net_pcap0,rx_pcap=a.pcap,tx_pcap=b.pcap");
}

// Our XDP program's options among net_af_xdp's devargs: taken out (the PMD would refuse keys it does
// not know) and kept for dpdk::config::xdp; every other devarg stays, in order.
TEST(probe, dpdk_spec_takes_our_xdp_options_out_of_the_devargs) {
  auto s = rb::parse_spec("dpdk:net_af_xdp0,iface=veth0,drop=0.05,xdp_prog=/x/xsk_redirect_ipv4.bpf.o,seed=7,arp=kernel");
  ASSERT_TRUE(s) << s.error().reason;
  EXPECT_EQ(s->device, "net_af_xdp0,iface=veth0,xdp_prog=/x/xsk_redirect_ipv4.bpf.o");
  EXPECT_TRUE(s->dpdk_xdp);
  EXPECT_EQ(s->drop_ppm, 50000u);
  EXPECT_EQ(s->drop_seed, 7u);
  EXPECT_FALSE(s->arp_to_us);
  auto plain = rb::parse_spec("dpdk:net_af_xdp0,iface=veth0");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->dpdk_xdp);
  EXPECT_EQ(plain->device, "net_af_xdp0,iface=veth0");
  auto bad = rb::parse_spec("dpdk:net_af_xdp0,iface=veth0,drop=2");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().reason.find("bad option 'drop=2'"), std::string::npos) << bad.error().reason;
}

TEST(probe, bad_option_names_itself) {
  auto s = rb::parse_spec("afxdp:veth0:udp=70000");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, std::errc::invalid_argument);
  EXPECT_NE(s.error().reason.find("bad option 'udp=70000'"), std::string::npos) << s.error().reason;
}

TEST(probe, kernel_is_not_a_port_and_says_so) {
  auto p = rb::probe({.backend = "kernel"});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, std::errc::not_supported);
  EXPECT_EQ(p.error().reason.rfind("kernel: ", 0), 0u) << p.error().reason;
}

TEST(probe, unknown_backend) {
  auto p = rb::probe({.backend = "netmap"});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, std::errc::invalid_argument);
  EXPECT_NE(p.error().reason.find("unknown backend 'netmap'"), std::string::npos);
}

TEST(probe, afxdp_on_a_missing_interface_names_it) {
  auto p = rb::probe({.backend = "afxdp", .device = "rlnosuchif0"});
  ASSERT_FALSE(p);
  const auto& r = p.error().reason;
#ifndef RINGLAB_HAVE_XDP
  RINGLAB_REQUIRE(ringlab::netlab::not_built("the AF_XDP backend", "libxdp-dev, libbpf-dev, clang"));
#endif
  EXPECT_EQ(p.error().code, std::errc::no_such_device) << r;
  EXPECT_EQ(r, "afxdp: rlnosuchif0: no such interface in this network namespace");
}

TEST(probe, queues_option_sets_how_many_ports) {
  auto s = rb::parse_spec("afxdp:veth0:udp=5000,queues=4");
  ASSERT_TRUE(s) << s.error().reason;
  EXPECT_EQ(s->queues, 4);
  auto one = rb::parse_spec("afxdp:veth0");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->queues, 1);
  for (const char* bad : {"afxdp:veth0:queues=0", "afxdp:veth0:queues=2+3", "afxdp:veth0:queues=x"}) {
    auto b = rb::parse_spec(bad);
    ASSERT_FALSE(b) << bad;
    EXPECT_NE(b.error().reason.find("bad option 'queues="), std::string::npos) << b.error().reason;
  }
}

TEST(probe, probe_opens_one_queue_and_points_to_probe_queues) {
  auto p = rb::probe({.backend = "afxdp", .device = "veth0", .queues = 2});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, std::errc::invalid_argument);
  EXPECT_EQ(p.error().reason, "afxdp: veth0: probe() opens one queue (2 asked for): use probe_queues()");
}

TEST(probe, probe_queues_on_a_missing_interface_names_it) {
  auto p = rb::probe_queues({.backend = "afxdp", .device = "rlnosuchif0", .queues = 2});
  ASSERT_FALSE(p);
#ifndef RINGLAB_HAVE_XDP
  RINGLAB_REQUIRE(ringlab::netlab::not_built("the AF_XDP backend", "libxdp-dev, libbpf-dev, clang"));
#endif
  EXPECT_EQ(p.error().reason, "afxdp: rlnosuchif0: no such interface in this network namespace");
}

// Issue 13.4's options: a TCP destination-port range (our connect()s' ephemeral ports) and the XDP
// program's seeded loss, as a share with up to 6 decimals (exact per million) and a seed.
TEST(probe, tcp_range_drop_and_seed_options) {
  auto s = rb::parse_spec("afxdp:veth0:tcp=5001,tcp=40000-40999,drop=0.02,seed=7");
  ASSERT_TRUE(s) << s.error().reason;
  EXPECT_EQ(s->tcp_ports, std::vector<std::uint16_t>{5001});
  EXPECT_EQ(s->tcp_range_first, 40000);
  EXPECT_EQ(s->tcp_range_last, 40999);
  EXPECT_EQ(s->drop_ppm, 20000u);
  EXPECT_EQ(s->drop_seed, 7u);
  auto t = rb::parse_spec("afxdp:veth0:drop=0.000001");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->drop_ppm, 1u);
  EXPECT_EQ(t->drop_seed, 1u);   // the default seed
  auto whole = rb::parse_spec("afxdp:veth0:drop=1");
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->drop_ppm, 1000000u);
  for (const char* bad : {"afxdp:veth0:tcp=5000-4000", "afxdp:veth0:tcp=1-2,tcp=3-4", "afxdp:veth0:tcp=0-10",
                          "afxdp:veth0:drop=1.5", "afxdp:veth0:drop=0.0000001", "afxdp:veth0:drop=2%",
                          "afxdp:veth0:drop=.5", "afxdp:veth0:seed=x", "afxdp:veth0:seed="}) {
    auto b = rb::parse_spec(bad);
    ASSERT_FALSE(b) << bad;
    EXPECT_NE(b.error().reason.find("bad option"), std::string::npos) << b.error().reason;
  }
}
