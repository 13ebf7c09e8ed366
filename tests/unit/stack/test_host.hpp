#pragma once
// Two hosts on a /24, each a stack::interface on a test_port (tests/unit/stack/test_port.hpp): the
// fixture that the stack's TCP tests and lab 11 move frames between, one host's TX into the other's RX.
#include <algorithm>

#include "stack/iface/interface.hpp"
#include "tests/unit/stack/test_port.hpp"

namespace ringlab::stack::testing {

inline const wire::mac_addr host_a_mac{0x02, 0, 0, 0, 0, 0x0a}, host_b_mac{0x02, 0, 0, 0, 0, 0x0b};
inline const wire::ipv4_addr host_a_ip{10, 0, 0, 1}, host_b_ip{10, 0, 0, 2};

inline interface_config host_config(wire::mac_addr mac, wire::ipv4_addr ip) {
  interface_config c;
  c.mac = mac;
  c.addr = ip;
  c.prefix_len = 24;
  return c;
}

struct test_host {
  test_host(wire::mac_addr mac, wire::ipv4_addr ip) : ifc(port, host_config(mac, ip)) {}
  test_port port;
  interface ifc;
  // TCP entries the host's socket table holds (connections, orphans, half-open ones).
  std::size_t entries() { return ifc.tcp_host().lane.sockets().tcp_entries().size(); }
};

// Runs every timer of the two hosts due until t, in deadline order, calling pump() (poll both, move
// frames until quiet) at each deadline and at t; `now` ends at t.
template <class Pump>
void advance_hosts_to(test_host& a, test_host& b, time_ns& now, time_ns t, Pump&& pump) {
  pump();
  for (;;) {
    const time_ns d = std::min(a.ifc.next_deadline(), b.ifc.next_deadline());
    if (d > t) break;
    now = std::max(now, d);
    pump();
  }
  now = t;
  pump();
}

}  // namespace ringlab::stack::testing
