// Memory stays flat as the trace grows: gen-trace writing and sim_nic replaying a stream of 10^5 and
// 10^6 packets peak within 8 MiB of each other (and a 5-loop replay too), while the 10^5-packet file
// loaded whole (the pcap_trace) already costs more than the bound: the control that shows the measure
// sees a trace held in memory.
// The 10^7-packet and multi-GB traces are pcap_stream_memory_slow_test.cpp (label slow).
#include "tests/unit/sim_nic/stream_memory.hpp"

#include <unistd.h>

// ASan keeps freed memory in a 256 MiB quarantine, so in that build every phase's peak would carry
// the frees of the phases before it: the measure is of our allocations, so the quarantine is off here.
#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __asan_default_options() { return "quarantine_size_mb=0:thread_local_quarantine_size_kb=0"; }
#endif

using namespace ringlab;
using namespace ringlab::simtest;

TEST(pcap_stream_memory, flat_from_1e5_to_1e6_packets_and_a_loaded_trace_is_not) {
  std::string why;
  if (!peak_resettable(why)) GTEST_SKIP() << why;
  const std::string small = "/tmp/ringlab-stream-mem-1e5-" + std::to_string(::getpid()) + ".pcap";
  const std::string big = "/tmp/ringlab-stream-mem-1e6-" + std::to_string(::getpid()) + ".pcap";
  std::vector<peak_row> rows;
  rows.push_back({"gen-trace", 100'000, 0, peak_kib_of([&] { make_trace(small, 100'000, 32); })});
  rows.push_back({"gen-trace", 1'000'000, 0, peak_kib_of([&] { make_trace(big, 1'000'000, 32); })});
  rows[0].file_bytes = file_size(small);
  rows[1].file_bytes = file_size(big);
  rows.push_back({"replay stream", 100'000, rows[0].file_bytes, peak_kib_of([&] { replay_stream(small, 100'000); })});
  rows.push_back({"replay stream", 1'000'000, rows[1].file_bytes, peak_kib_of([&] { replay_stream(big, 1'000'000); })});
  rows.push_back({"replay stream, --loop 5", 100'000, rows[0].file_bytes, peak_kib_of([&] { replay_stream(small, 100'000, 5); })});
  rows.push_back({"pcap_trace::open (loaded)", 100'000, rows[0].file_bytes, peak_kib_of([&] {
                    auto t = sim::pcap_trace::open(small);
                    ASSERT_TRUE(t) << t.error;
                    EXPECT_EQ(t->records().size(), 100'000u);
                  })});
  std::remove(small.c_str());
  std::remove(big.c_str());
  print_rows(rows);
  constexpr std::uint64_t bound_kib = 8 * 1024;
  EXPECT_LT(rows[1].peak_kib, rows[0].peak_kib + bound_kib) << "gen-trace grew with the packet count";
  EXPECT_LT(rows[3].peak_kib, rows[2].peak_kib + bound_kib) << "the stream's replay grew with the packet count";
  EXPECT_LT(rows[4].peak_kib, rows[2].peak_kib + bound_kib) << "--loop grew";
  // The loaded trace holds the file's frames (~7.4 MB) plus 40 bytes a record (4 MB), in vectors that
  // grew by doubling: above the bound already at 10^5 packets, where the stream's peak did not move.
  EXPECT_GT(rows[5].peak_kib, rows[2].peak_kib + bound_kib);
}
