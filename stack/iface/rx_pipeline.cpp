#include "stack/iface/rx_pipeline.hpp"

#include <algorithm>
#include <cstring>

#include "stack/iface/frame_releaser.hpp"
#include "stack/iface/igmp_host.hpp"
#include "stack/iface/ip_output.hpp"
#include "stack/socket/tcp_lane.hpp"
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
namespace ip4f = wire::ipv4::field;
namespace udpf = wire::udp::field;

namespace {
constexpr std::size_t l2_len = eth::header_len;

drop_reason ipv4_reason(wire::error e) noexcept {
  switch (e) {
    case wire::error::bad_version: return drop_reason::bad_ip_version;
    case wire::error::bad_header_length: return drop_reason::bad_ip_header_len;
    case wire::error::bad_total_length: return drop_reason::bad_ip_total_len;
    default: return drop_reason::truncated;
  }
}
}  // namespace

struct rx_pipeline::ip_values {
  wire::ipv4_addr src, dst;
  std::uint8_t proto = 0;
  bool l4_csum_good = false;   // the device vouched for the UDP/TCP checksum
  bool l4_csum_bad = false;    // the device found it wrong
  wire::mac_addr l2_src;       // who handed us the packet: replies go back there without ARP
};

rx_pipeline::rx_pipeline(port::any_port& port, const interface_config& cfg, frame_releaser& frames,
                         ip_output& out, socket_table& sockets, igmp_host& igmp, timer_queue& timers,
                         tcp_lane& tcp)
    : port_(port),
      cfg_(cfg),
      frames_(frames),
      out_(out),
      sockets_(sockets),
      igmp_(igmp),
      tcp_(tcp),
      mac_(cfg.mac),
      directed_broadcast_(cfg.directed_broadcast()),
      frags_(port.pool(), cfg.fragments, timers,
             {this, [](void* o, time_ns now) noexcept {   // a datagram's fragments timed out
                static_cast<rx_pipeline*>(o)->ctr_.count_drop(trace::drop_reason::fragment_timeout, 1);
                trace::emit({.t_ns = now, .stage = trace::hop::ipv4_reassembly, .v = trace::verdict::drop,
                             .reason = trace::drop_reason::fragment_timeout});
              }}) {
  rx_.resize(cfg_.rx_burst);
}

bool rx_pipeline::run_burst(time_ns now) noexcept {
  const std::size_t n = port_.rx_burst(rx_);
  // With tracing on every frame takes the general path, so routes name the same hops as always.
  const bool fast = !trace::enabled();
  // The frames nobody kept are packed to the front of rx_, in order (moved only after a kept one), and
  // go back from there in one rx_release. A socket copies the frame_ref it keeps, so a kept frame's
  // slot may be overwritten.
  std::size_t back = 0;
  // The first read of a frame's headers is a cache miss (a NIC's DMA wrote it to memory; on sim_nic
  // another CPU's ingest wrote it): without a prefetch each frame stalled for a whole miss, more than
  // the rest of its work (bench_lanes: ~250 -> ~130 lane CPU ns per packet). Prefetch `ahead` frames in
  // front, as DPDK's l3fwd does (PREFETCH_OFFSET), so the misses overlap the work on earlier frames.
  constexpr std::size_t ahead = 4;
  for (std::size_t i = 0; i < std::min(n, ahead); ++i) __builtin_prefetch(rx_[i].bytes.data());
  for (std::size_t i = 0; i < n; ++i) {
    if (i + ahead < n) __builtin_prefetch(rx_[i + ahead].bytes.data());
    rx_ctx c{rx_[i], true, false, now};
    ++ctr_.rx_frames;
    ctr_.rx_bytes += c.frame.bytes.size();
    hop(c, trace::hop::port_rx);
    if (!fast || !fast_udp(c)) receive(c);
    if (c.kept) continue;
    if (back != i) rx_[back] = rx_[i];
    ++back;
  }
  frames_.give_back_burst({rx_.data(), back});
  return n == rx_.size();
}

void rx_pipeline::receive_own(const port::frame_ref& f, time_ns now) noexcept {
  rx_ctx c{f, false, false, now};
  receive(c);
  if (!c.kept) frames_.give_back(f, false);
}

bool rx_pipeline::ours(wire::ipv4_addr dst) const noexcept {
  return dst == cfg_.addr || dst.is_broadcast() || dst == directed_broadcast_;
}

void rx_pipeline::hop_traced(const rx_ctx& c, trace::hop where, verdict v, std::source_location loc) noexcept {
  trace::emit({.packet_id = c.frame.meta.packet_id, .t_ns = c.now, .frame = c.frame.id,
               .queue = c.frame.meta.queue, .stage = where, .v = v}, loc);
}

void rx_pipeline::drop(const rx_ctx& c, trace::hop where, drop_reason why, std::source_location loc) noexcept {
  ctr_.count_drop(why);
  trace::emit({.packet_id = c.frame.meta.packet_id, .t_ns = c.now, .frame = c.frame.id,
               .queue = c.frame.meta.queue, .stage = where, .v = verdict::drop, .reason = why}, loc);
}

// Inlined into both callers (the fast path and on_udp): one call less per datagram.
[[gnu::always_inline]] inline void rx_pipeline::deliver_udp(rx_ctx& c, udp_socket* s, endpoint source,
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
[[gnu::always_inline]] inline bool rx_pipeline::fast_udp(rx_ctx& c) noexcept {
  constexpr std::size_t ip_off = eth::field::payload, udp_off = ip_off + wire::ipv4::min_header_len;
  const std::span<const std::byte> b = c.frame.bytes;
  if (b.size() < udp_off + wire::udp::header_len) return false;
  const std::byte* p = b.data();
  if (wire::load_be16(p + eth::field::type) != static_cast<std::uint16_t>(eth::ethertype::ipv4)) return false;
  if (wire::load_u8(p + ip_off + ip4f::ver_ihl) != 0x45) return false;      // version 4, IHL 5: no options
  if (wire::load_u8(p + ip_off + ip4f::proto) != wire::udp::ip_protocol) return false;
  if ((wire::load_be16(p + ip_off + ip4f::flags_frag) & wire::ipv4::fragment_mask) != 0) return false;   // MF or an offset
  const std::uint16_t total = wire::load_be16(p + ip_off + ip4f::total_len);
  if (total < wire::ipv4::min_header_len + wire::udp::header_len || total > b.size() - l2_len) return false;
  if (!(wire::load_u8(p) & 1u) && std::memcmp(p + eth::field::dst, mac_.octets.data(), wire::mac_addr::size) != 0) return false;   // not ours, not a group
  const std::uint16_t flags = c.frame.meta.flags;
  if (flags & (port::rx_ip_csum_bad | port::rx_l4_csum_bad)) return false;
  if (!(flags & port::rx_ip_csum_good) && !wire::checksum::verify({p + ip_off, wire::ipv4::min_header_len}))
    return false;
  const std::uint16_t udp_len = wire::load_be16(p + udp_off + udpf::length);
  if (udp_len < wire::udp::header_len || udp_len > total - wire::ipv4::min_header_len) return false;
  // The flow memo compares the wire bytes: source and destination address, then both ports, are 12
  // bytes in a row (no options), so one 8-byte and one 4-byte compare; equal bytes, equal values.
  socket_table::flow_key key;
  static_assert(ip4f::dst == ip4f::src + 4 && udpf::dst_port == udpf::src_port + 2);
  std::memcpy(&key.addrs, p + ip_off + ip4f::src, sizeof key.addrs);
  std::memcpy(&key.ports, p + udp_off + udpf::src_port, sizeof key.ports);
  udp_socket* s = sockets_.memo(key);
  if (!s) [[unlikely]] {
    s = fast_udp_flow(p, key);
    if (!s) return false;
  }
  const wire::ipv4_addr src = wire::ipv4_addr::load(p + ip_off + ip4f::src), dst = wire::ipv4_addr::load(p + ip_off + ip4f::dst);
  const auto u = wire::udp::view::unchecked(b.subspan(udp_off, total - wire::ipv4::min_header_len));
  if (!(flags & port::rx_l4_csum_good) && !u.verify_checksum(src, dst)) return false;
  ++ctr_.udp_received;
  ++ctr_.udp_fast_path;
  deliver_udp(c, s, {src, u.src_port()}, dst, u.payload());
  return true;
}

// A flow the memo does not hold: our address or a joined group, and a socket for it; remembered then.
udp_socket* rx_pipeline::fast_udp_flow(const std::byte* p, socket_table::flow_key key) noexcept {
  constexpr std::size_t ip_off = eth::field::payload, udp_off = ip_off + wire::ipv4::min_header_len;
  const wire::ipv4_addr src = wire::ipv4_addr::load(p + ip_off + ip4f::src), dst = wire::ipv4_addr::load(p + ip_off + ip4f::dst);
  if (dst.is_multicast() ? !igmp_.joined(dst) : !ours(dst))
    return nullptr;
  udp_socket* s = sockets_.find_udp({src, wire::load_be16(p + udp_off + udpf::src_port)},
                                  {dst, wire::load_be16(p + udp_off + udpf::dst_port)});
  if (s) sockets_.remember(key, s);
  return s;
}

void rx_pipeline::receive(rx_ctx& c) noexcept {
  const std::span<const std::byte> bytes = c.frame.bytes;
  const auto v = eth::view::check(bytes);
  if (!v) return drop(c, trace::hop::eth, drop_reason::truncated);
  const wire::mac_addr dst = v->dst();
  // Group addresses pass here; IPv4 decides by group membership (a MAC stands for 32 groups).
  if (dst != mac_ && !dst.is_multicast()) return drop(c, trace::hop::eth, drop_reason::not_ours);
  // An 802.1Q tag is skipped (any VLAN id): one interface per port queue sees one segment.
  hop(c, trace::hop::eth);
  switch (v->type()) {
    case eth::ethertype::arp: return on_arp(c, v->payload());
    case eth::ethertype::ipv4: return on_ipv4(c, v->payload(), v->src());
    case eth::ethertype::ipv6: return drop(c, trace::hop::eth, drop_reason::unsupported);
    default: return drop(c, trace::hop::eth, drop_reason::bad_ethertype);
  }
}

void rx_pipeline::on_arp(rx_ctx& c, std::span<const std::byte> bytes) noexcept {
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
    learned = out_.arp().update(r->sender_ip, r->sender_mac, c.now);
    if (!learned && for_us) learned = out_.arp().insert(r->sender_ip, r->sender_mac, c.now);
  }
  if (r->op == wire::arp::operation::reply && for_us) ++ctr_.arp_replies_received;
  if (!for_us && !learned) return drop(c, trace::hop::arp, drop_reason::not_ours);
  hop(c, trace::hop::arp, verdict::deliver);
  if (learned) out_.resolved(r->sender_ip, r->sender_mac);
  if (r->op == wire::arp::operation::request && for_us) {
    out_.send_arp(2, r->sender_mac, r->sender_mac, r->sender_ip, c.now);
    ++ctr_.arp_requests_answered;
  }
}

void rx_pipeline::on_ipv4(rx_ctx& c, std::span<const std::byte> bytes, wire::mac_addr l2_src) noexcept {
  const auto v = wire::ipv4::view::check(bytes);
  if (!v) return drop(c, trace::hop::ipv4, ipv4_reason(v.error_code()));
  // The device's verdict when it gave one (RX checksum offload), else ours.
  const std::uint16_t flags = c.frame.meta.flags;
  if ((flags & port::rx_ip_csum_bad) || (!(flags & port::rx_ip_csum_good) && !v->verify_checksum()))
    return drop(c, trace::hop::ipv4, drop_reason::bad_ip_checksum);
  const wire::ipv4_addr dst = v->dst();
  if (dst.is_multicast()) {
    if (!igmp_.joined(dst)) return drop(c, trace::hop::ipv4, drop_reason::not_joined);
  } else if (!ours(dst)) {
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
  if (!whole.kept) frames_.give_back(whole.frame, false);
}

void rx_pipeline::on_l4(rx_ctx& c, const ip_values& ip, std::span<const std::byte> payload) noexcept {
  switch (ip.proto) {
    case wire::icmp::ip_protocol: return on_icmp(c, ip, payload);
    case wire::igmp::ip_protocol: return on_igmp(c, ip, payload);
    case wire::udp::ip_protocol: return on_udp(c, ip, payload);
    case wire::tcp::ip_protocol: return on_tcp(c, ip, payload);
    default: return drop(c, trace::hop::ipv4, drop_reason::unsupported);
  }
}

void rx_pipeline::on_icmp(rx_ctx& c, const ip_values& ip, std::span<const std::byte> payload) noexcept {
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
  ip_output::params o{.src = cfg_.addr, .dst = ip.src, .proto = wire::icmp::ip_protocol, .ttl = cfg_.default_ttl};
  o.l2_dst = ip.l2_src;
  const auto ec = out_.send(o, reply.buffer_len(),
                          [&](std::span<std::byte> out) { return reply.emit(out); }, c.now);
  if (!ec) ++ctr_.icmp_echo_answered;
}

void rx_pipeline::on_igmp(rx_ctx& c, const ip_values& ip, std::span<const std::byte> payload) noexcept {
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
      igmp_.membership().on_query(r->group, max_resp, cfg_.igmp_version == 3 && r->version == 3, c.now);
      return;
    }
    case wire::igmp::type::v1_report:
    case wire::igmp::type::v2_report:
      if (cfg_.igmp_version == 2) igmp_.membership().on_other_report(r->group);
      return;
    default: return;   // other hosts' leaves and v3 reports: routers' business
  }
}

void rx_pipeline::on_udp(rx_ctx& c, const ip_values& ip, std::span<const std::byte> payload) noexcept {
  const auto v = wire::udp::view::check(payload);
  if (!v)
    return drop(c, trace::hop::udp,
                v.error_code() == wire::error::bad_length ? drop_reason::bad_l4_length : drop_reason::truncated);
  if (!ip.l4_csum_good && (ip.l4_csum_bad || !v->verify_checksum(ip.src, ip.dst)))
    return drop(c, trace::hop::udp, drop_reason::bad_l4_checksum);
  ++ctr_.udp_received;
  const endpoint source{ip.src, v->src_port()};
  udp_socket* s = sockets_.find_udp(source, {ip.dst, v->dst_port()});
  if (!s) return drop(c, trace::hop::udp, drop_reason::no_socket);
  hop(c, trace::hop::udp);
  deliver_udp(c, s, source, ip.dst, v->payload());
}

// The segment goes to tcp_lane (checks, 4-tuple, listener, RST); its verdict is counted and traced here
// like every other drop, with the frame's packet id. The engine copies the payload: the frame goes back
// with the burst whatever happened.
void rx_pipeline::on_tcp(rx_ctx& c, const ip_values& ip, std::span<const std::byte> payload) noexcept {
  const drop_reason why = tcp_.receive({ip.src, ip.dst, payload, ip.l4_csum_good, ip.l4_csum_bad, c.from_port}, c.now);
  if (why != drop_reason::none) return drop(c, trace::hop::tcp, why);
  hop(c, trace::hop::tcp, verdict::deliver);
}

}  // namespace ringlab::stack
