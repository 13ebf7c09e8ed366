#pragma once
// stack::interface: the user-space Ethernet/ARP/IPv4/ICMP/IGMP/UDP stack of ONE port queue.
// One interface per RX queue, share-nothing: no locks, no atomics, everything on the polling thread.
//
//   poll(now):  rx_burst ─► eth ─┬─► arp    (answer requests for us, learn, release waiting frames)
//                                └─► ipv4 ──► reassembly (fragments) ─┬─► icmp (echo ─► reply)
//                                                                     ├─► igmp (queries ─► timers)
//                                                                     ├─► udp  ─► socket queue (frame kept)
//                                                                     └─► tcp  (seam: unsupported)
//               then timers (ARP retries, fragment timeouts, IGMP report delays), then the frames
//               nobody kept go back to the port in one rx_release; returns when it next needs a poll.
//
// Each header is checked once by a wire:: view and turned into a repr; from there on the stack works
// with values. Every frame that does not reach a socket is released at once; every drop is counted by
// trace::drop_reason and traced (trace::emit) with the frame's packet id. rx_meta checksum flags from
// the device skip the software checks they vouch for.
//
// Time is passed in: `now` on the port's clock. Nothing here reads a clock or keeps one.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <source_location>
#include <span>
#include <system_error>
#include <type_traits>
#include <vector>

#include "port/port.hpp"
#include "trace/trace.hpp"
#include "stack/iface/arp_cache.hpp"
#include "stack/iface/igmp_membership.hpp"
#include "stack/iface/reassembler.hpp"
#include "stack/iface/time.hpp"
#include "stack/iface/timer_queue.hpp"
#include "stack/socket/endpoint.hpp"
#include "stack/socket/lent_frame.hpp"
#include "stack/wire/igmp.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"

namespace ringlab::stack {

class udp_socket;

struct interface_config {
  wire::mac_addr mac;
  wire::ipv4_addr addr;
  int prefix_len = 24;
  wire::ipv4_addr gateway;                 // any(): no default route (off-subnet sends fail)
  std::size_t rx_burst = 32;
  std::uint8_t default_ttl = 64;
  int igmp_version = 3;                    // 2 or 3: which reports we send
  std::uint64_t seed = 1;                  // IGMP report delays; same seed -> same reports
  std::size_t socket_queue_depth = 256;    // datagrams per UDP socket unless the socket says otherwise
  std::uint16_t ephemeral_first = 49152;   // IANA dynamic range
  std::uint16_t ephemeral_last = 65535;
  arp_config arp;
  reassembler_config fragments;
};

struct interface_counters {
  std::uint64_t rx_frames = 0, rx_bytes = 0;
  std::uint64_t arp_requests_answered = 0, arp_replies_received = 0;
  std::uint64_t icmp_echo_answered = 0;
  std::uint64_t igmp_queries = 0;
  std::uint64_t udp_received = 0, udp_delivered = 0;
  std::uint64_t fragments_received = 0, datagrams_reassembled = 0;
  std::uint64_t tx_frames = 0, tx_bytes = 0, tx_no_frame = 0;
  std::uint64_t arp_requests_sent = 0, igmp_reports_sent = 0, igmp_leaves_sent = 0;
  std::uint64_t udp_sent = 0, looped_back = 0;
  std::uint64_t udp_fast_path = 0;   // of udp_delivered, how many took the UDP fast path
  std::array<std::uint64_t, static_cast<std::size_t>(trace::drop_reason::count_)> drops{};

  std::uint64_t dropped(trace::drop_reason r) const noexcept { return drops[static_cast<std::size_t>(r)]; }
  std::uint64_t dropped_total() const noexcept {
    std::uint64_t n = 0;
    for (auto d : drops) n += d;
    return n;
  }
};

class interface {
 public:
  interface(port::any_port& port, const interface_config& cfg);
  interface(const interface&) = delete;
  interface& operator=(const interface&) = delete;
  // Sockets must be closed or destroyed before their interface.
  ~interface();

  // One turn of the loop: receive and dispatch up to rx_burst frames, run the timers due at `now`,
  // give back what nobody kept. Returns the time of the next timer (never: none), so a caller can
  // sleep until then or until the port's wait_fd turns readable.
  time_ns poll(time_ns now) noexcept;
  time_ns next_deadline() const noexcept;

  // Multicast membership, counted per group; the first join sends a report, the last leave a leave.
  std::error_code join(wire::ipv4_addr group, time_ns now) noexcept;
  std::error_code leave(wire::ipv4_addr group, time_ns now) noexcept;
  bool joined(wire::ipv4_addr group) const noexcept { return groups_.joined(group); }

  const interface_config& config() const noexcept { return cfg_; }
  const interface_counters& counters() const noexcept { return ctr_; }
  const arp_cache& arp() const noexcept { return arp_; }
  std::size_t fragments_in_flight() const noexcept { return frags_.in_flight(); }
  std::size_t arp_pending() const noexcept { return pending_.size(); }
  port::any_port& port() noexcept { return port_; }

  // Gives a frame back: to the port if it came from rx_burst, else to the pool.
  void release(const port::frame_ref& f, bool from_port) noexcept;
  // Between hold_releases() and the matching flush_releases(), port frames released one by one (a
  // reader done with a datagram) are collected and go back in one rx_release at the flush, as the
  // frames nobody kept do at the end of a poll. Nests; the Asio layer holds while it runs handlers.
  void hold_releases() noexcept { ++hold_; }
  void flush_releases() noexcept;

 private:
  friend class udp_socket;

  // One received frame on its way through the layers.
  struct rx_ctx {
    const port::frame_ref& frame;   // the burst's slot (or a frame of ours): outlives the context
    bool from_port = true;
    bool kept = false;     // a socket took it
    time_ns now = 0;
  };
  struct ip_values;        // the parsed IPv4 header, as the upper layers see it

  void receive(rx_ctx& c) noexcept;
  // The UDP fast path: true when it delivered the frame; false sends it down the general path, which
  // then reaches the same verdict it always did (the fast path changes nothing before it says true).
  bool fast_udp(rx_ctx& c) noexcept;
  // A flow as the fast path's memo keeps it: the IPv4 source and destination address and the UDP
  // source and destination port, as on the wire (network order).
  struct flow_key {
    std::uint64_t addrs = 0;
    std::uint32_t ports = 0;
  };
  [[gnu::noinline]] udp_socket* fast_udp_flow(const std::byte* p, flow_key key) noexcept;
  void deliver_udp(rx_ctx& c, udp_socket* s, endpoint source, wire::ipv4_addr dst,
                   std::span<const std::byte> payload) noexcept;
  void on_arp(rx_ctx& c, std::span<const std::byte> bytes) noexcept;
  void on_ipv4(rx_ctx& c, std::span<const std::byte> bytes, wire::mac_addr l2_src) noexcept;
  void on_l4(rx_ctx& c, const ip_values& ip, std::span<const std::byte> payload) noexcept;
  void on_icmp(rx_ctx& c, const ip_values& ip, std::span<const std::byte> payload) noexcept;
  void on_igmp(rx_ctx& c, const ip_values& ip, std::span<const std::byte> payload) noexcept;
  void on_udp(rx_ctx& c, const ip_values& ip, std::span<const std::byte> payload) noexcept;
  // Both keep their caller's source location, so a route names the code that decided, not these helpers.
  void drop(const rx_ctx& c, trace::hop where, trace::drop_reason why,
            std::source_location loc = std::source_location::current()) noexcept;
  // Inline: with tracing off a hop is one relaxed load and a branch (it runs several times per frame).
  void hop(const rx_ctx& c, trace::hop where, trace::verdict v = trace::verdict::pass,
           std::source_location loc = std::source_location::current()) noexcept {
    if (trace::enabled()) [[unlikely]] hop_traced(c, where, v, loc);
  }
  void hop_traced(const rx_ctx& c, trace::hop where, trace::verdict v, std::source_location loc) noexcept;
  void run_timers(time_ns now) noexcept;
  // What the lane's timers do when they fire (the hooks of arp_, frags_ and groups_).
  void arp_retry(wire::ipv4_addr ip, time_ns now) noexcept;
  void arp_give_up(wire::ipv4_addr ip, time_ns now) noexcept;
  void fragment_timed_out(time_ns now) noexcept;
  void igmp_report(wire::ipv4_addr group, time_ns now) noexcept;
  void igmp_report_all(time_ns now) noexcept;
  void flush_now() noexcept;

  // --- transmit ---
  struct ip_out {
    wire::ipv4_addr src, dst;
    std::uint8_t proto = 0;
    std::uint8_t ttl = 64;
    std::uint8_t tos = 0;
    bool router_alert = false;               // IGMP: RFC 2113 option, 24-byte header
    bool loop = false;                       // multicast: also deliver a copy here
    std::optional<wire::mac_addr> l2_dst;    // replies: straight back to the requester, no ARP
  };
  // Builds one frame in a TX frame: fill(span at the L4 offset) writes the L4 bytes and returns
  // their length (0: give up); IPv4 and Ethernet headers go in front. Then loops a copy back if asked,
  // and commits, or parks the frame until ARP resolves the next hop. Errors as in udp_socket.
  // A non-owning reference to the fill callable (valid for the call it is passed to).
  class l4_writer {
   public:
    template <class F>
      requires(!std::is_same_v<std::remove_cvref_t<F>, l4_writer>)
    l4_writer(F&& f) noexcept   // NOLINT: implicit on purpose, from a lambda at the call
        : obj_(&f), fn_([](void* o, std::span<std::byte> out) { return (*static_cast<std::remove_reference_t<F>*>(o))(out); }) {}
    std::size_t operator()(std::span<std::byte> out) const noexcept { return fn_(obj_, out); }

   private:
    void* obj_;
    std::size_t (*fn_)(void*, std::span<std::byte>);
  };
  std::error_code send_ip(const ip_out& o, std::size_t l4_max, l4_writer fill, time_ns now) noexcept;
  bool next_hop(wire::ipv4_addr dst, wire::ipv4_addr& hop_ip, wire::mac_addr& mac, bool& known,
                time_ns now) const noexcept;
  wire::ipv4_addr directed_broadcast() const noexcept;
  void commit(port::tx_batch& b, std::size_t len) noexcept;
  void loop_back(std::span<const std::byte> frame, time_ns now) noexcept;
  void send_arp(std::uint16_t op, wire::mac_addr l2_dst, wire::mac_addr target_mac, wire::ipv4_addr target_ip,
                time_ns now) noexcept;
  void send_igmp_v2(wire::igmp::type kind, wire::ipv4_addr group, wire::ipv4_addr to, time_ns now) noexcept;
  void send_igmp_v3(wire::igmp::record_type kind, std::span<const wire::ipv4_addr> groups, time_ns now) noexcept;
  void resolved(wire::ipv4_addr ip, wire::mac_addr mac) noexcept;   // sends the frames waiting for ip

  // --- sockets ---
  std::error_code bind_udp(udp_socket& s, endpoint local) noexcept;
  void unbind_udp(udp_socket& s) noexcept;
  udp_socket* find_udp(endpoint source, endpoint destination) noexcept;
  // The fast path's one-flow memo (a flow that passed the address check and found this socket);
  // any bind, connect, close, join or leave forgets it.
  void sockets_changed() noexcept { flow_ = {}; }
  std::uint16_t ephemeral_port() noexcept;

  port::any_port& port_;
  interface_config cfg_;
  interface_counters ctr_;
  timer_queue timers_;                      // every timer of this lane; before the parts that arm it
  arp_cache arp_;
  reassembler frags_;
  igmp_membership groups_;
  std::uint32_t mtu_ = 1500;
  std::uint16_t next_ident_ = 1;
  std::uint16_t next_ephemeral_;
  time_ns now_ = 0;                         // the latest `now` seen (for releases between polls)
  unsigned hold_ = 0;                       // hold_releases() depth

  struct pending_tx {
    wire::ipv4_addr hop;
    port::tx_batch batch;                   // one built frame, its Ethernet destination not yet known
    std::size_t len = 0;
  };
  std::vector<pending_tx> pending_;         // bounded by cfg_.arp.pending_total
  std::vector<udp_socket*> udp_;            // a linear table: few sockets per queue; TCP gets a flow table
  struct flow_memo {
    flow_key key;
    udp_socket* socket = nullptr;           // nullptr: nothing remembered
  } flow_;
  std::vector<port::frame_ref> done_;       // frames to give back at the end of the burst
  std::vector<port::frame_ref> rx_;         // the burst being worked on
};

}  // namespace ringlab::stack
