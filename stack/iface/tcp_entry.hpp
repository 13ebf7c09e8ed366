#pragma once
// stack::tcp_entry: one TCP connection as the socket table owns it: the engine (tcp::connection), its
// 4-tuple, its one timer on the lane's timer_queue, and who holds it:
//
//   owner != nullptr                the application's tcp_socket (connect, or accept handed it over)
//   owner == nullptr, listener set  a listener's: half-open (SYN_RECEIVED) or waiting in its accept queue
//   both nullptr                    an ORPHAN: its socket closed; it finishes FIN / TIME_WAIT alone and
//                                   is freed at CLOSED, as Linux's orphan sockets are
//
// The table frees an entry when it reaches CLOSED with no owner; a socket's closed entry leaves the
// 4-tuple map (the tuple is free again) but stays until the socket closes, so error(), state() and
// info() still answer. tcp_key is the map's key: {local, remote} endpoints, exactly.
#include <cstddef>
#include <cstdint>

#include "stack/iface/time.hpp"
#include "stack/iface/timer_queue.hpp"
#include "stack/socket/endpoint.hpp"
#include "stack/tcp/connection.hpp"

namespace ringlab::stack {

class tcp_listener;
class tcp_socket;

struct tcp_key {
  endpoint local, remote;
  friend constexpr bool operator==(const tcp_key&, const tcp_key&) noexcept = default;
};

// Both addresses and both ports in 96 bits, folded by two multiplications (one probe per segment; the
// table is per lane and its keys come from the wire, so it is seeded by the interface's TCP secret
// against an attacker who would aim every 4-tuple at one bucket).
struct tcp_key_hash {
  std::uint64_t seed = 0;
  std::size_t operator()(const tcp_key& k) const noexcept {
    const std::uint64_t a = (std::uint64_t{k.local.addr.value} << 32 | k.remote.addr.value) ^ seed;
    const std::uint64_t p = std::uint64_t{k.local.port} << 16 | k.remote.port;
    std::uint64_t h = (a ^ (p * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
    return static_cast<std::size_t>(h * 0x94d049bb133111ebull ^ (h >> 29));
  }
};

struct tcp_entry {
  tcp_entry(const tcp::connection_config& cfg, const tcp_key& k) : conn(cfg, k.local.port, k.remote.port), key(k) {}
  tcp_entry(const tcp_entry&) = delete;
  tcp_entry& operator=(const tcp_entry&) = delete;

  tcp::connection conn;
  tcp_key key;
  timer_queue::id timer;              // armed at conn.next_deadline() after every engine call
  tcp_socket* owner = nullptr;
  tcp_listener* listener = nullptr;   // half-open or not yet accepted (owner == nullptr then)
  bool hashed = false;                // in the 4-tuple map (a closed entry a socket still holds is not)
  bool passive = false;               // opened by a listener's SYN (PassiveOpens when it establishes)
  std::size_t index = 0;              // place in the table's ownership vector (O(1) removal)
};

}  // namespace ringlab::stack
