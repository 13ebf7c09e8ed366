#pragma once
// A trace: every frame of a pcap or pcapng file, read once through libpcap (pcap_reader) into one byte
// blob, with each frame's packet number and the byte offset of its record in the file (for error
// messages). sim_nic replays from this blob; the copy into a pool frame at ingress is the only copy on
// the receive path, as a NIC's DMA into an RX buffer is. Random access (records()[i]) is what the
// tests, the demo and repro runs use; a trace larger than memory is replayed from a pcap_stream.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sim_nic/pcap_reader.hpp"

namespace ringlab::sim {

class pcap_trace {
 public:
  static result<pcap_trace> open(const std::string& path);
  // Parses a pcap/pcapng image held in memory (the fuzz target's entry); `name` labels errors.
  static result<pcap_trace> from_memory(std::span<const std::byte> image, const std::string& name = "<memory>");
  // A trace made in code (tests): frames with timestamps, Ethernet.
  static pcap_trace from_frames(const std::vector<std::vector<std::byte>>& frames,
                                const std::vector<std::uint64_t>& ts_ns);

  const std::string& name() const noexcept { return name_; }
  const std::vector<trace_record>& records() const noexcept { return records_; }
  std::span<const std::byte> bytes(const trace_record& r) const noexcept { return {blob_.data() + r.data, r.caplen}; }
  int original_link_type() const noexcept { return link_type_; }
  std::uint64_t first_ts() const noexcept { return records_.empty() ? 0 : records_.front().ts_ns; }
  // From the first record to the LATEST one (not the last: a capture's clock may step back, and the
  // replay schedules a record that is earlier than the first at the first's time). last - first
  // wrapped to ~2^64 for such a file and a second loop scheduled its frames past `never`: found by
  // fuzz_sim_nic_pcap (tests/fuzz/sim_nic/corpus/clock-to-never.pcap).
  std::uint64_t duration_ns() const noexcept { return latest_ts_ - first_ts(); }

 private:
  static result<pcap_trace> load(result<pcap_reader> rd);

  std::string name_;
  int link_type_ = 1;
  std::vector<std::byte> blob_;
  std::vector<trace_record> records_;
  std::uint64_t latest_ts_ = 0;   // the largest record timestamp (duration_ns), kept as records are added
};

}  // namespace ringlab::sim
