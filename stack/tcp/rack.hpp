#pragma once
// RACK (RFC 8985 section 6): time-based loss detection. The sender keeps, per segment in flight, when
// it last went out; a segment is lost once a segment sent after it was delivered (ACKed or SACKed)
// and more than RACK.rtt + RACK.reo_wnd has passed since it was sent. Unlike RFC 6675's IsLost
// (counting SACKed bytes above a hole) this finds a lost retransmission (it was sent after the
// segments that are delivered now) and a loss near the tail (one SACKed segment above it is enough,
// after the reordering window), which otherwise only the RTO repairs.
//
//   SND.UNA                                                            SND.MAX
//     | rec | rec | rec | rec | ... one record per segment sent: [begin, end), xmit time, flags
//       (sorted by sequence; a retransmission gives its range a new xmit time and the retransmitted flag)
//
// The engine rebuilds segments from the send buffer (buffers.hpp), so this is the only per-segment
// state. The records live in one chunk of the buffers' chunk_pool (16 KiB, 682 records), taken with
// the first record and given back when the last one is acknowledged: an idle connection holds none,
// and request/response takes the chunk from the lane's cache. A flight of more segments than that
// merges new segments into the newest record (which then carries the newest time: a later time only
// makes detection wait longer, never marks a segment lost early).
//
// reo_wnd grows by min_RTT / 4 per round trip that brought a DSACK (RFC 8985 6.2 step 4: the peer
// got a segment twice, so a retransmission was spurious and the window too short), and falls back to
// min_RTT / 4 after 16 recoveries without one. What is not done: min_RTT is the minimum over the
// connection, not a windowed filter.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "stack/iface/time.hpp"
#include "stack/tcp/buffers.hpp"
#include "stack/tcp/seq.hpp"

namespace ringlab::tcp {

class rack {
 public:
  using time_ns = stack::time_ns;
  struct record {
    std::uint32_t begin = 0, end = 0;   // [begin, end) of sequence space
    time_ns xmit = 0;                   // when it last went out
    std::uint32_t order = 0;            // and in which send (ties of xmit: several segments per call)
    std::uint8_t flags = 0;
  };
  static constexpr std::uint8_t retransmitted = 1, lost = 2, sacked = 4;
  static constexpr std::size_t capacity = chunk_pool::default_chunk / sizeof(record);

  rack() = default;
  rack(const rack&) = delete;
  rack& operator=(const rack&) = delete;
  rack(rack&& o) noexcept { *this = std::move(o); }
  rack& operator=(rack&& o) noexcept {
    if (this == &o) return *this;
    release();
    r_ = std::exchange(o.r_, nullptr);
    head_ = std::exchange(o.head_, 0), n_ = std::exchange(o.n_, 0);
    xmit_ts_ = o.xmit_ts_, rtt_ = o.rtt_, min_rtt_ = o.min_rtt_, end_seq_ = o.end_seq_, fack_ = o.fack_;
    order_ = o.order_, sends_ = o.sends_;
    have_ = o.have_, fack_valid_ = o.fack_valid_, reordering_seen_ = o.reordering_seen_, reorder_at_ = o.reorder_at_;
    dsack_round_ = o.dsack_round_, dsack_round_valid_ = o.dsack_round_valid_;
    reo_wnd_mult_ = o.reo_wnd_mult_, reo_wnd_persist_ = o.reo_wnd_persist_;
    return *this;
  }
  ~rack() { release(); }

  // Forgets every record (the connection closed).
  void release() noexcept {
    if (r_) chunk_pool::put(reinterpret_cast<std::byte*>(r_), chunk_pool::default_chunk);
    r_ = nullptr, head_ = n_ = 0;
    reorder_at_ = stack::never;   // nothing left to wait for
  }
  bool empty() const noexcept { return n_ == 0; }
  std::size_t size() const noexcept { return n_; }
  const record& operator[](std::size_t i) const noexcept { return r_[head_ + i]; }
  time_ns xmit_ts() const noexcept { return xmit_ts_; }
  std::uint32_t end_seq() const noexcept { return end_seq_; }
  time_ns rtt() const noexcept { return rtt_; }
  time_ns min_rtt() const noexcept { return min_rtt_; }
  bool reordering_seen() const noexcept { return reordering_seen_; }
  time_ns reorder_at() const noexcept { return reorder_at_; }

  // A data segment [seq, seq + len) went out at `now`: new data gets a record, a retransmission gives
  // the records it covers the new time and the retransmitted flag (and clears lost: it is in flight
  // again). Without memory (the allocator had none) nothing is kept and RACK finds nothing: the RTO
  // still repairs.
  void sent(std::uint32_t seq, std::uint32_t len, time_ns now) noexcept {
    if (len == 0) return;
    const std::uint32_t end = seq + len, order = ++sends_;
    if (n_ == 0 || !seq_lt(seq, back().end)) return append({seq, end, now, order, 0});
    if (seq_gt(end, back().end)) {   // runs past what was sent before: the rest is new
      const std::uint32_t old_end = back().end;
      mark_resent(seq, old_end, now, order);
      return append({old_end, end, now, order, 0});
    }
    mark_resent(seq, end, now, order);
  }

  // SND.UNA moved: the records below it are delivered. f(record) for each one not SACKed before.
  template <class F>
  void acked(std::uint32_t una, F f) noexcept {
    while (n_ && seq_le(front().end, una)) {
      if (!(front().flags & sacked)) f(front());
      ++head_, --n_;
    }
    if (n_ && seq_lt(front().begin, una)) front().begin = una;
    if (n_ == 0) release();
  }
  // Marks the records the scoreboard covers whole as SACKed: f(record) for each newly SACKed one.
  template <class Sacked, class F>
  void sacked_by(Sacked is_sacked, F f) noexcept {
    for (std::size_t i = head_; i < head_ + n_; ++i) {
      record& x = r_[i];
      if (x.flags & sacked || !is_sacked(x.begin) || !is_sacked(x.end - 1)) continue;
      x.flags = static_cast<std::uint8_t>((x.flags | sacked) & ~lost);
      f(x);
    }
  }

  // RFC 8985 6.2 steps 2 and 3, for a delivered segment. `sample_ok`: false when the segment was
  // retransmitted and the ACK may be for its original (the caller's timestamp or min_RTT test).
  // Returns true when it shows reordering (delivered below the highest delivered, never retransmitted).
  bool delivered(const record& x, time_ns now, bool sample_ok) noexcept {
    if (sample_ok) {
      const time_ns rtt = now > x.xmit ? now - x.xmit : 0;
      if (!min_rtt_ || rtt < min_rtt_) min_rtt_ = std::max<time_ns>(rtt, 1);
      if (sent_after(x.xmit, x.order, xmit_ts_, order_) || !have_) {
        rtt_ = rtt;
        xmit_ts_ = x.xmit;
        order_ = x.order;
        end_seq_ = x.end;
        have_ = true;
      }
    }
    if (!fack_valid_ || seq_gt(x.end, fack_)) {
      fack_ = x.end;
      fack_valid_ = true;
      return false;
    }
    if (x.flags & retransmitted || reordering_seen_) return false;
    reordering_seen_ = true;
    return true;
  }

  // RFC 8985 6.2 step 4: 0 until reordering was seen, once in recovery or with DupThresh segments
  // SACKed (then RACK is as quick as RFC 6675); else min_RTT / 4 x reo_wnd_mult, at most SRTT.
  time_ns reo_wnd(bool in_recovery, time_ns srtt) const noexcept {
    if (!reordering_seen_ && (in_recovery || sacked_segments() >= 3)) return 0;
    return std::min(min_rtt_ / 4 * reo_wnd_mult_, srtt);
  }
  // Step 4's DSACK part, on every ACK: a DSACK (`dsack`) grows the multiplier once per round trip
  // (until SND.UNA passes what was SND.NXT when it grew) and keeps it for 16 recoveries.
  void on_ack_dsack(bool dsack, std::uint32_t snd_una, std::uint32_t snd_nxt) noexcept {
    if (dsack_round_valid_ && seq_ge(snd_una, dsack_round_)) dsack_round_valid_ = false;
    if (dsack && !dsack_round_valid_) {
      dsack_round_ = snd_nxt;
      dsack_round_valid_ = true;
      if (reo_wnd_mult_ < 0xff) ++reo_wnd_mult_;
      reo_wnd_persist_ = 16;
    }
  }
  // A fast recovery ended: one of the 16 it persists for.
  void recovery_ended() noexcept {
    if (reo_wnd_persist_ && --reo_wnd_persist_ == 0) reo_wnd_mult_ = 1;
  }
  std::uint32_t reo_wnd_mult() const noexcept { return reo_wnd_mult_; }

  // RFC 8985 6.2 step 5: marks lost every segment sent before the newest delivered one that has
  // waited RACK.rtt + reo_wnd; arms the reorder timer for the ones still inside that. Returns whether
  // it marked any.
  bool detect_loss(time_ns now, time_ns reo_wnd) noexcept {
    reorder_at_ = stack::never;
    if (!have_) return false;
    bool marked = false;
    time_ns wait = 0;
    for (std::size_t i = head_; i < head_ + n_; ++i) {
      record& x = r_[i];
      if (x.flags & (sacked | lost) || !sent_after(xmit_ts_, order_, x.xmit, x.order)) continue;
      const time_ns due = x.xmit + rtt_ + reo_wnd;   // time_ns is unsigned: compare, never subtract past 0
      if (due <= now) {
        x.flags |= lost;
        marked = true;
      } else {
        wait = std::max(wait, due - now);
      }
    }
    if (wait > 0) reorder_at_ = now + wait;
    return marked;
  }
  void disarm() noexcept { reorder_at_ = stack::never; }

  // RFC 8985 6.3: after an RTO every segment in flight is lost (and will be sent again).
  void mark_all_lost() noexcept {
    for (std::size_t i = head_; i < head_ + n_; ++i)
      if (!(r_[i].flags & sacked)) r_[i].flags |= lost;
    reorder_at_ = stack::never;
  }

  // The first segment marked lost (not SACKed, not retransmitted since), if any.
  const record* first_lost() const noexcept {
    for (std::size_t i = head_; i < head_ + n_; ++i)
      if ((r_[i].flags & (lost | sacked)) == lost) return &r_[i];
    return nullptr;
  }
  // RFC 6675's pipe with RACK deciding what is lost: the bytes neither SACKed nor lost (a lost
  // segment retransmitted is in flight again and counts once).
  std::uint32_t pipe() const noexcept {
    std::uint32_t p = 0;
    for (std::size_t i = head_; i < head_ + n_; ++i)
      if (!(r_[i].flags & (lost | sacked))) p += r_[i].end - r_[i].begin;
    return p;
  }
  std::size_t sacked_segments() const noexcept {
    std::size_t k = 0;
    for (std::size_t i = head_; i < head_ + n_; ++i) k += (r_[i].flags & sacked) != 0;
    return k;
  }

  // RFC 8985 6.2 RACK_sent_after: whether (t1, order1) went out after (t2, order2). The RFC breaks a
  // tie of times by sequence; here by the order of the sends, which is exact: one call sends several
  // segments at one `now`, and a retransmission may follow new data of higher sequence in it (limited
  // transmit's segments, then the first resend): by sequence that resend looked older than the new
  // segments and was marked lost again when they were SACKed.
  static bool sent_after(time_ns t1, std::uint32_t order1, time_ns t2, std::uint32_t order2) noexcept {
    return t1 > t2 || (t1 == t2 && seq_gt(order1, order2));
  }

 private:
  record& front() noexcept { return r_[head_]; }
  record& back() noexcept { return r_[head_ + n_ - 1]; }

  void append(record x) noexcept {
    if (!r_) {
      r_ = reinterpret_cast<record*>(chunk_pool::get(chunk_pool::default_chunk));
      if (!r_) return;
      head_ = n_ = 0;
    }
    if (n_ == capacity) {   // full: the newest record takes the segment, with the newer time
      back().end = x.end;
      back().xmit = x.xmit;
      back().order = x.order;
      // The new bytes are neither SACKed nor lost: keeping those marks would leave them out of the
      // pipe and out of RACK's loss marking (only the RTO would repair them). Karn's mark stays.
      back().flags &= retransmitted;
      return;
    }
    if (head_ + n_ == capacity) compact();
    r_[head_ + n_++] = x;
  }
  void compact() noexcept {
    std::copy(r_ + head_, r_ + head_ + n_, r_);
    head_ = 0;
  }
  // Splits the record holding `seq` so that one starts there (no room: left whole).
  void split_at(std::uint32_t seq) noexcept {
    for (std::size_t i = head_; i < head_ + n_; ++i) {
      record& x = r_[i];
      if (!seq_lt(x.begin, seq) || !seq_lt(seq, x.end)) continue;
      if (n_ == capacity) return;
      if (head_ + n_ == capacity) {
        const std::size_t k = i - head_;
        compact();
        i = k;
      }
      std::copy_backward(r_ + i, r_ + head_ + n_, r_ + head_ + n_ + 1);
      ++n_;
      r_[i].end = seq;
      r_[i + 1].begin = seq;
      return;
    }
  }
  void mark_resent(std::uint32_t seq, std::uint32_t end, time_ns now, std::uint32_t order) noexcept {
    split_at(seq);
    split_at(end);
    for (std::size_t i = head_; i < head_ + n_; ++i) {
      record& x = r_[i];
      if (seq_le(x.end, seq) || !seq_lt(x.begin, end)) continue;
      x.xmit = now;
      x.order = order;
      x.flags = static_cast<std::uint8_t>((x.flags | retransmitted) & ~lost);
    }
  }

  record* r_ = nullptr;   // a chunk_pool chunk while records exist
  std::size_t head_ = 0, n_ = 0;
  // RFC 8985 6.1 variables.
  time_ns xmit_ts_ = 0, rtt_ = 0, min_rtt_ = 0;
  std::uint32_t end_seq_ = 0, fack_ = 0, order_ = 0, sends_ = 0;
  bool have_ = false, fack_valid_ = false, reordering_seen_ = false;
  time_ns reorder_at_ = stack::never;
  std::uint32_t dsack_round_ = 0;       // RACK.dsack_round
  bool dsack_round_valid_ = false;
  std::uint32_t reo_wnd_mult_ = 1, reo_wnd_persist_ = 0;
};

}  // namespace ringlab::tcp
