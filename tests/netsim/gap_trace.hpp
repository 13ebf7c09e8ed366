#pragma once
// A replay with gaps, for the tests that sim time honours timers (tests/netsim/stack/timers_in_gaps_test
// drives the stack through sim::event_loop; tests/netsim/bypass runs `ringlab mcast-recv --backend sim`
// on it; tests/unit/trace_flow replays it as `ringlab trace replay` does). Written with the lab's own wire code (tests/unit/stack/frames.hpp) and gen_trace's pcap writer:
//
//   t0              UDP to 239.1.1.1:5000 "first"
//   Q = t0+1ms      IGMPv2 general query, max response time 1.0 s: each joined group's report is due
//                   at the time its timer draws, in [Q, Q+1 s)
//   Q+1.5 s         UDP to 239.1.1.1:5000 "after the gap" (the next frame: 1.5 s later)
//   F = Q+1.5s+1ms  the first fragment of a datagram to 10.0.0.2:9000 whose rest never comes:
//                   fragment_timeout at F+30 s
//   F+45 s          UDP to 239.1.1.1:5000 "last"
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "sim_nic/pcap_trace.hpp"
#include "stack/iface/igmp_membership.hpp"
#include "tests/unit/stack/frames.hpp"
#include "tools/gen_trace/gen_trace.hpp"

namespace ringlab::netsim_gap {

using stack::time_ns;
using namespace ringlab::stack::testing;

inline constexpr time_ns t0 = 5 * stack::sec;
inline constexpr time_ns query_at = t0 + 1 * stack::ms;
inline constexpr time_ns max_resp = 1 * stack::sec;                  // max_resp_code 10 (tenths of a second)
inline constexpr time_ns after_gap = query_at + 1500 * stack::ms;    // the next frame after the query
inline constexpr time_ns frag_at = after_gap + 1 * stack::ms;        // F
inline constexpr time_ns last_at = frag_at + 45 * stack::sec;
inline const std::vector<wire::ipv4_addr> groups{{239, 1, 1, 1}, {239, 1, 1, 2}, {239, 1, 1, 3}};

inline std::string temp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("ringlab-gap-" + std::to_string(::getpid()) + "-" + name)).string();
}

// Writes the replay to `path` the way gen-trace writes a pcap; returns path.
inline std::string write_gap_trace(const std::string& path) {
  std::vector<gen_trace::packet> p;
  auto add = [&](bytes f, time_ns t) {
    const auto n = static_cast<std::uint32_t>(f.size());
    p.push_back({std::move(f), n, t});
  };
  add(udp(peer_ip, groups[0], 6000, 5000, text("first")), t0);
  add(igmp_query({}, 10, 2), query_at);
  add(udp(peer_ip, groups[0], 6000, 5000, text("after the gap")), after_gap);
  const bytes l4 = udp_l4(peer_ip, me_ip, 7000, 9000, text(std::string(600, 'F')));
  add(fragments(peer_ip, me_ip, 17, l4, 777, {{0, 304}})[0], frag_at);   // the rest never comes
  add(udp(peer_ip, groups[0], 6000, 5000, text("last")), last_at);
  EXPECT_EQ(gen_trace::write_pcap(path, p), "");
  return path;
}

// What the IGMP timers draw for this seed after the query, asked of the stack's own membership table
// (these groups joined in this order): "<virtual ns><what><group>" per report, in time order.
inline std::vector<std::string> igmp_oracle(std::uint64_t seed, const std::string& what,
                                            const std::vector<wire::ipv4_addr>& joined = groups) {
  stack::igmp_membership m(seed);
  for (auto g : joined) m.join(g);
  m.on_query({}, max_resp, false, query_at);
  std::vector<std::string> out;
  for (time_ns t; (t = m.next_deadline()) != stack::never;)
    m.on_timer(t, [&](wire::ipv4_addr g) { out.push_back(std::to_string(t) + what + g.to_string()); }, [] {});
  return out;
}

inline std::string describe_igmp(std::span<const std::byte> b) {
  const auto v = wire::igmp::view::check(b);
  const auto m = wire::igmp::repr::parse(*v);
  if (m->kind != wire::igmp::type::v3_report)
    return std::string(m->kind == wire::igmp::type::leave ? "igmp v2 leave " : "igmp v2 report ") + m->group.to_string();
  std::string what = "igmp v3";
  for (const auto g : v->records()) {
    const auto k = g.kind();
    using rt = wire::igmp::record_type;
    what += k == rt::mode_is_exclude ? " is_ex " : k == rt::change_to_exclude ? " to_ex " : k == rt::change_to_include ? " to_in " : " ? ";
    what += g.group().to_string();
  }
  return what;
}

// One line per frame of a pcap: "<virtual ns> <what>" (ARP requests, IGMPv2 and v3 messages).
inline std::vector<std::string> describe_tx(const std::string& path) {
  std::vector<std::string> out;
  auto t = sim::pcap_trace::open(path);
  EXPECT_TRUE(t) << t.error;
  if (!t) return out;
  for (const auto& r : t->records()) {
    const auto e = wire::ethernet::view::check(t->bytes(r));
    std::string what = "?";
    if (e && e->type() == wire::ethernet::ethertype::arp) {
      const auto a = wire::arp::repr::parse(*wire::arp::view::check(e->payload()));
      what = "arp request " + a->target_ip.to_string();
    } else if (e) {
      const auto ip = wire::ipv4::view::check(e->payload());
      if (ip && ip->proto() == wire::igmp::ip_protocol) what = describe_igmp(ip->payload());
    }
    out.push_back(std::to_string(r.ts_ns) + " " + what);
  }
  return out;
}

}  // namespace ringlab::netsim_gap
