// `ringlab trace kernel` needs root (namespaces, a veth pair, a tracefs instance): its output files
// follow the one exit-code convention too. A --raw that cannot be written (/dev/full) is the run
// failing (exit 1, one line naming the option, the file and the reason), not a silent success.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/support/netns.hpp"
#include "tests/support/ringlab_cli.hpp"

namespace {

using ringlab::test::ringlab_binary;
using ringlab::test::source_file;

// tracefs, probed apart from our code: mounted with an instances/ directory, or mountable (as the
// tool mounts a private one when it is not mounted).
std::string tracefs_unavailable() {
  if (::access("/sys/kernel/tracing/instances", W_OK) == 0) return {};
  char dir[] = "/tmp/ringlab-cli-tracefs-XXXXXX";
  if (!::mkdtemp(dir)) return std::string("mkdtemp: ") + std::strerror(errno);
  std::string why;
  if (::mount("nodev", dir, "tracefs", 0, nullptr) != 0) {
    why = std::string("tracefs is not mounted and cannot be: ") + std::strerror(errno);
  } else {
    if (::access((std::string(dir) + "/instances").c_str(), W_OK) != 0) why = "tracefs has no instances/ directory";
    ::umount2(dir, MNT_DETACH);
  }
  ::rmdir(dir);
  return why;
}

TEST(ringlab_cli_netns, trace_kernel_reports_a_raw_write_that_failed) {
  if (auto why = ringlab::test::netns_unavailable(); !why.empty()) GTEST_SKIP() << why;
  if (auto why = tracefs_unavailable(); !why.empty()) GTEST_SKIP() << why;
  auto r = ringlab::test::run({"timeout", "60", ringlab_binary(), "trace", "kernel",
                               source_file("traces/mcast-feed.pcap"), "--packets", "2", "--quiet", "--raw", "/dev/full"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.err, "ringlab trace: --raw: writing '/dev/full' failed: No space left on device\n");
  // The same run with a file that can be written succeeds and keeps the tracefs text.
  const std::string raw = ringlab::test::temp_path("cli", "raw.txt");
  auto ok = ringlab::test::run({"timeout", "60", ringlab_binary(), "trace", "kernel",
                                source_file("traces/mcast-feed.pcap"), "--packets", "2", "--quiet", "--raw", raw});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  auto size = ringlab::test::run({"stat", "-c", "%s", raw});
  EXPECT_GT(std::atol(size.out.c_str()), 0) << "the --raw file is empty";
  std::remove(raw.c_str());
}

}  // namespace
