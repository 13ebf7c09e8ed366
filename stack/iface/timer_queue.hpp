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
#include <new>
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

  time_ns next_deadline() const noexcept { return heap_.size() == pad ? never : at_of(heap_[pad]); }
  std::size_t size() const noexcept { return heap_.size() - pad; }

  // Fires every timer due at `now`, earliest first (equal deadlines in arm order); returns how many.
  std::size_t run(time_ns now) noexcept {
    if (heap_.size() == pad || at_of(heap_[pad]) > now) return 0;   // the common poll: nothing due
    return run_due(now);
  }

  // Arm numbers are 32 bits, to keep a heap entry at 16 bytes (four siblings in one cache line); when
  // they would wrap, renumber() maps the armed timers' numbers onto 0..n-1 in the same order (every
  // 2^32 arms, O(n log n)). Public so that a test can call it at any time: the order must not change.
  void renumber();

 private:
  static constexpr std::uint32_t free_pos = ~0u;        // slot not in use
  static constexpr std::uint32_t firing_pos = ~0u - 1;  // slot's callback is running
  // A heap entry is one 128-bit key: deadline (high 64 bits), arm number (32), slot (low 32), so that
  // one integer compare orders by deadline, then arm order.
  using key = unsigned __int128;
  static key make_key(time_ns at, std::uint32_t seq, std::uint32_t slot) noexcept {
    return key{at} << 64 | key{seq} << 32 | slot;
  }
  static time_ns at_of(key k) noexcept { return static_cast<time_ns>(k >> 64); }
  static std::uint32_t slot_of(key k) noexcept { return static_cast<std::uint32_t>(k); }
  // The heap lives at heap_[pad + i]: with heap_ 64-byte aligned, the four children of i (4i+1..4i+4)
  // are heap_[4(i+1)..4(i+1)+3], one cache line.
  static constexpr std::size_t pad = 3;
  template <class T>
  struct line_allocator {   // 64-byte aligned storage for the heap
    using value_type = T;
    line_allocator() = default;
    template <class U>
    line_allocator(const line_allocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64})); }
    void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t{64}); }
    bool operator==(const line_allocator&) const noexcept { return true; }
  };
  struct slot {
    timer_fn fn = nullptr;
    void* ctx = nullptr;
    std::uint64_t arg = 0;
    std::uint32_t pos = free_pos;   // heap index, or free_pos / firing_pos
    std::uint32_t gen = 0;          // bumped when the slot is freed: old ids go stale
  };
  bool live(id t) const noexcept {
    return t.slot < slots_.size() && slots_[t.slot].gen == t.gen && slots_[t.slot].pos != free_pos;
  }
  time_ns clamp(time_ns at) const noexcept { return running_ && at <= run_now_ ? run_now_ + 1 : at; }
  key& node(std::size_t i) noexcept { return heap_[pad + i]; }
  key node(std::size_t i) const noexcept { return heap_[pad + i]; }
  void push(std::uint32_t s, time_ns at) noexcept;
  void remove_at(std::size_t i) noexcept;
  void sift_up(std::size_t i, key k) noexcept;
  void sift_down(std::size_t i, key k) noexcept;
  void place(std::size_t i, key k) noexcept {
    node(i) = k;
    slots_[slot_of(k)].pos = static_cast<std::uint32_t>(i);
  }
  void release(std::uint32_t s) noexcept;
  std::size_t run_due(time_ns now) noexcept;

  std::vector<key, line_allocator<key>> heap_ = std::vector<key, line_allocator<key>>(pad);   // pad unused entries first
  std::vector<slot> slots_;
  std::vector<std::uint32_t> free_;   // free slot indices, reused last-in first-out
  std::uint32_t seq_ = 0;
  time_ns run_now_ = 0;
  bool running_ = false;
};

}  // namespace ringlab::stack
