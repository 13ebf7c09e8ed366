// ringlab http-serve: a minimal HTTP/1.1 keep-alive responder (tools/tcp_apps/http_server.hpp, a
// template over the socket types) over Linux TCP (--backend kernel) or the user-space stack (afxdp,
// dpdk), so `wrk` and `curl` drive the lab's TCP. GET -> 200 with a fixed body of --body-size bytes;
// HEAD -> the same head; other methods -> 405; malformed -> 400 (413, 431, 501, 505) and close;
// "Connection: close" honoured; pipelined requests answered in order.
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <cinttypes>
#include <cstdio>
#include <optional>
#include <string>

#include "asio_bypass/tcp_acceptor.hpp"
#include "asio_bypass/tcp_socket.hpp"
#include "tools/ringlab/cli.hpp"
#include "tools/ringlab/tcp_app_flags.hpp"
#include "tools/tcp_apps/echo.hpp"
#include "tools/tcp_apps/http_server.hpp"
#include "tools/tcp_apps/lane_apps.hpp"
#include "tools/tcp_apps/stats.hpp"

namespace {
using namespace ringlab;
namespace ta = ringlab::tcp_apps;

std::vector<cli::option> make_options() {
  std::vector<cli::option> o = {
      {"port", "N", "the port to listen on", "8080"},
      {"listen", "ADDR", "kernel backend: the address to listen on", "0.0.0.0"},
      {"body-size", "SIZE", "bytes of the 200 response's body ('abc..z' repeated, last byte a newline; suffix k, M "
                            "or G; at most 64M)",
       "128"},
  };
  for (auto& x : cli::tcp_backend_options("the XDP program steers TCP to the stack by --port")) {
    if (x.name == "backend")
      x.help = "kernel (Linux TCP), afxdp (--iface), dpdk (--vdev); afxdp/dpdk fall back to kernel when the device "
               "cannot open (sim: see tcp-echo)";
    if (x.name == "timeout") x.help = "stop after this many seconds, 0 for no limit (until SIGINT/SIGTERM)";
    if (x.name == "seed") x.help = "seed for the stack";
    if (x.name == "stats")
      x.help = "print per-lane counters (as nstat -az) and each open connection (as ss -ti) to standard error at "
               "exit; with =S also every S seconds";
    o.push_back(std::move(x));
  }
  for (auto& x : cli::device_flag_options()) o.push_back(std::move(x));
  return o;
}
const std::vector<cli::option> opts = make_options();

// "http-serve: 4 connections, ..." (`who`: "http-serve: lane 1: " on a lane of --lanes N).
void summary(const ta::http_totals& t, const std::string& who = "http-serve: ") {
  std::fprintf(stderr,
               "%s%" PRIu64 " connections, %" PRIu64 " requests (%" PRIu64 " answered 200/405, %" PRIu64
               " errors sent), %" PRIu64 " closed by the peer, %" PRIu64 " reset by the peer, %" PRIu64
               " I/O errors\n",
               who.c_str(), t.connections, t.requests, t.ok, t.errors_sent, t.closed_by_peer, t.reset_by_peer, t.io_errors);
}

// Every option, read before anything binds or opens (bad input is exit 2 with nothing run).
struct settings {
  std::size_t body_size = 0;
  std::uint16_t port = 0;
  asio::ip::address_v4 listen;   // kernel sockets
  cli::run_limits limits;
};

// `at` is bound; `shown` is what the listening line names (a bypass stack's own address: it binds
// the wildcard on the one address it has).
template <class Acceptor, class Socket>
int serve(asio::io_context& ctx, Acceptor& acc, const asio::ip::tcp::endpoint& at, const asio::ip::tcp::endpoint& shown,
          const settings& set, const stack::interface* iface, const char* backend) {
  if (auto err = ta::open_listener(acc, at); !err.empty()) throw cli::usage_error{err};   // a port in use: nothing ran (exit 2)
  ta::http_server<Acceptor, Socket> server(acc, set.body_size);
  server.start();
  std::fprintf(stderr, "http-serve: listening on %s (backend %s)\n", ta::endpoint_text(shown).c_str(), backend);
  const double every_s = set.limits.every_s;
  cli::checksum_watch watch("http-serve", backend, iface);
  const auto why = cli::run_lane(
      ctx, set.limits.timeout_s, every_s,
      [&](double t) { ta::print_stats(stderr, cli::stats_title("http-serve", t), iface, server); },
      iface ? std::function<void()>([&] { watch(); }) : std::function<void()>());
  watch();
  if (every_s >= 0) ta::print_stats(stderr, "http-serve: stats at exit", iface, server);
  summary(server.stats());
  std::fprintf(stderr, "http-serve: ended by %s\n", why.empty() ? "?" : why.c_str());
  return cli::exit_ok;
}

int run(int argc, char** argv) {
  auto av = cli::rewrite_bare_stats(argc, argv);
  cli::args a("http-serve", opts, argc, av.data());
  if (a.help()) {
    std::fputs(cli::usage_text("http-serve", "[--backend kernel|afxdp|dpdk] [--port N] [--body-size SIZE] [options]",
                               "A minimal HTTP/1.1 keep-alive responder for wrk and curl, the same application code\n"
                               "over Linux TCP and the lab's user-space stack. GET answers 200 with a body of\n"
                               "--body-size bytes ('abcdefghijklmnopqrstuvwxyz' repeated, the last byte a newline);\n"
                               "HEAD the same head without the body; other methods 405; a malformed request line\n"
                               "or header 400 (head too large 431, Transfer-Encoding 501, HTTP/2+ 505) and close.\n"
                               "HTTP/1.1 keeps the connection unless 'Connection: close'; HTTP/1.0 closes unless\n"
                               "'Connection: keep-alive'. Pipelined requests are answered in order. Runs until\n"
                               "SIGINT/SIGTERM or --timeout; counts to standard error, as --stats does.",
                               opts).c_str(), stdout);
    return cli::exit_ok;
  }
  a.expect_positional(0);
  const std::string backend = a.str("backend");
  if (backend != "kernel" && backend != "afxdp" && backend != "dpdk")
    throw cli::usage_error{"--backend: '" + backend + "' is not kernel, afxdp or dpdk" +
                           (backend == "sim" ? " (sim has no peer to serve: ringlab tcp-echo --backend sim)" : "")};
  settings set;
  set.body_size = static_cast<std::size_t>(cli::size_value(a, "body-size", 64u << 20));
  set.port = cli::port_value(a, "port");
  set.listen = asio::ip::address_v4(cli::ipv4_value(a, "listen", "0.0.0.0").value);
  set.limits = cli::run_limits_of(a);
  const std::uint16_t port = set.port;
  if (backend != "afxdp") a.refuse({"iface"}, "--backend " + backend + " (afxdp only)");
  if (backend != "dpdk") a.refuse({"vdev"}, "--backend " + backend + " (dpdk only)");
  if (backend == "kernel")
    a.refuse({"mac", "addr", "tap", "faults", "trace", "tcp-secret"}, "--backend kernel (bypass backends only)");
  const std::uint16_t lanes = cli::lanes_value(a);
  if (lanes == 1) a.refuse({"neighbour", "pin"}, "--lanes 1 (the lane learns its peers by ARP)");
  if (backend == "kernel" && lanes > 1)
    throw cli::usage_error{"--lanes " + std::to_string(lanes) + ": --backend kernel is Linux's TCP, which spreads "
                           "connections over CPUs itself (RPS/RFS); lanes are the bypass backends' (afxdp, dpdk)"};
  cli::hold_signals();
  if (lanes > 1) {
    a.refuse({"listen"}, "--backend " + backend + " (the stack listens on its --addr)");
    auto rl = cli::open_real_lanes(a, backend, "http-serve", "tcp=" + std::to_string(port), lanes);
    using server_t = ta::http_server<bypass::tcp::acceptor, bypass::tcp::socket>;
    {
      ta::lane_apps<server_t> servers(*rl->lanes, [&](std::size_t) { return std::make_unique<server_t>(set.body_size); });
      const auto why = cli::serve_on_lanes(*rl, servers, "http-serve", port, set.limits, {});
      ta::http_totals all;
      for (std::size_t q = 0; q < servers.size(); ++q) {
        const auto& t = servers[q].stats();
        summary(t, "http-serve: lane " + std::to_string(q) + ": ");
        all.connections += t.connections, all.requests += t.requests, all.ok += t.ok, all.errors_sent += t.errors_sent;
        all.closed_by_peer += t.closed_by_peer, all.reset_by_peer += t.reset_by_peer, all.io_errors += t.io_errors;
      }
      summary(all, "http-serve: all lanes: ");
      std::fprintf(stderr, "http-serve: ended by %s\n", why.empty() ? "?" : why.c_str());
    }
    cli::drain_lanes(*rl->lanes);
    return cli::report_device_flags(stderr, "http-serve", "http-serve", *rl->dev, rl->opts) ? cli::exit_ok
                                                                                          : cli::exit_failure;
  }
  if (backend != "kernel") {
    a.refuse({"listen"}, "--backend " + backend + " (the stack listens on its --addr)");
    if (auto rl = cli::open_real_lane(a, backend, "http-serve", "tcp=" + std::to_string(port))) {
      auto& ctx = rl->lane.ctx;
      int rc = cli::exit_ok;
      {
        bypass::tcp::acceptor acc(ctx);
        rc = serve<bypass::tcp::acceptor, bypass::tcp::socket>(
            ctx, acc, {asio::ip::address_v4::any(), port}, {asio::ip::address_v4(rl->addr.value), port}, set,
            &rl->lane.svc->iface(), backend.c_str());
      }
      cli::drain_lane(*rl->lane.svc);   // what the closes queued goes out
      if (!cli::report_device_flags(stderr, "http-serve", "http-serve", *rl->dev, rl->opts)) rc = cli::exit_failure;
      return rc;
    }
  }
  asio::io_context ctx{1};
  asio::ip::tcp::acceptor acc(ctx);
  return serve<asio::ip::tcp::acceptor, asio::ip::tcp::socket>(ctx, acc, {set.listen, port}, {set.listen, port}, set,
                                                               nullptr, "kernel");
}

const cli::registration reg{{"http-serve", "HTTP/1.1 keep-alive responder for wrk/curl (kernel|afxdp|dpdk)", run}};
}  // namespace
