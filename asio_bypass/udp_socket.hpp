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
// Operations are asio_bypass/detail/'s (one framework, Asio's shape: detail/README section in
// asio_bypass/README.md) and follow Asio's detail/io_uring_service.hpp (read, not derived from): an initiation
// TRIES the operation at once; only if it would block is it queued, behind any already queued. The
// stack offers a datagram that arrives while its queue is empty to the socket's one reader hook
// (udp_socket::set_reader, inside interface::poll): the first queued receive is performed with it and
// takes it straight from the stack, never queued. Every receive op is a reactive_op performed with
// either that offered datagram or nullptr (read the queue): ONE perform function per op type, and
// copy_one() is the one place a datagram is copied out. A done operation completes through its one
// completion function (detail::operation), never inside the initiating function or interface::poll:
//   - done inside the initiating function (tried at once), or by cancel/close/its slot:
//     bypass_service::post_completion, posted to the socket's io_context;
//   - done from the poll loop (the reader hook, a deferred perform): bypass_service::op_done, on the
//     service's ready list and completed right after interface::poll returns, no post (posted when
//     not inside the poll handler: manual poll_once(), a looped-back send);
//   both then dispatch to the handler's associated executor (inline when that is the io_context's
//   executor: we are in one of its handlers, on its thread).
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
#include "asio_bypass/detail/errors.hpp"
#include "asio_bypass/detail/handler_op.hpp"
#include "asio_bypass/detail/op_queue.hpp"
#include "asio_bypass/detail/reactive_op.hpp"
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

// The error edge (detail/errors.hpp), shared with TCP.
using detail::as_system;
using detail::would_block;

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
    std::size_t n = 0;
    if (!copy_one(nullptr, buffers, from, n)) {
      ec = asio::error::would_block;
      return 0;
    }
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
          start(recv_op<MutableBufferSequence, std::decay_t<decltype(handler)>>::create(std::move(handler), ex_, b, f));
        },
        token, buffers, &from);
  }

  template <class Token>
  auto async_receive_frame(Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, stack::lent_frame)>(
        [this](auto handler) { start(frame_op<std::decay_t<decltype(handler)>>::create(std::move(handler), ex_)); },
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
          start(batch_op<std::decay_t<decltype(handler)>>::create(std::move(handler), ex_, o));
        },
        token, out);
  }

  // The stack never blocks a send: it is done inside the initiation, and completes posted.
  template <class ConstBufferSequence, class Token>
  auto async_send_to(const ConstBufferSequence& buffers, const endpoint_type& to, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& b, const endpoint_type& dst) {
          auto* o = send_op<std::decay_t<decltype(handler)>>::create(std::move(handler), ex_);
          o->bytes_ = send_to(b, dst, o->ec_);
          svc_->post_completion(o);
        },
        token, buffers, to);
  }

  // Queued receive operations (tests and counters).
  std::size_t queued_ops() const noexcept { return ops_[detail::op_type::read].size(); }

 private:
  // ---- operations (asio_bypass/detail/): every receive is a read op, queued in ops_[read] ----
  // What a read op is performed with: the datagram the stack offers through the reader hook (its
  // queue is empty), or nullptr: read the socket's queue. The op's perform_result.offer says what it
  // did with an offered one, as a stack::udp_socket::taken.
  using source = const stack::datagram*;
  struct read_op : detail::reactive_op<source> {
    socket* sock = nullptr;
    read_op(perform_func perform, func_type complete) noexcept : detail::reactive_op<source>(perform, complete) {}
  };
  using taken = stack::udp_socket::taken;
  static constexpr std::uint8_t copied_ = static_cast<std::uint8_t>(taken::copied);
  static constexpr detail::perform_result done(taken t = taken::declined) noexcept { return {true, static_cast<std::uint8_t>(t)}; }
  static constexpr detail::perform_result not_done(taken t = taken::declined) noexcept { return {false, static_cast<std::uint8_t>(t)}; }
  template <class Owner, class Op>
  friend struct detail::cancel_handler;

  // The one "copy a datagram out": the offered one, else the queue's front (popped once copied). Its
  // source into `from`, its payload into `buffers`, cut to their size as recvfrom does. False when
  // there is none.
  template <class MutableBufferSequence>
  [[gnu::always_inline]] bool copy_one(source offered, const MutableBufferSequence& buffers, endpoint_type& from,
                                       std::size_t& n) noexcept {
    const stack::datagram* d = offered ? offered : s_->front();
    if (!d) return false;
    to_asio(d->source, from);
    if constexpr (std::is_convertible_v<const MutableBufferSequence&, asio::mutable_buffer>) {
      // One buffer (a batch slot, asio::buffer(x)): what buffer_copy does for it, without the walk
      // over a sequence (8 instructions less per datagram).
      const asio::mutable_buffer b(buffers);
      const std::size_t k = d->payload.size() < b.size() ? d->payload.size() : b.size();
      n = k;   // before the copy: nothing but the caller's result stays live across the memcpy call
      if (k) std::memcpy(b.data(), d->payload.data(), k);
    } else {
      n = asio::buffer_copy(buffers, asio::const_buffer(d->payload.data(), d->payload.size()));
    }
    if (!offered) s_->pop_front();
    return true;
  }
  // Nothing to read: wait, or done with bad_descriptor when the socket is closed.
  static detail::perform_result nothing_to_read(read_op* o) noexcept {
    if (o->sock->s_->is_open()) return not_done();
    o->ec_ = asio::error::bad_descriptor;
    return done();
  }

  template <class MutableBufferSequence, class Handler>
  struct recv_op : detail::handler_op<recv_op<MutableBufferSequence, Handler>, read_op, Handler> {
    MutableBufferSequence buffers;
    endpoint_type* from;
    recv_op(Handler&& h, const executor_type& io, const MutableBufferSequence& b, endpoint_type* f)
        : detail::handler_op<recv_op, read_op, Handler>(std::move(h), io), buffers(b), from(f) {}
    static detail::perform_result do_perform(detail::reactive_op<source>* base, source offered) noexcept {
      auto* o = static_cast<recv_op*>(base);
      if (!offered) return from_queue(o);
      o->sock->copy_one(offered, o->buffers, *o->from, o->bytes_);
      return done(taken::copied);
    }
    // noinline: the offered path above then saves no registers for the queue path's.
    [[gnu::noinline]] static detail::perform_result from_queue(recv_op* o) noexcept {
      if (o->sock->copy_one(nullptr, o->buffers, *o->from, o->bytes_)) return done();
      return nothing_to_read(o);
    }
  };

  template <class Handler>
  struct frame_op : detail::handler_op<frame_op<Handler>, read_op, Handler> {
    stack::lent_frame frame;
    frame_op(Handler&& h, const executor_type& io) : detail::handler_op<frame_op, read_op, Handler>(std::move(h), io) {}
    // The offered datagram's frame is lent to the op (kept); from the queue, as receive_frame.
    static detail::perform_result do_perform(detail::reactive_op<source>* base, source offered) noexcept {
      auto* o = static_cast<frame_op*>(base);
      if (offered) {
        o->frame = o->sock->s_->lend(*offered);
        return done(taken::kept);
      }
      o->frame = o->sock->receive_frame(o->ec_);
      if (!would_block(o->ec_)) return done();
      o->ec_ = {};
      return not_done();
    }
    // The handler's arguments; on abort the frame goes back at once (the handler gets an empty one).
    std::tuple<std::error_code, stack::lent_frame> results(const std::error_code& ec, std::size_t) noexcept {
      stack::lent_frame f = std::move(frame);
      if (ec == asio::error::operation_aborted) f.release();
      return {ec, std::move(f)};
    }
  };

  // A batch of datagrams copied into the caller's slots (async_receive_batch); bytes_ counts them.
  template <class Handler>
  struct batch_op : detail::handler_op<batch_op<Handler>, read_op, Handler> {
    std::span<receive_slot> slots;
    batch_op(Handler&& h, const executor_type& io, std::span<receive_slot> s)
        : detail::handler_op<batch_op, read_op, Handler>(std::move(h), io), slots(s) {}
    // Offered (the queue is empty): copied into the next slot. Inside the poll handler the op stays
    // at the head while it has room (filling) and asks to be performed right after the poll
    // (bypass_service::defer_perform), which completes it with what it took; the rest of the burst is
    // offered to it the same way, so nothing is queued and dequeued. Outside the poll handler it is
    // done with the first datagram. A second offer only comes while filling (otherwise the op was done
    // after its first), so the poll-handler test is made once, on the first. From the queue: copies
    // while there is room; done with at least one datagram.
    static detail::perform_result do_perform(detail::reactive_op<source>* base, source offered) noexcept {
      auto* o = static_cast<batch_op*>(base);
      if (!offered) [[unlikely]] return from_queue(o);
      const std::size_t room = o->slots.size();
      const std::size_t i = o->bytes_;
      if (i == room) [[unlikely]] return done();   // no slots at all: done with none, the datagram is queued
      o->bytes_ = i + 1;
      // The result before the copy: only it stays live across the memcpy call (fewer registers saved).
      const detail::perform_result r = i == 0 ? first_offer(o) : detail::perform_result{i + 1 == room, copied_};
      receive_slot& slot = o->slots[i];
      o->sock->copy_one(offered, slot.buffer, slot.source, slot.bytes);
      return r;   // done when full
    }
    // noinline: the offered path above then saves no registers for this loop's.
    [[gnu::noinline]] static detail::perform_result from_queue(batch_op* o) noexcept {
      const std::size_t room = o->slots.size();
      std::size_t i = o->bytes_;
      for (; i < room; ++i) {
        receive_slot& slot = o->slots[i];
        if (!o->sock->copy_one(nullptr, slot.buffer, slot.source, slot.bytes)) break;
      }
      o->bytes_ = i;
      if (i > 0 || room == 0) return done();
      return nothing_to_read(o);
    }
    [[gnu::noinline]] [[gnu::cold]] static detail::perform_result first_offer(batch_op* o) noexcept {
      socket* s = o->sock;
      if (o->slots.size() > 1 && s->svc_->in_poll_handler()) {
        s->svc_->defer_perform(s);   // filling: stays at the head
        return not_done(taken::copied);
      }
      return done(taken::copied);
    }
  };

  // A send: done when made; carries its result to the posted completion.
  template <class Handler>
  struct send_op : detail::handler_op<send_op<Handler>, detail::operation, Handler> {
    send_op(Handler&& h, const executor_type& io) : detail::handler_op<send_op, detail::operation, Handler>(std::move(h), io, 0) {}
  };

  // Asio's start_op: try at once if nothing is queued ahead; queue only when it would block.
  template <class Op>
  void start(Op* o) {
    o->sock = this;
    auto& q = ops_[detail::op_type::read];
    if (!s_->is_open()) {
      o->ec_ = asio::error::bad_descriptor;
      return svc_->post_completion(o);
    }
    if (svc_->running_ready()) {
      // Started by a handler the poll handler runs: performed right after that handler returns
      // (bypass_service::defer_perform), so it can complete without a post.
      svc_->defer_perform(this);
    } else if (q.empty() && Op::do_perform(o, nullptr).done()) {
      return svc_->post_completion(o);
    }
    o->connect_cancellation(this, static_cast<read_op*>(o), detail::op_type::read);
    push_read(o);
  }

  // The stack's reader hook is set exactly while a read op waits (as a reactor registers read interest
  // only while a read is pending): with none waiting the stack queues the datagram without a call,
  // and the hook never tests for an empty queue.
  void push_read(read_op* o) noexcept {
    auto& q = ops_[detail::op_type::read];
    if (q.empty()) {
      s_->set_reader([](void* me, stack::udp_socket&, const stack::datagram& d) noexcept {
        return static_cast<socket*>(me)->offer(d);
      }, this);
    }
    q.push(o);
  }
  read_op* pop_read() noexcept {
    auto& q = ops_[detail::op_type::read];
    read_op* o = q.pop();
    if (q.empty()) s_->set_reader(nullptr, nullptr);
    return o;
  }

  // The stack's reader hook (offered a datagram only while the stack's queue is empty, set only while
  // a read op waits): the first queued op is performed with it.
  taken offer(const stack::datagram& d) noexcept {
    read_op* o = ops_[detail::op_type::read].front();
    const detail::perform_result r = o->perform(&d);
    if (r.done()) return offer_done(r);
    return static_cast<taken>(r.offer());
  }
  // noinline: the hook's not-done path (a batch filling) then keeps only `this` across the perform.
  [[gnu::noinline]] taken offer_done(detail::perform_result r) noexcept {
    svc_->op_done(pop_read());
    return static_cast<taken>(r.offer());
  }

  // Deferred performs (socket_hooks): queued ops in order, while they complete.
  void perform_deferred() noexcept override {
    auto& q = ops_[detail::op_type::read];
    while (read_op* o = q.front()) {
      if (!o->perform(nullptr).done()) return;
      svc_->op_done(pop_read());
    }
  }

  // The cancellation slot's handler (detail::cancel_handler).
  void cancel_op(detail::op_type t, read_op* o) noexcept {
    if (!ops_[t].remove(o)) return;   // already done
    if (t == detail::op_type::read && ops_[t].empty()) s_->set_reader(nullptr, nullptr);
    o->ec_ = asio::error::operation_aborted;
    svc_->post_completion(o);
  }

  // UDP queues only reads.
  void abort_queued() noexcept {
    auto& q = ops_[detail::op_type::read];
    while (!q.empty()) {
      read_op* o = pop_read();
      o->ec_ = asio::error::operation_aborted;
      svc_->post_completion(o);
    }
  }

  void shutdown_ops() noexcept override {
    ops_.destroy_all();
    s_->set_reader(nullptr, nullptr);
  }

  static void throw_if(const std::error_code& ec, const char* what) {
    if (ec) throw std::system_error(ec, what);
  }

  bypass_service* svc_;
  executor_type ex_;
  std::unique_ptr<stack::udp_socket> s_;
  detail::op_queues<read_op> ops_;
};

}  // namespace ringlab::bypass::udp
