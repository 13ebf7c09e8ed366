// An app of your own on ringlab: receive a UDP multicast group on the backend chosen at run time.
//   mcast_recv --backend kernel --group 239.1.1.1 --port 5001 [--count N]
//   mcast_recv --backend sim    --group 239.1.1.1 --port 5001 --replay traces/mcast-feed.pcap [--count N]
//   mcast_recv --backend afxdp  --group ... --port ... --iface veth0      (needs root, an XDP-capable link)
//   mcast_recv --backend dpdk   --group ... --port ... --vdev net_af_xdp0,iface=veth0
// Prints "SRC:PORT len=N TEXT" per datagram and "received N" at the end. The kernel backend is plain Asio
// (asio::ip::udp::socket on AsioService's loop); the others are ringlab::bypass::udp::socket on
// ringlab's user-space stack over the device open_device gave AsioService. Same handler code for both:
// that is the point of the bypass socket having Asio's shape.
//
// The TCP counterpart, the same idea over ringlab::bypass::tcp: tcp_echo.cpp.
#include <asio/io_context.hpp>
#include <asio/ip/multicast.hpp>
#include <asio/ip/udp.hpp>
#include <asio/signal_set.hpp>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

// The in-tree include form; <ringlab/asio_bypass/asio_service.hpp> works as well (README.md).
#include "asio_bypass/asio_service.hpp"
#include "asio_bypass/backend.hpp"
#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/kernel_context.hpp"
#include "asio_bypass/udp_socket.hpp"
#include "sim_nic/event_loop.hpp"
#include "sim_nic/pcap_trace.hpp"
#include "sim_nic/sim_nic.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"

namespace {
using namespace ringlab;

struct options {
  std::string backend = "kernel", group, replay, iface, vdev;
  unsigned short port = 0;
  unsigned long count = 0;   // 0: until the replay ends (sim) or SIGINT
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr, "mcast_recv: %s\nusage: mcast_recv --backend kernel|sim|afxdp|dpdk --group ADDR --port N "
                       "[--count N] [--replay FILE] [--iface NAME] [--vdev SPEC]\n", why.c_str());
  std::exit(2);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view k = argv[i];
    if (i + 1 >= argc) usage("'" + std::string(k) + "' needs a value");
    const std::string v = argv[++i];
    if (k == "--backend") o.backend = v;
    else if (k == "--group") o.group = v;
    else if (k == "--port") o.port = static_cast<unsigned short>(std::stoul(v));
    else if (k == "--count") o.count = std::stoul(v);
    else if (k == "--replay") o.replay = v;
    else if (k == "--iface") o.iface = v;
    else if (k == "--vdev") o.vdev = v;
    else usage("unknown option '" + std::string(k) + "'");
  }
  if (o.group.empty() || o.port == 0) usage("--group and --port are required");
  if (o.backend == "sim" && o.replay.empty()) usage("--backend sim needs --replay FILE");
  return o;
}

// One receive in flight, restarted from its completion; works over either socket type.
template <class Socket>
struct receiver {
  Socket& sock;
  const options& o;
  std::function<void()> done;
  unsigned long n = 0;
  char buf[2048];
  asio::ip::udp::endpoint from;
  void start() {
    sock.async_receive_from(asio::buffer(buf), from, [this](const std::error_code& ec, std::size_t len) {
      if (ec) {
        if (ec != asio::error::operation_aborted) std::fprintf(stderr, "mcast_recv: %s\n", ec.message().c_str());
        return;
      }
      // ringlab's multicast datagrams (tools/mcast/datagram.hpp) carry a 24-byte header (magic,
      // version, seq, send time) and then text: print the text after it.
      const std::size_t text = len > 24 ? len - 24 : 0;
      std::printf("%s:%u len=%zu %.*s\n", from.address().to_string().c_str(), from.port(), len,
                  static_cast<int>(text), buf + (len - text));
      if (++n == o.count) return done();
      start();
    });
  }
};

int run_kernel(const options& o, bypass::AsioService& svc, asio::io_context& ctx) {
  const auto group = asio::ip::make_address_v4(o.group);
  asio::ip::udp::socket sock(ctx, asio::ip::udp::v4());
  sock.set_option(asio::ip::udp::socket::reuse_address(true));
  sock.bind({group, o.port});
  sock.set_option(asio::ip::multicast::join_group(group));
  receiver<asio::ip::udp::socket> r{sock, o, [&] { svc.stop(); }};
  r.start();
  svc.start();
  svc.join();
  std::printf("received %lu\n", r.n);
  return 0;
}

int run_bypass(const options& o, bypass::device& dev) {
  // The stack of queue 0 on its own io_context: a sim device is driven by sim::event_loop on the
  // virtual clock, a real one busy-polls from the context's loop.
  asio::io_context ctx{1};
  auto& svc = asio::use_service<bypass::bypass_service>(ctx);
  bypass::lane_config c;
  c.iface.mac = *wire::mac_addr::parse("02:00:00:00:00:02");
  c.iface.addr = *wire::ipv4_addr::parse("10.0.0.2");
  c.iface.prefix_len = 24;
  const bool sim = dev.sim_nic() != nullptr;
  c.drive = sim ? bypass::drive_mode::manual : bypass::drive_mode::busy_poll;
  c.clock = dev.clock();
  if (!sim) c.ingest = dev.ingest();
  if (sim) sim::event_loop::start_before_first_frame(*dev.sim_nic());
  if (auto ec = svc.attach(dev.queue(0), c)) {
    std::fprintf(stderr, "mcast_recv: attach: %s\n", ec.message().c_str());
    return 1;
  }
  if (!sim) svc.start();
  const auto group = asio::ip::make_address_v4(o.group);
  bypass::udp::socket sock(ctx);
  sock.bind({group, o.port});
  sock.join_group(group);
  bool stop = false;
  receiver<bypass::udp::socket> r{sock, o, [&] { stop = true; ctx.stop(); }};
  r.start();
  if (sim) {
    sim::event_loop loop(*dev.sim_nic(), {.frames_per_step = 1, .tail_ns = 0, .stop = [&] { return stop; }});
    loop.add_lane([&](std::uint64_t) -> std::uint64_t {
      const stack::time_ns next = svc.poll_once();
      ctx.restart();
      if (ctx.poll() == 0) return next;
      return stack::earliest(next, svc.iface().next_deadline());
    });
    loop.run();
  } else {
    asio::signal_set signals(ctx, SIGINT, SIGTERM);
    signals.async_wait([&](const std::error_code&, int) { ctx.stop(); });
    ctx.run();
  }
  sock.close();
  std::printf("received %lu\n", r.n);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  bypass::device_options d;
  d.backend = o.backend;
  sim::pcap_trace trace;
  if (o.backend == "sim") {
    auto t = sim::pcap_trace::open(o.replay);
    if (!t) usage("--replay: " + t.error);
    trace = std::move(*t);
    d.trace = &trace;
    d.sim.pool = {.frames = 2048, .frame_size = 2048, .headroom = 256};
  } else if (o.backend == "afxdp") {
    d.device = o.iface + ":udp=" + std::to_string(o.port);
  } else if (o.backend == "dpdk") {
    d.device = o.vdev;
  }
  // A bypass backend that cannot start falls back to the kernel (one line says why); sim does not:
  // its failures are the user's input.
  std::shared_ptr<bypass::AsioService> svc;
  try {
    svc = bypass::AsioService::create({.backend = o.backend, .device = d, .fall_back_to_kernel = o.backend != "sim",
                                       .log = [](std::string_view l) {
                                         std::fprintf(stderr, "mcast_recv: %.*s\n", static_cast<int>(l.size()), l.data());
                                       }});
  } catch (const std::exception& e) {
    usage(e.what());
  }
  if (bypass::device* dev = svc->bypass_device()) return run_bypass(o, *dev);
  return run_kernel(o, *svc, ringlab::kernel::epoll::context(*svc));
}
