// tools/vm/function_graph: the guest's function_graph text -> call trees -> the route of one datagram.
// The recorded traces in tests/vm/data come from `ringlab vm trace --raw` on Debian's 6.1 kernel under
// QEMU (virtio-net and e1000), so the parser is checked on what the guest really prints.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tools/vm/function_graph.hpp"

namespace {
using namespace ringlab::vm;

std::string data(const std::string& name) {
  std::ifstream f(std::string(RINGLAB_TEST_SOURCE_DIR) + "/tests/vm/data/" + name);
  EXPECT_TRUE(f) << name;
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

// Position of the first step named `hop` at or after `from`, or npos.
std::size_t index_of(const ringlab::trace_flow::route& r, const std::string& hop, std::size_t from = 0) {
  for (std::size_t i = from; i < r.steps.size(); ++i)
    if (r.steps[i].hop == hop) return i;
  return std::string::npos;
}

TEST(function_graph, parses_calls_nesting_times_and_modules) {
  const std::string text =
      "# tracer: function_graph\n"
      "#\n"
      "   11.135631 |   0)    <idle>-0    |               |  virtnet_poll [virtio_net]() {\n"
      "   11.135824 |   0)    <idle>-0    | + 10.971 us   |    free_old_xmit_skbs [virtio_net]();\n"
      "   11.135912 |   0)    <idle>-0    |               |    ip_rcv_finish_core.constprop.0() {\n"
      "   11.136237 |   0)    <idle>-0    |   2.5 us      |      udp_v4_early_demux();\n"
      "   11.136432 |   0)    <idle>-0    | ! 345.434 us  |    } /* ip_rcv_finish_core.constprop.0 */\n"
      " ------------------------------------------\n"
      " 0)    <idle>-0    =>  ringlab-118  \n"
      " ------------------------------------------\n"
      "   11.165786 |   0)    <idle>-0    | * 30166.39 us |  } /* virtnet_poll [virtio_net] */\n"
      "   12.000001 |   1)  ringlab-118   |   4.269 us    |  udp_recvmsg();\n"
      "this line is not function_graph output\n";
  std::size_t skipped = 0;
  const auto trees = parse_function_graph(text, &skipped);
  EXPECT_EQ(skipped, 1u);
  ASSERT_EQ(trees.size(), 2u);
  const auto& t = trees[0];
  ASSERT_EQ(t.calls.size(), 4u);
  EXPECT_EQ(t.calls[0].function, "virtnet_poll");
  EXPECT_EQ(t.calls[0].module, "virtio_net");
  EXPECT_EQ(t.calls[0].t_ns, 11'135'631'000u);
  EXPECT_EQ(t.calls[0].duration_ns, 30'166'390u);
  EXPECT_EQ(t.calls[0].task, "<idle>-0");
  EXPECT_EQ(t.calls[1].function, "free_old_xmit_skbs");
  EXPECT_EQ(t.calls[1].duration_ns, 10'971u);
  EXPECT_EQ(t.calls[1].parent, 0);
  EXPECT_EQ(t.calls[2].function, "ip_rcv_finish_core.constprop.0");
  EXPECT_EQ(t.calls[2].duration_ns, 345'434u);
  EXPECT_EQ(t.calls[3].depth, 2);
  EXPECT_EQ(t.calls[3].parent, 2);
  EXPECT_EQ(t.calls[3].duration_ns, 2'500u);
  EXPECT_EQ(t.find("ip_rcv_finish_core"), 2);
  EXPECT_EQ(t.find("ip_rcv"), -1);
  EXPECT_EQ(trees[1].calls.size(), 1u);
  EXPECT_EQ(trees[1].root().cpu, 1);
  EXPECT_EQ(base_name("ip_route_input_rcu.part.0"), "ip_route_input_rcu");
}

// kprobe events inside the graph: given to the call of their function, whether the event line comes
// after the call's line (the last call of that name without a probe) or before it (the next one).
TEST(function_graph, kprobe_events_go_to_the_call_they_fired_at) {
  const std::string text =
      "   11.135631 |   0)    <idle>-0    |               |  virtnet_poll [virtio_net]() {\n"
      "   11.135700 |   0)    <idle>-0    |               |    /* rl_eth_type_trans: (eth_type_trans+0x4/0xe0) skb=0xffff888003b3d100 */\n"
      "   11.135701 |   0)    <idle>-0    |   1.0 us      |    eth_type_trans();\n"
      "   11.135800 |   0)    <idle>-0    |               |    ip_rcv_core.isra.0() {\n"
      "   11.135801 |   0)    <idle>-0    |               |      /* rl_ip_rcv_core: (ip_rcv_core.isra.0+0x0/0x340) skb=0xffff888003b3d100 */\n"
      "   11.135900 |   0)    <idle>-0    |   2.0 us      |    } /* ip_rcv_core.isra.0 */\n"
      "   11.136000 |   0)    <idle>-0    |               |    /* rl_udp4: (__udp4_lib_rcv+0x0/0xd00) */\n"
      "   11.137000 |   0)    <idle>-0    | + 20.0 us     |  } /* virtnet_poll [virtio_net] */\n";
  std::size_t skipped = 0;
  const auto trees = parse_function_graph(text, &skipped);
  EXPECT_EQ(skipped, 0u);
  ASSERT_EQ(trees.size(), 1u);
  const auto& c = trees[0].calls;
  ASSERT_EQ(c.size(), 3u);   // the event lines are no calls
  EXPECT_EQ(c[0].probe, "");
  EXPECT_EQ(c[1].function, "eth_type_trans");
  EXPECT_EQ(c[1].probe, "skb=0xffff888003b3d100");   // the event line came first
  EXPECT_EQ(c[2].function, "ip_rcv_core.isra.0");
  EXPECT_EQ(c[2].probe, "skb=0xffff888003b3d100");   // after the call's line, clone suffix and all
  EXPECT_EQ(c[2].duration_ns, 2'000u);
}

TEST(function_graph, bad_lines_are_counted_not_fatal) {
  std::size_t skipped = 0;
  const auto trees = parse_function_graph(
      "   x.1 |   0)  a-1  |  |  f();\n"                       // bad time
      "   1.000001 |  zz  |  |  f();\n"                        // no cpu
      "   1.000001 |   0)  a-1  | 3 ms |  f();\n"              // unknown unit
      "   1.000001 |   0)  a-1  |   |  } /* nothing open */\n"  // unmatched close
      "   1.000001 |   0)  a-1  |   |  f\n",                   // neither call nor close
      &skipped);
  EXPECT_TRUE(trees.empty());
  EXPECT_EQ(skipped, 5u);
}

TEST(function_graph, source_files_come_from_the_generated_table) {
  EXPECT_EQ(function_source("__udp4_lib_rcv"), "net/ipv4/udp.c");
  EXPECT_EQ(function_source("virtnet_poll"), "drivers/net/virtio_net.c");
  EXPECT_EQ(function_source("e1000_clean"), "drivers/net/ethernet/intel/e1000/e1000_main.c");
  EXPECT_EQ(function_source("ip_rcv_finish_core.constprop.0"), "net/ipv4/ip_input.c");
  EXPECT_EQ(function_source("sock_def_readable"), "net/core/sock.c");
  EXPECT_EQ(function_source("no_such_function_here"), "");
}

// The order the issue asks of a route: the driver's poll, the IP receive (6.1's NAPI GRO hands IP a
// list: ip_list_rcv, whose per-packet checks are ip_rcv_core, the same ones ip_rcv runs), UDP, recvmsg.
void expect_receive_order(const route_result& res, const std::string& poll) {
  ASSERT_TRUE(res.error.empty()) << res.error;
  const auto& r = res.route;
  EXPECT_EQ(res.driver_poll, poll);
  EXPECT_EQ(r.path, "guest_kernel");
  EXPECT_EQ(r.outcome(), "deliver");
  const std::size_t p = index_of(r, poll);
  ASSERT_EQ(p, 0u);
  std::size_t ip = std::min(index_of(r, "ip_rcv", p), index_of(r, "ip_list_rcv", p));
  ASSERT_NE(ip, std::string::npos);
  const std::size_t core = index_of(r, "ip_rcv_core", ip);
  const std::size_t udp = index_of(r, "udp_rcv", core);
  const std::size_t lib = index_of(r, "__udp4_lib_rcv", udp);
  const std::size_t q = index_of(r, "__udp_enqueue_schedule_skb", lib);
  const std::size_t rm = index_of(r, "udp_recvmsg", q);
  for (auto i : {core, udp, lib, q, rm}) ASSERT_NE(i, std::string::npos);
  EXPECT_LT(core, udp);
  EXPECT_EQ(r.steps[lib].file, "net/ipv4/udp.c");
  EXPECT_EQ(r.steps[ip].file, "net/ipv4/ip_input.c");
  EXPECT_EQ(r.steps.back().hop, "skb_consume_udp");
  for (std::size_t i = 1; i < r.steps.size(); ++i) EXPECT_GE(r.steps[i].t_ns, r.steps[i - 1].t_ns) << i;
  // Every step on the route has its source file (the table covers the recorded routes).
  for (const auto& s : r.steps) EXPECT_FALSE(s.file.empty()) << s.hop;
}

// A recorded `ringlab vm trace --raw` file: the trace text after its "#ringlab-ftrace" line parses
// without a skipped line.
route_result recorded_route(const std::string& name) {
  const std::string text = data(name);
  std::size_t skipped = 0;
  const auto trees = parse_function_graph(text.substr(text.find("#ringlab-ftrace")), &skipped);
  EXPECT_EQ(skipped, 0u);
  return build_function_route(trees);
}

TEST(function_graph, virtio_route_from_a_recorded_guest_trace) {
  const auto res = recorded_route("virtio-mcast.ftrace.txt");
  expect_receive_order(res, "virtnet_poll");
  EXPECT_EQ(res.traced_calls, 63u);
  EXPECT_EQ(res.route.steps.size(), 32u);
  EXPECT_NE(index_of(res.route, "napi_gro_receive"), std::string::npos);
  EXPECT_NE(index_of(res.route, "udp4_gro_receive"), std::string::npos);
}

// Recorded with the kprobes of tools/vm/guest/ringlab-trace-rx on (6 of them, each fetching the skb
// pointer): the same sk_buff from the driver's eth_type_trans to recvmsg's skb_consume_udp.
TEST(function_graph, kprobes_show_one_skb_from_the_driver_to_recvmsg) {
  const auto res = recorded_route("virtio-kprobes.ftrace.txt");
  expect_receive_order(res, "virtnet_poll");
  std::vector<std::string> probed;
  std::string skb;
  for (const auto& s : res.route.steps) {
    const auto at = s.detail.find("kprobe skb=");
    if (at == std::string::npos) continue;
    probed.push_back(s.hop);
    const std::string ptr = s.detail.substr(at + 11, 18);   // 0x + 16 hex digits
    if (skb.empty()) skb = ptr;
    EXPECT_EQ(ptr, skb) << s.hop;
  }
  EXPECT_EQ(skb, "0xff3333b1813ed200");
  const std::vector<std::string> want{"eth_type_trans", "ip_rcv_core", "__udp4_lib_rcv", "udp_queue_rcv_skb",
                                      "__udp_enqueue_schedule_skb", "skb_consume_udp"};
  EXPECT_EQ(probed, want);
  EXPECT_NE(res.route.steps.back().detail.find("len=46"), std::string::npos) << res.route.steps.back().detail;
}

TEST(function_graph, no_route_without_a_poll_reaching_udp) {
  const auto res = build_function_route(parse_function_graph(
      "   1.000001 |   0)  a-1  |               |  virtnet_poll [virtio_net]() {\n"
      "   1.000002 |   0)  a-1  |   1.000 us    |    receive_buf();\n"
      "   1.000003 |   0)  a-1  |   3.000 us    |  } /* virtnet_poll */\n"));
  EXPECT_EQ(res.error, "no driver poll (virtnet_poll, e1000_clean) in the trace reaches __udp4_lib_rcv");
  EXPECT_TRUE(res.route.steps.empty());
}

TEST(function_graph, e1000_route_from_a_recorded_guest_trace) {
  const auto res = recorded_route("e1000-mcast.ftrace.txt");
  expect_receive_order(res, "e1000_clean");
  EXPECT_EQ(res.route.steps[1].hop, "e1000_clean_rx_irq");
  EXPECT_EQ(res.route.steps[1].file, "drivers/net/ethernet/intel/e1000/e1000_main.c");
}
}  // namespace
