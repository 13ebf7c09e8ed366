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
// Per ACK the cost is what the ACK changes, not the flight (an ACK used to scan every record several
// times: O(n) per ACK, O(n^2) per recovery). Running byte counts give the pipe and the SACKed segments
// at once; SACK marks look only at the records under the ACK's blocks (and the front one), in sequence
// order as before; loss marking (step 5) walks only the segments that may be sent before RACK.xmit_ts:
// new data from a cursor in sequence order (never-resent segments went out in sequence order, so the
// walk stops at the first one sent after it), and the retransmissions from a queue in the order they
// were sent (a second chunk of the pool, taken at the first one). The first lost segment is found
// from a hint. What stays O(n): an RTO's marking of everything, a split (a resend not on a record's
// edges) and, after the table filled or the queue ran out of room, the old scans (`slow_`: until the
// flight is acknowledged). The engine's `now` never goes backwards, so a later send has a later or
// equal time and a larger order: the walks' stop rule is RACK_sent_after's.
//
// reo_wnd grows by min_RTT / 4 per round trip that brought a DSACK (RFC 8985 6.2 step 4: the peer
// got a segment twice, so a retransmission was spurious and the window too short), and falls back to
// min_RTT / 4 after 16 recoveries without one. What is not done: min_RTT is the minimum over the
// connection, not a windowed filter.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "stack/iface/time.hpp"
#include "stack/tcp/buffers.hpp"
#include "stack/tcp/seq.hpp"
#include "stack/wire/tcp.hpp"

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
    q_ = std::exchange(o.q_, nullptr);
    qh_ = std::exchange(o.qh_, 0), qn_ = std::exchange(o.qn_, 0);
    bytes_ = o.bytes_, sacked_bytes_ = o.sacked_bytes_, lost_bytes_ = o.lost_bytes_, sacked_n_ = o.sacked_n_;
    lost_hint_ = o.lost_hint_, fresh_ = o.fresh_;
    lost_hint_valid_ = o.lost_hint_valid_, fresh_valid_ = o.fresh_valid_, rescan_ = o.rescan_, slow_ = o.slow_;
    always_slow_ = o.always_slow_;
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
    if (q_) chunk_pool::put(reinterpret_cast<std::byte*>(q_), chunk_pool::default_chunk);
    r_ = nullptr, head_ = n_ = 0;
    q_ = nullptr, qh_ = qn_ = 0;
    bytes_ = sacked_bytes_ = lost_bytes_ = 0, sacked_n_ = 0;
    lost_hint_valid_ = fresh_valid_ = rescan_ = false;
    slow_ = always_slow_;
    reorder_at_ = stack::never;   // nothing left to wait for
  }
  // Every call scans every record, as before the per-ACK bookkeeping (the reference the tests compare
  // it with: tests/unit/tcp/rack_test.cpp).
  void check_every_record() noexcept { always_slow_ = slow_ = true; }
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
      uncount(front(), front().end - front().begin);
      ++head_, --n_;
    }
    if (n_ && seq_lt(front().begin, una)) {
      uncount(front(), una - front().begin);
      front().begin = una;
    }
    if (n_ == 0) return release();
    // The cursor and the hint are sequence numbers, compared modulo 2^32: once SND.UNA has reached one
    // it says nothing more (the walk would start at the first record anyway), and kept it would read as
    // ahead of every record 2^31 bytes later on a flight that never drains (a bulk sender's), and
    // detect_loss would find no loss until the RTO.
    if (fresh_valid_ && seq_le(fresh_, una)) fresh_valid_ = false;
    if (lost_hint_valid_ && seq_le(lost_hint_, una)) lost_hint_valid_ = false;
  }
  // Marks the records the scoreboard covers whole as SACKed: f(record) for each newly SACKed one, in
  // sequence order. This one looks at every record.
  template <class Sacked, class F>
  void sacked_by(Sacked is_sacked, F f) noexcept {
    rescan_ = false;
    for (std::size_t i = head_; i < head_ + n_; ++i) sack_if(r_[i], is_sacked, f);
  }
  // The same for an ACK whose SACK blocks are `blocks`, looking only at the records they overlap and
  // the front one: the scoreboard grows only by an ACK's blocks (merging adjoining ranges, never
  // filling a gap), so a record it covers whole now and did not before overlaps one of them, or is the
  // front one (acked() trimmed it). After a split (a piece of a record may be covered whole by older
  // ranges) or with the old scans on, every record once.
  template <class Sacked, class F>
  void sacked_by(std::span<const wire::tcp::sack_block> blocks, Sacked is_sacked, F f) noexcept {
    if (n_ == 0) return;
    // The blocks by their left edge, so the records are seen in sequence order (an option holds 4).
    std::array<wire::tcp::sack_block, 4> b;
    if (rescan_ || slow_ || blocks.size() > b.size()) return sacked_by(is_sacked, f);
    std::size_t k = 0;
    for (const auto& x : blocks) {
      std::size_t j = k++;
      for (; j > 0 && seq_lt(x.left, b[j - 1].left); --j) b[j] = b[j - 1];
      b[j] = x;
    }
    sack_if(front(), is_sacked, f);
    std::size_t next = head_ + 1;   // records before it were looked at
    for (std::size_t i = 0; i < k; ++i) {
      std::size_t j = std::max(next, first_ending_after(b[i].left));
      for (; j < head_ + n_ && seq_lt(r_[j].begin, b[i].right); ++j) sack_if(r_[j], is_sacked, f);
      next = std::max(next, j);
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
    // A segment that may be lost: neither SACKed nor lost, sent before RACK.xmit_ts.
    auto check = [&](record& x) {
      if (x.flags & (sacked | lost) || !sent_after(xmit_ts_, order_, x.xmit, x.order)) return;
      const time_ns due = x.xmit + rtt_ + reo_wnd;   // time_ns is unsigned: compare, never subtract past 0
      if (due <= now) {
        mark_lost(x);
        marked = true;
      } else {
        wait = std::max(wait, due - now);
      }
    };
    if (slow_) {
      for (std::size_t i = head_; i < head_ + n_; ++i) check(r_[i]);
    } else {
      // Never-resent segments, from the first one that may still be marked, in sequence order (their
      // send order) up to the first sent at or after RACK.xmit_ts. Those behind the cursor are SACKed,
      // lost or resent for good (a resent one is the queue's below).
      bool cursor = true;
      for (std::size_t i = fresh_valid_ ? first_ending_after(fresh_) : head_; i < head_ + n_; ++i) {
        record& x = r_[i];
        if (!(x.flags & retransmitted)) {
          if (!sent_after(xmit_ts_, order_, x.xmit, x.order)) break;
          check(x);
        }
        if (cursor && x.flags & (retransmitted | sacked | lost)) fresh_ = x.end, fresh_valid_ = true;
        else cursor = false;
      }
      // Resent segments, by the queue of resends in send order, up to the first sent at or after
      // RACK.xmit_ts. A resend none of whose records is still a candidate leaves the queue; the others
      // stay, moved up to the unexamined ones.
      std::size_t end = qh_;
      while (end < qh_ + qn_ && seq_lt(q_[end].order, order_)) ++end;
      std::size_t keep = end;   // q_[keep, end) are the examined resends still waiting
      for (std::size_t e = end; e-- > qh_;) {
        const resend x = q_[e];
        bool live = false;
        for (std::size_t j = first_ending_after(x.begin); j < head_ + n_ && seq_lt(r_[j].begin, x.end); ++j) {
          if (r_[j].order != x.order) continue;
          check(r_[j]);
          live |= !(r_[j].flags & (sacked | lost));
        }
        if (live) q_[--keep] = x;
      }
      qn_ -= keep - qh_;
      qh_ = keep;
    }
    if (wait > 0) reorder_at_ = now + wait;
    return marked;
  }
  void disarm() noexcept { reorder_at_ = stack::never; }

  // RFC 8985 6.3: after an RTO every segment in flight is lost (and will be sent again).
  void mark_all_lost() noexcept {
    for (std::size_t i = head_; i < head_ + n_; ++i)
      if (!(r_[i].flags & (sacked | lost))) mark_lost(r_[i]);
    lost_hint_valid_ = false;
    qh_ = qn_ = 0;   // every resend's records are lost now: none is a candidate again until resent
    reorder_at_ = stack::never;
  }

  // The first segment marked lost (not SACKed, not retransmitted since), if any. No lost record starts
  // below the hint, so a recovery's resends in sequence order look at each record about once.
  const record* first_lost() noexcept {
    for (std::size_t i = lost_hint_valid_ ? first_ending_after(lost_hint_) : head_; i < head_ + n_; ++i) {
      if ((r_[i].flags & (lost | sacked)) != lost) continue;
      lost_hint_ = r_[i].begin, lost_hint_valid_ = true;
      return &r_[i];
    }
    if (n_) lost_hint_ = back().end, lost_hint_valid_ = true;
    return nullptr;
  }
  // RFC 6675's pipe with RACK deciding what is lost: the bytes neither SACKed nor lost (a lost
  // segment retransmitted is in flight again and counts once). Lost and SACKed never mark one record
  // together (SACKing clears lost, marking lost skips SACKed records).
  std::uint32_t pipe() const noexcept { return bytes_ - sacked_bytes_ - lost_bytes_; }
  std::size_t sacked_segments() const noexcept { return sacked_n_; }

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

  // A resend (mark_resent's range and the order it gave): the queue detect_loss walks in send order.
  struct resend {
    std::uint32_t order, begin, end;
  };
  static constexpr std::size_t queue_capacity = chunk_pool::default_chunk / sizeof(resend);

  // The first record whose end lies past `seq` (records are sorted and adjoin: a binary search).
  std::size_t first_ending_after(std::uint32_t seq) const noexcept {
    std::size_t lo = head_, hi = head_ + n_;
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (seq_gt(r_[mid].end, seq)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
  template <class Sacked, class F>
  void sack_if(record& x, Sacked& is_sacked, F& f) noexcept {
    if (x.flags & sacked || !is_sacked(x.begin) || !is_sacked(x.end - 1)) return;
    const std::uint32_t len = x.end - x.begin;
    if (x.flags & lost) lost_bytes_ -= len;
    sacked_bytes_ += len, ++sacked_n_;
    x.flags = static_cast<std::uint8_t>((x.flags | sacked) & ~lost);
    f(x);
  }
  void mark_lost(record& x) noexcept {
    x.flags |= lost;
    lost_bytes_ += x.end - x.begin;
    if (lost_hint_valid_ && seq_lt(x.begin, lost_hint_)) lost_hint_ = x.begin;
  }
  // `len` bytes of x leave the records (acknowledged).
  void uncount(const record& x, std::uint32_t len) noexcept {
    bytes_ -= len;
    if (x.flags & sacked) sacked_bytes_ -= len;
    if (x.flags & lost) lost_bytes_ -= len;
    if (x.flags & sacked && len == x.end - x.begin) --sacked_n_;
  }

  void append(record x) noexcept {
    if (!r_) {
      r_ = reinterpret_cast<record*>(chunk_pool::get(chunk_pool::default_chunk));
      if (!r_) return;
      head_ = n_ = 0;
    }
    if (n_ == capacity) {   // full: the newest record takes the segment, with the newer time
      record& b = back();
      if (b.flags & sacked) sacked_bytes_ -= b.end - b.begin, --sacked_n_;
      if (b.flags & lost) lost_bytes_ -= b.end - b.begin;
      bytes_ += x.end - b.end;
      b.end = x.end;
      b.xmit = x.xmit;
      b.order = x.order;
      // The new bytes are neither SACKed nor lost: keeping those marks would leave them out of the
      // pipe and out of RACK's loss marking (only the RTO would repair them). Karn's mark stays.
      b.flags &= retransmitted;
      slow_ = true;   // a resent record with a new order no resend names, below the cursor: scan all
      return;
    }
    if (head_ + n_ == capacity) compact();
    r_[head_ + n_++] = x;
    bytes_ += x.end - x.begin;
  }
  void compact() noexcept {
    std::copy(r_ + head_, r_ + head_ + n_, r_);
    head_ = 0;
  }
  // Splits the record holding `seq` so that one starts there (no room: left whole).
  void split_at(std::uint32_t seq) noexcept {
    std::size_t i = first_ending_after(seq);
    if (i == head_ + n_ || !seq_lt(r_[i].begin, seq) || n_ == capacity) return;
    if (head_ + n_ == capacity) {
      const std::size_t k = i - head_;
      compact();
      i = k;
    }
    std::copy_backward(r_ + i, r_ + head_ + n_, r_ + head_ + n_ + 1);
    ++n_;
    r_[i].end = seq;
    r_[i + 1].begin = seq;
    if (r_[i].flags & sacked) ++sacked_n_;
    rescan_ = true;   // a piece may lie whole under older SACK ranges: sacked_by looks at all once
  }
  void mark_resent(std::uint32_t seq, std::uint32_t end, time_ns now, std::uint32_t order) noexcept {
    split_at(seq);
    split_at(end);
    for (std::size_t i = first_ending_after(seq); i < head_ + n_ && seq_lt(r_[i].begin, end); ++i) {
      record& x = r_[i];
      if (x.flags & lost) lost_bytes_ -= x.end - x.begin;
      x.xmit = now;
      x.order = order;
      x.flags = static_cast<std::uint8_t>((x.flags | retransmitted) & ~lost);
    }
    if (slow_) return;
    if (!q_) {
      q_ = reinterpret_cast<resend*>(chunk_pool::get(chunk_pool::default_chunk));
      qh_ = qn_ = 0;
      if (!q_) return void(slow_ = true);
    }
    if (qn_ == queue_capacity) return void(slow_ = true);
    if (qh_ + qn_ == queue_capacity) {
      std::copy(q_ + qh_, q_ + qh_ + qn_, q_);
      qh_ = 0;
    }
    q_[qh_ + qn_++] = {order, seq, end};
  }

  record* r_ = nullptr;   // a chunk_pool chunk while records exist
  std::size_t head_ = 0, n_ = 0;
  resend* q_ = nullptr;   // another chunk, from the first resend while records exist
  std::size_t qh_ = 0, qn_ = 0;
  // Running counts over the records: every byte, the SACKed ones, the lost ones; SACKed records.
  std::uint32_t bytes_ = 0, sacked_bytes_ = 0, lost_bytes_ = 0;
  std::size_t sacked_n_ = 0;
  std::uint32_t lost_hint_ = 0;   // no record below it is lost (first_lost starts there)
  std::uint32_t fresh_ = 0;       // every never-resent record below it is SACKed or lost (detect_loss)
  bool lost_hint_valid_ = false, fresh_valid_ = false;
  bool rescan_ = false;           // a split since the last full sacked_by
  bool slow_ = false;             // the scans of every record (a merged record, a full resend queue)
  bool always_slow_ = false;      // check_every_record()
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
