#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <vector>

#include "tools/mcast/datagram.hpp"

using namespace ringlab::mcast;

namespace {
std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int x : v) out.push_back(static_cast<std::byte>(x));
  return out;
}
}  // namespace

TEST(datagram, header_is_24_big_endian_bytes) {
  std::array<std::byte, header_size> h{};
  write_header(h, {.seq = 0x0102030405060708, .send_ns = 0x1112131415161718});
  EXPECT_EQ(std::vector<std::byte>(h.begin(), h.end()),
            bytes({'R', 'L', 'M', 'C', 0, 1, 0, 24, 1, 2, 3, 4, 5, 6, 7, 8,
                   0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18}));
  write_send_ns(h, 0xA0);
  EXPECT_EQ(h[16], std::byte{0});
  EXPECT_EQ(h[23], std::byte{0xA0});
  EXPECT_EQ(h[15], std::byte{8});   // seq untouched
}

TEST(datagram, parse_round_trip_with_payload) {
  std::vector<std::byte> d(header_size + 5);
  write_header(std::span<std::byte, header_size>(d.data(), header_size), {.seq = 77, .send_ns = 123456789});
  std::memcpy(d.data() + header_size, "hello", 5);
  auto p = parse_datagram(d);
  ASSERT_EQ(p.error, datagram_error::none);
  EXPECT_EQ(p.header.seq, 77u);
  EXPECT_EQ(p.header.send_ns, 123456789u);
  ASSERT_EQ(p.payload.size(), 5u);
  EXPECT_EQ(std::memcmp(p.payload.data(), "hello", 5), 0);
}

TEST(datagram, empty_payload_is_valid) {
  std::array<std::byte, header_size> h{};
  write_header(h, {.seq = 1});
  auto p = parse_datagram(h);
  EXPECT_EQ(p.error, datagram_error::none);
  EXPECT_TRUE(p.payload.empty());
}

TEST(datagram, rejects_each_malformation_by_reason) {
  std::array<std::byte, header_size> good{};
  write_header(good, {.seq = 1});
  EXPECT_EQ(parse_datagram(std::span<const std::byte>(good.data(), 23)).error, datagram_error::too_short);
  EXPECT_EQ(parse_datagram({}).error, datagram_error::too_short);
  auto m = good;
  m[0] = std::byte{'X'};
  EXPECT_EQ(parse_datagram(m).error, datagram_error::bad_magic);
  m = good;
  m[5] = std::byte{2};
  EXPECT_EQ(parse_datagram(m).error, datagram_error::bad_version);
  m = good;
  m[7] = std::byte{23};   // shorter than the fields it must hold
  EXPECT_EQ(parse_datagram(m).error, datagram_error::bad_header_len);
  m = good;
  m[7] = std::byte{25};   // longer than the datagram
  EXPECT_EQ(parse_datagram(m).error, datagram_error::bad_header_len);
  EXPECT_EQ(to_string(datagram_error::bad_magic), "bad_magic");
}

TEST(datagram, a_longer_header_from_a_later_sender_is_skipped) {
  std::vector<std::byte> d(32 + 2);
  write_header(std::span<std::byte, header_size>(d.data(), header_size), {.seq = 9});
  d[7] = std::byte{32};
  d[32] = std::byte{'o'};
  d[33] = std::byte{'k'};
  auto p = parse_datagram(d);
  ASSERT_EQ(p.error, datagram_error::none);
  ASSERT_EQ(p.payload.size(), 2u);
  EXPECT_EQ(p.payload[0], std::byte{'o'});
}
