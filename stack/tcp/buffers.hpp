#pragma once
// The two byte queues of one connection (mTCP keeps the same pair per flow):
//
//   send_buffer   the bytes from SND.UNA on: sent-but-unacknowledged, then not yet sent. Kept in one
//                 piece so a segment's payload is one span (segments are rebuilt from it for every
//                 retransmission; nothing else is kept per segment). Acknowledged bytes leave the
//                 front; the rest moves back to the start only when a write needs the room.
//   recv_buffer   a ring of the receive window: in-order bytes ready for the reader, then room, in
//                 which out-of-order bytes are placed at their offset past RCV.NXT and remembered as
//                 at most max_ooo_ranges ranges. A segment past the window is cut to it, so a peer that
//                 floods past the window costs no memory beyond the buffer's fixed size.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace ringlab::tcp {

class send_buffer {
 public:
  explicit send_buffer(std::size_t capacity) : buf_(capacity) {}

  std::size_t capacity() const noexcept { return buf_.size(); }
  std::size_t size() const noexcept { return end_ - begin_; }          // bytes from SND.UNA on
  std::size_t room() const noexcept { return buf_.size() - size(); }

  // Appends what fits; returns how many bytes it took.
  std::size_t write(std::span<const std::byte> data) noexcept {
    const std::size_t n = std::min(data.size(), room());
    if (n == 0) return 0;
    if (end_ + n > buf_.size()) {   // compact: the unacknowledged bytes move to the front
      std::memmove(buf_.data(), buf_.data() + begin_, size());
      end_ -= begin_;
      begin_ = 0;
    }
    std::memcpy(buf_.data() + end_, data.data(), n);
    end_ += n;
    return n;
  }
  // len bytes from `offset` bytes past SND.UNA (cut to what there is).
  std::span<const std::byte> at(std::size_t offset, std::size_t len) const noexcept {
    if (offset >= size()) return {};
    return {buf_.data() + begin_ + offset, std::min(len, size() - offset)};
  }
  // The first n bytes were acknowledged.
  void consume(std::size_t n) noexcept {
    begin_ += std::min(n, size());
    if (begin_ == end_) begin_ = end_ = 0;
  }

 private:
  std::vector<std::byte> buf_;
  std::size_t begin_ = 0, end_ = 0;
};

class recv_buffer {
 public:
  static constexpr std::size_t max_ooo_ranges = 8;
  struct range {
    std::size_t begin = 0, end = 0;   // offsets past the in-order edge (RCV.NXT)
  };

  explicit recv_buffer(std::size_t capacity) : buf_(capacity) {}

  std::size_t capacity() const noexcept { return buf_.size(); }
  std::size_t readable() const noexcept { return ready_; }
  std::size_t window() const noexcept { return buf_.size() - ready_; }   // room from RCV.NXT on

  struct placed {
    std::size_t advanced = 0;   // the in-order edge moved by this many bytes (this segment and the
                                // out-of-order ones it joined)
    bool out_of_order = false;  // the bytes landed past a gap
    bool dropped = false;       // no room for another out-of-order range: not kept
  };
  // Places bytes that start `offset` bytes past RCV.NXT, cut to the window.
  placed place(std::size_t offset, std::span<const std::byte> data) noexcept {
    placed r;
    const std::size_t win = window();
    if (offset >= win || data.empty()) return r;
    data = data.first(std::min(data.size(), win - offset));
    if (offset > 0) {
      r.out_of_order = true;
      if (!add_range({offset, offset + data.size()})) {
        r.dropped = true;
        return r;
      }
      copy_in(offset, data);
      return r;
    }
    copy_in(0, data);
    std::size_t edge = data.size();
    // Ranges the new bytes reach (or overlap) join the in-order data.
    std::size_t k = 0;
    while (k < n_ranges_ && ranges_[k].begin <= edge) edge = std::max(edge, ranges_[k++].end);
    drop_ranges(k);
    ready_ += edge;
    for (std::size_t i = 0; i < n_ranges_; ++i) ranges_[i].begin -= edge, ranges_[i].end -= edge;
    r.advanced = edge;
    return r;
  }

  // Copies up to out.size() in-order bytes out; returns how many.
  std::size_t read(std::span<std::byte> out) noexcept {
    const std::size_t n = std::min(out.size(), ready_);
    const std::size_t first = std::min(n, buf_.size() - head_);
    std::memcpy(out.data(), buf_.data() + head_, first);
    std::memcpy(out.data() + first, buf_.data(), n - first);
    head_ = (head_ + n) % buf_.size();
    ready_ -= n;
    return n;
  }

  // The out-of-order ranges, lowest first; `latest` is the index of the one the last placement
  // touched (RFC 2018 4: the first SACK block names the most recent).
  std::span<const range> out_of_order() const noexcept { return {ranges_.data(), n_ranges_}; }
  std::size_t latest() const noexcept { return latest_; }

 private:
  void copy_in(std::size_t offset, std::span<const std::byte> data) noexcept {
    const std::size_t at = (head_ + ready_ + offset) % buf_.size();
    const std::size_t first = std::min(data.size(), buf_.size() - at);
    std::memcpy(buf_.data() + at, data.data(), first);
    std::memcpy(buf_.data(), data.data() + first, data.size() - first);
  }
  // Merges r into the sorted, disjoint list; false when it would need a range more than the bound.
  bool add_range(range r) noexcept {
    std::size_t i = 0;
    while (i < n_ranges_ && ranges_[i].end < r.begin) ++i;   // ranges wholly before r (not touching)
    std::size_t j = i;
    while (j < n_ranges_ && ranges_[j].begin <= r.end) {     // ranges r overlaps or touches
      r.begin = std::min(r.begin, ranges_[j].begin);
      r.end = std::max(r.end, ranges_[j].end);
      ++j;
    }
    const std::size_t merged = j - i;
    if (merged == 0 && n_ranges_ == max_ooo_ranges) return false;
    // Replace ranges_[i, j) by r.
    if (merged == 0) {
      std::move_backward(ranges_.begin() + i, ranges_.begin() + n_ranges_, ranges_.begin() + n_ranges_ + 1);
      ++n_ranges_;
    } else if (merged > 1) {
      std::move(ranges_.begin() + j, ranges_.begin() + n_ranges_, ranges_.begin() + i + 1);
      n_ranges_ -= merged - 1;
    }
    ranges_[i] = r;
    latest_ = i;
    return true;
  }
  void drop_ranges(std::size_t k) noexcept {
    std::move(ranges_.begin() + k, ranges_.begin() + n_ranges_, ranges_.begin());
    n_ranges_ -= k;
    latest_ = 0;
  }

  std::vector<std::byte> buf_;
  std::size_t head_ = 0;    // first unread byte
  std::size_t ready_ = 0;   // in-order bytes from head_
  std::array<range, max_ooo_ranges> ranges_{};
  std::size_t n_ranges_ = 0;
  std::size_t latest_ = 0;
};

}  // namespace ringlab::tcp
