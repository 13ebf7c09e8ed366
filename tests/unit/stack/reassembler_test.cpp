// The reassembler alone: pieces in any order, exact bytes out, bounds, the pool balance.
#include <gtest/gtest.h>

#include <numeric>

#include "stack/iface/reassembler.hpp"

using namespace ringlab;
using namespace ringlab::stack;
using trace::drop_reason;

namespace {
std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = std::byte(i * 7 + 1);
  return b;
}
}  // namespace

TEST(stack_reassembler, every_order_of_four_pieces_gives_the_same_bytes) {
  port::frame_pool pool({.frames = 8});
  const auto data = pattern(100);
  std::array<int, 4> order{0, 1, 2, 3};
  const std::size_t off[4] = {0, 24, 48, 72};
  const std::size_t len[4] = {24, 24, 24, 28};
  int perms = 0;
  do {
    reassembler r(pool, {});
    const reassembler::key k{1, 2, 7, 17};
    reassembler::outcome out;
    for (int i = 0; i < 4; ++i) {
      const int p = order[i];
      out = r.add(k, off[p], p != 3, std::span(data).subspan(off[p], len[p]), 0);
      ASSERT_EQ(out.st, i < 3 ? reassembler::status::held : reassembler::status::complete);
    }
    ASSERT_EQ(out.length, 100u);
    EXPECT_TRUE(std::equal(data.begin(), data.end(), out.frame.bytes.begin(), out.frame.bytes.end()));
    pool.free(out.frame);
    EXPECT_EQ(pool.out(), 0u);
    ++perms;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(perms, 24);
}

TEST(stack_reassembler, shapes_it_refuses) {
  port::frame_pool pool({.frames = 8});
  reassembler r(pool, {});
  const auto d = pattern(64);
  // A middle piece that is not a multiple of 8.
  EXPECT_EQ(r.add({1, 2, 1, 17}, 0, true, std::span(d).first(10), 0).reason, drop_reason::fragment_overflow);
  // A last piece that ends before a held piece.
  EXPECT_EQ(r.add({1, 2, 2, 17}, 16, true, std::span(d).first(16), 0).st, reassembler::status::held);
  EXPECT_EQ(r.add({1, 2, 2, 17}, 0, false, std::span(d).first(8), 0).reason, drop_reason::fragment_overflow);
  // Longer than a frame's room.
  EXPECT_EQ(r.add({1, 2, 3, 17}, 8 * 1000, false, std::span(d).first(8), 0).reason, drop_reason::fragment_overflow);
  // An exact duplicate is an overlap too.
  EXPECT_EQ(r.add({1, 2, 4, 17}, 0, true, std::span(d).first(16), 0).st, reassembler::status::held);
  EXPECT_EQ(r.add({1, 2, 4, 17}, 0, true, std::span(d).first(16), 0).reason, drop_reason::fragment_overflow);
  EXPECT_EQ(r.in_flight(), 0u);
  EXPECT_EQ(pool.out(), 0u);
}

TEST(stack_reassembler, timeout_counts_from_the_first_fragment) {
  port::frame_pool pool({.frames = 8});
  reassembler r(pool, {.max_datagrams = 4, .timeout = 5 * sec});
  const auto d = pattern(16);
  r.add({1, 2, 1, 17}, 0, true, d, 1 * sec);
  r.add({1, 2, 1, 17}, 32, true, d, 4 * sec);
  EXPECT_EQ(r.next_deadline(), 6 * sec);
  EXPECT_EQ(r.expire(6 * sec - 1), 0u);
  EXPECT_EQ(r.expire(6 * sec), 1u);
  EXPECT_EQ(r.next_deadline(), never);
  EXPECT_EQ(pool.out(), 0u);
}

TEST(stack_reassembler, a_dry_pool_is_pool_empty) {
  port::frame_pool pool({.frames = 1});
  auto hold = pool.alloc();
  reassembler r(pool, {});
  const auto d = pattern(16);
  EXPECT_EQ(r.add({1, 2, 1, 17}, 0, true, d, 0).reason, drop_reason::pool_empty);
  pool.free(hold);
}
