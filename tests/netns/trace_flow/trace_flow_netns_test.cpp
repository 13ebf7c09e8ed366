// The kernel path for real: UDP datagrams from a kernel socket in one namespace to kernel sockets in
// another over a veth pair, followed by skbaddr through tracefs tracepoints; and the `ringlab trace`
// command end to end (compare: one Perfetto file, one diagram; SIGTERM leaves nothing behind).
#include <gtest/gtest.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

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
  std::vector<tf::kernel_datagram> dg = {{1, 9000, bytes("first datagram"), ""},
                                         {2, 9001, bytes("to a closed port"), ""},
                                         {3, 9000, bytes("third"), ""}};
  tf::kernel_run_options o;
  o.listen_ports = {9000};
  const auto res = tf::run_kernel_path(dg, o);
  ASSERT_EQ(res.routes.size(), 3u) << res.raw_trace;
  EXPECT_EQ(res.received, 2u);

  const auto& ok = res.routes[0];
  EXPECT_EQ(ok.packet_id, 1u);
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
  EXPECT_FALSE(exists("/sys/kernel/tracing/instances/ringlab-" + std::to_string(::getpid())));
  EXPECT_FALSE(exists("/run/netns/rlt" + std::to_string(::getpid()) + "a"));
  EXPECT_FALSE(exists("/run/netns/rlt" + std::to_string(::getpid()) + "b"));
}

TEST(TraceFlowKernelPath, CompareWritesOnePerfettoFileAndOneDiagramWithBothRoutes) {
  REQUIRE_NETNS_AND_TRACEFS();
  ASSERT_TRUE(tf::lab_replay_available()) << "trace_flow was built without sim_nic";
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
  const std::string d = slurp(dot);
  EXPECT_NE(d.find("cluster_lab"), std::string::npos);
  EXPECT_NE(d.find("cluster_kernel"), std::string::npos);
  EXPECT_NE(d.find("kernel_drop_SKB_DROP_REASON_NO_SOCKET"), std::string::npos);
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
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::execl(ringlab_bin().c_str(), "ringlab", "trace", "kernel", pcap.c_str(), "--gap-us", "500000", nullptr);
    ::_exit(127);
  }
  // tracefs at its usual place, or (not mounted there) the tool's own mount under /tmp.
  const bool usual = exists("/sys/kernel/tracing/instances");
  const std::string own_mount = "/tmp/ringlab-tracefs-" + std::to_string(pid);
  const std::string inst = (usual ? std::string("/sys/kernel/tracing") : own_mount) + "/instances/ringlab-" +
                           std::to_string(pid);
  const std::string ns = "/run/netns/rlt" + std::to_string(pid) + "a";
  // Up: both namespaces made and tracing on in the instance (its last setup step). Killing earlier
  // would race with an `ip netns add` child the tool is still waiting for.
  bool up = false;
  for (int i = 0; i < 500 && !up; ++i) {   // up to 5 s for the tool to set up
    up = exists(inst) && exists(ns) && slurp(inst + "/tracing_on").starts_with("1");
    if (!up) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(up) << "the tool never made " << inst << " and " << ns;
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
