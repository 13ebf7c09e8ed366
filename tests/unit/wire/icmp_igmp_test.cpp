#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "stack/wire/icmp.hpp"
#include "stack/wire/igmp.hpp"
#include "stack/wire/ipv4.hpp"
#include "tests/unit/wire/frames.hpp"

namespace ringlab::wire {
namespace {

// The IPv4 payload of a known frame (through the real IPv4 view, options skipped).
std::span<const std::byte> l4_of(std::span<const std::byte> frame) {
  return ipv4::view::check(frame.subspan(14))->payload();
}

TEST(Icmp, ParsesAndEmitsEchoRequest) {
  const auto msg = l4_of(test::icmp_echo_request);
  auto v = icmp::view::check(msg);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->msg_type(), 8);
  EXPECT_EQ(v->checksum(), 0xf541);
  EXPECT_TRUE(v->verify_checksum());
  auto r = icmp::repr::parse(*v);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, icmp::type::echo_request);
  EXPECT_EQ(r->ident, 0x1234);
  EXPECT_EQ(r->seq_no, 1);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(r->data.data()), r->data.size()), "ringlab!ping0123");
  std::vector<std::byte> out(r->buffer_len());
  ASSERT_EQ(r->emit(out), 24u);
  EXPECT_TRUE(std::ranges::equal(out, msg));
}

TEST(Icmp, ReplyRoundTripInPlace) {
  std::vector<std::byte> buf(l4_of(test::icmp_echo_request).begin(), l4_of(test::icmp_echo_request).end());
  auto req = *icmp::repr::parse(*icmp::view::check(buf));
  icmp::repr reply = req;
  reply.kind = icmp::type::echo_reply;
  ASSERT_EQ(reply.emit(buf), 24u);   // data already in place: no copy
  auto v = icmp::view::check(buf);
  EXPECT_EQ(v->msg_type(), 0);
  // Only the type changed, 8 -> 0: the checksum rises by 0x0800.
  EXPECT_EQ(v->checksum(), 0xf541 + 0x0800);
  auto back = icmp::repr::parse(*v);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, reply);
}

TEST(Icmp, TruncationChecksumAndUnsupported) {
  const auto msg = l4_of(test::icmp_echo_request);
  for (std::size_t n = 0; n < 8; ++n)
    EXPECT_EQ(icmp::view::check(msg.first(n)).error_code(), error::truncated) << n;
  // A cut message is whole as far as the header goes, but its checksum no longer matches.
  EXPECT_EQ(icmp::repr::parse(*icmp::view::check(msg.first(23))).error_code(), error::bad_checksum);
  std::vector<std::byte> m(msg.begin(), msg.end());
  m[0] = std::byte{13};   // timestamp request
  store_be16(m.data() + 2, 0);
  store_be16(m.data() + 2, checksum::compute(m));
  EXPECT_EQ(icmp::repr::parse(*icmp::view::check(m)).error_code(), error::unsupported);
  EXPECT_TRUE(icmp::repr::parse(*icmp::view::check(msg.first(23)), csum::offload));
}

TEST(Igmp, V2Report) {
  const auto msg = l4_of(test::igmpv2_report);
  ASSERT_EQ(msg.size(), 8u);
  auto v = igmp::view::check(msg);
  ASSERT_TRUE(v);
  auto r = igmp::repr::parse(*v);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, igmp::type::v2_report);
  EXPECT_EQ(r->version, 2);
  EXPECT_EQ(r->group, (ipv4_addr{239, 1, 1, 1}));
  std::array<std::byte, 8> out{};
  ASSERT_EQ(r->emit(out), 8u);
  EXPECT_TRUE(std::ranges::equal(out, msg));
  for (std::size_t n = 0; n < 8; ++n)
    EXPECT_EQ(igmp::view::check(msg.first(n)).error_code(), error::truncated) << n;
}

TEST(Igmp, V2QueryAndLeaveRoundTrip) {
  for (auto kind : {igmp::type::membership_query, igmp::type::leave}) {
    igmp::repr r;
    r.kind = kind;
    r.version = 2;
    r.max_resp_code = kind == igmp::type::membership_query ? 100 : 0;
    r.group = kind == igmp::type::leave ? ipv4_addr{239, 1, 1, 3} : ipv4_addr{};
    std::array<std::byte, 8> out{};
    ASSERT_EQ(r.emit(out), 8u);
    EXPECT_TRUE(checksum::verify(out));
    auto back = igmp::repr::parse(*igmp::view::check(out));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, r);
  }
  // A general query: 11 64 ee 9b 00 00 00 00 (the checksum of 0x1164 alone).
  igmp::repr q;
  q.max_resp_code = 100;
  std::array<std::byte, 8> out{};
  q.emit(out);
  EXPECT_EQ(out, (test::bytes_of<8>({0x11, 0x64, 0xee, 0x9b, 0, 0, 0, 0})));
  EXPECT_EQ(q.max_resp_ds(), 100u);
}

TEST(Igmp, V3ReportRecords) {
  const auto msg = l4_of(test::igmpv3_report);
  auto v = igmp::view::check(msg);
  ASSERT_TRUE(v);
  auto r = igmp::repr::parse(*v);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, igmp::type::v3_report);
  EXPECT_EQ(r->version, 3);
  ASSERT_EQ(r->records.size(), 2u);
  std::vector<igmp::group_record> recs;
  for (auto rec : r->records) recs.push_back(rec);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].kind(), igmp::record_type::change_to_exclude);
  EXPECT_EQ(recs[0].group(), (ipv4_addr{239, 1, 1, 1}));
  EXPECT_TRUE(recs[0].sources().empty());
  EXPECT_EQ(recs[1].kind(), igmp::record_type::mode_is_include);
  EXPECT_EQ(recs[1].group(), (ipv4_addr{239, 1, 1, 2}));
  ASSERT_EQ(recs[1].sources().size(), 2u);
  EXPECT_EQ(recs[1].sources()[0], (ipv4_addr{10, 0, 0, 7}));
  EXPECT_EQ(recs[1].sources()[1], (ipv4_addr{10, 0, 0, 8}));

  // repr -> bytes, and the builder -> the same bytes.
  std::vector<std::byte> out(r->buffer_len());
  ASSERT_EQ(r->emit(out), msg.size());
  EXPECT_TRUE(std::ranges::equal(out, msg));
  const std::array<ipv4_addr, 2> srcs{ipv4_addr{10, 0, 0, 7}, ipv4_addr{10, 0, 0, 8}};
  const std::array<igmp::record_repr, 2> build{
      igmp::record_repr{igmp::record_type::change_to_exclude, {239, 1, 1, 1}, {}},
      igmp::record_repr{igmp::record_type::mode_is_include, {239, 1, 1, 2}, srcs}};
  std::vector<std::byte> out2(igmp::v3_report_len(build));
  ASSERT_EQ(igmp::emit_v3_report(build, out2), msg.size());
  EXPECT_TRUE(std::ranges::equal(out2, msg));

  for (std::size_t n = 0; n < msg.size(); ++n)
    EXPECT_EQ(igmp::view::check(msg.first(n)).error_code(), error::truncated) << n;
}

TEST(Igmp, V3RecordAuxDataSkipped) {
  // One record with 1 source and 1 word of aux data, then a second record: the walk must skip aux.
  std::vector<std::byte> m(8 + 8 + 4 + 4 + 8);
  store_u8(m.data(), 0x22);
  store_be16(m.data() + 6, 2);
  store_u8(m.data() + 8, 5);
  store_u8(m.data() + 9, 1);
  store_be16(m.data() + 10, 1);
  ipv4_addr{239, 2, 2, 2}.store(m.data() + 12);
  ipv4_addr{10, 9, 9, 9}.store(m.data() + 16);
  store_be32(m.data() + 20, 0xdeadbeef);
  store_u8(m.data() + 24, 6);
  ipv4_addr{239, 3, 3, 3}.store(m.data() + 28);
  store_be16(m.data() + 2, checksum::compute(m));
  auto r = igmp::repr::parse(*igmp::view::check(m));
  ASSERT_TRUE(r);
  auto it = r->records.begin();
  EXPECT_EQ((*it).aux_data().size(), 4u);
  EXPECT_EQ(load_be32((*it).aux_data().data()), 0xdeadbeefu);
  ++it;
  EXPECT_EQ((*it).kind(), igmp::record_type::block_old_sources);
  EXPECT_EQ((*it).group(), (ipv4_addr{239, 3, 3, 3}));
  ++it;
  EXPECT_TRUE(it == r->records.end());
  store_be16(m.data() + 6, 3);   // claims a third record
  EXPECT_EQ(igmp::view::check(m).error_code(), error::truncated);
}

TEST(Igmp, V3QueryWithSources) {
  const auto msg = l4_of(test::igmpv3_query);
  auto v = igmp::view::check(msg);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->is_v3_query());
  auto r = igmp::repr::parse(*v);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, igmp::type::membership_query);
  EXPECT_EQ(r->version, 3);
  EXPECT_EQ(r->max_resp_code, 100);
  EXPECT_EQ(r->max_resp_ds(), 100u);
  EXPECT_EQ(r->group, (ipv4_addr{239, 1, 1, 1}));
  EXPECT_FALSE(r->s_flag);
  EXPECT_EQ(r->qrv, 2);
  EXPECT_EQ(r->qqic, 125);
  std::vector<ipv4_addr> srcs(r->sources.begin(), r->sources.end());
  EXPECT_EQ(srcs, (std::vector<ipv4_addr>{{10, 0, 0, 7}, {10, 0, 0, 9}}));
  std::vector<std::byte> out(r->buffer_len());
  ASSERT_EQ(r->emit(out), msg.size());
  EXPECT_TRUE(std::ranges::equal(out, msg));

  // Rebuilt from values: sources stored into our own scratch bytes.
  std::array<std::byte, 8> scratch{};
  const std::array<ipv4_addr, 2> list{ipv4_addr{10, 0, 0, 7}, ipv4_addr{10, 0, 0, 9}};
  igmp::repr q;
  q.version = 3;
  q.max_resp_code = 100;
  q.group = {239, 1, 1, 1};
  q.qrv = 2;
  q.qqic = 125;
  q.sources = igmp::store_addresses(list, scratch);
  std::vector<std::byte> out2(q.buffer_len());
  ASSERT_EQ(q.emit(out2), msg.size());
  EXPECT_TRUE(std::ranges::equal(out2, msg));

  // Prefixes: 8 bytes is a (v2-sized) query whose checksum no longer matches; the rest are truncated.
  for (std::size_t n = 0; n < msg.size(); ++n) {
    auto c = igmp::view::check(msg.first(n));
    if (n == 8) {
      ASSERT_TRUE(c);
      EXPECT_EQ(igmp::repr::parse(*c).error_code(), error::bad_checksum);
    } else {
      EXPECT_EQ(c.error_code(), error::truncated) << n;
    }
  }
}

TEST(Igmp, CodeDecoding) {
  EXPECT_EQ(igmp::decode_code(0), 0u);
  EXPECT_EQ(igmp::decode_code(127), 127u);
  EXPECT_EQ(igmp::decode_code(0x80), 128u);           // mant 0, exp 0: 0x10 << 3
  EXPECT_EQ(igmp::decode_code(0xff), 0x1fu << 10);    // the largest: 31744
}

TEST(Igmp, BadChecksumAndUnknownType) {
  auto f = test::igmpv2_report;
  f[f.size() - 1] ^= std::byte{1};
  EXPECT_EQ(igmp::repr::parse(*igmp::view::check(l4_of(f))).error_code(), error::bad_checksum);
  std::array<std::byte, 8> m = test::bytes_of<8>({0x13, 0, 0, 0, 0, 0, 0, 0});   // DVMRP
  store_be16(m.data() + 2, checksum::compute(m));
  EXPECT_EQ(igmp::repr::parse(*igmp::view::check(m)).error_code(), error::unsupported);
}

}  // namespace
}  // namespace ringlab::wire
