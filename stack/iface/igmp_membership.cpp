#include "stack/iface/igmp_membership.hpp"

#include <algorithm>

namespace ringlab::stack {

igmp_membership::~igmp_membership() {
  for (auto& g : groups_) timers_.cancel(g.report);
  timers_.cancel(all_report_);
}

igmp_membership::change igmp_membership::join(wire::ipv4_addr group) noexcept {
  for (auto& g : groups_)
    if (g.addr == group) {
      ++g.refs;
      return change::none;
    }
  if (groups_.size() >= max_groups) return change::no_room;
  if (groups_.capacity() == 0) groups_.reserve(max_groups);
  groups_.push_back({group, 1, {}});
  return change::first_join;
}

igmp_membership::change igmp_membership::leave(wire::ipv4_addr group) noexcept {
  auto it = std::find_if(groups_.begin(), groups_.end(), [&](const member& g) { return g.addr == group; });
  if (it == groups_.end()) return change::not_member;
  if (--it->refs > 0) return change::none;
  timers_.cancel(it->report);
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

void igmp_membership::shorten(timer_queue::id& t, time_ns at, timer_fn fn, std::uint64_t arg) noexcept {
  if (!timers_.armed(t))
    t = timers_.arm(at, fn, this, arg);
  else if (at < timers_.deadline(t))
    timers_.rearm(t, at);
}

void igmp_membership::on_query(wire::ipv4_addr group, time_ns max_resp, bool v3, time_ns now) noexcept {
  // One draw per group, in table order, whether or not it shortens a timer: the same seed and the
  // same queries give the same delays.
  if (group.is_unspecified()) {
    if (groups_.empty()) return;
    if (v3) {
      shorten(all_report_, now + random_delay(max_resp), &igmp_membership::on_all_timer, 0);
      return;
    }
    for (auto& g : groups_) shorten(g.report, now + random_delay(max_resp), &igmp_membership::on_group_timer, g.addr.value);
    return;
  }
  for (auto& g : groups_)
    if (g.addr == group) shorten(g.report, now + random_delay(max_resp), &igmp_membership::on_group_timer, g.addr.value);
}

void igmp_membership::on_other_report(wire::ipv4_addr group) noexcept {
  for (auto& g : groups_)
    if (g.addr == group) timers_.cancel(g.report);
}

void igmp_membership::on_group_timer(void* self, std::uint64_t group, time_ns now) noexcept {
  auto& me = *static_cast<igmp_membership*>(self);
  const wire::ipv4_addr addr = wire::ipv4_addr{static_cast<std::uint32_t>(group)};
  for (auto& g : me.groups_)
    if (g.addr == addr) g.report = {};   // fired: the slot goes back to the queue after this call
  me.hooks_.group_due(me.hooks_.ctx, addr, now);
}

void igmp_membership::on_all_timer(void* self, std::uint64_t, time_ns now) noexcept {
  auto& me = *static_cast<igmp_membership*>(self);
  me.all_report_ = {};
  me.hooks_.all_due(me.hooks_.ctx, now);
}

time_ns igmp_membership::next_deadline() const noexcept {
  time_ns t = timers_.deadline(all_report_);
  for (const auto& g : groups_) t = earliest(t, timers_.deadline(g.report));
  return t;
}

}  // namespace ringlab::stack
