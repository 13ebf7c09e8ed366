#pragma once
// tcp-echo, written once over the socket types: the same code runs over kernel sockets
// (asio::ip::tcp::socket / acceptor) and over the user-space stack (ringlab::bypass::tcp::socket /
// acceptor), which keep Asio's initiating functions and completion signatures (asio_bypass/README.md).
//
//   echo_client<Socket>: C connections at once; each sends `bytes` bytes of byte_stream(seed, c) in
//     blocks of `block`, half-closes, and reads the echo back while it sends, checking every byte as
//     it arrives; the sha256 of what went out and of what came back, per connection.
//   echo_server<Acceptor, Socket>: accepts, and echoes each connection's bytes back until the peer's
//     FIN, then half-closes in turn; the sha256 of each connection's stream.
//
// Socket needs: Socket(asio::io_context&), open/bind/set_option(reuse_address)/async_connect/
//   async_read_some/async_write_some/shutdown/close (error_code forms). Acceptor needs: open/bind/
//   listen (error_code forms) and the move form async_accept(void(error_code, Socket)).
// Threads: one io_context run by one thread (a lane); nothing here locks.
//
// Only templates here, as tools/mcast/app.hpp: a header over Asio types that non-template code would
// tie to one Asio build.
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/socket_base.hpp>
#include <asio/write.hpp>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "tools/tcp_apps/byte_stream.hpp"
#include "tools/tcp_apps/sha256.hpp"

namespace ringlab::tcp_apps {

// One connection's outcome, either side. `where` names the step that failed ("connect", "read",
// "write", "shutdown", "bind", "verify").
struct echo_result {
  std::uint32_t id = 0;
  std::string peer;                    // A.B.C.D:PORT
  std::uint64_t sent = 0, received = 0;
  sha256 sent_sha, received_sha;
  std::optional<std::uint64_t> mismatch_at;   // client: the first byte of the echo that differed
  std::error_code error;
  std::string where;
  bool finished = false;               // closed cleanly (client: every byte echoed back exactly)
  bool ok() const noexcept { return finished && !error && !mismatch_at; }
};

inline std::string endpoint_text(const asio::ip::tcp::endpoint& e) {
  return e.address().to_string() + ":" + std::to_string(e.port());
}

// What a failed step says, as one line: "connect: Connection refused".
inline std::string failure_text(const echo_result& r) {
  if (r.mismatch_at) return "verify: the echo differs from what was sent at byte " + std::to_string(*r.mismatch_at);
  if (r.error) return r.where + ": " + r.error.message();
  if (!r.finished) return "did not finish (the run ended first)";
  return r.where;
}

struct echo_client_config {
  asio::ip::tcp::endpoint remote;
  std::uint64_t bytes = 1 << 20;   // per connection
  std::size_t block = 16384;       // bytes per async_write
  std::uint32_t connections = 1;
  std::uint64_t seed = 1;
  std::uint16_t local_port = 0;    // 0: ephemeral; else connection c binds local_port + c
};

template <class Socket>
class echo_client {
 public:
  echo_client(asio::io_context& ctx, echo_client_config cfg, std::function<void()> on_done = {})
      : cfg_(std::move(cfg)), on_done_(std::move(on_done)) {
    for (std::uint32_t c = 0; c < cfg_.connections; ++c) conns_.push_back(std::make_unique<connection>(*this, ctx, c));
  }
  void start() {
    for (auto& c : conns_) c->start();
  }
  bool done() const noexcept { return finished_ == conns_.size(); }
  std::vector<const echo_result*> results() const {
    std::vector<const echo_result*> v;
    for (auto& c : conns_) v.push_back(&c->r);
    return v;
  }
  // Sockets still open (for --stats).
  template <class F>
  void for_each_socket(F&& f) {
    for (auto& c : conns_)
      if (!c->over) f(c->sock);
  }

 private:
  struct connection {
    connection(echo_client& o, asio::io_context& ctx, std::uint32_t id)
        : owner(o), sock(ctx), stream(o.cfg_.seed, id), out(std::max<std::size_t>(o.cfg_.block, 1)), in(65536),
          expect(65536) {
      r.id = id;
      r.peer = endpoint_text(o.cfg_.remote);
    }
    void start() {
      const auto& cfg = owner.cfg_;
      if (cfg.local_port) {   // a fixed source port (an XDP program that steers by port needs it)
        std::error_code ec;
        sock.open(asio::ip::tcp::v4(), ec);
        // A kernel socket's fixed port may still be in TIME_WAIT from the last run; the stack's
        // bind is not blocked by TIME_WAIT (and has no such option): only sockets with a native handle.
        if constexpr (requires { typename Socket::native_handle_type; })
          if (!ec) sock.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec)
          sock.bind({asio::ip::address_v4::any(), static_cast<std::uint16_t>(cfg.local_port + r.id)}, ec);
        if (ec) return post_fail("bind", ec);
      }
      sock.async_connect(cfg.remote, [this](const std::error_code& ec) {
        if (ec) return fail("connect", ec);
        write_next();
        read_next();
      });
    }
    void write_next() {
      const auto& cfg = owner.cfg_;
      if (over) return;
      if (r.sent == cfg.bytes) {
        std::error_code ec;
        sock.shutdown(asio::socket_base::shutdown_send, ec);   // the server's eof: it half-closes after the echo
        if (ec) fail("shutdown", ec);
        return;
      }
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), cfg.bytes - r.sent));
      stream.fill(std::span(out.data(), n), r.sent);
      asio::async_write(sock, asio::buffer(out.data(), n), [this](const std::error_code& ec, std::size_t k) {
        if (k) r.sent_sha.update({out.data(), k});
        r.sent += k;
        if (ec) return fail("write", ec);
        write_next();
      });
    }
    void read_next() {
      sock.async_read_some(asio::buffer(in), [this](const std::error_code& ec, std::size_t k) {
        if (k && !check(k)) return;
        if (ec == asio::error::eof) {
          if (r.received != owner.cfg_.bytes) return fail("read", asio::error::eof);   // short echo
          r.finished = true;
          return end();
        }
        if (ec) return fail("read", ec);
        read_next();
      });
    }
    // The k bytes just read, against the stream at their offset.
    bool check(std::size_t k) {
      if (r.received + k > owner.cfg_.bytes) {
        r.mismatch_at = owner.cfg_.bytes;   // more came back than was sent
        end();
        return false;
      }
      stream.fill(std::span(expect.data(), k), r.received);
      if (std::memcmp(expect.data(), in.data(), k) != 0) {
        std::size_t i = 0;
        while (in[i] == expect[i]) ++i;
        r.mismatch_at = r.received + i;
        end();
        return false;
      }
      r.received_sha.update({in.data(), k});
      r.received += k;
      return true;
    }
    void fail(const char* where, const std::error_code& ec) {
      if (over) return;   // the other direction's operation_aborted after the first failure
      r.error = ec;
      r.where = where;
      end();
    }
    void post_fail(const char* where, const std::error_code& ec) {
      asio::post(sock.get_executor(), [this, where, ec] { fail(where, ec); });
    }
    void end() {
      if (over) return;
      over = true;
      std::error_code ignored;
      sock.close(ignored);
      ++owner.finished_;
      if (owner.done() && owner.on_done_) owner.on_done_();
    }

    echo_client& owner;
    Socket sock;
    byte_stream stream;
    std::vector<std::byte> out, in, expect;
    echo_result r;
    bool over = false;
  };

  echo_client_config cfg_;
  std::function<void()> on_done_;
  std::vector<std::unique_ptr<connection>> conns_;
  std::size_t finished_ = 0;
};

// The acceptor's set-up as Asio's acceptor(ctx, endpoint) does it, with the failing step named:
// "bind 10.0.0.2:7: Address already in use".
template <class Acceptor>
std::string open_listener(Acceptor& acc, const asio::ip::tcp::endpoint& at, int backlog = 128) {
  std::error_code ec;
  acc.open(asio::ip::tcp::v4(), ec);
  if (ec) return "open: " + ec.message();
  acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return "set_option(reuse_address): " + ec.message();
  acc.bind(at, ec);
  if (ec) return "bind " + endpoint_text(at) + ": " + ec.message();
  acc.listen(backlog, ec);
  if (ec) return "listen " + endpoint_text(at) + ": " + ec.message();
  return {};
}

template <class Acceptor, class Socket>
class echo_server {
 public:
  struct totals {
    std::uint64_t accepted = 0, finished = 0, failed = 0, bytes = 0, accept_errors = 0;
  };
  // max_connections 0: serve until stopped. on_connection: each connection's result as it ends;
  // on_done: after max_connections ended.
  echo_server(Acceptor& acc, std::uint64_t max_connections, std::function<void(const echo_result&)> on_connection,
              std::function<void()> on_done = {})
      : acc_(&acc), max_(max_connections), on_connection_(std::move(on_connection)), on_done_(std::move(on_done)) {}
  // Without an acceptor: connections come through serve() (a lane of bypass::tcp_lanes, whose own
  // acceptor hands them over); start() does nothing.
  echo_server(std::uint64_t max_connections, std::function<void(const echo_result&)> on_connection,
              std::function<void()> on_done = {})
      : acc_(nullptr), max_(max_connections), on_connection_(std::move(on_connection)), on_done_(std::move(on_done)) {}
  void start() {
    if (acc_) accept_next();
  }
  // Echoes an accepted connection (on the thread of the socket's io_context).
  void serve(Socket s) {
    auto p = std::make_unique<session>(*this, std::move(s), static_cast<std::uint32_t>(t_.accepted++));
    session* q = p.get();
    sessions_.push_back(std::move(p));
    q->self = std::prev(sessions_.end());
    q->read_next();
  }
  const totals& stats() const noexcept { return t_; }
  bool done() const noexcept { return max_ && t_.finished + t_.failed == max_; }
  template <class F>
  void for_each_socket(F&& f) {
    for (auto& s : sessions_) f(s->sock);
  }

 private:
  struct session {
    session(echo_server& o, Socket&& s, std::uint32_t id) : owner(o), sock(std::move(s)), buf(65536) {
      r.id = id;
      std::error_code ec;
      const auto peer = sock.remote_endpoint(ec);
      r.peer = ec ? std::string("?") : endpoint_text(peer);
    }
    void read_next() {
      sock.async_read_some(asio::buffer(buf), [this](const std::error_code& ec, std::size_t n) {
        if (n) {
          r.received_sha.update({buf.data(), n});
          r.received += n;
          return asio::async_write(sock, asio::buffer(buf.data(), n), [this](const std::error_code& wec, std::size_t k) {
            if (k) r.sent_sha.update({buf.data(), k});
            r.sent += k;
            if (wec) return end("write", wec);
            read_next();
          });
        }
        if (ec == asio::error::eof) {   // the client's FIN: every byte echoed; half-close in turn
          std::error_code sec;
          sock.shutdown(asio::socket_base::shutdown_send, sec);
          if (sec) return end("shutdown", sec);
          r.finished = true;
          return end("", {});
        }
        end("read", ec);
      });
    }
    void end(const char* where, const std::error_code& ec) {
      r.where = where;
      r.error = ec;
      std::error_code ignored;
      sock.close(ignored);
      owner.ended(this);
    }
    echo_server& owner;
    Socket sock;
    std::vector<std::byte> buf;
    echo_result r;
    typename std::list<std::unique_ptr<session>>::iterator self;
  };

  void accept_next() {
    acc_->async_accept([this](const std::error_code& ec, auto peer) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {
        ++t_.accept_errors;   // e.g. a connection reset before it was accepted: go on accepting
        return accept_next();
      }
      serve(Socket(std::move(peer)));
      if (max_ == 0 || t_.accepted < max_) accept_next();
    });
  }
  // Called from the session's own handler: reported now, freed from a posted handler (not under its
  // own feet).
  void ended(session* s) {
    if (s->r.ok()) ++t_.finished;
    else ++t_.failed;
    t_.bytes += s->r.received;
    if (on_connection_) on_connection_(s->r);
    auto it = s->self;
    asio::post(s->sock.get_executor(), [this, it] { sessions_.erase(it); });
    if (done() && on_done_) on_done_();
  }

  Acceptor* acc_;   // null: connections come through serve()
  std::uint64_t max_;
  std::function<void(const echo_result&)> on_connection_;
  std::function<void()> on_done_;
  std::list<std::unique_ptr<session>> sessions_;
  totals t_;
};

}  // namespace ringlab::tcp_apps
