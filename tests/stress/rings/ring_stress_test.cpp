// The validation matrix, threaded part: tagged items through every design and mode it claims, every
// sequence checked (per producer, in order at each consumer; across consumers, each exactly once).
// Item count: RINGLAB_STRESS_ITEMS (default 1,000,000; the `slow` ctest entry runs 10,000,000).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/rings/designs.hpp"

namespace ringlab::rings::test {
namespace {

std::uint64_t total_items() {
  if (const char* e = std::getenv("RINGLAB_STRESS_ITEMS")) return std::strtoull(e, nullptr, 10);
#if defined(__SANITIZE_THREAD__)
  return 200'000;  // TSan runs ~20x slower; the ordering checks do not need more to bite
#else
  return 1'000'000;
#endif
}

template <class D>
class ring_stress : public ::testing::Test {};
using all_designs = ::testing::Types<RINGLAB_ALL_DESIGNS>;
TYPED_TEST_SUITE(ring_stress, all_designs, design_names);

// producers x consumers threads through one ring; `noise` extra threads spin to take cores away, so the
// ring's threads are preempted in the middle of their operations.
template <class D>
void run(unsigned producers, unsigned consumers, unsigned noise, std::size_t burst, std::uint64_t divisor = 1) {
#if defined(__SANITIZE_THREAD__)
  if (D::name == std::string_view("boost-mpmc"))
    GTEST_SKIP() << "boost::lockfree::queue's freelist writes a freed node's next pointer with a plain store "
                    "while a pop may still load it atomically (by design: tagged pointers catch it); TSan "
                    "reports that race inside Boost, so this baseline is stressed in the non-TSan build only";
#endif
  const std::uint64_t total = total_items() / divisor;
  const std::uint64_t per_producer = total / producers;
  auto ring = D::make(1024);
  std::vector<std::unique_ptr<std::atomic<std::uint8_t>[]>> seen(producers);
  for (auto& s : seen) s = std::make_unique<std::atomic<std::uint8_t>[]>(per_producer);
  std::atomic<std::uint64_t> consumed{0}, duplicates{0}, disorder{0}, torn{0};
  std::atomic<bool> stop_noise{false};
  std::vector<std::thread> threads;
  for (unsigned n = 0; n < noise; ++n)
    threads.emplace_back([&] {
      while (!stop_noise.load(std::memory_order_relaxed)) std::this_thread::yield();
    });
  for (unsigned p = 0; p < producers; ++p)
    threads.emplace_back([&, p] {
      std::vector<item> buf(burst);
      std::uint64_t seq = 0;
      while (seq < per_producer) {
        const std::size_t n = std::min<std::uint64_t>(burst, per_producer - seq);
        for (std::size_t i = 0; i < n; ++i) buf[i] = item::make(p, seq + i);
        // alternate burst and bulk so both paths race
        const std::size_t put = (seq / burst) % 2 ? ring->enqueue_burst(std::span<const item>(buf.data(), n))
                                                  : (ring->enqueue_bulk(std::span<const item>(buf.data(), n)) ? n : 0);
        seq += put;
        if (put == 0) std::this_thread::yield();
      }
    });
  for (unsigned c = 0; c < consumers; ++c)
    threads.emplace_back([&] {
      std::vector<item> buf(burst);
      std::vector<std::int64_t> last(producers, -1);
      std::uint64_t calls = 0;
      while (consumed.load(std::memory_order_relaxed) < per_producer * producers) {
        const std::size_t got = ++calls % 2 ? ring->dequeue_burst(std::span<item>(buf))
                                            : (ring->dequeue_bulk(std::span<item>(buf)) ? buf.size() : 0);
        if (got == 0) {
          std::this_thread::yield();
          continue;
        }
        for (std::size_t i = 0; i < got; ++i) {
          const item& it = buf[i];
          if (!it.valid() || it.producer >= producers || it.seq >= per_producer) {
            torn.fetch_add(1);
            continue;
          }
          if (static_cast<std::int64_t>(it.seq) <= last[it.producer]) disorder.fetch_add(1);
          last[it.producer] = static_cast<std::int64_t>(it.seq);
          if (seen[it.producer][it.seq].exchange(1, std::memory_order_relaxed)) duplicates.fetch_add(1);
        }
        consumed.fetch_add(got, std::memory_order_relaxed);
      }
    });
  for (std::size_t t = noise; t < threads.size(); ++t) threads[t].join();
  stop_noise = true;
  for (std::size_t t = 0; t < noise; ++t) threads[t].join();

  EXPECT_EQ(torn.load(), 0u) << "items damaged in the ring";
  EXPECT_EQ(duplicates.load(), 0u);
  EXPECT_EQ(disorder.load(), 0u) << "a consumer saw a producer's items out of order";
  EXPECT_EQ(consumed.load(), per_producer * producers);
  std::uint64_t missing = 0;
  for (unsigned p = 0; p < producers; ++p)
    for (std::uint64_t s = 0; s < per_producer; ++s) missing += seen[p][s].load(std::memory_order_relaxed) == 0;
  EXPECT_EQ(missing, 0u) << "items lost";
  EXPECT_EQ(ring->size(), 0u);
}

TYPED_TEST(ring_stress, one_producer_one_consumer_burst_1) { run<TypeParam>(1, 1, 0, 1); }
TYPED_TEST(ring_stress, one_producer_one_consumer_burst_32) { run<TypeParam>(1, 1, 0, 32); }

// 2P2C only where both sides are multi (instantiated for those designs alone, not skipped elsewhere).
template <class D>
class ring_stress_multi : public ::testing::Test {};
using multi_designs = ::testing::Types<RINGLAB_MULTI_DESIGNS>;
TYPED_TEST_SUITE(ring_stress_multi, multi_designs, design_names);
TYPED_TEST(ring_stress_multi, two_producers_two_consumers) {
  static_assert(TypeParam::multi_producer && TypeParam::multi_consumer);
  run<TypeParam>(2, 2, 0, 8);
}

// Oversubscribed: a preempted multi-side thread makes the others spin out their time slice (rte_ring's
// update_tail waits for it), so on a loaded 2-core machine this case ran minutes. The default run moves
// a quarter of the items here; RINGLAB_STRESS_ITEMS (the 10M `slow` entry) moves them all.
TYPED_TEST(ring_stress, more_threads_than_cores) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const std::uint64_t divisor = std::getenv("RINGLAB_STRESS_ITEMS") ? 1 : 4;
  if constexpr (TypeParam::multi_producer && TypeParam::multi_consumer)
    run<TypeParam>(cores + 1, cores + 1, 0, 16, divisor);
  else if constexpr (TypeParam::multi_producer)
    run<TypeParam>(cores + 1, 1, 1, 16, divisor);
  else if constexpr (TypeParam::multi_consumer)
    run<TypeParam>(1, cores + 1, 1, 16, divisor);
  else
    run<TypeParam>(1, 1, cores, 16, divisor);  // one of each plus spinners: preempted mid-operation
}

// The single-item calls (try_push / try_pop), which the typed cases above do not use: spsc publishes
// every item, batch once per batch. Batches of 1, odd, and as large as the ring: there the deadlock
// rules carry the run (a full push publishes, an empty pop gives back); without them it hangs.
template <class Ring>
void single_item_run(Ring& ring, std::uint64_t total) {
  std::thread producer([&] {
    for (std::uint64_t seq = 0; seq < total;) {
      if (ring.try_push(item::make(3, seq))) ++seq;
      else std::this_thread::yield();
    }
    if constexpr (requires { ring.flush_producer(); }) ring.flush_producer();  // nothing stays unpublished
  });
  std::uint64_t expect = 0, bad = 0;
  item it{};
  while (expect < total) {
    if (!ring.try_pop(it)) {
      std::this_thread::yield();
      continue;
    }
    bad += !(it == item::make(3, expect));
    ++expect;
  }
  producer.join();
  EXPECT_EQ(bad, 0u) << "items out of order or damaged";
  EXPECT_FALSE(ring.try_pop(it)) << "nothing beyond the items pushed";
  EXPECT_EQ(ring.size(), 0u);
}

TEST(ring_stress_single_item, spsc_try_push_try_pop) {
  spsc_ring<item> ring(64, 0xffffff00u);
  single_item_run(ring, total_items());
}

TEST(ring_stress_single_item, batch_try_push_try_pop_every_batch_size) {
  for (std::uint32_t batch : {1u, 7u, 32u, 64u}) {
    SCOPED_TRACE(batch);
    batch_ring<item> ring(64, 0xffffff00u, batch);
    ASSERT_EQ(ring.batch(), batch);
    single_item_run(ring, total_items() / 4);
  }
}

// batch with the consumer's idle polls (issue 15.8, rings_bench's batch-idle rows): bursts of 1..32 either side, and try_pop, with items published while the consumer
// idles on its cached head. Every item once, in order, undamaged; nothing left.
TEST(ring_stress_single_item, batch_idle_polls_bursts) {
  for (std::uint32_t idle : {1u, 32u}) {
    SCOPED_TRACE(idle);
    batch_ring<item> ring(1024, 0xffffff00u, 32, {.idle_polls = idle});
    const std::uint64_t total = total_items() / 4;
    std::thread producer([&] {
      std::vector<item> buf(32);
      for (std::uint64_t seq = 0; seq < total;) {
        const std::size_t n = std::min<std::uint64_t>(1 + seq % 32, total - seq);
        for (std::size_t i = 0; i < n; ++i) buf[i] = item::make(5, seq + i);
        const std::size_t k = ring.enqueue_burst({buf.data(), n});
        seq += k;
        if (k == 0) std::this_thread::yield();
      }
    });
    std::vector<item> out(32);
    std::uint64_t expect = 0, bad = 0;
    while (expect < total) {
      std::size_t k = 0;
      if (expect % 3 == 0) k = ring.try_pop(out[0]) ? 1 : 0;
      else k = ring.dequeue_burst({out.data(), 1 + expect % 32});
      for (std::size_t i = 0; i < k; ++i) bad += !(out[i] == item::make(5, expect + i));
      expect += k;
      if (k == 0) std::this_thread::yield();
    }
    producer.join();
    ring.flush_consumer();
    EXPECT_EQ(bad, 0u) << "items out of order or damaged";
    EXPECT_EQ(ring.size(), 0u);
  }
}

}  // namespace
}  // namespace ringlab::rings::test
