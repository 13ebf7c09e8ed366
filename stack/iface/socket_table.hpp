#pragma once
// stack::socket_table: which socket a received datagram or segment belongs to, for one interface.
//
// UDP: the bound sockets (bind/unbind, the most-specific-match lookup, ephemeral ports) and the UDP
// fast path's one-flow memo.
//
// TCP, beside UDP's table and not inside it:
//   connections  keyed by the exact 4-tuple {local addr, local port, remote addr, remote port} in a hash
//                map (many flows per queue, one probe per segment: mTCP's per-queue flow table). The
//                table OWNS the entries (tcp_entry: engine, 4-tuple, timer id, holder); sockets and
//                listeners hold pointers. An entry leaves the map when it closes (the tuple is free
//                again) and is freed when nobody holds it.
//   bindings     local {addr, port} taken by bind() and by listeners; a listener's binding is found by
//                the same most-specific rule as find_udp (bound address over any()). A segment tries
//                the connection first, then the listener (tcp_lane does that).
//   ephemeral    ports per protocol, each with its own cursor: UDP's checks the UDP sockets, TCP's the
//                TCP bindings and every live connection's local port (so a new connection never meets
//                an orphan's TIME_WAIT tuple).
// Binding a port that only connections use (accepted ones, orphans in TIME_WAIT) succeeds, as with
// Linux's SO_REUSEADDR; two bindings of one port conflict unless both name different addresses.
// The flow memo stays UDP's: TCP's own 4-tuple lookup is already exact.
#include <cstdint>
#include <memory>
#include <span>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "stack/iface/interface_config.hpp"
#include "stack/iface/tcp_entry.hpp"
#include "stack/socket/endpoint.hpp"

namespace ringlab::stack {

class tcp_listener;
class udp_socket;

class socket_table {
 public:
  explicit socket_table(const interface_config& cfg);
  ~socket_table();

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

  // ---- TCP connections (the table owns them)
  // The live connection of exactly this 4-tuple, or nullptr. The last one found is remembered (a bulk
  // burst is one flow's): no hash probe then (the probe's prime modulo and two dependent loads were 5 %
  // of a bulk MB's CPU); else one.
  tcp_entry* find_tcp(const tcp_key& k) const noexcept {
    if (tcp_memo_ && tcp_memo_->key == k) return tcp_memo_;
    const auto it = tcp_flows_.find(k);
    if (it == tcp_flows_.end()) return nullptr;
    return tcp_memo_ = it->second;
  }
  // A new entry, in the map; nullptr when the 4-tuple is taken.
  tcp_entry* add_tcp(const tcp::connection_config& cfg, const tcp_key& k);
  // Out of the map (closed, still held by its socket); idempotent.
  void unhash_tcp(tcp_entry& e) noexcept;
  // Out of the map and destroyed. The caller has cancelled its timer.
  void free_tcp(tcp_entry& e) noexcept;
  std::span<const std::unique_ptr<tcp_entry>> tcp_entries() const noexcept { return tcp_entries_; }

  // ---- TCP bindings (bind() and listeners)
  // Takes `local` for `owner` (port 0: an ephemeral one, written back into `local`). A second bind by
  // the same owner is refused (invalid_argument), as bind(2) on a bound socket.
  std::error_code bind_tcp(const void* owner, endpoint& local) noexcept;
  void unbind_tcp(const void* owner) noexcept;
  // Marks owner's binding as a listener (find_listener sees it from then on).
  void listen_tcp(const void* owner, tcp_listener* l) noexcept;
  // The listener for a segment to `local`: bound to that address over one bound to any().
  tcp_listener* find_listener(endpoint local) const noexcept;
  // A free TCP port (0: none left in the range).
  std::uint16_t ephemeral_tcp_port() noexcept;
  // An active open's: a free TCP port that cfg.tcp_port_ok accepts for (local, remote); 0: none left.
  std::uint16_t ephemeral_tcp_port(wire::ipv4_addr local, endpoint remote) noexcept;

 private:
  std::uint16_t ephemeral_port() noexcept;
  template <class Used>
  std::uint16_t next_free_port(std::uint16_t& cursor, Used used) const noexcept;
  bool tcp_port_used(std::uint16_t p) const noexcept;

  const interface_config& cfg_;
  std::vector<udp_socket*> udp_;   // a linear table: few sockets per queue
  struct flow_memo {
    flow_key key;
    udp_socket* socket = nullptr;   // nullptr: nothing remembered
  } memo_;
  std::uint16_t next_ephemeral_;       // UDP's cursor
  std::uint16_t next_tcp_ephemeral_;   // TCP's

  std::unordered_map<tcp_key, tcp_entry*, tcp_key_hash> tcp_flows_;
  mutable tcp_entry* tcp_memo_ = nullptr;   // find_tcp's last find, in tcp_flows_ (unhash_tcp forgets it)
  std::vector<std::unique_ptr<tcp_entry>> tcp_entries_;   // ownership; tcp_entry::index is the place
  struct tcp_binding {
    endpoint local;
    const void* owner = nullptr;
    tcp_listener* listener = nullptr;   // set once listening
  };
  std::vector<tcp_binding> tcp_bindings_;   // linear: few bound sockets and listeners per queue
};

}  // namespace ringlab::stack
