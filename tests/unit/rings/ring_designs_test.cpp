// What only some designs have: zero-copy windows at the wrap, netmap's ownership rule and buffer swap,
// the UMEM ring set, objects constructed and destroyed in slots, the registry.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "rings/registry.hpp"
#include "tests/unit/rings/designs.hpp"

namespace ringlab::rings::test {
namespace {

constexpr std::uint32_t near_wrap = std::numeric_limits<std::uint32_t>::max() - 2;

// ---------------- zero-copy (spsc, batch) ----------------
template <class R>
class zero_copy : public ::testing::Test {};
template <class T>
using zero_copy_rings = ::testing::Types<spsc_ring<T>, batch_ring<T>>;
TYPED_TEST_SUITE(zero_copy, zero_copy_rings<std::uint64_t>);

TYPED_TEST(zero_copy, reserve_and_peek_return_two_segments_at_the_wrap) {
  TypeParam r(8, near_wrap);
  std::uint64_t tmp[6];
  for (int i = 0; i < 6; ++i) tmp[i] = 100 + i;
  ASSERT_EQ(r.enqueue_burst(tmp), 6u);  // slots (near_wrap & 7) = 5, 6, 7, 0, 1, 2
  std::uint64_t out[6];
  ASSERT_EQ(r.dequeue_burst(out), 6u);
  auto w = r.reserve(8);  // producer at slot 3: 3..7, then 0..2
  ASSERT_EQ(w.size(), 8u);
  EXPECT_EQ(w.first.size(), 5u);
  EXPECT_EQ(w.second.size(), 3u);
  EXPECT_EQ(w.index, near_wrap + 6);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 1000 + i;
  EXPECT_EQ(r.size(), 0u) << "nothing is visible before submit";
  r.submit(7);
  EXPECT_EQ(r.size(), 7u);
  auto p = r.peek(8);
  ASSERT_EQ(p.size(), 7u);
  EXPECT_EQ(p.first.size(), 5u);
  EXPECT_EQ(p.second.size(), 2u);
  EXPECT_EQ(p.first.data(), w.first.data()) << "peek hands out the very slots reserve wrote";
  for (std::size_t i = 0; i < 7; ++i) EXPECT_EQ(p[i], 1000 + i);
  r.release(4);
  EXPECT_EQ(r.size(), 3u);
  auto q = r.peek(8);
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q.first.size(), 1u);
  EXPECT_EQ(q.second.size(), 2u);
  EXPECT_EQ(q[0], 1004u);
  EXPECT_EQ(r.reserve(8).size(), 5u) << "free = 8 - 3";
}

TYPED_TEST(zero_copy, reserve_on_full_and_peek_on_empty_are_empty) {
  TypeParam r(4);
  EXPECT_TRUE(r.peek(4).empty());
  auto w = r.reserve(4);
  ASSERT_EQ(w.size(), 4u);
  EXPECT_TRUE(w.second.empty());
  r.submit(4);
  EXPECT_TRUE(r.reserve(1).empty());
}

// ---------------- batch: publication in batches, the deadlock rules ----------------
TEST(batch_ring, try_push_publishes_once_per_batch_and_at_flush) {
  batch_ring<std::uint64_t> r(16, near_wrap, 4);
  ASSERT_EQ(r.batch(), 4u);
  std::uint64_t v = 0;
  for (std::uint64_t i = 1; i <= 3; ++i) ASSERT_TRUE(r.try_push(i));
  EXPECT_EQ(r.size(), 0u) << "3 of a batch of 4: not published";
  EXPECT_FALSE(r.try_pop(v)) << "the consumer cannot see unpublished items";
  ASSERT_TRUE(r.try_push(4));
  EXPECT_EQ(r.size(), 4u) << "the 4th push publishes the batch";
  for (std::uint64_t i = 1; i <= 3; ++i) {
    ASSERT_TRUE(r.try_pop(v));
    EXPECT_EQ(v, i);
  }
  EXPECT_EQ(r.size(), 4u) << "3 pops of a batch of 4: slots not given back yet";
  ASSERT_TRUE(r.try_pop(v));
  EXPECT_EQ(v, 4u);
  EXPECT_EQ(r.size(), 0u) << "the 4th pop gives the batch back";
  ASSERT_TRUE(r.try_push(5));
  ASSERT_TRUE(r.try_push(6));
  EXPECT_EQ(r.size(), 0u);
  r.flush_producer();
  EXPECT_EQ(r.size(), 2u) << "flush publishes the pending two";
  r.flush_producer();
  EXPECT_EQ(r.size(), 2u);
  ASSERT_TRUE(r.try_pop(v));
  EXPECT_EQ(v, 5u);
  EXPECT_EQ(r.size(), 2u);
  r.flush_consumer();
  EXPECT_EQ(r.size(), 1u) << "flush gives the popped slot back";
  std::uint64_t out[4];
  ASSERT_TRUE(r.try_push(7));
  ASSERT_EQ(r.dequeue_burst(out), 1u) << "7 is pending";
  EXPECT_EQ(out[0], 6u);
  EXPECT_EQ(r.size(), 0u) << "a dequeue call gives back what it took";
  const std::uint64_t eight = 8;
  ASSERT_EQ(r.enqueue_burst({&eight, 1}), 1u);
  EXPECT_EQ(r.size(), 2u) << "an enqueue call publishes try_push's pending item with its own";
  ASSERT_EQ(r.dequeue_burst(out), 2u);
  EXPECT_EQ(out[0], 7u);
  EXPECT_EQ(out[1], 8u);
}

// MCRingBuffer's trap: the producer holds unpublished items and waits for room, the consumer holds
// slots not given back and waits for items. Each side's rule, shown alone.
TEST(batch_ring, a_full_push_publishes_and_an_empty_pop_gives_back) {
  batch_ring<std::uint64_t> r(8, near_wrap, 4);
  std::uint64_t v = 0;
  const std::uint64_t first[2] = {1, 2};
  ASSERT_EQ(r.enqueue_burst(first), 2u);
  for (std::uint64_t i = 3; i <= 8; ++i) ASSERT_TRUE(r.try_push(i));
  EXPECT_EQ(r.size(), 6u) << "published at 6 (a batch of 4 after the burst); 7 and 8 pending";
  EXPECT_FALSE(r.try_push(9)) << "full";
  EXPECT_EQ(r.size(), 8u) << "the full push published the pending two";
  ASSERT_EQ(r.dequeue_burst({&v, 1}), 1u);
  EXPECT_EQ(v, 1u);
  for (std::uint64_t i = 2; i <= 7; ++i) {
    ASSERT_TRUE(r.try_pop(v));
    EXPECT_EQ(v, i);
  }
  EXPECT_EQ(r.size(), 3u) << "given back at 5 (a batch of 4 after the burst); 6 and 7 held";
  ASSERT_TRUE(r.try_pop(v));
  EXPECT_EQ(v, 8u);
  EXPECT_EQ(r.size(), 3u);
  EXPECT_FALSE(r.try_pop(v)) << "empty";
  EXPECT_EQ(r.size(), 0u) << "the empty pop gave back the held three";
  for (std::uint64_t i = 9; i <= 16; ++i) ASSERT_TRUE(r.try_push(i)) << "all 8 slots are free again";
}

TEST(batch_ring, batch_is_clamped_to_the_ring) {
  EXPECT_EQ(batch_ring<std::uint64_t>(8, 0, 100).batch(), 8u);
  EXPECT_EQ(batch_ring<std::uint64_t>(8, 0, 0).batch(), 1u);
  EXPECT_EQ(batch_ring<std::uint64_t>(4096).batch(), batch_ring<std::uint64_t>::default_batch);
  batch_ring<std::uint64_t> one(8, 0, 1);
  ASSERT_TRUE(one.try_push(1));
  EXPECT_EQ(one.size(), 1u) << "a batch of 1 publishes every push, as spsc";
}
// The producer's prefetch-for-write runs write_ahead slots (4 KiB) past each burst, but only over slots
// its cached tail counts as free: a line the consumer may still read is never taken from it.
TEST(batch_ring, burst_prefetch_stays_inside_the_free_slots) {
  batch_ring<std::uint64_t> r(64, near_wrap);  // 4 KiB ahead is 512 slots: the ring (64) bounds it
  std::vector<std::uint64_t> in(64, 7), out(64);
  ASSERT_EQ(r.enqueue_burst({in.data(), 32}), 32u);
  EXPECT_EQ(r.prefetched_until(), near_wrap + 64) << "up to tail + size, across 2^32";
  ASSERT_EQ(r.enqueue_burst({in.data(), 32}), 32u);  // full: nothing free to take
  EXPECT_EQ(r.prefetched_until(), near_wrap + 64);
  ASSERT_EQ(r.dequeue_burst({out.data(), 16}), 16u);
  ASSERT_EQ(r.enqueue_burst({in.data(), 16}), 16u);  // full again
  EXPECT_EQ(r.prefetched_until(), near_wrap + 64) << "nothing past the 16 slots just refilled";
  ASSERT_EQ(r.dequeue_burst({out.data(), 48}), 48u);  // tail = near_wrap + 64
  ASSERT_EQ(r.enqueue_burst({in.data(), 8}), 8u);     // reloads the tail: free up to near_wrap + 128
  EXPECT_EQ(r.prefetched_until(), near_wrap + 128);
  ASSERT_EQ(r.enqueue_burst({in.data(), 8}), 8u);     // already taken: the watermark stays
  EXPECT_EQ(r.prefetched_until(), near_wrap + 128);

  batch_ring<std::uint64_t> big(4096);
  ASSERT_EQ(big.enqueue_burst({in.data(), 32}), 32u);
  EXPECT_EQ(big.prefetched_until(), 32u + 512u) << "4 KiB of 8-byte slots past the burst";
  struct line { std::uint64_t w[8]; };
  batch_ring<line> wide(4096);
  std::vector<line> lines(32);
  ASSERT_EQ(wide.enqueue_burst({lines.data(), 32}), 32u);
  EXPECT_EQ(wide.prefetched_until(), 32u + 64u) << "4 KiB of 64-byte slots past the burst";
}
// The distances are per ring (rings_bench's batch-nopf rows): 0 takes nothing, a byte count whole slots.
TEST(batch_ring, burst_prefetch_distance_is_set_per_ring) {
  std::vector<std::uint64_t> in(64, 7), out(64);
  batch_ring<std::uint64_t> off(4096, near_wrap, 32, {.write_ahead_bytes = 0, .read_ahead_bytes = 0});
  ASSERT_EQ(off.enqueue_burst({in.data(), 32}), 32u);
  EXPECT_EQ(off.prefetched_until(), near_wrap) << "no prefetchw: the watermark never moves";
  ASSERT_EQ(off.dequeue_burst({out.data(), 32}), 32u);
  EXPECT_EQ(out[31], 7u);
  batch_ring<std::uint64_t> near(4096, near_wrap, 32, {.write_ahead_bytes = 1024});
  ASSERT_EQ(near.enqueue_burst({in.data(), 32}), 32u);
  EXPECT_EQ(near.prefetched_until(), near_wrap + 32 + 128) << "1 KiB of 8-byte slots past the burst, across 2^32";
  batch_ring<std::uint64_t> tiny(4096, 0, 32, {.write_ahead_bytes = 3});
  ASSERT_EQ(tiny.enqueue_burst({in.data(), 32}), 32u);
  EXPECT_EQ(tiny.prefetched_until(), 33u) << "under one slot rounds up to one";
}
// The consumer's idle polls (issue 15.8): after a reload of head that found nothing new, the next
// idle_polls calls short of items use the cached head; the one after reloads. Off by default.
TEST(batch_ring, idle_polls_delay_the_reload_after_an_empty_one) {
  std::vector<std::uint64_t> in(8, 5), out(8);
  batch_ring<std::uint64_t> r(64, near_wrap, 32, {.idle_polls = 3});
  ASSERT_EQ(r.dequeue_burst({out.data(), 8}), 0u);  // reload: nothing new, 3 idle polls from here
  ASSERT_EQ(r.enqueue_burst({in.data(), 8}), 8u);
  EXPECT_EQ(r.size(), 8u) << "published";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(r.dequeue_burst({out.data(), 8}), 0u) << "idle poll " << i;
  EXPECT_EQ(r.dequeue_burst({out.data(), 8}), 8u) << "the 4th call reloads and finds the 8";
  EXPECT_EQ(out[7], 5u);
  ASSERT_EQ(r.enqueue_burst({in.data(), 8}), 8u);
  EXPECT_EQ(r.dequeue_burst({out.data(), 8}), 8u) << "the last reload found items: no idle polls armed";
  EXPECT_EQ(r.dequeue_burst({out.data(), 8}), 0u);  // empty: armed again
  ASSERT_EQ(r.enqueue_burst({in.data(), 8}), 8u);
  std::uint64_t v = 0;
  EXPECT_FALSE(r.try_pop(v)) << "try_pop polls the same cache";
  EXPECT_EQ(r.dequeue_burst({out.data(), 4}), 0u);
  EXPECT_EQ(r.dequeue_burst({out.data(), 4}), 0u);
  EXPECT_EQ(r.dequeue_burst({out.data(), 4}), 4u) << "reloaded";
  EXPECT_EQ(r.dequeue_burst({out.data(), 8}), 4u) << "a reload that finds nothing new: what the cache holds";
  EXPECT_EQ(r.size(), 0u);
  batch_ring<std::uint64_t> d(64);
  ASSERT_EQ(d.dequeue_burst({out.data(), 8}), 0u);
  ASSERT_EQ(d.enqueue_burst({in.data(), 8}), 8u);
  EXPECT_EQ(d.dequeue_burst({out.data(), 8}), 8u) << "default: every short call reloads";
}
// ---------------- objects in slots ----------------
struct counted {
  static inline int live = 0, made = 0;
  std::uint64_t v = 0;
  counted() { ++live, ++made; }
  explicit counted(std::uint64_t x) : v(x) { ++live, ++made; }
  counted(const counted& o) : v(o.v) { ++live, ++made; }
  counted& operator=(const counted& o) = default;
  counted& operator=(counted&& o) noexcept = default;
  ~counted() { --live; }
};

template <class Ring>
void objects_round_trip(Ring& r, const std::string& what) {
  std::vector<counted> in;
  for (std::uint64_t i = 0; i < 10; ++i) in.emplace_back(i);
  const int base = counted::live;  // 10 in `in`
  ASSERT_EQ(r.enqueue_burst(std::span<const counted>(in)), 10u) << what;
  EXPECT_EQ(counted::live, base + 10) << what << ": one object per occupied slot";
  std::vector<counted> out(4);
  ASSERT_EQ(r.dequeue_burst(std::span<counted>(out)), 4u);
  EXPECT_EQ(counted::live, base + 4 + 6) << what << ": dequeued slots are destroyed";
  for (std::uint64_t i = 0; i < 4; ++i) EXPECT_EQ(out[i].v, i);
}

TEST(ring_objects, constructed_on_enqueue_destroyed_on_dequeue_and_at_destruction) {
  counted::live = 0;
  {
    spsc_ring<counted> s(16);
    EXPECT_EQ(counted::live, 0) << "an empty ring holds no objects";
    objects_round_trip(s, "spsc");
  }
  EXPECT_EQ(counted::live, 0) << "spsc: the 6 left in the ring are destroyed with it";
  {
    batch_ring<counted> b(16, near_wrap, 4);
    objects_round_trip(b, "batch");
    ASSERT_TRUE(b.try_push(counted(50)));  // written, not published: still an object in a slot
    EXPECT_EQ(counted::live, 7);
    counted c;
    ASSERT_TRUE(b.try_pop(c));  // popped, slot not given back yet: already destroyed
    EXPECT_EQ(c.v, 4u);
    EXPECT_EQ(counted::live, 7) << "6 in the ring (one unpublished) and c";
  }
  EXPECT_EQ(counted::live, 0) << "batch: published, unpublished and popped-not-given-back slots, each destroyed once";
  for (auto mode : {sync_mode::single, sync_mode::multi}) {
    {
      mpmc_ring<counted> m(16, mode, mode);
      EXPECT_EQ(counted::live, 0);
      objects_round_trip(m, "mpmc");
    }
    EXPECT_EQ(counted::live, 0) << "mpmc";
  }
  {
    spsc_ring<counted> s(4, near_wrap);  // objects across the wrap, too
    for (std::uint64_t round = 0; round < 10; ++round) {
      ASSERT_TRUE(s.try_push(counted(round)));
      ASSERT_TRUE(s.try_push(counted(round + 100)));
      EXPECT_EQ(counted::live, 2);
      counted c;
      ASSERT_TRUE(s.try_pop(c));
      EXPECT_EQ(c.v, round);
      ASSERT_TRUE(s.try_pop(c));
      EXPECT_EQ(c.v, round + 100);
      EXPECT_FALSE(s.try_pop(c));
    }
    EXPECT_TRUE(s.try_push(counted(7)));
  }
  EXPECT_EQ(counted::live, 0);
  {
    boost_spsc_adapter<counted> b(16);
    objects_round_trip(b, "boost-spsc");
  }
  EXPECT_EQ(counted::live, 0) << "boost-spsc";
}

// ---------------- netmap ----------------
TEST(netmap, ownership_rule_rx) {
  netmap_buffer_pool pool(8, 64);
  netmap_ring rx(pool, 8, netmap_dir::rx, near_wrap);
  EXPECT_EQ(pool.free_count(), 0u) << "a ring owns one buffer per slot";
  auto fill = [n = 0](netmap_slot&, std::span<std::byte> buf) mutable {
    std::memset(buf.data(), 'a' + n++, 10);
    return 10;
  };
  EXPECT_EQ(rx.nic_rx(5, false, fill), 5u);
  EXPECT_EQ(rx.space(), 0u) << "the user sees nothing before sync";
  ASSERT_TRUE(rx.sync());
  EXPECT_EQ(rx.space(), 5u);
  EXPECT_EQ(rx.tail(), near_wrap + 5);
  EXPECT_TRUE(rx.ready());
  EXPECT_EQ(static_cast<char>(rx.buffer(rx.slot(rx.head() + 3))[0]), 'd');
  EXPECT_EQ(rx.slot(rx.head()).len, 10u);
  EXPECT_EQ(rx.nic_rx(5, true, fill), 0u) << "3 slots left to the NIC: bulk of 5 fails";
  EXPECT_EQ(rx.nic_rx(5, false, fill), 3u);
  EXPECT_EQ(rx.nic_rx(1, false, fill), 0u) << "the NIC owns no slot until the user returns some";
  rx.set_head_cur(rx.head() + 2, rx.head() + 4);  // return 2, wait for more than 4
  ASSERT_TRUE(rx.sync());
  EXPECT_EQ(rx.space(), 6u);
  EXPECT_EQ(rx.nic_rx(5, false, fill), 2u) << "exactly the two returned slots";
  // The kernel's prologue check: head beyond tail, or head behind hwcur, is refused and changes nothing.
  const auto h = rx.head(), t = rx.tail();
  rx.set_head_cur(t + 1, t + 1);
  EXPECT_FALSE(rx.sync());
  rx.set_head_cur(h - 1, h);
  EXPECT_FALSE(rx.sync());
  rx.set_head_cur(h, h + 1);
  EXPECT_TRUE(rx.sync());
  EXPECT_EQ(rx.tail(), t + 2);
}

TEST(netmap, buffer_swap_moves_a_packet_rx_to_tx_without_copy) {
  netmap_buffer_pool pool(16, 128);
  netmap_ring rx(pool, 8, netmap_dir::rx, near_wrap);
  netmap_ring tx(pool, 8, netmap_dir::tx, near_wrap - 5);
  ASSERT_EQ(tx.space(), 8u) << "a TX ring starts with every slot free for the user";
  std::vector<std::uint32_t> rx_bufs;
  ASSERT_EQ(rx.nic_rx(6, false,
                      [&, n = 0](netmap_slot& s, std::span<std::byte> buf) mutable {
                        rx_bufs.push_back(s.buf_idx);
                        std::snprintf(reinterpret_cast<char*>(buf.data()), buf.size(), "packet %d", n++);
                        return 8;
                      }),
            6u);
  ASSERT_TRUE(rx.sync());
  const std::uint32_t n = std::min(rx.space(), tx.space());
  ASSERT_EQ(n, 6u);
  for (std::uint32_t i = 0; i < n; ++i) swap_buffers(rx.slot(rx.head() + i), tx.slot(tx.head() + i));
  rx.advance(n);
  tx.advance(n);
  ASSERT_TRUE(tx.sync());
  ASSERT_TRUE(rx.sync());
  EXPECT_EQ(tx.space(), 2u);
  std::vector<std::uint32_t> sent;
  std::vector<std::string> payloads;
  EXPECT_EQ(tx.nic_tx(8, [&](const netmap_slot& s, std::span<const std::byte> bytes) {
    sent.push_back(s.buf_idx);
    payloads.emplace_back(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }), 6u);
  EXPECT_EQ(sent, rx_bufs) << "TX sent the very buffers RX filled: no copy";
  EXPECT_EQ(payloads[0], "packet 0");
  EXPECT_EQ(payloads[5], "packet 5");
  EXPECT_EQ(tx.buf_reloads(), 6u) << "NS_BUF_CHANGED seen once per swapped TX slot";
  ASSERT_TRUE(tx.sync());
  EXPECT_EQ(tx.space(), 8u) << "sent slots come back to the user";
  // RX slots now carry TX's old buffers; the NIC reloads them when it next fills them.
  EXPECT_EQ(rx.nic_rx(8, false, [](netmap_slot&, std::span<std::byte>) { return 1; }), 8u);
  EXPECT_EQ(rx.buf_reloads(), 6u);
  // Every buffer is in exactly one slot.
  std::set<std::uint32_t> all;
  for (std::uint32_t i = 0; i < 8; ++i) {
    all.insert(rx.slot(i).buf_idx);
    all.insert(tx.slot(i).buf_idx);
  }
  EXPECT_EQ(all.size(), 16u);
}

// ---------------- umem ----------------
TEST(umem, layout_matches_the_kernel_xdp_ring) {
  umem_rings u({.frames = 8, .frame_size = 2048, .headroom = 256, .ring_size = 8});
  const auto& h = u.rx_memory().header();
  EXPECT_EQ(reinterpret_cast<const std::byte*>(&h.consumer) - reinterpret_cast<const std::byte*>(&h.producer), 128);
  EXPECT_EQ(reinterpret_cast<const std::byte*>(u.rx_memory().descs()) - reinterpret_cast<const std::byte*>(&h), 384);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&h) % 128, 0u);
}

TEST(umem, fill_rx_tx_completion_round_trip_across_the_wrap) {
  umem_rings u({.frames = 8, .frame_size = 2048, .headroom = 256, .ring_size = 8, .initial_index = near_wrap});
  ASSERT_EQ(u.fill_frames(0, 8), 8u);
  EXPECT_EQ(u.fill_frames(0, 1), 0u) << "fill ring full";
  std::set<std::uint64_t> outstanding;
  for (int round = 0; round < 5; ++round) {
    // kernel receives 6 packets into frames from FILL
    ASSERT_EQ(u.kernel_rx(6, true,
                          [&, n = 0](std::span<std::byte> room) mutable {
                            room[0] = std::byte(round * 16 + n++);
                            return 60;
                          }),
              6u);
    // application: peek RX (a window of 6 descriptors that wraps), forward each frame to TX in place
    std::uint32_t ri = 0, ti = 0;
    ASSERT_EQ(xsk::cons_peek(u.rx(), 8, &ri), 6u);
    ASSERT_EQ(xsk::prod_reserve(u.tx(), 6, &ti), 6u);
    for (std::uint32_t i = 0; i < 6; ++i) {
      const auto d = xsk::desc<xdp_desc_t>(u.rx(), ri + i);
      EXPECT_EQ(d.addr % 2048, 256u) << "RX addresses include the headroom";
      EXPECT_EQ(d.len, 60u);
      EXPECT_EQ(*u.data(d.addr), std::byte(round * 16 + i));
      xsk::desc<xdp_desc_t>(u.tx(), ti + i) = d;
      outstanding.insert(d.addr);
    }
    xsk::cons_release(u.rx(), 6);
    xsk::prod_submit(u.tx(), 6);
    // kernel sends them: same bytes, same addresses come back on COMPLETION
    int sent = 0;
    ASSERT_EQ(u.kernel_tx(8, [&](std::span<const std::byte> pkt) {
      EXPECT_EQ(pkt.size(), 60u);
      EXPECT_EQ(pkt[0], std::byte(round * 16 + sent++));
    }), 6u);
    std::uint32_t ci = 0, fi = 0;
    ASSERT_EQ(xsk::cons_peek(u.comp(), 8, &ci), 6u);
    ASSERT_EQ(xsk::prod_reserve(u.fill(), 6, &fi), 6u);
    for (std::uint32_t i = 0; i < 6; ++i) {
      const std::uint64_t addr = xsk::desc<std::uint64_t>(u.comp(), ci + i);
      EXPECT_EQ(outstanding.erase(addr), 1u) << "completion returns an address we sent";
      xsk::desc<std::uint64_t>(u.fill(), fi + i) = u.frame_base(addr);
    }
    xsk::cons_release(u.comp(), 6);
    xsk::prod_submit(u.fill(), 6);
  }
  EXPECT_TRUE(outstanding.empty());
  const auto& f = u.fill_memory().header();
  EXPECT_EQ(f.producer - f.consumer, 8u) << "all 8 frames are back on FILL";
  EXPECT_LT(f.producer, near_wrap) << "the fill index crossed 2^32";
}

TEST(umem, kernel_rx_stops_when_fill_is_empty) {
  umem_rings u({.frames = 4, .frame_size = 4096, .headroom = 256, .ring_size = 4});
  ASSERT_EQ(u.fill_frames(0, 2), 2u);
  EXPECT_EQ(u.kernel_rx(3, true, [](std::span<std::byte>) { return 1; }), 0u);
  EXPECT_EQ(u.kernel_rx(3, false, [](std::span<std::byte>) { return 1; }), 2u);
  EXPECT_EQ(u.kernel_rx(1, false, [](std::span<std::byte>) { return 1; }), 0u);
}

// ---------------- registry ----------------
TEST(registry, every_listed_design_builds_and_moves_items) {
  std::set<std::string_view> names;
  for (const auto& d : designs()) {
    names.insert(d.name);
    auto r = make_ring<std::uint64_t>(d.name, 100);
    ASSERT_NE(r, nullptr) << d.name;
    EXPECT_EQ(r->name(), d.name);
    EXPECT_GE(r->capacity(), 100u) << d.name;
    std::vector<std::uint64_t> in{1, 2, 3}, out(3);
    std::uint32_t slot = 9;
    ASSERT_TRUE(r->enqueue_bulk(in, &slot)) << d.name;
    EXPECT_EQ(slot, 0u) << d.name;
    ASSERT_TRUE(r->dequeue_bulk(out)) << d.name;
    EXPECT_EQ(out, in) << d.name;
    EXPECT_FALSE(d.mirrors.empty());
  }
  for (auto n : {"spsc", "mpmc", "netmap", "umem", "batch", "boost-spsc", "boost-mpmc"}) EXPECT_TRUE(names.count(n)) << n;
#if RINGLAB_HAVE_DPDK
  EXPECT_TRUE(names.count("rte-ring"));
#else
  EXPECT_FALSE(names.count("rte-ring"));
#endif
  EXPECT_EQ(make_ring<std::uint64_t>("no-such-ring", 64), nullptr);
  EXPECT_THROW(make_ring<std::uint64_t>("spsc", 0), std::invalid_argument);
}

}  // namespace
}  // namespace ringlab::rings::test
