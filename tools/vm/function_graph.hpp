#pragma once
// The guest kernel's function-level route of one datagram, from ftrace's function_graph text (with
// options funcgraph-abstime, funcgraph-proc and funcgraph-tail, as tools/vm/guest/ringlab-trace-rx
// sets them) to the lab's route model (tools/trace_packet_flow/route.hpp), so that trace_packet_flow's
// writers render it: text timeline, Perfetto JSON, Graphviz.
//
// The host kernel has no function tracer; this text comes from a QEMU guest (`ringlab vm trace`).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tools/trace_packet_flow/route.hpp"

namespace ringlab::vm {

struct fgraph_call {
  std::string function;         // as ftrace prints it: "ip_rcv_finish_core.constprop.0"
  std::string module;           // "virtio_net" for "virtnet_poll [virtio_net]", "" for the kernel image
  std::uint64_t t_ns = 0;       // entry time (the abstime column, microsecond resolution)
  std::uint64_t duration_ns = 0;
  int depth = 0;                // 0: the graph function itself
  int parent = -1;              // index in the tree's calls, -1 for the root
  int cpu = 0;
  std::string task;             // "<idle>-0", "ringlab-118"
  std::string probe;            // a kprobe event's fetched arguments at this call ("skb=0xffff8880..."), or ""
};

// One call of a graph function (set_graph_function) with every traced call under it, in call order.
struct fgraph_tree {
  std::vector<fgraph_call> calls;   // calls[0] is the root
  const fgraph_call& root() const { return calls.front(); }
  // Index of the first call named `function` (suffixes like ".constprop.0" ignored), -1 if none.
  int find(std::string_view function) const;
};

// Parses the text of tracefs "trace" under function_graph. Comment lines, context-switch markers and
// blank lines are skipped; other lines that do not parse are counted in *skipped. A call whose closing
// line is missing (the buffer ended) keeps duration 0. A kprobe event that fired inside the graph
// (function_graph prints it as "/* EVENT: (FUNC+0x0/0x..) ARGS */") gives ARGS to the call of FUNC it
// fired at: the last such call without a probe yet, or, when the event line came first (both hooks
// sit on the function's entry, in no fixed order), the next call of FUNC.
std::vector<fgraph_tree> parse_function_graph(std::string_view text, std::size_t* skipped = nullptr);

// "ip_rcv_finish_core.constprop.0" -> "ip_rcv_finish_core" (GCC's clone suffixes).
std::string base_name(std::string_view function);

// Where a kernel function is defined, relative to the kernel tree ("net/ipv4/udp.c"): the built-in
// table tools/vm/kernel_function_sources.inc, generated from linux-source-6.1 by
// tools/vm/gen_function_sources.sh; "" when the function is not in it.
std::string function_source(std::string_view function);

struct route_result {
  trace_flow::route route;
  std::string driver_poll;       // the root the datagram arrived under: "virtnet_poll", "e1000_clean"
  std::size_t traced_calls = 0;  // every call in the chosen trees (the route keeps the spine)
  std::string error;             // non-empty: no route, and why
};

// The route of the first datagram in the trace: the first tree under a driver's poll that reaches
// __udp4_lib_rcv, then the first receive call after it that takes a datagram off the socket
// (udp_recvmsg consuming an skb). Steps are the calls on the spine: each landmark of the receive path
// (GRO, IP, routing, UDP, socket queue, recvmsg) and every call it sits under, in call order.
route_result build_function_route(const std::vector<fgraph_tree>& trees);

}  // namespace ringlab::vm
