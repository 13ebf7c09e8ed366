// ringlab iperf3-server: the iperf3 protocol's server side (tools/iperf3/server.hpp), so that stock
// `iperf3 -c ADDR [-t T] [-R] [-P N] ...` measures our TCP. The same server template runs over kernel
// sockets (--backend kernel) and over the user-space stack on an AF_XDP or DPDK port (--backend
// afxdp|dpdk: bypass::tcp on one lane, busy-polled); a bypass device that cannot open says why in one
// line and the run goes on over kernel sockets, as every ringlab command does.
//
// --lanes N (afxdp, dpdk, sim --self-test): bypass::tcp_lanes, a lane (stack + io_context + thread) per
// RX queue, a server on each, one test_registry between them (tools/iperf3/test_registry.hpp): a data
// connection is served on the lane RSS gave it, its control connection's lane learns of it by flags.
//
// One line per test on standard error, and with --json one JSON object per test on standard output:
// {"peer":..., "reverse":..., "parallel":..., "len":..., "seconds":..., "bytes":N, "streams":[{"id":1,
// "bytes":N, "retransmits":R}], "completed":true, "error":"", "backend":...}. "bytes" is exactly what
// the server reported to the client (its sum_received, or sum_sent with -R).
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "asio_bypass/tcp_acceptor.hpp"
#include "asio_bypass/tcp_socket.hpp"
#include "tools/iperf3/server.hpp"
#include "tools/iperf3/sim_self_test.hpp"
#include "tools/iperf3/test_registry.hpp"
#include "tools/tcp_apps/stats.hpp"
#include "tools/mcast/bypass_host.hpp"
#include "tools/ringlab/cli.hpp"
#include "tools/ringlab/tcp_app_flags.hpp"

namespace {
using namespace ringlab;
using atcp = asio::ip::tcp;

const std::vector<cli::option> opts = {
    {"port", "N", "TCP port to listen on (iperf3's default 5201)", "5201"},
    {"bind", "A.B.C.D", "kernel backend: the address to listen on (iperf3's -B)", "0.0.0.0"},
    {"listen", "A.B.C.D", "the same as --bind (the name tcp-echo and http-serve use)"},
    {"once", "", "exit after one test (exit 0 when it completed)"},
    {"json", "", "print one JSON object per test on standard output"},
    {"backend", "NAME", "kernel, afxdp (--iface), dpdk (--vdev), or sim with --self-test", "kernel"},
    {"iface", "NAME", "afxdp: the interface (the XDP program sends TCP to --port, ICMP and ARP to us)"},
    {"vdev", "SPEC", "dpdk: the device, e.g. net_af_xdp0,iface=veth0"},
    {"mac", "MAC", "bypass backends: the stack's MAC address", "02:00:00:00:00:02"},
    {"addr", "A.B.C.D/P", "bypass backends: the stack's IPv4 address and prefix length", "10.0.0.2/24"},
    {"self-test", "", "--backend sim: our iperf3 protocol client against this server over two simulated hosts in "
                      "this process; exit 0 when both ends' byte counts agree"},
    {"reverse", "", "--self-test: the server sends (iperf3 -R)"},
    {"parallel", "N", "--self-test: data streams (iperf3 -P)", "1"},
    {"bytes", "SIZE", "--self-test: bytes per stream (suffix k, M, G)", "4M"},
    {"len", "SIZE", "--self-test: block size (iperf3 -l)", "128k"},
    {"lanes", "N", "afxdp/dpdk/sim: one lane (stack + io_context + thread) per RX queue 0..N-1, a listener on each; "
                   "every data connection is served on the lane RSS gives it (afxdp: N queues of --iface; dpdk: "
                   "net_af_xdp with queue_count=N; sim: the server host's N queues; kernel: only 1)", "1"},
    {"neighbour", "IP=MAC", "afxdp/dpdk with --lanes: a static ARP entry on every lane (repeatable; the NIC gives ARP to "
                            "one queue, so lanes 1.. learn no peer by ARP)", "", true},
    {"pin", "", "afxdp/dpdk with --lanes: pin lane q's thread to CPU q"},
    {"seed", "N", "the stack's seed (--self-test: also the client's cookie)", "1"},
    cli::tcp_secret_option(),
    {"timeout", "SECONDS", "stop after this many seconds, 0 for no limit (until SIGINT/SIGTERM or --once's test)", "0"},
    // "[=SECONDS]": usage_text prints it joined, `--stats[=SECONDS]` (the value is optional).
    {"stats", "[=SECONDS]", "print the lane's counters (as nstat -az; kernel: where Linux's are) and each open "
                            "connection (as ss -ti) to standard error at exit; with =S also every S seconds"},
};


double steady_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The per-test line and the --json object: one place for every backend.
struct printer {
  bool json = false;
  std::string backend;
  void operator()(const iperf3::test_report& r) const {
    const double mbit = r.seconds > 0 ? static_cast<double>(r.bytes) * 8 / r.seconds / 1e6 : 0;
    std::int64_t rtx = 0;
    for (const auto& s : r.streams) rtx += s.retransmits > 0 ? s.retransmits : 0;
    // The server's role as iperf3 names it in its summary (sender / receiver) and what it counted: the
    // bytes its writes handed to the socket (-R; the client may stop reading before them all), or the
    // bytes it read.
    std::fprintf(stderr,
                 "iperf3-server: %s: %zu stream%s, %s %" PRIu64 " bytes in %.3f s (%.1f Mbit/s)%s%s%s\n",
                 r.peer.c_str(), r.streams.size(), r.streams.size() == 1 ? "" : "s",
                 r.params.reverse ? "sender (-R): wrote" : "receiver: read", r.bytes, r.seconds, mbit,
                 r.params.reverse ? (", " + std::to_string(rtx) + " retransmits").c_str() : "",
                 r.completed ? "" : "; not completed: ", r.error.c_str());
    if (!r.stream_lanes.empty()) {   // --lanes: where RSS put each stream
      std::string per;
      for (std::size_t i = 0; i < r.streams.size() && i < r.stream_lanes.size(); ++i)
        per += " " + std::to_string(r.streams[i].id) + "@lane" + std::to_string(r.stream_lanes[i]);
      std::fprintf(stderr, "iperf3-server: control connection on lane %zu; streams:%s\n", r.control_lane, per.c_str());
    }
    if (!json) return;
    nlohmann::json j;
    j["peer"] = r.peer;
    j["reverse"] = r.params.reverse;
    j["parallel"] = r.params.parallel;
    j["len"] = r.params.len;
    j["seconds"] = r.seconds;
    j["bytes"] = r.bytes;
    j["streams"] = nlohmann::json::array();
    for (std::size_t i = 0; i < r.streams.size(); ++i) {
      const auto& s = r.streams[i];
      j["streams"].push_back({{"id", s.id}, {"bytes", s.bytes}, {"retransmits", s.retransmits}});
      if (i < r.stream_lanes.size()) j["streams"].back()["lane"] = r.stream_lanes[i];
    }
    if (!r.stream_lanes.empty()) j["control_lane"] = r.control_lane;
    std::vector<std::string> got;
    for (auto m : r.received) got.emplace_back(iperf3::to_string(m));
    j["received"] = got;
    j["completed"] = r.completed;
    j["error"] = r.error;
    j["backend"] = backend;
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
  }
};

// --backend sim --self-test: iperf3::sim_self_test, the server's line (as on every backend) and the
// client's view of it; exit 0 when both ends' counts agree.
int run_sim_self_test(const cli::args& a, std::uint16_t port, const printer& print) {
  a.refuse({"iface", "vdev", "mac", "addr", "bind", "listen", "once", "neighbour", "pin"},
           "--backend sim (two fixed hosts 10.0.0.1 -> 10.0.0.2)");
  iperf3::self_test_options o;
  o.reverse = a.has("reverse");
  o.parallel = static_cast<std::uint32_t>(a.u64("parallel", 1, 128));
  o.bytes_per_stream = cli::size_value(a, "bytes", 1ull << 34);
  if (o.bytes_per_stream == 0) throw cli::usage_error{"--bytes: at least 1 byte per stream"};
  o.len = static_cast<std::uint32_t>(cli::size_value(a, "len", 1u << 20));
  if (o.len == 0) throw cli::usage_error{"--len: at least 1 byte"};
  o.seed = a.u64("seed");
  o.port = port;
  o.lanes = cli::lanes_value(a);
  const auto r = iperf3::sim_self_test(o);
  if (r.server) print(*r.server);
  std::uint64_t client_bytes = 0, reported = 0;
  for (auto b : r.client.bytes) client_bytes += b;
  if (r.client_saw)
    for (const auto& s : *r.client_saw) reported += s.bytes;
  // The client is the other role: it read (-R) or wrote; the server's figure is from the results
  // exchange, what the server wrote (-R) or read.
  std::fprintf(stderr,
               "iperf3-server: self-test client: %zu stream%s, %s %" PRIu64 " bytes; the server (%s) says it %s %" PRIu64
               " (%.6f s of virtual time)\n",
               r.client.bytes.size(), r.client.bytes.size() == 1 ? "" : "s",
               o.reverse ? "receiver (-R): read" : "sender: wrote", client_bytes, o.reverse ? "sender" : "receiver",
               o.reverse ? "wrote" : "read", reported, r.virtual_s);
  if (!r.lane_bytes.empty()) {
    std::string per;
    for (std::size_t q = 0; q < r.lane_bytes.size(); ++q) per += " lane" + std::to_string(q) + "=" + std::to_string(r.lane_bytes[q]);
    std::fprintf(stderr, "iperf3-server: self-test: bytes per lane (each stream on the lane RSS gives it):%s\n", per.c_str());
  }
  if (!r.error.empty()) {
    std::fprintf(stderr, "iperf3-server: self-test FAILED: %s\n", r.error.c_str());
    return cli::exit_failure;
  }
  std::fprintf(stderr, "iperf3-server: self-test ok: both ends' counts agree\n");
  return cli::exit_ok;
}

// Runs the server on ctx until a signal (or, with --once, the first test's end). Returns the exit code.
// iface: the bypass stack, whose TCP counters the checksum-offload hint watches (nullptr: kernel).
template <class Acceptor, class Socket, class Retransmits>
int serve(asio::io_context& ctx, Acceptor& acc, Retransmits rtx, bool once, const printer& print,
          const stack::interface* iface, const cli::run_limits& lim) {
  bool ok = !once;
  std::optional<iperf3::server<Acceptor, Socket>> srv;
  srv.emplace(acc, typename iperf3::server<Acceptor, Socket>::hooks{
                       .retransmits = rtx,
                       .now_s = steady_s,
                       .on_test_end =
                           [&](const iperf3::test_report& r) {
                             print(r);
                             if (once) ok = r.completed, ctx.stop();
                           },
                       .log = [](const std::string& l) { std::fprintf(stderr, "iperf3-server: %s\n", l.c_str()); }});
  srv->start();
  cli::checksum_watch watch("iperf3-server", print.backend, iface);
  const auto why = cli::run_lane(
      ctx, lim.timeout_s, lim.every_s,
      [&](double t) { tcp_apps::print_stats(stderr, cli::stats_title("iperf3-server", t), iface, *srv); },
      iface ? std::function<void()>([&] { watch(); }) : std::function<void()>());
  watch();
  if (lim.every_s >= 0) tcp_apps::print_stats(stderr, "iperf3-server: stats at exit", iface, *srv);
  srv.reset();   // a test under way ends here (reported as "stopped")
  if (!why.empty()) std::fprintf(stderr, "iperf3-server: ended by %s\n", why.c_str());
  return ok ? cli::exit_ok : cli::exit_failure;
}

int run_kernel(const cli::args& a, std::uint16_t port, const printer& print) {
  asio::io_context ctx{1};
  std::error_code ec;
  const char* const opt = a.has("listen") ? "listen" : "bind";
  const std::string where = a.str(opt);
  const auto addr = asio::ip::make_address_v4(where, ec);
  if (ec) throw cli::usage_error{"--" + std::string(opt) + ": '" + where + "' is not an IPv4 address"};
  atcp::acceptor acc(ctx);
  acc.open(atcp::v4());
  acc.set_option(asio::socket_base::reuse_address(true));
  acc.bind(atcp::endpoint(addr, port), ec);
  if (ec)   // a port in use: nothing ran (exit 2), as tcp-echo and http-serve say it
    throw cli::usage_error{"bind " + where + ":" + std::to_string(port) + ": " + ec.message()};
  acc.listen();
  std::fprintf(stderr, "iperf3-server: listening on %s:%u (backend kernel)\n", where.c_str(), port);
  return serve<atcp::acceptor, atcp::socket>(
      ctx, acc, [](atcp::socket& s) { return iperf3::kernel_retransmits(s.native_handle()); }, a.has("once"), print,
      nullptr, cli::run_limits_of(a));
}

// --backend afxdp|dpdk --lanes N (> 1): a server per lane, one registry; no fallback (open_real_lanes).
int run_lanes(const cli::args& a, const std::string& backend, std::uint16_t port, std::uint16_t n, printer print) {
  using srv_t = iperf3::server<bypass::tcp::acceptor, bypass::tcp::socket>;
  auto rl = cli::open_real_lanes(a, backend, "iperf3-server", "tcp=" + std::to_string(port), n);
  print.backend = std::string(rl->dev->backend());
  iperf3::test_registry registry;
  const bool once = a.has("once");
  std::atomic<int> ended{0};   // --once: 1 completed, 2 not; set by the control lane, read by run_lanes' thread
  {
    tcp_apps::lane_apps<srv_t> servers(*rl->lanes, [&](std::size_t q) {
      return std::make_unique<srv_t>(
          rl->lanes->context(q).get_executor(),
          srv_t::hooks{.retransmits = [](bypass::tcp::socket& s) {
                         return s.native() ? static_cast<std::int64_t>(s.native()->counters().retrans_segs) : std::int64_t{-1};
                       },
                       .now_s = steady_s,
                       .on_test_end =
                           [&](const iperf3::test_report& r) {
                             cli::print_atomically(stderr, [&](std::FILE*) { print(r); });
                             if (once) ended.store(r.completed ? 1 : 2, std::memory_order_release);
                           },
                       .log = [](const std::string& l) { std::fprintf(stderr, "iperf3-server: %s\n", l.c_str()); },
                       .registry = &registry,
                       .lane = q});
    });
    const auto why = cli::serve_on_lanes(*rl, servers, "iperf3-server", port, cli::run_limits_of(a),
                                         [&] { return once && ended.load(std::memory_order_acquire) != 0; });
    if (!why.empty()) std::fprintf(stderr, "iperf3-server: ended by %s\n", why.c_str());
    // The lanes are joined: each server ends what it still holds ("stopped") as it goes.
  }
  cli::drain_lanes(*rl->lanes);
  return !once || ended.load() == 1 ? cli::exit_ok : cli::exit_failure;
}

// --backend afxdp|dpdk: nullopt when the device did not open (the caller goes on over kernel sockets).
std::optional<int> run_bypass(const cli::args& a, const std::string& backend, std::uint16_t port, printer print) {
  const auto secret = cli::tcp_secret_of(a);   // a bad value is exit 2 before the device opens
  mcast::host_config host;
  if (auto err = mcast::parse_host(a.str("mac"), a.str("addr"), host); !err.empty()) throw cli::usage_error{err};
  bypass::device_options d;
  d.backend = backend;
  if (backend == "afxdp") {
    if (!a.has("iface")) throw cli::usage_error{"--backend afxdp needs --iface NAME"};
    d.device = a.str("iface") + ":icmp,tcp=" + std::to_string(port);
  } else {
    if (!a.has("vdev")) throw cli::usage_error{"--backend dpdk needs --vdev SPEC (e.g. net_af_xdp0,iface=veth0)"};
    d.device = a.str("vdev");
  }
  auto svc = mcast::open_backend(d, "iperf3-server");
  bypass::device* dev = svc->bypass_device();
  if (!dev) return std::nullopt;
  mcast::bypass_lane lane;
  if (auto ec = mcast::attach_lane(lane, *dev, 0, host, 1, secret)) throw std::system_error(ec, "attach");
  cli::print_device_line("iperf3-server", *dev, host);
  int rc = 0;
  {
    bypass::tcp::acceptor acc(lane.ctx, atcp::endpoint(atcp::v4(), port));
    std::fprintf(stderr, "iperf3-server: listening on %s:%u (backend %.*s)\n", mcast::ipv4_text(host.addr).c_str(), port,
                 static_cast<int>(dev->backend().size()), dev->backend().data());
    print.backend = std::string(dev->backend());
    rc = serve<bypass::tcp::acceptor, bypass::tcp::socket>(
        lane.ctx, acc,
        [](bypass::tcp::socket& s) {
          return s.native() ? static_cast<std::int64_t>(s.native()->counters().retrans_segs) : std::int64_t{-1};
        },
        a.has("once"), print, &lane.svc->iface(), cli::run_limits_of(a));
  }
  // The closes' FINs leave on the next polls; a short run of the lane lets them out.
  lane.ctx.restart();
  lane.ctx.run_for(std::chrono::milliseconds(200));
  return rc;
}

int run(int argc, char** argv) {
  auto av = cli::rewrite_bare_stats(argc, argv);
  cli::args a("iperf3-server", opts, argc, av.data());
  if (a.help()) {
    std::fputs(cli::usage_text("iperf3-server", "[--port N] [--once] [--json] [--backend kernel|afxdp|dpdk ...] [--lanes N] | --backend sim --self-test",
                               "The server side of the iperf3 protocol: stock `iperf3 -c ADDR` (TCP; -t, -n, -k, -P,\n"
                               "-R, -l, -O, -N, -w) measures our TCP, over kernel sockets or the user-space stack on\n"
                               "an AF_XDP (--iface) or DPDK (--vdev) port. UDP, --bidir, -M, -C, -b, --get-server-output\n"
                               "and authentication are refused: the client prints 'an option you are trying to set is\n"
                               "not implemented yet'. --backend sim --self-test [--reverse] [--parallel N]: nothing\n"
                               "outside the process reaches a simulated NIC, so our own iperf3 protocol client runs\n"
                               "against this server over two simulated hosts in this process; exit 0 when the bytes\n"
                               "the server counted are what the client sent (or, --reverse, read in the results).\n"
                               "--lanes N (afxdp, dpdk, sim --self-test): a server on each of N lanes (RX queues); a test's\n"
                               "data connections stay on the lane RSS gives them and meet their control connection's test\n"
                               "by cookie in a registry shared by the lanes (tools/iperf3/README.md).",
                               opts).c_str(), stdout);
    return cli::exit_ok;
  }
  a.expect_positional(0);
  const std::string backend = a.str("backend");
  const auto port = static_cast<std::uint16_t>(a.u64("port", 1, 65535));
  const std::uint16_t lanes = cli::lanes_value(a);
  if (backend == "kernel" && lanes > 1)
    throw cli::usage_error{"--lanes " + std::to_string(lanes) + ": --backend kernel is Linux's TCP, which spreads "
                           "connections over CPUs itself (RPS/RFS); lanes are the bypass backends' (afxdp, dpdk, sim)"};
  if (lanes == 1) a.refuse({"neighbour", "pin"}, "--lanes 1 (the lane learns its peers by ARP)");
  if (backend == "sim" && !a.has("self-test"))
    throw cli::usage_error{"--backend sim: a simulated NIC has no wire that `iperf3 -c` can reach: add --self-test (our "
                           "iperf3 client in this process), or use kernel, afxdp or dpdk"};
  if (backend != "sim") a.refuse({"self-test", "reverse", "parallel", "bytes", "len"}, "--backend " + backend +
                                 " (--self-test options: --backend sim)");
  else a.refuse({"timeout", "stats"}, "--backend sim --self-test (it ends when its test does)");
  if (backend == "sim") a.refuse({"tcp-secret"}, "--backend sim (its stacks keep a fixed secret: a seeded run repeats)");
  (void)cli::run_limits_of(a);   // a bad --timeout or --stats is exit 2 before anything listens
  printer print{.json = a.has("json"), .backend = backend == "sim" ? "sim" : "kernel"};
  if (backend == "sim") return run_sim_self_test(a, port, print);
  if (backend != "kernel" && backend != "afxdp" && backend != "dpdk")
    throw cli::usage_error{"--backend: '" + backend + "' is not one of kernel, afxdp, dpdk"};
  if (backend == "kernel") a.refuse({"iface", "vdev", "mac", "addr", "tcp-secret"}, "--backend kernel (bypass backends only)");
  else a.refuse({"bind", "listen"}, "--backend " + backend + " (the stack's address is --addr)");
  if (a.has("bind") && a.has("listen")) throw cli::usage_error{"--bind and --listen are one option: give one"};
  cli::hold_signals();
  if (backend != "kernel" && lanes > 1) return run_lanes(a, backend, port, lanes, print);
  if (backend != "kernel")
    if (auto rc = run_bypass(a, backend, port, print)) return *rc;
  return run_kernel(a, port, print);
}

const cli::registration reg{{"iperf3-server", "an iperf3 server: stock `iperf3 -c` measures our TCP", run}};
}  // namespace
