#include "stack/iface/igmp_host.hpp"

#include <algorithm>
#include <array>

#include "stack/iface/frame_releaser.hpp"
#include "stack/iface/ip_output.hpp"
#include "stack/iface/socket_table.hpp"

namespace ringlab::stack {

std::error_code igmp_host::join(wire::ipv4_addr group, time_ns now) noexcept {
  if (!group.is_multicast()) return std::make_error_code(std::errc::invalid_argument);
  sockets_.changed();
  frames_.advance_now(now);
  switch (groups_.join(group)) {
    case igmp_membership::change::no_room: return std::make_error_code(std::errc::no_buffer_space);
    case igmp_membership::change::first_join:
      if (group == wire::ipv4_addr::all_systems()) break;   // never reported (RFC 2236 6)
      if (cfg_.igmp_version == 2)
        send_v2(wire::igmp::type::v2_report, group, group, now);
      else
        send_v3(wire::igmp::record_type::change_to_exclude, {&group, 1}, now);
      break;
    default: break;
  }
  return {};
}

std::error_code igmp_host::leave(wire::ipv4_addr group, time_ns now) noexcept {
  sockets_.changed();   // the fast path's flow memo vouches for membership too
  frames_.advance_now(now);
  switch (groups_.leave(group)) {
    case igmp_membership::change::not_member: return std::make_error_code(std::errc::address_not_available);
    case igmp_membership::change::last_leave:
      if (group == wire::ipv4_addr::all_systems()) break;
      if (cfg_.igmp_version == 2)
        send_v2(wire::igmp::type::leave, group, wire::ipv4_addr::all_routers(), now);
      else
        send_v3(wire::igmp::record_type::change_to_include, {&group, 1}, now);
      break;
    default: break;
  }
  return {};
}

void igmp_host::report(wire::ipv4_addr group, time_ns now) noexcept {
  if (cfg_.igmp_version == 2)
    send_v2(wire::igmp::type::v2_report, group, group, now);
  else
    send_v3(wire::igmp::record_type::mode_is_exclude, {&group, 1}, now);
}

void igmp_host::report_all(time_ns now) noexcept {
  std::array<wire::ipv4_addr, igmp_membership::max_groups> all{};
  std::size_t n = 0;
  groups_.for_each_group([&](wire::ipv4_addr g) { all[n++] = g; });
  if (n) send_v3(wire::igmp::record_type::mode_is_exclude, {all.data(), n}, now);
}

void igmp_host::send_v2(wire::igmp::type kind, wire::ipv4_addr group, wire::ipv4_addr to, time_ns now) noexcept {
  wire::igmp::repr r;
  r.kind = kind;
  r.group = group;
  const ip_output::params o{.src = cfg_.addr, .dst = to, .proto = wire::igmp::ip_protocol, .ttl = 1, .tos = 0xc0,
                            .router_alert = true};
  if (out_.send(o, r.buffer_len(), [&](std::span<std::byte> out) { return r.emit(out); }, now)) return;
  ++(kind == wire::igmp::type::leave ? ctr_.igmp_leaves_sent : ctr_.igmp_reports_sent);
}

void igmp_host::send_v3(wire::igmp::record_type kind, std::span<const wire::ipv4_addr> groups,
                        time_ns now) noexcept {
  std::array<wire::igmp::record_repr, igmp_membership::max_groups> recs{};
  const std::size_t n = std::min(groups.size(), recs.size());
  for (std::size_t i = 0; i < n; ++i) recs[i] = {kind, groups[i], {}};
  const std::span<const wire::igmp::record_repr> rs{recs.data(), n};
  const ip_output::params o{.src = cfg_.addr, .dst = wire::ipv4_addr::igmpv3_routers(),
                            .proto = wire::igmp::ip_protocol, .ttl = 1, .tos = 0xc0, .router_alert = true};
  if (out_.send(o, wire::igmp::v3_report_len(rs),
                [&](std::span<std::byte> out) { return wire::igmp::emit_v3_report(rs, out); }, now))
    return;
  ++(kind == wire::igmp::record_type::change_to_include ? ctr_.igmp_leaves_sent : ctr_.igmp_reports_sent);
}

}  // namespace ringlab::stack
