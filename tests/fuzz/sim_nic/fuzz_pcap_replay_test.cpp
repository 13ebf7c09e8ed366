// The fuzz target's entry run as a plain test (the default suite is gcc, without libFuzzer): every
// file of the seed corpus, then deterministic mutations of them (bit flips, byte sets, truncations,
// insertions, header splices) from a fixed seed. A crash or abort fails the test.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "port/fault_line.hpp"
#include "tests/fuzz/sim_nic/fuzz_pcap_entry.hpp"
#include "tests/support/fuzz_corpus.hpp"

namespace {
std::vector<std::vector<std::uint8_t>> corpus() {
  const char* src = std::getenv("RINGLAB_SOURCE_DIR");
  return ringlab::testing::read_corpus(std::filesystem::path(src ? src : ".") / "tests/fuzz/sim_nic/corpus");
}
}  // namespace

TEST(fuzz_sim_nic_pcap, seed_corpus_runs_clean) {
  const auto c = corpus();
  ASSERT_GE(c.size(), 7u);
  for (const auto& f : c) EXPECT_EQ(ringlab_fuzz_sim_nic_pcap(f.data(), f.size()), 0);
}

TEST(fuzz_sim_nic_pcap, deterministic_mutations_run_clean) {
  const auto c = corpus();
  ASSERT_FALSE(c.empty());
  const int runs = std::getenv("RINGLAB_FUZZ_RUNS") ? std::atoi(std::getenv("RINGLAB_FUZZ_RUNS")) : 3000;
  ringlab::port::rng r(20261127);
  for (int i = 0; i < runs; ++i) {
    std::vector<std::uint8_t> m = c[r.below(c.size())];
    const int edits = 1 + static_cast<int>(r.below(4));
    for (int e = 0; e < edits && !m.empty(); ++e) {
      switch (r.below(6)) {
        case 0: m[r.below(m.size())] ^= static_cast<std::uint8_t>(1u << r.below(8)); break;
        case 1: m[r.below(m.size())] = static_cast<std::uint8_t>(r.next()); break;
        case 2: m.resize(r.below(m.size())); break;
        case 3: m.insert(m.begin() + static_cast<std::ptrdiff_t>(r.below(m.size())), static_cast<std::uint8_t>(r.next())); break;
        case 4: {   // a record or header length field: large values matter most
          const std::size_t at = r.below(m.size());
          for (std::size_t k = at; k < at + 4 && k < m.size(); ++k) m[k] = static_cast<std::uint8_t>(r.below(2) ? 0xff : r.next());
          break;
        }
        default: {   // splice another corpus file's tail
          const auto& o = c[r.below(c.size())];
          const std::size_t from = r.below(o.size());
          m.resize(r.below(m.size() + 1));
          m.insert(m.end(), o.begin() + static_cast<std::ptrdiff_t>(from), o.end());
        }
      }
    }
    ASSERT_EQ(ringlab_fuzz_sim_nic_pcap(m.data(), m.size()), 0) << "mutation " << i;
  }
}
