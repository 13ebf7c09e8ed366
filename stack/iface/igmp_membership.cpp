#include "stack/iface/igmp_membership.hpp"

#include <algorithm>

namespace ringlab::stack {

igmp_membership::change igmp_membership::join(wire::ipv4_addr group) noexcept {
  for (auto& g : groups_)
    if (g.addr == group) {
      ++g.refs;
      return change::none;
    }
  if (groups_.size() >= max_groups) return change::no_room;
  if (groups_.capacity() == 0) groups_.reserve(max_groups);
  groups_.push_back({group, 1, never});
  return change::first_join;
}

igmp_membership::change igmp_membership::leave(wire::ipv4_addr group) noexcept {
  auto it = std::find_if(groups_.begin(), groups_.end(), [&](const member& g) { return g.addr == group; });
  if (it == groups_.end()) return change::not_member;
  if (--it->refs > 0) return change::none;
  groups_.erase(it);
  return change::last_leave;
}

bool igmp_membership::joined(wire::ipv4_addr group) const noexcept {
  if (group == wire::ipv4_addr::all_systems()) return true;
  return std::any_of(groups_.begin(), groups_.end(), [&](const member& g) { return g.addr == group; });
}

time_ns igmp_membership::random_delay(time_ns max_resp) noexcept {
  if (max_resp == 0) return 0;
  return rng_.next() % max_resp;
}

void igmp_membership::on_query(wire::ipv4_addr group, time_ns max_resp, bool v3, time_ns now) noexcept {
  // RFC 2236 3 / RFC 3376 5.2: a running timer is only ever shortened, never pushed out.
  if (group.is_unspecified()) {
    if (groups_.empty()) return;
    if (v3) {
      all_report_at_ = earliest(all_report_at_, now + random_delay(max_resp));
      return;
    }
    for (auto& g : groups_) g.report_at = earliest(g.report_at, now + random_delay(max_resp));
    return;
  }
  for (auto& g : groups_)
    if (g.addr == group) g.report_at = earliest(g.report_at, now + random_delay(max_resp));
}

void igmp_membership::on_other_report(wire::ipv4_addr group) noexcept {
  for (auto& g : groups_)
    if (g.addr == group) g.report_at = never;
}

time_ns igmp_membership::next_deadline() const noexcept {
  time_ns t = all_report_at_;
  for (const auto& g : groups_) t = earliest(t, g.report_at);
  return t;
}

}  // namespace ringlab::stack
