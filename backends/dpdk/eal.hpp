#pragma once
// The DPDK EAL, initialised once per process: rte_eal_init cannot run twice (a second call fails with
// EALREADY and a cleaned-up EAL cannot start again), so the first caller's arguments win.
#include <string>
#include <system_error>
#include <vector>

namespace ringlab::backends::dpdk {

// --no-huge -m 256 --no-pci --no-shconf -l 0 --log-level=*:error: runs without hugepages or a NIC,
// as this machine needs. $RINGLAB_DPDK_EAL_ARGS (space separated) replaces it.
std::vector<std::string> default_eal_args();

// Initialises the EAL with args (empty: default_eal_args()) the first time; later calls return the
// first call's result, and say so in `why` when their args differ.
std::error_code eal_init(const std::vector<std::string>& args, std::string& why);

}  // namespace ringlab::backends::dpdk
