// Lab 11: the TCP engine (stack/tcp/connection), two ends joined by a scripted wire on virtual time:
// the handshake and its options, a close and TIME_WAIT, one loss repaired by fast retransmit, two
// losses with and without SACK, a tail loss repaired by the retransmission timer.
//   tcp_walk
// The wire is tests/unit/tcp/harness.hpp's: every segment is emitted to bytes by stack/wire (checksum
// included) and parsed back, 10 ms each way, and nothing reads a clock, so every line is the same on
// every run (the suite checks them). Sequence numbers print relative to each side's initial one.
#include <cinttypes>
#include <cstdio>
#include <set>
#include <string>

#include "stack/tcp/seq.hpp"
#include "tests/unit/tcp/harness.hpp"

namespace tcp = ringlab::tcp;
namespace tt = ringlab::tcp::testing;
namespace stack = ringlab::stack;
using tt::segment;

namespace {

constexpr std::uint32_t iss_a = 1000, iss_b = 5000;

std::string options(const ringlab::wire::tcp::repr& r, std::uint32_t peer_iss) {
  std::string o;
  char b[64];
  if (r.opts.mss) std::snprintf(b, sizeof b, " mss %u", *r.opts.mss), o += b;
  if (r.opts.window_scale) std::snprintf(b, sizeof b, " wscale %u", *r.opts.window_scale), o += b;
  if (r.opts.sack_permitted) o += " sackOK";
  for (const auto& s : r.opts.sack_blocks())
    std::snprintf(b, sizeof b, " sack %u-%u", s.left - peer_iss, s.right - peer_iss), o += b;
  if (r.opts.ts) o += " TS";
  return o;
}

// One line per segment sent at or after `from`, as tcpdump would show it (relative sequence numbers).
void show(const tt::pair& p, std::size_t from, bool mark_drops = false, const std::set<std::size_t>* dropped = nullptr) {
  for (std::size_t i = from; i < p.log.size(); ++i) {
    const segment& s = p.log[i];
    const auto r = s.repr();
    const std::uint32_t own = s.from_a ? iss_a : iss_b, peer = s.from_a ? iss_b : iss_a;
    char line[256];
    std::snprintf(line, sizeof line, "  %7.1f ms  %s  %-3s seq %6u len %4zu ack %6u win %5u%s%s", double(s.sent_at) / 1e6,
                  s.from_a ? "A > B" : "B > A", s.flags().c_str(), r.seq - own, r.payload.size(),
                  r.has(ringlab::wire::tcp::flag::ack) ? r.ack - peer : 0, r.window, options(r, s.from_a ? iss_b : iss_a).c_str(),
                  mark_drops && dropped && dropped->count(i) ? "   << lost on the wire" : "");
    std::puts(line);
  }
}

void counters(const char* who, const tcp::connection& c) {
  const auto& k = c.counters();
  std::printf("  %s: OutSegs %" PRIu64 " InSegs %" PRIu64 " RetransSegs %" PRIu64 " TCPFastRetrans %" PRIu64
              " TCPTimeouts %" PRIu64 " recoveries %" PRIu64 " dup ACKs in %" PRIu64 " OFO queued %" PRIu64 "\n",
              who, k.out_segs, k.in_segs, k.retrans_segs, k.fast_retrans, k.timeouts, k.recoveries, k.dup_acks_in,
              k.ofo_queued);
}

// Drops A's data segments number k (0-based: sequence 1 + k * 1448, the SYN took 1), each once.
void lose(tt::pair& p, const std::set<std::uint32_t>& segments, std::set<std::size_t>& dropped) {
  std::set<std::uint32_t> rel_seqs;
  for (auto k : segments) rel_seqs.insert(1 + k * 1448);
  p.pass = [&p, rel_seqs, &dropped](const segment& s) mutable {
    if (!s.from_a || s.repr().payload.empty() || !rel_seqs.erase(s.repr().seq - iss_a)) return true;
    dropped.insert(p.log.size() - 1);   // the harness logs a segment before it asks
    return false;
  };
}

void handshake_and_close() {
  std::printf("== 1. handshake, 5 bytes, close (A connects to B; one-way delay 10 ms)\n");
  tt::pair p;
  p.open(iss_a, iss_b);
  p.run_for(1 * stack::sec);
  show(p, 0);
  std::printf("  A %s, B %s; A: mss %u, send window scale %u, SACK %s, timestamps %s, srtt %.1f ms, rto %.0f ms\n",
              tcp::to_string(p.a.current()), tcp::to_string(p.b.current()), p.a.send_mss(), p.a.send_scale(),
              p.a.sack_on() ? "on" : "off", p.a.timestamps_on() ? "on" : "off", double(p.a.srtt()) / 1e6,
              double(p.a.rto()) / 1e6);
  std::size_t mark = p.log.size();
  const auto hello = tt::to_bytes("hello");
  p.a.send(hello, p.now, p.sink_a());
  p.run_for(100 * stack::ms);
  const auto got = p.drain_b();
  show(p, mark);
  std::printf("  B read %zu bytes: \"%.*s\" (B's ACK waited for the delayed-ACK timer, 40 ms)\n", got.size(),
              int(got.size()), reinterpret_cast<const char*>(got.data()));
  mark = p.log.size();
  p.a.close(p.now, p.sink_a());
  p.run_for(100 * stack::ms);
  show(p, mark);
  std::printf("  A closed: A %s, B %s (B's application has not closed yet)\n", tcp::to_string(p.a.current()),
              tcp::to_string(p.b.current()));
  mark = p.log.size();
  p.b.close(p.now, p.sink_b());
  p.run_for(100 * stack::ms);
  show(p, mark);
  std::printf("  B closed: A %s, B %s\n", tcp::to_string(p.a.current()), tcp::to_string(p.b.current()));
  p.run_for(61 * stack::sec);
  std::printf("  61 s later: A %s: TIME_WAIT lasts 2 x MSL = 60 s here\n", tcp::to_string(p.a.current()));
}

// 20 segments from A, the ones at `lost` (relative) lost once; returns when B has every byte.
// print: 0 no segment table, 1 every segment, 2 from the lost segment on.
void transfer(const char* title, tcp::connection_config c, const std::set<std::uint32_t>& lost, int print) {
  std::printf("\n== %s\n", title);
  tt::pair p(c, c);
  p.open(iss_a, iss_b);
  p.run_for(1 * stack::sec);
  const auto data = tt::pattern(20 * 1448, 5);
  std::set<std::size_t> dropped;
  lose(p, lost, dropped);
  const std::size_t mark = p.log.size();
  const stack::time_ns t0 = p.now;
  p.a.send(data, p.now, p.sink_a());
  std::vector<std::byte> got;
  stack::time_ns all = 0, repaired = 0;
  // Every hole repaired: B's next expected byte is past the last lost segment.
  const std::uint32_t past_holes = iss_a + 1 + (*lost.rbegin() + 1) * 1448;
  while (got.size() < data.size() && p.now < t0 + 10 * stack::sec) {
    p.run_for(1 * stack::ms);
    if (!repaired && tcp::seq_ge(p.b.rcv_nxt(), past_holes)) repaired = p.now - t0;
    auto d = p.drain_b();
    got.insert(got.end(), d.begin(), d.end());
    if (got.size() == data.size()) all = p.now - t0;
  }
  p.run_for(1 * stack::sec);
  if (print) {
    // Times from the start of the send, so that the table reads as the round trips it shows.
    for (auto& s : p.log) s.sent_at = s.sent_at >= t0 ? s.sent_at - t0 : 0;
    show(p, print == 1 || dropped.empty() ? mark : *dropped.begin(), true, &dropped);
  }
  std::printf("  every hole repaired %.0f ms after the send; B has all %zu bytes, exact: %s, at %.0f ms\n",
              double(repaired) / 1e6, data.size(), got == data ? "yes" : "NO", double(all) / 1e6);
  counters("A", p.a);
  counters("B", p.b);
  std::printf("  A cwnd %u ssthresh %u bytes (%s)\n", p.a.cwnd(), p.a.ssthresh(),
              c.congestion == tcp::congestion_control::cubic ? "CUBIC" : "NewReno");
}

}  // namespace

int main() {
  handshake_and_close();
  tcp::connection_config reno;
  reno.congestion = tcp::congestion_control::newreno;
  transfer("2. 20 segments, the third lost once: fast retransmit after three duplicate ACKs (NewReno, SACK on)", reno,
           {2}, 1);
  tcp::connection_config no_sack = reno;
  no_sack.sack = false;
  transfer("3a. two of them lost (the 3rd and 6th), SACK off: NewReno repairs one hole per round trip", no_sack,
           {2, 5}, 0);
  transfer("3b. the same two lost, SACK on: RFC 6675 repairs both in the first round trip of recovery", reno,
           {2, 5}, 0);
  transfer("4. the last segment lost: no duplicate ACK can come, the retransmission timer repairs it", reno,
           {19}, 2);
  return 0;
}
