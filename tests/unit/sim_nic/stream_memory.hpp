#pragma once
// Peak resident memory of one phase of a test: /proc/self/clear_refs "5" resets the process's peak
// (VmHWM) to its current RSS (Linux >= 4.0), so each phase's peak is measured on its own in one
// process. Used by the pcap_stream memory tests (traces of 10^5..10^7 packets and several GB).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "sim_nic/pcap_stream.hpp"
#include "sim_nic/pcap_trace.hpp"
#include "sim_nic/sim_nic.hpp"
#include "tools/gen_trace/gen_trace.hpp"

namespace ringlab::simtest {

inline std::uint64_t vm_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string want = std::string(field) + ":";
  while (std::getline(in, line))
    if (line.rfind(want, 0) == 0) return std::stoull(line.substr(want.size()));
  return 0;
}

// Whether the peak can be reset here (a machine property, probed apart from the code under test).
inline bool peak_resettable(std::string& why) {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) { why = "/proc/self/clear_refs cannot be opened for writing"; return false; }
  f << "5";
  f.flush();
  if (!f) { why = "writing 5 to /proc/self/clear_refs failed (kernel older than 4.0?)"; return false; }
  return true;
}

// Peak RSS in KiB while fn runs (the peak reset just before it).
template <class F>
std::uint64_t peak_kib_of(F&& fn) {
  { std::ofstream f("/proc/self/clear_refs"); f << "5"; }
  fn();
  return vm_kib("VmHWM");
}

// A flows trace of n packets with `size`-byte UDP payloads, written as generated.
inline void make_trace(const std::string& path, std::uint64_t n, std::uint32_t size) {
  gen_trace::options o;
  o.what = gen_trace::kind::flows;
  o.count = n;
  o.size = size;
  o.pps = 1e6;
  std::uint64_t written = 0;
  ASSERT_EQ(gen_trace::generate_pcap(path, o, &written), "");
  ASSERT_EQ(written, n);
}

// Replays a file through sim_nic from a stream (one queue, drained as it goes); every frame counted.
inline void replay_stream(const std::string& path, std::uint64_t n, std::uint32_t loops = 1) {
  auto s = sim::pcap_stream::open(path);
  ASSERT_TRUE(s) << s.error;
  sim::sim_nic_config c;
  c.timing.loops = loops;
  sim::sim_nic nic(c);
  nic.load(*s);
  port::frame_ref f[256];
  std::uint64_t got = 0;
  while (nic.step(256)) {
    std::size_t k;
    while ((k = nic.queue(0).rx_burst(f)) != 0) {
      got += k;
      nic.queue(0).rx_release({f, k});
    }
  }
  EXPECT_EQ(nic.trace_error(), "");
  EXPECT_EQ(got, n * loops);
  EXPECT_EQ(nic.counters().trace_frames, n * loops);
}

struct peak_row {
  std::string what;
  std::uint64_t packets, file_bytes, peak_kib;
};

inline void print_rows(const std::vector<peak_row>& rows) {
  std::printf("| phase | packets | file MB | peak RSS MiB |\n|---|---:|---:|---:|\n");
  for (const auto& r : rows)
    std::printf("| %s | %llu | %.0f | %.1f |\n", r.what.c_str(), static_cast<unsigned long long>(r.packets),
                static_cast<double>(r.file_bytes) / 1e6, static_cast<double>(r.peak_kib) / 1024.0);
}

inline std::uint64_t file_size(const std::string& p) {
  std::ifstream f(p, std::ios::binary | std::ios::ate);
  return f ? static_cast<std::uint64_t>(f.tellg()) : 0;
}

}  // namespace ringlab::simtest
