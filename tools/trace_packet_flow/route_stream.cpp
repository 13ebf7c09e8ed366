#include "tools/trace_packet_flow/route_stream.hpp"

#include <algorithm>
#include <utility>

#include "trace/packet_id.hpp"

namespace ringlab::trace_flow {

route_stream::route_stream(route_stream_options o, select_fn select, emit_fn emit)
    : o_(o), select_(std::move(select)), emit_(std::move(emit)) {}

void route_stream::add(const lab_event& le) {
  const trace::event& e = le.e;
  const std::uint64_t id = e.packet_id;
  // As build_lab_routes: a frame nobody numbered (0: a reassembly timeout) is no packet's route, and
  // the stack's own frames only when asked for.
  const bool stack_frame = trace::is_tx_id(id) || trace::is_wire_id(id);
  if (id == 0 || (stack_frame && !o_.stack_frames)) return;
  auto [it, fresh] = by_id_.try_emplace(id);
  entry& en = it->second;
  if (fresh) {
    order_.push_back(id);
    max_held_ = std::max(max_held_, order_.size());
    if (!stack_frame) {   // the trace's bytes are read in file order: ask now, keep nothing if not followed
      en.asked = true;
      en.followed = select_(id, &en.r.summary);
    }
  }
  if (!en.asked || en.followed) add_lab_step(en.r, id, le, o_.clock);
  // Complete or not by its latest event: a fragment that completes a datagram has its frame released
  // by the reassembler and goes on, in the same poll, as the datagram (udp .. deliver, release).
  if (e.stage == trace::hop::pool && e.frame != ~0u) en.frame_out = true;
  if (e.stage == trace::hop::release) en.done = true;
  else if (e.v == trace::verdict::drop && (!en.frame_out || e.stage == trace::hop::ring_enqueue)) en.done = true;
  else if (stack_frame && (e.stage == trace::hop::nic_tx || e.v == trace::verdict::drop)) en.done = true;
  else en.done = false;
}

void route_stream::add(std::span<const trace::event> events) {
  for (const auto& le : from_trace(events)) add(le);
}

void route_stream::emit_front() {
  const std::uint64_t id = order_.front();
  order_.pop_front();
  auto it = by_id_.find(id);
  entry en = std::move(it->second);
  by_id_.erase(it);
  if (!en.asked) en.followed = select_(id, &en.r.summary);
  if (!en.followed || en.r.steps.empty()) return;
  finish_lab_route(en.r);
  ++emitted_;
  emit_(std::move(en.r));
}

void route_stream::settle() {
  while (!order_.empty() && by_id_.at(order_.front()).done) emit_front();
}

void route_stream::finish() {
  while (!order_.empty()) emit_front();
}

}  // namespace ringlab::trace_flow
