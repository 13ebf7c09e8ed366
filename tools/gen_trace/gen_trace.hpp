#pragma once
// The trace generator behind `ringlab gen-trace`: deterministic, checksum-correct pcaps (the same
// options and seed give the same bytes on every machine: only std::mt19937_64's raw output is used,
// never a std:: distribution, whose results differ between standard libraries).
//
//   mcast-feed     a market-data-style feed: --groups groups 239.1.1.1.., UDP port 5001 + group
//                  index, messages spread over the groups at random, each datagram the lab's mcast
//                  header (tools/mcast/datagram.hpp, "RLMC", seq per group, send_ns = the frame's
//                  timestamp) then quote-like text padded to --size
//   flows          --flows unicast UDP flows to 10.0.0.2 with varied 4-tuples (for RSS), the same
//                  header with seq per flow
//   malformed      one frame per case of malformed_cases(), in that order (packet number = index + 1)
//   arp-icmp-igmp  what a host 10.0.0.2 / 02:00:00:00:00:02 must answer or act on: ARP, ping, IGMP queries
//   tcp-handshake  one TCP connection's client side to 10.0.0.2:5001 (a listener there): handshake, data,
//                  an old duplicate, a bad checksum, a SYN to a port nobody listens on, FIN both ways
//                  (tcp_handshake_cases()); the host's ISS is computed as a stack::interface with the
//                  default interface_config computes it for the SYN's time (RFC 6528, its tcp_secret)
//   fragments      --count UDP datagrams of one flow (10.0.0.1:40000 -> 10.0.0.2:5001, identification
//                  1, 2, ..., 1400-byte payloads starting "dgram N"), each as 3 IPv4 fragments (560 +
//                  560 + 288 bytes of the UDP datagram), neighbours interleaved by --seed (a third of
//                  the fragments overtaken by up to 3 later ones); datagram d with d % 32 == 7 has the
//                  first of its fragments to arrive sent twice (an exact duplicate), d % 32 == 23 an
//                  extra 16-byte fragment after it that overlaps its first two pieces (both come before
//                  the datagram can complete). A correct stack reassembles every other
//                  datagram intact and drops those two (fragment_overflow: the lab takes a duplicate as an
//                  overlap, where Linux drops the duplicate alone); the planted stack
//                  bug (RINGLAB_PLANT_STACK_BUG: reassembly without the identification) glues neighbours
//                  together, the same way on every run (docs/repro.md, the stack hunt). The fragments
//                  those two leave behind wait 30 s for the rest in the reassembler's 8 slots: past
//                  --count 64 or so they fill them, and later datagrams overflow (fragment_overflow)
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "trace/trace.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"

namespace ringlab::gen_trace {

enum class kind : std::uint8_t { mcast_feed, flows, malformed, arp_icmp_igmp, tcp_handshake, fragments };
std::optional<kind> parse_kind(std::string_view s) noexcept;
std::string_view to_string(kind k) noexcept;

// The lab's addresses: a sender (the "exchange" / the peer) and the host under test.
inline constexpr wire::ipv4_addr peer_ip{10, 0, 0, 1};
inline constexpr wire::mac_addr peer_mac{0x02, 0, 0, 0, 0, 0x01};
inline constexpr wire::ipv4_addr host_ip{10, 0, 0, 2};
inline constexpr wire::mac_addr host_mac{0x02, 0, 0, 0, 0, 0x02};
inline constexpr wire::ipv4_addr first_group{239, 1, 1, 1};
inline constexpr std::uint16_t first_port = 5001;
inline constexpr std::uint64_t start_ns = 1'700'000'000'000'000'000ull;   // 2023-11-14 22:13:20 UTC
// The fragments kind: payload bytes per datagram, bytes of the UDP datagram per fragment (a multiple of 8).
inline constexpr std::size_t fragment_payload = 1400, fragment_piece = 560;

struct options {
  kind what = kind::mcast_feed;
  std::uint64_t count = 1000;   // messages (mcast-feed) or packets (flows); fixed lists ignore it
  std::uint32_t groups = 4;     // mcast-feed
  std::uint32_t flows = 64;     // flows
  std::uint64_t seed = 1;
  double pps = 100000;          // timestamp spacing: packet i at start_ns + i * 1e9 / pps
  std::uint32_t size = 32;      // UDP payload bytes (mcast-feed, flows), at least the 24-byte header
};

// The recipe of traces/mcast-feed.pcap (traces/README.md), the feed `ringlab demo` replays.
inline options mcast_feed_recipe() {
  options o;
  o.count = 12000;
  return o;
}

// Returns an empty string when the options are usable, else one line naming the option and value.
std::string check(const options& o);

struct packet {
  std::vector<std::byte> bytes;   // what the capture holds
  std::uint32_t wire_len = 0;     // the frame's length on the wire (> bytes.size(): truncated capture)
  std::uint64_t t_ns = 0;
};

// One frame of the malformed trace and what the lab should do with it.
struct malformed_case {
  std::string_view name;
  std::string_view what;
  trace::drop_reason reason;   // none: a valid frame the stack must accept (device checks as a real NIC's)
  bool tshark_flags;           // tshark -V (checksums checked) shows an error/warning for it
  // What `ringlab trace replay traces/malformed.pcap` does with it (sim_nic's defaults, then the
  // stack), as the route's outcome: "deliver", "drop: REASON", or "held" (kept for reassembly).
  // It differs from `reason` where sim_nic's defaults differ from a real NIC (runt_len 14, not 60).
  std::string_view lab;
};
std::span<const malformed_case> malformed_cases() noexcept;

// One frame of the tcp-handshake trace and what `ringlab trace replay --tcp-listen 5001` does with it.
struct tcp_case {
  std::string_view name;
  std::string_view what;
  std::string_view lab;   // the route's outcome: "deliver" or "drop: REASON"
};
std::span<const tcp_case> tcp_handshake_cases() noexcept;
inline constexpr std::uint16_t tcp_port = 5001;

using packet_sink = std::function<void(const packet&)>;
// Hands every packet to sink in order without keeping them (mcast-feed and flows are made one at a
// time: memory stays flat at any --count). Precondition: check(o) is empty.
void generate_each(const options& o, const packet_sink& sink);
// All of them in a vector. Precondition: check(o) is empty.
std::vector<packet> generate(const options& o);
// Generates and writes in one pass (flat memory); returns an empty string or the error, and the
// number of packets written in *count.
std::string generate_pcap(const std::string& path, const options& o, std::uint64_t* count = nullptr);

// Writes a nanosecond pcap (DLT_EN10MB) through libpcap; returns an empty string or the error.
std::string write_pcap(const std::string& path, std::span<const packet> packets);

}  // namespace ringlab::gen_trace
