#pragma once
// batch_ring: spsc_ring's cached opposite indices plus MCRingBuffer's batched publication (Lee, Bu,
// Chandranmenon, "A lock-free, cache-efficient multi-core synchronization mechanism for line-rate
// network traffic monitoring", IPDPS 2010) and its cache-line separation of control variables.
//
// Why: when the consumer keeps up, the ring is empty most of the time, so spsc's consumer reloads the
// producer's head on nearly every pop (A1 misses) and the producer's next head store must take the line
// back: the head line crosses the cores about twice per item, on top of the slot lines. Here the
// single-item calls publish in batches: try_push stores head (R1) once every `batch` items and try_pop
// stores tail (R2) once every `batch` items, so the index lines cross once per batch, and the consumer
// reads slot lines the producer has finished writing (a batch of 8-byte items is whole lines) instead
// of lines it is still filling.
//
//   slots: [ free | tail .. read, not retired .. c.next | .. published .. head | .. written, not published .. p.next | free ]
//   (P) owns [head, tail + size): it writes [p.next, ...) and publishes [head, p.next) at R1.
//   (C) owns [tail, head): it reads [c.next, head) and gives back [tail, c.next) at R2.
//
// The contract differs from spsc in one place: an item pushed with try_push is visible to the consumer
// only after the batch fills, or after the producer calls flush_producer(), or when a push finds the
// ring full. The burst and bulk calls and submit() publish everything at the end of the call (a burst is
// already a batch), so through any_ring the ring behaves exactly like spsc. Slots taken with try_pop go
// back to the producer after `batch` pops, at flush_consumer(), when a pop finds the ring empty, and at
// the end of every dequeue/release call.
//
// Deadlock rule (the known MCRingBuffer trap: a producer holding fewer than `batch` unpublished items
// waits for room while the consumer holding fewer than `batch` unretired slots waits for items): a
// try_push that finds the ring full publishes what it holds, and a try_pop that finds the ring empty
// gives back what it holds. Either rule alone breaks the cycle; rings/models/batch.pml -DNO_RULES shows
// the livelock without them and spin proves progress with them.
//
// Burst path (issue 15.8): at burst 32 both this ring and rte_ring publish once per burst, so what is
// left is the slot lines. enqueue_burst/_bulk take the slot lines up to 4 KiB ahead for writing
// (prefetch_ahead: prefetchw, each line once per lap, only slots the cached tail counts as free), and
// dequeue_burst/_bulk prefetch a burst's lines before copying them out. Hints only: no memory order
// changes.
//
// Idle polls (issue 15.8, burst_tuning::idle_polls, off by default): a consumer that keeps up reloads
// head after every burst and so reads every value the producer stores; each store then waits for the
// line to come back (a round trip, 400-1300 ns when the hypervisor puts the two vCPUs far apart), and
// x86 commits the producer's later stores behind it: about one burst per round trip, whatever the ring.
// With idle polls, after a reload that found nothing new the consumer's next short calls read only its
// cached head, the producer stores head into a line it owns, and the next reload finds several bursts.
// A bounded delay of A1 (rings/models/batch.pml -DIDLE): no memory order changes.
//
// Memory orders (labels used in the code, rings/README.md and rings/models/batch.pml):
//   R1 release head in publish():  pairs with A1 in avail_from()  - items written before head moves
//   R2 release tail in retire():   pairs with A2 in free_from()   - items read before the slot is reused
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>

#include "rings/ring_index.hpp"

namespace ringlab::rings {

template <class T>
class batch_ring : public burst_and_bulk<batch_ring<T>, T> {
  friend class burst_and_bulk<batch_ring<T>, T>;

 public:
  using value_type = T;
  // 32 items: four lines of 8-byte descriptors, and few enough that a batch is well under the ~450 ns
  // core-to-core round trip of producer time on the machines this lab runs on.
  static constexpr std::uint32_t default_batch = 32;

  // The burst path's prefetch distances (issue 15.8), per ring so that rings_bench can run batch with
  // them off beside batch with them on (the batch-nopf rows) on the same machine in the same run.
  struct burst_tuning {
    std::uint32_t write_ahead_bytes = 4096;  // prefetchw this far past a burst; 0: none
    std::uint32_t read_ahead_bytes = 2048;   // prefetcht0 this much of a burst before copying it out; 0: none
    // The consumer's idle polls (issue 15.8; 0, the default: off). After a reload of head that found
    // nothing new, this many calls that find the cached head short return what the cache holds (often
    // 0) without reloading: the head line stays with the producer, whose next stores of head then need
    // no transfer, and the consumer's next reload finds several bursts. Costs latency (an item waits up
    // to that many of the caller's polls), so any_ring's batch (sim_nic) keeps it off.
    std::uint32_t idle_polls = 0;
  };

  // `batch` is clamped to 1..size: a batch larger than the ring could never fill.
  explicit batch_ring(std::size_t capacity, std::uint32_t initial_index = 0, std::uint32_t batch = default_batch,
                      burst_tuning tuning = {})
      : size_(ring_size_for(capacity)), mask_(size_ - 1), batch_(std::clamp<std::uint32_t>(batch, 1, size_)),
        write_ahead_(slots_for(tuning.write_ahead_bytes, size_)), read_ahead_(slots_for(tuning.read_ahead_bytes, size_)),
        idle_polls_(tuning.idle_polls), slots_(size_) {
    idx_.head.head.store(initial_index, std::memory_order_relaxed);
    idx_.tail.tail.store(initial_index, std::memory_order_relaxed);
    idx_.prod = {initial_index, initial_index, initial_index + size_, initial_index};
    idx_.cons = {initial_index, initial_index, initial_index, 0};
  }
  ~batch_ring() { slots_.destroy(mask_, idx_.cons.next, idx_.prod.next); }
  batch_ring(const batch_ring&) = delete;
  batch_ring& operator=(const batch_ring&) = delete;

  // ---- producer side (one thread) ----
  // Visible to the consumer once `batch` items are pending, at flush_producer(), or when a push finds
  // the ring full (then the pending items are published and false is returned).
  template <class U>
  bool try_push(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    const std::uint32_t next = idx_.prod.next;
    if (free_from(next, 1) == 0) {
      flush_producer();  // deadlock rule: a full producer publishes what it holds
      return false;
    }
    std::construct_at(slot(next), std::forward<U>(v));
    idx_.prod.next = next + 1;
    if (next + 1 - idx_.prod.published >= batch_) publish(next + 1);
    return true;
  }
  // Publishes what try_push wrote and has not published yet (a producer going idle calls it).
  void flush_producer() noexcept {
    if (idx_.prod.next != idx_.prod.published) publish(idx_.prod.next);
  }
  // Zero-copy, as spsc: up to n free slots as two segments; submit(k) publishes them and anything pending.
  window<T> reserve(std::uint32_t n) noexcept
    requires std::is_trivially_copyable_v<T>
  {
    const std::uint32_t next = idx_.prod.next;
    return make_window(slots_.get(), mask_, next, std::min(n, free_from(next, n)));
  }
  void submit(std::uint32_t n) noexcept
    requires std::is_trivially_copyable_v<T>
  {
    idx_.prod.next += n;
    flush_producer();
  }

  // ---- consumer side (one thread) ----
  // The slot goes back to the producer after `batch` pops, at flush_consumer(), or when a pop finds
  // the ring empty.
  bool try_pop(T& out) noexcept(std::is_nothrow_move_assignable_v<T>) {
    const std::uint32_t next = idx_.cons.next;
    if (avail_from(next, 1) == 0) {
      flush_consumer();  // deadlock rule: an empty consumer gives back what it holds
      return false;
    }
    out = std::move(*slot(next));
    std::destroy_at(slot(next));
    idx_.cons.next = next + 1;
    if (next + 1 - idx_.cons.retired >= batch_) retire(next + 1);
    return true;
  }
  void flush_consumer() noexcept {
    if (idx_.cons.next != idx_.cons.retired) retire(idx_.cons.next);
  }
  window<const T> peek(std::uint32_t n) noexcept
    requires std::is_trivially_copyable_v<T>
  {
    const std::uint32_t next = idx_.cons.next;
    return make_window<const T>(slots_.get(), mask_, next, std::min(n, avail_from(next, n)));
  }
  void release(std::uint32_t n) noexcept
    requires std::is_trivially_copyable_v<T>
  {
    idx_.cons.next += n;
    flush_consumer();
  }

  // ---- either side ----
  std::size_t capacity() const noexcept { return size_; }
  std::uint32_t batch() const noexcept { return batch_; }
  // (P) the free-running index before which the producer has taken slot lines for writing this lap
  // (prefetch_ahead); for the tests: it must never pass the free region [next, tail + size).
  std::uint32_t prefetched_until() const noexcept { return idx_.prod.prefetched; }
  // Published and not given back: exact when both sides are quiescent and have flushed (every burst,
  // bulk, submit and release call flushes its side).
  std::size_t size() const noexcept {
    const std::uint32_t tail = idx_.tail.tail.load(std::memory_order_acquire);
    return idx_.head.head.load(std::memory_order_acquire) - tail;
  }

 private:
  T* slot(std::uint32_t i) const noexcept { return slots_.get() + (i & mask_); }
  // Bytes of look-ahead as whole slots, at most the ring; 0 stays 0 (no prefetch), else at least one.
  static std::uint32_t slots_for(std::uint32_t bytes, std::uint32_t size) noexcept {
    return bytes == 0 ? 0 : std::clamp<std::uint32_t>(static_cast<std::uint32_t>(bytes / sizeof(T)), 1, size);
  }

  // Free slots from the producer's view; reloads the consumer's tail only when the cache says < want.
  std::uint32_t free_from(std::uint32_t next, std::uint32_t want) noexcept {
    // A2 acquire (in cached_room): pairs with R2 in retire(): the consumer is done with the slots it gave back.
    return cached_room(idx_.prod.cached_tail, idx_.tail.tail, size_, next, want);
  }
  std::uint32_t avail_from(std::uint32_t next, std::uint32_t want) noexcept {
    // cached_room's check, plus the idle polls on its slow path (idle_left stays 0 when they are off).
    std::uint32_t room = idx_.cons.cached_head - next;
    if (room < want) {
      if (idx_.cons.idle_left != 0) {  // idle: leave the head line with the producer a while longer
        --idx_.cons.idle_left;
        return room;
      }
      const std::uint32_t before = idx_.cons.cached_head;
      // A1 acquire: pairs with R1 in publish(): the items before head are fully written.
      idx_.cons.cached_head = idx_.head.head.load(std::memory_order_acquire);
      if (idx_.cons.cached_head == before) idx_.cons.idle_left = idle_polls_;
      room = idx_.cons.cached_head - next;
    }
    return room;
  }
  // Takes the lines of the slots up to `write_ahead_` past `next` for writing, each once per lap (the
  // watermark prefetched), so a burst's stores find their lines already exclusive. Why: the consumer read
  // those lines a lap ago and may still hold them; a store there first waits for a core-to-core
  // invalidation (~a round trip, 450-500 ns on the lab's VMs: more than a whole 8-byte burst takes), and
  // started one burst ahead it would still stall. Only slots the cached tail already counts as free
  // (no reload of the consumer's line), so never a line the consumer is still reading.
  void prefetch_ahead(std::uint32_t next) noexcept {
    const std::uint32_t to = std::min(write_ahead_, idx_.prod.cached_tail - next);
    const std::uint32_t done = idx_.prod.prefetched - next;   // how far past next is already prefetched
    const std::uint32_t from = done <= write_ahead_ ? done : 0;  // behind next (try_push, submit): start at next
    if (from < to) {
      prefetch_slots<true>(slots_.get(), mask_, next + from, to - from);
      idx_.prod.prefetched = next + to;
    }
  }
  // R1 release: pairs with A1 in avail_from() (try_pop, peek, dequeue).
  void publish(std::uint32_t head) noexcept {
    idx_.prod.published = head;
    idx_.head.head.store(head, std::memory_order_release);
  }
  // R2 release: pairs with A2 in free_from() (try_push, reserve, enqueue).
  void retire(std::uint32_t tail) noexcept {
    idx_.cons.retired = tail;
    idx_.tail.tail.store(tail, std::memory_order_release);
  }

  std::size_t put(std::span<const T> items, bool bulk, std::uint32_t* first_slot) noexcept {
    const std::uint32_t next = idx_.prod.next;
    const auto want = static_cast<std::uint32_t>(std::min<std::size_t>(items.size(), size_));
    std::uint32_t n = 0;
    if (!bulk || want == items.size()) {
      n = std::min(want, free_from(next, want));
      if (bulk && n != want) n = 0;
    }
    if (first_slot) *first_slot = next & mask_;
    slots_.put(mask_, next, items.data(), n);
    idx_.prod.next = next + n;
    flush_producer();  // a burst is a batch; and a refused one must not strand try_push's pending items
    // A burst under a line (burst 1 through any_ring) is left alone: its bookkeeping would cost more than
    // the one line it could start early (callgrind: +60 instructions per call at burst 1).
    if (write_ahead_ != 0 && n * sizeof(T) >= cache_line_bytes) prefetch_ahead(next + n);
    return n;
  }
  std::size_t get(std::span<T> out, bool bulk, std::uint32_t* first_slot) noexcept {
    const std::uint32_t next = idx_.cons.next;
    const auto want = static_cast<std::uint32_t>(std::min<std::size_t>(out.size(), size_));
    std::uint32_t n = 0;
    if (!bulk || want == out.size()) {
      n = std::min(want, avail_from(next, want));
      if (bulk && n != want) n = 0;
    }
    if (first_slot) *first_slot = next & mask_;
    // The burst's lines (up to 2 KiB) requested at once before the copy: each is a core-to-core transfer
    // from the producer's cache, and the copy's own loads would reach the later ones only as it gets there.
    // Two lines or fewer: the copy's first loads ask for them as soon.
    if (read_ahead_ != 0 && n * sizeof(T) > 2 * cache_line_bytes) prefetch_slots<false>(slots_.get(), mask_, next, std::min(n, read_ahead_));
    slots_.take(mask_, next, out.data(), n);
    idx_.cons.next = next + n;
    flush_consumer();
    return n;
  }

  // Read-only after construction: shared by both sides without traffic.
  const std::uint32_t size_;
  const std::uint32_t mask_;
  const std::uint32_t batch_;
  // Prefetch distances in slots: 4 KiB ahead for the producer's writes (16 bursts of 32 8-byte items, two
  // of 64-byte items), 2 KiB of a burst for the consumer's reads; both at least 1, at most the ring.
  const std::uint32_t write_ahead_;
  const std::uint32_t read_ahead_;
  const std::uint32_t idle_polls_;  // burst_tuning::idle_polls
  slot_storage<T> slots_;

 public:
  // MCRingBuffer's separation: the two shared indices each on a block of their own, and each side's
  // private variables on a third and fourth block, so the line the other side reads (head, tail) is
  // written once per batch and never by the per-item bookkeeping.
  struct alignas(block_bytes) head_block {
    std::atomic<std::uint32_t> head;  // (P) published: [tail, head) is readable; read by (C) at A1
  };
  struct alignas(block_bytes) tail_block {
    std::atomic<std::uint32_t> tail;  // (C) given back: [head, tail + size) is writable; read by (P) at A2
  };
  struct alignas(block_bytes) producer_block {
    std::uint32_t next;         // (P) next index to write; head <= next
    std::uint32_t published;    // (P) the last value stored to head (no load of the shared line to count)
    std::uint32_t cached_tail;  // (P) (C)'s tail + size as last seen (xsk.h's cached_cons + size)
    std::uint32_t prefetched;   // (P) slots before this were taken for writing this lap (prefetch_ahead)
  };
  struct alignas(block_bytes) consumer_block {
    std::uint32_t next;         // (C) next index to read; tail <= next <= head
    std::uint32_t retired;      // (C) the last value stored to tail
    std::uint32_t cached_head;  // (C) (P)'s head as last seen
    std::uint32_t idle_left;    // (C) short calls left that do not reload head (burst_tuning::idle_polls)
  };
  struct indices {
    head_block head;
    tail_block tail;
    producer_block prod;
    consumer_block cons;
  };
  static_assert(std::is_standard_layout_v<indices>);
  static_assert(offsetof(indices, tail) - offsetof(indices, head) == block_bytes &&
                    offsetof(indices, prod) - offsetof(indices, tail) == block_bytes &&
                    offsetof(indices, cons) - offsetof(indices, prod) == block_bytes,
                "shared head, shared tail, producer and consumer blocks must sit 128 bytes apart");
  static_assert(sizeof(head_block) == block_bytes && sizeof(consumer_block) == block_bytes);

 private:
  indices idx_;
};

}  // namespace ringlab::rings
