// asio_bypass/detail/: the one op framework every bypass socket uses (UDP today, TCP's read / write /
// accept / connect queues next). Tested on its own, with test ops: FIFO order, cancelling the middle
// op, destroy-only (owner null: the handler is never invoked, its storage and work are released),
// per-type queues independent of each other, perform results, and the completion through the
// handler's executor and cancellation slot.
#include <gtest/gtest.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/io_context.hpp>
#include <asio/strand.hpp>
#include <array>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "asio_bypass/detail/handler_op.hpp"
#include "asio_bypass/detail/op_queue.hpp"
#include "asio_bypass/detail/operation.hpp"
#include "asio_bypass/detail/reactive_op.hpp"

using namespace ringlab::bypass::detail;

namespace {

// A test op waiting for an int "source": done once it is offered a value >= need; offer code 1 when it
// took the value, 0 when it was offered nothing.
using test_base = reactive_op<int>;

template <class Handler>
struct test_op : handler_op<test_op<Handler>, test_base, Handler> {
  int need;
  test_op(Handler&& h, const asio::io_context::executor_type& io, int n)
      : handler_op<test_op, test_base, Handler>(std::move(h), io), need(n) {}
  static perform_result do_perform(test_base* base, int src) noexcept {
    auto* o = static_cast<test_op*>(base);
    if (src < o->need) return {false, 0};
    o->bytes_ = static_cast<std::size_t>(src);
    return {true, 1};
  }
};

// A handler recording its calls into a log; `alive` counts live copies of its state.
struct recorder {
  std::vector<std::string>* log;
  std::string name;
  std::shared_ptr<int> alive = std::make_shared<int>(0);
  void operator()(std::error_code ec, std::size_t n) {
    log->push_back(name + ":" + (ec ? ec.message() : std::string("ok")) + ":" + std::to_string(n));
  }
};

template <class H>
test_base* make(asio::io_context& io, H h, int need = 1) {
  return test_op<H>::create(std::move(h), io.get_executor(), need);
}

// Ops "a", "b", "c" queued in that order.
std::array<test_base*, 3> push_abc(asio::io_context& io, op_queue<test_base>& q, std::vector<std::string>& log) {
  std::array<test_base*, 3> ops{make(io, recorder{&log, "a"}), make(io, recorder{&log, "b"}), make(io, recorder{&log, "c"})};
  for (test_base* o : ops) q.push(o);
  return ops;
}

struct owner_stub {
  std::vector<std::pair<op_type, test_base*>> cancelled;
  void cancel_op(op_type t, test_base* o) { cancelled.emplace_back(t, o); }
};

}  // namespace

TEST(op_framework, a_queue_is_first_in_first_out_and_completes_each_op_with_its_result) {
  asio::io_context io;
  std::vector<std::string> log;
  op_queue<test_base> q;
  EXPECT_TRUE(q.empty());
  [[maybe_unused]] auto [a, b, c] = push_abc(io, q, log);
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.front(), a);
  int value = 10;
  while (!q.empty()) {
    test_base* o = q.front();
    ASSERT_TRUE(o->perform(value).done());
    q.pop()->complete(&io);
    ++value;
  }
  EXPECT_EQ(log, (std::vector<std::string>{"a:ok:10", "b:ok:11", "c:ok:12"}));
  EXPECT_EQ(io.run(), 0u) << "no work left behind: every op's work guard went with it";
}

TEST(op_framework, removing_the_middle_op_keeps_the_order_and_the_tail) {
  asio::io_context io;
  std::vector<std::string> log;
  op_queue<test_base> q;
  [[maybe_unused]] auto [a, b, c] = push_abc(io, q, log);
  ASSERT_TRUE(q.remove(b));
  EXPECT_FALSE(q.remove(b)) << "already off the queue: a second cancel finds nothing";
  b->ec_ = std::make_error_code(std::errc::operation_canceled);
  b->complete(&io);
  // the tail is still c: a new op goes behind it; removing the tail then moves the tail back
  test_base* d = make(io, recorder{&log, "d"});
  q.push(d);
  ASSERT_TRUE(q.remove(d));
  test_base* e = make(io, recorder{&log, "e"});
  q.push(e);
  EXPECT_EQ(q.size(), 3u);
  d->destroy();
  while (!q.empty()) {
    test_base* o = q.pop();
    o->bytes_ = 7;
    o->complete(&io);
  }
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[0].substr(0, 2), "b:");
  EXPECT_NE(log[0].find(":0"), std::string::npos);
  EXPECT_EQ(std::vector<std::string>(log.begin() + 1, log.end()), (std::vector<std::string>{"a:ok:7", "c:ok:7", "e:ok:7"}));
}

TEST(op_framework, destroy_only_frees_the_op_without_invoking_its_handler) {
  asio::io_context io;
  std::vector<std::string> log;
  auto state = std::make_shared<int>(0);
  {
    op_queue<test_base> q;
    q.push(make(io, recorder{&log, "a", state}));
    q.push(make(io, recorder{&log, "b", state}));
    test_base* c = make(io, recorder{&log, "c", state});
    EXPECT_EQ(state.use_count(), 4);
    c->destroy();   // func(nullptr, ...): destroy only
    EXPECT_EQ(state.use_count(), 3);
    // the queue's destructor destroys what it still holds (shutdown)
  }
  EXPECT_EQ(state.use_count(), 1) << "every handler copy destroyed";
  EXPECT_TRUE(log.empty()) << "no handler invoked";
  EXPECT_EQ(io.run(), 0u) << "the ops' work guards were released: run() returns at once";
}

TEST(op_framework, per_type_queues_are_independent) {
  asio::io_context io;
  std::vector<std::string> log;
  auto state = std::make_shared<int>(0);
  op_queues<test_base> ops;
  test_base* r1 = make(io, recorder{&log, "r1", state});
  test_base* r2 = make(io, recorder{&log, "r2", state});
  test_base* w1 = make(io, recorder{&log, "w1", state});
  test_base* a1 = make(io, recorder{&log, "a1", state});
  ops[op_type::read].push(r1);
  ops[op_type::read].push(r2);
  ops[op_type::write].push(w1);
  ops[op_type::accept].push(a1);
  EXPECT_EQ(ops[op_type::read].size(), 2u);
  EXPECT_EQ(ops[op_type::write].size(), 1u);
  EXPECT_EQ(ops[op_type::accept].size(), 1u);
  EXPECT_TRUE(ops[op_type::connect].empty());
  // completing a read leaves the write at the head of its own queue
  ops[op_type::read].pop()->complete(&io);
  EXPECT_EQ(ops[op_type::write].front(), w1);
  EXPECT_EQ(ops[op_type::read].front(), r2);
  // removing from one type's queue never finds another type's op
  EXPECT_FALSE(ops[op_type::read].remove(w1));
  EXPECT_TRUE(ops[op_type::write].remove(w1));
  w1->destroy();
  EXPECT_EQ(ops[op_type::accept].front(), a1);
  ops.destroy_all();   // shutdown: every type
  EXPECT_TRUE(ops[op_type::read].empty());
  EXPECT_TRUE(ops[op_type::accept].empty());
  EXPECT_EQ(log, (std::vector<std::string>{"r1:ok:0"}));
  EXPECT_EQ(state.use_count(), 1);
}

TEST(op_framework, perform_reports_done_and_what_it_did_with_the_offer_in_one_byte) {
  asio::io_context io;
  std::vector<std::string> log;
  test_base* o = make(io, recorder{&log, "x"}, 5);
  const perform_result waiting = o->perform(3);
  EXPECT_FALSE(waiting.done());
  EXPECT_EQ(waiting.offer(), 0u);
  const perform_result done = o->perform(5);
  EXPECT_TRUE(done.done());
  EXPECT_EQ(done.offer(), 1u);
  static_assert(sizeof(perform_result) == 1);
  o->complete(&io);
  EXPECT_EQ(log, (std::vector<std::string>{"x:ok:5"}));
}

TEST(op_framework, completion_goes_through_the_handlers_executor_and_clears_its_slot) {
  asio::io_context io;
  auto strand = asio::make_strand(io);
  std::vector<std::string> log;
  bool on_strand = false;
  asio::cancellation_signal sig;
  owner_stub owner;
  auto h = asio::bind_cancellation_slot(sig.slot(), asio::bind_executor(strand, [&](std::error_code ec, std::size_t n) {
    on_strand = strand.running_in_this_thread();
    log.push_back(std::string(ec ? "err" : "ok") + ":" + std::to_string(n));
  }));
  using H = decltype(h);
  auto* o = test_op<H>::create(std::move(h), io.get_executor(), 1);
  o->connect_cancellation(&owner, static_cast<test_base*>(o), op_type::write);
  sig.emit(asio::cancellation_type::partial);
  ASSERT_EQ(owner.cancelled.size(), 1u) << "the slot asks the owner to cancel the op, naming its queue";
  EXPECT_EQ(owner.cancelled[0].first, op_type::write);
  EXPECT_EQ(owner.cancelled[0].second, static_cast<test_base*>(o));
  o->bytes_ = 3;
  // the completion runs inside one of io's handlers (as the service's ready list and posts do)
  asio::post(io, [&] { o->complete(&io); });
  io.run();
  EXPECT_EQ(log, (std::vector<std::string>{"ok:3"}));
  EXPECT_TRUE(on_strand) << "dispatched to the handler's associated executor";
  sig.emit(asio::cancellation_type::terminal);
  EXPECT_EQ(owner.cancelled.size(), 1u) << "the slot was cleared before the upcall";
}
