// A TCP segment's route, like a datagram's (issue 12 point 4): traces/tcp-handshake.pcap (gen-trace
// --kind tcp-handshake: one client's handshake, data, an old duplicate, a bad checksum, a SYN to a port
// nobody listens on, FIN both ways) replayed through sim_nic into a stack with a TCP listener on 5001.
// Every segment reaches the tcp hop and ends as the generator's table says: delivered, or dropped with
// its reason; `ringlab trace replay --tcp-listen 5001` prints the same.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/support/netns.hpp"
#include "tests/support/ringlab_cli.hpp"
#include "tools/gen_trace/gen_trace.hpp"
#include "stack/wire/tcp.hpp"
#include "tools/trace_packet_flow/lab_replay.hpp"
#include "tools/trace_packet_flow/packet_filter.hpp"
#include "tools/trace_packet_flow/route.hpp"

namespace tf = ringlab::trace_flow;

namespace {

std::string pcap() { return ringlab::test::source_file("traces/tcp-handshake.pcap"); }

TEST(TraceFlowTcp, EverySegmentEndsAsTheGeneratorsTableSays) {
  tf::lab_replay_options o;
  o.tcp_listen_ports = {ringlab::gen_trace::tcp_port};
  const auto res = tf::run_lab_replay(pcap(), o);
  const auto routes = tf::build_lab_routes(res.events);
  const auto cases = ringlab::gen_trace::tcp_handshake_cases();
  ASSERT_EQ(routes.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& r = routes[i];
    EXPECT_EQ(r.packet_id, i + 1);
    EXPECT_EQ(r.outcome(), cases[i].lab) << "packet " << i + 1 << " " << cases[i].name;
    const auto hops = r.hops();
    EXPECT_NE(std::find(hops.begin(), hops.end(), "tcp"), hops.end()) << "packet " << i + 1 << " never reached tcp";
    EXPECT_EQ(hops.back(), "release") << "packet " << i + 1 << ": its frame went back";
  }
}

// Without a listener the handshake's SYN finds no socket either: the drop reason says so.
TEST(TraceFlowTcp, WithoutAListenerTheSynFindsNoSocket) {
  const auto res = tf::run_lab_replay(pcap(), {});
  const auto routes = tf::build_lab_routes(res.events);
  ASSERT_FALSE(routes.empty());
  EXPECT_EQ(routes[0].outcome(), "drop: no_socket");
}

TEST(TraceFlowTcp, TheCliPrintsEachSegmentsRouteAndDropReason) {
  const auto r = ringlab::test::run({"timeout", "60", ringlab::test::ringlab_binary(), "trace", "replay", pcap(),
                                     "--tcp-listen", "5001", "--packets", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("TCP listeners on 5001"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(", 8 routes"), std::string::npos) << r.out;
  // Each packet's timeline ends with its outcome line, in packet order, as the table says.
  std::vector<std::string> outcomes;
  for (const auto& l : ringlab::test::lines_of(r.out))
    if (l.starts_with("  => ")) outcomes.push_back(l.substr(5, l.find(" after ") - 5));
  const auto cases = ringlab::gen_trace::tcp_handshake_cases();
  ASSERT_EQ(outcomes.size(), cases.size()) << r.out;
  for (std::size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(outcomes[i], cases[i].lab) << "packet " << i + 1;
  EXPECT_NE(r.out.find("lab    tcp                8"), std::string::npos) << r.out;   // every segment at hop tcp
  // Each route's header names the segment as tcpdump does: ports, flags, sequence numbers, length.
  for (const char* head : {"packet 1 (lab path)  TCP 10.0.0.1:40000 > 10.0.0.2:5001 [S] seq 1000 win 65535 len 0\n",
                           "packet 3 (lab path)  TCP 10.0.0.1:40000 > 10.0.0.2:5001 [P.] seq 1001 ack ",
                           "packet 6 (lab path)  TCP 10.0.0.1:40001 > 10.0.0.2:5002 [S] seq ",
                           "packet 7 (lab path)  TCP 10.0.0.1:40000 > 10.0.0.2:5001 [F.] seq 1065 ack "})
    EXPECT_NE(r.out.find(head), std::string::npos) << head << "\n" << r.out;
  EXPECT_NE(r.out.find(" win 65535 len 64\n"), std::string::npos) << r.out;   // packet 3's 64 bytes
}

// The stack's own frames as routes (--stack-frames): the SYN-ACK to packet 1's SYN and the RST to
// packet 6's SYN to a closed port, selected by --filter on their bytes, each from the stack's `tx` to
// the NIC's `nic_tx`, its header read from the bytes sent. (The peer's MAC comes from its frames: before,
// both waited for ARP and were dropped as arp_unresolved.) Source line numbers are cut: they move.
TEST(TraceFlowTcp, TheStacksSynAckAndRstAreRoutesSelectedByTheFilter) {
  const auto r = ringlab::test::run({"timeout", "60", ringlab::test::ringlab_binary(), "trace", "replay", pcap(),
                                     "--tcp-listen", "5001", "--packets", "0", "--stack-frames", "--filter",
                                     "src host 10.0.0.2 and tcp[tcpflags] & (tcp-syn|tcp-rst) != 0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string routes;
  for (auto l : ringlab::test::lines_of(r.out)) {
    if (!(l.starts_with("stack ") || l.starts_with("  "))) continue;
    for (const char* ext : {".cpp:", ".hpp:"})   // "file.cpp:143 fn" -> "file.cpp fn"
      if (auto at = l.find(ext); at != std::string::npos) l.erase(at + 4, l.find(' ', at) - at - 4);
    routes += l + "\n";
  }
  const std::string tag = r.out.substr(r.out.find("\nstack ") + 7, 6);   // the stack's tag (its MAC and address)
  EXPECT_EQ(routes,
            "stack " + tag + " frame 1 (lab path)  TCP 10.0.0.2:5001 > 10.0.0.1:40000 [S.] seq 389649663 ack 1001 win 65535 len 0\n"
            "         +ns  hop     queue slot  frame  verdict                  where\n"
            "           0  tx      0     -     32     tx                       stack/iface/ip_output.cpp ringlab::stack::ip_output::finish\n"
            "           0  nic_tx  0     -     32     tx                       sim_nic/sim_nic.cpp ringlab::sim::sim_nic::transmit\n"
            "  => tx after 2 hops, 0 ns\n"
            "stack " + tag + " frame 4 (lab path)  TCP 10.0.0.2:5002 > 10.0.0.1:40001 [R.] seq 0 ack 7001 win 0 len 0\n"
            "         +ns  hop     queue slot  frame  verdict                  where\n"
            "           0  tx      0     -     27     tx                       stack/iface/ip_output.cpp ringlab::stack::ip_output::finish\n"
            "           0  nic_tx  0     -     27     tx                       sim_nic/sim_nic.cpp ringlab::sim::sim_nic::transmit\n"
            "  => tx after 2 hops, 0 ns\n")
      << r.out;
  EXPECT_NE(r.out.find("; 0 of 8 packets selected, 2 routes\n"), std::string::npos) << r.out;
  // Without --stack-frames the same filter selects nothing: the trace holds no frame from 10.0.0.2.
  const auto none = ringlab::test::run({"timeout", "60", ringlab::test::ringlab_binary(), "trace", "replay", pcap(),
                                        "--tcp-listen", "5001", "--packets", "0", "--filter", "src host 10.0.0.2"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_NE(none.out.find("; 0 of 8 packets selected, 0 routes\n"), std::string::npos) << none.out;
}

TEST(TraceFlowTcp, FlagsAreTcpdumpsLettersInTcpdumpsOrder) {
  namespace flag = ringlab::wire::tcp::flag;
  EXPECT_EQ(tf::tcp_flags_string(flag::syn), "S");
  EXPECT_EQ(tf::tcp_flags_string(flag::syn | flag::ack), "S.");
  EXPECT_EQ(tf::tcp_flags_string(flag::psh | flag::ack), "P.");
  EXPECT_EQ(tf::tcp_flags_string(flag::fin | flag::ack), "F.");
  EXPECT_EQ(tf::tcp_flags_string(flag::rst | flag::ack), "R.");
  EXPECT_EQ(tf::tcp_flags_string(flag::rst), "R");
  EXPECT_EQ(tf::tcp_flags_string(0xff), "FSRP.UEW");
  EXPECT_EQ(tf::tcp_flags_string(0), "none");
}

}  // namespace
