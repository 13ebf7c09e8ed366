#include "port/frame_pool.hpp"

#include <bit>
#include <cstdlib>
#include <new>
#include <stdexcept>

namespace ringlab::port {

frame_pool::frame_pool(frame_pool_config cfg) : cfg_(cfg) {
  if (cfg_.frames == 0 || !std::has_single_bit(cfg_.frame_size) || cfg_.headroom >= cfg_.frame_size)
    throw std::invalid_argument("frame_pool: frames must be > 0, frame_size a power of two, headroom < frame_size");
  // Page alignment: the area could be registered as a real UMEM.
  // aligned_alloc wants the size to be a multiple of the alignment (ASan enforces it): round up.
  const std::size_t bytes = (std::size_t{cfg_.frames} * cfg_.frame_size + 4095) & ~std::size_t{4095};
  area_ = static_cast<std::byte*>(std::aligned_alloc(4096, bytes));
  if (!area_) throw std::bad_alloc();
  free_.reserve(cfg_.frames);
  for (std::uint32_t i = cfg_.frames; i-- > 0;) free_.push_back(i);  // frame 0 is handed out first
  is_out_.assign(cfg_.frames, 0);
}

frame_pool::~frame_pool() { std::free(area_); }

std::size_t frame_pool::alloc_burst(std::span<frame_ref> out) noexcept {
  std::size_t n = 0;
  {
    std::lock_guard lk(mu_);
    n = std::min(out.size(), free_.size());
    for (std::size_t i = 0; i < n; ++i) {
      const frame_id id = free_.back();
      free_.pop_back();
      is_out_[id] = 1;
      out[i] = frame_ref{id, {data(id), room()}, {}};
    }
  }
  out_.fetch_add(static_cast<std::uint32_t>(n), std::memory_order_relaxed);
  if (n < out.size()) alloc_failures_.fetch_add(out.size() - n, std::memory_order_relaxed);
  return n;
}

frame_ref frame_pool::alloc() noexcept {
  frame_ref f;
  alloc_burst({&f, 1});
  return f;
}

bool frame_pool::owns(const frame_ref& f) const noexcept {
  return f.id < cfg_.frames && f.bytes.data() >= data(f.id) - cfg_.headroom &&
         f.bytes.data() + f.bytes.size() <= area_ + (std::size_t{f.id} + 1) * cfg_.frame_size;
}

template <class Range, class IdOf>
void frame_pool::give_back(const Range& r, IdOf id_of) noexcept {
  std::uint32_t freed = 0, bad = 0;
  {
    std::lock_guard lk(mu_);
    for (const auto& x : r) {
      const frame_id id = id_of(x);
      if (id >= cfg_.frames || !is_out_[id]) { ++bad; continue; }
      is_out_[id] = 0;
      free_.push_back(id);
      ++freed;
    }
  }
  out_.fetch_sub(freed, std::memory_order_relaxed);
  if (bad) bad_frees_.fetch_add(bad, std::memory_order_relaxed);
}

void frame_pool::free_burst(std::span<const frame_ref> frames) noexcept {
  give_back(frames, [](const frame_ref& f) { return f.id; });
}

void frame_pool::free_ids(std::span<const frame_id> ids) noexcept {
  give_back(ids, [](frame_id id) { return id; });
}

}  // namespace ringlab::port
