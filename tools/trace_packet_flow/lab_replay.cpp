#include "tools/trace_packet_flow/lab_replay.hpp"

#include <algorithm>
#include <chrono>
#include <array>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <stdexcept>
#include <time.h>
#include <tuple>

#include "port/decorator.hpp"
#include "sim_nic/event_loop.hpp"
#include "sim_nic/pcap_stream.hpp"
#include "sim_nic/sim_nic.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/tcp_listener.hpp"
#include "stack/socket/tcp_socket.hpp"
#include "stack/socket/udp_socket.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"
#include "stack/wire/tcp.hpp"
#include "trace/trace.hpp"
#include "tools/trace_packet_flow/packet_filter.hpp"

namespace ringlab::trace_flow {

namespace {
// The stack's frames as it sends them: a port decorator on a queue's TX (as port/pcap_tap.hpp's, with
// a callback for the pcap): trace replay selects the stack's own frames by their bytes with --filter
// and names them in their routes' headers. RX, pool and the lane's frame cache pass straight through.
class tx_tap final : public port::any_port {
 public:
  using fn = std::function<void(std::uint64_t, std::span<const std::byte>)>;
  tx_tap(port::any_port& inner, fn on_tx) : inner_(inner), on_tx_(std::move(on_tx)), batches_(inner.pool().config().frames) {}
  tx_tap(const tx_tap&) = delete;
  tx_tap& operator=(const tx_tap&) = delete;
  ~tx_tap() override { batches_.cancel_all(); }

  std::size_t rx_burst(std::span<port::frame_ref> out) noexcept override { return inner_.rx_burst(out); }
  void rx_release(std::span<const port::frame_ref> f) noexcept override { inner_.rx_release(f); }
  port::tx_batch tx_reserve(std::size_t n) noexcept override {
    port::tx_batch& in = batches_.add(inner_.tx_reserve(n));
    return port::tx_batch(this, in.frames());
  }
  // No TX checksum offload under the tap: the bytes it sees are the bytes a capture would hold.
  port::port_caps caps() const override {
    port::port_caps c = inner_.caps();
    c.tx_l4_csum = false;
    return c;
  }
  port::frame_pool& pool() noexcept override { return inner_.pool(); }
  port::frame_ref alloc_frame() noexcept override { return inner_.alloc_frame(); }
  void free_frame(const port::frame_ref& f) noexcept override { inner_.free_frame(f); }
  void tx_commit(std::span<port::frame_ref> frames) noexcept override {
    port::tx_batch* in = batches_.find(frames[0].id);
    if (!in) return;
    for (std::size_t i = 0; i < frames.size(); ++i) {
      on_tx_(frames[i].meta.packet_id, frames[i].bytes);
      (*in)[i] = frames[i];
    }
    in->commit(frames.size());
    batches_.ended(in);
  }
  void tx_cancel(std::span<port::frame_ref> frames) noexcept override {
    if (port::tx_batch* in = batches_.find(frames[0].id)) {
      in->cancel();
      batches_.ended(in);
    }
  }

 private:
  port::any_port& inner_;
  fn on_tx_;
  port::detail::inflight_batches batches_;
};

std::uint32_t parse_ipv4(const std::string& s) {
  const auto a = wire::ipv4_addr::parse(s);
  if (!a) throw input_error("--addr: '" + s + "' is not an IPv4 address");
  return a->value;
}
}  // namespace

lab_replay_result run_lab_replay(const std::string& pcap, const lab_replay_options& o, const lab_replay_hooks& hooks) {
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
  auto scan = [&](auto&& fn) {
    if (!tr->scan([&](const sim::trace_record&, std::span<const std::byte> b) {
          if (auto d = parse_udp(1, reinterpret_cast<const std::uint8_t*>(b.data()), b.size())) fn(b, *d);
        }))
      throw input_error(tr->scan_error());
  };
  if (!addr)   // given (--addr): no pass for it
    scan([&](std::span<const std::byte>, const udp_datagram& d) {
      if (!addr && !multicast(d.dst_ip)) addr = d.dst_ip;
    });
  if (!addr) addr = 0x0a000002;
  // A TCP peer in a trace cannot answer the stack's ARP request: without its MAC the stack's SYN-ACK,
  // ACKs, RST and FIN wait for ARP and are dropped (arp_unresolved), never sent. With --tcp-listen its
  // MAC is taken from its frames to us and given as a neighbour (`ip neigh add`), so they go out.
  std::map<std::uint32_t, wire::mac_addr> peers;
  if (!tr->scan([&](const sim::trace_record&, std::span<const std::byte> b) {
        if (auto d = parse_udp(1, reinterpret_cast<const std::uint8_t*>(b.data()), b.size())) {
          if (d->dst_ip == addr && !have_mac) { mac = wire::ethernet::view::unchecked(b).dst(); have_mac = true; }
          if (multicast(d->dst_ip)) groups.insert(d->dst_ip);
          if (o.listen_ports.empty() && !o.listen_none && (d->dst_ip == addr || multicast(d->dst_ip)))
            ports.insert(d->dst_port);
        } else if (!o.tcp_listen_ports.empty()) {
          const auto e = wire::ethernet::view::check(b);
          if (!e || e->type() != wire::ethernet::ethertype::ipv4) return;
          const auto ip = wire::ipv4::view::check(e->payload());
          if (ip && ip->proto() == wire::tcp::ip_protocol && ip->dst().value == addr) peers.try_emplace(ip->src().value, e->src());
        }
      }))
    throw input_error(tr->scan_error());
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
  // frame_limit: the untraced run after a traced one that stopped early replays the frames it read.
  std::uint64_t hook_cpu_ns = 0, hook_wall_ns = 0;   // the streaming caller's own time, not the path's
  auto replay = [&](bool traced, std::uint64_t frame_limit) -> std::pair<std::uint64_t, std::uint64_t> {
  hook_cpu_ns = hook_wall_ns = 0;
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

  std::vector<std::unique_ptr<tx_tap>> taps;
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
    if (!peers.empty()) ic.arp.reachable_for = std::numeric_limits<stack::time_ns>::max() / 4;   // nobody would answer again
    port::any_port* dev = &nic->queue(q);
    if (traced && hooks.tx_frame) {
      taps.push_back(std::make_unique<tx_tap>(*dev, hooks.tx_frame));
      dev = taps.back().get();
    }
    ifs.push_back(std::make_unique<stack::interface>(*dev, ic));
    for (const auto& [ip, m] : peers) (void)ifs.back()->add_neighbour(wire::ipv4_addr{ip}, m, nic->now());
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
  if (traced && hooks.started) hooks.started(res.notes);
  sim::event_loop_config lc{.frames_per_step = std::numeric_limits<std::size_t>::max()};
  // A streaming caller takes the events after every round (and may end the run there); its own time
  // is taken out of the run's, so the cost line stays the path's.
  auto hand_over = [&] {
    const std::uint64_t c = thread_cpu_ns();
    const auto w = std::chrono::steady_clock::now();
    const auto ev = trace::drain();
    const bool stop = hooks.events(ev);
    hook_cpu_ns += thread_cpu_ns() - c;
    hook_wall_ns += static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - w).count());
    return stop;
  };
  if (traced && hooks.events) lc.stop = hand_over;
  else if (frame_limit) lc.stop = [&] { return tr->sequence() >= frame_limit; };
  sim::event_loop loop(*nic, std::move(lc));
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
  const auto stats = loop.run();
  const std::uint64_t cpu = thread_cpu_ns() - c0 - hook_cpu_ns;
  const auto wall = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count()) - hook_wall_ns;
  if (traced) {
    res.frames = tr->sequence();
    res.stopped = stats.ended == sim::loop_end::stopped;
  }
  // Outside the timing: sockets before their interfaces (connections, then listeners, then UDP).
  conns.clear();
  listeners.clear();
  socks.clear();
  ifs.clear();
  taps.clear();
  // What closing sent (a connection's RST) is the run's too.
  if (traced && hooks.events) (void)hooks.events(trace::drain());
  trace::enable(false);
  return std::pair{wall, cpu};
  };
  if (hooks.events && hooks.may_stop) {
    std::tie(res.wall_ns, res.cpu_ns) = replay(true, 0);
    std::tie(res.wall_ns_untraced, res.cpu_ns_untraced) = replay(false, res.stopped ? res.frames : 0);
  } else {
    std::tie(res.wall_ns_untraced, res.cpu_ns_untraced) = replay(false, 0);
    std::tie(res.wall_ns, res.cpu_ns) = replay(true, 0);
  }
  if (!hooks.events) res.events = from_trace(trace::drain());
  trace::enable(was_on);
  return res;
}

}  // namespace ringlab::trace_flow
