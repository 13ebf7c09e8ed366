#include "stack/socket/tcp_lane.hpp"

#include <algorithm>
#include <cstring>
#include <cstdint>
#include <utility>
#include <vector>

#include "stack/iface/frame_releaser.hpp"
#include "stack/iface/ip_output.hpp"
#include "stack/socket/tcp_listener.hpp"
#include "stack/socket/tcp_socket.hpp"

namespace ringlab::stack {

using trace::drop_reason;
using tcp::state;
namespace flag = wire::tcp::flag;

namespace {

bool synchronized_open(state s) noexcept { return s != state::closed && s != state::listen && s != state::syn_sent && s != state::syn_received; }
bool counts_estab(state s) noexcept { return s == state::established || s == state::close_wait; }
// A passive connection established: from SYN_RECEIVED, or from nothing by a SYN cookie's ACK.
bool opened(state before, state now) noexcept {
  return (before == state::syn_received || before == state::closed) && synchronized_open(now);
}
tcp::syn_cookie::flow cookie_flow(const tcp_key& k) noexcept {
  return {k.local.addr, k.remote.addr, k.local.port, k.remote.port};
}

drop_reason reason_of(tcp::segment_result r) noexcept {
  switch (r) {
    case tcp::segment_result::accepted: return drop_reason::none;
    case tcp::segment_result::closed: return drop_reason::tcp_closed;
    case tcp::segment_result::not_syn: return drop_reason::tcp_not_syn;
    case tcp::segment_result::bad_ack: return drop_reason::tcp_bad_ack;
    case tcp::segment_result::paws: return drop_reason::tcp_paws;
    case tcp::segment_result::out_of_window: return drop_reason::tcp_out_of_window;
    case tcp::segment_result::rst_challenged: return drop_reason::tcp_rst_challenged;
    case tcp::segment_result::syn_challenged: return drop_reason::tcp_syn_challenged;
    case tcp::segment_result::no_ack: return drop_reason::tcp_no_ack;
  }
  return drop_reason::tcp_closed;
}

// The counters a connection keeps that the lane adds up under nstat's names.
constexpr std::pair<std::uint64_t tcp::connection_counters::*, std::uint64_t tcp_lane_counters::*> kept[] = {
    {&tcp::connection_counters::in_segs, &tcp_lane_counters::in_segs},
    {&tcp::connection_counters::out_segs, &tcp_lane_counters::out_segs},
    {&tcp::connection_counters::retrans_segs, &tcp_lane_counters::retrans_segs},
    {&tcp::connection_counters::rsts_out, &tcp_lane_counters::out_rsts},
    {&tcp::connection_counters::timeouts, &tcp_lane_counters::timeouts},
    {&tcp::connection_counters::syn_retrans, &tcp_lane_counters::syn_retrans},
    {&tcp::connection_counters::fast_retrans, &tcp_lane_counters::fast_retrans},
    {&tcp::connection_counters::loss_probes, &tcp_lane_counters::loss_probes},
    {&tcp::connection_counters::loss_probe_recovery, &tcp_lane_counters::loss_probe_recovery},
    {&tcp::connection_counters::sack_reorder, &tcp_lane_counters::sack_reorder},
    {&tcp::connection_counters::challenge_acks, &tcp_lane_counters::challenge_acks},
    {&tcp::connection_counters::challenge_acks_skipped, &tcp_lane_counters::challenge_acks_skipped},
    {&tcp::connection_counters::paws_rejected, &tcp_lane_counters::paws_estab},
    {&tcp::connection_counters::ofo_queued, &tcp_lane_counters::ofo_queue},
    {&tcp::connection_counters::ofo_dropped, &tcp_lane_counters::ofo_drop},
    {&tcp::connection_counters::delayed_acks, &tcp_lane_counters::delayed_acks},
    {&tcp::connection_counters::keepalive_probes, &tcp_lane_counters::keepalive},
    {&tcp::connection_counters::dsack_old_sent, &tcp_lane_counters::dsack_old_sent},
    {&tcp::connection_counters::dsack_ofo_sent, &tcp_lane_counters::dsack_ofo_sent},
    {&tcp::connection_counters::dsack_recv, &tcp_lane_counters::dsack_recv},
    {&tcp::connection_counters::dsack_ofo_recv, &tcp_lane_counters::dsack_ofo_recv},
};

void add_connection(tcp_lane_counters& into, const tcp::connection& c) noexcept {
  const tcp::connection_counters& k = c.counters();
  for (const auto& [from, to] : kept) into.*to += k.*from;
  // One engine counter, two nstat names: which recovery ran depends on whether SACK was agreed.
  (c.sack_on() ? into.sack_recovery : into.reno_recovery) += k.recoveries;
}

void add_all(tcp_lane_counters& into, const tcp_lane_counters& c) noexcept {
  for (const auto& n : tcp_counter_names) into.*n.field += c.*n.field;
}

}  // namespace

tcp_lane::tcp_lane(const interface_config& cfg, interface_counters& ctr, socket_table& sockets, ip_output& out,
                   timer_queue& timers, frame_releaser& frames)
    : cfg_(cfg), ctr_(ctr), sockets_(sockets), out_(out), timers_(timers), frames_(frames),
      // tcp_secret 0: the secret is the OS's, drawn per lane (real ports: a fixed, published number
      // would let anyone compute our ISNs and forge cookies). Else the configured one, so a sim run
      // repeats byte for byte. The ISN key is 128 random bits, the cookie keys 2 x 128.
      secret_(cfg.tcp_secret ? tcp_secret(cfg.tcp_secret) : tcp_secret::from_os()),
      cookies_(cfg.tcp_secret ? tcp::syn_cookie(cfg.tcp_secret) : tcp::syn_cookie::from_os()) {}

time_ns tcp_lane::now() const noexcept { return frames_.now(); }

const tcp_lane_counters& tcp_lane::counters() const noexcept {
  snapshot_ = own_;
  add_all(snapshot_, retired_);
  for (const auto& e : sockets_.tcp_entries()) {
    add_connection(snapshot_, e->conn);
    if (counts_estab(e->conn.current())) ++snapshot_.curr_estab;
  }
  return snapshot_;
}

std::uint32_t tcp_lane::ts_offset(const tcp_key& k) const noexcept {
  return static_cast<std::uint32_t>(secret_.hash({{k.local.addr, 0}, {k.remote.addr, 0}}, 1));
}

// ---------------------------------------------------------------- receive

drop_reason tcp_lane::receive(const segment_in& s, time_ns now) noexcept {
  // Until a connection's engine takes it (and counts it there), the segment is the lane's to count.
  if (s.dst != cfg_.addr) {   // TCP is unicast: to a broadcast or a group it is nobody's
    ++own_.in_segs;
    return drop_reason::not_ours;
  }
  const auto v = wire::tcp::view::check(s.bytes);
  if (!v) {
    ++own_.in_segs, ++own_.in_errs;
    return v.error_code() == wire::error::truncated ? drop_reason::truncated : drop_reason::tcp_bad_offset;
  }
  if (!s.csum_good && (s.csum_bad || !v->verify_checksum(s.src, s.dst))) {
    ++own_.in_segs, ++own_.in_errs, ++own_.in_csum_errors;
    return drop_reason::bad_l4_checksum;
  }
  const auto r = wire::tcp::repr::parse(*v, s.src, s.dst, wire::csum::offload);   // checksum done above
  if (!r) {
    ++own_.in_segs, ++own_.in_errs;
    return drop_reason::tcp_bad_options;
  }
  const wire::tcp::repr& seg = *r;
  const tcp_key k{{s.dst, seg.dst_port}, {s.src, seg.src_port}};
  tcp_listener* l = nullptr;
  if (tcp_entry* e = sockets_.find_tcp(k)) {
    if (!reuse_time_wait(*e, seg, l)) {
      if (s.burst) {
        e->conn.begin_burst();
        if (burst_.empty() || burst_.back() != e) burst_.push_back(e);   // a bulk burst: one flow, once
      }
      return to_connection(*e, seg, now);
    }
  } else {
    l = sockets_.find_listener(k.local);
  }
  if (l) return to_listener(*l, k, seg, now);
  ++own_.in_segs;
  reset_for(k, seg, now);
  return drop_reason::no_socket;
}

drop_reason tcp_lane::to_connection(tcp_entry& e, const wire::tcp::repr& seg, time_ns now) noexcept {
  // The handshake's last ACK for a listener whose accept queue is full: dropped before the engine
  // sees it, so the connection stays half-open and the peer's retransmission tries again (Linux's
  // tcp_check_req does the same).
  if (e.listener && e.conn.current() == state::syn_received && seg.has(flag::ack) &&
      !seg.has(flag::rst) && !seg.has(flag::syn) && e.listener->pending() >= e.listener->backlog()) {
    ++own_.in_segs, ++own_.listen_overflows, ++own_.listen_drops;
    return drop_reason::tcp_listen_overflow;
  }
  const auto res = run(e, now, true, [&](tcp::connection& c, tcp::segment_sink out) {
    return c.on_segment(seg, now, out);
  });
  return reason_of(res);
}

drop_reason tcp_lane::to_listener(tcp_listener& l, const tcp_key& k, const wire::tcp::repr& seg,
                                  time_ns now) noexcept {
  // RFC 9293 3.10.7.2, LISTEN: a RST is ignored, an ACK answered with RST, only a SYN opens; but an
  // ACK may bring back a SYN cookie.
  if (seg.has(flag::ack) && !seg.has(flag::rst) && !seg.has(flag::syn) && l.cookies_recent(now))
    return from_cookie(l, k, seg, now);
  if (seg.has(flag::rst) || seg.has(flag::ack) || !seg.has(flag::syn)) {
    ++own_.in_segs;
    if (!seg.has(flag::rst) && seg.has(flag::ack)) reset_for(k, seg, now);
    return drop_reason::tcp_not_syn;
  }
  if (l.half_open() >= l.backlog() || l.pending() >= l.backlog()) return on_listen_queue_full(l, k, seg, now);
  tcp_entry* e = passive_entry(l, k);
  if (!e) return drop_reason::tcp_closed;
  e->conn.set_ts_offset(ts_offset(k));
  l.syn_added();
  const std::uint32_t iss = secret_.iss(k, now);
  run(*e, now, true, [&](tcp::connection& c, tcp::segment_sink out) { c.accept(seg, iss, now, out); });
  return drop_reason::none;
}

tcp_entry* tcp_lane::passive_entry(tcp_listener& l, const tcp_key& k) noexcept {
  tcp_entry* e = sockets_.add_tcp(l.config(), k);   // the tuple is free: find_tcp found nothing
  if (!e) {
    ++own_.in_segs;   // no engine will count the segment
    return nullptr;
  }
  e->listener = &l;
  e->passive = true;
  return e;
}

drop_reason tcp_lane::on_listen_queue_full(tcp_listener& l, const tcp_key& k, const wire::tcp::repr& syn,
                                           time_ns now) noexcept {
  ++own_.in_segs;
  // A full accept queue: a cookie's connection would have nowhere to go (Linux drops here too).
  if (l.pending() >= l.backlog()) {
    ++own_.listen_drops, ++own_.listen_overflows;
    return drop_reason::tcp_listen_overflow;
  }
  if (!l.syn_cookies()) {
    ++own_.listen_drops;
    return drop_reason::tcp_syn_queue_full;
  }
  // The SYN-ACK carries everything the connection needs in its ISS and TSval; nothing is kept.
  ++own_.syncookies_sent, ++own_.out_segs;
  l.cookie_sent(now);
  emit(k, cookies_.syn_ack(cookie_flow(k), syn, l.config(), now), now);
  return drop_reason::none;
}

drop_reason tcp_lane::from_cookie(tcp_listener& l, const tcp_key& k, const wire::tcp::repr& ack,
                                  time_ns now) noexcept {
  const auto opts = cookies_.check(cookie_flow(k), ack, now);
  if (!opts) {
    ++own_.in_segs, ++own_.syncookies_failed;
    reset_for(k, ack, now);
    return drop_reason::tcp_not_syn;
  }
  if (l.pending() >= l.backlog()) {   // as a half-open connection's ACK then (to_connection)
    ++own_.in_segs, ++own_.listen_overflows, ++own_.listen_drops;
    return drop_reason::tcp_listen_overflow;
  }
  tcp_entry* e = passive_entry(l, k);
  if (!e) return drop_reason::tcp_closed;
  ++own_.syncookies_recv;
  // accept_cookie continues the TSval clock from the cookie's, whatever offset the entry had.
  const auto res = run(*e, now, true, [&](tcp::connection& c, tcp::segment_sink out) {
    return c.accept_cookie(ack, *opts, now, out);
  });
  return reason_of(res);
}

bool tcp_lane::reuse_time_wait(tcp_entry& e, const wire::tcp::repr& syn, tcp_listener*& l) noexcept {
  if (e.conn.current() != state::time_wait || !syn.has(flag::syn) || syn.has(flag::ack) || syn.has(flag::rst))
    return false;
  tcp_listener* to = sockets_.find_listener(e.key.local);
  if (!to || !e.conn.accepts_reuse(syn)) return false;
  ++own_.time_wait_reuse;
  if (e.owner) sockets_.unhash_tcp(e);   // its socket still holds it: out of the way only
  else free_entry(e);
  l = to;
  return true;
}

void tcp_lane::reset_for(const tcp_key& k, const wire::tcp::repr& seg, time_ns now) noexcept {
  if (seg.has(flag::rst)) return;
  wire::tcp::repr r;
  r.src_port = k.local.port;
  r.dst_port = k.remote.port;
  if (seg.has(flag::ack)) {   // <SEQ=SEG.ACK><CTL=RST>
    r.seq = seg.ack;
    r.flags = flag::rst;
  } else {                    // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    r.seq = 0;
    r.ack = seg.seq + seg.segment_len();
    r.flags = flag::rst | flag::ack;
  }
  ++own_.out_segs, ++own_.out_rsts;
  emit(k, r, now);
  drain_loop(now);
}

namespace {
// A segment's L4 bytes into a TX frame. With the port's TX checksum offload the checksum is left
// partial (the pseudo header's sum in the field) for the device to finish, as Linux leaves it on
// loopback and veth: no pass over the payload.
std::size_t write_segment(const wire::tcp::repr& r, std::span<std::byte> b, wire::ipv4_addr src, wire::ipv4_addr dst,
                          bool partial) noexcept {
  if (!partial) return r.emit(b, src, dst);
  const std::size_t n = r.emit(b, src, dst, wire::csum::offload);
  if (n)
    wire::store_be16(b.data() + wire::tcp::field::checksum,
                     wire::checksum::pseudo_header(src, dst, wire::tcp::ip_protocol, static_cast<std::uint16_t>(n)));
  return n;
}
}  // namespace

void tcp_lane::tx_failed(const std::error_code& ec, time_ns now) noexcept {
  // No TX frame (pool or ring full): pool_empty. No route (off-subnet, no gateway): arp_unresolved,
  // the drop reason of a frame whose next hop never resolved; here there is no next hop at all.
  // Too big for the MTU: oversize.
  const drop_reason why = ec == std::errc::network_unreachable ? drop_reason::arp_unresolved
                          : ec == std::errc::message_size     ? drop_reason::oversize
                                                              : drop_reason::pool_empty;
  ctr_.count_drop(why);
  trace::emit({.t_ns = now, .stage = trace::hop::tcp, .v = trace::verdict::drop, .reason = why});
}

void tcp_lane::emit(const tcp_key& k, const tcp::segment_train& t, time_ns now) noexcept {
  if (k.remote.addr == cfg_.addr) {   // to ourselves: each segment into the loopback queue, in order
    for (std::uint32_t i = 0; i < t.count; ++i) emit(k, t.segment(i), now);
    return;
  }
  const bool partial = out_.tx_l4_csum_offload();
  const ip_output::params o{.src = k.local.addr, .dst = k.remote.addr, .proto = wire::tcp::ip_protocol,
                            .ttl = cfg_.default_ttl, .l4_csum_partial = partial};
  const std::size_t hl = t.hdr.header_length(), len = hl + t.seg_len;
  // Each frame's payload straight from the send buffer (one copy); the first frame of each TX burst
  // gets the header written whole, the others a copy of it with the sequence number patched. The TCP
  // checksum: partial, the pseudo header's sum, the same for every segment of the train (same
  // addresses and length), so the copy holds it already; else summed over the segment as emit does.
  const auto res = out_.send_train(
      o, len, t.count,
      [&](std::size_t i, std::span<std::byte> b, std::span<const std::byte> head) -> std::size_t {
        const auto idx = static_cast<std::uint32_t>(i);
        if (t.copy_payload(idx, b.subspan(hl)) != t.seg_len) return 0;
        const std::uint32_t seq = t.hdr.seq + idx * std::uint32_t{t.seg_len};
        if (head.empty()) {
          wire::tcp::repr r = t.hdr;
          r.seq = seq;
          r.payload = b.subspan(hl, t.seg_len);   // already in place: emit skips the copy
          return write_segment(r, b, o.src, o.dst, partial);
        }
        std::memcpy(b.data(), head.data(), hl);
        wire::store_be32(b.data() + wire::tcp::field::seq_num, seq);
        if (!partial) {
          wire::store_be16(b.data() + wire::tcp::field::checksum, 0);
          wire::store_be16(b.data() + wire::tcp::field::checksum,
                           wire::checksum::compute_long(b.first(len), wire::checksum::pseudo_header(
                                                                          o.src, o.dst, wire::tcp::ip_protocol,
                                                                          static_cast<std::uint16_t>(len))));
        }
        return len;
      },
      now);
  for (std::size_t i = 0; i < res.failed; ++i) tx_failed(res.ec, now);
}

void tcp_lane::emit(const tcp_key& k, const wire::tcp::repr& r, time_ns now) noexcept {
  if (k.remote.addr == cfg_.addr) {   // to ourselves: after the sending engine call (drain_loop)
    std::vector<std::byte> seg(r.buffer_len());
    r.emit(seg, k.local.addr, k.remote.addr, wire::csum::offload);   // received as csum_good
    looped_.push_back(std::move(seg));
    ++ctr_.looped_back;
    return;
  }
  const bool partial = out_.tx_l4_csum_offload();
  const ip_output::params o{.src = k.local.addr, .dst = k.remote.addr, .proto = wire::tcp::ip_protocol,
                            .ttl = cfg_.default_ttl, .l4_csum_partial = partial};
  // A segment that finds no TX frame (or no route) is lost like one the network lost: the engine's
  // RTO sends it again. But not silently: counted in the interface's drops by reason and traced as
  // a drop at the tcp hop, so a connection that never gets out says why. The IPv4 + Ethernet headers
  // go in front, ARP waits as for UDP.
  const std::error_code ec = out_.send(
      o, r.buffer_len(), [&](std::span<std::byte> b) { return write_segment(r, b, o.src, o.dst, partial); }, now);
  if (ec) tx_failed(ec, now);
}

void tcp_lane::drain_loop_now(time_ns now) noexcept {
  draining_ = true;
  while (!looped_.empty()) {
    const std::vector<std::byte> seg = std::move(looped_.front());
    looped_.pop_front();
    const drop_reason why = receive({cfg_.addr, cfg_.addr, seg, true, false}, now);
    if (why == drop_reason::none) continue;
    ctr_.count_drop(why);
    trace::emit({.t_ns = now, .stage = trace::hop::tcp, .v = trace::verdict::drop, .reason = why});
  }
  draining_ = false;
}

void tcp_lane::end_burst_now(time_ns now) noexcept {
  // In arrival order; an entry may come twice (flows interleaved: ends once, the second is a no-op).
  // Each run may free entries (its own, or another through a looped-back RST): free_entry takes them
  // out of burst_, so the walk goes by popping the back of a reversed list, never by a stale index.
  std::reverse(burst_.begin(), burst_.end());
  while (!burst_.empty()) {
    tcp_entry* e = burst_.back();
    burst_.pop_back();
    // run()'s bookkeeping only when the burst's end sent something (the ACK owed): else nothing of the
    // entry changed but the engine's burst flag, and a keep-alive transaction's one segment per burst
    // would pay a settle and a timer re-arm for nothing (~70 instructions, callgrind rr).
    const before b = snap(*e);
    bool sent = false;
    auto out = [this, e, now, &sent](const auto& r) {   // a repr or a train
      sent = true;
      emit(e->key, r, now);
    };
    e->conn.end_burst(now, tcp::segment_sink(out));
    if (!sent && e->conn.posted() == 0) continue;
    settle(*e, b, now, true);   // may free e: nothing of it is read after
    drain_loop(now);
  }
}

// ---------------------------------------------------------------- after every engine call

void tcp_lane::settle(tcp_entry& e, const before& b, time_ns now, bool events) noexcept {
  (void)now;
  const state st = e.conn.current();
  // Lane counters by state change (RFC 4022's definitions).
  if (st != b.st) {
    if (st == state::closed) {
      if (b.st == state::syn_sent || b.st == state::syn_received) ++own_.attempt_fails;
      if (counts_estab(b.st)) ++own_.estab_resets;
    }
    if (e.passive && opened(b.st, st)) ++own_.passive_opens;
  }
  arm(e);

  unsigned ev = 0;
  tcp_listener* wake = nullptr;
  tcp_socket* owner = e.owner;
  if (owner) {
    if (st == state::closed) sockets_.unhash_tcp(e);   // the tuple is free; the socket keeps the entry
    if (events) {
      // Bytes in a posted read (tcp_socket::post_read) wake it once the rx burst is over (end_burst),
      // so the burst's segments all go straight into it.
      if (e.conn.readable() > b.readable || (e.conn.peer_closed() && !b.peer_closed) ||
          (e.conn.posted() > 0 && !e.conn.in_burst()))
        ev |= tcp_socket::ev_readable;
      if (e.conn.send_room() > b.room) ev |= tcp_socket::ev_writable;
      if (!synchronized_open(b.st) && synchronized_open(st)) ev |= tcp_socket::ev_connected | tcp_socket::ev_writable;
      if (st == state::closed && b.st != state::closed) ev |= tcp_socket::ev_closed;
    }
  } else if (tcp_listener* l = e.listener) {
    if (b.st == state::syn_received && st != state::syn_received) l->syn_gone();
    if (st == state::closed) {
      // Reset (or timed out) after its handshake, before accept(): as Linux, it stays in the accept
      // queue (inet_csk_accept takes the queue's head whatever its state, and inet_accept admits
      // TCP_CLOSE), so accept() returns it and its first read or write says connection_reset. Its
      // tuple is free at once for a new SYN. A half-open one (SYN_RECEIVED) was never queued: freed
      // (a listener's entry past SYN_RECEIVED is in its accept queue: settle pushed it there).
      if (b.st != state::syn_received) sockets_.unhash_tcp(e);
      else free_entry(e);
    } else if (opened(b.st, st)) {
      l->push_ready(e);
      if (events) wake = l;
    }
  } else if (st == state::closed) {
    free_entry(e);   // an orphan's end
  }
  // Last: the hook may do anything, destroy its socket included.
  if (ev) owner->notify(ev);
  else if (wake) wake->notify(tcp_socket::ev_readable);
}

void tcp_lane::arm(tcp_entry& e) noexcept {
  const time_ns d = e.conn.next_deadline();
  if (d == never) {
    if (e.timer.valid()) timers_.cancel(e.timer);
    e.timer = {};
    return;
  }
  if (e.timer.valid() && timers_.armed(e.timer) && timers_.deadline(e.timer) == d) return;
  if (e.timer.valid() && timers_.rearm(e.timer, d)) return;
  e.timer = timers_.arm(d, &tcp_lane::on_timer, this, reinterpret_cast<std::uintptr_t>(&e));
}

void tcp_lane::on_timer(void* ctx, std::uint64_t arg, time_ns now) noexcept {
  auto* lane = static_cast<tcp_lane*>(ctx);
  auto* e = reinterpret_cast<tcp_entry*>(static_cast<std::uintptr_t>(arg));
  lane->run(*e, now, true, [&](tcp::connection& c, tcp::segment_sink out) { c.on_timer(now, out); });
}

void tcp_lane::free_entry(tcp_entry& e) noexcept {
  if (e.timer.valid()) timers_.cancel(e.timer);
  std::erase(burst_, &e);
  add_connection(retired_, e.conn);
  if (e.listener && !e.owner) {
    if (e.conn.current() == state::syn_received) e.listener->syn_gone();
    else e.listener->remove_ready(e);
  }
  sockets_.free_tcp(e);
}

// ---------------------------------------------------------------- the sockets' side

std::error_code tcp_lane::open(tcp_socket& s, endpoint local, endpoint remote, const tcp::connection_config& cfg,
                               time_ns now, tcp_entry*& out) noexcept {
  if (local.addr.is_unspecified()) local.addr = cfg_.addr;
  if (local.port == 0) {
    local.port = sockets_.ephemeral_tcp_port(local.addr, remote);   // the lane's port chooser, if any
    if (local.port == 0) return std::make_error_code(std::errc::address_not_available);
  }
  const tcp_key k{local, remote};
  tcp_entry* e = sockets_.add_tcp(cfg, k);
  if (!e) return std::make_error_code(std::errc::address_not_available);   // as Linux's connect: the tuple is taken
  e->owner = &s;
  e->conn.set_ts_offset(ts_offset(k));
  ++own_.active_opens;
  const std::uint32_t iss = secret_.iss(k, now);
  out = e;   // before the SYN: over loopback the handshake completes inside this call
  run(*e, now, false, [&](tcp::connection& c, tcp::segment_sink o) { c.connect(iss, now, o); });
  return {};
}

std::size_t tcp_lane::send(tcp_entry& e, std::span<const std::byte> data, time_ns now) noexcept {
  return run(e, now, false, [&](tcp::connection& c, tcp::segment_sink o) { return c.send(data, now, o); });
}

std::size_t tcp_lane::receive(tcp_entry& e, std::span<std::byte> buf, time_ns now) noexcept {
  return run(e, now, false, [&](tcp::connection& c, tcp::segment_sink o) { return c.receive(buf, now, o); });
}

void tcp_lane::shutdown(tcp_entry& e, time_ns now) noexcept {
  run(e, now, false, [&](tcp::connection& c, tcp::segment_sink o) { c.close(now, o); });
}

void tcp_lane::abort(tcp_entry& e, time_ns now) noexcept {
  run(e, now, false, [&](tcp::connection& c, tcp::segment_sink o) { c.abort(now, o); });
}

void tcp_lane::changed(tcp_entry& e, time_ns now) noexcept {
  // An empty send runs the engine's output (what Nagle held may go now) and re-arms the timer.
  run(e, now, false, [&](tcp::connection& c, tcp::segment_sink o) { (void)c.send({}, now, o); });
}

void tcp_lane::release(tcp_entry& e, time_ns now) noexcept {
  e.owner = nullptr;
  if (e.conn.current() == state::closed) return free_entry(e);
  if (e.conn.readable() > 0) {
    ++own_.abort_on_close;
    // The settle below sees an orphan at CLOSED and frees it.
    return run(e, now, false, [&](tcp::connection& c, tcp::segment_sink o) { c.abort(now, o); });
  }
  run(e, now, false, [&](tcp::connection& c, tcp::segment_sink o) { c.close(now, o); });
}

void tcp_lane::close_listener(tcp_listener& l, time_ns now) noexcept {
  std::vector<tcp_entry*> mine;
  for (const auto& e : sockets_.tcp_entries())
    if (e->listener == &l && !e->owner) mine.push_back(e.get());
  for (tcp_entry* e : mine) {
    if (e->conn.current() == state::closed) free_entry(*e);   // reset while queued: nothing to send
    else run(*e, now, false, [&](tcp::connection& c, tcp::segment_sink o) { c.abort(now, o); });
  }
}

}  // namespace ringlab::stack
