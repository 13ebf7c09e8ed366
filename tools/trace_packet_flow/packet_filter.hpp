#pragma once
// Packet selection with pcap filter syntax, compiled by libpcap (pcap_compile) and run on each
// frame with pcap_offline_filter: the same language as tcpdump and tshark's capture filters.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

struct bpf_program;

namespace ringlab::trace_flow {

class packet_filter {
 public:
  // Throws input_error with libpcap's message when the expression does not compile.
  packet_filter(const std::string& expression, int linktype, int snaplen = 262144);
  ~packet_filter();
  packet_filter(const packet_filter&) = delete;
  packet_filter& operator=(const packet_filter&) = delete;

  bool matches(const std::uint8_t* bytes, std::uint32_t caplen, std::uint32_t wire_len) const noexcept;
  const std::string& expression() const noexcept { return expr_; }

 private:
  std::string expr_;
  bpf_program* prog_ = nullptr;
};

// What the kernel path replays: a UDP/IPv4 datagram found in a frame.
struct udp_datagram {
  std::uint32_t src_ip = 0, dst_ip = 0;   // host order
  std::uint16_t src_port = 0, dst_port = 0;
  std::vector<std::uint8_t> payload;
};

struct selected_packet {
  std::uint64_t id = 0;                   // 1-based position in the file
  std::uint64_t ts_ns = 0;
  std::uint32_t wire_len = 0;
  std::vector<std::uint8_t> bytes;
  std::string summary;                    // describe(): "10.0.0.1:5000 > 10.0.0.2:9000 udp 18 B"
  std::optional<udp_datagram> udp;
};

struct pcap_selection {
  int linktype = 0;
  std::uint64_t total = 0;                // frames read
  std::vector<selected_packet> packets;
};

// Reads FILE through sim::pcap_trace (frames as the lab sees them: Ethernet), keeps the frames the
// filter matches (empty expression: all), at most max (0: all). Throws input_error with pcap_trace's
// message (the file, and for a damaged record its packet number and byte offset: what `ringlab
// replay` says of the same file) or naming the filter.
pcap_selection select_packets(const std::string& file, const std::string& filter_expr, std::size_t max);

// The same selection one packet at a time, for a reader that goes through the file once (trace
// replay's route stream): select(id) reads on to packet id (1-based position) and says whether the
// filter takes it, with its summary. Memory: the stream's window, whatever the file's size. Packets are
// asked for in file order; an earlier one re-reads the file from its start to it.
class stream_selector {
 public:
  // Throws input_error (the file, the filter).
  stream_selector(const std::string& file, const std::string& filter_expr);
  ~stream_selector();
  stream_selector(const stream_selector&) = delete;
  stream_selector& operator=(const stream_selector&) = delete;

  bool select(std::uint64_t id, std::string* summary);
  // Filter and summary of a frame given by its bytes (a frame the stack sent).
  bool select_bytes(std::span<const std::byte> bytes, std::string* summary) const;
  std::uint64_t selected() const noexcept { return selected_; }

 private:
  struct impl;
  impl* p_;
  std::uint64_t selected_ = 0;
};

// Parses Ethernet (with one VLAN tag) or raw IPv4 down to UDP; std::nullopt for anything else.
std::optional<udp_datagram> parse_udp(int linktype, const std::uint8_t* p, std::size_t n);
// One line naming the packet: "10.0.0.1:5000 > 10.0.0.2:9000 udp 18 B", a TCP segment as
// "TCP 10.0.0.1:40000 > 10.0.0.2:5001 [S.] seq 1 ack 1001 win 65535 len 0" (tcpdump's flag letters),
// else the addresses and protocol, or what is malformed.
std::string describe(int linktype, const std::uint8_t* p, std::size_t n);
// tcpdump's flag letters, in its order: "S", "S.", "P.", "F.", "R", "none" for no flag.
std::string tcp_flags_string(std::uint8_t flags);
std::string ipv4_to_string(std::uint32_t host_order);

// Writes frames to a pcap (DLT_EN10MB); tests and `trace compare` use it for crafted traffic.
void write_pcap(const std::string& file, const std::vector<std::vector<std::uint8_t>>& frames);
// An Ethernet/IPv4/UDP frame with correct IPv4 and UDP checksums (udp_checksum_ok=false breaks the UDP one).
std::vector<std::uint8_t> make_udp_frame(std::uint32_t src_ip, std::uint32_t dst_ip, std::uint16_t sport,
                                         std::uint16_t dport, const std::vector<std::uint8_t>& payload,
                                         bool udp_checksum_ok = true);

}  // namespace ringlab::trace_flow
