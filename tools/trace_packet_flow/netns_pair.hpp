#pragma once
// Two network namespaces joined by a veth pair, made and removed by the tool itself, put together from
// the lab's one fixture (tools/netns/netns.hpp) with this tool's signal-safe clean-up list
// (cleanup.hpp) as its hooks, so SIGINT/SIGTERM during a run still delete them. Names carry the pid: namespaces "rlt<pid>a"/"rlt<pid>b", interfaces "rlt<pid>a"/"rlt<pid>b"
// (at most 15 characters), addresses 10.<x>.<y>.1/30 and .2 from the pid. Static neighbour entries
// and IPv6 turned off keep the trace quiet: no ARP, no MLD/ND between the datagrams.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tools/netns/netns.hpp"

namespace ringlab::trace_flow {

// Runs argv (no shell); returns the exit status, stderr+stdout into *output when given (netlab::run).
int run_command(const std::vector<std::string>& argv, std::string* output = nullptr);

class netns_pair {
 public:
  // Throws std::runtime_error naming the failing `ip` command.
  explicit netns_pair(const std::string& tag = "");
  ~netns_pair();
  netns_pair(const netns_pair&) = delete;
  netns_pair& operator=(const netns_pair&) = delete;

  const std::string& ns_a() const noexcept { return a_->name(); }
  const std::string& ns_b() const noexcept { return b_->name(); }
  const std::string& dev_a() const noexcept { return link_->a_name(); }
  const std::string& dev_b() const noexcept { return link_->b_name(); }
  std::uint32_t ip_a() const noexcept { return ip_[0]; }   // host order
  std::uint32_t ip_b() const noexcept { return ip_[1]; }

  // Runs `ip netns exec NS argv...`.
  int exec_in(const std::string& ns, const std::vector<std::string>& argv, std::string* output = nullptr) const;
  // Creates a socket inside NS (the calling thread enters it and comes back); -1 with errno on failure.
  static int socket_in(const std::string& ns, int domain, int type, int protocol);

 private:
  std::uint32_t ip_[2] = {0, 0};
  std::optional<netlab::netns> a_, b_;
  std::optional<netlab::veth_pair> link_;
};

}  // namespace ringlab::trace_flow
