// Reading traces: link types, pcapng, and every kind of bad file named by packet number and offset.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "sim_nic/pcap_trace.hpp"
#include "tests/unit/sim_nic/frames.hpp"

using namespace ringlab;
using namespace ringlab::simtest;

TEST(pcap_trace, reads_ethernet_frames_timestamps_and_record_offsets) {
  temp_file f("eth");
  std::vector<pcap_frame> in{{flow_frame(1), 1'000'000'123}, {flow_frame(2, 100), 1'000'002'000}};
  write_pcap(f.path, in);
  auto t = sim::pcap_trace::open(f.path);
  ASSERT_TRUE(t) << t.error;
  ASSERT_EQ(t->records().size(), 2u);
  const auto& r0 = t->records()[0];
  const auto& r1 = t->records()[1];
  EXPECT_EQ(r0.number, 1u);
  EXPECT_EQ(r0.file_offset, 24u);   // after the file header
  EXPECT_EQ(r1.file_offset, 24u + 16 + in[0].data.size());
  EXPECT_EQ(r0.ts_ns, 1'000'000'123u);
  EXPECT_EQ(r1.ts_ns, 1'000'002'000u);
  const auto b1 = t->bytes(r1);
  ASSERT_EQ(b1.size(), in[1].data.size());
  EXPECT_EQ(std::memcmp(b1.data(), in[1].data.data(), b1.size()), 0);
  EXPECT_EQ(t->duration_ns(), 1877u);
}

TEST(pcap_trace, converts_linux_cooked_and_raw_ip_to_ethernet) {
  const auto eth = ipv4_frame({10, 0, 0, 1}, {239, 1, 2, 3}, 5000, 6000);
  const bytes ip(eth.begin() + 14, eth.end());
  // SLL: pkttype 0, hatype 1, halen 6, addr 6 bytes + 2 pad, protocol 0x0800.
  // Sized for the IP packet up front and filled with std::copy: GCC 12 at -O3 flags insert() at the
  // end of a 16-byte vector (-Warray-bounds, a false positive).
  bytes sll(16 + ip.size());
  sll[3] = std::byte{1}; sll[5] = std::byte{6};
  const std::uint8_t mac[6] = {0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
  for (int i = 0; i < 6; ++i) sll[6 + i] = std::byte{mac[i]};
  put16(sll, 14, 0x0800);
  std::copy(ip.begin(), ip.end(), sll.begin() + 16);
  // SLL2: protocol first, then reserved, ifindex, hatype, pkttype, halen, addr.
  bytes sll2(20 + ip.size());
  put16(sll2, 0, 0x0800);
  sll2[11] = std::byte{6};
  for (int i = 0; i < 6; ++i) sll2[12 + i] = std::byte{mac[i]};
  std::copy(ip.begin(), ip.end(), sll2.begin() + 20);
  for (auto [dlt, frame] : {std::pair{DLT_LINUX_SLL, sll}, std::pair{276, sll2}, std::pair{DLT_RAW, ip}}) {
    temp_file f("link" + std::to_string(dlt));
    write_pcap(f.path, {{frame, 5}}, dlt);
    auto t = sim::pcap_trace::open(f.path);
    ASSERT_TRUE(t) << t.error;
    ASSERT_EQ(t->records().size(), 1u);
    const auto b = t->bytes(t->records()[0]);
    ASSERT_EQ(b.size(), eth.size()) << dlt;
    // Destination: the IPv4 multicast MAC for 239.1.2.3; type 0x0800; the IP packet unchanged.
    const std::uint8_t want_dst[6] = {0x01, 0x00, 0x5e, 0x01, 0x02, 0x03};
    EXPECT_EQ(std::memcmp(b.data(), want_dst, 6), 0) << dlt;
    if (dlt != DLT_RAW) {
      EXPECT_EQ(std::memcmp(b.data() + 6, mac, 6), 0) << dlt;
    }
    EXPECT_EQ(b[12], std::byte{0x08});
    EXPECT_EQ(std::memcmp(b.data() + 14, ip.data(), ip.size()), 0) << dlt;
    EXPECT_EQ(t->records()[0].wirelen, eth.size());
  }
}

TEST(pcap_trace, reads_pcapng) {
  // A minimal pcapng: SHB, IDB (Ethernet, ns resolution), one EPB.
  const auto frame = flow_frame(3);
  bytes img;
  auto u32 = [&](std::uint32_t v) { for (int i = 0; i < 4; ++i) img.push_back(std::byte((v >> (8 * i)) & 0xff)); };
  auto u16 = [&](std::uint16_t v) { img.push_back(std::byte(v & 0xff)); img.push_back(std::byte(v >> 8)); };
  u32(0x0A0D0D0A); u32(28); u32(0x1A2B3C4D); u16(1); u16(0); u32(0xffffffff); u32(0xffffffff); u32(28);
  u32(1); u32(32); u16(1); u16(0); u32(65535);
  u16(9); u16(1); img.push_back(std::byte{9}); img.push_back({}); img.push_back({}); img.push_back({});   // if_tsresol = 9
  u32(0); u32(32);   // opt_endofopt, block length
  const std::uint32_t padded = (frame.size() + 3) & ~3u;
  const std::uint64_t ts = 1'234'567'890'123ull;
  const std::uint32_t epb_len = 32 + padded;
  u32(6); u32(epb_len); u32(0); u32(static_cast<std::uint32_t>(ts >> 32)); u32(static_cast<std::uint32_t>(ts));
  u32(static_cast<std::uint32_t>(frame.size())); u32(static_cast<std::uint32_t>(frame.size()));
  img.insert(img.end(), frame.begin(), frame.end());
  img.resize(img.size() + (padded - frame.size()));
  u32(epb_len);
  auto t = sim::pcap_trace::from_memory(img, "mini.pcapng");
  ASSERT_TRUE(t) << t.error;
  ASSERT_EQ(t->records().size(), 1u);
  EXPECT_EQ(t->records()[0].ts_ns, ts);
  EXPECT_EQ(t->records()[0].file_offset, 28u + 32u);
  EXPECT_EQ(std::memcmp(t->bytes(t->records()[0]).data(), frame.data(), frame.size()), 0);
}

TEST(pcap_trace, missing_file_is_a_clear_error) {
  auto t = sim::pcap_trace::open("/nonexistent/ringlab/x.pcap");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error, "/nonexistent/ringlab/x.pcap: cannot open: No such file or directory");
}

TEST(pcap_trace, non_pcap_file_is_a_clear_error) {
  temp_file f("text");
  const char text[] = "this is not a capture file at all, just text\n";
  write_file(f.path, bytes(reinterpret_cast<const std::byte*>(text), reinterpret_cast<const std::byte*>(text) + sizeof text));
  auto t = sim::pcap_trace::open(f.path);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error.find(f.path + ": not a pcap or pcapng file"), std::string::npos) << t.error;
  auto e = sim::pcap_trace::from_memory({}, "empty.pcap");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error, "empty.pcap: empty file (not a pcap or pcapng file)");
}

TEST(pcap_trace, truncated_file_names_the_packet_and_byte_offset) {
  temp_file f("trunc");
  write_pcap(f.path, {{flow_frame(1), 1}, {flow_frame(2), 2}, {flow_frame(3), 3}});
  auto img = read_file(f.path);
  const std::size_t rec = 16 + flow_frame(1).size();
  img.resize(24 + 2 * rec + 10);   // packet 3 is cut inside its data
  auto t = sim::pcap_trace::from_memory(img, "cut.pcap");
  ASSERT_FALSE(t);
  EXPECT_NE(t.error.find("cut.pcap: packet 3 at byte offset " + std::to_string(24 + 2 * rec) + ": "), std::string::npos)
      << t.error;
  EXPECT_NE(t.error.find("truncated"), std::string::npos) << t.error;
  img.resize(24 + rec + 5);   // packet 2 cut inside its record header
  auto t2 = sim::pcap_trace::from_memory(img, "cut.pcap");
  ASSERT_FALSE(t2);
  EXPECT_NE(t2.error.find("packet 2 at byte offset " + std::to_string(24 + rec)), std::string::npos) << t2.error;
}

TEST(pcap_trace, unsupported_link_type_is_refused_by_name) {
  temp_file f("wifi");
  write_pcap(f.path, {{flow_frame(1), 1}}, DLT_IEEE802_11);
  auto t = sim::pcap_trace::open(f.path);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error, f.path + ": link type 105 (IEEE802_11) is not supported (Ethernet, Linux cooked SLL/SLL2 and raw IP are)");
}

TEST(pcap_trace, snaplen_cut_frames_are_kept_with_both_lengths) {
  temp_file f("snap");
  auto fr = flow_frame(1, 200);
  fr.resize(64);
  write_pcap(f.path, {{fr, 1, 256}}, DLT_EN10MB, 64);
  auto t = sim::pcap_trace::open(f.path);
  ASSERT_TRUE(t) << t.error;
  EXPECT_EQ(t->records()[0].caplen, 64u);
  EXPECT_EQ(t->records()[0].wirelen, 256u);
}
