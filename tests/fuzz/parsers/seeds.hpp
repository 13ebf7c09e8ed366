#pragma once
// The seed corpus of each parser target: the layer that parser reads, cut out of every bundled trace in
// traces/ (through wire's views and sim_nic's pcap reader, never by hand), plus a few crafted inputs for
// what the traces do not hold (IPv4 options and fragments, IGMPv3 records, every TCP option, QinQ) so
// the fuzzer starts at the deep paths. The same function feeds the plain tests and writes the corpus
// directory libFuzzer starts from (fuzz_seeds), so the two never drift.
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringlab::fuzz {

using bytes = std::vector<std::byte>;

struct seed {
  std::string name;   // "TRACE-N" (N: the frame's packet number in TRACE.pcap) or what a crafted one is
  bytes data;
};

// Unique inputs in a fixed order; empty for an unknown target. A trace that does not open is skipped
// and counted in `unreadable` (the tests require it to be zero).
std::vector<seed> seeds(std::string_view target, const std::filesystem::path& traces_dir,
                         std::size_t* unreadable = nullptr);

// A stack-target script step: one byte of time, a 2-byte length, the frame (parser_entries.hpp).
void append_step(bytes& script, std::uint8_t dt, std::span<const std::byte> frame, bool csum_good = false);

}  // namespace ringlab::fuzz
