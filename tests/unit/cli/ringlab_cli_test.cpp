// The `ringlab` binary, one subcommand at a time, as a user runs it: one exit-code convention for all
// (0 done, 1 the run failed, 2 usage or bad input, with one line naming what), stated by `ringlab
// help` and every --help; stray arguments and options that do not apply are refused, never ignored;
// what the help texts promise (replay's pacing, demo's feed) is what happens.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <pcap/pcap.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>
#include <string>
#include <vector>

#include "tests/support/netns.hpp"
#include "tests/support/ringlab_cli.hpp"
#include "tools/ringlab/checksum_hint.hpp"

using namespace std::chrono_literals;

namespace {

using ringlab::test::ringlab_binary;
using ringlab::test::source_file;
std::string temp_path(const std::string& name) { return ringlab::test::temp_path("cli", name); }

// Under timeout(1): a binary that ignored a stray argument and waited (for a datagram, say) fails
// the test in 30 s instead of hanging it.
ringlab::test::command_result ringlab(std::vector<std::string> args) {
  args.insert(args.begin(), {"timeout", "30", ringlab_binary()});
  return ringlab::test::run(args);
}

// Exit 2, nothing on stdout, exactly one line on stderr.
void expect_usage(const std::vector<std::string>& args, const std::string& line) {
  const auto r = ringlab(args);
  std::string cmd;
  for (const auto& a : args) cmd += a + " ";
  EXPECT_EQ(r.exit_code, 2) << cmd << r.err;
  EXPECT_EQ(r.err, line + "\n") << cmd;
  EXPECT_EQ(r.out, "") << cmd;
}

const char* const exit_codes =
    "exit status (every command):\n"
    "  0  done\n"
    "  1  the run failed: a send, receive or write failed (a full disk), frames leaked, --count not\n"
    "     reached, a signal cut the input short, a replayed pcap cut mid-record (after its counters)\n"
    "  2  usage or bad input, nothing was run: an unknown option, a bad value, a stray argument, an\n"
    "     option that does not apply, an input file that cannot be read, an output that cannot be created,\n"
    "     a server's port already in use\n";

const std::vector<std::string> subcommands = {"demo", "gen-trace", "mcast-recv", "mcast-send", "replay", "rings",
                                              "trace"};

TEST(ringlab_cli, help_states_the_exit_codes_for_every_command) {
  auto r = ringlab({"help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.out.ends_with(std::string("\n") + exit_codes)) << r.out;
  for (const auto& c : subcommands) {
    EXPECT_NE(r.out.find("  " + c + " "), std::string::npos) << c;
    auto h = ringlab({c, "--help"});
    EXPECT_EQ(h.exit_code, 0) << c;
    EXPECT_TRUE(h.out.ends_with(std::string("this text\n\n") + exit_codes)) << c << ":\n" << h.out;
    EXPECT_EQ(h.err, "") << c;
    auto via_help = ringlab({"help", c});
    EXPECT_EQ(via_help.exit_code, 0) << c;
    EXPECT_EQ(via_help.out, h.out) << c;
  }
  expect_usage({"help", "nosuch"}, "ringlab help: unknown command 'nosuch' (ringlab help lists them)");
  expect_usage({"nosuch"}, "ringlab: unknown command 'nosuch' (ringlab help lists them)");
}

TEST(ringlab_cli, every_command_refuses_stray_arguments_naming_them) {
  const std::string feed = source_file("traces/mcast-feed.pcap");
  expect_usage({"mcast-send", "--group", "239.1.1.1", "lines.txt"},
               "ringlab mcast-send: unexpected argument 'lines.txt' (the lines come from standard input or "
               "--file FILE; see --help)");
  expect_usage({"mcast-recv", "--group", "239.1.1.1", "5000"},
               "ringlab mcast-recv: unexpected argument '5000' (options only; see --help)");
  expect_usage({"demo", "fast"}, "ringlab demo: unexpected argument 'fast' (options only; see --help)");
  expect_usage({"gen-trace", "--out", "x.pcap", "flows"},
               "ringlab gen-trace: unexpected argument 'flows' (options only; see --help)");
  expect_usage({"rings", "spsc", "mpmc"}, "ringlab rings: unexpected arguments 'spsc' 'mpmc' (options only; see --help)");
  expect_usage({"replay", feed, "extra.pcap"},
               "ringlab replay: unexpected argument 'extra.pcap' (one FILE, the pcap; see --help)");
  expect_usage({"trace", "replay", feed, "b.pcap", "c.pcap"},
               "ringlab trace: unexpected arguments 'b.pcap' 'c.pcap' (one FILE, the pcap; see --help)");
  expect_usage({"trace", "kernel", feed, "b.pcap"},
               "ringlab trace: unexpected argument 'b.pcap' (one FILE, the pcap; see --help)");
  expect_usage({"trace", "tracepoints", "udp"},
               "ringlab trace: unexpected argument 'udp' (options only; see --help)");
}

TEST(ringlab_cli, options_that_do_not_apply_are_refused) {
  const std::string feed = source_file("traces/mcast-feed.pcap");
  expect_usage({"trace", "kernel", feed, "--save-events", "ev.txt"},
               "ringlab trace: --save-events does not apply to 'trace kernel' (lab path only: trace replay, "
               "trace compare)");
  expect_usage({"trace", "replay", feed, "--raw", "raw.txt"},
               "ringlab trace: --raw does not apply to 'trace replay' (kernel path only: trace kernel, trace compare)");
  expect_usage({"trace", "replay", feed, "--listen", "5000", "--no-listen"},
               "ringlab trace: --listen and --no-listen contradict each other: give one");
  expect_usage({"trace", "tracepoints", "--json", "x.json"},
               "ringlab trace: --json does not apply to 'trace tracepoints' (it takes no options)");
  const std::vector<std::string> sim = {"mcast-recv", "--backend", "sim", "--replay", feed, "--group", "239.1.1.2"};
  auto with = [](std::vector<std::string> v, std::vector<std::string> more) {
    v.insert(v.end(), more.begin(), more.end());
    return v;
  };
  expect_usage(with(sim, {"--show-seq"}),
               "ringlab mcast-recv: --show-seq does not apply to --backend sim (its lines always carry seq=N)");
  expect_usage(with(sim, {"--io", "uring"}),
               "ringlab mcast-recv: --io does not apply to --backend sim (the user-space stack, no kernel socket "
               "to fall back to)");
  expect_usage(with(sim, {"--timeout", "5"}),
               "ringlab mcast-recv: --timeout does not apply to --backend sim (the replay runs on virtual time; "
               "--count N stops it)");
  expect_usage({"mcast-recv", "--group", "239.1.1.2", "--replay", feed},
               "ringlab mcast-recv: --replay does not apply to --backend kernel (bypass backends only)");
  expect_usage({"mcast-recv", "--backend", "dpdk", "--vdev", "net_null0", "--group", "239.1.1.2", "--out", "x.pcap"},
               "ringlab mcast-recv: --out does not apply to --backend dpdk (sim only: a real device sends on its wire)");
  expect_usage({"mcast-send", "--group", "239.1.1.2", "--out", "x.pcap"},
               "ringlab mcast-send: --out does not apply to --backend kernel (bypass backends only)");
  expect_usage({"mcast-send", "--backend", "sim", "--group", "239.1.1.2", "--out", "x.pcap", "--io", "uring"},
               "ringlab mcast-send: --io does not apply to --backend sim (the user-space stack, no kernel socket to "
               "fall back to)");
  expect_usage({"gen-trace", "--kind", "flows", "--groups", "8", "--out", "x.pcap"},
               "ringlab gen-trace: --groups does not apply to --kind flows (mcast-feed only)");
  expect_usage({"gen-trace", "--kind", "malformed", "--count", "8", "--out", "x.pcap"},
               "ringlab gen-trace: --count does not apply to --kind malformed (a fixed list of frames)");
  expect_usage({"gen-trace", "--list", "--out", "x.pcap"},
               "ringlab gen-trace: --out does not apply to --list (it prints a table and exits)");
}

// ---- exit codes, one subcommand at a time ---------------------------------------------------------

TEST(ringlab_cli_exit, rings) {
  auto r = ringlab({"rings", "--check", "spsc", "--capacity", "64"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "spsc: capacity 64, moved 192 items in 3 full rounds, FIFO and full/empty edges ok\n");
  EXPECT_EQ(ringlab({"rings"}).exit_code, 0);
  const auto e = ringlab({"rings", "--check", "nosuch"});
  EXPECT_EQ(e.exit_code, 2);
  EXPECT_EQ(e.err.rfind("ringlab rings: --check: unknown ring design 'nosuch' (known: spsc, ", 0), 0u) << e.err;
  // 1 (a ring that fails its round trip) needs a broken ring: not reachable from the command line.
}

TEST(ringlab_cli_exit, gen_trace) {
  const std::string out = temp_path("gen.pcap");
  auto r = ringlab({"gen-trace", "--kind", "flows", "--count", "5", "--out", out});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, out + ": 5 packets (flows)\n");
  std::remove(out.c_str());
  // The output can be created but a write fails (a full disk): the run failed.
  auto full = ringlab({"gen-trace", "--out", "/dev/full"});
  EXPECT_EQ(full.exit_code, 1);
  EXPECT_EQ(full.err, "ringlab gen-trace: /dev/full: write failed\n");
  expect_usage({"gen-trace", "--out", "/nonexistent-dir/x.pcap"},
               "ringlab gen-trace: --out: cannot create '/nonexistent-dir/x.pcap': no directory '/nonexistent-dir'");
  expect_usage({"gen-trace", "--kind", "jumbo", "--out", out},
               "ringlab gen-trace: --kind: 'jumbo' is not one of mcast-feed, flows, malformed, arp-icmp-igmp, tcp-handshake, "
               "fragments");
}

TEST(ringlab_cli_exit, replay) {
  auto r = ringlab({"replay", source_file("traces/arp-icmp-igmp.pcap")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("trace frames 7, ierrors 0"), std::string::npos) << r.out;
  expect_usage({"replay"}, "ringlab replay: FILE (the pcap to replay) is missing (see --help)");
  expect_usage({"replay", "--clock", "sundial", source_file("traces/arp-icmp-igmp.pcap")},
               "ringlab replay: --clock: 'sundial' is not virtual or real");
  const auto missing = ringlab({"replay", "/nonexistent.pcap"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.err.rfind("ringlab replay: ", 0), 0u);
  EXPECT_NE(missing.err.find("/nonexistent.pcap"), std::string::npos) << missing.err;
  // 1 (pool frames not returned) needs a leaking consumer: not reachable from the command line.
}

// A damaged pcap: `replay` and `trace replay` read it through the same reader and say the same of it:
// the file, the packet and the byte offset where its record is cut.
TEST(ringlab_cli_exit, replay_and_trace_replay_name_the_same_file_packet_and_offset) {
  const std::string src = source_file("traces/arp-icmp-igmp.pcap"), cut = temp_path("cut.pcap");
  {
    std::ifstream in(src, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // 24-byte file header, then packet 1's 16-byte record header and its frame: cut inside packet 2.
    const std::uint32_t len1 = static_cast<std::uint8_t>(bytes[24 + 8]) | static_cast<std::uint8_t>(bytes[24 + 9]) << 8;
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, 24 + 16 + len1 + 16 + 5);
  }
  const auto r = ringlab({"replay", cut}), t = ringlab({"trace", "replay", cut});
  // replay streams the file: packet 1 went through before packet 2's record failed, so the run failed
  // partway (exit 1) and its counters come first; trace replay selects every packet before it runs
  // one, so nothing was run (exit 2).
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(t.exit_code, 2);
  EXPECT_EQ(r.out.rfind("queue ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\ntrace frames 1, ierrors 0 "), std::string::npos) << r.out;
  ASSERT_EQ(r.err.rfind("ringlab replay: " + cut + ": packet 2 at byte offset ", 0), 0u) << r.err;
  EXPECT_EQ(t.err, "ringlab trace: " + r.err.substr(std::string("ringlab replay: ").size())) << t.err;
  std::remove(cut.c_str());
}

// Every sim command streams its trace through the same reader (tools/ringlab/trace_file.hpp, sim_nic's
// pcap_stream) and says the same of a damaged one: the file, the packet and the byte offset, computed
// here from the file's own record headers. Cut inside packet 2: the commands that replay as they read
// (replay, mcast-recv --backend sim) ran packet 1 and fail partway (exit 1, the line last); the ones
// that read the file once before replaying it (demo's groups, trace replay's selection) ran nothing
// (exit 2). Cut inside packet 1: nothing ran anywhere (exit 2).
TEST(ringlab_cli_exit, every_sim_command_names_a_damaged_traces_file_packet_and_offset) {
  const std::string src = source_file("traces/arp-icmp-igmp.pcap");
  std::ifstream in(src, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::uint32_t len1 = static_cast<std::uint8_t>(bytes[24 + 8]) | static_cast<std::uint8_t>(bytes[24 + 9]) << 8;
  struct cut_case {
    std::string name;
    std::size_t keep;
    std::string packet;      // "packet N at byte offset B: "
    int partway_exit;        // replay's and mcast-recv's exit code
  };
  const std::vector<cut_case> cases = {
      {"cut2.pcap", 24 + 16 + len1 + 16 + 5, "packet 2 at byte offset " + std::to_string(24 + 16 + len1) + ": ", 1},
      {"cut1.pcap", 24 + 16 + 5, "packet 1 at byte offset 24: ", 2},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string cut = temp_path(c.name);
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, c.keep);
    const auto r = ringlab({"replay", cut});
    EXPECT_EQ(r.exit_code, c.partway_exit);
    const std::string head = cut + ": " + c.packet;
    ASSERT_EQ(r.err.rfind("ringlab replay: " + head, 0), 0u) << r.err;
    const std::string why = r.err.substr(std::string("ringlab replay: ").size());   // "FILE: packet ...: WHAT\n"
    ASSERT_EQ(why.find('\n'), why.size() - 1) << r.err;
    const auto m = ringlab({"mcast-recv", "--backend", "sim", "--replay", cut, "--group", "239.1.1.1", "--quiet"});
    EXPECT_EQ(m.exit_code, c.partway_exit) << m.err;
    const std::string m_line = "ringlab mcast-recv: " + std::string(c.partway_exit == 2 ? "--replay: " : "") + why;
    if (c.partway_exit == 1) {
      // The summary first (packet 1, an ARP request, answered), the damaged record last.
      EXPECT_NE(m.err.find("mcast-recv: stack: 1 frames in, 0 datagrams delivered"), std::string::npos) << m.err;
      EXPECT_TRUE(m.err.ends_with("\n" + m_line)) << m.err;
    } else {
      EXPECT_EQ(m.err, m_line) << m.err;
    }
    const auto d = ringlab({"demo", "--replay", cut, "--queues", "1"});
    EXPECT_EQ(d.exit_code, 2);
    EXPECT_EQ(d.err, "ringlab demo: --replay: " + why);
    EXPECT_EQ(d.out, "");
    const auto t = ringlab({"trace", "replay", cut});
    EXPECT_EQ(t.exit_code, 2);
    EXPECT_EQ(t.err, "ringlab trace: " + why);
    std::remove(cut.c_str());
  }
}

TEST(ringlab_cli_exit, demo) {
  auto r = ringlab({"demo", "--queues", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("frame pool: 0 out after the run (balanced)"), std::string::npos) << r.out;
  expect_usage({"demo", "--queues", "0"}, "ringlab demo: --queues: '0' is not a whole number in 1..16");
  const auto bad = ringlab({"demo", "--replay", "/nonexistent.pcap"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err.rfind("ringlab demo: --replay: ", 0), 0u) << bad.err;
  // 1 (a frame leaked) needs a leaking stack: not reachable from the command line.
}

TEST(ringlab_cli_exit, trace) {
  const std::string feed = source_file("traces/mcast-feed.pcap");
  auto r = ringlab({"trace", "replay", feed, "--packets", "2", "--quiet"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(", 2 routes"), std::string::npos) << r.out;
  // Each output is written checking every step: a write that fails is the run failing.
  for (const char* opt : {"--json", "--dot", "--save-events"}) {
    auto full = ringlab({"trace", "replay", feed, "--packets", "2", "--quiet", opt, "/dev/full"});
    EXPECT_EQ(full.exit_code, 1) << opt;
    EXPECT_EQ(full.err, std::string("ringlab trace: ") + opt + ": writing '/dev/full' failed: No space left on device\n")
        << opt;
  }
  expect_usage({"trace", "replay", feed, "--json", "/nonexistent-dir/r.json"},
               "ringlab trace: --json: cannot create '/nonexistent-dir/r.json': no directory '/nonexistent-dir'");
  expect_usage({"trace", "kernel", feed, "--raw", "/nonexistent-dir/raw.txt"},
               "ringlab trace: --raw: cannot create '/nonexistent-dir/raw.txt': no directory '/nonexistent-dir'");
  expect_usage({"trace", "kernel"}, "ringlab trace: FILE (a pcap) is missing");
  expect_usage({"trace", "sideways"}, "ringlab trace: unknown subcommand 'sideways' (replay, kernel, compare, tracepoints)");
}

// Saved events replay to the same routes without the pcap; with a pcap, only the one they came from
// (its headers are printed above the routes), else exit 2 naming both.
TEST(ringlab_cli_exit, trace_events_belong_to_their_pcap) {
  const std::string pcap = source_file("traces/arp-icmp-igmp.pcap");
  const std::string ev = temp_path("arp.events");
  auto direct = ringlab({"trace", "replay", pcap, "--save-events", ev});
  ASSERT_EQ(direct.exit_code, 0) << direct.err;
  auto alone = ringlab({"trace", "replay", "--events", ev});
  EXPECT_EQ(alone.exit_code, 0) << alone.err;
  const auto summary = [](const std::string& out) { return out.substr(out.rfind("lab path: ")); };
  EXPECT_EQ(summary(alone.out), summary(direct.out));
  auto same = ringlab({"trace", "replay", pcap, "--events", ev});
  EXPECT_EQ(same.exit_code, 0) << same.err;
  // The routes streamed from the file are the replay's, line for line (between the first line, which
  // says where the events came from, and the closing one).
  const auto routes = [](const std::string& out) {
    const auto from = out.find("\n\n"), to = out.find("\nlab path", from);
    return from == std::string::npos || to == std::string::npos ? std::string() : out.substr(from, to - from);
  };
  EXPECT_NE(routes(direct.out).find("\npacket 7 (lab path)"), std::string::npos) << direct.out;
  EXPECT_EQ(routes(same.out), routes(direct.out));
  const std::string other = source_file("traces/flows.pcap");
  expect_usage({"trace", "replay", other, "--events", ev},
               "ringlab trace: --events " + ev + " came from '" + pcap + "' (" +
                   std::to_string(std::filesystem::file_size(pcap)) + " bytes), not from '" + other + "' (" +
                   std::to_string(std::filesystem::file_size(other)) + " bytes): give that pcap, or none");
  std::filesystem::remove(ev);
}

TEST(ringlab_cli_exit, mcast_send) {
  const std::string in = temp_path("send.txt"), out = temp_path("send.pcap");
  std::ofstream(in) << "a\nbc\n";
  auto r = ringlab({"mcast-send", "--backend", "sim", "--group", "239.1.1.7", "--file", in, "--out", out});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "mcast-send: sent 2 of 2 datagrams (3 payload bytes, 51 UDP bytes) to 239.1.1.7:5000, 0 errors\n");
  expect_usage({"mcast-send", "--group", "239.1.1.7", "--ttl", "300"},
               "ringlab mcast-send: --ttl: '300' is not a whole number in 0..255");
  for (const auto& p : {in, out}) std::remove(p.c_str());
}

// Waits until the reader took everything written into the fifo (`w` is its write end): by then the
// program has its signal handling in place (installed before it reads), so a SIGINT is caught.
bool drained(int w) {
  return ringlab::test::eventually([&] {
    int left = -1;
    return ::ioctl(w, FIONREAD, &left) == 0 && left == 0;
  }, 20s);
}

// SIGINT while reading: the lines read but not sent are counted, and the run failed (exit 1).
TEST(ringlab_cli_exit, mcast_send_interrupted_says_what_was_not_sent) {
  const std::string fifo = temp_path("lines.fifo"), out = temp_path("int.pcap");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int w = ::open(fifo.c_str(), O_RDWR);   // keeps the fifo open: the reader sees no end of input
  ASSERT_GE(w, 0);
  ASSERT_EQ(::write(w, "one\ntwo\nthree\n", 14), 14);
  ringlab::test::background_process p({ringlab_binary(), "mcast-send", "--backend", "sim", "--group", "239.1.1.7",
                                       "--file", fifo, "--out", out});
  ASSERT_TRUE(drained(w)) << p.err();   // the sim backend sends at the end of input: nothing yet
  p.signal(SIGINT);
  const auto code = p.wait_for(10s);
  ::close(w);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1) << p.err();
  EXPECT_EQ(p.err(), "mcast-send: interrupted by SIGINT: 3 lines read, 0 sent, 3 read but not sent\n");
  for (const auto& f : {fifo, out}) std::remove(f.c_str());
}

// The kernel backend too: every line was sent before the signal, and the run still failed (the
// input was cut short).
TEST(ringlab_cli_exit, mcast_send_kernel_interrupted_fails_the_run) {
  const std::string fifo = temp_path("klines.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int w = ::open(fifo.c_str(), O_RDWR);
  ASSERT_GE(w, 0);
  ASSERT_EQ(::write(w, "one\ntwo\n", 8), 8);
  ringlab::test::background_process p({ringlab_binary(), "mcast-send", "--group", "239.1.1.7", "--port", "47099",
                                       "--iface", "lo", "--file", fifo});
  ASSERT_TRUE(drained(w)) << p.err();
  std::this_thread::sleep_for(200ms);   // the loop thread sends them (read but not sent is counted if not)
  p.signal(SIGINT);
  const auto code = p.wait_for(10s);
  ::close(w);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1) << p.err();
  const std::string err = p.err();
  const std::string head = "mcast-send: interrupted by SIGINT: 2 lines read, ";
  const auto at = err.find(head);
  ASSERT_NE(at, std::string::npos) << err;
  const unsigned long sent = std::strtoul(err.c_str() + at + head.size(), nullptr, 10);
  ASSERT_LE(sent, 2u);
  EXPECT_EQ(err.substr(at), head + std::to_string(sent) + " sent, " + std::to_string(2 - sent) + " read but not sent\n");
  EXPECT_EQ(p.out().rfind("mcast-send: sent " + std::to_string(sent) + " of ", 0), 0u) << p.out();
  std::remove(fifo.c_str());
}

TEST(ringlab_cli_exit, mcast_recv) {
  const std::string feed = source_file("traces/mcast-feed.pcap");
  auto r = ringlab({"mcast-recv", "--backend", "sim", "--replay", feed, "--group", "239.1.1.2", "--port", "5002",
                    "--quiet", "--count", "10"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ended by count"), std::string::npos) << r.err;
  // The replay ends before --count is reached: the run failed.
  auto short_run = ringlab({"mcast-recv", "--backend", "sim", "--replay", feed, "--group", "239.1.1.2", "--port",
                            "5002", "--quiet", "--count", "100000"});
  EXPECT_EQ(short_run.exit_code, 1) << short_run.err;
  EXPECT_NE(short_run.err.find("mcast-recv: 2980 received in all, 0 errors; ended by end of replay"), std::string::npos)
      << short_run.err;
  expect_usage({"mcast-recv", "--group", "239.1.1.2", "--backend", "warp"},
               "ringlab mcast-recv: --backend: unknown backend 'warp' (kernel, sim, afxdp, dpdk)");
}

// ---- what the help texts promise ----------------------------------------------------------------

struct stamped {
  std::uint64_t t_ns;
  std::size_t len;
};
std::vector<stamped> read_times(const std::string& path) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  EXPECT_NE(p, nullptr) << err;
  std::vector<stamped> out;
  if (!p) return out;
  pcap_pkthdr* h;
  const u_char* d;
  while (pcap_next_ex(p, &h, &d) == 1)
    out.push_back({std::uint64_t(h->ts.tv_sec) * 1'000'000'000u + std::uint64_t(h->ts.tv_usec), h->caplen});
  pcap_close(p);
  return out;
}

// --pps 1000: frame i leaves at first + i ms, each with its own timestamp (not 256 to a timestamp).
TEST(ringlab_cli, replay_pps_out_stamps_every_frame_at_its_paced_time) {
  const std::string out = temp_path("pps.pcap");
  auto r = ringlab({"replay", "--pps", "1000", "--out", out, source_file("traces/mcast-feed.pcap")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto t = read_times(out);
  ASSERT_EQ(t.size(), 12000u);
  for (std::size_t i = 1; i < t.size(); ++i) ASSERT_EQ(t[i].t_ns - t[0].t_ns, i * 1'000'000u) << "frame " << i;
  std::remove(out.c_str());
}

// Without a rate, --out stamps each frame with its recorded time (the feed: 10 us apart).
TEST(ringlab_cli, replay_out_keeps_the_recorded_spacing) {
  const std::string out = temp_path("afap.pcap");
  const std::string feed = source_file("traces/mcast-feed.pcap");
  auto r = ringlab({"replay", "--out", out, feed});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto in = read_times(feed), got = read_times(out);
  ASSERT_EQ(got.size(), in.size());
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i].t_ns - got[0].t_ns, in[i].t_ns - in[0].t_ns) << i;
  std::remove(out.c_str());
}

double wall_seconds(const std::string& out) {
  const auto at = out.find("wall time ");
  return at == std::string::npos ? -1 : std::strtod(out.c_str() + at + 10, nullptr);
}

// --clock real without a rate paces at the recorded spacing: the feed spans 119.99 ms, so the run
// cannot take less (without pacing it took a few ms). A lower bound only: slow machines pass too.
TEST(ringlab_cli, replay_clock_real_paces_at_the_recorded_spacing) {
  const std::string feed = source_file("traces/mcast-feed.pcap");
  const auto in = read_times(feed);
  ASSERT_EQ(in.size(), 12000u);
  const double span = static_cast<double>(in.back().t_ns - in.front().t_ns) / 1e9;
  auto r = ringlab({"replay", "--clock", "real", feed});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(wall_seconds(r.out), span) << r.out;
  auto fast = ringlab({"replay", "--clock", "real", "--speed", "4", feed});
  ASSERT_EQ(fast.exit_code, 0) << fast.err;
  EXPECT_GE(wall_seconds(fast.out), span / 4) << fast.out;
}

// Run outside the checkout, demo replays the same feed as traces/mcast-feed.pcap (generated from its
// recipe) and says so: the report and the event hash are those of the file.
TEST(ringlab_cli, demo_outside_the_checkout_replays_the_same_feed_and_says_which) {
  const std::string feed = source_file("traces/mcast-feed.pcap");
  // The same TCP part on both sides (the default run has one; --replay has none unless asked).
  auto from_file = ringlab({"demo", "--replay", feed, "--event-hash", "--tcp-bytes", "1048576"});
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  auto elsewhere = ringlab::test::run({"env", "-u", "RINGLAB_SOURCE_DIR", "-C", "/", ringlab_binary(), "demo",
                                       "--event-hash"});
  ASSERT_EQ(elsewhere.exit_code, 0) << elsewhere.err;
  const auto first_nl = [](const std::string& s) { return s.find('\n'); };
  EXPECT_EQ(from_file.out.substr(0, first_nl(from_file.out)), "ringlab demo: " + feed);
  EXPECT_EQ(elsewhere.out.substr(0, first_nl(elsewhere.out)),
            "ringlab demo: traces/mcast-feed.pcap not found here (nor under $RINGLAB_SOURCE_DIR): the same feed "
            "generated in memory from its recipe (gen-trace --kind mcast-feed --groups 4 --count 12000 --size 32 "
            "--pps 100000 --seed 1)");
  EXPECT_EQ(from_file.out.substr(first_nl(from_file.out)), elsewhere.out.substr(first_nl(elsewhere.out)));
  EXPECT_NE(elsewhere.out.find("12000 frames replayed, 4 groups"), std::string::npos) << elsewhere.out;
}

// ---- --tap, --faults, --trace: the decorators on every bypass device --------------------------------

std::uint64_t number_after(const std::string& s, const std::string& key) {
  const auto at = s.find(key);
  EXPECT_NE(at, std::string::npos) << "no '" << key << "' in:\n" << s;
  return at == std::string::npos ? 0 : std::strtoull(s.c_str() + at + key.size(), nullptr, 10);
}

TEST(ringlab_cli, device_flags_are_in_every_bypass_commands_help) {
  for (const char* cmd : {"demo", "mcast-recv", "mcast-send"}) {
    const auto r = ringlab({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    for (const char* o : {"  --tap FILE ", "  --faults SPEC ", "  --trace "})
      EXPECT_NE(r.out.find(o), std::string::npos) << cmd << " --help lacks " << o << ":\n" << r.out;
  }
}

TEST(ringlab_cli_exit, device_flags_bad_input_is_usage_and_a_failed_tap_write_fails_the_run) {
  expect_usage({"demo", "--faults", "drop=2"}, "ringlab demo: --faults: fault spec field 'drop': '2' is not a probability in 0..1");
  expect_usage({"demo", "--faults", "drop=0.1,seed=x"},
               "ringlab demo: --faults: fault spec field 'seed': 'x' is not a whole number (0..2^64-1)");
  expect_usage({"mcast-send", "--backend", "sim", "--group", "239.1.1.2", "--out", temp_path("o.pcap"), "--faults",
                "dir=up"},
               "ringlab mcast-send: --faults: fault spec field 'dir': 'up' is not rx, tx or both");
  expect_usage({"demo", "--tap", "/nonexistent-dir/t.pcap"},
               "ringlab demo: --tap: cannot create '/nonexistent-dir/t.pcap': no directory '/nonexistent-dir'");
  // A field given twice is a typo, not "the last one wins".
  expect_usage({"demo", "--faults", "drop=0.1,drop=0.2"},
               "ringlab demo: --faults: fault spec field 'drop' given twice ('0.1', then '0.2'): give each field once");
  expect_usage({"replay", "--faults", "dup=0.1,dup=0.1", source_file("traces/arp-icmp-igmp.pcap")},
               "ringlab replay: --faults: fault spec field 'dup' given twice ('0.1', then '0.1'): give each field once");
  // Transmit has no delay: asked for on transmit alone it is refused, not counted as done.
  expect_usage({"mcast-send", "--backend", "sim", "--group", "239.1.1.2", "--out", temp_path("o.pcap"), "--faults",
                "delay=1ms,dir=tx"},
               "ringlab mcast-send: --faults: fault spec field 'delay': '1ms' does not apply to dir=tx (delay and "
               "jitter act on received frames only: use dir=rx or both)");
  // A directory that exists but takes no new file (root passes access(2) there): one line, the path once.
  const auto proc = ringlab({"demo", "--tap", "/proc/x.pcap"});
  EXPECT_EQ(proc.exit_code, 2) << proc.err;
  EXPECT_EQ(proc.out, "");
  EXPECT_EQ(proc.err.rfind("ringlab demo: --tap: cannot create '/proc/x.pcap': ", 0), 0u) << proc.err;
  EXPECT_EQ(proc.err.find("/proc/x.pcap"), proc.err.rfind("/proc/x.pcap")) << proc.err;
  EXPECT_EQ(std::count(proc.err.begin(), proc.err.end(), '\n'), 1) << proc.err;
  expect_usage({"mcast-recv", "--group", "239.1.1.2", "--tap", temp_path("t.pcap")},
               "ringlab mcast-recv: --tap does not apply to --backend kernel (bypass backends only)");
  expect_usage({"mcast-send", "--group", "239.1.1.2", "--trace"},
               "ringlab mcast-send: --trace does not apply to --backend kernel (bypass backends only)");
  // A tap file that takes no bytes (a full disk): the run failed, exit 1, one line naming it.
  const auto full = ringlab({"demo", "--queues", "1", "--tap", "/dev/full"});
  EXPECT_EQ(full.exit_code, 1) << full.out << full.err;
  EXPECT_EQ(full.err, "ringlab demo: --tap: writing '/dev/full' failed: No space left on device\n");
  EXPECT_EQ(full.out.find("tap:"), std::string::npos) << "a tap that failed has no frame count:\n" << full.out;
  // Where the counts go to stderr too, the error is still the last line, after them.
  const std::string lines = temp_path("full-lines.txt");
  {
    std::ofstream f(lines);
    f << "a\nb\n";
  }
  const auto send = ringlab({"mcast-send", "--backend", "sim", "--group", "239.1.1.2", "--out", temp_path("o.pcap"),
                             "--file", lines, "--tap", "/dev/full"});
  EXPECT_EQ(send.exit_code, 1) << send.err;
  EXPECT_EQ(send.err, "ringlab mcast-send: --tap: writing '/dev/full' failed: No space left on device\n");
  EXPECT_NE(send.out.find("mcast-send: sent 2 of 2 datagrams"), std::string::npos) << send.out;
  const auto recv = ringlab({"mcast-recv", "--backend", "sim", "--replay", source_file("traces/mcast-feed.pcap"),
                             "--group", "239.1.1.1", "--tap", "/dev/full"});
  EXPECT_EQ(recv.exit_code, 1) << recv.err;
  EXPECT_TRUE(recv.err.ends_with("; ended by end of replay\nringlab mcast-recv: --tap: writing '/dev/full' failed: "
                                 "No space left on device\n"))
      << recv.err;
  EXPECT_EQ(recv.err.find("mcast-recv: tap: "), std::string::npos) << recv.err;
  std::remove(lines.c_str());
  // An empty item in --faults names its place (a stray comma is often a field lost in editing).
  expect_usage({"demo", "--faults", ","},
               "ringlab demo: --faults: fault spec item 1 of ',' is empty (a comma too many): give FIELD=VALUE items "
               "separated by single commas");
  expect_usage({"replay", "--faults", "drop=0.1,", source_file("traces/arp-icmp-igmp.pcap")},
               "ringlab replay: --faults: fault spec item 2 of 'drop=0.1,' is empty (a comma too many): give "
               "FIELD=VALUE items separated by single commas");
}

// `trace replay --quiet` prints no route, so the summary says why packets were dropped: each reason
// with its count, most first (ties by name). traces/README.md's table for malformed.pcap ("trace
// replay" column): packets 2, 4, 6, 7, 8, 9, 10, 12, 13, 15 dropped with their reasons (11 is held).
TEST(ringlab_cli, trace_replay_quiet_counts_the_drops_per_reason) {
  const auto r = ringlab({"trace", "replay", source_file("traces/malformed.pcap"), "--packets", "0", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\nlab path: 15 packets, 10 dropped, "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nlab path drops: 2 bad_ip_header_len, 1 bad_ethertype, 1 bad_ip_checksum, 1 bad_ip_total_len, "
                       "1 bad_ip_version, 1 bad_l4_checksum, 1 bad_l4_length, 1 runt, "
                       "1 snap_truncated\n"),
            std::string::npos)
      << r.out;
}

// --faults takes seed=N in every command that takes --faults (one parser, tools/ringlab/faults_flag.hpp):
// replay's `seed=7` runs as `--seed 7` does, byte for byte, and another seed gives other faults; --seed
// and seed= both given must agree, else exit 2 naming both.
TEST(ringlab_cli, faults_seed_is_the_seed_in_every_command_and_a_conflict_is_refused) {
  const std::string flows = source_file("traces/flows.pcap");
  const auto in_spec = ringlab({"replay", flows, "--faults", "drop=0.05,seed=7"});
  const auto as_flag = ringlab({"replay", flows, "--faults", "drop=0.05", "--seed", "7"});
  const auto both = ringlab({"replay", flows, "--faults", "drop=0.05,seed=7", "--seed", "7"});
  const auto other = ringlab({"replay", flows, "--faults", "drop=0.05,seed=8"});
  ASSERT_EQ(in_spec.exit_code, 0) << in_spec.err;
  ASSERT_EQ(as_flag.exit_code, 0) << as_flag.err;
  EXPECT_EQ(both.exit_code, 0) << both.err;
  // All but the last line (wall time: the real clock's).
  auto counters = [](const std::string& out) { return out.substr(0, out.find("wall time ")); };
  EXPECT_EQ(counters(in_spec.out), counters(as_flag.out));
  EXPECT_EQ(counters(in_spec.out), counters(both.out));
  const std::uint64_t dropped = number_after(in_spec.out, "dropped ");
  EXPECT_GT(dropped, 0u) << in_spec.out;
  EXPECT_NE(number_after(other.out, "dropped "), dropped) << "seed=8 dropped what seed=7 did:\n" << other.out;
  expect_usage({"replay", flows, "--faults", "drop=0.05,seed=7", "--seed", "8"},
               "ringlab replay: --faults seed=7 and --seed 8 disagree: give the faults' seed once");
  expect_usage({"demo", "--faults", "drop=0.05,seed=7", "--seed", "3"},
               "ringlab demo: --faults seed=7 and --seed 3 disagree: give the faults' seed once");
  expect_usage({"tcp-echo", "client", "--backend", "sim", "--faults", "drop=0.05,seed=7", "--seed=9"},
               "ringlab tcp-echo: --faults seed=7 and --seed 9 disagree: give the faults' seed once");
  expect_usage({"replay", flows, "--faults", "drop=0.05,dir=tx"},
               "ringlab replay: --faults: dir=tx does not apply to replay (its faults act between the trace and the NIC)");
}

// Every frame the stack sends is traced, the IGMP leaves the closing sockets send included (the trace
// once ended at the joins): one queue, the feed's 4 groups: 4 reports in, 4 leaves out, and the tap,
// which writes what the stack sent, agrees.
TEST(ringlab_cli, demo_trace_counts_the_leaves_as_well_as_the_joins) {
  const std::string tap = temp_path("demo-leaves.pcap");
  const auto r = ringlab({"demo", "--queues", "1", "--tap", tap, "--trace"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::uint64_t frames_in = number_after(r.out, "stack: ");
  EXPECT_EQ(number_after(r.out, "demo: tap: "), frames_in + 8) << r.out;
  EXPECT_NE(r.out.find(" tx=8"), std::string::npos) << r.out;
  std::remove(tap.c_str());
}

// demo with all three: the tap holds every frame the stacks took (after the faults) and sent, the
// faults' counts are the stack's input, and the hop events count one fault hop per drop and one
// pcap_tap hop per frame in.
TEST(ringlab_cli, demo_with_tap_faults_and_trace_counts_add_up) {
  const std::string tap = temp_path("demo-tap.pcap");
  const auto r = ringlab({"demo", "--queues", "2", "--tap", tap, "--faults", "drop=0.01,dup=0.01,seed=3", "--trace"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string rx = r.out.substr(r.out.find("demo: faults rx: "));
  const std::uint64_t in = number_after(rx, "rx: in="), dropped = number_after(rx, " dropped="),
                      dups = number_after(rx, " duplicated=");
  EXPECT_EQ(in, 12000u);
  EXPECT_GT(dropped, 0u);
  EXPECT_GT(dups, 0u);
  const std::uint64_t frames_in = number_after(r.out, "stack: ");
  EXPECT_EQ(frames_in, in - dropped + dups);
  const std::uint64_t tapped = number_after(r.out, "demo: tap: ");
  EXPECT_EQ(read_times(tap).size(), tapped);
  EXPECT_GE(tapped, frames_in);   // plus what the stacks sent (IGMP)
  EXPECT_EQ(number_after(r.out, " pcap_tap="), frames_in);
  EXPECT_EQ(number_after(r.out, " fault="), dropped);
  // One port_rx and one release per frame the stacks took: the stack's own hops, not doubled by a
  // decorator emitting them again.
  EXPECT_EQ(number_after(r.out, " port_rx="), frames_in);
  EXPECT_EQ(number_after(r.out, " release="), frames_in);
  EXPECT_NE(r.out.find("frame pool: 0 out after the run (balanced)"), std::string::npos) << r.out;
  std::remove(tap.c_str());
}

// mcast-send --backend sim: the tap sits above the faults, so it holds every frame the stack sent and
// --out (the wire) exactly the ones the transmit faults let through.
TEST(ringlab_cli, mcast_send_tap_sees_what_the_stack_sent_and_the_wire_what_the_faults_let_pass) {
  const std::string tap = temp_path("send-tap.pcap"), out = temp_path("send-out.pcap"), in = temp_path("lines.txt");
  {
    std::ofstream f(in);
    for (int i = 0; i < 40; ++i) f << "line " << i << "\n";
  }
  const auto r = ringlab({"mcast-send", "--backend", "sim", "--group", "239.1.1.2", "--out", out, "--file", in,
                          "--tap", tap, "--faults", "drop=0.25,seed=9,dir=tx"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string tx = r.err.substr(r.err.find("mcast-send: faults tx: "));
  const std::uint64_t sent = number_after(tx, "tx: in="), dropped = number_after(tx, " dropped=");
  EXPECT_GE(sent, 40u);   // the datagrams, plus IGMP
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(number_after(r.err, "mcast-send: faults rx: in="), 0u);   // nothing came in
  // Transmit has no delay: its line counts none (a committed batch leaves at once).
  EXPECT_EQ(tx.substr(0, tx.find('\n')).find("delayed"), std::string::npos) << tx;
  const auto on_tap = read_times(tap), on_wire = read_times(out);
  EXPECT_EQ(on_tap.size(), sent);
  EXPECT_EQ(number_after(r.err, "mcast-send: tap: "), sent);
  EXPECT_EQ(on_wire.size(), sent - dropped);
  for (const auto& p : {tap, out, in}) std::remove(p.c_str());
}

// --tap on sim: times are the trace's own (sim_nic's virtual clock runs on the trace's time line), the
// stacks' first frames (IGMP joins) just before the first replayed frame, not at virtual time 0
// (1970), and never going back. mcast-send has no trace: its clock starts at a fixed epoch.
TEST(ringlab_cli, sim_tap_times_are_the_traces_own_and_never_go_back) {
  const std::string feed = source_file("traces/mcast-feed.pcap"), tap = temp_path("times-tap.pcap");
  const auto in = read_times(feed);
  ASSERT_EQ(in.size(), 12000u);
  const auto r = ringlab({"demo", "--queues", "2", "--replay", feed, "--tap", tap});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto t = read_times(tap);
  ASSERT_GT(t.size(), in.size());   // the feed, plus the IGMP the stacks sent
  EXPECT_EQ(t.front().t_ns, in.front().t_ns - 1);   // the joins, just before the first frame
  for (std::size_t i = 1; i < t.size(); ++i) ASSERT_GE(t[i].t_ns, t[i - 1].t_ns) << "frame " << i;
  std::size_t from_feed = 0;
  for (const auto& x : t) from_feed += x.t_ns >= in.front().t_ns && x.t_ns <= in.back().t_ns;
  EXPECT_GE(from_feed, in.size());

  const std::string lines = temp_path("times-lines.txt"), out = temp_path("times-out.pcap"),
                    send_tap = temp_path("times-send-tap.pcap");
  std::ofstream(lines) << "a\nb\n";
  const auto s = ringlab({"mcast-send", "--backend", "sim", "--group", "239.1.1.7", "--file", lines, "--out", out,
                          "--tap", send_tap});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  for (const auto& path : {send_tap, out}) {
    const auto w = read_times(path);
    ASSERT_GE(w.size(), 2u) << path;
    EXPECT_GE(w.front().t_ns, 1'700'000'000'000'000'000u) << path;   // 2023-11-14, the bundled traces' epoch
    EXPECT_LT(w.back().t_ns, 1'700'000'000'000'000'000u + 60'000'000'000u) << path;
    for (std::size_t i = 1; i < w.size(); ++i) EXPECT_GE(w[i].t_ns, w[i - 1].t_ns) << path << " frame " << i;
  }
  for (const auto& p : {tap, lines, out, send_tap}) std::remove(p.c_str());
}

// A trace with no multicast gives the demo's receivers nothing to join: the report says so, what the
// trace sends instead, and what to pass, in place of an empty table.
TEST(ringlab_cli, demo_on_a_trace_without_multicast_says_why_nothing_was_delivered) {
  const std::string flows = source_file("traces/flows.pcap");
  const auto r = ringlab({"demo", "--queues", "1", "--replay", flows});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\n  no receiver: the demo joins the multicast (group, port) pairs a trace sends UDP to "
                       "(224.0.0.0/4),\n  and " + flows + " has none: its 4096 UDP datagrams go to 10.0.0.2:5001 "
                       "(1276), 10.0.0.2:5004 (1258), 10.0.0.2:5002 (801) and 1 more destination\n"
                       "  pass a multicast feed (--replay traces/mcast-feed.pcap, or one from ringlab gen-trace --kind "
                       "mcast-feed),\n  or follow this trace's datagrams hop by hop: ringlab trace replay " + flows + "\n"),
            std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("  group "), std::string::npos) << r.out;   // no empty table
  EXPECT_NE(r.out.find("\n  drops by reason: no_socket=4096\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 groups"), std::string::npos) << r.out;
  const std::string arp = source_file("traces/arp-icmp-igmp.pcap");
  const auto n = ringlab({"demo", "--queues", "1", "--replay", arp});
  ASSERT_EQ(n.exit_code, 0) << n.err;
  EXPECT_NE(n.out.find("  and " + arp + " has none: its 7 frames hold no UDP/IPv4 datagram\n"), std::string::npos)
      << n.out;
  // A TCP trace: its segments reach a connection only through a listener, so the hint names the port
  // its SYNs open (5001; not 5002, which one lone SYN tries, to be refused).
  const std::string tcp = source_file("traces/tcp-handshake.pcap");
  const auto t = ringlab({"demo", "--queues", "1", "--replay", tcp});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("  or follow this trace's TCP segments hop by hop: ringlab trace replay " + tcp +
                       " --tcp-listen 5001\n"),
            std::string::npos)
      << t.out;
  // The feed itself: the table, no such note.
  const auto feed = ringlab({"demo", "--queues", "1"});
  ASSERT_EQ(feed.exit_code, 0) << feed.err;
  EXPECT_EQ(feed.out.find("no receiver"), std::string::npos) << feed.out;
}

// usage_text adds "(repeatable)" to a repeatable option: its own help must not say it again.
TEST(ringlab_cli, help_says_repeatable_once_per_option) {
  for (const auto& c : subcommands) {
    const auto h = ringlab({c, "--help"});
    std::istringstream lines(h.out);
    for (std::string l; std::getline(lines, l);) {
      const auto first = l.find("repeatable");
      EXPECT_TRUE(first == std::string::npos || l.find("repeatable", first + 1) == std::string::npos)
          << c << ": " << l;
    }
  }
  const auto h = ringlab({"mcast-recv", "--help"});
  EXPECT_NE(h.out.find("\n  --group ADDR            IPv4 multicast group to join (224.0.0.0/4); more than one: "
                       "bypass backends only (repeatable)\n"), std::string::npos) << h.out;
}

// trace replay's cost line divides two replays' CPU time by the frames they read: on a few frames that
// is mostly the replay's set-up, so it says "not measured" instead of a number. `--packets N` stops
// reading once N routes are out, so the measured run reads the whole file (--packets 0).
TEST(ringlab_cli, trace_replay_prints_the_cost_only_on_enough_frames) {
  const auto few = ringlab({"trace", "replay", source_file("traces/arp-icmp-igmp.pcap"), "--quiet"});
  ASSERT_EQ(few.exit_code, 0) << few.err;
  EXPECT_NE(few.out.find("\nlab path cost: not measured on 7 frames (a per-frame figure needs 4096 or more: below "
                         "that the replay's set-up is most of it); hop times below: "), std::string::npos) << few.out;
  EXPECT_EQ(few.out.find("CPU time per frame"), std::string::npos) << few.out;
  const auto many = ringlab({"trace", "replay", source_file("traces/flows.pcap"), "--quiet", "--packets", "0"});
  ASSERT_EQ(many.exit_code, 0) << many.err;
  EXPECT_NE(many.out.find("\nlab path cost: replay loop (sim_nic + stack + reader), CPU time per frame: "),
            std::string::npos) << many.out;
  EXPECT_NE(many.out.find("; 4096 frames); hop times below: "), std::string::npos) << many.out;
}

}  // namespace

// afxdp over a veth whose peer offloads TX checksums: every datagram fails its checksum. Many bad, none
// delivered, on a real port: one hint naming the fix; a few bad ones, a delivery, or sim: no hint.
TEST(ringlab_cli_hint, checksum_offload_is_named_when_every_datagram_fails_its_checksum_on_a_real_port) {
  using ringlab::cli::checksum_offload_hint;
  EXPECT_EQ(checksum_offload_hint("mcast-recv", "afxdp", 50, 0),
            "mcast-recv: hint: 50 datagrams on afxdp failed their checksum (bad_l4_checksum) and none was "
            "delivered: the sending veth peer leaves checksums to TX offload, which nothing runs before afxdp "
            "takes the frame; turn it off on the peer: ethtool -K PEER tx off (backends/README.md)\n");
  EXPECT_NE(checksum_offload_hint("mcast-recv", "dpdk", 8, 0), "");
  EXPECT_EQ(checksum_offload_hint("mcast-recv", "afxdp", 7, 0), "");    // a few: corruption, not offload
  EXPECT_EQ(checksum_offload_hint("mcast-recv", "afxdp", 50, 1), "");   // one good: checksums work
  EXPECT_EQ(checksum_offload_hint("mcast-recv", "sim", 50, 0), "");     // sim_nic: no veth peer
  EXPECT_EQ(checksum_offload_hint("mcast-recv", "kernel", 50, 0), "");
}
