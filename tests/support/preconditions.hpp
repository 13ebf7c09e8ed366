#pragma once
// The one way a test skips: RINGLAB_REQUIRE(probe), where probe is one of tools/netns/preconditions.hpp's
// checks of the machine (or not_built(...) for what this build left out). "" lets the test go on; a
// reason skips it with that reason printed, or FAILS it when RINGLAB_REQUIRE_ALL=1 (CI on the lab's
// machines, where every precondition holds). Never skip on what our own code said ("attach failed",
// "falling back", "cannot start"): once the probes pass, that is a failure. See tests/README.md.
//
//   RINGLAB_REQUIRE(ringlab::netlab::afxdp_unavailable());
//   RINGLAB_REQUIRE(ringlab::netlab::program_missing("tshark", "tshark"));
//   auto p = ax::port::open(cfg);
//   ASSERT_TRUE(p) << p.error().reason;   // the machine can: our port must
#include <gtest/gtest.h>

#include <string>

#include "tools/netns/preconditions.hpp"

namespace ringlab::test {
using netlab::afxdp_unavailable;
using netlab::capability_missing;
using netlab::dpdk_eal_unavailable;
using netlab::memlock_below;
using netlab::netns_unavailable;
using netlab::not_built;
using netlab::program_missing;
using netlab::require_all;
using netlab::xdp_on_veth_unavailable;
}  // namespace ringlab::test

// In a TEST body or SetUp (it returns from the function, as GTEST_SKIP/FAIL do).
#define RINGLAB_REQUIRE(probe)                                                                        \
  do {                                                                                                \
    if (const std::string ringlab_why_ = (probe); !ringlab_why_.empty()) {                            \
      if (::ringlab::netlab::require_all())                                                           \
        GTEST_FAIL() << "RINGLAB_REQUIRE_ALL=1: this test must run here, but " << ringlab_why_;      \
      else                                                                                            \
        GTEST_SKIP() << ringlab_why_;                                                                 \
    }                                                                                                 \
  } while (0)

// Whether this build has ringlab's own real-port backends: "" when it does, else what to install (the
// test's CMake target defines RINGLAB_HAVE_XDP / RINGLAB_HAVE_DPDK as the backends' libraries do).
// Macros, not functions: the answer is the including target's, and an inline function with a body that
// differs by target would break the one-definition rule.
#ifdef RINGLAB_HAVE_XDP
#define AFXDP_NOT_BUILT() ""
#else
#define AFXDP_NOT_BUILT() ::ringlab::test::not_built("ringlab's AF_XDP backend", "libxdp-dev, libbpf-dev, clang")
#endif
#ifdef RINGLAB_HAVE_DPDK
#define DPDK_NOT_BUILT() ""
#else
#define DPDK_NOT_BUILT() ::ringlab::test::not_built("ringlab's DPDK backend", "libdpdk-dev")
#endif
