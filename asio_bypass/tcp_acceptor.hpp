#pragma once
// ringlab::bypass::tcp::acceptor: a listening TCP endpoint on the user-space stack
// (stack::tcp_listener) with asio::ip::tcp::acceptor's functions and completion signatures:
//
//   acceptor(ctx, endpoint): open, bind, listen (as Asio's constructor does)
//   open / bind / listen(backlog) / local_endpoint / cancel / close
//   async_accept(socket& peer, void(error_code))      into a socket that is not open
//   async_accept(void(error_code, socket))            a new socket (the move-accept form)
//   accept(socket&, error_code&): the non-blocking form (would_block)
//   set_option: receive_buffer_size / send_buffer_size / no_delay / keep_alive (before bind: the
//               accepted connections' buffers and options, as Linux inherits them from the listener)
//
// A connection whose handshake completed waits in the stack's accept queue (listen's backlog bounds
// it) until an accept takes it; the listener's readiness event performs the queued accepts in order.
// close() completes queued accepts with operation_aborted and resets the connections not accepted.
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/socket_base.hpp>
#include <memory>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/detail/errors.hpp"
#include "asio_bypass/detail/handler_op.hpp"
#include "asio_bypass/detail/stream_ops.hpp"
#include "asio_bypass/tcp_socket.hpp"
#include "stack/socket/tcp_listener.hpp"

namespace ringlab::bypass::tcp {

class acceptor final : private detail::stream_ops {
 public:
  using executor_type = asio::io_context::executor_type;
  using protocol_type = asio::ip::tcp;
  using endpoint_type = asio::ip::tcp::endpoint;
  using stream_ops::queued_ops;

  explicit acceptor(asio::io_context& ctx) : stream_ops(asio::use_service<bypass_service>(ctx)), ctx_(&ctx) {}
  // open, bind, listen: throws std::system_error naming the step that failed.
  acceptor(asio::io_context& ctx, const endpoint_type& local, int backlog = asio::socket_base::max_listen_connections)
      : acceptor(ctx) {
    open();
    bind(local);
    listen(backlog);
  }
  ~acceptor() { close(); }

  executor_type get_executor() noexcept { return ctx_->get_executor(); }
  stack::tcp_listener* native() noexcept { return l_.get(); }

  void open(const protocol_type& p, std::error_code& ec) noexcept {
    if (open_) ec = asio::error::already_open;
    else if (p != protocol_type::v4()) ec = asio::error::address_family_not_supported;
    else ec = {}, open_ = true;
  }
  void open(const protocol_type& p = protocol_type::v4()) { throwing([&](std::error_code& ec) { open(p, ec); }, "open"); }
  bool is_open() const noexcept { return open_; }

  void bind(const endpoint_type& local, std::error_code& ec) {
    if (!open_) {
      ec = asio::error::bad_descriptor;
      return;
    }
    if (l_) {
      ec = asio::error::invalid_argument;   // bound already, as bind(2)
      return;
    }
    auto l = std::make_unique<stack::tcp_listener>(svc_->iface(), cfg_);
    ec = detail::as_system(l->bind(to_stack(local)));
    if (ec) return;
    l_ = std::move(l);
    l_->set_events(&events_hook, static_cast<stream_ops*>(this));
  }
  void bind(const endpoint_type& local) { throwing([&](std::error_code& ec) { bind(local, ec); }, "bind"); }

  void listen(int backlog, std::error_code& ec) noexcept {
    if (!open_) ec = asio::error::bad_descriptor;
    else if (!l_) ec = asio::error::invalid_argument;   // the stack has no implicit bind to an ephemeral port
    else ec = detail::as_system(l_->listen(backlog > 0 ? static_cast<std::size_t>(backlog) : 1));
  }
  void listen(int backlog = asio::socket_base::max_listen_connections) {
    throwing([&](std::error_code& ec) { listen(backlog, ec); }, "listen");
  }

  template <class Option>
  void set_option(const Option& o, std::error_code& ec) noexcept {
    ec = {};
    if constexpr (std::is_same_v<Option, asio::socket_base::reuse_address>) {
      (void)o;   // TIME_WAIT never blocks a listener's bind in this stack: nothing to switch
    } else if (l_) {
      ec = asio::error::invalid_argument;   // the listener copies its config when bound
    } else if constexpr (std::is_same_v<Option, asio::ip::tcp::no_delay>) {
      cfg_.nagle = !o.value();
    } else if constexpr (std::is_same_v<Option, asio::socket_base::keep_alive>) {
      cfg_.keepalive_idle = o.value() ? 2 * 3600 * stack::sec : 0;
    } else if constexpr (std::is_same_v<Option, asio::socket_base::receive_buffer_size>) {
      if (o.value() <= 0) ec = asio::error::invalid_argument;
      else cfg_.recv_buffer = static_cast<std::size_t>(o.value());
    } else if constexpr (std::is_same_v<Option, asio::socket_base::send_buffer_size>) {
      if (o.value() <= 0) ec = asio::error::invalid_argument;
      else cfg_.send_buffer = static_cast<std::size_t>(o.value());
    } else {
      static_assert(!sizeof(Option), "option not supported by bypass::tcp::acceptor");
    }
  }
  template <class Option>
  void set_option(const Option& o) { throwing([&](std::error_code& ec) { set_option(o, ec); }, "set_option"); }

  endpoint_type local_endpoint() const noexcept { return l_ ? to_asio(l_->local_endpoint()) : endpoint_type(); }
  // Connections established and not yet accepted.
  std::size_t pending() const noexcept { return l_ ? l_->pending() : 0; }

  void cancel() noexcept { cancel_all(); }
  // cancel(), then unbinds; connections not yet accepted are reset. Idempotent.
  void close() noexcept {
    cancel_all();
    if (l_) {
      l_->set_events(nullptr, nullptr);
      l_->close();
      l_.reset();
    }
    open_ = false;
  }

  // ---- non-blocking ----
  void accept(socket& peer, std::error_code& ec) {
    std::unique_ptr<stack::tcp_socket> s;
    ec = take(s, &peer);
    if (!ec) peer.adopt(std::move(s));
  }

  // ---- asynchronous ----
  template <class Token>
  auto async_accept(socket& peer, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [this](auto handler, socket* p) {
          start(into_op<std::decay_t<decltype(handler)>>::create(std::move(handler), get_executor(), p), detail::op_type::accept);
        },
        token, &peer);
  }
  template <class Token>
  auto async_accept(Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, socket)>(
        [this](auto handler) {
          start(move_op<std::decay_t<decltype(handler)>>::create(std::move(handler), get_executor(), ctx_), detail::op_type::accept);
        },
        token);
  }

 private:
  using op = detail::stream_ops::op;
  static constexpr detail::perform_result done() noexcept { return {true, 0}; }
  static constexpr detail::perform_result not_done() noexcept { return {false, 0}; }

  // The one "accept": the next established connection, or would_block; `peer` (may be null) must
  // not be open, as Asio's accept into an open socket fails with already_open.
  std::error_code take(std::unique_ptr<stack::tcp_socket>& out, const socket* peer) noexcept {
    if (!open_ || !l_) return asio::error::bad_descriptor;
    if (!l_->listening()) return asio::error::invalid_argument;
    if (peer && peer->is_open()) return asio::error::already_open;
    return detail::as_system(l_->accept(out));
  }
  // Performed: done with a connection or an error; not done while none is ready.
  static detail::perform_result finish(op* o, std::error_code ec) noexcept {
    if (detail::would_block(ec)) return not_done();
    o->ec_ = ec;
    return done();
  }

  template <class Handler>
  struct into_op : detail::handler_op<into_op<Handler>, op, Handler> {
    socket* peer;
    into_op(Handler&& h, const executor_type& io, socket* p) : detail::handler_op<into_op, op, Handler>(std::move(h), io), peer(p) {}
    static detail::perform_result do_perform(op* base, detail::stream_ops* owner) noexcept {
      auto* o = static_cast<into_op*>(base);
      std::unique_ptr<stack::tcp_socket> s;
      const std::error_code ec = static_cast<acceptor*>(owner)->take(s, o->peer);
      if (!ec) o->peer->adopt(std::move(s));
      return finish(o, ec);
    }
    std::tuple<std::error_code> results(const std::error_code& ec, std::size_t) noexcept { return {ec}; }
  };
  template <class Handler>
  struct move_op : detail::handler_op<move_op<Handler>, op, Handler> {
    asio::io_context* ctx;
    std::unique_ptr<stack::tcp_socket> s;
    move_op(Handler&& h, const executor_type& io, asio::io_context* c) : detail::handler_op<move_op, op, Handler>(std::move(h), io), ctx(c) {}
    static detail::perform_result do_perform(op* base, detail::stream_ops* owner) noexcept {
      auto* o = static_cast<move_op*>(base);
      return finish(o, static_cast<acceptor*>(owner)->take(o->s, nullptr));
    }
    // The new socket is built at the upcall (on the io_context's thread); on abort it is not open and
    // a connection taken already (none: an op is aborted only while it waits) would be closed with it.
    std::tuple<std::error_code, socket> results(const std::error_code& ec, std::size_t) {
      socket peer(*ctx);
      if (!ec && s) peer.adopt(std::move(s));
      return {ec, std::move(peer)};
    }
  };

  template <class F>
  static void throwing(F&& f, const char* what) {
    std::error_code ec;
    f(ec);
    if (ec) throw std::system_error(ec, what);
  }

  asio::io_context* ctx_;
  std::unique_ptr<stack::tcp_listener> l_;
  ringlab::tcp::connection_config cfg_;
  bool open_ = false;
};

}  // namespace ringlab::bypass::tcp
