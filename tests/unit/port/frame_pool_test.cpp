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
