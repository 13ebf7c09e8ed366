// Toeplitz RSS against Microsoft's RSS verification suite ("Verifying the RSS Hash Calculation"),
// the same table DPDK's app/test/test_thash.c uses: key 6d5a56da..., IPv4 with and without ports.
#include <gtest/gtest.h>

#include <set>

#include "sim_nic/rss.hpp"
#include "tests/unit/sim_nic/frames.hpp"

using namespace ringlab;
using ringlab::simtest::ipv4_frame;

namespace {
struct vector_row {
  std::array<std::uint8_t, 4> dst;
  std::uint16_t dport;
  std::array<std::uint8_t, 4> src;
  std::uint16_t sport;
  std::uint32_t ipv4, ipv4_tcp;
};
constexpr vector_row rows[] = {
    {{161, 142, 100, 80}, 1766, {66, 9, 149, 187}, 2794, 0x323e8fc2, 0x51ccc178},
    {{65, 69, 140, 83}, 4739, {199, 92, 111, 2}, 14230, 0xd718262a, 0xc626b0ea},
    {{12, 22, 207, 184}, 38024, {24, 19, 198, 95}, 12898, 0xd2d0a5de, 0x5c2b394a},
    {{209, 142, 163, 6}, 2217, {38, 27, 205, 30}, 48228, 0x82989176, 0xafc7327f},
    {{202, 188, 127, 2}, 1303, {153, 39, 163, 191}, 44251, 0x5d1809c5, 0x10e828a2},
};

std::vector<std::uint8_t> input(const vector_row& r, bool ports) {
  std::vector<std::uint8_t> in(r.src.begin(), r.src.end());
  in.insert(in.end(), r.dst.begin(), r.dst.end());
  if (ports) {
    in.push_back(r.sport >> 8); in.push_back(r.sport & 0xff);
    in.push_back(r.dport >> 8); in.push_back(r.dport & 0xff);
  }
  return in;
}
}  // namespace

TEST(rss, bitwise_toeplitz_matches_microsoft_vectors) {
  for (const auto& r : rows) {
    EXPECT_EQ(sim::toeplitz_hash(sim::default_rss_key, input(r, false)), r.ipv4);
    EXPECT_EQ(sim::toeplitz_hash(sim::default_rss_key, input(r, true)), r.ipv4_tcp);
  }
}

TEST(rss, table_hash_over_parsed_frames_matches_microsoft_vectors) {
  sim::rss_hasher h(4);
  for (const auto& r : rows) {
    const auto tcp = ipv4_frame(r.src, r.dst, r.sport, r.dport, 10, 6);
    const auto t4 = sim::extract_rss_tuple(tcp, true);
    ASSERT_EQ(t4.len, 12);
    EXPECT_EQ(h.hash(t4), r.ipv4_tcp);
    const auto t2 = sim::extract_rss_tuple(tcp, false);
    ASSERT_EQ(t2.len, 8);
    EXPECT_EQ(h.hash(t2), r.ipv4);
    EXPECT_EQ(h.queue_of(r.ipv4_tcp), (r.ipv4_tcp & 127) % 4);
  }
}

TEST(rss, fragments_hash_the_2_tuple_and_non_ip_hashes_nothing) {
  const auto& r = rows[0];
  const auto frag = ipv4_frame(r.src, r.dst, r.sport, r.dport, 10, 17, 0x2000);   // MF set
  EXPECT_EQ(sim::extract_rss_tuple(frag).len, 8);
  const auto later = ipv4_frame(r.src, r.dst, r.sport, r.dport, 10, 17, 0x0010); // offset 16*8
  EXPECT_EQ(sim::extract_rss_tuple(later).len, 8);
  auto arp = ipv4_frame(r.src, r.dst, 1, 2);
  simtest::put16(arp, 12, 0x0806);
  EXPECT_EQ(sim::extract_rss_tuple(arp).len, 0);
  EXPECT_EQ(sim::extract_rss_tuple(std::span(arp).first(20)).len, 0);
  auto bad_ihl = ipv4_frame(r.src, r.dst, 1, 2);
  bad_ihl[14] = std::byte{0x44};
  EXPECT_EQ(sim::extract_rss_tuple(bad_ihl).len, 0);
}

TEST(rss, vlan_tagged_frames_hash_the_inner_ipv4) {
  const auto& r = rows[1];
  auto f = ipv4_frame(r.src, r.dst, r.sport, r.dport, 10, 6);
  simtest::bytes tagged(f.begin(), f.begin() + 12);
  tagged.push_back(std::byte{0x81}); tagged.push_back(std::byte{0x00});
  tagged.push_back(std::byte{0x00}); tagged.push_back(std::byte{0x05});
  tagged.insert(tagged.end(), f.begin() + 12, f.end());
  sim::rss_hasher h;
  EXPECT_EQ(h.hash(sim::extract_rss_tuple(tagged)), r.ipv4_tcp);
}

TEST(rss, reta_spreads_flows_and_can_be_rewritten) {
  sim::rss_hasher h(4);
  std::set<std::uint16_t> seen;
  for (std::uint32_t i = 0; i < 256; ++i) seen.insert(h.queue_of(h.hash(sim::extract_rss_tuple(simtest::flow_frame(i)))));
  EXPECT_EQ(seen.size(), 4u);
  const std::uint16_t all_to_2[] = {2};
  h.set_reta(all_to_2);
  for (std::uint32_t i = 0; i < 16; ++i) EXPECT_EQ(h.queue_of(i * 977), 2);
  const std::uint16_t too_big[] = {9};
  h.set_reta(too_big);
  EXPECT_EQ(h.queue_of(5), 3);
}
