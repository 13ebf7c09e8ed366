// libFuzzer's entry point (built only with clang; see CMakeLists.txt).
#include "tests/fuzz/tcp/fuzz_tcp_entry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) { return ringlab_fuzz_tcp(data, size); }
