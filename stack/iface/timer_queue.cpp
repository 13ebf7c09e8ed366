#include "stack/iface/timer_queue.hpp"

#include <algorithm>
#include <cassert>

namespace ringlab::stack {

void timer_queue::reserve(std::size_t n) {
  heap_.reserve(pad + n);
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

time_ns timer_queue::deadline(id t) const noexcept { return armed(t) ? at_of(node(slots_[t.slot].pos)) : never; }

void timer_queue::push(std::uint32_t s, time_ns at) noexcept {
  if (seq_ == ~std::uint32_t{0}) renumber();
  heap_.emplace_back();
  sift_up(size() - 1, make_key(at, seq_++, s));
}

void timer_queue::remove_at(std::size_t i) noexcept {
  const key last = heap_.back();
  heap_.pop_back();
  if (i == size()) return;
  if (i > 0 && last < node((i - 1) / 4))
    sift_up(i, last);
  else
    sift_down(i, last);
}

// Moves the hole at i up until k fits, then puts k there.
void timer_queue::sift_up(std::size_t i, key k) noexcept {
  while (i > 0) {
    const std::size_t parent = (i - 1) / 4;
    const key p = node(parent);
    if (!(k < p)) break;
    place(i, p);
    i = parent;
  }
  place(i, k);
}

// Moves the hole at i down until k fits, then puts k there.
void timer_queue::sift_down(std::size_t i, key k) noexcept {
  const std::size_t n = size();
  for (;;) {
    const std::size_t first = 4 * i + 1;
    if (first >= n) break;
    std::size_t best = first;
    key b = node(first);
    if (first + 3 < n) {   // the common case: four children, one cache line, no bound checks
      const key c1 = node(first + 1), c2 = node(first + 2), c3 = node(first + 3);
      if (c1 < b) b = c1, best = first + 1;
      if (c2 < b) b = c2, best = first + 2;
      if (c3 < b) b = c3, best = first + 3;
    } else {
      for (std::size_t c = first + 1; c < n; ++c)
        if (node(c) < b) b = node(c), best = c;
    }
    if (!(b < k)) break;
    place(i, b);
    i = best;
  }
  place(i, k);
}

void timer_queue::renumber() {
  // Rank the armed timers by their key; rewriting each arm number by rank keeps every key's order, so
  // the heap stays a heap and ties keep their arm order.
  std::vector<key> keys(heap_.begin() + pad, heap_.end());
  std::sort(keys.begin(), keys.end());
  std::vector<std::uint32_t> rank(slots_.size());
  for (std::size_t r = 0; r < keys.size(); ++r) rank[slot_of(keys[r])] = static_cast<std::uint32_t>(r);
  for (std::size_t i = 0; i < size(); ++i) {
    const key k = node(i);
    node(i) = make_key(at_of(k), rank[slot_of(k)], slot_of(k));
  }
  seq_ = static_cast<std::uint32_t>(keys.size());
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
  while (size() > 0 && at_of(node(0)) <= now) {
    const std::uint32_t s = slot_of(node(0));
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
