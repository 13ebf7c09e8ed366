// route_stream (trace replay's streaming route builder) against build_lab_routes (the whole run's
// events at once): the same routes, step for step, whether the events come one round at a time (as
// trace replay hands them over) or one event at a time with a settle after each; and a route is handed
// on only once complete: a frame still out (a pool frame not released) holds it and every later route.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/ringlab_cli.hpp"
#include "tools/gen_trace/gen_trace.hpp"
#include "tools/trace_packet_flow/lab_replay.hpp"
#include "tools/trace_packet_flow/outputs.hpp"
#include "tools/trace_packet_flow/route.hpp"
#include "tools/trace_packet_flow/route_stream.hpp"
#include "trace/packet_id.hpp"

namespace tf = ringlab::trace_flow;
namespace trace = ringlab::trace;

namespace {

std::string text_of(const std::vector<tf::route>& routes) {
  std::ostringstream os;
  tf::write_timeline(os, routes);
  return os.str();
}

// Every event of a replay, streamed one at a time with a settle whenever the virtual time moves on (a
// round of the event loop ends there at the latest): routes in first-seen order.
std::vector<tf::route> streamed(const std::vector<tf::lab_event>& events, bool stack_frames, std::size_t* max_held = nullptr) {
  std::vector<tf::route> out;
  tf::route_stream rs({tf::lab_clock::emitter, stack_frames}, [](std::uint64_t, std::string*) { return true; },
                      [&](tf::route&& r) { out.push_back(std::move(r)); });
  for (std::size_t i = 0; i < events.size(); ++i) {
    rs.add(events[i]);
    if (i + 1 == events.size() || events[i + 1].e.t_ns != events[i].e.t_ns) rs.settle();
  }
  const std::size_t before_finish = out.size();
  rs.finish();
  EXPECT_EQ(out.size(), before_finish) << "every route was complete before the run ended";
  if (max_held) *max_held = rs.max_held();
  return out;
}

TEST(TraceFlowRouteStream, MalformedTraceGivesTheBatchRoutesEventByEvent) {
  const auto res = tf::run_lab_replay(ringlab::test::source_file("traces/malformed.pcap"), {});
  const auto batch = tf::build_lab_routes(res.events);
  std::size_t held = 0;
  const auto stream = streamed(res.events, false, &held);
  ASSERT_EQ(batch.size(), 15u);
  EXPECT_EQ(text_of(stream), text_of(batch));
  // 15 frames polled in one round: at most the frames of that round were held at once.
  EXPECT_LE(held, 15u);
}

TEST(TraceFlowRouteStream, TcpSegmentsAndTheStacksFramesInFirstSeenOrder) {
  tf::lab_replay_options o;
  o.tcp_listen_ports = {ringlab::gen_trace::tcp_port};
  const auto res = tf::run_lab_replay(ringlab::test::source_file("traces/tcp-handshake.pcap"), o);
  const auto batch = tf::build_lab_routes(res.events);
  const auto stream = streamed(res.events, false);
  EXPECT_EQ(text_of(stream), text_of(batch));
  // With the stack's frames: the trace's segments in the same order, each stack frame after the
  // segment that made it, and every stack frame's route from its `tx` to the NIC's `nic_tx` (the
  // peer's MAC comes from its frames: no frame waits for ARP).
  const auto all = streamed(res.events, true);
  std::vector<tf::route> trace_only;
  std::size_t stack = 0;
  for (const auto& r : all) {
    if (!trace::is_tx_id(r.packet_id)) { trace_only.push_back(r); continue; }
    ++stack;
    EXPECT_EQ(r.steps.front().hop, "tx") << trace::describe_packet(r.packet_id);
    EXPECT_EQ(r.steps.back().hop, "nic_tx") << trace::describe_packet(r.packet_id);
  }
  EXPECT_EQ(text_of(trace_only), text_of(batch));
  EXPECT_GE(stack, 3u);   // at least the SYN-ACK, the RST to the closed port and our FIN
  EXPECT_TRUE(trace::is_tx_id(all[1].packet_id)) << "the SYN-ACK follows the SYN";
}

// A fragment that completes a datagram: released by the reassembler, then on as the datagram in the
// same poll. A settle between rounds hands on the whole route (frags.pcap-like: gen-trace fragments).
TEST(TraceFlowRouteStream, TheFragmentThatCompletesADatagramKeepsItsWholeRoute) {
  const std::string pcap = ringlab::test::temp_path("routestream", "frags.pcap");
  ringlab::gen_trace::options g;
  g.what = ringlab::gen_trace::kind::fragments;
  g.count = 8;
  ASSERT_EQ(ringlab::gen_trace::generate_pcap(pcap, g, nullptr), "");
  tf::lab_replay_options o;
  o.listen_ports = {5001};   // the generator's port (a fragment has no UDP header to find it by)
  const auto res = tf::run_lab_replay(pcap, o);
  std::remove(pcap.c_str());
  const auto batch = tf::build_lab_routes(res.events);
  const auto stream = streamed(res.events, false);
  EXPECT_EQ(text_of(stream), text_of(batch));
  // The control: the trace has datagrams that complete (the generator also loses and repeats some),
  // whose completing fragment's route goes on past its release to the socket.
  std::size_t delivered = 0;
  for (const auto& r : stream)
    if (r.outcome() == "deliver") {
      ++delivered;
      const auto h = r.hops();
      EXPECT_EQ(std::count(h.begin(), h.end(), "release"), 2) << "the fragment's frame, then the datagram's";
    }
  EXPECT_GT(delivered, 0u);
}

// A frame still out holds its route and every route after it; its release lets them all go, in order.
TEST(TraceFlowRouteStream, AnOpenRouteHoldsTheOnesAfterIt) {
  auto ev = [](std::uint64_t id, trace::hop h, trace::verdict v = trace::verdict::pass, std::uint32_t frame = 1) {
    tf::lab_event le;
    le.e.packet_id = id;
    le.e.stage = h;
    le.e.v = v;
    le.e.frame = frame;
    return le;
  };
  std::vector<std::uint64_t> out;
  std::vector<std::uint64_t> asked;
  tf::route_stream rs({}, [&](std::uint64_t id, std::string*) { asked.push_back(id); return id != 3; },
                      [&](tf::route&& r) { out.push_back(r.packet_id); });
  rs.add(ev(1, trace::hop::nic_rx));
  rs.add(ev(1, trace::hop::pool));
  rs.add(ev(2, trace::hop::nic_rx, trace::verdict::drop, ~0u));   // a runt: no frame, done at once
  rs.add(ev(3, trace::hop::nic_rx));
  rs.add(ev(3, trace::hop::pool));
  rs.add(ev(3, trace::hop::release));
  rs.settle();
  EXPECT_TRUE(out.empty()) << "packet 1's frame is out: 2 and 3 wait behind it";
  EXPECT_EQ(rs.held(), 3u);
  rs.add(ev(1, trace::hop::eth, trace::verdict::drop));   // dropped with its frame: its release follows
  rs.settle();
  EXPECT_TRUE(out.empty());
  rs.add(ev(1, trace::hop::release));
  rs.settle();
  EXPECT_EQ(out, (std::vector<std::uint64_t>{1, 2}));   // 3 was not selected: not handed on
  EXPECT_EQ(asked, (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(rs.held(), 0u);
  EXPECT_EQ(rs.emitted(), 2u);
  // A frame the sim_nic ring refused is freed by the NIC (no release): done at the drop.
  rs.add(ev(4, trace::hop::pool));
  rs.add(ev(4, trace::hop::ring_enqueue, trace::verdict::drop));
  rs.settle();
  EXPECT_EQ(out.back(), 4u);
}

}  // namespace
