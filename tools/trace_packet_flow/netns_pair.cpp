#include "tools/trace_packet_flow/netns_pair.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

#include "tools/trace_packet_flow/cleanup.hpp"
#include "tools/trace_packet_flow/packet_filter.hpp"

namespace ringlab::trace_flow {

int run_command(const std::vector<std::string>& argv, std::string* output) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid < 0) { ::close(pipefd[0]); ::close(pipefd[1]); return -1; }
  if (pid == 0) {
    sigset_t none;   // the child does not inherit a defer_signals block
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    ::execvp(a[0], a.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(pipefd[0]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  if (output) *output = std::move(out);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void netns_pair::ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out;
  if (run_command(argv, &out) != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    throw std::runtime_error("'" + cmd + "' failed: " + out);
  }
}

netns_pair::netns_pair(const std::string& tag) {
  cleanup::defer_signals hold;   // a signal during setup is handled once both namespaces are registered
  const std::string id = tag.empty() ? std::to_string(::getpid()) : tag;
  ns_[0] = "rlt" + id + "a";
  ns_[1] = "rlt" + id + "b";
  dev_[0] = ns_[0].substr(0, 15);
  dev_[1] = ns_[1].substr(0, 15);
  const unsigned p = static_cast<unsigned>(::getpid());
  const std::uint32_t net = (10u << 24) | ((200u + p % 50u) << 16) | ((p / 50u % 64u) << 8);
  ip_[0] = net | 1u;
  ip_[1] = net | 2u;
  try {
    for (int i = 0; i < 2; ++i) {
      cleanup::add_netns(ns_[i].c_str());   // registered first: a signal during setup still cleans up
      ip({"netns", "add", ns_[i]});
      made_[i] = true;
    }
    ip({"link", "add", dev_[0], "netns", ns_[0], "type", "veth", "peer", "name", dev_[1], "netns", ns_[1]});
    for (int i = 0; i < 2; ++i) {
      exec_in(ns_[i], {"sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"});
      exec_in(ns_[i], {"sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"});
      ip({"-n", ns_[i], "addr", "add", ipv4_to_string(ip_[i]) + "/30", "dev", dev_[i]});
      ip({"-n", ns_[i], "link", "set", "lo", "up"});
      ip({"-n", ns_[i], "link", "set", dev_[i], "up"});
    }
    // Static neighbours: the datagrams' routes are not interleaved with ARP.
    std::string mac[2];
    for (int i = 0; i < 2; ++i) {
      std::string out;
      exec_in(ns_[i], {"cat", "/sys/class/net/" + dev_[i] + "/address"}, &out);
      while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
      mac[i] = out;
    }
    ip({"-n", ns_[0], "neigh", "replace", ipv4_to_string(ip_[1]), "lladdr", mac[1], "dev", dev_[0], "nud", "permanent"});
    ip({"-n", ns_[1], "neigh", "replace", ipv4_to_string(ip_[0]), "lladdr", mac[0], "dev", dev_[1], "nud", "permanent"});
  } catch (...) {
    for (int i = 0; i < 2; ++i) cleanup::remove_netns(ns_[i].c_str());
    throw;
  }
}

netns_pair::~netns_pair() {
  for (int i = 0; i < 2; ++i)
    if (made_[i]) {
      std::string out;
      if (run_command({"ip", "netns", "del", ns_[i]}, &out) == 0) cleanup::remove_netns(ns_[i].c_str());
      else cleanup::remove_netns(ns_[i].c_str());   // fall back to umount2 + unlink
    }
}

int netns_pair::exec_in(const std::string& ns, const std::vector<std::string>& argv, std::string* output) const {
  std::vector<std::string> a{"ip", "netns", "exec", ns};
  a.insert(a.end(), argv.begin(), argv.end());
  return run_command(a, output);
}

int netns_pair::socket_in(const std::string& ns, int domain, int type, int protocol) {
  const int self = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  const int target = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (self < 0 || target < 0) {
    const int e = errno;
    if (self >= 0) ::close(self);
    if (target >= 0) ::close(target);
    errno = e;
    return -1;
  }
  int fd = -1;
  if (::setns(target, CLONE_NEWNET) == 0) {
    fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
    const int e = errno;
    if (::setns(self, CLONE_NEWNET) != 0) std::abort();   // a thread stuck in the test namespace is worse
    errno = e;
  }
  ::close(self);
  ::close(target);
  return fd;
}

}  // namespace ringlab::trace_flow
