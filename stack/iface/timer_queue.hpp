#pragma once
// The timers of ONE lane (one interface, one polling thread): ARP retries, reassembly timeouts, IGMP
// report delays, and later TCP's RTO, delayed ACK, keepalive and TIME_WAIT all live here, so a poll
// asks one structure for its next deadline instead of every part scanning its own table.
//
// A 4-ary min-heap of (deadline, arm sequence) with a handle per timer (as Go's runtime keeps its
// timers; Asio's timer_queue is the binary version). Chosen over a hierarchical wheel (Linux
// kernel/time/timer.c, FreeBSD callout) by what this stack needs, measured in bench/timers:
//   - exact deadlines: poll() returns the next deadline itself and sim time jumps straight to it; a
//     wheel rounds a deadline up to its level's granularity and can only say "some time in this bucket",
//     so a sim run would wake at other times and the netsim event hashes would change;
//   - a deterministic order: timers due together fire by deadline, then in the order they were armed
//     (a re-arm counts as a new arm); no seed, no address, no hash order takes part;
//   - arm, cancel, re-arm in O(log4 n) by handle; next_deadline() in O(1); the empty case (the fast
//     path polls with no timer armed) is one load and one compare, inline.
//
// Time is passed in (`now`, `at`): nothing here reads a clock. A timer never fires before its time:
// run(now) fires exactly those with deadline <= now. While run() fires, a callback may arm, re-arm
// (itself too, by its own id) or cancel any timer; a timer armed during run(now) for a time <= now is
// due at now + 1 ns (the next poll), so a callback that keeps re-arming for "now" cannot loop forever.
//
// Storage: one slot per timer (callback, context, argument) and one heap entry per armed timer, both
// in vectors that grow only past the most timers ever armed at once (reserve() up front to allocate
// nothing later). Not thread-safe: one queue per lane, used on the lane's thread.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "stack/iface/time.hpp"

namespace ringlab::stack {

// Called from timer_queue::run(now) with the context and argument given to arm().
using timer_fn = void (*)(void* ctx, std::uint64_t arg, time_ns now) noexcept;

class timer_queue {
 public:
  // A handle: stays valid until its timer fires (after the callback returns, unless it re-armed
  // itself) or is cancelled; a stale id is harmless (rearm/cancel answer false).
  struct id {
    std::uint32_t slot = ~0u;
    std::uint32_t gen = 0;
    bool valid() const noexcept { return slot != ~0u; }
    bool operator==(const id&) const = default;
  };

  timer_queue() = default;
  explicit timer_queue(std::size_t reserve) { this->reserve(reserve); }
  timer_queue(const timer_queue&) = delete;
  timer_queue& operator=(const timer_queue&) = delete;

  void reserve(std::size_t n);

  // Arms a new timer: fn(ctx, arg, now) runs from the first run(now) with now >= at.
  id arm(time_ns at, timer_fn fn, void* ctx, std::uint64_t arg = 0) noexcept;
  // Moves an armed (or firing) timer to `at`, behind the timers already due at `at`. False: stale id.
  bool rearm(id t, time_ns at) noexcept;
  // Disarms; false when the id is stale (fired or cancelled already).
  bool cancel(id t) noexcept;
  bool armed(id t) const noexcept;
  time_ns deadline(id t) const noexcept;   // never when not armed

  time_ns next_deadline() const noexcept { return heap_.empty() ? never : heap_[0].at; }
  std::size_t size() const noexcept { return heap_.size(); }

  // Fires every timer due at `now`, earliest first (equal deadlines in arm order); returns how many.
  std::size_t run(time_ns now) noexcept {
    if (heap_.empty() || heap_[0].at > now) return 0;   // the common poll: nothing due
    return run_due(now);
  }

 private:
  static constexpr std::uint32_t free_pos = ~0u;        // slot not in use
  static constexpr std::uint32_t firing_pos = ~0u - 1;  // slot's callback is running
  struct entry {            // the heap keeps its key inline: a sift touches no slot but the moved ones
    time_ns at;
    std::uint64_t seq;      // arm order: ties at one deadline fire in the order they were armed
    std::uint32_t slot;
  };
  struct slot {
    timer_fn fn = nullptr;
    void* ctx = nullptr;
    std::uint64_t arg = 0;
    std::uint32_t pos = free_pos;   // index in heap_, or free_pos / firing_pos
    std::uint32_t gen = 0;          // bumped when the slot is freed: old ids go stale
  };
  static bool before(const entry& a, const entry& b) noexcept {
    return a.at < b.at || (a.at == b.at && a.seq < b.seq);
  }
  bool live(id t) const noexcept {
    return t.slot < slots_.size() && slots_[t.slot].gen == t.gen && slots_[t.slot].pos != free_pos;
  }
  time_ns clamp(time_ns at) const noexcept { return running_ && at <= run_now_ ? run_now_ + 1 : at; }
  void push(std::uint32_t s, time_ns at) noexcept;
  void remove_at(std::size_t i) noexcept;
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  void place(std::size_t i, const entry& e) noexcept {
    heap_[i] = e;
    slots_[e.slot].pos = static_cast<std::uint32_t>(i);
  }
  void release(std::uint32_t s) noexcept;
  std::size_t run_due(time_ns now) noexcept;

  std::vector<entry> heap_;
  std::vector<slot> slots_;
  std::vector<std::uint32_t> free_;   // free slot indices, reused last-in first-out
  std::uint64_t seq_ = 0;
  time_ns run_now_ = 0;
  bool running_ = false;
};

}  // namespace ringlab::stack
