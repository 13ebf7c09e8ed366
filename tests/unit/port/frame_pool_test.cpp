#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include "port/frame_pool.hpp"
#include "port/port.hpp"

using namespace ringlab::port;

TEST(frame_pool, hands_out_every_frame_once_and_counts_them_back) {
  frame_pool pool({.frames = 8, .frame_size = 2048, .headroom = 256});
  std::array<frame_ref, 10> got{};
  ASSERT_EQ(pool.alloc_burst(got), 8u);
  EXPECT_EQ(pool.out(), 8u);
  EXPECT_EQ(pool.alloc_failures(), 2u);
  for (std::size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(got[i].id, i);
    EXPECT_EQ(got[i].bytes.size(), 2048u - 256u);
    EXPECT_EQ(got[i].bytes.data(), pool.area().data() + i * 2048 + 256);
    EXPECT_TRUE(pool.owns(got[i]));
  }
  pool.free_burst({got.data(), 8});
  EXPECT_EQ(pool.out(), 0u);
  EXPECT_EQ(pool.bad_frees(), 0u);
}

TEST(frame_pool, double_free_is_counted_not_applied) {
  frame_pool pool({.frames = 4});
  frame_ref f = pool.alloc();
  ASSERT_TRUE(f.valid());
  pool.free(f);
  pool.free(f);
  EXPECT_EQ(pool.bad_frees(), 1u);
  EXPECT_EQ(pool.out(), 0u);
  std::array<frame_ref, 4> all{};
  EXPECT_EQ(pool.alloc_burst(all), 4u);   // the free list holds each frame once
  EXPECT_FALSE(pool.alloc().valid());
}

TEST(frame_pool, rejects_bad_geometry) {
  EXPECT_THROW(frame_pool({.frames = 4, .frame_size = 1000}), std::invalid_argument);
  EXPECT_THROW(frame_pool({.frames = 0}), std::invalid_argument);
  EXPECT_THROW(frame_pool({.frames = 4, .frame_size = 256, .headroom = 256}), std::invalid_argument);
}

namespace {
struct recording_sink final : tx_sink {
  frame_pool& pool;
  std::vector<frame_id> sent;
  explicit recording_sink(frame_pool& p) : pool(p) {}
  void tx_commit(std::span<frame_ref> f) noexcept override {
    for (auto& x : f) sent.push_back(x.id);
    pool.free_burst(f);
  }
  void tx_cancel(std::span<frame_ref> f) noexcept override { pool.free_burst(f); }
};
}  // namespace

TEST(tx_batch, commit_sends_first_k_and_returns_the_rest) {
  frame_pool pool({.frames = 8});
  recording_sink sink(pool);
  std::array<frame_ref, 4> f{};
  ASSERT_EQ(pool.alloc_burst(f), 4u);
  {
    tx_batch b(&sink, f);
    EXPECT_EQ(b.size(), 4u);
    b.commit(2);
    EXPECT_EQ(b.size(), 0u);
  }
  EXPECT_EQ(sink.sent, (std::vector<frame_id>{0, 1}));
  EXPECT_EQ(pool.out(), 0u);
}

TEST(tx_batch, ending_without_commit_cancels_everything) {
  frame_pool pool({.frames = 8});
  recording_sink sink(pool);
  std::array<frame_ref, 3> f{};
  ASSERT_EQ(pool.alloc_burst(f), 3u);
  { tx_batch b(&sink, f); tx_batch moved = std::move(b); EXPECT_EQ(moved.size(), 3u); }
  EXPECT_TRUE(sink.sent.empty());
  EXPECT_EQ(pool.out(), 0u);
  EXPECT_EQ(pool.bad_frees(), 0u);
}

// ---------------------------------------------------------------- frame_pool::cache

TEST(frame_pool_cache, alloc_refills_up_to_size_in_one_lock) {
  frame_pool pool({.frames = 64});
  frame_pool::cache c(pool, 8);
  EXPECT_EQ(c.flush_threshold(), 12u);
  std::array<frame_ref, 3> got{};
  const auto locks0 = pool.lock_acquisitions();
  ASSERT_EQ(c.alloc_burst(got), 3u);
  EXPECT_EQ(pool.lock_acquisitions() - locks0, 1u);
  EXPECT_EQ(c.cached(), 5u);                       // refilled 8, handed out 3
  EXPECT_EQ(pool.out(), 3u);                       // the 5 in the cache are not out
  // The refill took frames 0..7 (the shared list's top first) and the cache hands out from its end.
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].id, 7 - i);
    EXPECT_EQ(got[i].bytes.data(), pool.data(got[i].id));
    EXPECT_EQ(got[i].bytes.size(), pool.room());
  }
  // Five more come from the cache, with no lock.
  std::array<frame_ref, 5> more{};
  ASSERT_EQ(c.alloc_burst(more), 5u);
  EXPECT_EQ(pool.lock_acquisitions() - locks0, 1u);
  EXPECT_EQ(c.cached(), 0u);
  EXPECT_EQ(pool.out(), 8u);
  EXPECT_EQ(more[0].id, 4u);
  EXPECT_EQ(more[4].id, 0u);
  // Empty: the next burst refills again, one more lock.
  std::array<frame_ref, 2> again{};
  ASSERT_EQ(c.alloc_burst(again), 2u);
  EXPECT_EQ(pool.lock_acquisitions() - locks0, 2u);
  EXPECT_EQ(c.cached(), 6u);
  c.free_burst(again);
  c.free_burst(got);
  c.free_burst(more);
  EXPECT_EQ(pool.out(), 0u);
  EXPECT_EQ(pool.bad_frees(), 0u);
}

TEST(frame_pool_cache, free_past_the_threshold_flushes_the_whole_cache_first) {
  frame_pool pool({.frames = 64});
  frame_pool::cache c(pool, 8);
  std::array<frame_ref, 16> got{};
  ASSERT_EQ(pool.alloc_burst(got), 16u);           // from the shared list directly
  const auto locks0 = pool.lock_acquisitions();
  c.free_burst({got.data(), 8});
  c.free_burst({got.data() + 8, 4});               // 12: at the threshold, kept
  EXPECT_EQ(c.cached(), 12u);
  EXPECT_EQ(pool.lock_acquisitions() - locks0, 0u);
  EXPECT_EQ(pool.out(), 4u);
  c.free(got[12]);                                 // 13 > 12: the 12 go back in one lock, then this one
  EXPECT_EQ(pool.lock_acquisitions() - locks0, 1u);
  EXPECT_EQ(c.cached(), 1u);
  EXPECT_EQ(pool.out(), 3u);
  // The cache hands its frames out last in, first out: the frame freed last comes back first.
  EXPECT_EQ(c.alloc().id, got[12].id);
  c.free(got[12]);
  c.free_burst({got.data() + 13, 3});
  EXPECT_EQ(pool.out(), 0u);
  c.flush();
  EXPECT_EQ(c.cached(), 0u);
  // Every frame is in the shared list exactly once.
  std::array<frame_ref, 65> all{};
  EXPECT_EQ(pool.alloc_burst(all), 64u);
  pool.free_burst({all.data(), 64});
}

TEST(frame_pool_cache, bursts_larger_than_the_cache_use_the_shared_list) {
  frame_pool pool({.frames = 64});
  frame_pool::cache c(pool, 4);
  std::array<frame_ref, 10> got{};
  ASSERT_EQ(c.alloc_burst(got), 10u);
  EXPECT_EQ(c.cached(), 0u);
  EXPECT_EQ(pool.out(), 10u);
  c.free_burst(got);
  EXPECT_EQ(c.cached(), 0u);
  EXPECT_EQ(pool.out(), 0u);
}

TEST(frame_pool_cache, double_free_and_foreign_ids_through_a_cache_are_counted_not_applied) {
  frame_pool pool({.frames = 16});
  frame_pool::cache c(pool, 4);
  frame_ref f = c.alloc();
  ASSERT_TRUE(f.valid());
  c.free(f);
  c.free(f);                                       // double free into the same cache
  EXPECT_EQ(pool.bad_frees(), 1u);
  pool.free(f);                                    // the frame sits in the cache: free, not out
  EXPECT_EQ(pool.bad_frees(), 2u);
  const frame_id foreign[] = {16, 1000};
  c.free_ids(foreign);
  EXPECT_EQ(pool.bad_frees(), 4u);
  EXPECT_EQ(pool.out(), 0u);
  // A frame out of one cache, freed twice through two caches: the second is caught.
  frame_pool::cache d(pool, 4);
  frame_ref g = c.alloc();
  d.free(g);
  c.free(g);
  EXPECT_EQ(pool.bad_frees(), 5u);
  EXPECT_EQ(pool.out(), 0u);
  // Each frame is handed out once: 16 distinct ids from the caches and the shared list together.
  std::vector<frame_ref> all;
  for (frame_pool::cache* x : {&c, &d})
    while (true) {
      frame_ref a = x->alloc();
      if (!a.valid()) break;
      all.push_back(a);
    }
  std::vector<bool> seen(16);
  for (const auto& a : all) {
    ASSERT_LT(a.id, 16u);
    EXPECT_FALSE(seen[a.id]) << "frame " << a.id << " handed out twice";
    seen[a.id] = true;
  }
  EXPECT_EQ(all.size(), 16u);
  EXPECT_EQ(pool.out(), 16u);
  for (const auto& a : all) pool.free(a);
  EXPECT_EQ(pool.out(), 0u);
}

TEST(frame_pool_cache, alloc_failures_are_counted_and_a_partial_burst_returned) {
  frame_pool pool({.frames = 6});
  frame_pool::cache c(pool, 4);
  std::array<frame_ref, 4> a{}, b{};
  ASSERT_EQ(c.alloc_burst(a), 4u);                 // refilled 4 of the 6
  EXPECT_EQ(c.cached(), 0u);
  EXPECT_EQ(c.alloc_burst(b), 2u);
  EXPECT_EQ(pool.alloc_failures(), 2u);
  EXPECT_FALSE(c.alloc().valid());
  EXPECT_EQ(pool.alloc_failures(), 3u);
  EXPECT_EQ(pool.out(), 6u);
  c.free_burst(a);
  c.free_burst({b.data(), 2});
  EXPECT_EQ(pool.out(), 0u);
}

TEST(frame_pool_cache, frames_crossing_caches_keep_out_exact_and_the_destructor_gives_back) {
  frame_pool pool({.frames = 32});
  {
    frame_pool::cache ingest(pool, 8), lane(pool, 8);
    std::array<frame_ref, 5> got{};
    ASSERT_EQ(ingest.alloc_burst(got), 5u);
    EXPECT_EQ(pool.out(), 5u);
    lane.free_burst({got.data(), 3});              // allocated on one lane, freed on another
    EXPECT_EQ(pool.out(), 2u);
    // The ingest cache still holds 3 frames (refilled 8, handed out 5), the lane's 3: the shared
    // list holds the rest.
    std::array<frame_ref, 32> rest{};
    EXPECT_EQ(pool.alloc_burst(rest), 32u - 3u - 3u - 2u);
    pool.free_burst({rest.data(), 24});
  }
  // Both caches are gone: their frames are back in the shared list, the two still held are out.
  EXPECT_EQ(pool.out(), 2u);
  std::array<frame_ref, 32> rest{};
  EXPECT_EQ(pool.alloc_burst(rest), 30u);
  EXPECT_EQ(pool.out(), 32u);
}

TEST(frame_pool_cache, rejects_bad_sizes) {
  frame_pool pool({.frames = 8});
  EXPECT_THROW(frame_pool::cache(pool, 0), std::invalid_argument);
  EXPECT_THROW(frame_pool::cache(pool, frame_pool::cache::max_size + 1), std::invalid_argument);
}
