// SYN cookies (stack/tcp/syn_cookie.hpp) and connection::accept_cookie: the cookie carries the SYN's
// options there and back exactly, everything else is refused, and a connection made from a cookie's
// ACK moves bytes both ways with the restored options in force on the wire.
#include <gtest/gtest.h>

#include <vector>

#include "stack/tcp/seq.hpp"
#include "stack/tcp/syn_cookie.hpp"
#include "tests/unit/tcp/harness.hpp"

namespace ringlab::tcp {
namespace {

using namespace testing;
using stack::ms;
using stack::sec;
namespace flag = wire::tcp::flag;

// B's side of the harness: B (10.0.0.2:80) listens, A (10.0.0.1:40000) connects.
const syn_cookie::flow b_flow{b_ip, a_ip, 80, 40000};

wire::tcp::options_repr syn_options(std::optional<std::uint16_t> mss, bool ts, std::optional<std::uint8_t> ws,
                                    bool sack) {
  wire::tcp::options_repr o;
  o.mss = mss;
  if (ts) o.ts = wire::tcp::timestamps{777'000u, 0};
  o.window_scale = ws;
  o.sack_permitted = sack;
  return o;
}

// The third ACK a peer sends for a cookie's SYN-ACK: its ISN + 1, the cookie + 1, our TSval echoed.
wire::tcp::repr third_ack(std::uint32_t isn, const syn_cookie::cookie& c) {
  wire::tcp::repr a;
  a.src_port = 40000;
  a.dst_port = 80;
  a.seq = isn + 1;
  a.ack = c.iss + 1;
  a.flags = flag::ack;
  a.window = 1000;
  if (c.tsval) a.opts.ts = wire::tcp::timestamps{777'010u, *c.tsval};
  return a;
}

TEST(TcpSynCookie, EveryMssEntryAndOptionMixComesBackExactly) {
  const syn_cookie sc(42);
  struct mss_case {
    std::optional<std::uint16_t> offered;
    std::uint16_t kept;
  };
  // Linux's table {536, 1300, 1440, 1460}: each entry, a value between two (rounded down), below the
  // first (536, as Linux), above the last, and no option at all (RFC 9293: 536).
  const mss_case msses[] = {{536, 536},   {1300, 1300}, {1440, 1440}, {1460, 1460}, {1452, 1440},
                            {1399, 1300}, {1000, 536},  {9000, 1460}, {88, 536},    {std::nullopt, 536}};
  struct opt_case {
    bool ts;
    std::optional<std::uint8_t> ws;
    bool sack;
  };
  const opt_case opts[] = {{false, std::nullopt, false}, {false, 7, true},       {true, std::nullopt, false},
                           {true, 0, false},             {true, 7, false},       {true, 14, true},
                           {true, std::nullopt, true},   {true, 9, true},        {true, 15, false}};
  std::uint32_t isn = 0xfffffff0u;   // the peer's ISN wraps in the loop
  time_ns now = 5 * 60 * sec + 123 * ms;
  for (const auto& m : msses) {
    for (const auto& o : opts) {
      SCOPED_TRACE(::testing::Message() << "mss " << m.offered.value_or(0) << " ts " << o.ts << " ws "
                                      << int(o.ws.value_or(255)) << " sack " << o.sack);
      const auto c = sc.make(b_flow, isn, syn_options(m.offered, o.ts, o.ws, o.sack), now);
      EXPECT_EQ(c.mss, m.kept);
      ASSERT_EQ(c.tsval.has_value(), o.ts);
      const auto got = sc.check(b_flow, third_ack(isn, c), now + 30 * sec);
      ASSERT_TRUE(got);
      cookie_options want;
      want.mss = m.kept;
      if (o.ts) {   // without timestamps only the MSS comes back: there is nowhere to keep the rest
        want.timestamps = true;
        want.sack = o.sack;
        if (o.ws) want.window_scale = std::min<std::uint8_t>(*o.ws, 14);   // RFC 7323 2.3: over 14 is 14
      }
      EXPECT_EQ(*got, want);
      isn += 7;
      now += 1 * sec;
    }
  }
}

TEST(TcpSynCookie, TsvalCarriesTheOptionsInItsLowBitsOfAMillisecondClock) {
  const syn_cookie sc(42);
  for (time_ns now : {0 * ms, 63 * ms, 64 * ms, 1000 * ms, 99'999 * ms}) {
    const auto c = sc.make(b_flow, 1000, syn_options(1460, true, 7, true), now);
    ASSERT_TRUE(c.tsval);
    EXPECT_EQ(*c.tsval & 0x3f, 7u | syn_cookie::ts_sack);   // ECN bit 5 clear
    // 640 ms later (ten steps of 64): the same low bits, the clock 640 further on.
    const auto later = sc.make(b_flow, 1000, syn_options(1460, true, 7, true), now + 640 * ms);
    EXPECT_EQ(*later.tsval - *c.tsval, 640u);
    // No window scale offered: 0xf in the low bits.
    const auto d = sc.make(b_flow, 1000, syn_options(1460, true, std::nullopt, false), now);
    EXPECT_EQ(*d.tsval & 0x3f, 0xfu);
    // Another flow: another offset (RFC 7323 5.4), so another clock.
    syn_cookie::flow other = b_flow;
    other.remote_port = 40001;
    EXPECT_NE(*sc.make(other, 1000, syn_options(1460, true, 7, true), now).tsval >> 6, *c.tsval >> 6);
  }
}

TEST(TcpSynCookie, TheSeedDecidesTheCookie) {
  const auto o = syn_options(1460, false, std::nullopt, false);
  EXPECT_EQ(syn_cookie(1).make(b_flow, 1000, o, 0).iss, syn_cookie(1).make(b_flow, 1000, o, 0).iss);
  EXPECT_NE(syn_cookie(1).make(b_flow, 1000, o, 0).iss, syn_cookie(2).make(b_flow, 1000, o, 0).iss);
  // Keys from the OS: two listeners' cookies differ, and each checks its own.
  const syn_cookie x = syn_cookie::from_os(), y = syn_cookie::from_os();
  const auto cx = x.make(b_flow, 1000, o, 0);
  EXPECT_NE(cx.iss, y.make(b_flow, 1000, o, 0).iss);
  EXPECT_TRUE(x.check(b_flow, third_ack(1000, cx), 0));
  EXPECT_FALSE(y.check(b_flow, third_ack(1000, cx), 0));
}

TEST(TcpSynCookie, AnotherFourTupleAStaleCounterAForgedHashAndAWrongAckAreRefused) {
  const syn_cookie sc(7);
  const std::uint32_t isn = 0x12345678u;
  const time_ns made = 10 * 60 * sec + 30 * sec;   // counter 10
  const auto c = sc.make(b_flow, isn, syn_options(1460, true, 7, true), made);
  const auto ack = third_ack(isn, c);
  ASSERT_TRUE(sc.check(b_flow, ack, made));

  // Another 4-tuple: each of its four parts.
  for (int part = 0; part < 4; ++part) {
    syn_cookie::flow f = b_flow;
    if (part == 0) f.remote_addr = wire::ipv4_addr{10, 0, 0, 3};
    if (part == 1) f.local_addr = wire::ipv4_addr{10, 0, 0, 4};
    if (part == 2) f.remote_port = 40001;
    if (part == 3) f.local_port = 81;
    EXPECT_FALSE(sc.check(f, ack, made)) << "part " << part;
  }
  // The counter: good in the minute it was made and the next, refused from two minutes on.
  EXPECT_TRUE(sc.check(b_flow, ack, 11 * 60 * sec + 59 * sec + 999 * ms));
  EXPECT_FALSE(sc.check(b_flow, ack, 12 * 60 * sec));
  EXPECT_FALSE(sc.check(b_flow, ack, 100 * 60 * sec));
  EXPECT_FALSE(sc.check(b_flow, ack, 9 * 60 * sec + 59 * sec));   // a counter not reached yet
  // Replayed 256 (512, 2560) minutes later, when the cookie's 8 counter bits match again: the MAC is
  // over the whole minute count (Linux: cookie_hash(..., count - diff, 1) with tcp_cookie_time()'s
  // 32 bits), so a captured ACK is never good again. Linux's keys never rotate either
  // (net_get_random_once): the counter in the MAC is what bounds a cookie to 2 minutes.
  for (time_ns later : {256, 512, 2560}) {
    EXPECT_FALSE(sc.check(b_flow, ack, made + later * 60 * sec)) << later;
    EXPECT_FALSE(sc.check(b_flow, ack, made + (later + 1) * 60 * sec)) << later;
  }
  // Forged: every single-bit change of the ACK number or of the sequence number.
  for (int bit = 0; bit < 32; ++bit) {
    auto f = ack;
    f.ack ^= 1u << bit;
    EXPECT_FALSE(sc.check(b_flow, f, made)) << "ack bit " << bit;
    f = ack;
    f.seq ^= 1u << bit;
    EXPECT_FALSE(sc.check(b_flow, f, made)) << "seq bit " << bit;
  }
  // An ACK number one or two off (Linux's cookies decode those to a neighbouring MSS index).
  for (std::uint32_t d : {1u, 2u, 3u, 0xffffffffu, 0xfffffffeu, 1u << 24}) {
    auto f = ack;
    f.ack += d;
    EXPECT_FALSE(sc.check(b_flow, f, made)) << "ack + " << d;
  }
  // A hash made under other keys.
  const auto other = syn_cookie(8).make(b_flow, isn, syn_options(1460, true, 7, true), made);
  EXPECT_FALSE(sc.check(b_flow, third_ack(isn, other), made));
  // Not a plain ACK; TSecr bits we never send (ECN).
  for (std::uint8_t extra : {flag::syn, flag::rst}) {
    auto f = ack;
    f.flags |= extra;
    EXPECT_FALSE(sc.check(b_flow, f, made));
  }
  auto no_ack = ack;
  no_ack.flags = flag::psh;
  EXPECT_FALSE(sc.check(b_flow, no_ack, made));
  auto ecn = ack;
  ecn.opts.ts->echo |= syn_cookie::ts_ecn;
  EXPECT_FALSE(sc.check(b_flow, ecn, made));
}

TEST(TcpSynCookie, SynAckAnswersWithTheConfiguredOptionsAndOffersNoneWithoutTimestamps) {
  const syn_cookie sc(3);
  wire::tcp::repr syn;
  syn.src_port = 40000;
  syn.dst_port = 80;
  syn.seq = 1000;
  syn.flags = flag::syn;
  syn.window = 65535;
  syn.opts = syn_options(1400, true, 5, true);
  const connection_config cfg;   // 256 KiB receive buffer: shift 3
  const auto r = sc.syn_ack(b_flow, syn, cfg, 2 * sec);
  const auto c = sc.make(b_flow, 1000, syn.opts, 2 * sec);
  EXPECT_EQ(r.src_port, 80);
  EXPECT_EQ(r.dst_port, 40000);
  EXPECT_EQ(r.flags, flag::syn | flag::ack);
  EXPECT_EQ(r.seq, c.iss);
  EXPECT_EQ(r.ack, 1001u);
  EXPECT_EQ(r.window, 65535);
  EXPECT_EQ(r.opts.mss, 1460);
  EXPECT_EQ(r.opts.window_scale, 3);
  EXPECT_TRUE(r.opts.sack_permitted);
  EXPECT_EQ(r.opts.ts, (wire::tcp::timestamps{*c.tsval, 777'000u}));
  // Exactly Linux's SYN-ACK layout on the wire: MSS, SACK-permitted + timestamps, NOP + window scale.
  std::vector<std::byte> bytes(r.buffer_len());
  ASSERT_EQ(r.emit(bytes, b_ip, a_ip), 40u);
  const std::uint8_t opts[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10};
  for (std::size_t i = 0; i < sizeof opts; ++i) EXPECT_EQ(std::to_integer<int>(bytes[20 + i]), opts[i]) << i;
  EXPECT_EQ(std::to_integer<int>(bytes[36]), 1);   // NOP
  EXPECT_EQ(std::to_integer<int>(bytes[37]), 3);   // window scale
  EXPECT_EQ(std::to_integer<int>(bytes[39]), 3);   // shift 3

  // The same SYN without timestamps: window scale and SACK are not offered either.
  syn.opts.ts.reset();
  const auto plain = sc.syn_ack(b_flow, syn, cfg, 2 * sec);
  EXPECT_EQ(plain.opts.mss, 1460);
  EXPECT_FALSE(plain.opts.window_scale || plain.opts.sack_permitted || plain.opts.ts);
  // Our configuration says no to timestamps: nothing but the MSS either.
  syn.opts = syn_options(1400, true, 5, true);
  connection_config no_ts;
  no_ts.timestamps = false;
  const auto r2 = sc.syn_ack(b_flow, syn, no_ts, 2 * sec);
  EXPECT_FALSE(r2.opts.window_scale || r2.opts.sack_permitted || r2.opts.ts);
}

// B answers SYNs with cookies and makes its connection from the cookie's ACK (accept_cookie).
struct cookie_listener {
  pair& p;
  syn_cookie sc{99};
  connection_config cfg;
  std::uint64_t sent = 0, accepted = 0, refused = 0;
  void operator()(const wire::tcp::repr& r) {
    if (r.has(flag::syn) && !r.has(flag::ack)) {
      ++sent;
      return p.sink_b()(sc.syn_ack(b_flow, r, cfg, p.now));
    }
    if (const auto o = sc.check(b_flow, r, p.now)) {
      ++accepted;
      EXPECT_EQ(p.b.accept_cookie(r, *o, p.now, p.sink_b()), segment_result::accepted);
      return;
    }
    ++refused;
  }
};

TEST(TcpSynCookie, ConnectionFromACookieMovesBytesBothWaysWithTheRestoredOptions) {
  connection_config ca;
  ca.recv_buffer = 1 << 20;   // A announces shift 5; B's default 256 KiB: shift 3
  pair p(ca, {});
  cookie_listener l{p};
  p.listener_b = [&](const wire::tcp::repr& r) { l(r); };
  const auto up = pattern(200'000, 11), down = pattern(70'001, 12);
  p.open(1000);
  p.run_for(1 * sec);
  ASSERT_EQ(l.sent, 1u);
  ASSERT_EQ(l.accepted, 1u);
  ASSERT_EQ(p.log.size(), 3u);   // SYN, cookie SYN-ACK, ACK: nothing more, B kept no state in between
  const auto synack = p.log[1].repr();
  const auto c = l.sc.make(b_flow, 1000, p.log[0].repr().opts, 10 * ms);   // the SYN arrived at 10 ms
  EXPECT_EQ(synack.seq, c.iss);
  EXPECT_EQ(synack.opts.ts->value, *c.tsval);
  EXPECT_EQ(p.log[2].repr().opts.ts->echo, *c.tsval);
  EXPECT_EQ(p.b.current(), state::established);
  EXPECT_EQ(p.a.current(), state::established);
  EXPECT_EQ(p.b.snd_una(), c.iss + 1);
  EXPECT_EQ(p.b.rcv_nxt(), 1001u);
  EXPECT_EQ(p.b.send_scale(), 5);
  EXPECT_EQ(p.b.recv_scale(), 3);
  EXPECT_EQ(p.a.send_scale(), 3);
  EXPECT_TRUE(p.b.sack_on() && p.b.timestamps_on());
  EXPECT_EQ(p.b.send_mss(), 1460 - 12);
  EXPECT_EQ(p.b.send_window(), (1u << 20));   // the ACK's window field (32768) scaled by 5
  EXPECT_EQ(p.b.counters().in_segs, 1u);      // the ACK; the SYN never reached a connection
  EXPECT_EQ(p.b.counters().bytes_acked, 0u);   // the ACK of our SYN acknowledges no byte
  EXPECT_EQ(p.b.srtt(), 0u);                   // no RTT sample: the SYN-ACK's time was never kept
  EXPECT_EQ(p.b.rto(), 1 * sec);               // RFC 6298 2.1's initial RTO until the first sample

  // B's segments are scaled by 3, carry timestamps that continue the cookie's TSval, echo A's.
  // One segment each way is lost once, so each side's SACK blocks show up and repair it.
  const std::uint32_t lost_up = 1001 + 3 * 1448, lost_down = c.iss + 1 + 2 * 1448;
  bool dropped_up = false, dropped_down = false;
  p.pass = [&](const segment& s) {
    const auto r = s.repr();
    if (s.from_a && r.seq == lost_up && !r.payload.empty() && !dropped_up) return !(dropped_up = true);
    if (!s.from_a && r.seq == lost_down && !r.payload.empty() && !dropped_down) return !(dropped_down = true);
    return true;
  };
  const std::size_t log_before = p.log.size();
  const auto got = p.exchange(up, down);
  p.run_for(1 * sec);
  EXPECT_EQ(got.up, up);
  EXPECT_EQ(got.down, down);
  EXPECT_TRUE(dropped_up && dropped_down);
  EXPECT_EQ(p.b.counters().bytes_received, up.size());
  EXPECT_EQ(p.b.counters().bytes_acked, down.size());
  EXPECT_EQ(p.b.counters().recoveries, 1u);   // B repaired its loss by SACK recovery, no RTO
  EXPECT_EQ(p.b.counters().timeouts, 0u);
  EXPECT_EQ(p.a.counters().timeouts, 0u);

  std::uint32_t last_b_tsval = *c.tsval;
  bool b_sacked = false, a_sacked = false, b_first = true;
  for (std::size_t i = log_before; i < p.log.size(); ++i) {
    const auto r = p.log[i].repr();
    ASSERT_TRUE(r.opts.ts) << i;
    if (!p.log[i].from_a) {
      EXPECT_TRUE(seq_ge(r.opts.ts->value, last_b_tsval)) << i;   // never backwards (the peer's PAWS)
      last_b_tsval = r.opts.ts->value;
      if (b_first) {
        EXPECT_EQ(r.window, 32768);   // 256 KiB >> 3, nothing unread yet (unscaled: 65535)
      }
      b_first = false;
      // B's windows are scaled by 3: its 256 KiB buffer is never announced as more than 65535 << 3.
      EXPECT_LE(std::uint32_t{r.window} << 3, 256u * 1024) << i;
      EXPECT_GT(r.window, 1000) << i;   // unscaled it would be 65535 at most, scaled it is 32768 or a bit less
      if (r.opts.sack_count) {
        b_sacked = true;
        EXPECT_EQ(r.ack, lost_up);
        EXPECT_EQ(r.opts.sack[0].left, lost_up + 1448);
      }
    } else if (r.opts.sack_count) {
      a_sacked = true;
      EXPECT_EQ(r.ack, lost_down);
      EXPECT_EQ(r.opts.sack[0].left, lost_down + 1448);
    }
  }
  EXPECT_TRUE(b_sacked && a_sacked);
}

TEST(TcpSynCookie, TheCookiesAckMayCarryDataAndTheConnectionTakesIt) {
  pair p;
  cookie_listener l{p};
  p.listener_b = [&](const wire::tcp::repr& r) { l(r); };
  const auto data = to_bytes("GET / HTTP/1.0\r\n\r\n");
  p.open(1000);
  ASSERT_EQ(p.a.send(data, p.now, p.sink_a()), data.size());   // queued in SYN_SENT: leaves with the ACK
  p.run_for(1 * sec);
  ASSERT_EQ(l.accepted, 1u);
  const auto third = p.log[2].repr();
  EXPECT_EQ(third.payload.size(), data.size());
  EXPECT_EQ(p.drain_b(), data);
  EXPECT_EQ(p.b.rcv_nxt(), 1001u + data.size());
  // B acknowledged it (delayed ACK, 40 ms after the ACK arrived at 30 ms).
  const auto last = p.log.back();
  EXPECT_FALSE(last.from_a);
  EXPECT_EQ(last.repr().ack, 1001u + data.size());
  EXPECT_EQ(last.sent_at, 70 * ms);
  EXPECT_EQ(p.b.counters().delayed_acks, 1u);
}

TEST(TcpSynCookie, WithoutTimestampsOnlyTheMssComesBackAndBothSidesAgree) {
  connection_config ca;
  ca.timestamps = false;   // A offers window scaling and SACK, not timestamps
  ca.mss = 1300;
  pair p(ca, {});
  cookie_listener l{p};
  p.listener_b = [&](const wire::tcp::repr& r) { l(r); };
  p.open(1000);
  p.run_for(1 * sec);
  ASSERT_EQ(l.accepted, 1u);
  const auto synack = p.log[1].repr();
  EXPECT_FALSE(synack.opts.window_scale || synack.opts.sack_permitted || synack.opts.ts);
  EXPECT_EQ(p.a.send_scale(), 0);
  EXPECT_EQ(p.a.recv_scale(), 0);
  EXPECT_EQ(p.b.send_scale(), 0);
  EXPECT_EQ(p.b.recv_scale(), 0);
  EXPECT_FALSE(p.b.sack_on() || p.b.timestamps_on() || p.a.sack_on());
  EXPECT_EQ(p.b.send_mss(), 1300);
  const auto data = pattern(50'000, 4);
  ASSERT_EQ(p.b.send(data, p.now, p.sink_b()), data.size());
  p.run_for(2 * sec);
  EXPECT_EQ(p.drain_a(), data);
  for (const auto& s : p.sent_by(false)) {
    const auto r = s.repr();
    EXPECT_LE(r.payload.size(), 1300u);
    EXPECT_FALSE(r.opts.ts);
  }
}

TEST(TcpSynCookie, AnAckHeldTwoMinutesOnTheWireIsRefused) {
  pair p;
  cookie_listener l{p};
  p.listener_b = [&](const wire::tcp::repr& r) { l(r); };
  // The ACK is held on the wire for 2 minutes: its cookie is stale when it arrives.
  p.extra_delay = [](const segment& s) {
    return s.from_a && s.flags() == "." ? 2 * 60 * sec : stack::time_ns{0};
  };
  p.open(1000);
  p.run_for(3 * 60 * sec);
  EXPECT_EQ(l.refused, 1u);
  EXPECT_EQ(l.accepted, 0u);
  EXPECT_EQ(p.b.current(), state::closed);
}

}  // namespace
}  // namespace ringlab::tcp
