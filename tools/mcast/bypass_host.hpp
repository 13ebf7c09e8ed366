#pragma once
// The multicast tools over the bypass path: one device queue (sim_nic replaying a pcap, or an AF_XDP /
// DPDK port), one user-space stack on one io_context, and app.hpp's templates or a datagram tap over
// ringlab::bypass::udp::socket. `ringlab mcast-recv` / `mcast-send` (--backend sim|afxdp|dpdk) and
// `ringlab demo` share this.
//
// Include only from code built with the default Asio (not the io_uring-renamed build): it names
// asio::io_context through the bypass socket types.
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <asio/io_context.hpp>

#include "asio_bypass/asio_service.hpp"
#include "asio_bypass/backend.hpp"
#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/udp_socket.hpp"
#include "sim_nic/event_loop.hpp"
#include "sim_nic/sim_nic.hpp"
#include "stack/socket/tcp_secret.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"

namespace ringlab::mcast {

// The host the user-space stack plays: --mac and --addr A.B.C.D/PREFIX.
struct host_config {
  wire::mac_addr mac;
  wire::ipv4_addr addr;
  int prefix_len = 24;
};

// Empty when both parse, else one line naming the option and the value.
inline std::string parse_host(std::string_view mac, std::string_view addr, host_config& h) {
  const auto m = wire::mac_addr::parse(mac);
  if (!m) return "--mac: '" + std::string(mac) + "' is not a MAC address (aa:bb:cc:dd:ee:ff)";
  h.mac = *m;
  std::string_view ip = addr;
  int prefix = 24;
  if (const auto slash = addr.find('/'); slash != std::string_view::npos) {
    ip = addr.substr(0, slash);
    const auto p = addr.substr(slash + 1);
    prefix = 0;
    if (p.empty() || p.size() > 2) prefix = -1;
    for (char c : p) prefix = (c < '0' || c > '9' || prefix < 0) ? -1 : prefix * 10 + (c - '0');
    if (prefix < 1 || prefix > 32)
      return "--addr: '" + std::string(addr) + "' has no prefix length in 1..32 after '/'";
  }
  const auto a = wire::ipv4_addr::parse(ip);
  if (!a || a->is_multicast() || a->is_unspecified() || a->is_broadcast())
    return "--addr: '" + std::string(addr) + "' is not a unicast IPv4 address (A.B.C.D/PREFIX)";
  h.addr = *a;
  h.prefix_len = prefix;
  return {};
}

inline std::string ipv4_text(wire::ipv4_addr a) { return a.to_string(); }

// Opens the device of d.backend through AsioService. A bypass backend that cannot start falls back to
// kernel sockets (bypass_device() is then nullptr; the reason is logged once as "TOOL: ..."), except
// sim, whose failures are the user's input (a file, a path): those throw std::runtime_error.
inline std::shared_ptr<bypass::AsioService> open_backend(const bypass::device_options& d, const char* tool) {
  return bypass::AsioService::create({.backend = d.backend,
                                      .device = d,
                                      .fall_back_to_kernel = d.backend != "sim",
                                      .log = [tool](std::string_view l) {
                                        std::fprintf(stderr, "%s: %.*s\n", tool, static_cast<int>(l.size()), l.data());
                                      }});
}

// One queue of a device with its stack: sockets open on `ctx`.
struct bypass_lane {
  asio::io_context ctx{1};
  bypass::bypass_service* svc = nullptr;
};

// The interface a host's lane runs: its address and MAC, the seed its timers and ports draw from, and a
// socket queue deep enough for a burst per socket. One place for every app's lane (mcast, TCP lanes).
inline stack::interface_config interface_of(const host_config& h, std::uint64_t seed) {
  stack::interface_config c;
  c.mac = h.mac;
  c.addr = h.addr;
  c.prefix_len = h.prefix_len;
  c.seed = seed;
  c.socket_queue_depth = 1024;
  return c;
}

// Attaches the stack of `lane` to queue q of dev. A sim device is driven by run_replay (event_loop), a real
// one busy-polls on the lane's loop with the real clock.
inline std::error_code attach_lane(bypass_lane& lane, bypass::device& dev, std::uint16_t q, const host_config& h,
                                   std::uint64_t seed, std::optional<std::uint64_t> tcp_secret = std::nullopt) {
  lane.svc = &asio::use_service<bypass::bypass_service>(lane.ctx);
  bypass::lane_config c;
  c.iface = interface_of(h, seed);
  const bool sim = dev.sim_nic() != nullptr;
  // A real port's lane keys its TCP ISNs and SYN cookies from the OS unless the user chose a secret;
  // sim keeps the fixed one so that a seeded run repeats.
  c.iface.tcp_secret = stack::lane_tcp_secret(c.iface.tcp_secret, !sim, tcp_secret);
  c.drive = sim ? bypass::drive_mode::manual : bypass::drive_mode::busy_poll;
  c.clock = dev.clock();
  if (!sim) c.ingest = dev.ingest();
  if (auto ec = lane.svc->attach(dev.queue(q), c)) return ec;
  if (!sim) lane.svc->start();   // busy-polls from the lane's loop once it runs
  return {};
}

// The poll of one bypass lane for sim::event_loop: the stack's ingest + poll at the virtual time, then
// the handlers it made ready (manual drive posts them); returns when the stack next needs polling.
// A handler may have started work with a timer of its own (a send waiting for ARP), hence the second
// look at the deadline.
template <class Lane>
sim::lane_poll event_loop_lane(Lane& l) {
  return [&l](std::uint64_t) -> std::uint64_t {
    const stack::time_ns next = l.svc->poll_once();
    l.ctx.restart();
    if (l.ctx.poll() == 0) return next;
    return stack::earliest(next, l.svc->iface().next_deadline());
  };
}

// Runs lanes over a sim_nic through the one discrete-event driver (sim_nic/event_loop.hpp): each
// round jumps the virtual clock to the earliest of the next frame and every stack's next deadline, so
// delayed IGMP reports, ARP retries and reassembly timeouts fire at their own times, also in a gap
// between frames; after the last frame, timers run up to `tail_ns` further. `frames_per_step` 1 gives
// handlers the datagrams in wire order across sockets (one frame, then every handler it made ready);
// more is faster. Stops early when stop() says so (checked after each round). The TX pcap is flushed
// on the way out.
template <class LaneRange>
sim::event_loop_stats run_replay(sim::sim_nic& nic, LaneRange& lanes, std::size_t frames_per_step,
                                 std::uint64_t tail_ns, std::function<bool()> stop = {}) {
  sim::event_loop loop(nic, {.frames_per_step = frames_per_step, .tail_ns = tail_ns, .stop = std::move(stop)});
  for (auto& l : lanes) loop.add_lane(event_loop_lane(*l));
  return loop.run();
}

}  // namespace ringlab::mcast
