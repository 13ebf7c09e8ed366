#pragma once
// `ringlab http-serve`'s server, written once over the socket types as echo.hpp: an HTTP/1.1
// keep-alive responder that `wrk` and `curl` drive. Per connection: read, parse every complete request
// in the buffer in order (pipelining: the responses go out in request order, in one write), write,
// read again. "Connection: close" (or HTTP/1.0 without keep-alive, or an error status) closes after
// the response: FIN after the last byte. The head is bounded (http_limits); a peer that sends more
// without completing a request gets 431 and the close.
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/socket_base.hpp>
#include <asio/write.hpp>
#include <array>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "tools/tcp_apps/http_request.hpp"
#include "tools/tcp_apps/http_response.hpp"

namespace ringlab::tcp_apps {

struct http_totals {
  std::uint64_t connections = 0, requests = 0, ok = 0, errors_sent = 0, closed_by_peer = 0, io_errors = 0,
                accept_errors = 0;
  // A client that closes with responses still unread resets the connection (wrk at the end of its
  // run): the end of that connection, not an error of ours; counted apart from io_errors.
  std::uint64_t reset_by_peer = 0;
};

template <class Acceptor, class Socket>
class http_server {
 public:
  http_server(Acceptor& acc, std::size_t body_size, http_limits limits = {})
      : acc_(&acc), responder_(body_size), limits_(limits) {}
  // Without an acceptor: connections come through serve() (a lane of bypass::tcp_lanes).
  explicit http_server(std::size_t body_size, http_limits limits = {})
      : acc_(nullptr), responder_(body_size), limits_(limits) {}
  void start() {
    if (acc_) accept_next();
  }
  // Serves an accepted connection (on the thread of the socket's io_context).
  void serve(Socket s) {
    ++t_.connections;
    auto p = std::make_unique<session>(*this, std::move(s));
    session* q = p.get();
    sessions_.push_back(std::move(p));
    q->self = std::prev(sessions_.end());
    q->read_next();
  }
  const http_totals& stats() const noexcept { return t_; }
  template <class F>
  void for_each_socket(F&& f) {
    for (auto& s : sessions_) f(s->sock);
  }

 private:
  struct session {
    session(http_server& o, Socket&& s) : owner(o), sock(std::move(s)) {}
    void read_next() {
      sock.async_read_some(asio::buffer(buf), [this](const std::error_code& ec, std::size_t n) {
        if (n) {
          in.append(buf.data(), n);
          return serve();
        }
        if (ec == asio::error::eof) ++owner.t_.closed_by_peer;
        else if (ec == asio::error::connection_reset) ++owner.t_.reset_by_peer;
        else if (ec != asio::error::operation_aborted) ++owner.t_.io_errors;
        end();
      });
    }
    // Every complete request in `in`, in order, into one batch of responses.
    void serve() {
      std::size_t pos = 0;
      while (!closing) {
        const parse_result r = parse_request(std::string_view(in).substr(pos), owner.limits_);
        if (r.status == parse_status::incomplete) break;
        ++owner.t_.requests;
        if (r.status == parse_status::error) ++owner.t_.errors_sent;
        else ++owner.t_.ok;
        closing = owner.responder_.respond(r, out);
        pos += r.consumed;
      }
      in.erase(0, pos);
      if (out.empty()) return read_next();
      asio::async_write(sock, asio::buffer(out), [this](const std::error_code& ec, std::size_t) {
        out.clear();
        if (ec) {
          ++(ec == asio::error::connection_reset || ec == asio::error::broken_pipe ? owner.t_.reset_by_peer
                                                                                   : owner.t_.io_errors);
          return end();
        }
        if (!closing) return read_next();
        std::error_code ignored;
        sock.shutdown(asio::socket_base::shutdown_send, ignored);
        end();
      });
    }
    void end() {
      std::error_code ignored;
      sock.close(ignored);
      auto it = self;
      asio::post(sock.get_executor(), [o = &owner, it] { o->sessions_.erase(it); });
    }
    http_server& owner;
    Socket sock;
    std::array<char, 16384> buf;
    std::string in, out;
    bool closing = false;
    typename std::list<std::unique_ptr<session>>::iterator self;
  };

  void accept_next() {
    acc_->async_accept([this](const std::error_code& ec, auto peer) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {
        ++t_.accept_errors;
        return accept_next();
      }
      serve(Socket(std::move(peer)));
      accept_next();
    });
  }

  Acceptor* acc_;   // null: connections come through serve()
  http_responder responder_;
  http_limits limits_;
  std::list<std::unique_ptr<session>> sessions_;
  http_totals t_;
};

}  // namespace ringlab::tcp_apps
