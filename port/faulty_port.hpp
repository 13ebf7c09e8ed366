#pragma once
// faulty_port<P>: a port decorator that injects seeded faults (port/fault_line.hpp) into each direction,
// as smoltcp's FaultInjector does:
//   rx: frames from the inner port go through a fault_line; dropped frames go straight back to the
//       inner port, duplicates are copied into a fresh pool frame, corruption flips one byte in place,
//       reordered frames are held until W later frames passed them (or the inner port goes idle), and
//       delay/jitter hold a frame until the clock (given, or else the newest rx timestamp) reaches it.
//   tx: faults act within each committed batch: dropped frames are cancelled back to the pool,
//       duplicates use a spare frame of the batch (tx_reserve(n) takes up to 2n inner frames for that),
//       reorder permutes within the batch. No delay on transmit: a batch leaves at once (a wire's delay
//       is sim_nic's), so the tx spec's delay and jitter are set aside, not counted as done.
#include <cstring>
#include <functional>
#include <limits>

#include "port/decorator.hpp"
#include "port/fault_line.hpp"
#include "trace/trace.hpp"

namespace ringlab::port {

template <class P>
  requires detail::inner_port<P>
class faulty_port final : public tx_sink {
 public:
  using clock_fn = std::function<std::uint64_t()>;

  faulty_port(P inner, fault_spec rx, fault_spec tx, std::uint64_t seed, clock_fn now = {})
      : inner_(static_cast<P>(inner)), rx_(rx, seed), tx_(without_delay(tx), seed ^ 0x5bd1e995u),
        now_(std::move(now)), batches_(inner_.pool().config().frames) {}
  faulty_port(const faulty_port&) = delete;
  faulty_port& operator=(const faulty_port&) = delete;
  ~faulty_port() {
    batches_.cancel_all();
    rx_.drain_all([&](const frame_ref& f) { inner_.rx_release({&f, 1}); });
  }

  // Returns 0 only when the inner port is idle and nothing is due (a burst that faults emptied is
  // followed by another pull, so a caller's idle loop does not stop early).
  std::size_t rx_burst(std::span<frame_ref> out) noexcept {
    std::size_t k = 0;
    for (;;) {
      const std::size_t n = pull(out.size());
      k += pop(out.subspan(k));
      if (k || n == 0) return k;
    }
  }
  void rx_release(std::span<const frame_ref> f) noexcept { inner_.rx_release(f); }

  tx_batch tx_reserve(std::size_t n) noexcept {
    n = std::min(n, tx_batch::max_frames);
    tx_batch& in = batches_.add(inner_.tx_reserve(std::min(2 * n, tx_batch::max_frames)));
    return tx_batch(this, in.frames().first(std::min(n, in.size())));
  }
  // No TX checksum offload through a line that may corrupt frames: a partial checksum would reach the
  // receiver unfinished and marked good, and the damage would go unseen.
  port_caps caps() const {
    port_caps c = inner_.caps();
    c.tx_l4_csum = false;
    return c;
  }
  frame_pool& pool() noexcept { return inner_.pool(); }
  P& inner() noexcept { return inner_; }

  void tx_commit(std::span<frame_ref> frames) noexcept override {
    tx_batch* in = batches_.find(frames[0].id);
    if (!in) return;
    const std::size_t total = in->size(), k = frames.size();
    std::uint8_t used[tx_batch::max_frames] = {};
    frame_ref all[tx_batch::max_frames];
    for (std::size_t i = 0; i < total; ++i) all[i] = i < k ? frames[i] : (*in)[i];
    const std::uint64_t t = now_ ? now_() : 0;
    for (std::size_t i = 0; i < k; ++i)
      if (!tx_.push(i, t)) emit_drop(all[i]);
    tx_.flush(t);
    // Outputs in order: (index of source frame, mark). Copies first, corruption after, so a duplicate
    // is a copy of the frame as the stack wrote it.
    std::size_t src[tx_batch::max_frames];
    fault_mark marks[tx_batch::max_frames];
    std::size_t nout = 0;
    while (auto o = tx_.pop_ready(std::numeric_limits<std::uint64_t>::max()))
      if (nout < total) { src[nout] = o->item; marks[nout] = o->mark; ++nout; }
    frame_ref send[tx_batch::max_frames];
    fault_mark send_mark[tx_batch::max_frames];
    std::size_t ns = 0;
    for (std::size_t j = 0; j < nout; ++j) {
      if (!marks[j].duplicate && !used[src[j]]) {
        used[src[j]] = 1;
        send_mark[ns] = marks[j];
        send[ns++] = all[src[j]];
        continue;
      }
      // A duplicate: needs a spare frame (one not committed, or dropped).
      std::size_t spare = total;
      for (std::size_t s = 0; s < total && spare == total; ++s)
        if (!used[s] && (s >= k || !in_outputs(src, marks, nout, s))) spare = s;
      if (spare == total) { ++dup_no_room_; continue; }
      used[spare] = 1;
      frame_ref d = all[spare];
      const frame_ref& orig = all[src[j]];
      d.bytes = std::span<std::byte>(d.bytes.data(), inner_.pool().room()).first(orig.bytes.size());
      std::memcpy(d.bytes.data(), orig.bytes.data(), orig.bytes.size());
      d.meta = orig.meta;
      send_mark[ns] = marks[j];
      send[ns++] = d;
    }
    for (std::size_t j = 0; j < ns; ++j)
      if (send_mark[j].corrupt && !send[j].bytes.empty()) corrupt(send[j], send_mark[j]);
    // The inner batch: the frames to send, then every other frame of the batch (cancelled back).
    std::size_t w = 0;
    for (std::size_t j = 0; j < ns; ++j) (*in)[w++] = send[j];
    for (std::size_t s = 0; s < total; ++s)
      if (!used[s]) (*in)[w++] = all[s];
    in->commit(ns);
    batches_.ended(in);
  }
  void tx_cancel(std::span<frame_ref> frames) noexcept override {
    if (tx_batch* in = batches_.find(frames[0].id)) {
      in->cancel();
      batches_.ended(in);
    }
  }

  const fault_counters& rx_counters() const noexcept { return rx_.counters(); }
  const fault_counters& tx_counters() const noexcept { return tx_.counters(); }
  std::uint64_t dup_no_room() const noexcept { return dup_no_room_ + rx_.counters().dup_no_room; }

 private:
  std::size_t pull(std::size_t max) noexcept {
    frame_ref in[tx_batch::max_frames];
    const std::size_t n = inner_.rx_burst({in, std::min(max, std::size(in))});
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t t = now_ ? now_() : in[i].meta.t_ns;
      if (t > latest_) latest_ = t;
      // A duplicate is copied now, not when it leaves: the original may reach the stack and be
      // released (its frame reused) before a delayed or held copy goes out.
      const auto copy = [this](const frame_ref& f) -> std::optional<frame_ref> {
        frame_ref d = inner_.pool().alloc();
        if (!d.valid()) return std::nullopt;
        std::memcpy(d.bytes.data(), f.bytes.data(), f.bytes.size());
        d.bytes = d.bytes.first(f.bytes.size());
        d.meta = f.meta;
        return d;
      };
      if (!rx_.push(in[i], t, copy)) {
        emit_drop(in[i]);
        inner_.rx_release({&in[i], 1});
      }
    }
    idle_ = n == 0;
    return n;
  }
  std::size_t pop(std::span<frame_ref> out) noexcept {
    std::uint64_t now = now_ ? now_() : latest_;
    if (idle_ && !now_) {   // idle inner port: nothing more will pass held frames
      rx_.flush(latest_);
      now = std::numeric_limits<std::uint64_t>::max();
    }
    std::size_t k = 0;
    while (k < out.size()) {
      auto o = rx_.pop_ready(now);
      if (!o) break;
      frame_ref f = o->item;   // a duplicate is its own copy already (push)
      if (o->mark.corrupt && !f.bytes.empty()) corrupt(f, o->mark);
      out[k++] = f;
    }
    return k;
  }
  static fault_spec without_delay(fault_spec s) noexcept {
    s.delay_ns = s.jitter_ns = 0;
    return s;
  }
  static bool in_outputs(const std::size_t* src, const fault_mark* marks, std::size_t n, std::size_t s) {
    for (std::size_t j = 0; j < n; ++j)
      if (src[j] == s && !marks[j].duplicate) return true;
    return false;
  }
  // The flipped bit lands after any device checksum check: a frame the device marked verified is no
  // longer (a peer's TX offload hands frames up marked good whatever their checksum field holds), so
  // the stack must check it again, and drops it, as a wire's damage would be caught.
  static void corrupt(frame_ref& f, const fault_mark& m) noexcept {
    const std::size_t at = m.offset % f.bytes.size();
    f.bytes[at] ^= std::byte{m.mask};
    f.meta.flags &= static_cast<std::uint16_t>(~(rx_ip_csum_good | rx_l4_csum_good));
  }
  static void emit_drop(const frame_ref& f) noexcept {
    trace::emit({.packet_id = f.meta.packet_id, .t_ns = f.meta.t_ns, .frame = f.id, .queue = f.meta.queue,
                 .stage = trace::hop::fault, .v = trace::verdict::drop,
                 .reason = trace::drop_reason::fault_injected});
  }

  P inner_;
  fault_line<frame_ref> rx_;
  fault_line<std::size_t> tx_;
  clock_fn now_;
  std::uint64_t latest_ = 0;
  bool idle_ = false;
  std::uint64_t dup_no_room_ = 0;
  detail::inflight_batches batches_;
};

}  // namespace ringlab::port
