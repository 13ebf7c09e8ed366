#pragma once
// The multicast application, written once over a socket type: the same code runs over kernel sockets
// (asio::ip::udp::socket, epoll or io_uring) and, in later issues, over the bypass socket types that
// keep asio::ip::udp::socket's initiating functions and completion signatures.
//
// Socket needs: executor_type, endpoint_type, get_executor(),
//   async_send_to(ConstBuffer, endpoint, void(error_code, size_t))
//   async_receive_from(MutableBuffer, endpoint&, void(error_code, size_t))
//
// Only templates here: this header is compiled in the epoll and the io_uring builds, where `asio`
// names different namespaces, so a non-template inline function naming Asio would break the ODR.
#include <asio/bind_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/strand.hpp>
#include <cstddef>
#include <cstring>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "tools/mcast/datagram.hpp"
#include "tools/mcast/endpoints.hpp"
#include "tools/mcast/sequence_tracker.hpp"

namespace ringlab::mcast {

// The seed's asynchronous send: async_send() posts to a strand and returns; on the strand the
// datagram joins a queue, and one async_send_to at a time drains it in order (a second send is
// started from the first one's completion). The strand makes it safe with any number of loop threads.
template <class Socket>
class sender {
 public:
  using endpoint_type = typename Socket::endpoint_type;

  sender(Socket& socket, endpoint_type destination)
      : socket_(socket), dest_(std::move(destination)), strand_(asio::make_strand(socket.get_executor())) {}

  void async_send(std::string payload) {
    asio::post(strand_, [this, p = std::move(payload)]() mutable {
      std::vector<std::byte> d(header_size + p.size());
      write_header(std::span<std::byte, header_size>(d.data(), header_size), {.seq = next_seq_++});
      std::memcpy(d.data() + header_size, p.data(), p.size());
      queue_.push_back(std::move(d));
      ++stats_.queued;
      if (!sending_) send_front();
    });
  }

  void async_finish(std::function<void()> done) {
    asio::post(strand_, [this, done = std::move(done)]() mutable {
      done_ = std::move(done);
      if (!sending_) finish();
    });
  }

  const send_stats& stats() const noexcept { return stats_; }

 private:
  void send_front() {
    sending_ = true;
    auto& d = queue_.front();
    write_send_ns(std::span<std::byte, header_size>(d.data(), header_size), realtime_ns());
    socket_.async_send_to(asio::buffer(d), dest_,
                          asio::bind_executor(strand_, [this](const auto& ec, std::size_t n) {
                            if (ec) {
                              ++stats_.errors;
                              stats_.last_error = ec.message();
                            } else {
                              ++stats_.sent;
                              stats_.bytes += n;
                              stats_.payload_bytes += n - header_size;
                            }
                            queue_.pop_front();
                            if (!queue_.empty()) return send_front();
                            sending_ = false;
                            if (done_) finish();
                          }));
  }
  void finish() {
    auto d = std::move(done_);
    done_ = nullptr;
    d();
  }

  Socket& socket_;
  endpoint_type dest_;
  asio::strand<typename Socket::executor_type> strand_;
  // On the strand only: the queue (unbounded: a lab tool reads its input as fast as it likes),
  // whether a send is in flight, the next number, the finish callback, the counters.
  std::deque<std::vector<std::byte>> queue_;
  bool sending_ = false;
  std::uint64_t next_seq_ = 0;
  std::function<void()> done_;
  send_stats stats_;
};

// One receive in flight at a time, restarted from its own completion: handlers never overlap, so no
// strand is needed even with several loop threads.
template <class Socket>
class receiver {
 public:
  using endpoint_type = typename Socket::endpoint_type;

  receiver(Socket& socket, sequence_tracker tracker) : socket_(socket), tracker_(std::move(tracker)) {}

  void start(std::function<bool(const message&)> on_message, std::function<void(std::string_view)> on_error) {
    on_message_ = std::move(on_message);
    on_error_ = std::move(on_error);
    asio::post(socket_.get_executor(), [this] { receive_next(); });
  }

  receive_stats stats() const {
    receive_stats s = stats_;
    s.seq = tracker_.stats();
    return s;
  }

 private:
  void receive_next() {
    socket_.async_receive_from(asio::buffer(buf_), from_, [this](const auto& ec, std::size_t n) {
      if (ec) {
        if (ec == asio::error::operation_aborted) return;
        ++stats_.errors;
        stats_.last_error = ec.message();
        if (on_error_) on_error_(stats_.last_error);
        return;   // a receive error on a UDP socket is not transient: stop here, counted
      }
      const auto d = parse_datagram(std::span<const std::byte>(buf_.data(), n));
      if (d.error != datagram_error::none) {
        ++stats_.malformed[static_cast<std::size_t>(d.error)];
        return receive_next();
      }
      stats_.bytes += n;
      message m{.header = d.header, .recv_ns = realtime_ns(), .verdict = tracker_.on_seq(d.header.seq),
                .payload = {reinterpret_cast<const char*>(d.payload.data()), d.payload.size()}};
      if (on_message_(m)) receive_next();
    });
  }

  Socket& socket_;
  sequence_tracker tracker_;
  std::function<bool(const message&)> on_message_;
  std::function<void(std::string_view)> on_error_;
  std::vector<std::byte> buf_ = std::vector<std::byte>(65536);
  endpoint_type from_;
  receive_stats stats_;
};

}  // namespace ringlab::mcast
