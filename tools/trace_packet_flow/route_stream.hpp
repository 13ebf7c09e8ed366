#pragma once
// route_stream: lab routes built while the run goes, each handed on once it is complete and then
// forgotten, so `ringlab trace replay` holds the routes in flight, not the run's events (~3 KB a
// packet: 3 GB at 10^6 packets before).
//
// When is a route complete? When no later event can name its packet:
//   - a frame of the trace: when its pool frame went back (`release`: delivered, dropped by the stack,
//     or a fragment whose bytes the reassembler copied), or it was dropped where it held no pool frame
//     (sim_nic's nic_rx checks, an empty pool) or where sim_nic frees the frame itself (ring_full).
//     A frame a socket or TCP's out-of-order queue keeps stays open until it goes back;
//   - a frame the stack sent (trace/packet_id.hpp's tx ids, with `stack_frames`): when the NIC sent it
//     (`nic_tx`: trace replay has no wire behind its NIC) or something on the way dropped it.
// A frame's `release` is its last event on the lab path, but for one case: the fragment that completes
// a datagram is released by the reassembler and goes on as the datagram in the same poll (udp ..
// deliver, release of the reassembled frame). So a route counts as complete by its latest event, and
// the caller settles between rounds of the event loop, never inside one. What the stack does later
// because of a frame (an ACK, a reply) goes out as frames of their own, with their own ids, and a
// reassembly timeout names no packet (id 0).
//
// Order: routes are handed on in the order their packets were first seen (trace packets in file order,
// as build_lab_routes's packet-id order; a stack's frame where it was sent, between them), so a
// complete route waits behind an earlier one still open. That wait is the bound on what is held: the
// routes started since the oldest open one. For the trace's UDP frames that is the frames of one
// round of the event loop (they are polled at their arrival); a TCP segment held out of order, or a
// socket's queue nobody reads, holds every later route until it goes back (or the run ends).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <string>
#include <unordered_map>

#include "tools/trace_packet_flow/route.hpp"

namespace ringlab::trace_flow {

struct route_stream_options {
  lab_clock clock = lab_clock::emitter;
  bool stack_frames = false;   // the stack's own frames (tx ids) are routes too, else left out as before
};

class route_stream {
 public:
  // Whether packet `id` is followed; sets *summary (its header line). Asked once per packet: a trace
  // packet when its first event comes (in file order), a stack's frame when its route is complete.
  using select_fn = std::function<bool(std::uint64_t id, std::string* summary)>;
  using emit_fn = std::function<void(route&&)>;

  route_stream(route_stream_options o, select_fn select, emit_fn emit);

  void add(const lab_event& le);
  void add(std::span<const trace::event> events);
  // Hands on, in first-seen order, every complete route that no open route precedes. Between rounds
  // of the event loop (after a poll has emitted all it will for the frames it took).
  void settle();
  // The run is over: hands on every route left, complete or not (a frame still held when it ended).
  void finish();

  std::size_t held() const noexcept { return order_.size(); }         // routes held now
  std::size_t max_held() const noexcept { return max_held_; }         // the most held at once
  std::uint64_t emitted() const noexcept { return emitted_; }

 private:
  struct entry {
    route r;
    bool followed = false;
    bool asked = false;       // select() was asked (a trace packet at its first event)
    bool frame_out = false;   // a pool frame holds it (from `pool` to `release`)
    bool done = false;
  };
  void emit_front();

  route_stream_options o_;
  select_fn select_;
  emit_fn emit_;
  std::unordered_map<std::uint64_t, entry> by_id_;
  std::deque<std::uint64_t> order_;   // first-seen order of the ids in by_id_
  std::size_t max_held_ = 0;
  std::uint64_t emitted_ = 0;
};

}  // namespace ringlab::trace_flow
