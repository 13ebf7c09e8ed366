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

class rx final : public udp_rx {
 public:
  explicit rx(const rx_where& w)
      : socket_(ctx_, asio::ip::udp::endpoint(asio::ip::make_address_v4(w.address), w.port)), timer_(ctx_) {
    deep_receive_buffer(socket_.native_handle());
  }
  std::uint16_t port() const override { return socket_.local_endpoint().port(); }

  rx_result receive(std::uint64_t n) override { return run(n, nullptr, {}); }

  rx_result receive_until(std::uint64_t n, const std::atomic<bool>& source_done,
                          std::chrono::milliseconds quiet) override {
    return run(n, &source_done, quiet);
  }

 private:
  // One receive: the chain of async_receive, and either the 5 s timer (receive) or the quiet tick.
  rx_result run(std::uint64_t n, const std::atomic<bool>* source_done, std::chrono::milliseconds quiet) {
    result_ = {};
    want_ = n;
    source_done_ = source_done;
    quiet_ = quiet;
    seen_ = 0;
    quiet_since_ = std::chrono::steady_clock::now();
    const auto cpu0 = thread_cpu_ns();
    ctx_.restart();
    if (source_done_) arm_tick();
    else arm_timer();
    arm();
    ctx_.run();
    result_.cpu_ns = thread_cpu_ns() - cpu0;
    source_done_ = nullptr;
    return result_;
  }

  void arm() {
    socket_.async_receive(asio::buffer(buf_), [this](const asio::error_code& ec, std::size_t len) {
      if (ec) {
        if (!source_done_) result_.timed_out = true;   // receive_until's tick says why it cancelled
        return;
      }
      ++result_.packets;
      result_.bytes += len;
      if (source_done_ && ((result_.packets & 63) == 0 || result_.packets == want_))
        result_.last_packet = std::chrono::steady_clock::now();
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

  // receive_until: stop once the source is done and the socket stayed quiet (or 5 s without traffic).
  void arm_tick() {
    timer_.expires_after(quiet_ / 2);
    timer_.async_wait([this](const asio::error_code& ec) {
      if (ec) return;
      const auto now = std::chrono::steady_clock::now();
      if (result_.packets != seen_) {
        seen_ = result_.packets;
        quiet_since_ = now;
      } else if (now - quiet_since_ >= std::chrono::seconds(5)) {
        result_.timed_out = true;
        return socket_.cancel();
      } else if (source_done_->load(std::memory_order_acquire) &&   // A1 acquire: pairs with the source's release
                 now - quiet_since_ >= quiet_) {
        return socket_.cancel();
      }
      arm_tick();
    });
  }

  asio::io_context ctx_{1};   // one thread: Asio may skip its locks
  asio::ip::udp::socket socket_;
  asio::steady_timer timer_;
  std::vector<unsigned char> buf_ = std::vector<unsigned char>(65536);
  rx_result result_;
  std::uint64_t want_ = 0;
  const std::atomic<bool>* source_done_ = nullptr;   // set during receive_until only
  std::chrono::milliseconds quiet_{50};
  std::uint64_t seen_ = 0;                            // packets at the last tick
  std::chrono::steady_clock::time_point quiet_since_;
};

}  // namespace

std::unique_ptr<udp_rx> make_udp_rx(const rx_where& where) { return std::make_unique<rx>(where); }

}  // namespace ringlab::bench::RINGLAB_KERNEL_IO
