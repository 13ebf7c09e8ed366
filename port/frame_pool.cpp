#include "port/frame_pool.hpp"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>

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
  state_ = std::make_unique<std::atomic<std::uint8_t>[]>(cfg_.frames);
  for (std::uint32_t i = 0; i < cfg_.frames; ++i) state_[i].store(0, std::memory_order_relaxed);
}

frame_pool::~frame_pool() { std::free(area_); }

std::size_t frame_pool::take(frame_id* to, std::size_t n, bool top_first) noexcept {
  std::lock_guard lk(mu_);
  locks_.store(locks_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  n = std::min(n, free_.size());
  std::copy(free_.end() - static_cast<std::ptrdiff_t>(n), free_.end(), to);
  // LIFO: the frame freed last is the warmest. A burst gets it first; a cache gets it on its top.
  if (top_first) std::reverse(to, to + n);
  free_.resize(free_.size() - n);
  return n;
}

void frame_pool::put(const frame_id* from, std::size_t n) noexcept {
  std::lock_guard lk(mu_);
  locks_.store(locks_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  free_.insert(free_.end(), from, from + n);
}

std::size_t frame_pool::alloc_burst(std::span<frame_ref> out) noexcept {
  frame_id ids[64];
  std::size_t total = 0;
  while (total < out.size()) {
    const std::size_t want = std::min(std::size(ids), out.size() - total);
    const std::size_t n = take(ids, want, true);
    for (std::size_t i = 0; i < n; ++i) {
      mark_out(ids[i]);
      out[total + i] = frame_ref{ids[i], {data(ids[i]), room()}, {}};
    }
    total += n;
    if (n < want) break;
  }
  direct_out_.fetch_add(static_cast<std::int64_t>(total), std::memory_order_relaxed);
  if (total < out.size()) alloc_failures_.fetch_add(out.size() - total, std::memory_order_relaxed);
  return total;
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
  frame_id ids[64];
  std::size_t n = 0;
  std::int64_t freed = 0;
  std::uint64_t bad = 0;
  for (const auto& x : r) {
    const frame_id id = id_of(x);
    if (!release_one(id)) { ++bad; continue; }
    ids[n++] = id;
    if (n == std::size(ids)) put(ids, n), freed += static_cast<std::int64_t>(n), n = 0;
  }
  if (n) put(ids, n), freed += static_cast<std::int64_t>(n);
  direct_out_.fetch_sub(freed, std::memory_order_relaxed);
  if (bad) bad_frees_.fetch_add(bad, std::memory_order_relaxed);
}

void frame_pool::free_burst(std::span<const frame_ref> frames) noexcept {
  give_back(frames, [](const frame_ref& f) { return f.id; });
}

void frame_pool::free_ids(std::span<const frame_id> ids) noexcept {
  give_back(ids, [](frame_id id) { return id; });
}

std::uint32_t frame_pool::out() const noexcept {
  std::int64_t n = direct_out_.load(std::memory_order_relaxed);
  {
    std::lock_guard lk(mu_);
    for (const cache* c : caches_) n += c->net_out_.load(std::memory_order_relaxed);
  }
  // A frame allocated on one lane and freed on another moves one cache's count up and the other's
  // down: only the sum means anything, and it is exact when the lanes are quiescent.
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(n, 0, cfg_.frames));
}

// ---------------------------------------------------------------- cache

frame_pool::cache::cache(frame_pool& pool, std::uint32_t size)
    : pool_(pool), size_(size), flush_threshold_(size + size / 2) {
  if (size == 0 || size > max_size)
    throw std::invalid_argument("frame_pool::cache: size must be 1.." + std::to_string(max_size));
  std::lock_guard lk(pool_.mu_);
  pool_.caches_.push_back(this);
}

frame_pool::cache::~cache() {
  flush();
  std::lock_guard lk(pool_.mu_);
  // The frames this cache handed out and took back count on in the pool's own figure.
  pool_.direct_out_.fetch_add(net_out_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  std::erase(pool_.caches_, this);
}

std::size_t frame_pool::cache::alloc_burst(std::span<frame_ref> out) noexcept {
  const std::size_t n = out.size();
  if (n > size_) return pool_.alloc_burst(out);   // larger than the cache: the shared list directly
  if (len_ < n) {
    // Refill up to the cache's size (at least n), in one lock, so that the next allocations hit. Taken
    // top first and handed out from the array's end: the frame order sim_nic's ingest had before
    // caches (a replay's trace events keep their frame ids).
    len_ += static_cast<std::uint32_t>(pool_.take(objs_.data() + len_, std::max<std::size_t>(size_, n) - len_, true));
  }
  const std::size_t k = std::min<std::size_t>(n, len_);
  std::byte* const base = pool_.data(0);
  const std::size_t frame_size = pool_.cfg_.frame_size, room = pool_.room();
  for (std::size_t i = 0; i < k; ++i) {
    const frame_id id = objs_[--len_];
    pool_.mark_out(id);
    out[i] = frame_ref{id, {base + std::size_t{id} * frame_size, room}, {}};
  }
  add_out(static_cast<std::int64_t>(k));
  if (k < n) pool_.alloc_failures_.fetch_add(n - k, std::memory_order_relaxed);
  return k;
}

frame_ref frame_pool::cache::alloc_refill() noexcept {
  frame_ref f;
  alloc_burst({&f, 1});
  return f;
}

template <class Range, class IdOf>
void frame_pool::cache::put(const Range& r, IdOf id_of) noexcept {
  const std::size_t n = r.size();
  if (n > size_) return pool_.give_back(r, id_of);   // larger than the cache: the shared list directly
  if (len_ + n > flush_threshold_) flush();
  std::uint64_t bad = 0;
  std::uint32_t len = len_;
  for (const auto& x : r) {
    const frame_id id = id_of(x);
    if (!pool_.release_one(id)) { ++bad; continue; }
    objs_[len++] = id;
  }
  add_out(-static_cast<std::int64_t>(len - len_));
  len_ = len;
  if (bad) pool_.bad_frees_.fetch_add(bad, std::memory_order_relaxed);
}

void frame_pool::cache::free_burst(std::span<const frame_ref> frames) noexcept {
  put(frames, [](const frame_ref& f) { return f.id; });
}

void frame_pool::cache::free_ids(std::span<const frame_id> ids) noexcept {
  put(ids, [](frame_id id) { return id; });
}

void frame_pool::cache::flush() noexcept {
  if (len_ == 0) return;
  pool_.put(objs_.data(), len_);
  len_ = 0;
}

}  // namespace ringlab::port
