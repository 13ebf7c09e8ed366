// lab_probe WHAT...: can this machine run a lab's root part? One probe per WHAT, in order, as the tests
// probe (tools/netns/preconditions.hpp: capabilities, a throwaway namespace, XDP and an AF_XDP socket on
// a throwaway veth, tracefs, DPDK's EAL), never through the lab's own code. Prints the first reason and
// exits 77 (a skip), or exits 0. Under RINGLAB_REQUIRE_ALL=1 (CI) a missing precondition exits 1.
//   WHAT: netns | afxdp | tracefs | dpdk | memlock-8m
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "tools/netns/preconditions.hpp"

namespace nl = ringlab::netlab;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: lab_probe netns|afxdp|tracefs|dpdk|memlock-8m ...\n");
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    const std::string_view what = argv[i];
    std::string why;
    if (what == "netns") why = nl::netns_unavailable();
    else if (what == "afxdp") why = nl::afxdp_unavailable();
    else if (what == "tracefs") why = nl::tracefs_unavailable();
    else if (what == "dpdk") why = nl::dpdk_eal_unavailable();
    else if (what == "memlock-8m") why = nl::memlock_below(std::uint64_t{8} << 20);
    else {
      std::fprintf(stderr, "lab_probe: unknown precondition '%s' (netns, afxdp, tracefs, dpdk, memlock-8m)\n", argv[i]);
      return 2;
    }
    if (!why.empty()) {
      if (nl::require_all()) {
        std::fprintf(stderr, "lab: required (RINGLAB_REQUIRE_ALL=1) but missing: %s\n", why.c_str());
        return 1;
      }
      std::fprintf(stderr, "SKIP: %s\n", why.c_str());
      return 77;
    }
  }
  return 0;
}
