#pragma once
// Driving a stack::interface over a real port from a test: poll with the real clock until a condition
// holds or a timeout passes, and collect what a UDP socket received, in order.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "stack/iface/interface.hpp"
#include "stack/socket/udp_socket.hpp"
#include "tests/netns/interop/interop_link.hpp"

namespace ringlab::test_interop {

// Polls `ifc` (CLOCK_MONOTONIC ns) until pred() holds or `timeout` passes; sleeps 50 us when a poll
// left nothing waiting (a full burst polls again at once). Returns pred()'s last value.
template <class Pred>
bool pump(stack::interface& ifc, Pred pred, std::chrono::milliseconds timeout) {
  const stack::time_ns end = monotonic_ns() + static_cast<stack::time_ns>(timeout.count()) * stack::ms;
  for (;;) {
    const stack::time_ns now = monotonic_ns();
    const stack::time_ns next = ifc.poll(now);
    if (pred()) return true;
    if (now >= end) return false;
    if (next > now) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

struct datagram_seen {
  std::string payload;
  stack::endpoint source;
  wire::ipv4_addr destination;
};

// Takes every datagram the socket has queued (zero copy: the frame goes back when `f` ends).
inline void drain(stack::udp_socket& s, std::vector<datagram_seen>& out) {
  std::error_code ec;
  while (auto f = s.try_receive_frame(ec)) {
    const auto p = f.payload();
    out.push_back({std::string(reinterpret_cast<const char*>(p.data()), p.size()), f.source(), f.destination()});
  }
}

inline std::span<const std::byte> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// The lines a `mcast_peer recv` printed after "joined": "SRC_IP:SRC_PORT HEX".
inline std::vector<std::string> received_lines(const std::string& out) {
  std::vector<std::string> v;
  std::size_t pos = 0;
  while (pos < out.size()) {
    const std::size_t eol = out.find('\n', pos);
    const std::string line = out.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    pos = eol == std::string::npos ? out.size() : eol + 1;
    if (!line.empty() && line != "joined") v.push_back(line);
  }
  return v;
}

}  // namespace ringlab::test_interop
