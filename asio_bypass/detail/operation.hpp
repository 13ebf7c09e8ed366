#pragma once
// detail::operation: the base of every asynchronous operation of the bypass sockets, in the shape of
// Asio's detail/scheduler_operation.hpp (read, not derived from): ONE function pointer that completes
// the operation and frees it, or only frees it.
//
//   func(owner, op, ec, bytes)   owner != nullptr: free the op's storage, then invoke its handler
//                                (through the handler's associated executor); owner == nullptr: free
//                                it without invoking anything (shutdown, a post that never ran)
//
// The owner is the asio::io_context whose thread runs the completion (as Asio's scheduler passes
// itself). An op carries its result (ec_, bytes_) from where it was done (a socket's perform, a
// cancel, a close) to where it completes (the service's ready list, or a posted handler), so whoever
// completes it needs no knowledge of its type. One intrusive link (next_): an op is on one queue at a
// time (a socket's per-type queue, then the service's ready list).
#include <cstddef>
#include <system_error>

namespace ringlab::bypass::detail {

template <class Op>
class op_queue;

class operation {
 public:
  using func_type = void (*)(void* owner, operation* op, const std::error_code& ec, std::size_t bytes);

  // Invokes the handler with the stored result and frees the op.
  void complete(void* owner) { func_(owner, this, ec_, bytes_); }
  // Frees the op without invoking its handler.
  void destroy() noexcept { func_(nullptr, this, std::error_code(), 0); }

  // The result the handler will get: written by the op's perform function, or by whoever aborts it.
  std::error_code ec_;
  std::size_t bytes_ = 0;

 protected:
  explicit operation(func_type func) noexcept : func_(func) {}
  ~operation() = default;   // never deleted through the base: func_ frees the whole op
  operation(const operation&) = delete;
  operation& operator=(const operation&) = delete;

 private:
  template <class Op>
  friend class op_queue;
  operation* next_ = nullptr;
  func_type func_;
};

}  // namespace ringlab::bypass::detail
