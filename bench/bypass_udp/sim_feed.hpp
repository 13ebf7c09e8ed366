#pragma once
// The bypass receive lane both measurements in this folder run (bypass_udp_bench.cpp's bypass_sim and
// callgrind_rx.cpp): 4096 generated 64-byte UDP datagrams to one multicast group, preloaded into
// sim_nic and replayed from memory, looped; one io_context (one thread, no locks) with the
// bypass_service attached to queue 0 in busy_poll drive; one bypass socket bound and joined.
//   sim_feed f({.rx_csum_offload = true});   // then f.ctx, f.svc, f.sock; f.svc.start(); f.ctx.run_one()...
//
// Fresh numbers: a looped trace would repeat its mcast sequence numbers, and every datagram after the
// first loop would take the tracker's duplicate branch, work the kernel rows never do. So after each
// ingest step the records sim_nic just copied get their number raised by the trace's length (UDP
// checksum patched, RFC 1624): the next loop carries the next numbers, every datagram is in order.
// That renumbering is the feed's work, not the receive path's (as the kernel rows' sender numbering
// its datagrams on the other core): `outside_receive_path` is called before and after it (callgrind_rx
// stops counting there). sim_nic's own ingest (the copy into the pool, with offload the checksum
// checks: what a real NIC does for free) is part of the lane and is counted.
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "asio_bypass/backend.hpp"
#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/udp_socket.hpp"
#include "sim_nic/pcap_trace.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/endian.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/udp.hpp"
#include "tools/gen_trace/gen_trace.hpp"
#include "tools/mcast/datagram.hpp"

namespace ringlab::bench {

struct sim_feed_options {
  bool rx_csum_offload = false;   // sim_nic checks IPv4/UDP checksums at ingest (rx_meta flags)
  bypass::lane_threading threading = bypass::lane_threading::one_thread;
  void (*outside_receive_path)() = nullptr;   // called before and after the feed's renumbering
};

// A generated trace held in memory, as sim_nic replays it (bench/lanes uses it too).
inline sim::pcap_trace trace_of(const gen_trace::options& g) {
  auto pk = gen_trace::generate(g);
  std::vector<std::vector<std::byte>> frames;
  std::vector<std::uint64_t> ts;
  for (auto& p : pk) frames.push_back(std::move(p.bytes)), ts.push_back(p.t_ns);
  return sim::pcap_trace::from_frames(frames, ts);
}

inline sim::pcap_trace make_feed_trace() {
  gen_trace::options g;
  g.count = 4096;
  g.groups = 1;
  g.size = 64;
  return trace_of(g);
}

// The UDP datagram of an untagged IPv4 frame whose payload starts with an mcast header, else nullopt.
inline std::optional<wire::udp::view> mcast_udp(std::span<const std::byte> frame) noexcept {
  const auto e = wire::ethernet::view::check(frame);
  if (!e || e->has_vlan() || e->type() != wire::ethernet::ethertype::ipv4) return std::nullopt;
  const auto ip = wire::ipv4::view::check(e->payload());
  if (!ip || ip->proto() != wire::udp::ip_protocol) return std::nullopt;
  const auto u = wire::udp::view::check(ip->payload());
  if (!u || u->payload().size() < mcast::header_size || wire::load_be32(u->payload().data()) != mcast::datagram_magic)
    return std::nullopt;
  return *u;
}

// Raises the mcast sequence number of each record as sim_nic copies it (see the top of this file).
class fresh_numbers {
 public:
  // Every record must be an untagged IPv4/UDP frame carrying an mcast header, numbered 0..n-1 once each.
  explicit fresh_numbers(sim::pcap_trace& trace) {
    for (const auto& r : trace.records()) {
      // The trace is ours and not const: its blob may be written between ingest steps (sim_nic reads
      // it only inside them, on this same thread).
      const auto b = trace.bytes(r);
      const auto u = mcast_udp(b);
      if (!u) throw std::runtime_error("sim_feed: trace record " + std::to_string(r.number) + " is not an mcast datagram");
      auto* f = const_cast<std::byte*>(b.data());
      const auto at_of = [&](const std::byte* p) { return f + (p - b.data()); };
      at_.push_back({at_of(u->payload().data()) + 8, at_of(u->bytes().data()) + wire::udp::field::checksum});
    }
    std::vector<bool> seen(at_.size());
    for (const auto& a : at_) {
      const std::uint64_t s = wire::load_be64(a.seq);
      if (s >= seen.size() || seen[s]) throw std::runtime_error("sim_feed: the trace's numbers are not 0..n-1 once each");
      seen[s] = true;
    }
  }

  // n more records were just copied, in trace order (wrapping at the end: the trace loops).
  void advance(std::size_t n) noexcept {
    for (; n > 0; --n) {
      const at& a = at_[next_];
      const std::uint64_t old_seq = wire::load_be64(a.seq), new_seq = old_seq + at_.size();
      wire::store_be64(a.seq, new_seq);
      if (std::uint16_t c = wire::load_be16(a.csum); c != 0) {   // 0: sent without a UDP checksum
        c = wire::checksum::update32(c, static_cast<std::uint32_t>(old_seq >> 32), static_cast<std::uint32_t>(new_seq >> 32));
        c = wire::checksum::update32(c, static_cast<std::uint32_t>(old_seq), static_cast<std::uint32_t>(new_seq));
        wire::store_be16(a.csum, c == 0 ? 0xffff : c);   // RFC 768: a computed 0 is sent as all ones
      }
      if (++next_ == at_.size()) next_ = 0;
    }
  }

 private:
  struct at {
    std::byte* seq;    // the 8-byte big-endian number in the mcast header
    std::byte* csum;   // the UDP checksum field
  };
  std::vector<at> at_;
  std::size_t next_ = 0;
};

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
      : trace(make_feed_trace()), numbers(trace), dev(open_feed_device(trace, o.rx_csum_offload)),
        ctx(bypass::concurrency_hint(o.threading)), svc(asio::use_service<bypass::bypass_service>(ctx)) {
    bypass::lane_config c;
    c.iface.mac = gen_trace::host_mac;
    c.iface.addr = gen_trace::host_ip;
    c.drive = bypass::drive_mode::busy_poll;
    c.clock = dev->clock();
    c.ingest = [ingest = dev->ingest(), this, outside = o.outside_receive_path](stack::time_ns now) {
      const std::size_t n = ingest(now);
      if (outside) outside();
      numbers.advance(n);
      if (outside) outside();
      return n;
    };
    if (auto ec = svc.attach(dev->queue(0), c)) throw std::system_error(ec, "attach");
    sock.emplace(ctx, 1024);
    sock->bind(asio::ip::udp::endpoint(asio::ip::udp::v4(), gen_trace::first_port));
    sock->join_group(asio::ip::address_v4(gen_trace::first_group.value));
  }

  sim::pcap_trace trace;
  fresh_numbers numbers;
  std::unique_ptr<bypass::device> dev;
  asio::io_context ctx;
  bypass::bypass_service& svc;
  std::optional<bypass::udp::socket> sock;
};

}  // namespace ringlab::bench
