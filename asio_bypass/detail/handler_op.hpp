#pragma once
// detail::handler_op: an operation holding its completion handler, written once for every op type of
// every socket (UDP today; TCP's read/write/accept/connect ops reuse it). It supplies the op's ONE
// completion function (detail::operation): free the op's storage first (the handler's next op may
// reuse it), then invoke the handler with the op's result, through the handler's associated executor.
//
//   Derived   the concrete op (CRTP). It may define
//               results(ec, bytes) -> std::tuple<handler arguments...>
//             (default: (ec, bytes), the completion signature of a read or write), and, when Base is
//             a reactive_op, `static perform_result do_perform(reactive_op<Source>*, Source) noexcept`.
//   Base      detail::operation (an op that is done when it is made: a send) or reactive_op<Source>.
//
// Asio's rules kept here (asio/detail/handler_work.hpp, handler_alloc_helpers.hpp: read, not derived
// from): storage from the handler's associated allocator (default asio::recycling_allocator, so a steady
// state allocates nothing); work counted on the handler's associated executor until the handler ran;
// the handler's cancellation slot connected while the op waits and cleared before the upcall; the
// upcall dispatched to the handler's executor, called directly when that is the io_context's own
// executor (the completion always runs on the io_context's thread, inside one of its handlers, where
// asio::dispatch would run it inline: the call-stack lookup is skipped).
#include <asio/associated_allocator.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/dispatch.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/recycling_allocator.hpp>
#include <cstddef>
#include <memory>
#include <new>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

#include "asio_bypass/detail/operation.hpp"
#include "asio_bypass/detail/reactive_op.hpp"

namespace ringlab::bypass::detail {

// A handler with its arguments, keeping the handler's associated allocator for a dispatch that posts.
template <class Handler, class... Args>
struct bound_handler {
  Handler h;
  std::tuple<Args...> args;
  using allocator_type = asio::associated_allocator_t<Handler>;
  allocator_type get_allocator() const noexcept { return asio::get_associated_allocator(h); }
  void operator()() { std::apply(std::move(h), std::move(args)); }
};

// Invokes h(args...) through its associated executor, from the io_context's thread inside one of its
// handlers (`io` is that context's executor).
template <class Handler, class... Args>
void invoke_handler(Handler& h, const asio::io_context::executor_type& io, Args&&... args) {
  using hex_t = asio::associated_executor_t<Handler, asio::io_context::executor_type>;
  if constexpr (std::is_same_v<hex_t, asio::io_context::executor_type>) {
    if (asio::get_associated_executor(h, io) == io) return std::move(h)(std::forward<Args>(args)...);
  }
  auto hex = asio::get_associated_executor(h, io);
  asio::dispatch(hex, bound_handler<Handler, std::decay_t<Args>...>{
                          std::move(h), std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...)});
}

// The cancellation slot's handler: asks the socket to take the op off its queue of type `type` and
// complete it with operation_aborted (Owner::cancel_op(op_type, Op*)). Terminal, partial and total
// cancellation all cancel a waiting op: it has done nothing the caller could keep.
template <class Owner, class Op>
struct cancel_handler {
  Owner* owner;
  Op* op;
  op_type type;
  void operator()(asio::cancellation_type_t t) {
    if (t != asio::cancellation_type::none) owner->cancel_op(type, op);
  }
};

template <class Derived, class Base, class Handler>
class handler_op : public Base {
 public:
  using io_executor_type = asio::io_context::executor_type;
  using allocator_type = asio::associated_allocator_t<Handler, asio::recycling_allocator<void>>;
  using handler_executor_type = asio::associated_executor_t<Handler, io_executor_type>;

  // Allocates and builds a Derived from the handler's associated allocator.
  template <class... A>
  static Derived* create(Handler&& h, const io_executor_type& io, A&&... a) {
    alloc_t alloc(asio::get_associated_allocator(h, asio::recycling_allocator<void>()));
    Derived* p = std::allocator_traits<alloc_t>::allocate(alloc, 1);
    try {
      ::new (p) Derived(std::move(h), io, std::forward<A>(a)...);
    } catch (...) {
      std::allocator_traits<alloc_t>::deallocate(alloc, p, 1);
      throw;
    }
    return p;
  }

  // While the op waits in owner's queue of type t: the handler's cancellation slot cancels it.
  template <class Owner, class Op>
  void connect_cancellation(Owner* owner, Op* as_queued, op_type t) {
    auto slot = asio::get_associated_cancellation_slot(handler_);
    if (slot.is_connected()) slot.template emplace<cancel_handler<Owner, Op>>(cancel_handler<Owner, Op>{owner, as_queued, t});
  }

  // The default handler arguments: (error_code, bytes transferred).
  std::tuple<std::error_code, std::size_t> results(const std::error_code& ec, std::size_t bytes) noexcept {
    return {ec, bytes};
  }

  Handler handler_;

 protected:
  // A reactive op: Base(perform, complete).
  template <class B = Base>
    requires(!std::is_same_v<B, operation>)
  handler_op(Handler&& h, const io_executor_type& io)
      : Base(&Derived::do_perform, &do_complete), handler_(std::move(h)), work_(asio::get_associated_executor(handler_, io)) {}
  // An op done when made (a send): Base(complete).
  template <class B = Base>
    requires std::is_same_v<B, operation>
  handler_op(Handler&& h, const io_executor_type& io, int /*done_at_once*/)
      : Base(&do_complete), handler_(std::move(h)), work_(asio::get_associated_executor(handler_, io)) {}
  ~handler_op() = default;

 private:
  using alloc_t = typename std::allocator_traits<allocator_type>::template rebind_alloc<Derived>;

  static void free(Derived* p) noexcept {
    alloc_t alloc(asio::get_associated_allocator(p->handler_, asio::recycling_allocator<void>()));
    p->~Derived();
    std::allocator_traits<alloc_t>::deallocate(alloc, p, 1);
  }

  // The op's one completion function. owner: the asio::io_context whose thread runs it; nullptr:
  // destroy only.
  static void do_complete(void* owner, operation* base, const std::error_code& ec, std::size_t bytes) {
    auto* o = static_cast<Derived*>(base);
    if (!owner) return free(o);
    Handler h(std::move(o->handler_));
    auto args = o->results(ec, bytes);   // read before the op's storage goes
    auto work = std::move(o->work_);     // until the handler ran
    free(o);
    auto slot = asio::get_associated_cancellation_slot(h);
    if (slot.is_connected()) slot.clear();
    const io_executor_type io = static_cast<asio::io_context*>(owner)->get_executor();
    std::apply([&](auto&&... a) { invoke_handler(h, io, std::move(a)...); }, std::move(args));
  }

  asio::executor_work_guard<handler_executor_type> work_;
};

}  // namespace ringlab::bypass::detail
