// RX checksum offload (sim_nic_config::rx_csum_offload, sim_nic/rx_csum.hpp): sim_nic checks IPv4 and
// UDP/TCP checksums at ingest and sets rx_meta flags good/bad; the stack skips the software check on
// good and drops on bad with the same reason it would give itself. The same feed replayed with the
// offload off and on ends with the same datagrams and the same counters, drop by drop.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "port/frame_ref.hpp"
#include "sim_nic/rx_csum.hpp"
#include "sim_nic/sim_nic.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/udp_socket.hpp"
#include "tests/unit/stack/frames.hpp"

using namespace ringlab;
using namespace ringlab::stack;
using namespace ringlab::stack::testing;
using trace::drop_reason;

namespace {

const wire::ipv4_addr group{239, 1, 1, 1};

bytes bad_udp_checksum(std::string_view payload) {
  bytes b = udp(peer_ip, group, 6000, 5000, text(payload));
  b[14 + 20 + 6] ^= std::byte{0x40};   // the UDP checksum field
  return b;
}

std::vector<bytes> feed() {
  std::vector<bytes> f;
  f.push_back(udp(peer_ip, group, 6000, 5000, text("good one")));
  f.push_back(bad_udp_checksum("corrupted udp"));                        // bad_l4_checksum
  bytes ip_bad = udp(peer_ip, me_ip, 7000, 9000, text("corrupted ip"));
  ip_bad[14 + 10] ^= std::byte{1};
  f.push_back(ip_bad);                                                   // bad_ip_checksum
  bytes zero = udp(peer_ip, group, 6000, 5000, text("no checksum"));
  wire::store_be16(zero.data() + 14 + 20 + 6, 0);
  f.push_back(zero);                                                     // delivered: zero = absent
  bytes payload_hit = udp(peer_ip, group, 6000, 5000, text("payload bit flipped"));
  payload_hit.back() ^= std::byte{0x01};
  f.push_back(payload_hit);                                              // bad_l4_checksum
  // A fragmented datagram whose L4 checksum is wrong: the NIC cannot judge fragments, the stack
  // checks the reassembled datagram itself.
  bytes l4 = udp_l4(peer_ip, group, 6000, 5000, text(std::string(600, 'R')));
  l4[6] ^= std::byte{0x10};
  auto frags = fragments(peer_ip, group, wire::udp::ip_protocol, l4, 4242, {{0, 304}, {304, l4.size() - 304}});
  for (auto& fr : frags) {
    const auto mac = wire::multicast_mac(group);
    mac.store(fr.data());
    f.push_back(fr);                                                     // bad_l4_checksum after reassembly
  }
  f.push_back(udp(peer_ip, group, 6000, 5000, text("good two")));
  return f;
}

struct result {
  std::vector<std::string> got;
  interface_counters ctr;
  std::vector<std::uint16_t> flags;   // rx_meta flags of every frame, in order
};

result replay(bool offload) {
  const auto frames = feed();
  std::vector<std::uint64_t> ts;
  for (std::size_t i = 0; i < frames.size(); ++i) ts.push_back(1000 + i * 1000);
  const auto trace = sim::pcap_trace::from_frames(frames, ts);
  sim::sim_nic_config nc;
  nc.pool = {.frames = 64, .frame_size = 2048, .headroom = 128};
  nc.rx_csum_offload = offload;
  sim::sim_nic nic(nc);
  nic.load(trace);
  nic.advance_to(1'000'000);
  result r;
  // The flags as the NIC wrote them: peek at the ring through a tap port (rx_burst, then release).
  interface_config c;
  c.mac = me_mac;
  c.addr = me_ip;
  {
    interface ifc(nic.queue(0), c);
    udp_socket s(ifc, 64);
    EXPECT_FALSE(s.bind({{}, 5000}));
    EXPECT_FALSE(s.join_group(group, 0));
    ifc.poll(1'000'000);
    std::error_code ec;
    while (s.available()) {
      auto f = s.try_receive_frame(ec);
      r.got.emplace_back(reinterpret_cast<const char*>(f.payload().data()), f.payload().size());
      r.flags.push_back(f.frame().meta.flags);
    }
    s.close();
    r.ctr = ifc.counters();
  }
  return r;
}

}  // namespace

TEST(csum_offload, nic_flags_each_frame_good_bad_or_unchecked) {
  const auto f = feed();
  using port::rx_ip_csum_good, port::rx_l4_csum_good, port::rx_ip_csum_bad, port::rx_l4_csum_bad;
  EXPECT_EQ(sim::rx_checksum_flags(f[0]), rx_ip_csum_good | rx_l4_csum_good);
  EXPECT_EQ(sim::rx_checksum_flags(f[1]), rx_ip_csum_good | rx_l4_csum_bad);
  EXPECT_EQ(sim::rx_checksum_flags(f[2]), rx_ip_csum_bad);                      // no L4 verdict then
  EXPECT_EQ(sim::rx_checksum_flags(f[3]), rx_ip_csum_good | rx_l4_csum_good);   // absent counts as good
  EXPECT_EQ(sim::rx_checksum_flags(f[4]), rx_ip_csum_good | rx_l4_csum_bad);
  EXPECT_EQ(sim::rx_checksum_flags(f[5]), rx_ip_csum_good);                     // a fragment: IP only
  EXPECT_EQ(sim::rx_checksum_flags(f[6]), rx_ip_csum_good);
  const bytes arp_frame = arp(wire::arp::operation::request, peer_mac, peer_ip, {}, me_ip, wire::mac_addr::broadcast());
  EXPECT_EQ(sim::rx_checksum_flags(arp_frame), 0);                              // not IPv4: no verdict
  bytes udp_len_bad = f[0];
  wire::store_be16(udp_len_bad.data() + 14 + 20 + 4, 200);                      // UDP length past the packet
  EXPECT_EQ(sim::rx_checksum_flags(udp_len_bad), rx_ip_csum_good);              // the stack judges it
}

TEST(csum_offload, corrupted_udp_checksum_is_dropped_as_bad_checksum_with_offload_on_and_off) {
  const result sw = replay(false), hw = replay(true);
  for (const result* r : {&sw, &hw}) {
    EXPECT_EQ(r->got, (std::vector<std::string>{"good one", "no checksum", "good two"}));
    EXPECT_EQ(r->ctr.rx_frames, 8u);
    EXPECT_EQ(r->ctr.dropped(drop_reason::bad_l4_checksum), 3u);   // two whole datagrams + the reassembled one
    EXPECT_EQ(r->ctr.dropped(drop_reason::bad_ip_checksum), 1u);
    EXPECT_EQ(r->ctr.dropped_total(), 4u);
    EXPECT_EQ(r->ctr.udp_received, 3u);
    EXPECT_EQ(r->ctr.udp_delivered, 3u);
    EXPECT_EQ(r->ctr.fragments_received, 2u);
    EXPECT_EQ(r->ctr.datagrams_reassembled, 1u);
  }
  EXPECT_EQ(sw.flags, (std::vector<std::uint16_t>{0, 0, 0}));
  const std::uint16_t good = port::rx_ip_csum_good | port::rx_l4_csum_good;
  EXPECT_EQ(hw.flags, (std::vector<std::uint16_t>{good, good, good}));
}
