#include "tools/trace_packet_flow/netns_pair.hpp"

#include <unistd.h>

#include "tools/trace_packet_flow/cleanup.hpp"
#include "tools/trace_packet_flow/packet_filter.hpp"

namespace ringlab::trace_flow {

int run_command(const std::vector<std::string>& argv, std::string* output) {
  auto r = netlab::run(argv, netlab::output::merged);
  if (output) *output = std::move(r.out);
  return r.exit_code;
}

netns_pair::netns_pair(const std::string& tag) {
  cleanup::defer_signals hold;   // a signal during setup is handled once both namespaces are registered
  const std::string id = tag.empty() ? std::to_string(::getpid()) : tag;
  const unsigned p = static_cast<unsigned>(::getpid());
  const std::uint32_t net = (10u << 24) | ((200u + p % 50u) << 16) | ((p / 50u % 64u) << 8);
  ip_[0] = net | 1u;
  ip_[1] = net | 2u;
  // cleanup::add_netns runs before `ip netns add`, remove_netns after `ip netns del` (also on failure).
  const netlab::netns_hooks hooks{cleanup::add_netns, cleanup::remove_netns};
  // Members made so far are deleted again if a later step throws (netlab::setup_error, a runtime_error).
  a_.emplace(netlab::netns::exact_name{"rlt" + id + "a", hooks});
  b_.emplace(netlab::netns::exact_name{"rlt" + id + "b", hooks});
  a_->disable_ipv6();
  b_->disable_ipv6();
  link_.emplace(*a_, ipv4_to_string(ip_[0]) + "/30", *b_, ipv4_to_string(ip_[1]) + "/30",
                netlab::veth_options{.a_name = a_->name().substr(0, 15), .b_name = b_->name().substr(0, 15)});
  link_->static_neighbours();   // the datagrams' routes are not interleaved with ARP
}

netns_pair::~netns_pair() = default;   // link, then b, then a: `ip netns del` and cleanup::remove_netns

int netns_pair::exec_in(const std::string& ns, const std::vector<std::string>& argv, std::string* output) const {
  std::vector<std::string> a{"ip", "netns", "exec", ns};
  a.insert(a.end(), argv.begin(), argv.end());
  return run_command(a, output);
}

int netns_pair::socket_in(const std::string& ns, int domain, int type, int protocol) {
  return netlab::socket_in(ns, domain, type, protocol);
}

}  // namespace ringlab::trace_flow
