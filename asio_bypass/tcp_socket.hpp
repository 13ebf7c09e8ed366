#pragma once
// ringlab::bypass::tcp::socket: a TCP connection on the user-space stack (stack::tcp_socket) with
// asio::ip::tcp::socket's functions and completion signatures, so asio::async_read, async_write and
// async_read_until (composed over async_read_some / async_write_some) work unchanged, and one
// application template compiles over both:
//
//   open / bind / connect-less set-up, async_connect(endpoint, void(error_code))
//   async_read_some(MutableBufferSequence, void(error_code, size_t))   eof after the peer's FIN
//   async_write_some(ConstBufferSequence, void(error_code, size_t))    what fits the send buffer
//   read_some / write_some (error_code&): the non-blocking forms (would_block)
//   shutdown(shutdown_send | shutdown_receive | shutdown_both), cancel(), close()
//   set_option: asio::ip::tcp::no_delay, socket_base::keep_alive, linger (on, 0: close() sends RST),
//               receive_buffer_size / send_buffer_size (before connect; the stack sizes its buffers once)
//   available(), local_endpoint(), remote_endpoint()
//
// Errors are asio's values, as a kernel socket gives them: connection_refused (RST to our SYN),
// connection_reset, timed_out, eof, broken_pipe (write after shutdown_send), not_connected,
// bad_descriptor (closed), operation_aborted (cancel / close / the handler's cancellation slot).
//
// Operations: the one framework of asio_bypass/detail/ (stream_ops.hpp: per-type queues, tried at
// once, performed again on the stack's readiness events, completed through handler_op). Threading: as
// the stack's: use a socket only on the thread running its io_context.
#include <asio/buffer.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/socket_base.hpp>
#include <cstddef>
#include <memory>
#include <span>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/detail/errors.hpp"
#include "asio_bypass/detail/handler_op.hpp"
#include "asio_bypass/detail/stream_ops.hpp"
#include "stack/socket/tcp_socket.hpp"

namespace ringlab::bypass::tcp {

class acceptor;

// asio::ip::tcp::endpoint <-> the stack's endpoint (IPv4 only: the stack has no IPv6).
inline stack::endpoint to_stack(const asio::ip::tcp::endpoint& e) noexcept {
  return {wire::ipv4_addr{e.address().is_v4() ? e.address().to_v4().to_uint() : 0u}, e.port()};
}
inline asio::ip::tcp::endpoint to_asio(const stack::endpoint& e) noexcept {
  return {asio::ip::address_v4(e.addr.value), e.port};
}

class socket final : private detail::stream_ops {
 public:
  using executor_type = asio::io_context::executor_type;
  using protocol_type = asio::ip::tcp;
  using endpoint_type = asio::ip::tcp::endpoint;
  using shutdown_type = asio::socket_base::shutdown_type;
  using stream_ops::queued_ops;

  // Not open, as asio::ip::tcp::socket(ctx). The io_context's bypass_service must be attached.
  explicit socket(asio::io_context& ctx)
      : stream_ops(asio::use_service<bypass_service>(ctx)), ctx_(&ctx) {}
  // Moving takes the connection; operations still queued on `o` complete with operation_aborted
  // (the move-accept form returns a fresh socket, which has none).
  socket(socket&& o) : stream_ops(*o.svc_), ctx_(o.ctx_) { take(o); }
  socket& operator=(socket&& o) {
    if (this != &o) {
      close();
      take(o);
    }
    return *this;
  }
  // close(): queued operations complete with operation_aborted (posted), as an Asio socket's do.
  ~socket() { close(); }

  executor_type get_executor() noexcept { return ctx_->get_executor(); }
  bypass_service& service() noexcept { return *svc_; }
  // The stack's socket (nullptr until bind / connect / accept made one).
  stack::tcp_socket* native() noexcept { return s_.get(); }

  // ---- set-up, with Asio's two forms (error_code& or throwing std::system_error) ----
  void open(const protocol_type& p, std::error_code& ec) {
    if (is_open()) ec = asio::error::already_open;
    else if (p != protocol_type::v4()) ec = asio::error::address_family_not_supported;
    else ec = {}, open_ = true;
  }
  void open(const protocol_type& p = protocol_type::v4()) { throwing([&](std::error_code& ec) { open(p, ec); }, "open"); }
  bool is_open() const noexcept { return open_; }
  void bind(const endpoint_type& local, std::error_code& ec) {
    if (!make(ec)) return;
    ec = detail::as_system(s_->bind(to_stack(local)));
  }
  void bind(const endpoint_type& local) { throwing([&](std::error_code& ec) { bind(local, ec); }, "bind"); }

  template <class Option>
  void set_option(const Option& o, std::error_code& ec) noexcept {
    ec = {};
    if constexpr (std::is_same_v<Option, asio::ip::tcp::no_delay>) {
      cfg_.nagle = !o.value();
      if (s_) s_->set_no_delay(o.value());
    } else if constexpr (std::is_same_v<Option, asio::socket_base::keep_alive>) {
      cfg_.keepalive_idle = o.value() ? 2 * 3600 * stack::sec : 0;
      if (s_) s_->set_keepalive(o.value());
    } else if constexpr (std::is_same_v<Option, asio::socket_base::linger>) {
      linger_ = o;
    } else if constexpr (std::is_same_v<Option, asio::socket_base::receive_buffer_size> ||
                         std::is_same_v<Option, asio::socket_base::send_buffer_size>) {
      // The stack sizes a connection's buffers when it opens: later changes are refused, not ignored.
      if (s_ && s_->state() != ringlab::tcp::state::closed) {
        ec = asio::error::invalid_argument;
        return;
      }
      if (o.value() <= 0) {
        ec = asio::error::invalid_argument;
        return;
      }
      if constexpr (std::is_same_v<Option, asio::socket_base::receive_buffer_size>) cfg_.recv_buffer = static_cast<std::size_t>(o.value());
      else cfg_.send_buffer = static_cast<std::size_t>(o.value());
      if (s_) {   // made by bind() only: remade with the new size, on the same local endpoint
        const auto local = s_->local_endpoint();
        s_ = std::make_unique<stack::tcp_socket>(svc_->iface(), cfg_);
        s_->set_events(&events_hook, static_cast<stream_ops*>(this));
        ec = detail::as_system(s_->bind(local));
      }
    } else {
      static_assert(!sizeof(Option), "option not supported by bypass::tcp::socket");
    }
  }
  template <class Option>
  void set_option(const Option& o) { throwing([&](std::error_code& ec) { set_option(o, ec); }, "set_option"); }
  template <class Option>
  void get_option(Option& o) const noexcept {
    if constexpr (std::is_same_v<Option, asio::ip::tcp::no_delay>) o = Option(!cfg_.nagle);
    else if constexpr (std::is_same_v<Option, asio::socket_base::keep_alive>) o = Option(cfg_.keepalive_idle != 0);
    else if constexpr (std::is_same_v<Option, asio::socket_base::linger>) o = linger_;
    else if constexpr (std::is_same_v<Option, asio::socket_base::receive_buffer_size>) o = Option(static_cast<int>(cfg_.recv_buffer));
    else if constexpr (std::is_same_v<Option, asio::socket_base::send_buffer_size>) o = Option(static_cast<int>(cfg_.send_buffer));
    else static_assert(!sizeof(Option), "option not supported by bypass::tcp::socket");
  }

  endpoint_type local_endpoint() const noexcept { return s_ ? to_asio(s_->local_endpoint()) : endpoint_type(); }
  endpoint_type remote_endpoint(std::error_code& ec) const noexcept {
    ec = s_ && s_->connected() ? std::error_code() : std::error_code(asio::error::not_connected);
    return ec ? endpoint_type() : to_asio(s_->remote_endpoint());
  }
  endpoint_type remote_endpoint() const {
    std::error_code ec;
    auto e = remote_endpoint(ec);
    throw_on(ec, "remote_endpoint");
    return e;
  }
  std::size_t available() const noexcept { return s_ ? s_->available() : 0; }

  // shutdown_send: FIN after the queued bytes (the peer reads eof); shutdown_receive: reads complete
  // with eof from now on (Linux's SHUT_RD: read() returns 0), bytes still arriving are dropped by close.
  void shutdown(shutdown_type what, std::error_code& ec) noexcept {
    ec = s_ ? std::error_code() : std::error_code(open_ ? asio::error::not_connected : asio::error::bad_descriptor);
    if (ec) return;
    if (what != shutdown_type::shutdown_receive) ec = detail::as_system(s_->shutdown_send(svc_->now()));
    if (!ec && what != shutdown_type::shutdown_send) {
      rd_shut_ = true;
      perform(detail::op_type::read);   // a waiting read sees eof now (completed through op_done)
    }
  }
  void shutdown(shutdown_type what) { throwing([&](std::error_code& ec) { shutdown(what, ec); }, "shutdown"); }

  // Every queued operation completes with operation_aborted.
  void cancel() noexcept { cancel_all(); }
  // cancel(), then closes the connection: FIN (RST when received bytes were never read, or with
  // linger(true, 0)); the stack finishes the close alone. Idempotent.
  void close(std::error_code& ec) noexcept {
    ec = {};
    cancel_all();
    if (s_) {
      s_->set_events(nullptr, nullptr);
      if (linger_.enabled() && linger_.timeout() == 0) s_->abort(svc_->now());
      else s_->close(svc_->now());
      s_.reset();
    }
    open_ = false;
    rd_shut_ = false;
  }
  void close() noexcept {
    std::error_code ec;
    close(ec);
  }

  // ---- non-blocking forms ----
  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers, std::error_code& ec) noexcept {
    std::size_t n = 0;
    ec = read_into(buffers, n);
    return n;
  }
  template <class ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& buffers, std::error_code& ec) noexcept {
    std::size_t n = 0;
    ec = write_from(buffers, n);
    return n;
  }

  // ---- asynchronous forms ----
  template <class Token>
  auto async_connect(const endpoint_type& remote, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [this](auto handler, const endpoint_type& r) {
          auto* o = connect_op<std::decay_t<decltype(handler)>>::create(std::move(handler), get_executor());
          std::error_code ec;
          if (!open_) open(protocol_type::v4(), ec);
          if (!ec && make(ec)) ec = detail::as_system(s_->connect(to_stack(r), svc_->now()));
          if (ec) {   // refused at once (bad address, already connected): posted, as Asio does
            o->ec_ = ec;
            return svc_->post_completion(o);
          }
          start(o, detail::op_type::connect);
        },
        token, remote);
  }

  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return start_io<detail::op_type::read>(buffers, std::forward<Token>(token));
  }
  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return start_io<detail::op_type::write>(buffers, std::forward<Token>(token));
  }

 private:
  friend class acceptor;
  using op = detail::stream_ops::op;
  static constexpr detail::perform_result done() noexcept { return {true, 0}; }
  static constexpr detail::perform_result not_done() noexcept { return {false, 0}; }

  // The stack socket, made on first need with the options set so far.
  bool make(std::error_code& ec) {
    if (!open_) {
      ec = asio::error::bad_descriptor;
      return false;
    }
    if (!s_) {
      s_ = std::make_unique<stack::tcp_socket>(svc_->iface(), cfg_);
      s_->set_events(&events_hook, static_cast<stream_ops*>(this));
    }
    ec = {};
    return true;
  }
  // Takes over a connection (an accepted one, or a moved socket's).
  void adopt(std::unique_ptr<stack::tcp_socket> s) noexcept {
    s_ = std::move(s);
    open_ = true;
    s_->set_events(&events_hook, static_cast<stream_ops*>(this));
  }
  void take(socket& o) {
    o.cancel_all();
    cfg_ = o.cfg_, linger_ = o.linger_, rd_shut_ = o.rd_shut_;
    open_ = o.open_;
    if (o.s_) adopt(std::move(o.s_));
    o.open_ = false, o.rd_shut_ = false;
  }

  // The one "read": what the stack has, into the buffers in order. would_block when there is nothing.
  // An async read (`queued`: it waits when it would block) posts its first buffer to the stack
  // (stack::tcp_socket::post_read): bytes arriving meanwhile go straight there, and the next perform
  // counts them first (they lie at that buffer's front, before anything the receive buffer holds).
  template <class MutableBufferSequence>
  std::error_code read_into(const MutableBufferSequence& buffers, std::size_t& n, bool queued = false) noexcept {
    n = 0;
    if (!open_) return asio::error::bad_descriptor;
    if (asio::buffer_size(buffers) == 0) return {};   // as Asio: an empty read completes at once
    if (!s_) return asio::error::not_connected;
    std::size_t posted = queued ? s_->take_posted() : 0;
    if (rd_shut_) return posted ? (n = posted, std::error_code()) : std::error_code(asio::error::eof);
    const stack::time_ns now = svc_->now();
    std::span<std::byte> first;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
      const asio::mutable_buffer b(*it);
      if (b.size() == 0) continue;
      std::span<std::byte> s{static_cast<std::byte*>(b.data()), b.size()};
      if (first.empty()) {
        first = s;
        n = posted;
        if ((s = s.subspan(posted)).empty()) return {};
      }
      const auto r = s_->receive(s, now);
      n += r.bytes;
      if (n > 0 && (r.ec || r.bytes < s.size())) return {};   // what there was
      if (r.ec) {
        if (queued && detail::would_block(r.ec)) s_->post_read(first);
        return detail::as_system(r.ec);
      }
      if (r.bytes == 0) return asio::error::eof;   // the peer's FIN, every byte before it read
    }
    return {};
  }
  std::size_t unpost_read() noexcept override { return s_ ? s_->take_posted() : 0; }
  template <class ConstBufferSequence>
  std::error_code write_from(const ConstBufferSequence& buffers, std::size_t& n) noexcept {
    n = 0;
    if (!open_) return asio::error::bad_descriptor;
    if (!s_) return asio::error::not_connected;
    if (asio::buffer_size(buffers) == 0) return {};
    const stack::time_ns now = svc_->now();
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
      const asio::const_buffer b(*it);
      if (b.size() == 0) continue;
      const auto r = s_->send({static_cast<const std::byte*>(b.data()), b.size()}, now);
      n += r.bytes;
      if (n > 0 && (r.ec || r.bytes < b.size())) return {};
      if (r.ec) return detail::as_system(r.ec);
    }
    return {};
  }

  // A read or a write (T), the same op: performed with read_into / write_from.
  template <detail::op_type T, class Buffers, class Handler>
  struct io_op : detail::handler_op<io_op<T, Buffers, Handler>, op, Handler> {
    Buffers buffers;
    io_op(Handler&& h, const executor_type& io, const Buffers& b) : detail::handler_op<io_op, op, Handler>(std::move(h), io), buffers(b) {}
    static detail::perform_result do_perform(op* base, detail::stream_ops* owner) noexcept {
      auto* o = static_cast<io_op*>(base);
      auto* me = static_cast<socket*>(owner);
      if constexpr (T == detail::op_type::read) o->ec_ = me->read_into(o->buffers, o->bytes_, true);
      else o->ec_ = me->write_from(o->buffers, o->bytes_);
      if (!detail::would_block(o->ec_)) return done();
      o->ec_ = {};
      return not_done();
    }
  };
  template <detail::op_type T, class Buffers, class Token>
  auto start_io(const Buffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
        [this](auto handler, const Buffers& b) {
          start(io_op<T, Buffers, std::decay_t<decltype(handler)>>::create(std::move(handler), get_executor(), b), T);
        },
        token, buffers);
  }
  // Done when the handshake completed, or the connection ended (refused, reset, timed out).
  template <class Handler>
  struct connect_op : detail::handler_op<connect_op<Handler>, op, Handler> {
    connect_op(Handler&& h, const executor_type& io) : detail::handler_op<connect_op, op, Handler>(std::move(h), io) {}
    static detail::perform_result do_perform(op* base, detail::stream_ops* owner) noexcept {
      auto* o = static_cast<connect_op*>(base);
      stack::tcp_socket* s = static_cast<socket*>(owner)->s_.get();
      if (!s) {
        o->ec_ = asio::error::bad_descriptor;
        return done();
      }
      if (s->connected()) return done();
      if (s->state() != ringlab::tcp::state::closed) return not_done();
      const std::error_code ec = s->error();
      o->ec_ = ec ? detail::as_system(ec) : std::error_code(asio::error::connection_aborted);
      return done();
    }
    std::tuple<std::error_code> results(const std::error_code& ec, std::size_t) noexcept { return {ec}; }
  };

  static void throw_on(const std::error_code& ec, const char* what) {
    if (ec) throw std::system_error(ec, what);
  }
  template <class F>
  static void throwing(F&& f, const char* what) {
    std::error_code ec;
    f(ec);
    throw_on(ec, what);
  }

  asio::io_context* ctx_;
  std::unique_ptr<stack::tcp_socket> s_;
  ringlab::tcp::connection_config cfg_;
  asio::socket_base::linger linger_;
  bool open_ = false;
  bool rd_shut_ = false;
};

}  // namespace ringlab::bypass::tcp
