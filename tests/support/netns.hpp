#pragma once
// Test helpers for real kernel peers: network namespaces, veth pairs, and programs run inside them.
// Everything made here is removed by a destructor, so an ASSERT that leaves a test early still cleans
// up; names carry the pid so parallel test processes never collide (interface names <= 15 chars).
//
//   auto why = ringlab::test::netns_unavailable();   // "" when root and `ip netns` work
//   if (!why.empty()) GTEST_SKIP() << why;
//   ringlab::test::netns a("a"), b("b");              // "rla<pid>", "rlb<pid>"
//   ringlab::test::veth_pair link(a, "10.200.0.1/24", b, "10.200.0.2/24");
//   auto r = a.exec({"ping", "-c1", "10.200.0.2"});   // exit code, stdout, stderr
//   auto p = b.spawn({"ringlab", "mcast-recv", ...}); p.wait_for(5s); p.out();
#include <sys/types.h>

#include <time.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ringlab::test {

struct command_result {
  int exit_code = -1;          // the exit status, or 128 + signal number when a signal ended it
  std::string out, err;
};

// Runs argv (PATH is searched) and waits; stdout and stderr are captured. A program that cannot be
// started gives exit code 127 and says why in err.
command_result run(const std::vector<std::string>& argv);

// "" when this process can make network namespaces (root, `ip netns add` works), else the reason:
// the text for GTEST_SKIP().
std::string netns_unavailable();

// "PREFIX<pid>[<n>]": unique in this machine while this process lives, at most 15 characters.
std::string unique_name(std::string_view prefix);

// A process started in the background; its output goes to files read by out()/err().
class background_process {
 public:
  background_process(const std::vector<std::string>& argv);
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

// A network namespace named unique_name(prefix), with its loopback up; deleted by the destructor
// (which also deletes every interface inside it, veth ends included).
class netns {
 public:
  explicit netns(std::string_view prefix);
  netns(const netns&) = delete;
  netns& operator=(const netns&) = delete;
  ~netns();

  const std::string& name() const noexcept { return name_; }
  // argv inside the namespace (`ip netns exec NAME argv...`).
  command_result exec(const std::vector<std::string>& argv) const;
  background_process spawn(const std::vector<std::string>& argv) const;
  std::vector<std::string> wrap(const std::vector<std::string>& argv) const;

 private:
  std::string name_;
};

// A veth pair with one end in each namespace, addresses given as "10.x.y.z/len", both ends up.
// Names: unique_name("va") and unique_name("vb") unless given. Deleted by the destructor.
class veth_pair {
 public:
  veth_pair(const netns& a, std::string a_cidr, const netns& b, std::string b_cidr);
  veth_pair(const veth_pair&) = delete;
  veth_pair& operator=(const veth_pair&) = delete;
  ~veth_pair();

  const std::string& a_name() const noexcept { return a_if_; }
  const std::string& b_name() const noexcept { return b_if_; }
  std::string a_addr() const;   // without the /len
  std::string b_addr() const;

 private:
  const netns& a_;
  std::string a_if_, b_if_, a_cidr_, b_cidr_;
};

// Thrown when a set-up command fails; the text names the command and its stderr.
struct setup_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

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

}  // namespace ringlab::test
