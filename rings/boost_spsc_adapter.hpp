#pragma once
// boost_spsc_adapter: boost::lockfree::spsc_queue (run-time sized) behind this folder's vocabulary, as
// a baseline. Boost's push(ptr, n)/pop(ptr, n) are bursts; a bulk call checks write_available() /
// read_available() first, which is exact because only this side moves its own index.
// first_slot: Boost keeps its indices private, so it is the side's item count modulo the capacity
// (the slot the item would take in a ring of exactly that size), not Boost's internal slot.
#include <boost/lockfree/spsc_queue.hpp>
#include <cstddef>
#include <cstdint>
#include <span>

namespace ringlab::rings {

template <class T>
class boost_spsc_adapter {
 public:
  explicit boost_spsc_adapter(std::size_t capacity) : q_(capacity), capacity_(capacity) {}

  std::size_t enqueue_burst(std::span<const T> items, std::uint32_t* first_slot = nullptr) noexcept {
    const std::size_t n = q_.push(items.data(), items.size());
    note(pushed_, n, first_slot);
    return n;
  }
  bool enqueue_bulk(std::span<const T> items, std::uint32_t* first_slot = nullptr) noexcept {
    if (q_.write_available() < items.size()) return false;
    return enqueue_burst(items, first_slot) == items.size();
  }
  bool try_push(const T& v) noexcept { return q_.push(v); }
  std::size_t dequeue_burst(std::span<T> out, std::uint32_t* first_slot = nullptr) noexcept {
    const std::size_t n = q_.pop(out.data(), out.size());
    note(popped_, n, first_slot);
    return n;
  }
  bool dequeue_bulk(std::span<T> out, std::uint32_t* first_slot = nullptr) noexcept {
    if (q_.read_available() < out.size()) return false;
    return dequeue_burst(out, first_slot) == out.size();
  }
  bool try_pop(T& out) noexcept { return q_.pop(out); }
  std::size_t capacity() const noexcept { return capacity_; }
  // read_available() is meant for the consumer; from elsewhere it is a snapshot (exact when quiescent).
  std::size_t size() const noexcept { return q_.read_available(); }

 private:
  void note(std::uint64_t& count, std::size_t n, std::uint32_t* first_slot) noexcept {
    if (first_slot) *first_slot = static_cast<std::uint32_t>(count % capacity_);
    count += n;
  }
  mutable boost::lockfree::spsc_queue<T> q_;
  std::size_t capacity_;
  alignas(128) std::uint64_t pushed_ = 0;  // (P)
  alignas(128) std::uint64_t popped_ = 0;  // (C)
};

}  // namespace ringlab::rings
