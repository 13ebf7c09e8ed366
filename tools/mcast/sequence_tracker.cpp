#include "tools/mcast/sequence_tracker.hpp"

#include <algorithm>
#include <bit>

namespace ringlab::mcast {

sequence_tracker::sequence_tracker(std::uint64_t first_expected, std::size_t window)
    : started_(true), base_(first_expected), next_(first_expected) {
  const std::size_t w = std::bit_ceil(std::max<std::size_t>(window, 64));
  mask_ = w - 1;
  bits_.assign(w / 64, 0);
  stats_.first = first_expected;
}

sequence_tracker sequence_tracker::from_first_received(std::size_t window) {
  sequence_tracker t(0, window);
  t.started_ = false;
  t.stats_.first.reset();
  return t;
}

sequence_tracker::verdict sequence_tracker::on_seq(std::uint64_t s) noexcept {
  ++stats_.received;
  if (!started_) {
    started_ = true;
    base_ = next_ = s;
    stats_.first = s;
  }
  if (s < base_) { ++stats_.stale; return verdict::stale; }
  if (s >= next_) {
    const std::uint64_t gap = s - next_;
    // The numbers next_..s enter the window; their bits still hold numbers W older.
    if (gap >= mask_) std::fill(bits_.begin(), bits_.end(), 0);
    else for (std::uint64_t x = next_; x <= s; ++x) clear(x);
    mark(s);
    next_ = s + 1;
    stats_.lost += gap;
    ++stats_.unique;
    stats_.highest = s;
    return gap ? verdict::gap : verdict::in_order;
  }
  if (next_ - s > mask_ + 1) { ++stats_.stale; return verdict::stale; }
  if (seen(s)) { ++stats_.duplicates; return verdict::duplicate; }
  mark(s);
  --stats_.lost;   // every number in [base_, next_) not seen was counted lost by a gap
  ++stats_.reordered;
  ++stats_.unique;
  return verdict::late;
}

std::string_view to_string(sequence_tracker::verdict v) noexcept {
  switch (v) {
    case sequence_tracker::verdict::in_order: return "in_order";
    case sequence_tracker::verdict::gap: return "gap";
    case sequence_tracker::verdict::late: return "late";
    case sequence_tracker::verdict::duplicate: return "duplicate";
    case sequence_tracker::verdict::stale: return "stale";
  }
  return "?";
}

}  // namespace ringlab::mcast
