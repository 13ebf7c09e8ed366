// The bundled traces (traces/README.md) replayed through sim_nic into the stack:
//   mcast-feed.pcap     exactly the joined groups' datagrams, byte for byte, seq 0,1,2,... per group
//   malformed.pcap      each frame dropped with the reason the README's table intends (device drops
//                       by sim_nic, the rest by the stack; the stack reassembles, so the lone first
//                       fragment is held and then dropped as fragment_timeout)
//   arp-icmp-igmp.pcap  the replies (ARP, two echo replies, one report after the queries), checked
//                       field by field and by tshark
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <unistd.h>

#include "sim_nic/event_loop.hpp"
#include "sim_nic/sim_nic.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/udp_socket.hpp"
#include "tests/unit/stack/frames.hpp"

using namespace ringlab;
using namespace ringlab::stack;
using namespace ringlab::stack::testing;
using trace::drop_reason;

namespace {

std::string trace_path(const char* name) {
  const char* src = std::getenv("RINGLAB_SOURCE_DIR");
  return std::string(src ? src : ".") + "/traces/" + name;
}

// Opens a bundled trace, or explains why the test cannot run.
std::optional<sim::pcap_trace> open_trace(const char* name, std::string& why) {
  const std::string p = trace_path(name);
  if (!std::filesystem::exists(p)) {
    why = p + " is missing (made by `ringlab gen-trace`, see traces/README.md)";
    return std::nullopt;
  }
  auto t = sim::pcap_trace::open(p);
  if (!t) {
    why = t.error;
    return std::nullopt;
  }
  return std::move(*t.value);
}

interface_config host(int igmp_version = 3) {
  interface_config c;
  c.mac = me_mac;
  c.addr = me_ip;
  c.gateway = wire::ipv4_addr{10, 0, 0, 254};
  c.igmp_version = igmp_version;
  c.seed = 5;
  return c;
}

// Replays the whole trace through sim::event_loop, polling the interface at every due time and every
// timer it asks for, until `until` (absolute, on the trace clock); after_poll runs after each poll.
template <class After>
void run(sim::sim_nic& nic, interface& ifc, time_ns until, After&& after_poll) {
  sim::event_loop loop(nic, {.until_ns = until});
  loop.add_lane([&](std::uint64_t now) {
    const time_ns next = ifc.poll(now);
    after_poll();
    return next;
  });
  (void)loop.run();
}

std::span<const std::byte> udp_payload(std::span<const std::byte> frame) {
  const auto e = wire::ethernet::view::check(frame);
  const auto ip = wire::ipv4::view::check(e->payload());
  return wire::udp::view::check(ip->payload())->payload();
}

}  // namespace

TEST(stack_bundled, mcast_feed_delivers_the_joined_groups_in_order_byte_for_byte) {
  std::string why;
  auto trace = open_trace("mcast-feed.pcap", why);
  if (!trace) GTEST_SKIP() << why;
  // What should arrive: every frame for 239.1.1.1:5001 and 239.1.1.3:5003, in trace order.
  std::map<std::uint16_t, std::vector<std::vector<std::byte>>> want;
  std::size_t other = 0;
  for (const auto& r : trace->records()) {
    const auto f = trace->bytes(r);
    const auto ip = wire::ipv4::view::check(wire::ethernet::view::check(f)->payload());
    const auto port = wire::udp::view::check(ip->payload())->dst_port();
    if (port == 5001 || port == 5003) {
      const auto p = udp_payload(f);
      want[port].emplace_back(p.begin(), p.end());
    } else {
      ++other;
    }
  }
  ASSERT_GT(want[5001].size(), 1000u);
  ASSERT_GT(other, 1000u);

  sim::sim_nic_config nc;
  nc.pool = {.frames = 1024, .frame_size = 2048, .headroom = 256};
  sim::sim_nic nic(nc);
  nic.load(*trace);
  {
    interface ifc(nic.queue(0), host());
    udp_socket s1(ifc, 4096), s3(ifc, 4096), s2(ifc, 4096);
    ASSERT_FALSE(s1.bind({{}, 5001}));
    ASSERT_FALSE(s3.bind({wire::ipv4_addr{239, 1, 1, 3}, 5003}));
    ASSERT_FALSE(s2.bind({{}, 5002}));   // bound but never joined: 239.1.1.2 stays not_joined
    ASSERT_FALSE(s1.join_group({239, 1, 1, 1}, 0));
    ASSERT_FALSE(s3.join_group({239, 1, 1, 3}, 0));
    std::map<std::uint16_t, std::vector<std::vector<std::byte>>> got;
    std::map<std::uint16_t, std::uint64_t> next_seq;
    bool seq_ok = true;
    auto drain = [&] {
      std::error_code ec;
      for (udp_socket* s : {&s1, &s3}) {
        while (s->available()) {
          lent_frame f = s->try_receive_frame(ec);
          const auto p = f.payload();
          const std::uint16_t port = s->local_endpoint().port;
          // The lab's datagram header: magic "RLMC", then seq at byte 8.
          seq_ok = seq_ok && wire::load_be32(p.data()) == 0x524C4D43u &&
                   wire::load_be64(p.data() + 8) == next_seq[port]++;
          got[port].emplace_back(p.begin(), p.end());
        }
      }
    };
    run(nic, ifc, never, drain);
    EXPECT_TRUE(seq_ok);
    EXPECT_EQ(got[5001], want[5001]);
    EXPECT_EQ(got[5003], want[5003]);
    EXPECT_EQ(ifc.counters().dropped(drop_reason::not_joined), other);
    EXPECT_EQ(ifc.counters().dropped_total(), other);
    EXPECT_EQ(s2.available(), 0u);
  }
  nic.return_cache();
  EXPECT_EQ(nic.pool().out(), 0u);
}

TEST(stack_bundled, malformed_frames_are_dropped_with_the_intended_reasons) {
  std::string why;
  auto trace = open_trace("malformed.pcap", why);
  if (!trace) GTEST_SKIP() << why;
  ASSERT_EQ(trace->records().size(), 15u);
  sim::sim_nic_config nc;
  nc.runt_len = 60;   // the device refuses frames under the Ethernet minimum (README: "a runt is the device's call")
  sim::sim_nic nic(nc);
  nic.load(*trace);
  std::vector<std::uint64_t> delivered_ids;
  {
    interface ifc(nic.queue(0), host());
    udp_socket s(ifc);
    ASSERT_FALSE(s.bind({{}, 5001}));
    trace::enable(true);
    (void)trace::drain();
    auto drain = [&] {
      std::error_code ec;
      while (s.available()) delivered_ids.push_back(s.try_receive_frame(ec).frame().meta.packet_id);
    };
    const time_ns start = trace->first_ts();
    run(nic, ifc, start + 1 * sec, drain);
    EXPECT_EQ(ifc.fragments_in_flight(), 1u);   // packet 11, the lone first fragment
    ifc.poll(start + 31 * sec);                 // the reassembly timer (30 s) runs out
    const auto events = trace::drain();
    trace::enable(false);

    // Device drops (sim_nic): 2 and 3 runt, 15 snap_truncated.
    const auto nc_ctr = nic.counters();
    EXPECT_EQ(nc_ctr.rx_runt, 2u);
    EXPECT_EQ(nc_ctr.rx_snap_truncated, 1u);
    // Stack drops, packet by packet, from the trace events.
    std::map<std::uint64_t, drop_reason> by_packet;
    for (const auto& e : events)
      if (e.v == trace::verdict::drop && e.packet_id != 0 && e.stage != trace::hop::nic_rx) by_packet[e.packet_id] = e.reason;
    const std::map<std::uint64_t, drop_reason> want{
        {4, drop_reason::bad_ethertype},    {6, drop_reason::bad_ip_version},  {7, drop_reason::bad_ip_header_len},
        {8, drop_reason::bad_ip_header_len}, {9, drop_reason::bad_ip_total_len}, {10, drop_reason::bad_ip_checksum},
        {12, drop_reason::bad_l4_length},   {13, drop_reason::bad_l4_checksum}};
    EXPECT_EQ(by_packet, want);
    EXPECT_EQ(ifc.counters().dropped(drop_reason::fragment_timeout), 1u);
    EXPECT_EQ(ifc.counters().dropped_total(), want.size() + 1);
    EXPECT_EQ(ifc.counters().rx_frames, 12u);   // 15 minus the device's three
  }
  EXPECT_EQ(delivered_ids, (std::vector<std::uint64_t>{1, 5, 14}));   // valid, VLAN-tagged, zero checksum
  nic.return_cache();
  EXPECT_EQ(nic.pool().out(), 0u);
}

TEST(stack_bundled, arp_icmp_igmp_replies) {
  std::string why;
  auto trace = open_trace("arp-icmp-igmp.pcap", why);
  if (!trace) GTEST_SKIP() << why;
  const std::string tx = (std::filesystem::temp_directory_path() /
                          ("ringlab-stack-ctl-" + std::to_string(::getpid()) + ".pcap")).string();
  sim::sim_nic_config nc;
  nc.tx_pcap = tx;
  sim::sim_nic nic(nc);
  nic.load(*trace);
  const wire::ipv4_addr g{239, 1, 1, 1};
  interface_counters ctr;
  {
    interface ifc(nic.queue(0), host(2));
    ASSERT_FALSE(ifc.join(g, trace->first_ts()));
    run(nic, ifc, trace->first_ts() + 20 * sec, [] {});
    ctr = ifc.counters();
  }
  nic.flush_tx();
  EXPECT_EQ(ctr.arp_requests_answered, 1u);
  EXPECT_EQ(ctr.icmp_echo_answered, 2u);
  EXPECT_EQ(ctr.igmp_queries, 3u);
  EXPECT_EQ(ctr.igmp_reports_sent, 2u);   // on join, then one answer: the timers only ever shorten
  // Who-has 10.0.0.3 gets no reply, and is no drop: its sender is in our cache, so RFC 826's merge
  // step refreshes that entry (a request for another host from an unknown sender is not_ours).
  EXPECT_EQ(ctr.dropped_total(), 0u);

  auto sent = sim::pcap_trace::open(tx);
  ASSERT_TRUE(sent) << sent.error;
  ASSERT_EQ(sent->records().size(), 5u);
  std::vector<std::string> kinds;
  for (const auto& r : sent->records()) {
    const auto f = sent->bytes(r);
    const auto e = wire::ethernet::view::check(f);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->src(), me_mac);
    if (e->type() == wire::ethernet::ethertype::arp) {
      const auto a = wire::arp::repr::parse(*wire::arp::view::check(e->payload()));
      EXPECT_EQ(a->op, wire::arp::operation::reply);
      EXPECT_EQ(a->target_ip, peer_ip);
      kinds.push_back("arp-reply");
      continue;
    }
    const auto ip = wire::ipv4::view::check(e->payload());
    ASSERT_TRUE(ip);
    EXPECT_TRUE(ip->verify_checksum());
    if (ip->proto() == wire::icmp::ip_protocol) {
      const auto m = wire::icmp::repr::parse(*wire::icmp::view::check(ip->payload()));
      ASSERT_TRUE(m);
      EXPECT_EQ(m->kind, wire::icmp::type::echo_reply);
      EXPECT_EQ(m->ident, 0x524c);
      EXPECT_EQ(m->data.size(), 56u);
      EXPECT_EQ(ip->dst(), peer_ip);
      kinds.push_back("echo-reply-" + std::to_string(m->seq_no));
    } else {
      const auto m = wire::igmp::repr::parse(*wire::igmp::view::check(ip->payload()));
      ASSERT_TRUE(m);
      EXPECT_EQ(m->kind, wire::igmp::type::v2_report);
      EXPECT_EQ(m->group, g);
      EXPECT_EQ(ip->ttl(), 1);
      kinds.push_back("v2-report");
    }
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"v2-report", "arp-reply", "echo-reply-1", "echo-reply-2", "v2-report"}));
  if (std::system("tshark --version >/dev/null 2>&1") == 0) {
    std::string out;
    const std::string cmd = "tshark -n -r " + tx +
                            " -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -T fields -e _ws.expert.severity 2>/dev/null";
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
      char buf[512];
      std::size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
      ::pclose(p);
    }
    EXPECT_EQ(out, "\n\n\n\n\n");
  }
  std::filesystem::remove(tx);
  nic.return_cache();
  EXPECT_EQ(nic.pool().out(), 0u);
}
