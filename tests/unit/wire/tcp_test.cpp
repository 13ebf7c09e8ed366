// wire::tcp against segments Linux sent, byte for byte, and against untrusted bytes: every length rule,
// every option rule. tests/unit/wire/tcp_tshark_test.cpp has tshark dissect what we emit.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "stack/wire/tcp.hpp"

namespace ringlab::wire {
namespace {

std::vector<std::byte> hex(std::string_view h) {
  std::vector<std::byte> out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(static_cast<std::byte>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

// Captured on lo inside a network namespace (Linux 6.18; dumpcap): a Python client connecting to
// 127.0.0.1:7777 and sending "hello, ringlab". The TCP segment of frame 1 (SYN) and frame 4 (data).
// On lo the kernel leaves the checksum to "hardware" (CHECKSUM_PARTIAL): the field holds the pseudo
// header's sum only, which the tests below check as such.
const std::vector<std::byte> linux_syn =
    hex("c3d01e614d132af800000000a002ffd7fe3000000204ffd70402080ab042a41f000000000103030a");
const std::vector<std::byte> linux_data =
    hex("c3d01e614d132af9a0d0e6fd80180040fe3600000101080ab042a42c26ef563168656c6c6f2c2072696e676c6162");
constexpr ipv4_addr lo{127, 0, 0, 1};

std::uint16_t partial_field(std::size_t len) {
  return checksum::pseudo_header(lo, lo, tcp::ip_protocol, static_cast<std::uint16_t>(len));
}

TEST(Tcp, ParsesLinuxSynWithEveryOptionItOffers) {
  const auto v = tcp::view::check(linux_syn);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->src_port(), 50128);
  EXPECT_EQ(v->dst_port(), 7777);
  EXPECT_EQ(v->seq_num(), 0x4d132af8u);
  EXPECT_EQ(v->header_length(), 40u);
  EXPECT_EQ(v->flags(), tcp::flag::syn);
  EXPECT_EQ(v->window(), 65495);
  EXPECT_EQ(v->checksum(), partial_field(linux_syn.size()));
  EXPECT_FALSE(v->verify_checksum(lo, lo));   // a partial checksum is not a valid one
  EXPECT_TRUE(v->payload().empty());

  const auto r = tcp::repr::parse(*v, lo, lo, csum::offload);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->opts.mss, 65495);
  EXPECT_TRUE(r->opts.sack_permitted);
  ASSERT_TRUE(r->opts.ts);
  EXPECT_EQ(r->opts.ts->value, 0xb042a41fu);
  EXPECT_EQ(r->opts.ts->echo, 0u);
  EXPECT_EQ(r->opts.window_scale, 10);
  EXPECT_EQ(r->opts.sack_count, 0);
  EXPECT_EQ(r->segment_len(), 1u);   // the SYN counts one
  EXPECT_EQ(tcp::repr::parse(*v, lo, lo, csum::full).error_code(), error::bad_checksum);
}

TEST(Tcp, EmitLaysOutOptionsAsLinuxDoesByteForByte) {
  for (const auto* seg : {&linux_syn, &linux_data}) {
    const auto r = tcp::repr::parse(*tcp::view::check(*seg), lo, lo, csum::offload);
    ASSERT_TRUE(r);
    std::vector<std::byte> out(r->buffer_len());
    ASSERT_EQ(r->emit(out, lo, lo, csum::offload), seg->size());
    // Every byte equal but the checksum, which offload leaves zero.
    auto expect = *seg;
    expect[tcp::field::checksum] = expect[tcp::field::checksum + 1] = std::byte{0};
    EXPECT_EQ(out, expect);
    // With csum::full the checksum is the full one: it verifies, and parses back to the same repr.
    ASSERT_EQ(r->emit(out, lo, lo, csum::full), seg->size());
    const auto v = tcp::view::check(out);
    EXPECT_TRUE(v->verify_checksum(lo, lo));
    EXPECT_EQ(tcp::repr::parse(*v, lo, lo, csum::full).value(), *r);
  }
}

TEST(Tcp, ParsesLinuxDataSegment) {
  const auto r = tcp::repr::parse(*tcp::view::check(linux_data), lo, lo, csum::offload);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->flags, tcp::flag::psh | tcp::flag::ack);
  EXPECT_EQ(r->seq, 0x4d132af9u);
  EXPECT_EQ(r->ack, 0xa0d0e6fdu);
  EXPECT_EQ(r->window, 64);   // scaled by the window scale of the SYNs: 64 << 10 = 65536
  EXPECT_FALSE(r->opts.mss);
  EXPECT_FALSE(r->opts.sack_permitted);
  ASSERT_TRUE(r->opts.ts);
  EXPECT_EQ(r->opts.ts->value, 0xb042a42cu);
  EXPECT_EQ(r->opts.ts->echo, 0x26ef5631u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(r->payload.data()), r->payload.size()), "hello, ringlab");
  EXPECT_EQ(r->segment_len(), 14u);
}

TEST(Tcp, RoundTripsSackBlocksAndEveryLayout) {
  const std::array<std::byte, 5> data{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}, std::byte{5}};
  const ipv4_addr a{10, 0, 0, 1}, b{10, 0, 0, 2};
  tcp::repr r;
  r.src_port = 1, r.dst_port = 65535, r.seq = 0xfffffff0u, r.ack = 7, r.flags = tcp::flag::ack | tcp::flag::fin;
  r.window = 1234, r.payload = data;
  for (int layout = 0; layout < 8; ++layout) {
    r.opts = {};
    if (layout & 1) r.opts.ts = tcp::timestamps{0x01020304, 0xa0b0c0d0};
    if (layout & 2) r.opts.sack_permitted = true;
    r.opts.sack_count = static_cast<std::uint8_t>(layout & 4 ? (r.opts.ts ? 3 : 4) : 0);
    for (std::uint8_t k = 0; k < r.opts.sack_count; ++k) r.opts.sack[k] = {0xffffff00u + k * 16, 0x10u + k};
    std::vector<std::byte> out(r.buffer_len());
    ASSERT_EQ(r.emit(out, a, b), out.size()) << layout;
    EXPECT_EQ(r.header_length() % 4, 0u);
    const auto v = tcp::view::check(out);
    ASSERT_TRUE(v);
    const auto back = tcp::repr::parse(*v, a, b);
    ASSERT_TRUE(back) << layout;
    EXPECT_EQ(*back, r) << layout;
    EXPECT_EQ(back->segment_len(), 6u);   // 5 bytes and the FIN
  }
  // Four SACK blocks beside timestamps are 42 bytes of options: refused, never cut.
  r.opts.ts = tcp::timestamps{1, 2};
  r.opts.sack_count = 4;
  std::vector<std::byte> out(128);
  EXPECT_EQ(r.emit(out, a, b), 0u);
  // Too small a buffer: nothing written.
  r.opts = {};
  std::vector<std::byte> small(r.buffer_len() - 1);
  EXPECT_EQ(r.emit(small, a, b), 0u);
}

TEST(Tcp, LengthRulesForUntrustedBytes) {
  EXPECT_EQ(tcp::view::check({linux_syn.data(), 19}).error_code(), error::truncated);
  auto b = linux_syn;
  b[tcp::field::data_offset] = std::byte{0x40};   // 16 bytes: less than the fixed header
  EXPECT_EQ(tcp::view::check(b).error_code(), error::bad_header_length);
  b[tcp::field::data_offset] = std::byte{0xb0};   // 44 bytes: more than the 40 there are
  EXPECT_EQ(tcp::view::check(b).error_code(), error::bad_header_length);
  b[tcp::field::data_offset] = std::byte{0x50};   // 20: the options become payload
  const auto v = tcp::view::check(b);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->payload().size(), 20u);
  EXPECT_TRUE(v->options().empty());
}

// Options bytes -> what parse says. Each case is a 20-byte header followed by these options.
struct option_case {
  const char* name;
  const char* options_hex;
  error want;
};

TEST(Tcp, OptionRulesForUntrustedBytes) {
  const option_case cases[] = {
      {"kind without length", "01010102", error::malformed},
      {"length 0", "02000000", error::malformed},
      {"length 1", "08010000", error::malformed},
      {"runs past the header", "080a0000", error::malformed},
      {"mss of length 3", "02030000", error::malformed},
      {"window scale of length 4", "03040000", error::malformed},
      {"sack permitted of length 3", "04030000", error::malformed},
      {"timestamps of length 8", "0808000000000000", error::malformed},
      {"sack of length 6", "050600000000" "0000", error::malformed},
      {"sack of length 9", "0509000000000000" "00000000", error::malformed},
      {"unknown kind skipped", "1e04abcd", error::none},
      {"eol ends the list", "00ff0000", error::none},
      {"nops only", "01010101", error::none},
  };
  for (const auto& c : cases) {
    auto seg = hex("0001000200000000000000005010000000000000");
    const auto opts = hex(c.options_hex);
    seg.insert(seg.end(), opts.begin(), opts.end());
    seg[tcp::field::data_offset] = static_cast<std::byte>((seg.size() / 4) << 4);
    const auto v = tcp::view::check(seg);
    ASSERT_TRUE(v) << c.name;
    EXPECT_EQ(tcp::repr::parse(*v, {}, {}, csum::offload).error_code(), c.want) << c.name;
  }
  // An unknown option between known ones does not hide them.
  auto seg = hex("0001000200000000000000008010000000000000" "1e03ff" "020405b4" "0101010101");
  const auto r = tcp::repr::parse(*tcp::view::check(seg), {}, {}, csum::offload);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->opts.mss, 1460);
}

TEST(Tcp, ZeroIsAChecksumLikeAnyOther) {
  // Find a segment whose correct checksum is 0x0000 by adjusting the urgent field, then check that a
  // zero field verifies only then (UDP's "zero means none" does not exist in TCP).
  const ipv4_addr a{10, 0, 0, 1}, b{10, 0, 0, 2};
  tcp::repr r;
  r.src_port = 80, r.dst_port = 443, r.flags = tcp::flag::ack;
  std::vector<std::byte> out(r.buffer_len());
  for (std::uint32_t u = 0; u <= 0xffff; ++u) {
    r.urgent = static_cast<std::uint16_t>(u);
    r.emit(out, a, b);
    if (tcp::view::check(out)->checksum() == 0) break;
  }
  ASSERT_EQ(tcp::view::check(out)->checksum(), 0);
  EXPECT_TRUE(tcp::view::check(out)->verify_checksum(a, b));
  r.urgent = static_cast<std::uint16_t>(r.urgent + 1);
  r.emit(out, a, b, csum::offload);   // field zero, but not the right value now
  EXPECT_FALSE(tcp::view::check(out)->verify_checksum(a, b));
}

}  // namespace
}  // namespace ringlab::wire
