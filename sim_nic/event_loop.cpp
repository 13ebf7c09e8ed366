#include "sim_nic/event_loop.hpp"

#include <algorithm>

namespace ringlab::sim {

std::string_view to_string(loop_end e) noexcept {
  switch (e) {
    case loop_end::idle: return "idle";
    case loop_end::stopped: return "stopped";
    case loop_end::tail: return "tail";
    case loop_end::stuck: return "stuck";
    case loop_end::until: return "until";
  }
  return "?";
}

void event_loop::start_before_first_frame(sim_nic& nic) noexcept {
  if (const auto d = nic.next_due(); d && *d > nic.now() + 1) nic.advance_to(*d - 1);
}

event_loop_stats event_loop::run() {
  event_loop_stats st;
  // Every lane polls once at the start: it learns the time and says what it waits for.
  std::vector<std::uint64_t> wake(lanes_.size(), nic_.now());
  bool input_over = false;
  std::uint64_t prev = nic_.now();
  std::uint32_t same_time = 0;
  for (;;) {
    std::uint64_t t = no_deadline;
    for (const auto w : wake) t = std::min(t, w);
    const auto due = nic_.next_due();
    if (!due && !input_over) {
      input_over = true;
      st.input_end_ns = nic_.now();
    }
    if (due) t = std::min(t, *due);
    if (t == no_deadline) {
      st.ended = loop_end::idle;
      break;
    }
    if (!due && t > st.input_end_ns && t - st.input_end_ns > cfg_.tail_ns) {
      st.ended = loop_end::tail;
      st.pending_ns = t;
      break;
    }
    if (t > cfg_.until_ns) {
      st.ended = loop_end::until;
      st.pending_ns = t;
      break;
    }
    // A deadline already past (a lane asking for "again at once") polls now: the clock never goes back.
    t = std::max(t, nic_.now());
    const std::size_t moved = nic_.advance_to(t, cfg_.frames_per_step);
    const std::uint64_t now = nic_.now();
    for (std::size_t i = 0; i < lanes_.size(); ++i) wake[i] = lanes_[i](now);
    ++st.rounds;
    st.frames += moved;
    if (moved) {
      ++st.frame_rounds;
    } else if (now > prev) {
      ++st.timer_rounds;
    }
    // Several rounds at one time are normal (a burst larger than a lane's rx_burst drains in turns);
    // endless ones with nothing moving are a lane that asks for "now" without doing anything.
    if (moved == 0 && now == prev && st.rounds > 1) {
      if (++same_time >= cfg_.max_same_time_rounds) {
        st.ended = loop_end::stuck;
        st.pending_ns = now;
        break;
      }
    } else {
      same_time = 0;
    }
    prev = now;
    if (cfg_.stop && cfg_.stop()) {
      st.ended = loop_end::stopped;
      break;
    }
  }
  st.end_ns = nic_.now();
  nic_.flush_tx();
  return st;
}

}  // namespace ringlab::sim
