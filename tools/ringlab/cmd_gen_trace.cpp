// ringlab gen-trace: write a deterministic, checksum-correct pcap (tools/gen_trace, traces/README.md).
#include <cstdio>
#include <string>
#include <vector>

#include "tools/gen_trace/gen_trace.hpp"
#include "tools/ringlab/cli.hpp"

namespace {

namespace gt = ringlab::gen_trace;
namespace cli = ringlab::cli;

const std::vector<cli::option> opts{
    {"kind", "KIND", "mcast-feed | flows | malformed | arp-icmp-igmp | tcp-handshake | fragments", "mcast-feed"},
    {"out", "FILE", "pcap to write (nanosecond timestamps, Ethernet)"},
    {"count", "N", "messages (mcast-feed), packets (flows) or datagrams (fragments); the other kinds are fixed lists", "1000"},
    {"groups", "N", "mcast-feed: groups 239.1.1.1.., UDP port 5001 + index", "4"},
    {"flows", "N", "flows: distinct unicast 4-tuples to 10.0.0.2", "64"},
    {"seed", "N", "seed for groups, flows, payloads and the fragments' order: the same seed gives the same bytes", "1"},
    {"pps", "RATE", "packets per second: frame i is stamped start + i/RATE", "100000"},
    {"size", "BYTES", "UDP payload bytes (mcast-feed, flows): the 24-byte mcast header, then padding", "32"},
    {"list", "", "print the malformed trace's table (packet number, name, intended drop reason) and exit"},
};

int run(int argc, char** argv) {
  cli::args a("gen-trace", opts, argc, argv);
  if (a.help()) {
    std::fputs(cli::usage_text("gen-trace", "--kind KIND --out FILE [options]",
                               "Writes a pcap through libpcap whose bytes depend only on the options.\n"
                               "Every valid frame has correct IPv4/ICMP/IGMP/UDP checksums (tshark agrees).",
                               opts)
                   .c_str(),
               stdout);
    return cli::exit_ok;
  }
  a.expect_positional(0);
  if (a.has("list")) {
    a.refuse({"kind", "out", "count", "groups", "flows", "seed", "pps", "size"}, "--list (it prints a table and exits)");
    // "drop reason": a NIC that enforces the Ethernet minimum; "trace replay": sim_nic's defaults + the stack.
    std::printf("%-4s %-20s %-18s %-24s %-7s %s\n", "pkt", "name", "drop reason", "trace replay", "tshark", "what");
    int n = 0;
    for (const auto& c : gt::malformed_cases())
      std::printf("%-4d %-20.*s %-18.*s %-24.*s %-7s %.*s\n", ++n, static_cast<int>(c.name.size()), c.name.data(),
                  static_cast<int>(ringlab::trace::to_string(c.reason).size()), ringlab::trace::to_string(c.reason).data(),
                  static_cast<int>(c.lab.size()), c.lab.data(), c.tshark_flags ? "flags" : "-",
                  static_cast<int>(c.what.size()), c.what.data());
    return cli::exit_ok;
  }
  gt::options o;
  const std::string k = a.str("kind");
  auto kind = gt::parse_kind(k);
  if (!kind)
    throw cli::usage_error{"--kind: '" + k + "' is not one of mcast-feed, flows, malformed, arp-icmp-igmp, tcp-handshake, "
                           "fragments"};
  o.what = *kind;
  // Options of another kind are refused, never ignored.
  if (o.what != gt::kind::mcast_feed) a.refuse({"groups"}, "--kind " + k + " (mcast-feed only)");
  if (o.what != gt::kind::flows) a.refuse({"flows"}, "--kind " + k + " (flows only)");
  if (o.what == gt::kind::fragments) a.refuse({"size"}, "--kind fragments (1400-byte payloads, 3 fragments each)");
  else if (o.what != gt::kind::mcast_feed && o.what != gt::kind::flows)
    a.refuse({"count", "size", "seed"}, "--kind " + k + " (a fixed list of frames)");
  if (!a.has("out")) throw cli::usage_error{"--out FILE is required"};
  cli::check_output("out", a.str("out"));
  o.count = a.u64("count", 1, 10'000'000);
  o.groups = static_cast<std::uint32_t>(a.u64("groups", 1, 254));
  o.flows = static_cast<std::uint32_t>(a.u64("flows", 1, 100000));
  o.seed = a.u64("seed");
  o.pps = a.real("pps", 1e-3, 1e9);
  o.size = static_cast<std::uint32_t>(a.u64("size", 0, 1472));
  if (auto e = gt::check(o); !e.empty()) throw cli::usage_error{e};
  // Written as generated: memory stays flat however many packets (traces larger than memory, issue 15).
  const std::string out = a.str("out");
  std::uint64_t written = 0;
  if (auto e = gt::generate_pcap(out, o, &written); !e.empty()) {
    std::fprintf(stderr, "ringlab gen-trace: %s\n", e.c_str());
    return cli::exit_failure;
  }
  std::printf("%s: %llu packets (%s)\n", out.c_str(), static_cast<unsigned long long>(written),
              std::string(gt::to_string(o.what)).c_str());
  return cli::exit_ok;
}

const cli::registration reg{{"gen-trace", "write a deterministic pcap (mcast-feed, flows, malformed, arp-icmp-igmp, tcp-handshake, fragments)", run}};

}  // namespace
