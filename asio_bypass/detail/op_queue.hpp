#pragma once
// detail::op_queue<Op>: an intrusive FIFO of operations (as Asio's detail/op_queue.hpp: read, not
// derived from), linked through operation::next_, so queueing allocates nothing. It owns what it
// holds: ops still queued when it is destroyed are destroyed without their handlers (Asio's rule for
// shutdown). Ops of one socket wait in one queue per operation type (reactive_op.hpp: op_queues).
#include <cstddef>

#include "asio_bypass/detail/operation.hpp"

namespace ringlab::bypass::detail {

template <class Op>
class op_queue {
 public:
  op_queue() noexcept = default;
  op_queue(const op_queue&) = delete;
  op_queue& operator=(const op_queue&) = delete;
  ~op_queue() { destroy_all(); }

  Op* front() const noexcept { return head_; }
  bool empty() const noexcept { return head_ == nullptr; }

  void push(Op* o) noexcept {
    o->next_ = nullptr;
    if (tail_) tail_->next_ = o;
    else head_ = o;
    tail_ = o;
  }
  // Takes the front op off (the queue must not be empty).
  Op* pop() noexcept {
    Op* o = head_;
    head_ = next(o);
    if (!head_) tail_ = nullptr;
    o->next_ = nullptr;
    return o;
  }
  // Takes `o` off wherever it is (a cancellation slot cancelling one op); false when it is not here
  // (already done).
  bool remove(Op* o) noexcept {
    Op* prev = nullptr;
    for (Op* p = head_; p; prev = p, p = next(p)) {
      if (p != o) continue;
      if (prev) prev->next_ = o->next_;
      else head_ = next(o);
      if (tail_ == o) tail_ = prev;
      o->next_ = nullptr;
      return true;
    }
    return false;
  }
  std::size_t size() const noexcept {
    std::size_t n = 0;
    for (Op* p = head_; p; p = next(p)) ++n;
    return n;
  }
  // Destroys every queued op without invoking its handler.
  void destroy_all() noexcept {
    while (head_) pop()->destroy();
  }

 private:
  static Op* next(Op* o) noexcept { return static_cast<Op*>(o->next_); }
  Op* head_ = nullptr;
  Op* tail_ = nullptr;
};

}  // namespace ringlab::bypass::detail
