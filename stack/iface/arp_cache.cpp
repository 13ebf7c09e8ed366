#include "stack/iface/arp_cache.hpp"

namespace ringlab::stack {

arp_cache::arp_cache(const arp_config& cfg, timer_queue& timers, arp_hooks hooks)
    : cfg_(cfg), timers_(timers), hooks_(hooks), table_(cfg.entries ? cfg.entries : 1) {}

arp_cache::~arp_cache() {
  for (auto& e : table_) timers_.cancel(e.retry);   // stale ids (fired, cancelled, none) are no-ops
}

arp_cache::entry* arp_cache::find(wire::ipv4_addr ip) noexcept {
  for (auto& e : table_)
    if (e.st != state::empty && e.ip == ip) return &e;
  return nullptr;
}

const arp_cache::entry* arp_cache::find(wire::ipv4_addr ip) const noexcept {
  return const_cast<arp_cache*>(this)->find(ip);
}

arp_cache::entry* arp_cache::room(time_ns now) noexcept {
  entry* victim = nullptr;
  for (auto& e : table_) {
    if (e.st == state::empty) return &e;
    if (e.st == state::reachable && e.expires <= now) return &e;
    if (e.st == state::reachable && (!victim || e.expires < victim->expires)) victim = &e;
  }
  return victim;
}

void arp_cache::set(entry& e, const entry& v, time_ns retry_at) noexcept {
  incomplete_ -= e.st == state::incomplete;
  incomplete_ += v.st == state::incomplete;
  if (e.st == state::incomplete) timers_.cancel(e.retry);   // resolved (or gone): no more requests
  e = v;
  if (e.st == state::incomplete)
    e.retry = timers_.arm(retry_at, &arp_cache::on_retry, this, static_cast<std::uint64_t>(&e - table_.data()));
}

void arp_cache::on_retry(void* self, std::uint64_t index, time_ns now) noexcept {
  auto& me = *static_cast<arp_cache*>(self);
  entry& e = me.table_[index];   // incomplete: its timer is cancelled whenever it stops being so
  if (e.requests >= me.cfg_.max_requests) {
    const wire::ipv4_addr ip = e.ip;
    me.set(e, entry{});
    me.hooks_.give_up(me.hooks_.ctx, ip, now);
  } else {
    ++e.requests;
    me.timers_.rearm(e.retry, now + me.cfg_.retry);
    me.hooks_.retry(me.hooks_.ctx, e.ip, now);
  }
}

std::optional<wire::mac_addr> arp_cache::lookup(wire::ipv4_addr ip, time_ns now) const noexcept {
  const entry* e = find(ip);
  if (!e || e->st != state::reachable || e->expires <= now) return std::nullopt;
  return e->mac;
}

bool arp_cache::insert(wire::ipv4_addr ip, wire::mac_addr mac, time_ns now) noexcept {
  entry* e = find(ip);
  if (!e) e = room(now);
  if (!e) return false;
  set(*e, entry{state::reachable, 0, ip, mac, now + cfg_.reachable_for, {}});
  return true;
}

bool arp_cache::update(wire::ipv4_addr ip, wire::mac_addr mac, time_ns now) noexcept {
  entry* e = find(ip);
  if (!e) return false;
  set(*e, entry{state::reachable, 0, ip, mac, now + cfg_.reachable_for, {}});
  return true;
}

arp_cache::start_result arp_cache::start(wire::ipv4_addr ip, time_ns now) noexcept {
  entry* e = find(ip);
  if (e && e->st == state::incomplete) return start_result::in_progress;
  if (!e) e = room(now);
  if (!e) return start_result::no_room;
  set(*e, entry{state::incomplete, 1, ip, {}, 0, {}}, now + cfg_.retry);
  return start_result::send_request;
}

time_ns arp_cache::next_deadline() const noexcept {
  time_ns t = never;
  if (incomplete_ == 0) return t;
  for (const auto& e : table_)
    if (e.st == state::incomplete) t = earliest(t, timers_.deadline(e.retry));
  return t;
}

std::size_t arp_cache::size() const noexcept {
  std::size_t n = 0;
  for (const auto& e : table_) n += e.st != state::empty;
  return n;
}

}  // namespace ringlab::stack
