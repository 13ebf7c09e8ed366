#pragma once
// mpmc_ring: DPDK rte_ring's head/tail algorithm (lib/ring/rte_ring_c11_pvt.h). Each side has a head
// (claimed) and a tail (finished). An operation runs in three named steps:
//   1. move_head:   claim n slots by moving my side's head (a CAS when several threads share the side,
//                   a plain store in single mode) after checking the other side's tail for room;
//   2. copy:        construct (enqueue) or move out and destroy (dequeue) the claimed slots;
//   3. update_tail: wait until earlier claimers on my side have finished, then publish my tail.
// Single or multi producer and consumer are chosen at construction, as rte_ring's RING_F_SP_ENQ /
// RING_F_SC_DEQ flags are; the single mode skips the CAS and the wait.
//
//   (P) claims [prod.head, cons.tail + size), finishes into prod.tail;
//   (C) claims [cons.head, prod.tail),       finishes into cons.tail.
//
// Memory orders (labels as in rte_ring_c11_pvt.h where the role is the same):
//   A0 acquire prod.head in move_head (P)   pairs with R1 of another producer's CAS
//   A1 acquire cons.tail in move_head (P)   pairs with R3 in update_tail (C): slots were vacated
//   R1/A2 CAS prod.head (release/acquire)   pairs with A0 / R1 of other producers
//   AW acquire prod.tail while waiting (P)  pairs with R0 of the producer before me (see below)
//   R0 release prod.tail in update_tail (P) pairs with A4 (consumers) and AW (the next producer)
//   A3 acquire cons.head in move_head (C)   pairs with R2 of another consumer's CAS
//   A4 acquire prod.tail in move_head (C)   pairs with R0: slots are written
//   R2/A5 CAS cons.head (release/acquire)   pairs with A3 / R2 of other consumers
//   R3 release cons.tail in update_tail (C) pairs with A1 (producers) and AW (the next consumer)
// AW: DPDK waits with a relaxed load. A consumer that acquires my R0 must also see the slots written
// by the producer before me, and only an acquire in the wait makes that chain transitive in the C++
// model (free on x86, and what TSan checks).
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
class mpmc_ring : public burst_and_bulk<mpmc_ring<T>, T> {
  friend class burst_and_bulk<mpmc_ring<T>, T>;

 public:
  using value_type = T;

  explicit mpmc_ring(std::size_t capacity, sync_mode producers = sync_mode::multi,
                     sync_mode consumers = sync_mode::multi, std::uint32_t initial_index = 0)
      : size_(ring_size_for(capacity)), mask_(size_ - 1), slots_(size_) {
    for (headtail* ht : {&idx_.prod, &idx_.cons}) {
      ht->head.store(initial_index, std::memory_order_relaxed);
      ht->tail.store(initial_index, std::memory_order_relaxed);
    }
    idx_.prod.mode = producers;
    idx_.cons.mode = consumers;
  }
  ~mpmc_ring() {
    slots_.destroy(mask_, idx_.cons.tail.load(std::memory_order_acquire),
                   idx_.prod.tail.load(std::memory_order_acquire));
  }
  mpmc_ring(const mpmc_ring&) = delete;
  mpmc_ring& operator=(const mpmc_ring&) = delete;


  std::size_t capacity() const noexcept { return size_; }
  std::size_t size() const noexcept {
    const std::uint32_t tail = idx_.cons.tail.load(std::memory_order_acquire);
    return idx_.prod.tail.load(std::memory_order_acquire) - tail;
  }
  sync_mode producer_mode() const noexcept { return idx_.prod.mode; }
  sync_mode consumer_mode() const noexcept { return idx_.cons.mode; }

 private:
  struct alignas(block_bytes) headtail_fields {
    std::atomic<std::uint32_t> head;  // claimed up to here by this side's threads
    std::atomic<std::uint32_t> tail;  // finished up to here; the other side reads it
    sync_mode mode;                   // read-only after construction
  };

 public:
  using headtail = headtail_fields;
  struct indices {
    headtail prod;  // (P) head and tail written by producers only
    headtail cons;  // (C) head and tail written by consumers only
  };
  static_assert(std::is_standard_layout_v<indices>);
  static_assert(offsetof(indices, cons) - offsetof(indices, prod) == block_bytes,
                "producer and consumer blocks must sit 128 bytes apart");

 private:
  // Step 1 for either side. `room` is what the other side's tail leaves me: for (P) size + cons.tail -
  // head, for (C) prod.tail - head.
  static std::uint32_t move_head(headtail& mine, const headtail& other, std::uint32_t bias, std::uint32_t n,
                                 bool bulk, std::uint32_t& old_head) noexcept {
    // A0 (P) / A3 (C) acquire: pairs with R1 / R2, the CAS of another thread on my side.
    old_head = mine.head.load(std::memory_order_acquire);
    for (;;) {
      // A1 (P) / A4 (C) acquire: pairs with R3 / R0, the other side's update_tail.
      const std::uint32_t room = bias + other.tail.load(std::memory_order_acquire) - old_head;
      std::uint32_t k = n;
      if (k > room) k = bulk ? 0 : room;
      if (k == 0) return 0;
      if (mine.mode == sync_mode::single) {
        mine.head.store(old_head + k, std::memory_order_relaxed);
        return k;
      }
      // R1/A2 (P), R2/A5 (C): on failure old_head is reloaded with acquire and we retry.
      if (mine.head.compare_exchange_weak(old_head, old_head + k, std::memory_order_release,
                                          std::memory_order_acquire))
        return k;
    }
  }
  // Step 3 for either side.
  static void update_tail(headtail& mine, std::uint32_t old_head, std::uint32_t new_head) noexcept {
    if (mine.mode == sync_mode::multi) {
      // AW acquire: pairs with R0 / R3 of the thread that claimed just before me (see the header).
      while (mine.tail.load(std::memory_order_acquire) != old_head) cpu_relax();
    }
    // R0 (P) / R3 (C) release: pairs with A4 / A1 on the other side and AW on mine.
    mine.tail.store(new_head, std::memory_order_release);
  }

  std::size_t put(std::span<const T> items, bool bulk, std::uint32_t* first_slot) noexcept {
    if (items.size() > size_) {
      if (bulk) return 0;
      items = items.first(size_);
    }
    std::uint32_t head;
    const auto n = move_head(idx_.prod, idx_.cons, size_, static_cast<std::uint32_t>(items.size()), bulk, head);
    if (n == 0) return 0;
    if (first_slot) *first_slot = head & mask_;
    slots_.put(mask_, head, items.data(), n);
    update_tail(idx_.prod, head, head + n);
    return n;
  }
  std::size_t get(std::span<T> out, bool bulk, std::uint32_t* first_slot) noexcept {
    if (out.size() > size_) {
      if (bulk) return 0;
      out = out.first(size_);
    }
    std::uint32_t head;
    const auto n = move_head(idx_.cons, idx_.prod, 0, static_cast<std::uint32_t>(out.size()), bulk, head);
    if (n == 0) return 0;
    if (first_slot) *first_slot = head & mask_;
    slots_.take(mask_, head, out.data(), n);
    update_tail(idx_.cons, head, head + n);
    return n;
  }

  const std::uint32_t size_;
  const std::uint32_t mask_;
  slot_storage<T> slots_;
  indices idx_;
};

}  // namespace ringlab::rings
