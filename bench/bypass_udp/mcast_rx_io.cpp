// Compiled once per io mode (bench/bypass_udp/CMakeLists.txt): the same mcast::receiver template as the
// bypass row of bypass_udp_bench.cpp, on asio::ip::udp::socket (epoll or io_uring).
#include "asio_bypass/kernel_io_mode.hpp"

#include <sys/socket.h>
#include <time.h>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>

#include "bench/bypass_udp/mcast_rx.hpp"
#include "tools/mcast/app.hpp"

namespace ringlab::bench::RINGLAB_KERNEL_IO {
namespace {

class mcast_rx final : public udp_rx {
 public:
  mcast_rx() : socket_(ctx_, asio::ip::udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0)), timer_(ctx_) {
    deep_receive_buffer(socket_.native_handle());
    // The sender starts before us: number from the first datagram seen.
    app_.start([this](const mcast::message& m) {
      ++result_.packets;
      result_.bytes += m.payload.size() + mcast::header_size;
      if (result_.packets == want_) ctx_.stop();   // the next receive stays pending for the next call
      return true;
    }, [this](std::string_view) { result_.timed_out = true, ctx_.stop(); });
  }
  std::uint16_t port() const override { return socket_.local_endpoint().port(); }

  rx_result receive(std::uint64_t n) override {
    result_ = {};
    want_ = n;
    const auto cpu0 = thread_cpu_ns();
    timer_.expires_after(std::chrono::seconds(5));
    timer_.async_wait([this](const asio::error_code& ec) {
      if (!ec) result_.timed_out = true, ctx_.stop();
    });
    ctx_.restart();
    ctx_.run();
    result_.cpu_ns = thread_cpu_ns() - cpu0;
    return result_;
  }

 private:
  asio::io_context ctx_{1};
  asio::ip::udp::socket socket_;
  asio::steady_timer timer_;
  mcast::receiver<asio::ip::udp::socket> app_{socket_, mcast::sequence_tracker::from_first_received()};
  rx_result result_;
  std::uint64_t want_ = 0;
};

}  // namespace

std::unique_ptr<udp_rx> make_mcast_rx() { return std::make_unique<mcast_rx>(); }

}  // namespace ringlab::bench::RINGLAB_KERNEL_IO
