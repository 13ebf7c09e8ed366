// trace_packet_flow: the route builder on hand-made events, the events file, libpcap filters, the four
// outputs (the JSON is checked by tests/unit/trace_flow/check_trace_json.py under /usr/bin/python3, the
// dot file is rendered by Graphviz), the kernel trace parser on a trace recorded on this kind of machine,
// and the lab path (sim_nic + stack) on a small deterministic pcap.
#include <gtest/gtest.h>

#include <algorithm>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tools/gen_trace/gen_trace.hpp"
#include "tools/trace_packet_flow/compare.hpp"
#include "tools/trace_packet_flow/kernel_trace.hpp"
#include "tools/trace_packet_flow/lab_replay.hpp"
#include "tools/trace_packet_flow/netns_pair.hpp"
#include "tools/trace_packet_flow/outputs.hpp"
#include "tools/trace_packet_flow/packet_filter.hpp"
#include "tools/trace_packet_flow/route.hpp"
#include "tests/support/preconditions.hpp"

namespace tf = ringlab::trace_flow;
namespace trace = ringlab::trace;
using hv = std::vector<std::string>;

namespace {

std::string source_dir() {
  const char* d = std::getenv("RINGLAB_SOURCE_DIR");
  return d ? d : RINGLAB_TEST_SOURCE_DIR;
}

std::string tmp_path(const std::string& name) {
  return (testing::TempDir().empty() ? std::string("/tmp/") : testing::TempDir()) + "trace_flow_" +
         std::to_string(::getpid()) + "_" + name;
}

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

tf::lab_event ev(std::uint64_t id, std::uint64_t t, trace::hop h, trace::verdict v = trace::verdict::pass,
                 trace::drop_reason r = trace::drop_reason::none, std::uint32_t slot = ~0u, std::uint32_t frame = ~0u) {
  tf::lab_event e;
  e.e.packet_id = id;
  e.e.t_ns = t;
  e.e.stage = h;
  e.e.v = v;
  e.e.reason = r;
  e.e.ring_slot = slot;
  e.e.frame = frame;
  e.file = "sim_nic/sim_nic.cpp";
  e.function = "ringlab::sim::sim_nic::receive";
  e.line = 100 + static_cast<std::uint32_t>(h);
  return e;
}

// Two packets interleaved as a NIC and a stack would emit them; packet 2 is dropped at udp.
std::vector<tf::lab_event> hand_made() {
  using H = trace::hop;
  return {
      ev(1, 100, H::nic_rx), ev(1, 100, H::rss), ev(1, 110, H::pool, {}, {}, ~0u, 7),
      ev(2, 120, H::nic_rx), ev(1, 130, H::ring_enqueue, {}, {}, 3, 7), ev(2, 125, H::rss),
      ev(2, 140, H::ring_enqueue, {}, {}, 4, 8), ev(1, 200, H::ring_dequeue, {}, {}, 3, 7),
      ev(1, 250, H::eth), ev(1, 260, H::ipv4), ev(1, 270, H::udp), ev(1, 300, H::socket_queue, trace::verdict::deliver),
      ev(2, 210, H::ring_dequeue, {}, {}, 4, 8), ev(2, 260, H::eth), ev(2, 270, H::ipv4),
      ev(2, 280, H::udp, trace::verdict::drop, trace::drop_reason::bad_l4_checksum), ev(2, 290, H::release),
  };
}

int run_sh(const std::string& cmd, std::string* out = nullptr) {
  return tf::run_command({"/bin/sh", "-c", cmd}, out);
}

}  // namespace

TEST(TraceFlowRoute, HandMadeEventsGiveOrderedHopLists) {
  auto events = hand_made();
  auto routes = tf::build_lab_routes(events);
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].packet_id, 1u);
  EXPECT_EQ(routes[0].hops(), (hv{"nic_rx", "rss", "pool", "ring_enqueue", "ring_dequeue", "eth", "ipv4", "udp",
                                  "socket_queue"}));
  EXPECT_EQ(routes[0].outcome(), "deliver");
  EXPECT_EQ(routes[0].total_ns(), 200u);
  EXPECT_EQ(routes[0].steps[3].ring_slot, 3);
  EXPECT_EQ(routes[0].steps[3].frame, 7);
  EXPECT_EQ(routes[0].steps[0].ring_slot, tf::none);
  // Packet 2's rss (t=125) was emitted after its ring_enqueue's neighbour: sorted by time.
  EXPECT_EQ(routes[1].hops(), (hv{"nic_rx", "rss", "ring_enqueue", "ring_dequeue", "eth", "ipv4", "udp", "release"}));
  EXPECT_TRUE(routes[1].dropped());
  EXPECT_EQ(routes[1].outcome(), "drop: bad_l4_checksum");
  EXPECT_EQ(routes[1].drop_step()->hop, "udp");
}

// A hop that emits pass on entry and its drop a moment later (sim_nic's runt check after nic_rx, the
// stack's ethertype check after eth) is one step with the drop's verdict and source, at the entry time;
// the diagram has no edge from the hop to itself.
TEST(TraceFlowRoute, AHopThatDropsIsOneStepAndNoSelfLoop) {
  using H = trace::hop;
  auto drop_here = [](tf::lab_event e, std::uint32_t line) {
    e.e.v = trace::verdict::drop;
    e.line = line;
    return e;
  };
  std::vector<tf::lab_event> events = {
      ev(1, 100, H::nic_rx), drop_here(ev(1, 105, H::nic_rx, {}, trace::drop_reason::runt), 341),
      ev(2, 200, H::nic_rx), ev(2, 201, H::rss), ev(2, 210, H::eth),
      drop_here(ev(2, 215, H::eth, {}, trace::drop_reason::bad_ethertype), 207), ev(2, 220, H::release)};
  const auto routes = tf::build_lab_routes(events);
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].hops(), (hv{"nic_rx"}));
  EXPECT_EQ(routes[0].outcome(), "drop: runt");
  EXPECT_EQ(routes[0].steps[0].line, 341u);
  EXPECT_EQ(routes[0].steps[0].t_ns, 100u);
  EXPECT_EQ(routes[1].hops(), (hv{"nic_rx", "rss", "eth", "release"}));
  EXPECT_EQ(routes[1].steps[2].verdict, "drop");
  EXPECT_EQ(routes[1].steps[2].reason, "bad_ethertype");
  EXPECT_EQ(routes[1].steps[3].t_ns - routes[1].steps[2].t_ns, 10u);
  std::ostringstream os;
  tf::write_dot(os, routes, "drops");
  const std::string d = os.str();
  for (std::size_t i = 0; i < 4; ++i) {
    const std::string self = "lab_" + std::to_string(i) + " -> lab_" + std::to_string(i) + " ";
    EXPECT_EQ(d.find(self), std::string::npos) << self << "in\n" << d;
  }
  EXPECT_NE(d.find("rankdir=TB"), std::string::npos);
  EXPECT_NE(d.find("lab_0 -> lab_drop_runt"), std::string::npos) << d;
}

// The lab routes on either clock: sim_nic's virtual one (deterministic) or the real time each hop was
// recorded, which `trace compare` sets beside the kernel's; each route names its clock.
TEST(TraceFlowRoute, LabRoutesUseTheClockAskedFor) {
  auto events = hand_made();
  for (auto& e : events) e.e.real_ns = 5000 + e.e.t_ns * 3;
  const auto virt = tf::build_lab_routes(events);
  const auto real = tf::build_lab_routes(events, {}, 0, tf::lab_clock::real);
  ASSERT_EQ(real.size(), 2u);
  EXPECT_EQ(virt[0].total_ns(), 200u);
  EXPECT_EQ(real[0].total_ns(), 600u);
  EXPECT_EQ(real[0].arrival_ns(), 5300u);
  EXPECT_EQ(virt[0].clock, "sim_nic's virtual clock");
  EXPECT_EQ(real[0].clock, "real: CLOCK_MONOTONIC when each hop was recorded");
  std::ostringstream os;
  tf::write_stats(os, real);
  EXPECT_NE(os.str().find("(clock: real: CLOCK_MONOTONIC when each hop was recorded)"), std::string::npos) << os.str();
}

TEST(TraceFlowRoute, SelectsPacketIdsAndLimitsCount) {
  auto events = hand_made();
  const std::vector<std::uint64_t> only2{2};
  auto r = tf::build_lab_routes(events, only2);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].packet_id, 2u);
  EXPECT_EQ(tf::build_lab_routes(events, {}, 1).size(), 1u);
}

TEST(TraceFlowRoute, FromTraceKeepsSourceLocation) {
  trace::event e{};
  e.packet_id = 9;
  e.stage = trace::hop::udp;
  e.where = std::source_location::current();
  auto le = tf::from_trace(std::span(&e, 1));
  ASSERT_EQ(le.size(), 1u);
  EXPECT_EQ(le[0].file, "tests/unit/trace_flow/trace_flow_test.cpp");
  EXPECT_NE(le[0].function.find("TestBody"), std::string::npos) << le[0].function;
  EXPECT_EQ(tf::short_function("void ringlab::sim::sim_nic::receive(std::span<const std::byte>, int)"),
            "ringlab::sim::sim_nic::receive");
  EXPECT_EQ(tf::short_function("std::pair<int, int> a::b<c d>::f(int) [with T = x]"), "a::b<c d>::f");
}

TEST(TraceFlowEventsFile, RoundTripsAndNamesBadFields) {
  auto events = hand_made();
  std::stringstream ss;
  tf::write_events(ss, events);
  auto back = tf::read_events(ss, "x.events");
  ASSERT_EQ(back.size(), events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(back[i].e.packet_id, events[i].e.packet_id);
    EXPECT_EQ(back[i].e.t_ns, events[i].e.t_ns);
    EXPECT_EQ(back[i].e.stage, events[i].e.stage);
    EXPECT_EQ(back[i].e.reason, events[i].e.reason);
    EXPECT_EQ(back[i].e.ring_slot, events[i].e.ring_slot);
    EXPECT_EQ(back[i].e.frame, events[i].e.frame);
    EXPECT_EQ(back[i].file, events[i].file);
    EXPECT_EQ(back[i].line, events[i].line);
  }
  std::istringstream bad("#ringlab-trace-events v1\n1\t2\tnic_rx\tpass\tnone\t0\t-\t-\t0\t1\tf\tg\n"
                         "1\t2\tnot_a_hop\tpass\tnone\t0\t-\t-\t0\t1\tf\tg\n");
  try {
    tf::read_events(bad, "bad.events");
    FAIL() << "no error";
  } catch (const tf::input_error& e) {
    EXPECT_STREQ(e.what(), "bad.events:3: field hop: 'not_a_hop' is not valid");
  }
  std::istringstream notours("hello\n");
  EXPECT_THROW(tf::read_events(notours, "n"), tf::input_error);
}

// The events file names the pcap it came from (so a reader given another pcap can refuse it), and a
// file cut in the middle of a line is refused, naming the line, never half-parsed.
TEST(TraceFlowEventsFile, NamesItsSourceAndRefusesACutFile) {
  auto events = hand_made();
  std::stringstream ss;
  tf::write_events(ss, events, {"traces/x.pcap", 632});
  const std::string text = ss.str();
  tf::events_source src;
  std::istringstream whole(text);
  EXPECT_EQ(tf::read_events(whole, "x.events", &src).size(), events.size());
  EXPECT_EQ(src.name, "traces/x.pcap");
  EXPECT_EQ(src.bytes, 632u);
  ASSERT_GT(text.size(), 10u);
  const std::size_t cut = text.size() - 5;   // inside the last event line
  const std::size_t line_no = static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(cut), '\n')) + 1;
  std::istringstream part(text.substr(0, cut));
  try {
    tf::read_events(part, "cut.events");
    FAIL() << "a cut file was accepted";
  } catch (const tf::input_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "cut.events:" + std::to_string(line_no) + ": the line is cut (no newline at the end): the file is incomplete");
  }
}

TEST(TraceFlowFilter, LibpcapSelectsByExpressionAndRejectsBadOnes) {
  const std::string pcap = tmp_path("filter.pcap");
  std::vector<std::vector<std::uint8_t>> frames;
  for (std::uint16_t port : {9000, 9001, 9000, 53})
    frames.push_back(tf::make_udp_frame(0x0a000001, 0x0a000002, 5000, port, {'a', 'b', 'c'}));
  tf::write_pcap(pcap, frames);
  auto sel = tf::select_packets(pcap, "udp dst port 9000", 0);
  EXPECT_EQ(sel.total, 4u);
  ASSERT_EQ(sel.packets.size(), 2u);
  EXPECT_EQ(sel.packets[0].id, 1u);
  EXPECT_EQ(sel.packets[1].id, 3u);
  EXPECT_EQ(sel.packets[0].summary, "10.0.0.1:5000 > 10.0.0.2:9000 udp 3 B");
  ASSERT_TRUE(sel.packets[0].udp);
  EXPECT_EQ(sel.packets[0].udp->payload, (std::vector<std::uint8_t>{'a', 'b', 'c'}));
  EXPECT_EQ(tf::select_packets(pcap, "", 0).packets.size(), 4u);
  EXPECT_EQ(tf::select_packets(pcap, "", 3).packets.size(), 3u);
  EXPECT_EQ(tf::select_packets(pcap, "tcp", 0).packets.size(), 0u);
  try {
    tf::select_packets(pcap, "udp dst prot 9000", 0);
    FAIL() << "no error";
  } catch (const tf::input_error& e) {
    EXPECT_NE(std::string(e.what()).find("--filter 'udp dst prot 9000': unknown host 'prot'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(tf::select_packets(tmp_path("missing.pcap"), "", 0), tf::input_error);
  std::remove(pcap.c_str());
}

TEST(TraceFlowOutputs, PercentilesAreNearestRank) {
  std::vector<std::uint64_t> v;
  for (std::uint64_t i = 1; i <= 100; ++i) v.push_back(i);
  EXPECT_EQ(tf::percentile(v, 50), 50u);
  EXPECT_EQ(tf::percentile(v, 99), 99u);
  EXPECT_EQ(tf::percentile(v, 100), 100u);
  EXPECT_EQ(tf::percentile({7}, 99), 7u);
  auto events = hand_made();
  auto stats = tf::compute_hop_stats(tf::build_lab_routes(events));
  ASSERT_FALSE(stats.empty());
  EXPECT_EQ(stats[0].hop, "nic_rx");
  for (const auto& s : stats)
    if (s.hop == "ring_dequeue") {
      EXPECT_EQ(s.count, 2u);
      EXPECT_EQ(s.p50_ns, 70u);    // packet 1: 200-130, packet 2: 210-140
      EXPECT_EQ(s.max_ns, 70u);
    }
}

TEST(TraceFlowOutputs, TimelineShowsHopsSourcesAndVerdicts) {
  auto events = hand_made();
  std::ostringstream os;
  tf::write_timeline(os, tf::build_lab_routes(events));
  const std::string t = os.str();
  EXPECT_NE(t.find("packet 2 (lab path)"), std::string::npos);
  EXPECT_NE(t.find("drop: bad_l4_checksum"), std::string::npos);
  EXPECT_NE(t.find("sim_nic/sim_nic.cpp:114 ringlab::sim::sim_nic::receive"), std::string::npos) << t;
  EXPECT_NE(t.find("=> drop: bad_l4_checksum after 8 hops, 170 ns"), std::string::npos) << t;
}

TEST(TraceFlowOutputs, ChromeJsonPassesTheTraceEventCheck) {
  RINGLAB_REQUIRE(ringlab::netlab::program_missing("/usr/bin/python3", "python3"));
  auto events = hand_made();
  auto routes = tf::build_lab_routes(events);
  // A kernel route too: both paths in one file, as `trace compare` writes it.
  tf::route k;
  k.path = "kernel";
  k.packet_id = 1;
  for (auto [h, t] : {std::pair{"net:netif_rx", 1000}, {"net:netif_receive_skb", 3000}, {"sock:sk_data_ready", 9000}}) {
    tf::step s;
    s.hop = h;
    s.t_ns = static_cast<std::uint64_t>(t);
    s.verdict = "pass";
    s.detail = "dev=\"x\"\ttab";
    k.steps.push_back(s);
  }
  routes.push_back(k);
  const std::string path = tmp_path("trace.json");
  {
    std::ofstream f(path);
    tf::write_chrome_json(f, routes);
  }
  std::string out;
  const int rc = run_sh("/usr/bin/python3 " + source_dir() + "/tests/unit/trace_flow/check_trace_json.py " + path, &out);
  EXPECT_EQ(rc, 0) << out;
  // 8 + 7 + 2 hop-to-hop arrows.
  EXPECT_EQ(out.substr(0, 3), "ok ");
  EXPECT_NE(out.find(", 17 flows"), std::string::npos) << out;
  const std::string j = slurp(path);
  EXPECT_NE(j.find("\"ph\":\"s\""), std::string::npos);
  EXPECT_NE(j.find("\"ph\":\"f\""), std::string::npos);
  EXPECT_NE(j.find("\"name\":\"thread_name\""), std::string::npos);
  EXPECT_NE(j.find("dev=\\\"x\\\"\\ttab"), std::string::npos);
  // A broken file is refused by the same check.
  { std::ofstream f(path); f << "{\"traceEvents\":[{\"ph\":\"X\",\"pid\":1,\"tid\":1,\"ts\":0,\"name\":\"a\"}]}"; }
  EXPECT_NE(run_sh("/usr/bin/python3 " + source_dir() + "/tests/unit/trace_flow/check_trace_json.py " + path, &out), 0);
  EXPECT_NE(out.find("X without a non-negative dur"), std::string::npos) << out;
  std::remove(path.c_str());
}

TEST(TraceFlowOutputs, DotRendersToSvgWithGraphviz) {
  RINGLAB_REQUIRE(ringlab::netlab::program_missing("dot", "graphviz"));
  auto events = hand_made();
  const std::string path = tmp_path("route.dot");
  {
    std::ofstream f(path);
    tf::write_dot(f, tf::build_lab_routes(events), "hand \"made\"");
  }
  const std::string d = slurp(path);
  EXPECT_NE(d.find("lab_drop_bad_l4_checksum"), std::string::npos);
  EXPECT_NE(d.find("lab path: 2 packets, 1 delivered"), std::string::npos) << d;
  std::string svg;
  ASSERT_EQ(run_sh("dot -Tsvg " + path, &svg), 0) << svg;
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("drop: bad_l4_checksum"), std::string::npos);
  std::remove(path.c_str());
}

TEST(TraceFlowKernel, ParsesTraceLinesOfEveryShape) {
  const std::string text =
      "# tracer: nop\n"
      "         ringlab-23184   [001] ...1. 1282091167106001: tracing_mark_write: ringlab send packet=1 dport=9000 len=43\n"
      "    kworker/0:1-11      [000] ..s1.   367.180882: netif_receive_skb: dev=rlxa skbaddr=00000000d3177f17 len=76\n"
      "         ringlab-23206   [001] ..... 1282091172194931: sys_recvfrom(fd: 6, ubuf: 0x7f)\n"
      "         ringlab-23206   [001] ..... 1282091172230274: sys_recvfrom -> 0xf\n"
      "garbage\n";
  std::size_t skipped = 0;
  auto r = tf::parse_trace_text(text, &skipped);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(skipped, 1u);
  EXPECT_EQ(r[0].event, "tracing_mark_write");
  EXPECT_EQ(r[0].ts, 1282091167106001u);
  EXPECT_EQ(r[1].task, "kworker/0:1");
  EXPECT_EQ(r[1].pid, 11);
  EXPECT_EQ(r[1].cpu, 0);
  EXPECT_TRUE(r[1].softirq());
  EXPECT_EQ(r[1].ts, 367180882u);   // microseconds
  EXPECT_EQ(tf::field(r[1].body, "skbaddr"), "00000000d3177f17");
  EXPECT_EQ(tf::field(r[1].body, "len"), "76");
  EXPECT_EQ(r[2].event, "sys_recvfrom");
  EXPECT_EQ(r[3].event, "sys_recvfrom_exit");
  EXPECT_EQ(r[3].body, "0xf");
  EXPECT_EQ(tf::field("sk address = 0000, family = AF_INET protocol = 0x11, length = 15, error = 0", "length"), "15");
  EXPECT_EQ(tf::field("skbaddr=1 location=__udp4_lib_rcv+0x4bc/0xd00 reason: NO_SOCKET", "reason"), "NO_SOCKET");
}

TEST(TraceFlowKernel, DropReasonsComeFromTheFormatFile) {
  auto m = tf::parse_drop_reasons(slurp(source_dir() + "/tests/unit/trace_flow/data/kfree_skb.format"));
  ASSERT_GT(m.size(), 50u);
  EXPECT_EQ(m.at(2), "SKB_DROP_REASON_NOT_SPECIFIED");
  EXPECT_EQ(m.at(3), "SKB_DROP_REASON_NO_SOCKET");
  EXPECT_EQ(m.at(11), "SKB_DROP_REASON_UDP_CSUM");
  EXPECT_EQ(tf::lab_equivalent("SKB_DROP_REASON_NO_SOCKET"), "no_socket");
  EXPECT_EQ(tf::lab_equivalent("SKB_DROP_REASON_UDP_CSUM"), "bad_l4_checksum");
}

TEST(TraceFlowKernel, TracepointsMapToKernelSource) {
  auto rx = tf::tracepoint_sources("net:netif_receive_skb");
  ASSERT_FALSE(rx.empty());
  EXPECT_EQ(rx[0].file, "net/core/dev.c");
  EXPECT_EQ(rx[0].function, "__netif_receive_skb_core");
  auto drop = tf::tracepoint_sources("skb:kfree_skb");
  EXPECT_TRUE(std::any_of(drop.begin(), drop.end(), [](auto& e) { return e.function == "kfree_skb_reason"; }));
  EXPECT_EQ(tf::function_file("__udp4_lib_rcv"), "net/ipv4/udp.c");
  EXPECT_EQ(tf::tracepoint_sources("sock:sk_data_ready").at(0).function, "sock_def_readable");
}

// A trace recorded by `ringlab trace kernel` on this kind of machine (kernel 6.18, x86-tsc clock):
// four datagrams, port 9000 listened on, 9001 not.
TEST(TraceFlowKernel, RecordedVethTraceGivesRoutesToSocketAndToDrop) {
  const std::string text = slurp(source_dir() + "/tests/unit/trace_flow/data/veth_udp_x86tsc.trace");
  ASSERT_FALSE(text.empty());
  tf::kernel_route_options o;
  o.rx_dev = "rlt23184b";
  o.receiver_tid = 23206;
  o.ns_per_tick = 1.0 / 2.096;
  // Committed, so every line must parse: a line our reader drops is a failure, not a shorter route.
  std::size_t unparsed = 0;
  const auto records = tf::parse_trace_text(text, &unparsed);
  EXPECT_EQ(unparsed, 0u) << "lines of veth_udp_x86tsc.trace our reader cannot parse";
  auto routes = tf::build_kernel_routes(records, o);
  ASSERT_EQ(routes.size(), 4u);
  EXPECT_EQ(routes[0].hops(), (hv{"net:netif_rx", "net:netif_receive_skb", "fib:fib_table_lookup", "sock:sk_data_ready",
                                  "syscalls:sys_enter_recvfrom", "sock:sock_recv_length", "syscalls:sys_exit_recvfrom",
                                  "user:recvfrom_returned"}));
  EXPECT_EQ(routes[0].outcome(), "deliver");
  EXPECT_EQ(routes[1].packet_id, 2u);
  EXPECT_EQ(routes[1].outcome(), "drop: SKB_DROP_REASON_NO_SOCKET");
  EXPECT_EQ(routes[1].steps.front().hop, "net:netif_rx");
  EXPECT_EQ(routes[1].steps.back().hop, "skb:kfree_skb");
  EXPECT_EQ(routes[1].steps.back().function, "__udp4_lib_rcv");
  EXPECT_EQ(routes[1].steps.back().file, "net/ipv4/udp.c");
  for (std::size_t i : {2u, 3u}) EXPECT_EQ(routes[i].outcome(), "deliver") << i;
  // Hop times are monotonic and in nanoseconds (netif_rx -> netif_receive_skb takes microseconds).
  for (const auto& r : routes)
    for (std::size_t i = 1; i < r.steps.size(); ++i) EXPECT_GE(r.steps[i].t_ns, r.steps[i - 1].t_ns);
  const auto d = routes[0].steps[1].t_ns - routes[0].steps[0].t_ns;
  EXPECT_GT(d, 100u);
  EXPECT_LT(d, 1'000'000u);
}

// ---- the lab path: sim_nic + stack on a deterministic pcap ----

namespace {
std::string lab_pcap() {
  const std::string pcap = tmp_path("lab.pcap");
  std::vector<std::vector<std::uint8_t>> frames;
  const std::vector<std::uint8_t> p{'h', 'e', 'l', 'l', 'o'};
  frames.push_back(tf::make_udp_frame(0x0a000001, 0x0a000002, 5000, 9000, p));          // 1: delivered
  frames.push_back(tf::make_udp_frame(0x0a000001, 0x0a000002, 5000, 9001, p));          // 2: no socket
  frames.push_back(tf::make_udp_frame(0x0a000001, 0x0a000002, 5000, 9000, p, false));   // 3: bad UDP checksum
  tf::write_pcap(pcap, frames);
  return pcap;
}
}  // namespace

TEST(TraceFlowLab, KnownPacketFollowsTheExpectedHops) {
  const std::string pcap = lab_pcap();
  tf::lab_replay_options o;
  o.listen_ports = {9000};
  auto res = tf::run_lab_replay(pcap, o);
  auto routes = tf::build_lab_routes(res.events);
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(routes[0].hops(), (hv{"nic_rx", "rss", "pool", "ring_enqueue", "ring_dequeue", "port_rx", "eth", "ipv4",
                                  "udp", "socket_queue", "deliver", "release"}));
  EXPECT_EQ(routes[0].outcome(), "deliver");
  EXPECT_EQ(routes[0].steps[10].file, "stack/socket/udp_socket.cpp");   // the reader took it
  EXPECT_EQ(routes[0].steps[10].function, "ringlab::stack::udp_socket::try_receive_from");
  EXPECT_EQ(routes[1].outcome(), "drop: no_socket");
  EXPECT_EQ(routes[0].steps[0].file, "sim_nic/sim_nic.cpp");
  EXPECT_EQ(routes[0].steps[3].ring_slot, 0);
  EXPECT_EQ(routes[1].steps[3].ring_slot, 1);
  EXPECT_NE(routes[0].steps[2].frame, tf::none);
  // Same trace, same events: the replay is deterministic.
  auto again = tf::run_lab_replay(pcap, o);
  ASSERT_EQ(again.events.size(), res.events.size());
  for (std::size_t i = 0; i < res.events.size(); ++i) {
    EXPECT_EQ(again.events[i].e.packet_id, res.events[i].e.packet_id);
    EXPECT_EQ(again.events[i].e.stage, res.events[i].e.stage);
    EXPECT_EQ(again.events[i].e.t_ns, res.events[i].e.t_ns);
  }
  std::remove(pcap.c_str());
}

TEST(TraceFlowLab, BadChecksumShowsItsDropReasonAtTheUdpHop) {
  const std::string pcap = lab_pcap();
  tf::lab_replay_options o;
  o.listen_ports = {9000};
  auto res = tf::run_lab_replay(pcap, o);
  const std::vector<std::uint64_t> id3{3};
  auto routes = tf::build_lab_routes(res.events, id3);
  ASSERT_EQ(routes.size(), 1u);
  ASSERT_TRUE(routes[0].dropped());
  EXPECT_EQ(routes[0].drop_step()->hop, "udp");
  EXPECT_EQ(routes[0].drop_step()->reason, "bad_l4_checksum");
  EXPECT_EQ(routes[0].outcome(), "drop: bad_l4_checksum");
  EXPECT_EQ(routes[0].drop_step()->file, "stack/iface/rx_pipeline.cpp");   // the receive pipeline decided
  std::remove(pcap.c_str());
}

// ---- compare: both paths stage by stage ----

namespace {
tf::route kernel_route(std::uint64_t id, std::initializer_list<std::pair<const char*, std::uint64_t>> hops,
                       const char* drop_function = nullptr) {
  tf::route k;
  k.path = "kernel";
  k.packet_id = id;
  k.clock = "real: tracefs clock x86-tsc";
  for (auto [h, t] : hops) {
    tf::step s;
    s.hop = h;
    s.t_ns = t;
    s.verdict = std::string(h) == "user:recvfrom_returned" ? "deliver" : "pass";
    s.file = "net/core/dev.c";
    k.steps.push_back(s);
  }
  if (drop_function) {
    k.steps.back().verdict = "drop";
    k.steps.back().reason = "SKB_DROP_REASON_NO_SOCKET";
    k.steps.back().function = drop_function;
  }
  return k;
}
// The hand-made lab routes on the real clock (equal to their virtual times here) and one delivered
// kernel route.
std::vector<tf::route> both_paths() {
  auto events = hand_made();
  for (auto& e : events) e.e.real_ns = e.e.t_ns;
  auto routes = tf::build_lab_routes(events, {}, 0, tf::lab_clock::real);
  routes.push_back(kernel_route(1, {{"net:netif_rx", 1000}, {"net:netif_receive_skb", 3000}, {"fib:fib_table_lookup", 4000},
                                    {"sock:sk_data_ready", 9000}, {"syscalls:sys_enter_recvfrom", 20000},
                                    {"user:recvfrom_returned", 31000}}));
  return routes;
}
}  // namespace

// Stage times: from arrival to the stage's last step, p50 over the routes that reached it; each
// path's hops land in the stage the text table names; a kernel drop in the UDP demux is L4's.
TEST(TraceFlowCompare, StagesAlignBothPathsAndTimeEachOnItsOwnClock) {
  auto routes = both_paths();
  routes.push_back(kernel_route(2, {{"net:netif_rx", 50000}, {"net:netif_receive_skb", 52000},
                                    {"fib:fib_table_lookup", 53000}, {"skb:kfree_skb", 54000}}, "__udp4_lib_rcv"));
  const auto figs = tf::compute_compare(routes);
  ASSERT_EQ(figs.size(), 2u);
  const auto& lab = figs.at("lab");
  const auto& ker = figs.at("kernel");
  ASSERT_EQ(lab.stages.size(), 8u);
  EXPECT_EQ(lab.clock, "real: CLOCK_MONOTONIC when each hop was recorded");
  EXPECT_EQ(lab.routes, 2u);
  EXPECT_EQ(lab.delivered, 1u);
  EXPECT_EQ(lab.stages[0].hops, (hv{"nic_rx", "rss", "pool"}));
  EXPECT_EQ(lab.stages[1].hops, (hv{"ring_enqueue"}));
  // Packet 1: arrival 100, ring_enqueue 130; packet 2: 120, 140: 30 and 20 ns, p50 (nearest rank) 20.
  EXPECT_EQ(lab.stages[1].p50_ns, 20u);
  EXPECT_EQ(lab.stages[1].p99_ns, 30u);
  EXPECT_EQ(lab.stages[4].drops.at("bad_l4_checksum"), 1u);
  EXPECT_EQ(lab.stages[5].routes, 1u);   // only packet 1 reached its socket
  EXPECT_EQ(lab.stages[5].p50_ns, 200u);
  EXPECT_EQ(lab.stages[7].hops, (hv{"release"}));
  EXPECT_EQ(ker.stages[1].routes, 0u);   // the backlog queue has no tracepoint
  EXPECT_EQ(ker.stages[2].p50_ns, 2000u);
  EXPECT_EQ(ker.stages[4].drops.at("SKB_DROP_REASON_NO_SOCKET"), 1u);
  EXPECT_EQ(ker.stages[6].hops, (hv{"syscalls:sys_enter_recvfrom", "user:recvfrom_returned"}));
  EXPECT_EQ(ker.stages[6].p50_ns, 30000u);
  EXPECT_EQ(ker.stages[6].step_p50_ns, 22000u);

  std::ostringstream table;
  tf::write_compare_table(table, routes);
  const std::string t = table.str();
  EXPECT_NE(t.find("lab clock: real: CLOCK_MONOTONIC when each hop was recorded"), std::string::npos) << t;
  EXPECT_NE(t.find("kernel clock: real: tracefs clock x86-tsc"), std::string::npos) << t;
  EXPECT_NE(t.find("kernel drops at L4 demux: SKB_DROP_REASON_NO_SOCKET x1"), std::string::npos) << t;
  EXPECT_NE(t.find("application reads          (deliver: not reached)"), std::string::npos) << t;
}

// The compare diagram: top to bottom, one row per stage (rank=same: the stage name, the lab cell and
// the kernel cell), each path's column linked downwards; rendered by Graphviz to an image taller than
// wide that fits a browser window without scrolling sideways.
TEST(TraceFlowCompare, DiagramIsOneRowPerStageAndFitsAWindow) {
  RINGLAB_REQUIRE(ringlab::netlab::program_missing("dot", "graphviz"));
  auto routes = both_paths();
  std::ostringstream os;
  tf::write_compare_dot(os, routes, "lab path vs kernel path: test");
  const std::string d = os.str();
  EXPECT_NE(d.find("rankdir=TB"), std::string::npos);
  for (std::size_t i = 0; i < 8; ++i)
    EXPECT_NE(d.find("{ rank=same; stage_" + std::to_string(i) + "; lab_" + std::to_string(i) + "; kernel_" +
                     std::to_string(i) + "; }"), std::string::npos) << i;
  EXPECT_NE(d.find("lab_0 -> lab_1"), std::string::npos);
  EXPECT_NE(d.find("kernel_6 -> kernel_7 [color=\"#d8833b\", style=dashed]"), std::string::npos) << d;
  EXPECT_NE(d.find("clock: real: CLOCK_MONOTONIC when each hop was recorded"), std::string::npos);
  EXPECT_NE(d.find("nic_rx\\nrss\\npool\\n"), std::string::npos) << d;   // one hop a line, not "\\n" text
  const std::string path = tmp_path("compare.dot");
  { std::ofstream f(path); f << d; }
  std::string svg;
  ASSERT_EQ(run_sh("dot -Tsvg " + path, &svg), 0) << svg;
  std::remove(path.c_str());
  // <svg width="NNNpt" height="MMMpt": a column of 9 rows, at most ~1100 pt wide (1470 px at 96 dpi).
  const auto w = svg.find("width=\""), h = svg.find("height=\"");
  ASSERT_NE(w, std::string::npos);
  const double width = std::stod(svg.substr(w + 7)), height = std::stod(svg.substr(h + 8));
  EXPECT_LT(width, 1100.0) << svg.substr(0, 400);
  EXPECT_GT(height, width * 0.5);
  EXPECT_NE(svg.find("8. buffer back"), std::string::npos);
}

// traces/malformed.pcap through `trace replay`'s lab path (sim_nic's defaults, then the stack): every
// frame ends as the generator's table says in its "trace replay" column (gen-trace --list,
// traces/README.md), including packet 3, the unpadded 46-byte frame sim_nic's default runt_len (14)
// lets through, and packet 11, the first fragment the stack holds for reassembly.
TEST(TraceFlowLab, MalformedTraceEndsAsTheGeneratorsTableSays) {
  const std::string pcap = source_dir() + "/traces/malformed.pcap";
  auto res = tf::run_lab_replay(pcap, {});
  const auto routes = tf::build_lab_routes(res.events);
  const auto cases = ringlab::gen_trace::malformed_cases();
  ASSERT_EQ(routes.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& r = routes[i];
    ASSERT_EQ(r.packet_id, i + 1);
    std::string got = r.outcome();
    // Held: the route says so at its reassembly hop (no verdict came yet); a run that goes on to the
    // reassembly timer drops it as fragment_timeout.
    if (got == tf::held_verdict) got = "held";
    if (got == "drop: fragment_timeout") got = "held";
    EXPECT_EQ(got, cases[i].lab) << "packet " << i + 1 << " " << cases[i].name;
  }
  // Packet 11, the lone first fragment: "held (reassembly)" at its reassembly hop, never "pass".
  const auto& frag = routes[10];
  ASSERT_GE(frag.steps.size(), 2u);
  EXPECT_EQ(frag.outcome(), "held (reassembly)");
  EXPECT_EQ(frag.steps[frag.steps.size() - 2].hop, "ipv4_reassembly");
  EXPECT_EQ(frag.steps[frag.steps.size() - 2].verdict, "held (reassembly)");
  EXPECT_EQ(frag.steps.back().verdict, "pass");   // the release
  EXPECT_EQ(routes[2].hops().back(), "release");
  EXPECT_EQ(routes[2].outcome(), "deliver");   // the runt_frame, delivered by default
}
