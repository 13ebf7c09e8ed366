#pragma once
// Checks of the command line's values for mcast-send / mcast-recv. Each returns an empty string when
// the value is good, else one line naming the option and the value (the CLI turns it into exit 2).
#include <cstdint>
#include <string>
#include <string_view>

namespace ringlab::mcast {

std::string parse_group(std::string_view text, std::uint32_t& group_host_order);   // 224.0.0.0/4 only
std::string parse_iface(std::string_view name, unsigned& ifindex);                  // "" -> 0 (any)
std::string parse_on_off(std::string_view option, std::string_view text, bool& value);

}  // namespace ringlab::mcast

namespace ringlab::mcast {
// "kernel" runs; "sim", "afxdp", "dpdk" are accepted and fall back to kernel with one warning line
// (AsioService says it); anything else is an error.
std::string check_backend(std::string_view text);
std::string check_io(std::string_view text);   // epoll | uring
}  // namespace ringlab::mcast
