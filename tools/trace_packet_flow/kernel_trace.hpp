#pragma once
// The kernel path's model: tracefs text records, followed by skbaddr from the receive device's
// netif_rx / netif_receive_skb to the socket (sock:sk_data_ready) and the receiver's recvfrom, or to
// skb:kfree_skb with the kernel's drop reason. Events without an skbaddr (fib lookups, sk_data_ready,
// udp_fail_queue_rcv_skb) belong to the skb that the same CPU is processing in softirq context: a
// packet's receive work runs to completion on one CPU, so "the last skb this CPU received, not yet
// freed" is that packet (DESIGN: correlate by skbaddr; see docs/kernel-tracepoints.md).
//
// The tool's sender and receiver write lines to the instance's trace_marker:
//   "ringlab send packet=N dport=P len=L"  before each sendto (L: IPv4 total length)
//   "ringlab recv port=P len=L"            after each recvfrom returns (L: payload bytes)
// so a route is tied to its pcap packet, and a receive call to the datagram it returned (a UDP
// socket's queue is FIFO).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/trace_packet_flow/route.hpp"

namespace ringlab::trace_flow {

struct ktrace_record {
  std::string task;
  int pid = 0;
  int cpu = 0;
  std::string flags;         // irqs-off / need-resched / hardirq-softirq / preempt / migrate
  std::uint64_t ts = 0;      // raw: clock counts (x86-tsc) or microseconds (other clocks)
  std::string event;         // "netif_receive_skb", "tracing_mark_write", "sys_recvfrom", "sys_recvfrom_exit"
  std::string body;          // the rest of the line
  bool softirq() const noexcept { return flags.size() >= 3 && (flags[2] == 's' || flags[2] == 'H'); }
};

// Parses the text of a tracefs "trace" file; comment lines are skipped, unparsable lines counted.
std::vector<ktrace_record> parse_trace_text(std::string_view text, std::size_t* skipped = nullptr);

// "dev=veth0 skbaddr=00000000abcd len=41" -> value of key, or "".
std::string field(std::string_view body, std::string_view key);

// SKB_DROP_REASON numbers -> names, read from skb:kfree_skb's format file ("print fmt" __print_symbolic).
std::map<int, std::string> parse_drop_reasons(std::string_view format_text);

struct tracepoint_source_entry {
  std::string file, function;
};
// Where the kernel emits this tracepoint ("net:netif_rx"): from linux-source-6.1, plus a few newer
// tracepoints that 6.1 lacks (marked "(6.3+)" in the file column's note).
std::vector<tracepoint_source_entry> tracepoint_sources(std::string_view sys_event);
// Where a kernel function is defined ("__udp4_lib_rcv" -> "net/ipv4/udp.c"), "" when not in the table.
std::string function_file(std::string_view function);
// Every table row, for docs and --list-tracepoints.
std::vector<std::pair<std::string, tracepoint_source_entry>> all_tracepoint_sources();

struct kernel_route_options {
  std::string rx_dev;                    // the receiver's veth: routes start there
  int receiver_tid = 0;                  // the thread that calls recvfrom
  double ns_per_tick = 1.0;              // x86-tsc: 1e9 / tsc_hz; microsecond clocks: 1000
};

// Builds one route per datagram the sender announced with a "ringlab send" marker.
std::vector<route> build_kernel_routes(const std::vector<ktrace_record>& records, const kernel_route_options& o);

// Maps a kernel drop reason to the lab's nearest drop_reason ("NO_SOCKET" -> "no_socket"), "" if none.
std::string lab_equivalent(std::string_view kernel_reason);

}  // namespace ringlab::trace_flow
