#pragma once
// The bypass receive lane both measurements in this folder run (bypass_udp_bench.cpp's bypass_sim and
// callgrind_rx.cpp): 4096 generated 64-byte UDP datagrams to one multicast group, preloaded into
// sim_nic and replayed from memory, looped; one io_context (one thread, no locks) with the
// bypass_service attached to queue 0 in busy_poll drive; one bypass socket bound and joined.
//   sim_feed f({.rx_csum_offload = true});   // then f.ctx, f.svc, f.sock; f.svc.start(); f.ctx.run_one()...
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "asio_bypass/backend.hpp"
#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/udp_socket.hpp"
#include "sim_nic/pcap_trace.hpp"
#include "tools/gen_trace/gen_trace.hpp"

namespace ringlab::bench {

struct sim_feed_options {
  bool rx_csum_offload = false;   // sim_nic checks IPv4/UDP checksums at ingest (rx_meta flags)
  bypass::lane_threading threading = bypass::lane_threading::one_thread;
  // Wraps sim_nic's ingest step (callgrind_rx hides it from the count); empty: used as it is.
  std::function<std::function<std::size_t(stack::time_ns)>(std::function<std::size_t(stack::time_ns)>)> wrap_ingest;
};

inline sim::pcap_trace make_feed_trace() {
  gen_trace::options g;
  g.count = 4096;
  g.groups = 1;
  g.size = 64;
  auto pk = gen_trace::generate(g);
  std::vector<std::vector<std::byte>> frames;
  std::vector<std::uint64_t> ts;
  for (auto& p : pk) frames.push_back(std::move(p.bytes)), ts.push_back(p.t_ns);
  return sim::pcap_trace::from_frames(frames, ts);
}

inline std::unique_ptr<bypass::device> open_feed_device(const sim::pcap_trace& trace, bool offload) {
  bypass::device_options d;
  d.trace = &trace;
  d.sim.timing.loops = 1'000'000;   // the preloaded trace, looped
  d.sim.pool = {.frames = 1024, .frame_size = 2048, .headroom = 256};
  d.sim.rx_csum_offload = offload;
  std::string why;
  auto dev = bypass::open_device(d, why);
  if (!dev) throw std::runtime_error("cannot open the sim device: " + why);
  return dev;
}

struct sim_feed {
  explicit sim_feed(const sim_feed_options& o = {})
      : trace(make_feed_trace()), dev(open_feed_device(trace, o.rx_csum_offload)),
        ctx(bypass::concurrency_hint(o.threading)), svc(asio::use_service<bypass::bypass_service>(ctx)) {
    bypass::lane_config c;
    c.iface.mac = gen_trace::host_mac;
    c.iface.addr = gen_trace::host_ip;
    c.drive = bypass::drive_mode::busy_poll;
    c.clock = dev->clock();
    c.ingest = o.wrap_ingest ? o.wrap_ingest(dev->ingest()) : dev->ingest();
    if (auto ec = svc.attach(dev->queue(0), c)) throw std::system_error(ec, "attach");
    sock.emplace(ctx, 1024);
    sock->bind(asio::ip::udp::endpoint(asio::ip::udp::v4(), gen_trace::first_port));
    sock->join_group(asio::ip::address_v4(gen_trace::first_group.value));
  }

  sim::pcap_trace trace;
  std::unique_ptr<bypass::device> dev;
  asio::io_context ctx;
  bypass::bypass_service& svc;
  std::optional<bypass::udp::socket> sock;
};

}  // namespace ringlab::bench
