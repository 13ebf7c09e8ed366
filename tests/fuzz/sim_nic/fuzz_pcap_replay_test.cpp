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
#include "tests/support/fuzz_mutate.hpp"

namespace {
std::vector<std::vector<std::uint8_t>> corpus() {
  const char* src = std::getenv("RINGLAB_SOURCE_DIR");
  return ringlab::testing::read_corpus(std::filesystem::path(src ? src : ".") / "tests/fuzz/sim_nic/corpus");
}
}  // namespace

// Crashers the campaigns found, each kept after its fix, outside the seed corpus (so that the
// deterministic mutations below stay those of the seeds). tests/fuzz/sim_nic/pending/README.md says
// what each one was.
TEST(fuzz_sim_nic_pcap, fixed_crashers_run_clean) {
  const char* src = std::getenv("RINGLAB_SOURCE_DIR");
  const auto c =
      ringlab::testing::read_corpus(std::filesystem::path(src ? src : ".") / "tests/fuzz/sim_nic/regressions");
  ASSERT_GE(c.size(), 1u);
  for (const auto& f : c) EXPECT_EQ(ringlab_fuzz_sim_nic_pcap(f.data(), f.size()), 0);
}

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
    const std::vector<std::uint8_t> m = ringlab::testing::mutate(c, r, 4);
    ASSERT_EQ(ringlab_fuzz_sim_nic_pcap(m.data(), m.size()), 0) << "mutation " << i;
  }
}
