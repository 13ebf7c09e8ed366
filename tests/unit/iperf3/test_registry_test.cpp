// iperf3::test_registry (iperf3-server --lanes N): one test at a time; a data connection joins only
// the test under way, with its cookie, once the parameters are in, and no more than P of them; ids
// in iperf3's order (1, 3, 4, ...); end() frees the registry and raises the streams' stop flag.
#include <gtest/gtest.h>

#include "tools/iperf3/test_registry.hpp"

using namespace ringlab::iperf3;

namespace {

cookie_bytes cookie_of(char c) {
  cookie_bytes k{};
  k.fill(c);
  k.back() = '\0';
  return k;
}

TEST(iperf3_test_registry, joins_by_cookie_up_to_p_streams_then_ends) {
  test_registry reg;
  const auto a = cookie_of('a'), b = cookie_of('b');
  auto t = reg.begin(a, 1);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->control_lane, 1u);
  EXPECT_FALSE(reg.begin(b, 0)) << "busy: a second control connection is denied";
  EXPECT_FALSE(reg.join(a, 0, 40000).second) << "no stream before the parameters are in";
  test_params p;
  p.parallel = 3;
  reg.open_streams(*t, p);
  EXPECT_FALSE(reg.join(b, 0, 40000).second) << "a foreign cookie";
  const auto s1 = reg.join(a, 0, 40001).second, s2 = reg.join(a, 1, 40002).second, s3 = reg.join(a, 0, 40003).second;
  ASSERT_TRUE(s1 && s2 && s3);
  EXPECT_FALSE(reg.join(a, 1, 40004).second) << "P streams joined";
  EXPECT_EQ(t->joined.load(), 3u);
  EXPECT_EQ(s1->id, 1);
  EXPECT_EQ(s2->id, 3);
  EXPECT_EQ(s3->id, 4);
  EXPECT_EQ(s2->lane, 1u);
  EXPECT_EQ(s3->peer_port, 40003);
  s1->bytes = 10;
  s2->bytes = 200;
  s3->bytes = 3000;
  EXPECT_EQ(reg.counted(), 3210u);
  const auto slots = reg.slots(*t);
  ASSERT_EQ(slots.size(), 3u);
  EXPECT_EQ(slots[1], s2);
  EXPECT_FALSE(t->stop.load());
  reg.end(*t);
  EXPECT_TRUE(t->stop.load());
  EXPECT_EQ(reg.counted(), 0u);
  EXPECT_TRUE(reg.slots(*t).empty());
  auto next = reg.begin(b, 0);
  ASSERT_TRUE(next) << "idle again";
  EXPECT_FALSE(reg.join(a, 0, 40005).second) << "the old test's cookie";
}

}  // namespace
