// libFuzzer's entry point for one parser target, chosen at compile time (RINGLAB_FUZZ_PARSER, a name
// from parser_entries.cpp's table): one binary per target, so each campaign's coverage is its own.
#include <cstdlib>

#include "tests/fuzz/parsers/parser_entries.hpp"

#ifndef RINGLAB_FUZZ_PARSER
#error "RINGLAB_FUZZ_PARSER names the target (CMakeLists.txt sets it)"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const ringlab::fuzz::target* t = [] {
    const auto* found = ringlab::fuzz::find_target(RINGLAB_FUZZ_PARSER);
    if (!found) std::abort();
    return found;
  }();
  (void)t->run({reinterpret_cast<const std::byte*>(data), size});
  return 0;
}
