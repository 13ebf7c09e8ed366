#include "stack/iface/reassembler.hpp"

#include <algorithm>
#include <cstring>

namespace ringlab::stack {

reassembler::reassembler(port::frame_pool& pool, reassembler_config cfg) noexcept
    : reassembler(pool, cfg, own_timers_, {}) {}

reassembler::reassembler(port::frame_pool& pool, reassembler_config cfg, timer_queue& timers, hooks h) noexcept
    : pool_(pool), cfg_(cfg), timers_(timers), hooks_(h) {
  cfg_.max_datagrams = std::min(cfg_.max_datagrams, max_slots);
}

reassembler::~reassembler() {
  for (auto& s : slots_)
    if (s.used) drop(s);
}


void reassembler::drop(slot& s) noexcept {
  if (s.frame.valid()) pool_.free(s.frame);
  forget(s);
}

void reassembler::forget(slot& s) noexcept {
  timers_.cancel(s.timer);   // a no-op for the timer that is firing now
  s = slot{};
  --used_;
}

void reassembler::on_timeout(void* self, std::uint64_t index, time_ns now) noexcept {
  auto& me = *static_cast<reassembler*>(self);
  me.drop(me.slots_[index]);   // used: its timer is cancelled whenever the slot frees
  if (me.hooks_.timed_out) me.hooks_.timed_out(me.hooks_.ctx, now);
}

bool reassembler::complete(const slot& s) noexcept {
  // Ranges are kept sorted and disjoint: complete when they tile [0, total) without a gap.
  if (s.total == 0) return false;
  std::size_t at = 0;
  for (std::size_t i = 0; i < s.n_ranges; ++i) {
    if (s.ranges[i].begin != at) return false;
    at = s.ranges[i].end;
  }
  return at == s.total;
}

reassembler::outcome reassembler::add(const key& k, std::size_t offset, bool more,
                                      std::span<const std::byte> payload, time_ns now) noexcept {
  using trace::drop_reason;
  slot* s = nullptr;
  slot* free_slot = nullptr;
  for (std::size_t i = 0; i < cfg_.max_datagrams; ++i) {
    if (slots_[i].used) {
#if defined(RINGLAB_PLANT_STACK_BUG) && RINGLAB_PLANT_STACK_BUG
      // The planted bug (CMake option RINGLAB_PLANT_STACK_BUG, off by default; issue 15, docs/repro.md):
      // the identification is not compared, so the fragments of two datagrams of one flow that arrive
      // interleaved (reordered) are put together into one.
      if (slots_[i].k.src == k.src && slots_[i].k.dst == k.dst && slots_[i].k.protocol == k.protocol) s = &slots_[i];
#else
      if (slots_[i].k == k) s = &slots_[i];
#endif
    } else if (!free_slot) {
      free_slot = &slots_[i];
    }
  }
  if (!s) {
    if (!free_slot) return {status::dropped, drop_reason::fragment_overflow, {}, 0};
    port::frame_ref f = pool_.alloc();
    if (!f.valid()) return {status::dropped, drop_reason::pool_empty, {}, 0};
    s = free_slot;
    *s = slot{};
    s->used = true;
    s->k = k;
    s->frame = f;
    s->deadline = now + cfg_.timeout;   // RFC 791: the timer starts with the first fragment
    s->timer = timers_.arm(s->deadline, &reassembler::on_timeout, this, static_cast<std::uint64_t>(s - slots_.data()));
    ++used_;
  }
  const std::size_t end = offset + payload.size();
  // Every fragment but the last carries a multiple of 8 bytes (RFC 791); an empty one adds nothing.
  const bool bad_shape = payload.empty() || (more && payload.size() % 8 != 0);
  const bool too_long = end > s->frame.bytes.size() || (s->total && end > s->total) ||
                        (!more && s->total && end != s->total) ||
                        (!more && end < (s->n_ranges ? s->ranges[s->n_ranges - 1].end : 0u));
  if (bad_shape || too_long || s->n_ranges == max_ranges) {
    drop(*s);
    return {status::dropped, drop_reason::fragment_overflow, {}, 0};
  }
  // Find the insertion point; any intersection with a held range is an overlap.
  std::size_t i = 0;
  while (i < s->n_ranges && s->ranges[i].end <= offset) ++i;
  if (i < s->n_ranges && s->ranges[i].begin < end) {
    drop(*s);
    return {status::dropped, drop_reason::fragment_overflow, {}, 0};
  }
  std::memcpy(s->frame.bytes.data() + offset, payload.data(), payload.size());
  const auto b16 = static_cast<std::uint16_t>(offset), e16 = static_cast<std::uint16_t>(end);
  // Merge with the neighbours when they touch, so that max_ranges bounds holes, not fragments.
  const bool join_left = i > 0 && s->ranges[i - 1].end == b16;
  const bool join_right = i < s->n_ranges && s->ranges[i].begin == e16;
  if (join_left && join_right) {
    s->ranges[i - 1].end = s->ranges[i].end;
    std::move(s->ranges.begin() + i + 1, s->ranges.begin() + s->n_ranges, s->ranges.begin() + i);
    --s->n_ranges;
  } else if (join_left) {
    s->ranges[i - 1].end = e16;
  } else if (join_right) {
    s->ranges[i].begin = b16;
  } else {
    std::move_backward(s->ranges.begin() + i, s->ranges.begin() + s->n_ranges,
                       s->ranges.begin() + s->n_ranges + 1);
    s->ranges[i] = {b16, e16};
    ++s->n_ranges;
  }
  if (!more) s->total = end;
  if (!complete(*s)) return {status::held, drop_reason::none, {}, 0};
  outcome out{status::complete, drop_reason::none, s->frame, s->total};
  out.frame.bytes = out.frame.bytes.first(s->total);
  forget(*s);   // the frame now belongs to the caller
  return out;
}

std::size_t reassembler::expire(time_ns now) noexcept {
  std::size_t n = 0;
  if (used_ == 0) return 0;
  for (std::size_t i = 0; i < cfg_.max_datagrams; ++i) {
    slot& s = slots_[i];
    if (s.used && s.deadline <= now) {
      drop(s);
      ++n;
    }
  }
  return n;
}

time_ns reassembler::next_deadline() const noexcept {
  time_ns t = never;
  if (used_ == 0) return t;
  for (const auto& s : slots_)
    if (s.used) t = earliest(t, s.deadline);
  return t;
}

std::size_t reassembler::in_flight() const noexcept { return used_; }

}  // namespace ringlab::stack
