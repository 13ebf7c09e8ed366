#pragma once
// Seeded fault injection, one instance per direction (sim_nic ingress, each wire direction,
// faulty_port rx and tx). The spec is a comma-separated list, every field optional:
//
//   drop=0.01,dup=0.001,reorder=0.01:8,corrupt=0.001,delay=50us,jitter=10us
//
//   drop=P       lose a frame with probability P
//   dup=P        deliver a frame twice
//   reorder=P:W  hold a frame back until 1..W later frames have passed it (W defaults to 4), or until
//                it has been held reorder_limit (1 ms) past its due time, so a stream's last frames
//                do not wait forever
//   corrupt=P    flip the bits of one byte (offset and mask drawn from the generator)
//   delay=D      add D to every frame's due time (units ns, us, ms, s)
//   jitter=J     add a further uniform 0..J
//
// Each field at most once: a field given twice (drop=0.1,drop=0.2) is an error naming it.
//
// fault_line<T> applies a spec to a stream of items with times: push() items in arrival order,
// pop_ready(now) takes them out in due-time order. Every decision comes from one xoshiro256**
// generator seeded once, in push order, so the same seed and input give the same output.
#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

namespace ringlab::port {

struct fault_spec {
  double drop = 0, dup = 0, reorder = 0, corrupt = 0;
  std::uint32_t reorder_window = 4;
  std::uint64_t delay_ns = 0, jitter_ns = 0;
  std::uint64_t reorder_limit_ns = 1'000'000;

  bool any() const noexcept {
    return drop > 0 || dup > 0 || reorder > 0 || corrupt > 0 || delay_ns || jitter_ns;
  }
  std::string to_string() const;
};

// Parses a spec; on failure returns nullopt and sets *error to one line naming the field
// ("fault spec field 'drop': '1.5' is not a probability in 0..1").
std::optional<fault_spec> parse_fault_spec(std::string_view text, std::string* error);
// What a faulty_port around a device is asked for (--faults SPEC on the CLI): the fields above, plus
//   seed=N          the generator's seed (absent: the caller's default, e.g. the CLI's --seed)
//   dir=rx|tx|both  the directions the faults act on (default both). Delay and jitter act on received
//                   frames only (faulty_port sends a committed batch at once; a wire's delay is
//                   sim_nic's): with dir=tx they are an error, with both the transmit side takes the
//                   other fields (its counters never count a frame delayed)
struct port_fault_options {
  fault_spec spec;
  std::optional<std::uint64_t> seed;
  bool rx = true, tx = true;
};
// Parses a --faults SPEC; on failure nullopt and *error names the field, as parse_fault_spec does.
std::optional<port_fault_options> parse_port_faults(std::string_view text, std::string* error);

// Parses "50us", "2ms", "100" (ns); nullopt when malformed.
std::optional<std::uint64_t> parse_duration_ns(std::string_view text);

// xoshiro256** seeded through splitmix64: small, fast, and the same on every platform.
class rng {
 public:
  explicit rng(std::uint64_t seed = 1) noexcept;
  std::uint64_t next() noexcept;
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }   // [0, 1)
  std::uint64_t below(std::uint64_t n) noexcept { return n ? next() % n : 0; }
  bool chance(double p) noexcept { return p > 0 && uniform() < p; }

 private:
  std::uint64_t s_[4];
};

struct fault_counters {
  std::uint64_t in = 0, out = 0, dropped = 0, duplicated = 0, reordered = 0, corrupted = 0, delayed = 0;
  std::uint64_t dup_no_room = 0;   // a duplicate drawn but no room for its copy (copying push only)
};

// What the line decided for one item that comes out: corrupt it at `offset % len` with `mask`.
struct fault_mark {
  bool corrupt = false;
  bool duplicate = false;   // this is the second copy
  std::uint32_t offset = 0;
  std::uint8_t mask = 0;
};

template <class T>
class fault_line {
 public:
  struct out_item {
    T item;
    std::uint64_t due_ns;
    fault_mark mark;
  };

  fault_line(fault_spec spec, std::uint64_t seed) : spec_(spec), rng_(seed) {}

  // Feeds one item that reached this point at t_ns. Returns false when the item was dropped
  // (the caller still owns it and must dispose of it). copy(item) -> std::optional<T> makes a duplicate's
  // own copy at once (frames: the original may be delivered and released before its copy leaves); an
  // empty optional means no room for a copy: no duplicate. Without it the duplicate is the item again.
  template <class Copy = std::nullptr_t>
  bool push(const T& item, std::uint64_t t_ns, Copy copy = nullptr) {
    ++c_.in;
    if (rng_.chance(spec_.drop)) { ++c_.dropped; return false; }
    const std::size_t held_before = held_.size();
    std::uint64_t due = t_ns + spec_.delay_ns;
    if (spec_.jitter_ns) due += rng_.below(spec_.jitter_ns + 1);
    if (due != t_ns) ++c_.delayed;
    fault_mark m = draw_corrupt();
    const bool dup = rng_.chance(spec_.dup);
    const bool hold = rng_.chance(spec_.reorder);
    if (hold) {
      ++c_.reordered;
      held_.push_back({{item, due, m}, 1 + rng_.below(spec_.reorder_window ? spec_.reorder_window : 1), seq_++});
    } else {
      enqueue({{item, due, m}, 0, seq_++});
    }
    if (dup) {
      fault_mark m2 = draw_corrupt();
      m2.duplicate = true;
      if constexpr (std::is_same_v<Copy, std::nullptr_t>) {
        ++c_.duplicated;
        enqueue({{item, due, m2}, 0, seq_++});
      } else if (std::optional<T> c = copy(item)) {
        ++c_.duplicated;
        enqueue({{*c, due, m2}, 0, seq_++});
      } else {
        ++c_.dup_no_room;
      }
    }
    release_held(held_before, due);
    return true;
  }

  // Next due time of an item (ready, or held until its reorder limit), if any.
  std::optional<std::uint64_t> next_due() const {
    std::optional<std::uint64_t> d;
    if (const entry* e = head()) d = e->o.due_ns;
    for (const auto& h : held_)
      if (!d || h.o.due_ns + spec_.reorder_limit_ns < *d) d = h.o.due_ns + spec_.reorder_limit_ns;
    return d;
  }
  // Takes the earliest item due by now.
  std::optional<out_item> pop_ready(std::uint64_t now_ns) {
    expire_held(now_ns);
    const entry* e = head();
    if (!e || e->o.due_ns > now_ns) return std::nullopt;
    out_item o = e->o;
    pop_head(e);
    ++c_.out;
    return o;
  }
  // End of stream: held items are released (they had nothing left to wait for).
  void flush(std::uint64_t now_ns) {
    for (auto& h : held_) { h.o.due_ns = std::max(h.o.due_ns, now_ns); h.seq = seq_++; enqueue(h); }
    held_.clear();
  }
  std::size_t pending() const noexcept { return ready_.size() + fifo_.size() + held_.size(); }
  const fault_counters& counters() const noexcept { return c_; }
  const fault_spec& spec() const noexcept { return spec_; }

  // Everything still inside (held or ready), for disposal when the owner ends.
  template <class F>
  void drain_all(F&& f) {
    for (auto& h : held_) f(h.o.item);
    held_.clear();
    while (const entry* e = head()) {
      f(e->o.item);
      pop_head(e);
    }
  }

 private:
  struct entry {
    out_item o;
    std::uint64_t wait;   // held: frames still to let pass
    std::uint64_t seq;
  };
  struct later {
    bool operator()(const entry& a, const entry& b) const noexcept {
      return a.o.due_ns != b.o.due_ns ? a.o.due_ns > b.o.due_ns : a.seq > b.seq;
    }
  };

  // A growable ring of entries (std::deque would allocate a block every few frames).
  class entry_ring {
   public:
    bool empty() const noexcept { return n_ == 0; }
    std::size_t size() const noexcept { return n_; }
    const entry& front() const noexcept { return buf_[head_]; }
    const entry& back() const noexcept { return buf_[(head_ + n_ - 1) & mask_]; }
    void push_back(const entry& e) {
      if (n_ == buf_.size()) grow();
      buf_[(head_ + n_++) & mask_] = e;
    }
    void pop_front() noexcept {
      head_ = (head_ + 1) & mask_;
      --n_;
    }

   private:
    void grow() {
      std::vector<entry> b(buf_.empty() ? 16 : buf_.size() * 2);
      for (std::size_t i = 0; i < n_; ++i) b[i] = buf_[(head_ + i) & mask_];
      buf_ = std::move(b);
      mask_ = buf_.size() - 1;
      head_ = 0;
    }
    std::vector<entry> buf_;   // a power of two long
    std::size_t mask_ = 0, head_ = 0, n_ = 0;
  };

  fault_mark draw_corrupt() {
    fault_mark m;
    if (rng_.chance(spec_.corrupt)) {
      ++c_.corrupted;
      m.corrupt = true;
      m.offset = static_cast<std::uint32_t>(rng_.next());
      m.mask = static_cast<std::uint8_t>(1 + rng_.below(255));
    }
    return m;
  }
  // Held frames past their limit go out at the limit.
  void expire_held(std::uint64_t now_ns) {
    for (std::size_t i = 0; i < held_.size();) {
      const std::uint64_t limit = held_[i].o.due_ns + spec_.reorder_limit_ns;
      if (limit <= now_ns) {
        entry e = held_[i];
        e.o.due_ns = limit;
        e.seq = seq_++;
        enqueue(e);
        held_.erase(held_.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }
  // One more frame (due at `due`) passed the first n held frames: each waits for one fewer; those
  // done go out after it (no earlier than its due time, and after it in sequence).
  void release_held(std::size_t n, std::uint64_t due) {
    for (std::size_t i = 0; i < n && i < held_.size();) {
      if (--held_[i].wait == 0) {
        entry e = held_[i];
        e.o.due_ns = std::max(e.o.due_ns, due);
        e.seq = seq_++;
        enqueue(e);
        held_.erase(held_.begin() + static_cast<std::ptrdiff_t>(i));
        --n;
      } else {
        ++i;
      }
    }
  }

  fault_spec spec_;
  rng rng_;
  fault_counters c_;
  std::vector<entry> held_;
  // Ready items wait in due order (due time, then push order) in two places: a FIFO that takes every
  // item not earlier than its last one, and a heap for the rest. A line without jitter or reordering
  // over times that only grow (sim's wire: arrival = departure + latency) only appends, so an item
  // costs a ring append and a pop instead of a heap's O(log n) push and pop (~120 instructions a
  // frame on bulk TCP, callgrind); what comes out, and when, is the same as from the heap alone.
  void enqueue(const entry& e) {
    if (fifo_.empty() || later{}(e, fifo_.back())) fifo_.push_back(e);
    else ready_.push(e);
  }
  const entry* head() const noexcept {
    if (ready_.empty()) [[likely]]
      return fifo_.empty() ? nullptr : &fifo_.front();
    if (fifo_.empty() || later{}(fifo_.front(), ready_.top())) return &ready_.top();
    return &fifo_.front();
  }
  void pop_head(const entry* e) {
    if (!ready_.empty() && e == &ready_.top()) ready_.pop();
    else fifo_.pop_front();
  }

  std::priority_queue<entry, std::vector<entry>, later> ready_;
  entry_ring fifo_;
  std::uint64_t seq_ = 0;
};

}  // namespace ringlab::port
