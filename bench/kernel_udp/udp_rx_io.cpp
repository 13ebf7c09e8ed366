// Compiled once per io mode (bench/kernel_udp/CMakeLists.txt).
#include "asio_bypass/kernel_io_mode.hpp"

#include <sys/socket.h>
#include <time.h>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <vector>

#include "bench/kernel_udp/udp_rx.hpp"

namespace ringlab::bench::RINGLAB_KERNEL_IO {
namespace {

std::uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

class rx final : public udp_rx {
 public:
  rx() : socket_(ctx_, asio::ip::udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0)), timer_(ctx_) {
    // A deep socket queue so that a scheduling hiccup of the receiver drops less; FORCE needs root.
    int bytes = 8 << 20;
    if (::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
      ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }
  std::uint16_t port() const override { return socket_.local_endpoint().port(); }

  rx_result receive(std::uint64_t n) override {
    result_ = {};
    want_ = n;
    const auto cpu0 = thread_cpu_ns();
    ctx_.restart();
    arm_timer();
    arm();
    ctx_.run();
    result_.cpu_ns = thread_cpu_ns() - cpu0;
    return result_;
  }

 private:
  void arm() {
    socket_.async_receive(asio::buffer(buf_), [this](const asio::error_code& ec, std::size_t len) {
      if (ec) {
        result_.timed_out = true;
        return;
      }
      ++result_.packets;
      result_.bytes += len;
      if (result_.packets < want_) return arm();
      timer_.cancel();
    });
  }
  void arm_timer() {
    timer_.expires_after(std::chrono::seconds(5));
    timer_.async_wait([this](const asio::error_code& ec) {
      if (!ec) socket_.cancel();
    });
  }

  asio::io_context ctx_{1};   // one thread: Asio may skip its locks
  asio::ip::udp::socket socket_;
  asio::steady_timer timer_;
  std::vector<unsigned char> buf_ = std::vector<unsigned char>(65536);
  rx_result result_;
  std::uint64_t want_ = 0;
};

}  // namespace

std::unique_ptr<udp_rx> make_udp_rx() { return std::make_unique<rx>(); }

}  // namespace ringlab::bench::RINGLAB_KERNEL_IO
