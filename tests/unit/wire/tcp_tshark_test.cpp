// tshark, an independent dissector, reads the TCP segments wire::tcp emits: every option with its
// value, the checksum validated, no expert warning of a malformed header.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "port/pcap_tap.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp.hpp"
#include "tests/support/preconditions.hpp"

namespace ringlab::wire {
namespace {

constexpr ipv4_addr a{10, 0, 0, 1}, b{10, 0, 0, 2};

std::vector<std::byte> frame(const tcp::repr& t) {
  std::vector<std::byte> f(ethernet::header_len + ipv4::min_header_len + t.buffer_len());
  const ipv4::repr ip{a, b, tcp::ip_protocol, static_cast<std::uint16_t>(t.buffer_len()), 64, 0, 7, true};
  ethernet::repr{{2, 0, 0, 0, 0, 1}, {2, 0, 0, 0, 0, 2}, ethernet::ethertype::ipv4, std::nullopt, 0}.emit(f);
  ip.emit(std::span(f).subspan(ethernet::header_len, ipv4::min_header_len));
  EXPECT_EQ(t.emit(std::span(f).subspan(ethernet::header_len + ipv4::min_header_len), a, b), t.buffer_len());
  return f;
}

std::string run(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

TEST(TcpTshark, EveryOptionWeEmitDissectsWithItsValueAndAGoodChecksum) {
  RINGLAB_REQUIRE(ringlab::netlab::program_missing("tshark", "tshark"));
  const std::string payload = "ringlab tcp";
  std::vector<std::vector<std::byte>> frames;
  tcp::repr syn;
  syn.src_port = 40000, syn.dst_port = 80, syn.seq = 0xfffffff0u, syn.flags = tcp::flag::syn, syn.window = 65535;
  syn.opts.mss = 1460, syn.opts.sack_permitted = true, syn.opts.window_scale = 7;
  syn.opts.ts = tcp::timestamps{1000, 0};
  frames.push_back(frame(syn));
  tcp::repr data;
  data.src_port = 40000, data.dst_port = 80, data.seq = 0xfffffff1u, data.ack = 0x12345678u;
  data.flags = tcp::flag::ack | tcp::flag::psh, data.window = 501;
  data.opts.ts = tcp::timestamps{1001, 77};
  data.opts.sack_count = 3;
  data.opts.sack[0] = {0x12345680u, 0x12345690u};
  data.opts.sack[1] = {0x123456a0u, 0x123456b0u};
  data.opts.sack[2] = {0x123456c0u, 0x123456d0u};
  data.payload = std::as_bytes(std::span(payload));
  frames.push_back(frame(data));
  tcp::repr fin;   // no options at all, sack permitted alone
  fin.src_port = 40000, fin.dst_port = 80, fin.seq = 0xfffffffcu, fin.ack = 0x12345678u;
  fin.flags = tcp::flag::ack | tcp::flag::fin, fin.window = 501;
  frames.push_back(frame(fin));
  tcp::repr sack_ok;   // SACK permitted without timestamps: behind two NOPs
  sack_ok.src_port = 80, sack_ok.dst_port = 40000, sack_ok.flags = tcp::flag::syn | tcp::flag::ack;
  sack_ok.opts.mss = 1400, sack_ok.opts.sack_permitted = true;
  frames.push_back(frame(sack_ok));

  const std::string path =
      (std::filesystem::temp_directory_path() / ("ringlab_tcp_" + std::to_string(::getpid()) + ".pcap")).string();
  {
    port::pcap_writer w;
    std::string err;
    ASSERT_TRUE(w.open(path, &err)) << err;
    for (std::size_t i = 0; i < frames.size(); ++i) w.write(i * 1000, frames[i]);
  }
  const std::string out = run(
      "tshark -n -r " + path +
      " -o tcp.check_checksum:TRUE -o tcp.relative_sequence_numbers:FALSE -o tcp.analyze_sequence_numbers:FALSE"
      " -T fields -E 'separator=|' -e tcp.flags.str -e tcp.seq -e tcp.options.mss_val -e tcp.options.sack_perm"
      " -e tcp.options.wscale.shift -e tcp.options.timestamp.tsval -e tcp.options.timestamp.tsecr"
      " -e tcp.options.sack_le -e tcp.options.sack_re -e tcp.checksum.status -e tcp.len"
      " 2>/dev/null");
  const std::string warnings = run("tshark -n -r " + path + " -o tcp.check_checksum:TRUE -Y '_ws.expert.severity >= 6291456'"
                                   " -T fields -e frame.number -e _ws.expert.message 2>/dev/null");
  std::filesystem::remove(path);
  // Fields: flags, seq, MSS, SACK permitted (its option bytes), shift, TSval, TSecr, SACK left and right
  // edges, checksum status (1: good, checked), payload length.
  EXPECT_EQ(out,
            "··········S·|4294967280|1460|0402|7|1000|0|||1|0\n"
            "·······AP···|4294967281||||1001|77|305419904,305419936,305419968|305419920,305419952,305419984|1|11\n"
            "·······A···F|4294967292||||||||1|0\n"
            "·······A··S·|0|1400|0402||||||1|0\n");
  // No warning or error from tshark's experts (the SYN/FIN notes are chats, below warnings).
  EXPECT_EQ(warnings, "");
}

}  // namespace
}  // namespace ringlab::wire
