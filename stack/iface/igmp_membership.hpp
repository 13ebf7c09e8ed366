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
#include <cstddef>
#include <cstdint>
#include <vector>

#include "stack/iface/time.hpp"
#include "stack/wire/ipv4_addr.hpp"

namespace ringlab::stack {

class igmp_membership {
 public:
  static constexpr std::size_t max_groups = 64;

  explicit igmp_membership(std::uint64_t seed) noexcept : rng_(seed) {}

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

  // Calls group_due(group) for each group whose timer fired, then all_due() if the v3 interface
  // timer fired. Timers are cleared before the calls.
  template <class GroupDue, class AllDue>
  void on_timer(time_ns now, GroupDue&& group_due, AllDue&& all_due) {
    for (auto& g : groups_)
      if (g.report_at <= now) {
        g.report_at = never;
        group_due(g.addr);
      }
    if (all_report_at_ <= now) {
      all_report_at_ = never;
      all_due();
    }
  }
  time_ns next_deadline() const noexcept;

 private:
  struct member {
    wire::ipv4_addr addr;
    unsigned refs = 0;
    time_ns report_at = never;
  };
  time_ns random_delay(time_ns max_resp) noexcept;

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
  time_ns all_report_at_ = never;
  splitmix64 rng_;
};

}  // namespace ringlab::stack
