// The kernel's end of the interop tests: a small program run inside the peer namespace
// (`ip netns exec NS mcast_peer ...`) that sends or receives UDP multicast through ordinary kernel
// sockets, so the Linux stack (IP_MULTICAST_IF, IP_ADD_MEMBERSHIP, IGMP, routing) is the real peer.
//
//   mcast_peer send GROUP PORT IFADDR COUNT GAP_US   sends payload(0..COUNT-1) from IFADDR
//   mcast_peer recv GROUP PORT IFNAME COUNT TIMEOUT_S joins GROUP on IFNAME, prints one line per
//                                                    datagram: "SRC_IP:SRC_PORT HEX", exit 0 after
//                                                    COUNT, 1 on timeout
// Errors: one line on stderr naming the step, exit 2.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "tests/netns/interop/interop_payloads.hpp"

namespace {

int fail(const char* step) {
  std::fprintf(stderr, "mcast_peer: %s: %s\n", step, std::strerror(errno));
  return 2;
}

in_addr addr_of(const char* text) {
  in_addr a{};
  if (inet_pton(AF_INET, text, &a) != 1) {
    std::fprintf(stderr, "mcast_peer: not an IPv4 address: '%s'\n", text);
    std::exit(2);
  }
  return a;
}

int send_mode(char** argv) {
  const in_addr group = addr_of(argv[2]), ifaddr = addr_of(argv[4]);
  const int port = std::atoi(argv[3]), count = std::atoi(argv[5]), gap_us = std::atoi(argv[6]);
  const int s = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) return fail("socket");
  if (::setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &ifaddr, sizeof ifaddr) != 0) return fail("IP_MULTICAST_IF");
  const unsigned char ttl = 1;
  if (::setsockopt(s, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) != 0) return fail("IP_MULTICAST_TTL");
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  to.sin_addr = group;
  for (int i = 0; i < count; ++i) {
    const std::string p = ringlab::test_interop::payload(i);
    if (::sendto(s, p.data(), p.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) != static_cast<ssize_t>(p.size()))
      return fail("sendto");
    if (gap_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
  }
  ::close(s);
  return 0;
}

int recv_mode(char** argv) {
  const in_addr group = addr_of(argv[2]);
  const int port = std::atoi(argv[3]), count = std::atoi(argv[5]), timeout_s = std::atoi(argv[6]);
  const unsigned ifindex = if_nametoindex(argv[4]);
  if (ifindex == 0) return fail("if_nametoindex");
  const int s = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) return fail("socket");
  const int one = 1;
  ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_port = htons(static_cast<std::uint16_t>(port));
  local.sin_addr = group;   // bound to the group: only its datagrams
  if (::bind(s, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) return fail("bind");
  ip_mreqn m{};
  m.imr_multiaddr = group;
  m.imr_ifindex = static_cast<int>(ifindex);
  if (::setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) != 0) return fail("IP_ADD_MEMBERSHIP");
  std::printf("joined\n");
  std::fflush(stdout);
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  static char buf[65536];
  for (int got = 0; got < count;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count();
    if (left <= 0) return 1;
    pollfd p{s, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    const ssize_t n = ::recvfrom(s, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
    if (n < 0) return fail("recvfrom");
    char src[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &from.sin_addr, src, sizeof src);
    std::printf("%s:%u %s\n", src, ntohs(from.sin_port),
                ringlab::test_interop::to_hex(std::string(buf, static_cast<std::size_t>(n))).c_str());
    std::fflush(stdout);
    ++got;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 7 && std::strcmp(argv[1], "send") == 0) return send_mode(argv);
  if (argc == 7 && std::strcmp(argv[1], "recv") == 0) return recv_mode(argv);
  std::fprintf(stderr,
               "usage: mcast_peer send GROUP PORT IFADDR COUNT GAP_US\n"
               "       mcast_peer recv GROUP PORT IFNAME COUNT TIMEOUT_S\n");
  return 2;
}
