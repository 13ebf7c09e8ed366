// The UDP fast path (interface::fast_udp) against the general path: one feed, run once with tracing
// on (every frame then takes the general path) and once with it off (eligible frames take the fast
// path). Same datagrams, same counters, same drop reasons; and exactly the plain Ethernet/IPv4
// (no options, not a fragment)/UDP frames to a socket went the fast way. IP options, fragments, a
// VLAN tag, bad lengths and bad checksums all fall to the general path.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "trace/trace.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/udp_socket.hpp"
#include "tests/unit/stack/frames.hpp"
#include "tests/unit/stack/test_port.hpp"

using namespace ringlab;
using namespace ringlab::stack;
using namespace ringlab::stack::testing;
using trace::drop_reason;

namespace {

const wire::ipv4_addr group{239, 1, 1, 1}, other_group{239, 9, 9, 9};

void fix_ip_checksum(bytes& f, std::size_t ip_off = 14) {
  std::byte* ip = f.data() + ip_off;
  const std::size_t hl = (wire::load_u8(ip) & 0x0f) * 4u;
  wire::store_be16(ip + 10, 0);
  wire::store_be16(ip + 10, wire::checksum::compute({ip, hl}));
}

// A UDP datagram whose IPv4 header carries one 4-byte option (four NOPs): IHL 6.
bytes with_ip_options(std::string_view payload) {
  const bytes plain = udp(peer_ip, me_ip, 7000, 9000, text(payload));
  // Sized up front and filled with std::copy / fill: GCC 12 at -O3 flags insert() at the end of a
  // 34-byte vector (-Warray-bounds, a false positive).
  bytes f(plain.size() + 4);
  std::copy(plain.begin(), plain.begin() + 34, f.begin());
  std::fill(f.begin() + 34, f.begin() + 38, std::byte{1});   // four NOPs
  std::copy(plain.begin() + 34, plain.end(), f.begin() + 38);
  wire::store_u8(f.data() + 14, 0x46);
  wire::store_be16(f.data() + 16, static_cast<std::uint16_t>(wire::load_be16(f.data() + 16) + 4));
  fix_ip_checksum(f);
  return f;
}

bytes vlan_tagged(bytes f) {
  const std::byte tag[4] = {std::byte{0x81}, std::byte{0x00}, std::byte{0x00}, std::byte{0x07}};
  f.insert(f.begin() + 12, tag, tag + 4);
  return f;
}

struct entry {
  bytes frame;
  bool fast;   // expected to take the fast path
};

std::vector<entry> feed() {
  std::vector<entry> f;
  f.push_back({udp(peer_ip, me_ip, 7000, 9000, text("unicast 1")), true});
  f.push_back({udp(peer_ip, group, 6000, 5000, text("group 1")), true});
  f.push_back({with_ip_options("with ip options"), false});                  // delivered, general path
  f.push_back({vlan_tagged(udp(peer_ip, me_ip, 7000, 9000, text("vlan 7"))), false});   // delivered
  const bytes l4 = udp_l4(peer_ip, me_ip, 7000, 9000, text(std::string(40, 'F')));
  for (auto& fr : fragments(peer_ip, me_ip, wire::udp::ip_protocol, l4, 99, {{0, 24}, {24, l4.size() - 24}}))
    f.push_back({fr, false});                                                // reassembled, delivered
  bytes udp_len_long = udp(peer_ip, me_ip, 7000, 9000, text("udp length too long"));
  wire::store_be16(udp_len_long.data() + 34 + 4, 200);
  f.push_back({udp_len_long, false});                                        // bad_l4_length
  bytes udp_len_short = udp(peer_ip, me_ip, 7000, 9000, text("udp length short"));
  wire::store_be16(udp_len_short.data() + 34 + 4, 4);
  f.push_back({udp_len_short, false});                                       // bad_l4_length
  bytes ip_total_long = udp(peer_ip, me_ip, 7000, 9000, text("ip total too long"));
  wire::store_be16(ip_total_long.data() + 16, 400);
  fix_ip_checksum(ip_total_long);
  f.push_back({ip_total_long, false});                                       // bad_ip_total_len
  bytes tiny_total = udp(peer_ip, me_ip, 7000, 9000, text("x"));
  wire::store_be16(tiny_total.data() + 16, 24);                              // room for no UDP header
  fix_ip_checksum(tiny_total);
  f.push_back({tiny_total, false});                                          // truncated (UDP)
  bytes ip_bad = udp(peer_ip, me_ip, 7000, 9000, text("ip checksum"));
  ip_bad[14 + 10] ^= std::byte{1};
  f.push_back({ip_bad, false});                                              // bad_ip_checksum
  bytes l4_bad = udp(peer_ip, me_ip, 7000, 9000, text("udp checksum"));
  l4_bad.back() ^= std::byte{1};
  f.push_back({l4_bad, false});                                              // bad_l4_checksum
  f.push_back({udp(peer_ip, me_ip, 7000, 9999, text("no socket")), false});   // no_socket
  f.push_back({udp(peer_ip, other_group, 6000, 5000, text("not joined")), false});   // not_joined
  bytes other_mac = udp(peer_ip, me_ip, 7000, 9000, text("other mac"));
  other_mac[5] = std::byte{0x77};
  f.push_back({other_mac, false});                                           // not_ours (L2)
  bytes zero = udp(peer_ip, me_ip, 7000, 9000, text("zero checksum"));
  wire::store_be16(zero.data() + 34 + 6, 0);
  f.push_back({zero, true});                                                 // no checksum: fast
  bytes padded = udp(peer_ip, group, 6000, 5000, text("pad"));
  padded.resize(64);                                                         // link padding after the IP packet
  f.push_back({padded, true});
  f.push_back({udp(peer_ip, me_ip, 7000, 9000, text("unicast 2")), true});
  return f;
}

struct outcome {
  std::vector<std::string> uni, mc;
  interface_counters ctr;
};

outcome run(bool tracing) {
  test_port port;
  outcome o;
  {
    interface_config c;
    c.mac = me_mac;
    c.addr = me_ip;
    interface ifc(port, c);
    udp_socket u(ifc, 64), m(ifc, 64);
    EXPECT_FALSE(u.bind({{}, 9000}));
    EXPECT_FALSE(m.bind({{}, 5000}));
    EXPECT_FALSE(m.join_group(group, 0));
    for (const auto& e : feed()) EXPECT_TRUE(port.inject(e.frame));
    trace::enable(tracing);
    ifc.poll(1000);
    trace::enable(false);
    (void)trace::drain();
    std::error_code ec;
    while (u.available()) {
      auto f = u.try_receive_frame(ec);
      o.uni.emplace_back(reinterpret_cast<const char*>(f.payload().data()), f.payload().size());
    }
    while (m.available()) {
      auto f = m.try_receive_frame(ec);
      o.mc.emplace_back(reinterpret_cast<const char*>(f.payload().data()), f.payload().size());
    }
    u.close();
    m.close();
    o.ctr = ifc.counters();
  }
  EXPECT_EQ(port.pool().out(), 0u);
  return o;
}

}  // namespace

TEST(stack_fast_path, general_and_fast_paths_reach_the_same_verdicts) {
  const outcome general = run(true), fast = run(false);
  const std::vector<std::string> uni{"unicast 1", "with ip options", "vlan 7", std::string(40, 'F'), "zero checksum",
                                     "unicast 2"};
  const std::vector<std::string> mc{"group 1", "pad"};
  std::size_t eligible = 0;
  for (const auto& e : feed()) eligible += e.fast;
  for (const outcome* o : {&general, &fast}) {
    EXPECT_EQ(o->uni, uni);
    EXPECT_EQ(o->mc, mc);
    EXPECT_EQ(o->ctr.rx_frames, feed().size());
    EXPECT_EQ(o->ctr.udp_received, 9u);   // past the UDP checks: the 8 delivered and the one without a socket
  }
  EXPECT_EQ(general.ctr.udp_fast_path, 0u);
  EXPECT_EQ(fast.ctr.udp_fast_path, eligible);
  EXPECT_EQ(fast.ctr.udp_delivered, general.ctr.udp_delivered);
  EXPECT_EQ(fast.ctr.udp_delivered, 8u);
  EXPECT_EQ(fast.ctr.fragments_received, 2u);
  EXPECT_EQ(fast.ctr.datagrams_reassembled, 1u);
  for (std::size_t i = 0; i < static_cast<std::size_t>(drop_reason::count_); ++i) {
    const auto r = static_cast<drop_reason>(i);
    EXPECT_EQ(fast.ctr.dropped(r), general.ctr.dropped(r)) << trace::to_string(r);
  }
  EXPECT_EQ(fast.ctr.dropped(drop_reason::bad_l4_length), 2u);
  EXPECT_EQ(fast.ctr.dropped(drop_reason::bad_ip_total_len), 1u);
  EXPECT_EQ(fast.ctr.dropped(drop_reason::truncated), 1u);
  EXPECT_EQ(fast.ctr.dropped(drop_reason::bad_ip_checksum), 1u);
  EXPECT_EQ(fast.ctr.dropped(drop_reason::bad_l4_checksum), 1u);
  EXPECT_EQ(fast.ctr.dropped(drop_reason::no_socket), 1u);
  EXPECT_EQ(fast.ctr.dropped(drop_reason::not_joined), 1u);
  EXPECT_EQ(fast.ctr.dropped(drop_reason::not_ours), 1u);
  EXPECT_EQ(fast.ctr.dropped_total(), 9u);
}

// The fast path remembers one flow's socket; binding, connecting and closing must be seen at once.
TEST(stack_fast_path, flow_memo_follows_bind_connect_and_close) {
  test_port port;
  {
    interface_config c;
    c.mac = me_mac;
    c.addr = me_ip;
    interface ifc(port, c);
    udp_socket any(ifc, 16);
    ASSERT_FALSE(any.bind({{}, 9000}));
    auto send = [&](std::string_view t) {
      EXPECT_TRUE(port.inject(udp(peer_ip, me_ip, 7000, 9000, text(t))));
      ifc.poll(1000);
    };
    send("to any");
    udp_socket conn(ifc, 16);   // bound to our address and connected to the peer: more specific
    ASSERT_FALSE(conn.bind({me_ip, 9000}) == std::error_code{});   // address_in_use: any() holds 9000
    any.close();
    ASSERT_FALSE(conn.bind({me_ip, 9000}));
    send("to nobody yet");   // conn is bound, not yet connected: takes it
    ASSERT_FALSE(conn.connect({peer_ip, 7000}));
    send("to conn");
    conn.close();
    send("dropped");
    EXPECT_EQ(any.counters().received, 1u);
    EXPECT_EQ(conn.counters().received, 2u);
    EXPECT_EQ(ifc.counters().dropped(drop_reason::no_socket), 1u);
    EXPECT_EQ(ifc.counters().udp_fast_path, 3u);
  }
  EXPECT_EQ(port.pool().out(), 0u);
}
