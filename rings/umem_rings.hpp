#pragma once
// umem_rings: the AF_XDP set (Documentation/networking/af_xdp.rst) over one frame area addressed by
// offset: FILL (user -> kernel: empty frames), RX (kernel -> user: received frames), TX (user -> kernel:
// frames to send), COMPLETION (kernel -> user: sent frames to reuse). Every ring is single-producer,
// single-consumer; a frame's address travels through them and the bytes never move.
//
//   user ──fill──► kernel ──rx──► user ──tx──► kernel ──comp──► user ──fill──► ...
//
// Each ring's memory is laid out like the kernel's struct xdp_ring (net/xdp/xsk_queue.h): producer at
// offset 0, consumer 128 bytes later, flags after, descriptors on the next line. Both sides drive it
// through libxdp's inline functions (headers/xdp/xsk.h), rewritten here over std::atomic_ref: a view
// {cached_prod, cached_cons, mask, size, producer*, consumer*, ring*, flags*} - the same fields as
// libxdp's DEFINE_XSK_RING, so a view built from a real socket's mmap offsets (XDP_MMAP_OFFSETS) runs
// the same code. The simulated kernel uses the same functions for its side (the kernel's xskq_* do the
// same with their own cached indices).
//
// Memory orders, per ring (libxdp and xsk_queue.h name them by barrier letter; here):
//   R1 release producer in prod_submit():  pairs with A1 in cons_nb_avail(): descriptors written
//   R2 release consumer in cons_release(): pairs with A2 in prod_nb_free(): descriptors read
//
// Frames: aligned mode. Frame i sits at offset i * frame_size; an RX descriptor's addr includes the
// headroom (addr = frame base + headroom, as the kernel reports in copy mode); FILL takes frame bases.
#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <linux/if_xdp.h>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>
#include <type_traits>

#include "rings/ring_index.hpp"

namespace ringlab::rings {

// struct xdp_desc of <linux/if_xdp.h>, checked below.
struct xdp_desc_t {
  std::uint64_t addr;
  std::uint32_t len;
  std::uint32_t options;
};
static_assert(sizeof(xdp_desc_t) == sizeof(::xdp_desc) && offsetof(xdp_desc_t, len) == offsetof(::xdp_desc, len));

// The kernel's struct xdp_ring (____cacheline_aligned_in_smp fields, 64-byte lines on x86).
struct xdp_ring_header {
  alignas(cache_line_bytes) std::uint32_t producer;  // (P) written by the producing side only
  alignas(cache_line_bytes) std::uint32_t pad1;
  alignas(cache_line_bytes) std::uint32_t consumer;  // (C) written by the consuming side only
  alignas(cache_line_bytes) std::uint32_t pad2;
  alignas(cache_line_bytes) std::uint32_t flags;     // (k) XDP_RING_NEED_WAKEUP
  alignas(cache_line_bytes) std::uint32_t pad3;
};
static_assert(std::is_standard_layout_v<xdp_ring_header>);
static_assert(offsetof(xdp_ring_header, consumer) - offsetof(xdp_ring_header, producer) == block_bytes,
              "producer and consumer sit 128 bytes apart, as in the kernel's xdp_ring");
static_assert(sizeof(xdp_ring_header) == 384);

namespace xsk {

// libxdp's DEFINE_XSK_RING. Two types so a producer view cannot be passed where a consumer is meant.
struct ring_fields {
  std::uint32_t cached_prod;
  std::uint32_t cached_cons;  // producer views keep consumer + size here (xsk.h's trick)
  std::uint32_t mask;
  std::uint32_t size;
  std::uint32_t* producer;
  std::uint32_t* consumer;
  void* ring;
  std::uint32_t* flags;
};
struct prod_ring : ring_fields {};
struct cons_ring : ring_fields {};

inline std::uint32_t load_acquire(std::uint32_t* p) noexcept {
  return std::atomic_ref<std::uint32_t>(*p).load(std::memory_order_acquire);
}
inline std::uint32_t load_own(std::uint32_t* p) noexcept {
  return std::atomic_ref<std::uint32_t>(*p).load(std::memory_order_relaxed);
}

// xsk_prod_nb_free: free entries, reloading the consumer index only when the cache says fewer than nb.
inline std::uint32_t prod_nb_free(prod_ring& r, std::uint32_t nb) noexcept {
  const std::uint32_t free_entries = r.cached_cons - r.cached_prod;
  if (free_entries >= nb) return free_entries;
  r.cached_cons = load_acquire(r.consumer) + r.size;  // A2 acquire: pairs with R2 in cons_release()
  return r.cached_cons - r.cached_prod;
}
// xsk_cons_nb_avail. libxdp reloads only at zero; this reloads whenever short of nb, so that a bulk
// peek does not fail on a stale cache.
inline std::uint32_t cons_nb_avail(cons_ring& r, std::uint32_t nb) noexcept {
  std::uint32_t entries = r.cached_prod - r.cached_cons;
  if (entries < nb) {
    r.cached_prod = load_acquire(r.producer);  // A1 acquire: pairs with R1 in prod_submit()
    entries = r.cached_prod - r.cached_cons;
  }
  return entries > nb ? nb : entries;
}
// xsk_ring_prod__reserve: all nb or nothing.
inline std::uint32_t prod_reserve(prod_ring& r, std::uint32_t nb, std::uint32_t* idx) noexcept {
  if (prod_nb_free(r, nb) < nb) return 0;
  *idx = r.cached_prod;
  r.cached_prod += nb;
  return nb;
}
inline void prod_submit(prod_ring& r, std::uint32_t nb) noexcept {
  // R1 release: pairs with A1 in cons_nb_avail(): descriptors are written before the index moves.
  std::atomic_ref<std::uint32_t>(*r.producer).store(load_own(r.producer) + nb, std::memory_order_release);
}
// xsk_ring_cons__peek: up to nb.
inline std::uint32_t cons_peek(cons_ring& r, std::uint32_t nb, std::uint32_t* idx) noexcept {
  const std::uint32_t entries = cons_nb_avail(r, nb);
  if (entries > 0) {
    *idx = r.cached_cons;
    r.cached_cons += entries;
  }
  return entries;
}
inline void cons_cancel(cons_ring& r, std::uint32_t nb) noexcept { r.cached_cons -= nb; }
inline void cons_release(cons_ring& r, std::uint32_t nb) noexcept {
  // R2 release: pairs with A2 in prod_nb_free(): descriptors are read before the slots are reused.
  std::atomic_ref<std::uint32_t>(*r.consumer).store(load_own(r.consumer) + nb, std::memory_order_release);
}
template <class Desc>
Desc& desc(const ring_fields& r, std::uint32_t idx) noexcept {
  return static_cast<Desc*>(r.ring)[idx & r.mask];
}

}  // namespace xsk

// One ring's memory: the header followed by size descriptors, as the kernel maps it.
template <class Desc>
class xdp_ring_memory {
 public:
  xdp_ring_memory(std::uint32_t size, std::uint32_t initial_index)
      : size_(ring_size_for(size)),
        mem_(static_cast<std::byte*>(::operator new(sizeof(xdp_ring_header) + sizeof(Desc) * size_,
                                                    std::align_val_t{block_bytes}))) {
    auto* h = new (mem_) xdp_ring_header{};
    h->producer = h->consumer = initial_index;
  }
  ~xdp_ring_memory() { ::operator delete(mem_, std::align_val_t{block_bytes}); }
  xdp_ring_memory(const xdp_ring_memory&) = delete;
  xdp_ring_memory& operator=(const xdp_ring_memory&) = delete;

  xdp_ring_header& header() const noexcept { return *reinterpret_cast<xdp_ring_header*>(mem_); }
  Desc* descs() const noexcept { return reinterpret_cast<Desc*>(mem_ + sizeof(xdp_ring_header)); }
  std::uint32_t size() const noexcept { return size_; }
  // The views libxdp's xsk_ring_prod/cons would hold after xsk_socket__create().
  xsk::prod_ring producer_view() const noexcept {
    xsk::prod_ring r{fields()};
    r.cached_prod = header().producer;
    r.cached_cons = header().consumer + size_;
    return r;
  }
  xsk::cons_ring consumer_view() const noexcept {
    xsk::cons_ring r{fields()};
    r.cached_prod = header().producer;
    r.cached_cons = header().consumer;
    return r;
  }

 private:
  xsk::ring_fields fields() const noexcept {
    auto& h = header();
    return {0, 0, size_ - 1, size_, &h.producer, &h.consumer, descs(), &h.flags};
  }
  std::uint32_t size_;
  std::byte* mem_;
};

struct umem_config {
  std::uint32_t frames = 4096;
  std::uint32_t frame_size = 2048;   // a power of two (aligned chunk mode)
  std::uint32_t headroom = 256;      // what copy mode reports on this kernel
  std::uint32_t ring_size = 2048;    // fill, completion, rx and tx
  std::uint32_t initial_index = 0;   // all four rings' producer/consumer start here (tests start near 2^32)
};

class umem_rings {
 public:
  explicit umem_rings(umem_config cfg)
      : cfg_(cfg), area_(static_cast<std::byte*>(::operator new(std::size_t{cfg.frames} * cfg.frame_size,
                                                                std::align_val_t{4096}))),
        fill_mem_(cfg.ring_size, cfg.initial_index), comp_mem_(cfg.ring_size, cfg.initial_index),
        rx_mem_(cfg.ring_size, cfg.initial_index), tx_mem_(cfg.ring_size, cfg.initial_index) {
    if (cfg.frame_size == 0 || (cfg.frame_size & (cfg.frame_size - 1)) || cfg.headroom >= cfg.frame_size ||
        cfg.frames == 0)
      throw std::invalid_argument("umem_rings: frame_size a power of two above headroom, frames > 0");
    user_.fill = fill_mem_.producer_view();
    user_.comp = comp_mem_.consumer_view();
    user_.rx = rx_mem_.consumer_view();
    user_.tx = tx_mem_.producer_view();
    kern_.fill = fill_mem_.consumer_view();
    kern_.comp = comp_mem_.producer_view();
    kern_.rx = rx_mem_.producer_view();
    kern_.tx = tx_mem_.consumer_view();
  }
  ~umem_rings() { ::operator delete(area_, std::align_val_t{4096}); }
  umem_rings(const umem_rings&) = delete;
  umem_rings& operator=(const umem_rings&) = delete;

  // ---- application side (one thread) ----
  xsk::prod_ring& fill() noexcept { return user_.fill; }
  xsk::cons_ring& comp() noexcept { return user_.comp; }
  xsk::cons_ring& rx() noexcept { return user_.rx; }
  xsk::prod_ring& tx() noexcept { return user_.tx; }
  // xsk_umem__get_data
  std::byte* data(std::uint64_t addr) const noexcept { return area_ + addr; }
  std::uint64_t frame_base(std::uint64_t addr) const noexcept { return addr & ~std::uint64_t{cfg_.frame_size - 1}; }
  // What an application does first: hand frames [first, first + n) to the kernel on the fill ring.
  std::uint32_t fill_frames(std::uint32_t first, std::uint32_t n) noexcept {
    std::uint32_t idx = 0;
    if (xsk::prod_reserve(user_.fill, n, &idx) != n) return 0;
    for (std::uint32_t i = 0; i < n; ++i)
      xsk::desc<std::uint64_t>(user_.fill, idx + i) = std::uint64_t{first + i} * cfg_.frame_size;
    xsk::prod_submit(user_.fill, n);
    return n;
  }

  // ---- simulated kernel side (one thread) ----
  // Receive up to n packets (all n or none when bulk): each takes a frame from FILL, fill(room) writes
  // the packet after the headroom and returns its length, and an RX descriptor reports it.
  template <class Fill>
  std::uint32_t kernel_rx(std::uint32_t n, bool bulk, Fill&& fill, std::uint32_t* first_slot = nullptr) noexcept {
    std::uint32_t k = xsk::cons_nb_avail(kern_.fill, n);
    k = std::min(k, xsk::prod_nb_free(kern_.rx, k));
    if (bulk && k != n) return 0;
    if (k == 0) return 0;
    std::uint32_t fi = 0, ri = 0;
    xsk::cons_peek(kern_.fill, k, &fi);
    xsk::prod_reserve(kern_.rx, k, &ri);
    if (first_slot) *first_slot = ri & kern_.rx.mask;
    for (std::uint32_t i = 0; i < k; ++i) {
      const std::uint64_t base = frame_base(xsk::desc<std::uint64_t>(kern_.fill, fi + i));
      const std::uint64_t addr = base + cfg_.headroom;
      const auto len = static_cast<std::uint32_t>(fill(std::span<std::byte>(area_ + addr, cfg_.frame_size - cfg_.headroom)));
      xsk::desc<xdp_desc_t>(kern_.rx, ri + i) = {addr, len, 0};
    }
    xsk::cons_release(kern_.fill, k);
    xsk::prod_submit(kern_.rx, k);
    return k;
  }
  // Send up to n descriptors from TX: send(bytes) sees each packet in place; its address then goes
  // to COMPLETION (the kernel stops when COMPLETION is full, as the real one does).
  template <class Send>
  std::uint32_t kernel_tx(std::uint32_t n, Send&& send) noexcept {
    std::uint32_t k = xsk::cons_nb_avail(kern_.tx, n);
    k = std::min(k, xsk::prod_nb_free(kern_.comp, k));
    if (k == 0) return 0;
    std::uint32_t ti = 0, ci = 0;
    xsk::cons_peek(kern_.tx, k, &ti);
    xsk::prod_reserve(kern_.comp, k, &ci);
    for (std::uint32_t i = 0; i < k; ++i) {
      const xdp_desc_t d = xsk::desc<xdp_desc_t>(kern_.tx, ti + i);
      send(std::span<const std::byte>(area_ + d.addr, d.len));
      xsk::desc<std::uint64_t>(kern_.comp, ci + i) = d.addr;
    }
    xsk::cons_release(kern_.tx, k);
    xsk::prod_submit(kern_.comp, k);
    return k;
  }

  const umem_config& config() const noexcept { return cfg_; }
  // The raw rings, e.g. to check the layout or to count entries when quiescent.
  const xdp_ring_memory<std::uint64_t>& fill_memory() const noexcept { return fill_mem_; }
  const xdp_ring_memory<std::uint64_t>& comp_memory() const noexcept { return comp_mem_; }
  const xdp_ring_memory<xdp_desc_t>& rx_memory() const noexcept { return rx_mem_; }
  const xdp_ring_memory<xdp_desc_t>& tx_memory() const noexcept { return tx_mem_; }

 private:
  struct user_side {  // the application produces FILL and TX, consumes RX and COMPLETION
    xsk::prod_ring fill{}, tx{};
    xsk::cons_ring comp{}, rx{};
  };
  struct kernel_side {  // and the kernel the other way round
    xsk::cons_ring fill{}, tx{};
    xsk::prod_ring comp{}, rx{};
  };
  umem_config cfg_;
  std::byte* area_;
  xdp_ring_memory<std::uint64_t> fill_mem_, comp_mem_;
  xdp_ring_memory<xdp_desc_t> rx_mem_, tx_mem_;
  alignas(block_bytes) user_side user_;  // (u) the application's cached views
  alignas(block_bytes) kernel_side kern_;  // (k) the kernel's cached views
};

// A typed queue over FILL + RX: the producer plays the kernel (one item = one packet of sizeof(T)
// bytes written into a frame), the consumer is the application, which copies the item out and puts
// the frame straight back on FILL. frames = ring size, so RX can never overflow. Registry: "umem".
template <class T>
class umem_queue : public burst_and_bulk<umem_queue<T>, T> {
  friend class burst_and_bulk<umem_queue<T>, T>;
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  explicit umem_queue(std::size_t capacity, std::uint32_t initial_index = 0)
      : u_(config(capacity, initial_index)) {
    u_.fill_frames(0, u_.config().frames);
  }
  std::size_t capacity() const noexcept { return u_.config().ring_size; }
  std::size_t size() const noexcept {
    auto& h = u_.rx_memory().header();
    return std::atomic_ref<std::uint32_t>(h.producer).load(std::memory_order_acquire) -
           std::atomic_ref<std::uint32_t>(h.consumer).load(std::memory_order_acquire);
  }
  umem_rings& rings() noexcept { return u_; }

 private:
  static umem_config config(std::size_t capacity, std::uint32_t initial_index) {
    const std::uint32_t n = ring_size_for(capacity);
    const auto frame = static_cast<std::uint32_t>(std::bit_ceil(sizeof(T) + 64));
    return {n, std::max<std::uint32_t>(frame, 128), 64, n, initial_index};
  }
  std::size_t put(std::span<const T> items, bool bulk, std::uint32_t* first_slot) noexcept {
    if (items.size() > capacity()) {
      if (bulk) return 0;
      items = items.first(capacity());
    }
    std::size_t k = 0;
    return u_.kernel_rx(
        static_cast<std::uint32_t>(items.size()), bulk,
        [&](std::span<std::byte> room) {
          std::memcpy(room.data(), &items[k++], sizeof(T));
          return sizeof(T);
        },
        first_slot);
  }
  std::size_t get(std::span<T> out, bool bulk, std::uint32_t* first_slot) noexcept {
    if (out.size() > capacity()) {
      if (bulk) return 0;
      out = out.first(capacity());
    }
    const auto want = static_cast<std::uint32_t>(out.size());
    std::uint32_t n = xsk::cons_nb_avail(u_.rx(), want);
    if (n == 0 || (bulk && n != want)) return 0;
    std::uint32_t ri = 0, fi = 0;
    xsk::cons_peek(u_.rx(), n, &ri);
    // Never fails: the frames on FILL plus those in RX are at most the ring size.
    xsk::prod_reserve(u_.fill(), n, &fi);
    if (first_slot) *first_slot = ri & u_.rx().mask;
    for (std::uint32_t i = 0; i < n; ++i) {
      const xdp_desc_t d = xsk::desc<xdp_desc_t>(u_.rx(), ri + i);
      std::memcpy(&out[i], u_.data(d.addr), sizeof(T));
      xsk::desc<std::uint64_t>(u_.fill(), fi + i) = u_.frame_base(d.addr);
    }
    xsk::cons_release(u_.rx(), n);
    xsk::prod_submit(u_.fill(), n);
    return n;
  }

  umem_rings u_;
};

}  // namespace ringlab::rings
