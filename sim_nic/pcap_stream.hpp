#pragma once
// pcap_stream: a pcap or pcapng file replayed as a stream, for traces larger than memory. Memory is
// bounded and independent of the file's size:
//   - read_ahead bytes of the file buffered ahead of the record at hand (the FILE's stdio buffer that
//     libpcap reads through; default 1 MiB), plus libpcap's one-record buffer;
//   - the record at hand (peek()): its bytes point into libpcap's buffer (Ethernet) or into the
//     reader's conversion buffer, and sim_nic copies them into a pool frame when the frame is due, so a
//     stream adds no copy over a loaded pcap_trace;
//   - the metadata (number, byte offset, lengths: 40 bytes) of the last `recent` records, so a drop
//     found after the frame moved on (a full RX ring, at the burst's flush) still names its packet
//     number and offset.
// rewind() re-opens the file (--loop). Sequence numbers (the replay index: loop x frames + record)
// continue across rewinds, so find(seq) answers for a looped replay too.
// A read error ends the stream at that record: peek() returns nullptr and error() names the file, the
// packet number and the byte offset, as pcap_trace's does at open.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "sim_nic/pcap_reader.hpp"

namespace ringlab::sim {

struct stream_frame {
  trace_record rec;                  // rec.data is 0
  std::span<const std::byte> bytes;  // valid until pop()
};

class pcap_stream {
 public:
  static constexpr std::size_t default_read_ahead = std::size_t{1} << 20;
  static constexpr std::size_t recent = 256;   // records whose metadata find() keeps (> 2 x 64 staged descriptors)

  // Opens the file and checks its header and link type (no record is read yet).
  static result<pcap_stream> open(const std::string& path, std::size_t read_ahead = default_read_ahead);

  // The next frame in file order without consuming it; nullptr at the end of the file or after a read
  // error (error() is then non-empty).
  const stream_frame* peek() noexcept {
    if (!have_ && open_error_.empty()) fill();
    return have_ ? &cur_ : nullptr;
  }
  // Consumes the frame peek() returned (its bytes go invalid).
  void pop() noexcept {
    recent_[seq_ % recent] = {seq_, cur_.rec};
    ++seq_;
    have_ = false;
  }
  // Back to the first record (re-opens the file). false: error() says why.
  bool rewind();
  // Back to the first record with the sequence restarting at 0 (a new replay of the same stream).
  bool restart();
  // One pass over every frame, fn(record, bytes) for each, then restart(): for a command that reads
  // the trace's addresses before it replays it (the demo's groups, trace replay's host and selection),
  // in the same bounded window. false: a record could not be read (fn saw the frames before it) or the
  // file could not be re-opened; scan_error() names the file, packet and byte offset.
  template <class F>
  bool scan(F&& fn) {
    while (const stream_frame* f = peek()) {
      fn(f->rec, f->bytes);
      pop();
    }
    scan_error_ = error();
    if (!restart() && scan_error_.empty()) scan_error_ = error();
    return scan_error_.empty();
  }
  const std::string& scan_error() const noexcept { return scan_error_; }
  // The record of sequence number seq: the one at hand (peeked; sim_nic flushes a burst while the
  // frame that filled it is still at hand) or one of the last `recent` popped; else nullptr.
  const trace_record* find(std::uint64_t seq) const noexcept {
    if (seq == seq_) return have_ ? &cur_.rec : nullptr;
    const auto& e = recent_[seq % recent];
    return e.seq == seq && seq < seq_ ? &e.rec : nullptr;
  }

  const std::string& name() const noexcept { return reader_.name(); }
  const std::string& error() const noexcept { return open_error_.empty() ? reader_.error() : open_error_; }
  int original_link_type() const noexcept { return reader_.link_type(); }
  std::uint64_t sequence() const noexcept { return seq_; }          // frames popped since open/restart
  std::size_t read_ahead() const noexcept { return read_ahead_; }

 private:
  explicit pcap_stream(pcap_reader r, std::size_t read_ahead) : reader_(std::move(r)), read_ahead_(read_ahead) {}
  void fill() noexcept;

  struct seen {
    std::uint64_t seq = ~std::uint64_t{0};
    trace_record rec;
  };
  pcap_reader reader_;
  std::size_t read_ahead_;
  std::string open_error_;   // a rewind could not re-open the file
  std::string scan_error_;   // why the last scan() stopped early
  stream_frame cur_;
  bool have_ = false;
  std::uint64_t seq_ = 0;
  std::array<seen, recent> recent_{};
};

}  // namespace ringlab::sim
