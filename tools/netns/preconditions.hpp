#pragma once
// What the machine must offer before a test (or a tool) that needs the real kernel can run: each probe
// checks the machine DIRECTLY — capabilities through capget, rlimits through getrlimit, programs on
// PATH, a throwaway namespace made with `ip netns add`, a throwaway veth with a two-instruction XDP
// program and an AF_XDP socket set up by raw syscalls — and never through the lab's own ports, stacks
// or CLI. So a probe that passes means any later "attach failed", "falling back" or "cannot start"
// from our code is OUR failure, never the machine's.
//
// Every probe returns "" when the precondition holds, else the reason: what is missing, and how to get
// it. Tests turn a reason into a skip (or, under RINGLAB_REQUIRE_ALL=1, into a failure) through
// tests/support/preconditions.hpp's RINGLAB_REQUIRE; tools print it as their error line.
#include <cstdint>
#include <string>
#include <string_view>

namespace ringlab::netlab {

// "" when this thread's EFFECTIVE set holds capability `cap` (CAP_NET_ADMIN, ...), else the reason.
std::string capability_missing(int cap);

// "" when this process can make network namespaces: CAP_SYS_ADMIN and CAP_NET_ADMIN, iproute2 on
// PATH, and `ip netns add` of a throwaway name works. Probed once per process (the answer is cached).
std::string netns_unavailable();

// netns_unavailable(), then: the kernel loads an XDP program (XDP_PASS, two instructions) and attaches
// it to a veth the probe makes in a throwaway namespace (bpf_link, the driver's native mode). Cached.
std::string xdp_on_veth_unavailable();

// xdp_on_veth_unavailable(), then on the same kind of veth: an AF_XDP socket, a 16 KiB UMEM with its
// fill and completion rings, an RX ring, bound to queue 0 in copy mode. Cached.
std::string afxdp_unavailable();

// afxdp_unavailable(), then: a veth made with numrxqueues 2 numtxqueues 2, and an AF_XDP socket bound
// (copy mode) to its queue 1. Kernels before multi-queue veth XDP (docs/machine-findings.md) fail here.
std::string afxdp_multiqueue_unavailable();

// "" when this process can lock `bytes` of memory (CAP_IPC_LOCK, or RLIMIT_MEMLOCK at least that
// large), else the reason naming the limit and the size.
std::string memlock_below(std::uint64_t bytes);

// "" when `program` is an executable file (a path, or a name found on PATH), else
// "PROGRAM is not installed (Debian package PACKAGE)".
std::string program_missing(std::string_view program, std::string_view debian_package);

// "" when the kernel's tracefs can hold a private instance: CAP_SYS_ADMIN, and instances/ under
// /sys/kernel/tracing, or a tracefs the probe can mount (and unmount) itself.
std::string tracefs_unavailable();

// What DPDK's EAL needs here without hugepages (--no-huge -m 256 --no-shconf, backends/dpdk/eal.hpp):
// no privilege (it starts as `nobody` on these machines, docs/machine-findings.md), only a writable
// place for its runtime directory (/var/run for root, else $XDG_RUNTIME_DIR or /tmp). Whether DPDK is
// in the build is the caller's to say (RINGLAB_HAVE_DPDK, not_built).
std::string dpdk_eal_unavailable();

// The reason for something this build left out: "WHAT is not in this build: PACKAGES were missing
// when cmake configured it (./lab installs them)".
std::string not_built(std::string_view what, std::string_view packages);

// True when RINGLAB_REQUIRE_ALL=1: every precondition must hold, so a would-be skip is a failure
// (`./lab test` sets it when CI=true).
bool require_all();

}  // namespace ringlab::netlab
