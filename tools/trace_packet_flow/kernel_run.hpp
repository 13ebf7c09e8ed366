#pragma once
// Runs the kernel path: sends datagrams from a kernel UDP socket in one namespace to kernel UDP
// sockets in the other over a veth pair, with tracepoints on in a private tracefs instance, and
// builds each datagram's route. Everything it creates is removed at the end, also on signals.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tools/trace_packet_flow/route.hpp"

namespace ringlab::trace_flow {

struct kernel_datagram {
  std::uint64_t packet_id = 0;   // 1-based position in the pcap
  std::uint16_t dst_port = 0;
  std::vector<std::uint8_t> payload;
  std::string summary;
};

struct kernel_run_options {
  std::vector<std::uint16_t> listen_ports;   // receiver sockets; empty: every destination port sent to
  bool listen_none = false;                  // no receiver at all (every datagram finds no socket)
  std::chrono::microseconds gap{2000};       // between datagrams, so routes do not interleave
  std::chrono::milliseconds settle{300};     // after the last send, before tracing stops
};

struct kernel_run_result {
  std::vector<route> routes;
  std::string raw_trace;                     // the instance's trace text
  std::vector<std::string> enabled;          // tracepoints turned on
  std::vector<std::string> missing;          // wanted but absent on this kernel
  std::string clock;                         // x86-tsc or mono
  double ns_per_tick = 1.0;
  std::string rx_dev;
  std::uint32_t ip_a = 0, ip_b = 0;         // the veth pair's addresses (host order): sender, receiver
  int receiver_tid = 0;
  std::size_t received = 0;
};

// The tracepoints the kernel path turns on when this kernel has them.
const std::vector<std::string>& kernel_path_tracepoints();

// Throws std::runtime_error (tracefs or namespaces unavailable, a socket call failed).
kernel_run_result run_kernel_path(const std::vector<kernel_datagram>& datagrams, const kernel_run_options& o);

}  // namespace ringlab::trace_flow
