// `ringlab trace replay` runs on sim::event_loop: the stack's timers fire at their own virtual times,
// so the lab path shows an IGMP report sent inside the query's maximum response time although the next
// frame comes 1.5 s later, and a lone fragment's reassembly timeout 30 s after it came, not at the
// next frame 45 s later (tests/netsim/gap_trace.hpp).
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/netsim/gap_trace.hpp"
#include "tools/trace_packet_flow/lab_replay.hpp"

using namespace ringlab;
using namespace ringlab::netsim_gap;
namespace tf = ringlab::trace_flow;

TEST(TraceFlowLab, StackTimersFireAtTheirOwnVirtualTimesInGaps) {
  const std::string pcap = write_gap_trace(temp("trace-replay.pcap"));
  tf::lab_replay_options o;
  o.seed = 3;
  const auto res = tf::run_lab_replay(pcap, o);
  std::filesystem::remove(pcap);
  // The sockets join 239.1.1.1 (the trace's one group) at virtual time 0: that report first. Then
  // the answer to the query, at the time the IGMP timer drew for seed 3; the leave when the replay
  // ends at the last frame.
  std::vector<std::string> tx;
  std::uint64_t timeout_at = 0;
  for (const auto& e : res.events) {
    if (e.e.stage == trace::hop::nic_tx) tx.push_back(std::to_string(e.e.t_ns));
    if (e.e.reason == trace::drop_reason::fragment_timeout) timeout_at = e.e.t_ns;
  }
  const auto oracle = igmp_oracle(3, " ", {groups[0]});
  ASSERT_EQ(oracle.size(), 1u);
  const std::string report = oracle[0].substr(0, oracle[0].find(' '));
  EXPECT_EQ(tx, (std::vector<std::string>{"0", report, std::to_string(last_at)}));
  EXPECT_GE(std::stoull(report), query_at);
  EXPECT_LT(std::stoull(report), query_at + max_resp);
  EXPECT_EQ(timeout_at, frag_at + 30 * stack::sec);
}
