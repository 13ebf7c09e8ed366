#pragma once
// A minimal fixture for the backend netns tests: two network namespaces joined by one veth pair,
// created in the constructor and deleted in the destructor (deleting a namespace deletes its veth
// end), named with the pid so parallel test processes never meet. tests/support/netns (ringlab_test_netns)
// did not exist when these tests were written; when it lands, this header can give way to it.
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
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace ringlab::test_veth {

inline int run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

inline std::string run_out(const std::string& cmd) {
  std::string out;
  if (FILE* f = popen((cmd + " 2>&1").c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, f)) out += buf;
    pclose(f);
  }
  return out;
}

// Why this test cannot run here, or empty when it can.
inline std::string netns_skip_reason() {
  if (geteuid() != 0) return "needs root (network namespaces and veth pairs)";
  if (run("ip -V") != 0) return "needs iproute2 (ip)";
  return {};
}

struct veth_options {
  bool a_address = true;   // give if_a the kernel address 10.66.0.1/24 (the kernel answers ARP for it)
  int mtu = 1500;
};

class veth_pair {
 public:
  static constexpr const char* addr_a = "10.66.0.1";
  static constexpr const char* addr_b = "10.66.0.2";

  explicit veth_pair(const std::string& tag, veth_options o = {}) {
    reap_stale(tag);
    const std::string pid = std::to_string(getpid());
    ns_a = "rl" + tag + "a" + pid;
    ns_b = "rl" + tag + "b" + pid;
    if_a = ("rl" + tag + "a" + pid).substr(0, 15);
    if_b = ("rl" + tag + "b" + pid).substr(0, 15);
    orig_fd_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    const std::string m = std::to_string(o.mtu);
    const std::vector<std::string> steps = {
        "ip netns add " + ns_a,
        "ip netns add " + ns_b,
        "ip link add " + if_a + " netns " + ns_a + " mtu " + m + " type veth peer name " + if_b + " netns " + ns_b + " mtu " + m,
        "ip -n " + ns_a + " link set lo up",
        "ip -n " + ns_b + " link set lo up",
        "ip -n " + ns_b + " addr add " + addr_b + "/24 dev " + if_b,
        "ip -n " + ns_b + " link set " + if_b + " up",
        "ip -n " + ns_a + " link set " + if_a + " up",
    };
    for (const auto& s : steps)
      if (run(s) != 0) { error = "setup step failed: " + s; return; }
    if (o.a_address && run("ip -n " + ns_a + " addr add " + std::string(addr_a) + "/24 dev " + if_a) != 0) {
      error = "could not add the address on " + if_a;
      return;
    }
    ns_a_fd_ = ::open(("/run/netns/" + ns_a).c_str(), O_RDONLY | O_CLOEXEC);
    ns_b_fd_ = ::open(("/run/netns/" + ns_b).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns_a_fd_ < 0 || ns_b_fd_ < 0 || orig_fd_ < 0) error = "cannot open the namespace files";
  }

  ~veth_pair() {
    if (orig_fd_ >= 0) { setns(orig_fd_, CLONE_NEWNET); ::close(orig_fd_); }
    if (ns_a_fd_ >= 0) ::close(ns_a_fd_);
    if (ns_b_fd_ >= 0) ::close(ns_b_fd_);
    run("ip netns del " + ns_a);
    run("ip netns del " + ns_b);
  }
  veth_pair(const veth_pair&) = delete;
  veth_pair& operator=(const veth_pair&) = delete;

  bool ok() const { return error.empty(); }
  bool enter_a() { return setns(ns_a_fd_, CLONE_NEWNET) == 0; }
  bool leave() { return setns(orig_fd_, CLONE_NEWNET) == 0; }

  // A socket made inside ns b (the calling thread comes back to ns a afterwards, if it was there).
  int socket_in_b(int type) {
    const int back = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    setns(ns_b_fd_, CLONE_NEWNET);
    const int s = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
    setns(back, CLONE_NEWNET);
    ::close(back);
    return s;
  }

  std::array<std::uint8_t, 6> mac(bool side_a) {
    std::array<std::uint8_t, 6> m{};
    const int back = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    setns(side_a ? ns_a_fd_ : ns_b_fd_, CLONE_NEWNET);
    const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", (side_a ? if_a : if_b).c_str());
    if (ioctl(s, SIOCGIFHWADDR, &ifr) == 0) std::memcpy(m.data(), ifr.ifr_hwaddr.sa_data, 6);
    ::close(s);
    setns(back, CLONE_NEWNET);
    ::close(back);
    return m;
  }

  std::string ns_a, ns_b, if_a, if_b;
  std::string error;

 private:
  // A test process that crashed (no destructor) leaves its namespaces behind: delete ours (this tag,
  // "a"/"b", a pid that no longer runs) before making new ones.
  static void reap_stale(const std::string& tag) {
    const std::string prefix = "rl" + tag;
    std::string list = run_out("ip netns list");
    std::size_t pos = 0;
    while (pos < list.size()) {
      const std::size_t eol = list.find('\n', pos);
      std::string line = list.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
      pos = eol == std::string::npos ? list.size() : eol + 1;
      line = line.substr(0, line.find(' '));
      if (line.rfind(prefix, 0) != 0 || line.size() < prefix.size() + 2) continue;
      const char side = line[prefix.size()];
      const std::string pid = line.substr(prefix.size() + 1);
      if ((side != 'a' && side != 'b') || pid.find_first_not_of("0123456789") != std::string::npos) continue;
      if (::access(("/proc/" + pid).c_str(), F_OK) == 0) continue;   // its owner still runs
      run("ip netns del " + line);
    }
  }

  int orig_fd_ = -1, ns_a_fd_ = -1, ns_b_fd_ = -1;
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
