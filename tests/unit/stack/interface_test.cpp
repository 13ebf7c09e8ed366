// The interface driven frame by frame through a test port: exact reply bytes (checked against an
// independent Python oracle, tests/unit/stack/expected.py), exact drop counters, pool balance.
#include <gtest/gtest.h>

#include "stack/iface/interface.hpp"
#include "stack/socket/udp_socket.hpp"
#include "tests/unit/stack/frames.hpp"
#include "tests/unit/stack/test_port.hpp"

using namespace ringlab;
using namespace ringlab::stack;
using namespace ringlab::stack::testing;
using trace::drop_reason;

namespace {

interface_config config(int igmp_version = 3) {
  interface_config c;
  c.mac = me_mac;
  c.addr = me_ip;
  c.prefix_len = 24;
  c.gateway = wire::ipv4_addr{10, 0, 0, 254};
  c.igmp_version = igmp_version;
  c.seed = 42;
  return c;
}

struct stack_test : ::testing::Test {
  test_port port;
  void TearDown() override { EXPECT_EQ(port.pool().out(), 0u) << "a frame leaked"; }
};

// Every drop counter except the ones named is zero.
void expect_only_drops(const interface& ifc, std::initializer_list<std::pair<drop_reason, std::uint64_t>> want) {
  for (std::size_t i = 0; i < static_cast<std::size_t>(drop_reason::count_); ++i) {
    const auto r = static_cast<drop_reason>(i);
    std::uint64_t expected = 0;
    for (auto [wr, n] : want)
      if (wr == r) expected = n;
    EXPECT_EQ(ifc.counters().dropped(r), expected) << "drop reason " << trace::to_string(r);
  }
}

}  // namespace

TEST_F(stack_test, arp_request_for_us_gets_the_exact_reply_and_teaches_the_cache) {
  interface ifc(port, config());
  port.inject(arp(wire::arp::operation::request, peer_mac, peer_ip, {}, me_ip, wire::mac_addr::broadcast()));
  ifc.poll(1000);
  ASSERT_EQ(port.sent.size(), 1u);
  EXPECT_EQ(to_hex(port.sent[0]),
            "020000000001020000000002080600010800060400020200000000020a0000020200000000010a000001"
            "000000000000000000000000000000000000");
  EXPECT_EQ(ifc.counters().arp_requests_answered, 1u);
  EXPECT_EQ(ifc.arp().lookup(peer_ip, 1000), peer_mac);
  expect_only_drops(ifc, {});
}

TEST_F(stack_test, arp_request_for_someone_else_is_not_ours_and_not_learned) {
  interface ifc(port, config());
  port.inject(arp(wire::arp::operation::request, peer_mac, peer_ip, {}, wire::ipv4_addr{10, 0, 0, 9},
                  wire::mac_addr::broadcast()));
  ifc.poll(0);
  EXPECT_TRUE(port.sent.empty());
  EXPECT_FALSE(ifc.arp().lookup(peer_ip, 0).has_value());
  expect_only_drops(ifc, {{drop_reason::not_ours, 1}});
}

TEST_F(stack_test, icmp_echo_gets_the_exact_reply) {
  interface ifc(port, config());
  bytes icmp(8 + 12);
  wire::icmp::repr{wire::icmp::type::echo_request, 0x1234, 1, text("ringlab-ping")}.emit(icmp);
  port.inject(ipv4(peer_ip, me_ip, wire::icmp::ip_protocol, icmp));
  ifc.poll(0);
  ASSERT_EQ(port.sent.size(), 1u);
  EXPECT_EQ(to_hex(port.sent[0]),
            "02000000000102000000000208004500002800014000400126d20a0000020a00000100005f9a1234000172696e676c61622d"
            "70696e67000000000000");
  EXPECT_EQ(ifc.counters().icmp_echo_answered, 1u);
  expect_only_drops(ifc, {});
}

TEST_F(stack_test, icmp_with_a_bad_checksum_is_dropped_without_reply) {
  interface ifc(port, config());
  bytes icmp(8 + 4);
  wire::icmp::repr{wire::icmp::type::echo_request, 1, 1, text("ping")}.emit(icmp);
  icmp[2] ^= std::byte{0xff};
  port.inject(ipv4(peer_ip, me_ip, wire::icmp::ip_protocol, icmp));
  ifc.poll(0);
  EXPECT_TRUE(port.sent.empty());
  expect_only_drops(ifc, {{drop_reason::bad_l4_checksum, 1}});
}

TEST_F(stack_test, igmpv3_reports_on_join_and_leave_exact_bytes) {
  interface ifc(port, config(3));
  const wire::ipv4_addr g{239, 1, 1, 1};
  ASSERT_FALSE(ifc.join(g, 0));
  ASSERT_FALSE(ifc.join(g, 0));   // a second join of the same group sends nothing
  ASSERT_FALSE(ifc.leave(g, 0));
  ASSERT_FALSE(ifc.leave(g, 0));
  ASSERT_EQ(port.sent.size(), 2u);
  EXPECT_EQ(to_hex(port.sent[0]),
            "01005e000016020000000002080046c00028000140000102f9f60a000002e0000016940400002200e9fb0000000104000000"
            "ef010101000000000000");
  EXPECT_EQ(to_hex(port.sent[1]),
            "01005e000016020000000002080046c00028000240000102f9f50a000002e0000016940400002200eafb0000000103000000"
            "ef010101000000000000");
  EXPECT_EQ(ifc.leave(g, 0), std::errc::address_not_available);
}

TEST_F(stack_test, igmpv2_reports_on_join_and_leave_exact_bytes) {
  interface ifc(port, config(2));
  const wire::ipv4_addr g{239, 1, 1, 1};
  ASSERT_FALSE(ifc.join(g, 0));
  ASSERT_FALSE(ifc.leave(g, 0));
  ASSERT_EQ(port.sent.size(), 2u);
  EXPECT_EQ(to_hex(port.sent[0]),
            "01005e010101020000000002080046c00020000140000102ea120a000002ef010101940400001600f9fcef010101"
            "0000000000000000000000000000");
  EXPECT_EQ(to_hex(port.sent[1]),
            "01005e000002020000000002080046c00020000240000102fa110a000002e0000002940400001700f8fcef010101"
            "0000000000000000000000000000");
}

TEST_F(stack_test, igmpv3_general_query_is_answered_once_within_max_resp_time) {
  interface ifc(port, config(3));
  ASSERT_FALSE(ifc.join(wire::ipv4_addr{239, 1, 1, 1}, 0));
  ASSERT_FALSE(ifc.join(wire::ipv4_addr{239, 2, 2, 2}, 0));
  port.sent.clear();
  port.inject(igmp_query({}, 100, 3));   // max resp 10.0 s
  const time_ns t0 = 5 * sec;
  const time_ns due = ifc.poll(t0);
  ASSERT_GE(due, t0);
  ASSERT_LT(due, t0 + 10 * sec);
  EXPECT_TRUE(port.sent.empty());
  ifc.poll(due - 1);
  EXPECT_TRUE(port.sent.empty());
  EXPECT_EQ(ifc.poll(due), never);
  ASSERT_EQ(port.sent.size(), 1u);
  EXPECT_EQ(to_hex(port.sent[0]),
            "01005e000016020000000002080046c00030000340000102f9ec0a000002e0000016940400002200f8f50000000202000000"
            "ef01010102000000ef020202");
  EXPECT_EQ(ifc.counters().igmp_queries, 1u);
}

TEST_F(stack_test, igmp_query_delay_comes_from_the_seed_not_a_clock) {
  auto run = [&](std::uint64_t seed) {
    test_port p;
    auto c = config(2);
    c.seed = seed;
    interface ifc(p, c);
    (void)ifc.join(wire::ipv4_addr{239, 1, 1, 1}, 0);
    p.inject(igmp_query({}, 100, 2));
    return ifc.poll(0);
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

TEST_F(stack_test, igmpv2_group_query_is_answered_with_a_v2_report) {
  interface ifc(port, config(2));
  const wire::ipv4_addr g{239, 1, 1, 1};
  ASSERT_FALSE(ifc.join(g, 0));
  port.sent.clear();
  port.inject(igmp_query(g, 20, 2));           // 2.0 s
  port.inject(igmp_query({239, 9, 9, 9}, 20, 2));   // not ours: not_joined
  const time_ns due = ifc.poll(0);
  ASSERT_LT(due, 2 * sec);
  ifc.poll(due);
  ASSERT_EQ(port.sent.size(), 1u);
  const auto v = wire::ethernet::view::check(port.sent[0]);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->dst(), wire::multicast_mac(g));
  const auto ip = wire::ipv4::view::check(v->payload());
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->dst(), g);
  EXPECT_EQ(ip->header_len(), 24u);
  EXPECT_TRUE(ip->verify_checksum());
  const auto m = wire::igmp::view::check(ip->payload());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->msg_type(), 0x16);
  EXPECT_EQ(m->group(), g);
  EXPECT_TRUE(m->verify_checksum());
  expect_only_drops(ifc, {{drop_reason::not_joined, 1}});
}

TEST_F(stack_test, malformed_frames_are_dropped_with_their_reason) {
  interface ifc(port, config());
  udp_socket s(ifc);
  ASSERT_FALSE(s.bind({{}, 9000}));
  const bytes good = udp(peer_ip, me_ip, 1234, 9000, text("payload"));
  constexpr std::size_t ip_at = 14, udp_at = 34;

  port.inject(bytes(good.begin(), good.begin() + 10));                     // truncated ethernet
  bytes b = good; b[12] = std::byte{0x88}; b[13] = std::byte{0xb5};        // unknown ethertype
  port.inject(b);
  b = good; b[12] = std::byte{0x86}; b[13] = std::byte{0xdd};              // IPv6: unsupported
  port.inject(b);
  b = good; b[0] = std::byte{0x02}; b[5] = std::byte{0x77};                // another host's MAC
  port.inject(b);
  port.inject(bytes(good.begin(), good.begin() + ip_at + 12));             // IPv4 cut short
  b = good; b[ip_at] = std::byte{0x65};                                    // version 6
  port.inject(b);
  b = good; b[ip_at] = std::byte{0x44};                                    // ihl 4
  port.inject(b);
  b = good; wire::store_be16(b.data() + ip_at + 2, 200);                   // total length > bytes
  port.inject(b);
  b = good; b[ip_at + 10] ^= std::byte{1};                                 // header checksum
  port.inject(b);
  port.inject(udp(peer_ip, wire::ipv4_addr{10, 0, 0, 3}, 1234, 9000, text("x")));   // not our address
  port.inject(udp(peer_ip, me_ip, 1234, 9001, text("x")));                 // no socket
  b = good; b[udp_at + 8] ^= std::byte{1};                                 // UDP checksum
  port.inject(b);
  b = good; wire::store_be16(b.data() + udp_at + 4, 4);                    // UDP length < 8
  port.inject(b);
  port.inject(ipv4(peer_ip, me_ip, 6, text("tcp-ish-bytes-here-20")));      // TCP: data offset 7 in 21 bytes
  port.inject(ipv4(peer_ip, me_ip, 99, text("?")));                        // unknown protocol
  port.inject(udp(peer_ip, wire::ipv4_addr{239, 5, 5, 5}, 1234, 9000, text("x")));   // group not joined
  port.inject(good);
  ifc.poll(0);

  EXPECT_EQ(ifc.counters().rx_frames, 17u);
  expect_only_drops(ifc, {{drop_reason::truncated, 2},
                          {drop_reason::bad_ethertype, 1},
                          {drop_reason::unsupported, 2},
                          {drop_reason::tcp_bad_offset, 1},
                          {drop_reason::not_ours, 2},
                          {drop_reason::bad_ip_version, 1},
                          {drop_reason::bad_ip_header_len, 1},
                          {drop_reason::bad_ip_total_len, 1},
                          {drop_reason::bad_ip_checksum, 1},
                          {drop_reason::no_socket, 1},
                          {drop_reason::bad_l4_checksum, 1},
                          {drop_reason::bad_l4_length, 1},
                          {drop_reason::not_joined, 1}});
  EXPECT_EQ(ifc.counters().dropped_total(), 16u);
  std::array<std::byte, 64> buf{};
  std::error_code ec;
  const auto r = s.try_receive_from(buf, ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(r.bytes, 7u);
  (void)s.try_receive_from(buf, ec);
  EXPECT_EQ(ec, std::errc::operation_would_block);
}

TEST_F(stack_test, device_verified_checksums_are_not_checked_again) {
  interface ifc(port, config());
  udp_socket s(ifc);
  ASSERT_FALSE(s.bind({{}, 9000}));
  bytes b = udp(peer_ip, me_ip, 1234, 9000, text("payload"));
  b[34 + 6] ^= std::byte{1};   // a wrong UDP checksum that the "device" vouched for
  port.inject(b, {.flags = port::rx_l4_csum_good});
  port.inject(b);              // the same without the flag
  ifc.poll(0);
  EXPECT_EQ(s.available(), 1u);
  expect_only_drops(ifc, {{drop_reason::bad_l4_checksum, 1}});
}

TEST_F(stack_test, tcp_goes_to_the_tcp_lane_which_checks_its_header) {
  interface ifc(port, config());
  port.inject(ipv4(peer_ip, me_ip, 6, bytes(20)));   // data offset 0 (tcp_socket_test has the rest)
  ifc.poll(0);
  expect_only_drops(ifc, {{drop_reason::tcp_bad_offset, 1}});
  EXPECT_EQ(ifc.tcp_counters().in_segs, 1u);
  EXPECT_EQ(ifc.tcp_counters().in_errs, 1u);
}

TEST_F(stack_test, a_full_burst_asks_to_be_polled_again_now) {
  auto c = config();
  c.rx_burst = 2;
  interface ifc(port, c);
  for (int i = 0; i < 3; ++i) port.inject(arp(wire::arp::operation::request, peer_mac, peer_ip, {}, me_ip, wire::mac_addr::broadcast()));
  EXPECT_EQ(ifc.poll(77), 77u);
  EXPECT_EQ(ifc.poll(78), never);
  EXPECT_EQ(port.sent.size(), 3u);
}

TEST_F(stack_test, every_hop_is_traced_with_the_frames_packet_id) {
  interface ifc(port, config());
  udp_socket s(ifc);
  ASSERT_FALSE(s.bind({{}, 9000}));
  trace::enable(true);
  (void)trace::drain();
  port.inject(udp(peer_ip, me_ip, 1, 9000, text("traced")), {.packet_id = 41, .queue = 3});
  port.inject(udp(peer_ip, me_ip, 1, 9001, text("dropped")), {.packet_id = 42, .queue = 3});
  ifc.poll(500);
  std::error_code ec;
  s.try_receive_frame(ec).release();
  const auto ev = trace::drain();
  trace::enable(false);
  std::vector<std::string> got;
  for (const auto& e : ev) {
    EXPECT_EQ(e.queue, 3u);
    EXPECT_EQ(e.t_ns, 500u);
    // Appended piece by piece: GCC 12 at -O3 flags ":" + std::string (-Wrestrict, a false positive).
    std::string line = std::to_string(e.packet_id);
    line.append(":").append(trace::to_string(e.stage)).append(":").append(trace::to_string(e.v));
    if (e.reason != drop_reason::none) line.append(":").append(trace::to_string(e.reason));
    got.push_back(line);
  }
  EXPECT_EQ(got, (std::vector<std::string>{
                     "41:port_rx:pass", "41:eth:pass", "41:ipv4:pass", "41:udp:pass", "41:socket_queue:deliver",
                     "42:port_rx:pass", "42:eth:pass", "42:ipv4:pass", "42:udp:drop:no_socket",
                     "42:release:pass", "41:deliver:deliver", "41:release:pass"}));
}

// The `deliver` hop: the application took the datagram, through each of the socket's reader doors
// (copy, lent frame, copy out of the slot as the Asio layer does, a reader already waiting), each
// at the datagram's own packet id, before its frame goes back.
TEST_F(stack_test, every_reader_door_emits_the_deliver_hop) {
  interface ifc(port, config());
  udp_socket s(ifc);
  ASSERT_FALSE(s.bind({{}, 9000}));
  trace::enable(true);
  (void)trace::drain();
  for (std::uint64_t id : {51, 52, 53}) port.inject(udp(peer_ip, me_ip, 1, 9000, text("door")), {.packet_id = id});
  ifc.poll(700);
  std::byte buf[16];
  std::error_code ec;
  EXPECT_EQ(s.try_receive_from(buf, ec).bytes, 4u);   // 51
  s.try_receive_frame(ec).release();                  // 52
  ASSERT_NE(s.front(), nullptr);
  s.pop_front();                                      // 53
  // A reader waiting on an empty queue takes the next one as it arrives (copied: back with the burst).
  s.set_reader([](void*, udp_socket&, const datagram&) noexcept { return udp_socket::taken::copied; }, nullptr);
  port.inject(udp(peer_ip, me_ip, 1, 9000, text("door")), {.packet_id = 54});
  ifc.poll(800);
  s.set_reader(nullptr, nullptr);
  const auto ev = trace::drain();
  trace::enable(false);
  std::vector<std::string> got;
  for (const auto& e : ev)
    if (e.stage == trace::hop::deliver || e.stage == trace::hop::release || e.stage == trace::hop::socket_queue)
      got.push_back(std::to_string(e.packet_id) + ":" + std::string(trace::to_string(e.stage)) + "@" +
                    std::to_string(e.t_ns));
  EXPECT_EQ(got, (std::vector<std::string>{
                     "51:socket_queue@700", "52:socket_queue@700", "53:socket_queue@700",
                     "51:deliver@700", "51:release@700", "52:deliver@700", "52:release@700", "53:deliver@700",
                     "53:release@700", "54:socket_queue@800", "54:deliver@800", "54:release@800"}));
  for (const auto& e : ev) {
    if (e.stage == trace::hop::deliver) {
      EXPECT_EQ(e.v, trace::verdict::deliver);
    }
  }
  EXPECT_EQ(port.pool().out(), 0u);
}
