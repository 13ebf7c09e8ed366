// Memory per connection (issue 12 point 3): the buffers hold chunks only while bytes are queued, an
// idle connection holds no heap, a peer flooding past the window costs no more than the buffer's
// bound. The heap is counted exactly: operator new is replaced in this binary (its own executable so
// the other TCP tests keep the ordinary allocator), and chunk_pool::trim() empties this thread's
// chunk cache before each measurement so a cached chunk is not mistaken for a free one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <new>
#include <random>
#include <vector>

#include "stack/tcp/buffers.hpp"
#include "stack/tcp/connection.hpp"
#include "tests/unit/tcp/harness.hpp"

namespace {
// Live bytes as requested (a 16-byte header keeps each allocation's size; alignment stays 16). Out of
// line: GCC, inlining them into the standard allocators, would see the header arithmetic as out of
// bounds and free() as mismatched with new.
std::int64_t g_live = 0;
std::uint64_t g_allocs = 0;
}  // namespace

[[gnu::noinline]] void* operator new(std::size_t n) {
  auto* p = static_cast<unsigned char*>(std::malloc(n + 16));
  if (!p) throw std::bad_alloc();
  *reinterpret_cast<std::size_t*>(p) = n;
  g_live += static_cast<std::int64_t>(n);
  ++g_allocs;
  return p + 16;
}
[[gnu::noinline]] void operator delete(void* q) noexcept {
  if (!q) return;
  auto* p = static_cast<unsigned char*>(q) - 16;
  g_live -= static_cast<std::int64_t>(*reinterpret_cast<std::size_t*>(p));
  std::free(p);
}
void operator delete(void* q, std::size_t) noexcept { operator delete(q); }
void* operator new[](std::size_t n) { return operator new(n); }
// The nothrow forms (chunk_pool's) too: ASan's runtime has its own, which would bypass the count.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return operator new(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return operator new(n, std::nothrow); }
void operator delete(void* q, const std::nothrow_t&) noexcept { operator delete(q); }
void operator delete[](void* q, const std::nothrow_t&) noexcept { operator delete(q); }
void operator delete[](void* q) noexcept { operator delete(q); }
void operator delete[](void* q, std::size_t) noexcept { operator delete(q); }

namespace {

using namespace ringlab;
using namespace ringlab::tcp;
using namespace ringlab::tcp::testing;
constexpr std::size_t chunk = chunk_pool::default_chunk;

// Live heap now, with this thread's chunk cache given back first.
std::int64_t live() {
  chunk_pool::trim();
  return g_live;
}

std::byte at(std::uint64_t i) { return static_cast<std::byte>((i * 131) ^ (i >> 9)); }
std::vector<std::byte> stream(std::uint64_t from, std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t k = 0; k < n; ++k) v[k] = at(from + k);
  return v;
}

TEST(TcpBuffers, SendBufferHoldsChunksOnlyWhileBytesAreQueued) {
  const auto one = stream(0, 1), data = stream(0, 100000), more = stream(100000, 400000);
  const std::int64_t h0 = live();
  send_buffer sb(256 * 1024);
  EXPECT_EQ(live() - h0, 0);   // nothing at construction
  EXPECT_EQ(sb.memory(), 0u);
  ASSERT_EQ(sb.write(one), 1u);
  EXPECT_EQ(sb.memory(), chunk);
  EXPECT_EQ(live() - h0, static_cast<std::int64_t>(chunk));
  sb.consume(1);
  EXPECT_EQ(sb.memory(), 0u);
  EXPECT_EQ(live() - h0, 0);

  // 100 000 bytes: 7 chunks; a segment across the first chunk's end comes out as one span, exact.
  ASSERT_EQ(sb.write(data), 100000u);
  EXPECT_EQ(sb.memory(), 7 * chunk);
  const auto seg = sb.at(16000, 1448);
  ASSERT_EQ(seg.size(), 1448u);
  EXPECT_TRUE(std::equal(seg.begin(), seg.end(), data.begin() + 16000));
  sb.consume(20000);   // the first chunk holds no queued byte any more
  EXPECT_EQ(sb.memory(), 6 * chunk);
  const auto seg2 = sb.at(0, 1448);
  EXPECT_TRUE(std::equal(seg2.begin(), seg2.end(), data.begin() + 20000));

  // Filled to its bound: 16 chunks, and not one more however much is offered.
  EXPECT_EQ(sb.write(more), 256u * 1024 - 80000);
  EXPECT_EQ(sb.room(), 0u);
  EXPECT_EQ(sb.memory(), 16 * chunk);
  EXPECT_EQ(sb.write(more), 0u);
  EXPECT_EQ(live() - h0, static_cast<std::int64_t>(16 * chunk));
  sb.consume(sb.size());
  EXPECT_EQ(sb.memory(), 0u);
  EXPECT_EQ(live() - h0, 0);
}

// Random writes, segment reads and acknowledgments against a model of the byte stream; the chunks
// held are exactly those the queued bytes touch. A capacity that is no multiple of the chunk makes
// the ring longer than the capacity (7 chunks for 100 000 bytes).
TEST(TcpBuffers, SendBufferKeepsEveryByteAcrossChunksAndRingWraps) {
  constexpr std::size_t cap = 100000;
  send_buffer sb(cap);
  const std::size_t ring = 7 * chunk;
  std::mt19937 rng(12);
  std::uint64_t una = 0, end = 0;   // stream offsets of SND.UNA and of the next byte written
  std::size_t begin = 0;            // the model's ring position of SND.UNA
  for (int step = 0; step < 20000; ++step) {
    const unsigned op = rng() % 3;
    if (op == 0) {
      const std::size_t n = rng() % 20000;
      const std::size_t took = sb.write(stream(end, n));
      ASSERT_EQ(took, std::min(n, cap - (end - una)));
      end += took;
    } else if (op == 1 && end > una) {
      const std::size_t off = rng() % (end - una), len = 1 + rng() % 1448;
      const auto s = sb.at(off, len);
      ASSERT_EQ(s.size(), std::min<std::size_t>(len, end - una - off));
      for (std::size_t k = 0; k < s.size(); ++k) ASSERT_EQ(s[k], at(una + off + k)) << "step " << step;
    } else if (op == 2) {
      const std::size_t n = std::min<std::size_t>(rng() % 30000, end - una);
      sb.consume(n);
      una += n;
      begin = una == end ? 0 : (begin + n) % ring;
    }
    // The chunks the queued bytes touch.
    std::vector<bool> touched(7);
    for (std::uint64_t k = 0; k < end - una; k += 512) touched[((begin + k) % ring) / chunk] = true;
    if (end > una) touched[((begin + (end - una) - 1) % ring) / chunk] = true;
    ASSERT_EQ(sb.memory(), chunk * static_cast<std::size_t>(std::count(touched.begin(), touched.end(), true)))
        << "step " << step;
  }
}

// Random segments in and out of order (within and past the window) and random reads against a model;
// every byte read is the stream's, the bound holds, and a drained buffer holds nothing.
TEST(TcpBuffers, RecvBufferPlacesOutOfOrderBytesAndGivesChunksBack) {
  constexpr std::size_t cap = 64 * 1024;
  std::vector<std::byte> out(8192);
  const std::int64_t h0 = live();
  {
    recv_buffer rb(cap);
    std::mt19937 rng(7);
    std::uint64_t edge = 0, readpos = 0;   // stream offsets: RCV.NXT, next byte the reader gets
    for (int step = 0; step < 30000; ++step) {
      if (rng() % 4 != 0) {
        const std::size_t off = rng() % 5 == 0 ? rng() % (cap + 4096) : 0;   // some past the window
        const std::size_t len = 1 + rng() % 1448;
        const auto r = rb.place(off, stream(edge + off, len));
        edge += r.advanced;
        ASSERT_EQ(rb.readable(), edge - readpos);
      } else {
        const std::size_t n = rb.read({out.data(), rng() % out.size()});
        for (std::size_t k = 0; k < n; ++k) ASSERT_EQ(out[k], at(readpos + k)) << "step " << step;
        readpos += n;
      }
      ASSERT_LE(rb.memory(), cap);
      ASSERT_LE(live() - h0, static_cast<std::int64_t>(cap));
    }
    // Fill the gaps and read everything: nothing is held.
    for (int k = 0; k < 64 && (rb.readable() > 0 || !rb.out_of_order().empty()); ++k) {
      edge += rb.place(0, stream(edge, cap)).advanced;
      for (std::size_t n; (n = rb.read(out)) > 0; readpos += n)
        for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], at(readpos + i));
    }
    EXPECT_EQ(rb.readable(), 0u);
    EXPECT_TRUE(rb.out_of_order().empty());
    EXPECT_EQ(rb.memory(), 0u);
    EXPECT_EQ(live() - h0, 0);
  }
}

TEST(TcpBuffers, RecvBufferFloodedPastItsWindowHoldsItsBoundAndNoMore) {
  constexpr std::size_t cap = 64 * 1024;
  const std::int64_t h0 = live();
  recv_buffer rb(cap);
  std::uint64_t edge = 0;
  for (int i = 0; i < 1000; ++i) edge += rb.place(0, stream(edge, 1448)).advanced;   // 1.4 MB offered
  EXPECT_EQ(edge, cap);
  EXPECT_EQ(rb.readable(), cap);
  EXPECT_EQ(rb.window(), 0u);
  EXPECT_EQ(rb.memory(), cap);   // 4 chunks of 16 KiB
  EXPECT_EQ(live() - h0, static_cast<std::int64_t>(cap));
}

TEST(TcpMemory, ConstructingAConnectionAllocatesNothing) {
  const std::int64_t h0 = live();
  const std::uint64_t a0 = g_allocs;
  {
    connection c(connection_config{}, 40000, 80);
    EXPECT_EQ(g_allocs - a0, 0u);
    EXPECT_EQ(c.buffer_memory(), 0u);
  }
  EXPECT_EQ(live() - h0, 0);
  // What an idle connection costs is its object; printed for the record (bench_tcp reports it too).
  std::printf("sizeof(tcp::connection): %zu bytes, heap while idle: 0\n", sizeof(connection));
}

// 200 KB each way, every byte read: afterwards both idle ESTABLISHED connections hold no buffer
// memory and the heap is back where it was before the transfer.
TEST(TcpMemory, AnIdleEstablishedConnectionHoldsNoHeapAfterATransfer) {
  pair p;
  p.open();
  p.run_for(100 * stack::ms);
  ASSERT_EQ(p.a.current(), state::established);
  ASSERT_EQ(p.b.current(), state::established);
  p.log.clear();
  p.log.shrink_to_fit();
  const auto ab = pattern(200000, 1), ba = pattern(200000, 2);
  const std::int64_t h0 = live();

  std::vector<std::byte> got_b, got_a;
  std::size_t sent_a = 0, sent_b = 0;
  std::size_t peak = 0;
  for (int round = 0; round < 400 && (got_b.size() < ab.size() || got_a.size() < ba.size()); ++round) {
    sent_a += p.a.send(std::span(ab).subspan(sent_a), p.now, p.sink_a());
    sent_b += p.b.send(std::span(ba).subspan(sent_b), p.now, p.sink_b());
    p.run_for(5 * stack::ms);
    peak = std::max(peak, p.a.buffer_memory() + p.b.buffer_memory());
    const auto db = p.drain_b(), da = p.drain_a();
    got_b.insert(got_b.end(), db.begin(), db.end());
    got_a.insert(got_a.end(), da.begin(), da.end());
  }
  p.run_for(1 * stack::sec);   // the last ACKs and window updates
  ASSERT_EQ(got_b, ab);
  ASSERT_EQ(got_a, ba);
  EXPECT_GT(peak, 0u);   // the buffers did hold chunks while the bytes were queued
  EXPECT_EQ(p.a.unacked(), 0u);
  EXPECT_EQ(p.b.unacked(), 0u);
  EXPECT_EQ(p.a.buffer_memory(), 0u);
  EXPECT_EQ(p.b.buffer_memory(), 0u);
  got_a.clear(), got_a.shrink_to_fit(), got_b.clear(), got_b.shrink_to_fit();
  p.log.clear();
  p.log.shrink_to_fit();
  EXPECT_EQ(live() - h0, 0);
}

// A peer that ignores our window: 1 MB of in-order segments at a connection with a 64 KiB receive
// buffer and a reader that never reads. The window's bytes are kept (64 KiB: 4 chunks), the rest is
// refused as out of the window, and the heap grows by the buffer's bound and not a byte more. The
// same with the flood spread out of order across and past the window.
TEST(TcpMemory, APeerFloodingPastTheWindowCostsNoMoreThanTheBuffer) {
  constexpr std::size_t cap = 64 * 1024;
  connection_config small;
  small.recv_buffer = cap;
  pair p({}, small);
  p.open();
  p.run_for(100 * stack::ms);
  ASSERT_EQ(p.b.current(), state::established);
  p.log.clear();
  p.log.shrink_to_fit();
  std::uint64_t answers = 0;
  auto count = [&](const wire::tcp::repr&) { ++answers; };
  const std::uint32_t rcv0 = p.b.rcv_nxt();
  const auto flood = pattern(1 << 20, 9);
  auto seg = [&](std::size_t off, std::size_t len) {
    wire::tcp::repr r;
    r.src_port = 40000, r.dst_port = 80, r.flags = wire::tcp::flag::ack;
    r.seq = rcv0 + static_cast<std::uint32_t>(off), r.ack = p.b.snd_nxt(), r.window = 1000;
    r.payload = std::span(flood).subspan(off, std::min(len, flood.size() - off));
    return r;
  };
  std::vector<std::byte> half(cap / 2), rest(cap);
  const std::int64_t h0 = live();
  for (std::size_t off = 0; off < flood.size(); off += 1448) p.b.on_segment(seg(off, 1448), p.now, count);
  EXPECT_EQ(p.b.readable(), cap);
  EXPECT_EQ(p.b.counters().bytes_received, cap);
  EXPECT_GT(p.b.counters().out_of_window, 600u);   // ~724 segments, 46 of them (partly) in the window
  EXPECT_EQ(p.b.buffer_memory(), cap);
  EXPECT_EQ(live() - h0, static_cast<std::int64_t>(cap));
  EXPECT_GT(answers, 0u);

  // The reader takes half: the window reopens by 32 KiB (RCV.NXT + 64 KiB .. + 96 KiB of the flood),
  // and every other segment from the far end back to the edge arrives, out of order over and past the
  // window. The 11 in the window are disjoint ranges: 8 are kept (the bound), 3 dropped; the chunks
  // stay within the same 64 KiB.
  ASSERT_EQ(p.b.receive(half, p.now, count), cap / 2);
  EXPECT_TRUE(std::equal(half.begin(), half.end(), flood.begin()));
  for (std::size_t off = 4 * cap; off > cap; off -= 2 * 1448) p.b.on_segment(seg(off, 1448), p.now, count);
  EXPECT_EQ(p.b.counters().ofo_queued, recv_buffer::max_ooo_ranges);
  EXPECT_EQ(p.b.counters().ofo_dropped, 3u);
  EXPECT_EQ(p.b.buffer_memory(), cap);
  EXPECT_LE(live() - h0, static_cast<std::int64_t>(cap));
  // The in-order half read too: what remains held is the out-of-order bytes' two chunks (offsets
  // 2576 .. 32768 past RCV.NXT).
  EXPECT_EQ(p.b.receive(rest, p.now, count), cap / 2);
  EXPECT_TRUE(std::equal(rest.begin(), rest.begin() + cap / 2, flood.begin() + cap / 2));
  EXPECT_EQ(p.b.buffer_memory(), 2 * chunk);
  EXPECT_EQ(live() - h0, static_cast<std::int64_t>(2 * chunk));
}

}  // namespace
