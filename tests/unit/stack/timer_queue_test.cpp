// The lane's timer_queue alone: firing order (deadline, then arm order), never early, cancel and
// re-arm by handle, callbacks that re-arm themselves or cancel and arm others while firing,
// next_deadline, stale handles, and 100 000 timers that each fire exactly once at or after their time.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "stack/iface/timer_queue.hpp"

using namespace ringlab::stack;

namespace {

struct fired {
  std::uint64_t arg;
  time_ns now;
  bool operator==(const fired&) const = default;
};

struct log_sink {
  std::vector<fired> got;
  static void fn(void* self, std::uint64_t arg, time_ns now) noexcept {
    static_cast<log_sink*>(self)->got.push_back({arg, now});
  }
};

std::uint64_t splitmix(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

TEST(stack_timer_queue, fires_by_deadline_then_arm_order_and_never_early) {
  timer_queue q;
  log_sink s;
  EXPECT_EQ(q.next_deadline(), never);
  q.arm(30, &log_sink::fn, &s, 1);
  q.arm(10, &log_sink::fn, &s, 2);
  q.arm(20, &log_sink::fn, &s, 3);
  q.arm(10, &log_sink::fn, &s, 4);   // same deadline as 2, armed later: after it
  q.arm(20, &log_sink::fn, &s, 5);
  EXPECT_EQ(q.next_deadline(), 10u);
  EXPECT_EQ(q.size(), 5u);
  EXPECT_EQ(q.run(9), 0u);
  EXPECT_TRUE(s.got.empty());
  EXPECT_EQ(q.run(25), 4u);
  EXPECT_EQ(s.got, (std::vector<fired>{{2, 25}, {4, 25}, {3, 25}, {5, 25}}));
  EXPECT_EQ(q.next_deadline(), 30u);
  EXPECT_EQ(q.run(30), 1u);
  EXPECT_EQ(s.got.back(), (fired{1, 30}));
  EXPECT_EQ(q.next_deadline(), never);
  EXPECT_EQ(q.size(), 0u);
}

TEST(stack_timer_queue, cancel_and_rearm_by_handle) {
  timer_queue q;
  log_sink s;
  const auto a = q.arm(100, &log_sink::fn, &s, 1);
  const auto b = q.arm(200, &log_sink::fn, &s, 2);
  const auto c = q.arm(300, &log_sink::fn, &s, 3);
  const auto d = q.arm(300, &log_sink::fn, &s, 4);
  EXPECT_TRUE(q.armed(a));
  EXPECT_EQ(q.deadline(b), 200u);
  EXPECT_TRUE(q.cancel(a));
  EXPECT_FALSE(q.cancel(a));   // stale now
  EXPECT_FALSE(q.armed(a));
  EXPECT_EQ(q.deadline(a), never);
  EXPECT_EQ(q.next_deadline(), 200u);
  EXPECT_TRUE(q.rearm(b, 400));   // later
  EXPECT_EQ(q.next_deadline(), 300u);
  EXPECT_TRUE(q.rearm(c, 300));   // the same deadline again: now behind d
  EXPECT_TRUE(q.rearm(d, 50));    // earlier
  EXPECT_EQ(q.next_deadline(), 50u);
  EXPECT_FALSE(q.rearm(a, 10));   // a cancelled timer is not brought back
  EXPECT_EQ(q.run(1000), 3u);
  EXPECT_EQ(s.got, (std::vector<fired>{{4, 1000}, {3, 1000}, {2, 1000}}));
  EXPECT_FALSE(q.cancel(b));      // fired: stale
  EXPECT_FALSE(q.rearm(c, 2000));
}

TEST(stack_timer_queue, a_stale_handle_never_touches_the_timer_that_reuses_its_slot) {
  timer_queue q;
  log_sink s;
  const auto old = q.arm(1, &log_sink::fn, &s, 1);
  EXPECT_EQ(q.run(1), 1u);
  const auto fresh = q.arm(5, &log_sink::fn, &s, 2);
  EXPECT_EQ(fresh.slot, old.slot);   // the slot is reused, its generation is not
  EXPECT_FALSE(q.cancel(old));
  EXPECT_FALSE(q.rearm(old, 100));
  EXPECT_TRUE(q.cancel(timer_queue::id{}) == false);
  EXPECT_EQ(q.deadline(fresh), 5u);
  EXPECT_EQ(q.run(5), 1u);
  EXPECT_EQ(s.got, (std::vector<fired>{{1, 1}, {2, 5}}));
}

namespace {
// A callback that works on the queue it fires from.
struct actor {
  timer_queue* q = nullptr;
  std::vector<std::string> log;
  timer_queue::id self, victim;
  int periods = 0;
  static void periodic(void* p, std::uint64_t, time_ns now) noexcept {
    auto& me = *static_cast<actor*>(p);
    me.log.push_back("periodic@" + std::to_string(now));
    if (++me.periods < 3) {
      EXPECT_TRUE(me.q->rearm(me.self, now + 10));   // itself, by its own id
    }
  }
  static void killer(void* p, std::uint64_t, time_ns now) noexcept {
    auto& me = *static_cast<actor*>(p);
    me.log.push_back("killer@" + std::to_string(now));
    EXPECT_TRUE(me.q->cancel(me.victim));   // due at the same time, not fired yet
    me.q->arm(now, &actor::plain, &me, 7);  // for "now" from inside run(now): due at now + 1
    me.q->arm(now + 5, &actor::plain, &me, 8);
  }
  static void plain(void* p, std::uint64_t arg, time_ns now) noexcept {
    static_cast<actor*>(p)->log.push_back("plain" + std::to_string(arg) + "@" + std::to_string(now));
  }
  static void self_cancel(void* p, std::uint64_t, time_ns now) noexcept {
    auto& me = *static_cast<actor*>(p);
    me.log.push_back("self_cancel@" + std::to_string(now));
    EXPECT_TRUE(me.q->cancel(me.self));   // the firing timer itself: gone, not re-armed
    EXPECT_FALSE(me.q->cancel(me.self));
  }
};
}  // namespace

TEST(stack_timer_queue, callbacks_rearm_themselves_cancel_and_arm_others_while_firing) {
  timer_queue q;
  actor a;
  a.q = &q;
  a.self = q.arm(10, &actor::periodic, &a);
  q.arm(20, &actor::killer, &a);
  a.victim = q.arm(20, &actor::plain, &a, 6);
  EXPECT_EQ(q.run(20), 2u);   // periodic (due 10, re-armed for 30), killer; plain6 cancelled by killer
  EXPECT_EQ(q.next_deadline(), 21u);   // plain7, armed for 20 during run(20)
  EXPECT_EQ(q.run(100), 3u);           // plain7, plain8, periodic (re-armed for 110: not due)
  EXPECT_EQ(q.next_deadline(), 110u);
  EXPECT_EQ(q.run(110), 1u);
  EXPECT_EQ(a.log, (std::vector<std::string>{"periodic@20", "killer@20", "plain7@100", "plain8@100",
                                             "periodic@100", "periodic@110"}));
  EXPECT_EQ(q.next_deadline(), never);
  EXPECT_EQ(a.periods, 3);
}

TEST(stack_timer_queue, a_timer_may_cancel_itself_while_firing) {
  timer_queue q;
  actor a;
  a.q = &q;
  a.self = q.arm(1, &actor::self_cancel, &a);
  EXPECT_EQ(q.run(1), 1u);
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(a.log, (std::vector<std::string>{"self_cancel@1"}));
}

// Arm numbers are 32 bits and get renumbered before they wrap; renumbering keeps every order.
TEST(stack_timer_queue, renumbering_the_arm_order_changes_no_order) {
  timer_queue q;
  log_sink s;
  std::vector<timer_queue::id> ids;
  for (std::uint64_t i = 0; i < 40; ++i) ids.push_back(q.arm(100 + (i * 7) % 5, &log_sink::fn, &s, i));
  for (std::uint64_t i = 0; i < 40; i += 3) q.rearm(ids[i], 100 + i % 5);   // behind their new peers
  q.cancel(ids[5]);
  timer_queue ref;   // the same history, never renumbered
  log_sink r;
  std::vector<timer_queue::id> rids;
  for (std::uint64_t i = 0; i < 40; ++i) rids.push_back(ref.arm(100 + (i * 7) % 5, &log_sink::fn, &r, i));
  for (std::uint64_t i = 0; i < 40; i += 3) ref.rearm(rids[i], 100 + i % 5);
  ref.cancel(rids[5]);
  q.renumber();
  q.arm(102, &log_sink::fn, &s, 99);   // armed after the renumbering: after every tie at 102
  ref.arm(102, &log_sink::fn, &r, 99);
  q.run(1000);
  ref.run(1000);
  EXPECT_EQ(s.got.size(), 40u);
  EXPECT_EQ(s.got, r.got);
  // At 100: those armed there and never moved (5 cancelled), then those re-armed there, in that order.
  ASSERT_GE(s.got.size(), 8u);
  std::vector<std::uint64_t> first8;
  for (std::size_t i = 0; i < 8; ++i) first8.push_back(s.got[i].arg);
  EXPECT_EQ(first8, (std::vector<std::uint64_t>{10, 20, 25, 35, 0, 15, 30, 8}));
}

TEST(stack_timer_queue, deadlines_at_the_ends_of_the_clock) {
  timer_queue q;
  log_sink s;
  q.arm(never - 1, &log_sink::fn, &s, 1);
  q.arm(0, &log_sink::fn, &s, 2);
  const auto n = q.arm(never, &log_sink::fn, &s, 3);   // "never" is a deadline too: it never fires
  EXPECT_EQ(q.next_deadline(), 0u);
  EXPECT_EQ(q.run(0), 1u);
  EXPECT_EQ(q.next_deadline(), never - 1);
  EXPECT_EQ(q.run(never - 1), 1u);
  EXPECT_EQ(s.got, (std::vector<fired>{{2, 0}, {1, never - 1}}));
  EXPECT_TRUE(q.armed(n));
}

// 100 000 timers over 10 s, some cancelled and some moved, polled at uneven steps: each live one
// fires exactly once, never before its deadline, and the whole firing order is the reference order
// (std::multimap of (deadline, arm order)) cut at the poll times.
TEST(stack_timer_queue, hundred_thousand_timers_fire_exactly_once_at_or_after_their_time) {
  constexpr std::size_t n = 100'000;
  timer_queue q(n);
  struct sink {
    std::vector<std::uint64_t> order;
    std::vector<time_ns> at;
    std::vector<int> count;
    static void fn(void* p, std::uint64_t i, time_ns now) noexcept {
      auto& me = *static_cast<sink*>(p);
      me.order.push_back(i);
      me.at.push_back(now);
      ++me.count[i];
    }
  } s;
  s.count.assign(n, 0);
  std::uint64_t seed = 42;
  std::vector<timer_queue::id> ids(n);
  std::vector<time_ns> deadline(n);
  std::multimap<std::pair<time_ns, std::uint64_t>, std::uint64_t> ref;   // (deadline, arm seq) -> timer
  std::vector<decltype(ref)::iterator> where(n);
  std::uint64_t seq = 0;
  for (std::size_t i = 0; i < n; ++i) {
    deadline[i] = splitmix(seed) % (10 * sec) / 1000 * 1000;   // microsecond grid: many equal deadlines
    ids[i] = q.arm(deadline[i], &sink::fn, &s, i);
    where[i] = ref.emplace(std::pair{deadline[i], seq++}, i);
  }
  std::size_t cancelled = 0;
  for (std::size_t i = 0; i < n; i += 7) {   // cancel every 7th, move every 11th
    ASSERT_TRUE(q.cancel(ids[i]));
    ref.erase(where[i]);
    ++cancelled;
  }
  for (std::size_t i = 3; i < n; i += 11) {
    if (i % 7 == 0) continue;
    deadline[i] = splitmix(seed) % (10 * sec);
    ASSERT_TRUE(q.rearm(ids[i], deadline[i]));
    ref.erase(where[i]);
    where[i] = ref.emplace(std::pair{deadline[i], seq++}, i);
  }
  ASSERT_EQ(q.size(), n - cancelled);
  ASSERT_EQ(q.next_deadline(), ref.begin()->first.first);
  time_ns now = 0;
  std::size_t total = 0;
  while (q.next_deadline() != never) {
    now += 1 + splitmix(seed) % (50 * ms);
    const std::size_t before = s.order.size();
    total += q.run(now);
    for (std::size_t k = before; k < s.order.size(); ++k) ASSERT_GE(now, deadline[s.order[k]]);
    ASSERT_TRUE(q.next_deadline() == never || q.next_deadline() > now);
  }
  EXPECT_EQ(total, n - cancelled);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(s.count[i], i % 7 == 0 ? 0 : 1) << "timer " << i;
  std::vector<std::uint64_t> want;
  for (const auto& [key, i] : ref) want.push_back(i);
  EXPECT_EQ(s.order, want);
}
