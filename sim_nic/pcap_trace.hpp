#pragma once
// A trace: every frame of a pcap or pcapng file, read once through libpcap into one byte blob, with
// each frame's packet number and the byte offset of its record in the file (for error messages).
// sim_nic replays from this blob; the copy into a pool frame at ingress is the only copy on the
// receive path, as a NIC's DMA into an RX buffer is.
//
// Link types: Ethernet as is. Linux cooked capture (SLL, SLL2) and raw IP (DLT_RAW, IPv4, IPv6) are
// converted to Ethernet with a synthesised 14-byte header (see convert notes in pcap_trace.cpp);
// every other link type is refused with an error naming it.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ringlab::sim {

// An expected-like result for the edges: a value, or one line saying what went wrong and where.
template <class T>
struct result {
  std::optional<T> value;
  std::string error;
  explicit operator bool() const noexcept { return value.has_value(); }
  T& operator*() { return *value; }
  T* operator->() { return &*value; }
};

struct trace_record {
  std::uint64_t number = 0;        // 1-based packet number in the file
  std::uint64_t file_offset = 0;   // byte offset of the record (pcap header or pcapng block) in the file
  std::uint64_t ts_ns = 0;         // recorded timestamp
  std::uint64_t data = 0;          // offset of the frame's bytes in the blob
  std::uint32_t caplen = 0;        // bytes present (after link conversion)
  std::uint32_t wirelen = 0;       // bytes the frame had on the wire; > caplen when snaplen cut it
};

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
  std::uint64_t duration_ns() const noexcept {
    return records_.size() < 2 ? 0 : records_.back().ts_ns - records_.front().ts_ns;
  }

 private:
  std::string name_;
  int link_type_ = 1;
  std::vector<std::byte> blob_;
  std::vector<trace_record> records_;

  friend struct pcap_trace_loader;
};

}  // namespace ringlab::sim
