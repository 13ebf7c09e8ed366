#pragma once
// detail::reactive_op<Source>: an operation that is TRIED (performed) before it waits, and again each
// time its socket has something for it, as Asio's detail/reactor_op.hpp (read, not derived from):
// one perform function besides the one completion function of detail::operation.
//
//   perform(op, source) -> perform_result{done, offer}
//
// `Source` is what the transport hands a waiting op, passed by value in a register: UDP passes the
// datagram the stack offers through its reader hook, or nullptr for "read from the socket's queue";
// a TCP socket would pass its receive/send buffer view, or a new connection for accept. `done`: the op
// has its result (ec_, bytes_) and leaves its queue to complete; `offer`: what it did with what it was
// offered, in the transport's meaning (UDP: stack::udp_socket::taken), returned with `done` in one
// byte. An op may take what it was offered and still not be done (a batch receive filling).
//
// op_type and op_queues: a socket keeps one queue per operation type, as Asio's reactors keep
// read_op / write_op / except_op queues per descriptor: reads wait behind reads, writes behind writes,
// and cancelling one type (or completing a read) leaves the others untouched.
#include <array>
#include <cstddef>
#include <cstdint>

#include "asio_bypass/detail/op_queue.hpp"
#include "asio_bypass/detail/operation.hpp"

namespace ringlab::bypass::detail {

// One byte: done in the top bit, the offer code (0..127) below it, so a caller that is not done
// returns the offer code without unpacking anything.
struct perform_result {
  static constexpr std::uint8_t done_bit = 0x80;
  std::uint8_t bits = 0;
  constexpr perform_result(bool done, std::uint8_t offer) noexcept
      : bits(static_cast<std::uint8_t>(offer | (done ? done_bit : 0))) {}
  constexpr bool done() const noexcept { return (bits & done_bit) != 0; }
  // The transport's code for what was done with the offered item (0: nothing).
  constexpr std::uint8_t offer() const noexcept { return static_cast<std::uint8_t>(bits & ~done_bit); }
};

template <class Source>
class reactive_op : public operation {
 public:
  using source_type = Source;
  using perform_func = perform_result (*)(reactive_op*, Source) noexcept;

  perform_result perform(Source src) noexcept { return perform_(this, src); }

 protected:
  reactive_op(perform_func perform, func_type complete) noexcept : operation(complete), perform_(perform) {}
  ~reactive_op() = default;

 private:
  perform_func perform_;
};

// The operation types a socket queues separately (Asio: reactor::read_op, write_op, connect_op; accept
// waits for readability of a listener, kept apart here because a TCP listener has no reads).
enum class op_type : std::uint8_t { read, write, accept, connect };
inline constexpr std::size_t op_type_count = 4;

template <class Op>
class op_queues {
 public:
  op_queue<Op>& operator[](op_type t) noexcept { return q_[static_cast<std::size_t>(t)]; }
  const op_queue<Op>& operator[](op_type t) const noexcept { return q_[static_cast<std::size_t>(t)]; }
  // Shutdown: every queued op of every type destroyed without its handler. The ops leave the queues
  // first: a handler may own the socket these queues belong to (a session that keeps itself alive
  // through its pending read), so destroying it can destroy `this`; nothing of `this` is touched after.
  void destroy_all() noexcept {
    op_queue<Op> taken;
    for (auto& q : q_)
      while (!q.empty()) taken.push(q.pop());
    taken.destroy_all();
  }

 private:
  std::array<op_queue<Op>, op_type_count> q_;
};

}  // namespace ringlab::bypass::detail
