// `ringlab repro` as a user runs it: record a sim run, check it reproduces, and see a difference named
// by its checkpoint, event, packet and hop. The expected differences are computed here from the two
// runs' own event files, and the trace digests by sha256sum (coreutils), not by the code under test.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/netns.hpp"
#include "tests/support/ringlab_cli.hpp"
#include "trace/repro_log.hpp"

namespace fs = std::filesystem;
using ringlab::test::ringlab_binary;
using ringlab::test::source_file;

namespace {

std::string temp(const std::string& name) { return ringlab::test::temp_path("repro", name); }

ringlab::test::command_result run_ringlab(std::vector<std::string> args) {
  args.insert(args.begin(), {"timeout", "120", ringlab_binary()});
  return ringlab::test::run(args);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<ringlab::trace::repro_record> events_of(const fs::path& p) {
  const std::string b = slurp(p);
  std::vector<ringlab::trace::repro_record> v(b.size() / sizeof(ringlab::trace::repro_record));
  std::memcpy(v.data(), b.data(), v.size() * sizeof(ringlab::trace::repro_record));
  return v;
}

std::string sha256sum(const std::string& file) {
  const auto r = ringlab::test::run({"sha256sum", file});
  return r.out.substr(0, 64);
}

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

// A run with faults on two queues: RSS, faults, rings, pool, release all emit events.
std::vector<std::string> replay_cmd(const std::string& trace, const std::string& seed) {
  return {"replay", trace, "--queues", "2", "--faults", "drop=0.02,dup=0.02,reorder=0.05:8,corrupt=0.02", "--seed", seed};
}

ringlab::test::command_result record(const std::string& dir, const std::vector<std::string>& cmd, const std::string& every = "500") {
  std::vector<std::string> a = {"repro", "record", "--out", dir, "--every", every, "--"};
  a.insert(a.end(), cmd.begin(), cmd.end());
  return run_ringlab(a);
}

}  // namespace

TEST(repro, a_recorded_replay_checks_the_same_and_the_bundle_says_what_ran) {
  const std::string dir = temp("same"), flows = source_file("traces/flows.pcap");
  fs::remove_all(dir);
  const auto r = record(dir, replay_cmd(flows, "7"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto ev = events_of(fs::path(dir) / "events.bin");
  ASSERT_GT(ev.size(), 4096u * 4) << "every frame passes several hops";
  const std::string b = slurp(fs::path(dir) / "bundle.txt");
  EXPECT_TRUE(b.starts_with("ringlab-repro 1\narg replay\narg " + flows + "\narg --queues\narg 2\n")) << b;
  EXPECT_TRUE(has_line(b, "seed 7")) << b;
  EXPECT_TRUE(has_line(b, "file " + sha256sum(flows) + " " + flows)) << b;
  EXPECT_TRUE(has_line(b, "events " + std::to_string(ev.size()))) << b;
  EXPECT_TRUE(has_line(b, "every 500")) << b;
  EXPECT_TRUE(has_line(b, "exit 0")) << b;
  // One checkpoint per 500 events, the last one at the largest multiple of 500.
  const std::size_t cps = ev.size() / 500;
  char line[64];
  std::uint64_t h = ringlab::trace::repro_hash_seed;
  for (std::size_t i = 0; i < cps * 500; ++i) h = ringlab::trace::repro_hash(h, ev[i]);
  std::snprintf(line, sizeof line, "checkpoint %zu %016llx", cps * 500, static_cast<unsigned long long>(h));
  EXPECT_TRUE(has_line(b, line)) << line;
  EXPECT_EQ(b.find("checkpoint " + std::to_string((cps + 1) * 500) + " "), std::string::npos);
  // The command's own output is kept beside it.
  EXPECT_NE(slurp(fs::path(dir) / "stdout.txt").find("ipackets"), std::string::npos);

  const auto c = run_ringlab({"repro", "check", dir});
  EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
  EXPECT_TRUE(has_line(c.out, "SAME: " + std::to_string(ev.size()) + " events, " + std::to_string(cps) +
                                  " checkpoints, final hash " + b.substr(b.find("final ") + 6, 16) + ", exit 0"))
      << c.out;
  fs::remove_all(dir);
}

TEST(repro, another_seed_is_named_by_checkpoint_event_packet_and_hop) {
  const std::string a = temp("seed7"), b = temp("seed8"), flows = source_file("traces/flows.pcap");
  fs::remove_all(a);
  fs::remove_all(b);
  ASSERT_EQ(record(a, replay_cmd(flows, "7")).exit_code, 0);
  ASSERT_EQ(record(b, replay_cmd(flows, "8")).exit_code, 0);
  const auto ea = events_of(fs::path(a) / "events.bin"), eb = events_of(fs::path(b) / "events.bin");
  std::size_t i = 0;
  while (i < ea.size() && i < eb.size() && ea[i] == eb[i]) ++i;
  ASSERT_LT(i, std::min(ea.size(), eb.size())) << "seeds 7 and 8 gave the same events";
  // The bundle of seed 7 with its command changed to seed 8: as if another machine ran it differently.
  std::string text = slurp(fs::path(a) / "bundle.txt");
  const auto at = text.find("arg 7\n");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 6, "arg 8\n");
  std::ofstream(fs::path(a) / "bundle.txt") << text;
  const auto c = run_ringlab({"repro", "check", a});
  EXPECT_EQ(c.exit_code, 1) << c.out << c.err;
  const std::size_t cp = i / 500 + 1;
  EXPECT_TRUE(has_line(c.out, "DIFFERS at checkpoint " + std::to_string(cp) + " (events " + std::to_string((cp - 1) * 500) +
                                  ".." + std::to_string(cp * 500 - 1) + "): first at event " + std::to_string(i)))
      << c.out;
  auto hop = [](const ringlab::trace::repro_record& r) {
    return "packet " + std::to_string(r.packet_id) + " hop " +
           std::string(ringlab::trace::to_string(static_cast<ringlab::trace::hop>(r.stage))) + " (";
  };
  EXPECT_NE(c.out.find("  bundle:   " + hop(ea[i])), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("  this run: " + hop(eb[i])), std::string::npos) << c.out;
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST(repro, a_changed_trace_is_reported_before_anything_runs) {
  const std::string dir = temp("trace"), copy = temp("copy.pcap");
  fs::remove_all(dir);
  fs::copy_file(source_file("traces/malformed.pcap"), copy, fs::copy_options::overwrite_existing);
  ASSERT_EQ(record(dir, {"replay", copy}).exit_code, 0);
  const std::string before = sha256sum(copy);
  {
    std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x5a');
  }
  const auto c = run_ringlab({"repro", "check", dir});
  EXPECT_EQ(c.exit_code, 1);
  EXPECT_TRUE(has_line(c.out, "DIFFERS: input " + copy + " changed (sha256 " + sha256sum(copy) + ", bundle " + before +
                                  "): the run cannot be the same"))
      << c.out;
  EXPECT_FALSE(fs::exists(fs::path(dir) / "check")) << "nothing ran";
  fs::remove_all(dir);
  fs::remove(copy);
}

TEST(repro, bad_input_is_refused_naming_it) {
  auto expect = [](std::vector<std::string> args, const std::string& line) {
    const auto r = run_ringlab(args);
    EXPECT_EQ(r.exit_code, 2) << line;
    EXPECT_EQ(r.err, "ringlab repro: " + line + "\n");
  };
  const std::string feed = source_file("traces/mcast-feed.pcap");
  expect({"repro"}, "record or check is missing (see --help)");
  expect({"repro", "record", "replay", feed}, "record needs the command after '--': ringlab repro record -- replay FILE ...");
  expect({"repro", "record", "--"}, "record needs the command after '--': ringlab repro record -- replay FILE ...");
  expect({"repro", "record", "--", "rings"}, "'rings' is not a sim command: replay, demo, mcast-recv and trace replay are");
  expect({"repro", "record", "--", "trace", "kernel", feed},
         "'trace kernel' runs the kernel or real time: only 'trace replay' reproduces");
  expect({"repro", "record", "--", "demo", "--backend", "afxdp"},
         "--backend afxdp does not run on the simulated NIC's virtual clock: it cannot reproduce");
  expect({"repro", "record", "--", "replay", feed, "--clock", "real"},
         "--clock real does not run on the simulated NIC's virtual clock: it cannot reproduce");
  expect({"repro", "check", "/nonexistent-bundle"},
         "'/nonexistent-bundle' holds no bundle.txt (ringlab repro record writes one)");
  expect({"repro", "check", "a", "b"}, "unexpected argument 'b' (check BUNDLE; see --help)");
  expect({"repro", "nosuch"}, "'nosuch' is not record or check");
  const std::string dir = temp("badbundle");
  fs::create_directories(dir);
  std::ofstream(fs::path(dir) / "bundle.txt") << "ringlab-repro 1\narg replay\nevery x\n";
  expect({"repro", "check", dir}, dir + "/bundle.txt:3: bad value 'x'");
  fs::remove_all(dir);
}

// Recorded once (see golden/README.md) and committed: this build, whichever it is (default, ASan,
// release, another machine), must give the same events. The bundle's working directory is the
// checkout it was recorded in; the copy here points it at this checkout.
TEST(repro, the_committed_bundle_reproduces_on_this_build) {
  const fs::path src = source_file("tests/unit/repro/golden");
  const std::string dir = temp("golden");
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(src / "events.bin", fs::path(dir) / "events.bin");
  std::istringstream in(slurp(src / "bundle.txt"));
  std::ofstream out(fs::path(dir) / "bundle.txt");
  for (std::string l; std::getline(in, l);) out << (l.starts_with("cwd ") ? "cwd " + source_file("") : l) << "\n";
  out.close();
  const auto c = run_ringlab({"repro", "check", dir});
  EXPECT_EQ(c.exit_code, 0) << c.out << c.err
                            << "\nIf the event path changed on purpose, re-record it (golden/README.md).";
  EXPECT_NE(c.out.find("\nSAME: "), std::string::npos) << c.out;
  fs::remove_all(dir);
}

TEST(repro, help_lists_it_and_its_help_ends_with_the_exit_codes) {
  const auto h = run_ringlab({"help"});
  EXPECT_NE(h.out.find("\n  repro "), std::string::npos) << h.out;
  const auto r = run_ringlab({"repro", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("record [--out DIR] [--every N] -- COMMAND [ARGS...] | check BUNDLE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("exit status (every command):"), std::string::npos) << r.out;
}
