// The validation matrix, single-threaded part: one typed suite run against every design and mode.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "tests/unit/rings/designs.hpp"

namespace ringlab::rings::test {
namespace {

template <class D>
class ring_matrix : public ::testing::Test {};
using all_designs = ::testing::Types<RINGLAB_ALL_DESIGNS>;
TYPED_TEST_SUITE(ring_matrix, all_designs, design_names);

std::vector<item> items(std::uint64_t first, std::size_t n) {
  std::vector<item> v;
  for (std::size_t i = 0; i < n; ++i) v.push_back(item::make(7, first + i));
  return v;
}

TYPED_TEST(ring_matrix, fifo_order_over_many_wraps) {
  auto r = TypeParam::make(64);
  ASSERT_EQ(r->capacity(), 64u);
  std::uint64_t next_in = 0, next_out = 0;
  const std::size_t sizes[] = {1, 3, 17, 5, 64, 31, 2};
  for (int round = 0; round < 200; ++round) {
    const std::size_t n = sizes[round % 7];
    auto in = items(next_in, n);
    const std::size_t put = r->enqueue_burst(in);
    next_in += put;
    std::vector<item> out(sizes[(round + 3) % 7]);
    const std::size_t got = r->dequeue_burst(out);
    for (std::size_t i = 0; i < got; ++i) ASSERT_EQ(out[i], item::make(7, next_out++)) << "round " << round;
  }
  std::vector<item> rest(64);
  const std::size_t got = r->dequeue_burst(rest);
  for (std::size_t i = 0; i < got; ++i) ASSERT_EQ(rest[i], item::make(7, next_out++));
  EXPECT_EQ(next_out, next_in);
  EXPECT_GT(next_in, 64u * 10);
  EXPECT_EQ(r->size(), 0u);
}

TYPED_TEST(ring_matrix, empty_edge) {
  auto r = TypeParam::make(8);
  std::vector<item> out(4);
  EXPECT_EQ(r->size(), 0u);
  EXPECT_EQ(r->dequeue_burst(out), 0u);
  EXPECT_FALSE(r->dequeue_bulk(std::span<item>(out).first(1)));
  auto one = items(0, 1);
  ASSERT_TRUE(r->enqueue_bulk(one));
  EXPECT_EQ(r->size(), 1u);
  EXPECT_EQ(r->dequeue_burst(out), 1u);
  EXPECT_EQ(out[0], one[0]);
  EXPECT_EQ(r->dequeue_burst(out), 0u);
  EXPECT_TRUE(r->dequeue_bulk(std::span<item>()));  // zero items: trivially all of them
}

TYPED_TEST(ring_matrix, full_edge) {
  auto r = TypeParam::make(16);
  auto in = items(0, 16);
  ASSERT_TRUE(r->enqueue_bulk(in));
  EXPECT_EQ(r->size(), 16u);
  auto more = items(16, 1);
  EXPECT_EQ(r->enqueue_burst(more), 0u);
  EXPECT_FALSE(r->enqueue_bulk(more));
  std::vector<item> out(1);
  ASSERT_EQ(r->dequeue_burst(out), 1u);
  EXPECT_EQ(out[0], in[0]);
  EXPECT_TRUE(r->enqueue_bulk(more));
  std::vector<item> all(16);
  ASSERT_TRUE(r->dequeue_bulk(all));
  for (std::size_t i = 0; i < 16; ++i) EXPECT_EQ(all[i], item::make(7, i + 1));
}

TYPED_TEST(ring_matrix, bulk_is_all_or_nothing) {
  auto r = TypeParam::make(16);
  ASSERT_TRUE(r->enqueue_bulk(items(0, 13)));
  EXPECT_FALSE(r->enqueue_bulk(items(13, 4)));  // 3 free
  EXPECT_EQ(r->size(), 13u);
  EXPECT_FALSE(r->enqueue_bulk(items(13, 17)));  // more than the ring holds
  std::vector<item> out(14);
  EXPECT_FALSE(r->dequeue_bulk(out));  // 13 there
  EXPECT_EQ(r->size(), 13u);
  ASSERT_TRUE(r->dequeue_bulk(std::span<item>(out).first(13)));
  for (std::size_t i = 0; i < 13; ++i) EXPECT_EQ(out[i], item::make(7, i));
  EXPECT_EQ(r->size(), 0u);
}

TYPED_TEST(ring_matrix, burst_is_partial) {
  auto r = TypeParam::make(16);
  ASSERT_EQ(r->enqueue_burst(items(0, 13)), 13u);
  EXPECT_EQ(r->enqueue_burst(items(13, 10)), 3u);
  EXPECT_EQ(r->size(), 16u);
  std::vector<item> out(40);
  ASSERT_EQ(r->dequeue_burst(out), 16u);
  for (std::size_t i = 0; i < 16; ++i) EXPECT_EQ(out[i], item::make(7, i));
  EXPECT_EQ(r->enqueue_burst(items(0, 40)), 16u);  // more than capacity: what fits
}

// Only the designs that take an initial index can be started near 2^32 (boost keeps its indices
// private): a suite of their own, so no design is listed as skipped for what it cannot be asked.
template <class D>
class ring_wraparound : public ::testing::Test {};
using hook_designs = ::testing::Types<RINGLAB_INDEX_HOOK_DESIGNS>;
TYPED_TEST_SUITE(ring_wraparound, hook_designs, design_names);

TYPED_TEST(ring_wraparound, at_2_pow_32_and_first_slot) {
  static_assert(TypeParam::index_hook);
  constexpr std::uint32_t cap = 32, mask = TypeParam::mask_for(cap);
  for (std::uint32_t start : {std::numeric_limits<std::uint32_t>::max() - 4u,
                              std::numeric_limits<std::uint32_t>::max() - cap / 2 + 1}) {
    auto r = TypeParam::make(cap, start);
    std::uint32_t index = start;  // free-running index of the next item
    std::uint64_t seq = 0, out_seq = 0;
    std::uint32_t out_index = start;
    for (int round = 0; round < 40; ++round) {  // crosses 2^32 early, then wraps the array many times
      const std::size_t n = 1 + (round * 7) % 23;
      std::uint32_t slot = 99;
      const std::size_t put = r->enqueue_burst(items(seq, n), &slot);
      if (put) {
        EXPECT_EQ(slot, index & mask) << "start " << start << " round " << round;
      }
      index += static_cast<std::uint32_t>(put);
      seq += put;
      std::vector<item> out(1 + (round * 5) % 19);
      slot = 99;
      const std::size_t got = r->dequeue_burst(out, &slot);
      if (got) {
        EXPECT_EQ(slot, out_index & mask);
      }
      out_index += static_cast<std::uint32_t>(got);
      for (std::size_t i = 0; i < got; ++i) ASSERT_EQ(out[i], item::make(7, out_seq++));
      ASSERT_EQ(r->size(), seq - out_seq);
    }
    EXPECT_LT(index, start) << "the index must have crossed 2^32";
  }
}

TYPED_TEST(ring_matrix, first_slot_names_the_slot) {
  auto r = TypeParam::make(8);
  std::uint32_t slot = 99;
  ASSERT_EQ(r->enqueue_burst(items(0, 5), &slot), 5u);
  EXPECT_EQ(slot, 0u);
  ASSERT_TRUE(r->enqueue_bulk(items(5, 2), &slot));
  EXPECT_EQ(slot, 5u);
  std::vector<item> out(6);
  ASSERT_TRUE(r->dequeue_bulk(out, &slot));
  EXPECT_EQ(slot, 0u);
  ASSERT_EQ(r->enqueue_burst(items(7, 4), &slot), 4u);
  EXPECT_EQ(slot, 7u);  // 7, then wraps to 0, 1, 2
  ASSERT_EQ(r->dequeue_burst(out, &slot), 5u);
  EXPECT_EQ(slot, 6u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(out[i], item::make(7, 6 + i));
}

}  // namespace
}  // namespace ringlab::rings::test
