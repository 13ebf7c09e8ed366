#pragma once
// What a udp_socket needs from the stack it lives on, and nothing else: the parts of one
// stack::interface it talks to, by reference. No friend and no back pointer to the interface.
//   sockets: bind/unbind, and "the table changed" (the fast path's flow memo forgets) on connect
//   out:     send_to builds its datagram through ip_output
//   groups:  join_group/leave_group (counted per group, IGMP reports)
//   frames:  the one release rule for the frames the socket queues or lends
#include "stack/iface/interface_config.hpp"

namespace ringlab::stack {

class frame_releaser;
class igmp_host;
class ip_output;
class socket_table;

struct udp_host {
  const interface_config& config;
  interface_counters& counters;   // udp_sent
  socket_table& sockets;
  ip_output& out;
  igmp_host& groups;
  frame_releaser& frames;
};

}  // namespace ringlab::stack
