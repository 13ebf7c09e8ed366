// Two lanes allocate and free through their own frame_pool::cache while a third thread frees frames
// the lanes hand it to the shared list, as a TX completion or a socket on another thread would. Every
// frame is held by one thread at a time (a per-frame owner word catches a frame handed out twice), its
// bytes stamped by the holder and checked before it goes back; at the end out() is exactly 0, nothing
// was a bad free, and the shared list holds every frame once. Built under TSan by CI (label threads).
#include <gtest/gtest.h>
#include <pthread.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "port/frame_pool.hpp"

using namespace ringlab::port;

TEST(frame_pool_cache_stress, two_lanes_and_a_shared_list_freer_never_share_a_frame) {
  constexpr std::uint32_t frames = 1024;   // 2 caches x 1.5 x 128 + bursts + the hand-off's bound
  constexpr int rounds = 20000;
  frame_pool pool({.frames = frames, .frame_size = 2048, .headroom = 256});
  std::vector<std::atomic<int>> owner(frames);
  std::atomic<std::uint64_t> twice{0}, stamp_bad{0}, allocated{0}, to_third{0};
  std::atomic<int> pending{0};         // frames handed and not yet freed: lanes wait above 256
  std::uint64_t third_calls = 0;       // the third thread's free_burst calls (one lock each)

  std::mutex mu;                       // the hand-off to the third thread
  std::condition_variable cv;
  std::deque<frame_ref> handed;
  int lanes_left = 2;

  auto take = [&](const frame_ref& f, int who) {
    int expect = 0;
    if (!owner[f.id].compare_exchange_strong(expect, who)) twice.fetch_add(1);
    std::memset(f.bytes.data(), who, 64);
  };
  auto check_and_drop = [&](const frame_ref& f, int who) {
    for (int i = 0; i < 64; ++i)
      if (f.bytes[i] != std::byte(who)) { stamp_bad.fetch_add(1); break; }
    owner[f.id].store(0);
  };

  auto lane = [&](int who) {
    const std::string name = "lane" + std::to_string(who);
    pthread_setname_np(pthread_self(), name.c_str());
    frame_pool::cache c(pool, 128);   // at least the largest burst, or the cache thrashes (DPDK sizes it so too)
    std::array<frame_ref, 24> burst{};
    for (int r = 0; r < rounds; ++r) {
      const std::size_t want = 1 + static_cast<std::size_t>(r * 7 + who) % burst.size();
      const std::size_t n = c.alloc_burst({burst.data(), want});
      allocated.fetch_add(n, std::memory_order_relaxed);
      for (std::size_t i = 0; i < n; ++i) take(burst[i], who);
      // Every fifth burst's first frame goes to the third thread; the rest back through this cache.
      std::size_t from = 0;
      if (n && r % 5 == 0) {
        while (pending.load() >= 256) std::this_thread::yield();
        pending.fetch_add(1);
        check_and_drop(burst[0], who);
        owner[burst[0].id].store(3);
        std::memset(burst[0].bytes.data(), 3, 64);
        {
          std::lock_guard lk(mu);
          handed.push_back(burst[0]);
        }
        cv.notify_one();
        to_third.fetch_add(1, std::memory_order_relaxed);
        from = 1;
      }
      for (std::size_t i = from; i < n; ++i) check_and_drop(burst[i], who);
      c.free_burst({burst.data() + from, n - from});
    }
    std::lock_guard lk(mu);
    --lanes_left;
    cv.notify_one();
  };

  std::thread third([&] {
    pthread_setname_np(pthread_self(), "shared-freer");
    std::unique_lock lk(mu);
    while (true) {
      cv.wait(lk, [&] { return !handed.empty() || lanes_left == 0; });
      if (handed.empty() && lanes_left == 0) break;
      std::vector<frame_ref> mine(handed.begin(), handed.end());
      handed.clear();
      lk.unlock();
      for (const auto& f : mine) check_and_drop(f, 3);
      pool.free_burst(mine);
      ++third_calls;
      pending.fetch_sub(static_cast<int>(mine.size()));
      lk.lock();
    }
  });
  std::thread a(lane, 1), b(lane, 2);
  a.join();
  b.join();
  third.join();

  EXPECT_EQ(twice.load(), 0u) << "a frame was handed out while another thread held it";
  EXPECT_EQ(stamp_bad.load(), 0u) << "a frame's bytes changed while one thread held it";
  EXPECT_EQ(pool.bad_frees(), 0u);
  EXPECT_EQ(pool.out(), 0u);
  EXPECT_GT(to_third.load(), 0u);
  EXPECT_GE(allocated.load(), 2u * rounds);
  EXPECT_EQ(pool.alloc_failures(), 0u);
  // The lanes take the shared list's lock once per refill / flush, not once per burst: each lane gives
  // 4000 frames to the third thread, so its cache refills about 4000 / 128 times.
  EXPECT_LT(pool.lock_acquisitions() - third_calls, 2u * rounds / 100) << "bursts: " << 2 * rounds << ", alloc failures " << pool.alloc_failures() << ", to the third " << to_third.load();
  // The caches are gone: every frame is in the shared list exactly once.
  std::vector<frame_ref> all(frames + 1);
  ASSERT_EQ(pool.alloc_burst(all), frames);
  std::vector<bool> seen(frames);
  for (std::uint32_t i = 0; i < frames; ++i) {
    EXPECT_FALSE(seen[all[i].id]);
    seen[all[i].id] = true;
  }
  pool.free_burst({all.data(), frames});
}
