// The multicast endpoints over kernel UDP sockets, compiled once per io mode (tools/mcast/CMakeLists.txt):
// app.hpp's sender and receiver instantiated over this build's asio::ip::udp::socket.
#include "asio_bypass/kernel_io_mode.hpp"

#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <asio/ip/multicast.hpp>
#include <asio/ip/udp.hpp>
#include <cerrno>
#include <system_error>

#include "asio_bypass/kernel_context.hpp"
#include "tools/mcast/app.hpp"
#include "tools/mcast/kernel_endpoints_io.hpp"

namespace ringlab::mcast::kernel::RINGLAB_KERNEL_IO {
namespace {

using udp = asio::ip::udp;

[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

void set_raw(udp::socket& s, int level, int name, const void* v, socklen_t len, const std::string& what) {
  if (::setsockopt(s.native_handle(), level, name, v, len) != 0) fail(errno, what);
}

class kernel_sender final : public line_sender {
 public:
  kernel_sender(asio::io_context& ctx, const send_options& o)
      : socket_(ctx, udp::v4()),
        app_(socket_, udp::endpoint(asio::ip::address_v4(o.group), o.port)) {
    socket_.set_option(asio::ip::multicast::hops(static_cast<int>(o.ttl)));
    socket_.set_option(asio::ip::multicast::enable_loopback(o.loopback));
    if (o.ifindex != 0) {
      // By index, not address: the interface may have no IPv4 address, or several.
      ip_mreqn m{};
      m.imr_ifindex = static_cast<int>(o.ifindex);
      set_raw(socket_, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m,
              "IP_MULTICAST_IF ifindex " + std::to_string(o.ifindex));
    }
  }
  void async_send(std::string payload) override { app_.async_send(std::move(payload)); }
  void async_finish(std::function<void()> done) override { app_.async_finish(std::move(done)); }
  send_stats stats() const override { return app_.stats(); }

 private:
  udp::socket socket_;
  sender<udp::socket> app_;
};

class kernel_receiver final : public group_receiver {
 public:
  kernel_receiver(asio::io_context& ctx, const recv_options& o)
      : socket_(ctx, udp::v4()),
        app_(socket_, o.late_join ? sequence_tracker::from_first_received() : sequence_tracker(0)) {
    socket_.set_option(udp::socket::reuse_address(true));   // several receivers of one group and port
    // Linux delivers a datagram for ANY group some socket on the host joined to every socket bound to
    // its port, unless IP_MULTICAST_ALL is off; binding to the group address keeps other groups out too.
    const int off = 0;
    set_raw(socket_, IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof off, "IP_MULTICAST_ALL");
    asio::error_code ec;
    socket_.bind(udp::endpoint(asio::ip::address_v4(o.group), o.port), ec);
    if (ec) fail(ec.value(), "bind " + ipv4_to_string(o.group) + ":" + std::to_string(o.port));
    ip_mreqn m{};
    m.imr_multiaddr.s_addr = htonl(o.group);
    m.imr_ifindex = static_cast<int>(o.ifindex);
    set_raw(socket_, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m,
            "join " + ipv4_to_string(o.group) + " (IP_ADD_MEMBERSHIP, ifindex " + std::to_string(o.ifindex) + ")");
  }
  void start(std::function<bool(const message&)> on_message, std::function<void(std::string_view)> on_error) override {
    app_.start(std::move(on_message), std::move(on_error));
  }
  receive_stats stats() const override { return app_.stats(); }

 private:
  udp::socket socket_;
  receiver<udp::socket> app_;
};

}  // namespace

std::unique_ptr<line_sender> make_sender(bypass::AsioService& svc, const send_options& o) {
  return std::make_unique<kernel_sender>(ringlab::kernel::RINGLAB_KERNEL_IO::context(svc), o);
}

std::unique_ptr<group_receiver> make_receiver(bypass::AsioService& svc, const recv_options& o) {
  return std::make_unique<kernel_receiver>(ringlab::kernel::RINGLAB_KERNEL_IO::context(svc), o);
}

}  // namespace ringlab::mcast::kernel::RINGLAB_KERNEL_IO
