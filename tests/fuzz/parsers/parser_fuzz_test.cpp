// The per-parser fuzz entries run as plain tests (the default suite is gcc, without libFuzzer): every
// seed, then deterministic mutations of them (tests/support/fuzz_mutate.hpp) from a fixed seed. A crash,
// an abort (an invariant of parser_entries.hpp broken) or a sanitizer report fails the test. The seeds
// are checked to reach what they were made for, so the mutations start at the parsers' deep paths.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>

#include "tests/fuzz/parsers/parser_entries.hpp"
#include "tests/fuzz/parsers/seeds.hpp"
#include "tests/support/fuzz_mutate.hpp"

using namespace ringlab::fuzz;
using ringlab::wire::error;

namespace {

std::filesystem::path traces() {
  const char* src = std::getenv("RINGLAB_SOURCE_DIR");
  return std::filesystem::path(src ? src : ".") / "traces";
}

std::vector<seed> seeds_of(std::string_view t) {
  std::size_t unreadable = 99;
  auto s = seeds(t, traces(), &unreadable);
  EXPECT_EQ(unreadable, 0u) << "a bundled trace does not open";
  return s;
}

outcome run_seed(std::string_view t, std::string_view name) {
  for (const auto& s : seeds_of(t))
    if (s.name == name) return find_target(t)->run(s.data);
  ADD_FAILURE() << t << ": no seed named " << name;
  return {};
}

class fuzz_parser : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST(fuzz_parsers, every_target_has_seeds_from_the_traces_and_crafted_ones) {
  ASSERT_EQ(targets().size(), 8u);
  for (const auto& t : targets()) {
    const auto s = seeds_of(t.name);
    EXPECT_GE(s.size(), 3u) << t.name;
    // At least one seed cut from a bundled trace (named TRACE-N or TRACE for the stack's scripts);
    // the bundled traces hold no TCP, so tcp_segment's seeds are all crafted.
    if (t.name == "tcp_segment") continue;
    EXPECT_TRUE(std::any_of(s.begin(), s.end(), [](const seed& x) {
      return x.name.rfind("malformed", 0) == 0 || x.name.rfind("arp-icmp-igmp", 0) == 0 || x.name.rfind("flows", 0) == 0 ||
             x.name.rfind("mcast-feed", 0) == 0;
    })) << t.name;
    for (const auto& x : s) EXPECT_LE(x.data.size(), t.max_len) << t.name << " " << x.name;
  }
  EXPECT_EQ(find_target("nope"), nullptr);
  EXPECT_TRUE(seeds("nope", traces()).empty());
}

TEST(fuzz_parsers, seeds_reach_the_paths_they_were_made_for) {
  // Ethernet: the malformed trace's 10-byte runt stops at the check; tags round-trip.
  EXPECT_EQ(run_seed("ethernet", "malformed-2").err, error::truncated);
  EXPECT_EQ(run_seed("ethernet", "vlan-100").st, stage::round_tripped);
  EXPECT_EQ(run_seed("ethernet", "qinq").st, stage::round_tripped);
  EXPECT_EQ(run_seed("arp", "arp-icmp-igmp-1").st, stage::round_tripped);
  EXPECT_EQ(run_seed("arp", "reply").st, stage::round_tripped);
  // IPv4: each malformed frame gets its reason; options round-trip; fragments are recognised.
  EXPECT_EQ(run_seed("ipv4", "malformed-6").err, error::bad_version);
  EXPECT_EQ(run_seed("ipv4", "malformed-7").err, error::bad_header_length);
  EXPECT_EQ(run_seed("ipv4", "malformed-8").err, error::bad_header_length);
  EXPECT_EQ(run_seed("ipv4", "malformed-9").err, error::bad_total_length);
  EXPECT_EQ(run_seed("ipv4", "malformed-11").err, error::fragment);
  for (const char* f : {"fragment-0", "fragment-1", "fragment-2"}) {
    const auto o = run_seed("ipv4", f);
    EXPECT_EQ(o.st, stage::refused_by_parse) << f;
    EXPECT_EQ(o.err, error::fragment) << f;
  }
  for (const char* f : {"router-alert", "nop-ra-eol", "loose-source-route", "ihl15-nops", "arp-icmp-igmp-3"})
    EXPECT_EQ(run_seed("ipv4", f).st, stage::round_tripped) << f;
  EXPECT_EQ(run_seed("icmp", "arp-icmp-igmp-2").st, stage::round_tripped);
  EXPECT_EQ(run_seed("icmp", "port-unreachable").err, error::unsupported);
  for (const char* f : {"arp-icmp-igmp-3", "arp-icmp-igmp-4", "arp-icmp-igmp-5", "v3-report", "v3-query-sources", "leave"})
    EXPECT_EQ(run_seed("igmp", f).st, stage::round_tripped) << f;
  EXPECT_EQ(run_seed("udp", "malformed-12").err, error::bad_length);
  EXPECT_EQ(run_seed("udp", "zero-checksum").st, stage::round_tripped);
  EXPECT_EQ(run_seed("udp", "mcast-feed-1").st, stage::round_tripped);
  for (const char* f : {"syn-all-options", "ack-sack-ts", "fin", "unknown-option"})
    EXPECT_EQ(run_seed("tcp_segment", f).st, stage::round_tripped) << f;
}

TEST(fuzz_parsers, stack_seeds_reach_reassembly_replies_and_the_socket) {
  // 2, 0, 1 complete the datagram (delivered); 0 again is held, 0 once more overlaps: dropped.
  auto o = run_seed("stack", "fragments-out-of-order-then-overlap");
  EXPECT_EQ(o.fragments, 5u);
  EXPECT_EQ(o.reassembled, 1u);
  EXPECT_EQ(o.delivered, 1u);
  o = run_seed("stack", "fragment-timeout");   // held, then timed out; the whole datagram is delivered
  EXPECT_EQ(o.fragments, 1u);
  EXPECT_EQ(o.reassembled, 0u);
  EXPECT_EQ(o.delivered, 1u);
  o = run_seed("stack", "arp-echo-igmp-multicast");
  EXPECT_EQ(o.replies, 2u);     // the ARP request and the echo request answered
  EXPECT_EQ(o.delivered, 1u);   // the datagram to 239.1.1.1:5001, a group the socket joined
  // The bundled market-data feed: its first 48 frames go to ports 5001-5004; the socket has 5001.
  o = run_seed("stack", "mcast-feed");
  EXPECT_GT(o.delivered, 0u);
  EXPECT_LT(o.delivered, 48u);
  o = run_seed("stack", "arp-icmp-igmp");
  EXPECT_EQ(o.replies, 3u);     // one ARP request for 10.0.0.2 and two echo requests; 10.0.0.3 is not ours
}

TEST_P(fuzz_parser, deterministic_mutations_run_clean) {
  const target* t = find_target(GetParam());
  ASSERT_NE(t, nullptr);
  std::vector<bytes> c;
  for (auto& s : seeds_of(t->name)) c.push_back(std::move(s.data));
  ASSERT_FALSE(c.empty());
  const char* env = std::getenv("RINGLAB_FUZZ_RUNS");
  const int runs = env ? std::atoi(env) : t->name == "stack" ? 1500 : 6000;
  ringlab::port::rng r(20261207);
  std::map<stage, int> seen;
  std::uint64_t delivered = 0, fragments = 0;
  for (int i = 0; i < runs; ++i) {
    const bytes m = ringlab::testing::mutate(c, r, 4);
    const outcome o = t->run(m);   // an abort inside names the broken invariant on stderr
    ++seen[o.st];
    delivered += o.delivered;
    fragments += o.fragments;
  }
  if (t->name == "stack") {   // mutated frames still reach the socket and the reassembler
    EXPECT_GT(delivered, 0u);
    EXPECT_GT(fragments, 0u);
    return;
  }
  // The mutations reach past the checks, and the checks refuse some: both sides are exercised.
  EXPECT_GT(seen[stage::round_tripped], 0) << t->name;
  EXPECT_GT(seen[stage::refused_by_check], 0) << t->name;
}

INSTANTIATE_TEST_SUITE_P(each, fuzz_parser,
                         ::testing::Values("ethernet", "arp", "ipv4", "icmp", "igmp", "udp", "tcp_segment", "stack"),
                         [](const auto& info) { return info.param; });
