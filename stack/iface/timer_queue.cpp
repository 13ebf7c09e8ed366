#include "stack/iface/timer_queue.hpp"

#include <cassert>

namespace ringlab::stack {

void timer_queue::reserve(std::size_t n) {
  heap_.reserve(n);
  slots_.reserve(n);
  free_.reserve(n);
}

timer_queue::id timer_queue::arm(time_ns at, timer_fn fn, void* ctx, std::uint64_t arg) noexcept {
  std::uint32_t s;
  if (!free_.empty()) {
    s = free_.back();
    free_.pop_back();
  } else {
    s = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();   // grows only past the most timers ever armed at once
  }
  slot& sl = slots_[s];
  sl.fn = fn;
  sl.ctx = ctx;
  sl.arg = arg;
  push(s, clamp(at));
  return {s, sl.gen};
}

bool timer_queue::rearm(id t, time_ns at) noexcept {
  if (!live(t)) return false;
  const std::uint32_t pos = slots_[t.slot].pos;
  if (pos != firing_pos) remove_at(pos);
  push(t.slot, clamp(at));
  return true;
}

bool timer_queue::cancel(id t) noexcept {
  if (!live(t)) return false;
  const std::uint32_t pos = slots_[t.slot].pos;
  if (pos != firing_pos) remove_at(pos);
  release(t.slot);
  return true;
}

bool timer_queue::armed(id t) const noexcept { return live(t) && slots_[t.slot].pos != firing_pos; }

time_ns timer_queue::deadline(id t) const noexcept { return armed(t) ? heap_[slots_[t.slot].pos].at : never; }

void timer_queue::push(std::uint32_t s, time_ns at) noexcept {
  heap_.push_back({at, seq_++, s});
  slots_[s].pos = static_cast<std::uint32_t>(heap_.size() - 1);
  sift_up(heap_.size() - 1);
}

void timer_queue::remove_at(std::size_t i) noexcept {
  const entry last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;
  place(i, last);
  if (i > 0 && before(last, heap_[(i - 1) / 4]))
    sift_up(i);
  else
    sift_down(i);
}

void timer_queue::sift_up(std::size_t i) noexcept {
  const entry e = heap_[i];
  while (i > 0) {
    const std::size_t parent = (i - 1) / 4;
    if (!before(e, heap_[parent])) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, e);
}

void timer_queue::sift_down(std::size_t i) noexcept {
  const entry e = heap_[i];
  const std::size_t n = heap_.size();
  for (;;) {
    const std::size_t first = 4 * i + 1;
    if (first >= n) break;
    std::size_t best = first;
    const std::size_t end = first + 4 < n ? first + 4 : n;
    for (std::size_t c = first + 1; c < end; ++c)
      if (before(heap_[c], heap_[best])) best = c;
    if (!before(heap_[best], e)) break;
    place(i, heap_[best]);
    i = best;
  }
  place(i, e);
}

void timer_queue::release(std::uint32_t s) noexcept {
  slot& sl = slots_[s];
  sl.pos = free_pos;
  ++sl.gen;
  free_.push_back(s);   // capacity: at most slots_.size(), reserved as slots_ grew (see arm)
}

std::size_t timer_queue::run_due(time_ns now) noexcept {
  assert(!running_ && "timer_queue::run called from a timer callback");
  running_ = true;
  run_now_ = now;
  std::size_t n = 0;
  while (!heap_.empty() && heap_[0].at <= now) {
    const std::uint32_t s = heap_[0].slot;
    remove_at(0);
    slot& sl = slots_[s];
    sl.pos = firing_pos;
    const std::uint32_t gen = sl.gen;
    sl.fn(sl.ctx, sl.arg, now);   // may arm (slots_ may grow: no reference into it below), rearm, cancel
    ++n;
    if (slots_[s].gen == gen && slots_[s].pos == firing_pos) release(s);   // neither re-armed nor cancelled
  }
  running_ = false;
  return n;
}

}  // namespace ringlab::stack
