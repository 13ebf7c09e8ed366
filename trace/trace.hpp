#pragma once
// One trace event format for every hop of the lab's path (README.md's picture):
//   {packet id, stage, t_ns, cpu, queue, ring slot, frame, verdict/reason, source location}
// Each thread writes into its own buffer; when tracing is off an emit costs one relaxed load and a
// branch (bench/trace shows it). Drop reasons are an enum, never free text.
#include <atomic>
#include <cstdint>
#include <source_location>
#include <string_view>
#include <vector>

namespace ringlab::trace {

enum class hop : std::uint8_t {
  nic_rx,          // sim_nic / real port: the frame arrived at the device
  rss,             // queue chosen by RSS
  ring_enqueue,    // descriptor written to an RX ring slot
  ring_dequeue,    // descriptor taken from an RX ring slot
  pool,            // pool frame assigned (copy into the frame on ingress)
  fault,           // faulty_port acted on the frame
  pcap_tap,        // pcap_tap wrote the frame
  port_rx,         // the stack received it from the port
  eth, arp, ipv4, ipv4_reassembly, icmp, igmp, udp, tcp,
  socket_queue,    // queued on a socket
  deliver,         // handed to an application handler (bypass_service or a direct reader)
  release,         // frame released back to the pool
  tx,              // the stack committed a frame for transmit
  nic_tx,          // the device sent it (to pcap, to a peer NIC, onto a wire)
  wire,            // the simulated wire between two sim_nics
  count_
};

enum class verdict : std::uint8_t { pass, drop, deliver, tx };

enum class drop_reason : std::uint8_t {
  none,
  // device / ring / pool
  ring_full, pool_empty, runt, oversize, snap_truncated, fault_injected,
  // link and network layers
  bad_ethertype, truncated, bad_ip_version, bad_ip_header_len, bad_ip_total_len, bad_ip_checksum,
  fragment, fragment_timeout, fragment_overflow, ttl_expired, not_ours, bad_l4_checksum, bad_l4_length,
  unsupported, not_joined, no_socket, socket_queue_full, arp_unresolved,
  // TCP: the segment's header (rx_pipeline), the listener (tcp_lane), the connection's checks (tcp::connection)
  tcp_bad_offset,        // data offset < 5 or past the segment's end
  tcp_bad_options,       // an option cut short or of a length its kind forbids
  tcp_listen_overflow,   // the listener's accept queue was full (ListenOverflows)
  tcp_syn_queue_full,    // the listener's SYN queue was full and its SYN cookies off (ListenDrops)
  tcp_not_syn,           // not a SYN where only a SYN opens (LISTEN, SYN_SENT); an ACK is answered with RST
  tcp_closed,            // the connection had closed (its entry waits for its socket's close)
  tcp_out_of_window,     // RFC 9293 3.10.7.4 acceptability failed (an ACK went back)
  tcp_paws,              // RFC 7323 PAWS: an old timestamp (PAWSEstab)
  tcp_bad_ack,           // an ACK of nothing sent (challenge ACK, or RST in SYN_SENT / SYN_RECEIVED)
  tcp_rst_challenged,    // RFC 5961 3.2: RST in the window but not at RCV.NXT (challenge ACK)
  tcp_syn_challenged,    // RFC 5961 4.2: SYN in a synchronized state (challenge ACK)
  tcp_no_ack,            // RFC 9293 3.10.7.4 fifth: a segment without ACK in a synchronized state
  count_
};

std::string_view to_string(hop h) noexcept;
std::string_view to_string(verdict v) noexcept;
std::string_view to_string(drop_reason r) noexcept;

struct event {
  std::uint64_t packet_id = 0;
  std::uint64_t t_ns = 0;          // the emitter's clock: virtual for sim_nic, real for real ports
  std::uint64_t real_ns = 0;       // CLOCK_MONOTONIC when the event was recorded (set by record())
  std::uint32_t ring_slot = ~0u;   // ~0u: no ring slot at this hop
  std::uint32_t frame = ~0u;       // ~0u: no pool frame at this hop
  std::uint16_t queue = 0;
  std::uint16_t cpu = 0;
  hop stage = hop::nic_rx;
  verdict v = verdict::pass;
  drop_reason reason = drop_reason::none;
  std::source_location where;      // the emitting file and function
};

namespace detail {
inline std::atomic<bool> enabled_flag{false};
void record(const event& e);
}  // namespace detail

inline bool enabled() noexcept { return detail::enabled_flag.load(std::memory_order_relaxed); }
void enable(bool on) noexcept;

// Records an event when tracing is on. Call as trace::emit({...}); the caller's source location is kept.
inline void emit(event e, std::source_location where = std::source_location::current()) noexcept {
  if (!enabled()) [[likely]] return;
  e.where = where;
  detail::record(e);
}

// Takes every event recorded so far from every thread's buffer, ordered by (t_ns, emit order).
std::vector<event> drain();

// FNV-1a over the events' fields (not the source locations): the same seed and trace give the same hash.
std::uint64_t hash(const std::vector<event>& events) noexcept;

}  // namespace ringlab::trace
