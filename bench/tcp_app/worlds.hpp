#pragma once
// Where bench/tcp_app's application runs: two ends (client lane, server lane), each an io_context that
// ONE thread turns in alternation (drive()), so both ends' work, the stack's or the kernel's, is on that
// one thread and its CPU time is the whole path's. Four worlds, two pairs measured side by side:
//
//   kernel_loopback  asio::ip::tcp on 127.0.0.1 (root namespace's loopback)
//   bypass_sim       bypass::tcp on two sim_nics joined by sim's wire (no latency, no loss), one
//                    bypass_service each (busy_poll), on the real clock
//   kernel_veth      asio::ip::tcp across a veth pair: server in ns a, client in ns b
//   bypass_afxdp     the same veth pair set-up; the server is bypass::tcp on our AF_XDP port on the
//                    ns-a end (copy mode, the XDP program sends our TCP port and ARP to the socket; the
//                    end has no kernel address: our stack owns it), the client is the kernel's TCP
//
// Turning an end: a kernel io_context's poll() (one epoll_wait(0), then every ready handler); a bypass
// lane's io_context until its poll handler ran once (ingest, interface::poll, the completions of that
// poll inline, their handlers' new operations). Neither end ever sleeps: both are busy-polled.
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/tcp_acceptor.hpp"
#include "asio_bypass/tcp_socket.hpp"
#include "bench/tcp_app/app.hpp"
#include "sim_nic/sim_nic.hpp"
#include "tools/netns/netns.hpp"
#include "tools/netns/preconditions.hpp"
#ifdef RINGLAB_TCP_APP_AFXDP
#include "backends/afxdp/afxdp_port.hpp"
#endif

namespace ringlab::bench::tcp_app {

class lane {
 public:
  lane() : ctx(bypass::concurrency_hint(bypass::lane_threading::one_thread)), work(asio::make_work_guard(ctx)) {}
  asio::io_context ctx;
  // poll() stops an io_context that runs out of work; the next operation would then never run.
  asio::executor_work_guard<asio::io_context::executor_type> work;
  bypass::bypass_service* svc = nullptr;   // null: a kernel lane

  // The stack on `p`, busy-polled, on the real clock; `ingest`: sim_nic's step (empty on a real port).
  std::error_code attach(port::any_port& p, wire::mac_addr mac, wire::ipv4_addr ip,
                         std::function<std::size_t(stack::time_ns)> ingest) {
    svc = &asio::use_service<bypass::bypass_service>(ctx);
    bypass::lane_config c;
    c.iface.mac = mac;
    c.iface.addr = ip;
    c.iface.prefix_len = 24;
    c.drive = bypass::drive_mode::busy_poll;
    c.ingest = std::move(ingest);
    if (auto ec = svc->attach(p, c)) return ec;
    svc->start();
    return {};
  }
  void turn() {
    if (!svc) {
      ctx.poll();
      return;
    }
    // Posted completions run first (FIFO), then the poll handler, which re-posts itself.
    const std::uint64_t polls = svc->counters().polls;
    for (int i = 0; i < 64 && svc->counters().polls == polls; ++i)
      if (ctx.poll_one() == 0) break;
  }
};

// Turns client and server until done() holds or the app failed; a run that makes no progress for 20 s
// of wall time fails (a lost segment would be recovered long before: RTO min 200 ms).
template <class Done>
bool drive(lane& a, lane& b, app_status& st, Done done) {
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint32_t i = 1;; ++i) {
    if (done()) return true;
    if (st.failed) return false;
    a.turn();
    b.turn();
    if ((i & 4095) == 0 && std::chrono::steady_clock::now() - t0 > std::chrono::seconds(20)) {
      st.fail("no progress for 20 s");
      return false;
    }
  }
}

using kernel_socket = asio::ip::tcp::socket;
using kernel_acceptor = asio::ip::tcp::acceptor;

// ---- kernel TCP over loopback ----
struct kernel_loopback_world {
  using client_socket = kernel_socket;
  using server_socket = kernel_socket;
  using acceptor = kernel_acceptor;
  static constexpr const char* name = "kernel_loopback";
  lane client, server;
  std::string why;   // non-empty: cannot run here
  asio::ip::tcp::endpoint listen_at() const { return {asio::ip::make_address_v4("127.0.0.1"), 0}; }
  void enter_server(std::optional<netlab::enter>&) {}
  void enter_client(std::optional<netlab::enter>&) {}
  std::string label() const { return "kernel TCP, 127.0.0.1"; }
};

// ---- bypass TCP over two sim_nics on sim's wire ----
inline sim::sim_nic_config sim_host(const char* name, bool csum_offload) {
  sim::sim_nic_config c;
  c.name = name;
  c.tx_csum_offload = csum_offload;
  c.ring_size = 2048;
  c.pool = {.frames = 8192, .frame_size = 2048, .headroom = 256};
  return c;
}

// CsumOffload: sim's TX checksum offload on both NICs (sim_nic_config::tx_csum_offload): TCP leaves
// its checksums partial and the wire hands them to the peer as verified, as Linux's loopback and veth
// do (`bypass_sim`, the pair of kernel_loopback, which sums nothing either); off, our stack computes
// and verifies every checksum in software (`bypass_sim_sw`).
template <bool CsumOffload>
struct bypass_sim_world_of {
  using client_socket = bypass::tcp::socket;
  using server_socket = bypass::tcp::socket;
  using acceptor = bypass::tcp::acceptor;
  static constexpr const char* name = CsumOffload ? "bypass_sim" : "bypass_sim_sw";
  static constexpr wire::ipv4_addr client_ip{10, 0, 0, 1}, server_ip{10, 0, 0, 2};
  sim::sim_nic nic_c{sim_host("client", CsumOffload)}, nic_s{sim_host("server", CsumOffload)};
  sim::wire link{nic_c, nic_s, {.latency_ns = 0}, {.latency_ns = 0}};
  lane client, server;   // after the NICs: their stacks go first
  std::string why;
  bypass_sim_world_of() {
    std::error_code ec = client.attach(nic_c.queue(0), wire::mac_addr{0x02, 0, 0, 0, 0, 1}, client_ip,
                                       [this](stack::time_ns t) { return nic_c.advance_to(t, 64); });
    if (!ec)
      ec = server.attach(nic_s.queue(0), wire::mac_addr{0x02, 0, 0, 0, 0, 2}, server_ip,
                         [this](stack::time_ns t) { return nic_s.advance_to(t, 64); });
    if (ec) why = "attach: " + ec.message();
  }
  asio::ip::tcp::endpoint listen_at() const { return {asio::ip::address_v4(server_ip.value), 5001}; }
  void enter_server(std::optional<netlab::enter>&) {}
  void enter_client(std::optional<netlab::enter>&) {}
  std::string label() const { return "bypass TCP, two sim_nics on sim's wire"; }
  // frames: both NICs' sent frames; train_frames: of those, built from a segment train's header
  // (ip_output::send_train); retrans: both stacks' retransmitted segments.
  std::map<std::string, double> diag() const {
    return {{"frames", double(nic_c.counters().total.opackets + nic_s.counters().total.opackets)},
            {"train_frames", double(client.svc->iface().counters().tx_train_frames + server.svc->iface().counters().tx_train_frames)},
            {"retrans", double(client.svc->iface().tcp_counters().retrans_segs + server.svc->iface().tcp_counters().retrans_segs)}};
  }
};
using bypass_sim_world = bypass_sim_world_of<true>;
using bypass_sim_sw_world = bypass_sim_world_of<false>;

// ---- a veth pair between two namespaces, made once per process (the DPDK-free part of veth_rx's) ----
// ns a holds the server, ns b the client (kernel TCP in both worlds). The client end computes its
// checksums (tx-checksumming off): a veth hands CHECKSUM_PARTIAL frames on, which XDP would see
// unfinished; the kernel world gets the same setting, so the client's work is the same in both rows.
struct veth_net {
  static constexpr const char* server_ip = "10.88.0.1";
  static constexpr const char* client_ip = "10.88.0.2";
  explicit veth_net(const char* tag, bool server_kernel_address) {
    try {
      netlab::reap_stale(std::string("rl") + tag + "a");
      netlab::reap_stale(std::string("rl") + tag + "b");
      a.emplace(std::string("rl") + tag + "a");
      b.emplace(std::string("rl") + tag + "b");
      link.emplace(*a, server_kernel_address ? std::string(server_ip) + "/24" : std::string(), *b,
                   std::string(client_ip) + "/24");
      a->disable_ipv6();
      b->disable_ipv6();
      if (b->exec({"ethtool", "-K", link->b_name(), "tx-checksumming", "off"}).exit_code != 0)
        error = "ethtool -K " + link->b_name() + " tx-checksumming off failed (package ethtool)";
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  std::optional<netlab::netns> a, b;
  std::optional<netlab::veth_pair> link;
  std::string error;
};

// The calling thread's namespace's Tcp RetransSegs (/proc/thread-self: the thread's namespace, where
// /proc/net would show the process's): the kernel client's retransmissions, read while in ns b.
inline double thread_ns_tcp_retrans() {
  std::FILE* f = std::fopen("/proc/thread-self/net/snmp", "r");
  if (!f) return 0;
  char names[2048], values[2048];
  double v = 0;
  while (std::fgets(names, sizeof names, f) && std::fgets(values, sizeof values, f)) {
    if (std::strncmp(names, "Tcp:", 4) != 0) continue;
    int col = -1, c = 0;
    char* save = nullptr;
    for (char* t = strtok_r(names, " \n", &save); t; t = strtok_r(nullptr, " \n", &save), ++c)
      if (std::strcmp(t, "RetransSegs") == 0) col = c;
    c = 0;
    for (char* t = strtok_r(values, " \n", &save); t; t = strtok_r(nullptr, " \n", &save), ++c)
      if (c == col) v = std::strtod(t, nullptr);
    break;
  }
  std::fclose(f);
  return v;
}

inline std::string veth_skip_reason(const veth_net& n) {
  if (auto why = netlab::netns_unavailable(); !why.empty()) return why;
  return n.error;
}

struct kernel_veth_world {
  using client_socket = kernel_socket;
  using server_socket = kernel_socket;
  using acceptor = kernel_acceptor;
  static constexpr const char* name = "kernel_veth";
  static veth_net& net() {
    static veth_net n("tk", true);
    return n;
  }
  lane client, server;
  std::string why = veth_skip_reason(net());
  asio::ip::tcp::endpoint listen_at() const { return {asio::ip::make_address_v4(veth_net::server_ip), 5201}; }
  void enter_server(std::optional<netlab::enter>& e) { e.emplace(*net().a); }
  void enter_client(std::optional<netlab::enter>& e) { e.emplace(*net().b); }
  std::string label() const { return "kernel TCP, veth " + net().link->a_name(); }
  // What explains a slow row; read in ns b (the client's).
  std::map<std::string, double> diag() const { return {{"client_retrans", thread_ns_tcp_retrans()}}; }
};

#ifdef RINGLAB_TCP_APP_AFXDP
struct bypass_afxdp_world {
  using client_socket = kernel_socket;
  using server_socket = bypass::tcp::socket;
  using acceptor = bypass::tcp::acceptor;
  static constexpr const char* name = "bypass_afxdp";
  static veth_net& net() {
    static veth_net n("tx", false);
    return n;
  }
  // The port detaches its XDP program by ifindex through netlink in the calling thread's namespace:
  // it is closed back in ns a (the thread runs the client in ns b).
  struct port_in_ns_a {
    std::unique_ptr<backends::afxdp::port> p;
    ~port_in_ns_a() {
      if (!p) return;
      netlab::enter in(*net().a);
      p.reset();
    }
  } port_;   // before the lanes: the server's stack goes first
  lane client, server;
  std::string why;
  bypass_afxdp_world() {
    // The probe first (it attaches to a throwaway veth of its own), then this world's pair.
    why = netlab::afxdp_unavailable();
    if (why.empty()) why = veth_skip_reason(net());
    if (!why.empty()) return;
    const auto mac = netlab::parse_mac(net().link->a_mac());
    if (!mac) {
      why = "cannot read the MAC of " + net().link->a_name();
      return;
    }
    ::setenv("LIBXDP_SKIP_DISPATCHER", "1", 0);   // one XDP program per interface (docs/machine-findings.md)
    netlab::enter in(*net().a);                   // the socket binds to the ns-a end
    backends::afxdp::config c;
    c.ifname = net().link->a_name();
    c.tcp_ports = {5201};
    c.arp_to_xsk = true;   // our stack owns 10.88.0.1 and answers ARP for it
    c.bind = backends::afxdp::bind_mode::copy;
    auto p = backends::afxdp::port::open(c);
    if (!p) {
      why = p.error().reason;
      return;
    }
    port_.p = std::move(p).value();
    wire::mac_addr m;
    m.octets = *mac;
    if (auto ec = server.attach(*port_.p, m, wire::ipv4_addr{10, 88, 0, 1}, {})) why = "attach: " + ec.message();
  }
  asio::ip::tcp::endpoint listen_at() const { return {asio::ip::make_address_v4(veth_net::server_ip), 5201}; }
  void enter_server(std::optional<netlab::enter>&) {}   // the port is in ns a already
  void enter_client(std::optional<netlab::enter>& e) { e.emplace(*net().b); }
  std::string label() const { return port_.p ? port_.p->caps().name : std::string("afxdp"); }
  std::map<std::string, double> diag() const {
    std::map<std::string, double> d{{"client_retrans", thread_ns_tcp_retrans()}};
    if (!port_.p) return d;
    backends::afxdp::xdp_stats x;
    port_.p->statistics(x);
    d["xsk_rx_dropped"] = double(x.rx_dropped + x.rx_ring_full);
    d["xsk_fill_empty"] = double(x.rx_fill_ring_empty_descs);
    d["xsk_tx_ring_full"] = double(port_.p->stats().tx_ring_full);
    d["server_retrans"] = double(server.svc->iface().tcp_counters().retrans_segs);
    return d;
  }
};
#else
struct bypass_afxdp_world {   // the rows exist, and say why they are not measured
  using client_socket = kernel_socket;
  using server_socket = bypass::tcp::socket;
  using acceptor = bypass::tcp::acceptor;
  static constexpr const char* name = "bypass_afxdp";
  lane client, server;
  std::string why = "built without the AF_XDP backend (libxdp-dev, libbpf-dev, clang)";
  asio::ip::tcp::endpoint listen_at() const { return {}; }
  void enter_server(std::optional<netlab::enter>&) {}
  void enter_client(std::optional<netlab::enter>&) {}
  std::string label() const { return "afxdp"; }
};
#endif

}  // namespace ringlab::bench::tcp_app
