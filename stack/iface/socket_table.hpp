#pragma once
// stack::socket_table: which socket a received datagram belongs to. Today the bound UDP sockets of one
// interface (bind/unbind, the most-specific-match lookup, ephemeral ports) and the UDP fast path's
// one-flow memo.
//
// TCP (next issues) adds two tables here, beside `udp_`, not inside it: connections keyed by the exact
// 4-tuple {local addr, local port, remote addr, remote port} (a hash map: many flows per queue, one
// probe per segment, mTCP's per-queue flow table) and listeners keyed by local {addr, port} with the
// same most-specific rule as find_udp (bound address over any). A segment tries the connection first,
// then the listener; ephemeral_port() then checks the TCP tables as well, per protocol as Linux does.
// The flow memo stays UDP's: TCP's own 4-tuple lookup is already exact.
#include <cstdint>
#include <system_error>
#include <vector>

#include "stack/iface/interface_config.hpp"
#include "stack/socket/endpoint.hpp"

namespace ringlab::stack {

class udp_socket;

class socket_table {
 public:
  explicit socket_table(const interface_config& cfg) noexcept
      : cfg_(cfg), next_ephemeral_(cfg.ephemeral_first) {}

  // Binds `s` to `local` (port 0: an ephemeral one; `local` then says which). The socket stores the
  // endpoint itself; the table reads it back through udp_socket::local_endpoint().
  std::error_code bind_udp(udp_socket& s, endpoint& local) noexcept;
  void unbind_udp(udp_socket& s) noexcept;
  // The most specific match wins: a connected socket over a bound one, a bound address over any().
  udp_socket* find_udp(endpoint source, endpoint destination) const noexcept;
  const std::vector<udp_socket*>& udp() const noexcept { return udp_; }

  // A flow as the fast path's memo keeps it: the IPv4 source and destination address and the UDP
  // source and destination port, as on the wire (network order).
  struct flow_key {
    std::uint64_t addrs = 0;
    std::uint32_t ports = 0;
  };
  // The remembered flow's socket, or nullptr. Inline: it runs once per datagram on the fast path.
  udp_socket* memo(flow_key k) const noexcept {
    return memo_.key.addrs == k.addrs && memo_.key.ports == k.ports ? memo_.socket : nullptr;
  }
  void remember(flow_key k, udp_socket* s) noexcept { memo_ = {k, s}; }
  // Any bind, connect, close, join or leave forgets the memo (it vouches for the address check too).
  void changed() noexcept { memo_ = {}; }

 private:
  std::uint16_t ephemeral_port() noexcept;

  const interface_config& cfg_;
  std::vector<udp_socket*> udp_;   // a linear table: few sockets per queue
  struct flow_memo {
    flow_key key;
    udp_socket* socket = nullptr;   // nullptr: nothing remembered
  } memo_;
  std::uint16_t next_ephemeral_;
};

}  // namespace ringlab::stack
