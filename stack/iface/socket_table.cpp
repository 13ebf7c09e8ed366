#include "stack/iface/socket_table.hpp"

#include <algorithm>

#include "stack/socket/udp_socket.hpp"

namespace ringlab::stack {

socket_table::socket_table(const interface_config& cfg)
    : cfg_(cfg),
      next_ephemeral_(cfg.ephemeral_first),
      next_tcp_ephemeral_(cfg.tcp_ephemeral_start >= cfg.ephemeral_first && cfg.tcp_ephemeral_start <= cfg.ephemeral_last
                              ? cfg.tcp_ephemeral_start
                              : cfg.ephemeral_first),
      tcp_flows_(64, tcp_key_hash{cfg.tcp_secret}) {}

// Orphans and entries nobody accepted die with the table (sockets are closed before their interface).
socket_table::~socket_table() = default;

udp_socket* socket_table::find_udp(endpoint source, endpoint destination) const noexcept {
  udp_socket* best = nullptr;
  int best_score = -1;
  for (udp_socket* s : udp_) {
    const endpoint local = s->local_endpoint();
    if (local.port != destination.port) continue;
    if (!local.addr.is_unspecified() && local.addr != destination.addr) continue;
    if (s->connected() && s->remote_endpoint() != source) continue;
    const int score = (s->connected() ? 2 : 0) + (local.addr.is_unspecified() ? 0 : 1);
    if (score > best_score) {
      best = s;
      best_score = score;
    }
  }
  return best;
}

// One walk of the ephemeral range from a protocol's cursor: the first port `used` says is free.
template <class Used>
std::uint16_t socket_table::next_free_port(std::uint16_t& cursor, Used used) const noexcept {
  const std::uint32_t span = std::uint32_t{cfg_.ephemeral_last} - cfg_.ephemeral_first + 1;
  for (std::uint32_t i = 0; i < span; ++i) {
    const std::uint16_t p = cursor;
    cursor = p == cfg_.ephemeral_last ? cfg_.ephemeral_first : static_cast<std::uint16_t>(p + 1);
    if (!used(p)) return p;
  }
  return 0;
}

std::uint16_t socket_table::ephemeral_port() noexcept {
  return next_free_port(next_ephemeral_, [&](std::uint16_t p) {
    return std::any_of(udp_.begin(), udp_.end(), [&](udp_socket* s) { return s->local_endpoint().port == p; });
  });
}

// ---------------------------------------------------------------- TCP

tcp_entry* socket_table::add_tcp(const tcp::connection_config& cfg, const tcp_key& k) {
  if (tcp_flows_.contains(k)) return nullptr;
  auto e = std::make_unique<tcp_entry>(cfg, k);
  tcp_entry* p = e.get();
  p->index = tcp_entries_.size();
  p->hashed = true;
  tcp_entries_.push_back(std::move(e));
  tcp_flows_.emplace(k, p);
  return p;
}

void socket_table::unhash_tcp(tcp_entry& e) noexcept {
  if (!e.hashed) return;
  tcp_flows_.erase(e.key);
  e.hashed = false;
  if (tcp_memo_ == &e) tcp_memo_ = nullptr;
}

void socket_table::free_tcp(tcp_entry& e) noexcept {
  unhash_tcp(e);
  // Swap with the last and pop: O(1), the moved entry learns its new place.
  const std::size_t i = e.index;
  if (i + 1 != tcp_entries_.size()) {
    std::swap(tcp_entries_[i], tcp_entries_.back());
    tcp_entries_[i]->index = i;
  }
  tcp_entries_.pop_back();
}

bool socket_table::tcp_port_used(std::uint16_t p) const noexcept {
  for (const auto& b : tcp_bindings_)
    if (b.local.port == p) return true;
  for (const auto& [k, e] : tcp_flows_)
    if (k.local.port == p) return true;
  return false;
}

std::uint16_t socket_table::ephemeral_tcp_port() noexcept {
  return next_free_port(next_tcp_ephemeral_, [&](std::uint16_t p) { return tcp_port_used(p); });
}

std::uint16_t socket_table::ephemeral_tcp_port(wire::ipv4_addr local, endpoint remote) noexcept {
  if (!cfg_.tcp_port_ok) return ephemeral_tcp_port();
  return next_free_port(next_tcp_ephemeral_, [&](std::uint16_t p) {
    // The chooser first: a hash of 12 bytes, where tcp_port_used walks the bindings and flows.
    return !cfg_.tcp_port_ok(endpoint{local, p}, remote) || tcp_port_used(p);
  });
}

std::error_code socket_table::bind_tcp(const void* owner, endpoint& local) noexcept {
  if (!local.addr.is_unspecified() && local.addr != cfg_.addr)
    return std::make_error_code(std::errc::address_not_available);
  for (const auto& b : tcp_bindings_)
    if (b.owner == owner) return std::make_error_code(std::errc::invalid_argument);
  if (local.port == 0) {
    local.port = ephemeral_tcp_port();
    if (local.port == 0) return std::make_error_code(std::errc::address_in_use);
  }
  for (const auto& b : tcp_bindings_) {
    if (b.local.port != local.port) continue;
    if (b.local.addr == local.addr || b.local.addr.is_unspecified() || local.addr.is_unspecified())
      return std::make_error_code(std::errc::address_in_use);
  }
  tcp_bindings_.push_back({local, owner, nullptr});
  return {};
}

void socket_table::unbind_tcp(const void* owner) noexcept {
  std::erase_if(tcp_bindings_, [&](const tcp_binding& b) { return b.owner == owner; });
}

void socket_table::listen_tcp(const void* owner, tcp_listener* l) noexcept {
  for (auto& b : tcp_bindings_)
    if (b.owner == owner) b.listener = l;
}

tcp_listener* socket_table::find_listener(endpoint local) const noexcept {
  tcp_listener* any = nullptr;
  for (const auto& b : tcp_bindings_) {
    if (!b.listener || b.local.port != local.port) continue;
    if (b.local.addr == local.addr) return b.listener;   // the most specific: the address itself
    if (b.local.addr.is_unspecified()) any = b.listener;
  }
  return any;
}

std::error_code socket_table::bind_udp(udp_socket& s, endpoint& local) noexcept {
  if (!local.addr.is_unspecified() && local.addr != cfg_.addr && !local.addr.is_multicast() &&
      !local.addr.is_broadcast())
    return std::make_error_code(std::errc::address_not_available);
  if (local.port == 0) {
    local.port = ephemeral_port();
    if (local.port == 0) return std::make_error_code(std::errc::address_in_use);
  }
  for (udp_socket* o : udp_) {
    const endpoint theirs = o->local_endpoint();
    if (o == &s || theirs.port != local.port) continue;
    if (theirs.addr == local.addr || theirs.addr.is_unspecified() || local.addr.is_unspecified())
      return std::make_error_code(std::errc::address_in_use);
  }
  if (std::find(udp_.begin(), udp_.end(), &s) == udp_.end()) udp_.push_back(&s);
  changed();
  return {};
}

void socket_table::unbind_udp(udp_socket& s) noexcept {
  std::erase(udp_, &s);
  changed();
}

}  // namespace ringlab::stack
