// sim::event_loop on its own, with scripted lanes (no stack): where the clock stops, which rounds a
// lane is polled in, and each way a run ends. advance_to(t, budget): the clock stops at the last frame
// moved while frames due by t remain.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim_nic/event_loop.hpp"
#include "sim_nic/sim_nic.hpp"
#include "tests/unit/sim_nic/frames.hpp"

using namespace ringlab;
using namespace ringlab::simtest;

namespace {
constexpr std::uint64_t sec = 1'000'000'000;
constexpr std::uint64_t T = 5 * sec;

sim::pcap_trace trace_at(const std::vector<std::uint64_t>& ts) {
  std::vector<bytes> frames;
  for (std::size_t i = 0; i < ts.size(); ++i) frames.push_back(flow_frame(static_cast<std::uint32_t>(i), 18));
  return sim::pcap_trace::from_frames(frames, ts);
}

std::size_t take_all(sim::sim_nic& nic) {
  port::frame_ref f[64];
  const std::size_t n = nic.queue(0).rx_burst(f);
  nic.queue(0).rx_release({f, n});
  return n;
}
}  // namespace

TEST(sim_event_loop, advance_with_a_budget_stops_the_clock_at_the_last_frame_moved) {
  const auto tr = trace_at({100, 100, 100, 200});
  sim::sim_nic nic({});
  nic.load(tr);
  EXPECT_EQ(nic.advance_to(150, 2), 2u);
  EXPECT_EQ(nic.now(), 100u);   // one more is due by 150: the clock waits at its time
  EXPECT_EQ(nic.advance_to(150, 2), 1u);
  EXPECT_EQ(nic.now(), 150u);   // nothing more due by 150
  EXPECT_EQ(nic.advance_to(150, 2), 0u);
  EXPECT_EQ(nic.next_due(), std::optional<std::uint64_t>(200));
  EXPECT_EQ(take_all(nic), 3u);
}

TEST(sim_event_loop, a_lane_is_polled_at_every_frame_and_at_each_of_its_deadlines_in_between) {
  const auto tr = trace_at({T, T + 10 * sec});
  sim::sim_nic nic({});
  nic.load(tr);
  sim::event_loop::start_before_first_frame(nic);
  EXPECT_EQ(nic.now(), T - 1);
  // The lane wants a timer at T+3 s; when it fires, one more at T+4 s; then none.
  std::vector<std::string> polls;
  std::vector<std::uint64_t> timers{T + 3 * sec, T + 4 * sec};
  sim::event_loop loop(nic);
  loop.add_lane([&](std::uint64_t now) {
    polls.push_back(std::to_string(now) + ":" + std::to_string(take_all(nic)));
    while (!timers.empty() && timers.front() <= now) timers.erase(timers.begin());
    return timers.empty() ? sim::event_loop::no_deadline : timers.front();
  });
  const auto st = loop.run();
  EXPECT_EQ(polls, (std::vector<std::string>{std::to_string(T - 1) + ":0", std::to_string(T) + ":1",
                                             std::to_string(T + 3 * sec) + ":0", std::to_string(T + 4 * sec) + ":0",
                                             std::to_string(T + 10 * sec) + ":1"}));
  EXPECT_EQ(st.ended, sim::loop_end::idle);
  EXPECT_EQ(st.rounds, 5u);
  EXPECT_EQ(st.frame_rounds, 2u);
  EXPECT_EQ(st.timer_rounds, 2u);
  EXPECT_EQ(st.frames, 2u);
  EXPECT_EQ(st.input_end_ns, T + 10 * sec);
  EXPECT_EQ(st.end_ns, T + 10 * sec);
}

TEST(sim_event_loop, frames_per_step_bounds_each_round_and_lanes_share_its_time) {
  const auto tr = trace_at({T, T, T, T, T});
  sim::sim_nic nic({});
  nic.load(tr);
  std::vector<std::string> a, b;
  sim::event_loop loop(nic, {.frames_per_step = 2});
  loop.add_lane([&](std::uint64_t now) {
    a.push_back(std::to_string(now - T) + ":" + std::to_string(take_all(nic)));
    return sim::event_loop::no_deadline;
  });
  loop.add_lane([&](std::uint64_t now) {
    b.push_back(std::to_string(now - T));
    return sim::event_loop::no_deadline;
  });
  (void)loop.run();
  // The first round at the clock's start (0 ns: before T, so now - T wraps; not compared), then 2+2+1.
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(a.begin() + 1, a.end()), (std::vector<std::string>{"0:2", "0:2", "0:1"}));
  EXPECT_EQ(b.size(), 4u);
}

TEST(sim_event_loop, a_lane_that_always_asks_for_now_ends_the_run_as_stuck) {
  const auto tr = trace_at({T});
  sim::sim_nic nic({});
  nic.load(tr);
  std::size_t polls = 0, frames = 0;
  sim::event_loop loop(nic, {.max_same_time_rounds = 10});
  loop.add_lane([&](std::uint64_t now) {   // after the frame: "again at once", forever, doing nothing
    ++polls;
    frames += take_all(nic);
    return frames ? now : sim::event_loop::no_deadline;
  });
  const auto st = loop.run();
  EXPECT_EQ(st.ended, sim::loop_end::stuck);
  EXPECT_EQ(st.pending_ns, T);
  EXPECT_EQ(polls, 12u);   // the start, the frame's round, then 10 at T with nothing moved
}

TEST(sim_event_loop, stop_ends_the_run_after_the_round_that_said_so) {
  const auto tr = trace_at({T, T + sec, T + 2 * sec});
  sim::sim_nic nic({});
  nic.load(tr);
  std::size_t frames = 0;
  sim::event_loop loop(nic, {.stop = [&] { return frames == 2; }});
  loop.add_lane([&](std::uint64_t) {
    frames += take_all(nic);
    return sim::event_loop::no_deadline;
  });
  const auto st = loop.run();
  EXPECT_EQ(st.ended, sim::loop_end::stopped);
  EXPECT_EQ(frames, 2u);
  EXPECT_EQ(st.end_ns, T + sec);
  EXPECT_EQ(nic.next_due(), std::optional<std::uint64_t>(T + 2 * sec));
}
