// Issue 13 point 6: segment trains. output() hands two or more full-size ACK-only segments of one
// call to the sink as one segment_train (the socket layer builds their frames from one header); a sink
// that takes only reprs gets the same segments one by one. Trains change how frames are built, never
// which segments go out: the same script with trains on and off sends the same bytes.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/unit/tcp/harness.hpp"

namespace ringlab::tcp::testing {
namespace {

using stack::ms;

// A sink that takes trains whole: notes each train, then hands its segments to `to` one by one.
struct train_sink {
  struct seen {
    std::uint32_t seq, count;
    std::uint16_t seg_len;
    std::uint8_t flags;
  };
  std::vector<seen>* trains;
  std::vector<wire::tcp::repr>* singles;
  std::vector<std::vector<std::byte>>* bytes;   // every segment's wire bytes, trains expanded

  void keep(const wire::tcp::repr& r) const {
    std::vector<std::byte> b(r.buffer_len());
    ASSERT_EQ(r.emit(b, a_ip, b_ip), b.size());
    bytes->push_back(std::move(b));
  }
  void operator()(const wire::tcp::repr& r) const {
    singles->push_back(r);
    keep(r);
  }
  void operator()(const segment_train& t) const {
    trains->push_back({t.hdr.seq, t.count, t.seg_len, t.hdr.flags});
    for (std::uint32_t i = 0; i < t.count; ++i) {
      // copy_payload gives segment(i)'s payload bytes, straight from the send buffer.
      const wire::tcp::repr r = t.segment(i);
      std::vector<std::byte> p(t.seg_len);
      ASSERT_EQ(t.copy_payload(i, p), t.seg_len);
      ASSERT_EQ(r.payload.size(), p.size());
      EXPECT_TRUE(std::equal(p.begin(), p.end(), r.payload.begin()));
      keep(r);
    }
  }
};

TEST(SegmentTrain, TheFirstFlightIsOneTrainOfTenAndATrainAwareSinkSeesIt) {
  pair p;
  p.open();
  p.run_for(100 * ms);
  ASSERT_EQ(p.a.current(), state::established);
  const auto data = pattern(12 * mss + 100, 7);
  std::vector<train_sink::seen> trains;
  std::vector<wire::tcp::repr> singles;
  std::vector<std::vector<std::byte>> bytes;
  const std::uint32_t start = p.a.snd_nxt();
  const auto before = p.a.counters();
  ASSERT_EQ(p.a.send(data, p.now, train_sink{&trains, &singles, &bytes}), data.size());
  // Initial window 10 (RFC 6928): ten full segments, all one train; the rest waits for ACKs.
  ASSERT_EQ(trains.size(), 1u);
  EXPECT_EQ(singles.size(), 0u);
  EXPECT_EQ(trains[0].seq, start);
  EXPECT_EQ(trains[0].count, 10u);
  EXPECT_EQ(trains[0].seg_len, mss);
  EXPECT_EQ(trains[0].flags, wire::tcp::flag::ack);
  EXPECT_EQ(p.a.snd_nxt(), start + 10 * mss);
  EXPECT_EQ(p.a.counters().trains - before.trains, 1u);
  EXPECT_EQ(p.a.counters().train_segs - before.train_segs, 10u);
  EXPECT_EQ(p.a.counters().out_segs - before.out_segs, 10u);
  // Each segment's bytes: the train's payload in order, seq advancing by the MSS, one header else.
  ASSERT_EQ(bytes.size(), 10u);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const auto r = wire::tcp::repr::parse(*wire::tcp::view::check(bytes[i]), a_ip, b_ip).value();
    EXPECT_EQ(r.seq, start + i * mss);
    ASSERT_EQ(r.payload.size(), mss);
    EXPECT_TRUE(std::equal(r.payload.begin(), r.payload.end(), data.begin() + static_cast<std::ptrdiff_t>(i * mss)));
    // Byte for byte the first segment's header but for the sequence number and the checksum.
    std::vector<std::byte> h0(bytes[0].begin(), bytes[0].begin() + 32), hi(bytes[i].begin(), bytes[i].begin() + 32);
    for (std::size_t k : {4u, 5u, 6u, 7u, 16u, 17u}) h0[k] = hi[k] = std::byte{0};
    EXPECT_EQ(h0, hi) << "segment " << i;
  }
}

// The whole script twice, trains on and off: every segment either side sent, byte for byte the same,
// through loss (retransmissions, RACK, an RTO's go-back) and data both ways (ACKs on data segments).
TEST(SegmentTrain, TrainsOnAndOffSendTheSameSegmentsThroughLoss) {
  struct run {
    std::vector<segment> log;
    connection_counters a, b;
    pair::exchanged got;
  };
  const auto up = pattern(400 * 1024 + 333, 11), down = pattern(150 * 1024 + 17, 12);
  auto once = [&](bool trains) {
    connection_config c;
    c.segment_trains = trains;
    pair p(c, c);
    std::uint64_t n = 0;
    // Every 23rd segment with data from A and every 31st from B is lost, the first SYN too.
    p.pass = [&n](const segment& s) {
      ++n;
      return !(n == 1 || (s.repr().payload.size() > 0 && n % (s.from_a ? 23 : 31) == 0));
    };
    p.open();
    p.run_for(3000 * ms);
    run r;
    r.got = p.exchange(up, down);
    r.log = p.log;
    r.a = p.a.counters();
    r.b = p.b.counters();
    return r;
  };
  const run on = once(true), off = once(false);
  EXPECT_TRUE(on.got.up == std::vector<std::byte>(up.begin(), up.end()));
  EXPECT_TRUE(on.got.down == std::vector<std::byte>(down.begin(), down.end()));
  ASSERT_EQ(on.log.size(), off.log.size());
  for (std::size_t i = 0; i < on.log.size(); ++i) {
    ASSERT_EQ(on.log[i].from_a, off.log[i].from_a) << "segment " << i;
    ASSERT_EQ(on.log[i].sent_at, off.log[i].sent_at) << "segment " << i;
    ASSERT_TRUE(on.log[i].bytes == off.log[i].bytes) << "segment " << i << " differs";
  }
  EXPECT_GT(on.a.retrans_segs, 0u);
  EXPECT_GT(on.b.retrans_segs, 0u);
  EXPECT_EQ(on.a.out_segs, off.a.out_segs);
  EXPECT_EQ(on.a.retrans_segs, off.a.retrans_segs);
  EXPECT_EQ(on.a.timeouts, off.a.timeouts);
  EXPECT_EQ(on.b.out_segs, off.b.out_segs);
  // With trains on, most of A's data went in them (two or more full segments each); off, none.
  EXPECT_GT(on.a.train_segs, (up.size() / mss) / 2);
  EXPECT_GE(on.a.train_segs, 2 * on.a.trains);
  EXPECT_GT(on.b.train_segs, 0u);
  EXPECT_EQ(off.a.trains + off.a.train_segs + off.b.trains + off.b.train_segs, 0u);
}

}  // namespace
}  // namespace ringlab::tcp::testing
