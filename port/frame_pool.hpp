#pragma once
// frame_pool: one contiguous area cut into equal frames, addressed by id (offset = id * frame_size),
// each with headroom in front of the packet, as an AF_XDP UMEM is. The pool counts frames out and
// back: out() must return to zero when a run ends, or a frame leaked.
//
//   area: | hdroom | packet ...        | hdroom | packet ...        | ...
//         ^ frame 0 (frame_size bytes) ^ frame 1
//
// Thread safety: alloc/free may be called from any thread. The free list is guarded by a mutex taken
// once per burst (callers allocate and free in bursts, so the cost per frame is small); the counters
// are relaxed atomics that a reader samples.
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

  // Counters: frames handed out now, and allocation failures (rx_nombuf in NIC terms).
  std::uint32_t out() const noexcept { return out_.load(std::memory_order_relaxed); }
  std::uint32_t available() const noexcept { return cfg_.frames - out(); }
  std::uint64_t alloc_failures() const noexcept { return alloc_failures_.load(std::memory_order_relaxed); }
  // A double free or a foreign frame: counted, never applied (it would corrupt the free list).
  std::uint64_t bad_frees() const noexcept { return bad_frees_.load(std::memory_order_relaxed); }

 private:
  template <class Range, class IdOf>
  void give_back(const Range& r, IdOf id_of) noexcept;

  frame_pool_config cfg_;
  std::byte* area_ = nullptr;
  std::mutex mu_;
  std::vector<frame_id> free_;           // guarded by mu_
  std::vector<std::uint8_t> is_out_;     // guarded by mu_: catches double frees
  std::atomic<std::uint32_t> out_{0};
  std::atomic<std::uint64_t> alloc_failures_{0};
  std::atomic<std::uint64_t> bad_frees_{0};
};

}  // namespace ringlab::port
