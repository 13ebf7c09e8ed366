#pragma once
// The sender's SACK scoreboard and RFC 6675's loss recovery arithmetic over it.
//
//   SND.UNA                                                        HighData (SND.MAX)
//     |  hole   |## SACKed ##|  hole  |#### SACKed ####|  not yet SACKed  |
//     '-- lost when DupThresh * SMSS bytes are SACKed above it (IsLost) --'
//
// The scoreboard keeps the SACKed ranges above SND.UNA (at most max_ranges: a peer naming more keeps
// only the highest, which are the ones loss detection needs). `high_rxt` is RFC 6675's HighRxt: the
// highest sequence number retransmitted in this recovery; holes below it were retransmitted once.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "stack/tcp/seq.hpp"
#include "stack/wire/tcp.hpp"

namespace ringlab::tcp {

class sack_scoreboard {
 public:
  static constexpr std::size_t max_ranges = 16;
  static constexpr std::uint32_t dup_thresh = 3;   // RFC 6675 2: DupThresh
  struct range {
    std::uint32_t left = 0, right = 0;   // [left, right)
  };

  void clear() noexcept { n_ = 0, high_rxt_ = 0, rxt_valid_ = false; }
  std::span<const range> ranges() const noexcept { return {r_.data(), n_}; }

  // Takes an ACK's SACK blocks; blocks outside (una, high_data] are ignored (RFC 2018 forbids them; RFC
  // 6675 5 says to treat a bad block as absent). Returns true when a block added bytes (new information).
  bool update(std::uint32_t una, std::uint32_t high_data, std::span<const wire::tcp::sack_block> blocks) noexcept {
    bool grew = false;
    for (const auto& b : blocks) {
      if (!seq_lt(b.left, b.right) || !seq_gt(b.right, una) || seq_gt(b.right, high_data)) continue;
      grew |= add({seq_max(b.left, una), b.right});
    }
    drop_below(una);
    return grew;
  }
  // SND.UNA moved: ranges below it are gone.
  void drop_below(std::uint32_t una) noexcept {
    std::size_t k = 0;
    while (k < n_ && seq_le(r_[k].right, una)) ++k;
    std::move(r_.begin() + k, r_.begin() + n_, r_.begin());
    n_ -= k;
    if (n_ && seq_lt(r_[0].left, una)) r_[0].left = una;
  }

  std::uint32_t sacked_bytes() const noexcept {
    std::uint32_t n = 0;
    for (std::size_t i = 0; i < n_; ++i) n += r_[i].right - r_[i].left;
    return n;
  }
  bool is_sacked(std::uint32_t seq) const noexcept {
    for (std::size_t i = 0; i < n_; ++i)
      if (seq_in(seq, r_[i].left, r_[i].right)) return true;
    return false;
  }
  // RFC 6675 4 IsLost(seq): more than (DupThresh - 1) * SMSS bytes SACKed above seq, or DupThresh ranges.
  bool is_lost(std::uint32_t seq, std::uint32_t smss) const noexcept {
    std::uint32_t above = 0, ranges_above = 0;
    for (std::size_t i = 0; i < n_; ++i) {
      if (seq_le(r_[i].right, seq)) continue;
      above += r_[i].right - seq_max(r_[i].left, seq + 1);
      ++ranges_above;
    }
    return ranges_above >= dup_thresh || above > (dup_thresh - 1) * smss;
  }

  // RFC 6675 4 SetPipe(), by bytes: every byte in [una, high_data) not SACKed counts once if not lost,
  // and once more if retransmitted (below HighRxt) — so a lost byte counts only once retransmitted.
  std::uint32_t pipe(std::uint32_t una, std::uint32_t high_data, std::uint32_t smss) const noexcept {
    std::uint32_t p = 0;
    for_each_hole(una, high_data, [&](std::uint32_t l, std::uint32_t r) {
      // Within one hole, IsLost is the same for every byte below the SACKed data that follows it,
      // except that the bytes SACKed above change only at range boundaries: one test per hole start.
      const bool lost = is_lost(l, smss);
      const std::uint32_t rxt = rxt_valid_ && seq_gt(high_rxt_, l) ? seq_min(high_rxt_, r) - l : 0;
      p += (lost ? 0 : r - l) + rxt;
    });
    return p;
  }

  // RFC 6675 4 NextSeg() rule 1: the first lost, not yet retransmitted byte (a hole's start or where
  // the last retransmission ended), with how much of its hole is left (at most smss).
  struct seg {
    std::uint32_t seq = 0, len = 0;
  };
  std::optional<seg> next_lost(std::uint32_t una, std::uint32_t high_data, std::uint32_t smss) const noexcept {
    std::optional<seg> found;
    for_each_hole(una, high_data, [&](std::uint32_t l, std::uint32_t r) {
      if (found) return;
      const std::uint32_t from = rxt_valid_ && seq_gt(high_rxt_, l) ? high_rxt_ : l;
      if (seq_ge(from, r) || !is_lost(from, smss)) return;
      found = seg{from, std::min(r - from, smss)};
    });
    return found;
  }
  // RFC 6675 4 NextSeg() rule 3: the first unSACKed byte past HighRxt and below the highest SACKed
  // byte, lost or not (rule 1's test without IsLost), with how much of its hole is left.
  std::optional<seg> next_unsacked(std::uint32_t una, std::uint32_t smss) const noexcept {
    std::optional<seg> found;
    for_each_hole(una, high_sacked(una), [&](std::uint32_t l, std::uint32_t r) {
      if (found) return;
      const std::uint32_t from = rxt_valid_ && seq_gt(high_rxt_, l) ? high_rxt_ : l;
      if (seq_lt(from, r)) found = seg{from, std::min(r - from, smss)};
    });
    return found;
  }
  // RFC 6675 4 NextSeg() rule 4: up to smss bytes that end with the highest unSACKed byte below
  // high_data (the rescue retransmission), whether retransmitted before or not.
  std::optional<seg> last_unsacked(std::uint32_t una, std::uint32_t high_data, std::uint32_t smss) const noexcept {
    std::optional<seg> found;
    for_each_hole(una, high_data, [&](std::uint32_t l, std::uint32_t r) {
      const std::uint32_t from = r - l > smss ? r - smss : l;
      found = seg{from, r - from};
    });
    return found;
  }
  void retransmitted(std::uint32_t seq, std::uint32_t len) noexcept {
    if (!rxt_valid_ || seq_gt(seq + len, high_rxt_)) high_rxt_ = seq + len;
    rxt_valid_ = true;
  }
  std::uint32_t high_sacked(std::uint32_t una) const noexcept { return n_ ? r_[n_ - 1].right : una; }

 private:
  // Calls f(l, r) for each unSACKed range [l, r) between una and the highest SACKed byte (bytes above
  // every SACK block are never lost by IsLost and are in flight: the caller counts them itself).
  template <class F>
  void for_each_hole(std::uint32_t una, std::uint32_t high_data, F f) const {
    std::uint32_t at = una;
    for (std::size_t i = 0; i < n_; ++i) {
      if (seq_lt(at, r_[i].left)) f(at, r_[i].left);
      at = seq_max(at, r_[i].right);
    }
    if (seq_lt(at, high_data)) f(at, high_data);
  }

  bool add(range x) noexcept {
    std::size_t i = 0;
    while (i < n_ && seq_lt(r_[i].right, x.left)) ++i;
    std::size_t j = i;
    const std::uint32_t before = sacked_bytes();
    while (j < n_ && seq_le(r_[j].left, x.right)) {
      x.left = seq_min(x.left, r_[j].left);
      x.right = seq_max(x.right, r_[j].right);
      ++j;
    }
    if (j == i) {
      if (n_ == max_ranges) {   // full: the lowest range gives way (the highest matter for IsLost)
        if (i == 0) return false;
        std::move(r_.begin() + 1, r_.begin() + i, r_.begin());
        --i;
        r_[i] = x;
        return true;
      }
      std::move_backward(r_.begin() + i, r_.begin() + n_, r_.begin() + n_ + 1);
      ++n_;
    } else {
      std::move(r_.begin() + j, r_.begin() + n_, r_.begin() + i + 1);
      n_ -= j - i - 1;
    }
    r_[i] = x;
    return sacked_bytes() != before;
  }

  std::array<range, max_ranges> r_{};
  std::size_t n_ = 0;
  std::uint32_t high_rxt_ = 0;
  bool rxt_valid_ = false;
};

}  // namespace ringlab::tcp
