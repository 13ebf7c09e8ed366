// Lab 08: AF_XDP on a veth pair, against the real kernel (root): the bind mode the kernel gives
// (zero-copy asked, copy granted), what need_wakeup makes the receiver and the sender do, and the fill
// ring starved on the kernel's own XSK rings (lab 05 did it on sim_nic's pool).
//   afxdp_veth        (makes two namespaces and a veth pair, removes them at exit)
// Everything printed is a count, a mode or a verdict, the same on every run; the interface names carry
// the process id, so they are printed as IF.
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "backends/afxdp/afxdp_port.hpp"
#include "tests/netns/afxdp/veth_pair.hpp"

namespace ax = ringlab::backends::afxdp;
namespace tv = ringlab::test_veth;
using ringlab::port::frame_ref;

namespace {

std::string anonymous(std::string s, const std::string& ifname) {
  for (std::size_t at; (at = s.find(ifname)) != std::string::npos;) s.replace(at, ifname.size(), "IF");
  return s;
}

// Polls rx_burst until `want` frames came or `ms` passed; checks each payload against payload_for(first + i).
std::size_t receive_exact(ax::port& p, std::size_t want, int first, std::size_t& exact, int ms = 3000) {
  std::array<frame_ref, 64> buf;
  std::size_t got = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (got < want && std::chrono::steady_clock::now() < deadline) {
    const std::size_t n = p.rx_burst(std::span(buf).first(std::min(buf.size(), want - got)));
    for (std::size_t i = 0; i < n; ++i) {
      const auto u = tv::parse_udp(buf[i].bytes.data(), buf[i].bytes.size());
      exact += u.ok && u.payload == tv::payload_for(first + int(got + i));
    }
    p.rx_release(std::span(buf).first(n));
    got += n;
    if (!n) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return got;
}

bool send_from_b(int s, int count, int first) {
  const auto to = tv::ipv4(tv::veth_pair::addr_a, 5000);
  for (int i = first; i < first + count; ++i) {
    const std::string p = tv::payload_for(i);
    if (::sendto(s, p.data(), p.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) != ssize_t(p.size()))
      return false;
  }
  return true;
}

ax::config base_config(const tv::veth_pair& v) {
  ax::config c;
  c.ifname = v.if_a;
  c.udp_ports = {5000};
  return c;
}

int fail(const std::string& why) {
  std::fprintf(stderr, "afxdp_veth: %s\n", why.c_str());
  return 1;
}

void counters(const ax::port& p) {
  const auto& c = p.stats();
  std::printf("  port: rx %lu tx %lu completions %lu; need_wakeup syscalls: rx %lu (recvfrom) tx %lu (sendto)\n",
              (unsigned long)c.rx_packets, (unsigned long)c.tx_packets, (unsigned long)c.completions,
              (unsigned long)c.rx_wakeups, (unsigned long)c.tx_wakeups);
}

// Parts 2 and 3 on one port (need_wakeup on, the default); it closes before part 4 opens another:
// one XDP program per interface.
int first_port(tv::veth_pair& v, int s) {
  auto r = ax::port::open(base_config(v));
  if (!r) return fail(r.error().reason);
  auto& p = *r.value();
  std::printf("  bind automatic: %s\n", anonymous(p.caps().name, v.if_a).c_str());

  std::printf("\n== 2. 64 datagrams from the kernel in namespace b to the socket (need_wakeup on)\n");
  if (!send_from_b(s, 64, 0)) return fail("sendto failed");
  std::size_t exact = 0;
  const std::size_t got = receive_exact(p, 64, 0, exact);
  std::printf("  received %zu, %zu with exactly the bytes sent, in order\n", got, exact);
  ax::xdp_verdicts vd;
  if (p.verdicts(vd)) return fail("XDP verdicts unreadable");
  std::printf("  XDP program: %lu to the socket, %lu to a queue without a socket, ARP to the kernel: %s\n",
              (unsigned long)vd.to_xsk, (unsigned long)vd.no_xsk, vd.pass_arp ? "yes" : "no");
  counters(p);
  std::printf("  rx 0: copy mode never sets need_wakeup on the fill ring: the kernel copies in the sender's\n"
              "  softirq, so an idle receiver makes no syscall (zero-copy drivers set it when the fill ring runs dry)\n");

  std::printf("\n== 3. 16 frames sent from the socket, one commit each, to a kernel socket in namespace b\n");
  {
    const int rx = v.socket_in_b(SOCK_DGRAM);
    const auto bind_to = tv::ipv4(tv::veth_pair::addr_b, 6000);
    if (rx < 0 || ::bind(rx, reinterpret_cast<const sockaddr*>(&bind_to), sizeof bind_to) != 0)
      return fail("cannot bind the receiving socket in namespace b");
    const auto mac_a = v.mac(true), mac_b = v.mac(false);
    const std::uint64_t wake_before = p.stats().tx_wakeups;
    std::size_t arrived = 0;
    for (int i = 0; i < 16; ++i) {
      auto b = p.tx_reserve(1);
      if (b.size() != 1) return fail("tx_reserve gave no frame");
      const std::size_t n = tv::build_udp(reinterpret_cast<std::uint8_t*>(b[0].bytes.data()), mac_b, mac_a,
                                          tv::veth_pair::addr_a, tv::veth_pair::addr_b, 5000, 6000,
                                          tv::payload_for(100 + i), std::uint16_t(i + 1));
      b[0].bytes = b[0].bytes.first(n);
      b.commit(1);
      std::string in;
      arrived += tv::recv_within(rx, in, 1000) && in == tv::payload_for(100 + i);
    }
    std::printf("  %zu of 16 arrived in namespace b with their exact payload\n", arrived);
    std::printf("  tx wakeups for these 16 commits: %lu (copy mode: the kernel sends only inside sendto, so the\n"
                "  tx ring always asks for it)\n", (unsigned long)(p.stats().tx_wakeups - wake_before));
    ::close(rx);
  }
  counters(p);

  return 0;
}

// The port of parts 2 and 3 is closed by now: one XDP program per interface.
int starve_the_fill_ring(tv::veth_pair& v, int s) {
  std::printf("\n== 4. the fill ring starved: 128 frames posted, 40 read, then 200 sent with nobody reading\n");
  std::size_t exact = 0;
  ax::xdp_verdicts vd;
  {
    auto cfg = base_config(v);
    cfg.pool = {512, 2048, 256};
    cfg.fill_size = cfg.comp_size = cfg.rx_size = cfg.tx_size = 256;
    cfg.fill_frames = 128;
    auto r = ax::port::open(cfg);   // right after the first port closed: the EBUSY retry covers it
    if (!r) return fail(r.error().reason);
    auto& q = *r.value();
    std::printf("  frames posted on the fill ring: %u\n", q.kernel_held());
    if (!send_from_b(s, 40, 0)) return fail("sendto failed");
    exact = 0;
    const std::size_t got = receive_exact(q, 40, 0, exact);
    std::printf("  read %zu of 40 (%zu exact)\n", got, exact);
    std::array<frame_ref, 8> idle;
    q.rx_burst(idle);   // found empty: tops the fill ring up before the receiver would sleep
    std::printf("  idle receiver: %u frames posted\n", q.kernel_held());
    if (!send_from_b(s, 200, 40)) return fail("sendto failed");
    for (int i = 0; i < 300; ++i) {   // until the XDP program has seen all 240
      if (q.verdicts(vd) || vd.to_xsk >= 240) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ax::xdp_stats st;
    if (q.statistics(st)) return fail("XDP_STATISTICS unreadable");
    std::printf("  XDP_STATISTICS: rx_dropped %lu, rx_fill_ring_empty_descs %lu, rx_ring_full %lu\n",
                (unsigned long)st.rx_dropped, (unsigned long)st.rx_fill_ring_empty_descs,
                (unsigned long)st.rx_ring_full);
    exact = 0;
    const std::size_t later = receive_exact(q, 200, 40, exact, 500);
    std::printf("  then read %zu (%zu exact: datagrams 40-167): the 128 posted frames, the rest lost\n", later, exact);
  }
  return 0;
}

}  // namespace

int main() {
  tv::veth_pair v("l8");
  if (!v.ok()) return fail(v.error);
  if (!v.enter_a()) return fail("cannot enter namespace " + v.ns_a);
  std::printf("veth pair: IF (10.66.0.1, namespace a) <-> peer (10.66.0.2, namespace b); XDP program: UDP port 5000 "
              "to the socket, the rest to the kernel\n");

  std::printf("\n== 1. bind mode: zero-copy asked, then the default (zero-copy first, copy if refused)\n");
  {
    auto cfg = base_config(v);
    cfg.bind = ax::bind_mode::zero_copy;
    auto r = ax::port::open(cfg);
    std::printf("  bind zero_copy: %s\n", r ? "granted" : ("refused: " + anonymous(r.error().reason, v.if_a)).c_str());
  }
  const int s = v.socket_in_b(SOCK_DGRAM);
  if (s < 0) return fail("no socket in namespace b");
  const int rc = first_port(v, s);
  const int rc2 = rc == 0 ? starve_the_fill_ring(v, s) : rc;
  ::close(s);
  return rc2;
}
