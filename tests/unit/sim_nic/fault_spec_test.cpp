#include <gtest/gtest.h>

#include "port/fault_line.hpp"

using namespace ringlab::port;

TEST(fault_spec, parses_every_field) {
  std::string err;
  auto s = parse_fault_spec("drop=0.01,dup=0.001,reorder=0.01:8,corrupt=0.001,delay=50us,jitter=10us", &err);
  ASSERT_TRUE(s) << err;
  EXPECT_DOUBLE_EQ(s->drop, 0.01);
  EXPECT_DOUBLE_EQ(s->dup, 0.001);
  EXPECT_DOUBLE_EQ(s->reorder, 0.01);
  EXPECT_EQ(s->reorder_window, 8u);
  EXPECT_DOUBLE_EQ(s->corrupt, 0.001);
  EXPECT_EQ(s->delay_ns, 50'000u);
  EXPECT_EQ(s->jitter_ns, 10'000u);
  EXPECT_TRUE(s->any());
  auto empty = parse_fault_spec("", &err);
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->any());
  EXPECT_EQ(parse_fault_spec("reorder=0.5", &err)->reorder_window, 4u);
  EXPECT_EQ(parse_fault_spec("delay=2ms", &err)->delay_ns, 2'000'000u);
  EXPECT_EQ(parse_fault_spec("delay=7", &err)->delay_ns, 7u);
}

TEST(fault_spec, errors_name_the_field_and_value) {
  std::string err;
  EXPECT_FALSE(parse_fault_spec("drop=1.5", &err));
  EXPECT_EQ(err, "fault spec field 'drop': '1.5' is not a probability in 0..1");
  EXPECT_FALSE(parse_fault_spec("drop=0.1,dup=x", &err));
  EXPECT_NE(err.find("'dup': 'x'"), std::string::npos) << err;
  EXPECT_FALSE(parse_fault_spec("reorder=0.1:0", &err));
  EXPECT_NE(err.find("'reorder'"), std::string::npos) << err;
  EXPECT_NE(err.find("window"), std::string::npos) << err;
  EXPECT_FALSE(parse_fault_spec("delay=5parsecs", &err));
  EXPECT_NE(err.find("'delay': '5parsecs' is not a duration"), std::string::npos) << err;
  EXPECT_FALSE(parse_fault_spec("loss=0.1", &err));
  EXPECT_NE(err.find("'loss'"), std::string::npos) << err;
  EXPECT_FALSE(parse_fault_spec("drop", &err));
  EXPECT_NE(err.find("'drop'"), std::string::npos) << err;
}

// drop=0.1,drop=0.2 is a typo: which one wins would be a guess (replay --faults, wires, --faults).
TEST(fault_spec, a_field_given_twice_is_an_error_naming_it) {
  std::string err;
  EXPECT_FALSE(parse_fault_spec("drop=0.1,dup=0.2,drop=0.2", &err));
  EXPECT_EQ(err, "fault spec field 'drop' given twice ('0.1', then '0.2'): give each field once");
  EXPECT_FALSE(parse_fault_spec("delay=1ms,delay=1ms", &err));
  EXPECT_EQ(err, "fault spec field 'delay' given twice ('1ms', then '1ms'): give each field once");
}

// An empty item is a field lost in editing (or a stray comma): refused with its place, never skipped.
// The empty spec itself stays "no faults".
TEST(fault_spec, an_empty_item_is_an_error_naming_its_place) {
  std::string err;
  EXPECT_FALSE(parse_fault_spec(",", &err));
  EXPECT_EQ(err, "fault spec item 1 of ',' is empty (a comma too many): give FIELD=VALUE items separated by single commas");
  EXPECT_FALSE(parse_fault_spec("drop=0.1,,dup=0.2", &err));
  EXPECT_EQ(err, "fault spec item 2 of 'drop=0.1,,dup=0.2' is empty (a comma too many): give FIELD=VALUE items "
                 "separated by single commas");
  EXPECT_FALSE(parse_fault_spec("drop=0.1,", &err));
  EXPECT_EQ(err.rfind("fault spec item 2 of 'drop=0.1,' is empty", 0), 0u) << err;
  EXPECT_FALSE(parse_port_faults("seed=3,,dir=rx", &err));
  EXPECT_EQ(err.rfind("fault spec item 2 of 'seed=3,,dir=rx' is empty", 0), 0u) << err;
  EXPECT_TRUE(parse_fault_spec("", &err)) << err;
  EXPECT_TRUE(parse_port_faults("", &err)) << err;
}

namespace {
std::vector<std::pair<int, std::uint64_t>> run(const fault_spec& s, std::uint64_t seed, int n) {
  fault_line<int> fl(s, seed);
  std::vector<std::pair<int, std::uint64_t>> out;
  for (int i = 0; i < n; ++i) {
    fl.push(i, static_cast<std::uint64_t>(i) * 1000);
    while (auto o = fl.pop_ready(static_cast<std::uint64_t>(i) * 1000)) out.push_back({o->item, o->due_ns});
  }
  fl.flush(static_cast<std::uint64_t>(n) * 1000);
  while (auto o = fl.pop_ready(~0ull)) out.push_back({o->item, o->due_ns});
  return out;
}
}  // namespace

TEST(fault_line, same_seed_same_output_and_counts_add_up) {
  std::string err;
  auto s = *parse_fault_spec("drop=0.1,dup=0.05,reorder=0.1:8,corrupt=0.05,delay=3us,jitter=2us", &err);
  auto a = run(s, 42, 5000), b = run(s, 42, 5000), c = run(s, 43, 5000);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  fault_line<int> fl(s, 42);
  for (int i = 0; i < 5000; ++i) fl.push(i, 0);
  fl.flush(0);
  std::uint64_t out = 0;
  while (fl.pop_ready(~0ull)) ++out;
  const auto& k = fl.counters();
  EXPECT_EQ(k.in, 5000u);
  EXPECT_EQ(out, k.in - k.dropped + k.duplicated);
  EXPECT_NEAR(static_cast<double>(k.dropped), 500, 90);
  EXPECT_NEAR(static_cast<double>(k.duplicated), 225, 60);
}

TEST(fault_line, reorder_holds_a_frame_behind_at_most_window_later_frames) {
  fault_spec s;
  s.reorder = 0.3;
  s.reorder_window = 3;
  auto out = run(s, 7, 2000);
  ASSERT_EQ(out.size(), 2000u);
  int displaced = 0;
  for (std::size_t pos = 0; pos < out.size(); ++pos) {
    const int item = out[pos].first;
    // An item comes out at most `window` places after where it went in, never before anything
    // that was not held.
    EXPECT_LE(static_cast<int>(pos) - item, 3) << "item " << item << " at " << pos;
    if (static_cast<int>(pos) != item) ++displaced;
  }
  EXPECT_GT(displaced, 100);
}

TEST(fault_line, delay_and_jitter_shift_due_times_within_bounds) {
  fault_spec s;
  s.delay_ns = 50'000;
  s.jitter_ns = 10'000;
  fault_line<int> fl(s, 1);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(fl.push(i, 1'000'000));
  EXPECT_FALSE(fl.pop_ready(1'049'999));
  int n = 0;
  while (auto o = fl.pop_ready(2'000'000)) {
    EXPECT_GE(o->due_ns, 1'050'000u);
    EXPECT_LE(o->due_ns, 1'060'000u);
    ++n;
  }
  EXPECT_EQ(n, 100);
}
