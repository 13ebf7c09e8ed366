#pragma once
// Multicast membership of one interface and the host side of IGMP (RFC 2236 v2, RFC 3376 v3), as
// state and timers only: the interface builds and sends the reports this table asks for.
//
//   join / leave     counted per group across sockets; the first join and the last leave are the
//                    moments a report (v2 report / v3 CHANGE_TO_EXCLUDE) or a leave (v2 leave /
//                    v3 CHANGE_TO_INCLUDE) goes out
//   queries          a general query arms a timer for every group (v2) or one interface timer (v3:
//                    one report that lists every group); a group query arms that group's timer. Each
//                    delay is uniform in [0, max response time) from a seeded generator, never a clock,
//                    so the same seed and the same trace give the same reports at the same times.
//   224.0.0.1        all-systems is always joined and never reported (RFC 2236 section 6)
//
// The timers live in the lane's timer_queue (one per group with a report pending, one for the v3
// interface report); when one fires, the owner's hook builds and sends the report.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "stack/iface/time.hpp"
#include "stack/iface/timer_queue.hpp"
#include "stack/wire/ipv4_addr.hpp"

namespace ringlab::stack {

// What the owner sends when a report timer fires (the timer is cleared before the call).
struct igmp_hooks {
  void* ctx = nullptr;
  void (*group_due)(void* ctx, wire::ipv4_addr group, time_ns now) noexcept = nullptr;   // one group
  void (*all_due)(void* ctx, time_ns now) noexcept = nullptr;                            // v3: every group
};

class igmp_membership {
 public:
  static constexpr std::size_t max_groups = 64;

  igmp_membership(std::uint64_t seed, timer_queue& timers, igmp_hooks hooks) noexcept
      : rng_(seed), timers_(timers), hooks_(hooks) {}
  // A table on its own (tests, oracles): its timers are its own, driven by on_timer().
  explicit igmp_membership(std::uint64_t seed) noexcept : igmp_membership(seed, own_timers_, {}) {}
  igmp_membership(const igmp_membership&) = delete;
  igmp_membership& operator=(const igmp_membership&) = delete;
  ~igmp_membership();

  enum class change { none, first_join, last_leave, no_room, not_member };
  change join(wire::ipv4_addr group) noexcept;
  change leave(wire::ipv4_addr group) noexcept;
  bool joined(wire::ipv4_addr group) const noexcept;
  std::size_t size() const noexcept { return groups_.size(); }
  template <class F>
  void for_each_group(F&& f) const {
    for (const auto& g : groups_) f(g.addr);
  }

  // group: 0.0.0.0 for a general query. v3: answer a general query with one report for all groups.
  void on_query(wire::ipv4_addr group, time_ns max_resp, bool v3, time_ns now) noexcept;
  // An IGMPv2 report from another host for a group whose timer runs cancels our report (RFC 2236 3).
  void on_other_report(wire::ipv4_addr group) noexcept;

  // For a table on its own: calls group_due(group) for each group whose timer is due at `now` (in
  // table order), then all_due() if the v3 interface timer is; timers are cleared before the calls.
  // A lane's table fires from the lane's queue (the hooks) instead.
  template <class GroupDue, class AllDue>
  void on_timer(time_ns now, GroupDue&& group_due, AllDue&& all_due) {
    for (auto& g : groups_)
      if (timers_.deadline(g.report) <= now) {
        timers_.cancel(g.report);
        group_due(g.addr);
      }
    if (timers_.deadline(all_report_) <= now) {
      timers_.cancel(all_report_);
      all_due();
    }
  }
  // The earliest pending report (never: none); the lane's timer_queue knows it too.
  time_ns next_deadline() const noexcept;

 private:
  struct member {
    wire::ipv4_addr addr;
    unsigned refs = 0;
    timer_queue::id report;   // armed while a report is pending
  };
  time_ns random_delay(time_ns max_resp) noexcept;
  // RFC 2236 3 / RFC 3376 5.2: a running timer is only ever shortened, never pushed out.
  void shorten(timer_queue::id& t, time_ns at, timer_fn fn, std::uint64_t arg) noexcept;
  static void on_group_timer(void* self, std::uint64_t group, time_ns now) noexcept;
  static void on_all_timer(void* self, std::uint64_t, time_ns now) noexcept;

  // splitmix64: the same numbers on every platform (std:: distributions differ between libraries).
  struct splitmix64 {
    std::uint64_t s;
    explicit splitmix64(std::uint64_t seed) noexcept : s(seed) {}
    std::uint64_t next() noexcept {
      std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      return z ^ (z >> 31);
    }
  };

  std::vector<member> groups_;
  timer_queue::id all_report_;
  splitmix64 rng_;
  timer_queue own_timers_;   // used only by a table on its own
  timer_queue& timers_;
  igmp_hooks hooks_;
};

}  // namespace ringlab::stack
