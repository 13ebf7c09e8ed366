#pragma once
// The two byte queues of one connection (mTCP keeps the same pair per flow):
//
//   send_buffer   the bytes from SND.UNA on: sent-but-unacknowledged, then not yet sent. A segment's
//                 payload is one span (segments are rebuilt from it for every retransmission; nothing
//                 else is kept per segment). Acknowledged bytes leave the front.
//   recv_buffer   a ring of the receive window: in-order bytes ready for the reader, then room, in
//                 which out-of-order bytes are placed at their offset past RCV.NXT and remembered as
//                 at most max_ooo_ranges ranges. A segment past the window is cut to it, so a peer that
//                 floods past the window costs no memory beyond the buffer's bound.
//
// Memory only while bytes are queued (issue 12 point 3). Both are rings over a table of chunks
// (chunk_pool, 16 KiB by default) that are taken when a byte lands in them and given back when the
// last byte in them leaves: an idle connection holds no buffer memory at all, a busy one what its
// queued bytes touch, and never more than its configured size rounded up to a chunk. The ring's
// length is the capacity rounded up to whole chunks; the bytes in use never span more than the
// capacity, so they never meet themselves around the ring.
//
//   slot:    0         1         2         3        (chunk table, inline: no heap for the table)
//          [ chunk ] [ chunk ] [  null ] [ chunk ]
//              ^begin ......... in use ....... ^   (wraps: the bytes in use run from begin round to 0)
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <utility>

namespace ringlab::tcp {

// Where buffer chunks come from. Given-back chunks of the default size wait in a small cache of the
// calling thread's (a lane is one thread), so a connection that empties and refills its buffers once
// per message (request/response; a reader that keeps up) does not call the allocator per message.
// The cache is per lane, not per connection, and bounded: max_cached chunks (512 KiB) at most.
class chunk_pool {
 public:
  static constexpr std::size_t default_chunk = 16 * 1024;
  static constexpr std::size_t max_cached = 32;

  // A chunk of `size` bytes, or nullptr when the allocator has none (the caller keeps fewer bytes).
  static std::byte* get(std::size_t size) noexcept {
    cache& c = local();
    if (size == default_chunk && c.n > 0) return c.free[--c.n];
    return new (std::nothrow) std::byte[size];
  }
  static void put(std::byte* p, std::size_t size) noexcept {
    cache& c = local();
    if (size == default_chunk && c.n < max_cached) {
      c.free[c.n++] = p;
      return;
    }
    delete[] p;
  }
  // Chunks this thread's cache holds, and a way to free them (tests that measure the heap).
  static std::size_t cached() noexcept { return local().n; }
  static void trim() noexcept {
    cache& c = local();
    while (c.n > 0) delete[] c.free[--c.n];
  }

 private:
  struct cache {
    std::array<std::byte*, max_cached> free{};
    std::size_t n = 0;
    cache() = default;
    cache(const cache&) = delete;
    cache& operator=(const cache&) = delete;
    ~cache() {
      while (n > 0) delete[] free[--n];
    }
  };
  static cache& local() noexcept {
    static thread_local cache c;
    return c;
  }
};

// The ring of chunks both buffers are made of: positions 0..length()-1, a chunk per slot, taken on
// first write and given back by release_outside().
class chunk_ring {
 public:
  static constexpr std::size_t max_slots = 16;   // the table lives in the object: 128 bytes

  static_assert(chunk_pool::default_chunk == std::size_t{1} << 14);
  // The smallest chunk (default_chunk doubled as often as needed) that covers capacity in max_slots.
  explicit chunk_ring(std::size_t capacity) noexcept {
    while ((capacity + chunk() - 1) / chunk() > max_slots) ++shift_;
    slots_ = (capacity + chunk() - 1) / chunk();
  }
  chunk_ring(const chunk_ring&) = delete;
  chunk_ring& operator=(const chunk_ring&) = delete;
  chunk_ring(chunk_ring&& o) noexcept
      : table_(std::exchange(o.table_, {})), shift_(o.shift_), slots_(o.slots_), held_(std::exchange(o.held_, 0)) {}
  chunk_ring& operator=(chunk_ring&& o) noexcept {
    if (this != &o) {
      release_all();
      table_ = std::exchange(o.table_, {});
      shift_ = o.shift_;
      slots_ = o.slots_;
      held_ = std::exchange(o.held_, 0);
    }
    return *this;
  }
  ~chunk_ring() { release_all(); }

  std::size_t length() const noexcept { return slots_ << shift_; }
  std::size_t chunk() const noexcept { return std::size_t{1} << shift_; }
  std::size_t slot(std::size_t pos) const noexcept { return pos >> shift_; }
  std::size_t memory() const noexcept { return held_ << shift_; }
  std::size_t wrap(std::size_t pos) const noexcept { return pos >= length() ? pos - length() : pos; }

  // Takes the chunks that positions [pos, pos + n) lie in (n <= length()); false when the allocator
  // ran out (the chunks taken so far stay: release_outside() gives back what holds nothing).
  bool take(std::size_t pos, std::size_t n) noexcept {
    const std::size_t off = pos & (chunk() - 1);
    if (off + n <= chunk() && table_[slot(pos)] != nullptr) [[likely]]
      return true;   // the common case: inside a chunk already held
    if (n == 0) return true;
    // Counted, not compared with the last slot: a range of nearly the ring's length can end in the
    // slot it started in.
    std::size_t count = std::min(slots_, ((off + n - 1) >> shift_) + 1);
    for (std::size_t s = slot(pos); count > 0; --count, s = s + 1 == slots_ ? 0 : s + 1) {
      if (table_[s] != nullptr) continue;
      if ((table_[s] = chunk_pool::get(chunk())) == nullptr) return false;
      ++held_;
    }
    return true;
  }
  // Copies into / out of positions [pos, pos + n) (chunks already taken).
  void copy_in(std::size_t pos, std::span<const std::byte> d) noexcept {
    if (const std::size_t off = pos & (chunk() - 1); off + d.size() <= chunk()) [[likely]] {
      if (!d.empty()) std::memcpy(table_[slot(pos)] + off, d.data(), d.size());
      return;
    }
    while (!d.empty()) {
      const std::size_t off = pos & (chunk() - 1), k = std::min(d.size(), chunk() - off);
      std::memcpy(table_[slot(pos)] + off, d.data(), k);
      d = d.subspan(k);
      pos = wrap(pos + k);
    }
  }
  void copy_out(std::size_t pos, std::span<std::byte> d) const noexcept {
    if (const std::size_t off = pos & (chunk() - 1); off + d.size() <= chunk()) [[likely]] {
      if (!d.empty()) std::memcpy(d.data(), table_[slot(pos)] + off, d.size());
      return;
    }
    while (!d.empty()) {
      const std::size_t off = pos & (chunk() - 1), k = std::min(d.size(), chunk() - off);
      std::memcpy(d.data(), table_[slot(pos)] + off, k);
      d = d.subspan(k);
      pos = wrap(pos + k);
    }
  }
  // The bytes at [pos, pos + n) as one span when they lie in one chunk, else empty.
  std::span<const std::byte> contiguous(std::size_t pos, std::size_t n) const noexcept {
    const std::size_t off = pos & (chunk() - 1);
    if (off + n > chunk()) return {};
    return {table_[slot(pos)] + off, n};
  }
  // Gives back every chunk that holds no byte of [begin, begin + n) (n <= length()).
  void release_outside(std::size_t begin, std::size_t n) noexcept {
    for (std::size_t s = 0; s < slots_ && held_ > 0; ++s) {
      if (table_[s] == nullptr) continue;
      // The slot's start, as a distance past `begin` around the ring: inside when below n, or when
      // `begin` itself lies in the slot.
      const std::size_t start = s << shift_;
      const std::size_t dist = start >= begin ? start - begin : start + length() - begin;
      if (n > 0 && (dist < n || slot(begin) == s)) continue;
      chunk_pool::put(table_[s], chunk());
      table_[s] = nullptr;
      --held_;
    }
  }
  void release_all() noexcept { release_outside(0, 0); }

 private:
  std::array<std::byte*, max_slots> table_{};
  unsigned shift_ = 14;   // chunks of 1 << shift_ bytes: chunk_pool::default_chunk, doubled as needed
  std::size_t slots_ = 0;
  std::size_t held_ = 0;   // chunks taken
};

class send_buffer {
 public:
  explicit send_buffer(std::size_t capacity) noexcept : capacity_(capacity), ring_(capacity) {}

  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t size() const noexcept { return size_; }          // bytes from SND.UNA on
  std::size_t room() const noexcept { return capacity_ - size_; }
  std::size_t memory() const noexcept { return ring_.memory(); }   // bytes of chunks held now

  // Appends what fits; returns how many bytes it took (0 also when no memory could be had: the
  // application sees a full buffer and tries again).
  std::size_t write(std::span<const std::byte> data) noexcept {
    const std::size_t n = std::min(data.size(), room());
    if (n == 0) return 0;
    const std::size_t at = ring_.wrap(begin_ + size_);
    if (!ring_.take(at, n)) {
      ring_.release_outside(begin_, size_);
      return 0;
    }
    ring_.copy_in(at, data.first(n));
    size_ += n;
    return n;
  }
  // len bytes from `offset` bytes past SND.UNA (cut to what there is), as one span. Bytes that cross
  // a chunk's end are copied to this thread's scratch segment: the span is valid until the next
  // at() on this thread, which is longer than the sink's call it is made for (the sink copies the
  // payload out before it returns, and before it enters any engine again).
  // Always inlined: with output()'s train path a second caller, GCC stopped inlining it into the
  // per-segment path (+26 instructions per rr transaction).
  [[gnu::always_inline]] std::span<const std::byte> at(std::size_t offset, std::size_t len) const noexcept {
    if (offset >= size_) return {};
    len = std::min(len, size_ - offset);
    if (len > scratch_size) len = scratch_size;
    const std::size_t pos = ring_.wrap(begin_ + offset);
    if (auto s = ring_.contiguous(pos, len); !s.empty()) return s;
    std::byte* scratch = scratch_segment();
    ring_.copy_out(pos, {scratch, len});
    return {scratch, len};
  }
  // The same bytes as at(offset, out.size()), copied straight into `out` (a TX frame): a segment that
  // crosses a chunk's end costs one copy, not two through the scratch. Returns the bytes copied.
  std::size_t copy(std::size_t offset, std::span<std::byte> out) const noexcept {
    if (offset >= size_) return 0;
    const std::size_t len = std::min(out.size(), size_ - offset);
    ring_.copy_out(ring_.wrap(begin_ + offset), out.first(len));
    return len;
  }
  // The first n bytes were acknowledged: their chunks go back once no queued byte is left in them.
  void consume(std::size_t n) noexcept {
    n = std::min(n, size_);
    if (n == 0) return;
    const std::size_t before = ring_.slot(begin_);
    begin_ = ring_.wrap(begin_ + n);
    size_ -= n;
    if (size_ == 0) {
      begin_ = 0;
      ring_.release_all();
    } else if (ring_.slot(begin_) != before || n >= ring_.chunk()) {
      ring_.release_outside(begin_, size_);
    }
  }

 private:
  // The largest payload a segment can carry (an IPv4 datagram's 64 KiB less the headers).
  static constexpr std::size_t scratch_size = 65536;
  static std::byte* scratch_segment() noexcept {
    static thread_local std::array<std::byte, scratch_size> s;
    return s.data();
  }

  std::size_t capacity_;
  chunk_ring ring_;
  std::size_t begin_ = 0;   // ring position of SND.UNA's byte
  std::size_t size_ = 0;
};

class recv_buffer {
 public:
  static constexpr std::size_t max_ooo_ranges = 8;
  struct range {
    std::size_t begin = 0, end = 0;   // offsets past the in-order edge (RCV.NXT)
  };

  explicit recv_buffer(std::size_t capacity) noexcept : capacity_(capacity), ring_(capacity) {}

  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t readable() const noexcept { return ready_; }
  std::size_t window() const noexcept { return capacity_ - ready_; }   // room from RCV.NXT on
  std::size_t memory() const noexcept { return ring_.memory(); }         // bytes of chunks held now

  struct placed {
    std::size_t advanced = 0;   // the in-order edge moved by this many bytes (this segment and the
                                // out-of-order ones it joined)
    bool out_of_order = false;  // the bytes landed past a gap
    bool dropped = false;       // no room for another out-of-order range, or no memory: not kept
  };
  // Places bytes that start `offset` bytes past RCV.NXT, cut to the window.
  placed place(std::size_t offset, std::span<const std::byte> data) noexcept {
    placed r;
    const std::size_t win = window();
    if (offset >= win || data.empty()) return r;
    data = data.first(std::min(data.size(), win - offset));
    const std::size_t at = ring_.wrap(head_ + ready_ + offset);
    if (offset > 0) {
      r.out_of_order = true;
      if (!can_add_range({offset, offset + data.size()}) || !ring_.take(at, data.size())) {
        ring_.release_outside(head_, in_use());
        r.dropped = true;
        return r;
      }
      add_range({offset, offset + data.size()});
      ring_.copy_in(at, data);
      return r;
    }
    if (!ring_.take(at, data.size())) {   // no memory: as if the segment was lost (it comes again)
      ring_.release_outside(head_, in_use());
      r.dropped = true;
      return r;
    }
    ring_.copy_in(at, data);
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

  // Copies up to out.size() in-order bytes out; returns how many. Chunks emptied go back.
  std::size_t read(std::span<std::byte> out) noexcept {
    const std::size_t n = std::min(out.size(), ready_);
    if (n == 0) return 0;
    ring_.copy_out(head_, out.first(n));
    const std::size_t before = ring_.slot(head_);
    head_ = ring_.wrap(head_ + n);
    ready_ -= n;
    if (ready_ == 0 && n_ranges_ == 0) {
      head_ = 0;
      ring_.release_all();
    } else if (ring_.slot(head_) != before || n >= ring_.chunk()) {
      ring_.release_outside(head_, in_use());
    }
    return n;
  }

  // The out-of-order ranges, lowest first; `latest` is the index of the one the last placement
  // touched (RFC 2018 4: the first SACK block names the most recent).
  std::span<const range> out_of_order() const noexcept { return {ranges_.data(), n_ranges_}; }
  std::size_t latest() const noexcept { return latest_; }

 private:
  // Bytes from head_ that hold something: the ready ones and the out-of-order ones past them.
  std::size_t in_use() const noexcept { return ready_ + (n_ranges_ ? ranges_[n_ranges_ - 1].end : 0); }
  // Whether r fits the sorted, disjoint list: it touches one there is, or there is room for one more.
  bool can_add_range(range r) const noexcept {
    if (n_ranges_ < max_ooo_ranges) return true;
    for (std::size_t i = 0; i < n_ranges_; ++i)
      if (ranges_[i].begin <= r.end && r.begin <= ranges_[i].end) return true;
    return false;
  }
  // Merges r into the sorted, disjoint list (can_add_range(r) holds).
  void add_range(range r) noexcept {
    std::size_t i = 0;
    while (i < n_ranges_ && ranges_[i].end < r.begin) ++i;   // ranges wholly before r (not touching)
    std::size_t j = i;
    while (j < n_ranges_ && ranges_[j].begin <= r.end) {     // ranges r overlaps or touches
      r.begin = std::min(r.begin, ranges_[j].begin);
      r.end = std::max(r.end, ranges_[j].end);
      ++j;
    }
    const std::size_t merged = j - i;
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
  }
  void drop_ranges(std::size_t k) noexcept {
    std::move(ranges_.begin() + k, ranges_.begin() + n_ranges_, ranges_.begin());
    n_ranges_ -= k;
    latest_ = 0;
  }

  std::size_t capacity_;
  chunk_ring ring_;
  std::size_t head_ = 0;    // ring position of the first unread byte
  std::size_t ready_ = 0;   // in-order bytes from head_
  std::array<range, max_ooo_ranges> ranges_{};
  std::size_t n_ranges_ = 0;
  std::size_t latest_ = 0;
};

}  // namespace ringlab::tcp
