// Lab 11, part 2: TCP through the whole user-space stack (stack::interface: Ethernet, ARP, IPv4, the
// socket table, tcp_listener / tcp_socket), two hosts back to back on virtual time. The "wire" moves
// each frame one host sends into the other's RX (tests/unit/stack/test_port.hpp, a fixture port with a
// frame pool), and can lose a frame on purpose.
//   tcp_stack
// Prints states, byte counts, drops by reason and each host's nstat counters: the same on every run.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "stack/iface/interface.hpp"
#include "stack/iface/tcp_entry.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp.hpp"
#include "stack/socket/tcp_lane_counters.hpp"
#include "stack/socket/tcp_listener.hpp"
#include "stack/socket/tcp_socket.hpp"
#include "tests/unit/stack/test_host.hpp"

using namespace ringlab;
using namespace ringlab::stack;

namespace {

const wire::mac_addr a_mac = testing::host_a_mac, b_mac = testing::host_b_mac;
const wire::ipv4_addr a_ip = testing::host_a_ip, b_ip = testing::host_b_ip;

using host = testing::test_host;

// The TCP payload length of a frame, or -1 when it carries no TCP segment.
long tcp_payload(const std::vector<std::byte>& f) {
  const auto e = wire::ethernet::view::check(f);
  if (!e || e->type() != wire::ethernet::ethertype::ipv4) return -1;
  const auto ip = wire::ipv4::view::check(e->payload());
  if (!ip || ip->proto() != wire::tcp::ip_protocol) return -1;
  const auto t = wire::tcp::view::check(ip->payload());
  return t ? long(t->payload().size()) : -1;
}

struct wire_pair {
  host a{a_mac, a_ip}, b{b_mac, b_ip};
  time_ns now = 0;
  long lose_data_frame = -1;   // a's data frame number (0-based) to lose once
  long data_frames = 0, lost = 0, moved = 0;

  void move(host& from, host& to, bool from_a) {
    auto frames = std::move(from.port.sent);
    from.port.sent.clear();
    for (auto& f : frames) {
      if (from_a && tcp_payload(f) > 0 && data_frames++ == lose_data_frame) {
        ++lost;
        continue;
      }
      ++moved;
      to.port.inject(f);
    }
  }
  void pump() {
    for (int i = 0; i < 100000; ++i) {
      a.ifc.poll(now);
      b.ifc.poll(now);
      if (a.port.sent.empty() && b.port.sent.empty() && a.port.pending_rx() == 0 && b.port.pending_rx() == 0) return;
      move(a, b, true);
      move(b, a, false);
    }
  }
  void advance_to(time_ns t) {   // every timer due until t, in deadline order
    testing::advance_hosts_to(a, b, now, t, [this] { pump(); });
  }
};

void nstat(const char* who, const interface& ifc) {
  std::printf("  %s (nstat -az, the non-zero ones):", who);
  int n = 0;
  for (const auto& c : tcp_counter_names)
    if (const auto v = ifc.tcp_counters().*c.field; v) std::printf("%s%s %lu", n++ % 4 ? ", " : "\n    ", c.name, (unsigned long)v);
  std::printf("\n");
}

void drops(const char* who, const interface& ifc) {
  std::string d;
  for (std::size_t i = 0; i < ifc.counters().drops.size(); ++i)
    if (const auto v = ifc.counters().drops[i]; v) {   // piece by piece: GCC 12 at -O3 misreads " " + string (-Wrestrict, docs/machine-findings.md)
      d += ' ';
      d += trace::to_string(static_cast<trace::drop_reason>(i));
      d += '=';
      d += std::to_string(v);
    }
  std::printf("  %s stack drops:%s\n", who, d.empty() ? " none" : d.c_str());
}

}  // namespace

int main() {
  wire_pair w;
  tcp::connection_config cfg;
  cfg.msl = 1 * sec;   // TIME_WAIT 2 s, so that the lab sees it end
  std::printf("== two stacks back to back: a 10.0.0.1, b 10.0.0.2; b listens on port 80, a connects\n");
  tcp_listener listener(w.b.ifc, cfg);
  if (listener.bind({{}, 80}) || listener.listen(8)) return std::puts("listen failed"), 1;
  auto client = std::make_unique<tcp_socket>(w.a.ifc, cfg);
  if (client->connect({b_ip, 80}, w.now)) return std::puts("connect failed"), 1;
  w.pump();   // ARP first (a asks who has 10.0.0.2), then SYN, SYN-ACK, ACK
  std::unique_ptr<tcp_socket> server;
  const bool accepted = !listener.accept(server);
  std::printf("  frames moved %ld (ARP request and reply, SYN, SYN-ACK, ACK); accepted: %s; a %s, b %s\n", w.moved,
              accepted ? "yes" : "no", tcp::to_string(client->state()), accepted ? tcp::to_string(server->state()) : "-");
  if (!accepted) return 1;

  std::printf("\n== a sends 200 000 bytes; the wire loses a's 5th data frame once\n");
  std::vector<std::byte> data(200'000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = std::byte(i * 7 + i / 251);
  w.lose_data_frame = 4;
  std::size_t sent = 0;
  std::vector<std::byte> got, buf(65536);
  while (got.size() < data.size() && w.now < 30 * sec) {
    if (sent < data.size()) {
      const auto r = client->send(std::span(data).subspan(sent), w.now);
      sent += r.bytes;
    }
    w.advance_to(w.now + 1 * ms);
    for (;;) {
      const auto r = server->receive(buf, w.now);
      if (r.ec || r.bytes == 0) break;
      got.insert(got.end(), buf.begin(), buf.begin() + long(r.bytes));
    }
  }
  std::printf("  b read %zu bytes, exact: %s, at %.0f ms; data frames from a %ld, lost %ld\n", got.size(),
              got == data ? "yes" : "NO", double(w.now) / 1e6, w.data_frames, w.lost);
  const auto& c = client->counters();
  std::printf("  a's connection: RetransSegs %lu, TCPFastRetrans %lu, TCPTimeouts %lu\n", (unsigned long)c.retrans_segs,
              (unsigned long)c.fast_retrans, (unsigned long)c.timeouts);

  std::printf("\n== both close; a is left in TIME_WAIT (2 x MSL = 2 s here), as an orphan once its socket is gone\n");
  client->close(w.now);
  w.advance_to(w.now + 100 * ms);
  server->close(w.now);
  w.advance_to(w.now + 100 * ms);
  // close() lets the handle go: what is left is the table's entry, an orphan.
  auto table = [&](const char* who, host& h) {
    std::string states;
    for (const auto& e : h.ifc.tcp_host().lane.sockets().tcp_entries())
      if (e) {
        states += ' ';
        states += tcp::to_string(e->conn.current());
        if (!e->owner) states += " (orphan)";
      }
    std::printf("  %s's socket table: %s\n", who, states.empty() ? "empty" : states.c_str() + 1);
  };
  table("a", w.a);
  table("b", w.b);
  client.reset();
  server.reset();
  w.advance_to(w.now + 3 * sec);
  std::printf("  3 s later:\n");
  table("a", w.a);

  std::printf("\n== a connects to b's port 81, where nobody listens\n");
  tcp_socket refused(w.a.ifc, cfg);
  if (refused.connect({b_ip, 81}, w.now)) return std::puts("connect failed"), 1;
  w.pump();
  std::printf("  a: %s, error: %s (b answered the SYN with a RST)\n", tcp::to_string(refused.state()),
              refused.error().message().c_str());
  std::printf("\n== the counters\n");
  nstat("a", w.a.ifc);
  nstat("b", w.b.ifc);
  drops("a", w.a.ifc);
  drops("b", w.b.ifc);
  std::printf("  frame pools: a %u out, b %u out\n", w.a.port.pool().out(), w.b.port.pool().out());
  return 0;
}
