// ringlab tcp-echo server|client: one TCP echo application (tools/tcp_apps/echo.hpp, a template over
// the socket types) over Linux TCP (--backend kernel) or the user-space stack (sim, afxdp, dpdk).
// The client sends --bytes of a seeded stream on each of --connections connections in --block writes,
// half-closes, reads the echo back checking every byte, and prints the sha256 of the stream each way;
// the server echoes until the peer's FIN and prints the same per connection. --backend sim runs both
// in this process, on two simulated hosts over sim_nic's wire (--faults act on the wire).
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "asio_bypass/tcp_acceptor.hpp"
#include "asio_bypass/tcp_socket.hpp"
#include "port/fault_line.hpp"
#include "trace/trace.hpp"
#include "tools/ringlab/cli.hpp"
#include "tools/ringlab/faults_flag.hpp"
#include "tools/ringlab/tcp_app_flags.hpp"
#include "tools/tcp_apps/echo.hpp"
#include "tools/tcp_apps/lane_apps.hpp"
#include "tools/tcp_apps/sim_pair.hpp"
#include "tools/tcp_apps/stats.hpp"

namespace {
using namespace ringlab;
namespace ta = ringlab::tcp_apps;

std::vector<cli::option> make_options() {
  std::vector<cli::option> o = {
      {"port", "N", "server: the port to listen on; client: the server's port", "7007"},
      {"connect", "ADDR", "client: the server's IPv4 address (kernel default 127.0.0.1; sim: always 10.0.0.2)"},
      {"listen", "ADDR", "server, kernel backend: the address to listen on", "0.0.0.0"},
      {"bytes", "SIZE", "client: bytes to send on each connection (suffix k, M, G)", "1M"},
      {"block", "SIZE", "client: bytes per write", "16k"},
      {"connections", "N", "client: connections at once (sim: the server serves as many)", "1"},
      {"local-port", "N", "client: bind connection c to source port N + c (afxdp needs it: the XDP program "
                          "steers TCP by destination port, and the echo comes back to OUR port)"},
      {"count", "N", "server: stop after N connections ended (0: serve until SIGINT/SIGTERM)", "0"},
  };
  for (auto& x : cli::tcp_backend_options("the XDP program steers TCP to the stack by port (server: --port; "
                                          "client: --local-port)"))
    o.push_back(std::move(x));
  // --tap, --faults, --trace: sim takes --tap (host A, the client's) and --faults (the wire); afxdp/dpdk all three.
  for (auto& x : cli::device_flag_options()) o.push_back(std::move(x));
  return o;
}
const std::vector<cli::option> opts = make_options();

// One line per connection on standard output:
//   ROLE conn ID PEER sent=N received=N sha256_sent=HEX sha256_received=HEX ok|FAILED: why
void print_result(const char* role, const ta::echo_result& r) {
  std::printf("%s conn %u %s sent=%" PRIu64 " received=%" PRIu64 " sha256_sent=%s sha256_received=%s %s\n", role, r.id,
              r.peer.c_str(), r.sent, r.received, r.sent_sha.hex().c_str(), r.received_sha.hex().c_str(),
              r.ok() ? "ok" : ("FAILED: " + ta::failure_text(r)).c_str());
  std::fflush(stdout);
}

// The client's end: every connection's line; exit 1 (with the first failure on stderr) unless all
// were echoed exactly.
template <class Client>
int client_report(const Client& c) {
  int rc = cli::exit_ok;
  for (const auto* r : c.results()) {
    print_result("client", *r);
    if (!r->ok() && rc == cli::exit_ok) {
      std::fprintf(stderr, "tcp-echo: connection %u to %s: %s\n", r->id, r->peer.c_str(), ta::failure_text(*r).c_str());
      rc = cli::exit_failure;
    }
  }
  return rc;
}

// The server's end, the same on every backend: one line saying what ended it; exit 1 only when a
// connection failed. A server stopped by SIGINT/SIGTERM or --timeout ended normally (exit 0), as
// one that served its --count.
int server_end(const std::string& why, bool failed) {
  std::fprintf(stderr, "tcp-echo: server ended by %s\n", why.empty() ? "--count" : why.c_str());
  return failed ? cli::exit_failure : cli::exit_ok;
}

ta::echo_client_config client_config(const cli::args& a, asio::ip::address_v4 server) {
  ta::echo_client_config c;
  c.remote = {server, cli::port_value(a, "port")};
  c.bytes = cli::size_value(a, "bytes", 1ull << 40);
  c.block = static_cast<std::size_t>(cli::size_value(a, "block", 16u << 20));
  if (c.block == 0) throw cli::usage_error{"--block: must be at least 1 byte"};
  c.connections = static_cast<std::uint32_t>(a.u64("connections", 1, 1024));
  c.seed = a.u64("seed");
  if (a.has("local-port")) {
    c.local_port = cli::port_value(a, "local-port");
    if (c.local_port + c.connections - 1 > 65535) throw cli::usage_error{"--local-port: N + --connections passes 65535"};
  }
  return c;
}

// --backend sim: server on host B, client on host A, one process, virtual time.
int run_sim(const cli::args& a) {
  a.refuse({"connect", "listen", "iface", "vdev", "mac", "addr", "count", "trace", "neighbour", "pin"},
           "--backend sim (two fixed hosts 10.0.0.1 -> 10.0.0.2; --connections sets the server's count)");
  a.refuse({"tcp-secret"}, "--backend sim (its stacks keep a fixed secret: a seeded run repeats)");
  ta::sim_pair_config pc;
  pc.seed = a.u64("seed");
  if (auto f = cli::faults_flag(a)) {
    if (!f->rx || !f->tx) throw cli::usage_error{"--faults: dir= does not apply to sim (the faults act on the wire, both ways)"};
    pc.faults = f->spec;
    if (f->seed) pc.seed = *f->seed;
  }
  if (a.has("tap")) {
    cli::check_output("tap", a.str("tap"));
    pc.tap = a.str("tap");
  }
  const auto [timeout_s, every_s] = cli::run_limits_of(a);
  auto cc = client_config(a, asio::ip::address_v4(ta::sim_pair::server_ip.value));

  pc.server_lanes = static_cast<std::uint16_t>(a.u64("lanes", 1, 64));
  ta::sim_pair pair(pc);
  // The server: an echo_server per lane of host B, each fed by its lane's listener.
  using server_t = ta::echo_server<bypass::tcp::acceptor, bypass::tcp::socket>;
  std::uint64_t ended = 0;
  ta::lane_apps<server_t> servers(pair.lanes(), [&](std::size_t q) {
    return std::make_unique<server_t>(0, [&ended, q, lanes = pc.server_lanes](const ta::echo_result& r) {
      ++ended;
      print_result(lanes > 1 ? ("server lane " + std::to_string(q)).c_str() : "server", r);
    });
  });
  if (auto ec = servers.listen({asio::ip::address_v4(ta::sim_pair::server_ip.value), cc.remote.port()}))
    throw std::runtime_error("server: listen: " + ec.message());
  ta::echo_client<bypass::tcp::socket> client(pair.client_ctx(), cc);
  client.start();
  auto stats = [&](const char* when) {
    std::fprintf(stderr, "tcp-echo: stats %s\n", when);
    ta::print_stats(stderr, "client lane (host 10.0.0.1):", &pair.client().iface(), client);
    if (pair.lanes().size() == 1) return ta::print_stats(stderr, "server lane (host 10.0.0.2):", &pair.server().iface(), servers[0]);
    ta::print_lanes_stats(stderr, "server lanes (host 10.0.0.2):", pair.lanes().size(),
                          [&](std::size_t q) -> const stack::interface& { return pair.lanes().service(q).iface(); },
                          [&](std::size_t q) -> server_t& { return servers[q]; });
  };
  const stack::time_ns limit = timeout_s > 0 ? static_cast<stack::time_ns>(timeout_s * 1e9) : 600 * stack::sec;
  const auto st = pair.run([&] { return client.done() && ended == cc.connections; }, limit,
                           every_s > 0 ? static_cast<stack::time_ns>(every_s * 1e9) : 0, [&](stack::time_ns t) {
                             const std::string when = "at " + std::to_string(static_cast<double>(t) / 1e9) + " s (virtual)";
                             stats(when.c_str());
                           });
  if (every_s >= 0) stats("at exit");
  int rc = client_report(client);
  if (st.ended != ta::sim_end::done) {
    std::fprintf(stderr, "tcp-echo: sim: the run ended (%s) before every connection finished\n", ta::to_string(st.ended));
    rc = cli::exit_failure;
  }
  std::uint64_t total = 0;
  for (const auto* r : client.results()) total += r->received;
  const auto ab = pair.wire_a_to_b(), ba = pair.wire_b_to_a();
  std::fprintf(stderr,
               "tcp-echo: sim: %" PRIu64 " bytes echoed on %u connection%s in %.6f s of virtual time (%" PRIu64
               " rounds); wire a->b: %" PRIu64 " frames, %" PRIu64 " dropped; b->a: %" PRIu64 " frames, %" PRIu64
               " dropped\n",
               total, cc.connections, cc.connections == 1 ? "" : "s", static_cast<double>(st.elapsed_ns) / 1e9, st.rounds,
               ab.in, ab.dropped, ba.in, ba.dropped);
  auto drops = [](const char* host, const stack::interface& ifc) {
    std::string d;
    const auto& c = ifc.counters();
    for (std::size_t i = 0; i < c.drops.size(); ++i)
      if (c.drops[i]) {
        // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict, a false positive) on
        // "literal" + std::string&& here, and the release preset builds with -Werror.
        d += ' ';
        d += trace::to_string(static_cast<trace::drop_reason>(i));
        d += '=';
        d += std::to_string(c.drops[i]);
      }
    std::fprintf(stderr, "tcp-echo: sim: %s stack drops:%s\n", host, d.empty() ? " none" : d.c_str());
  };
  drops("client", pair.client().iface());
  for (std::size_t q = 0; q < pair.lanes().size(); ++q)
    drops(pair.lanes().size() == 1 ? "server" : ("server lane " + std::to_string(q)).c_str(), pair.lanes().service(q).iface());
  if (pair.lanes().size() > 1) {   // which lane served how many: what RSS chose
    std::string per;
    for (std::size_t q = 0; q < pair.lanes().size(); ++q)
      per += " lane" + std::to_string(q) + "=" + std::to_string(pair.lanes().tcp_counters(q).passive_opens);
    std::fprintf(stderr, "tcp-echo: sim: server passive opens per lane:%s\n", per.c_str());
  }
  // The connections finish their close (FIN, TIME_WAIT) on the wire; then every frame is home.
  pair.run({}, pair.now() - pair.start_ns() + 300 * stack::sec);
  if (!pc.tap.empty()) std::fprintf(stderr, "tcp-echo: tap: %" PRIu64 " frames to %s\n", pair.tap_frames(), pc.tap.c_str());
  // (Only when every connection ended: an unfinished one still holds frames in its queues.)
  if (const auto out = pair.frames_out(); out != 0 && st.ended == ta::sim_end::done) {
    std::fprintf(stderr, "tcp-echo: %u pool frames not returned after the run (a leak)\n", out);
    rc = cli::exit_failure;
  }
  return rc;
}

// afxdp / dpdk server with --lanes N (> 1): an echo_server per lane; --count over all lanes.
int run_lanes_server(const cli::args& a, const std::string& backend, std::uint16_t lanes) {
  const auto limits = cli::run_limits_of(a);
  const std::uint16_t port = cli::port_value(a, "port");
  const std::uint64_t count = a.u64("count");
  auto rl = cli::open_real_lanes(a, backend, "tcp-echo", "tcp=" + std::to_string(port), lanes);
  using server_t = ta::echo_server<bypass::tcp::acceptor, bypass::tcp::socket>;
  std::atomic<std::uint64_t> ended{0};   // every lane adds its connections' ends: --count's total
  std::atomic<bool> failed{false};
  int rc = cli::exit_ok;
  {
    ta::lane_apps<server_t> servers(*rl->lanes, [&](std::size_t q) {
      return std::make_unique<server_t>(0, [&, q](const ta::echo_result& r) {
        print_result(("server lane " + std::to_string(q)).c_str(), r);
        if (!r.ok()) failed.store(true, std::memory_order_relaxed);
        ended.fetch_add(1, std::memory_order_release);
      });
    });
    const auto why = cli::serve_on_lanes(*rl, servers, "tcp-echo", port, limits,
                                         [&] { return count && ended.load(std::memory_order_acquire) >= count; });
    std::string per;
    for (std::size_t q = 0; q < servers.size(); ++q)
      per += " lane" + std::to_string(q) + "=" + std::to_string(servers[q].stats().accepted);
    std::fprintf(stderr, "tcp-echo: connections per lane:%s\n", per.c_str());
    rc = server_end(why, failed.load());
  }
  cli::drain_lanes(*rl->lanes);
  if (!cli::report_device_flags(stderr, "tcp-echo", "tcp-echo", *rl->dev, rl->opts)) rc = cli::exit_failure;
  return rc;
}

// afxdp / dpdk: std::nullopt when the device did not open (said once): the caller runs on kernel sockets.
std::optional<int> run_bypass(const cli::args& a, const std::string& role, const std::string& backend) {
  const auto [timeout_s, every_s] = cli::run_limits_of(a);
  const std::uint16_t port = cli::port_value(a, "port");
  const std::uint64_t count = a.u64("count");
  std::string steering;
  std::optional<ta::echo_client_config> cc;
  if (role == "client") {
    cc = client_config(a, asio::ip::address_v4(cli::ipv4_value(a, "connect", "").value));
    if (backend == "afxdp" && !cc->local_port)
      throw cli::usage_error{"--backend afxdp client needs --local-port N (the XDP program steers TCP by destination "
                             "port: the server's replies come to our source port)"};
    // Our source ports: one, or the XDP program's port range (connection c uses local_port + c).
    steering = "tcp=" + std::to_string(cc->local_port);
    if (cc->connections > 1) steering += "-" + std::to_string(cc->local_port + cc->connections - 1);
  } else {
    steering = "tcp=" + std::to_string(port);
  }
  auto rl = cli::open_real_lane(a, backend, "tcp-echo", steering);
  if (!rl) return std::nullopt;
  auto& ctx = rl->lane.ctx;
  stack::interface& iface = rl->lane.svc->iface();
  cli::checksum_watch watch("tcp-echo", rl->dev->backend(), &iface);
  const auto check = [&] { watch(); };
  int rc = cli::exit_ok;
  if (role == "client") {
    ta::echo_client<bypass::tcp::socket> client(ctx, *cc, [&] { ctx.stop(); });
    client.start();
    const auto why = cli::run_lane(
        ctx, timeout_s, every_s,
        [&](double t) { ta::print_stats(stderr, cli::stats_title("tcp-echo", t), &iface, client); }, check);
    watch();
    if (every_s >= 0) ta::print_stats(stderr, "tcp-echo: stats at exit", &iface, client);
    rc = client_report(client);
    if (!client.done()) {
      std::fprintf(stderr, "tcp-echo: ended by %s before every connection finished\n", why.empty() ? "?" : why.c_str());
      rc = cli::exit_failure;
    }
  } else {
    bypass::tcp::acceptor acc(ctx);
    if (auto err = ta::open_listener(acc, {asio::ip::address_v4::any(), port}); !err.empty())
      throw cli::usage_error{err};   // a port in use: nothing ran (exit 2)
    bool failed = false;
    ta::echo_server<bypass::tcp::acceptor, bypass::tcp::socket> server(
        acc, count, [&](const ta::echo_result& r) {
          print_result("server", r);
          failed = failed || !r.ok();
        },
        [&] { ctx.stop(); });
    server.start();
    std::fprintf(stderr, "tcp-echo: listening on %s:%u (backend %s)\n", rl->addr.to_string().c_str(), port,
                 backend.c_str());
    const auto why = cli::run_lane(
        ctx, timeout_s, every_s,
        [&](double t) { ta::print_stats(stderr, cli::stats_title("tcp-echo", t), &iface, server); }, check);
    watch();
    if (every_s >= 0) ta::print_stats(stderr, "tcp-echo: stats at exit", &iface, server);
    rc = server_end(why, failed);
  }
  // The stack sends what the sockets' close queued (FIN) before the lane goes.
  cli::drain_lane(*rl->lane.svc);
  if (!cli::report_device_flags(stderr, "tcp-echo", "tcp-echo", *rl->dev, rl->opts)) rc = cli::exit_failure;
  return rc;
}

int run_kernel(const cli::args& a, const std::string& role) {
  a.refuse({"tap", "faults", "trace"}, "--backend kernel (Linux TCP: no device to decorate)");
  const auto [timeout_s, every_s] = cli::run_limits_of(a);
  asio::io_context ctx{1};
  int rc = cli::exit_ok;
  if (role == "client") {
    auto cc = client_config(a, asio::ip::address_v4(cli::ipv4_value(a, "connect", "127.0.0.1").value));
    ta::echo_client<asio::ip::tcp::socket> client(ctx, cc, [&] { ctx.stop(); });
    client.start();
    const auto why = cli::run_lane(ctx, timeout_s, every_s, [&](double t) {
      ta::print_stats(stderr, cli::stats_title("tcp-echo", t), nullptr, client);
    });
    if (every_s >= 0) ta::print_stats(stderr, "tcp-echo: stats at exit", nullptr, client);
    rc = client_report(client);
    if (!client.done()) {
      std::fprintf(stderr, "tcp-echo: ended by %s before every connection finished\n", why.empty() ? "?" : why.c_str());
      rc = cli::exit_failure;
    }
    return rc;
  }
  const auto listen = asio::ip::address_v4(cli::ipv4_value(a, "listen", "0.0.0.0").value);
  const std::uint16_t port = cli::port_value(a, "port");
  const std::uint64_t count = a.u64("count");
  asio::ip::tcp::acceptor acc(ctx);
  if (auto err = ta::open_listener(acc, {listen, port}); !err.empty()) throw cli::usage_error{err};   // a port in use: nothing ran (exit 2)
  bool failed = false;
  ta::echo_server<asio::ip::tcp::acceptor, asio::ip::tcp::socket> server(
      acc, count, [&](const ta::echo_result& r) {
        print_result("server", r);
        failed = failed || !r.ok();
      },
      [&] { ctx.stop(); });
  server.start();
  std::fprintf(stderr, "tcp-echo: listening on %s (backend kernel)\n", ta::endpoint_text(acc.local_endpoint()).c_str());
  const auto why = cli::run_lane(ctx, timeout_s, every_s, [&](double t) {
    ta::print_stats(stderr, cli::stats_title("tcp-echo", t), nullptr, server);
  });
  if (every_s >= 0) ta::print_stats(stderr, "tcp-echo: stats at exit", nullptr, server);
  return server_end(why, failed);
}

int run(int argc, char** argv) {
  auto av = cli::rewrite_bare_stats(argc, argv);
  cli::args a("tcp-echo", opts, argc, av.data());
  if (a.help()) {
    std::fputs(cli::usage_text("tcp-echo", "server|client [options]\n"
                               "       ringlab tcp-echo client --backend sim [--bytes SIZE] [--faults SPEC] [--stats]",
                               "A TCP echo over Linux TCP or the lab's user-space stack, the same application code\n"
                               "on both. client: sends --bytes of a seeded stream (same --seed, same bytes) on each\n"
                               "of --connections connections, half-closes, reads the echo back checking every byte.\n"
                               "server: echoes each connection until the peer's FIN, then half-closes.\n"
                               "Standard output: one line per connection, 'ROLE conn ID PEER sent=N received=N\n"
                               "sha256_sent=HEX sha256_received=HEX ok' (or 'FAILED: why'); the sha256 is of the\n"
                               "stream itself (sha256sum of the same bytes). --backend sim runs server and client\n"
                               "in this process on two simulated hosts (10.0.0.2 serves, 10.0.0.1 connects) over\n"
                               "sim_nic's wire, on virtual time: --faults acts on the wire, --tap captures host\n"
                               "10.0.0.1. --stats goes to standard error. Exit 1 when a connection failed (refused,\n"
                               "reset, a short or differing echo) or --timeout cut the client short. A server that\n"
                               "SIGINT/SIGTERM or --timeout stops has ended normally: exit 0 on every backend.",
                               opts).c_str(), stdout);
    return cli::exit_ok;
  }
  a.expect_positional(1, "server or client");
  if (a.positional().empty()) throw cli::usage_error{"server or client is required (see --help)"};
  const std::string role = a.positional()[0];
  if (role != "server" && role != "client") throw cli::usage_error{"'" + role + "' is neither server nor client"};
  const std::string backend = a.str("backend");
  if (backend != "kernel" && backend != "sim" && backend != "afxdp" && backend != "dpdk")
    throw cli::usage_error{"--backend: '" + backend + "' is not kernel, sim, afxdp or dpdk"};
  if (role == "server") a.refuse({"connect", "bytes", "block", "connections", "local-port"}, "server (client options)");
  else a.refuse({"listen", "count"}, "client (server options)");
  if (backend == "sim") {
    if (role != "client") throw cli::usage_error{"--backend sim runs both ends in this process: use 'client'"};
    return run_sim(a);
  }
  const std::uint16_t lanes = cli::lanes_value(a);
  if (role == "client") a.refuse({"lanes", "neighbour", "pin"}, "client (--lanes is the server's; sim: the server host's)");
  if (lanes == 1) a.refuse({"neighbour", "pin"}, "--lanes 1 (the lane learns its peers by ARP)");
  if (backend == "kernel" && lanes > 1)
    throw cli::usage_error{"--lanes " + std::to_string(lanes) + ": --backend kernel is Linux's TCP, which spreads "
                           "connections over CPUs itself (RPS/RFS); lanes are the bypass backends' (afxdp, dpdk, sim)"};
  if (backend != "afxdp") a.refuse({"iface"}, "--backend " + backend + " (afxdp only)");
  if (backend != "dpdk") a.refuse({"vdev"}, "--backend " + backend + " (dpdk only)");
  if (backend == "kernel") a.refuse({"mac", "addr", "tcp-secret"}, "--backend kernel (the stack's host: bypass backends only)");
  if (role == "client" && backend != "kernel" && !a.has("connect"))
    throw cli::usage_error{"client --backend " + backend + " needs --connect ADDR (the server's address)"};
  cli::hold_signals();
  if (lanes > 1) return run_lanes_server(a, backend, lanes);
  if (backend != "kernel")
    if (auto rc = run_bypass(a, role, backend)) return *rc;
  return run_kernel(a, role);
}

const cli::registration reg{{"tcp-echo", "TCP echo server/client, byte-exact with sha256 (kernel|sim|afxdp|dpdk)", run}};
}  // namespace
