// Instructions per packet on the bypass receive path, for callgrind (run it with callgrind_rx.sh):
//   sim_nic queue port rx_burst -> stack::interface (eth/ipv4/udp) -> stack udp_socket queue
//   -> bypass::udp::socket (op performed, handler posted) -> io_context runs the handler -> re-arm
// The feed (64-byte UDP payloads to one multicast group) is generated and loaded into sim_nic before
// anything is measured. The service runs in manual drive mode: this loop calls poll_once() and then
// io_context::poll(). sim_nic's ingest step (what DMA does on a real NIC) runs with callgrind's
// collection toggled off, so it is not counted. Instrumentation starts in the handler of packet
// `warmup` and stops in the handler of packet `warmup + measured`: exactly `measured` handler runs.
//   usage: callgrind_rx [warmup=20000] [measured=10000]
#include <valgrind/callgrind.h>

#include <array>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>
#include <vector>

#include "asio_bypass/backend.hpp"
#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/udp_socket.hpp"
#include "tools/gen_trace/gen_trace.hpp"

namespace {

using namespace ringlab;

struct receiver {
  bypass::udp::socket& socket;
  std::uint64_t warmup = 0;
  std::uint64_t stop_at = 0;
  std::uint64_t got = 0;
  std::uint64_t bytes = 0;
  std::uint64_t errors = 0;
  bool measuring = false;
  asio::ip::udp::endpoint from;
  std::array<std::byte, 2048> buf{};

  void arm() {
    socket.async_receive_from(asio::buffer(buf), from, [this](const std::error_code& ec, std::size_t n) {
      if (ec) return void(++errors);
      ++got;
      bytes += n;
      if (got == warmup) {
        measuring = true;
        CALLGRIND_START_INSTRUMENTATION;
      } else if (got == stop_at) {
        CALLGRIND_STOP_INSTRUMENTATION;
        measuring = false;
        return;   // not re-armed: the loop below ends
      }
      arm();
    });
  }
};

std::uint64_t arg(int argc, char** argv, int i, std::uint64_t def) {
  if (argc <= i) return def;
  char* end = nullptr;
  const auto v = std::strtoull(argv[i], &end, 10);
  if (end == argv[i] || *end != '\0' || v == 0) {
    std::fprintf(stderr, "callgrind_rx: argument %d '%s' is not a positive packet count\n", i, argv[i]);
    std::exit(2);
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t warmup = arg(argc, argv, 1, 20000);
  const std::uint64_t measured = arg(argc, argv, 2, 10000);

  gen_trace::options g;
  g.count = 4096;
  g.groups = 1;
  g.size = 64;
  auto pk = gen_trace::generate(g);
  std::vector<std::vector<std::byte>> frames;
  std::vector<std::uint64_t> ts;
  for (auto& p : pk) frames.push_back(std::move(p.bytes)), ts.push_back(p.t_ns);
  const auto trace = sim::pcap_trace::from_frames(frames, ts);

  bypass::device_options d;
  d.trace = &trace;
  d.sim.timing.loops = 1'000'000;   // the preloaded trace, looped
  d.sim.pool = {.frames = 1024, .frame_size = 2048, .headroom = 256};
  std::string why;
  auto dev = bypass::open_device(d, why);
  if (!dev) {
    std::fprintf(stderr, "callgrind_rx: cannot open the sim device: %s\n", why.c_str());
    return 1;
  }
  asio::io_context ctx{1};
  auto& svc = asio::use_service<bypass::bypass_service>(ctx);
  bypass::lane_config c;
  c.iface.mac = gen_trace::host_mac;
  c.iface.addr = gen_trace::host_ip;
  c.drive = bypass::drive_mode::manual;
  c.clock = dev->clock();
  receiver* rp = nullptr;
  c.ingest = [ingest = dev->ingest(), &rp](stack::time_ns now) {
    // The simulated DMA is not part of the receive path: do not count it.
    const bool hide = rp && rp->measuring;
    if (hide) CALLGRIND_TOGGLE_COLLECT;
    const auto n = ingest(now);
    if (hide) CALLGRIND_TOGGLE_COLLECT;
    return n;
  };
  if (auto ec = svc.attach(dev->queue(0), c)) {
    std::fprintf(stderr, "callgrind_rx: attach: %s\n", ec.message().c_str());
    return 1;
  }
  bypass::udp::socket s(ctx, 1024);
  s.bind(asio::ip::udp::endpoint(asio::ip::udp::v4(), gen_trace::first_port));
  s.join_group(asio::ip::address_v4(gen_trace::first_group.value));

  receiver r{.socket = s, .warmup = warmup, .stop_at = warmup + measured};
  rp = &r;
  r.arm();
  std::uint64_t idle = 0;
  while (r.got < r.stop_at && r.errors == 0 && idle < 1000) {
    const auto before = r.got;
    svc.poll_once();
    ctx.poll();
    idle = r.got == before ? idle + 1 : 0;
  }
  if (r.got != r.stop_at || r.errors) {
    std::fprintf(stderr, "callgrind_rx: got %llu of %llu packets, %llu errors\n",
                 static_cast<unsigned long long>(r.got), static_cast<unsigned long long>(r.stop_at),
                 static_cast<unsigned long long>(r.errors));
    return 1;
  }
  std::printf("warmup packets: %llu\nmeasured packets: %llu\npayload bytes/packet: %llu\n",
              static_cast<unsigned long long>(warmup), static_cast<unsigned long long>(measured),
              static_cast<unsigned long long>(r.bytes / r.got));
  return 0;
}
