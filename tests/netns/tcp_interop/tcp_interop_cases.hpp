#pragma once
// The TCP interop cases, the same over our AF_XDP port and over DPDK's net_af_xdp (each test file
// opens its port and calls these): our stack against Linux's TCP in the peer namespace, in both roles.
//   handshake            the 4-tuples both ends report agree; our counters say who opened
//   bulk                 N MB one way, then the other; byte-exact and SHA-256 equal at the receiver
//   half-close           one side shuts its send side; the other keeps sending until it shuts too
//   RST                  Linux's SO_LINGER 0 close -> our receive says connection_reset;
//                        our abort() -> Linux's recv says ECONNRESET
//   TIME_WAIT reuse      the Linux client connects again at once from the same port, after we closed
//                        first (our TIME_WAIT takes the SYN: RFC 6191) and after it closed first
//   seeded loss          our XDP program drops a share of one direction's segments; the transfer is
//                        exact, the sender retransmitted, and the drops add up (seeded_loss)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>

#include "backends/afxdp/afxdp_port.hpp"
#include "tests/netns/tcp_interop/tcp_rig.hpp"

namespace ringlab::test_tcp_interop::cases {

// The connection's end points as each side sees them.
inline void handshake(ti::interop_link& net, stack::interface& ifc, role r) {
  auto c = open(r, net, ifc);
  ASSERT_EQ(c.error, "");
  const auto ours = c.ours->info();
  EXPECT_EQ(ours.state, tcp::state::established);
  EXPECT_EQ(ours.local.addr, ti::our_addr);
  EXPECT_EQ(ours.remote.addr, ti::peer_addr);
  EXPECT_EQ(ours.remote.port, c.theirs->local_port());
  EXPECT_EQ(ours.local.port, c.theirs->remote_port());
  EXPECT_EQ(c.theirs->info().tcpi_state, TCP_ESTABLISHED);
  const auto& lane = ifc.tcp_counters();
  if (r == role::linux_client) {
    EXPECT_EQ(ours.local.port, listen_port);
    EXPECT_EQ(lane.passive_opens, 1u);
    EXPECT_EQ(lane.active_opens, 0u);
  } else {
    EXPECT_EQ(ours.remote.port, listen_port);
    EXPECT_GE(ours.local.port, ephemeral_first);   // our ephemeral range: the XDP program's tcp=A-B
    EXPECT_LE(ours.local.port, ephemeral_last);
    EXPECT_EQ(lane.active_opens, 1u);
    EXPECT_EQ(lane.passive_opens, 0u);
  }
  EXPECT_EQ(lane.curr_estab, 1u);
  EXPECT_EQ(lane.attempt_fails, 0u);
}

inline void expect_delivered(flow& f, const char* way) {
  EXPECT_EQ(f.received, f.total) << way;
  EXPECT_EQ(f.mismatch, -1) << way << ": first wrong byte at this offset";
  EXPECT_EQ(f.received_hash.hex(), f.sent_hash.hex()) << way << ": SHA-256 of what arrived vs what was sent";
}

// `bytes` one way with EOF, after the connection opened in role r; the other way stays open and empty.
inline void bulk(ti::interop_link& net, stack::interface& ifc, role r, std::uint64_t bytes, bool us_to_linux) {
  auto c = open(r, net, ifc);
  ASSERT_EQ(c.error, "");
  flow up(us_to_linux ? bytes : 0, 11), down(us_to_linux ? 0 : bytes, 22);
  std::string err;
  ASSERT_TRUE(exchange(ifc, c, up, down, {.shut_up = us_to_linux, .shut_down = !us_to_linux, .timeout = transfer_timeout(bytes)}, err))
      << err;
  expect_delivered(us_to_linux ? up : down, us_to_linux ? "us -> Linux" : "Linux -> us");
  // The sender's last ACKs may still be on their way: let them land, then both ends' counts of the
  // same stream. Linux counts sequence space, so its figures carry the FIN (+1) and, on the side
  // that connected, its SYN (+1) too (tcp_snd_una_update / tcp_rcv_nxt_update).
  const std::uint64_t fin = 1, syn = r == role::linux_client ? 1 : 0;
  drive(ifc, [](stack::time_ns) { return false; },
        [&] { return us_to_linux ? c.ours->info().bytes_acked >= bytes : c.theirs->info().tcpi_bytes_acked >= bytes + fin + syn; },
        milliseconds(2000));
  const auto i = c.ours->info();
  const auto li = c.theirs->info();
  if (us_to_linux) {
    EXPECT_EQ(i.bytes_acked, bytes);
    EXPECT_EQ(li.tcpi_bytes_received, bytes + fin);
  } else {
    EXPECT_EQ(i.bytes_received, bytes);
    EXPECT_EQ(li.tcpi_bytes_acked, bytes + fin + syn);
  }
}

// The half-closing side sends `first` bytes and shuts; the other side reads to EOF, then sends `second`
// bytes through the half-open connection and shuts too.
inline void half_close(ti::interop_link& net, stack::interface& ifc, role r, bool linux_shuts_first) {
  auto c = open(r, net, ifc);
  ASSERT_EQ(c.error, "");
  constexpr std::uint64_t first = 256 * 1024, second = 1024 * 1024;
  std::string err;
  {
    flow up(linux_shuts_first ? 0 : first, 31), down(linux_shuts_first ? first : 0, 32);
    ASSERT_TRUE(exchange(ifc, c, up, down, {.shut_up = !linux_shuts_first, .shut_down = linux_shuts_first}, err)) << err;
    expect_delivered(linux_shuts_first ? down : up, "before the half-close");
  }
  // Half-open: the side that read EOF is in CLOSE_WAIT, the other in FIN_WAIT_2.
  if (linux_shuts_first) {
    EXPECT_EQ(c.ours->state(), tcp::state::close_wait);
    EXPECT_TRUE(c.ours->peer_closed());
    EXPECT_EQ(c.theirs->info().tcpi_state, TCP_FIN_WAIT2);
  } else {
    ASSERT_TRUE(drive(ifc, [](stack::time_ns) { return false; },
                      [&] { return c.ours->state() == tcp::state::fin_wait_2; }, milliseconds(2000)))
        << "our state " << tcp::to_string(c.ours->state());
    EXPECT_EQ(c.theirs->info().tcpi_state, TCP_CLOSE_WAIT);
  }
  // The other direction keeps flowing, then closes too.
  flow up(linux_shuts_first ? second : 0, 33), down(linux_shuts_first ? 0 : second, 34);
  ASSERT_TRUE(exchange(ifc, c, up, down, {.shut_up = linux_shuts_first, .shut_down = !linux_shuts_first}, err)) << err;
  expect_delivered(linux_shuts_first ? up : down, "after the half-close");
  // Both FINs are acknowledged: the first closer (us: shut first) reaches TIME_WAIT, the other
  // CLOSED, with no error and no RST from us. A RST may still reach our TIME_WAIT afterwards: when
  // Linux, already CLOSED, meets a duplicate ACK (ours, for a FIN it sent again because our ACK
  // was slow), it answers with a RST, and a TIME_WAIT that takes a RST closes (RFC 1337's
  // assassination; Linux's own TIME_WAIT does the same with tcp_rfc1337 = 0, its default).
  bool saw_time_wait = false;
  std::error_code error_before_end;
  ASSERT_TRUE(drive(ifc, [](stack::time_ns) { return false; },
                    [&] {
                      const auto s = c.ours->state();
                      saw_time_wait = saw_time_wait || s == tcp::state::time_wait;
                      if (s == tcp::state::closed && !saw_time_wait) error_before_end = c.ours->error();
                      return s == tcp::state::time_wait || s == tcp::state::closed;
                    },
                    milliseconds(2000)))
      << "our state " << tcp::to_string(c.ours->state());
  EXPECT_FALSE(error_before_end) << error_before_end.message() << "\n" << describe(ifc, c);
  EXPECT_EQ(c.ours->counters().rsts_out, 0u) << describe(ifc, c);
  EXPECT_EQ(c.theirs->so_error(), 0);
  if (linux_shuts_first) {
    EXPECT_EQ(c.ours->state(), tcp::state::closed);
    EXPECT_EQ(c.ours->counters().rsts_in, 0u) << describe(ifc, c);
  } else {
    // TIME_WAIT, or (the race above) closed by the one RST Linux sent after it sent its FIN again.
    const bool assassinated = c.ours->state() == tcp::state::closed && c.ours->counters().rsts_in == 1 &&
                              c.theirs->info().tcpi_total_retrans >= 1;
    EXPECT_TRUE(saw_time_wait || assassinated) << describe(ifc, c);
  }
}

// Some bytes both ways first, so the RST meets a connection with data behind it.
inline void warm_up(stack::interface& ifc, connection& c) {
  flow up(64 * 1024, 41), down(64 * 1024, 42);
  std::string err;
  ASSERT_TRUE(exchange(ifc, c, up, down, {.shut_up = false, .shut_down = false}, err)) << err;
  expect_delivered(up, "us -> Linux");
  expect_delivered(down, "Linux -> us");
}

inline void linux_resets(ti::interop_link& net, stack::interface& ifc, role r) {
  auto c = open(r, net, ifc);
  ASSERT_EQ(c.error, "");
  warm_up(ifc, c);
  if (::testing::Test::HasFatalFailure()) return;
  ASSERT_EQ(c.theirs->linger_zero(), 0);
  c.theirs->close();   // RST, no FIN
  std::error_code got;
  std::byte b[64];
  ASSERT_TRUE(drive(
      ifc,
      [&](stack::time_ns now) {
        const auto res = c.ours->receive(b, now);
        if (res.ec && res.ec != std::errc::operation_would_block) got = res.ec;
        return false;
      },
      [&] { return bool(got); }, milliseconds(3000)))
      << "our receive never failed; state " << tcp::to_string(c.ours->state());
  EXPECT_EQ(got, std::errc::connection_reset) << got.message();
  EXPECT_EQ(c.ours->state(), tcp::state::closed);
  EXPECT_EQ(c.ours->error(), std::errc::connection_reset);
  EXPECT_EQ(c.ours->counters().rsts_in, 1u);
  EXPECT_EQ(ifc.tcp_counters().estab_resets, 1u);
  // A send on the reset connection says so too, as a kernel socket's does.
  const auto s = c.ours->send(std::span(b), now_ns());
  EXPECT_EQ(s.ec, std::errc::connection_reset) << s.ec.message();
}

inline void we_reset(ti::interop_link& net, stack::interface& ifc, role r) {
  auto c = open(r, net, ifc);
  ASSERT_EQ(c.error, "");
  warm_up(ifc, c);
  if (::testing::Test::HasFatalFailure()) return;
  const std::uint64_t rsts_before = ifc.tcp_counters().out_rsts;
  c.ours->abort(now_ns());
  long got = 0;
  char b[64];
  ASSERT_TRUE(drive(
      ifc,
      [&](stack::time_ns) {
        got = c.theirs->recv(b, sizeof b);
        return false;
      },
      [&] { return got != -EAGAIN; }, milliseconds(3000)));
  EXPECT_EQ(got, -ECONNRESET) << (got < 0 ? std::strerror(int(-got)) : "bytes or EOF instead of ECONNRESET");
  EXPECT_EQ(ifc.tcp_counters().out_rsts, rsts_before + 1);
  EXPECT_EQ(ifc.tcp_counters().estab_resets, 1u);
  EXPECT_EQ(c.theirs->info().tcpi_state, TCP_CLOSE);
}

// The Linux client closes (we_close_first: after us) and connects again at once from the same port.
inline void reconnect_same_port(ti::interop_link& net, stack::interface& ifc, bool we_close_first) {
  constexpr std::uint16_t linux_port = 45678;
  // Linux reuses its own TIME_WAIT for connect() only with tcp_tw_reuse = 1 (2, its default, means
  // loopback only), and then once a second has passed since the old connection's last timestamp.
  peer_sysctl(net.peer, "net.ipv4.tcp_tw_reuse", "1");
  auto c = linux_connects(net, ifc, {.bind_port = linux_port});
  ASSERT_EQ(c.error, "");
  ASSERT_EQ(c.theirs->local_port(), linux_port);
  {
    flow up(32 * 1024, 51), down(32 * 1024, 52);
    std::string err;
    ASSERT_TRUE(exchange(ifc, c, up, down, {.shut_up = we_close_first, .shut_down = !we_close_first}, err)) << err;
  }
  // The other side closes too; wait for the first closer's TIME_WAIT.
  if (we_close_first) {
    // Linux closes its side and is done once its FIN is acknowledged (LAST_ACK -> CLOSE; it may
    // have to send the FIN again when our ACK is slow): only then is the port free on its side.
    ASSERT_EQ(c.theirs->shutdown_write(), 0);
    ASSERT_TRUE(drive(ifc, [](stack::time_ns) { return false; },
                      [&] { return c.ours->state() == tcp::state::time_wait && c.theirs->info().tcpi_state == TCP_CLOSE; },
                      milliseconds(3000)))
        << describe(ifc, c);
    c.theirs->close();
  } else {
    c.ours->close(now_ns());
    ASSERT_TRUE(drive(ifc, [](stack::time_ns) { return false; },
                      [&] { return c.theirs->info().tcpi_state == TCP_CLOSE; }, milliseconds(2000)));
    c.theirs->close();
  }
  const std::string before = describe(ifc, c);
  const auto state_before = c.ours->state();
  c.ours.reset();   // ours in TIME_WAIT lives on as an orphan of the lane
  const auto reuse_before = ifc.tcp_counters().time_wait_reuse;

  // Again from the same port: our listener must accept it (from our TIME_WAIT, or from nothing).
  connection again;
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    again = linux_connects(net, ifc, {.bind_port = linux_port}, std::move(c.our_listener));
    if (again.error.find(std::strerror(EADDRNOTAVAIL)) == std::string::npos || we_close_first) break;
    // Linux's own TIME_WAIT refuses the port until its timestamp second has passed (EADDRNOTAVAIL).
    c.our_listener = std::move(again.our_listener);
    ASSERT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3)) << again.error;
    idle(ifc, milliseconds(100));
  }
  ASSERT_EQ(again.error, "");
  EXPECT_EQ(again.theirs->local_port(), linux_port);
  EXPECT_EQ(again.ours->info().remote.port, linux_port);
  // At once: Linux's SYN was taken the first time, not after a retransmission.
  EXPECT_EQ(again.theirs->info().tcpi_total_retrans, 0u) << "before:\n" << before << "\nafter:\n" << describe(ifc, again);
  EXPECT_EQ(ifc.tcp_counters().time_wait_reuse, reuse_before + (we_close_first ? 1u : 0u))
      << "our first connection was " << tcp::to_string(state_before) << " before the reconnect";
  flow up(64 * 1024, 53), down(64 * 1024, 54);
  std::string err;
  ASSERT_TRUE(exchange(ifc, again, up, down, {}, err)) << err;
  expect_delivered(up, "us -> Linux, second connection");
  expect_delivered(down, "Linux -> us, second connection");
}

// ---- seeded loss -------------------------------------------------------------------------------
// A share per million as a port spec spells it ("drop=0.020000"): exact, 6 decimals.
inline std::string share_text(std::uint32_t ppm) {
  const std::string f = std::to_string(ppm % 1000000);
  return std::to_string(ppm / 1000000) + "." + std::string(6 - f.size(), '0') + f;
}

// Loss us -> Linux, whatever our port: our XDP program, loss only, on the PEER's end of the link
// (backends::afxdp::loss_program), attached from inside ns peer (the thread comes back after).
inline void attach_peer_loss(ti::interop_link& net, std::uint32_t ppm, std::uint64_t seed,
                             std::unique_ptr<backends::afxdp::loss_program>& out) {
  test::enter in_peer(net.peer);
  ASSERT_TRUE(in_peer.ok());
  backends::afxdp::config cfg;
  cfg.ifname = net.link.b_name();
  cfg.drop_ppm = ppm;
  cfg.drop_seed = seed;
  auto lp = backends::afxdp::loss_program::attach(cfg);
  ASSERT_TRUE(lp) << lp.error().reason;
  out = std::move(*lp);
}

// What the port's side says after the transfer: the segments the XDP program doing the loss dropped
// (ours on our end for Linux -> us; the loss-only one on the peer's end for us -> Linux), and the ones
// the port itself dropped on receive (the XSK ring's rx_dropped, DPDK's imissed), counted apart.
struct loss_drops {
  std::uint64_t lost = 0, port_rx_dropped = 0;
};
using loss_reader = std::function<loss_drops()>;

// `bytes` one way (to_linux: us -> Linux) over a connection opened in role r while the program drops
// ppm per million of that direction's TCP segments. Byte-exact delivery; the lossy direction's
// sender retransmitted (our RetransSegs, or Linux's tcpi_total_retrans); every segment the sender
// sent either reached the receiver or was dropped by the program or elsewhere (the veth's tx_dropped,
// the port's receive drops), exactly, once the connection is quiet; the dropped share near ppm.
inline void seeded_loss(ti::interop_link& net, stack::interface& ifc, role r, std::uint32_t ppm, bool to_linux,
                        std::uint64_t bytes, const loss_reader& drops) {
  auto c = open(r, net, ifc);
  ASSERT_EQ(c.error, "");
  flow up(to_linux ? bytes : 0, 71), down(to_linux ? 0 : bytes, 72);
  std::string err;
  ASSERT_TRUE(exchange(ifc, c, up, down, {.shut_up = to_linux, .shut_down = !to_linux, .timeout = transfer_timeout(4 * bytes)},
                       err))
      << err;
  expect_delivered(to_linux ? up : down, to_linux ? "us -> Linux" : "Linux -> us");

  if (to_linux) EXPECT_GT(ifc.tcp_counters().retrans_segs, 0u) << "our RetransSegs";
  else EXPECT_GT(c.theirs->info().tcpi_total_retrans, 0u) << "Linux's tcpi_total_retrans";

  // Linux's counters are read in its namespace (TCP_INFO on its socket made there, sysfs by a process
  // run there), ours from our lane.
  std::uint64_t sent = 0, got = 0, lost = 0, other = 0;
  auto read = [&] {
    // Our lane's counters afresh on every look: tcp_counters() returns a snapshot that only the next
    // call refreshes, and a reference kept from before this loop froze InSegs at the end of the
    // exchange, so a segment of Linux's that arrived after it was
    // never counted and the sums missed by one.
    const stack::tcp_lane_counters lane = ifc.tcp_counters();
    const loss_drops d = drops();
    lost = d.lost;
    if (to_linux) {
      sent = lane.out_segs, got = c.theirs->info().tcpi_segs_in;
      other = link_stat(net.us, net.link.a_name(), "tx_dropped");
    } else {
      // Linux passive (we_client): its SYN-ACK left from the request socket, before the accepted
      // socket existed, and the accepted one's segs_out leaves it out (its segs_in starts at 1, the SYN).
      sent = c.theirs->info().tcpi_segs_out + (r == role::we_client ? 1 : 0), got = lane.in_segs;
      other = d.port_rx_dropped + link_stat(net.peer, net.link.b_name(), "tx_dropped");
    }
    return sent == got + lost + other;
  };
  drive(ifc, [](stack::time_ns) { return false; }, read, std::chrono::milliseconds(3000));
  // One line for the README's figures and for a slow run's why: how the sender recovered.
  const auto theirs = c.theirs->info();
  const stack::tcp_lane_counters lane = ifc.tcp_counters();
  std::printf("seeded loss %s at %u ppm: sent %llu, received %llu, dropped by the program %llu, elsewhere %llu; "
              "our retrans %llu (RTO %llu, fast %llu, SACK recoveries %llu, loss probes %llu, probe repairs %llu), "
              "Linux's retrans %u\n",
              to_linux ? "us -> Linux" : "Linux -> us", ppm, (unsigned long long)sent, (unsigned long long)got,
              (unsigned long long)lost, (unsigned long long)other, (unsigned long long)lane.retrans_segs,
              (unsigned long long)lane.timeouts, (unsigned long long)lane.fast_retrans,
              (unsigned long long)lane.sack_recovery, (unsigned long long)lane.loss_probes,
              (unsigned long long)lane.loss_probe_recovery, theirs.tcpi_total_retrans);
  EXPECT_GT(lost, 0u) << "the program dropped nothing at " << ppm << " per million";
  EXPECT_EQ(sent, got + lost + other) << "sent " << sent << ", received " << got << ", dropped by the program " << lost
                                      << ", dropped elsewhere " << other;
  // The share is near what was asked (a binomial draw: within 4 standard deviations and then some).
  const double share = double(lost) / double(sent - other);
  EXPECT_NEAR(share, ppm / 1e6, 4 * std::sqrt(ppm / 1e6 / double(sent)) + 0.005) << lost << " of " << sent;
}

}  // namespace ringlab::test_tcp_interop::cases
