#include "tools/mcast/options.hpp"

#include <net/if.h>

#include "stack/wire/ipv4_addr.hpp"

namespace ringlab::mcast {

std::string parse_group(std::string_view text, std::uint32_t& group) {
  const std::string s(text);
  const auto a = wire::ipv4_addr::parse(text);
  if (!a) return "--group: '" + s + "' is not an IPv4 address";
  if (!a->is_multicast()) return "--group: '" + s + "' is not an IPv4 multicast address (224.0.0.0/4)";
  group = a->value;
  return {};
}

std::string parse_iface(std::string_view name, unsigned& ifindex) {
  ifindex = 0;
  if (name.empty()) return {};
  const std::string s(name);
  if (s.size() >= IF_NAMESIZE) return "--iface: '" + s + "' is longer than an interface name can be";
  ifindex = if_nametoindex(s.c_str());
  if (ifindex == 0) return "--iface: no interface named '" + s + "' here (ip link lists them)";
  return {};
}

std::string parse_on_off(std::string_view option, std::string_view text, bool& value) {
  if (text == "on" || text == "1" || text == "yes") { value = true; return {}; }
  if (text == "off" || text == "0" || text == "no") { value = false; return {}; }
  return "--" + std::string(option) + ": '" + std::string(text) + "' is not on or off";
}

}  // namespace ringlab::mcast

namespace ringlab::mcast {

std::string check_backend(std::string_view text) {
  for (std::string_view b : {"kernel", "sim", "afxdp", "dpdk"})
    if (text == b) return {};
  return "--backend: unknown backend '" + std::string(text) + "' (kernel, sim, afxdp, dpdk)";
}

std::string check_io(std::string_view text) {
  if (text == "epoll" || text == "uring") return {};
  return "--io: '" + std::string(text) + "' is not epoll or uring";
}

}  // namespace ringlab::mcast
