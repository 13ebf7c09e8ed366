// The hunt for the planted stack bug (issue 15 point 3; docs/repro.md), as a test. A trace of
// fragmented datagrams of one flow (same addresses and ports, identification 1, 2, 3, ...) goes through
// sim_nic with seeded reordering into the stack. Built over the stack as it is (control), every
// datagram arrives intact. Built over the planted copy (RINGLAB_PLANT_STACK_BUG: the reassembler
// ignores the identification), fragments of neighbouring datagrams are put together: the run
// reproduces the same events on every run, and the first event that differs from what a correct stack
// does names the packet and the hop where it went wrong.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "sim_nic/event_loop.hpp"
#include "sim_nic/sim_nic.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/udp_socket.hpp"
#include "tests/unit/stack/frames.hpp"
#include "tools/gen_trace/gen_trace.hpp"
#include "trace/trace.hpp"

using namespace ringlab;
using namespace ringlab::stack;
using namespace ringlab::stack::testing;
using trace::drop_reason;

namespace {

constexpr int datagrams = 60;
// 3 fragments of 560 + 560 + 288 bytes; the reassembled datagram must fit one pool frame (1792 bytes).
constexpr std::size_t payload_len = 1400;

std::string payload_of(int i) {
  std::string s(payload_len, '\0');
  for (std::size_t k = 0; k < s.size(); ++k) s[k] = static_cast<char>('A' + (i + k / 100) % 26);
  s.replace(0, 8, "dgram " + std::to_string(100 + i).substr(1));
  return s;
}

// The trace: datagram i is frames 3i+1..3i+3 (packet ids), 10 us apart, in order.
sim::pcap_trace make_trace() {
  std::vector<bytes> frames;
  std::vector<std::uint64_t> ts;
  for (int i = 0; i < datagrams; ++i) {
    const bytes l4 = udp_l4(peer_ip, me_ip, 40000, 5001, text(payload_of(i)));
    for (auto& f : fragments(peer_ip, me_ip, wire::udp::ip_protocol, l4, static_cast<std::uint16_t>(i + 1),
                             {{0, 560}, {560, 560}, {1120, l4.size() - 1120}})) {
      ts.push_back(1'000'000 + frames.size() * 10'000);
      frames.push_back(std::move(f));
    }
  }
  return sim::pcap_trace::from_frames(frames, ts);
}

struct run_result {
  std::vector<std::string> got;
  interface_counters ctr;
  std::vector<trace::event> events;
  std::uint32_t pool_out = ~0u;
};

// The trace through sim_nic (with seeded reordering, or none) into the stack and one UDP socket.
run_result run_trace(const sim::pcap_trace& tr, std::uint64_t seed, bool reorder) {
  sim::sim_nic_config nc;
  nc.queues = 1;
  nc.pool = {.frames = 512, .frame_size = 2048, .headroom = 256};
  if (reorder) {
    nc.rx_faults.reorder = 0.3;          // a third of the frames overtaken by up to 4 later ones
    nc.rx_faults.reorder_window = 4;
  }
  nc.seed = seed;
  sim::sim_nic nic(nc);
  nic.load(tr);
  run_result out;
  {
    interface_config c;
    c.mac = me_mac;
    c.addr = me_ip;
    interface ifc(nic.queue(0), c);
    udp_socket s(ifc, 1024);
    EXPECT_FALSE(s.bind({{}, 5001}));
    trace::enable(true);
    (void)trace::drain();
    sim::event_loop loop(nic);
    loop.add_lane([&](std::uint64_t now) {
      const time_ns next = ifc.poll(now);
      std::error_code ec;
      while (s.available()) {
        auto f = s.try_receive_frame(ec);
        out.got.emplace_back(reinterpret_cast<const char*>(f.payload().data()), f.payload().size());
      }
      return next;
    });
    EXPECT_EQ(loop.run().ended, sim::loop_end::idle);
    out.events = trace::drain();
    trace::enable(false);
    s.close();
    out.ctr = ifc.counters();
  }
  nic.return_cache();
  out.pool_out = nic.pool().out();
  return out;
}

run_result run(std::uint64_t seed) { return run_trace(make_trace(), seed, true); }

// `ringlab gen-trace --kind fragments --count 64 --seed 1`, made in memory: the interleaving is in the
// file itself, so no fault injection is needed to meet the bug, and the trace can be handed around.
constexpr std::uint64_t gen_count = 64;
sim::pcap_trace generated_trace() {
  gen_trace::options o;
  o.what = gen_trace::kind::fragments;
  o.count = gen_count;
  o.seed = 1;
  std::vector<bytes> frames;
  std::vector<std::uint64_t> ts;
  for (auto& p : gen_trace::generate(o)) {
    frames.push_back(std::move(p.bytes));
    ts.push_back(p.t_ns);
  }
  return sim::pcap_trace::from_frames(frames, ts);
}
// The datagram (0-based) a frame of the generated trace belongs to: its IPv4 identification - 1.
std::uint64_t datagram_of(const sim::pcap_trace& tr, std::uint64_t packet_id) {
  const auto b = tr.bytes(tr.records().at(packet_id - 1));
  return wire::load_be16(b.data() + wire::ethernet::header_len + wire::ipv4::field::ident) - 1u;
}
bool made_to_drop(std::uint64_t d) { return d % 32 == 7 || d % 32 == 23; }   // the duplicate, the overlap
[[maybe_unused]] std::multiset<std::string> generated_payloads(bool all) {   // control build only
  std::multiset<std::string> m;
  for (std::uint64_t d = 0; d < gen_count; ++d) {
    if (!all && made_to_drop(d)) continue;
    std::string p(gen_trace::fragment_payload, '\0');
    for (std::size_t k = 0; k < p.size(); ++k) p[k] = static_cast<char>('A' + (d + k / 100) % 26);
    const std::string name = "dgram " + std::to_string(d + 1);
    p.replace(0, name.size(), name);
    m.insert(p);
  }
  return m;
}

}  // namespace

namespace {

std::multiset<std::string> sent() {
  std::multiset<std::string> m;
  for (int i = 0; i < datagrams; ++i) m.insert(payload_of(i));
  return m;
}

const trace::event* first_drop(const std::vector<trace::event>& ev) {
  for (const auto& e : ev)
    if (e.v == trace::verdict::drop) return &e;
  return nullptr;
}

}  // namespace

#if !defined(RINGLAB_TEST_PLANTED)

// The stack as it is: the reordering interleaves neighbouring datagrams' fragments, and each datagram
// is still reassembled from its own three, every one delivered intact, nothing dropped.
TEST(planted_stack_control, reordered_fragments_of_one_flow_reassemble_each_datagram_intact) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    const run_result r = run(seed);
    EXPECT_EQ(r.got.size(), static_cast<std::size_t>(datagrams)) << "seed " << seed;
    EXPECT_TRUE(std::multiset<std::string>(r.got.begin(), r.got.end()) == sent()) << "seed " << seed;
    EXPECT_EQ(r.ctr.fragments_received, 3u * datagrams);
    EXPECT_EQ(r.ctr.datagrams_reassembled, static_cast<std::uint64_t>(datagrams));
    EXPECT_EQ(r.ctr.dropped_total(), 0u);
    EXPECT_EQ(first_drop(r.events), nullptr);
    EXPECT_EQ(r.pool_out, 0u);
  }
  EXPECT_NE(trace::hash(run(1).events), trace::hash(run(2).events)) << "the seed must change the arrival order";
}

// gen-trace's fragments kind through the correct stack: every datagram but the two kinds made to be
// dropped (an exact duplicate, an overlap: fragment_overflow, as Linux drops overlaps) arrives intact,
// and every drop belongs to one of those.
TEST(planted_stack_control, the_generated_fragments_trace_reassembles_all_but_the_duplicates_and_overlaps) {
  const auto tr = generated_trace();
  const run_result r = run_trace(tr, 1, false);
  EXPECT_TRUE(std::multiset<std::string>(r.got.begin(), r.got.end()) == generated_payloads(false));
  EXPECT_EQ(r.got.size(), gen_count - 4);
  EXPECT_EQ(r.ctr.datagrams_reassembled, gen_count - 4);
  EXPECT_EQ(r.ctr.fragments_received, tr.records().size());
  EXPECT_EQ(r.ctr.dropped(drop_reason::fragment_overflow), 4u);   // one per duplicate or overlap
  for (const auto& e : r.events) {
    if (e.v == trace::verdict::drop && e.packet_id) {
      EXPECT_TRUE(made_to_drop(datagram_of(tr, e.packet_id))) << "packet " << e.packet_id;
    }
  }
  EXPECT_EQ(r.pool_out, 0u);
}

#else

// gen-trace's fragments kind through the planted stack: the file's own interleaving meets the bug on
// every run (no faults, no seed at replay), and the first drop of a datagram that was not made to be
// dropped names the packet and the hop where the planted stack went wrong.
TEST(planted_stack_bug, the_generated_fragments_trace_reproduces_the_bug_on_every_run) {
  const auto tr = generated_trace();
  const run_result a = run_trace(tr, 1, false), b = run_trace(tr, 1, false);
  EXPECT_EQ(trace::hash(a.events), trace::hash(b.events));
  EXPECT_TRUE(a.got == b.got);
  EXPECT_LT(a.got.size(), gen_count - 4);
  // (No check that each delivered payload is one of the sent ones: these payloads are regular enough
  // that a datagram glued from two neighbours can pass the UDP checksum, a one's-complement sum.)
  const trace::event* first = nullptr;
  for (const auto& e : a.events)
    if (e.v == trace::verdict::drop && e.packet_id && !made_to_drop(datagram_of(tr, e.packet_id))) {
      first = &e;
      break;
    }
  ASSERT_NE(first, nullptr);
  EXPECT_TRUE(first->stage == trace::hop::ipv4_reassembly || first->stage == trace::hop::udp)
      << trace::to_string(first->stage);
  EXPECT_EQ(a.pool_out, 0u);
  std::printf("planted bug, gen-trace --kind fragments --count %llu: first wrong drop at packet %llu (datagram %llu), "
              "hop %s, reason %s; %zu of %llu delivered\n",
              static_cast<unsigned long long>(gen_count), static_cast<unsigned long long>(first->packet_id),
              static_cast<unsigned long long>(datagram_of(tr, first->packet_id) + 1),
              std::string(trace::to_string(first->stage)).c_str(), std::string(trace::to_string(first->reason)).c_str(),
              a.got.size(), static_cast<unsigned long long>(gen_count - 4));
}

// Built with the bug: the same seed gives the same events every run, datagrams go missing (their
// fragments were glued to a neighbour's, and the UDP checksum or the overlap check refused the
// result), and the first drop, where a correct stack drops nothing, names the packet and the hop.
TEST(planted_stack_bug, the_seeded_run_reproduces_the_bug_and_names_its_first_packet) {
  const run_result a = run(1), b = run(1);
  EXPECT_EQ(trace::hash(a.events), trace::hash(b.events)) << "the same seed must give the same run";
  EXPECT_TRUE(a.got == b.got);
  const std::multiset<std::string> all = sent();
  for (const auto& g : a.got) EXPECT_EQ(all.count(g), 1u) << "a mixed datagram passed the UDP checksum";
  EXPECT_LT(a.got.size(), static_cast<std::size_t>(datagrams));
  EXPECT_GT(a.ctr.dropped(drop_reason::bad_l4_checksum) + a.ctr.dropped(drop_reason::fragment_overflow), 0u);
  EXPECT_EQ(a.pool_out, 0u);
  const trace::event* d = first_drop(a.events);
  ASSERT_NE(d, nullptr);
  const trace::event* d2 = first_drop(b.events);
  ASSERT_NE(d2, nullptr);
  EXPECT_EQ(d->packet_id, d2->packet_id);
  EXPECT_EQ(d->stage, d2->stage);
  EXPECT_TRUE((d->stage == trace::hop::udp && d->reason == drop_reason::bad_l4_checksum) ||
              (d->stage == trace::hop::ipv4_reassembly && d->reason == drop_reason::fragment_overflow))
      << trace::to_string(d->stage) << " " << trace::to_string(d->reason);
  std::printf("planted bug, seed 1: first drop at packet %llu (datagram %llu), hop %s, reason %s; %zu of %d delivered\n",
              static_cast<unsigned long long>(d->packet_id), static_cast<unsigned long long>((d->packet_id - 1) / 3),
              std::string(trace::to_string(d->stage)).c_str(), std::string(trace::to_string(d->reason)).c_str(),
              a.got.size(), datagrams);
}

#endif
