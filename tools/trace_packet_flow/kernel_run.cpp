#include "tools/trace_packet_flow/kernel_run.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <set>
#include <stdexcept>
#include <thread>

#include "stack/wire/ipv4_addr.hpp"
#include "tools/trace_packet_flow/kernel_trace.hpp"
#include "tools/trace_packet_flow/netns_pair.hpp"
#include "tools/trace_packet_flow/tracefs.hpp"
#include "trace/clock.hpp"

namespace ringlab::trace_flow {

const std::vector<std::string>& kernel_path_tracepoints() {
  static const std::vector<std::string> v = {
      "net:netif_rx", "net:netif_receive_skb", "skb:kfree_skb", "skb:consume_skb", "skb:skb_copy_datagram_iovec",
      "sock:sk_data_ready", "sock:sock_rcvqueue_full", "sock:sock_exceed_buf_limit", "sock:sock_recv_length",
      "udp:udp_fail_queue_rcv_skb", "fib:fib_table_lookup", "icmp:icmp_send", "napi:napi_poll",
      "syscalls:sys_enter_recvfrom", "syscalls:sys_exit_recvfrom"};
  return v;
}

namespace {

struct fd_guard {
  int fd = -1;
  ~fd_guard() { if (fd >= 0) ::close(fd); }
};

sockaddr_in addr_of(std::uint32_t ip, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(ip);
  a.sin_port = htons(port);
  return a;
}

// TSC ticks per nanosecond against CLOCK_MONOTONIC over ~20 ms (the x86-tsc trace clock is the raw TSC).
double ns_per_tsc_tick() {
  const std::uint64_t a = trace::monotonic_ns();
  const unsigned long long t0 = __rdtsc();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const unsigned long long t1 = __rdtsc();
  const double ns = static_cast<double>(trace::monotonic_ns() - a);
  return ns / static_cast<double>(t1 - t0);
}

}  // namespace

kernel_run_result run_kernel_path(const std::vector<kernel_datagram>& datagrams, const kernel_run_options& o) {
  kernel_run_result res;
  tracefs_instance inst;
  netns_pair pair;
  res.rx_dev = pair.dev_b();
  res.ip_a = pair.ip_a();
  res.ip_b = pair.ip_b();

  // Clock: raw TSC gives nanosecond resolution in the text output (the ns clocks print microseconds).
  if (inst.set_clock("x86-tsc")) {
    res.clock = "x86-tsc";
    res.ns_per_tick = ns_per_tsc_tick();
  } else {
    inst.set_clock("mono");
    res.clock = "mono";
    res.ns_per_tick = 1000.0;
  }

  // Receiver sockets in namespace b.
  std::set<std::uint16_t> ports(o.listen_ports.begin(), o.listen_ports.end());
  if (ports.empty() && !o.listen_none)
    for (const auto& d : datagrams) ports.insert(d.dst_port);
  std::vector<fd_guard> rx(ports.size());
  std::vector<std::uint16_t> rx_port;
  std::size_t i = 0;
  for (auto port : ports) {
    rx[i].fd = netns_pair::socket_in(pair.ns_b(), AF_INET, SOCK_DGRAM, 0);
    if (rx[i].fd < 0) throw std::runtime_error(std::string("receiver socket: ") + std::strerror(errno));
    const int big = 4 << 20;
    ::setsockopt(rx[i].fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    auto a = addr_of(pair.ip_b(), port);
    if (::bind(rx[i].fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("bind " + std::to_string(port) + ": " + std::strerror(errno));
    rx_port.push_back(port);
    ++i;
  }
  fd_guard tx;
  tx.fd = netns_pair::socket_in(pair.ns_a(), AF_INET, SOCK_DGRAM, 0);
  if (tx.fd < 0) throw std::runtime_error(std::string("sender socket: ") + std::strerror(errno));
  {
    auto a = addr_of(pair.ip_a(), 0);
    if (::bind(tx.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error(std::string("bind sender: ") + std::strerror(errno));
  }

  // The receiver thread: the user's receive calls, each followed by a marker naming port and length.
  std::atomic<int> tid{0};
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> received{0};
  std::thread receiver([&] {
    tid.store(static_cast<int>(::syscall(SYS_gettid)), std::memory_order_release);
    std::vector<pollfd> pf;
    for (auto& g : rx) pf.push_back({g.fd, POLLIN, 0});
    std::vector<std::uint8_t> buf(65536);
    while (!stop.load(std::memory_order_acquire)) {
      if (pf.empty()) { std::this_thread::sleep_for(std::chrono::milliseconds(5)); continue; }
      const int n = ::poll(pf.data(), pf.size(), 20);
      if (n <= 0) continue;
      for (std::size_t k = 0; k < pf.size(); ++k) {
        if (!(pf[k].revents & POLLIN)) continue;
        sockaddr_in from{};
        socklen_t fl = sizeof from;
        const ssize_t got = ::recvfrom(pf[k].fd, buf.data(), buf.size(), MSG_DONTWAIT,
                                       reinterpret_cast<sockaddr*>(&from), &fl);
        if (got < 0) continue;
        inst.marker("ringlab recv port=" + std::to_string(rx_port[k]) + " len=" + std::to_string(got));
        received.fetch_add(1, std::memory_order_relaxed);
      }
    }
  });
  while (tid.load(std::memory_order_acquire) == 0) std::this_thread::yield();
  res.receiver_tid = tid.load();

  for (const auto& ev : kernel_path_tracepoints()) {
    if (inst.enable(ev)) res.enabled.push_back(ev);
    else res.missing.push_back(ev);
  }
  // Only the receiver thread's receive calls: the filter lives in this instance only.
  const std::string only_receiver = "common_pid == " + std::to_string(res.receiver_tid);
  inst.set_filter("syscalls:sys_enter_recvfrom", only_receiver);
  inst.set_filter("syscalls:sys_exit_recvfrom", only_receiver);
  inst.set_filter("sock:sock_recv_length", only_receiver);
  inst.tracing_on(true);

  for (const auto& d : datagrams) {
    auto to = addr_of(pair.ip_b(), d.dst_port);
    inst.marker("ringlab send packet=" + std::to_string(d.packet_id) + " dport=" + std::to_string(d.dst_port) +
                " len=" + std::to_string(d.payload.size() + 28));
    if (::sendto(tx.fd, d.payload.data(), d.payload.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) {
      const int e = errno;
      stop.store(true, std::memory_order_release);
      receiver.join();
      throw std::runtime_error("sendto packet " + std::to_string(d.packet_id) + ": " + std::strerror(e));
    }
    std::this_thread::sleep_for(o.gap);
  }
  std::this_thread::sleep_for(o.settle);
  stop.store(true, std::memory_order_release);
  receiver.join();
  inst.tracing_on(false);
  res.received = received.load();
  res.enabled = inst.enabled();
  res.raw_trace = inst.read_trace();

  kernel_route_options ko;
  ko.rx_dev = res.rx_dev;
  ko.receiver_tid = res.receiver_tid;
  ko.ns_per_tick = res.ns_per_tick;
  res.routes = build_kernel_routes(parse_trace_text(res.raw_trace), ko);
  for (auto& r : res.routes) {
    r.clock = "real: tracefs clock " + res.clock + (res.clock == "x86-tsc" ? " (TSC ticks scaled to ns)" : "");
    // The header names the packet as the pcap holds it; the kernel path sent its payload as a unicast
    // datagram between the veth's two addresses (whatever the pcap's addresses were, a multicast group
    // included), and says so, so the route below is read as what it is.
    for (const auto& d : datagrams)
      if (d.packet_id == r.packet_id)
        r.summary = d.summary + " (kernel path: replayed as unicast " + wire::ipv4_addr{pair.ip_a()}.to_string() + " -> " +
                    wire::ipv4_addr{pair.ip_b()}.to_string() + ":" + std::to_string(d.dst_port) + ")";
  }
  return res;
}

}  // namespace ringlab::trace_flow
