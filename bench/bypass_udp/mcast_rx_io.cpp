// Compiled once per io mode (bench/bypass_udp/CMakeLists.txt): the same mcast::receiver template as the
// bypass rows of bypass_udp_bench.cpp, on asio::ip::udp::socket (epoll or io_uring), with the same
// tracker (numbered from the first datagram received) and the same concurrency hint (one thread, no
// locks: ASIO_CONCURRENCY_HINT_UNSAFE).
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
      count_verdict(result_, m.verdict);
      if (result_.packets == want_) ctx_.stop();   // the next receive stays pending for the next call
      return true;
    }, [this](std::string_view) { result_.timed_out = true, ctx_.stop(); });
  }
  // The receiver keeps one receive in flight (re-armed before the handler stops the loop), and with
  // io_uring the kernel writes into its buffer whenever a datagram arrives: close the socket and run
  // the cancelled operation's handler here, while app_ and its buffer still exist (destroying app_
  // first let io_uring write into freed memory: the SIGSEGV of kernel_app/uring).
  ~mcast_rx() override {
    asio::error_code ec;
    timer_.cancel();
    socket_.close(ec);
    ctx_.restart();
    ctx_.run();
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
  asio::io_context ctx_{ASIO_CONCURRENCY_HINT_UNSAFE};   // as the bypass rows' (bypass::concurrency_hint)
  asio::ip::udp::socket socket_;
  asio::steady_timer timer_;
  mcast::receiver<asio::ip::udp::socket> app_{socket_, mcast::sequence_tracker::from_first_received()};
  rx_result result_;
  std::uint64_t want_ = 0;
};

}  // namespace

std::unique_ptr<udp_rx> make_mcast_rx() { return std::make_unique<mcast_rx>(); }

}  // namespace ringlab::bench::RINGLAB_KERNEL_IO
