#pragma once
// The ARP cache (RFC 826) of one interface: a small fixed table, no allocation after construction.
//
//   reachable   learned from a reply or a request aimed at us; valid until `reachable_for` passes,
//               then a lookup misses and the next send asks again (expiry is lazy: no timer, so an
//               idle lane is not woken every `reachable_for` per neighbour; the slot is reused)
//   incomplete  we asked and wait: a request goes out every `retry` until `max_requests` were sent,
//               then the entry goes and the frames waiting for it are dropped as arp_unresolved.
//               Each incomplete entry holds one timer in the lane's timer_queue (armed by start(),
//               re-armed by itself when it asks again, cancelled when the entry resolves); the
//               owner's hooks send the request and drop what waited.
//
// A full table evicts the reachable entry that expires first; incomplete entries are never evicted
// (the pending queue that waits on them is bounded separately by the interface).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "stack/iface/time.hpp"
#include "stack/iface/timer_queue.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"

namespace ringlab::stack {

struct arp_config {
  std::size_t entries = 64;
  time_ns reachable_for = 60 * sec;
  time_ns retry = 1 * sec;
  unsigned max_requests = 3;
  // Frames waiting on one unresolved next hop, and on all of them. Linux queues 101 packets per
  // neighbour (unres_qlen; unres_qlen_bytes since); 4 made a client that opens 16 connections at
  // once lose 12 SYNs and wait a second for their retransmissions. Each waiting frame holds a pool
  // frame, so the pool bounds it too.
  std::size_t pending_per_hop = 101;
  std::size_t pending_total = 256;
};

// What the owner does when an incomplete entry's timer fires (from timer_queue::run, on the lane).
struct arp_hooks {
  void* ctx = nullptr;
  void (*retry)(void* ctx, wire::ipv4_addr ip, time_ns now) noexcept = nullptr;     // ask again now
  void (*give_up)(void* ctx, wire::ipv4_addr ip, time_ns now) noexcept = nullptr;   // entry is gone
};

class arp_cache {
 public:
  arp_cache(const arp_config& cfg, timer_queue& timers, arp_hooks hooks);
  arp_cache(const arp_cache&) = delete;
  arp_cache& operator=(const arp_cache&) = delete;
  ~arp_cache();

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

  // The earliest retry of an incomplete entry (never: none); the lane's timer_queue knows it too.
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
    timer_queue::id retry;   // incomplete only
  };
  entry* find(wire::ipv4_addr ip) noexcept;
  const entry* find(wire::ipv4_addr ip) const noexcept;
  entry* room(time_ns now) noexcept;

  // Keeps incomplete_ and the retry timers right: an incomplete entry's timer is armed at retry_at.
  void set(entry& e, const entry& v, time_ns retry_at = never) noexcept;
  static void on_retry(void* self, std::uint64_t index, time_ns now) noexcept;

  arp_config cfg_;
  timer_queue& timers_;
  arp_hooks hooks_;
  std::vector<entry> table_;
  std::size_t incomplete_ = 0;   // an idle cache costs one compare per poll
};

}  // namespace ringlab::stack
