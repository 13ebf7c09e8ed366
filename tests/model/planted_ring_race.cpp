// One producer and one consumer thread through spsc_ring, every item checked in order. Built twice in
// the TSan build only: with RINGLAB_PLANT_RING_BUG=1 (spsc_ring's R1 publish relaxed) TSan must report
// the data race on the slot, naming spsc_ring; without it (the control) TSan must stay silent. The
// program's own check is FIFO; on x86 the relaxed store still works in practice, which is the point:
// only TSan (or the spin model, rings/models/spsc.pml -DWEAK) sees the bug.
#include <cstdint>
#include <cstdio>
#include <thread>

#include "rings/spsc_ring.hpp"

int main() {
  constexpr std::uint64_t items = 100'000;
  ringlab::rings::spsc_ring<std::uint64_t> ring(64);
  std::thread producer([&] {
    for (std::uint64_t v = 1; v <= items;)
      if (ring.try_push(v)) ++v;
      else std::this_thread::yield();
  });
  std::uint64_t expect = 1, bad = 0, v = 0;
  while (expect <= items) {
    if (!ring.try_pop(v)) {
      std::this_thread::yield();
      continue;
    }
    if (v != expect) ++bad;
    ++expect;
  }
  producer.join();
  std::printf("planted_ring_race: %llu items, %llu out of order, planted bug %s\n",
              static_cast<unsigned long long>(items), static_cast<unsigned long long>(bad),
#if defined(RINGLAB_PLANT_RING_BUG) && RINGLAB_PLANT_RING_BUG
              "on"
#else
              "off"
#endif
  );
  return bad == 0 ? 0 : 1;
}
