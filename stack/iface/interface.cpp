#include "stack/iface/interface.hpp"

#include <algorithm>
#include <cstring>

#include "stack/socket/udp_socket.hpp"
#include "stack/wire/arp.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/igmp.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/udp.hpp"

namespace ringlab::stack {

using trace::drop_reason;
using trace::verdict;
namespace eth = wire::ethernet;

namespace {
constexpr std::size_t l2_len = eth::header_len;
constexpr std::size_t min_frame = eth::min_frame_len;   // we pad short frames, as a NIC does on the wire

std::error_code errc(std::errc e) noexcept { return std::make_error_code(e); }

drop_reason ipv4_reason(wire::error e) noexcept {
  switch (e) {
    case wire::error::bad_version: return drop_reason::bad_ip_version;
    case wire::error::bad_header_length: return drop_reason::bad_ip_header_len;
    case wire::error::bad_total_length: return drop_reason::bad_ip_total_len;
    default: return drop_reason::truncated;
  }
}
}  // namespace

struct interface::ip_values {
  wire::ipv4_addr src, dst;
  std::uint8_t proto = 0;
  bool l4_csum_good = false;   // the device vouched for the UDP/TCP checksum
  bool l4_csum_bad = false;    // the device found it wrong
  wire::mac_addr l2_src;       // who handed us the packet: replies go back there without ARP
};

interface::interface(port::any_port& port, const interface_config& cfg)
    : port_(port),
      cfg_(cfg),
      arp_(cfg.arp),
      frags_(port.pool(), cfg.fragments),
      groups_(cfg.seed),
      next_ephemeral_(cfg.ephemeral_first) {
  if (cfg_.rx_burst == 0) cfg_.rx_burst = 1;
  if (cfg_.ephemeral_last < cfg_.ephemeral_first) cfg_.ephemeral_last = cfg_.ephemeral_first;
  mtu_ = port_.caps().mtu;
  rx_.resize(cfg_.rx_burst);
  done_.reserve(std::max<std::size_t>(cfg_.rx_burst, 256));
  pending_.reserve(cfg_.arp.pending_total);
}

interface::~interface() {
  const auto socks = udp_;
  for (udp_socket* s : socks) s->close();
  pending_.clear();   // each batch cancels: its frame goes back to the pool
}

// ---------------------------------------------------------------- receive

time_ns interface::poll(time_ns now) noexcept {
  now_ = now;
  const std::size_t n = port_.rx_burst(rx_);
  // With tracing on every frame takes the general path, so routes name the same hops as always.
  const bool fast = !trace::enabled();
  // Nothing held (then done_ is empty): the frames nobody kept are packed to the front of rx_, in
  // order (moved only after a kept one), and go back from there instead of being copied into done_
  // one by one. A socket copies the frame_ref it keeps, so a kept frame's slot may be overwritten.
  const bool pack = hold_ == 0;
  std::size_t back = 0;
  for (std::size_t i = 0; i < n; ++i) {
    rx_ctx c{rx_[i], true, false, now};
    ++ctr_.rx_frames;
    ctr_.rx_bytes += c.frame.bytes.size();
    hop(c, trace::hop::port_rx);
    if (!fast || !fast_udp(c)) receive(c);
    if (c.kept) continue;
    if (!pack) [[unlikely]] {
      done_.push_back(c.frame);
      continue;
    }
    if (back != i) rx_[back] = rx_[i];
    ++back;
  }
  if (!done_.empty()) [[unlikely]] {
    // Held releases (a hold around this poll, or one a socket callback took inside it): one list.
    done_.insert(done_.end(), rx_.begin(), rx_.begin() + static_cast<std::ptrdiff_t>(back));
  } else if (back) {
    const std::span<const port::frame_ref> give{rx_.data(), back};
    if (trace::enabled())
      for (const auto& f : give) hop({f, true, false, now}, trace::hop::release);
    port_.rx_release(give);
  }
  if (!done_.empty()) {
    if (trace::enabled())
      for (const auto& f : done_) hop({f, true, false, now}, trace::hop::release);
    port_.rx_release(done_);
    done_.clear();
  }
  run_timers(now);
  // A full burst: more frames may wait in the ring, so ask to be polled again at once.
  return n == rx_.size() ? now : next_deadline();
}

time_ns interface::next_deadline() const noexcept {
  return earliest(earliest(arp_.next_deadline(), frags_.next_deadline()), groups_.next_deadline());
}

void interface::hop_traced(const rx_ctx& c, trace::hop where, verdict v, std::source_location loc) noexcept {
  trace::emit({.packet_id = c.frame.meta.packet_id, .t_ns = c.now, .frame = c.frame.id,
               .queue = c.frame.meta.queue, .stage = where, .v = v}, loc);
}

void interface::drop(const rx_ctx& c, trace::hop where, drop_reason why, std::source_location loc) noexcept {
  ++ctr_.drops[static_cast<std::size_t>(why)];
  trace::emit({.packet_id = c.frame.meta.packet_id, .t_ns = c.now, .frame = c.frame.id,
               .queue = c.frame.meta.queue, .stage = where, .v = verdict::drop, .reason = why}, loc);
}

// Inlined into both callers (the fast path and on_udp): one call less per datagram.
[[gnu::always_inline]] inline void interface::deliver_udp(rx_ctx& c, udp_socket* s, endpoint source,
                                                         wire::ipv4_addr dst,
                                                         std::span<const std::byte> payload) noexcept {
  const datagram d{c.frame, c.from_port, source, dst, payload};
  const auto r = s->deliver(d);   // may hand it straight to a waiting reader (the socket's reader hook)
  if (r == udp_socket::delivery::full) return drop(c, trace::hop::socket_queue, drop_reason::socket_queue_full);
  c.kept = r != udp_socket::delivery::copied;   // copied: the frame goes back with the burst
  ++ctr_.udp_delivered;
  if (trace::enabled()) [[unlikely]] {
    hop_traced(c, trace::hop::socket_queue, verdict::deliver, std::source_location::current());
    // A reader already waiting took it (the socket's reader hook): delivered to the application here.
    if (r != udp_socket::delivery::queued)
      hop_traced(c, trace::hop::deliver, verdict::deliver, std::source_location::current());
  }
}

// Ethernet II (no 802.1Q tag) / IPv4 without options, not a fragment / UDP, to a joined group or one
// of our addresses, length fields consistent, checksums good (the device's flags or ours), and a
// socket for it: delivered from fixed offsets, the socket found through the one-flow memo. Anything
// else (and every frame that would be dropped) returns false with nothing changed, and the general
// path below decides, with its drop reasons and counters.
// Inlined into poll, its one caller: the call and its register saves were ~16 instructions a frame.
[[gnu::always_inline]] inline bool interface::fast_udp(rx_ctx& c) noexcept {
  constexpr std::size_t ip_off = l2_len, udp_off = l2_len + wire::ipv4::min_header_len;
  const std::span<const std::byte> b = c.frame.bytes;
  if (b.size() < udp_off + wire::udp::header_len) return false;
  const std::byte* p = b.data();
  if (wire::load_be16(p + 12) != static_cast<std::uint16_t>(eth::ethertype::ipv4)) return false;
  if (wire::load_u8(p + ip_off) != 0x45) return false;                      // version 4, IHL 5: no options
  if (wire::load_u8(p + ip_off + 9) != wire::udp::ip_protocol) return false;
  if ((wire::load_be16(p + ip_off + 6) & 0x3fff) != 0) return false;         // MF or an offset: a fragment
  const std::uint16_t total = wire::load_be16(p + ip_off + 2);
  if (total < wire::ipv4::min_header_len + wire::udp::header_len || total > b.size() - l2_len) return false;
  if (!(wire::load_u8(p) & 1u) && std::memcmp(p, cfg_.mac.octets.data(), 6) != 0) return false;   // not ours, not a group
  const std::uint16_t flags = c.frame.meta.flags;
  if (flags & (port::rx_ip_csum_bad | port::rx_l4_csum_bad)) return false;
  if (!(flags & port::rx_ip_csum_good) && !wire::checksum::verify({p + ip_off, wire::ipv4::min_header_len}))
    return false;
  const std::uint16_t udp_len = wire::load_be16(p + udp_off + 4);
  if (udp_len < wire::udp::header_len || udp_len > total - wire::ipv4::min_header_len) return false;
  // The flow memo compares the wire bytes: source and destination address, then both ports, are 12
  // bytes in a row (no options), so one 8-byte and one 4-byte compare; equal bytes, equal values.
  flow_key key;
  std::memcpy(&key.addrs, p + ip_off + 12, sizeof key.addrs);
  std::memcpy(&key.ports, p + udp_off, sizeof key.ports);
  udp_socket* s = flow_.socket;
  if (!s || flow_.key.addrs != key.addrs || flow_.key.ports != key.ports) [[unlikely]] {
    s = fast_udp_flow(p, key);
    if (!s) return false;
  }
  const wire::ipv4_addr src = wire::ipv4_addr::load(p + ip_off + 12), dst = wire::ipv4_addr::load(p + ip_off + 16);
  const auto u = wire::udp::view::unchecked(b.subspan(udp_off, total - wire::ipv4::min_header_len));
  if (!(flags & port::rx_l4_csum_good) && !u.verify_checksum(src, dst)) return false;
  ++ctr_.udp_received;
  ++ctr_.udp_fast_path;
  deliver_udp(c, s, {src, u.src_port()}, dst, u.payload());
  return true;
}

// A flow the memo does not hold: our address or a joined group, and a socket for it; remembered then.
udp_socket* interface::fast_udp_flow(const std::byte* p, flow_key key) noexcept {
  constexpr std::size_t ip_off = l2_len, udp_off = l2_len + wire::ipv4::min_header_len;
  const wire::ipv4_addr src = wire::ipv4_addr::load(p + ip_off + 12), dst = wire::ipv4_addr::load(p + ip_off + 16);
  if (dst.is_multicast() ? !groups_.joined(dst)
                         : dst != cfg_.addr && !dst.is_broadcast() && dst != directed_broadcast())
    return nullptr;
  udp_socket* s = find_udp({src, wire::load_be16(p + udp_off)}, {dst, wire::load_be16(p + udp_off + 2)});
  if (s) flow_ = {key, s};
  return s;
}

void interface::receive(rx_ctx& c) noexcept {
  const std::span<const std::byte> bytes = c.frame.bytes;
  const auto v = eth::view::check(bytes);
  if (!v) return drop(c, trace::hop::eth, drop_reason::truncated);
  const wire::mac_addr dst = v->dst();
  // Group addresses pass here; IPv4 decides by group membership (a MAC stands for 32 groups).
  if (dst != cfg_.mac && !dst.is_multicast()) return drop(c, trace::hop::eth, drop_reason::not_ours);
  // An 802.1Q tag is skipped (any VLAN id): one interface per port queue sees one segment.
  hop(c, trace::hop::eth);
  switch (v->type()) {
    case eth::ethertype::arp: return on_arp(c, v->payload());
    case eth::ethertype::ipv4: return on_ipv4(c, v->payload(), v->src());
    case eth::ethertype::ipv6: return drop(c, trace::hop::eth, drop_reason::unsupported);
    default: return drop(c, trace::hop::eth, drop_reason::bad_ethertype);
  }
}

void interface::on_arp(rx_ctx& c, std::span<const std::byte> bytes) noexcept {
  const auto v = wire::arp::view::check(bytes);
  if (!v)
    return drop(c, trace::hop::arp,
                v.error_code() == wire::error::unsupported ? drop_reason::unsupported : drop_reason::truncated);
  const auto r = wire::arp::repr::parse(*v);
  if (!r) return drop(c, trace::hop::arp, drop_reason::unsupported);
  const bool for_us = r->target_ip == cfg_.addr;
  // RFC 826 "merge": refresh a sender we know; learn it only when the packet is aimed at us.
  bool learned = false;
  if (r->sender_ip.is_unicast() && r->sender_ip != cfg_.addr) {
    learned = arp_.update(r->sender_ip, r->sender_mac, c.now);
    if (!learned && for_us) learned = arp_.insert(r->sender_ip, r->sender_mac, c.now);
  }
  if (r->op == wire::arp::operation::reply && for_us) ++ctr_.arp_replies_received;
  if (!for_us && !learned) return drop(c, trace::hop::arp, drop_reason::not_ours);
  hop(c, trace::hop::arp, verdict::deliver);
  if (learned) resolved(r->sender_ip, r->sender_mac);
  if (r->op == wire::arp::operation::request && for_us) {
    send_arp(2, r->sender_mac, r->sender_mac, r->sender_ip, c.now);
    ++ctr_.arp_requests_answered;
  }
}

void interface::on_ipv4(rx_ctx& c, std::span<const std::byte> bytes, wire::mac_addr l2_src) noexcept {
  const auto v = wire::ipv4::view::check(bytes);
  if (!v) return drop(c, trace::hop::ipv4, ipv4_reason(v.error_code()));
  // The device's verdict when it gave one (RX checksum offload), else ours.
  const std::uint16_t flags = c.frame.meta.flags;
  if ((flags & port::rx_ip_csum_bad) || (!(flags & port::rx_ip_csum_good) && !v->verify_checksum()))
    return drop(c, trace::hop::ipv4, drop_reason::bad_ip_checksum);
  const wire::ipv4_addr dst = v->dst();
  if (dst.is_multicast()) {
    if (!groups_.joined(dst)) return drop(c, trace::hop::ipv4, drop_reason::not_joined);
  } else if (dst != cfg_.addr && !dst.is_broadcast() && dst != directed_broadcast()) {
    return drop(c, trace::hop::ipv4, drop_reason::not_ours);
  }
  ip_values ip{v->src(), dst, v->proto(), (flags & port::rx_l4_csum_good) != 0, (flags & port::rx_l4_csum_bad) != 0,
               l2_src};
  if (!v->is_fragment()) {
    hop(c, trace::hop::ipv4);
    return on_l4(c, ip, v->payload());
  }

  ++ctr_.fragments_received;
  const reassembler::key k{v->src().value, dst.value, v->ident(), v->proto()};
  auto out = frags_.add(k, v->frag_offset(), v->more_frags(), v->payload(), c.now);
  if (out.st == reassembler::status::dropped) return drop(c, trace::hop::ipv4_reassembly, out.reason);
  hop(c, trace::hop::ipv4_reassembly);
  if (out.st == reassembler::status::held) return;   // the fragment's frame goes back; its bytes were copied
  ++ctr_.datagrams_reassembled;
  // The whole datagram now lives in a frame of our own; it carries the last fragment's metadata.
  out.frame.meta = c.frame.meta;
  rx_ctx whole{out.frame, false, false, c.now};
  ip.l4_csum_good = ip.l4_csum_bad = false;   // a device checks fragments one by one, never the datagram
  on_l4(whole, ip, out.frame.bytes);
  if (!whole.kept) release(whole.frame, false);
}

void interface::on_l4(rx_ctx& c, const ip_values& ip, std::span<const std::byte> payload) noexcept {
  switch (ip.proto) {
    case wire::icmp::ip_protocol: return on_icmp(c, ip, payload);
    case wire::igmp::ip_protocol: return on_igmp(c, ip, payload);
    case wire::udp::ip_protocol: return on_udp(c, ip, payload);
    case static_cast<std::uint8_t>(wire::ipv4::protocol::tcp):
      // The TCP seam: a per-queue flow table (mTCP style) plugs in here, taking reprs and `now`.
      return drop(c, trace::hop::tcp, drop_reason::unsupported);
    default: return drop(c, trace::hop::ipv4, drop_reason::unsupported);
  }
}

void interface::on_icmp(rx_ctx& c, const ip_values& ip, std::span<const std::byte> payload) noexcept {
  const auto v = wire::icmp::view::check(payload);
  if (!v) return drop(c, trace::hop::icmp, drop_reason::truncated);
  const auto r = wire::icmp::repr::parse(*v);
  if (!r)
    return drop(c, trace::hop::icmp,
                r.error_code() == wire::error::bad_checksum ? drop_reason::bad_l4_checksum : drop_reason::unsupported);
  // Echo requests to a broadcast or a group are ignored, as Linux does by default.
  if (r->kind != wire::icmp::type::echo_request || ip.dst != cfg_.addr)
    return drop(c, trace::hop::icmp, drop_reason::unsupported);
  hop(c, trace::hop::icmp, verdict::deliver);
  const wire::icmp::repr reply{wire::icmp::type::echo_reply, r->ident, r->seq_no, r->data};
  ip_out o{.src = cfg_.addr, .dst = ip.src, .proto = wire::icmp::ip_protocol, .ttl = cfg_.default_ttl};
  o.l2_dst = ip.l2_src;
  const auto ec = send_ip(o, reply.buffer_len(),
                          [&](std::span<std::byte> out) { return reply.emit(out); }, c.now);
  if (!ec) ++ctr_.icmp_echo_answered;
}

void interface::on_igmp(rx_ctx& c, const ip_values& ip, std::span<const std::byte> payload) noexcept {
  (void)ip;
  const auto v = wire::igmp::view::check(payload);
  if (!v) return drop(c, trace::hop::igmp, drop_reason::truncated);
  const auto r = wire::igmp::repr::parse(*v);
  if (!r)
    return drop(c, trace::hop::igmp,
                r.error_code() == wire::error::bad_checksum ? drop_reason::bad_l4_checksum : drop_reason::unsupported);
  hop(c, trace::hop::igmp, verdict::deliver);
  switch (r->kind) {
    case wire::igmp::type::membership_query: {
      ++ctr_.igmp_queries;
      // RFC 2236 4: a v1 query (max resp 0) means 10 s.
      const time_ns max_resp = r->version == 1 ? 10 * sec : time_ns{r->max_resp_ds()} * 100 * ms;
      groups_.on_query(r->group, max_resp, cfg_.igmp_version == 3 && r->version == 3, c.now);
      return;
    }
    case wire::igmp::type::v1_report:
    case wire::igmp::type::v2_report:
      if (cfg_.igmp_version == 2) groups_.on_other_report(r->group);
      return;
    default: return;   // other hosts' leaves and v3 reports: routers' business
  }
}

void interface::on_udp(rx_ctx& c, const ip_values& ip, std::span<const std::byte> payload) noexcept {
  const auto v = wire::udp::view::check(payload);
  if (!v)
    return drop(c, trace::hop::udp,
                v.error_code() == wire::error::bad_length ? drop_reason::bad_l4_length : drop_reason::truncated);
  if (!ip.l4_csum_good && (ip.l4_csum_bad || !v->verify_checksum(ip.src, ip.dst)))
    return drop(c, trace::hop::udp, drop_reason::bad_l4_checksum);
  ++ctr_.udp_received;
  const endpoint source{ip.src, v->src_port()};
  udp_socket* s = find_udp(source, {ip.dst, v->dst_port()});
  if (!s) return drop(c, trace::hop::udp, drop_reason::no_socket);
  hop(c, trace::hop::udp);
  deliver_udp(c, s, source, ip.dst, v->payload());
}

void interface::release(const port::frame_ref& f, bool from_port) noexcept {
  if (trace::enabled()) [[unlikely]] hop_traced({f, from_port, false, now_}, trace::hop::release, verdict::pass,
                                               std::source_location::current());
  if (from_port && hold_) {
    done_.push_back(f);   // reserved for a burst plus a socket queue's worth: no allocation in steady state
    if (done_.size() >= done_.capacity()) flush_now();
  } else if (from_port) {
    port_.rx_release({&f, 1});
  } else {
    port_.free_frame(f);
  }
}

void interface::flush_releases() noexcept {
  if (hold_ && --hold_ == 0) flush_now();
}

void interface::flush_now() noexcept {
  if (done_.empty()) return;
  port_.rx_release(done_);
  done_.clear();
}

void lent_frame::release() noexcept {
  if (owner_) std::exchange(owner_, nullptr)->release(d_.frame, d_.from_port);
}

// ---------------------------------------------------------------- timers

void interface::run_timers(time_ns now) noexcept {
  arp_.on_timer(
      now,
      [&](wire::ipv4_addr ip) { send_arp(1, wire::mac_addr::broadcast(), {}, ip, now); },
      [&](wire::ipv4_addr ip) {
        std::erase_if(pending_, [&](pending_tx& p) {
          if (p.hop != ip) return false;
          ++ctr_.drops[static_cast<std::size_t>(drop_reason::arp_unresolved)];
          trace::emit({.t_ns = now, .frame = p.batch[0].id, .stage = trace::hop::arp, .v = verdict::drop,
                       .reason = drop_reason::arp_unresolved});
          return true;   // the batch cancels: the frame returns to the pool
        });
      });
  if (const std::size_t n = frags_.expire(now)) {
    ctr_.drops[static_cast<std::size_t>(drop_reason::fragment_timeout)] += n;
    for (std::size_t i = 0; i < n; ++i)
      trace::emit({.t_ns = now, .stage = trace::hop::ipv4_reassembly, .v = verdict::drop,
                   .reason = drop_reason::fragment_timeout});
  }
  groups_.on_timer(
      now,
      [&](wire::ipv4_addr g) {
        if (cfg_.igmp_version == 2)
          send_igmp_v2(wire::igmp::type::v2_report, g, g, now);
        else
          send_igmp_v3(wire::igmp::record_type::mode_is_exclude, {&g, 1}, now);
      },
      [&] {
        std::array<wire::ipv4_addr, igmp_membership::max_groups> all{};
        std::size_t n = 0;
        groups_.for_each_group([&](wire::ipv4_addr g) { all[n++] = g; });
        if (n) send_igmp_v3(wire::igmp::record_type::mode_is_exclude, {all.data(), n}, now);
      });
}

// ---------------------------------------------------------------- transmit

wire::ipv4_addr interface::directed_broadcast() const noexcept {
  const std::uint32_t mask = cfg_.prefix_len <= 0 ? 0 : cfg_.prefix_len >= 32 ? ~0u : ~0u << (32 - cfg_.prefix_len);
  return wire::ipv4_addr{cfg_.addr.value | ~mask};
}

bool interface::next_hop(wire::ipv4_addr dst, wire::ipv4_addr& hop_ip, wire::mac_addr& mac, bool& known,
                         time_ns now) const noexcept {
  known = true;
  hop_ip = dst;
  if (dst.is_multicast()) {
    mac = wire::multicast_mac(dst);
    return true;
  }
  if (dst.is_broadcast() || dst == directed_broadcast()) {
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

std::error_code interface::send_ip(const ip_out& o, std::size_t l4_max, l4_writer fill, time_ns now) noexcept {
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
  const std::span<std::byte> room = b[0].bytes;
  if (l2_len + ip_len + l4_max > room.size()) return errc(std::errc::message_size);
  // L4 first (it may checksum its own bytes), then IPv4 and Ethernet in front of it, all in place.
  const std::size_t l4_len = fill(room.subspan(l2_len + ip_len));
  if (l4_len == 0) return errc(std::errc::message_size);
  // RFC 2113 Router Alert (IGMP, RFC 2236 2 / RFC 3376 4) is wire's to write: a 24-byte header.
  wire::ipv4::repr ip{o.src,  o.dst, o.proto, static_cast<std::uint16_t>(l4_len), o.ttl, o.tos,
                      next_ident_++, true};
  ip.router_alert = o.router_alert;
  ip.emit(room.subspan(l2_len, ip_len));
  eth::repr{cfg_.mac, mac, eth::ethertype::ipv4, {}, 0}.emit(room);
  const std::size_t len = l2_len + ip_len + l4_len;

  if (o.dst == cfg_.addr) {   // to ourselves: never on the wire
    loop_back(room.first(len), now);
    return {};
  }
  if (o.loop) loop_back(room.first(len), now);
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
    ++ctr_.drops[static_cast<std::size_t>(drop_reason::arp_unresolved)];
    trace::emit({.t_ns = now, .frame = b[0].id, .stage = trace::hop::arp, .v = verdict::drop,
                 .reason = drop_reason::arp_unresolved});
    return {};
  }
  pending_.push_back({hop_ip, std::move(b), len});
  return {};
}

void interface::commit(port::tx_batch& b, std::size_t len) noexcept {
  port::frame_ref& f = b[0];
  if (len < min_frame) {
    std::memset(f.bytes.data() + len, 0, min_frame - len);
    len = min_frame;
  }
  f.bytes = f.bytes.first(len);
  ++ctr_.tx_frames;
  ctr_.tx_bytes += len;
  trace::emit({.t_ns = now_, .frame = f.id, .stage = trace::hop::tx, .v = verdict::tx});
  b.commit(1);
}

void interface::resolved(wire::ipv4_addr ip, wire::mac_addr mac) noexcept {
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

void interface::loop_back(std::span<const std::byte> frame, time_ns now) noexcept {
  port::frame_ref f = port_.alloc_frame();
  if (!f.valid()) {
    ++ctr_.drops[static_cast<std::size_t>(drop_reason::pool_empty)];
    return;
  }
  std::memcpy(f.bytes.data(), frame.data(), frame.size());
  f.bytes = f.bytes.first(frame.size());
  ++ctr_.looped_back;
  rx_ctx c{f, false, false, now};
  receive(c);
  if (!c.kept) release(f, false);
}

void interface::send_arp(std::uint16_t op, wire::mac_addr l2_dst, wire::mac_addr target_mac,
                         wire::ipv4_addr target_ip, time_ns now) noexcept {
  port::tx_batch b = port_.tx_reserve(1);
  if (b.size() == 0) {
    ++ctr_.tx_no_frame;
    return;
  }
  const std::span<std::byte> room = b[0].bytes;
  eth::repr{cfg_.mac, l2_dst, eth::ethertype::arp, {}, 0}.emit(room);
  const wire::arp::repr r{static_cast<wire::arp::operation>(op), cfg_.mac, cfg_.addr, target_mac, target_ip};
  const std::size_t len = l2_len + r.emit(room.subspan(l2_len));
  if (op == 1) ++ctr_.arp_requests_sent;
  now_ = std::max(now_, now);
  commit(b, len);
}

void interface::send_igmp_v2(wire::igmp::type kind, wire::ipv4_addr group, wire::ipv4_addr to, time_ns now) noexcept {
  wire::igmp::repr r;
  r.kind = kind;
  r.group = group;
  const ip_out o{.src = cfg_.addr, .dst = to, .proto = wire::igmp::ip_protocol, .ttl = 1, .tos = 0xc0,
                 .router_alert = true};
  if (send_ip(o, r.buffer_len(), [&](std::span<std::byte> out) { return r.emit(out); }, now)) return;
  ++(kind == wire::igmp::type::leave ? ctr_.igmp_leaves_sent : ctr_.igmp_reports_sent);
}

void interface::send_igmp_v3(wire::igmp::record_type kind, std::span<const wire::ipv4_addr> groups,
                             time_ns now) noexcept {
  std::array<wire::igmp::record_repr, igmp_membership::max_groups> recs{};
  const std::size_t n = std::min(groups.size(), recs.size());
  for (std::size_t i = 0; i < n; ++i) recs[i] = {kind, groups[i], {}};
  const std::span<const wire::igmp::record_repr> rs{recs.data(), n};
  const ip_out o{.src = cfg_.addr, .dst = wire::ipv4_addr::igmpv3_routers(), .proto = wire::igmp::ip_protocol,
                 .ttl = 1, .tos = 0xc0, .router_alert = true};
  if (send_ip(o, wire::igmp::v3_report_len(rs),
              [&](std::span<std::byte> out) { return wire::igmp::emit_v3_report(rs, out); }, now))
    return;
  ++(kind == wire::igmp::record_type::change_to_include ? ctr_.igmp_leaves_sent : ctr_.igmp_reports_sent);
}

// ---------------------------------------------------------------- membership

std::error_code interface::join(wire::ipv4_addr group, time_ns now) noexcept {
  if (!group.is_multicast()) return errc(std::errc::invalid_argument);
  sockets_changed();
  now_ = std::max(now_, now);
  switch (groups_.join(group)) {
    case igmp_membership::change::no_room: return errc(std::errc::no_buffer_space);
    case igmp_membership::change::first_join:
      if (group == wire::ipv4_addr::all_systems()) break;   // never reported (RFC 2236 6)
      if (cfg_.igmp_version == 2)
        send_igmp_v2(wire::igmp::type::v2_report, group, group, now);
      else
        send_igmp_v3(wire::igmp::record_type::change_to_exclude, {&group, 1}, now);
      break;
    default: break;
  }
  return {};
}

std::error_code interface::leave(wire::ipv4_addr group, time_ns now) noexcept {
  sockets_changed();   // the fast path's flow memo vouches for membership too
  now_ = std::max(now_, now);
  switch (groups_.leave(group)) {
    case igmp_membership::change::not_member: return errc(std::errc::address_not_available);
    case igmp_membership::change::last_leave:
      if (group == wire::ipv4_addr::all_systems()) break;
      if (cfg_.igmp_version == 2)
        send_igmp_v2(wire::igmp::type::leave, group, wire::ipv4_addr::all_routers(), now);
      else
        send_igmp_v3(wire::igmp::record_type::change_to_include, {&group, 1}, now);
      break;
    default: break;
  }
  return {};
}

// ---------------------------------------------------------------- sockets

udp_socket* interface::find_udp(endpoint source, endpoint destination) noexcept {
  // The most specific match wins: a connected socket over a bound one, a bound address over any().
  udp_socket* best = nullptr;
  int best_score = -1;
  for (udp_socket* s : udp_) {
    if (s->local_.port != destination.port) continue;
    if (!s->local_.addr.is_unspecified() && s->local_.addr != destination.addr) continue;
    if (s->connected() && s->remote_ != source) continue;
    const int score = (s->connected() ? 2 : 0) + (s->local_.addr.is_unspecified() ? 0 : 1);
    if (score > best_score) {
      best = s;
      best_score = score;
    }
  }
  return best;
}

std::uint16_t interface::ephemeral_port() noexcept {
  const std::uint32_t span = std::uint32_t{cfg_.ephemeral_last} - cfg_.ephemeral_first + 1;
  for (std::uint32_t i = 0; i < span; ++i) {
    const std::uint16_t p = next_ephemeral_;
    next_ephemeral_ = p == cfg_.ephemeral_last ? cfg_.ephemeral_first : static_cast<std::uint16_t>(p + 1);
    if (std::none_of(udp_.begin(), udp_.end(), [&](udp_socket* s) { return s->local_.port == p; })) return p;
  }
  return 0;
}

std::error_code interface::bind_udp(udp_socket& s, endpoint local) noexcept {
  if (!local.addr.is_unspecified() && local.addr != cfg_.addr && !local.addr.is_multicast() &&
      !local.addr.is_broadcast())
    return errc(std::errc::address_not_available);
  if (local.port == 0) {
    local.port = ephemeral_port();
    if (local.port == 0) return errc(std::errc::address_in_use);
  }
  for (udp_socket* o : udp_) {
    if (o == &s || o->local_.port != local.port) continue;
    if (o->local_.addr == local.addr || o->local_.addr.is_unspecified() || local.addr.is_unspecified())
      return errc(std::errc::address_in_use);
  }
  s.local_ = local;
  if (std::find(udp_.begin(), udp_.end(), &s) == udp_.end()) udp_.push_back(&s);
  sockets_changed();
  return {};
}

void interface::unbind_udp(udp_socket& s) noexcept {
  std::erase(udp_, &s);
  sockets_changed();
}

}  // namespace ringlab::stack
