#include <gtest/gtest.h>

#include <vector>

#include "tools/mcast/sequence_tracker.hpp"

using namespace ringlab::mcast;
using V = sequence_tracker::verdict;

namespace {
struct counts {
  std::uint64_t received, unique, lost, reordered, duplicates, stale;
  bool operator==(const counts&) const = default;
};
counts of(const sequence_tracker& t) {
  const auto& s = t.stats();
  return {s.received, s.unique, s.lost, s.reordered, s.duplicates, s.stale};
}
std::vector<V> feed(sequence_tracker& t, std::initializer_list<std::uint64_t> seqs) {
  std::vector<V> v;
  for (auto s : seqs) v.push_back(t.on_seq(s));
  return v;
}
std::ostream& operator<<(std::ostream& os, const counts& c) {
  return os << "{received " << c.received << ", unique " << c.unique << ", lost " << c.lost << ", reordered "
            << c.reordered << ", duplicates " << c.duplicates << ", stale " << c.stale << "}";
}
}  // namespace

TEST(sequence_tracker, in_order) {
  sequence_tracker t;
  EXPECT_EQ(feed(t, {0, 1, 2, 3}), (std::vector<V>{V::in_order, V::in_order, V::in_order, V::in_order}));
  EXPECT_EQ(of(t), (counts{4, 4, 0, 0, 0, 0}));
  EXPECT_EQ(t.stats().first, 0u);
  EXPECT_EQ(t.stats().highest, 3u);
}

TEST(sequence_tracker, gaps_are_lost_until_they_arrive_late) {
  sequence_tracker t;
  EXPECT_EQ(feed(t, {0, 3}), (std::vector<V>{V::in_order, V::gap}));
  EXPECT_EQ(of(t), (counts{2, 2, 2, 0, 0, 0}));
  EXPECT_EQ(t.on_seq(1), V::late);
  EXPECT_EQ(of(t), (counts{3, 3, 1, 1, 0, 0}));
  EXPECT_EQ(t.on_seq(2), V::late);
  EXPECT_EQ(t.on_seq(4), V::in_order);
  EXPECT_EQ(of(t), (counts{5, 5, 0, 2, 0, 0}));
}

TEST(sequence_tracker, loss_at_the_start_counts_from_zero) {
  sequence_tracker t;
  EXPECT_EQ(t.on_seq(2), V::gap);
  EXPECT_EQ(of(t), (counts{1, 1, 2, 0, 0, 0}));
}

TEST(sequence_tracker, duplicates_of_in_order_and_of_late_ones) {
  sequence_tracker t;
  feed(t, {0, 1, 1, 3, 2, 2, 3, 0});
  EXPECT_EQ(of(t), (counts{8, 4, 0, 1, 4, 0}));
}

TEST(sequence_tracker, late_join_counts_from_the_first_received) {
  auto t = sequence_tracker::from_first_received();
  EXPECT_EQ(t.stats().first, std::nullopt);
  EXPECT_EQ(feed(t, {100, 101, 103}), (std::vector<V>{V::in_order, V::in_order, V::gap}));
  EXPECT_EQ(of(t), (counts{3, 3, 1, 0, 0, 0}));
  EXPECT_EQ(t.stats().first, 100u);
  EXPECT_EQ(t.on_seq(99), V::stale);   // before the first one: cannot be told
  EXPECT_EQ(of(t), (counts{4, 3, 1, 0, 0, 1}));
}

TEST(sequence_tracker, older_than_the_window_is_stale_and_loss_stays_exact) {
  sequence_tracker t(0, 64);
  EXPECT_EQ(t.window(), 64u);
  t.on_seq(0);
  EXPECT_EQ(t.on_seq(100), V::gap);        // 1..99 lost
  EXPECT_EQ(of(t), (counts{2, 2, 99, 0, 0, 0}));
  EXPECT_EQ(t.on_seq(36), V::stale);       // the window is 37..100
  EXPECT_EQ(t.on_seq(37), V::late);
  EXPECT_EQ(t.on_seq(37), V::duplicate);
  EXPECT_EQ(t.on_seq(100), V::duplicate);
  EXPECT_EQ(of(t), (counts{6, 3, 98, 1, 2, 1}));
}

TEST(sequence_tracker, window_slots_are_reused_cleanly) {
  sequence_tracker t(0, 64);
  for (std::uint64_t s = 0; s < 1000; ++s)
    if (s % 10 != 5) {
      ASSERT_NE(t.on_seq(s), V::duplicate) << s;
    }
  // 100 numbers (5, 15, ...) skipped: each lost once, and the reused slots hold no stale "seen" bit.
  EXPECT_EQ(of(t), (counts{900, 900, 100, 0, 0, 0}));
  EXPECT_EQ(t.on_seq(995), V::late);
  EXPECT_EQ(t.on_seq(996), V::duplicate);
  EXPECT_EQ(t.on_seq(1000 + 64), V::gap);   // 1000..1063 lost: a jump as long as the window
  EXPECT_EQ(t.on_seq(1000), V::stale);      // the window is now 1001..1064
  EXPECT_EQ(t.on_seq(1001), V::late);
  EXPECT_EQ(of(t), (counts{905, 903, 162, 2, 1, 1}));
}

TEST(sequence_tracker, unique_plus_lost_spans_first_to_highest) {
  sequence_tracker t(0, 128);
  feed(t, {0, 2, 2, 1, 7, 5, 9, 9, 3});
  const auto& s = t.stats();
  EXPECT_EQ(s.unique + s.lost, *s.highest - *s.first + 1);
  EXPECT_EQ(s.unique, s.received - s.duplicates - s.stale);
  EXPECT_EQ(of(t), (counts{9, 7, 3, 3, 2, 0}));
}
