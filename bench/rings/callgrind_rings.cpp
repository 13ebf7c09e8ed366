// Instructions per item of one ring's burst path, single thread (bench/rings/callgrind_rings.sh runs it
// under callgrind): enqueue_burst of B items then dequeue_burst of B, N times, in measured_bursts(),
// which callgrind counts alone (--toggle-collect). The script differences two values of N, so the
// set-up and the warm-up drop out and the figure is exact and repeatable, where a timed run on these
// shared VMs is not.
//
// usage: callgrind_rings DESIGN ESIZE BURST N    DESIGN: batch|spsc|boost-spsc|rte-sp-sc, ESIZE: 8|64
// Exit 77: DESIGN is rte-sp-sc and this build has no DPDK.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "rings/batch_ring.hpp"
#include "rings/boost_spsc_adapter.hpp"
#include "rings/spsc_ring.hpp"
#if RINGLAB_HAVE_DPDK
#include "rings/rte_ring_adapter.hpp"
#endif

namespace {

using namespace ringlab::rings;
constexpr std::size_t ring_slots = 4096;   // as rings_bench
struct elem64 {
  std::uint64_t w[8];
};

template <class Ring, class T>
__attribute__((noinline)) std::uint64_t measured_bursts(Ring& r, const T* in, T* out, std::size_t burst, long n) {
  std::uint64_t moved = 0;
  for (long i = 0; i < n; ++i) {
    moved += r.enqueue_burst(std::span<const T>(in, burst));
    moved += r.dequeue_burst(std::span<T>(out, burst));
    asm volatile("" ::: "memory");   // each iteration's copies happen: nothing folded across iterations
  }
  return moved;
}

template <class Ring, class T>
int run(Ring& r, std::size_t burst, long n) {
  std::vector<T> in(burst), out(burst);
  for (std::size_t i = 0; i < burst; ++i) in[i] = T{};
  measured_bursts(r, in.data(), out.data(), burst, 64);   // warm: the ring's lines touched once
  const std::uint64_t moved = measured_bursts(r, in.data(), out.data(), burst, n);
  if (moved != 2 * burst * static_cast<std::uint64_t>(n)) {   // every burst in and out in full
    std::fprintf(stderr, "callgrind_rings: moved %llu items, expected %llu\n", static_cast<unsigned long long>(moved),
                 static_cast<unsigned long long>(2 * burst * static_cast<std::uint64_t>(n)));
    return 1;
  }
  std::printf("moved %llu\n", static_cast<unsigned long long>(moved));
  return 0;
}

template <class T>
int design(const std::string& d, std::size_t burst, long n) {
  if (d == "batch") {
    batch_ring<T> r(ring_slots);
    return run<batch_ring<T>, T>(r, burst, n);
  }
  if (d == "spsc") {
    spsc_ring<T> r(ring_slots);
    return run<spsc_ring<T>, T>(r, burst, n);
  }
  if (d == "boost-spsc") {
    boost_spsc_adapter<T> r(ring_slots);
    return run<boost_spsc_adapter<T>, T>(r, burst, n);
  }
  if (d == "rte-sp-sc") {
#if RINGLAB_HAVE_DPDK
    rte_ring_adapter<T> r(ring_slots, sync_mode::single, sync_mode::single);
    return run<rte_ring_adapter<T>, T>(r, burst, n);
#else
    std::fprintf(stderr, "callgrind_rings: rte-sp-sc: this build has no DPDK\n");
    return 77;
#endif
  }
  std::fprintf(stderr, "callgrind_rings: unknown design '%s' (batch, spsc, boost-spsc, rte-sp-sc)\n", d.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: callgrind_rings DESIGN ESIZE BURST N\n");
    return 2;
  }
  const std::string esize = argv[2];
  const long burst = std::atol(argv[3]), n = std::atol(argv[4]);
  if (burst < 1 || burst > static_cast<long>(ring_slots) || n < 1) {
    std::fprintf(stderr, "callgrind_rings: BURST must be 1..%zu and N >= 1 (got '%s', '%s')\n", ring_slots, argv[3],
                 argv[4]);
    return 2;
  }
  if (esize == "8") return design<std::uint64_t>(argv[1], static_cast<std::size_t>(burst), n);
  if (esize == "64") return design<elem64>(argv[1], static_cast<std::size_t>(burst), n);
  std::fprintf(stderr, "callgrind_rings: ESIZE must be 8 or 64 (got '%s')\n", argv[2]);
  return 2;
}
