#pragma once
// An IPv4 address and a UDP/TCP port, as asio::ip::udp::endpoint holds them (host order inside).
#include <compare>
#include <cstdint>

#include "stack/wire/ipv4_addr.hpp"

namespace ringlab::stack {

struct endpoint {
  wire::ipv4_addr addr;
  std::uint16_t port = 0;

  friend constexpr auto operator<=>(const endpoint&, const endpoint&) noexcept = default;
};

}  // namespace ringlab::stack
