#pragma once
// iperf3::test_registry: what the lanes of `ringlab iperf3-server --lanes N` share about the one test
// under way (iperf3's server runs one test at a time). An iperf3 test is a control connection plus P
// data connections, each on whatever lane RSS gave it; a lane's io_context takes no lock and nothing
// may be posted to it from another thread (bypass::tcp_lanes). So:
//
//   control lane   begin(cookie) -> the test; open_streams(params) once the parameters are in;
//                  its flag timer sees `joined` reach P -> TEST_START, sets `run`; TEST_END -> `stop`;
//                  the results are sent once every slot is `final`
//   any lane       a connection's cookie: join(cookie) -> a slot (id, bytes) for a data connection,
//                  which stays on that lane (its TCP state lives in that lane's stack); its flag
//                  timer sees `run` -> it reads (or with -R writes), counting into the slot's atomic;
//                  `stop` -> it closes, stores its retransmits, and marks the slot final
//
// The mutex is taken only at connection setup (a cookie read), at the test's start and end, and by
// counted()/slots() (setup-time callers and the sim's owner): never per segment. Per segment a lane
// writes its own slot's counter only (one writer; the control lane reads it).
#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "tools/iperf3/protocol.hpp"

namespace ringlab::iperf3 {

using cookie_bytes = std::array<char, cookie_size>;

// One data connection of the test, written by the lane it lives on.
struct stream_slot {
  int id = 0;                 // iperf3's stream id (1, 3, 4, ...): the accept order (join() says why)
  std::size_t lane = 0;       // the lane RSS gave the connection
  std::uint16_t peer_port = 0;
  double accepted_s = 0;      // when its lane accepted it (the lanes' common steady clock)
  // Own cache line: each is written per read completion by its own lane, and two streams on two lanes
  // would otherwise write one line (the slots are allocated one after another).
  alignas(64) std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::int64_t> retransmits{-1};   // -R: the stack's RetransSegs, read before the close
  std::atomic<bool> final{false};              // (release) bytes and retransmits will not change again
};

// The test under way: its cookie, its control lane, and the flags the lanes' timers read.
struct shared_test {
  cookie_bytes cookie{};
  std::size_t control_lane = 0;
  test_params params;                              // set by open_streams (under the mutex) before any join
  std::atomic<std::uint32_t> joined{0};            // (release) slots made; the control lane's TEST_START
  std::atomic<bool> run{false};                    // (release) TEST_START sent: the streams start
  std::atomic<bool> stop{false};                   // (release) TEST_END or the test's end: the streams close
};

class test_registry {
 public:
  // A control connection's cookie while idle: the new test, owned by `lane`. nullptr while a test is
  // under way (the caller answers ACCESS_DENIED).
  std::shared_ptr<shared_test> begin(const cookie_bytes& cookie, std::size_t lane) {
    std::lock_guard g(m_);
    if (current_) return nullptr;
    current_ = std::make_shared<shared_test>();
    current_->cookie = cookie;
    current_->control_lane = lane;
    accepting_ = false;
    slots_.clear();
    return current_;
  }
  // The parameters are in (CREATE_STREAMS sent): data connections with the cookie may join now.
  void open_streams(shared_test& t, const test_params& p) {
    std::lock_guard g(m_);
    if (current_.get() != &t) return;
    t.params = p;
    accepting_ = true;
  }
  // A data connection's cookie on `lane`: its slot and the test, or {nullptr, nullptr} (not the test's
  // cookie, not while its streams are being made, or P streams already joined).
  // Ids: iperf3's client numbers its streams in the order it opened them, one after the other
  // (connect, cookie, next), and a one-lane server in the order it accepted them; across lanes the
  // cookies may be read out of that order, so once P joined the ids follow the accept times.
  std::pair<std::shared_ptr<shared_test>, std::shared_ptr<stream_slot>> join(const cookie_bytes& cookie, std::size_t lane,
                                                                             std::uint16_t peer_port, double accepted_s = 0) {
    std::lock_guard g(m_);
    if (!current_ || !accepting_ || current_->cookie != cookie || slots_.size() >= current_->params.parallel) return {};
    auto s = std::make_shared<stream_slot>();
    s->id = stream_id(slots_.size());
    s->lane = lane;
    s->peer_port = peer_port;
    s->accepted_s = accepted_s;
    slots_.push_back(s);
    if (slots_.size() == current_->params.parallel) {
      accepting_ = false;
      std::stable_sort(slots_.begin(), slots_.end(), [](const auto& a, const auto& b) { return a->accepted_s < b->accepted_s; });
      for (std::size_t i = 0; i < slots_.size(); ++i) slots_[i]->id = stream_id(i);   // before `joined` releases them
    }
    current_->joined.store(static_cast<std::uint32_t>(slots_.size()), std::memory_order_release);
    return {current_, s};
  }
  // The test's streams, in the order they joined (their ids' order).
  std::vector<std::shared_ptr<stream_slot>> slots(const shared_test& t) const {
    std::lock_guard g(m_);
    return current_.get() == &t ? slots_ : std::vector<std::shared_ptr<stream_slot>>{};
  }
  // The test ended (the control lane): its streams are told to stop; idle again.
  void end(shared_test& t) {
    t.stop.store(true, std::memory_order_release);
    std::lock_guard g(m_);
    if (current_.get() != &t) return;
    current_.reset();
    slots_.clear();
    accepting_ = false;
  }
  // The bytes the running test's streams counted so far (0 when idle).
  std::uint64_t counted() const {
    std::lock_guard g(m_);
    std::uint64_t n = 0;
    for (const auto& s : slots_) n += s->bytes.load(std::memory_order_relaxed);
    return n;
  }

 private:
  mutable std::mutex m_;
  std::shared_ptr<shared_test> current_;
  std::vector<std::shared_ptr<stream_slot>> slots_;
  bool accepting_ = false;
};

}  // namespace ringlab::iperf3
