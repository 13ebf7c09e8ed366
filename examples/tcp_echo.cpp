// An app of your own on ringlab: a TCP echo over the backend chosen at run time.
//   tcp_echo --backend sim [--bytes N]                          server and client in this process, on two
//                                                               simulated hosts joined by sim_nic's wire
//   tcp_echo --backend kernel --role server --port 7007         Linux TCP
//   tcp_echo --backend kernel --role client --connect 127.0.0.1 --port 7007 [--bytes N]
//   tcp_echo --backend afxdp --role server --iface veth0 --port 7007 [--addr 10.0.0.2/24] [--mac MAC]
//                                                               (root, XDP; falls back to kernel; the stack
//                                                               answers ARP for --addr with --mac: give the
//                                                               interface's own MAC)
// The client sends N bytes, half-closes, reads the echo back and prints "echoed N bytes: exact".
// The echo and the client are ONE template each over the socket type: asio::ip::tcp::socket on the
// kernel, ringlab::bypass::tcp::socket on ringlab's user-space stack (the same Asio shape).
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>
#include <asio/write.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "asio_bypass/asio_service.hpp"
#include "asio_bypass/backend.hpp"
#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/kernel_context.hpp"
#include "asio_bypass/tcp_acceptor.hpp"
#include "asio_bypass/tcp_socket.hpp"
#include "sim_nic/sim_nic.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"

namespace {
using namespace ringlab;

struct options {
  std::string backend = "kernel", role = "client", connect = "127.0.0.1", iface, vdev, addr = "10.0.0.2/24", mac = "02:00:00:00:00:02";
  unsigned short port = 7007;
  std::size_t bytes = 100000;
};

constexpr const char* usage_text =
    "usage: tcp_echo --backend kernel|sim|afxdp|dpdk [--role server|client] [--port N] [--connect ADDR]\n"
    "                [--bytes N] [--iface NAME] [--vdev SPEC] [--addr IP/LEN] [--mac MAC]\n"
    "  sim: server and client in this process over sim_nic; kernel: Linux TCP; afxdp/dpdk: the server on\n"
    "  the device's queue 0 at --addr (default 10.0.0.2/24) with --mac (default 02:00:00:00:00:02:\n  give the interface's own, `ip link show IFACE`, or set the interface's MAC to it).\n"
    "  The client sends --bytes, half-closes and prints \"echoed N bytes: exact\" (exit 0) or DIFFERENT (1).\n";

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr, "tcp_echo: %s\n%s", why.c_str(), usage_text);
  std::exit(2);
}

unsigned long number(std::string_view k, const std::string& v, unsigned long max) {
  char* end = nullptr;
  errno = 0;
  const unsigned long n = std::strtoul(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || n > max || v[0] == '-')
    usage("'" + std::string(k) + "' wants a number up to " + std::to_string(max) + ", not '" + v + "'");
  return n;
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view k = argv[i];
    if (k == "--help" || k == "-h") {
      std::fputs(usage_text, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) usage("'" + std::string(k) + "' needs a value");
    const std::string v = argv[++i];
    if (k == "--backend") o.backend = v;
    else if (k == "--role") o.role = v;
    else if (k == "--port") o.port = static_cast<unsigned short>(number(k, v, 65535));
    else if (k == "--connect") o.connect = v;
    else if (k == "--bytes") o.bytes = number(k, v, 1UL << 34);
    else if (k == "--iface") o.iface = v;
    else if (k == "--vdev") o.vdev = v;
    else if (k == "--addr") o.addr = v;
    else if (k == "--mac") o.mac = v;
    else usage("unknown option '" + std::string(k) + "'");
  }
  if (o.role != "server" && o.role != "client") usage("--role is server or client, not '" + o.role + "'");
  if (o.backend != "kernel" && o.backend != "sim" && o.backend != "afxdp" && o.backend != "dpdk")
    usage("unknown backend '" + o.backend + "'");
  if (o.backend == "afxdp" && o.iface.empty()) usage("--backend afxdp needs --iface");
  if (o.backend == "dpdk" && o.vdev.empty()) usage("--backend dpdk needs --vdev");
  return o;
}

// The server side of one connection: read, write back what was read, until the peer's FIN.
template <class Socket>
struct echo_session {
  explicit echo_session(Socket s) : sock(std::move(s)) {}
  Socket sock;
  char buf[16384];
  void start(std::function<void()> done) {
    sock.async_read_some(asio::buffer(buf), [this, done](const std::error_code& ec, std::size_t n) {
      if (ec) {   // eof: the client half-closed; half-close in turn
        std::error_code ignored;
        sock.shutdown(asio::socket_base::shutdown_send, ignored);
        return done();
      }
      asio::async_write(sock, asio::buffer(buf, n), [this, done](const std::error_code& wec, std::size_t) {
        if (wec) return done();
        start(done);
      });
    });
  }
};

// Accepts one connection at a time and echoes it (the move form of async_accept: same on both types).
template <class Acceptor, class Socket>
struct echo_server {
  Acceptor& acc;
  std::vector<std::unique_ptr<echo_session<Socket>>> sessions;
  void start() {
    acc.async_accept([this](const std::error_code& ec, auto peer) {
      if (ec) return;
      sessions.push_back(std::make_unique<echo_session<Socket>>(Socket(std::move(peer))));
      sessions.back()->start([] {});
      start();
    });
  }
};

// Sends `bytes` bytes, half-closes, reads the echo until the server's FIN, compares.
template <class Socket>
struct echo_client {
  Socket sock;
  std::vector<char> out, in;
  char buf[16384];
  std::function<void(bool)> done;
  echo_client(asio::io_context& ctx, std::size_t bytes, std::function<void(bool)> d) : sock(ctx), done(std::move(d)) {
    for (std::size_t i = 0; i < bytes; ++i) out.push_back(static_cast<char>('a' + i % 26));
  }
  void start(const asio::ip::tcp::endpoint& server) {
    sock.async_connect(server, [this](const std::error_code& ec) {
      if (ec) {
        std::fprintf(stderr, "tcp_echo: connect: %s\n", ec.message().c_str());
        return done(false);
      }
      asio::async_write(sock, asio::buffer(out), [this](const std::error_code& wec, std::size_t) {
        std::error_code ignored;
        if (!wec) sock.shutdown(asio::socket_base::shutdown_send, ignored);
      });
      read();
    });
  }
  void read() {
    sock.async_read_some(asio::buffer(buf), [this](const std::error_code& ec, std::size_t n) {
      in.insert(in.end(), buf, buf + n);
      if (!ec) return read();
      const bool exact = ec == asio::error::eof && in == out;
      std::printf("echoed %zu bytes: %s\n", in.size(), exact ? "exact" : "DIFFERENT");
      done(exact);
    });
  }
};

// One simulated host: a sim_nic and the user-space stack on its one queue, on its own io_context.
struct sim_host {
  sim::sim_nic nic;
  asio::io_context ctx{1};
  bypass::bypass_service& svc;
  sim_host(const char* name, const char* mac, const char* ip)
      : nic(sim::sim_nic_config{.name = name}), svc(asio::use_service<bypass::bypass_service>(ctx)) {
    bypass::lane_config c;
    c.iface.mac = *wire::mac_addr::parse(mac);
    c.iface.addr = *wire::ipv4_addr::parse(ip);
    c.iface.prefix_len = 24;
    c.drive = bypass::drive_mode::manual;   // driven below on the virtual clock
    c.clock = [this] { return nic.now(); };
    if (auto ec = svc.attach(nic.queue(0), c)) usage("attach: " + ec.message());
  }
};

// Server on 10.0.0.2, client on 10.0.0.1, a 100 us wire between: both stacks polled at each next event
// (a frame due on a NIC, a stack timer), then their handlers run.
int run_sim(const options& o) {
  auto a = std::make_unique<sim_host>("a", "02:00:00:00:00:01", "10.0.0.1");
  auto b = std::make_unique<sim_host>("b", "02:00:00:00:00:02", "10.0.0.2");
  sim::wire w(a->nic, b->nic, {.latency_ns = 100000}, {.latency_ns = 100000});
  const asio::ip::tcp::endpoint at(asio::ip::make_address_v4("10.0.0.2"), o.port);
  bypass::tcp::acceptor acc(b->ctx, at);
  echo_server<bypass::tcp::acceptor, bypass::tcp::socket> server{acc, {}};
  server.start();
  bool over = false, exact = false;
  echo_client<bypass::tcp::socket> client(a->ctx, o.bytes, [&](bool ok) { over = true, exact = ok; });
  client.start(at);
  std::uint64_t now = 0;
  for (int idle = 0; !over && idle < 1000;) {
    std::uint64_t t = stack::earliest(a->svc.iface().next_deadline(), b->svc.iface().next_deadline());
    for (auto* h : {a.get(), b.get()})
      if (auto d = h->nic.next_due()) t = std::min<std::uint64_t>(t, *d);
    now = t == stack::never ? now : std::max(now, t);
    a->nic.advance_to(now);
    b->nic.advance_to(now);
    a->svc.poll_once();
    b->svc.poll_once();
    a->ctx.restart();
    b->ctx.restart();
    idle = a->ctx.poll() + b->ctx.poll() == 0 && t == stack::never ? idle + 1 : 0;
  }
  return exact ? 0 : 1;
}

int run_kernel(const options& o, bypass::AsioService& svc, asio::io_context& ctx) {
  if (o.role == "server") {
    asio::ip::tcp::acceptor acc(ctx, {asio::ip::tcp::v4(), o.port});
    echo_server<asio::ip::tcp::acceptor, asio::ip::tcp::socket> server{acc, {}};
    server.start();
    svc.start();
    svc.join();   // until SIGINT/SIGTERM
    return 0;
  }
  bool exact = false;
  echo_client<asio::ip::tcp::socket> client(ctx, o.bytes, [&](bool ok) { exact = ok, svc.stop(); });
  client.start({asio::ip::make_address_v4(o.connect), o.port});
  svc.start();
  svc.join();
  return exact ? 0 : 1;
}

// A real device (afxdp, dpdk): the server on the stack of queue 0, busy-polled from its io_context.
int run_device_server(const options& o, bypass::device& dev) {
  asio::io_context ctx{1};
  auto& svc = asio::use_service<bypass::bypass_service>(ctx);
  bypass::lane_config c;
  const auto slash = o.addr.find('/');
  const auto ip = wire::ipv4_addr::parse(o.addr.substr(0, slash));
  if (!ip) usage("--addr: not an IPv4 address: '" + o.addr + "'");
  c.iface.addr = *ip;
  c.iface.prefix_len = slash == std::string::npos ? 24 : static_cast<int>(number("--addr", o.addr.substr(slash + 1), 32));
  const auto mac = wire::mac_addr::parse(o.mac);
  if (!mac) usage("--mac: not a MAC address: '" + o.mac + "'");
  c.iface.mac = *mac;
  c.drive = bypass::drive_mode::busy_poll;
  c.clock = dev.clock();
  if (auto ec = svc.attach(dev.queue(0), c)) usage("attach: " + ec.message());
  svc.start();
  bypass::tcp::acceptor acc(ctx, {asio::ip::address_v4::any(), o.port});
  echo_server<bypass::tcp::acceptor, bypass::tcp::socket> server{acc, {}};
  server.start();
  std::printf("tcp_echo: listening on %s:%u over %s\n", o.addr.c_str(), o.port, o.backend.c_str());
  std::fflush(stdout);
  asio::signal_set signals(ctx, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code&, int) { ctx.stop(); });
  ctx.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  if (o.backend == "sim") return run_sim(o);
  bypass::device_options d;
  d.backend = o.backend;
  if (o.backend == "afxdp") d.device = o.iface + ":tcp=" + std::to_string(o.port);
  else if (o.backend == "dpdk") d.device = o.vdev;
  // A bypass backend that cannot start falls back to the kernel (one line says why).
  auto svc = bypass::AsioService::create({.backend = o.backend, .device = d, .log = [](std::string_view l) {
                                            std::fprintf(stderr, "tcp_echo: %.*s\n", static_cast<int>(l.size()), l.data());
                                          }});
  if (bypass::device* dev = svc->bypass_device()) {
    if (o.role != "server") usage("--backend " + o.backend + ": this example runs the server on a device");
    return run_device_server(o, *dev);
  }
  return run_kernel(o, *svc, ringlab::kernel::epoll::context(*svc));
}
