#pragma once
// ringlab::bypass::udp::socket: a UDP socket on the user-space stack with asio::ip::udp::socket's
// initiating functions and completion signatures, so one application template compiles over both:
//
//   async_receive_from(MutableBufferSequence, endpoint&, void(error_code, size_t))
//   async_send_to(ConstBufferSequence, const endpoint&, void(error_code, size_t))
//   async_receive_frame(void(error_code, stack::lent_frame))       zero-copy: the frame is lent
//   async_receive_batch(span<receive_slot>, void(error_code, size_t n))   up to span.size() datagrams
//                                                                  per operation, one handler call
//   receive_from / send_to (error_code&): the non-blocking forms (would_block when nothing is queued)
//
// Operations follow Asio's detail/io_uring_service.hpp (read, not derived from): an initiation
// TRIES the operation at once; only if it would block is it queued, behind any already queued. The
// stack offers a datagram that arrives while its queue is empty to the socket's one reader hook
// (udp_socket::set_reader, inside interface::poll): the first queued receive takes it straight from
// the stack, never queued. A done operation's handler is never invoked inside the
// initiating function or inside interface::poll:
//   - done inside the initiating function (tried at once), or from poll_once() in manual mode, or by
//     cancel/close: posted to the socket's io_context, from there dispatched to the handler's
//     associated executor (Asio's handler_work rule);
//   - done inside the service's poll handler: put on the service's ready list and run right after
//     interface::poll returns, dispatched to the handler's associated executor (inline when that is
//     the io_context's executor: we are in one of its handlers, on its thread), no post.
// Work is counted on the handler's executor until the handler ran. Operation storage comes from the
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
#include <bit>
#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

#include "asio_bypass/bypass_service.hpp"
#include "stack/socket/udp_socket.hpp"

namespace ringlab::bypass::udp {

// asio::ip::udp::endpoint <-> the stack's endpoint (IPv4 only: the stack has no IPv6).
inline stack::endpoint to_stack(const asio::ip::udp::endpoint& e) noexcept {
  return {wire::ipv4_addr{e.address().is_v4() ? e.address().to_v4().to_uint() : 0u}, e.port()};
}
// Writes e into out exactly as asio::ip::udp::endpoint(address_v4, port) leaves it (the whole sockaddr
// storage zeroed, then family, port and address in network order), without building an
// asio::ip::address on the way. Written through data(), as Asio's own receive_from lets the kernel
// write the sender's address.
inline void to_asio(const stack::endpoint& e, asio::ip::udp::endpoint& out) noexcept {
  static_assert(sizeof(asio::ip::udp::endpoint) == sizeof(sockaddr_in6), "Asio's endpoint: one sockaddr union");
  static_assert(offsetof(sockaddr_in, sin_port) == 2 && offsetof(sockaddr_in, sin_addr) == 4);
  // sin_family, sin_port, sin_addr: the first 8 bytes, as one store (little-endian host)
  static_assert(std::endian::native == std::endian::little);
  const std::uint64_t head = std::uint64_t{AF_INET} | std::uint64_t{htons(e.port)} << 16 |
                             std::uint64_t{htonl(e.addr.value)} << 32;
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  std::memcpy(p, &head, sizeof head);
  std::memset(p + sizeof head, 0, sizeof(sockaddr_in6) - sizeof head);
}
inline asio::ip::udp::endpoint to_asio(const stack::endpoint& e) noexcept {
  asio::ip::udp::endpoint out;
  to_asio(e, out);
  return out;
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

// One datagram of a batch receive (socket::async_receive_batch). The caller owns the slots and their
// buffers; they must stay valid until the handler runs. The payload is COPIED into `buffer` (cut to
// its size, as recvfrom does) and the frame goes back to the port with the burst, so the handler has
// nothing to release. Copying was chosen over lending frames: for a 64-byte datagram the copy costs
// less than a lent_frame per datagram and its release, and the pool cannot be drained by a slow handler.
struct receive_slot {
  asio::mutable_buffer buffer;          // in: where the payload goes
  asio::ip::udp::endpoint source;       // out: who sent it
  std::size_t bytes = 0;                // out: bytes copied into buffer
};

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
    s_->set_reader([](void* me, stack::udp_socket&, const stack::datagram& d) noexcept {
      return static_cast<socket*>(me)->take(d);
    }, this);
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
    if (!s_->is_open()) {
      ec = asio::error::bad_descriptor;
      return 0;
    }
    const stack::datagram* d = s_->front();   // copied straight out of the queue slot
    if (!d) {
      ec = asio::error::would_block;
      return 0;
    }
    to_asio(d->source, from);
    const std::size_t n = asio::buffer_copy(buffers, asio::const_buffer(d->payload.data(), d->payload.size()));
    s_->pop_front();
    ec = {};
    return n;
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

  // Batch receive: completes with void(error_code, size_t n), n datagrams in out[0..n), in arrival
  // order, one handler invocation per batch. It completes as soon as at least one datagram is there:
  //   - tried at once (nothing queued ahead): takes up to out.size() from the socket's queue;
  //   - waiting, driven from the poll handler (busy_poll / wait_fd): takes the datagrams that arrive
  //     in that poll (up to out.size()), and completes when the slots are full or the poll is over;
  //   - waiting, anything else (manual poll_once(), a looped-back send): completes with the first.
  // An empty span completes with n = 0 at once. cancel()/close()/the cancellation slot: as
  // async_receive_from, operation_aborted; n is then the datagrams already copied into out (0 unless
  // the op was cancelled by a handler run between its poll and the end of that poll handler).
  template <class Token>
  auto async_receive_batch(std::span<receive_slot> out, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
        [this](auto handler, std::span<receive_slot> o) {
          start(new_op<batch_op<std::decay_t<decltype(handler)>>>(std::move(handler), o));
        },
        token, out);
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
  struct op_base : ready_op {
    op_base* next = nullptr;
    socket* owner = nullptr;   // only until the op is done: the socket may be gone when a ready op runs
    // perform: try once; true when done (result stored). take: the stack hands it a datagram (the
    // queue was empty); returns what it did with the frame, and when that finished the op, takes it
    // off the queue itself (socket::took(): one indirect call less per datagram than a check in
    // socket::take after it returns). complete: post the handler with the
    // stored result (or with `abort` as the error) and free the op. destroy: free without invoking.
    // ready_op::run: the same as complete, but dispatched from the poll handler instead of posted.
    bool (*perform)(op_base*) noexcept;
    stack::udp_socket::taken (*take)(op_base*, const stack::datagram& d) noexcept;
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

  // From the poll handler: dispatch through the handler's executor. When that is the io_context's own
  // executor (no other properties), asio::dispatch would run it inline (we run inside one of the
  // context's handlers, on its thread): call it directly and skip the call-stack lookup.
  template <class Handler, class... Args>
  static void complete_now(Handler& h, const executor_type& io, Args&&... args) {
    using hex_t = asio::associated_executor_t<Handler, executor_type>;
    if constexpr (std::is_same_v<hex_t, executor_type>) {
      if (asio::get_associated_executor(h, io) == io) return std::move(h)(std::forward<Args>(args)...);
    }
    auto hex = asio::get_associated_executor(h, io);
    asio::dispatch(hex, bound<Handler, std::decay_t<Args>...>{std::move(h), std::tuple<std::decay_t<Args>...>(
                                                                                   std::forward<Args>(args)...)});
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

  // How every op ends, written once. Derived supplies do_perform, do_take and
  //   results(abort) -> std::tuple<std::error_code, X>
  // (the handler's arguments; abort != nullptr when the op was cancelled or its socket closed).
  // run: from the poll handler, dispatched through the handler's executor; complete: posted.
  // Both free the op BEFORE the upcall (the handler's next op may reuse its memory) and keep the
  // work guard alive until the handler ran or the post counted its own work.
  template <class Derived, class Handler>
  struct typed_op : op_storage<Handler> {
    typed_op(Handler&& h, executor_type io_ex) : op_storage<Handler>(std::move(h), io_ex) {
      this->perform = &Derived::do_perform;
      this->take = &Derived::do_take;
      this->complete = &do_complete;
      this->destroy = &do_destroy;
      this->run = &do_run;
      this->discard = &do_discard;
    }
    static void do_run(ready_op* base, const executor_type& io) {
      auto* o = static_cast<Derived*>(static_cast<op_base*>(base));
      Handler h(std::move(o->handler));
      auto args = o->results(nullptr);
      auto work = std::move(o->work);   // until the handler ran
      free_op(o);
      slot_clearer<Handler>::clear(h);
      std::apply([&](auto&&... a) { complete_now(h, io, std::move(a)...); }, std::move(args));
    }
    static void do_complete(op_base* base, const std::error_code* abort) {
      auto* o = static_cast<Derived*>(base);
      socket* s = o->owner;
      Handler h(std::move(o->handler));
      auto args = o->results(abort);
      auto work = std::move(o->work);   // until the post counted its own work (a zero would stop the context)
      free_op(o);
      slot_clearer<Handler>::clear(h);
      std::apply([&](auto&&... a) { s->complete_later(std::move(h), std::move(a)...); }, std::move(args));
    }
    static void do_discard(ready_op* base) noexcept { free_op(static_cast<Derived*>(static_cast<op_base*>(base))); }
    static void do_destroy(op_base* base) noexcept { free_op(static_cast<Derived*>(base)); }
  };

  template <class MutableBufferSequence, class Handler>
  struct recv_op : typed_op<recv_op<MutableBufferSequence, Handler>, Handler> {
    MutableBufferSequence buffers;
    endpoint_type* from;
    std::error_code ec;
    std::size_t n = 0;
    recv_op(Handler&& h, executor_type io_ex, const MutableBufferSequence& b, endpoint_type* f)
        : typed_op<recv_op, Handler>(std::move(h), io_ex), buffers(b), from(f) {}
    std::tuple<std::error_code, std::size_t> results(const std::error_code* abort) const noexcept {
      return {abort ? *abort : ec, abort ? 0 : n};
    }
    static bool do_perform(op_base* base) noexcept {
      auto* o = static_cast<recv_op*>(base);
      stack::udp_socket& s = *o->owner->s_;
      // receive_from without its would_block error_code (comparing categories costs more than the copy)
      const stack::datagram* d = s.front();
      if (!d) {
        if (s.is_open()) return false;   // would block: stays queued
        o->ec = asio::error::bad_descriptor;
        o->n = 0;
        return true;
      }
      to_asio(d->source, *o->from);
      o->n = asio::buffer_copy(o->buffers, asio::const_buffer(d->payload.data(), d->payload.size()));
      s.pop_front();
      o->ec = {};
      return true;
    }
    // As receive_from on a queue holding d: copy out, and the frame is done with.
    static stack::udp_socket::taken do_take(op_base* base, const stack::datagram& d) noexcept {
      auto* o = static_cast<recv_op*>(base);
      to_asio(d.source, *o->from);
      o->n = asio::buffer_copy(o->buffers, asio::const_buffer(d.payload.data(), d.payload.size()));
      o->ec = {};
      o->owner->took();   // o may be gone from here on
      return stack::udp_socket::taken::copied;
    }
  };

  template <class Handler>
  struct frame_op : typed_op<frame_op<Handler>, Handler> {
    std::error_code ec;
    stack::lent_frame frame;
    frame_op(Handler&& h, executor_type io_ex) : typed_op<frame_op, Handler>(std::move(h), io_ex) {}
    // On abort the frame goes back at once: the handler gets an empty one.
    std::tuple<std::error_code, stack::lent_frame> results(const std::error_code* abort) noexcept {
      stack::lent_frame f = std::move(frame);
      if (abort) f.release();
      return {abort ? *abort : ec, std::move(f)};
    }
    static bool do_perform(op_base* base) noexcept {
      auto* o = static_cast<frame_op*>(base);
      o->frame = o->owner->receive_frame(o->ec);
      return !would_block(o->ec);
    }
    // As receive_frame on a queue holding d: the op holds the frame (lent) from here on.
    static stack::udp_socket::taken do_take(op_base* base, const stack::datagram& d) noexcept {
      auto* o = static_cast<frame_op*>(base);
      o->frame = o->owner->s_->lend(d);
      o->ec = {};
      o->owner->took();   // o may be gone from here on
      return stack::udp_socket::taken::kept;
    }
  };

  // A batch of datagrams copied into the caller's slots (async_receive_batch).
  template <class Handler>
  struct batch_op : typed_op<batch_op<Handler>, Handler> {
    std::span<receive_slot> slots;
    std::error_code ec;
    std::size_t n = 0;
    batch_op(Handler&& h, executor_type io_ex, std::span<receive_slot> s)
        : typed_op<batch_op, Handler>(std::move(h), io_ex), slots(s) {}
    // On abort n stays: what was already copied (see async_receive_batch).
    std::tuple<std::error_code, std::size_t> results(const std::error_code* abort) const noexcept {
      return {abort ? *abort : ec, n};
    }
    // One datagram into one slot: the source, and the payload cut to the buffer (as recvfrom does).
    static void fill(receive_slot& slot, const stack::datagram& d) noexcept {
      to_asio(d.source, slot.source);
      const std::size_t k = d.payload.size() < slot.buffer.size() ? d.payload.size() : slot.buffer.size();
      if (k) std::memcpy(slot.buffer.data(), d.payload.data(), k);
      slot.bytes = k;
    }
    // Copies straight out of the queue slots while there is room; done with at least one datagram.
    static bool do_perform(op_base* base) noexcept {
      auto* o = static_cast<batch_op*>(base);
      stack::udp_socket& s = *o->owner->s_;
      const std::size_t room = o->slots.size();
      while (o->n < room) {
        const stack::datagram* d = s.front();
        if (!d) break;
        fill(o->slots[o->n++], *d);
        s.pop_front();
      }
      o->ec = {};
      if (o->n > 0 || room == 0) return true;
      if (s.is_open()) return false;   // would block: stays queued
      o->ec = asio::error::bad_descriptor;
      return true;
    }
    // A datagram arriving while the queue is empty: copied into the next slot. Inside the poll handler
    // the op stays at the head while it has room (filling) and asks to be performed right after the
    // poll (bypass_service::defer_perform), which completes it with what it took; the rest of the
    // burst is handed to it the same way, so nothing is queued and dequeued. Outside the poll handler
    // it completes with the first datagram. A second take only happens while filling (otherwise the
    // op was done after its first), so the poll-handler test is made once, on the first.
    static stack::udp_socket::taken do_take(op_base* base, const stack::datagram& d) noexcept {
      auto* o = static_cast<batch_op*>(base);
      const std::size_t i = o->n;
      if (i == o->slots.size()) [[unlikely]] {   // no slots at all: done with none, the datagram is queued
        o->owner->took();
        return stack::udp_socket::taken::declined;
      }
      fill(o->slots[i], d);
      o->n = i + 1;
      if (i == 0) [[unlikely]] return first_take(o);
      if (i + 1 == o->slots.size()) o->owner->took();   // full: done (o may be gone from here on)
      return stack::udp_socket::taken::copied;
    }
    [[gnu::noinline]] static stack::udp_socket::taken first_take(batch_op* o) noexcept {
      socket* s = o->owner;
      if (o->slots.size() > 1 && s->svc_->in_poll_handler())
        s->svc_->defer_perform(s);   // filling: stays at the head
      else
        s->took();
      return stack::udp_socket::taken::copied;
    }
  };

  // Asio's start_op: try at once if nothing is queued ahead; queue only when it would block.
  template <class Op>
  void start(Op* o) {
    if (!s_->is_open()) {
      o->ec = asio::error::bad_descriptor;
      return o->complete(o, &o->ec);
    }
    if (svc_->running_ready()) {
      // Started by a handler the poll handler runs: performed right after that handler returns
      // (bypass_service::defer_perform), so it can complete without a post.
      svc_->defer_perform(this);
    } else if (!head_ && o->perform(o)) {
      return o->complete(o, nullptr);
    }
    auto slot = asio::get_associated_cancellation_slot(o->handler);
    if (slot.is_connected()) slot.template emplace<cancel_handler>(cancel_handler{this, o});
    *tail_ = o;
    tail_ = &o->next;
  }

  // Performs queued ops in order while they complete.
  void perform_queued() noexcept {
    while (head_ && head_->perform(head_)) done(pop_front());
  }

  // The stack's reader hook (offered a datagram only while the stack's queue is empty): the first
  // queued op takes it (and is done then, unless it is a batch with room left: batch_op::do_take).
  stack::udp_socket::taken take(const stack::datagram& d) noexcept {
    op_base* o = head_;
    if (!o) return stack::udp_socket::taken::declined;
    return o->take(o, d);
  }
  // The head op's take finished it: off the queue and done (it may be freed here).
  void took() noexcept { done(pop_front()); }

  // An op done from inside interface::poll: run from the poll handler when the service polls from
  // one, else posted (manual mode's poll_once(), a looped-back send outside the poll handler).
  void done(op_base* o) noexcept {
    if (svc_->in_poll_handler()) return svc_->completed_in_poll(o);
    try {
      o->complete(o, nullptr);
    } catch (...) {
      // Only a failed post (out of memory) throws: the handler is lost, as Asio would lose it.
    }
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

  void perform_deferred() noexcept override { perform_queued(); }

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
