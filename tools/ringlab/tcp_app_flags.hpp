#pragma once
// What `ringlab tcp-echo` and `ringlab http-serve` share: the backend flags, --stats[=SECONDS], the
// bypass lane on a real device (afxdp, dpdk; one queue; falls back to kernel sockets as the UDP
// commands do, one log line), the loop that runs a lane with signals, --timeout and --stats, and the
// checksum-offload hint's watch (`ringlab iperf3-server` uses the loop and the watch too).
// Header-only, included by those cmd_*.cpp files (default Asio build).
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asio_bypass/asio_service.hpp"
#include "asio_bypass/tcp_lanes.hpp"
#include "stack/socket/tcp_lane_counters.hpp"
#include "tools/tcp_apps/lane_apps.hpp"
#include "tools/tcp_apps/stats.hpp"
#include "stack/iface/interface.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "tools/mcast/bypass_host.hpp"
#include "tools/ringlab/checksum_hint.hpp"
#include "tools/ringlab/cli.hpp"
#include "tools/ringlab/device_flags.hpp"

namespace ringlab::cli {

// --tcp-secret: every TCP app's (tcp-echo, http-serve, iperf3-server) on real ports.
inline option tcp_secret_option() {
  return {"tcp-secret", "N", "afxdp/dpdk: key the stack's TCP ISNs and SYN cookies from N (1..2^64-1) so that a run "
                             "repeats; without it each lane draws its secret from the OS (sim: a fixed one)"};
}

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
      tcp_secret_option(),
      {"neighbour", "IP=MAC", "afxdp/dpdk with --lanes: a static ARP entry on every lane (repeatable; the NIC gives "
                               "ARP to one queue, so lanes 1.. learn no peer by ARP: mTCP's arp.conf)", "", true},
      {"pin", "", "afxdp/dpdk with --lanes: pin lane q's thread to CPU q"},
      {"lanes", "N", "server: one lane (stack + io_context + thread) per RX queue 0..N-1, a listener on each; "
                     "each connection is served on the lane RSS gives it (afxdp: N queues of --iface; dpdk: "
                     "net_af_xdp with queue_count=N; sim: the server host's N queues; kernel: only 1)", "1"},
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

// --tcp-secret N, or nothing (each real lane draws its own: stack::lane_tcp_secret).
inline std::optional<std::uint64_t> tcp_secret_of(const args& a) {
  if (!a.has("tcp-secret")) return std::nullopt;
  return a.u64("tcp-secret", 1, ~std::uint64_t{0});
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
// The line every TCP app prints once its bypass device is open: which device, in which mode, the stack.
inline void print_device_line(const char* tool, bypass::device& dev, const mcast::host_config& host) {
  std::fprintf(stderr, "%s: backend %.*s, device %s, stack %s/%d\n", tool, static_cast<int>(dev.backend().size()),
               dev.backend().data(), dev.queue(0).caps().name.c_str(), host.addr.to_string().c_str(), host.prefix_len);
}

struct real_lane {
  std::shared_ptr<bypass::AsioService> svc;
  bypass::device* dev = nullptr;
  bypass::device_options opts;
  mcast::bypass_lane lane;
  wire::ipv4_addr addr;   // the stack's (--addr): what a server says it listens on
};
inline std::unique_ptr<real_lane> open_real_lane(const args& a, const std::string& backend, const char* tool,
                                                 const std::string& steering) {
  const auto secret = tcp_secret_of(a);   // a bad value is exit 2 before the device opens
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
  if (auto ec = mcast::attach_lane(r->lane, *r->dev, 0, host, seed, secret)) throw std::system_error(ec, "attach");
  r->addr = host.addr;
  print_device_line(tool, *r->dev, host);
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


// ---- --lanes N on a real device (afxdp, dpdk): bypass::tcp_lanes, a thread per RX queue ----

inline std::uint16_t lanes_value(const args& a) { return static_cast<std::uint16_t>(a.u64("lanes", 1, 64)); }

// The RX queues the kernel gives `iface` (/sys/class/net/IFACE/queues/rx-*: its channel count), or -1
// when the interface is not there to look at (the device's own open says why).
inline int rx_queues_of(const std::string& iface) {
  const std::string dir = "/sys/class/net/" + iface + "/queues";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return -1;
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().filename().string().rfind("rx-", 0) == 0) ++n;
  return n;
}

// How many queues DPDK's net_af_xdp can open on `iface` (xdp_get_channels_info in its
// rte_eth_af_xdp.c): the interface's combined channels (ETHTOOL_GCHANNELS), or 1 when it reports none
// or cannot say (a veth reports rx/tx counts, never combined ones). -1: no such interface.
inline int net_af_xdp_queues_of(const std::string& iface) {
  const unsigned index = ::if_nametoindex(iface.c_str());
  if (index == 0 || iface.size() >= IFNAMSIZ) return -1;
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  ethtool_channels ch{};
  ch.cmd = ETHTOOL_GCHANNELS;
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, iface.c_str(), iface.size());
  ifr.ifr_data = reinterpret_cast<char*>(&ch);
  const bool ok = ::ioctl(fd, SIOCETHTOOL, &ifr) == 0;
  ::close(fd);
  return ok && ch.max_combined != 0 ? static_cast<int>(ch.combined_count) : 1;
}

// "iface=NAME" out of a DPDK vdev spec ("" when it has none).
inline std::string vdev_iface(const std::string& vdev) {
  const auto at = vdev.find("iface=");
  if (at == std::string::npos) return {};
  const auto end = vdev.find(',', at);
  return vdev.substr(at + 6, end == std::string::npos ? std::string::npos : end - at - 6);
}

// --neighbour IP=MAC (repeatable) as tcp_lanes' static entries.
inline std::vector<bypass::neighbour> neighbours_of(const args& a) {
  std::vector<bypass::neighbour> v;
  for (const auto& s : a.all("neighbour")) {
    const auto eq = s.find('=');
    const auto ip = wire::ipv4_addr::parse(s.substr(0, eq == std::string::npos ? 0 : eq));
    const auto mac = eq == std::string::npos ? std::nullopt : wire::mac_addr::parse(s.substr(eq + 1));
    if (!ip || !mac) throw usage_error{"--neighbour: '" + s + "' is not IP=MAC (e.g. 10.0.0.1=02:00:00:00:00:01)"};
    v.push_back({*ip, *mac});
  }
  return v;
}

// The server's lanes on a real device: one per queue 0..N-1, the same host (--mac, --addr) on each.
struct real_lanes {
  std::shared_ptr<bypass::AsioService> svc;
  bypass::device* dev = nullptr;
  bypass::device_options opts;
  std::unique_ptr<bypass::tcp_lanes> lanes;
  wire::ipv4_addr addr;
};

// Opens --iface (afxdp) or --vdev (dpdk, queue_count=N added) with N queues. No fallback to kernel
// sockets here: N lanes are what was asked, and Linux's sockets would give one (exit 1 with why).
// Refused before anything opens (exit 2): an interface with fewer RX queues than N.
inline std::unique_ptr<real_lanes> open_real_lanes(const args& a, const std::string& backend, const char* tool,
                                                   const std::string& steering, std::uint16_t n) {
  auto r = std::make_unique<real_lanes>();
  mcast::host_config host;
  if (auto err = mcast::parse_host(a.str("mac"), a.str("addr"), host); !err.empty()) throw usage_error{err};
  r->opts.backend = backend;
  r->opts.queues = n;
  std::string iface;
  if (backend == "afxdp") {
    if (!a.has("iface")) throw usage_error{"--backend afxdp needs --iface NAME"};
    iface = a.str("iface");
    r->opts.device = iface + ":icmp," + steering;
  } else {
    if (!a.has("vdev")) throw usage_error{"--backend dpdk needs --vdev SPEC (e.g. net_af_xdp0,iface=veth0)"};
    std::string vdev = a.str("vdev");
    if (vdev.find("queue_count=") != std::string::npos)
      throw usage_error{"--vdev: leave queue_count= out with --lanes (it is set to --lanes)"};
    r->opts.device = vdev + ",queue_count=" + std::to_string(n);
    iface = vdev_iface(vdev);
  }
  if (!iface.empty() && backend == "dpdk" && a.str("vdev").rfind("net_af_xdp", 0) == 0) {
    // DPDK's own refusal would come after "falling back to kernel" (which --lanes then refuses) and
    // only in its log: say it first.
    if (const int have = net_af_xdp_queues_of(iface); have >= 0 && have < n)
      throw usage_error{"--lanes " + std::to_string(n) + ": DPDK's net_af_xdp opens one queue per combined channel of " +
                        iface + ", and it has " + (have == 1 ? std::string("1 (no channels: one queue)") : std::to_string(have)) +
                        "; a lane needs one each (ethtool -L " + iface + " combined " + std::to_string(n) +
                        "; a veth has no channels: use --backend afxdp for lanes on a veth)"};
  } else if (!iface.empty())
    if (const int have = rx_queues_of(iface); have >= 0 && have < n)
      throw usage_error{"--lanes " + std::to_string(n) + ": interface " + iface + " has " + std::to_string(have) +
                        " RX queue" + (have == 1 ? "" : "s") + " (channels); a lane needs one each (ethtool -L " +
                        iface + " combined " + std::to_string(n) + ", or a veth made with numrxqueues)"};
  const std::uint64_t seed = a.u64("seed");
  apply_device_flags(a, r->opts, seed);
  bypass::tcp_lanes_options o;
  o.iface = mcast::interface_of(host, seed);
  o.drive = bypass::drive_mode::busy_poll;
  o.neighbours = neighbours_of(a);
  o.pin = a.has("pin");
  o.seed = seed;
  o.tcp_secret = tcp_secret_of(a);
  r->svc = mcast::open_backend(r->opts, tool);
  r->dev = r->svc->bypass_device();
  if (!r->dev)
    throw std::runtime_error("--lanes " + std::to_string(n) + ": the " + backend +
                             " device did not open (above); kernel sockets would be one lane: not falling back");
  if (r->dev->queues() != n)
    throw std::runtime_error("--lanes " + std::to_string(n) + ": the device opened " + std::to_string(r->dev->queues()) +
                             " queues");
  r->lanes = std::make_unique<bypass::tcp_lanes>(*r->dev, std::move(o));
  r->addr = host.addr;
  std::fprintf(stderr, "%s: backend %.*s, device %s, %u lanes (queues 0..%u), stack %s/%d\n", tool,
               static_cast<int>(r->dev->backend().size()), r->dev->backend().data(), r->dev->queue(0).caps().name.c_str(),
               static_cast<unsigned>(n), static_cast<unsigned>(n - 1), host.addr.to_string().c_str(), host.prefix_len);
  return r;
}

// What a threaded multi-lane run shares across lanes, for the main thread: each lane's TCP counters
// as the lane last copied them (every --stats period, on its own thread) under a lock that only those
// copies and the main thread's prints take: never the per-packet path.
class lane_snapshots {
 public:
  explicit lane_snapshots(std::size_t lanes) : c_(lanes) {}
  void put(std::size_t lane, const stack::tcp_lane_counters& c) {
    std::lock_guard g(m_);
    c_[lane] = c;
  }
  std::vector<stack::tcp_lane_counters> all() const {
    std::lock_guard g(m_);
    return c_;
  }

 private:
  mutable std::mutex m_;
  std::vector<stack::tcp_lane_counters> c_;
};

// One report of a lane, as one write (lanes print from their own threads: no interleaved lines).
template <class Print>
void print_atomically(std::FILE* out, Print&& print) {
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* mem = ::open_memstream(&buf, &len);
  if (!mem) return print(out);
  print(mem);
  std::fclose(mem);
  std::fwrite(buf, 1, len, out);
  std::fflush(out);
  std::free(buf);
}

// Runs the lanes (a thread each) until SIGINT/SIGTERM/SIGHUP, timeout_s (> 0) or finished() (polled
// every 20 ms on this thread: an app's --count, from atomics its lanes set). Per lane, on the lane's
// thread: lane_tick(q, elapsed_s) every every_s (> 0), after it copied its counters for the summed
// line this thread prints ("all lanes"), and lane_check(q) every check_period_s. Returns "signal",
// "timeout" or "" (finished()). After it returns the lanes are joined: the caller may read them all.
inline std::string run_lanes(bypass::tcp_lanes& lanes, const char* tool, double timeout_s, double every_s,
                             const std::function<void(std::size_t lane, double elapsed_s)>& lane_tick,
                             const std::function<void(std::size_t lane)>& lane_check,
                             const std::function<bool()>& finished) {
  const auto start = std::chrono::steady_clock::now();
  const auto dur = [](double s) {
    return std::chrono::ceil<std::chrono::nanoseconds>(std::chrono::duration<double>(s));
  };
  lane_snapshots snaps(lanes.size());
  // Per-lane timers: made here, armed on the lane's io_context before start() (allowed: no thread yet),
  // then only touched by their lane's handlers.
  struct lane_timers {
    explicit lane_timers(asio::io_context& c) : tick(c), check(c) {}
    asio::steady_timer tick, check;
    std::function<void()> arm_tick, arm_check;
  };
  std::vector<std::unique_ptr<lane_timers>> timers;
  lanes.for_each_lane([&](std::size_t q, asio::io_context& ctx) {
    auto t = std::make_unique<lane_timers>(ctx);
    lane_timers* p = t.get();
    if (every_s > 0 && lane_tick) {
      p->arm_tick = [&, p, q] {
        p->tick.expires_after(dur(every_s));
        p->tick.async_wait([&, p, q](const std::error_code& ec) {
          if (ec) return;
          snaps.put(q, lanes.tcp_counters(q));
          lane_tick(q, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
          p->arm_tick();
        });
      };
      p->arm_tick();
    }
    if (lane_check) {
      p->arm_check = [&, p, q] {
        p->check.expires_after(dur(check_period_s));
        p->check.async_wait([&, p, q](const std::error_code& ec) {
          if (ec) return;
          lane_check(q);
          p->arm_check();
        });
      };
      p->arm_check();
    }
    timers.push_back(std::move(t));
  });
  std::string why;
  {
    asio::io_context ctx{1};
    asio::signal_set signals(ctx, SIGINT, SIGTERM, SIGHUP);
    signals.async_wait([&](const std::error_code& ec, int) {
      if (!ec) why = "signal", ctx.stop();
    });
    asio::steady_timer timeout(ctx), poll(ctx), sum(ctx);
    if (timeout_s > 0) {
      timeout.expires_after(dur(timeout_s));
      timeout.async_wait([&](const std::error_code& ec) {
        if (!ec) why = "timeout", ctx.stop();
      });
    }
    std::function<void()> look = [&] {
      poll.expires_after(std::chrono::milliseconds(20));
      poll.async_wait([&](const std::error_code& ec) {
        if (ec) return;
        if (finished && finished()) return ctx.stop();
        look();
      });
    };
    look();
    // The summed counters, half a period after the lanes' own blocks (their copies are fresh).
    std::function<void()> add_up = [&] {
      sum.async_wait([&](const std::error_code& ec) {
        if (ec) return;
        print_atomically(stderr, [&](std::FILE* out) {
          std::fprintf(out, "%s: all lanes at %f s (each lane's last copy)\n", tool,
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
          std::fputs(stack::to_nstat(tcp_apps::sum(snaps.all())).c_str(), out);
        });
        sum.expires_at(sum.expiry() + dur(every_s));
        add_up();
      });
    };
    if (every_s > 0 && lane_tick) {
      sum.expires_after(dur(every_s * 1.5));
      add_up();
    }
    lanes.start();
    if (interrupted()) why = "signal";
    else ctx.run();
    lanes.stop();
    lanes.join();
  }
  hold_signals();
  return why;
}

// A server app on every lane (lane_apps: an instance per lane, each fed by its lane's listener on
// `port`), run by run_lanes: per-lane --stats blocks from each lane's thread, "all lanes" sums from
// this one, the checksum hint per lane; at exit (the lanes joined) every lane's block and the sum, and
// what the sockets' closes queued sent. Returns what ended the run (run_lanes).
template <class App>
std::string serve_on_lanes(real_lanes& rl, tcp_apps::lane_apps<App>& apps, const char* tool, std::uint16_t port,
                           const run_limits& lim, const std::function<bool()>& finished) {
  bypass::tcp_lanes& lanes = *rl.lanes;
  if (auto ec = apps.listen({asio::ip::address_v4::any(), port}))
    throw std::runtime_error("listen on port " + std::to_string(port) + ": " + ec.message());
  std::fprintf(stderr, "%s: listening on %s:%u on %zu lanes (backend %.*s)\n", tool, rl.addr.to_string().c_str(), port,
               lanes.size(), static_cast<int>(rl.dev->backend().size()), rl.dev->backend().data());
  std::vector<checksum_watch> watch;
  for (std::size_t q = 0; q < lanes.size(); ++q) watch.emplace_back(tool, rl.dev->backend(), &lanes.service(q).iface());
  const auto why = run_lanes(
      lanes, tool, lim.timeout_s, lim.every_s,
      [&](std::size_t q, double t) {
        print_atomically(stderr, [&](std::FILE* out) {
          tcp_apps::print_stats(out, stats_title(tool, t) + ", lane " + std::to_string(q), &lanes.service(q).iface(),
                                apps[q]);
        });
      },
      [&](std::size_t q) { watch[q](); }, finished);
  for (auto& w : watch) w();
  if (lim.every_s >= 0)
    tcp_apps::print_lanes_stats(
        stderr, std::string(tool) + ": stats at exit", lanes.size(),
        [&](std::size_t q) -> const stack::interface& { return lanes.service(q).iface(); },
        [&](std::size_t q) -> App& { return apps[q]; });
  return why;
}

// After the apps closed their sockets: what the closes left in the stack (echo bytes still in a send
// buffer, the FIN, their retransmissions) goes out before the process does. A fixed number of polls
// was not enough: a server that ended by --count when the client's FIN came could exit with the last
// 100+ KB of the echo unsent (the netns dpdk socat case, 3 runs in 4). Polls until the stack has no
// timer left (every connection closed: a passive closer keeps no TIME_WAIT) or `limit` passed.
inline void drain_lane(bypass::bypass_service& svc, std::chrono::milliseconds limit = std::chrono::milliseconds(2000)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  for (int i = 0; i < 100 || std::chrono::steady_clock::now() < until; ++i)
    if (svc.poll_once() == stack::never && i >= 100) break;
}
inline void drain_lanes(bypass::tcp_lanes& lanes) {
  for (std::size_t q = 0; q < lanes.size(); ++q) drain_lane(lanes.service(q));
}

}  // namespace ringlab::cli
