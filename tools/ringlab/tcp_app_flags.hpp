#pragma once
// What `ringlab tcp-echo` and `ringlab http-serve` share: the backend flags, --stats[=SECONDS], the
// bypass lane on a real device (afxdp, dpdk; one queue; falls back to kernel sockets as the UDP
// commands do, one log line), the loop that runs a lane with signals, --timeout and --stats, and the
// checksum-offload hint's watch (`ringlab iperf3-server` uses the loop and the watch too).
// Header-only, included by those cmd_*.cpp files (default Asio build).
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asio_bypass/asio_service.hpp"
#include "stack/iface/interface.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "tools/mcast/bypass_host.hpp"
#include "tools/ringlab/checksum_hint.hpp"
#include "tools/ringlab/cli.hpp"
#include "tools/ringlab/device_flags.hpp"

namespace ringlab::cli {

inline std::vector<option> tcp_backend_options(std::string_view afxdp_steering) {
  return {
      {"backend", "NAME", "kernel (Linux TCP), sim (two simulated hosts in this process, no privileges), afxdp "
                          "(--iface), dpdk (--vdev); afxdp/dpdk fall back to kernel when the device cannot open",
       "kernel"},
      {"iface", "NAME", "afxdp: the interface whose queue 0 the stack takes; " + std::string(afxdp_steering)},
      {"vdev", "SPEC", "dpdk: the device, e.g. net_af_xdp0,iface=veth0"},
      {"mac", "MAC", "afxdp/dpdk: the stack's MAC address (use the interface's own)", "02:00:00:00:00:02"},
      {"addr", "A.B.C.D/P", "afxdp/dpdk: the stack's IPv4 address and prefix length", "10.0.0.2/24"},
      {"seed", "N", "seed (sim: the wire's faults and the stack; client: the bytes sent)", "1"},
      {"timeout", "SECONDS", "stop after this many seconds, 0 for no limit (sim: virtual seconds, and 0 there "
                             "means 600)", "0"},
      // "[=SECONDS]": usage_text prints it joined, `--stats[=SECONDS]` (the value is optional).
      {"stats", "[=SECONDS]", "print per-lane counters (as nstat -az) and each open connection (as ss -ti) to "
                              "standard error at exit; with =S also every S seconds (sim: virtual seconds)"},
  };
}

// `--stats` alone means "at exit only": the parser wants a value, so the bare flag becomes --stats=0.
inline std::vector<char*> rewrite_bare_stats(int argc, char** argv) {
  static char at_exit[] = "--stats=0";
  std::vector<char*> v(argv, argv + argc);
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--") break;
    if (std::string_view(argv[i]) == "--stats") v[static_cast<std::size_t>(i)] = at_exit;
  }
  v.push_back(nullptr);
  return v;
}

// -1: no --stats; 0: at exit only; > 0: every that many seconds and at exit.
inline double stats_every(const args& a) { return a.has("stats") ? a.real("stats", 0, 86400) : -1; }

// --timeout and --stats, read (and refused when bad) before anything binds or opens: exit 2 means
// nothing was run.
struct run_limits {
  double timeout_s = 0;   // 0: none
  double every_s = -1;    // stats_every()
};
inline run_limits run_limits_of(const args& a) { return {a.real("timeout", 0, 1e6), stats_every(a)}; }

// The title of a --stats block on a real lane or kernel sockets: "TOOL: stats at 2.000131 s" (the
// time since the lane started; sim's say "(virtual)").
inline std::string stats_title(std::string_view tool, double elapsed_s) {
  return std::string(tool) + ": stats at " + std::to_string(elapsed_s) + " s";
}

inline std::uint16_t port_value(const args& a, std::string_view name) {
  return static_cast<std::uint16_t>(a.u64(name, 1, 65535));
}

inline wire::ipv4_addr ipv4_value(const args& a, std::string_view name, std::string_view fallback) {
  const std::string v = a.has(name) ? a.str(name) : std::string(fallback);
  const auto ip = wire::ipv4_addr::parse(v);
  if (!ip || ip->is_multicast() || ip->is_broadcast())
    throw usage_error{"--" + std::string(name) + ": '" + v + "' is not a unicast IPv4 address"};
  return *ip;
}

// "1M", "64k", "1048576": bytes with an optional binary suffix (k, M, G).
inline std::uint64_t size_value(const args& a, std::string_view name, std::uint64_t hi) {
  std::string v = a.str(name);
  std::uint64_t mul = 1;
  if (!v.empty()) {
    switch (v.back()) {
      case 'k': case 'K': mul = 1ull << 10; break;
      case 'm': case 'M': mul = 1ull << 20; break;
      case 'g': case 'G': mul = 1ull << 30; break;
      default: break;
    }
    if (mul != 1) v.pop_back();
  }
  std::uint64_t n = 0;
  bool ok = !v.empty() && v.size() <= 12;
  for (char c : v) ok = ok && c >= '0' && c <= '9', n = n * 10 + static_cast<std::uint64_t>(c - '0');
  if (!ok || n * mul > hi)
    throw usage_error{"--" + std::string(name) + ": '" + a.str(name) + "' is not a size in 0.." + std::to_string(hi) +
                      " bytes (suffix k, M, G allowed)"};
  return n * mul;
}

// A bypass lane on a real device (afxdp: `steering` is the XDP program's part of the spec, e.g.
// "tcp=7007"). nullptr after one log line when the device cannot open: the caller goes on over
// kernel sockets, unless a device flag (--tap, --faults, --trace) asked for the device (then throws
// a failure: kernel sockets have no port to decorate).
struct real_lane {
  std::shared_ptr<bypass::AsioService> svc;
  bypass::device* dev = nullptr;
  bypass::device_options opts;
  mcast::bypass_lane lane;
  wire::ipv4_addr addr;   // the stack's (--addr): what a server says it listens on
};
inline std::unique_ptr<real_lane> open_real_lane(const args& a, const std::string& backend, const char* tool,
                                                 const std::string& steering) {
  auto r = std::make_unique<real_lane>();
  mcast::host_config host;
  if (auto err = mcast::parse_host(a.str("mac"), a.str("addr"), host); !err.empty()) throw usage_error{err};
  r->opts.backend = backend;
  if (backend == "afxdp") {
    if (!a.has("iface")) throw usage_error{"--backend afxdp needs --iface NAME"};
    r->opts.device = a.str("iface") + ":icmp," + steering;
  } else {
    if (!a.has("vdev")) throw usage_error{"--backend dpdk needs --vdev SPEC (e.g. net_af_xdp0,iface=veth0)"};
    r->opts.device = a.str("vdev");
  }
  const std::uint64_t seed = a.u64("seed");
  apply_device_flags(a, r->opts, seed);
  r->svc = mcast::open_backend(r->opts, tool);
  r->dev = r->svc->bypass_device();
  if (!r->dev) {
    if (!r->opts.tap.empty() || r->opts.faults || r->opts.trace_hops)
      throw std::runtime_error("--tap, --faults and --trace need the bypass device: not falling back to kernel");
    return nullptr;
  }
  if (auto ec = mcast::attach_lane(r->lane, *r->dev, 0, host, seed)) throw std::system_error(ec, "attach");
  r->addr = host.addr;
  std::fprintf(stderr, "%s: backend %.*s, device %s, stack %s/%d\n", tool, static_cast<int>(r->dev->backend().size()),
               r->dev->backend().data(), r->dev->queue(0).caps().name.c_str(), host.addr.to_string().c_str(),
               host.prefix_len);
  return r;
}

// The checksum-offload hint on a real lane (checksum_hint.hpp): a TCP peer behind a veth with TX
// checksum offload on has every segment dropped, and the app would wait with nothing said. Call it on
// the lane's thread (run_lane's check, and once at exit); it prints the hint once. No stack (kernel
// sockets): nothing to look at.
class checksum_watch {
 public:
  checksum_watch(const char* tool, std::string_view backend, const stack::interface* iface)
      : tool_(tool), backend_(backend), iface_(iface) {}
  void operator()() {
    if (said_ || !iface_) return;
    const auto& c = iface_->tcp_counters();
    const std::string line = tcp_checksum_offload_hint(tool_, backend_, c.in_segs, c.in_errs, c.in_csum_errors);
    if (line.empty()) return;
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
    said_ = true;
  }

 private:
  const char* tool_;
  std::string backend_;
  const stack::interface* iface_;
  bool said_ = false;
};

// How often run_lane calls its check while the lane runs (also when idle: the case it is for).
inline constexpr double check_period_s = 1.0;

// Signals from the start of a run to its end are the user's "stop", exit 0 like a stop during the
// run: call it before the device opens (or the kernel socket binds). Without it a SIGINT while an
// AF_XDP port opens meets the port's own handler, which detaches its program and re-raises the
// signal (exit 130), and one after run_lane, while the device closes, meets SIG_DFL. The flag it
// sets is run_lane's to read.
inline void hold_signals() { catch_interrupts(); }

// Runs `ctx` (a lane: one thread, this one) until stop() is called on it, SIGINT/SIGTERM/SIGHUP (or
// one held by hold_signals() before it ran), or timeout_s (> 0). every_s > 0: stats(seconds since
// the start) every that many seconds, on this thread (the lane's: it may read the stack); check(),
// when given, every check_period_s. Returns "signal", "timeout" or "" (stopped by the application).
inline std::string run_lane(asio::io_context& ctx, double timeout_s, double every_s,
                            const std::function<void(double elapsed_s)>& stats,
                            const std::function<void()>& check = {}) {
  std::string why;
  {
    asio::signal_set signals(ctx, SIGINT, SIGTERM, SIGHUP);
    signals.async_wait([&](const std::error_code& ec, int) {
      if (!ec) why = "signal", ctx.stop();
    });
    asio::steady_timer timeout(ctx), ticker(ctx), checker(ctx);
    const auto start = std::chrono::steady_clock::now();
    if (timeout_s > 0) {
      timeout.expires_after(std::chrono::ceil<std::chrono::nanoseconds>(std::chrono::duration<double>(timeout_s)));
      timeout.async_wait([&](const std::error_code& ec) {
        if (!ec) why = "timeout", ctx.stop();
      });
    }
    const auto period = std::chrono::ceil<std::chrono::nanoseconds>(std::chrono::duration<double>(every_s));
    std::function<void()> tick = [&] {
      ticker.expires_after(period);
      ticker.async_wait([&](const std::error_code& ec) {
        if (ec) return;
        stats(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        tick();
      });
    };
    if (every_s > 0) tick();
    const auto check_period =
        std::chrono::ceil<std::chrono::nanoseconds>(std::chrono::duration<double>(check_period_s));
    std::function<void()> look = [&] {
      checker.expires_after(check_period);
      checker.async_wait([&](const std::error_code& ec) {
        if (ec) return;
        check();
        look();
      });
    };
    if (check) look();
    if (interrupted()) {   // before the set above took the signals over: the run is over before it began
      why = "signal";
    } else {
      ctx.restart();
      ctx.run();
    }
  }
  // The set gave the signals back to SIG_DFL: a signal while the lane closes is held, not fatal.
  hold_signals();
  return why;
}

}  // namespace ringlab::cli
