#include "stack/iface/socket_table.hpp"

#include <algorithm>

#include "stack/socket/udp_socket.hpp"

namespace ringlab::stack {

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

std::uint16_t socket_table::ephemeral_port() noexcept {
  const std::uint32_t span = std::uint32_t{cfg_.ephemeral_last} - cfg_.ephemeral_first + 1;
  for (std::uint32_t i = 0; i < span; ++i) {
    const std::uint16_t p = next_ephemeral_;
    next_ephemeral_ = p == cfg_.ephemeral_last ? cfg_.ephemeral_first : static_cast<std::uint16_t>(p + 1);
    if (std::none_of(udp_.begin(), udp_.end(), [&](udp_socket* s) { return s->local_endpoint().port == p; }))
      return p;
  }
  return 0;
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
