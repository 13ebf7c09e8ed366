// The one release rule (stack::frame_releaser): port frames go back to the port by rx_release,
// batched per burst and per hold; frames the stack allocated go back to the pool; and the interface's
// parts (the burst's end, a socket's readers, lent frames, reassembly, loopback) all follow it.
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "stack/iface/frame_releaser.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/udp_socket.hpp"
#include "tests/unit/stack/frames.hpp"
#include "tests/unit/stack/test_port.hpp"

using namespace ringlab;
using namespace ringlab::stack;
using namespace ringlab::stack::testing;

namespace {

interface_config config() {
  interface_config c;
  c.mac = me_mac;
  c.addr = me_ip;
  c.prefix_len = 24;
  return c;
}

struct release_rule : ::testing::Test {
  test_port port;
  void TearDown() override { EXPECT_EQ(port.pool().out(), 0u) << "a frame leaked"; }

  // n frames received from the port (packet ids 1..n), as rx_burst lends them.
  std::array<port::frame_ref, 4> receive(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) EXPECT_TRUE(port.inject(udp(peer_ip, me_ip, 1, 9000, text("x"))));
    std::array<port::frame_ref, 4> got{};
    EXPECT_EQ(port.rx_burst({got.data(), n}), n);
    return got;
  }
};

}  // namespace

TEST_F(release_rule, a_burst_goes_back_in_one_rx_release_and_own_frames_to_the_pool) {
  frame_releaser r(port, 8);
  const auto f = receive(3);
  r.give_back_burst({f.data(), 3});
  EXPECT_EQ(port.release_calls(), 1u);
  EXPECT_EQ(port.released_ids, (std::vector<std::uint64_t>{1, 2, 3}));
  r.give_back_burst({});   // nothing kept back: no call
  EXPECT_EQ(port.release_calls(), 1u);

  const port::frame_ref own = port.pool().alloc();
  ASSERT_TRUE(own.valid());
  EXPECT_EQ(port.pool().out(), 1u);
  r.give_back(own, false);   // never the port's: straight back to the pool
  EXPECT_EQ(port.pool().out(), 0u);
  EXPECT_EQ(port.release_calls(), 1u);
}

TEST_F(release_rule, without_a_hold_each_port_frame_goes_back_at_once) {
  frame_releaser r(port, 8);
  const auto f = receive(2);
  r.give_back(f[1], true);
  EXPECT_EQ(port.released_ids, (std::vector<std::uint64_t>{2}));
  r.give_back(f[0], true);
  EXPECT_EQ(port.release_calls(), 2u);
  EXPECT_EQ(port.released_ids, (std::vector<std::uint64_t>{2, 1}));
}

TEST_F(release_rule, a_hold_collects_port_frames_until_its_last_flush_or_the_next_burst_end) {
  frame_releaser r(port, 8);
  const auto f = receive(4);
  r.hold();
  r.hold();   // nested
  r.give_back(f[2], true);
  r.give_back(f[0], true);
  EXPECT_EQ(port.release_calls(), 0u);
  EXPECT_EQ(port.pool().out(), 4u);
  r.flush();   // the inner one: still held
  EXPECT_EQ(port.release_calls(), 0u);
  r.flush();
  EXPECT_EQ(port.release_calls(), 1u);
  EXPECT_EQ(port.released_ids, (std::vector<std::uint64_t>{3, 1}));
  r.flush();   // unmatched: nothing to do
  EXPECT_EQ(port.release_calls(), 1u);

  // A burst's end takes what a hold collected along in the same call.
  r.hold();
  r.give_back(f[3], true);
  r.give_back_burst({&f[1], 1});
  EXPECT_EQ(port.release_calls(), 2u);
  EXPECT_EQ(port.released_ids, (std::vector<std::uint64_t>{3, 1, 4, 2}));
  r.flush();
  EXPECT_EQ(port.release_calls(), 2u);
}

TEST_F(release_rule, the_interface_parts_follow_it_readers_lent_frames_and_held_releases) {
  interface ifc(port, config());
  udp_socket s(ifc);
  ASSERT_FALSE(s.bind({{}, 9000}));
  for (const char* d : {"d0", "d1", "d2"}) port.inject(udp(peer_ip, me_ip, 1, 9000, text(d)));
  port.inject(udp(peer_ip, me_ip, 1, 9001, text("no socket")));
  ifc.poll(0);
  // The burst's end: only the frame nobody kept, in one call.
  EXPECT_EQ(port.release_calls(), 1u);
  EXPECT_EQ(port.released_ids, (std::vector<std::uint64_t>{4}));
  EXPECT_EQ(port.pool().out(), 3u);

  ifc.hold_releases();
  std::error_code ec;
  {
    lent_frame a = s.try_receive_frame(ec);
    ASSERT_FALSE(ec);
    std::array<std::byte, 8> buf{};
    EXPECT_EQ(s.try_receive_from(buf, ec).bytes, 2u);
    ASSERT_FALSE(ec);
  }   // `a` released here: held with the copied one
  EXPECT_EQ(port.release_calls(), 1u);
  EXPECT_EQ(port.pool().out(), 1u + 2u);   // two held by the rule, one still queued
  ifc.flush_releases();
  EXPECT_EQ(port.release_calls(), 2u);
  EXPECT_EQ(port.released_ids, (std::vector<std::uint64_t>{4, 2, 1}));
  EXPECT_EQ(port.pool().out(), 1u);
  s.close();   // the queued one goes back at once
  EXPECT_EQ(port.released_ids, (std::vector<std::uint64_t>{4, 2, 1, 3}));
}
