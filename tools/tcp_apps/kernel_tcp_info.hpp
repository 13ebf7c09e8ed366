#pragma once
// A kernel TCP socket's TCP_INFO in the stack's tcp_info (so one printer, stack::to_ss, serves both).
// Its own translation unit: it reads Linux's <linux/tcp.h> struct, whose tail (bytes_acked,
// bytes_received, segs_in/out) glibc's <netinet/tcp.h> copy lacks, and the two headers cannot meet.
#include <optional>

#include "stack/socket/tcp_info.hpp"

namespace ringlab::tcp_apps {

// Everything but the addresses and queue lengths (the caller has the socket for those). nullopt when
// getsockopt fails (a closed descriptor).
std::optional<stack::tcp_info> kernel_tcp_info(int fd);

}  // namespace ringlab::tcp_apps
