#pragma once
// --stats: what `nstat -az` and `ss -ti` would show for the apps' TCP, printed by the stack's own
// printers (stack/socket/tcp_lane_counters.hpp's to_nstat, stack/socket/tcp_info.hpp's to_ss):
//   bypass: the lane's counters (nstat names) and each open connection's tcp_info;
//   kernel: each open connection's TCP_INFO (getsockopt, Linux's own numbers, through the same
//           printer); the lane counters are the kernel's: run `nstat -az` itself.
// Call on the lane's thread (the thread running the sockets' io_context): it reads the stack.
// Everything goes to the FILE given (the commands pass stderr: stdout stays the data's).
#include <sys/ioctl.h>
#include <linux/sockios.h>

#include <asio/basic_stream_socket.hpp>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asio_bypass/tcp_socket.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/tcp_info.hpp"
#include "stack/socket/tcp_lane_counters.hpp"
#include "tools/tcp_apps/kernel_tcp_info.hpp"

namespace ringlab::tcp_apps {

inline std::optional<stack::tcp_info> info_of(bypass::tcp::socket& s) {
  if (auto* n = s.native()) return n->info();
  return std::nullopt;
}

// Linux's TCP_INFO (kernel_tcp_info.cpp) plus the addresses and queues. A template: it names Asio.
template <class Protocol, class Executor>
std::optional<stack::tcp_info> info_of(asio::basic_stream_socket<Protocol, Executor>& s) {
  if (!s.is_open()) return std::nullopt;
  auto i = kernel_tcp_info(s.native_handle());
  if (!i) return std::nullopt;
  std::error_code ec;
  const auto l = s.local_endpoint(ec);
  const auto r = s.remote_endpoint(ec);
  i->local = bypass::tcp::to_stack(l);
  if (!ec) i->remote = bypass::tcp::to_stack(r);
  int q = 0;
  if (::ioctl(s.native_handle(), SIOCINQ, &q) == 0) i->recv_queue = static_cast<std::size_t>(q);
  if (::ioctl(s.native_handle(), SIOCOUTQ, &q) == 0) i->send_queue = static_cast<std::size_t>(q);
  return i;
}

// One --stats report: a title line, the lane's counters when there is a stack (iface; on kernel sockets
// a line saying where Linux's are), then each open connection of `app` (anything with
// for_each_socket(f)) as ss -ti's two lines, or a line saying there is none (at exit, usually: the
// kernel's TCP_INFO lives with its socket, so it prints in the blocks of --stats=S while they live).
template <class App>
void print_stats(std::FILE* out, std::string_view title, const stack::interface* iface, App& app) {
  std::fprintf(out, "%.*s\n", static_cast<int>(title.size()), title.data());
  if (iface) std::fputs(stack::to_nstat(iface->tcp_counters()).c_str(), out);
  else std::fputs("kernel backend: lane counters are the kernel's (nstat -az)\n", out);
  std::string conns;
  app.for_each_socket([&](auto& s) {
    if (auto i = info_of(s)) conns += stack::to_ss(*i) + "\n";
  });
  if (!conns.empty())
    std::fprintf(out, "State      Recv-Q Send-Q Local Address:Port Peer Address:Port\n%s", conns.c_str());
  else if (iface)
    std::fputs("no open connection\n", out);
  else
    std::fputs("no open connection (each one's TCP_INFO prints while it lives: --stats=SECONDS)\n", out);
  std::fflush(out);
}

// The lanes' counters added up, field by field (every nstat counter, TcpCurrEstab's gauge too: the
// whole host's). Take each lane's copy on its own thread, or after the lanes stopped.
inline stack::tcp_lane_counters sum(const std::vector<stack::tcp_lane_counters>& lanes) {
  stack::tcp_lane_counters all;
  for (const auto& c : lanes)
    for (const auto& n : stack::tcp_counter_names) all.*n.field += c.*n.field;
  return all;
}

// --stats of a server on N lanes (bypass::tcp_lanes): "lane q:" blocks as print_stats prints one lane
// (its counters, its connections), then "all lanes:" and the summed counters. iface_of(q) and
// app_of(q) give lane q's stack and app; read every lane on ITS thread, or when no lane thread runs
// (sim's one thread, or after join()).
template <class IfaceOf, class AppOf>
void print_lanes_stats(std::FILE* out, std::string_view title, std::size_t lanes, IfaceOf&& iface_of, AppOf&& app_of) {
  std::fprintf(out, "%.*s\n", static_cast<int>(title.size()), title.data());
  std::vector<stack::tcp_lane_counters> each;
  for (std::size_t q = 0; q < lanes; ++q) {
    const stack::interface& ifc = iface_of(q);
    each.push_back(ifc.tcp_counters());
    print_stats(out, "lane " + std::to_string(q) + ":", &ifc, app_of(q));
  }
  std::fputs("all lanes:\n", out);
  std::fputs(stack::to_nstat(sum(each)).c_str(), out);
  std::fflush(out);
}

}  // namespace ringlab::tcp_apps
