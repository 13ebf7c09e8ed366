#pragma once
// The ring designs by name, for choosing one at run time (`ringlab rings`, sim_nic's --ring NAME).
// Each concrete ring has the same member functions as any_ring<T>; any_ring_of<Ring> forwards to them,
// so the virtual call is paid once per burst and the concrete class stays usable without it.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

#include "rings/any_ring.hpp"
#include "rings/batch_ring.hpp"
#include "rings/boost_mpmc_adapter.hpp"
#include "rings/boost_spsc_adapter.hpp"
#include "rings/mpmc_ring.hpp"
#include "rings/netmap_ring.hpp"
#include "rings/spsc_ring.hpp"
#include "rings/umem_rings.hpp"
#if RINGLAB_HAVE_DPDK
#include "rings/rte_ring_adapter.hpp"
#endif

namespace ringlab::rings {

struct design_info {
  std::string_view name, mirrors;
  bool multi_producer, multi_consumer;
};

inline std::span<const design_info> designs() {
  static constexpr design_info table[] = {
      {"spsc", "libxdp xsk.h / rigtorp SPSCQueue: cached opposite index, zero-copy reserve/peek", false, false},
      {"mpmc", "DPDK rte_ring (rte_ring_c11_pvt.h): head/tail, CAS on head; SP/SC modes", true, true},
      {"netmap", "netmap ring (sys/net/netmap.h): slots {buf_idx,len,flags}, head/cur/tail, sync", false, false},
      {"umem", "AF_XDP UMEM: fill/rx/tx/completion rings laid out like the kernel's xdp_ring", false, false},
      {"batch", "MCRingBuffer (Lee et al. 2010): spsc + head/tail published once per batch, private lines apart",
       false, false},
      {"boost-spsc", "boost::lockfree::spsc_queue (baseline)", false, false},
      {"boost-mpmc", "boost::lockfree::queue, Michael-Scott list over a node pool (baseline)", true, true},
#if RINGLAB_HAVE_DPDK
      {"rte-ring", "DPDK rte_ring itself (rte_ring_init on our memory, no EAL), MP/MC", true, true},
#endif
  };
  return table;
}

template <class Ring, class T>
class any_ring_of final : public any_ring<T> {
 public:
  template <class... Args>
  explicit any_ring_of(std::string_view name, Args&&... args) : name_(name), ring_(std::forward<Args>(args)...) {}
  std::size_t enqueue_burst(std::span<const T> items, std::uint32_t* first_slot = nullptr) noexcept override {
    return ring_.enqueue_burst(items, first_slot);
  }
  bool enqueue_bulk(std::span<const T> items, std::uint32_t* first_slot = nullptr) noexcept override {
    return ring_.enqueue_bulk(items, first_slot);
  }
  std::size_t dequeue_burst(std::span<T> out, std::uint32_t* first_slot = nullptr) noexcept override {
    return ring_.dequeue_burst(out, first_slot);
  }
  bool dequeue_bulk(std::span<T> out, std::uint32_t* first_slot = nullptr) noexcept override {
    return ring_.dequeue_bulk(out, first_slot);
  }
  std::size_t capacity() const noexcept override { return ring_.capacity(); }
  std::size_t size() const noexcept override { return ring_.size(); }
  std::string_view name() const noexcept override { return name_; }
  Ring& ring() noexcept { return ring_; }

 private:
  std::string_view name_;
  Ring ring_;
};

// A ring of the named design holding at least `capacity` items (designs round up to a power of two),
// or nullptr for an unknown name. A capacity a design cannot take throws std::invalid_argument.
template <class T>
std::unique_ptr<any_ring<T>> make_ring(std::string_view name, std::size_t capacity) {
  for (const design_info& d : designs()) {
    if (d.name != name) continue;
    const std::string_view n = d.name;  // static storage: the table's string
    if (n == "spsc") return std::make_unique<any_ring_of<spsc_ring<T>, T>>(n, capacity);
    if (n == "batch") return std::make_unique<any_ring_of<batch_ring<T>, T>>(n, capacity);
    if (n == "mpmc") return std::make_unique<any_ring_of<mpmc_ring<T>, T>>(n, capacity);
    if (n == "netmap") return std::make_unique<any_ring_of<netmap_queue<T>, T>>(n, capacity);
    if (n == "umem") return std::make_unique<any_ring_of<umem_queue<T>, T>>(n, capacity);
    if (n == "boost-spsc") return std::make_unique<any_ring_of<boost_spsc_adapter<T>, T>>(n, capacity);
    if (n == "boost-mpmc") return std::make_unique<any_ring_of<boost_mpmc_adapter<T>, T>>(n, capacity);
#if RINGLAB_HAVE_DPDK
    if constexpr (sizeof(T) % 4 == 0)
      if (n == "rte-ring") return std::make_unique<any_ring_of<rte_ring_adapter<T>, T>>(n, capacity);
#endif
  }
  return nullptr;
}

}  // namespace ringlab::rings
