#pragma once
// Every ring design and every mode it claims, as types for GoogleTest's typed suites (unit and stress).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

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

namespace ringlab::rings::test {

// A tagged item: who made it, its sequence number, and a check word that catches torn copies.
struct item {
  std::uint64_t seq;
  std::uint32_t producer;
  std::uint32_t check;
  static item make(std::uint32_t producer, std::uint64_t seq) {
    return {seq, producer, static_cast<std::uint32_t>((seq * 0x9e3779b97f4a7c15ull) >> 32) ^ producer};
  }
  bool valid() const { return check == make(producer, seq).check; }
  friend bool operator==(const item&, const item&) = default;
};

// The slot mask a design uses for a power-of-two capacity: rte_ring with RING_F_EXACT_SZ keeps its
// array one power of two larger than the capacity.
constexpr std::uint32_t slot_mask(std::string_view name, std::uint32_t cap) {
  return name.starts_with("rte-ring") ? 2 * cap - 1 : cap - 1;
}

// index_hook: the design takes an initial index (so wraparound at 2^32 can be tested);
// exact_slot: first_slot is the real masked slot index (boost's is a logical one).
#define RINGLAB_DESIGN(type, nm, mp, mc, hook, exact, ...)                                         \
  struct type {                                                                                    \
    static constexpr std::string_view name = nm;                                                   \
    static constexpr std::uint32_t mask_for(std::uint32_t cap) { return slot_mask(nm, cap); }      \
    static constexpr bool multi_producer = mp, multi_consumer = mc, index_hook = hook,             \
                          exact_slot = exact;                                                      \
    static auto make(std::size_t capacity, [[maybe_unused]] std::uint32_t initial = 0) { return __VA_ARGS__; } \
  }

RINGLAB_DESIGN(spsc_d, "spsc", false, false, true, true, std::make_unique<spsc_ring<item>>(capacity, initial));
RINGLAB_DESIGN(batch_d, "batch", false, false, true, true, std::make_unique<batch_ring<item>>(capacity, initial));
RINGLAB_DESIGN(mpmc_sp_sc_d, "mpmc SP/SC", false, false, true, true,
               std::make_unique<mpmc_ring<item>>(capacity, sync_mode::single, sync_mode::single, initial));
RINGLAB_DESIGN(mpmc_mp_sc_d, "mpmc MP/SC", true, false, true, true,
               std::make_unique<mpmc_ring<item>>(capacity, sync_mode::multi, sync_mode::single, initial));
RINGLAB_DESIGN(mpmc_sp_mc_d, "mpmc SP/MC", false, true, true, true,
               std::make_unique<mpmc_ring<item>>(capacity, sync_mode::single, sync_mode::multi, initial));
RINGLAB_DESIGN(mpmc_mp_mc_d, "mpmc MP/MC", true, true, true, true,
               std::make_unique<mpmc_ring<item>>(capacity, sync_mode::multi, sync_mode::multi, initial));
RINGLAB_DESIGN(netmap_d, "netmap", false, false, true, true, std::make_unique<netmap_queue<item>>(capacity, initial));
RINGLAB_DESIGN(umem_d, "umem", false, false, true, true, std::make_unique<umem_queue<item>>(capacity, initial));
RINGLAB_DESIGN(boost_spsc_d, "boost-spsc", false, false, false, false,
               std::make_unique<boost_spsc_adapter<item>>(capacity));
RINGLAB_DESIGN(boost_mpmc_d, "boost-mpmc", true, true, false, false,
               std::make_unique<boost_mpmc_adapter<item>>(capacity));
#if RINGLAB_HAVE_DPDK
RINGLAB_DESIGN(rte_sp_sc_d, "rte-ring SP/SC", false, false, true, true,
               std::make_unique<rte_ring_adapter<item>>(capacity, sync_mode::single, sync_mode::single, initial));
RINGLAB_DESIGN(rte_mp_mc_d, "rte-ring MP/MC", true, true, true, true,
               std::make_unique<rte_ring_adapter<item>>(capacity, sync_mode::multi, sync_mode::multi, initial));
#define RINGLAB_RTE_DESIGNS , rte_sp_sc_d, rte_mp_mc_d
#define RINGLAB_RTE_MULTI_DESIGNS , rte_mp_mc_d
#else
#define RINGLAB_RTE_DESIGNS
#define RINGLAB_RTE_MULTI_DESIGNS
#endif
#undef RINGLAB_DESIGN

#define RINGLAB_ALL_DESIGNS                                                                              \
  spsc_d, batch_d, mpmc_sp_sc_d, mpmc_mp_sc_d, mpmc_sp_mc_d, mpmc_mp_mc_d, netmap_d, umem_d, boost_spsc_d, boost_mpmc_d \
      RINGLAB_RTE_DESIGNS
// The designs that take an initial index (index_hook): every one but boost's two adapters.
#define RINGLAB_INDEX_HOOK_DESIGNS \
  spsc_d, batch_d, mpmc_sp_sc_d, mpmc_mp_sc_d, mpmc_sp_mc_d, mpmc_mp_mc_d, netmap_d, umem_d RINGLAB_RTE_DESIGNS
// The designs and modes that take several producers and several consumers at once.
#define RINGLAB_MULTI_DESIGNS mpmc_mp_mc_d, boost_mpmc_d RINGLAB_RTE_MULTI_DESIGNS

struct design_names {
  template <class D>
  static std::string GetName(int) {
    std::string s(D::name);
    for (char& c : s)
      if (c == ' ' || c == '/' || c == '-') c = '_';
    return s;
  }
};

}  // namespace ringlab::rings::test
