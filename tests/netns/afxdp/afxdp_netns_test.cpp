// The AF_XDP port against the real Linux kernel, at frame level, over a veth pair in namespaces the
// test makes (veth_pair.hpp). What the kernel in ns b sends arrives at our port byte for byte and in
// order; what we commit arrives at a kernel UDP socket in ns b; ARP goes to the kernel or to us as
// configured; XDP_STATISTICS counts the drops we provoke; the program is gone when the port is.
//
// Scaffold for the stack's interop tests (ARP both ways, ping answered by our ICMP, kernel sender to
// our bypass multicast receiver, our sender to a kernel receiver): open the port as open_port() does
// with arp_to_xsk / icmp_to_xsk set, give if_a no kernel address (veth_options{.a_address = false}),
// hand the port to the stack's iface, and drive the kernel side through socket_in_b().
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "backends/afxdp/afxdp_port.hpp"
#include "backends/probe.hpp"
#include "tests/netns/afxdp/veth_pair.hpp"
#include "tests/support/preconditions.hpp"

namespace ax = ringlab::backends::afxdp;
namespace tv = ringlab::test_veth;
using ringlab::port::frame_ref;

namespace {

// The machine offers what these tests need, probed apart from our port (tools/netns/preconditions.hpp):
// namespaces, XDP on veth, an AF_XDP socket bound in copy mode, and room to lock the default 8 MiB UMEM.
// Past this, a port that does not open is our failure.
#define REQUIRE_AFXDP()                                                        \
  do {                                                                         \
    RINGLAB_REQUIRE(ringlab::netlab::afxdp_unavailable());                     \
    RINGLAB_REQUIRE(ringlab::netlab::memlock_below(std::uint64_t{8} << 20));   \
  } while (0)

#define OPEN_PORT(var, cfg)                                \
  auto var##_r = ax::port::open(cfg);                      \
  ASSERT_TRUE(var##_r) << var##_r.error().reason;          \
  auto& var = *var##_r.value();                            \
  (void)var

ax::config base_config(const tv::veth_pair& v) {
  ax::config c;
  c.ifname = v.if_a;
  c.udp_ports = {5000};
  return c;
}

// Polls rx_burst until `want` frames arrived or `ms` passed; keeps the frames (caller releases).
std::vector<frame_ref> receive(ax::port& p, std::size_t want, int ms = 3000) {
  std::vector<frame_ref> got;
  std::array<frame_ref, 64> buf;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    const std::size_t n = p.rx_burst(std::span(buf).first(std::min(buf.size(), want - got.size())));
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(n));
    if (!n) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return got;
}

void send_from_b(int s, int count, std::uint16_t port, int first = 0) {
  const auto to = tv::ipv4(tv::veth_pair::addr_a, port);
  for (int i = first; i < first + count; ++i) {
    const std::string p = tv::payload_for(i);
    ASSERT_EQ(::sendto(s, p.data(), p.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to), ssize_t(p.size()));
  }
}

std::uint32_t attached_prog_id(int ifindex) {
  std::uint32_t id = 0;
  bpf_xdp_query_id(ifindex, 0, &id);
  return id;
}

}  // namespace

TEST(afxdp_netns, kernel_datagrams_arrive_exactly_and_in_order) {
  REQUIRE_AFXDP();
  tv::veth_pair v("x1");
  ASSERT_TRUE(v.ok()) << v.error;
  ASSERT_TRUE(v.enter_a());
  OPEN_PORT(p, base_config(v));
  EXPECT_NE(p.caps().name.find("afxdp:" + v.if_a + "/0"), std::string::npos) << p.caps().name;
  EXPECT_NE(p.caps().name.find("copy"), std::string::npos) << p.caps().name;   // veth: no zero-copy
  EXPECT_EQ(p.caps().mtu, 1500u);
  EXPECT_GE(p.caps().wait_fd, 0);
  std::printf("port: %s\n", p.caps().name.c_str());

  const int s = v.socket_in_b(SOCK_DGRAM);
  ASSERT_GE(s, 0);
  constexpr int n = 100;
  send_from_b(s, n, 5000);
  auto frames = receive(p, n);
  ASSERT_EQ(frames.size(), std::size_t(n));
  for (int i = 0; i < n; ++i) {
    const auto u = tv::parse_udp(frames[i].bytes.data(), frames[i].bytes.size());
    ASSERT_TRUE(u.ok) << "frame " << i;
    EXPECT_EQ(u.dport, 5000);
    EXPECT_EQ(u.payload, tv::payload_for(i)) << "frame " << i;
    EXPECT_EQ(frames[i].meta.packet_id, std::uint64_t(i + 1));
    // The frame sits where frame_pool::data(id) says: the UMEM headroom arithmetic is right.
    EXPECT_EQ(frames[i].bytes.data(), p.pool().data(frames[i].id)) << "frame " << i;
    EXPECT_TRUE(p.pool().owns(frames[i]));
  }
  // Everything the kernel does not own, the caller holds; after release, only the kernel's share is out.
  EXPECT_EQ(p.pool().out(), p.kernel_held() + std::uint32_t(n));
  p.rx_release(frames);
  EXPECT_EQ(p.pool().out(), p.kernel_held());
  EXPECT_EQ(p.pool().bad_frees(), 0u);

  ax::xdp_verdicts vd;
  ASSERT_FALSE(p.verdicts(vd));
  EXPECT_EQ(vd.to_xsk, std::uint64_t(n));
  EXPECT_EQ(vd.no_xsk, 0u);
  EXPECT_GE(vd.pass_arp, 1u);   // ns b asked who has 10.66.0.1; the kernel in ns a answered
  ax::xdp_stats st;
  ASSERT_FALSE(p.statistics(st));
  EXPECT_EQ(st.rx_dropped, 0u);
  EXPECT_EQ(st.rx_invalid_descs, 0u);
  EXPECT_EQ(st.rx_ring_full, 0u);
  EXPECT_EQ(p.stats().rx_packets, std::uint64_t(n));
  ::close(s);
}

TEST(afxdp_netns, committed_frames_reach_a_kernel_socket_exactly) {
  REQUIRE_AFXDP();
  tv::veth_pair v("x2");
  ASSERT_TRUE(v.ok()) << v.error;
  const auto mac_a = v.mac(true), mac_b = v.mac(false);
  const int r = v.socket_in_b(SOCK_DGRAM);
  ASSERT_GE(r, 0);
  const auto bind_to = tv::ipv4(tv::veth_pair::addr_b, 6000);
  ASSERT_EQ(::bind(r, reinterpret_cast<const sockaddr*>(&bind_to), sizeof bind_to), 0);
  ASSERT_TRUE(v.enter_a());
  OPEN_PORT(p, base_config(v));

  constexpr int n = 150;   // more than one batch (64) and more than copy mode's 32 per sendto
  int sent = 0;
  while (sent < n) {
    auto batch = p.tx_reserve(std::size_t(n - sent));
    ASSERT_GT(batch.size(), 0u);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto& f = batch[i];
      const auto len = tv::build_udp(reinterpret_cast<std::uint8_t*>(f.bytes.data()), mac_b, mac_a, tv::veth_pair::addr_a,
                                     tv::veth_pair::addr_b, 7000, 6000, tv::payload_for(sent + int(i)), std::uint16_t(sent + i));
      f.bytes = f.bytes.first(len);
    }
    const std::size_t k = batch.size();
    batch.commit(k);
    sent += int(k);
    // Give the peer socket time to drain between batches (its default receive buffer is small).
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(p.tx_flush(), 0u);
  for (int i = 0; i < n; ++i) {
    std::string got;
    ASSERT_TRUE(tv::recv_within(r, got, 2000)) << "datagram " << i << " did not arrive";
    EXPECT_EQ(got, tv::payload_for(i)) << "datagram " << i;
  }
  EXPECT_EQ(p.stats().tx_packets, std::uint64_t(n));
  EXPECT_EQ(p.stats().completions, std::uint64_t(n));
  EXPECT_EQ(p.stats().tx_ring_full, 0u);
  EXPECT_EQ(p.pool().out(), p.kernel_held());   // every sent frame came back through the completion ring
  ax::xdp_stats st;
  ASSERT_FALSE(p.statistics(st));
  EXPECT_EQ(st.tx_invalid_descs, 0u);
  ::close(r);
}

TEST(afxdp_netns, tx_batch_cancel_returns_frames) {
  REQUIRE_AFXDP();
  tv::veth_pair v("x3");
  ASSERT_TRUE(v.ok()) << v.error;
  ASSERT_TRUE(v.enter_a());
  OPEN_PORT(p, base_config(v));
  const auto before = p.pool().out();
  {
    auto b = p.tx_reserve(40);
    EXPECT_EQ(b.size(), 40u);
    EXPECT_EQ(p.pool().out(), before + 40);
  }   // ends uncommitted: cancelled
  EXPECT_EQ(p.pool().out(), before);
  auto b = p.tx_reserve(10);
  b.commit(0);
  EXPECT_EQ(p.pool().out(), before);
  EXPECT_EQ(p.stats().tx_packets, 0u);
  // A frame grown past its chunk, and an empty one, are refused and returned, never handed to the kernel.
  auto c = p.tx_reserve(2);
  ASSERT_EQ(c.size(), 2u);
  c[0].bytes = {c[0].bytes.data(), p.pool().config().frame_size};
  c[1].bytes = c[1].bytes.first(0);
  c.commit(2);
  EXPECT_EQ(p.stats().tx_invalid, 2u);
  EXPECT_EQ(p.stats().tx_packets, 0u);
  EXPECT_EQ(p.pool().out(), before);
  EXPECT_EQ(p.kernel_held(), before);
}

TEST(afxdp_netns, arp_goes_to_the_kernel_by_default) {
  REQUIRE_AFXDP();
  tv::veth_pair v("x4");
  ASSERT_TRUE(v.ok()) << v.error;
  ASSERT_TRUE(v.enter_a());
  OPEN_PORT(p, base_config(v));
  const int s = v.socket_in_b(SOCK_DGRAM);
  send_from_b(s, 1, 5000);
  auto frames = receive(p, 1);
  ASSERT_EQ(frames.size(), 1u);   // it could only leave ns b once the kernel in ns a answered ARP
  p.rx_release(frames);
  // Nothing but the datagram came to us: the ARP request went to the kernel.
  std::array<frame_ref, 8> more;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(p.rx_burst(more), 0u);
  ax::xdp_verdicts vd;
  ASSERT_FALSE(p.verdicts(vd));
  EXPECT_EQ(vd.to_xsk, 1u);
  EXPECT_GE(vd.pass_arp, 1u);
  const auto neigh = tv::run_out("ip -n " + v.ns_b + " neigh show " + tv::veth_pair::addr_a);
  char mac[18];
  const auto m = v.mac(true);
  std::snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  EXPECT_NE(neigh.find(mac), std::string::npos) << neigh;
  ::close(s);
}

TEST(afxdp_netns, arp_comes_to_us_when_configured_and_our_reply_is_believed) {
  REQUIRE_AFXDP();
  tv::veth_pair v("x5", {.a_address = false});   // the kernel in ns a does not own 10.66.0.1: we do
  ASSERT_TRUE(v.ok()) << v.error;
  const auto mac_a = v.mac(true);
  ASSERT_TRUE(v.enter_a());
  auto cfg = base_config(v);
  cfg.arp_to_xsk = true;
  OPEN_PORT(p, cfg);
  const int s = v.socket_in_b(SOCK_DGRAM);
  send_from_b(s, 1, 5000);   // ns b must resolve 10.66.0.1 first: the request comes to us

  auto req = receive(p, 1);
  ASSERT_EQ(req.size(), 1u);
  const auto* q = reinterpret_cast<const std::uint8_t*>(req[0].bytes.data());
  ASSERT_GE(req[0].bytes.size(), 42u);
  ASSERT_EQ(q[12], 0x08);
  ASSERT_EQ(q[13], 0x06);              // ARP
  ASSERT_EQ(q[20] << 8 | q[21], 1);    // request
  std::uint8_t target[4];
  inet_pton(AF_INET, tv::veth_pair::addr_a, target);
  ASSERT_EQ(std::memcmp(q + 38, target, 4), 0);   // who has 10.66.0.1

  // Answer it ourselves, as the stack will.
  auto b = p.tx_reserve(1);
  ASSERT_EQ(b.size(), 1u);
  auto* r = reinterpret_cast<std::uint8_t*>(b[0].bytes.data());
  std::memcpy(r, q + 6, 6);                 // to the asker
  std::memcpy(r + 6, mac_a.data(), 6);
  r[12] = 0x08; r[13] = 0x06;
  const std::uint8_t hdr[] = {0, 1, 8, 0, 6, 4, 0, 2};   // Ethernet/IPv4, reply
  std::memcpy(r + 14, hdr, 8);
  std::memcpy(r + 22, mac_a.data(), 6);     // sender: us
  std::memcpy(r + 28, target, 4);
  std::memcpy(r + 32, q + 22, 10);          // target: the asker's MAC and IP
  b[0].bytes = b[0].bytes.first(42);
  b.commit(1);
  p.rx_release(req);

  // With our answer ns b sends the datagram, and it comes to us too.
  auto data = receive(p, 1);
  ASSERT_EQ(data.size(), 1u);
  const auto u = tv::parse_udp(data[0].bytes.data(), data[0].bytes.size());
  ASSERT_TRUE(u.ok);
  EXPECT_EQ(u.payload, tv::payload_for(0));
  p.rx_release(data);
  ax::xdp_verdicts vd;
  ASSERT_FALSE(p.verdicts(vd));
  EXPECT_EQ(vd.pass_arp, 0u);
  EXPECT_EQ(vd.to_xsk, 2u);
  ::close(s);
}

TEST(afxdp_netns, xdp_statistics_count_frames_dropped_for_lack_of_fill_frames) {
  REQUIRE_AFXDP();
  tv::veth_pair v("x6");
  ASSERT_TRUE(v.ok()) << v.error;
  ASSERT_TRUE(v.enter_a());
  auto cfg = base_config(v);
  cfg.pool = {256, 2048, 256};
  cfg.fill_size = cfg.comp_size = cfg.rx_size = cfg.tx_size = 64;
  cfg.fill_frames = 32;   // only 32 frames posted, and we do not read until all are sent
  OPEN_PORT(p, cfg);
  const int s = v.socket_in_b(SOCK_DGRAM);
  send_from_b(s, 48, 5000);
  // Wait until the kernel has seen all 48 (32 received + 16 dropped).
  ax::xdp_stats st;
  for (int i = 0; i < 300; ++i) {
    ASSERT_FALSE(p.statistics(st));
    if (st.rx_dropped >= 16) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::printf("rx_dropped %llu rx_fill_ring_empty_descs %llu rx_ring_full %llu\n", (unsigned long long)st.rx_dropped,
              (unsigned long long)st.rx_fill_ring_empty_descs, (unsigned long long)st.rx_ring_full);
  EXPECT_EQ(st.rx_dropped, 16u);
  EXPECT_GE(st.rx_fill_ring_empty_descs, 16u);
  EXPECT_EQ(st.rx_ring_full, 0u);
  EXPECT_EQ(st.rx_invalid_descs, 0u);
  auto frames = receive(p, 48, 300);
  ASSERT_EQ(frames.size(), 32u);   // the first 32, in order
  for (int i = 0; i < 32; ++i)
    EXPECT_EQ(tv::parse_udp(frames[i].bytes.data(), frames[i].bytes.size()).payload, tv::payload_for(i));
  p.rx_release(frames);
  // The refill policy: it found the fill ring empty (below its low-water mark) and topped it up.
  std::array<frame_ref, 4> none;
  EXPECT_EQ(p.rx_burst(none), 0u);
  EXPECT_GE(p.stats().fill_low_water, 1u);
  EXPECT_EQ(p.kernel_held(), 32u);
  EXPECT_EQ(p.stats().fill_frames_short, 0u);
  ::close(s);
}

TEST(afxdp_netns, refill_reports_frames_short_when_the_caller_holds_the_pool) {
  REQUIRE_AFXDP();
  tv::veth_pair v("x7");
  ASSERT_TRUE(v.ok()) << v.error;
  ASSERT_TRUE(v.enter_a());
  auto cfg = base_config(v);
  cfg.pool = {64, 2048, 256};
  cfg.fill_size = cfg.comp_size = cfg.rx_size = cfg.tx_size = 64;
  cfg.fill_frames = 32;
  OPEN_PORT(p, cfg);
  ASSERT_EQ(p.kernel_held(), 32u);
  const int s = v.socket_in_b(SOCK_DGRAM);
  send_from_b(s, 32, 5000);
  auto held = receive(p, 32);
  ASSERT_EQ(held.size(), 32u);
  auto hog = p.tx_reserve(32);      // the application holds the rest of the pool too
  ASSERT_EQ(hog.size(), 32u);
  std::array<frame_ref, 4> none;
  EXPECT_EQ(p.rx_burst(none), 0u);  // below low water, nothing to refill with
  EXPECT_EQ(p.stats().fill_frames_short, 32u);
  EXPECT_EQ(p.kernel_held(), 0u);
  hog.cancel();
  p.rx_release(held);
  EXPECT_EQ(p.rx_burst(none), 0u);
  EXPECT_EQ(p.kernel_held(), 32u);
  ::close(s);
}

// The starvation bench/veth_rx saw (issue 10): a receiver that stalls while the sender goes on loses
// exactly what its posted fill frames cannot hold, and nothing else. Before the stall it received 40
// and found the rx ring empty, as a receiver does just before it sleeps: the port must then have topped
// the fill ring up to all 128 frames (the old policy refilled only below half, so it went to sleep with
// 88 posted and lost 40 more here). Then 200 arrive with nobody reading: 128 land, 72 are dropped for an
// empty fill ring, counted by the kernel exactly, and the 128 come out in order afterwards.
TEST(afxdp_netns, stalled_receiver_loses_exactly_what_the_fill_ring_cannot_hold) {
  REQUIRE_AFXDP();
  tv::veth_pair v("x8");
  ASSERT_TRUE(v.ok()) << v.error;
  ASSERT_TRUE(v.enter_a());
  auto cfg = base_config(v);
  cfg.pool = {512, 2048, 256};
  cfg.fill_size = cfg.comp_size = cfg.rx_size = cfg.tx_size = 256;
  cfg.fill_frames = 128;   // low water: 128 - 64 = 64
  OPEN_PORT(p, cfg);
  ASSERT_EQ(p.kernel_held(), 128u);
  const int s = v.socket_in_b(SOCK_DGRAM);
  ASSERT_GE(s, 0);

  send_from_b(s, 40, 5000);
  auto first = receive(p, 40);
  ASSERT_EQ(first.size(), 40u);
  for (int i = 0; i < 40; ++i)
    EXPECT_EQ(tv::parse_udp(first[i].bytes.data(), first[i].bytes.size()).payload, tv::payload_for(i)) << i;
  p.rx_release(first);
  EXPECT_EQ(p.kernel_held(), 88u);      // 88 >= low water: no refill on the way
  EXPECT_EQ(p.stats().fill_low_water, 0u);
  std::array<frame_ref, 64> buf;
  ASSERT_EQ(p.rx_burst(buf), 0u);       // idle: the receiver would sleep now ...
  EXPECT_EQ(p.kernel_held(), 128u);     // ... with every frame posted

  // The stall: 200 more, nobody reading until the kernel has accounted for all of them.
  send_from_b(s, 200, 5000, 40);
  ax::xdp_stats st;
  ax::xdp_verdicts vd;
  for (int i = 0; i < 300; ++i) {
    ASSERT_FALSE(p.verdicts(vd));
    if (vd.to_xsk >= 240) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(vd.to_xsk, 240u) << "the XDP program did not see every datagram";
  ASSERT_FALSE(p.statistics(st));
  std::printf("stall: rx_dropped %llu rx_fill_ring_empty_descs %llu rx_ring_full %llu\n",
              (unsigned long long)st.rx_dropped, (unsigned long long)st.rx_fill_ring_empty_descs,
              (unsigned long long)st.rx_ring_full);
  EXPECT_EQ(st.rx_dropped, 72u);
  EXPECT_EQ(st.rx_fill_ring_empty_descs, 72u);   // one failed fill-ring read per dropped frame (copy mode)
  EXPECT_EQ(st.rx_ring_full, 0u);
  EXPECT_EQ(st.rx_invalid_descs, 0u);

  auto second = receive(p, 200, 500);
  ASSERT_EQ(second.size(), 128u);
  for (int i = 0; i < 128; ++i)
    EXPECT_EQ(tv::parse_udp(second[i].bytes.data(), second[i].bytes.size()).payload, tv::payload_for(40 + i)) << i;
  p.rx_release(second);
  EXPECT_EQ(p.stats().rx_packets, 168u);
  EXPECT_EQ(p.stats().fill_frames_short, 0u);
  EXPECT_EQ(p.stats().fill_no_room, 0u);
  ASSERT_EQ(p.rx_burst(buf), 0u);
  EXPECT_EQ(p.kernel_held(), 128u);
  EXPECT_EQ(p.pool().out(), 128u);
  ::close(s);
}

// Kernel busy polling (DPDK net_af_xdp's default style): the options are set and every empty rx_burst
// makes the recvfrom() that drives it; datagrams still arrive exactly.
TEST(afxdp_netns, busy_poll_mode_receives_exactly_and_counts_its_syscalls) {
  REQUIRE_AFXDP();
  tv::veth_pair v("x9");
  ASSERT_TRUE(v.ok()) << v.error;
  ASSERT_TRUE(v.enter_a());
  auto cfg = base_config(v);
  cfg.busy_poll_budget = 64;
  OPEN_PORT(p, cfg);
  std::array<frame_ref, 8> buf;
  ASSERT_EQ(p.rx_burst(buf), 0u);
  EXPECT_EQ(p.stats().rx_busy_polls, 1u);
  const int s = v.socket_in_b(SOCK_DGRAM);
  send_from_b(s, 20, 5000);
  auto frames = receive(p, 20);
  ASSERT_EQ(frames.size(), 20u);
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(tv::parse_udp(frames[i].bytes.data(), frames[i].bytes.size()).payload, tv::payload_for(i)) << i;
  p.rx_release(frames);
  EXPECT_EQ(p.stats().rx_wakeups, 0u);
  ::close(s);
}

TEST(afxdp_netns, detaches_cleanly_and_reopens_at_once) {
  REQUIRE_AFXDP();
  tv::veth_pair v("x8");
  ASSERT_TRUE(v.ok()) << v.error;
  ASSERT_TRUE(v.enter_a());
  const int ifindex = int(if_nametoindex(v.if_a.c_str()));
  ASSERT_GT(ifindex, 0);
  EXPECT_EQ(attached_prog_id(ifindex), 0u);
  {
    OPEN_PORT(p, base_config(v));
    EXPECT_NE(attached_prog_id(ifindex), 0u);
    EXPECT_NE(tv::run_out("ip -n " + v.ns_a + " link show dev " + v.if_a).find("xdp"), std::string::npos);
  }
  EXPECT_EQ(attached_prog_id(ifindex), 0u);
  EXPECT_EQ(tv::run_out("ip -n " + v.ns_a + " link show dev " + v.if_a).find("xdp"), std::string::npos);
  // Re-created right after the close: the EBUSY retry makes this work.
  for (int i = 0; i < 3; ++i) {
    auto again = ax::port::open(base_config(v));
    ASSERT_TRUE(again) << "round " << i << ": " << again.error().reason;
  }
  EXPECT_EQ(attached_prog_id(ifindex), 0u);
}

TEST(afxdp_netns, detaches_on_sigterm) {
  REQUIRE_AFXDP();
  tv::veth_pair v("x9");
  ASSERT_TRUE(v.ok()) << v.error;
  ASSERT_TRUE(v.enter_a());
  const int ifindex = int(if_nametoindex(v.if_a.c_str()));
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto p = ax::port::open(base_config(v));
    if (!p) _exit(3);
    raise(SIGTERM);   // the port's handler detaches, then the default action ends the process
    _exit(4);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 3) << "the port did not open in the child";
  ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_EQ(attached_prog_id(ifindex), 0u) << "the XDP program outlived the killed process";
}

TEST(afxdp_netns, memlock_failure_is_explained) {
  REQUIRE_AFXDP();
  // In a child without CAP_IPC_LOCK and a 1 MiB memlock limit, a 16 MiB UMEM cannot be registered.
  int pfd[2];
  ASSERT_EQ(pipe(pfd), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pfd[0]);
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2]{};
    syscall(SYS_capget, &h, d);
    d[0].effective &= ~(1u << CAP_IPC_LOCK);
    d[0].permitted &= ~(1u << CAP_IPC_LOCK);
    d[0].effective &= ~(1u << CAP_SYS_RESOURCE);
    d[0].permitted &= ~(1u << CAP_SYS_RESOURCE);
    syscall(SYS_capset, &h, d);
    rlimit rl{1 << 20, 1 << 20};
    setrlimit(RLIMIT_MEMLOCK, &rl);
    ax::config c;
    c.ifname = "lo";
    c.pool = {8192, 2048, 256};   // 16 MiB
    auto p = ax::port::open(c);
    const std::string msg = p ? std::string("opened") : p.error().reason;
    (void)!::write(pfd[1], msg.data(), msg.size());
    _exit(0);
  }
  ::close(pfd[1]);
  std::string msg;
  char buf[1024];
  for (ssize_t n; (n = ::read(pfd[0], buf, sizeof buf)) > 0;) msg.append(buf, std::size_t(n));
  ::close(pfd[0]);
  waitpid(child, nullptr, 0);
  EXPECT_NE(msg.find("afxdp: lo: UMEM registration failed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("RLIMIT_MEMLOCK is 1.0 MiB"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no CAP_IPC_LOCK"), std::string::npos) << msg;
  std::printf("message: %s\n", msg.c_str());
}

TEST(afxdp_netns, probe_opens_an_afxdp_port_by_spec) {
  REQUIRE_AFXDP();
  tv::veth_pair v("xa");
  ASSERT_TRUE(v.ok()) << v.error;
  ASSERT_TRUE(v.enter_a());
  auto spec = ringlab::backends::parse_spec("afxdp:" + v.if_a + ":udp=5000,arp=kernel");
  ASSERT_TRUE(spec);
  auto p = ringlab::backends::probe(*spec);
  ASSERT_TRUE(p) << p.error().reason;
  ringlab::port::any_port& port = *p.value();
  const int s = v.socket_in_b(SOCK_DGRAM);
  send_from_b(s, 3, 5000);
  std::vector<frame_ref> got;
  std::array<frame_ref, 8> buf;
  for (int i = 0; i < 3000 && got.size() < 3; ++i) {
    const auto n = port.rx_burst(buf);
    got.insert(got.end(), buf.begin(), buf.begin() + long(n));
    if (!n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(got.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(tv::parse_udp(got[i].bytes.data(), got[i].bytes.size()).payload, tv::payload_for(i));
  port.rx_release(got);
  ::close(s);
}
