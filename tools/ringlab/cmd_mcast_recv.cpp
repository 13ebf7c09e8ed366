// ringlab mcast-recv: joins a multicast group (a kernel IGMP join, visible in /proc/net/igmp), prints
// each message's payload, and tells loss, reordering and duplicates from the sequence numbers. Ends on
// SIGINT/SIGTERM, after --count messages, or after --timeout seconds, with a summary (--json: one JSON
// object as the last line of standard output).
//
// --backend sim|afxdp|dpdk: the same receive runs over ringlab::bypass::udp::socket on the user-space
// stack (tools/mcast/bypass_host.hpp). sim replays --replay FILE through sim_nic on its virtual clock,
// prints every delivered datagram as "SRC:PORT > DST:PORT seq=N PAYLOAD" in wire order, and writes
// what the stack sent (ARP / echo replies, IGMP reports) to --out FILE.pcap. afxdp / dpdk open a real
// port; when it cannot open, one line says why and the run goes on over kernel sockets.
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <optional>
#include <string>

#include "asio_bypass/asio_service.hpp"
#include "trace/trace.hpp"
#include "sim_nic/pcap_stream.hpp"
#include "tools/mcast/bypass_host.hpp"
#include "tools/mcast/endpoints.hpp"
#include "tools/mcast/options.hpp"
#include "tools/ringlab/checksum_hint.hpp"
#include "tools/ringlab/cli.hpp"
#include "tools/ringlab/device_flags.hpp"

namespace {
using namespace ringlab;

const std::vector<cli::option> opts = cli::with_device_flags({
    // usage_text adds "(repeatable)": the help says only where more than one applies.
    {"group", "ADDR", "IPv4 multicast group to join (224.0.0.0/4); more than one: bypass backends only", "", true},
    {"port", "N", "UDP port (default 5000); more than one: bypass backends only, every group on every port", "",
     true},
    {"iface", "NAME", "interface to join on (default: the routing table's choice); afxdp: the interface"},
    {"count", "N", "stop after N messages (0: no limit)", "0"},
    {"timeout", "SECONDS", "stop after this long (0: no limit)", "0"},
    {"quiet", "", "count only, print no message"},
    {"show-seq", "", "print 'SEQ<tab>PAYLOAD' instead of the payload alone"},
    {"late-join", "", "count loss from the first number received, not from 0"},
    {"json", "", "also print the summary as one JSON object on standard output"},
    {"io", "epoll|uring", "the kernel backend's reactor", "epoll"},
    {"backend", "NAME", "kernel, sim (replays --replay), afxdp (--iface), dpdk (--vdev)", "kernel"},
    {"replay", "FILE", "sim: the pcap sim_nic replays into the stack"},
    {"out", "FILE", "sim: write what the stack sent (ARP/echo replies, IGMP reports) to this pcap"},
    {"vdev", "SPEC", "dpdk: the device, e.g. net_af_xdp0,iface=veth0 or net_pcap0,rx_pcap=in.pcap"},
    {"mac", "MAC", "bypass backends: the stack's MAC address", "02:00:00:00:00:02"},
    {"addr", "A.B.C.D/P", "bypass backends: the stack's IPv4 address and prefix length", "10.0.0.2/24"},
    {"seed", "N", "sim: seed for the stack (IGMP report delays): same seed, same output", "1"},
});

void check(const std::string& err) {
  if (!err.empty()) throw cli::usage_error{err};
}

std::uint16_t parse_port(const std::string& v) {
  unsigned long n = 0;
  bool ok = !v.empty() && v.size() <= 5;
  for (char c : v) ok = ok && c >= '0' && c <= '9', n = n * 10 + static_cast<unsigned long>(c - '0');
  if (!ok || n < 1 || n > 65535) throw cli::usage_error{"--port: '" + v + "' is not a whole number in 1..65535"};
  return static_cast<std::uint16_t>(n);
}

// The --json summary: ONE schema for every backend (tools/mcast/README.md), so a script reads a
// kernel run and a bypass run alike. Lists are JSON arrays; what does not apply is null ("io" on
// the bypass backends, "first"/"highest" before any datagram); "ended" is one of count, signal,
// timeout, end-of-replay (sim), error.
struct json_summary {
  std::vector<std::uint32_t> groups;
  std::vector<std::uint16_t> ports;
  mcast::sequence_stats seq;
  std::uint64_t malformed = 0, bytes = 0, errors = 0;
  std::string_view ended;
  std::string_view io;   // "" prints null
  std::string_view backend;
};

void print_json(const json_summary& j) {
  std::string g, p;
  // Appends, not `literal + std::string` (GCC 12 -O3 -Wrestrict false positive on that insert).
  for (auto x : j.groups) g.append(g.empty() ? "\"" : ",\"").append(mcast::ipv4_to_string(x)).append("\"");
  for (auto x : j.ports) p.append(p.empty() ? "" : ",").append(std::to_string(x));
  auto opt = [](const std::optional<std::uint64_t>& v) { return v ? std::to_string(*v) : std::string("null"); };
  const std::string io = j.io.empty() ? std::string("null") : std::string("\"").append(j.io).append("\"");
  std::printf("{\"groups\":[%s],\"ports\":[%s],\"received\":%" PRIu64 ",\"unique\":%" PRIu64 ",\"lost\":%" PRIu64
              ",\"reordered\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"stale\":%" PRIu64 ",\"malformed\":%" PRIu64
              ",\"bytes\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"first\":%s,\"highest\":%s,\"ended\":\"%.*s\","
              "\"io\":%s,\"backend\":\"%.*s\"}\n",
              g.c_str(), p.c_str(), j.seq.received, j.seq.unique, j.seq.lost, j.seq.reordered, j.seq.duplicates,
              j.seq.stale, j.malformed, j.bytes, j.errors, opt(j.seq.first).c_str(), opt(j.seq.highest).c_str(),
              static_cast<int>(j.ended.size()), j.ended.data(), io.c_str(), static_cast<int>(j.backend.size()),
              j.backend.data());
}

// A payload as one printable line: bytes outside ' '..'~' and the backslash as \xNN.
std::string printable(std::span<const std::byte> b) {
  std::string out;
  out.reserve(b.size());
  for (auto x : b) {
    const auto c = std::to_integer<unsigned char>(x);
    if (c >= ' ' && c <= '~' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char h[5];
      std::snprintf(h, sizeof h, "\\x%02x", c);
      out += h;
    }
  }
  return out;
}

// One bound bypass socket and what it saw: a receive loop like mcast::receiver's (one receive in
// flight, restarted from its completion), which also keeps the source and the destination. Each
// socket is bound to one destination (group:port, or the host's address:port), so the destination is
// the socket's own.
struct tap {
  tap(asio::io_context& ctx, wire::ipv4_addr dst, std::uint16_t port, bool late_join)
      : sock(ctx), dst(dst), port(port),
        tracker(late_join ? mcast::sequence_tracker::from_first_received() : mcast::sequence_tracker(0)) {
    sock.bind(asio::ip::udp::endpoint(asio::ip::address_v4(dst.value), port));
  }
  template <class OnDatagram>
  void receive(OnDatagram& on) {
    sock.async_receive_from(asio::buffer(buf), from, [this, &on](const std::error_code& ec, std::size_t n) {
      if (ec) {
        if (ec == asio::error::operation_aborted) return;
        ++stats.errors;
        stats.last_error = ec.message();
        return;
      }
      if (on(*this, std::span<const std::byte>(buf.data(), n))) receive(on);
    });
  }
  bypass::udp::socket sock;
  wire::ipv4_addr dst;
  std::uint16_t port;
  mcast::sequence_tracker tracker;
  mcast::receive_stats stats;
  std::vector<std::byte> buf = std::vector<std::byte>(65536);
  asio::ip::udp::endpoint from;
};

// --backend sim|afxdp|dpdk. Returns the exit code; a real device that does not open returns nullopt
// after saying why once (the caller goes on over kernel sockets).
std::optional<int> run_bypass(const cli::args& a, const std::string& backend, const std::vector<std::uint32_t>& groups,
                              const std::vector<std::uint16_t>& ports) {
  mcast::host_config host;
  check(mcast::parse_host(a.str("mac"), a.str("addr"), host));
  const std::uint64_t count = a.u64("count");
  const double timeout_s = a.real("timeout", 0, 1e6);
  const bool quiet = a.has("quiet"), json = a.has("json");
  const std::uint64_t seed = a.u64("seed");

  bypass::device_options d;
  d.backend = backend;
  std::optional<sim::pcap_stream> stream;
  if (backend == "sim") {
    if (!a.has("replay")) throw cli::usage_error{"--backend sim needs --replay FILE (the pcap to replay)"};
    // Streamed as `ringlab replay` streams (trace_file.hpp): memory flat whatever the file's size; a
    // record that cannot be read ends the replay there, and finish_run() names it (exit 1).
    stream.emplace(cli::open_trace_stream(a.str("replay"), "--replay: "));
    d.stream = &*stream;
    d.sim.seed = seed;
    d.sim.pool = {.frames = 2048, .frame_size = 2048, .headroom = 256};
    d.sim.tx_pcap = a.str("out");
  } else if (backend == "afxdp") {
    if (!a.has("iface")) throw cli::usage_error{"--backend afxdp needs --iface NAME"};
    // The XDP program steers our UDP ports, ICMP and ARP to us; the rest stays with the kernel.
    d.device = a.str("iface") + ":icmp,udp=";
    for (std::size_t i = 0; i < ports.size(); ++i) d.device += (i ? "+" : "") + std::to_string(ports[i]);
  } else {
    if (!a.has("vdev")) throw cli::usage_error{"--backend dpdk needs --vdev SPEC (e.g. net_af_xdp0,iface=veth0)"};
    d.device = a.str("vdev");
  }
  if (backend != "sim" && a.has("replay")) throw cli::usage_error{"--replay is for --backend sim"};
  if (backend == "sim" && a.has("vdev")) throw cli::usage_error{"--vdev is for --backend dpdk"};
  // AsioService opens the device; a bypass backend that cannot start falls back to kernel sockets
  // (the reason logged once), except sim, whose failures are the user's input (a file, a path).
  cli::apply_device_flags(a, d, seed);   // --tap, --faults, --trace: decorators on every queue
  std::shared_ptr<bypass::AsioService> svc;
  try {
    svc = mcast::open_backend(d, "mcast-recv");
  } catch (const std::runtime_error& e) {
    throw cli::usage_error{e.what()};
  }
  bypass::device* dev = svc->bypass_device();
  if (!dev && (!d.tap.empty() || d.faults || d.trace_hops)) {   // kernel sockets have no port to decorate
    std::fprintf(stderr, "mcast-recv: --tap, --faults and --trace need the bypass device: not falling back to kernel\n");
    return cli::exit_failure;
  }
  if (!dev) return std::nullopt;

  // The virtual clock starts just before the first frame, so the joins' reports carry trace time.
  cli::start_virtual_clock(*dev);
  mcast::bypass_lane lane;
  if (auto ec = mcast::attach_lane(lane, *dev, 0, host, seed)) throw std::system_error(ec, "attach");
  // One socket per (group, port), bound to the group; one per port on the host's own address.
  std::vector<std::unique_ptr<tap>> taps;
  for (auto g : groups)
    for (std::size_t i = 0; i < ports.size(); ++i) {
      taps.push_back(std::make_unique<tap>(lane.ctx, wire::ipv4_addr{g}, ports[i], a.has("late-join")));
      if (i == 0) taps.back()->sock.join_group(asio::ip::address_v4(g));
    }
  for (auto p : ports) taps.push_back(std::make_unique<tap>(lane.ctx, host.addr, p, a.has("late-join")));

  std::string list;
  for (auto g : groups) list += (list.empty() ? "" : ",") + mcast::ipv4_to_string(g);
  std::string plist;
  for (auto p : ports) plist += (plist.empty() ? "" : ",") + std::to_string(p);
  std::fprintf(stderr, "mcast-recv: joined %s, port%s %s as %s/%d (backend %.*s)\n", list.c_str(),
               ports.size() == 1 ? "" : "s", plist.c_str(), mcast::ipv4_text(host.addr).c_str(), host.prefix_len,
               static_cast<int>(dev->backend().size()), dev->backend().data());
  // A real device says what it got: AF_XDP its attach and bind mode ("afxdp:eth0/0 (native, copy)"),
  // DPDK its ethdev. (sim says nothing: its outputs are compared byte for byte.)
  if (!dev->sim_nic()) std::fprintf(stderr, "mcast-recv: device: %s\n", dev->queue(0).caps().name.c_str());
  if (!quiet) std::setvbuf(stdout, nullptr, _IOLBF, 0);

  std::uint64_t n = 0;
  bool count_reached = false;
  auto on = [&](tap& t, std::span<const std::byte> bytes) {
    const auto p = mcast::parse_datagram(bytes);
    std::string verdict;
    if (p.error != mcast::datagram_error::none) {
      ++t.stats.malformed[static_cast<std::size_t>(p.error)];
      verdict = "malformed=" + std::string(mcast::to_string(p.error));
    } else {
      t.stats.bytes += bytes.size();
      (void)t.tracker.on_seq(p.header.seq);
      verdict = "seq=" + std::to_string(p.header.seq);
    }
    if (!quiet)
      std::printf("%s:%u > %s:%u %s %s\n", t.from.address().to_string().c_str(), t.from.port(),
                  mcast::ipv4_text(t.dst).c_str(), t.port, verdict.c_str(),
                  printable(p.error == mcast::datagram_error::none ? p.payload : bytes).c_str());
    if (count != 0 && ++n >= count) {
      count_reached = true;
      lane.ctx.stop();
      return false;
    }
    return true;
  };
  for (auto& t : taps) t->receive(on);

  bool by_signal = false, timed_out = false;
  if (auto* nic = dev->sim_nic()) {
    std::vector<mcast::bypass_lane*> lanes{&lane};
    // One frame per step: the lines come out in the trace's order. Timers fire at their own virtual
    // times, in gaps too; after the last frame they run up to 30 s on (an IGMPv2 max response time is <= 25.5 s).
    mcast::run_replay(*nic, lanes, 1, 30 * stack::sec, [&] { return count_reached; });
  } else {
    asio::signal_set signals(lane.ctx, SIGINT, SIGTERM);
    signals.async_wait([&](const std::error_code& ec, int) {
      if (!ec) by_signal = true, lane.ctx.stop();
    });
    asio::steady_timer timer(lane.ctx);
    if (timeout_s > 0) {
      timer.expires_after(std::chrono::ceil<std::chrono::nanoseconds>(std::chrono::duration<double>(timeout_s)));
      timer.async_wait([&](const std::error_code& ec) {
        if (!ec) timed_out = true, lane.ctx.stop();
      });
    }
    lane.ctx.run();
  }

  // Summary: one line per destination that saw anything (the first group's line always), then the stack.
  mcast::receive_stats total;
  mcast::sequence_stats seq_total;
  for (std::size_t i = 0; i < taps.size(); ++i) {
    auto& t = *taps[i];
    const auto s = t.tracker.stats();
    seq_total.received += s.received, seq_total.unique += s.unique, seq_total.lost += s.lost;
    seq_total.reordered += s.reordered, seq_total.duplicates += s.duplicates, seq_total.stale += s.stale;
    if (s.first && s.received) seq_total.first = std::min(seq_total.first.value_or(*s.first), *s.first);
    if (s.highest) seq_total.highest = std::max(seq_total.highest.value_or(*s.highest), *s.highest);
    for (std::size_t k = 0; k < total.malformed.size(); ++k) total.malformed[k] += t.stats.malformed[k];
    total.bytes += t.stats.bytes, total.errors += t.stats.errors;
    if (!t.stats.last_error.empty()) total.last_error = t.stats.last_error;
    if (s.received == 0 && t.stats.malformed_total() == 0 && i != 0) continue;
    std::fprintf(stderr,
                 "mcast-recv: %s:%u: %" PRIu64 " received (%" PRIu64 " unique), %" PRIu64 " lost, %" PRIu64
                 " reordered, %" PRIu64 " duplicates, %" PRIu64 " stale, %" PRIu64 " malformed, %" PRIu64 " bytes\n",
                 mcast::ipv4_text(t.dst).c_str(), t.port, s.received, s.unique, s.lost, s.reordered, s.duplicates,
                 s.stale, t.stats.malformed_total(), t.stats.bytes);
  }
  // The sockets close before the stack's counters are read: their IGMP leave is one of the frames
  // sent (and in --out), so the count says what the capture holds.
  taps.clear();
  if (auto* nic = dev->sim_nic()) {
    lane.svc->poll_once();
    nic->flush_tx();
  }
  const auto& c = lane.svc->iface().counters();
  std::fprintf(stderr,
               "mcast-recv: stack: %" PRIu64 " frames in, %" PRIu64 " datagrams delivered, %" PRIu64
               " frames sent (%" PRIu64 " ARP replies, %" PRIu64 " echo replies, %" PRIu64 " IGMP reports, %" PRIu64
               " IGMP leaves)\n",
               c.rx_frames, c.udp_delivered, c.tx_frames, c.arp_requests_answered, c.icmp_echo_answered,
               c.igmp_reports_sent, c.igmp_leaves_sent);
  std::string drops;
  for (std::size_t i = 0; i < c.drops.size(); ++i)
    if (c.drops[i]) drops += " " + std::string(trace::to_string(static_cast<trace::drop_reason>(i))) + "=" +
                             std::to_string(c.drops[i]);
  std::fprintf(stderr, "mcast-recv: stack drops:%s\n", drops.empty() ? " none" : drops.c_str());
  std::fputs(cli::checksum_offload_hint("mcast-recv", dev->backend(),
                                        c.drops[static_cast<std::size_t>(trace::drop_reason::bad_l4_checksum)],
                                        c.udp_delivered)
                 .c_str(),
             stderr);
  const char* ended = count_reached ? "count" : by_signal ? "signal" : timed_out ? "timeout"
                      : dev->sim_nic()                    ? "end-of-replay"
                                                          : "error";
  std::fprintf(stderr, "mcast-recv: %" PRIu64 " received in all, %" PRIu64 " errors%s%s; ended by %s\n",
               seq_total.received, total.errors, total.errors ? ": " : "", total.last_error.c_str(),
               ended == std::string_view("end-of-replay") ? "end of replay" : ended);
  if (json)
    print_json({.groups = groups, .ports = ports, .seq = seq_total, .malformed = total.malformed_total(),
                .bytes = total.bytes, .errors = total.errors, .ended = ended, .io = "", .backend = dev->backend()});
  std::fflush(stdout);
  (void)cli::report_device_flags(stderr, "mcast-recv", *dev, d);
  // sim: every frame back in the pool once the sockets closed (a leak fails the run, as in demo).
  if (auto* nic = dev->sim_nic()) {
    nic->return_cache();
    if (const auto out = nic->pool().out(); out != 0) {
      std::fprintf(stderr, "mcast-recv: %u pool frames not returned after the run (a leak)\n", out);
      return cli::finish_run("mcast-recv", cli::exit_failure, *dev, d);
    }
  }
  const int rc = (count != 0 && !count_reached) || total.errors ? cli::exit_failure : cli::exit_ok;
  return cli::finish_run("mcast-recv", rc, *dev, d);
}

int run(int argc, char** argv) {
  cli::args a("mcast-recv", opts, argc, argv);
  if (a.help()) {
    std::fputs(cli::usage_text("mcast-recv", "--group ADDR [options]\n"
                               "       ringlab mcast-recv --backend sim --replay FILE --group ADDR... [--port N...]"
                               " [--out FILE.pcap]",
                               "Joins a multicast group and prints each ringlab datagram's payload, one per line;\n"
                               "the summary (standard error) counts received, lost, reordered and duplicate\n"
                               "messages from their sequence numbers. Exit 1 when --count was not reached.\n"
                               "--backend sim|afxdp|dpdk runs the same receive on the user-space stack (host\n"
                               "--mac, --addr): each delivered datagram prints as 'SRC:PORT > DST:PORT seq=N\n"
                               "PAYLOAD'; sim replays --replay through sim_nic and writes what the stack sent\n"
                               "(ARP/echo replies, IGMP reports) to --out. The file is streamed (memory flat\n"
                               "whatever its size); a record that cannot be read ends the replay there: the\n"
                               "summary, then the file, packet number and byte offset, exit 1 (2 when it is\n"
                               "the first). An afxdp/dpdk device that does not\n"
                               "open says why in one line and the run falls back to kernel sockets.",
                               opts).c_str(), stdout);
    return cli::exit_ok;
  }
  a.expect_positional(0);
  if (!a.has("group")) throw cli::usage_error{"--group is required (an IPv4 multicast address)"};
  std::vector<std::uint32_t> groups;
  for (const auto& g : a.all("group")) check(mcast::parse_group(g, groups.emplace_back()));
  std::vector<std::uint16_t> ports;
  for (const auto& p : a.all("port")) ports.push_back(parse_port(p));
  if (ports.empty()) ports.push_back(5000);
  check(mcast::check_backend(a.str("backend")));
  check(mcast::check_io(a.str("io")));
  const std::string backend = a.str("backend");
  // A named interface that does not exist is a usage error before any backend is tried: falling back
  // would only fail the same way on kernel sockets.
  unsigned ifindex = 0;
  check(mcast::parse_iface(a.str("iface"), ifindex));
  // Options of another backend are refused, never ignored. afxdp/dpdk keep --io: it is the kernel
  // fallback's reactor.
  if (backend == "kernel")
    a.refuse({"replay", "out", "vdev", "mac", "addr", "seed", "tap", "faults", "trace"}, "--backend kernel (bypass backends only)");
  if (backend != "kernel") a.refuse({"show-seq"}, "--backend " + backend + " (its lines always carry seq=N)");
  if (backend == "sim") {
    a.refuse({"io"}, "--backend sim (the user-space stack, no kernel socket to fall back to)");
    a.refuse({"timeout"}, "--backend sim (the replay runs on virtual time; --count N stops it)");
  } else if (backend != "kernel") {
    a.refuse({"out"}, "--backend " + backend + " (sim only: a real device sends on its wire)");
  }
  if (backend != "kernel") {
    if (backend == "sim" && a.has("iface")) throw cli::usage_error{"--iface is for the kernel and afxdp backends"};
    if (auto rc = run_bypass(a, backend, groups, ports)) return *rc;
  }
  if (groups.size() != 1 || ports.size() != 1)
    throw cli::usage_error{"--group and --port: the kernel backend takes one of each"};
  mcast::recv_options o;
  o.group = groups[0];
  o.port = ports[0];
  o.ifindex = ifindex;
  const std::uint64_t count = a.u64("count");
  const double timeout_s = a.real("timeout", 0, 1e6);
  o.late_join = a.has("late-join");
  const bool quiet = a.has("quiet"), show_seq = a.has("show-seq");

  auto svc = bypass::AsioService::create(
      {.backend = "kernel", .io = *bypass::parse_io_mode(a.str("io")), .threads = 1});
  auto rx = mcast::make_kernel_receiver(*svc, o);
  const std::string group = mcast::ipv4_to_string(o.group);
  std::fprintf(stderr, "mcast-recv: joined %s on %s, port %u (io %s, backend %.*s)\n", group.c_str(),
               a.has("iface") ? a.str("iface").c_str() : "the default interface", o.port, a.str("io").c_str(),
               static_cast<int>(svc->backend().size()), svc->backend().data());
  if (!quiet) std::setvbuf(stdout, nullptr, _IOLBF, 0);

  std::uint64_t n = 0;
  bool count_reached = false;   // written on the loop thread, read after join()
  rx->start([&](const mcast::message& m) {
    if (!quiet) {
      if (show_seq) std::printf("%lu\t", m.header.seq);
      std::fwrite(m.payload.data(), 1, m.payload.size(), stdout);
      std::fputc('\n', stdout);
    }
    if (count != 0 && ++n >= count) {
      count_reached = true;
      svc->stop();
      return false;
    }
    return true;
  }, [&](std::string_view) { svc->stop(); });
  svc->start();
  bool timed_out = false;
  if (timeout_s > 0) {
    const auto t = std::chrono::duration<double>(timeout_s);
    if (!svc->wait_for(std::chrono::ceil<std::chrono::milliseconds>(t))) {
      timed_out = true;
      svc->stop();
    }
  }
  svc->join();

  const auto s = rx->stats();
  const char* ended = count_reached ? "count" : svc->stop_signal() ? "signal" : timed_out ? "timeout" : "error";
  std::fprintf(stderr,
               "mcast-recv: %lu received (%lu unique), %lu lost, %lu reordered, %lu duplicates, %lu stale, "
               "%lu malformed, %lu bytes, %lu errors%s%s; ended by %s\n",
               s.seq.received, s.seq.unique, s.seq.lost, s.seq.reordered, s.seq.duplicates, s.seq.stale,
               s.malformed_total(), s.bytes, s.errors, s.errors ? ": " : "", s.last_error.c_str(), ended);
  if (a.has("json")) {
    auto seq = s.seq;
    if (seq.received == 0) seq.first.reset();   // null until a datagram came, as on the bypass backends
    print_json({.groups = groups, .ports = ports, .seq = seq, .malformed = s.malformed_total(), .bytes = s.bytes,
                .errors = s.errors, .ended = ended, .io = a.str("io"), .backend = svc->backend()});
  }
  std::fflush(stdout);
  return (count != 0 && !count_reached) || s.errors ? cli::exit_failure : cli::exit_ok;
}

const cli::registration reg{{"mcast-recv", "join a multicast group, print messages, count loss/reorder", run}};
}  // namespace
