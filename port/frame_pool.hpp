#pragma once
// frame_pool: one contiguous area cut into equal frames, addressed by id (offset = id * frame_size),
// each with headroom in front of the packet, as an AF_XDP UMEM is. The pool counts frames out and
// back: out() must return to zero when a run ends, or a frame leaked.
//
//   area: | hdroom | packet ...        | hdroom | packet ...        | ...
//         ^ frame 0 (frame_size bytes) ^ frame 1
//
// Two ways in, as DPDK's mempool has:
//   - the shared free list (alloc_burst/free_burst on the pool), guarded by a mutex taken once per call;
//   - a lane's own `frame_pool::cache` (rte_mempool_cache): a fixed array of free frame ids that one
//     thread allocates from and frees into without a lock, refilled from / flushed to the shared list
//     in bulk (one lock per `size` frames instead of one per burst). Lanes that share a pool then meet
//     on its mutex only when a cache runs empty or full.
//
// Accounting: a frame is "out" while a user holds it; frames in the shared list or in a cache are not
// out. out() is exact when the threads using the pool are quiescent (a leak check at the end of a run);
// sampled while they run it may be off by a burst in flight. Double frees and foreign frames are caught
// on both ways in (counted in bad_frees, never applied); allocation failures are counted on both.
//
// Thread safety: the pool's own alloc/free may be called from any thread; a cache belongs to one thread
// at a time (its lane). Counters are relaxed atomics that a reader samples.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <system_error>
#include <vector>

#include "port/frame_ref.hpp"

namespace ringlab::port {

struct frame_pool_config {
  std::uint32_t frames = 4096;
  std::uint32_t frame_size = 2048;   // a power of two, as UMEM chunk sizes are
  std::uint32_t headroom = 256;      // AF_XDP copy mode gives 256 B too
};

class frame_pool {
 public:
  class cache;

  explicit frame_pool(frame_pool_config cfg = {});
  frame_pool(const frame_pool&) = delete;
  frame_pool& operator=(const frame_pool&) = delete;
  ~frame_pool();

  // Takes up to out.size() frames; returns how many it took (fewer when the pool runs dry).
  // Each frame's bytes span the whole room after the headroom; set its length by shrinking bytes.
  std::size_t alloc_burst(std::span<frame_ref> out) noexcept;
  frame_ref alloc() noexcept;                       // invalid frame_ref when empty
  void free_burst(std::span<const frame_ref> frames) noexcept;
  void free(const frame_ref& f) noexcept { free_burst({&f, 1}); }
  void free_ids(std::span<const frame_id> ids) noexcept;

  // Address arithmetic, as UMEM's: frame id <-> area offset <-> bytes.
  std::byte* data(frame_id id) noexcept { return area_ + std::size_t{id} * cfg_.frame_size + cfg_.headroom; }
  const std::byte* data(frame_id id) const noexcept { return area_ + std::size_t{id} * cfg_.frame_size + cfg_.headroom; }
  std::size_t room() const noexcept { return cfg_.frame_size - cfg_.headroom; }
  frame_ref ref(frame_id id, std::size_t len) noexcept { return {id, {data(id), len}, {}}; }
  bool owns(const frame_ref& f) const noexcept;

  std::span<std::byte> area() noexcept { return {area_, std::size_t{cfg_.frames} * cfg_.frame_size}; }
  const frame_pool_config& config() const noexcept { return cfg_; }

  // Counters: frames held by users now (not in the shared list, not in a cache), and allocation
  // failures (rx_nombuf in NIC terms).
  std::uint32_t out() const noexcept;
  std::uint32_t available() const noexcept { return cfg_.frames - out(); }
  std::uint64_t alloc_failures() const noexcept { return alloc_failures_.load(std::memory_order_relaxed); }
  // A double free or a foreign frame: counted, never applied (it would corrupt the free list).
  std::uint64_t bad_frees() const noexcept { return bad_frees_.load(std::memory_order_relaxed); }
  // Times the shared free list's mutex was taken by an alloc or a free (direct, or a cache's refill /
  // flush): where lanes sharing the pool meet. Divide by packets for the per-packet figure.
  std::uint64_t lock_acquisitions() const noexcept { return locks_.load(std::memory_order_relaxed); }

 private:
  friend class cache;
  // Shared-list primitives, each one lock: take up to n free ids (the warmest first when top_first,
  // else last, for a cache's top); put ids the caller already checked and marked free.
  std::size_t take(frame_id* to, std::size_t n, bool top_first) noexcept;
  void put(const frame_id* from, std::size_t n) noexcept;
  // Marks a frame free; false for a double free or a foreign id (then counted as a bad free).
  bool release_one(frame_id id) noexcept {
    if (id >= cfg_.frames || state_[id].load(std::memory_order_relaxed) == 0) return false;
    state_[id].store(0, std::memory_order_relaxed);
    return true;
  }
  void mark_out(frame_id id) noexcept { state_[id].store(1, std::memory_order_relaxed); }
  template <class Range, class IdOf>
  void give_back(const Range& r, IdOf id_of) noexcept;

  frame_pool_config cfg_;
  std::byte* area_ = nullptr;
  mutable std::mutex mu_;
  std::vector<frame_id> free_;           // guarded by mu_
  std::vector<cache*> caches_;           // guarded by mu_: registered caches (out() sums them)
  // Per frame: 1 while a user holds it, 0 while free (shared list or a cache). Relaxed atomics: each
  // frame is handed between threads through the mutex or the caller's own hand-off; the check only
  // needs a defined read when a buggy caller frees a frame it does not hold.
  std::unique_ptr<std::atomic<std::uint8_t>[]> state_;
  std::atomic<std::int64_t> direct_out_{0};   // out through the pool's own alloc/free
  std::atomic<std::uint64_t> alloc_failures_{0};
  std::atomic<std::uint64_t> bad_frees_{0};
  std::atomic<std::uint64_t> locks_{0};        // written under mu_
};

// A lane's cache of free frames (DPDK's rte_mempool_cache, with its get/put rules): one thread at a
// time allocates and frees through it. Alloc takes from the top of the array and, when short, refills
// it from the shared list with `size` frames plus the shortfall, in one lock. Free pushes onto the
// array and, when that would pass the flush threshold (1.5 x size, as DPDK's), first gives the whole
// array back to the shared list, in one lock. A burst larger than the cache goes to the shared list
// directly. The destructor gives every cached frame back; the pool must outlive its caches.
class frame_pool::cache {
 public:
  static constexpr std::uint32_t max_size = 512;   // RTE_MEMPOOL_CACHE_MAX_SIZE

  // size: frames kept; 0 < size <= max_size (std::invalid_argument otherwise).
  explicit cache(frame_pool& pool, std::uint32_t size = 256);
  cache(const cache&) = delete;
  cache& operator=(const cache&) = delete;
  ~cache();

  std::size_t alloc_burst(std::span<frame_ref> out) noexcept;
  // One frame (invalid when the pool is dry); inline: sim_nic's ingest takes its frames one at a time.
  frame_ref alloc() noexcept {
    if (len_ == 0) [[unlikely]] return alloc_refill();
    const frame_id id = objs_[--len_];
    pool_.mark_out(id);
    add_out(1);
    return pool_.ref(id, pool_.room());
  }
  void free_burst(std::span<const frame_ref> frames) noexcept;
  void free(const frame_ref& f) noexcept { free_burst({&f, 1}); }
  void free_ids(std::span<const frame_id> ids) noexcept;
  // Gives every cached frame back to the shared list (one lock when not empty).
  void flush() noexcept;

  frame_pool& pool() noexcept { return pool_; }
  std::uint32_t size() const noexcept { return size_; }
  std::uint32_t flush_threshold() const noexcept { return flush_threshold_; }
  std::uint32_t cached() const noexcept { return len_; }   // the owning thread's view

 private:
  friend class frame_pool;
  frame_ref alloc_refill() noexcept;
  template <class Range, class IdOf>
  void put(const Range& r, IdOf id_of) noexcept;
  // Single writer (the owning thread); out() reads it from others: frames handed out minus taken back.
  void add_out(std::int64_t n) noexcept {
    net_out_.store(net_out_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  frame_pool& pool_;
  std::uint32_t size_;
  std::uint32_t flush_threshold_;
  std::uint32_t len_ = 0;
  alignas(64) std::atomic<std::int64_t> net_out_{0};
  std::array<frame_id, max_size * 2> objs_;   // room for flush_threshold + a refill's shortfall
};

}  // namespace ringlab::port
