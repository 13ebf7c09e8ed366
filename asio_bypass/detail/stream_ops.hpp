#pragma once
// detail::stream_ops: the operation queues of one TCP object (a bypass::tcp::socket or acceptor) and
// the one way they are started, performed, cancelled and completed. TCP's ops differ from UDP's in
// what they are offered: nothing. The stack object raises readiness events (stack::tcp_socket /
// tcp_listener::set_events, on the lane thread inside interface::poll) and every queued op of the
// types the event concerns is performed again, in order, until one would block, exactly as a
// reactor performs the ops of a descriptor that became ready (Asio's detail/reactive_socket_service).
//
//   start(op, type)   tried at once when nothing of its type waits (Asio's start_op): done -> posted
//                     (never inside its initiating function); else queued, its cancellation slot armed
//   on_events(ev)     readable -> read + accept queues, writable -> write queue, connected / closed ->
//                     connect queue, and closed -> every queue (a reset wakes readers and writers);
//                     done ops complete through bypass_service::op_done (the poll handler's ready list)
//   cancel_all()      cancel(), close(): every queued op completes with operation_aborted (posted)
//
// An op's perform function receives the owner (`Owner*`), so an op needs no back pointer.
#include <asio/error.hpp>
#include <cstddef>

#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/detail/handler_op.hpp"
#include "asio_bypass/detail/reactive_op.hpp"

namespace ringlab::bypass::detail {

class stream_ops : protected socket_hooks {
 public:
  using op = reactive_op<stream_ops*>;
  // Readiness bits, the stack's (stack::tcp_socket::ev_*).
  enum : unsigned { ev_readable = 1, ev_writable = 2, ev_connected = 4, ev_closed = 8 };

  explicit stream_ops(bypass_service& svc) : svc_(&svc) { svc_->add_socket(this); }
  stream_ops(const stream_ops&) = delete;
  stream_ops& operator=(const stream_ops&) = delete;

  // The queued ops of one type (tests).
  std::size_t queued_ops(op_type t) const noexcept { return ops_[t].size(); }

  // The cancellation slot's handler (detail::cancel_handler).
  void cancel_op(op_type t, op* o) noexcept {
    const bool front = ops_[t].front() == o;
    if (!ops_[t].remove(o)) return;   // already done
    abort_op(t, o, front);
  }

 protected:
  ~stream_ops() { svc_->remove_socket(this); }

  template <class Op>
  void start(Op* o, op_type t) {
    auto& q = ops_[t];
    if (q.empty() && o->perform(this).done()) return svc_->post_completion(o);
    o->connect_cancellation(this, static_cast<op*>(o), t);
    q.push(o);
  }

  // The stack's event hook: performs the queues the events concern.
  static void events_hook(void* me, unsigned ev) noexcept { static_cast<stream_ops*>(me)->on_events(ev); }
  void on_events(unsigned ev) noexcept {
    if (ev & ev_closed) ev |= ev_readable | ev_writable | ev_connected;
    if (ev & ev_connected) perform(op_type::connect);
    if (ev & ev_readable) {
      perform(op_type::read);
      perform(op_type::accept);
    }
    if (ev & ev_writable) perform(op_type::write);
  }
  void perform(op_type t) noexcept {
    auto& q = ops_[t];
    while (op* o = q.front()) {
      if (!o->perform(this).done()) return;
      q.pop();
      svc_->op_done(o);
    }
  }
  void perform_deferred() noexcept override {
    for (op_type t : {op_type::connect, op_type::read, op_type::accept, op_type::write}) perform(t);
  }

  void cancel_all() noexcept {
    for (op_type t : {op_type::connect, op_type::read, op_type::accept, op_type::write}) {
      auto& q = ops_[t];
      for (bool front = true; !q.empty(); front = false) abort_op(t, q.pop(), front);
    }
  }
  // A cancelled op completes with operation_aborted; but the read at the front may have a posted
  // buffer (stack::tcp_socket::post_read) that bytes already went into: they are the connection's
  // no more, so the read completes with them (as a read that was done before the cancel came).
  void abort_op(op_type t, op* o, bool front) noexcept {
    o->ec_ = asio::error::operation_aborted;
    if (t == op_type::read && front) {
      if (const std::size_t n = unpost_read(); n > 0) o->ec_ = {}, o->bytes_ = n;
    }
    svc_->post_completion(o);
  }
  // The bytes a posted read buffer holds; the buffer is forgotten (a socket that posts none: 0).
  virtual std::size_t unpost_read() noexcept { return 0; }
  void shutdown_ops() noexcept override {
    unpost_read();   // the ops' buffers go with them
    ops_.destroy_all();
  }
  bool any_queued() const noexcept {
    for (op_type t : {op_type::connect, op_type::read, op_type::accept, op_type::write})
      if (!ops_[t].empty()) return true;
    return false;
  }

  bypass_service* svc_;
  op_queues<op> ops_;
};

}  // namespace ringlab::bypass::detail
