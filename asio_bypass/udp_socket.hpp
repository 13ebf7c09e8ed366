#pragma once
// ringlab::bypass::udp::socket: a UDP socket on the user-space stack with asio::ip::udp::socket's
// initiating functions and completion signatures, so one application template compiles over both:
//
//   async_receive_from(MutableBufferSequence, endpoint&, void(error_code, size_t))
//   async_send_to(ConstBufferSequence, const endpoint&, void(error_code, size_t))
//   async_receive_frame(void(error_code, stack::lent_frame))       zero-copy: the frame is lent
//   receive_from / send_to (error_code&): the non-blocking forms (would_block when nothing is queued)
//
// Operations follow Asio's detail/io_uring_service.hpp (read, not derived from): an initiation
// TRIES the operation at once; only if it would block is it queued, behind any already queued, and
// the stack's readiness callback (inside interface::poll) performs queued ones in order. A done
// operation's handler is never invoked inside the initiating function or inside poll: it is posted to
// the socket's io_context and from there dispatched to the handler's associated executor (Asio's
// handler_work rule), with work counted on that executor until then. Operation storage comes from the
// handler's associated allocator (default: asio::recycling_allocator, so a steady state allocates
// nothing). Cancellation: the handler's associated cancellation slot (terminal/partial/total all
// cancel a queued receive), cancel(), and close(), each completing queued operations with
// asio::error::operation_aborted. Sends never queue (the stack sends at once or fails), so they have
// nothing to cancel.
//
// Threading: as the stack's: use a socket only on the thread running its io_context.
#include <asio/associated_allocator.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/dispatch.hpp>
#include <asio/error.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/address_v4.hpp>
#include <asio/ip/udp.hpp>
#include <asio/post.hpp>
#include <asio/recycling_allocator.hpp>
#include <array>
#include <cstddef>
#include <memory>
#include <system_error>
#include <utility>

#include "asio_bypass/bypass_service.hpp"
#include "stack/socket/udp_socket.hpp"

namespace ringlab::bypass::udp {

// asio::ip::udp::endpoint <-> the stack's endpoint (IPv4 only: the stack has no IPv6).
inline stack::endpoint to_stack(const asio::ip::udp::endpoint& e) noexcept {
  return {wire::ipv4_addr{e.address().is_v4() ? e.address().to_v4().to_uint() : 0u}, e.port()};
}
inline asio::ip::udp::endpoint to_asio(const stack::endpoint& e) noexcept {
  return {asio::ip::address_v4(e.addr.value), e.port};
}

// The stack reports std::errc values (generic category); Asio reports the same numbers in its own system
// category. Converted at this edge so `ec == asio::error::would_block` holds as on a kernel socket.
inline std::error_code as_system(std::error_code ec) noexcept {
  if (ec && ec.category() == std::generic_category()) return {ec.value(), asio::error::get_system_category()};
  return ec;
}

inline bool would_block(const std::error_code& ec) noexcept {
  return ec == asio::error::would_block || ec == std::errc::operation_would_block;
}

class socket final : private socket_hooks {
 public:
  using executor_type = asio::io_context::executor_type;
  using protocol_type = asio::ip::udp;
  using endpoint_type = asio::ip::udp::endpoint;

  // Opens a socket on the bypass_service of ctx, which must be attached to a port.
  explicit socket(asio::io_context& ctx, std::size_t queue_depth = 0)
      : svc_(&asio::use_service<bypass_service>(ctx)), ex_(ctx.get_executor()),
        s_(std::make_unique<stack::udp_socket>(svc_->iface(), queue_depth)) {
    svc_->add_socket(this);
    s_->on_readable([this](stack::udp_socket&) { perform_queued(); });
  }
  socket(asio::io_context& ctx, const endpoint_type& local) : socket(ctx) { bind(local); }
  socket(const socket&) = delete;
  socket& operator=(const socket&) = delete;
  // Queued operations complete with operation_aborted (posted), as an Asio socket's do.
  ~socket() {
    close();
    svc_->remove_socket(this);
  }

  executor_type get_executor() noexcept { return ex_; }
  bypass_service& service() noexcept { return *svc_; }
  stack::udp_socket& native() noexcept { return *s_; }

  // ---- set-up, with Asio's two forms (error_code& or throwing std::system_error) ----
  void bind(const endpoint_type& local, std::error_code& ec) noexcept { ec = as_system(s_->bind(to_stack(local))); }
  void bind(const endpoint_type& local) { throw_if(s_->bind(to_stack(local)), "bind"); }
  void connect(const endpoint_type& remote, std::error_code& ec) noexcept { ec = as_system(s_->connect(to_stack(remote))); }
  void join_group(const asio::ip::address_v4& group, std::error_code& ec) noexcept {
    ec = as_system(s_->join_group(wire::ipv4_addr{group.to_uint()}, svc_->now()));
  }
  void join_group(const asio::ip::address_v4& group) { throw_if(s_->join_group(wire::ipv4_addr{group.to_uint()}, svc_->now()), "join_group"); }
  void leave_group(const asio::ip::address_v4& group, std::error_code& ec) noexcept {
    ec = as_system(s_->leave_group(wire::ipv4_addr{group.to_uint()}, svc_->now()));
  }
  void set_multicast_loop(bool on) noexcept { s_->set_multicast_loop(on); }
  void set_multicast_ttl(std::uint8_t ttl) noexcept { s_->set_multicast_ttl(ttl); }
  endpoint_type local_endpoint() const noexcept { return to_asio(s_->local_endpoint()); }
  bool is_open() const noexcept { return s_->is_open(); }
  std::size_t available() const noexcept { return s_->next_size(); }

  // Completes every queued operation with operation_aborted.
  void cancel() noexcept { abort_queued(); }
  // cancel(), then releases queued frames, leaves the groups, unbinds. Idempotent.
  void close() noexcept {
    abort_queued();
    s_->close();
  }

  // ---- non-blocking forms ----
  template <class MutableBufferSequence>
  std::size_t receive_from(const MutableBufferSequence& buffers, endpoint_type& from, std::error_code& ec) noexcept {
    stack::lent_frame f = s_->try_receive_frame(ec);
    if (ec) {
      ec = as_system(ec);
      return 0;
    }
    from = to_asio(f.source());
    return asio::buffer_copy(buffers, asio::const_buffer(f.payload().data(), f.payload().size()));
  }
  stack::lent_frame receive_frame(std::error_code& ec) noexcept {
    stack::lent_frame f = s_->try_receive_frame(ec);
    ec = as_system(ec);
    return f;
  }

  template <class ConstBufferSequence>
  std::size_t send_to(const ConstBufferSequence& buffers, const endpoint_type& to, std::error_code& ec) noexcept {
    const std::size_t n = asio::buffer_size(buffers);
    const auto first = *asio::buffer_sequence_begin(buffers);
    if (first.size() == n) {
      ec = s_->send_to({static_cast<const std::byte*>(first.data()), n}, to_stack(to), svc_->now());
    } else {
      // A gather send: linearise (a datagram never exceeds the MTU, so a frame-sized copy suffices).
      std::array<std::byte, 9216> tmp;
      if (n > tmp.size()) {
        ec = std::make_error_code(std::errc::message_size);
        return 0;
      }
      asio::buffer_copy(asio::buffer(tmp.data(), n), buffers);
      ec = s_->send_to({tmp.data(), n}, to_stack(to), svc_->now());
    }
    ec = as_system(ec);
    return ec ? 0 : n;
  }

  // ---- asynchronous forms ----
  template <class MutableBufferSequence, class Token>
  auto async_receive_from(const MutableBufferSequence& buffers, endpoint_type& from, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& b, endpoint_type* f) {
          start(new_op<recv_op<MutableBufferSequence, std::decay_t<decltype(handler)>>>(std::move(handler), b, f));
        },
        token, buffers, &from);
  }

  template <class Token>
  auto async_receive_frame(Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, stack::lent_frame)>(
        [this](auto handler) { start(new_op<frame_op<std::decay_t<decltype(handler)>>>(std::move(handler))); },
        token);
  }

  template <class ConstBufferSequence, class Token>
  auto async_send_to(const ConstBufferSequence& buffers, const endpoint_type& to, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& b, const endpoint_type& dst) {
          std::error_code ec;
          const std::size_t n = send_to(b, dst, ec);   // the stack never blocks a send: done at once
          complete_later(std::move(handler), ec, n);
        },
        token, buffers, to);
  }

  // Queued receive operations (tests and counters).
  std::size_t queued_ops() const noexcept {
    std::size_t n = 0;
    for (op_base* o = head_; o; o = o->next) ++n;
    return n;
  }

 private:
  // ---- operations: a queue of type-erased ops, each TRIED before it is queued ----
  struct op_base {
    op_base* next = nullptr;
    socket* owner = nullptr;
    // perform: try once; true when done (result stored). complete: post the handler with the stored
    // result (or with `abort` as the error) and free the op. destroy: free without invoking.
    bool (*perform)(op_base*) noexcept;
    void (*complete)(op_base*, const std::error_code* abort);
    void (*destroy)(op_base*) noexcept;
  };

  template <class Handler>
  struct op_storage : op_base {
    using allocator_type = asio::associated_allocator_t<Handler, asio::recycling_allocator<void>>;
    using executor_t = asio::associated_executor_t<Handler, executor_type>;
    Handler handler;
    asio::executor_work_guard<executor_t> work;
    op_storage(Handler&& h, executor_type io_ex)
        : handler(std::move(h)), work(asio::get_associated_executor(handler, io_ex)) {}
  };

  template <class Op, class Handler, class... A>
  Op* new_op(Handler&& h, A&&... a) {
    using alloc_t = typename std::allocator_traits<
        asio::associated_allocator_t<Handler, asio::recycling_allocator<void>>>::template rebind_alloc<Op>;
    alloc_t alloc(asio::get_associated_allocator(h, asio::recycling_allocator<void>()));
    Op* p = std::allocator_traits<alloc_t>::allocate(alloc, 1);
    ::new (p) Op(std::move(h), ex_, std::forward<A>(a)...);
    p->owner = this;
    return p;
  }
  template <class Op>
  static void free_op(Op* p) noexcept {
    using alloc_t = typename std::allocator_traits<typename Op::allocator_type>::template rebind_alloc<Op>;
    alloc_t alloc(asio::get_associated_allocator(p->handler, asio::recycling_allocator<void>()));
    p->~Op();
    std::allocator_traits<alloc_t>::deallocate(alloc, p, 1);
  }

  // A handler with its arguments, keeping the handler's associated allocator for the post.
  template <class Handler, class... Args>
  struct bound {
    Handler h;
    std::tuple<Args...> args;
    using allocator_type = asio::associated_allocator_t<Handler>;
    allocator_type get_allocator() const noexcept { return asio::get_associated_allocator(h); }
    void operator()() { std::apply(std::move(h), std::move(args)); }
  };

  // Posts to the io_context, then dispatches to the handler's executor: never inside the initiation.
  template <class Handler, class... Args>
  void complete_later(Handler&& h, Args&&... args) {
    auto hex = asio::get_associated_executor(h, ex_);
    svc_->completion_posted();
    asio::post(ex_, [svc = svc_, hex, b = bound<std::decay_t<Handler>, std::decay_t<Args>...>{
                              std::move(h), std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...)}]() mutable {
      svc->completion_ran();
      asio::dispatch(hex, std::move(b));
    });
  }

  // The cancellation slot's handler: removes a queued op and completes it as aborted.
  struct cancel_handler {
    socket* s;
    op_base* o;
    void operator()(asio::cancellation_type_t type) {
      if (type != asio::cancellation_type::none) s->cancel_one(o);
    }
  };

  template <class Handler>
  struct slot_clearer {
    static void clear(Handler& h) {
      auto slot = asio::get_associated_cancellation_slot(h);
      if (slot.is_connected()) slot.clear();
    }
  };

  template <class MutableBufferSequence, class Handler>
  struct recv_op : op_storage<Handler> {
    MutableBufferSequence buffers;
    endpoint_type* from;
    std::error_code ec;
    std::size_t n = 0;
    recv_op(Handler&& h, executor_type io_ex, const MutableBufferSequence& b, endpoint_type* f)
        : op_storage<Handler>(std::move(h), io_ex), buffers(b), from(f) {
      this->perform = &do_perform;
      this->complete = &do_complete;
      this->destroy = &do_destroy;
    }
    static bool do_perform(op_base* base) noexcept {
      auto* o = static_cast<recv_op*>(base);
      o->n = o->owner->receive_from(o->buffers, *o->from, o->ec);
      return !would_block(o->ec);
    }
    static void do_complete(op_base* base, const std::error_code* abort) {
      auto* o = static_cast<recv_op*>(base);
      socket* s = o->owner;
      Handler h(std::move(o->handler));
      const std::error_code ec = abort ? *abort : o->ec;
      const std::size_t n = abort ? 0 : o->n;
      // The work guard lives until the post counts its own work: a count that touched zero in
      // between would stop the io_context.
      auto work = std::move(o->work);
      free_op(o);   // before the post: its memory may be reused by the handler's own next op
      slot_clearer<Handler>::clear(h);
      s->complete_later(std::move(h), ec, n);
    }
    static void do_destroy(op_base* base) noexcept { free_op(static_cast<recv_op*>(base)); }
  };

  template <class Handler>
  struct frame_op : op_storage<Handler> {
    std::error_code ec;
    stack::lent_frame frame;
    frame_op(Handler&& h, executor_type io_ex) : op_storage<Handler>(std::move(h), io_ex) {
      this->perform = &do_perform;
      this->complete = &do_complete;
      this->destroy = &do_destroy;
    }
    static bool do_perform(op_base* base) noexcept {
      auto* o = static_cast<frame_op*>(base);
      o->frame = o->owner->receive_frame(o->ec);
      return !would_block(o->ec);
    }
    static void do_complete(op_base* base, const std::error_code* abort) {
      auto* o = static_cast<frame_op*>(base);
      socket* s = o->owner;
      Handler h(std::move(o->handler));
      const std::error_code ec = abort ? *abort : o->ec;
      stack::lent_frame f = std::move(o->frame);
      if (abort) f.release();
      auto work = std::move(o->work);
      free_op(o);
      slot_clearer<Handler>::clear(h);
      s->complete_later(std::move(h), ec, std::move(f));
    }
    static void do_destroy(op_base* base) noexcept { free_op(static_cast<frame_op*>(base)); }
  };

  // Asio's start_op: try at once if nothing is queued ahead; queue only when it would block.
  template <class Op>
  void start(Op* o) {
    if (!s_->is_open()) {
      o->ec = asio::error::bad_descriptor;
      return o->complete(o, &o->ec);
    }
    if (!head_ && o->perform(o)) return o->complete(o, nullptr);
    auto slot = asio::get_associated_cancellation_slot(o->handler);
    if (slot.is_connected()) slot.template emplace<cancel_handler>(cancel_handler{this, o});
    *tail_ = o;
    tail_ = &o->next;
  }

  // The stack's readiness callback: performs queued ops in order while they complete.
  void perform_queued() {
    while (head_ && head_->perform(head_)) complete(pop_front(), nullptr);
  }

  op_base* pop_front() noexcept {
    op_base* o = head_;
    head_ = o->next;
    if (!head_) tail_ = &head_;
    o->next = nullptr;
    return o;
  }
  void complete(op_base* o, const std::error_code* abort) { o->complete(o, abort); }

  void cancel_one(op_base* target) {
    for (op_base** p = &head_; *p; p = &(*p)->next) {
      if (*p != target) continue;
      *p = target->next;
      if (!head_) tail_ = &head_;
      else if (!target->next) tail_ = p;
      target->next = nullptr;
      const std::error_code aborted = asio::error::operation_aborted;
      return complete(target, &aborted);
    }
  }

  void abort_queued() noexcept {
    const std::error_code aborted = asio::error::operation_aborted;
    while (head_) {
      op_base* o = pop_front();
      try {
        complete(o, &aborted);
      } catch (...) {
        // Only a failed post (out of memory) throws: the handler is lost, as Asio would lose it.
      }
    }
  }

  void shutdown_ops() noexcept override {
    while (head_) {
      op_base* o = pop_front();
      o->destroy(o);
    }
  }

  static void throw_if(const std::error_code& ec, const char* what) {
    if (ec) throw std::system_error(ec, what);
  }

  bypass_service* svc_;
  executor_type ex_;
  std::unique_ptr<stack::udp_socket> s_;
  op_base* head_ = nullptr;
  op_base** tail_ = &head_;
};

}  // namespace ringlab::bypass::udp
