// One lane, one timer queue: an ARP resolution that never answers, a lone fragment and a pending IGMP
// report armed together in one interface. poll() returns the earliest of them, and polling at each
// returned deadline fires each timer exactly there, in deadline order, with exact counters.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "stack/iface/interface.hpp"
#include "stack/socket/udp_socket.hpp"
#include "tests/unit/stack/frames.hpp"
#include "tests/unit/stack/test_port.hpp"

using namespace ringlab;
using namespace ringlab::stack;
using namespace ringlab::stack::testing;
using trace::drop_reason;

TEST(stack_lane_timers, arp_reassembly_and_igmp_share_one_queue_and_fire_in_deadline_order) {
  test_port port;
  {
    interface_config c;
    c.mac = me_mac;
    c.addr = me_ip;
    c.gateway = wire::ipv4_addr{10, 0, 0, 254};
    c.igmp_version = 2;
    c.seed = 5;
    c.fragments.timeout = 1500 * ms;
    interface ifc(port, c);
    udp_socket s(ifc);
    ASSERT_FALSE(ifc.join(wire::ipv4_addr{239, 1, 1, 1}, 0));
    port.sent.clear();
    EXPECT_EQ(ifc.next_deadline(), never);
    ASSERT_FALSE(s.send_to(text("lost"), {wire::ipv4_addr{8, 8, 8, 8}, 53}, 0));   // ARP for the gateway: retry at 1 s
    const bytes l4 = udp_l4(peer_ip, me_ip, 7000, 9000, text(std::string(600, 'F')));
    port.inject(fragments(peer_ip, me_ip, 17, l4, 31, {{0, 304}})[0]);   // the rest never comes: 1.5 s
    port.inject(igmp_query({}, 25, 2));                                   // v2 report within 2.5 s
    const time_ns first = ifc.poll(0);
    ASSERT_EQ(port.sent.size(), 1u);   // the first ARP request, at once
    // What each poll at a returned deadline sent or dropped: "<ms> arp|igmp|frag_timeout|arp_unresolved".
    std::vector<std::string> got;
    time_ns igmp_at = never;
    std::size_t sent = 1;
    for (time_ns t = first; t != never;) {
      const auto frag = ifc.counters().dropped(drop_reason::fragment_timeout);
      const auto unres = ifc.counters().dropped(drop_reason::arp_unresolved);
      const time_ns next = ifc.poll(t);
      ASSERT_GT(next, t);
      const std::string at = std::to_string(t / ms);
      for (; sent < port.sent.size(); ++sent) {
        const bool arp = port.sent[sent][12] == std::byte{0x08} && port.sent[sent][13] == std::byte{0x06};
        got.push_back(at + (arp ? " arp" : " igmp"));
        if (!arp) igmp_at = t;
      }
      if (ifc.counters().dropped(drop_reason::fragment_timeout) != frag) got.push_back(at + " frag_timeout");
      if (ifc.counters().dropped(drop_reason::arp_unresolved) != unres) got.push_back(at + " arp_unresolved");
      t = next;
    }
    ASSERT_NE(igmp_at, never);
    EXPECT_LT(igmp_at, 2500 * ms);
    EXPECT_EQ(first, std::min(1 * sec, igmp_at));
    // The expected story, with the IGMP report put in its place by its (seeded) time.
    std::vector<std::pair<time_ns, std::string>> want{
        {1000 * ms, "arp"}, {1500 * ms, "frag_timeout"}, {2000 * ms, "arp"}, {3000 * ms, "arp_unresolved"}};
    want.insert(std::upper_bound(want.begin(), want.end(), std::pair{igmp_at, std::string{}},
                                 [](const auto& a, const auto& b) { return a.first < b.first; }),
                {igmp_at, "igmp"});
    std::vector<std::string> want_s;
    for (const auto& [t, w] : want) want_s.push_back(std::to_string(t / ms) + " " + w);
    EXPECT_EQ(got, want_s);
    EXPECT_EQ(ifc.counters().arp_requests_sent, 3u);
    EXPECT_EQ(ifc.counters().igmp_reports_sent, 2u);   // the join's and the answer
    EXPECT_EQ(ifc.arp_pending(), 0u);
    EXPECT_EQ(ifc.fragments_in_flight(), 0u);
  }
  EXPECT_EQ(port.pool().out(), 0u);
}
