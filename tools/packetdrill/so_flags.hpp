#pragma once
// What --so_flags tells libringlab_packetdrill.so: the addresses our stack takes (packetdrill's own
// defaults, so a script runs with no flags at all), the virtual clock, and the TCP switches a Linux
// run would set with sysctls. packetdrill passes the --so_flags string as it is; we read
// `key=value` pairs separated by commas, semicolons or spaces:
//
//   local_ip=192.168.0.1 prefix_len=16 gateway_ip=192.168.0.2     packetdrill's --local_ip,
//       --netmask_ip=255.255.0.0 and --gateway_ip defaults (config.c); the remote, 192.0.2.1, is
//       reached through the gateway, so our stack ARPs for 192.168.0.2 and the port answers
//   local_mac=02:00:00:00:00:01 peer_mac=02:00:00:00:00:02 mtu=1500
//   start_usecs=1000000000000000   what gettimeofday reads first
//   tick_usecs=1                   how far each gettimeofday moves the clock (packetdrill spins on it
//                                  for the last 20 us before an event: a clock that never moved
//                                  without usleep would spin forever)
//   receive_limit_secs=600         how far netdev_receive runs the clock ahead, timer by timer, for
//                                  a packet that has not left yet
//   stall_ms=10000                 real time a blocking call waits with the stack standing still
//                                  before it fails with EDEADLK (stack_under_test.hpp)
//   sack=1 timestamps=1 window_scaling=1 nagle=1 congestion=cubic|reno
//   rto_min_ms=200 rto_initial_ms=1000 delayed_ack_ms=40 msl_secs=30 mss=1460 seed=1
//   rcvbuf=262144 sndbuf=262144    every connection's buffers (Linux's tcp_rmem/tcp_wmem); the window
//                                  scale we offer follows rcvbuf: the smallest shift that announces it
//                                  all (6 MiB, Linux's tcp_rmem max: 7; 8 MiB: 8)
//
// A bad flag is an error naming the key and the value, never a default silently taken.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "stack/iface/interface_config.hpp"
#include "stack/tcp/connection.hpp"

namespace ringlab::packetdrill {

struct so_config {
  stack::interface_config iface{
      .mac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01},
      .addr = {192, 168, 0, 1},
      .prefix_len = 16,
      .gateway = {192, 168, 0, 2},
  };
  wire::mac_addr peer_mac{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};   // the gateway's, as our port answers for it
  std::uint32_t mtu = 1500;
  std::uint64_t start_usecs = 1'000'000'000'000'000;   // 2001-09-09: any fixed start, the same every run
  std::uint64_t tick_usecs = 1;
  std::uint64_t receive_limit_secs = 600;
  std::uint64_t stall_ms = 10'000;
  tcp::connection_config tcp;   // for every socket and listener the script makes
};

// The config, or a message naming the flag that is wrong ("so_flags: ...").
std::variant<so_config, std::string> parse_so_flags(std::string_view flags);

}  // namespace ringlab::packetdrill
