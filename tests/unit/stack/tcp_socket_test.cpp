// TCP through the whole stack: two interfaces back to back (two test_ports; what one sends is moved to
// the other's RX), sockets and listeners on each, explicit virtual time. Handshake in both roles, exact
// bytes both ways, half-close, RST to a closed port, backlog overflow, orphans in TIME_WAIT, TIME_WAIT
// reuse, bad segments dropped by reason with their packet ids, lane counters against the frames moved,
// ephemeral ports, timers at the engine's deadlines.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <optional>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include "stack/iface/interface.hpp"
#include "stack/socket/tcp_lane.hpp"
#include "stack/socket/tcp_listener.hpp"
#include "stack/socket/tcp_socket.hpp"
#include "stack/socket/udp_socket.hpp"
#include "tests/unit/stack/frames.hpp"
#include "tests/unit/stack/test_host.hpp"
#include "tests/unit/tcp/harness.hpp"   // pattern()

using namespace ringlab;
using namespace ringlab::stack;
using namespace ringlab::stack::testing;
using trace::drop_reason;
namespace tflag = wire::tcp::flag;

namespace {

const wire::mac_addr a_mac = host_a_mac, b_mac = host_b_mac;
const wire::ipv4_addr a_ip = host_a_ip, b_ip = host_b_ip;

// Small buffers: a test moves more than a window without allocating half a megabyte per connection.
tcp::connection_config small() {
  tcp::connection_config c;
  c.send_buffer = 16 * 1024;
  c.recv_buffer = 16 * 1024;
  c.msl = 1 * sec;   // TIME_WAIT 2 s
  return c;
}

using host = test_host;

// A frame's TCP segment, if it carries one.
struct tcp_frame {
  wire::ipv4_addr src, dst;
  std::vector<std::byte> l4;
  wire::tcp::repr repr() const { return *wire::tcp::repr::parse(*wire::tcp::view::check(l4), src, dst); }
};
std::optional<tcp_frame> tcp_of(const bytes& f) {
  const auto e = wire::ethernet::view::check(f);
  if (!e || e->type() != wire::ethernet::ethertype::ipv4) return std::nullopt;
  const auto ip = wire::ipv4::view::check(e->payload());
  if (!ip || ip->proto() != wire::tcp::ip_protocol) return std::nullopt;
  return tcp_frame{ip->src(), ip->dst(), {ip->payload().begin(), ip->payload().end()}};
}

struct recorder {
  std::vector<unsigned> got;
  unsigned all() const {
    unsigned m = 0;
    for (unsigned e : got) m |= e;
    return m;
  }
  static void fn(void* ctx, unsigned ev) noexcept { static_cast<recorder*>(ctx)->got.push_back(ev); }
};

std::string str(std::span<const std::byte> b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

struct stack_tcp : ::testing::Test {
  host a{a_mac, a_ip}, b{b_mac, b_ip};
  time_ns now = 0;
  // The wire: false drops the frame (from_a says which way it goes).
  std::function<bool(bool from_a, const bytes&)> pass = [](bool, const bytes&) { return true; };
  std::vector<std::pair<bool, bytes>> log;   // every frame that crossed, in order
  std::uint64_t tcp_moved[2] = {0, 0};       // [1]: a -> b, [0]: b -> a
  std::uint64_t tcp_sent[2] = {0, 0};        // TCP frames each side committed (moved or lost)

  void TearDown() override {
    EXPECT_EQ(a.port.pool().out(), 0u) << "a frame leaked on a";
    EXPECT_EQ(b.port.pool().out(), 0u) << "a frame leaked on b";
  }

  void move(host& from, host& to, bool from_a) {
    auto frames = std::move(from.port.sent);
    from.port.sent.clear();
    for (auto& f : frames) {
      const bool is_tcp = tcp_of(f).has_value();
      tcp_sent[from_a] += is_tcp;
      if (!pass(from_a, f)) continue;
      tcp_moved[from_a] += is_tcp;
      log.emplace_back(from_a, f);
      ASSERT_TRUE(to.port.inject(f));
    }
  }
  // Polls both sides at `now` and moves frames until neither sends any more.
  void pump() {
    for (int i = 0; i < 10000; ++i) {
      a.ifc.poll(now);
      b.ifc.poll(now);
      if (a.port.sent.empty() && b.port.sent.empty() && a.port.pending_rx() == 0 && b.port.pending_rx() == 0) return;
      move(a, b, true);
      move(b, a, false);
    }
    FAIL() << "the two hosts never went quiet";
  }
  // Runs every timer due until t, in deadline order, moving frames at each.
  void advance_to(time_ns t) {
    advance_hosts_to(a, b, now, t, [this] { pump(); });
  }

  // Everything readable now, as text.
  static std::string read_all(tcp_socket& s, time_ns now) {
    std::string out;
    std::byte buf[4096];
    for (;;) {
      const auto r = s.receive(buf, now);
      if (r.ec || r.bytes == 0) return out;
      out += str({buf, r.bytes});
    }
  }

  // A listener on b:80 and a connection to it from a, established and accepted.
  struct conn {
    std::unique_ptr<tcp_listener> listener;
    std::unique_ptr<tcp_socket> client, server;
  };
  conn connect_pair(std::uint16_t port = 80, std::size_t backlog = 8) {
    conn c;
    c.listener = std::make_unique<tcp_listener>(b.ifc, small());
    EXPECT_FALSE(c.listener->bind({{}, port}));
    EXPECT_FALSE(c.listener->listen(backlog));
    c.client = std::make_unique<tcp_socket>(a.ifc, small());
    EXPECT_FALSE(c.client->connect({b_ip, port}, now));
    pump();
    EXPECT_FALSE(c.listener->accept(c.server));
    return c;
  }
};

}  // namespace

TEST_F(stack_tcp, handshake_in_both_roles_with_events_and_counters) {
  tcp_listener l(b.ifc, small());
  recorder lev, cev;
  l.set_events(&recorder::fn, &lev);
  ASSERT_FALSE(l.bind({{}, 80}));
  ASSERT_FALSE(l.listen(4));
  tcp_socket c(a.ifc, small());
  c.set_events(&recorder::fn, &cev);
  std::unique_ptr<tcp_socket> none;
  EXPECT_EQ(l.accept(none), std::errc::operation_would_block);
  ASSERT_FALSE(c.connect({b_ip, 80}, now));
  EXPECT_EQ(c.state(), tcp::state::syn_sent);
  EXPECT_EQ(c.connect({b_ip, 80}, now), std::errc::connection_already_in_progress);
  EXPECT_EQ(c.send(text("early"), now).ec, std::errc::operation_would_block);
  pump();

  EXPECT_EQ(c.state(), tcp::state::established);
  EXPECT_TRUE(c.connected());
  EXPECT_EQ(cev.all(), tcp_socket::ev_connected | tcp_socket::ev_writable);
  EXPECT_EQ(lev.got, std::vector<unsigned>{tcp_socket::ev_readable});
  EXPECT_EQ(l.pending(), 1u);
  std::unique_ptr<tcp_socket> s;
  ASSERT_FALSE(l.accept(s));
  EXPECT_EQ(l.pending(), 0u);
  EXPECT_EQ(s->state(), tcp::state::established);
  EXPECT_EQ(s->local_endpoint(), (endpoint{b_ip, 80}));
  EXPECT_EQ(s->remote_endpoint(), c.local_endpoint());
  EXPECT_EQ(c.local_endpoint(), (endpoint{a_ip, 49152}));   // the first ephemeral port
  EXPECT_EQ(c.connect({b_ip, 80}, now), std::errc::already_connected);

  // The handshake on the wire: ARP both ways, then SYN, SYN-ACK, ACK with the options we speak.
  std::vector<std::string> tcp_seen;
  for (const auto& [from_a, f] : log)
    if (const auto t = tcp_of(f)) {
      const auto r = t->repr();
      tcp_seen.push_back(std::string(from_a ? "a>" : "b>") + (r.has(tflag::syn) ? "S" : "") + (r.has(tflag::ack) ? "." : ""));
      if (r.has(tflag::syn)) {
        EXPECT_EQ(r.opts.mss, 1460);
        EXPECT_TRUE(r.opts.sack_permitted);
        EXPECT_TRUE(r.opts.ts.has_value());
        EXPECT_TRUE(r.opts.window_scale.has_value());
      }
    }
  EXPECT_EQ(tcp_seen, (std::vector<std::string>{"a>S", "b>S.", "a>."}));
  // The client's ISS is RFC 6528's: the keyed hash of the 4-tuple plus the 4 us clock (0 here).
  const tcp_key ck{c.local_endpoint(), c.remote_endpoint()};
  for (const auto& [from_a, f] : log)
    if (const auto t = tcp_of(f); t && from_a && t->repr().has(tflag::syn)) {
      EXPECT_EQ(t->repr().seq, a.ifc.tcp_host().lane.secret().iss(ck, 0));
    }

  const auto& ca = a.ifc.tcp_counters();
  EXPECT_EQ(ca.active_opens, 1u);
  EXPECT_EQ(ca.passive_opens, 0u);
  EXPECT_EQ(ca.curr_estab, 1u);
  const auto& cb = b.ifc.tcp_counters();
  EXPECT_EQ(cb.passive_opens, 1u);
  EXPECT_EQ(cb.active_opens, 0u);
  EXPECT_EQ(cb.curr_estab, 1u);
  EXPECT_EQ(cb.in_segs, 2u);
  EXPECT_EQ(cb.out_segs, 1u);
  EXPECT_NE(to_nstat(cb).find("TcpPassiveOpens                 1                  0.0\n"), std::string::npos);
  EXPECT_EQ(to_nstat(cb).rfind("#kernel\n", 0), 0u);
  const std::string ss = to_ss(s->info());
  // 16 KiB buffers need no window scale (shift 0 both ways); no RTT on a wire without delay: 1 ns.
  EXPECT_EQ(ss.rfind("ESTAB      0      0      10.0.0.2:80 10.0.0.1:49152\n\t ts sack cubic rto:200 rtt:1e-06/0 ", 0), 0u)
      << ss;
  EXPECT_NE(ss.find(" mss:1448 cwnd:10 "), std::string::npos) << ss;
  EXPECT_NE(ss.find(" segs_out:1 segs_in:2"), std::string::npos) << ss;
}

TEST_F(stack_tcp, exact_bytes_both_ways_through_windows_smaller_than_the_data) {
  auto p = connect_pair();
  ASSERT_TRUE(p.server);
  const auto up = tcp::testing::pattern(100'000, 1), down = tcp::testing::pattern(70'000, 2);
  std::vector<std::byte> got_up, got_down;
  std::size_t sent_up = 0, sent_down = 0;
  std::byte buf[3000];
  for (int round = 0; round < 2000 && (got_up.size() < up.size() || got_down.size() < down.size()); ++round) {
    if (sent_up < up.size()) {
      const auto r = p.client->send(std::span(up).subspan(sent_up), now);
      if (!r.ec) sent_up += r.bytes;
      else EXPECT_EQ(r.ec, std::errc::operation_would_block);
    }
    if (sent_down < down.size()) {
      const auto r = p.server->send(std::span(down).subspan(sent_down), now);
      if (!r.ec) sent_down += r.bytes;
    }
    advance_to(now + 10 * ms);
    for (tcp_socket::io_result r; (r = p.server->receive(buf, now)).bytes;) got_up.insert(got_up.end(), buf, buf + r.bytes);
    for (tcp_socket::io_result r; (r = p.client->receive(buf, now)).bytes;) got_down.insert(got_down.end(), buf, buf + r.bytes);
  }
  EXPECT_TRUE(got_up == up) << got_up.size();
  EXPECT_TRUE(got_down == down) << got_down.size();
  advance_to(now + 1 * sec);   // the last delayed ACKs
  EXPECT_EQ(p.server->counters().bytes_received, up.size());
  EXPECT_EQ(p.client->counters().bytes_acked, up.size());
  EXPECT_EQ(p.server->receive(buf, now).ec, std::errc::operation_would_block);
  // Nothing was lost: no retransmission, no drop on either side.
  EXPECT_EQ(a.ifc.tcp_counters().retrans_segs, 0u);
  EXPECT_EQ(b.ifc.tcp_counters().retrans_segs, 0u);
  EXPECT_EQ(a.ifc.counters().dropped_total(), 0u);
  EXPECT_EQ(b.ifc.counters().dropped_total(), 0u);
}

TEST_F(stack_tcp, half_close_delivers_eof_while_the_other_way_still_flows) {
  auto p = connect_pair();
  recorder sev;
  p.server->set_events(&recorder::fn, &sev);
  ASSERT_FALSE(p.client->send(text("request"), now).ec);
  ASSERT_FALSE(p.client->shutdown_send(now));
  EXPECT_EQ(p.client->send(text("more"), now).ec, std::errc::broken_pipe);
  pump();
  EXPECT_EQ(p.client->state(), tcp::state::fin_wait_2);
  EXPECT_EQ(p.server->state(), tcp::state::close_wait);
  EXPECT_TRUE(sev.all() & tcp_socket::ev_readable);
  EXPECT_FALSE(p.server->peer_closed());   // bytes before the FIN are still unread
  EXPECT_EQ(read_all(*p.server, now), "request");
  EXPECT_TRUE(p.server->peer_closed());
  std::byte buf[16];
  const auto eof = p.server->receive(buf, now);
  EXPECT_EQ(eof.bytes, 0u);
  EXPECT_FALSE(eof.ec);
  // The other direction is still open.
  ASSERT_EQ(p.server->send(text("response"), now).bytes, 8u);
  p.server->close(now);
  advance_to(now + 50 * ms);
  EXPECT_EQ(read_all(*p.client, now), "response");
  EXPECT_TRUE(p.client->peer_closed());
  EXPECT_EQ(p.client->state(), tcp::state::time_wait);   // it closed first
  EXPECT_EQ(b.entries(), 0u);                            // LAST_ACK -> CLOSED: the orphan is gone
}

TEST_F(stack_tcp, an_abort_resets_the_peer_and_unread_bytes_make_close_an_abort) {
  auto p = connect_pair();
  recorder cev;
  p.client->set_events(&recorder::fn, &cev);
  ASSERT_FALSE(p.client->send(text("unread"), now).ec);
  pump();
  EXPECT_EQ(p.server->available(), 6u);
  b.port.sent.clear();
  p.server->close(now);   // six bytes never read: RST, not FIN (RFC 2525 2.17, as Linux)
  ASSERT_EQ(b.port.sent.size(), 1u);
  EXPECT_EQ(tcp_of(b.port.sent[0])->repr().flags, tflag::rst);
  pump();
  EXPECT_EQ(p.client->state(), tcp::state::closed);
  EXPECT_EQ(p.client->error(), std::errc::connection_reset);
  EXPECT_EQ(cev.got, std::vector<unsigned>{tcp_socket::ev_closed});
  std::byte buf[8];
  EXPECT_EQ(p.client->receive(buf, now).ec, std::errc::connection_reset);
  EXPECT_EQ(p.client->send(text("x"), now).ec, std::errc::connection_reset);
  EXPECT_EQ(b.ifc.tcp_counters().abort_on_close, 1u);
  EXPECT_EQ(b.ifc.tcp_counters().estab_resets, 1u);
  EXPECT_EQ(a.ifc.tcp_counters().estab_resets, 1u);
  EXPECT_EQ(b.ifc.tcp_counters().out_rsts, 1u);
  EXPECT_EQ(b.entries(), 0u);
  EXPECT_EQ(a.entries(), 1u);   // the client's socket still holds its closed entry ...
  p.client->close(now);
  EXPECT_EQ(a.entries(), 0u);   // ... until it closes
  EXPECT_EQ(p.client->send(text("x"), now).ec, std::errc::bad_file_descriptor);

  // abort() on a live connection: RST at once, the handle closes.
  auto q = connect_pair(81);
  b.port.sent.clear();
  q.client->abort(now);
  EXPECT_FALSE(q.client->is_open());
  pump();
  EXPECT_EQ(q.server->error(), std::errc::connection_reset);
}

TEST_F(stack_tcp, a_peer_that_never_answers_times_the_connect_out) {
  pass = [](bool from_a, const bytes& f) { return !(from_a && tcp_of(f)); };   // every SYN lost
  auto cfg = small();
  cfg.rto_initial = 100 * ms;
  cfg.syn_retries = 2;
  tcp_socket c(a.ifc, cfg);
  recorder cev;
  c.set_events(&recorder::fn, &cev);
  ASSERT_FALSE(c.connect({b_ip, 80}, now));
  advance_to(699 * ms);   // SYNs at 0, 100 ms, 300 ms; gives up at 700 ms
  EXPECT_EQ(c.state(), tcp::state::syn_sent);
  EXPECT_EQ(tcp_sent[1], 3u);
  advance_to(700 * ms);
  EXPECT_EQ(c.state(), tcp::state::closed);
  EXPECT_EQ(c.error(), std::errc::timed_out);
  EXPECT_EQ(cev.got, std::vector<unsigned>{tcp_socket::ev_closed});
  const auto ca = a.ifc.tcp_counters();
  EXPECT_EQ(ca.attempt_fails, 1u);
  EXPECT_EQ(ca.syn_retrans, 2u);
  EXPECT_EQ(ca.timeouts, 3u);
  EXPECT_EQ(a.ifc.next_deadline(), never);
}

TEST_F(stack_tcp, rst_for_a_closed_port_is_rfc9293_exact_and_refuses_the_connect) {
  tcp_socket c(a.ifc, small());
  recorder cev;
  c.set_events(&recorder::fn, &cev);
  ASSERT_FALSE(c.connect({b_ip, 81}, now));
  pump();
  EXPECT_EQ(c.state(), tcp::state::closed);
  EXPECT_EQ(c.error(), std::errc::connection_refused);
  EXPECT_EQ(cev.got, std::vector<unsigned>{tcp_socket::ev_closed});
  EXPECT_EQ(c.send(text("x"), now).ec, std::errc::connection_refused);

  std::vector<tcp_frame> seg;
  for (const auto& [from_a, f] : log)
    if (auto t = tcp_of(f)) seg.push_back(*t);
  ASSERT_EQ(seg.size(), 2u);
  const auto syn = seg[0].repr();
  // RFC 9293 3.10.7.1 for a SYN (no ACK): <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, no options.
  EXPECT_EQ(seg[1].src, b_ip);
  EXPECT_EQ(seg[1].dst, a_ip);
  const std::uint32_t ack = syn.seq + 1;
  char want[64];
  std::snprintf(want, sizeof want, "0051%04x00000000%08x50140000", unsigned{c.local_endpoint().port}, ack);
  const std::string got = to_hex(seg[1].l4);
  EXPECT_EQ(got.substr(0, 32), want);
  EXPECT_EQ(got.substr(36), "0000");   // urgent pointer; nothing after the 20 bytes
  EXPECT_EQ(seg[1].l4.size(), 20u);
  EXPECT_TRUE(wire::tcp::view::check(seg[1].l4)->verify_checksum(b_ip, a_ip));

  EXPECT_EQ(b.ifc.counters().dropped(drop_reason::no_socket), 1u);
  EXPECT_EQ(b.ifc.tcp_counters().out_rsts, 1u);
  EXPECT_EQ(b.ifc.tcp_counters().in_segs, 1u);
  EXPECT_EQ(a.ifc.tcp_counters().attempt_fails, 1u);
  EXPECT_EQ(a.ifc.tcp_counters().out_rsts, 0u);   // a RST is never answered

  // An ACK for no connection: <SEQ=SEG.ACK><CTL=RST>.
  wire::tcp::repr stray{.src_port = 5555, .dst_port = 82, .seq = 100, .ack = 777, .flags = tflag::ack, .window = 10};
  bytes l4(stray.buffer_len());
  stray.emit(l4, a_ip, b_ip);
  b.port.inject(ipv4(a_ip, b_ip, wire::tcp::ip_protocol, l4, 9, a_mac, b_mac));
  b.ifc.poll(now);
  ASSERT_EQ(b.port.sent.size(), 1u);
  const auto rst = tcp_of(b.port.sent[0])->repr();
  b.port.sent.clear();
  EXPECT_EQ(rst.flags, tflag::rst);
  EXPECT_EQ(rst.seq, 777u);
  EXPECT_EQ(rst.ack, 0u);
  EXPECT_EQ(rst.src_port, 82);
  EXPECT_EQ(rst.dst_port, 5555);
  EXPECT_EQ(b.ifc.tcp_counters().out_rsts, 2u);
  // Tried again once someone listens: the same socket connects.
  {
    tcp_listener l(b.ifc, small());
    ASSERT_FALSE(l.bind({{}, 81}));
    ASSERT_FALSE(l.listen(1));
    ASSERT_FALSE(c.connect({b_ip, 81}, now));
    pump();
    EXPECT_EQ(c.state(), tcp::state::established);
    EXPECT_FALSE(c.error());
    c.abort(now);
    pump();
  }
}

TEST_F(stack_tcp, a_listener_answers_an_ack_with_rst_and_ignores_a_rst) {
  tcp_listener l(b.ifc, small());
  ASSERT_FALSE(l.bind({{}, 80}));
  ASSERT_FALSE(l.listen(4));
  auto put = [&](std::uint8_t flags, std::uint64_t id) {
    wire::tcp::repr r{.src_port = 6000, .dst_port = 80, .seq = 40, .ack = 9000, .flags = flags, .window = 10};
    bytes l4(r.buffer_len());
    r.emit(l4, a_ip, b_ip);
    b.port.inject(ipv4(a_ip, b_ip, wire::tcp::ip_protocol, l4, 9, a_mac, b_mac), {.packet_id = id});
  };
  put(tflag::ack, 1);
  put(tflag::rst, 2);
  put(tflag::fin, 3);
  pump();   // b's RST waits for ARP, then crosses to a (which has no such connection and stays quiet)
  std::vector<wire::tcp::repr> from_b;
  for (const auto& [from_a, f] : log)
    if (const auto t = tcp_of(f); t && !from_a) from_b.push_back(t->repr());
  ASSERT_EQ(from_b.size(), 1u);   // RFC 9293 3.10.7.2: <SEQ=SEG.ACK><CTL=RST> for the ACK only
  EXPECT_EQ(from_b[0].flags, tflag::rst);
  EXPECT_EQ(from_b[0].seq, 9000u);
  EXPECT_EQ(b.ifc.counters().dropped(drop_reason::tcp_not_syn), 3u);
  EXPECT_EQ(b.ifc.tcp_counters().out_rsts, 1u);
  EXPECT_EQ(b.entries(), 0u);
  EXPECT_EQ(l.pending(), 0u);
}

// The close that tests/netsim/tcp_hosts (loss5, 100 MB) ends with: the server (b) closes last, A in
// TIME_WAIT ACKs b's FIN and b (LAST_ACK) is CLOSED on that ACK; a copy of b's last segment (there:
// the SACK rescue retransmission b sent beside its FIN) then reaches A, whose TIME_WAIT answers it with
// an ACK as Linux's tcp_timewait_state_process does (an out-of-window segment is ACKed). That ACK finds
// no connection at b, only its listener's port: a RST, as Linux's LISTEN answers an ACK. A takes the
// RST at RCV.NXT in TIME_WAIT and ends without an error (Linux's default tcp_rfc1337 = 0 too). The
// grid allows exactly this: RSTs only after a host's connection closed, one per stray segment.
TEST_F(stack_tcp, a_late_segment_after_last_ack_gets_a_rst_and_ends_the_peers_time_wait_cleanly) {
  auto p = connect_pair();
  ASSERT_FALSE(p.client->shutdown_send(now));
  pump();
  EXPECT_EQ(p.client->state(), tcp::state::fin_wait_2);
  EXPECT_EQ(read_all(*p.server, now), "");
  EXPECT_TRUE(p.server->peer_closed());
  // b's last bytes and its FIN: the frame is kept as it crosses, to be delivered again.
  std::optional<bytes> last;
  pass = [&](bool from_a, const bytes& f) {
    if (const auto t = tcp_of(f); t && !from_a && (t->repr().flags & tflag::fin)) last = f;
    return true;
  };
  ASSERT_FALSE(p.server->send(text("tail"), now).ec);
  p.server->close(now);
  pump();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(read_all(*p.client, now), "tail");
  EXPECT_EQ(p.client->state(), tcp::state::time_wait);
  EXPECT_EQ(p.server->state(), tcp::state::closed);   // LAST_ACK ended on A's ACK
  EXPECT_EQ(b.ifc.tcp_counters().out_rsts, 0u);
  const auto a_segs = a.ifc.tcp_counters().out_segs;

  ASSERT_TRUE(a.port.inject(*last));   // the copy: old at A, out of its window
  pump();
  std::vector<wire::tcp::repr> tail;   // what crossed since: A's ACK, b's RST
  for (auto it = log.rbegin(); it != log.rend() && tail.size() < 2; ++it)
    if (const auto t = tcp_of(it->second)) tail.insert(tail.begin(), t->repr());
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].flags, tflag::ack);   // TIME_WAIT's answer, at A's SND.NXT
  EXPECT_EQ(tail[1].flags, tflag::rst);   // <SEQ=SEG.ACK><CTL=RST>
  EXPECT_EQ(tail[1].seq, tail[0].ack);
  EXPECT_EQ(a.ifc.tcp_counters().out_segs, a_segs + 1);
  EXPECT_EQ(a.ifc.counters().dropped(drop_reason::tcp_out_of_window), 1u);
  EXPECT_EQ(b.ifc.counters().dropped(drop_reason::tcp_not_syn), 1u);
  EXPECT_EQ(b.ifc.tcp_counters().out_rsts, 1u);
  // A's TIME_WAIT ended on the RST, without an error; nothing was reset while it lived.
  EXPECT_EQ(p.client->state(), tcp::state::closed);
  EXPECT_FALSE(p.client->error()) << p.client->error().message();
  EXPECT_FALSE(p.server->error()) << p.server->error().message();
  EXPECT_EQ(a.ifc.tcp_counters().estab_resets + b.ifc.tcp_counters().estab_resets, 0u);
  EXPECT_EQ(a.ifc.next_deadline(), never);   // no TIME_WAIT timer left
}

TEST_F(stack_tcp, keepalive_switched_on_for_a_live_connection_probes_after_the_idle_time) {
  auto p = connect_pair();
  p.client->set_keepalive(true, 1 * sec);
  EXPECT_EQ(a.ifc.next_deadline(), 1 * sec);   // idle since the handshake at 0: due at 1 s
  const auto before = tcp_sent[1];
  advance_to(1500 * ms);
  EXPECT_EQ(a.ifc.tcp_counters().keepalive, 1u);
  EXPECT_EQ(tcp_sent[1] - before, 1u);            // one probe; b's answer moved the next one to 2 s
  EXPECT_EQ(a.ifc.next_deadline(), 2 * sec);
  p.client->set_keepalive(false);
  EXPECT_EQ(a.ifc.next_deadline(), never);
  EXPECT_EQ(p.client->state(), tcp::state::established);
}

TEST_F(stack_tcp, a_full_accept_queue_drops_syns_and_counts_listen_overflows) {
  tcp_listener l(b.ifc, small());
  ASSERT_FALSE(l.bind({b_ip, 80}));
  ASSERT_FALSE(l.listen(1));
  tcp_socket c1(a.ifc, small()), c2(a.ifc, small());
  ASSERT_FALSE(c1.connect({b_ip, 80}, now));
  pump();
  EXPECT_EQ(l.pending(), 1u);
  ASSERT_FALSE(c2.connect({b_ip, 80}, now));
  pump();
  EXPECT_EQ(c2.state(), tcp::state::syn_sent);   // its SYN was dropped: it will try again
  EXPECT_EQ(l.pending(), 1u);
  auto cb = b.ifc.tcp_counters();
  EXPECT_EQ(cb.listen_overflows, 1u);
  EXPECT_EQ(cb.listen_drops, 1u);
  EXPECT_EQ(b.ifc.counters().dropped(drop_reason::tcp_listen_overflow), 1u);
  // Accepting makes room; the SYN retransmitted at the initial RTO (1 s) gets in.
  std::unique_ptr<tcp_socket> s1, s2;
  ASSERT_FALSE(l.accept(s1));
  advance_to(1 * sec);
  EXPECT_EQ(c2.state(), tcp::state::established);
  ASSERT_FALSE(l.accept(s2));
  EXPECT_EQ(s2->remote_endpoint(), c2.local_endpoint());
  cb = b.ifc.tcp_counters();
  EXPECT_EQ(cb.passive_opens, 2u);
  EXPECT_EQ(cb.listen_overflows, 1u);
  EXPECT_EQ(a.ifc.tcp_counters().syn_retrans, 1u);
}

TEST_F(stack_tcp, a_handshake_ack_that_finds_the_accept_queue_full_is_dropped_and_retried) {
  tcp_listener l(b.ifc, small());
  ASSERT_FALSE(l.bind({{}, 80}));
  ASSERT_FALSE(l.listen(2));
  tcp_socket late(a.ifc, small());
  ASSERT_FALSE(late.connect({b_ip, 80}, now));
  const std::uint16_t late_port = late.local_endpoint().port;
  bool hold = true;   // late's handshake ACK is lost while the others fill the accept queue
  pass = [&](bool from_a, const bytes& f) {
    const auto t = tcp_of(f);
    return !(hold && from_a && t && t->repr().src_port == late_port && !t->repr().has(tflag::syn));
  };
  pump();
  tcp_socket c1(a.ifc, small()), c2(a.ifc, small());
  ASSERT_FALSE(c1.connect({b_ip, 80}, now));
  pump();   // one at a time: two SYNs in one burst beside late's would fill the SYN queue (2)
  ASSERT_FALSE(c2.connect({b_ip, 80}, now));
  pump();
  EXPECT_EQ(l.pending(), 2u);
  EXPECT_EQ(b.entries(), 3u);
  hold = false;
  advance_to(1 * sec);   // b's SYN-ACK again (its RTO); late answers; the queue is full: dropped
  auto cb = b.ifc.tcp_counters();
  EXPECT_EQ(cb.listen_overflows, 1u);
  EXPECT_EQ(cb.listen_drops, 1u);
  EXPECT_EQ(b.ifc.counters().dropped(drop_reason::tcp_listen_overflow), 1u);
  EXPECT_EQ(l.pending(), 2u);
  std::unique_ptr<tcp_socket> s;
  ASSERT_FALSE(l.accept(s));
  advance_to(3 * sec);   // the next SYN-ACK (backoff: 2 s later) gets its ACK in
  EXPECT_EQ(l.pending(), 2u);
  cb = b.ifc.tcp_counters();
  EXPECT_EQ(cb.passive_opens, 3u);
  EXPECT_EQ(cb.listen_overflows, 1u);
}

TEST_F(stack_tcp, a_full_syn_queue_drops_syns_without_an_overflow) {
  tcp_listener l(b.ifc, small());
  l.set_syn_cookies(false);   // with them (the default) a cookie answers instead: the test below
  ASSERT_FALSE(l.bind({{}, 80}));
  ASSERT_FALSE(l.listen(1));
  // The client's handshake ACK never arrives: the first connection stays half-open.
  pass = [](bool from_a, const bytes& f) {
    const auto t = tcp_of(f);
    return !(from_a && t && !t->repr().has(tflag::syn));
  };
  tcp_socket c1(a.ifc, small()), c2(a.ifc, small());
  ASSERT_FALSE(c1.connect({b_ip, 80}, now));
  pump();
  ASSERT_FALSE(c2.connect({b_ip, 80}, now));
  pump();
  const auto cb = b.ifc.tcp_counters();
  EXPECT_EQ(cb.listen_drops, 1u);
  EXPECT_EQ(cb.listen_overflows, 0u);
  EXPECT_EQ(b.ifc.counters().dropped(drop_reason::tcp_syn_queue_full), 1u);
  EXPECT_EQ(l.pending(), 0u);
  EXPECT_EQ(b.entries(), 1u);
  // Closing the listener resets the half-open one and frees it.
  b.port.sent.clear();
  l.close();
  ASSERT_EQ(b.port.sent.size(), 1u);
  EXPECT_EQ(tcp_of(b.port.sent[0])->repr().flags, tflag::rst);
  b.port.sent.clear();
  EXPECT_EQ(b.entries(), 0u);
}

TEST_F(stack_tcp, a_closed_socket_leaves_an_orphan_that_finishes_time_wait_and_is_freed) {
  auto p = connect_pair();
  ASSERT_FALSE(p.client->send(text("bye"), now).ec);
  p.client.reset();   // destroyed: close(), the connection goes on alone
  EXPECT_EQ(a.entries(), 1u);
  pump();
  EXPECT_EQ(read_all(*p.server, now), "bye");
  EXPECT_TRUE(p.server->peer_closed());
  p.server->close(now);
  pump();
  EXPECT_EQ(b.entries(), 0u);
  ASSERT_EQ(a.entries(), 1u);
  EXPECT_EQ(a.ifc.tcp_host().lane.sockets().tcp_entries()[0]->conn.current(), tcp::state::time_wait);
  const time_ns fin_at = now;
  EXPECT_EQ(a.ifc.next_deadline(), fin_at + 2 * sec);   // 2 * MSL
  advance_to(fin_at + 2 * sec - 1);
  EXPECT_EQ(a.entries(), 1u);
  advance_to(fin_at + 2 * sec);
  EXPECT_EQ(a.entries(), 0u);
  EXPECT_EQ(a.ifc.next_deadline(), never);
  // Retired connections still count: the lane's totals did not move when the entry went.
  EXPECT_EQ(a.ifc.tcp_counters().out_segs, tcp_sent[1]);
  EXPECT_EQ(a.ifc.tcp_counters().curr_estab, 0u);
}

TEST_F(stack_tcp, a_syn_with_a_larger_timestamp_reuses_a_time_wait_tuple) {
  auto p = connect_pair();
  // The server closes first: b's side of the tuple ends in TIME_WAIT.
  p.server.reset();
  pump();
  p.client->close(now);
  pump();
  ASSERT_EQ(b.entries(), 1u);
  EXPECT_EQ(b.ifc.tcp_host().lane.sockets().tcp_entries()[0]->conn.current(), tcp::state::time_wait);
  EXPECT_EQ(a.entries(), 0u);
  const endpoint old_local = p.client->local_endpoint();
  p.client.reset();

  // A SYN of the same tuple with an older timestamp than the last one b saw does not reuse it (PAWS).
  std::uint32_t last_ts = 0;
  for (const auto& [from_a, f] : log)
    if (const auto t = tcp_of(f); t && from_a) last_ts = t->repr().opts.ts->value;
  wire::tcp::repr old{.src_port = old_local.port, .dst_port = 80, .seq = 1, .flags = tflag::syn, .window = 1000};
  old.opts.ts = wire::tcp::timestamps{last_ts - 1, 0};
  bytes l4(old.buffer_len());
  old.emit(l4, a_ip, b_ip);
  b.port.inject(ipv4(a_ip, b_ip, wire::tcp::ip_protocol, l4, 9, a_mac, b_mac));
  b.ifc.poll(now);
  b.port.sent.clear();
  EXPECT_EQ(b.ifc.tcp_counters().time_wait_reuse, 0u);
  EXPECT_EQ(b.ifc.counters().dropped(drop_reason::tcp_paws), 1u);
  ASSERT_EQ(b.entries(), 1u);

  // One second later the same tuple opens again: its timestamps are larger (offset per address pair).
  advance_to(now + 1 * sec);
  tcp_socket again(a.ifc, small());
  ASSERT_FALSE(again.bind(old_local));
  ASSERT_FALSE(again.connect({b_ip, 80}, now));
  pump();
  EXPECT_EQ(again.state(), tcp::state::established);
  EXPECT_EQ(b.ifc.tcp_counters().time_wait_reuse, 1u);
  EXPECT_EQ(p.listener->pending(), 1u);
  EXPECT_EQ(b.entries(), 1u);
}

TEST_F(stack_tcp, bad_segments_are_dropped_by_reason_with_their_packet_ids) {
  tcp_listener l(b.ifc, small());
  ASSERT_FALSE(l.bind({{}, 80}));
  ASSERT_FALSE(l.listen(4));
  wire::tcp::repr syn{.src_port = 4000, .dst_port = 80, .seq = 1, .flags = tflag::syn, .window = 1000};
  bytes good(syn.buffer_len());
  syn.emit(good, a_ip, b_ip);
  bytes bad_csum = good;
  bad_csum[16] ^= std::byte{0x01};
  bytes truncated(good.begin(), good.begin() + 12);
  bytes low_offset = good;
  low_offset[12] = std::byte{0x40};   // 4 words: less than the fixed header
  bytes high_offset = good;
  high_offset[12] = std::byte{0xf0};  // 60 bytes of header in a 20-byte segment
  bytes bad_option = good;
  {   // one option whose length runs past the header: 24-byte header, MSS claiming 6 bytes
    wire::tcp::repr r = syn;
    r.opts.mss = 1000;
    bad_option.assign(r.buffer_len(), std::byte{0});
    r.emit(bad_option, a_ip, b_ip);
    bad_option[21] = std::byte{6};
    wire::store_be16(bad_option.data() + 16, 0);
    wire::store_be16(bad_option.data() + 16, wire::checksum::compute(
        bad_option, wire::checksum::pseudo_header(a_ip, b_ip, 6, static_cast<std::uint16_t>(bad_option.size()))));
  }
  trace::enable(true);
  (void)trace::drain();
  auto put = [&](const bytes& l4, std::uint64_t id, std::uint16_t flags = 0) {
    b.port.inject(ipv4(a_ip, b_ip, wire::tcp::ip_protocol, l4, 9, a_mac, b_mac), {.packet_id = id, .flags = flags});
  };
  put(bad_csum, 101);
  put(truncated, 102);
  put(low_offset, 103);
  put(high_offset, 104);
  put(bad_option, 105);
  put(good, 106, port::rx_l4_csum_bad);       // the device said wrong: dropped without a look
  put(bad_csum, 107, port::rx_l4_csum_good);  // the device vouched: taken (a SYN for the listener)
  b.ifc.poll(now);
  const auto events = trace::drain();
  trace::enable(false);
  std::vector<std::pair<std::uint64_t, drop_reason>> drops;
  std::vector<std::uint64_t> delivered;
  for (const auto& e : events) {
    if (e.stage != trace::hop::tcp) continue;
    if (e.v == trace::verdict::drop) drops.emplace_back(e.packet_id, e.reason);
    if (e.v == trace::verdict::deliver) delivered.push_back(e.packet_id);
  }
  EXPECT_EQ(drops, (std::vector<std::pair<std::uint64_t, drop_reason>>{
                       {101, drop_reason::bad_l4_checksum}, {102, drop_reason::truncated},
                       {103, drop_reason::tcp_bad_offset}, {104, drop_reason::tcp_bad_offset},
                       {105, drop_reason::tcp_bad_options}, {106, drop_reason::bad_l4_checksum}}));
  EXPECT_EQ(delivered, std::vector<std::uint64_t>{107});
  const auto& ic = b.ifc.counters();
  EXPECT_EQ(ic.dropped(drop_reason::bad_l4_checksum), 2u);
  EXPECT_EQ(ic.dropped(drop_reason::truncated), 1u);
  EXPECT_EQ(ic.dropped(drop_reason::tcp_bad_offset), 2u);
  EXPECT_EQ(ic.dropped(drop_reason::tcp_bad_options), 1u);
  const auto& tc = b.ifc.tcp_counters();
  EXPECT_EQ(tc.in_segs, 7u);
  EXPECT_EQ(tc.in_errs, 6u);
  EXPECT_EQ(tc.in_csum_errors, 2u);
  EXPECT_EQ(b.entries(), 1u);   // 107's SYN: half-open
  // Its SYN-ACK waits for ARP; let it go: a has no such connection and resets it, and it is freed.
  pump();
  EXPECT_EQ(b.entries(), 0u);
  EXPECT_EQ(b.ifc.tcp_counters().attempt_fails, 1u);
  EXPECT_EQ(trace::to_string(drop_reason::tcp_listen_overflow), "tcp_listen_overflow");
}

TEST_F(stack_tcp, engine_drops_are_counted_and_traced_by_reason) {
  auto p = connect_pair();
  // Forge segments of the connection from a's side: the server's engine judges them.
  const tcp_key k{p.client->local_endpoint(), p.client->remote_endpoint()};
  tcp_entry* ce = a.ifc.tcp_host().lane.sockets().find_tcp(k);
  ASSERT_NE(ce, nullptr);
  const std::uint32_t snd = ce->conn.snd_nxt(), rcv = ce->conn.rcv_nxt();
  auto forge = [&](std::uint32_t seq, std::uint8_t flags, std::uint64_t id) {
    wire::tcp::repr r{.src_port = k.local.port, .dst_port = 80, .seq = seq, .ack = rcv, .flags = flags, .window = 100};
    bytes l4(r.buffer_len());
    r.emit(l4, a_ip, b_ip);
    b.port.inject(ipv4(a_ip, b_ip, wire::tcp::ip_protocol, l4, 9, a_mac, b_mac), {.packet_id = id});
  };
  trace::enable(true);
  (void)trace::drain();
  forge(snd + 100000, tflag::ack, 201);               // far outside the window
  forge(snd + 10, tflag::rst, 202);                   // in the window, not at RCV.NXT
  forge(snd, tflag::syn, 203);                        // SYN in ESTABLISHED
  forge(snd, 0, 204);                                 // no ACK
  b.ifc.poll(now);
  const auto events = trace::drain();
  trace::enable(false);
  std::vector<std::pair<std::uint64_t, drop_reason>> drops;
  for (const auto& e : events)
    if (e.stage == trace::hop::tcp && e.v == trace::verdict::drop) drops.emplace_back(e.packet_id, e.reason);
  EXPECT_EQ(drops, (std::vector<std::pair<std::uint64_t, drop_reason>>{
                       {201, drop_reason::tcp_out_of_window}, {202, drop_reason::tcp_rst_challenged},
                       {203, drop_reason::tcp_syn_challenged}, {204, drop_reason::tcp_no_ack}}));
  // Two challenges in one poll: the second is within 500 ms of the first (RFC 5961 7, Linux's
  // per-socket limit), so one ACK goes out and one is skipped (TcpExtTCPACKSkippedChallenge).
  EXPECT_EQ(b.ifc.tcp_counters().challenge_acks, 1u);
  EXPECT_EQ(b.ifc.tcp_counters().challenge_acks_skipped, 1u);
  EXPECT_EQ(p.server->state(), tcp::state::established);
  b.port.sent.clear();
}

TEST_F(stack_tcp, lane_counters_add_up_to_the_frames_moved) {
  {
    auto p = connect_pair();
    ASSERT_FALSE(p.client->send(text(std::string(5000, 'x')), now).ec);
    advance_to(now + 100 * ms);
    EXPECT_EQ(read_all(*p.server, now), std::string(5000, 'x'));
    p.client->close(now);
    p.server->close(now);
    // A connection refused on another port: the table's own RST counts too.
    tcp_socket refused(a.ifc, small());
    ASSERT_FALSE(refused.connect({b_ip, 99}, now));
    advance_to(now + 5 * sec);   // TIME_WAIT over: every connection retired
  }
  EXPECT_EQ(a.entries(), 0u);
  EXPECT_EQ(b.entries(), 0u);
  const auto ca = a.ifc.tcp_counters(), cb = b.ifc.tcp_counters();
  EXPECT_EQ(cb.in_segs, tcp_moved[1]);
  EXPECT_EQ(ca.in_segs, tcp_moved[0]);
  EXPECT_EQ(ca.out_segs, tcp_sent[1]);
  EXPECT_EQ(cb.out_segs, tcp_sent[0]);
  EXPECT_EQ(ca.active_opens, 2u);
  EXPECT_EQ(ca.attempt_fails, 1u);
  EXPECT_EQ(cb.passive_opens, 1u);
  EXPECT_EQ(cb.out_rsts, 1u);
  EXPECT_EQ(ca.curr_estab + cb.curr_estab, 0u);
  EXPECT_EQ(ca.estab_resets + cb.estab_resets, 0u);
}

TEST_F(stack_tcp, ephemeral_ports_are_unique_per_protocol_and_bindings_conflict) {
  tcp_socket t1(a.ifc, small()), t2(a.ifc, small()), t3(a.ifc, small());
  udp_socket u(a.ifc);
  ASSERT_FALSE(u.bind({{}, 0}));
  EXPECT_EQ(u.local_endpoint().port, 49152);
  ASSERT_FALSE(t1.connect({b_ip, 80}, now));
  ASSERT_FALSE(t2.connect({b_ip, 80}, now));
  EXPECT_EQ(t1.local_endpoint().port, 49152);   // UDP's 49152 is no TCP port
  EXPECT_EQ(t2.local_endpoint().port, 49153);
  ASSERT_FALSE(t3.bind({{}, 0}));
  EXPECT_EQ(t3.local_endpoint().port, 49154);
  tcp_socket t4(a.ifc, small());
  EXPECT_EQ(t4.bind({a_ip, 49154}), std::errc::address_in_use);
  EXPECT_EQ(t4.bind({wire::ipv4_addr{10, 0, 0, 9}, 7}), std::errc::address_not_available);
  tcp_listener l(a.ifc, small());
  ASSERT_FALSE(l.bind({a_ip, 8080}));
  tcp_listener l2(a.ifc, small());
  EXPECT_EQ(l2.bind({{}, 8080}), std::errc::address_in_use);
  t3.close(now);
  ASSERT_FALSE(t4.bind({{}, 49154}));   // freed by close
  pump();   // the SYNs waiting for ARP go; nobody listens on b: both refused
  EXPECT_EQ(t1.error(), std::errc::connection_refused);
  EXPECT_EQ(t2.error(), std::errc::connection_refused);
}

TEST_F(stack_tcp, a_lost_syn_is_sent_again_at_exactly_the_configured_rto) {
  tcp_listener l(b.ifc, small());
  ASSERT_FALSE(l.bind({{}, 80}));
  ASSERT_FALSE(l.listen(4));
  int syns = 0;
  pass = [&](bool from_a, const bytes& f) {
    const auto t = tcp_of(f);
    return !(from_a && t && t->repr().has(tflag::syn) && ++syns == 1);   // the first SYN is lost
  };
  auto cfg = small();
  cfg.rto_initial = 700 * ms;
  tcp_socket c(a.ifc, cfg);
  now = 5 * ms;
  ASSERT_FALSE(c.connect({b_ip, 80}, now));
  pump();
  EXPECT_EQ(syns, 1);
  EXPECT_EQ(a.ifc.next_deadline(), 705 * ms);
  advance_to(705 * ms - 1);
  EXPECT_EQ(syns, 1);
  EXPECT_EQ(c.state(), tcp::state::syn_sent);
  advance_to(705 * ms);
  EXPECT_EQ(syns, 2);
  EXPECT_EQ(c.state(), tcp::state::established);
  const auto& ca = a.ifc.tcp_counters();
  EXPECT_EQ(ca.timeouts, 1u);
  EXPECT_EQ(ca.syn_retrans, 1u);
  EXPECT_EQ(ca.retrans_segs, 1u);
}

TEST_F(stack_tcp, a_connection_to_our_own_address_runs_through_the_lane_without_the_wire) {
  tcp_listener l(a.ifc, small());
  ASSERT_FALSE(l.bind({{}, 80}));
  ASSERT_FALSE(l.listen(2));
  recorder lev;
  l.set_events(&recorder::fn, &lev);
  tcp_socket c(a.ifc, small());
  ASSERT_FALSE(c.connect({a_ip, 80}, now));   // SYN, SYN-ACK, ACK: all inside this call's drain
  EXPECT_EQ(c.state(), tcp::state::established);
  EXPECT_EQ(lev.got, std::vector<unsigned>{tcp_socket::ev_readable});
  std::unique_ptr<tcp_socket> s;
  ASSERT_FALSE(l.accept(s));
  ASSERT_EQ(c.send(text("ping"), now).bytes, 4u);
  EXPECT_EQ(read_all(*s, now), "ping");
  ASSERT_EQ(s->send(text("pong"), now).bytes, 4u);
  EXPECT_EQ(read_all(c, now), "pong");
  c.close(now);
  s->close(now);
  EXPECT_EQ(a.entries(), 1u);   // the client's orphan in TIME_WAIT
  advance_to(now + 2 * sec);
  EXPECT_EQ(a.entries(), 0u);
  EXPECT_TRUE(a.port.sent.empty());
  EXPECT_EQ(tcp_sent[1], 0u);
  const auto ca = a.ifc.tcp_counters();
  EXPECT_EQ(ca.in_segs, ca.out_segs);   // every segment it sent, it received
  EXPECT_EQ(ca.active_opens, 1u);
  EXPECT_EQ(ca.passive_opens, 1u);
  EXPECT_EQ(a.ifc.counters().looped_back, ca.out_segs);
  EXPECT_EQ(a.ifc.counters().dropped_total(), 0u);
}

TEST(stack_tcp_secret, iss_is_keyed_by_the_secret_and_ticks_every_4_us) {
  const tcp_key k{{a_ip, 1000}, {b_ip, 80}};
  const tcp_secret s1(1), s1b(1), s2(2);
  EXPECT_EQ(s1.iss(k, 0), s1b.iss(k, 0));
  EXPECT_NE(s1.iss(k, 0), s2.iss(k, 0));
  EXPECT_NE(s1.iss(k, 0), s1.iss({{a_ip, 1001}, {b_ip, 80}}, 0));
  EXPECT_EQ(s1.iss(k, 4000) - s1.iss(k, 0), 1u);
  EXPECT_EQ(s1.iss(k, 3999), s1.iss(k, 0));
  EXPECT_EQ(s1.iss(k, 4 * sec) - s1.iss(k, 0), 1'000'000u);
}

// Issue 12: a segment ip_output will not send is no longer lost in silence. A SYN to an off-subnet
// address with no gateway has no route: counted by reason (arp_unresolved: no next hop) and traced as
// a drop at the tcp hop; the connect's retransmission (the RTO) meets the same and counts again.
TEST_F(stack_tcp, a_segment_with_no_route_is_counted_and_traced) {
  trace::enable(true);
  (void)trace::drain();
  tcp_socket c(a.ifc, small());
  ASSERT_FALSE(c.connect({wire::ipv4_addr{192, 168, 7, 7}, 80}, now));
  pump();
  auto events = trace::drain();
  std::vector<std::pair<trace::hop, drop_reason>> drops;
  for (const auto& e : events)
    if (e.v == trace::verdict::drop) drops.push_back({e.stage, e.reason});
  EXPECT_EQ(drops, (std::vector<std::pair<trace::hop, drop_reason>>{{trace::hop::tcp, drop_reason::arp_unresolved}}));
  EXPECT_EQ(a.ifc.counters().dropped(drop_reason::arp_unresolved), 1u);
  EXPECT_EQ(a.ifc.counters().dropped(drop_reason::pool_empty), 0u);
  advance_to(now + 1 * sec);   // the initial RTO: the SYN again, no route again
  EXPECT_EQ(a.ifc.counters().dropped(drop_reason::arp_unresolved), 2u);
  EXPECT_EQ(a.ifc.tcp_counters().syn_retrans, 1u);
  trace::enable(false);
  (void)trace::drain();
  c.abort(now);
  pump();
}

// Issue 12: a segment that finds no TX frame (the TX ring full) is counted and traced as pool_empty,
// and goes out by the engine's retransmission once there is room.
TEST_F(stack_tcp, a_segment_without_a_tx_frame_is_counted_and_sent_again) {
  auto p = connect_pair();
  trace::enable(true);
  (void)trace::drain();
  a.port.limit_tx(0);   // a's TX ring full: tx_reserve gives nothing
  ASSERT_FALSE(p.client->send(text("lost at first"), now).ec);
  EXPECT_EQ(a.ifc.counters().dropped(drop_reason::pool_empty), 1u);
  const auto events = trace::drain();
  trace::enable(false);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].stage, trace::hop::tcp);
  EXPECT_EQ(events[0].v, trace::verdict::drop);
  EXPECT_EQ(events[0].reason, drop_reason::pool_empty);
  a.port.limit_tx(~std::size_t{0});
  advance_to(now + 2 * sec);   // the RTO sends it again, through a TX ring with room
  EXPECT_EQ(read_all(*p.server, now), "lost at first");
  EXPECT_EQ(a.ifc.counters().dropped(drop_reason::pool_empty), 1u);
}

// Issue 12, as Linux does it (inet_csk_accept takes the accept queue's head whatever its state;
// inet_accept admits TCP_CLOSE): a connection reset after its handshake and before accept() stays
// in the accept queue; accept() returns it, its data before the RST can be read, then
// connection_reset; its 4-tuple is free at once for a new connection.
TEST_F(stack_tcp, a_connection_reset_before_accept_is_accepted_and_reports_the_reset) {
  tcp_listener l(b.ifc, small());
  ASSERT_FALSE(l.bind({b_ip, 80}));
  ASSERT_FALSE(l.listen(4));
  auto c = std::make_unique<tcp_socket>(a.ifc, small());
  ASSERT_FALSE(c->bind({{}, 41000}));
  ASSERT_FALSE(c->connect({b_ip, 80}, now));
  pump();
  ASSERT_EQ(l.pending(), 1u);
  ASSERT_FALSE(c->send(text("before the reset"), now).ec);
  pump();
  c->abort(now);   // RST
  pump();
  EXPECT_EQ(b.ifc.tcp_counters().estab_resets, 1u);
  EXPECT_EQ(l.pending(), 1u);
  EXPECT_EQ(b.entries(), 1u);
  // The tuple is free: the same client port connects again while the reset one still waits.
  c = std::make_unique<tcp_socket>(a.ifc, small());
  ASSERT_FALSE(c->bind({{}, 41000}));
  ASSERT_FALSE(c->connect({b_ip, 80}, now));
  pump();
  EXPECT_EQ(c->state(), tcp::state::established);
  EXPECT_EQ(l.pending(), 2u);
  std::unique_ptr<tcp_socket> reset, fresh;
  ASSERT_FALSE(l.accept(reset));
  EXPECT_EQ(reset->state(), tcp::state::closed);
  EXPECT_EQ(reset->error(), std::errc::connection_reset);
  EXPECT_EQ(read_all(*reset, now), "before the reset");
  std::byte buf[16];
  EXPECT_EQ(reset->receive(buf, now).ec, std::errc::connection_reset);
  EXPECT_EQ(reset->send(text("x"), now).ec, std::errc::connection_reset);
  ASSERT_FALSE(l.accept(fresh));
  EXPECT_EQ(fresh->state(), tcp::state::established);
  EXPECT_EQ(fresh->remote_endpoint(), c->local_endpoint());
  reset.reset();   // the reset connection's entry goes with its socket
  EXPECT_EQ(b.entries(), 1u);
  c->abort(now);
  pump();
}

// A listener that closes with a reset connection still queued frees it (nothing to send to it).
TEST_F(stack_tcp, closing_a_listener_frees_a_reset_connection_it_still_queued) {
  auto l = std::make_unique<tcp_listener>(b.ifc, small());
  ASSERT_FALSE(l->bind({b_ip, 80}));
  ASSERT_FALSE(l->listen(4));
  tcp_socket c(a.ifc, small());
  ASSERT_FALSE(c.connect({b_ip, 80}, now));
  pump();
  c.abort(now);
  pump();
  ASSERT_EQ(l->pending(), 1u);
  const std::size_t sent_before = b.port.sent.size();
  l.reset();
  EXPECT_EQ(b.entries(), 0u);
  EXPECT_EQ(b.port.sent.size(), sent_before);   // no RST for a connection already reset
}

// Issue 12: real ports key ISNs and SYN cookies from the OS (interface_config::tcp_secret 0, as
// attach_lane sets for every device but sim): two lanes give the same 4-tuple different ISNs. sim
// keeps the configured secret: two runs, the same ISNs.
TEST(stack_tcp_secret, real_port_lanes_draw_their_own_secret_and_sim_lanes_repeat) {
  const tcp_key k{{a_ip, 40000}, {b_ip, 80}};
  auto lane_iss = [&](bool from_os) {
    test_port p;
    interface_config c = host_config(a_mac, a_ip);
    if (from_os) c.tcp_secret = 0;
    interface i(p, c);
    return i.tcp_host().lane.secret().iss(k, 5 * sec);
  };
  EXPECT_EQ(lane_iss(false), lane_iss(false));
  EXPECT_EQ(lane_iss(false), tcp_secret(interface_config{}.tcp_secret).iss(k, 5 * sec));
  const std::uint32_t r1 = lane_iss(true), r2 = lane_iss(true), fixed = lane_iss(false);
  EXPECT_NE(r1, r2);   // 2^-32 to fail by chance
  EXPECT_NE(r1, fixed);
  EXPECT_NE(r2, fixed);
}

// The rule attach_lane and tcp_lanes apply (lane_tcp_secret): a real port draws from the OS (0)
// unless the user chose a secret (--tcp-secret N: two real-port runs with it give the same ISNs);
// sim keeps the configured secret, or the chosen one.
TEST(stack_tcp_secret, a_chosen_secret_makes_real_port_isns_repeat) {
  const std::uint64_t configured = interface_config{}.tcp_secret;
  EXPECT_EQ(lane_tcp_secret(configured, true, std::nullopt), 0u);
  EXPECT_EQ(lane_tcp_secret(configured, false, std::nullopt), configured);
  EXPECT_EQ(lane_tcp_secret(configured, true, 42), 42u);
  EXPECT_EQ(lane_tcp_secret(configured, false, 42), 42u);
  const tcp_key k{{a_ip, 40000}, {b_ip, 80}};
  auto lane_iss = [&](std::optional<std::uint64_t> chosen) {
    test_port p;
    interface_config c = host_config(a_mac, a_ip);
    c.tcp_secret = lane_tcp_secret(c.tcp_secret, true, chosen);
    interface i(p, c);
    return i.tcp_host().lane.secret().iss(k, 5 * sec);
  };
  EXPECT_EQ(lane_iss(42), lane_iss(42));
  EXPECT_EQ(lane_iss(42), tcp_secret(42).iss(k, 5 * sec));
  EXPECT_NE(lane_iss(42), lane_iss(43));
  EXPECT_NE(lane_iss(std::nullopt), lane_iss(std::nullopt));   // 2^-32 to fail by chance
}

// RFC 4987 3.6: a SYN flood fills the SYN queue (backlog 2) with connections whose SYN-ACKs go
// nowhere; every further SYN gets a SYN cookie and leaves no state, and a real client's handshake
// completes by its cookie: ESTABLISHED from the ACK, into the accept queue, bytes both ways.
TEST_F(stack_tcp, a_syn_flood_past_the_backlog_gets_cookies_and_a_real_client_gets_in_by_one) {
  tcp_listener l(b.ifc, small());
  ASSERT_FALSE(l.bind({{}, 80}));
  ASSERT_FALSE(l.listen(2));
  // The flood's sources never answer: b's SYN-ACKs to them are lost (as to spoofed addresses).
  std::set<std::uint16_t> flood_ports;
  pass = [&](bool from_a, const bytes& f) {
    const auto t = tcp_of(f);
    return !(t && !from_a && flood_ports.count(t->repr().dst_port));
  };
  std::vector<std::unique_ptr<tcp_socket>> flood;
  for (int i = 0; i < 8; ++i) {
    flood.push_back(std::make_unique<tcp_socket>(a.ifc, small()));
    ASSERT_FALSE(flood.back()->bind({{}, static_cast<std::uint16_t>(50000 + i)}));
    flood_ports.insert(static_cast<std::uint16_t>(50000 + i));
    ASSERT_FALSE(flood.back()->connect({b_ip, 80}, now));
    pump();
  }
  EXPECT_EQ(l.half_open(), 2u);   // the first two; the other six were answered with cookies
  EXPECT_EQ(b.entries(), 2u);     // and left nothing behind
  auto cb = b.ifc.tcp_counters();
  EXPECT_EQ(cb.syncookies_sent, 6u);
  EXPECT_EQ(cb.listen_drops, 0u);
  EXPECT_EQ(b.ifc.counters().dropped(drop_reason::tcp_syn_queue_full), 0u);

  tcp_socket c(a.ifc, small());
  ASSERT_FALSE(c.connect({b_ip, 80}, now));
  const std::size_t from = log.size();
  pump();
  EXPECT_EQ(c.state(), tcp::state::established);
  // SYN, the cookie's SYN-ACK (the client's options answered: MSS, SACK, timestamps, window scale),
  // the ACK that makes the connection.
  ASSERT_EQ(log.size() - from, 3u);
  const auto synack = tcp_of(log[from + 1].second)->repr();
  EXPECT_EQ(synack.flags, tflag::syn | tflag::ack);
  EXPECT_EQ(synack.opts.mss, 1460);
  EXPECT_TRUE(synack.opts.sack_permitted);
  EXPECT_EQ(synack.opts.window_scale, 0);   // 16 KiB needs no shift
  ASSERT_TRUE(synack.opts.ts);
  EXPECT_EQ(synack.opts.ts->value & 0x3f, tcp::syn_cookie::ts_sack | 0u);   // SACK, shift 0 in the TSval
  EXPECT_EQ(l.half_open(), 2u);
  EXPECT_EQ(l.pending(), 1u);
  cb = b.ifc.tcp_counters();
  EXPECT_EQ(cb.syncookies_sent, 7u);
  EXPECT_EQ(cb.syncookies_recv, 1u);
  EXPECT_EQ(cb.syncookies_failed, 0u);
  EXPECT_EQ(cb.passive_opens, 1u);
  std::unique_ptr<tcp_socket> s;
  ASSERT_FALSE(l.accept(s));
  EXPECT_EQ(s->state(), tcp::state::established);
  EXPECT_EQ(s->remote_endpoint(), c.local_endpoint());

  // Bytes both ways, several segments each, with the restored options in force.
  std::string up, down;
  for (int i = 0; i < 500; ++i) up += "up" + std::to_string(i) + ";", down += "down" + std::to_string(i) + ",";
  ASSERT_EQ(c.send(text(up), now).bytes, up.size());
  ASSERT_EQ(s->send(text(down), now).bytes, down.size());
  advance_to(now + 1 * sec);
  EXPECT_EQ(read_all(*s, now), up);
  EXPECT_EQ(read_all(c, now), down);
  std::size_t data_segments = 0;
  for (std::size_t i = from + 3; i < log.size(); ++i) {
    const auto t = tcp_of(log[i].second);
    if (!t) continue;
    const auto r = t->repr();
    EXPECT_TRUE(r.opts.ts);   // timestamps on both ways, as the cookie brought them back
    data_segments += !r.payload.empty();
  }
  EXPECT_GE(data_segments, 4u);
  EXPECT_EQ(s->info().mss, 1460 - 12);

  // An ACK to the listener whose "cookie" is not one: refused (SyncookiesFailed), answered with RST.
  wire::tcp::repr forged{.src_port = 5555, .dst_port = 80, .seq = 100, .ack = 777, .flags = tflag::ack, .window = 10};
  bytes l4(forged.buffer_len());
  forged.emit(l4, a_ip, b_ip);
  b.port.inject(ipv4(a_ip, b_ip, wire::tcp::ip_protocol, l4, 9, a_mac, b_mac));
  b.port.sent.clear();
  b.ifc.poll(now);
  ASSERT_EQ(b.port.sent.size(), 1u);
  EXPECT_EQ(tcp_of(b.port.sent[0])->repr().flags, tflag::rst);
  EXPECT_EQ(tcp_of(b.port.sent[0])->repr().seq, 777u);
  b.port.sent.clear();
  EXPECT_EQ(b.ifc.tcp_counters().syncookies_failed, 1u);
  EXPECT_EQ(b.entries(), 3u);   // the two half-open and the cookie's
}
