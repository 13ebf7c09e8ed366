#pragma once
// The ARP cache (RFC 826) of one interface: a small fixed table, no allocation after construction.
//
//   reachable   learned from a reply or a request aimed at us; valid until `reachable_for` passes,
//               then a lookup misses and the next send asks again (expiry is lazy: no timer)
//   incomplete  we asked and wait: a request goes out every `retry` until `max_requests` were sent,
//               then the entry goes and the frames waiting for it are dropped as arp_unresolved
//
// A full table evicts the reachable entry that expires first; incomplete entries are never evicted
// (the pending queue that waits on them is bounded separately by the interface).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "stack/iface/time.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"

namespace ringlab::stack {

struct arp_config {
  std::size_t entries = 64;
  time_ns reachable_for = 60 * sec;
  time_ns retry = 1 * sec;
  unsigned max_requests = 3;
  std::size_t pending_per_hop = 4;    // frames waiting on one unresolved next hop
  std::size_t pending_total = 16;     // frames waiting on all of them
};

class arp_cache {
 public:
  explicit arp_cache(const arp_config& cfg);

  std::optional<wire::mac_addr> lookup(wire::ipv4_addr ip, time_ns now) const noexcept;
  // Creates or refreshes a reachable entry (a reply, or a request for our address). False: table full
  // of incomplete entries.
  bool insert(wire::ipv4_addr ip, wire::mac_addr mac, time_ns now) noexcept;
  // Refreshes only an entry that exists (RFC 826: "merge" when the sender is already known).
  bool update(wire::ipv4_addr ip, wire::mac_addr mac, time_ns now) noexcept;

  // Starts resolving ip: true when a request should go out now (a new incomplete entry).
  // False when one is already in progress, or when the table has no room (then the caller drops).
  enum class start_result { send_request, in_progress, no_room };
  start_result start(wire::ipv4_addr ip, time_ns now) noexcept;

  // Walks incomplete entries whose retry time came: `retry(ip)` for those to ask again,
  // `give_up(ip)` for those out of tries (the entry is gone when it is called).
  template <class Retry, class GiveUp>
  void on_timer(time_ns now, Retry&& retry, GiveUp&& give_up) {
    if (incomplete_ == 0) return;
    for (auto& e : table_) {
      if (e.st != state::incomplete || e.next_retry > now) continue;
      if (e.requests >= cfg_.max_requests) {
        const wire::ipv4_addr ip = e.ip;
        e = entry{};
        --incomplete_;
        give_up(ip);
      } else {
        ++e.requests;
        e.next_retry = now + cfg_.retry;
        retry(e.ip);
      }
    }
  }

  time_ns next_deadline() const noexcept;
  std::size_t size() const noexcept;

 private:
  enum class state : std::uint8_t { empty, incomplete, reachable };
  struct entry {
    state st = state::empty;
    unsigned requests = 0;
    wire::ipv4_addr ip;
    wire::mac_addr mac;
    time_ns expires = 0;
    time_ns next_retry = never;
  };
  entry* find(wire::ipv4_addr ip) noexcept;
  const entry* find(wire::ipv4_addr ip) const noexcept;
  entry* room(time_ns now) noexcept;

  void set(entry& e, const entry& v) noexcept;   // keeps incomplete_ right

  arp_config cfg_;
  std::vector<entry> table_;
  std::size_t incomplete_ = 0;   // an idle cache costs one compare per poll
};

}  // namespace ringlab::stack
