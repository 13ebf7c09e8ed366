// The TCP fuzz entry run as a plain test (the default suite is gcc, without libFuzzer): every file of
// the seed corpus (made by make_corpus.py), then deterministic mutations of them from a fixed seed. A
// crash, an abort or a sanitizer report fails the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "port/fault_line.hpp"
#include "tests/fuzz/tcp/fuzz_tcp_entry.hpp"
#include "tests/support/fuzz_corpus.hpp"
#include "tests/support/fuzz_mutate.hpp"

namespace {
std::vector<std::vector<std::uint8_t>> corpus() {
  return ringlab::testing::read_corpus(std::filesystem::path(RINGLAB_TEST_SOURCE_DIR) / "tests/fuzz/tcp/corpus");
}
}  // namespace

TEST(fuzz_tcp, seed_corpus_runs_clean) {
  const auto c = corpus();
  ASSERT_EQ(c.size(), 6u);
  for (const auto& f : c) EXPECT_EQ(ringlab_fuzz_tcp(f.data(), f.size()), 0);
}

std::vector<std::uint8_t> seed(const char* name) {
  std::ifstream in(std::filesystem::path(RINGLAB_TEST_SOURCE_DIR) / "tests/fuzz/tcp/corpus" / name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The seeds reach what they were written for, so the mutations start from the engine's real paths.
TEST(fuzz_tcp, seeds_reach_the_paths_they_were_written_for) {
  using ringlab::tcp::state;
  auto s = seed("handshake_data_fin");
  auto r = ringlab_fuzz_tcp_run(s.data(), s.size());
  EXPECT_EQ(r.final_state, state::closed);   // ESTABLISHED, "hello" read, FIN -> CLOSE_WAIT, close -> LAST_ACK
  EXPECT_EQ(r.reason, ringlab::tcp::close_reason::none);
  EXPECT_EQ(r.bytes_read, 5u);
  s = seed("out_of_order_then_fill");
  r = ringlab_fuzz_tcp_run(s.data(), s.size());
  EXPECT_EQ(r.counters.ofo_queued, 1u);
  EXPECT_EQ(r.bytes_read, 20u);
  s = seed("rst_and_syn_attacks");
  r = ringlab_fuzz_tcp_run(s.data(), s.size());
  // The in-window RST and the SYN each call for a challenge ACK; the second comes within 500 ms of the
  // first, so it is skipped (RFC 5961 7, per socket as Linux); the exact RST resets.
  EXPECT_EQ(r.counters.challenge_acks, 1u);
  EXPECT_EQ(r.counters.challenge_acks_skipped, 1u);
  EXPECT_EQ(r.reason, ringlab::tcp::close_reason::reset);
  s = seed("timers_only");
  r = ringlab_fuzz_tcp_run(s.data(), s.size());
  EXPECT_GE(r.counters.timeouts, 3u);   // 240 bytes sent, never acknowledged
}

TEST(fuzz_tcp, deterministic_mutations_run_clean) {
  const auto c = corpus();
  const int runs = std::getenv("RINGLAB_FUZZ_RUNS") ? std::atoi(std::getenv("RINGLAB_FUZZ_RUNS")) : 5000;
  ringlab::port::rng r(20261207);
  for (int i = 0; i < runs; ++i) {
    const std::vector<std::uint8_t> m = ringlab::testing::mutate(c, r, 6, 4);
    ASSERT_EQ(ringlab_fuzz_tcp(m.data(), m.size()), 0) << "mutation " << i;
  }
}
