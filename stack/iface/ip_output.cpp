#include "stack/iface/ip_output.hpp"

#include <algorithm>
#include <cstring>

#include "stack/iface/rx_pipeline.hpp"
#include "stack/wire/arp.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/endian.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"

namespace ringlab::stack {

using trace::drop_reason;
using trace::verdict;
namespace eth = wire::ethernet;

namespace {
constexpr std::size_t l2_len = eth::header_len;
constexpr std::size_t min_frame = eth::min_frame_len;   // we pad short frames, as a NIC does on the wire

std::error_code errc(std::errc e) noexcept { return std::make_error_code(e); }

// What tells this stack apart from every other in a run (trace/packet_id.hpp): its MAC and IPv4
// address (the host) and its port's name (the queue: a host's lanes share the addresses).
std::uint64_t stack_tag(port::any_port& port, const interface_config& cfg) {
  std::uint64_t h = trace::tx_tag(trace::tx_tag_seed, {reinterpret_cast<const char*>(cfg.mac.octets.data()), cfg.mac.octets.size()});
  const std::uint32_t a = cfg.addr.value;
  h = trace::tx_tag(h, {reinterpret_cast<const char*>(&a), sizeof a});
  return trace::tx_tag(h, port.caps().name);
}
}  // namespace

ip_output::ip_output(port::any_port& port, const interface_config& cfg, interface_counters& ctr,
                     frame_releaser& frames, timer_queue& timers)
    : port_(port),
      cfg_(cfg),
      ctr_(ctr),
      frames_(frames),
      arp_(cfg.arp, timers,
           {this,
            [](void* o, wire::ipv4_addr ip, time_ns now) noexcept {   // retry: ask again
              static_cast<ip_output*>(o)->send_arp(1, wire::mac_addr::broadcast(), {}, ip, now);
            },
            [](void* o, wire::ipv4_addr ip, time_ns now) noexcept { static_cast<ip_output*>(o)->unresolved(ip, now); }}),
      mtu_(port.caps().mtu),
      tx_l4_csum_(port.caps().tx_l4_csum),
      ids_(stack_tag(port, cfg)) {
  pending_.reserve(cfg_.arp.pending_total);
}

bool ip_output::next_hop(wire::ipv4_addr dst, wire::ipv4_addr& hop_ip, wire::mac_addr& mac, bool& known,
                         time_ns now) const noexcept {
  known = true;
  hop_ip = dst;
  if (dst.is_multicast()) {
    mac = wire::multicast_mac(dst);
    return true;
  }
  if (dst.is_broadcast() || dst == cfg_.directed_broadcast()) {
    mac = wire::mac_addr::broadcast();
    return true;
  }
  if (dst == cfg_.addr) {
    mac = cfg_.mac;
    return true;
  }
  if (!dst.same_subnet(cfg_.addr, cfg_.prefix_len)) {
    if (cfg_.gateway.is_unspecified()) return false;
    hop_ip = cfg_.gateway;
  }
  const auto m = arp_.lookup(hop_ip, now);
  known = m.has_value();
  if (known) mac = *m;
  return true;
}

std::error_code ip_output::send(const params& o, std::size_t l4_max, l4_writer fill, time_ns now) noexcept {
  const std::size_t ip_len = wire::ipv4::repr{.router_alert = o.router_alert}.buffer_len();
  if (ip_len + l4_max > mtu_) return errc(std::errc::message_size);
  wire::ipv4_addr hop_ip;
  wire::mac_addr mac;
  bool known = false;
  if (o.l2_dst) {
    mac = *o.l2_dst;
    known = true;
  } else if (!next_hop(o.dst, hop_ip, mac, known, now)) {
    return errc(std::errc::network_unreachable);
  }
  port::tx_batch b = port_.tx_reserve(1);
  if (b.size() == 0) {
    ++ctr_.tx_no_frame;
    return errc(std::errc::no_buffer_space);
  }
  b[0].meta.packet_id = ids_.take();   // the frame's id from here to the peer's delivery
  const std::span<std::byte> room = b[0].bytes;
  if (l2_len + ip_len + l4_max > room.size()) return errc(std::errc::message_size);
  // L4 first (it may checksum its own bytes), then IPv4 and Ethernet in front of it, all in place.
  const std::size_t l4_len = fill(room.subspan(l2_len + ip_len));
  if (l4_len == 0) return errc(std::errc::message_size);
  if (o.l4_csum_partial) b[0].meta.flags |= port::tx_l4_csum_partial;
  // RFC 2113 Router Alert (IGMP, RFC 2236 2 / RFC 3376 4) is wire's to write: a 24-byte header.
  wire::ipv4::repr ip{o.src,  o.dst, o.proto, static_cast<std::uint16_t>(l4_len), o.ttl, o.tos,
                      next_ident_++, true};
  ip.router_alert = o.router_alert;
  ip.emit(room.subspan(l2_len, ip_len));
  eth::repr{cfg_.mac, mac, eth::ethertype::ipv4, {}, 0}.emit(room);
  const std::size_t len = l2_len + ip_len + l4_len;

  if (o.dst == cfg_.addr) {   // to ourselves: never on the wire
    loop_back(room.first(len), b[0].meta.packet_id, now);
    return {};
  }
  if (o.loop) loop_back(room.first(len), b[0].meta.packet_id, now);
  if (known) {
    commit(b, len);
    return {};
  }
  // Unresolved next hop: the frame waits (bounded) for the ARP reply; the request goes out once.
  const auto waiting = std::count_if(pending_.begin(), pending_.end(), [&](const pending_tx& p) { return p.hop == hop_ip; });
  const auto st = arp_.start(hop_ip, now);
  if (st == arp_cache::start_result::send_request) send_arp(1, wire::mac_addr::broadcast(), {}, hop_ip, now);
  if (st == arp_cache::start_result::no_room || pending_.size() >= cfg_.arp.pending_total ||
      static_cast<std::size_t>(waiting) >= cfg_.arp.pending_per_hop) {
    // As a kernel's full unresolved queue: the datagram is lost, the send itself succeeded.
    ctr_.count_drop(drop_reason::arp_unresolved);
    trace::emit({.packet_id = b[0].meta.packet_id, .t_ns = now, .frame = b[0].id, .stage = trace::hop::arp, .v = verdict::drop,
                 .reason = drop_reason::arp_unresolved});
    return {};
  }
  pending_.push_back({hop_ip, std::move(b), len});
  return {};
}

void ip_output::finish(port::frame_ref& f, std::size_t len) noexcept {
  if (len < min_frame) {
    std::memset(f.bytes.data() + len, 0, min_frame - len);
    len = min_frame;
  }
  f.bytes = f.bytes.first(len);
  ++ctr_.tx_frames;
  ctr_.tx_bytes += len;
  trace::emit({.packet_id = f.meta.packet_id, .t_ns = frames_.now(), .frame = f.id, .stage = trace::hop::tx, .v = verdict::tx});
}

void ip_output::commit(port::tx_batch& b, std::size_t len) noexcept {
  finish(b[0], len);
  b.commit(1);
}

ip_output::train_result ip_output::send_train(const params& o, std::size_t l4_max, std::size_t n, train_writer fill,
                                              time_ns now) noexcept {
  train_result res;
  const std::size_t ip_len = wire::ipv4::repr{}.buffer_len();
  wire::ipv4_addr hop_ip;
  wire::mac_addr mac;
  bool known = false;
  bool direct = !o.router_alert && !o.loop && o.dst != cfg_.addr && ip_len + l4_max <= mtu_;
  if (direct && o.l2_dst) mac = *o.l2_dst, known = true;
  else if (direct) direct = next_hop(o.dst, hop_ip, mac, known, now);
  if (!direct || !known) {   // send()'s other roads (ARP waits, loopback, errors): one packet at a time
    for (std::size_t i = 0; i < n; ++i) {
      const std::error_code ec = send(o, l4_max, [&](std::span<std::byte> out) { return fill(i, out, {}); }, now);
      if (ec) ++res.failed, res.ec = ec;
    }
    return res;
  }
  const std::size_t hdr_len = l2_len + ip_len;
  for (std::size_t i = 0; i < n;) {
    const std::size_t want = std::min(n - i, port::tx_batch::max_frames);
    port::tx_batch b = port_.tx_reserve(want);
    if (b.size() < want) {   // as many failed send()s as frames missing
      ctr_.tx_no_frame += want - b.size();
      res.failed += want - b.size(), res.ec = errc(std::errc::no_buffer_space);
    }
    std::size_t k = 0;   // frames built
    std::span<const std::byte> head_l4;
    const std::byte* head = nullptr;
    std::uint16_t head_ident = 0, head_total = 0, head_csum = 0;
    for (; k < b.size(); ++k) {
      port::frame_ref& f = b[k];
      f.meta.packet_id = ids_.take();
      const std::span<std::byte> room = f.bytes;
      if (hdr_len + l4_max > room.size()) break;
      const std::size_t l4_len = fill(i + k, room.subspan(hdr_len), head_l4);
      if (l4_len == 0) break;
      if (o.l4_csum_partial) f.meta.flags |= port::tx_l4_csum_partial;
      const std::uint16_t ident = next_ident_++;
      const auto total = static_cast<std::uint16_t>(ip_len + l4_len);
      std::byte* p = room.data();
      if (!head) {
        wire::ipv4::repr{o.src, o.dst, o.proto, static_cast<std::uint16_t>(l4_len), o.ttl, o.tos, ident, true}.emit(
            room.subspan(l2_len, ip_len));
        eth::repr{cfg_.mac, mac, eth::ethertype::ipv4, {}, 0}.emit(room);
        head = p, head_l4 = room.subspan(hdr_len, l4_len);
        head_ident = ident, head_total = total;
        head_csum = wire::load_be16(p + l2_len + wire::ipv4::field::checksum);
      } else {
        // The same header but for ident and total length: RFC 1624's update equals a recompute.
        std::memcpy(p, head, hdr_len);
        std::uint16_t c = wire::checksum::update(head_csum, head_ident, ident);
        wire::store_be16(p + l2_len + wire::ipv4::field::ident, ident);
        if (total != head_total) {
          c = wire::checksum::update(c, head_total, total);
          wire::store_be16(p + l2_len + wire::ipv4::field::total_len, total);
        }
        wire::store_be16(p + l2_len + wire::ipv4::field::checksum, c);
      }
      finish(f, hdr_len + l4_len);
    }
    if (k < b.size()) {   // a frame too small, or the writer gave up: send()'s message_size
      res.failed += b.size() - k, res.ec = errc(std::errc::message_size);
    }
    if (k) ctr_.tx_train_frames += k, ++ctr_.tx_train_bursts;
    b.commit(k);
    i += want;
  }
  return res;
}

void ip_output::resolved(wire::ipv4_addr ip, wire::mac_addr mac) noexcept {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->hop != ip) {
      ++it;
      continue;
    }
    mac.store(it->batch[0].bytes.data());
    commit(it->batch, it->len);
    it = pending_.erase(it);
  }
}

void ip_output::unresolved(wire::ipv4_addr ip, time_ns now) noexcept {
  std::erase_if(pending_, [&](pending_tx& p) {
    if (p.hop != ip) return false;
    ctr_.count_drop(drop_reason::arp_unresolved);
    trace::emit({.packet_id = p.batch[0].meta.packet_id, .t_ns = now, .frame = p.batch[0].id, .stage = trace::hop::arp, .v = verdict::drop,
                 .reason = drop_reason::arp_unresolved});
    return true;   // the batch cancels: the frame returns to the pool
  });
}

void ip_output::loop_back(std::span<const std::byte> frame, std::uint64_t packet_id, time_ns now) noexcept {
  port::frame_ref f = port_.alloc_frame();   // through the lane's pool cache when the port has one
  if (!f.valid()) {
    ctr_.count_drop(drop_reason::pool_empty);
    return;
  }
  std::memcpy(f.bytes.data(), frame.data(), frame.size());
  f.bytes = f.bytes.first(frame.size());
  f.meta.packet_id = packet_id;   // the looped-back copy is the same packet
  ++ctr_.looped_back;
  loop_->receive_own(f, now);
}

void ip_output::send_arp(std::uint16_t op, wire::mac_addr l2_dst, wire::mac_addr target_mac,
                         wire::ipv4_addr target_ip, time_ns now) noexcept {
  port::tx_batch b = port_.tx_reserve(1);
  if (b.size() == 0) {
    ++ctr_.tx_no_frame;
    return;
  }
  b[0].meta.packet_id = ids_.take();
  const std::span<std::byte> room = b[0].bytes;
  eth::repr{cfg_.mac, l2_dst, eth::ethertype::arp, {}, 0}.emit(room);
  const wire::arp::repr r{static_cast<wire::arp::operation>(op), cfg_.mac, cfg_.addr, target_mac, target_ip};
  const std::size_t len = l2_len + r.emit(room.subspan(l2_len));
  if (op == 1) ++ctr_.arp_requests_sent;
  frames_.advance_now(now);
  commit(b, len);
}

}  // namespace ringlab::stack
