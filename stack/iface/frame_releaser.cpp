#include "stack/iface/frame_releaser.hpp"

namespace ringlab::stack {

void frame_releaser::give_back(const port::frame_ref& f, bool from_port) noexcept {
  if (trace::enabled()) [[unlikely]]
    trace::emit({.packet_id = f.meta.packet_id, .t_ns = now_, .frame = f.id, .queue = f.meta.queue,
                 .stage = trace::hop::release, .v = trace::verdict::pass});
  if (!from_port) {
    port_.free_frame(f);   // through the lane's pool cache when the port has one
  } else if (hold_) {
    done_.push_back(f);   // reserved for a burst plus a socket queue's worth: no allocation in steady state
    if (done_.size() >= done_.capacity()) flush_now();
  } else {
    port_.rx_release({&f, 1});
  }
}

void frame_releaser::flush_now() noexcept {
  if (done_.empty()) return;
  port_.rx_release(done_);
  done_.clear();
}

void frame_releaser::trace_released(std::span<const port::frame_ref> frames,
                                    std::source_location loc) const noexcept {
  for (const auto& f : frames)
    trace::emit({.packet_id = f.meta.packet_id, .t_ns = now_, .frame = f.id, .queue = f.meta.queue,
                 .stage = trace::hop::release, .v = trace::verdict::pass}, loc);
}

}  // namespace ringlab::stack
