// The stack on sim_nic: a trace replayed through the simulated NIC's rings into one interface per
// queue. Exactly the datagrams of joined groups and bound ports arrive, byte for byte and in order;
// every other frame is dropped with its reason; the replies sim_nic writes to its TX pcap dissect
// cleanly in tshark; the pool balance returns to zero; the same trace gives the same trace events.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <unistd.h>

#include "trace/trace.hpp"
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

const wire::ipv4_addr g_joined{239, 1, 1, 1}, g_other{239, 2, 2, 2};

// A feed: multicast on a joined and a non-joined group, unicast to bound and unbound ports, a
// fragmented datagram, ARP and ICMP for us, an IGMP query, and malformed frames among them.
struct feed {
  std::vector<bytes> frames;
  std::vector<std::uint64_t> ts;
  std::vector<std::string> expect_mcast, expect_unicast;
  void add(bytes f) {
    ts.push_back(1'000'000 + frames.size() * 10'000);   // 10 us apart
    frames.push_back(std::move(f));
  }
};

feed make_feed() {
  feed f;
  for (int i = 0; i < 40; ++i) {
    const std::string m = "seq=" + std::to_string(i) + " joined";
    f.add(udp(wire::ipv4_addr{10, 0, 0, static_cast<std::uint8_t>(10 + i % 3)}, g_joined, static_cast<std::uint16_t>(6000 + i % 3), 5000, text(m)));
    f.expect_mcast.push_back(m);
    f.add(udp(peer_ip, g_other, 6000, 5000, text("other group " + std::to_string(i))));   // not_joined
    if (i % 4 == 0) {
      const std::string u = "unicast " + std::to_string(i);
      f.add(udp(peer_ip, me_ip, 7000, 9000, text(u)));
      f.expect_unicast.push_back(u);
      f.add(udp(peer_ip, me_ip, 7000, 9999, text("unbound")));                               // no_socket
    }
    if (i == 10) {
      bytes b = udp(peer_ip, g_joined, 6000, 5000, text("bad checksum"));
      b[34 + 9] ^= std::byte{0x40};
      f.add(b);                                                                               // bad_l4_checksum
      b = udp(peer_ip, me_ip, 7000, 9000, text("bad ip checksum"));
      b[14 + 10] ^= std::byte{1};
      f.add(b);                                                                               // bad_ip_checksum
      f.add(bytes(b.begin(), b.begin() + 30));                                                // truncated
    }
    if (i == 20) {
      f.add(arp(wire::arp::operation::request, peer_mac, peer_ip, {}, me_ip, wire::mac_addr::broadcast()));
      bytes icmp(8 + 8);
      wire::icmp::repr{wire::icmp::type::echo_request, 77, 1, text("netsim!!")}.emit(icmp);
      f.add(ipv4(peer_ip, me_ip, wire::icmp::ip_protocol, icmp));
      f.add(igmp_query({}, 10, 3));
      std::string big(1000, 'F');
      const bytes l4 = udp_l4(peer_ip, g_joined, 6000, 5000, text(big));
      auto frags = fragments(peer_ip, g_joined, 17, l4, 4242, {{504, 504}, {0, 504}});
      for (auto& fr : frags) fr[0] = std::byte{0x01}, fr[1] = std::byte{0x00}, fr[2] = std::byte{0x5e},
                              fr[3] = std::byte{0x01}, fr[4] = std::byte{0x01}, fr[5] = std::byte{0x01};
      for (auto& fr : frags) f.add(fr);
      f.expect_mcast.push_back(big);
    }
  }
  return f;
}

std::string str(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

struct run_result {
  std::vector<std::string> mcast, unicast;
  interface_counters ctr;
  std::uint64_t trace_hash = 0;
  std::uint32_t pool_out_after = ~0u;
  std::size_t tx = 0;
};

run_result replay(const sim::pcap_trace& trace, const std::string& tx_pcap) {
  sim::sim_nic_config nc;
  nc.queues = 1;
  nc.pool = {.frames = 512, .frame_size = 2048, .headroom = 256};
  nc.tx_pcap = tx_pcap;
  sim::sim_nic nic(nc);
  nic.load(trace);
  run_result out;
  {
    interface_config c;
    c.mac = me_mac;
    c.addr = me_ip;
    c.gateway = wire::ipv4_addr{10, 0, 0, 254};
    c.seed = 99;
    interface ifc(nic.queue(0), c);
    udp_socket mc(ifc, 1024), uc(ifc, 1024);
    EXPECT_FALSE(mc.bind({{}, 5000}));
    EXPECT_FALSE(mc.join_group(g_joined, 0));
    EXPECT_FALSE(uc.bind({me_ip, 9000}));
    // The application reads as it goes, half by copy and half by borrowing the frame.
    auto drain = [&] {
      std::error_code ec;
      std::array<std::byte, 2048> buf{};
      while (mc.available()) {
        if (mc.available() % 2) {
          auto f = mc.try_receive_frame(ec);
          out.mcast.push_back(str(f.payload()));
        } else {
          auto r = mc.try_receive_from(buf, ec);
          out.mcast.push_back(str(std::span(buf).first(r.bytes)));
        }
      }
      while (uc.available()) {
        auto f = uc.try_receive_frame(ec);
        out.unicast.push_back(str(f.payload()));
      }
    };
    trace::enable(true);
    (void)trace::drain();
    sim::event_loop loop(nic);
    loop.add_lane([&](std::uint64_t now) {
      const time_ns next = ifc.poll(now);
      drain();
      return next;
    });
    EXPECT_EQ(loop.run().ended, sim::loop_end::idle);
    out.trace_hash = trace::hash(trace::drain());
    trace::enable(false);
    mc.close();   // leaves the group: the last report
    uc.close();
    out.ctr = ifc.counters();
  }
  nic.flush_tx();
  nic.return_cache();
  out.pool_out_after = nic.pool().out();
  out.tx = nic.counters().total.opackets;
  return out;
}

}  // namespace

TEST(stack_netsim, replayed_feed_delivers_exactly_the_joined_and_bound_datagrams) {
  const feed f = make_feed();
  const auto trace = sim::pcap_trace::from_frames(f.frames, f.ts);
  const std::string tx = (std::filesystem::temp_directory_path() /
                          ("ringlab-stack-netsim-" + std::to_string(::getpid()) + ".pcap")).string();
  const run_result r = replay(trace, tx);

  EXPECT_EQ(r.mcast, f.expect_mcast);
  EXPECT_EQ(r.unicast, f.expect_unicast);
  EXPECT_EQ(r.ctr.rx_frames, f.frames.size());
  EXPECT_EQ(r.ctr.dropped(drop_reason::not_joined), 40u);
  EXPECT_EQ(r.ctr.dropped(drop_reason::no_socket), 10u);
  EXPECT_EQ(r.ctr.dropped(drop_reason::bad_l4_checksum), 1u);
  EXPECT_EQ(r.ctr.dropped(drop_reason::bad_ip_checksum), 1u);
  EXPECT_EQ(r.ctr.dropped(drop_reason::truncated), 1u);
  EXPECT_EQ(r.ctr.dropped_total(), 53u);
  EXPECT_EQ(r.ctr.arp_requests_answered, 1u);
  EXPECT_EQ(r.ctr.icmp_echo_answered, 1u);
  EXPECT_EQ(r.ctr.igmp_queries, 1u);
  EXPECT_EQ(r.ctr.datagrams_reassembled, 1u);
  // TX: join report, ARP reply, ICMP reply, query answer, leave on close.
  EXPECT_EQ(r.ctr.igmp_reports_sent, 2u);
  EXPECT_EQ(r.ctr.igmp_leaves_sent, 1u);
  EXPECT_EQ(r.tx, 5u);
  EXPECT_EQ(r.pool_out_after, 0u);

  if (std::system("tshark --version >/dev/null 2>&1") == 0) {
    const std::string cmd = "tshark -n -r " + tx +
                            " -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -T fields -e frame.protocols"
                            " -e _ws.expert.severity 2>/dev/null";
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
      char buf[4096];
      std::size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
      ::pclose(p);
    }
    EXPECT_EQ(out,
              "eth:ethertype:ip:igmp:igmp\t\n"
              "eth:ethertype:arp\t\n"
              "eth:ethertype:ip:icmp:data\t\n"
              "eth:ethertype:ip:igmp:igmp\t\n"
              "eth:ethertype:ip:igmp:igmp\t\n");
  }
  std::filesystem::remove(tx);
}

TEST(stack_netsim, same_trace_and_seed_give_the_same_events) {
  const feed f = make_feed();
  const auto trace = sim::pcap_trace::from_frames(f.frames, f.ts);
  const run_result a = replay(trace, "");
  const run_result b = replay(trace, "");
  EXPECT_NE(a.trace_hash, 0u);
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.mcast, b.mcast);
}
