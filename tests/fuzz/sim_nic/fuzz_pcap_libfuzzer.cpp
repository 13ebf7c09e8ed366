// libFuzzer's entry point (built only with clang; see CMakeLists.txt).
#include "tests/fuzz/sim_nic/fuzz_pcap_entry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return ringlab_fuzz_sim_nic_pcap(data, size);
}
