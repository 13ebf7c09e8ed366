// ringlab mcast-send: each input line becomes one multicast datagram (tools/mcast/datagram.hpp).
// The asynchronous pattern of the seed: this thread reads lines and calls async_send(), which returns
// at once; the AsioService's loop thread sends them in order. At the end of the input async_finish()
// stops the loop once the queue is empty.
//
// --backend sim|afxdp|dpdk: the same mcast::sender template runs over ringlab::bypass::udp::socket on
// the user-space stack (tools/mcast/bypass_host.hpp). sim has no wire: the frames the stack sends go
// to --out FILE.pcap (sim_nic's TX capture). afxdp / dpdk open a real port; when it cannot open, one
// line says why and the run goes on over kernel sockets.
#include <asio/signal_set.hpp>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "asio_bypass/asio_service.hpp"
#include "sim_nic/pcap_trace.hpp"
#include "tools/mcast/app.hpp"
#include "tools/mcast/bypass_host.hpp"
#include "tools/mcast/endpoints.hpp"
#include "tools/mcast/options.hpp"
#include "tools/ringlab/cli.hpp"
#include "tools/ringlab/device_flags.hpp"

namespace {
using namespace ringlab;

const std::vector<cli::option> opts = cli::with_device_flags({
    {"group", "ADDR", "IPv4 multicast group to send to (224.0.0.0/4)"},
    {"port", "N", "UDP port", "5000"},
    {"file", "PATH", "read lines from PATH instead of standard input"},
    {"ttl", "N", "multicast TTL (0-255)", "1"},
    {"loopback", "on|off", "local receivers on this host get a copy", "on"},
    {"iface", "NAME", "outgoing interface (default: the routing table's choice); afxdp: the interface"},
    {"io", "epoll|uring", "the kernel backend's reactor", "epoll"},
    {"backend", "NAME", "kernel, sim (frames to --out), afxdp (--iface), dpdk (--vdev)", "kernel"},
    {"out", "FILE", "sim: write the frames the stack sends to this pcap"},
    {"vdev", "SPEC", "dpdk: the device, e.g. net_af_xdp0,iface=veth0 or net_pcap0,tx_pcap=out.pcap"},
    {"mac", "MAC", "bypass backends: the stack's MAC address", "02:00:00:00:00:01"},
    {"addr", "A.B.C.D/P", "bypass backends: the stack's IPv4 address and prefix length", "10.0.0.1/24"},
    {"json", "", "print the summary as one JSON object"},
});

void check(const std::string& err) {
  if (!err.empty()) throw cli::usage_error{err};
}

// Calls on_line for each line of fd; stops early once stop() says so (a signal), checking every
// 100 ms even while the input is silent (a terminal). A last line without a newline counts.
template <class OnLine, class Stop>
void read_lines(int fd, OnLine on_line, Stop stop) {
  std::string pending;
  char buf[65536];
  while (!stop()) {
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, 100);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
      on_line(pending.substr(start, nl - start));
    pending.erase(0, start);
  }
  if (!pending.empty() && !stop()) on_line(std::move(pending));
}

// Interrupted by a signal: says how much of the input never left, and the run fails (exit 1).
int report_interrupt(int signo, std::uint64_t lines_read, const mcast::send_stats& s) {
  const char* abbrev = sigabbrev_np(signo);
  const std::uint64_t done = s.sent + s.errors;
  std::fprintf(stderr, "mcast-send: interrupted by SIG%s: %lu lines read, %lu sent, %lu read but not sent\n",
               abbrev ? abbrev : "?", lines_read, s.sent, lines_read > done ? lines_read - done : 0);
  return cli::exit_failure;
}

void print_summary(const cli::args& a, const mcast::send_stats& s, const mcast::send_options& o, std::string_view io,
                   std::string_view backend) {
  const std::string group = mcast::ipv4_to_string(o.group);
  if (a.has("json")) {
    // As mcast-recv's: what does not apply is null (io on the bypass backends).
    const std::string io_json = io.empty() ? "null" : "\"" + std::string(io) + "\"";
    std::printf("{\"group\":\"%s\",\"port\":%u,\"queued\":%lu,\"sent\":%lu,\"payload_bytes\":%lu,\"bytes\":%lu,"
                "\"errors\":%lu,\"io\":%s,\"backend\":\"%.*s\"}\n",
                group.c_str(), o.port, s.queued, s.sent, s.payload_bytes, s.bytes, s.errors, io_json.c_str(),
                static_cast<int>(backend.size()), backend.data());
  } else {
    std::printf("mcast-send: sent %lu of %lu datagrams (%lu payload bytes, %lu UDP bytes) to %s:%u, %lu errors%s%s\n",
                s.sent, s.queued, s.payload_bytes, s.bytes, group.c_str(), o.port, s.errors,
                s.errors ? ": " : "", s.last_error.c_str());
  }
}

// --backend sim|afxdp|dpdk. Returns the exit code; a real device that does not open returns nullopt
// after saying why once (the caller goes on over kernel sockets). Closes fd when it runs.
std::optional<int> run_bypass(const cli::args& a, const std::string& backend, const mcast::send_options& o, int fd) {
  mcast::host_config host;
  check(mcast::parse_host(a.str("mac"), a.str("addr"), host));
  bypass::device_options d;
  d.backend = backend;
  // sim: nothing to replay (an empty trace); what the stack sends is the point.
  const sim::pcap_trace nothing = sim::pcap_trace::from_frames({}, {});
  if (backend == "sim") {
    if (!a.has("out")) throw cli::usage_error{"--backend sim needs --out FILE.pcap (where the sent frames go)"};
    d.trace = &nothing;
    d.sim.pool = {.frames = 2048, .frame_size = 2048, .headroom = 256};
    d.sim.tx_pcap = a.str("out");
  } else if (backend == "afxdp") {
    if (!a.has("iface")) throw cli::usage_error{"--backend afxdp needs --iface NAME"};
    d.device = a.str("iface");
  } else {
    if (!a.has("vdev")) throw cli::usage_error{"--backend dpdk needs --vdev SPEC (e.g. net_af_xdp0,iface=veth0)"};
    d.device = a.str("vdev");
  }
  // AsioService opens the device; a bypass backend that cannot start falls back to kernel sockets
  // (the reason logged once), except sim, whose failures are the user's input (a file, a path).
  cli::apply_device_flags(a, d, 1);   // --tap, --faults, --trace: decorators on every queue
  std::shared_ptr<bypass::AsioService> svc;
  try {
    svc = mcast::open_backend(d, "mcast-send");
  } catch (const std::runtime_error& e) {
    throw cli::usage_error{e.what()};
  }
  bypass::device* dev = svc->bypass_device();
  if (!dev && (!d.tap.empty() || d.faults || d.trace_hops)) {   // kernel sockets have no port to decorate
    std::fprintf(stderr, "mcast-send: --tap, --faults and --trace need the bypass device: not falling back to kernel\n");
    return cli::exit_failure;
  }
  if (!dev) return std::nullopt;
  cli::start_virtual_clock(*dev);   // sim: no trace, so the clock starts at a fixed epoch, not 1970
  mcast::bypass_lane lane;
  if (auto ec = mcast::attach_lane(lane, *dev, 0, host, 1)) throw std::system_error(ec, "attach");
  std::optional<int> rc;
  {
    bypass::udp::socket sock(lane.ctx);
    sock.bind(asio::ip::udp::endpoint(asio::ip::address_v4(host.addr.value), 0));
    sock.set_multicast_ttl(static_cast<std::uint8_t>(o.ttl));
    sock.set_multicast_loop(o.loopback);
    mcast::sender<bypass::udp::socket> sender(sock, {asio::ip::address_v4(o.group), o.port});
    bool finished = false;
    std::uint64_t lines_read = 0;
    int signo = 0;
    if (auto* nic = dev->sim_nic()) {
      // Virtual time: read everything, then let the loop send it (the queue is in memory either way).
      // A signal while reading stops the run before anything is sent.
      cli::catch_interrupts();
      read_lines(fd, [&](std::string line) { ++lines_read, sender.async_send(std::move(line)); },
                 [] { return cli::interrupted() != 0; });
      signo = cli::interrupted();
      if (signo == 0) {
        sender.async_finish([&] { finished = true; });
        std::vector<mcast::bypass_lane*> lanes{&lane};
        mcast::run_replay(*nic, lanes, 32, 0, [&] { return finished; });
      }
      nic->flush_tx();
    } else {
      // A real port: this thread runs the loop (busy-polling the port), a reader thread feeds the sender.
      asio::signal_set signals(lane.ctx, SIGINT, SIGTERM);
      std::atomic<bool> stop{false};
      signals.async_wait([&](const std::error_code& ec, int s) {
        if (!ec) signo = s, stop = true, lane.ctx.stop();
      });
      std::thread reader([&] {
        read_lines(fd, [&](std::string line) { ++lines_read, sender.async_send(std::move(line)); },
                   [&] { return stop.load(); });
        sender.async_finish([&] { finished = true, lane.ctx.stop(); });
      });
      lane.ctx.run();
      stop = true;
      reader.join();
    }
    if (fd != STDIN_FILENO) ::close(fd);
    const auto s = sender.stats();
    print_summary(a, s, o, "", dev->backend());
    rc = s.errors == 0 && s.sent == s.queued && finished ? cli::exit_ok : cli::exit_failure;
    if (signo != 0) rc = report_interrupt(signo, lines_read, s);
  }
  (void)cli::report_device_flags(stderr, "mcast-send", *dev, d);
  // sim: every frame back in the pool once the socket closed (a leak fails the run, as in demo).
  if (auto* nic = dev->sim_nic()) {
    nic->return_cache();
    if (const auto out = nic->pool().out(); out != 0) {
      std::fprintf(stderr, "mcast-send: %u pool frames not returned after the run (a leak)\n", out);
      rc = cli::exit_failure;
    }
  }
  if (!rc) return rc;
  return cli::finish_run("mcast-send", *rc, *dev, d);
}

int run(int argc, char** argv) {
  cli::args a("mcast-send", opts, argc, argv);
  if (a.help()) {
    std::fputs(cli::usage_text("mcast-send", "--group ADDR [options] [< lines]",
                               "Sends each input line as one UDP datagram to a multicast group, with a sequence\n"
                               "number and a send time in front (tools/mcast/README.md has the format).\n"
                               "--backend sim|afxdp|dpdk sends from the user-space stack (--mac, --addr); sim\n"
                               "writes the frames to --out FILE.pcap. An afxdp/dpdk device that does not open\n"
                               "says why in one line and the run falls back to kernel sockets. SIGINT/SIGTERM stop\n"
                               "the run: it says how many lines were read but not sent, and exits 1.",
                               opts).c_str(), stdout);
    return cli::exit_ok;
  }
  a.expect_positional(0, "the lines come from standard input or --file FILE");
  if (!a.has("group")) throw cli::usage_error{"--group is required (an IPv4 multicast address)"};
  mcast::send_options o;
  check(mcast::parse_group(a.str("group"), o.group));
  o.port = static_cast<std::uint16_t>(a.u64("port", 1, 65535));
  o.ttl = static_cast<unsigned>(a.u64("ttl", 0, 255));
  check(mcast::parse_on_off("loopback", a.str("loopback"), o.loopback));
  check(mcast::parse_iface(a.str("iface"), o.ifindex));   // a missing interface is exit 2, no fallback
  check(mcast::check_io(a.str("io")));
  check(mcast::check_backend(a.str("backend")));
  const std::string backend = a.str("backend");
  if (backend == "sim" && a.has("iface")) throw cli::usage_error{"--iface is for the kernel and afxdp backends"};
  if (backend == "kernel") a.refuse({"out", "vdev", "mac", "addr", "tap", "faults", "trace"}, "--backend kernel (bypass backends only)");
  if (backend == "sim") a.refuse({"io"}, "--backend sim (the user-space stack, no kernel socket to fall back to)");
  if (backend == "sim" || backend == "afxdp") a.refuse({"vdev"}, "--backend " + backend + " (dpdk only)");
  if (backend != "sim") a.refuse({"out"}, "--backend " + backend + " (sim only: a real device sends on its wire)");
  int fd = STDIN_FILENO;
  if (a.has("file")) {
    fd = ::open(a.str("file").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw cli::usage_error{"--file: cannot read '" + a.str("file") + "': " + std::strerror(errno)};
    struct stat st{};
    if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
      ::close(fd);
      throw cli::usage_error{"--file: cannot read '" + a.str("file") + "': " + std::strerror(EISDIR)};
    }
  }

  if (backend != "kernel")
    if (auto rc = run_bypass(a, backend, o, fd)) return *rc;
  auto svc = bypass::AsioService::create(
      {.backend = "kernel", .io = *bypass::parse_io_mode(a.str("io")), .threads = 1});
  auto sender = mcast::make_kernel_sender(*svc, o);
  svc->start();
  std::uint64_t lines_read = 0;
  read_lines(fd, [&](std::string line) { ++lines_read, sender->async_send(std::move(line)); },
             [&] { return svc->stop_requested(); });
  if (fd != STDIN_FILENO) ::close(fd);
  sender->async_finish([&svc] { svc->stop(); });
  svc->join();

  const auto s = sender->stats();
  print_summary(a, s, o, a.str("io"), svc->backend());
  if (auto signo = svc->stop_signal()) return report_interrupt(*signo, lines_read, s);
  return s.errors == 0 && s.sent == s.queued ? cli::exit_ok : cli::exit_failure;
}

const cli::registration reg{{"mcast-send", "send input lines as multicast datagrams (seq-numbered)", run}};
}  // namespace
