// `ringlab mcast-recv` / `mcast-send` over the bypass backends. sim: a trace replayed through sim_nic
// into the user-space stack; the delivered lines are checked against the trace itself (read with
// libpcap), and what the stack sent (--out pcap) is read back with libpcap and dissected by tshark with
// checksum validation. afxdp / dpdk: a device that cannot open says why once and the run goes on over
// kernel sockets; a named interface that does not exist is a usage error (exit 2).
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/netns.hpp"
#include "tests/support/ringlab_cli.hpp"
#include "tests/support/preconditions.hpp"

namespace {

using ringlab::test::ringlab_binary;
using ringlab::test::source_file;
std::string temp_path(const std::string& name) { return ringlab::test::temp_path("mcast-bypass", name); }

using frame = std::vector<std::uint8_t>;

std::vector<frame> read_pcap(const std::string& path) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  EXPECT_NE(p, nullptr) << path << ": " << err;
  std::vector<frame> out;
  if (!p) return out;
  EXPECT_EQ(pcap_datalink(p), DLT_EN10MB);
  pcap_pkthdr* h;
  const u_char* d;
  while (pcap_next_ex(p, &h, &d) == 1) out.emplace_back(d, d + h->caplen);
  pcap_close(p);
  return out;
}

std::uint16_t be16(const frame& f, std::size_t i) { return static_cast<std::uint16_t>(f[i] << 8 | f[i + 1]); }
std::uint32_t be32(const frame& f, std::size_t i) { return std::uint32_t{be16(f, i)} << 16 | be16(f, i + 2); }
std::string ip(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string(a >> 16 & 255) + "." + std::to_string(a >> 8 & 255) + "." +
         std::to_string(a & 255);
}
std::size_t l4(const frame& f) { return 14 + (f[14] & 0xf) * 4u; }

// tshark with IP and UDP checksum validation: frames with an expert warning/error or a malformed part.
std::string tshark_problems(const std::string& path) {
  auto r = ringlab::test::run({"tshark", "-r", path, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
                               "-Y", "_ws.malformed || _ws.expert.severity >= 0x00600000", "-T", "fields", "-e",
                               "frame.number", "-e", "_ws.expert.message"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

using ringlab::test::lines_of;

// The oracle: every UDP frame of the feed to 239.1.1.2:5002 as mcast-recv prints it, from libpcap.
std::vector<std::string> feed_lines(const std::string& trace) {
  std::vector<std::string> expected;
  for (const auto& f : read_pcap(trace)) {
    if (be16(f, 12) != 0x0800 || f[23] != 17 || be32(f, 30) != 0xEF010102) continue;
    const std::size_t u = l4(f);
    if (be16(f, u + 2) != 5002) continue;
    const std::uint64_t seq = std::uint64_t{be32(f, u + 16)} << 32 | be32(f, u + 20);
    expected.push_back(ip(be32(f, 26)) + ":" + std::to_string(be16(f, u)) + " > 239.1.1.2:5002 seq=" +
                       std::to_string(seq) + " " + std::string(f.begin() + u + 8 + 24, f.begin() + u + be16(f, u + 4)));
  }
  return expected;
}

TEST(mcast_bypass, recv_sim_prints_exactly_the_groups_datagrams_of_the_feed_in_order) {
  const std::string trace = source_file("traces/mcast-feed.pcap");
  const std::string out = temp_path("feed-tx.pcap");
  auto r = ringlab::test::run({ringlab_binary(), "mcast-recv", "--backend", "sim", "--replay", trace, "--mac",
                               "02:00:00:00:00:02", "--addr", "10.0.0.2/24", "--group", "239.1.1.2", "--port", "5002",
                               "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto expected = feed_lines(trace);
  ASSERT_GT(expected.size(), 100u);
  EXPECT_EQ(lines_of(r.out), expected);
  const auto n = std::to_string(expected.size());
  EXPECT_NE(r.err.find("mcast-recv: 239.1.1.2:5002: " + n + " received (" + n + " unique), 0 lost, 0 reordered, "
                       "0 duplicates, 0 stale, 0 malformed"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("ended by end of replay"), std::string::npos) << r.err;
  // The summary counts what --out holds: the join's report and the leave.
  EXPECT_NE(r.err.find("mcast-recv: stack: 12000 frames in, " + n + " datagrams delivered, 2 frames sent (0 ARP "
                       "replies, 0 echo replies, 1 IGMP reports, 1 IGMP leaves)"),
            std::string::npos)
      << r.err;

  // What the stack sent: the join's IGMPv3 report, and the leave when the socket closed.
  const auto tx = read_pcap(out);
  ASSERT_EQ(tx.size(), 2u);
  for (std::size_t i = 0; i < tx.size(); ++i) {
    const auto& f = tx[i];
    EXPECT_EQ(frame(f.begin(), f.begin() + 12), (frame{1, 0, 0x5e, 0, 0, 0x16, 2, 0, 0, 0, 0, 2}));
    EXPECT_EQ(f[23], 2);                      // IGMP
    EXPECT_EQ(be32(f, 26), 0x0A000002u);      // from 10.0.0.2
    EXPECT_EQ(be32(f, 30), 0xE0000016u);      // to 224.0.0.22 (IGMPv3 reports)
    const std::size_t g = l4(f);
    EXPECT_EQ(f[g], 0x22);                    // v3 membership report
    EXPECT_EQ(be16(f, g + 6), 1);             // one record
    EXPECT_EQ(f[g + 8], i == 0 ? 4 : 3);      // CHANGE_TO_EXCLUDE (join) then CHANGE_TO_INCLUDE (leave)
    EXPECT_EQ(be32(f, g + 12), 0xEF010102u);  // 239.1.1.2
  }
  EXPECT_EQ(tshark_problems(out), "");   // tshark is a lab package (./lab installs it)
  std::remove(out.c_str());
}

TEST(mcast_bypass, recv_sim_answers_arp_ping_and_igmp_queries_into_the_out_pcap) {
  const std::string out = temp_path("ctl-tx.pcap");
  auto r = ringlab::test::run({ringlab_binary(), "mcast-recv", "--backend", "sim", "--replay",
                               source_file("traces/arp-icmp-igmp.pcap"), "--mac", "02:00:00:00:00:02", "--addr",
                               "10.0.0.2/24", "--group", "239.1.1.1", "--port", "5001", "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");   // the trace carries no UDP
  // The count is read after the sockets closed: the leave is counted, as the --out pcap holds it.
  EXPECT_NE(r.err.find("mcast-recv: stack: 7 frames in, 0 datagrams delivered, 7 frames sent (1 ARP replies, "
                       "2 echo replies, 3 IGMP reports, 1 IGMP leaves)"),
            std::string::npos)
      << r.err;
  const auto tx = read_pcap(out);
  // join report, ARP reply, echo reply 1, echo reply 2, two query answers (general, group-specific), leave.
  ASSERT_EQ(tx.size(), 7u);
  std::vector<std::string> kinds;
  for (const auto& f : tx) {
    EXPECT_EQ(frame(f.begin() + 6, f.begin() + 12), (frame{2, 0, 0, 0, 0, 2}));   // from our MAC
    if (be16(f, 12) == 0x0806) {
      EXPECT_EQ(frame(f.begin(), f.begin() + 6), (frame{2, 0, 0, 0, 0, 1}));
      EXPECT_EQ(be16(f, 20), 2);                   // reply
      EXPECT_EQ(be32(f, 28), 0x0A000002u);         // 10.0.0.2 is at ...
      EXPECT_EQ(frame(f.begin() + 22, f.begin() + 28), (frame{2, 0, 0, 0, 0, 2}));
      EXPECT_EQ(be32(f, 38), 0x0A000001u);         // ... told to 10.0.0.1
      kinds.push_back("arp-reply");
      continue;
    }
    ASSERT_EQ(be16(f, 12), 0x0800);
    EXPECT_EQ(be32(f, 26), 0x0A000002u);
    const std::size_t p = l4(f);
    if (f[23] == 1) {
      EXPECT_EQ(be32(f, 30), 0x0A000001u);
      EXPECT_EQ(f[p], 0);                          // echo reply
      EXPECT_EQ(be16(f, p + 4), 0x524c);
      kinds.push_back("echo-reply " + std::to_string(be16(f, p + 6)));
    } else {
      ASSERT_EQ(f[23], 2);
      EXPECT_EQ(be32(f, 30), 0xE0000016u);
      EXPECT_EQ(f[p], 0x22);
      EXPECT_EQ(be32(f, p + 12), 0xEF010101u);
      kinds.push_back("igmp-record " + std::to_string(f[p + 8]));
    }
  }
  // Record types: 4 CHANGE_TO_EXCLUDE (the join), 2 MODE_IS_EXCLUDE (query answers), 3 the leave.
  EXPECT_EQ(kinds, (std::vector<std::string>{"igmp-record 4", "arp-reply", "echo-reply 1", "echo-reply 2",
                                             "igmp-record 2", "igmp-record 2", "igmp-record 3"}));
  EXPECT_EQ(tshark_problems(out), "");   // tshark is a lab package (./lab installs it)
  std::remove(out.c_str());
}

TEST(mcast_bypass, send_sim_writes_the_datagrams_to_the_out_pcap) {
  const std::string in = temp_path("lines.txt"), out = temp_path("send-tx.pcap");
  std::ofstream(in) << "hello\nworld\nlast line";
  auto r = ringlab::test::run({ringlab_binary(), "mcast-send", "--backend", "sim", "--group", "239.1.1.7", "--port",
                               "6000", "--ttl", "3", "--file", in, "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "mcast-send: sent 3 of 3 datagrams (19 payload bytes, 91 UDP bytes) to 239.1.1.7:6000, 0 errors\n");
  EXPECT_EQ(r.err, "");
  const auto tx = read_pcap(out);
  ASSERT_EQ(tx.size(), 3u);
  const std::vector<std::string> payloads{"hello", "world", "last line"};
  for (std::size_t i = 0; i < tx.size(); ++i) {
    const auto& f = tx[i];
    EXPECT_EQ(frame(f.begin(), f.begin() + 12), (frame{1, 0, 0x5e, 1, 1, 7, 2, 0, 0, 0, 0, 1}));
    EXPECT_EQ(f[22], 3);                       // TTL
    EXPECT_EQ(f[23], 17);
    EXPECT_EQ(be32(f, 26), 0x0A000001u);
    EXPECT_EQ(be32(f, 30), 0xEF010107u);
    const std::size_t u = l4(f);
    EXPECT_EQ(be16(f, u + 2), 6000);
    EXPECT_EQ(be32(f, u + 8), 0x524C4D43u);    // "RLMC"
    EXPECT_EQ(be32(f, u + 20), i);             // seq (low half)
    EXPECT_EQ(std::string(f.begin() + u + 32, f.begin() + u + be16(f, u + 4)), payloads[i]);
  }
  EXPECT_EQ(tshark_problems(out), "");   // tshark is a lab package (./lab installs it)
  std::remove(in.c_str());
  std::remove(out.c_str());
}

// DPDK's net_pcap vdev: a real PMD (EAL without hugepages) reading the feed and writing a pcap. The
// binary has the backend and the machine what the EAL needs (probed apart from DPDK and ringlab): past
// that, "cannot start ... falling back" from ringlab is a failure.
#ifdef RINGLAB_HAVE_DPDK
#define REQUIRE_DPDK() RINGLAB_REQUIRE(ringlab::netlab::dpdk_eal_unavailable())
#else
#define REQUIRE_DPDK() RINGLAB_REQUIRE(ringlab::netlab::not_built("ringlab's DPDK backend", "libdpdk-dev"))
#endif

TEST(mcast_bypass, recv_dpdk_net_pcap_prints_the_first_datagrams_of_the_group) {
  REQUIRE_DPDK();
  const std::string trace = source_file("traces/mcast-feed.pcap"), tx = temp_path("dpdk-rx-tx.pcap");
  auto r = ringlab::test::run({ringlab_binary(), "mcast-recv", "--backend", "dpdk", "--vdev",
                               "net_pcap0,rx_pcap=" + trace + ",tx_pcap=" + tx, "--group", "239.1.1.2", "--port", "5002",
                               "--count", "5", "--timeout", "20"});
  ASSERT_EQ(r.err.find("falling back"), std::string::npos) << r.err;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto expected = feed_lines(trace);
  expected.resize(5);
  EXPECT_EQ(lines_of(r.out), expected);
  EXPECT_NE(r.err.find("(backend dpdk)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ended by count"), std::string::npos) << r.err;
  std::remove(tx.c_str());
}

TEST(mcast_bypass, send_dpdk_net_pcap_writes_the_datagrams) {
  REQUIRE_DPDK();
  const std::string empty = temp_path("empty.pcap"), tx = temp_path("dpdk-send.pcap"), in = temp_path("dlines.txt");
  // An empty pcap for the vdev's RX side, written by the sim backend (no input lines: no frames).
  auto e = ringlab::test::run({ringlab_binary(), "mcast-send", "--backend", "sim", "--group", "239.1.1.9", "--file",
                               "/dev/null", "--out", empty});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  std::ofstream(in) << "x\nyz\n";
  auto r = ringlab::test::run({ringlab_binary(), "mcast-send", "--backend", "dpdk", "--vdev",
                               "net_pcap0,rx_pcap=" + empty + ",tx_pcap=" + tx, "--group", "239.1.1.9", "--file", in});
  ASSERT_EQ(r.err.find("falling back"), std::string::npos) << r.err;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "mcast-send: sent 2 of 2 datagrams (3 payload bytes, 51 UDP bytes) to 239.1.1.9:5000, 0 errors\n");
  const auto f = read_pcap(tx);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(std::string(f[0].begin() + 14 + 20 + 8 + 24, f[0].end()), "x");
  EXPECT_EQ(std::string(f[1].begin() + 14 + 20 + 8 + 24, f[1].end()), "yz");
  EXPECT_EQ(tshark_problems(tx), "");
  for (const auto& p : {empty, tx, in}) std::remove(p.c_str());
}

TEST(mcast_bypass, unopenable_dpdk_device_says_why_once_then_runs_on_kernel) {
  auto r = ringlab::test::run({ringlab_binary(), "mcast-recv", "--backend", "dpdk", "--vdev", "net_rlnosuch0",
                               "--group", "239.1.1.7", "--iface", "lo", "--timeout", "0.2", "--json"});
  const auto e = lines_of(r.err);
  ASSERT_GE(e.size(), 2u) << r.err;
  EXPECT_EQ(e[0].rfind("mcast-recv: backend 'dpdk' cannot start (", 0), 0u) << e[0];
  EXPECT_NE(e[0].find("net_rlnosuch0"), std::string::npos) << e[0];
  EXPECT_TRUE(e[0].ends_with("): falling back to 'kernel'")) << e[0];
  std::size_t fallback_lines = 0;
  for (const auto& l : e) fallback_lines += l.find("falling back") != std::string::npos;
  EXPECT_EQ(fallback_lines, 1u);
  EXPECT_EQ(e[1], "mcast-recv: joined 239.1.1.7 on lo, port 5000 (io epoll, backend kernel)");
  EXPECT_NE(r.out.find("\"ended\":\"timeout\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"backend\":\"kernel\""), std::string::npos) << r.out;
  EXPECT_EQ(r.exit_code, 0);
}

// The --json summary's keys, in order, each with its JSON type, read by Python's json module.
std::string json_shape(const std::string& line) {
  auto r = ringlab::test::run(
      {"/usr/bin/python3", "-c",
       "import json, sys\n"
       "def kind(v):\n"
       "    if v is None: return 'null'\n"
       "    if isinstance(v, bool): return 'bool'\n"
       "    if isinstance(v, int): return 'number'\n"
       "    if isinstance(v, str): return 'string'\n"
       "    if isinstance(v, list): return 'array<' + ','.join(sorted({kind(x) for x in v})) + '>'\n"
       "    return type(v).__name__\n"
       "print(' '.join(k + ':' + kind(v) for k, v in json.loads(sys.argv[1]).items()))\n",
       line});
  EXPECT_EQ(r.exit_code, 0) << line << r.err;
  return r.out;
}

std::string json_field(const std::string& line, const std::string& key) {
  const auto p = line.find("\"" + key + "\":");
  return p == std::string::npos ? "" : line.substr(p + key.size() + 3, line.find_first_of(",}", p + key.size() + 3) -
                                                                           (p + key.size() + 3));
}

// One schema on every backend: the same keys in the same order with the same types; a value that
// does not apply is null (io on the bypass backends, first/highest before any datagram).
TEST(mcast_bypass, json_summary_has_one_schema_on_kernel_and_bypass_backends) {
  RINGLAB_REQUIRE(ringlab::netlab::program_missing("/usr/bin/python3", "python3"));
  const std::string counts = "received:number unique:number lost:number reordered:number duplicates:number "
                             "stale:number malformed:number bytes:number errors:number ";
  auto k = ringlab::test::run({ringlab_binary(), "mcast-recv", "--group", "239.1.1.7", "--iface", "lo", "--timeout",
                               "0.2", "--json"});
  ASSERT_EQ(k.exit_code, 0) << k.err;
  EXPECT_EQ(json_shape(k.out), "groups:array<string> ports:array<number> " + counts +
                                   "first:null highest:null ended:string io:string backend:string\n");
  EXPECT_EQ(k.out, "{\"groups\":[\"239.1.1.7\"],\"ports\":[5000],\"received\":0,\"unique\":0,\"lost\":0,"
                   "\"reordered\":0,\"duplicates\":0,\"stale\":0,\"malformed\":0,\"bytes\":0,\"errors\":0,"
                   "\"first\":null,\"highest\":null,\"ended\":\"timeout\",\"io\":\"epoll\",\"backend\":\"kernel\"}\n");

  auto s = ringlab::test::run({ringlab_binary(), "mcast-recv", "--backend", "sim", "--replay",
                               source_file("traces/mcast-feed.pcap"), "--group", "239.1.1.2", "--group", "239.1.1.3",
                               "--port", "5002", "--port", "5003", "--quiet", "--json"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(json_shape(s.out), "groups:array<string> ports:array<number> " + counts +
                                   "first:number highest:number ended:string io:null backend:string\n");
  EXPECT_EQ(s.out.substr(0, s.out.find(",\"received\"")), "{\"groups\":[\"239.1.1.2\",\"239.1.1.3\"],\"ports\":[5002,5003]");
  EXPECT_EQ(json_field(s.out, "ended"), "\"end-of-replay\"");
  EXPECT_EQ(json_field(s.out, "first"), "0");
  EXPECT_EQ(json_field(s.out, "backend"), "\"sim\"");
  EXPECT_EQ(json_field(s.out, "lost"), "0");
  // Received: every datagram of the feed to 239.1.1.2:5002 or 239.1.1.3:5003 (read with libpcap).
  std::size_t expected = 0;
  for (const auto& f : read_pcap(source_file("traces/mcast-feed.pcap")))
    if (be16(f, 12) == 0x0800 && f[23] == 17 && (be32(f, 30) == 0xEF010102 || be32(f, 30) == 0xEF010103))
      expected += be16(f, l4(f) + 2) == 5000 + (be32(f, 30) & 0xff);
  ASSERT_GT(expected, 1000u);
  EXPECT_EQ(json_field(s.out, "received"), std::to_string(expected));
  EXPECT_EQ(json_field(s.out, "unique"), std::to_string(expected));
}

TEST(mcast_bypass, afxdp_on_a_missing_interface_is_a_usage_error) {
  for (const char* cmd : {"mcast-recv", "mcast-send"}) {
    auto r = ringlab::test::run({ringlab_binary(), cmd, "--backend", "afxdp", "--iface", "rlnosuch0", "--group",
                                 "239.1.1.7", "--file", "/dev/null"});
    if (std::string(cmd) == "mcast-recv") r = ringlab::test::run({ringlab_binary(), cmd, "--backend", "afxdp",
                                                                  "--iface", "rlnosuch0", "--group", "239.1.1.7"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err, std::string("ringlab ") + cmd + ": --iface: no interface named 'rlnosuch0' here (ip link lists them)\n");
    EXPECT_EQ(r.out, "");
  }
}

TEST(mcast_bypass, sim_needs_its_files) {
  auto r = ringlab::test::run({ringlab_binary(), "mcast-recv", "--backend", "sim", "--group", "239.1.1.7"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ringlab mcast-recv: --backend sim needs --replay FILE (the pcap to replay)\n");
  r = ringlab::test::run({ringlab_binary(), "mcast-recv", "--backend", "sim", "--group", "239.1.1.7", "--replay",
                          "/nonexistent.pcap"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("ringlab mcast-recv: --replay: ", 0), 0u) << r.err;
  r = ringlab::test::run({ringlab_binary(), "mcast-recv", "--backend", "sim", "--group", "239.1.1.7", "--replay",
                          source_file("traces/arp-icmp-igmp.pcap"), "--addr", "10.0.0.2/40"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ringlab mcast-recv: --addr: '10.0.0.2/40' has no prefix length in 1..32 after '/'\n");
  r = ringlab::test::run({ringlab_binary(), "mcast-send", "--backend", "sim", "--group", "239.1.1.7"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ringlab mcast-send: --backend sim needs --out FILE.pcap (where the sent frames go)\n");
}

}  // namespace
