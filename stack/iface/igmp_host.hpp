#pragma once
// stack::igmp_host: this interface's multicast membership and the IGMP it sends about it.
// Joins and leaves are counted per group (igmp_membership); the first join sends a report, the last
// leave a leave, v2 (RFC 2236) or v3 (RFC 3376) as interface_config::igmp_version says, through
// ip_output (TTL 1, TOS 0xc0, Router Alert). rx_pipeline reads membership (joined groups pass the IPv4
// check) and feeds it queries and other hosts' reports; the interface's run_timers sends the reports
// whose delay ran out (report / report_all).
#include <span>
#include <system_error>

#include "stack/iface/timer_queue.hpp"
#include "stack/iface/igmp_membership.hpp"
#include "stack/iface/interface_config.hpp"
#include "stack/iface/time.hpp"
#include "stack/wire/igmp.hpp"
#include "stack/wire/ipv4_addr.hpp"

namespace ringlab::stack {

class frame_releaser;
class ip_output;
class socket_table;

class igmp_host {
 public:
  igmp_host(const interface_config& cfg, interface_counters& ctr, ip_output& out, socket_table& sockets,
            frame_releaser& frames, timer_queue& timers)
      : cfg_(cfg),
        ctr_(ctr),
        out_(out),
        sockets_(sockets),
        frames_(frames),
        groups_(cfg.seed, timers,
                {this, [](void* o, wire::ipv4_addr g, time_ns now) noexcept { static_cast<igmp_host*>(o)->report(g, now); },
                 [](void* o, time_ns now) noexcept { static_cast<igmp_host*>(o)->report_all(now); }}) {}

  std::error_code join(wire::ipv4_addr group, time_ns now) noexcept;
  std::error_code leave(wire::ipv4_addr group, time_ns now) noexcept;
  bool joined(wire::ipv4_addr group) const noexcept { return groups_.joined(group); }

  igmp_membership& membership() noexcept { return groups_; }
  const igmp_membership& membership() const noexcept { return groups_; }

  // A report delay ran out: for one group, or (v3 general query) one report listing every group.
  void report(wire::ipv4_addr group, time_ns now) noexcept;
  void report_all(time_ns now) noexcept;

 private:
  void send_v2(wire::igmp::type kind, wire::ipv4_addr group, wire::ipv4_addr to, time_ns now) noexcept;
  void send_v3(wire::igmp::record_type kind, std::span<const wire::ipv4_addr> groups, time_ns now) noexcept;

  const interface_config& cfg_;
  interface_counters& ctr_;
  ip_output& out_;
  socket_table& sockets_;
  frame_releaser& frames_;
  igmp_membership groups_;
};

}  // namespace ringlab::stack
