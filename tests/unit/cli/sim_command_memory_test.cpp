// A sim command's memory stays flat as its trace grows, as `ringlab replay`'s does
// (tests/unit/sim_nic/pcap_stream_memory_test.cpp): `ringlab demo --replay FILE` reads the file twice
// (once for the groups to join, once to replay it through the stacks) through sim_nic's pcap_stream,
// and its peak RSS at 10^6 messages is within 8 MiB of its peak at 10^5. The child's peak is the
// kernel's (wait4's ru_maxrss), measured apart from the code under test.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/ringlab_cli.hpp"
#include "tools/gen_trace/gen_trace.hpp"

namespace {

struct child_run {
  int exit_code = -1;
  long peak_kib = 0;
  std::string out;
};

// Runs ringlab ARGS with stdout to a file; its exit code and peak RSS.
child_run run_measured(const std::vector<std::string>& args, const std::string& out_file) {
  child_run r;
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ::dup2(fd, 1) < 0) ::_exit(127);
    // ASan's quarantine holds freed memory (256 MiB): the measure is of the command's allocations, so
    // it is off, as in the pcap_stream memory test.
    std::string asan = "quarantine_size_mb=0:thread_local_quarantine_size_kb=0";
    if (const char* o = std::getenv("ASAN_OPTIONS"); o && *o) asan = std::string(o) + ":" + asan;
    ::setenv("ASAN_OPTIONS", asan.c_str(), 1);
    std::vector<std::string> a = {ringlab::test::ringlab_binary()};
    a.insert(a.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int st = 0;
  rusage ru{};
  if (pid < 0 || ::wait4(pid, &st, 0, &ru) != pid) return r;
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.peak_kib = ru.ru_maxrss;
  std::FILE* f = std::fopen(out_file.c_str(), "r");
  if (f) {
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) r.out.append(buf, n);
    std::fclose(f);
  }
  return r;
}

// The mcast feed (4 groups, 32-byte messages, 1 us apart) of n messages at path; the frames written.
std::uint64_t write_feed(const std::string& path, std::uint64_t n) {
  ringlab::gen_trace::options o;
  o.count = n;
  o.size = 32;
  o.pps = 1e6;
  std::uint64_t written = 0;
  EXPECT_EQ(ringlab::gen_trace::generate_pcap(path, o, &written), "");
  return written;
}

long file_bytes(const std::string& p) {
  struct stat s{};
  return ::stat(p.c_str(), &s) == 0 ? static_cast<long>(s.st_size) : 0;
}

}  // namespace

TEST(sim_command_memory, demo_streams_its_trace_flat_from_1e5_to_1e6_messages) {
  const std::string small = ringlab::test::temp_path("simmem", "1e5.pcap");
  const std::string big = ringlab::test::temp_path("simmem", "1e6.pcap");
  const std::string out = ringlab::test::temp_path("simmem", "out.txt");
  std::uint64_t big_frames = 0;   // what the big file holds: every one must be replayed and delivered
  for (const auto& [path, n] : {std::pair{small, 100'000ull}, std::pair{big, 1'000'000ull}}) {
    big_frames = write_feed(path, n);
    ASSERT_GE(big_frames, n);
  }
  const auto s = run_measured({"demo", "--replay", small, "--queues", "1"}, out);
  const auto b = run_measured({"demo", "--replay", big, "--queues", "1"}, out);
  const long grown = file_bytes(big) - file_bytes(small);
  std::remove(small.c_str());
  std::remove(big.c_str());
  std::remove(out.c_str());
  ASSERT_EQ(s.exit_code, 0);
  ASSERT_EQ(b.exit_code, 0) << b.out;
  // Every message went through, both passes over the stream whole: the replay counted every frame of
  // the file, and the stack took each in and delivered each to a group's socket.
  const std::string n = std::to_string(big_frames);
  EXPECT_NE(b.out.find("\n  " + n + " frames replayed, 4 groups"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("\n  stack: " + n + " frames in, " + n + " datagrams delivered to sockets\n"), std::string::npos)
      << b.out;
  std::printf("demo --replay: peak RSS %.1f MiB at 10^5 messages, %.1f MiB at 10^6 (files %.0f MB apart)\n",
              static_cast<double>(s.peak_kib) / 1024, static_cast<double>(b.peak_kib) / 1024, static_cast<double>(grown) / 1e6);
  constexpr long bound_kib = 8 * 1024;
  // The control: the files differ by far more than the bound, so a command that held the trace (or any
  // per-frame state) in memory could not stay within it.
  EXPECT_GT(grown / 1024, 4 * bound_kib);
  EXPECT_LT(b.peak_kib, s.peak_kib + bound_kib) << "demo's memory grew with its trace";
}

// `repro record` and `repro check` stream: the recorded run writes its events as they come (a sorting
// window of trace::repro_window events), and record and check hash and compare the events files 64 KiB
// at a time. Peak RSS of the whole tree (record or check, and the ringlab run under it: wait4 counts
// the largest of them) at 5x10^5 packets within 8 MiB of 5x10^4's; before, both kept every event
// (~150 bytes per packet: 775 MiB at 10^6 packets).
TEST(sim_command_memory, repro_record_and_check_are_flat_from_5e4_to_5e5_packets) {
  const std::string small = ringlab::test::temp_path("simmem", "r5e4.pcap");
  const std::string big = ringlab::test::temp_path("simmem", "r5e5.pcap");
  const std::string out = ringlab::test::temp_path("simmem", "rout.txt");
  const std::string bs = ringlab::test::temp_path("simmem", "bundle_small");
  const std::string bb = ringlab::test::temp_path("simmem", "bundle_big");
  for (const auto& [path, n] : {std::pair{small, 50'000ull}, std::pair{big, 500'000ull}}) {
    ringlab::gen_trace::options o;
    o.what = ringlab::gen_trace::kind::flows;
    o.count = n;
    std::uint64_t written = 0;
    ASSERT_EQ(ringlab::gen_trace::generate_pcap(path, o, &written), "");
    ASSERT_EQ(written, n);
  }
  std::filesystem::remove_all(bs);
  std::filesystem::remove_all(bb);
  const auto rs = run_measured({"repro", "record", "--out", bs, "--", "replay", small}, out);
  const auto rb = run_measured({"repro", "record", "--out", bb, "--", "replay", big}, out);
  ASSERT_EQ(rs.exit_code, 0) << rs.out;
  ASSERT_EQ(rb.exit_code, 0) << rb.out;
  const auto cs = run_measured({"repro", "check", bs}, out);
  const auto cb = run_measured({"repro", "check", bb}, out);
  ASSERT_EQ(cs.exit_code, 0) << cs.out;
  ASSERT_EQ(cb.exit_code, 0) << cb.out;
  // Every packet's five hops (nic_rx, rss, pool, ring_enqueue, ring_dequeue) in the events file, 16
  // bytes each, and check went through all of them.
  EXPECT_EQ(file_bytes(bb + "/events.bin"), 500'000l * 5 * 16);
  EXPECT_NE(cb.out.find("\nSAME: 2500000 events, 2500 checkpoints, final hash "), std::string::npos) << cb.out;
  // No event came later than the sorting window: the file is in drain()'s time order.
  EXPECT_EQ(file_bytes(bb + "/stderr.txt"), 0);
  std::printf("repro: peak RSS record %.1f / %.1f MiB, check %.1f / %.1f MiB at 5x10^4 / 5x10^5 packets\n",
              static_cast<double>(rs.peak_kib) / 1024, static_cast<double>(rb.peak_kib) / 1024,
              static_cast<double>(cs.peak_kib) / 1024, static_cast<double>(cb.peak_kib) / 1024);
  constexpr long bound_kib = 8 * 1024;
  // The control: the big bundle's events alone are far past the bound.
  EXPECT_GT(file_bytes(bb + "/events.bin") / 1024, 4 * bound_kib);
  EXPECT_LT(rb.peak_kib, rs.peak_kib + bound_kib) << "repro record's memory grew with the trace";
  EXPECT_LT(cb.peak_kib, cs.peak_kib + bound_kib) << "repro check's memory grew with the trace";
  std::filesystem::remove_all(bs);
  std::filesystem::remove_all(bb);
  std::remove(small.c_str());
  std::remove(big.c_str());
  std::remove(out.c_str());
}

// `trace replay` streams its routes (tools/trace_packet_flow/route_stream.hpp): each route printed when
// complete and forgotten, the latency table gathered as histograms. Before, the run's events were all
// kept (~3 KB a packet as lab_events and routes: ~300 MB more at 10^5 packets than at 10^4); now peak
// RSS at 10^5 is within the same 8 MiB of 10^4's as the other sim commands, with the timeline printed
// (to a file) and with --quiet. And `--packets 10` reads no further than the frames of its 10 routes:
// the NIC's count of frames read, which the summary line prints, is 10 on a 10^5-packet file.
TEST(sim_command_memory, trace_replay_streams_its_routes_flat_from_1e4_to_1e5_packets) {
  const std::string small = ringlab::test::temp_path("simmem", "t1e4.pcap");
  const std::string big = ringlab::test::temp_path("simmem", "t1e5.pcap");
  const std::string out = ringlab::test::temp_path("simmem", "tout.txt");
  for (const auto& [path, n] : {std::pair{small, 10'000ull}, std::pair{big, 100'000ull}}) ASSERT_EQ(write_feed(path, n), n);
  constexpr long bound_kib = 8 * 1024;
  for (const bool quiet : {true, false}) {
    std::vector<std::string> args = {"trace", "replay", "--packets", "0"};
    if (quiet) args.push_back("--quiet");
    auto with = [&](const std::string& f) { auto v = args; v.insert(v.begin() + 2, f); return v; };
    const auto s = run_measured(with(small), out);
    const auto b = run_measured(with(big), out);
    ASSERT_EQ(s.exit_code, 0) << s.out;
    ASSERT_EQ(b.exit_code, 0) << b.out.substr(0, 2000);
    // Every packet's route went through: all delivered, each counted at its deliver hop.
    EXPECT_NE(b.out.find("; 100000 of 100000 packets selected, 100000 routes\n"), std::string::npos)
        << b.out.substr(b.out.size() > 3000 ? b.out.size() - 3000 : 0);
    EXPECT_NE(b.out.find("\nlab    deliver       100000"), std::string::npos);
    EXPECT_NE(b.out.find("\nlab path: 100000 packets, 0 dropped, "), std::string::npos);
    std::printf("trace replay%s: peak RSS %.1f MiB at 10^4 packets, %.1f MiB at 10^5\n", quiet ? " --quiet" : "",
                static_cast<double>(s.peak_kib) / 1024, static_cast<double>(b.peak_kib) / 1024);
    EXPECT_LT(b.peak_kib, s.peak_kib + bound_kib) << "trace replay's memory grew with its trace";
  }
  // --packets 10: ten routes, and the replay read ten frames of the 100000 (the untraced cost run
  // replays the same ten).
  const auto few = run_measured({"trace", "replay", big, "--packets", "10"}, out);
  ASSERT_EQ(few.exit_code, 0) << few.out;
  EXPECT_NE(few.out.find("; 10 of the first 10 packets selected, 10 routes (--packets 10: the file was read no further)\n"),
            std::string::npos) << few.out;
  EXPECT_NE(few.out.find("\nlab path cost: not measured on 10 frames "), std::string::npos) << few.out;
  std::remove(small.c_str());
  std::remove(big.c_str());
  std::remove(out.c_str());
}
