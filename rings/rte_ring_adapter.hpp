#pragma once
// rte_ring_adapter: DPDK's rte_ring (the _elem API, so elements of any multiple of 4 bytes) on memory
// we allocate and align ourselves, set up with rte_ring_init(): no EAL, no hugepages, no memzone.
// SP/SC or MP/MC is fixed at construction through RING_F_SP_ENQ / RING_F_SC_DEQ, as in DPDK, and the
// rte_ring_*_elem() inline functions read those flags on every call.
// Only built when DPDK is found (RINGLAB_HAVE_DPDK).
//
// first_slot: the head before the call, masked: exact in single mode, a best guess with several
// producers (DPDK does not return where its CAS landed).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
// TSan checks the C++ memory model, which DPDK's x86 default (volatile indices plus compiler barriers,
// rte_ring_generic_pvt.h) does not follow; its C11 variant (used on Arm) does, so TSan builds take it.
#if defined(__SANITIZE_THREAD__) && !defined(RTE_USE_C11_MEM_MODEL)
#define RTE_USE_C11_MEM_MODEL 1
#endif
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <span>
#include <stdexcept>
#include <type_traits>

#include "rings/ring_index.hpp"

namespace ringlab::rings {

template <class T>
class rte_ring_adapter {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % 4 == 0, "rte_ring elements: multiple of 4 bytes");

 public:
  explicit rte_ring_adapter(std::size_t capacity, sync_mode producers = sync_mode::multi,
                            sync_mode consumers = sync_mode::multi, std::uint32_t initial_index = 0)
      : capacity_(static_cast<std::uint32_t>(capacity)) {
    if (capacity == 0 || capacity > RTE_RING_SZ_MASK) throw std::invalid_argument("rte_ring capacity out of range");
    // RING_F_EXACT_SZ: holds exactly `capacity` items in a ring of the next power of two above it.
    const ssize_t bytes = rte_ring_get_memsize_elem(sizeof(T), rte_align32pow2(capacity_ + 1));
    if (bytes < 0) throw std::invalid_argument("rte_ring_get_memsize_elem failed");
    mem_ = ::operator new(static_cast<std::size_t>(bytes), std::align_val_t{block_bytes});
    r_ = static_cast<rte_ring*>(mem_);
    const unsigned flags = RING_F_EXACT_SZ | (producers == sync_mode::single ? RING_F_SP_ENQ : 0u) |
                           (consumers == sync_mode::single ? RING_F_SC_DEQ : 0u);
    if (rte_ring_init(r_, "ringlab", capacity_, flags) != 0) {
      ::operator delete(mem_, std::align_val_t{block_bytes});
      throw std::runtime_error("rte_ring_init failed");
    }
    // The initial index is a test hook (wraparound at 2^32); set before any other thread sees the ring.
    r_->prod.head = initial_index;
    r_->prod.tail = initial_index;
    r_->cons.head = initial_index;
    r_->cons.tail = initial_index;
  }
  ~rte_ring_adapter() { ::operator delete(mem_, std::align_val_t{block_bytes}); }
  rte_ring_adapter(const rte_ring_adapter&) = delete;
  rte_ring_adapter& operator=(const rte_ring_adapter&) = delete;

  std::size_t enqueue_burst(std::span<const T> items, std::uint32_t* first_slot = nullptr) noexcept {
    if (first_slot) *first_slot = __atomic_load_n(&r_->prod.head, __ATOMIC_RELAXED) & r_->mask;
    return rte_ring_enqueue_burst_elem(r_, items.data(), sizeof(T), static_cast<unsigned>(items.size()), nullptr);
  }
  bool enqueue_bulk(std::span<const T> items, std::uint32_t* first_slot = nullptr) noexcept {
    if (first_slot) *first_slot = __atomic_load_n(&r_->prod.head, __ATOMIC_RELAXED) & r_->mask;
    return rte_ring_enqueue_bulk_elem(r_, items.data(), sizeof(T), static_cast<unsigned>(items.size()), nullptr) ==
           items.size();
  }
  std::size_t dequeue_burst(std::span<T> out, std::uint32_t* first_slot = nullptr) noexcept {
    if (first_slot) *first_slot = __atomic_load_n(&r_->cons.head, __ATOMIC_RELAXED) & r_->mask;
    return rte_ring_dequeue_burst_elem(r_, out.data(), sizeof(T), static_cast<unsigned>(out.size()), nullptr);
  }
  bool dequeue_bulk(std::span<T> out, std::uint32_t* first_slot = nullptr) noexcept {
    if (first_slot) *first_slot = __atomic_load_n(&r_->cons.head, __ATOMIC_RELAXED) & r_->mask;
    return rte_ring_dequeue_bulk_elem(r_, out.data(), sizeof(T), static_cast<unsigned>(out.size()), nullptr) ==
           out.size();
  }
  std::size_t capacity() const noexcept { return rte_ring_get_capacity(r_); }
  std::size_t size() const noexcept { return rte_ring_count(r_); }
  rte_ring* get() const noexcept { return r_; }

 private:
  std::uint32_t capacity_;
  void* mem_ = nullptr;
  rte_ring* r_ = nullptr;
};

}  // namespace ringlab::rings
