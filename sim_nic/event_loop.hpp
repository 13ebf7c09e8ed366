#pragma once
// event_loop: the one discrete-event driver of a sim_nic replay. `ringlab demo`, `mcast-recv --backend
// sim`, `mcast-send --backend sim`, `trace replay` and the netsim tests all run their stacks through it.
//
// Each round takes the earliest of two kinds of event, jumps the virtual clock there, and polls:
//
//   t = min( nic.next_due()                    the next frame (trace, held by faults, or off a wire)
//            every lane's next deadline )      what each stack's poll() said: IGMP report, ARP retry,
//                                              reassembly timeout; <= now: "again at once"
//   nic.advance_to(t, frames_per_step)         moves up to a burst of frames due by t into the rings;
//                                              the clock stops at the last one moved while more are due
//   every lane polls at nic.now()              and says when it next needs polling
//
// until no frame is left and no lane has a timer pending. So a timer fires at its own virtual time,
// not when the next frame happens to arrive: an IGMP general query with a 1 s maximum response time
// followed by 1.5 s without frames gets its reports within that second, at the times the stack's
// timer chose. Nothing here reads a real clock, so the same trace, config and seed give the same
// rounds at the same times, byte for byte.
//
// Bounds (a replay always ends): after the input runs out, timers are run up to tail_ns of virtual
// time past the last frame (a timer later than that is left pending: ended = tail); until_ns ends the
// run before any event later than it; `stop` ends it after any round; a lane that keeps asking to be
// polled at once while nothing moves ends it after max_same_time_rounds (ended = stuck: a bug in that
// lane, said rather than spun on).
//
// A lane never sees the NIC: it is a callable, so sim_nic stays below the stack (DESIGN.md) and any
// poller fits (stack::interface::poll, a bypass_service lane and its io_context, a bare rx_burst).
// One thread: the lanes are polled in order on the caller's thread, which also ingests.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string_view>
#include <vector>

#include "sim_nic/sim_nic.hpp"

namespace ringlab::sim {

// Polls one lane at virtual time `now`; returns when it next needs polling (<= now: at once;
// event_loop::no_deadline: no timer pending).
using lane_poll = std::function<std::uint64_t(std::uint64_t now)>;

struct event_loop_config {
  std::size_t frames_per_step = 32;                  // frames moved into the rings between two polls
  std::uint64_t tail_ns = 60'000'000'000;            // timers run up to this far past the last frame
  std::uint32_t max_same_time_rounds = 1u << 16;     // rounds at one time with nothing moved: stuck
  std::uint64_t until_ns = ~std::uint64_t{0};        // no event later than this virtual time is run
  std::function<bool()> stop;                        // checked after every round; true ends the run
};

enum class loop_end : std::uint8_t {
  idle,      // the input is over and no lane has a timer pending
  stopped,   // stop() said so
  tail,      // a timer is still pending past tail_ns after the last frame (pending_ns says when)
  stuck,     // a lane asked to be polled at once max_same_time_rounds times while nothing moved
  until,     // the next event (pending_ns) is later than until_ns
};
std::string_view to_string(loop_end e) noexcept;

struct event_loop_stats {
  loop_end ended = loop_end::idle;
  std::uint64_t rounds = 0;          // rounds: every lane polled once
  std::uint64_t frame_rounds = 0;    // of them, rounds that moved at least one frame
  std::uint64_t timer_rounds = 0;    // of them, rounds woken by a lane's deadline with no frame moved
  std::uint64_t frames = 0;          // frames the NIC handled (into a ring, dropped or held by faults)
  std::uint64_t input_end_ns = 0;    // virtual time when the input ran out (0: it did not)
  std::uint64_t end_ns = 0;          // virtual time when the run ended
  std::uint64_t pending_ns = 0;      // tail, stuck, until: the event left pending
};

class event_loop {
 public:
  static constexpr std::uint64_t no_deadline = std::numeric_limits<std::uint64_t>::max();

  explicit event_loop(sim_nic& nic, event_loop_config cfg = {}) : nic_(nic), cfg_(std::move(cfg)) {}

  // Lanes are polled in the order they were added.
  void add_lane(lane_poll p) { lanes_.push_back(std::move(p)); }

  // Moves nic's clock to just before its first frame, so what is done before the run (sockets join,
  // their reports go out) happens on the trace's time line rather than at virtual time 0. Moves no
  // frame. Call it before the lanes' stacks are attached.
  static void start_before_first_frame(sim_nic& nic) noexcept;

  // Runs rounds until one of loop_end's reasons; flushes the NIC's TX pcap on the way out.
  event_loop_stats run();

 private:
  sim_nic& nic_;
  event_loop_config cfg_;
  std::vector<lane_poll> lanes_;
};

}  // namespace ringlab::sim
