#pragma once
// What a tcp_socket or tcp_listener needs from the stack it lives on: the interface's config and its
// TCP lane (socket table's TCP side, output, timers, counters), by reference, as udp_host is for UDP.
#include "stack/iface/interface_config.hpp"

namespace ringlab::stack {

class tcp_lane;

struct tcp_host {
  const interface_config& config;
  tcp_lane& lane;
};

}  // namespace ringlab::stack
