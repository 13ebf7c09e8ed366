#pragma once
// What every ring here shares: free-running indices, the block layout constants, the two-segment window.
//
// Indices are free-running std::uint32_t counters masked by a power-of-two size: slot = index & mask.
// "count = head - tail" is exact modulo 2^32 as long as size <= 2^31, so a full ring and an empty ring
// are told apart without wasting a slot, and an index crossing 2^32 needs no special case (the tests
// start every ring near 2^32 to prove it). Every design takes an initial index for that reason.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace ringlab::rings {

// Producer and consumer blocks sit this far apart: two 64-byte lines, because the adjacent-line
// prefetcher on x86 pulls lines in pairs and would otherwise couple the two sides.
inline constexpr std::size_t block_bytes = 128;
inline constexpr std::size_t cache_line_bytes = 64;

enum class sync_mode : std::uint8_t { single, multi };

// Smallest power of two >= capacity; rejects 0 and anything above 2^31 (the modulo-2^32 limit).
inline std::uint32_t ring_size_for(std::size_t capacity) {
  if (capacity == 0 || capacity > (std::size_t{1} << 31))
    throw std::invalid_argument("ring capacity must be 1..2^31");
  std::uint32_t s = 1;
  while (s < capacity) s <<= 1;
  return s;
}

// The check of the cached-index designs (spsc, batch; libxdp's xsk_prod_nb_free / xsk_cons_nb_avail):
// room (or items) from `cached`, a copy of the other side's index plus `offset` (size for the producer,
// 0 for the consumer), reloaded from `other` only when the copy says fewer than `want`. The reload is
// an acquire that pairs with the other side's release store of `other`; each caller names the pair.
inline std::uint32_t cached_room(std::uint32_t& cached, const std::atomic<std::uint32_t>& other, std::uint32_t offset,
                                 std::uint32_t pos, std::uint32_t want) noexcept {
  std::uint32_t room = cached - pos;
  if (room < want) {
    cached = other.load(std::memory_order_acquire) + offset;
    room = cached - pos;
  }
  return room;
}

// A zero-copy window onto ring slots: two segments because a run of slots may wrap past the array end.
// `index` is the free-running index of first[0].
template <class T>
struct window {
  std::span<T> first;
  std::span<T> second;
  std::uint32_t index = 0;
  std::size_t size() const noexcept { return first.size() + second.size(); }
  bool empty() const noexcept { return size() == 0; }
  T& operator[](std::size_t i) const noexcept { return i < first.size() ? first[i] : second[i - first.size()]; }
};

// Splits n slots starting at index over an array of `size` slots.
template <class T>
window<T> make_window(T* slots, std::uint32_t mask, std::uint32_t index, std::uint32_t n) noexcept {
  const std::uint32_t at = index & mask;
  const std::uint32_t first = (mask + 1 - at) < n ? (mask + 1 - at) : n;
  return {std::span<T>(slots + at, first), std::span<T>(slots, n - first), index};
}

// Prefetches the cache lines under slots [index, index + n) (two runs at the wrap). Write = prefetchw:
// the line is taken exclusive before the stores reach it, so the invalidation of the other core's copy
// (a core-to-core round trip) overlaps other work instead of holding up the store buffer. A hint only:
// it changes no memory and needs no ordering. The callers bound n.
template <bool Write>
void prefetch_lines(const void* from, std::size_t bytes) noexcept {
  // From the line holding the first byte (slots need not start on a line), counted in lines.
  if (bytes == 0) return;
  const auto first = reinterpret_cast<std::uintptr_t>(from) / cache_line_bytes;
  const auto lines = (reinterpret_cast<std::uintptr_t>(from) + bytes - 1) / cache_line_bytes - first + 1;
  for (std::uintptr_t i = 0; i < lines; ++i) {
    const auto* line = reinterpret_cast<const char*>((first + i) * cache_line_bytes);
#if defined(__x86_64__) || defined(__i386__)
    // Not __builtin_prefetch: GCC 12 takes it for free of side effects and deletes a loop of them whose
    // trip count it cannot see (the whole function came out empty). prefetchw is 0F 0D, a NOP where the
    // CPU lacks it.
    if constexpr (Write) asm volatile("prefetchw (%0)" ::"r"(line));
    else asm volatile("prefetcht0 (%0)" ::"r"(line));
#else
    __builtin_prefetch(line, Write ? 1 : 0, 3);
#endif
  }
}
template <bool Write, class T>
void prefetch_slots(T* slots, std::uint32_t mask, std::uint32_t index, std::uint32_t n) noexcept {
  const auto w = make_window(slots, mask, index, n);
  prefetch_lines<Write>(w.first.data(), w.first.size_bytes());
  prefetch_lines<Write>(w.second.data(), w.second.size_bytes());
}

// Raw slot storage, aligned to a cache line; objects are constructed in it only while in the ring.
template <class T>
class slot_storage {
 public:
  explicit slot_storage(std::uint32_t size)
      : p_(static_cast<T*>(::operator new(sizeof(T) * size, std::align_val_t{align}))) {}
  ~slot_storage() { ::operator delete(p_, std::align_val_t{align}); }
  slot_storage(const slot_storage&) = delete;
  slot_storage& operator=(const slot_storage&) = delete;
  T* get() const noexcept { return p_; }

  // Copies items[0, n) into the slots of indices index .. index + n - 1 (two runs at the wrap); a
  // non-trivial T is constructed in place, so its lifetime starts here.
  void put(std::uint32_t mask, std::uint32_t index, const T* items, std::uint32_t n) noexcept {
    if constexpr (std::is_trivially_copyable_v<T>) {
      const auto w = make_window(p_, mask, index, n);
      std::copy_n(items, w.first.size(), w.first.data());
      std::copy_n(items + w.first.size(), w.second.size(), w.second.data());
    } else {
      for (std::uint32_t k = 0; k < n; ++k) std::construct_at(p_ + ((index + k) & mask), items[k]);
    }
  }
  // Moves the slots of indices index .. index + n - 1 into out[0, n) and ends their lifetime.
  void take(std::uint32_t mask, std::uint32_t index, T* out, std::uint32_t n) noexcept {
    if constexpr (std::is_trivially_copyable_v<T>) {
      const auto w = make_window<const T>(p_, mask, index, n);
      std::copy_n(w.first.data(), w.first.size(), out);
      std::copy_n(w.second.data(), w.second.size(), out + w.first.size());
    } else {
      for (std::uint32_t k = 0; k < n; ++k) {
        T* s = p_ + ((index + k) & mask);
        out[k] = std::move(*s);
        std::destroy_at(s);
      }
    }
  }
  // Ends the lifetime of the objects in indices [from, to): what a ring still holds when destroyed.
  void destroy(std::uint32_t mask, std::uint32_t from, std::uint32_t to) noexcept {
    for (std::uint32_t i = from; i != to; ++i) std::destroy_at(p_ + (i & mask));
  }

 private:
  static constexpr std::size_t align = alignof(T) > cache_line_bytes ? alignof(T) : cache_line_bytes;
  T* p_;
};

// The four calls every design offers, written once over the design's
//   put(items, bulk, first_slot) / get(out, bulk, first_slot)
// (both return how many moved): a burst moves what fits, a bulk all or nothing. Empty spans succeed.
// Derived makes this base a friend when its put/get are private.
template <class Derived, class T>
class burst_and_bulk {
 public:
  std::size_t enqueue_burst(std::span<const T> items, std::uint32_t* first_slot = nullptr) noexcept {
    return self().put(items, false, first_slot);
  }
  bool enqueue_bulk(std::span<const T> items, std::uint32_t* first_slot = nullptr) noexcept {
    return items.empty() || self().put(items, true, first_slot) != 0;
  }
  std::size_t dequeue_burst(std::span<T> out, std::uint32_t* first_slot = nullptr) noexcept {
    return self().get(out, false, first_slot);
  }
  bool dequeue_bulk(std::span<T> out, std::uint32_t* first_slot = nullptr) noexcept {
    return out.empty() || self().get(out, true, first_slot) != 0;
  }

 private:
  Derived& self() noexcept { return static_cast<Derived&>(*this); }
};

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace ringlab::rings
