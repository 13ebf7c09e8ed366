// The kernel path for real: UDP datagrams from a kernel socket in one namespace to kernel sockets in
// another over a veth pair, followed by skbaddr through tracefs tracepoints; and the `ringlab trace`
// command end to end (compare: one Perfetto file, one diagram; SIGTERM, and two signals in quick
// succession, leave nothing behind).
#include <gtest/gtest.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "stack/wire/ipv4_addr.hpp"
#include "tools/trace_packet_flow/kernel_run.hpp"
#include "tools/trace_packet_flow/lab_replay.hpp"
#include "tools/trace_packet_flow/netns_pair.hpp"
#include "tools/trace_packet_flow/packet_filter.hpp"
#include "tools/trace_packet_flow/tracefs.hpp"
#include "tests/support/preconditions.hpp"

namespace tf = ringlab::trace_flow;
using namespace std::chrono_literals;

namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}
std::string source_dir() { return env_or("RINGLAB_SOURCE_DIR", RINGLAB_TEST_SOURCE_DIR); }
std::string ringlab_bin() { return env_or("RINGLAB_BINARY_DIR", RINGLAB_TEST_BINARY_DIR) + std::string("/tools/ringlab"); }

bool exists(const std::string& p) {
  struct stat st{};
  return ::stat(p.c_str(), &st) == 0;
}

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

// Namespaces and a private tracefs instance, probed apart from trace_flow (tools/netns/preconditions.hpp).
#define REQUIRE_NETNS_AND_TRACEFS()                            \
  do {                                                         \
    RINGLAB_REQUIRE(ringlab::netlab::netns_unavailable());     \
    RINGLAB_REQUIRE(ringlab::netlab::tracefs_unavailable());   \
  } while (0)

std::vector<std::uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

std::string tmp(const std::string& name) { return "/tmp/trace_flow_netns_" + std::to_string(::getpid()) + "_" + name; }

// Starts `ringlab ARGS...` with its output to /dev/null; the child's pid (-1 when fork failed).
pid_t start_ringlab(std::vector<std::string> args) {
  args.insert(args.begin(), "ringlab");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string bin = ringlab_bin();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

// Up: the tool made its tracefs instance and namespace and turned tracing on (its last setup step).
// Signalling earlier would race with an `ip netns add` child it is still waiting for. Up to 5 s.
bool wait_until_up(const std::string& inst, const std::string& ns) {
  for (int i = 0; i < 500; ++i) {
    if (exists(inst) && exists(ns) && slurp(inst + "/tracing_on").starts_with("1")) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

// Where this test sees tracefs instances: /sys/kernel/tracing when tracefs is mounted there, else a
// mount of its own (instances are the kernel's, whichever mount shows them; the tool's own mount is
// gone after it ends, so looking through it would find nothing whatever was left behind).
class tracefs_view {
 public:
  tracefs_view() {
    if (exists("/sys/kernel/tracing/instances")) { root_ = "/sys/kernel/tracing"; return; }
    root_ = tmp("tracefs");
    ::mkdir(root_.c_str(), 0700);
    mounted_ = ::mount("nodev", root_.c_str(), "tracefs", 0, nullptr) == 0;
  }
  ~tracefs_view() {
    if (mounted_) ::umount2(root_.c_str(), MNT_DETACH);
    if (root_ != "/sys/kernel/tracing") ::rmdir(root_.c_str());
  }
  bool ok() const { return exists(root_ + "/instances"); }
  std::string instance(pid_t pid) const { return root_ + "/instances/ringlab-" + std::to_string(pid); }

 private:
  std::string root_;
  bool mounted_ = false;
};

// Datagrams 1 and 3 to a listening port, 2 to a closed one.
std::string write_test_pcap() {
  const std::string p = tmp("in.pcap");
  tf::write_pcap(p, {tf::make_udp_frame(0x0a000001, 0x0a000002, 5000, 9000, bytes("first datagram")),
                     tf::make_udp_frame(0x0a000001, 0x0a000002, 5000, 9001, bytes("to a closed port")),
                     tf::make_udp_frame(0x0a000001, 0x0a000002, 5000, 9000, bytes("third"))});
  return p;
}

}  // namespace

TEST(TraceFlowKernelPath, UdpDatagramRunsFromNetifReceiveSkbToTheSocketOrToNoSocket) {
  REQUIRE_NETNS_AND_TRACEFS();
  std::vector<tf::kernel_datagram> dg = {{1, 9000, bytes("first datagram"), "239.1.1.2:9000 (from the pcap)"},
                                         {2, 9001, bytes("to a closed port"), ""},
                                         {3, 9000, bytes("third"), ""}};
  tf::kernel_run_options o;
  o.listen_ports = {9000};
  const auto res = tf::run_kernel_path(dg, o);
  ASSERT_EQ(res.routes.size(), 3u) << res.raw_trace;
  EXPECT_EQ(res.received, 2u);

  const auto& ok = res.routes[0];
  EXPECT_EQ(ok.packet_id, 1u);
  // The header keeps the pcap's words and says what the kernel path really sent.
  EXPECT_EQ(ok.summary, "239.1.1.2:9000 (from the pcap) (kernel path: replayed as unicast " +
                            ringlab::wire::ipv4_addr{res.ip_a}.to_string() + " -> " +
                            ringlab::wire::ipv4_addr{res.ip_b}.to_string() +
                            ":9000)");
  const auto hops = ok.hops();
  // Arrival on the receiving veth, then the receive softirq, then the socket, then the user's call.
  ASSERT_GE(hops.size(), 3u) << res.raw_trace;
  EXPECT_EQ(hops.front(), "net:netif_rx");
  EXPECT_EQ(hops[1], "net:netif_receive_skb");
  if (exists("/sys/kernel/tracing/events/sock/sk_data_ready")) {
    EXPECT_NE(std::find(hops.begin(), hops.end(), "sock:sk_data_ready"), hops.end());
  }
  EXPECT_EQ(hops.back(), "user:recvfrom_returned");
  EXPECT_EQ(ok.outcome(), "deliver");
  EXPECT_EQ(ok.steps.back().detail, "ringlab recv port=9000 len=14");
  EXPECT_EQ(ok.steps[1].file, "net/core/dev.c");

  const auto& drop = res.routes[1];
  EXPECT_EQ(drop.packet_id, 2u);
  EXPECT_EQ(drop.steps.front().hop, "net:netif_rx");
  EXPECT_EQ(drop.steps.back().hop, "skb:kfree_skb");
  EXPECT_EQ(drop.outcome(), "drop: SKB_DROP_REASON_NO_SOCKET");
  EXPECT_EQ(drop.steps.back().function, "__udp4_lib_rcv");
  EXPECT_EQ(res.routes[2].outcome(), "deliver");
  EXPECT_EQ(res.routes[2].steps.back().detail, "ringlab recv port=9000 len=5");

  // Nothing left behind: the tracefs instance and both namespaces are gone.
  tracefs_view view;
  ASSERT_TRUE(view.ok());
  EXPECT_FALSE(exists(view.instance(::getpid())));
  EXPECT_FALSE(exists("/run/netns/rlt" + std::to_string(::getpid()) + "a"));
  EXPECT_FALSE(exists("/run/netns/rlt" + std::to_string(::getpid()) + "b"));
}

TEST(TraceFlowKernelPath, CompareWritesOnePerfettoFileAndOneDiagramWithBothRoutes) {
  REQUIRE_NETNS_AND_TRACEFS();
  ASSERT_TRUE(exists(ringlab_bin())) << ringlab_bin() << " not built (the test depends on target ringlab)";
  const std::string pcap = write_test_pcap(), json = tmp("cmp.json"), dot = tmp("cmp.dot"), svg = tmp("cmp.svg");
  std::string out;
  const int rc = tf::run_command({ringlab_bin(), "trace", "compare", pcap, "--filter", "udp", "--listen", "9000",
                                  "--json", json, "--dot", dot, "--svg", svg}, &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("lab    "), std::string::npos) << out;
  EXPECT_NE(out.find("kernel net:netif_receive_skb"), std::string::npos) << out;
  EXPECT_NE(out.find("kernel path: 3 packets, 1 dropped"), std::string::npos) << out;
  std::string check;
  EXPECT_EQ(tf::run_command({"/usr/bin/python3", source_dir() + "/tests/unit/trace_flow/check_trace_json.py", json}, &check), 0)
      << check;
  const std::string j = slurp(json);
  EXPECT_NE(j.find("lab path (sim_nic"), std::string::npos);
  EXPECT_NE(j.find("kernel path (veth"), std::string::npos);
  // Like with like: the lab's hops on a real clock too, each clock named; the stage table after.
  EXPECT_NE(out.find("lab path: 3 packets, 1 dropped"), std::string::npos) << out;
  EXPECT_NE(out.find("(clock: real: CLOCK_MONOTONIC when each hop was recorded)"), std::string::npos) << out;
  EXPECT_NE(out.find("(clock: real: tracefs clock "), std::string::npos) << out;
  EXPECT_EQ(out.find("lab path: 3 packets, 1 dropped, hops per packet p50 12 (max 12), arrival to last hop p50 0 ns"),
            std::string::npos) << out;
  EXPECT_NE(out.find("  lab clock: real: CLOCK_MONOTONIC"), std::string::npos) << out;
  EXPECT_NE(out.find("  application reads          deliver"), std::string::npos) << out;
  EXPECT_NE(out.find("kernel drops at L4 demux: SKB_DROP_REASON_NO_SOCKET x1"), std::string::npos) << out;
  EXPECT_NE(out.find("lab drops at L4 demux: no_socket x1"), std::string::npos) << out;
  // The diagram: both paths top to bottom, one row per stage.
  const std::string d = slurp(dot);
  EXPECT_NE(d.find("rankdir=TB"), std::string::npos);
  EXPECT_NE(d.find("{ rank=same; stage_6; lab_6; kernel_6; }"), std::string::npos) << d;
  EXPECT_NE(d.find("drop: SKB_DROP_REASON_NO_SOCKET x1"), std::string::npos) << d;
  EXPECT_NE(d.find("drop: no_socket x1"), std::string::npos) << d;
  std::string rendered;
  EXPECT_EQ(tf::run_command({"dot", "-Tsvg", dot}, &rendered), 0);
  EXPECT_NE(rendered.find("<svg"), std::string::npos);
  EXPECT_NE(slurp(svg).find("<svg"), std::string::npos);
  for (const auto& f : {pcap, json, dot, svg}) std::remove(f.c_str());
}

TEST(TraceFlowKernelPath, SigtermRemovesTheTracefsInstanceAndTheNamespaces) {
  REQUIRE_NETNS_AND_TRACEFS();
  ASSERT_TRUE(exists(ringlab_bin())) << ringlab_bin() << " not built (the test depends on target ringlab)";
  const std::string pcap = write_test_pcap();
  const pid_t pid = start_ringlab({"trace", "kernel", pcap, "--gap-us", "500000"});
  ASSERT_GE(pid, 0);
  // tracefs at its usual place, or (not mounted there) the tool's own mount under /tmp.
  const bool usual = exists("/sys/kernel/tracing/instances");
  const std::string own_mount = "/tmp/ringlab-tracefs-" + std::to_string(pid);
  const std::string inst = (usual ? std::string("/sys/kernel/tracing") : own_mount) + "/instances/ringlab-" +
                           std::to_string(pid);
  const std::string ns = "/run/netns/rlt" + std::to_string(pid) + "a";
  EXPECT_TRUE(wait_until_up(inst, ns)) << "the tool never made " << inst << " and " << ns;
  ::kill(pid, SIGTERM);
  int st = 0;
  ::waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM) << "status " << st;
  EXPECT_FALSE(exists(inst));
  EXPECT_FALSE(exists(own_mount));
  EXPECT_FALSE(exists(ns));
  EXPECT_FALSE(exists("/run/netns/rlt" + std::to_string(pid) + "b"));
  std::remove(pcap.c_str());
}

// Ctrl-C twice, or `timeout` signalling while Ctrl-C is handled: two signals in quick succession, while
// the datagrams are sent and while the trace is read back and routes are built.
// Every run ends by the first signal and leaves no tracefs instance, namespace or tracefs mount. Before
// the handler was made idempotent, a second signal's handler found the first one's removal in progress
// and ended the process under it: the instance was left behind in 4 runs of 10 like these.
TEST(TraceFlowKernelPath, TwoQuickSignalsLeaveNothingBehindInAnyRun) {
  REQUIRE_NETNS_AND_TRACEFS();
  ASSERT_TRUE(exists(ringlab_bin())) << ringlab_bin() << " not built";
  tracefs_view view;
  ASSERT_TRUE(view.ok()) << "cannot see tracefs instances";
  const std::string pcap = source_dir() + "/traces/flows.pcap";   // 4096 UDP datagrams: a run of seconds
  // Three while datagrams are sent (4096 at >= 300 us each: over a second), three once tracing is off
  // and the tool reads the trace back and builds routes (where the old handler lost the race).
  struct run_case { int first, second; bool reading; std::chrono::milliseconds after; };
  const run_case cases[] = {{SIGINT, SIGINT, false, 0ms},  {SIGINT, SIGTERM, false, 300ms}, {SIGTERM, SIGINT, false, 900ms},
                            {SIGINT, SIGINT, true, 0ms},   {SIGINT, SIGTERM, true, 20ms},    {SIGINT, SIGINT, true, 60ms}};
  int ended_by_signal = 0;
  for (const auto& c : cases) {
    const pid_t pid = start_ringlab({"trace", "kernel", pcap, "--packets", "0", "--gap-us", "300", "--quiet"});
    ASSERT_GE(pid, 0);
    const std::string inst = view.instance(pid), own_mount = "/tmp/ringlab-tracefs-" + std::to_string(pid);
    const std::string ns_a = "/run/netns/rlt" + std::to_string(pid) + "a", ns_b = "/run/netns/rlt" + std::to_string(pid) + "b";
    EXPECT_TRUE(wait_until_up(inst, ns_b)) << "the tool never made " << inst;
    if (c.reading) {   // tracing_on back to 0: sending and settling are over, reading begins
      for (int i = 0; i < 15000 && slurp(inst + "/tracing_on").starts_with("1"); ++i) std::this_thread::sleep_for(2ms);
    }
    std::this_thread::sleep_for(c.after);
    ::kill(pid, c.first);
    ::kill(pid, c.second);
    int st = 0;
    ::waitpid(pid, &st, 0);
    const std::string what = "signals " + std::to_string(c.first) + "," + std::to_string(c.second) + " " +
                             std::to_string(c.after.count()) + " ms after tracing " + (c.reading ? "ended" : "began");
    // Ended by one of the two signals (the second one may be the one that ends it, once the first
    // handler is done), or finished already when the signals came: never any other way.
    const bool by_signal = WIFSIGNALED(st) && (WTERMSIG(st) == c.first || WTERMSIG(st) == c.second);
    EXPECT_TRUE(by_signal || (WIFEXITED(st) && WEXITSTATUS(st) == 0)) << what << ": status " << st;
    ended_by_signal += by_signal;
    EXPECT_FALSE(exists(inst)) << what << ": tracefs instance left behind";
    if (exists(inst)) ::rmdir(inst.c_str());
    EXPECT_FALSE(exists(ns_a)) << what;
    EXPECT_FALSE(exists(ns_b)) << what;
    EXPECT_FALSE(exists(own_mount)) << what;
  }
  EXPECT_GE(ended_by_signal, 4) << "most runs should still be going when their signals come";
}
