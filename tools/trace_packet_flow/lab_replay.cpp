#include "tools/trace_packet_flow/lab_replay.hpp"

#include <algorithm>
#include <chrono>
#include <array>
#include <cstdio>
#include <limits>
#include <memory>
#include <set>
#include <span>
#include <stdexcept>
#include <time.h>
#include <tuple>

#include "sim_nic/event_loop.hpp"
#include "sim_nic/pcap_stream.hpp"
#include "sim_nic/sim_nic.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/tcp_listener.hpp"
#include "stack/socket/tcp_socket.hpp"
#include "stack/socket/udp_socket.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"
#include "trace/trace.hpp"
#include "tools/trace_packet_flow/packet_filter.hpp"

namespace ringlab::trace_flow {

namespace {
std::uint32_t parse_ipv4(const std::string& s) {
  const auto a = wire::ipv4_addr::parse(s);
  if (!a) throw input_error("--addr: '" + s + "' is not an IPv4 address");
  return a->value;
}
}  // namespace

lab_replay_result run_lab_replay(const std::string& pcap, const lab_replay_options& o) {
  // Streamed (sim_nic/pcap_stream.hpp), as `ringlab replay` streams: the file is read once for the
  // stack's identity, then once per replay below, in the same bounded window whatever its size. A
  // record that cannot be read stops it before anything ran, naming the file, packet and byte offset.
  auto tr = sim::pcap_stream::open(pcap);
  if (!tr) throw input_error(tr.error);
  lab_replay_result res;

  // The stack's identity and sockets, from the file unless given: the first unicast UDP destination
  // (the host under test), else 10.0.0.2 / 02:00:00:00:00:02 as traces/README.md names it; sockets on
  // every UDP port sent to that host or to a multicast group, which the sockets join.
  std::set<std::uint16_t> ports(o.listen_ports.begin(), o.listen_ports.end());
  std::set<std::uint32_t> groups;
  std::uint32_t addr = o.addr.empty() ? 0 : parse_ipv4(o.addr);
  wire::mac_addr mac{0x02, 0, 0, 0, 0, 0x02};
  bool have_mac = false;
  auto multicast = [](std::uint32_t a) { return wire::ipv4_addr{a}.is_multicast(); };
  // Two passes: the host's address first (the first unicast UDP destination), then what goes to it.
  std::uint64_t frames = 0;   // counted on the first pass
  auto scan = [&](auto&& fn) {
    frames = 0;
    if (!tr->scan([&](const sim::trace_record&, std::span<const std::byte> b) {
          ++frames;
          if (auto d = parse_udp(1, reinterpret_cast<const std::uint8_t*>(b.data()), b.size())) fn(b, *d);
        }))
      throw input_error(tr->scan_error());
  };
  scan([&](std::span<const std::byte>, const udp_datagram& d) {
    if (!addr && !multicast(d.dst_ip)) addr = d.dst_ip;
  });
  if (!addr) addr = 0x0a000002;
  scan([&](std::span<const std::byte> b, const udp_datagram& d) {
    if (d.dst_ip == addr && !have_mac) { mac = wire::ethernet::view::unchecked(b).dst(); have_mac = true; }
    if (multicast(d.dst_ip)) groups.insert(d.dst_ip);
    if (o.listen_ports.empty() && !o.listen_none && (d.dst_ip == addr || multicast(d.dst_ip)))
      ports.insert(d.dst_port);
  });
  if (!o.mac.empty()) {
    const auto m = wire::mac_addr::parse(o.mac);
    if (!m) throw input_error("--mac: '" + o.mac + "' is not a MAC address");
    mac = *m;
  }

  sim::sim_nic_config cfg;
  cfg.queues = o.queues;
  cfg.ring = o.ring;
  cfg.ring_size = o.ring_size;
  cfg.seed = o.seed;
  const bool was_on = trace::enabled();
  res.notes = "sim_nic " + std::to_string(o.queues) + " queue(s), ring " + o.ring;
  // The replay loop runs on this thread only: its CPU time is its cost, whatever else the machine runs.
  auto thread_cpu_ns = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(ts.tv_nsec);
  };
  // One replay: a fresh NIC, stack and sockets; traced or not. Returns the loop's wall and CPU time.
  auto replay = [&](bool traced) -> std::pair<std::uint64_t, std::uint64_t> {
  std::unique_ptr<sim::sim_nic> nic;
  try {
    nic = std::make_unique<sim::sim_nic>(cfg);
  } catch (const std::exception& e) {
    throw input_error(std::string("sim_nic: ") + e.what());
  }
  if (!tr->restart()) throw input_error(tr->error());   // each replay from the first record
  nic->load(*tr);
  trace::drain();   // start clean: earlier events in this process are not ours
  trace::enable(traced);

  std::vector<std::unique_ptr<stack::interface>> ifs;
  std::vector<std::vector<std::unique_ptr<stack::udp_socket>>> socks(o.queues);
  std::vector<std::vector<std::unique_ptr<stack::tcp_listener>>> listeners(o.queues);
  std::vector<std::vector<std::unique_ptr<stack::tcp_socket>>> conns(o.queues);
  for (std::uint16_t q = 0; q < o.queues; ++q) {
    stack::interface_config ic;
    ic.addr = wire::ipv4_addr{addr};
    ic.mac = mac;
    ic.prefix_len = 24;
    ic.seed = o.seed;
    ifs.push_back(std::make_unique<stack::interface>(nic->queue(q), ic));
    for (auto port : ports) {
      auto s = std::make_unique<stack::udp_socket>(*ifs.back());
      // Bound to any address: unicast to us and the multicast groups it joins.
      if (s->bind({wire::ipv4_addr::any(), port})) continue;
      for (auto g : groups) s->join_group(wire::ipv4_addr{g}, 0);
      socks[q].push_back(std::move(s));
    }
    for (auto port : o.tcp_listen_ports) {
      auto l = std::make_unique<stack::tcp_listener>(*ifs.back());
      if (l->bind({wire::ipv4_addr{addr}, port}) || l->listen(16))
        throw input_error("--tcp-listen " + std::to_string(port) + ": the stack's listener could not listen");
      listeners[q].push_back(std::move(l));
    }
  }
  if (traced) {
    res.notes += " + stack " + ipv4_to_string(addr) + ", UDP sockets on";
    for (auto p : ports) {   // piece by piece: GCC 12 -O3 warns (-Wrestrict, a false positive) on " " + string
      res.notes += ' ';
      res.notes += std::to_string(p);
    }
    if (ports.empty()) res.notes += " none";
    if (!groups.empty()) res.notes += ", joined " + std::to_string(groups.size()) + " group(s)";
    if (!o.tcp_listen_ports.empty()) {
      res.notes += ", TCP listeners on";
      for (auto p : o.tcp_listen_ports) {
        res.notes += ' ';
        res.notes += std::to_string(p);
      }
    }
  }
  std::vector<std::byte> buf(65536);
  // The one discrete-event loop (sim_nic/event_loop.hpp): frames due at the same virtual time arrive
  // together and are polled at that time, and the stack's timers (IGMP reports, ARP retries,
  // reassembly timeouts) fire at their own times, in gaps and up to 60 s past the last frame, so a
  // hop's time is when the stack would act, not when this loop got round to it.
  sim::event_loop loop(*nic, {.frames_per_step = std::numeric_limits<std::size_t>::max()});
  // Timed from here: the loop alone. Making and closing the stack and its sockets (~1 ms, mostly
  // first-touch allocation) is a fixed cost that swamped the per-frame figure on small traces.
  const auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t c0 = thread_cpu_ns();
  for (std::uint16_t q = 0; q < o.queues; ++q)
    loop.add_lane([&, q](std::uint64_t now) {
      const auto next = ifs[q]->poll(now);
      for (auto& s : socks[q]) {
        std::error_code ec;
        while (!ec) s->try_receive_from(buf, ec);   // the direct reader: copies and releases the frame
      }
      // TCP: accept what is ready, read everything, close at the end of each stream. A close sends
      // the FIN at once (this poll's time): the stack has a timer, poll again when it is due.
      for (auto& l : listeners[q])
        for (std::unique_ptr<stack::tcp_socket> c; !l->accept(c);) conns[q].push_back(std::move(c));
      std::uint64_t again = next;
      for (auto& c : conns[q]) {
        if (!c->is_open()) continue;
        while (c->receive(buf, now).bytes > 0) {}
        if (c->peer_closed()) {
          c->close(now);
          again = std::min<std::uint64_t>(again, ifs[q]->next_deadline());
        }
      }
      return again;
    });
  (void)loop.run();
  const std::uint64_t cpu = thread_cpu_ns() - c0;
  const auto wall = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
  // Outside the timing: sockets before their interfaces (connections, then listeners, then UDP).
  conns.clear();
  listeners.clear();
  socks.clear();
  ifs.clear();
  trace::enable(false);
  return std::pair{wall, cpu};
  };
  std::tie(res.wall_ns_untraced, res.cpu_ns_untraced) = replay(false);
  std::tie(res.wall_ns, res.cpu_ns) = replay(true);
  res.frames = frames;
  auto ev = trace::drain();
  trace::enable(was_on);
  res.events = from_trace(ev);
  return res;
}

}  // namespace ringlab::trace_flow
