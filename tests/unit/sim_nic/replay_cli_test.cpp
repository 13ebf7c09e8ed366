// `ringlab replay` end to end: summary counters, forwarding to --out, seeded determinism, and the
// one-line errors (exit 2) for bad files and options.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "tests/unit/sim_nic/frames.hpp"

using namespace ringlab::simtest;

namespace {
struct run_result {
  int code;
  std::string out;
};

std::string ringlab_bin() {
  const char* b = std::getenv("RINGLAB_BINARY_DIR");
  return std::string(b ? b : ".") + "/tools/ringlab";
}

run_result run(const std::string& args) {
  const std::string cmd = ringlab_bin() + " replay " + args + " 2>&1";
  run_result r{-1, {}};
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string make_input(const std::string& tag) {
  const std::string path = "/tmp/ringlab-sim-cli-" + tag + "-" + std::to_string(::getpid()) + ".pcap";
  std::vector<pcap_frame> frames;
  for (std::uint32_t i = 0; i < 500; ++i) frames.push_back({flow_frame(i % 64, 18 + i % 100), 1'000'000'000ull + i * 1000});
  frames.push_back({bytes(8), 2'000'000'000ull});   // a runt, packet 501
  write_pcap(path, frames);
  return path;
}
}  // namespace

class replay_cli : public ::testing::Test {
 protected:
  void SetUp() override {
    // The test depends on target ringlab: a missing binary is a broken build, not the machine's lack.
    ASSERT_TRUE(std::filesystem::exists(ringlab_bin())) << "ringlab binary not built at " << ringlab_bin();
  }
};

TEST_F(replay_cli, summary_counts_forwarded_pcap_and_hash_are_exact_and_repeatable) {
  const std::string in = make_input("ok");
  temp_file out("cliout");
  const auto a = run(in + " --ring mpmc --queues 4 --faults drop=0.05,dup=0.02,reorder=0.05:4 --seed 3 --hash --trace --out " + out.path);
  ASSERT_EQ(a.code, 0) << a.out;
  EXPECT_NE(a.out.find("trace frames 501, ierrors 1 (runt 1, oversize 0, snaplen-truncated 0)"), std::string::npos) << a.out;
  EXPECT_NE(a.out.find("drop: packet 501 at byte offset "), std::string::npos) << a.out;
  EXPECT_NE(a.out.find("faults: in 501, dropped "), std::string::npos) << a.out;
  const auto b = run(in + " --ring spsc --queues 4 --faults drop=0.05,dup=0.02,reorder=0.05:4 --seed 3 --hash --trace");
  ASSERT_EQ(b.code, 0) << b.out;
  auto line = [](const std::string& s, const std::string& key) {
    const auto at = s.find(key);
    return at == std::string::npos ? std::string() : s.substr(at, s.find('\n', at) - at);
  };
  EXPECT_FALSE(line(a.out, "frames hash").empty());
  EXPECT_EQ(line(a.out, "frames hash"), line(b.out, "frames hash"));   // ring design does not change delivery
  auto first5 = [&](const std::string& s) {
    std::uint64_t v[5] = {};
    std::sscanf(line(s, "total ").c_str(), "total %lu %lu %lu %lu %lu", &v[0], &v[1], &v[2], &v[3], &v[4]);
    return std::vector<std::uint64_t>(v, v + 5);
  };
  EXPECT_EQ(first5(a.out), first5(b.out));   // same counters, whichever ring (only opackets differ: --out)
  const auto c = run(in + " --queues 4 --faults drop=0.05,dup=0.02,reorder=0.05:4 --seed 4 --hash");
  EXPECT_NE(line(a.out, "frames hash"), line(c.out, "frames hash"));
  // Every delivered frame was forwarded to --out.
  const auto written = read_pcap(out.path);
  const auto tot = line(a.out, "total ");
  std::uint64_t ip = 0, ib = 0, im = 0, nb = 0, del = 0, op = 0;
  ASSERT_EQ(std::sscanf(tot.c_str(), "total %lu %lu %lu %lu %lu %lu", &ip, &ib, &im, &nb, &del, &op), 6) << tot;
  EXPECT_EQ(del, ip);
  EXPECT_EQ(op, del);
  EXPECT_EQ(written.size(), op);
  std::remove(in.c_str());
}

TEST_F(replay_cli, bad_input_is_one_line_and_exit_2) {
  struct row { std::string args, want; };
  const std::string in = make_input("bad");
  std::vector<std::byte> img = read_file(in);
  img.resize(img.size() - 3);
  temp_file cut("clicut");
  write_file(cut.path, img);
  const std::string cut_offset = std::to_string(img.size() + 3 - 16 - 8);
  for (const auto& r : std::vector<row>{
           {"/nonexistent/x.pcap", "ringlab replay: /nonexistent/x.pcap: cannot open: No such file or directory\n"},
           {in + " --faults drop=2", "ringlab replay: --faults: fault spec field 'drop': '2' is not a probability in 0..1\n"},
           {in + " --ring nosuch", "ringlab replay: --ring: unknown ring 'nosuch' (rings: spsc, mpmc"},
           {in + " --pps 10 --mbps 3", "ringlab replay: --speed, --pps and --mbps exclude each other: give one\n"},
           {in + " --queues 0", "ringlab replay: --queues: '0' is not a whole number in 1..256\n"},
           {"", "ringlab replay: FILE (the pcap to replay) is missing (see --help)\n"},
           {in + " " + in, "ringlab replay: unexpected argument '" + in + "' (one FILE, the pcap; see --help)\n"}}) {
    const auto res = run(r.args);
    EXPECT_EQ(res.code, 2) << r.args << "\n" << res.out;
    EXPECT_EQ(res.out.rfind(r.want, 0), 0u) << r.args << "\n" << res.out;
  }
  // A file cut mid-record is not "nothing was run": the 500 records before the cut were replayed, so
  // their counters come first and the error is the last line, exit 1.
  const auto res = run(cut.path);
  EXPECT_EQ(res.code, 1) << res.out;
  EXPECT_NE(res.out.find("trace frames 500"), std::string::npos) << res.out;
  const std::string want = "ringlab replay: " + cut.path + ": packet 501 at byte offset " + cut_offset + ": truncated dump file";
  EXPECT_NE(res.out.rfind(want), std::string::npos) << res.out;
  EXPECT_GT(res.out.rfind(want), res.out.find("trace frames 500")) << res.out;
  std::remove(in.c_str());
}

TEST_F(replay_cli, help_explains_every_option) {
  const auto h = run("--help");
  EXPECT_EQ(h.code, 0);
  for (const char* o : {"--ring", "--queues", "--ring-size", "--pool-frames", "--speed", "--pps", "--mbps", "--loop",
                        "--faults", "--seed", "--out", "--clock", "--mtu", "--trace", "--hash", "--progress", "--drops"})
    EXPECT_NE(h.out.find(std::string("  ") + o + " "), std::string::npos) << o;
}
