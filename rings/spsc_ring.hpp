#pragma once
// spsc_ring: one producer thread, one consumer thread, each keeping a cached copy of the other side's
// index and refreshing it only when the copy says "short" (libxdp xsk.h xsk_prod_nb_free /
// xsk_cons_nb_avail, rigtorp SPSCQueue.h readIdxCache_/writeIdxCache_). In the common case a side
// touches only its own cache line block; the other side's line moves only when the ring looks full or
// empty.
//
//   slots:  [ ... free ... | tail ... items (C reads) ... head | ... free (P writes) ... ]
//   (P) owns [head, tail + size), (C) owns [tail, head). Indices free-running, slot = index & mask.
//
// Objects are constructed in a slot by the producer and destroyed by the consumer, so any movable T
// works for enqueue/dequeue. The zero-copy calls (reserve/submit, peek/release) hand out raw slots and
// exist only for trivially copyable T (descriptors), as AF_XDP rings do.
//
// Memory orders (labels used in the code and rings/README.md):
//   R1 release head in publish():  pairs with A1 in refresh_head()  - items written before head moves
//   R2 release tail in retire():   pairs with A2 in refresh_tail()  - items read before the slot is reused
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
class spsc_ring : public burst_and_bulk<spsc_ring<T>, T> {
  friend class burst_and_bulk<spsc_ring<T>, T>;
 public:
  using value_type = T;

  explicit spsc_ring(std::size_t capacity, std::uint32_t initial_index = 0)
      : size_(ring_size_for(capacity)), mask_(size_ - 1), slots_(size_) {
    idx_.prod.head.store(initial_index, std::memory_order_relaxed);
    idx_.prod.cached_tail = initial_index + size_;
    idx_.cons.tail.store(initial_index, std::memory_order_relaxed);
    idx_.cons.cached_head = initial_index;
  }
  ~spsc_ring() {
    slots_.destroy(mask_, idx_.cons.tail.load(std::memory_order_relaxed),
                   idx_.prod.head.load(std::memory_order_acquire));
  }
  spsc_ring(const spsc_ring&) = delete;
  spsc_ring& operator=(const spsc_ring&) = delete;

  // ---- producer side (one thread) ----
  template <class U>
  bool try_push(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    const std::uint32_t head = idx_.prod.head.load(std::memory_order_relaxed);
    if (free_from(head, 1) == 0) return false;
    std::construct_at(slot(head), std::forward<U>(v));
    publish(head + 1);
    return true;
  }
  // Zero-copy: up to n free slots as two segments (second non-empty at the wrap). Nothing is visible to
  // the consumer until submit(k) with k <= the window's size; a smaller k gives the rest back.
  window<T> reserve(std::uint32_t n) noexcept
    requires std::is_trivially_copyable_v<T>
  {
    const std::uint32_t head = idx_.prod.head.load(std::memory_order_relaxed);
    return make_window(slots_.get(), mask_, head, std::min(n, free_from(head, n)));
  }
  void submit(std::uint32_t n) noexcept
    requires std::is_trivially_copyable_v<T>
  {
    publish(idx_.prod.head.load(std::memory_order_relaxed) + n);
  }

  // ---- consumer side (one thread) ----
  bool try_pop(T& out) noexcept(std::is_nothrow_move_assignable_v<T>) {
    const std::uint32_t tail = idx_.cons.tail.load(std::memory_order_relaxed);
    if (avail_from(tail, 1) == 0) return false;
    out = std::move(*slot(tail));
    std::destroy_at(slot(tail));
    retire(tail + 1);
    return true;
  }
  // Zero-copy: up to n filled slots as two segments; they stay owned by the consumer until release(k).
  window<const T> peek(std::uint32_t n) noexcept
    requires std::is_trivially_copyable_v<T>
  {
    const std::uint32_t tail = idx_.cons.tail.load(std::memory_order_relaxed);
    return make_window<const T>(slots_.get(), mask_, tail, std::min(n, avail_from(tail, n)));
  }
  void release(std::uint32_t n) noexcept
    requires std::is_trivially_copyable_v<T>
  {
    retire(idx_.cons.tail.load(std::memory_order_relaxed) + n);
  }

  // ---- either side ----
  std::size_t capacity() const noexcept { return size_; }
  std::size_t size() const noexcept {
    const std::uint32_t tail = idx_.cons.tail.load(std::memory_order_acquire);
    return idx_.prod.head.load(std::memory_order_acquire) - tail;
  }

 private:
  T* slot(std::uint32_t i) const noexcept { return slots_.get() + (i & mask_); }

  // Free slots from the producer's view; reloads the consumer's tail only when the cache says < want.
  std::uint32_t free_from(std::uint32_t head, std::uint32_t want) noexcept {
    // A2 acquire (in cached_room): pairs with R2 in retire(): the consumer is done with the slots it gave back.
    return cached_room(idx_.prod.cached_tail, idx_.cons.tail, size_, head, want);
  }
  std::uint32_t avail_from(std::uint32_t tail, std::uint32_t want) noexcept {
    // A1 acquire (in cached_room): pairs with R1 in publish(): the items before head are fully written.
    return cached_room(idx_.cons.cached_head, idx_.prod.head, 0, tail, want);
  }
  // R1 release: pairs with A1 in avail_from() (peek/dequeue).
  void publish(std::uint32_t head) noexcept {
#if defined(RINGLAB_PLANT_RING_BUG) && RINGLAB_PLANT_RING_BUG
    // The planted bug (CMake option RINGLAB_PLANT_RING_BUG, off by default): R1 relaxed, so nothing
    // orders the item writes before the index. TSan names the race; rings/models/spsc.pml -DWEAK is
    // the same bug in the model, with spin's counterexample.
    idx_.prod.head.store(head, std::memory_order_relaxed);
#else
    idx_.prod.head.store(head, std::memory_order_release);
#endif
  }
  // R2 release: pairs with A2 in free_from() (reserve/enqueue).
  void retire(std::uint32_t tail) noexcept { idx_.cons.tail.store(tail, std::memory_order_release); }

  std::size_t put(std::span<const T> items, bool bulk, std::uint32_t* first_slot) noexcept {
    const std::uint32_t head = idx_.prod.head.load(std::memory_order_relaxed);
    const auto want = static_cast<std::uint32_t>(std::min<std::size_t>(items.size(), size_));
    if (bulk && want != items.size()) return 0;
    std::uint32_t n = std::min(want, free_from(head, want));
    if (bulk && n != want) return 0;
    if (first_slot) *first_slot = head & mask_;
    slots_.put(mask_, head, items.data(), n);
    if (n) publish(head + n);
    return n;
  }
  std::size_t get(std::span<T> out, bool bulk, std::uint32_t* first_slot) noexcept {
    const std::uint32_t tail = idx_.cons.tail.load(std::memory_order_relaxed);
    const auto want = static_cast<std::uint32_t>(std::min<std::size_t>(out.size(), size_));
    if (bulk && want != out.size()) return 0;
    std::uint32_t n = std::min(want, avail_from(tail, want));
    if (bulk && n != want) return 0;
    if (first_slot) *first_slot = tail & mask_;
    slots_.take(mask_, tail, out.data(), n);
    if (n) retire(tail + n);
    return n;
  }

  // Read-only after construction: shared by both sides without traffic.
  const std::uint32_t size_;
  const std::uint32_t mask_;
  slot_storage<T> slots_;

 public:
  // The layout the design is about, public so that tests and static_asserts can see it.
  struct alignas(block_bytes) producer_block {
    std::atomic<std::uint32_t> head;  // (P) next index to write; read by (C) at A1
    std::uint32_t cached_tail;        // (P) (C)'s tail + size as last seen (xsk.h's cached_cons + size)
  };
  struct alignas(block_bytes) consumer_block {
    std::atomic<std::uint32_t> tail;  // (C) next index to read; read by (P) at A2
    std::uint32_t cached_head;        // (C) (P)'s head as last seen
  };
  struct indices {
    producer_block prod;
    consumer_block cons;
  };
  static_assert(std::is_standard_layout_v<indices>);
  static_assert(offsetof(indices, cons) - offsetof(indices, prod) == block_bytes,
                "producer and consumer blocks must sit 128 bytes apart");
  static_assert(sizeof(producer_block) == block_bytes && sizeof(consumer_block) == block_bytes);

 private:
  indices idx_;
};

}  // namespace ringlab::rings
