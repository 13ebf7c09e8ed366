#pragma once
// stack::ip_output: everything that sends an IPv4 packet or an ARP frame out of one interface.
//
//   send(params, l4_max, fill, now)
//     route ─► next hop (on-link, the gateway, a group's or the broadcast MAC, ourselves)
//     tx_reserve(1) ─► fill(L4 bytes) ─► IPv4 header ─► Ethernet header, all in place in one TX frame
//     ourselves ─► loopback (received again through rx_pipeline, never on the wire)
//     multicast we joined + loop ─► a copy looped back as well
//     next hop known ─► commit    unknown ─► parked (bounded) until ARP resolves it, request sent once
//
// Users: udp_socket (send_to), rx_pipeline (ICMP echo replies, ARP replies), igmp_host (reports and
// leaves), run_timers (ARP retries), and later TCP segments: whatever writes an L4 header and payload
// into the span it is given. It owns the ARP cache (the neighbours it sends to) and the ARP-pending
// queue; counters go to the interface's interface_counters.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <type_traits>
#include <vector>

#include "port/port.hpp"
#include "trace/packet_id.hpp"
#include "stack/iface/timer_queue.hpp"
#include "stack/iface/arp_cache.hpp"
#include "stack/iface/frame_releaser.hpp"
#include "stack/iface/interface_config.hpp"
#include "stack/iface/time.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"

namespace ringlab::stack {

class rx_pipeline;

class ip_output {
 public:
  struct params {
    wire::ipv4_addr src, dst;
    std::uint8_t proto = 0;
    std::uint8_t ttl = 64;
    std::uint8_t tos = 0;
    bool router_alert = false;               // IGMP: RFC 2113 option, 24-byte header
    bool loop = false;                       // multicast: also deliver a copy here
    std::optional<wire::mac_addr> l2_dst;    // replies: straight back to the requester, no ARP
    // The L4 checksum field holds the pseudo header's sum: the device finishes it (the frame goes out
    // marked port::tx_l4_csum_partial). Only where tx_l4_csum_offload() says the port can.
    bool l4_csum_partial = false;
  };
  // Writes the L4 bytes into the span it is given (at the L4 offset of a TX frame) and returns their
  // length (0: give up). A non-owning reference to the callable, valid for the call it is passed to.
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

  // Writes packet i of a train's L4 bytes into `out` and returns their length (0: give up). `head` is
  // the L4 bytes written for the first packet of the same TX burst (the template to copy and patch);
  // empty for that packet itself, and for a packet that goes out alone (no template: write it whole).
  class train_writer {
   public:
    template <class F>
      requires(!std::is_same_v<std::remove_cvref_t<F>, train_writer>)
    train_writer(F&& f) noexcept   // NOLINT: implicit on purpose, from a lambda at the call
        : obj_(&f),
          fn_([](void* o, std::size_t i, std::span<std::byte> out, std::span<const std::byte> head) {
            return (*static_cast<std::remove_reference_t<F>*>(o))(i, out, head);
          }) {}
    std::size_t operator()(std::size_t i, std::span<std::byte> out, std::span<const std::byte> head) const noexcept {
      return fn_(obj_, i, out, head);
    }

   private:
    void* obj_;
    std::size_t (*fn_)(void*, std::size_t, std::span<std::byte>, std::span<const std::byte>);
  };
  struct train_result {
    std::size_t failed = 0;   // packets not sent (each as a send() that returned ec)
    std::error_code ec;       // why the last of them failed
  };

  ip_output(port::any_port& port, const interface_config& cfg, interface_counters& ctr, frame_releaser& frames,
            timer_queue& timers);
  ip_output(const ip_output&) = delete;
  ip_output& operator=(const ip_output&) = delete;
  ~ip_output() { pending_.clear(); }   // each batch cancels: its frame goes back to the pool

  // Where looped-back frames are received (set once by the interface that owns both).
  void set_loopback(rx_pipeline& rx) noexcept { loop_ = &rx; }
  // The port finishes UDP/TCP checksums on transmit (port_caps::tx_l4_csum).
  bool tx_l4_csum_offload() const noexcept { return tx_l4_csum_; }

  // One IPv4 packet, L4 bytes from `fill` (at most l4_max). Errors are udp_socket's: message_size,
  // network_unreachable, no_buffer_space. A frame parked for ARP that is later lost (queue full, no
  // answer) is counted arp_unresolved; the send itself succeeded, as a kernel's does.
  std::error_code send(const params& p, std::size_t l4_max, l4_writer fill, time_ns now) noexcept;
  // n IPv4 packets of at most l4_max L4 bytes each, all to p.dst (GSO-like, issue 13 point 6): one
  // tx_reserve and one commit per burst of up to port::tx_batch::max_frames; the IPv4 and Ethernet
  // headers are built for the burst's first frame and copied into the others with the ident (and, if
  // it differs, the total length) patched and the header checksum updated (RFC 1624). The frames are
  // byte for byte what n send() calls write (the same idents, in order), each with its own packet id
  // and tx trace event. Where send() would not commit the frame at once (next hop unresolved, to
  // ourselves, a multicast loop, Router Alert) the train is n send() calls.
  train_result send_train(const params& p, std::size_t l4_max, std::size_t n, train_writer fill, time_ns now) noexcept;
  // op 1 request, 2 reply.
  void send_arp(std::uint16_t op, wire::mac_addr l2_dst, wire::mac_addr target_mac, wire::ipv4_addr target_ip,
                time_ns now) noexcept;
  // ARP learned ip: the frames waiting for it go out now.
  void resolved(wire::ipv4_addr ip, wire::mac_addr mac) noexcept;
  // ARP gave up on ip: the frames waiting for it are dropped (arp_unresolved).
  void unresolved(wire::ipv4_addr ip, time_ns now) noexcept;

  arp_cache& arp() noexcept { return arp_; }
  const arp_cache& arp() const noexcept { return arp_; }
  std::size_t pending() const noexcept { return pending_.size(); }

 private:
  bool next_hop(wire::ipv4_addr dst, wire::ipv4_addr& hop_ip, wire::mac_addr& mac, bool& known,
                time_ns now) const noexcept;
  void commit(port::tx_batch& b, std::size_t len) noexcept;
  void finish(port::frame_ref& f, std::size_t len) noexcept;   // commit's per-frame part: pad, count, trace
  void loop_back(std::span<const std::byte> frame, std::uint64_t packet_id, time_ns now) noexcept;

  port::any_port& port_;
  const interface_config& cfg_;
  interface_counters& ctr_;
  frame_releaser& frames_;
  rx_pipeline* loop_ = nullptr;
  arp_cache arp_;
  std::uint32_t mtu_ = 1500;
  bool tx_l4_csum_ = false;
  std::uint16_t next_ident_ = 1;
  trace::tx_ids ids_;                       // each frame's packet id, stamped when it is reserved (trace/packet_id.hpp)
  struct pending_tx {
    wire::ipv4_addr hop;
    port::tx_batch batch;                   // one built frame, its Ethernet destination not yet known
    std::size_t len = 0;
  };
  std::vector<pending_tx> pending_;         // bounded by cfg_.arp.pending_total
};

}  // namespace ringlab::stack
