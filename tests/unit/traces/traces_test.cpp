// traces/: every bundled pcap is what its recorded command makes, carries what traces/README.md says,
// and tshark agrees about which frames are good and which are bad.
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "stack/wire/wire.hpp"
#include "tools/gen_trace/gen_trace.hpp"
#include "tools/mcast/datagram.hpp"
#include "tests/support/preconditions.hpp"

namespace ringlab {
namespace {

namespace fs = std::filesystem;
namespace gt = gen_trace;

fs::path source_dir() {
  const char* s = std::getenv("RINGLAB_SOURCE_DIR");
  return s ? fs::path(s) : fs::path(RINGLAB_TEST_SOURCE_DIR);
}
fs::path binary_dir() {
  const char* s = std::getenv("RINGLAB_BINARY_DIR");
  return s ? fs::path(s) : fs::path{};
}
fs::path traces() { return source_dir() / "traces"; }

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

// Runs a shell command; returns its exit status and stdout.
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return {-1, out};
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

struct captured {
  std::vector<std::byte> bytes;
  std::uint32_t len;
  std::uint64_t t_ns;
};

std::vector<captured> read_pcap(const fs::path& p) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* h = pcap_open_offline_with_tstamp_precision(p.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  EXPECT_NE(h, nullptr) << p << ": " << err;
  std::vector<captured> out;
  if (!h) return out;
  EXPECT_EQ(pcap_datalink(h), DLT_EN10MB);
  pcap_pkthdr* hdr;
  const u_char* data;
  while (pcap_next_ex(h, &hdr, &data) == 1) {
    const auto* b = reinterpret_cast<const std::byte*>(data);
    out.push_back({{b, b + hdr->caplen}, hdr->len,
                   static_cast<std::uint64_t>(hdr->ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(hdr->ts.tv_usec)});
  }
  pcap_close(h);
  return out;
}

// The README's command lines, keyed by the file each writes.
std::map<std::string, std::string> recorded_commands() {
  std::map<std::string, std::string> cmds;
  std::istringstream in(slurp(traces() / "README.md"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("ringlab gen-trace ", 0) != 0) continue;
    const auto at = line.find("--out traces/");
    if (at == std::string::npos) continue;
    cmds[line.substr(at + 13, line.find(' ', at + 13) - (at + 13))] = line;
  }
  return cmds;
}

TEST(Traces, BundledFilesAreWhatTheirRecordedCommandsMake) {
  const auto cmds = recorded_commands();
  ASSERT_EQ(cmds.size(), 5u) << "traces/README.md should hold one command per bundled pcap";
  const fs::path ringlab = binary_dir() / "tools" / "ringlab";
  ASSERT_TRUE(fs::exists(ringlab)) << ringlab << " (built with the test)";
  const fs::path tmp = fs::temp_directory_path() / ("ringlab_traces_" + std::to_string(::getpid()));
  fs::create_directories(tmp / "traces");
  std::uintmax_t total = 0;
  for (const auto& [file, cmd] : cmds) {
    SCOPED_TRACE(cmd);
    ASSERT_TRUE(fs::exists(traces() / file)) << file << " is in README.md but not in traces/";
    const std::string line = "cd '" + tmp.string() + "' && '" + ringlab.string() + "'" + cmd.substr(7) + " 2>&1";
    auto [rc, out] = run(line);
    ASSERT_EQ(rc, 0) << out;
    const std::string made = slurp(tmp / "traces" / file), bundled = slurp(traces() / file);
    EXPECT_FALSE(made.empty());
    EXPECT_TRUE(made == bundled) << file << ": the command makes " << made.size() << " bytes that differ from the "
                                 << bundled.size() << " bundled (regenerate and check why)";
    total += bundled.size();
  }
  fs::remove_all(tmp);
  EXPECT_LT(total, 2u * 1024 * 1024) << "bundled traces should stay small";
  for (const char* f : {"mcast-feed.pcap", "flows.pcap", "malformed.pcap", "arp-icmp-igmp.pcap", "tcp-handshake.pcap"})
    EXPECT_TRUE(cmds.count(f)) << f;
}

TEST(Traces, GenerationIsDeterministicAndSeeded) {
  gt::options o;
  o.count = 500;
  for (auto k : {gt::kind::mcast_feed, gt::kind::flows, gt::kind::malformed, gt::kind::arp_icmp_igmp,
                 gt::kind::tcp_handshake}) {
    o.what = k;
    o.seed = 7;
    const auto a = gt::generate(o), b = gt::generate(o);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].bytes, b[i].bytes) << gt::to_string(k) << " packet " << i + 1;
      EXPECT_EQ(a[i].t_ns, b[i].t_ns);
    }
    if (k == gt::kind::mcast_feed || k == gt::kind::flows) {
      o.seed = 8;
      const auto c = gt::generate(o);
      bool differ = false;
      for (std::size_t i = 0; i < a.size(); ++i) differ |= a[i].bytes != c[i].bytes;
      EXPECT_TRUE(differ) << gt::to_string(k) << ": another seed should change the trace";
    }
  }
}

TEST(Traces, OptionChecksNameTheValue) {
  gt::options o;
  o.size = 23;
  EXPECT_NE(gt::check(o).find("--size: 23"), std::string::npos) << gt::check(o);
  o.size = 32;
  o.groups = 0;
  EXPECT_NE(gt::check(o).find("--groups: 0"), std::string::npos);
  o.groups = 4;
  EXPECT_EQ(gt::check(o), "");
  EXPECT_EQ(gt::parse_kind("arp-icmp-igmp"), gt::kind::arp_icmp_igmp);
  EXPECT_FALSE(gt::parse_kind("mcast"));
}

// Parses Ethernet / IPv4 / UDP with checksums on; fails the test on any error.
struct udp_frame {
  wire::ethernet::repr eth;
  wire::ipv4::repr ip;
  wire::udp::repr udp;
};
std::optional<udp_frame> parse_udp(std::span<const std::byte> f) {
  auto e = wire::ethernet::view::check(f);
  if (!e) return std::nullopt;
  auto ip = wire::ipv4::view::check(e->payload());
  if (!ip) return std::nullopt;
  auto ipr = wire::ipv4::repr::parse(*ip);
  if (!ipr || ipr->proto != 17) return std::nullopt;
  auto u = wire::udp::view::check(ip->payload());
  if (!u) return std::nullopt;
  auto ur = wire::udp::repr::parse(*u, ipr->src, ipr->dst);
  if (!ur) return std::nullopt;
  return udp_frame{*wire::ethernet::repr::parse(*e), *ipr, *ur};
}

TEST(Traces, McastFeedIsACleanSequencedFeed) {
  const auto pk = read_pcap(traces() / "mcast-feed.pcap");
  ASSERT_EQ(pk.size(), 12000u);
  std::map<wire::ipv4_addr, std::uint64_t> next_seq;
  std::uint64_t prev_t = 0;
  for (std::size_t i = 0; i < pk.size(); ++i) {
    SCOPED_TRACE("packet " + std::to_string(i + 1));
    const auto& p = pk[i];
    ASSERT_EQ(p.bytes.size(), p.len);
    ASSERT_GE(p.bytes.size(), 60u);
    auto f = parse_udp(p.bytes);
    ASSERT_TRUE(f);
    const auto g = f->ip.dst;
    ASSERT_TRUE(g.value >= gt::first_group.value && g.value < gt::first_group.value + 4) << g.to_string();
    EXPECT_EQ(f->eth.dst, wire::multicast_mac(g));
    EXPECT_EQ(f->eth.src, gt::peer_mac);
    EXPECT_EQ(f->ip.src, gt::peer_ip);
    EXPECT_EQ(f->udp.dst_port, gt::first_port + (g.value - gt::first_group.value));
    ASSERT_EQ(f->udp.payload.size(), 32u);
    const std::byte* d = f->udp.payload.data();
    EXPECT_EQ(wire::load_be32(d), mcast::datagram_magic);
    EXPECT_EQ(wire::load_be16(d + 4), mcast::datagram_version);
    EXPECT_EQ(wire::load_be16(d + 6), mcast::header_size);
    EXPECT_EQ(wire::load_be64(d + 8), next_seq[g]++);   // no gaps, no reordering per group
    EXPECT_EQ(wire::load_be64(d + 16), p.t_ns);         // send_ns is the capture time
    EXPECT_EQ(p.t_ns, gt::start_ns + i * 10'000);       // 100 k msg/s
    EXPECT_GE(p.t_ns, prev_t);
    prev_t = p.t_ns;
  }
  ASSERT_EQ(next_seq.size(), 4u);
  std::uint64_t sum = 0;
  for (auto [g, n] : next_seq) {
    EXPECT_GT(n, 2500u) << g.to_string();   // random spread: roughly 3000 each
    sum += n;
  }
  EXPECT_EQ(sum, 12000u);
}

TEST(Traces, FlowsHaveDistinctTuplesAndPerFlowOrder) {
  const auto pk = read_pcap(traces() / "flows.pcap");
  ASSERT_EQ(pk.size(), 4096u);
  std::map<std::tuple<std::uint32_t, std::uint16_t, std::uint16_t>, std::uint64_t> flows;
  for (std::size_t i = 0; i < pk.size(); ++i) {
    auto f = parse_udp(pk[i].bytes);
    ASSERT_TRUE(f) << "packet " << i + 1;
    EXPECT_EQ(f->ip.dst, gt::host_ip);
    EXPECT_EQ(f->eth.dst, gt::host_mac);
    EXPECT_TRUE(f->ip.src.same_subnet({10, 1, 0, 0}, 16));
    EXPECT_GE(f->udp.dst_port, 5001);
    EXPECT_LE(f->udp.dst_port, 5004);
    auto& next = flows[{f->ip.src.value, f->udp.src_port, f->udp.dst_port}];
    EXPECT_EQ(wire::load_be64(f->udp.payload.data() + 8), next++) << "packet " << i + 1;
  }
  EXPECT_EQ(flows.size(), 64u);
}

TEST(Traces, ArpIcmpIgmpHoldsWhatTheReadmeSays) {
  const auto pk = read_pcap(traces() / "arp-icmp-igmp.pcap");
  ASSERT_EQ(pk.size(), 7u);
  auto arp_target = [](std::span<const std::byte> f) {
    auto e = wire::ethernet::view::check(f);
    EXPECT_EQ(e->type(), wire::ethernet::ethertype::arp);
    auto a = wire::arp::repr::parse(*wire::arp::view::check(e->payload()));
    EXPECT_TRUE(a);
    EXPECT_EQ(a->op, wire::arp::operation::request);
    EXPECT_EQ(a->sender_ip, gt::peer_ip);
    EXPECT_EQ(a->sender_mac, gt::peer_mac);
    EXPECT_EQ(e->dst(), wire::mac_addr::broadcast());
    return a->target_ip;
  };
  auto l4 = [](std::span<const std::byte> f, std::uint8_t proto) {
    auto e = wire::ethernet::view::check(f);
    auto ip = wire::ipv4::view::check(e->payload());
    auto r = wire::ipv4::repr::parse(*ip);
    EXPECT_TRUE(r);
    EXPECT_EQ(r->proto, proto);
    return std::pair{*r, ip->payload()};
  };
  EXPECT_EQ(arp_target(pk[0].bytes), gt::host_ip);
  for (std::size_t i : {1u, 6u}) {
    auto [ip, m] = l4(pk[i].bytes, 1);
    EXPECT_EQ(ip.dst, gt::host_ip);
    auto e = wire::icmp::repr::parse(*wire::icmp::view::check(m));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, wire::icmp::type::echo_request);
    EXPECT_EQ(e->ident, 0x524c);
    EXPECT_EQ(e->seq_no, i == 1 ? 1 : 2);
    EXPECT_EQ(e->data.size(), 56u);
  }
  struct q { std::size_t at; std::uint8_t version; wire::ipv4_addr group, dst; std::uint32_t resp_ds; };
  for (const q& x : {q{2, 2, {}, wire::ipv4_addr::all_systems(), 100}, q{3, 3, {}, wire::ipv4_addr::all_systems(), 100},
                     q{4, 2, gt::first_group, gt::first_group, 10}}) {
    auto [ip, m] = l4(pk[x.at].bytes, 2);
    EXPECT_EQ(ip.dst, x.dst);
    EXPECT_EQ(ip.ttl, 1);
    EXPECT_TRUE(ip.router_alert);
    auto r = wire::igmp::repr::parse(*wire::igmp::view::check(m));
    ASSERT_TRUE(r) << "packet " << x.at + 1;
    EXPECT_EQ(r->kind, wire::igmp::type::membership_query);
    EXPECT_EQ(r->version, x.version);
    EXPECT_EQ(r->group, x.group);
    EXPECT_EQ(r->max_resp_ds(), x.resp_ds);
  }
  EXPECT_EQ(arp_target(pk[5].bytes), (wire::ipv4_addr{10, 0, 0, 3}));
}

// What stack/wire says about a frame: the first error on the way Ethernet -> IPv4 -> UDP.
wire::error classify(std::span<const std::byte> f) {
  auto e = wire::ethernet::view::check(f);
  if (!e) return e.error_code();
  if (e->type() != wire::ethernet::ethertype::ipv4) return wire::error::unsupported;
  auto ip = wire::ipv4::view::check(e->payload());
  if (!ip) return ip.error_code();
  auto ipr = wire::ipv4::repr::parse(*ip);
  if (!ipr) return ipr.error_code();
  auto u = wire::udp::view::check(ip->payload());
  if (!u) return u.error_code();
  auto ur = wire::udp::repr::parse(*u, ipr->src, ipr->dst);
  return ur ? wire::error::none : ur.error_code();
}

TEST(Traces, MalformedFramesAreClassifiedAsTheTableSays) {
  const auto pk = read_pcap(traces() / "malformed.pcap");
  const auto cases = gt::malformed_cases();
  ASSERT_EQ(pk.size(), cases.size());
  using wire::error;
  const std::map<std::string_view, error> wire_says{
      {"valid", error::none},           {"runt_header", error::truncated},
      {"runt_frame", error::none},      {"bad_ethertype", error::unsupported},
      {"vlan_udp", error::none},        {"bad_ip_version", error::bad_version},
      {"ihl_lt_5", error::bad_header_length}, {"ihl_gt_total", error::bad_header_length},
      {"total_len_gt_frame", error::bad_total_length}, {"bad_ip_checksum", error::bad_checksum},
      {"ipv4_fragment", error::fragment}, {"bad_udp_length", error::bad_length},
      {"bad_udp_checksum", error::bad_checksum}, {"udp_zero_checksum", error::none},
      {"truncated_capture", error::bad_total_length}};
  for (std::size_t i = 0; i < pk.size(); ++i) {
    const auto& c = cases[i];
    SCOPED_TRACE("packet " + std::to_string(i + 1) + " " + std::string(c.name));
    ASSERT_TRUE(wire_says.count(c.name));
    EXPECT_EQ(wire::to_string(classify(pk[i].bytes)), wire::to_string(wire_says.at(c.name)));
    // The device-level reasons: what only the NIC can see.
    const bool runt = pk[i].len < 60, cut = pk[i].bytes.size() < pk[i].len;
    EXPECT_EQ(runt, c.reason == trace::drop_reason::runt);
    EXPECT_EQ(cut, c.reason == trace::drop_reason::snap_truncated);
    if (c.reason == trace::drop_reason::none) {
      EXPECT_EQ(classify(pk[i].bytes), error::none);
    } else if (!runt && !cut && c.name != "bad_ethertype") {
      EXPECT_NE(classify(pk[i].bytes), error::none);
    }
  }
  EXPECT_EQ(wire::ethernet::view::check(pk[4].bytes)->vlan_id(), 100);
}

// The numbered rows of one "## FILE: ..." section of traces/README.md.
std::vector<std::string> readme_rows(const std::string& section) {
  std::istringstream in(slurp(traces() / "README.md"));
  std::vector<std::string> rows;
  bool in_section = false;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("## ")) in_section = line.starts_with("## " + section);
    if (in_section && line.size() > 2 && line[0] == '|' && line[2] >= '1' && line[2] <= '9') rows.push_back(line);
  }
  return rows;
}

TEST(Traces, ReadmeTableMatchesTheGenerator) {
  const auto rows = readme_rows("malformed.pcap");
  const auto cases = gt::malformed_cases();
  ASSERT_EQ(rows.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const std::string expect = "| " + std::to_string(i + 1) + " | " + std::string(c.name) + " | " +
                               std::string(trace::to_string(c.reason)) + " | " + std::string(c.lab) + " | " +
                               (c.tshark_flags ? "flags" : "–") + " | " + std::string(c.what) + " |";
    EXPECT_EQ(rows[i], expect);
  }
}

TEST(Traces, TcpHandshakeTableMatchesTheGenerator) {
  const auto rows = readme_rows("tcp-handshake.pcap");
  const auto cases = gt::tcp_handshake_cases();
  ASSERT_EQ(rows.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string head = "| " + std::to_string(i + 1) + " | " + std::string(cases[i].name) + " | " +
                             std::string(cases[i].lab) + " | ";
    EXPECT_TRUE(rows[i].starts_with(head)) << rows[i] << "\nwants: " << head;
  }
  EXPECT_EQ(read_pcap(traces() / "tcp-handshake.pcap").size(), cases.size());
}

const std::string tshark_opts = " -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE";

// One tshark run per file, fields only (-V on 12000 frames takes far longer and says the same):
// per frame the checksum statuses (1 = good, 0 = bad; empty = no such header) and every expert item.
TEST(Traces, TsharkFindsNothingWrongInTheValidTraces) {
  RINGLAB_REQUIRE(ringlab::netlab::program_missing("tshark", "tshark"));
  for (const char* f : {"mcast-feed.pcap", "flows.pcap", "arp-icmp-igmp.pcap"}) {
    SCOPED_TRACE(f);
    const std::string path = (traces() / f).string();
    auto [rc, out] = run("tshark -r '" + path + "'" + tshark_opts +
                         " -T fields -E separator=/t -e frame.number -e ip.checksum.status -e udp.checksum.status"
                         " -e icmp.checksum.status -e igmp.checksum.status -e _ws.expert.message 2>/dev/null");
    ASSERT_EQ(rc, 0);
    std::istringstream in(out);
    std::size_t frames = 0, ip_good = 0, l4_good = 0, bad = 0;
    for (std::string line; std::getline(in, line);) {
      ++frames;
      std::vector<std::string> col;
      std::istringstream ls(line);
      for (std::string c; std::getline(ls, c, '\t');) col.push_back(c);
      col.resize(6);
      ip_good += col[1] == "1";
      l4_good += col[2] == "1" || col[3] == "1" || col[4] == "1";
      const bool ok = (col[1].empty() || col[1] == "1") && (col[2].empty() || col[2] == "1") &&
                      (col[3].empty() || col[3] == "1") && (col[4].empty() || col[4] == "1") && col[5].empty();
      if (!ok && ++bad < 5) ADD_FAILURE() << "tshark: " << line;   // e.g. "Malformed Packet", "Bad checksum"
    }
    EXPECT_EQ(bad, 0u);
    const std::size_t n = read_pcap(traces() / f).size();
    EXPECT_EQ(frames, n);
    // Checksums really were checked: every IPv4 frame (all but the two ARP ones) and its UDP/ICMP/IGMP.
    const std::size_t with_ip = std::string(f) == "arp-icmp-igmp.pcap" ? n - 2 : n;
    EXPECT_EQ(ip_good, with_ip);
    EXPECT_EQ(l4_good, with_ip);
  }
}

TEST(Traces, TsharkFlagsExactlyTheFramesMeantToBeBad) {
  RINGLAB_REQUIRE(ringlab::netlab::program_missing("tshark", "tshark"));
  auto [rc, out] = run("tshark -r '" + (traces() / "malformed.pcap").string() + "'" + tshark_opts +
                       " -Y '_ws.expert.severity >= \"Warning\"' -T fields -e frame.number 2>/dev/null");
  ASSERT_EQ(rc, 0);
  std::set<std::size_t> flagged, expect;
  std::istringstream in(out);
  for (std::size_t n; in >> n;) flagged.insert(n);
  const auto cases = gt::malformed_cases();
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (cases[i].tshark_flags) {
      expect.insert(i + 1);
      EXPECT_NE(cases[i].reason, trace::drop_reason::none) << cases[i].name;
    }
  }
  EXPECT_EQ(flagged, expect);
  EXPECT_EQ(expect.size(), 8u);
}

}  // namespace
}  // namespace ringlab
