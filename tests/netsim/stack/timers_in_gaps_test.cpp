// Sim time honours timers: sim::event_loop, the one driver of `ringlab demo`, `mcast-recv --backend
// sim`, `trace replay` and these tests, wakes the stack at its own deadlines, also in a gap between
// frames. The replay (tests/netsim/gap_trace.hpp) has an IGMP general query (max response time 1 s)
// followed by 1.5 s without frames, then a lone fragment followed by 45 s without frames; the
// application answers the frame after the first gap to 10.0.0.77, whose MAC nobody knows.
//
// Before the driver, the reports left with the frame at Q+1.5 s, and the ARP retries and the
// reassembly timeout waited for the last frame. Same seed, same bytes; another seed, other report times.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "trace/trace.hpp"
#include "sim_nic/event_loop.hpp"
#include "sim_nic/pcap_trace.hpp"
#include "sim_nic/sim_nic.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/udp_socket.hpp"
#include "tests/netsim/gap_trace.hpp"
#include "tests/unit/stack/frames.hpp"

using namespace ringlab;
using namespace ringlab::stack;
using namespace ringlab::stack::testing;
using trace::drop_reason;

using namespace ringlab::netsim_gap;

namespace {

const wire::ipv4_addr nobody{10, 0, 0, 77};

struct outcome {
  std::vector<std::string> got, tx;
  std::string tx_bytes;
  std::vector<trace::event> drops;
  std::uint64_t event_hash = 0;
  sim::event_loop_stats st;
  std::uint32_t pool_out = ~0u;
};

outcome replay(const std::string& pcap, std::uint64_t seed) {
  outcome out;
  auto tr = sim::pcap_trace::open(pcap);
  EXPECT_TRUE(tr) << tr.error;
  if (!tr) return out;
  const std::string tx = temp("tx-" + std::to_string(seed) + ".pcap");
  sim::sim_nic_config nc;
  nc.pool = {.frames = 64, .frame_size = 2048, .headroom = 128};
  nc.tx_pcap = tx;
  sim::sim_nic nic(nc);
  nic.load(*tr);
  sim::event_loop::start_before_first_frame(nic);
  EXPECT_EQ(nic.now(), t0 - 1);
  trace::enable(true);
  (void)trace::drain();
  {
    interface_config c;
    c.mac = me_mac;
    c.addr = me_ip;
    c.igmp_version = 2;
    c.seed = seed;
    interface ifc(nic.queue(0), c);
    udp_socket mc(ifc, 16);
    EXPECT_FALSE(mc.bind({{}, 5000}));
    for (auto g : groups) EXPECT_FALSE(mc.join_group(g, nic.now()));
    sim::event_loop loop(nic);
    loop.add_lane([&](std::uint64_t now) {
      const time_ns next = ifc.poll(now);
      std::error_code ec;
      while (mc.available()) {
        auto f = mc.try_receive_frame(ec);
        const std::string s(reinterpret_cast<const char*>(f.payload().data()), f.payload().size());
        out.got.push_back(std::to_string(now) + " " + s);
        if (s == "after the gap") {
          EXPECT_FALSE(mc.send_to(text("reply"), {nobody, 7000}, now));
        }
      }
      return earliest(next, ifc.next_deadline());   // the send may have started a timer (ARP)
    });
    out.st = loop.run();
    mc.close();   // leaves: at the time the run ended
  }
  const auto events = trace::drain();
  out.event_hash = trace::hash(events);
  for (const auto& e : events)
    if (e.v == trace::verdict::drop) out.drops.push_back(e);
  trace::enable(false);
  nic.flush_tx();
  nic.return_cache();
  out.pool_out = nic.pool().out();
  out.tx = describe_tx(tx);
  std::ifstream f(tx, std::ios::binary);
  out.tx_bytes.assign(std::istreambuf_iterator<char>(f), {});
  std::filesystem::remove(tx);
  return out;
}

std::uint64_t drop_time(const outcome& o, drop_reason why) {
  for (const auto& e : o.drops)
    if (e.reason == why) return e.t_ns;
  return 0;
}

}  // namespace

TEST(sim_timers, reports_retries_and_timeouts_fire_at_their_own_virtual_times_in_gaps) {
  const std::string pcap = write_gap_trace(temp("gap.pcap"));
  const outcome o = replay(pcap, 7);

  // The application saw the three datagrams at their arrival times.
  EXPECT_EQ(o.got, (std::vector<std::string>{std::to_string(t0) + " first", std::to_string(after_gap) + " after the gap",
                                             std::to_string(last_at) + " last"}));

  // TX: the joins' reports just before the first frame, then every query report at the time its
  // timer drew, then the ARP requests one second apart, then the leaves when the run ended.
  std::vector<std::string> want;
  for (auto g : groups) want.push_back(std::to_string(t0 - 1) + " igmp v2 report " + g.to_string());
  const auto reports = igmp_oracle(7, " igmp v2 report ");
  ASSERT_EQ(reports.size(), 3u);
  want.insert(want.end(), reports.begin(), reports.end());
  for (int i = 0; i < 3; ++i) want.push_back(std::to_string(after_gap + static_cast<time_ns>(i) * sec) + " arp request 10.0.0.77");
  for (auto g : groups) want.push_back(std::to_string(last_at) + " igmp v2 leave " + g.to_string());
  EXPECT_EQ(o.tx, want);

  // Within the query's max response time, and not at the next frame 1.5 s on.
  for (const auto& r : reports) {
    const time_ns t = std::stoull(r);
    EXPECT_GE(t, query_at) << r;
    EXPECT_LT(t, query_at + max_resp) << r;
  }
  // The ARP entry is given up after its third request's retry interval; the lone fragment 30 s after it came.
  EXPECT_EQ(drop_time(o, drop_reason::arp_unresolved), after_gap + 3 * sec);
  EXPECT_EQ(drop_time(o, drop_reason::fragment_timeout), frag_at + 30 * sec);

  // The driver's own account: 5 frames, woken by timers 3 (reports) + 2 (ARP retries) + 1 (give-up)
  // + 1 (reassembly) times, and it ended idle (no timer left) at the last frame.
  EXPECT_EQ(o.st.ended, sim::loop_end::idle);
  EXPECT_EQ(o.st.frames, 5u);
  EXPECT_EQ(o.st.frame_rounds, 5u);
  EXPECT_EQ(o.st.timer_rounds, 7u);
  EXPECT_EQ(o.st.input_end_ns, last_at);
  EXPECT_EQ(o.pool_out, 0u);
  std::filesystem::remove(pcap);
}

TEST(sim_timers, same_seed_same_bytes_and_events_another_seed_other_report_times) {
  const std::string pcap = write_gap_trace(temp("gap.pcap"));
  const outcome a = replay(pcap, 7), b = replay(pcap, 7), c = replay(pcap, 8);
  ASSERT_FALSE(a.tx_bytes.empty());
  EXPECT_TRUE(a.tx_bytes == b.tx_bytes) << "seed 7 twice: the TX pcaps differ";
  EXPECT_EQ(a.event_hash, b.event_hash);
  EXPECT_EQ(a.got, b.got);
  EXPECT_NE(igmp_oracle(7, ""), igmp_oracle(8, ""));
  EXPECT_TRUE(a.tx_bytes != c.tx_bytes) << "seed 8 wrote the same TX bytes as seed 7";
  // The seed moves the reports only: the same frames otherwise, at the same times.
  ASSERT_EQ(c.tx.size(), a.tx.size());
  for (std::size_t i = 0; i < a.tx.size(); ++i)
    if (i < 3 || i >= 6) {
      EXPECT_EQ(a.tx[i], c.tx[i]) << i;
    }
  std::filesystem::remove(pcap);
}

TEST(sim_timers, until_and_tail_bound_the_run_and_say_what_was_left) {
  const std::string pcap = write_gap_trace(temp("gap.pcap"));
  auto gap = sim::pcap_trace::open(pcap);
  ASSERT_TRUE(gap) << gap.error;
  std::filesystem::remove(pcap);
  std::size_t held = 0;   // fragments the stack still holds when the run ends
  auto run = [&](const sim::pcap_trace& tr, sim::event_loop_config cfg) {
    sim::sim_nic nic({.pool = {.frames = 64, .frame_size = 2048, .headroom = 128}});
    nic.load(tr);
    interface_config c;
    c.mac = me_mac;
    c.addr = me_ip;
    c.igmp_version = 2;
    interface ifc(nic.queue(0), c);
    udp_socket mc(ifc, 16);
    EXPECT_FALSE(mc.bind({{}, 5000}));
    EXPECT_FALSE(mc.join_group(groups[0], 0));
    sim::event_loop loop(nic, std::move(cfg));
    loop.add_lane([&](std::uint64_t now) {
      const time_ns next = ifc.poll(now);
      std::error_code ec;
      while (mc.available()) (void)mc.try_receive_frame(ec);
      return next;
    });
    const auto st = loop.run();
    held = ifc.fragments_in_flight();
    return st;
  };
  // until: stops before the reassembly timeout; the fragment is still held.
  auto st = run(*gap, {.until_ns = frag_at + 1 * sec});
  EXPECT_EQ(st.ended, sim::loop_end::until);
  EXPECT_EQ(st.pending_ns, frag_at + 30 * sec);
  EXPECT_EQ(held, 1u);
  // tail: a lone fragment whose timer outlives the tail past the last frame.
  const std::vector<bytes> frames{
      fragments(peer_ip, me_ip, 17, udp_l4(peer_ip, me_ip, 7000, 9000, text(std::string(600, 'F'))), 778, {{0, 304}})[0]};
  const auto lone = sim::pcap_trace::from_frames(frames, {t0});
  st = run(lone, {.tail_ns = 10 * sec});
  EXPECT_EQ(st.ended, sim::loop_end::tail);
  EXPECT_EQ(st.pending_ns, t0 + 30 * sec);
  EXPECT_EQ(st.input_end_ns, t0);
  EXPECT_EQ(held, 1u);
  st = run(lone, {});
  EXPECT_EQ(st.ended, sim::loop_end::idle);
  EXPECT_EQ(st.end_ns, t0 + 30 * sec);
  EXPECT_EQ(held, 0u);   // the timeout ran
}
