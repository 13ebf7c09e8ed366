#pragma once
// The receiver application (mcast::receiver, tools/mcast/app.hpp) on a kernel UDP socket bound to
// 127.0.0.1, behind bench/kernel_udp's Asio-free udp_rx interface; mcast_rx_io.cpp is compiled once
// per io mode. The datagrams must carry mcast headers (mcast::write_header), else they are counted as
// malformed and not received.
#include <memory>

#include "bench/kernel_udp/udp_rx.hpp"
#include "tools/mcast/sequence_tracker.hpp"

namespace ringlab::bench {

// What the tracker said of one datagram, in the result both sides report (rx_result::in_order,
// repeated): the bypass rows must show every number fresh, the kernel rows at most gaps.
inline void count_verdict(rx_result& r, mcast::sequence_tracker::verdict v) noexcept {
  using verdict = mcast::sequence_tracker::verdict;
  r.in_order += v == verdict::in_order;
  r.repeated += v == verdict::duplicate || v == verdict::stale;
}
namespace epoll { std::unique_ptr<udp_rx> make_mcast_rx(); }
namespace uring { std::unique_ptr<udp_rx> make_mcast_rx(); }
}  // namespace ringlab::bench
