// The lane's timer structure (stack::timer_queue, a 4-ary heap by handle) against the two standard
// containers a stack would otherwise reach for, with 100 000 timers armed (as 100 000 TCP flows with an
// RTO or keepalive each), cost per operation:
//   arm     arm one more timer (random deadline within 10 s) into the 100 000
//   cancel  cancel one of them (a random one: ACKs cancel RTOs anywhere in the queue)
//   fire    run(now) firing the earliest ones (1024 per run)
// Rows: OP/STRUCTURE/100000. Structures: timer_queue; std_multimap (ordered by (deadline, arm order),
// cancel = erase by iterator); std_priority_queue (cannot cancel: lazy deletion, a generation per slot
// checked on pop, the cancelled entries stay in the heap until they reach the top). Each iteration
// does 1024 operations; items_per_second counts operations. The work that only restores the 100 000
// (cancelling what `arm` armed, arming what `cancel` cancels or `fire` fired) runs with the timing paused.
//
// With `--callgrind OP STRUCTURE` the program instead does one round of 1024 operations under
// CALLGRIND_START/STOP_INSTRUMENTATION (bench/timers/callgrind_timers.sh prints instructions/op).
#include <benchmark/benchmark.h>
#include <valgrind/callgrind.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <queue>
#include <string>
#include <vector>

#include "stack/iface/timer_queue.hpp"

namespace {

using ringlab::stack::time_ns;
using ringlab::stack::timer_queue;

constexpr std::size_t armed = 100'000;
constexpr std::size_t round = 1024;
constexpr time_ns span = 10'000'000'000;   // deadlines within 10 s of now

std::uint64_t fired_count = 0;
void on_fire(void*, std::uint64_t, time_ns) noexcept { ++fired_count; }

std::uint64_t splitmix(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// ---------------------------------------------------------------- the three structures, one shape
struct heap_timers {
  using handle = timer_queue::id;
  timer_queue q{armed + 2 * round};
  handle arm(time_ns at) noexcept { return q.arm(at, &on_fire, nullptr, 0); }
  void cancel(handle h) noexcept { q.cancel(h); }
  std::size_t run(time_ns now) noexcept { return q.run(now); }
};

struct multimap_timers {
  struct timer {
    void (*fn)(void*, std::uint64_t, time_ns) noexcept;
    void* ctx;
    std::uint64_t arg;
  };
  using map = std::multimap<std::pair<time_ns, std::uint64_t>, timer>;
  using handle = map::iterator;
  map m;
  std::uint64_t seq = 0;
  handle arm(time_ns at) { return m.emplace(std::pair{at, seq++}, timer{&on_fire, nullptr, 0}); }
  void cancel(handle h) { m.erase(h); }
  std::size_t run(time_ns now) {
    std::size_t n = 0;
    while (!m.empty() && m.begin()->first.first <= now) {
      const timer t = m.begin()->second;
      m.erase(m.begin());
      t.fn(t.ctx, t.arg, now);
      ++n;
    }
    return n;
  }
};

struct priority_queue_timers {
  struct entry {
    time_ns at;
    std::uint64_t seq;
    std::uint32_t slot, gen;
    bool operator>(const entry& o) const noexcept { return at > o.at || (at == o.at && seq > o.seq); }
  };
  struct handle {
    std::uint32_t slot, gen;
  };
  struct timer {
    void (*fn)(void*, std::uint64_t, time_ns) noexcept = nullptr;
    void* ctx = nullptr;
    std::uint64_t arg = 0;
    std::uint32_t gen = 0;
  };
  std::priority_queue<entry, std::vector<entry>, std::greater<entry>> pq;
  std::vector<timer> slots;
  std::vector<std::uint32_t> free;
  std::uint64_t seq = 0;
  handle arm(time_ns at) {
    std::uint32_t s;
    if (!free.empty()) {
      s = free.back();
      free.pop_back();
    } else {
      s = static_cast<std::uint32_t>(slots.size());
      slots.emplace_back();
    }
    slots[s].fn = &on_fire;
    pq.push({at, seq++, s, slots[s].gen});
    return {s, slots[s].gen};
  }
  void cancel(handle h) {
    if (slots[h.slot].gen != h.gen) return;
    ++slots[h.slot].gen;   // its heap entry goes stale; the slot is reused at once
    free.push_back(h.slot);
  }
  std::size_t run(time_ns now) {
    std::size_t n = 0;
    while (!pq.empty() && pq.top().at <= now) {
      const entry e = pq.top();
      pq.pop();
      timer& t = slots[e.slot];
      if (t.gen != e.gen) continue;   // cancelled
      ++t.gen;
      free.push_back(e.slot);
      t.fn(t.ctx, t.arg, now);
      ++n;
    }
    return n;
  }
};

// A structure with `armed` timers at random deadlines in [now, now + span), their handles in arming order.
template <class T>
struct fixture {
  T t;
  std::vector<typename T::handle> handles;
  std::uint64_t seed = 7;
  time_ns now = 0;
  fixture() {
    handles.reserve(armed);
    for (std::size_t i = 0; i < armed; ++i) handles.push_back(t.arm(now + splitmix(seed) % span));
  }
  time_ns random_deadline() { return now + 1 + splitmix(seed) % span; }
};

// ---------------------------------------------------------------- the three operations
template <class T>
struct ops {
  fixture<T> f;
  std::vector<time_ns> at = std::vector<time_ns>(round);
  std::vector<typename T::handle> mine;
  std::vector<std::size_t> victims = std::vector<std::size_t>(round);
  time_ns step = 0;   // fire: how far now moves to fire about `round` timers

  void prepare_arm() {
    for (auto& a : at) a = f.random_deadline();
    mine.clear();
  }
  void do_arm() {
    for (std::size_t i = 0; i < round; ++i) mine.push_back(f.t.arm(at[i]));
  }
  void undo_arm() {
    for (auto h : mine) f.t.cancel(h);
  }
  void prepare_cancel() {
    for (auto& v : victims) v = splitmix(f.seed) % armed;
    std::sort(victims.begin(), victims.end());
    victims.erase(std::unique(victims.begin(), victims.end()), victims.end());
    std::size_t k = victims.size();   // distinct random indices; shuffle the order they are cancelled in
    while (k > 1) {
      const std::size_t j = splitmix(f.seed) % k--;
      std::swap(victims[k], victims[j]);
    }
  }
  std::size_t do_cancel() {
    for (auto v : victims) f.t.cancel(f.handles[v]);
    return victims.size();
  }
  void undo_cancel() {
    for (auto v : victims) f.handles[v] = f.t.arm(f.random_deadline());
  }
  std::size_t do_fire() {
    if (step == 0) step = span / armed * round;   // uniform deadlines: `round` per step on average
    f.now += step;
    return f.t.run(f.now);
  }
  void undo_fire(std::size_t n) {
    // Keep 100 000 armed: as many new timers as fired, deadlines within `span` of the new now. Their
    // handles replace random old ones (stale now or soon: cancel() on a fired handle is not used here).
    for (std::size_t i = 0; i < n; ++i) (void)f.t.arm(f.random_deadline());
  }
};

template <class T>
void bm_arm(benchmark::State& st) {
  ops<T> o;
  for (auto _ : st) {
    st.PauseTiming();
    o.prepare_arm();
    st.ResumeTiming();
    o.do_arm();
    st.PauseTiming();
    o.undo_arm();
    st.ResumeTiming();
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * round));
}

template <class T>
void bm_cancel(benchmark::State& st) {
  ops<T> o;
  std::size_t done = 0;
  for (auto _ : st) {
    st.PauseTiming();
    o.prepare_cancel();
    st.ResumeTiming();
    done += o.do_cancel();
    st.PauseTiming();
    o.undo_cancel();
    st.ResumeTiming();
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(done));
}

template <class T>
void bm_fire(benchmark::State& st) {
  ops<T> o;
  std::size_t done = 0;
  const std::uint64_t before = fired_count;
  for (auto _ : st) {
    const std::size_t n = o.do_fire();
    done += n;
    st.PauseTiming();
    o.undo_fire(n);
    st.ResumeTiming();
  }
  if (fired_count - before != done) st.SkipWithError("a run's count and the callbacks disagree");
  if (done == 0) st.SkipWithError("nothing fired");
  st.SetItemsProcessed(static_cast<std::int64_t>(done));
}

template <class T>
void register_all(const std::string& name) {
  const std::string n = "/" + name + "/" + std::to_string(armed);
  benchmark::RegisterBenchmark(("arm" + n).c_str(), bm_arm<T>);
  benchmark::RegisterBenchmark(("cancel" + n).c_str(), bm_cancel<T>);
  benchmark::RegisterBenchmark(("fire" + n).c_str(), bm_fire<T>);
}

// One round of `op` on `T` under callgrind instrumentation; prints the operations done.
template <class T>
int callgrind_round(const std::string& op) {
  ops<T> o;
  std::size_t n = 0;
  if (op == "arm") {
    o.prepare_arm();
    CALLGRIND_START_INSTRUMENTATION;
    o.do_arm();
    CALLGRIND_STOP_INSTRUMENTATION;
    n = round;
  } else if (op == "cancel") {
    o.prepare_cancel();
    CALLGRIND_START_INSTRUMENTATION;
    n = o.do_cancel();
    CALLGRIND_STOP_INSTRUMENTATION;
  } else if (op == "fire") {
    CALLGRIND_START_INSTRUMENTATION;
    n = o.do_fire();
    CALLGRIND_STOP_INSTRUMENTATION;
  } else {
    std::fprintf(stderr, "bench_timers: --callgrind: unknown operation '%s' (arm, cancel, fire)\n", op.c_str());
    return 2;
  }
  std::printf("operations: %zu\n", n);
  return n ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "--callgrind") == 0) {
    if (argc != 4) {
      std::fprintf(stderr, "usage: bench_timers --callgrind arm|cancel|fire timer_queue|std_multimap|std_priority_queue\n");
      return 2;
    }
    const std::string op = argv[2], s = argv[3];
    if (s == "timer_queue") return callgrind_round<heap_timers>(op);
    if (s == "std_multimap") return callgrind_round<multimap_timers>(op);
    if (s == "std_priority_queue") return callgrind_round<priority_queue_timers>(op);
    std::fprintf(stderr, "bench_timers: --callgrind: unknown structure '%s'\n", s.c_str());
    return 2;
  }
  register_all<heap_timers>("timer_queue");
  register_all<multimap_timers>("std_multimap");
  register_all<priority_queue_timers>("std_priority_queue");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
