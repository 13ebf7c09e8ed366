#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "trace/trace.hpp"

using namespace ringlab::trace;

TEST(trace, off_records_nothing) {
  enable(false);
  drain();
  emit({.packet_id = 1, .t_ns = 5});
  EXPECT_TRUE(drain().empty());
}

TEST(trace, events_from_threads_come_back_in_time_order_with_their_source) {
  drain();
  enable(true);
  std::thread t([] { emit({.packet_id = 2, .t_ns = 20, .stage = hop::udp}); });
  t.join();
  emit({.packet_id = 1, .t_ns = 10, .stage = hop::nic_rx});
  emit({.packet_id = 1, .t_ns = 30, .stage = hop::ipv4, .v = verdict::drop,
        .reason = drop_reason::bad_ip_checksum});
  enable(false);
  auto ev = drain();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].t_ns, 10u);
  EXPECT_EQ(ev[1].stage, hop::udp);
  EXPECT_EQ(ev[2].reason, drop_reason::bad_ip_checksum);
  EXPECT_NE(std::string(ev[2].where.file_name()).find("trace_test.cpp"), std::string::npos);
  EXPECT_EQ(to_string(ev[2].reason), "bad_ip_checksum");
  EXPECT_EQ(to_string(hop::socket_queue), "socket_queue");
}

TEST(trace, hash_depends_on_every_field_but_source) {
  std::vector<event> a{{.packet_id = 1, .t_ns = 2}}, b = a;
  EXPECT_EQ(hash(a), hash(b));
  b[0].queue = 1;
  EXPECT_NE(hash(a), hash(b));
}
