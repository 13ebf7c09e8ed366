#pragma once
// The TCP application of bench/tcp_app, written ONCE over the socket and acceptor types: the kernel rows
// instantiate it with asio::ip::tcp::socket / acceptor, the bypass rows with ringlab::bypass::tcp::socket
// / acceptor. Nothing in it knows which; the same bytes, the same operations, the same options:
//
//   echo_server   accepts (move-accept form), sets no_delay, then per connection: asio::async_read of
//                 exactly 64 B, asio::async_write of those 64 B back, again, until eof. close_after_reply:
//                 one request, one reply, then close() (the server closes first, as an HTTP/1.0
//                 server does: its TIME_WAIT sits on the server side, so the client's ports free at
//                 once and both stacks take a new SYN over a TIME_WAIT 4-tuple, RFC 6191 / Linux).
//                 bulk: async_read_some into 64 KiB until eof, counting bytes.
//   rr_client     one connection kept open; a transaction = async_write 64 B (a sequence number in
//                 the first 8 bytes) + async_read of exactly 64 B, compared with what was sent.
//   short_client  a connection per transaction: open, options, async_connect, async_write 64 B,
//                 async_read 64 B (compared), async_read_some until eof, close().
//   bulk_client   one connection; async_write of 64 KiB chunks, as many as asked.
//
// Options, set on every socket of every row: TCP_NODELAY (Nagle off), SO_SNDBUF and SO_RCVBUF both
// app_buffer (256 KiB, our stack's default; on the acceptor before bind, so accepted connections
// inherit them, as Linux and the bypass acceptor both do).
//
// Errors are counted, never thrown: a transaction whose reply differs, or any error code, ends the
// run with `failed` set and the first error's text, and the benchmark reports it (SkipWithError).
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/socket_base.hpp>
#include <asio/write.hpp>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <list>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace ringlab::bench::tcp_app {

inline constexpr std::size_t msg_size = 64;            // request and reply
inline constexpr std::size_t bulk_chunk = 64 * 1024;   // one async_write / async_read_some
inline constexpr int app_buffer = 256 * 1024;          // SO_SNDBUF = SO_RCVBUF on every socket

// What a run saw; the driver stops on `failed`.
struct app_status {
  bool failed = false;
  std::string error;
  void fail(const std::string& what, const std::error_code& ec = {}) {
    if (failed) return;
    failed = true;
    error = ec ? what + ": " + ec.message() : what;
  }
};

// The options every socket gets (a socket or an acceptor; before connect / bind).
template <class S>
void set_buffers(S& s, std::error_code& ec) {
  s.set_option(asio::socket_base::send_buffer_size(app_buffer), ec);
  if (!ec) s.set_option(asio::socket_base::receive_buffer_size(app_buffer), ec);
}

enum class server_mode { echo, close_after_reply, bulk };

template <class Acceptor, class Socket>
class echo_server {
 public:
  echo_server(asio::io_context& ctx, const asio::ip::tcp::endpoint& at, server_mode mode,
              app_status& status)
      : acc_(ctx), mode_(mode), st_(status) {
    std::error_code ec;
    acc_.open(asio::ip::tcp::v4(), ec);
    // As asio's acceptor(ctx, endpoint) does: the last run's TIME_WAITs do not block the port.
    if (!ec) acc_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) set_buffers(acc_, ec);
    if (!ec) acc_.set_option(asio::ip::tcp::no_delay(true), ec);
    if (!ec) acc_.bind(at, ec);
    if (!ec) acc_.listen(128, ec);
    if (ec) st_.fail("server: open/bind/listen", ec);
  }
  asio::ip::tcp::endpoint local_endpoint() const { return acc_.local_endpoint(); }
  void start() { accept(); }
  std::uint64_t bytes_in() const noexcept { return bytes_in_; }
  std::uint64_t accepted() const noexcept { return accepted_; }
  std::size_t open_sessions() const noexcept { return sessions_.size(); }
  void close() {
    std::error_code ec;
    acc_.close();
    for (auto& s : sessions_) s.sock.close(ec);
  }

 private:
  struct session {
    explicit session(Socket&& s) : sock(std::move(s)) {}
    Socket sock;
    std::array<std::byte, msg_size> msg{};
    std::vector<std::byte> bulk;
  };
  using iter = typename std::list<session>::iterator;

  void accept() {
    acc_.async_accept([this](std::error_code ec, Socket s) {
      if (ec) {
        if (ec != asio::error::operation_aborted) st_.fail("server: accept", ec);
        return;
      }
      ++accepted_;
      std::error_code oec;
      s.set_option(asio::ip::tcp::no_delay(true), oec);   // Linux does not inherit it from the listener
      if (oec) st_.fail("server: no_delay", oec);
      sessions_.emplace_front(std::move(s));
      const iter it = sessions_.begin();
      if (mode_ == server_mode::bulk) {
        it->bulk.resize(bulk_chunk);
        read_bulk(it);
      } else {
        read_request(it);
      }
      accept();
    });
  }
  void end(iter it) {
    std::error_code ec;
    it->sock.close(ec);
    sessions_.erase(it);
  }
  void read_request(iter it) {
    asio::async_read(it->sock, asio::buffer(it->msg), [this, it](std::error_code ec, std::size_t) {
      if (ec) {
        if (ec != asio::error::eof && ec != asio::error::operation_aborted) st_.fail("server: read", ec);
        if (ec != asio::error::operation_aborted) end(it);
        return;
      }
      asio::async_write(it->sock, asio::buffer(it->msg), [this, it](std::error_code wec, std::size_t) {
        if (wec) {
          if (wec != asio::error::operation_aborted) st_.fail("server: write", wec), end(it);
          return;
        }
        if (mode_ == server_mode::close_after_reply) return end(it);
        read_request(it);
      });
    });
  }
  void read_bulk(iter it) {
    it->sock.async_read_some(asio::buffer(it->bulk), [this, it](std::error_code ec, std::size_t n) {
      bytes_in_ += n;
      if (ec) {
        if (ec != asio::error::eof && ec != asio::error::operation_aborted) st_.fail("server: bulk read", ec);
        if (ec != asio::error::operation_aborted) end(it);
        return;
      }
      read_bulk(it);
    });
  }

  Acceptor acc_;
  server_mode mode_;
  app_status& st_;
  std::list<session> sessions_;
  std::uint64_t bytes_in_ = 0, accepted_ = 0;
};

// The request of transaction `seq`: its number, then a pattern that moves with it.
inline void fill_request(std::array<std::byte, msg_size>& m, std::uint64_t seq) noexcept {
  std::memcpy(m.data(), &seq, sizeof seq);
  for (std::size_t i = sizeof seq; i < m.size(); ++i) m[i] = static_cast<std::byte>(seq * 31 + i);
}

// A client socket: opened, buffers and Nagle set, connecting.
template <class Socket, class Handler>
void open_and_connect(Socket& s, const asio::ip::tcp::endpoint& to, app_status& st, Handler&& h) {
  std::error_code ec;
  s.open(asio::ip::tcp::v4(), ec);
  if (!ec) set_buffers(s, ec);
  if (!ec) s.set_option(asio::ip::tcp::no_delay(true), ec);
  if (ec) return st.fail("client: open/options", ec);
  s.async_connect(to, std::forward<Handler>(h));
}

// What rr_client and bulk_client share: one connection, opened once and kept, and a count of units
// done against a target (Derived::next() starts the next unit while done_ < target_).
template <class Socket, class Derived>
class kept_connection {
 public:
  kept_connection(asio::io_context& ctx, asio::ip::tcp::endpoint to, app_status& st) : sock_(ctx), to_(to), st_(st) {}
  void connect() {
    open_and_connect(sock_, to_, st_, [this](std::error_code ec) {
      if (ec) return st_.fail("client: connect", ec);
      connected_ = true;
    });
  }
  bool connected() const noexcept { return connected_; }
  // Starts `n` more units, one after the other.
  void run(std::uint64_t n) {
    target_ = done_ + n;
    static_cast<Derived*>(this)->next();
  }
  std::uint64_t done() const noexcept { return done_; }
  bool idle() const noexcept { return done_ >= target_; }
  void close() {
    std::error_code ec;
    sock_.close(ec);
  }

 protected:
  Socket sock_;
  asio::ip::tcp::endpoint to_;
  app_status& st_;
  std::uint64_t done_ = 0, target_ = 0;
  bool connected_ = false;
};

// A unit: one 64 B request/reply transaction.
template <class Socket>
class rr_client : public kept_connection<Socket, rr_client<Socket>> {
  using base = kept_connection<Socket, rr_client<Socket>>;
  friend base;

 public:
  using base::base;

 private:
  void next() {
    if (this->done_ >= this->target_ || this->st_.failed) return;
    fill_request(req_, this->done_);
    asio::async_write(this->sock_, asio::buffer(req_), [this](std::error_code ec, std::size_t) {
      if (ec) return this->st_.fail("rr client: write", ec);
      asio::async_read(this->sock_, asio::buffer(rep_), [this](std::error_code rec, std::size_t) {
        if (rec) return this->st_.fail("rr client: read", rec);
        if (rep_ != req_) return this->st_.fail("rr client: the reply differs from the request");
        ++this->done_;
        next();
      });
    });
  }

  std::array<std::byte, msg_size> req_{}, rep_{};
};

template <class Socket>
class short_client {
 public:
  short_client(asio::io_context& ctx, asio::ip::tcp::endpoint to, app_status& st) : ctx_(ctx), to_(to), st_(st) {}
  void run(std::uint64_t n) {
    target_ = done_ + n;
    next();
  }
  std::uint64_t done() const noexcept { return done_; }
  bool idle() const noexcept { return done_ >= target_ && !sock_; }

 private:
  void next() {
    if (done_ >= target_ || st_.failed) return;
    sock_ = std::make_unique<Socket>(ctx_);
    open_and_connect(*sock_, to_, st_, [this](std::error_code ec) {
      if (ec) return st_.fail("short client: connect", ec);
      fill_request(req_, done_);
      asio::async_write(*sock_, asio::buffer(req_), [this](std::error_code wec, std::size_t) {
        if (wec) return st_.fail("short client: write", wec);
        asio::async_read(*sock_, asio::buffer(rep_), [this](std::error_code rec, std::size_t) {
          if (rec) return st_.fail("short client: read", rec);
          if (rep_ != req_) return st_.fail("short client: the reply differs from the request");
          // The server closes first: wait for its FIN, then close (LAST_ACK, no TIME_WAIT here).
          sock_->async_read_some(asio::buffer(tail_), [this](std::error_code eec, std::size_t n) {
            if (eec != asio::error::eof || n != 0) return st_.fail("short client: expected eof after the reply", eec);
            std::error_code cec;
            sock_->close(cec);
            sock_.reset();
            ++done_;
            next();
          });
        });
      });
    });
  }

  asio::io_context& ctx_;
  asio::ip::tcp::endpoint to_;
  app_status& st_;
  std::unique_ptr<Socket> sock_;
  std::array<std::byte, msg_size> req_{}, rep_{};
  std::array<std::byte, 16> tail_{};
  std::uint64_t done_ = 0, target_ = 0;
};

// A unit: one bulk_chunk-byte write.
template <class Socket>
class bulk_client : public kept_connection<Socket, bulk_client<Socket>> {
  using base = kept_connection<Socket, bulk_client<Socket>>;
  friend base;

 public:
  bulk_client(asio::io_context& ctx, asio::ip::tcp::endpoint to, app_status& st) : base(ctx, to, st), chunk_(bulk_chunk) {
    for (std::size_t i = 0; i < chunk_.size(); ++i) chunk_[i] = static_cast<std::byte>(i * 7 + (i >> 8));
  }

 private:
  void next() {
    if (this->done_ >= this->target_ || this->st_.failed) return;
    asio::async_write(this->sock_, asio::buffer(chunk_), [this](std::error_code ec, std::size_t) {
      if (ec) return this->st_.fail("bulk client: write", ec);
      ++this->done_;
      next();
    });
  }

  std::vector<std::byte> chunk_;
};

}  // namespace ringlab::bench::tcp_app
