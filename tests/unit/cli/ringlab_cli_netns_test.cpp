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
#include "tests/support/preconditions.hpp"

namespace {

using ringlab::test::ringlab_binary;
using ringlab::test::source_file;

// tracefs, probed apart from our code: mounted with an instances/ directory, or mountable (as the
// tool mounts a private one when it is not mounted).
TEST(ringlab_cli_netns, trace_kernel_reports_a_raw_write_that_failed) {
  RINGLAB_REQUIRE(ringlab::netlab::netns_unavailable());
  RINGLAB_REQUIRE(ringlab::netlab::tracefs_unavailable());
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
