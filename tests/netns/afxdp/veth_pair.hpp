#pragma once
// The backend netns tests' world: two network namespaces joined by one veth pair, put together from
// the lab's one fixture (tools/netns/netns.hpp), plus a tiny frame builder/parser. Everything is
// removed by destructors; names carry the pid (netlab::unique_name), and namespaces a crashed run
// of the same tag left behind are reaped first.
//
//   ns "rl<tag>a<pid>"                     ns "rl<tag>b<pid>"
//   ┌───────────────────────┐              ┌───────────────────────┐
//   │ if_a  10.66.0.1/24 (*) │◄══ veth ══►│ if_b  10.66.0.2/24     │  (*) only when a_address is set
//   └───────────────────────┘              └───────────────────────┘
//
// The test thread enters ns a (enter_a) to open AF_XDP / DPDK ports there; a kernel peer socket is
// made inside ns b (socket_in_b) and keeps working from any namespace (a socket stays in the netns it
// was made in). Addresses are 10.66.0.0/24 inside these namespaces only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "tools/netns/netns.hpp"

namespace ringlab::test_veth {

namespace nl = ringlab::netlab;

// A shell command's exit code.
inline int run(const std::string& cmd) { return nl::run({"/bin/sh", "-c", cmd}).exit_code; }

// A command's stdout and stderr together (for "ip ... show" checks).
inline std::string run_out(const std::string& cmd) {
  auto r = nl::run({"/bin/sh", "-c", cmd}, nl::output::merged);
  return r.out;
}

// Why this test cannot run here, or empty when it can (tools/netns/preconditions.hpp; tests skip on it
// through RINGLAB_REQUIRE, tests/support/preconditions.hpp).
inline std::string netns_skip_reason() { return nl::netns_unavailable(); }

struct veth_options {
  bool a_address = true;   // give if_a the kernel address 10.66.0.1/24 (the kernel answers ARP for it)
  int mtu = 1500;
  int queues = 0;          // > 0: numrxqueues and numtxqueues of both ends (a multi-queue veth)
};

class veth_pair {
 public:
  static constexpr const char* addr_a = "10.66.0.1";
  static constexpr const char* addr_b = "10.66.0.2";

  explicit veth_pair(const std::string& tag, veth_options o = {}) {
    try {
      nl::reap_stale("rl" + tag + "a");
      nl::reap_stale("rl" + tag + "b");
      a_.emplace("rl" + tag + "a");
      b_.emplace("rl" + tag + "b");
      link_.emplace(*a_, o.a_address ? std::string(addr_a) + "/24" : std::string(), *b_, std::string(addr_b) + "/24",
                    nl::veth_options{.mtu = o.mtu, .queues = o.queues});
      ns_a = a_->name();
      ns_b = b_->name();
      if_a = link_->a_name();
      if_b = link_->b_name();
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  ~veth_pair() { in_a_.reset(); }   // the thread leaves ns a before it is deleted
  veth_pair(const veth_pair&) = delete;
  veth_pair& operator=(const veth_pair&) = delete;

  bool ok() const { return error.empty(); }
  bool enter_a() {
    if (!a_) return false;
    in_a_.reset();
    in_a_.emplace(*a_);
    return in_a_->ok();
  }
  bool leave() {
    in_a_.reset();
    return true;
  }
  // A socket made inside ns b (the calling thread comes back to where it was).
  int socket_in_b(int type) { return b_ ? nl::socket_in(*b_, AF_INET, type) : -1; }

  std::array<std::uint8_t, 6> mac(bool side_a) {
    return nl::parse_mac(side_a ? link_->a_mac() : link_->b_mac()).value_or(std::array<std::uint8_t, 6>{});
  }

  std::string ns_a, ns_b, if_a, if_b;
  std::string error;

 private:
  std::optional<nl::netns> a_, b_;
  std::optional<nl::veth_pair> link_;
  std::optional<nl::enter> in_a_;
};

inline sockaddr_in ipv4(const char* a, std::uint16_t port) {
  sockaddr_in s{};
  s.sin_family = AF_INET;
  s.sin_port = htons(port);
  inet_pton(AF_INET, a, &s.sin_addr);
  return s;
}

// Receives one datagram within timeout_ms; empty optional-like (false) on timeout.
inline bool recv_within(int fd, std::string& out, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return false;
  char buf[4096];
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  if (n < 0) return false;
  out.assign(buf, static_cast<std::size_t>(n));
  return true;
}

// --- a tiny frame builder/parser (Ethernet II + IPv4 + UDP), local so the test does not depend on
// stack/wire while it is being written; the stack's interop tests will use stack/wire instead. ---
inline std::uint16_t ip_checksum(const std::uint8_t* p, std::size_t n) {
  std::uint32_t s = 0;
  for (std::size_t i = 0; i + 1 < n; i += 2) s += (std::uint32_t(p[i]) << 8) | p[i + 1];
  if (n & 1) s += std::uint32_t(p[n - 1]) << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(~s);
}

inline std::size_t build_udp(std::uint8_t* f, const std::array<std::uint8_t, 6>& dst, const std::array<std::uint8_t, 6>& src,
                             const char* ip_src, const char* ip_dst, std::uint16_t sport, std::uint16_t dport,
                             const std::string& payload, std::uint16_t ip_id = 0) {
  std::memcpy(f, dst.data(), 6);
  std::memcpy(f + 6, src.data(), 6);
  f[12] = 0x08; f[13] = 0x00;
  std::uint8_t* ip = f + 14;
  const std::size_t ip_len = 20 + 8 + payload.size();
  ip[0] = 0x45; ip[1] = 0;
  ip[2] = std::uint8_t(ip_len >> 8); ip[3] = std::uint8_t(ip_len);
  ip[4] = std::uint8_t(ip_id >> 8); ip[5] = std::uint8_t(ip_id);
  ip[6] = 0x40; ip[7] = 0;   // DF
  ip[8] = 64; ip[9] = 17;
  ip[10] = ip[11] = 0;
  inet_pton(AF_INET, ip_src, ip + 12);
  inet_pton(AF_INET, ip_dst, ip + 16);
  const std::uint16_t c = ip_checksum(ip, 20);
  ip[10] = std::uint8_t(c >> 8); ip[11] = std::uint8_t(c);
  std::uint8_t* u = ip + 20;
  const std::size_t ulen = 8 + payload.size();
  u[0] = std::uint8_t(sport >> 8); u[1] = std::uint8_t(sport);
  u[2] = std::uint8_t(dport >> 8); u[3] = std::uint8_t(dport);
  u[4] = std::uint8_t(ulen >> 8); u[5] = std::uint8_t(ulen);
  u[6] = u[7] = 0;   // no UDP checksum: allowed over IPv4
  std::memcpy(u + 8, payload.data(), payload.size());
  return 14 + ip_len;
}

struct udp_seen {
  bool ok = false;
  std::uint16_t ethertype = 0, dport = 0;
  std::string payload;
};

inline udp_seen parse_udp(const std::byte* b, std::size_t n) {
  const auto* f = reinterpret_cast<const std::uint8_t*>(b);
  udp_seen s;
  if (n < 14) return s;
  s.ethertype = std::uint16_t(f[12] << 8 | f[13]);
  if (s.ethertype != 0x0800 || n < 14 + 20 + 8) return s;
  const std::uint8_t* ip = f + 14;
  const std::size_t ihl = (ip[0] & 0xf) * 4u;
  if (ip[9] != 17 || n < 14 + ihl + 8) return s;
  const std::uint8_t* u = ip + ihl;
  s.dport = std::uint16_t(u[2] << 8 | u[3]);
  const std::size_t ulen = std::size_t(u[4] << 8 | u[5]);
  if (ulen < 8 || 14 + ihl + ulen > n) return s;
  s.payload.assign(reinterpret_cast<const char*>(u + 8), ulen - 8);
  s.ok = true;
  return s;
}

inline std::string payload_for(int i) {
  // Sizes vary (1..~600 B) so a length mix-up shows; the bytes name the datagram.
  std::string p = "ringlab datagram " + std::to_string(i) + ":";
  p.append(static_cast<std::size_t>((i * 37) % 600), static_cast<char>('a' + i % 26));
  return p;
}

}  // namespace ringlab::test_veth
