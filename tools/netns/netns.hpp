#pragma once
// Network namespaces, veth pairs between them, and programs run inside them: the ONE fixture the lab
// uses wherever it needs the real Linux kernel as a peer (tests/netns/*, bench/veth_rx, and
// `ringlab trace` at run time through tools/trace_packet_flow/netns_pair). Everything made here is
// removed by a destructor, so an ASSERT that leaves a test early still cleans up; names carry the pid
// so parallel processes never collide (interface names <= 15 chars), and reap_stale() deletes what a
// crashed process of ours left behind.
//
//   RINGLAB_REQUIRE(netlab::netns_unavailable());        // tests/support/preconditions.hpp: skip
//                                                        // with the reason ("" when root and `ip netns` work)
//   netlab::netns a("rla"), b("rlb");                     // "rla<pid>", "rlb<pid>"
//   netlab::veth_pair link(a, "10.200.0.1/24", b, "10.200.0.2/24");
//   auto r = a.exec({"ping", "-c1", "10.200.0.2"});       // exit code, stdout, stderr
//   auto p = b.spawn({"ringlab", "mcast-recv", ...});     // p.wait_for(5s); p.out();
//   netlab::enter in(a);                                  // this THREAD is in ns a until `in` ends
//   int fd = netlab::socket_in(b, AF_INET, SOCK_DGRAM);   // a socket stays in the ns it was made in
#include <sys/types.h>

#include <time.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tools/netns/preconditions.hpp"   // netns_unavailable() and the other probes

namespace ringlab::netlab {

struct command_result {
  int exit_code = -1;          // the exit status, or 128 + signal number when a signal ended it
  std::string out, err;        // err is empty when the run merged it into out
};

enum class output { separate, merged };   // merged: stderr goes to the same file as stdout, in order

// Runs argv (PATH is searched) and waits; stdout and stderr are captured. A program that cannot be
// started gives exit code 127 and says why in err.
command_result run(const std::vector<std::string>& argv, output o = output::separate);

// "PREFIX<pid>[x<n>]": unique in this machine while this process lives, at most 15 characters.
std::string unique_name(std::string_view prefix);

// Deletes the namespaces named "PREFIX<pid>..." whose pid no longer runs (a process that crashed
// before its destructors ran). Returns how many it deleted.
int reap_stale(std::string_view prefix);

// Thrown when a set-up command fails; the text names the command and its stderr.
struct setup_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A process started in the background; its output goes to files read by out()/err(). The child gets
// an empty signal mask and SIGKILL when this process dies.
class background_process {
 public:
  explicit background_process(const std::vector<std::string>& argv, output o = output::separate);
  background_process(background_process&& o) noexcept;
  background_process& operator=(background_process&&) = delete;
  ~background_process();   // SIGKILL if still running, reaps it, removes the output files

  pid_t pid() const noexcept { return pid_; }
  bool running();
  void signal(int signo);
  // Waits up to timeout for the exit; its code as in command_result, nullopt if still running.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  int kill_and_wait();     // SIGKILL, then the exit code
  std::string out() const;
  std::string err() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string out_path_, err_path_;
};

// For a program with its own signal-safe clean-up list (trace_packet_flow/cleanup.hpp): called with
// the name before `ip netns add` (so a signal during set-up still finds it) and after `ip netns del`.
struct netns_hooks {
  void (*before_add)(const char* name) = nullptr;
  void (*after_del)(const char* name) = nullptr;
};

// A network namespace with its loopback up; deleted by the destructor (which also deletes every
// interface inside it, veth ends included).
class netns {
 public:
  explicit netns(std::string_view prefix);                    // named unique_name(prefix)
  struct exact_name {
    std::string name;
    netns_hooks hooks;
  };
  explicit netns(exact_name e);                               // named e.name as given
  netns(const netns&) = delete;
  netns& operator=(const netns&) = delete;
  ~netns();

  const std::string& name() const noexcept { return name_; }
  // argv inside the namespace (`ip netns exec NAME argv...`).
  command_result exec(const std::vector<std::string>& argv, output o = output::separate) const;
  background_process spawn(const std::vector<std::string>& argv) const;
  std::vector<std::string> wrap(const std::vector<std::string>& argv) const;
  // net.ipv6 off for every interface (all and default): no MLD/ND chatter on a quiet wire.
  void disable_ipv6() const;
  // An interface's MAC address as the kernel prints it ("aa:bb:cc:dd:ee:ff").
  std::string mac(const std::string& ifname) const;

 private:
  void create();
  std::string name_;
  netns_hooks hooks_;
};

// Moves the CALLING THREAD into a namespace (setns on /proc/thread-self); the destructor moves it back.
// Sockets, AF_XDP ports and DPDK vdevs opened meanwhile belong to that namespace for good.
class enter {
 public:
  explicit enter(const netns& ns) : enter(ns.name()) {}
  explicit enter(const std::string& name);
  ~enter();
  enter(const enter&) = delete;
  enter& operator=(const enter&) = delete;
  bool ok() const noexcept { return ok_; }

 private:
  int orig_ = -1;
  bool ok_ = false;
};

// A socket made inside ns (the calling thread enters and comes back); -1 with errno on failure.
int socket_in(const std::string& ns, int domain, int type, int protocol = 0);
inline int socket_in(const netns& ns, int domain, int type, int protocol = 0) {
  return socket_in(ns.name(), domain, type, protocol);
}

struct veth_options {
  std::string a_name, b_name;   // empty: unique_name("va") / unique_name("vb")
  int mtu = 0;                  // 0: the kernel's default (1500)
  int queues = 0;               // > 0: numrxqueues and numtxqueues of both ends (multi-queue veth)
};

// A veth pair with one end in each namespace, both ends up. An address "10.x.y.z/len" is added to an
// end unless its cidr is empty. Deleted by the destructor (deleting either end deletes both).
class veth_pair {
 public:
  veth_pair(const netns& a, std::string a_cidr, const netns& b, std::string b_cidr, veth_options o = {});
  veth_pair(const veth_pair&) = delete;
  veth_pair& operator=(const veth_pair&) = delete;
  ~veth_pair();

  const std::string& a_name() const noexcept { return a_if_; }
  const std::string& b_name() const noexcept { return b_if_; }
  std::string a_addr() const;   // without the /len ("" when none)
  std::string b_addr() const;
  std::string a_mac() const { return a_.mac(a_if_); }
  std::string b_mac() const { return b_.mac(b_if_); }
  // Permanent neighbour entries both ways (needs both addresses): no ARP between the datagrams.
  void static_neighbours() const;

 private:
  const netns& a_;
  const netns& b_;
  std::string a_if_, b_if_, a_cidr_, b_cidr_;
};

// "aa:bb:cc:dd:ee:ff" (trailing whitespace allowed) as 6 bytes; nullopt when it is not a MAC.
std::optional<std::array<std::uint8_t, 6>> parse_mac(std::string_view text);

// Polls pred every 20 ms until it holds or timeout passes; returns its last value.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    struct timespec ts{0, 20'000'000};
    nanosleep(&ts, nullptr);
  }
}

// /proc/net/igmp shows a group as the hex of its address's bytes read as a little-endian u32:
// 239.1.2.3 -> "030201EF".
std::string igmp_hex(std::string_view dotted);

}  // namespace ringlab::netlab
