#pragma once
// pcap_reader: one pcap or pcapng file read record by record through libpcap (never a hand-rolled
// parser), each record converted to Ethernet, numbered and located by byte offset. Both ways sim_nic
// takes a trace use it: pcap_trace reads every record into one blob, pcap_stream keeps only the record
// at hand (traces larger than memory).
//
// Link types: Ethernet as is. Linux cooked capture (SLL, SLL2) and raw IP (DLT_RAW, IPv4, IPv6) are
// converted to Ethernet with a synthesised 14-byte header (see the notes in pcap_reader.cpp); every
// other link type is refused at open with an error naming it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

struct pcap;

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
  std::uint64_t data = 0;          // offset of the frame's bytes in a pcap_trace's blob (0 in a stream)
  std::uint32_t caplen = 0;        // bytes present (after link conversion)
  std::uint32_t wirelen = 0;       // bytes the frame had on the wire; > caplen when snaplen cut it
};

class pcap_reader {
 public:
  // read_ahead: the stdio buffer libpcap reads the file through (bytes buffered ahead of the record at
  // hand); 0 keeps stdio's default.
  static result<pcap_reader> open(const std::string& path, std::size_t read_ahead = 0);
  // Reads a pcap/pcapng image held in memory (the fuzz target's entry); `name` labels errors.
  static result<pcap_reader> from_memory(std::span<const std::byte> image, const std::string& name = "<memory>");
  pcap_reader(pcap_reader&& o) noexcept;
  pcap_reader& operator=(pcap_reader&& o) noexcept;
  pcap_reader(const pcap_reader&) = delete;
  pcap_reader& operator=(const pcap_reader&) = delete;
  ~pcap_reader();

  enum class status { frame, end, error };
  // The next record: its number, offset, timestamp and lengths in `rec` (rec.data untouched) and its
  // Ethernet bytes in `bytes`, valid until the next call (libpcap's buffer, or this reader's for a
  // converted link type). error: error() names the file, packet number and byte offset.
  status next(trace_record& rec, std::span<const std::byte>& bytes);

  const std::string& name() const noexcept { return name_; }
  const std::string& error() const noexcept { return error_; }
  int link_type() const noexcept { return dlt_; }
  std::uint64_t records() const noexcept { return n_; }   // records read so far

 private:
  pcap_reader() = default;
  // libpcap on an open FILE (closed on failure); the error names `name`.
  static result<pcap_reader> from_file(std::FILE* f, const std::string& name, std::unique_ptr<char[]> buffer,
                                       const unsigned char* magic);
  static result<pcap_reader> adopt(pcap* p, std::string name, std::unique_ptr<char[]> buffer, const unsigned char* magic);
  void close() noexcept;

  pcap* p_ = nullptr;
  std::unique_ptr<char[]> buffer_;   // the FILE's read-ahead buffer (must outlive the FILE)
  std::string name_;
  std::string error_;
  int dlt_ = 1;
  std::uint32_t record_header_ = 0;   // pcap: 16 (24 modified); 0: pcapng, offsets from ftell
  std::uint32_t snaplen_ = 0;
  long next_offset_ = -1;             // the next record's offset when known without ftell; -1: ask
  std::uint64_t n_ = 0;
  std::vector<std::byte> converted_;   // a converted (non-Ethernet) frame
};

}  // namespace ringlab::sim
