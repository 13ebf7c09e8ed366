#pragma once
// sequence_tracker: what a receiver can tell from sequence numbers alone.
//
// It keeps next = one past the highest number seen, and a window of W "arrived" bits for the numbers
// [next - W, next). A number
//   == next       in order;
//   >  next       a gap: the skipped ones count as lost (for now);
//   <  next, in the window, bit clear   late: it was counted lost, now it is reordered instead;
//   <  next, in the window, bit set     a duplicate;
//   older than the window, or below the first number expected   stale: it cannot be told apart.
// So at any time: unique == received - duplicates - stale, and unique + lost == highest - first + 1.
// Everything is exact while reordering stays inside the window.
//
// Where counting starts: by default at 0 (each mcast-send run starts at 0), so a receiver that joins
// late shows what it missed as lost. from_first_received() starts at the first number that arrives.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace ringlab::mcast {

struct sequence_stats {
  std::uint64_t received = 0;     // every datagram with a valid header
  std::uint64_t unique = 0;       // distinct numbers among them
  std::uint64_t lost = 0;         // numbers skipped that have not arrived (yet)
  std::uint64_t reordered = 0;    // arrived after a higher number (no longer lost)
  std::uint64_t duplicates = 0;   // arrived again, inside the window
  std::uint64_t stale = 0;        // older than the window, or below the first number expected
  std::optional<std::uint64_t> first;     // first number expected (or received, late join)
  std::optional<std::uint64_t> highest;   // highest number received
};

class sequence_tracker {
 public:
  enum class verdict : std::uint8_t { in_order, gap, late, duplicate, stale };

  // window: how far back a late number is still told apart; rounded up to a power of two (>= 64).
  explicit sequence_tracker(std::uint64_t first_expected = 0, std::size_t window = 4096);
  static sequence_tracker from_first_received(std::size_t window = 4096);

  verdict on_seq(std::uint64_t seq) noexcept;
  const sequence_stats& stats() const noexcept { return stats_; }
  std::size_t window() const noexcept { return mask_ + 1; }

 private:
  bool seen(std::uint64_t s) const noexcept { return (bits_[(s & mask_) / 64] >> (s % 64)) & 1u; }
  void mark(std::uint64_t s) noexcept { bits_[(s & mask_) / 64] |= std::uint64_t{1} << (s % 64); }
  void clear(std::uint64_t s) noexcept { bits_[(s & mask_) / 64] &= ~(std::uint64_t{1} << (s % 64)); }

  bool started_ = false;
  std::uint64_t base_ = 0;   // first number expected: lower ones are stale
  std::uint64_t next_ = 0;   // one past the highest number seen
  std::uint64_t mask_ = 0;
  std::vector<std::uint64_t> bits_;
  sequence_stats stats_;
};

std::string_view to_string(sequence_tracker::verdict v) noexcept;

}  // namespace ringlab::mcast
