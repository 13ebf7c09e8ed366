#pragma once
// boost_mpmc_adapter: boost::lockfree::queue (Michael-Scott linked list over a fixed node pool) as the
// MPMC baseline. A linked queue has no "n at once", so bulk is made with two counters:
//   free_  credits for items not yet in the queue; a producer takes n before pushing (all or none)
//   ready_ items pushed and not yet claimed; a consumer takes n before popping (all or none)
// Burst takes as many credits as it can get. Every call pays those counters, so the benchmark also
// measures the raw queue (bench/rings) to give Boost its fair number.
// first_slot: a ticket counter (fetch_add only when asked) modulo the capacity: a logical slot.
#include <atomic>
#include <algorithm>
#include <boost/lockfree/queue.hpp>
#include <cstddef>
#include <cstdint>
#include <span>

namespace ringlab::rings {

template <class T>
class boost_mpmc_adapter {
 public:
  explicit boost_mpmc_adapter(std::size_t capacity)
      : q_(capacity), capacity_(capacity), free_(static_cast<std::int64_t>(capacity)) {}

  std::size_t enqueue_burst(std::span<const T> items, std::uint32_t* first_slot = nullptr) noexcept {
    const std::size_t n = take(free_, items.size(), false);
    if (first_slot) *first_slot = ticket(push_ticket_, n);
    for (std::size_t i = 0; i < n; ++i)
      while (!q_.bounded_push(items[i])) {}  // cannot stay full: we hold a credit for a node
    if (n) ready_.fetch_add(static_cast<std::int64_t>(n), std::memory_order_release);
    return n;
  }
  bool enqueue_bulk(std::span<const T> items, std::uint32_t* first_slot = nullptr) noexcept {
    if (items.empty()) return true;
    if (take(free_, items.size(), true) == 0) return false;
    if (first_slot) *first_slot = ticket(push_ticket_, items.size());
    for (const T& v : items)
      while (!q_.bounded_push(v)) {}
    ready_.fetch_add(static_cast<std::int64_t>(items.size()), std::memory_order_release);
    return true;
  }
  std::size_t dequeue_burst(std::span<T> out, std::uint32_t* first_slot = nullptr) noexcept {
    const std::size_t n = take(ready_, out.size(), false);
    pop_n(out.first(n), first_slot);
    return n;
  }
  bool dequeue_bulk(std::span<T> out, std::uint32_t* first_slot = nullptr) noexcept {
    if (out.empty()) return true;
    if (take(ready_, out.size(), true) == 0) return false;
    pop_n(out, first_slot);
    return true;
  }
  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t size() const noexcept {
    return static_cast<std::size_t>(capacity_ - free_.load(std::memory_order_acquire));
  }

 private:
  // Takes up to n (exactly n when bulk) from a counter; returns how many.
  static std::size_t take(std::atomic<std::int64_t>& c, std::size_t n, bool bulk) noexcept {
    std::int64_t have = c.load(std::memory_order_acquire);
    for (;;) {
      std::int64_t k = std::min<std::int64_t>(have, static_cast<std::int64_t>(n));
      if (k <= 0 || (bulk && k != static_cast<std::int64_t>(n))) return 0;
      if (c.compare_exchange_weak(have, have - k, std::memory_order_acq_rel, std::memory_order_acquire))
        return static_cast<std::size_t>(k);
    }
  }
  std::uint32_t ticket(std::atomic<std::uint64_t>& t, std::size_t n) noexcept {
    return static_cast<std::uint32_t>(t.fetch_add(n, std::memory_order_relaxed) % capacity_);
  }
  void pop_n(std::span<T> out, std::uint32_t* first_slot) noexcept {
    if (first_slot) *first_slot = ticket(pop_ticket_, out.size());
    for (T& v : out)
      while (!q_.pop(v)) {}  // a claimed item is pushed already; pop fails only on a transient race
    if (!out.empty()) free_.fetch_add(static_cast<std::int64_t>(out.size()), std::memory_order_release);
  }

  boost::lockfree::queue<T> q_;
  std::size_t capacity_;
  alignas(128) std::atomic<std::int64_t> free_;    // (P) taken, (C) given back
  alignas(128) std::atomic<std::int64_t> ready_{};  // (C) taken, (P) given
  alignas(128) std::atomic<std::uint64_t> push_ticket_{};
  alignas(128) std::atomic<std::uint64_t> pop_ticket_{};
};

}  // namespace ringlab::rings
