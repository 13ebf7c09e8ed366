#pragma once
// traced_port<P>: a port decorator that emits a trace event for every frame it passes: port_rx when
// the stack takes a frame from the port, release when it gives it back, tx when it commits a frame.
// Events carry the frame's packet id, rx time, queue and ring slot (from rx_meta). Tracing off costs
// one relaxed load per burst (bench/sim_nic measures it).
#include "port/decorator.hpp"
#include "trace/trace.hpp"

namespace ringlab::port {

template <class P>
  requires detail::inner_port<P>
class traced_port final : public tx_sink {
 public:
  explicit traced_port(P inner) : inner_(static_cast<P>(inner)), batches_(inner_.pool().config().frames) {}
  traced_port(const traced_port&) = delete;
  traced_port& operator=(const traced_port&) = delete;
  ~traced_port() { batches_.cancel_all(); }

  std::size_t rx_burst(std::span<frame_ref> out) noexcept {
    const std::size_t n = inner_.rx_burst(out);
    if (trace::enabled()) [[unlikely]]
      for (std::size_t i = 0; i < n; ++i) emit_one(out[i], trace::hop::port_rx, trace::verdict::pass);
    return n;
  }
  void rx_release(std::span<const frame_ref> f) noexcept {
    if (trace::enabled()) [[unlikely]]
      for (const auto& x : f) emit_one(x, trace::hop::release, trace::verdict::pass);
    inner_.rx_release(f);
  }
  tx_batch tx_reserve(std::size_t n) noexcept {
    tx_batch& in = batches_.add(inner_.tx_reserve(n));
    return tx_batch(this, in.frames());
  }
  port_caps caps() const { return inner_.caps(); }
  frame_pool& pool() noexcept { return inner_.pool(); }
  P& inner() noexcept { return inner_; }

  void tx_commit(std::span<frame_ref> frames) noexcept override {
    tx_batch* in = batches_.find(frames[0].id);
    if (!in) return;
    for (std::size_t i = 0; i < frames.size(); ++i) {
      if (trace::enabled()) [[unlikely]] emit_one(frames[i], trace::hop::tx, trace::verdict::tx);
      (*in)[i] = frames[i];
    }
    in->commit(frames.size());
    batches_.ended(in);
  }
  void tx_cancel(std::span<frame_ref> frames) noexcept override {
    if (tx_batch* in = batches_.find(frames[0].id)) {
      in->cancel();
      batches_.ended(in);
    }
  }

 private:
  static void emit_one(const frame_ref& f, trace::hop h, trace::verdict v) noexcept {
    trace::emit({.packet_id = f.meta.packet_id, .t_ns = f.meta.t_ns, .ring_slot = f.meta.ring_slot,
                 .frame = f.id, .queue = f.meta.queue, .stage = h, .v = v});
  }

  P inner_;
  detail::inflight_batches batches_;
};

}  // namespace ringlab::port
