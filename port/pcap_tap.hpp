#pragma once
// pcap_tap<P>: a port decorator that writes received and/or transmitted frames to a pcap file
// (Ethernet, nanosecond timestamps) through libpcap, as smoltcp's PcapWriter does. Received frames
// carry their rx_meta timestamp; transmitted frames get the time from the tap's clock (a function the
// caller gives, e.g. sim_nic's virtual clock; the real clock by default).
//
// pcap_writer is the libpcap dumper it uses, shared with sim_nic's TX-to-pcap output.
#include <pcap/pcap.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <system_error>

#include "port/decorator.hpp"
#include "trace/trace.hpp"

namespace ringlab::port {

class pcap_writer {
 public:
  pcap_writer() = default;
  pcap_writer(const pcap_writer&) = delete;
  pcap_writer& operator=(const pcap_writer&) = delete;
  ~pcap_writer() { close(); }

  // Opens (truncates) path; on failure returns false and sets *error to one line naming the file.
  bool open(const std::string& path, std::string* error, std::uint32_t snaplen = 65535);
  bool is_open() const noexcept { return dumper_ != nullptr; }
  // Thread-safe: frames from several queues may be written at once.
  void write(std::uint64_t t_ns, std::span<const std::byte> bytes, std::uint32_t wire_len = 0) noexcept;
  // Flushes to the file; false (and error() says why) when a write failed, now or before (a full disk).
  bool flush() noexcept;
  void close() noexcept;
  std::uint64_t written() const noexcept { return written_; }
  std::string error() const;   // "" while every write went through

 private:
  mutable std::mutex mu_;
  pcap_t* dead_ = nullptr;
  pcap_dumper_t* dumper_ = nullptr;
  std::uint64_t written_ = 0;   // guarded by mu_
  std::string error_;           // guarded by mu_: the first failure, e.g. "No space left on device"
};

enum class tap_dir : unsigned { rx = 1, tx = 2, both = 3 };

template <class P>
  requires detail::inner_port<P>
class pcap_tap final : public tx_sink {
 public:
  using clock_fn = std::function<std::uint64_t()>;

  // Throws std::system_error when the file cannot be opened (construction is the edge).
  pcap_tap(P inner, const std::string& path, tap_dir dir = tap_dir::both, clock_fn now = {})
      : pcap_tap(static_cast<P&&>(inner), std::make_shared<pcap_writer>(), dir, std::move(now)) {
    std::string err;
    if (!w_->open(path, &err)) throw std::system_error(std::make_error_code(std::errc::io_error), err);
  }
  // Writes into an open writer that several taps share (one pcap for every queue of a device).
  pcap_tap(P inner, std::shared_ptr<pcap_writer> w, tap_dir dir = tap_dir::both, clock_fn now = {})
      : inner_(static_cast<P>(inner)), dir_(dir), now_(std::move(now)), w_(std::move(w)),
        batches_(inner_.pool().config().frames) {}
  pcap_tap(const pcap_tap&) = delete;
  pcap_tap& operator=(const pcap_tap&) = delete;
  ~pcap_tap() { batches_.cancel_all(); }

  std::size_t rx_burst(std::span<frame_ref> out) noexcept {
    const std::size_t n = inner_.rx_burst(out);
    if (static_cast<unsigned>(dir_) & static_cast<unsigned>(tap_dir::rx))
      for (std::size_t i = 0; i < n; ++i) {
        w_->write(out[i].meta.t_ns, out[i].bytes);
        trace::emit({.packet_id = out[i].meta.packet_id, .t_ns = out[i].meta.t_ns, .frame = out[i].id,
                     .queue = out[i].meta.queue, .stage = trace::hop::pcap_tap});
      }
    return n;
  }
  void rx_release(std::span<const frame_ref> f) noexcept { inner_.rx_release(f); }
  tx_batch tx_reserve(std::size_t n) noexcept {
    tx_batch& in = batches_.add(inner_.tx_reserve(n));
    return tx_batch(this, in.frames());
  }
  // No TX checksum offload under a tap: the capture must hold finished checksums (tshark checks them).
  port_caps caps() const {
    port_caps c = inner_.caps();
    c.tx_l4_csum = false;
    return c;
  }
  frame_pool& pool() noexcept { return inner_.pool(); }
  P& inner() noexcept { return inner_; }
  pcap_writer& writer() noexcept { return *w_; }

  void tx_commit(std::span<frame_ref> frames) noexcept override {
    tx_batch* in = batches_.find(frames[0].id);
    if (!in) return;
    const std::uint64_t t = now_ ? now_() : static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    for (std::size_t i = 0; i < frames.size(); ++i) {
      if (static_cast<unsigned>(dir_) & static_cast<unsigned>(tap_dir::tx)) w_->write(t, frames[i].bytes);
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
  P inner_;
  tap_dir dir_;
  clock_fn now_;
  std::shared_ptr<pcap_writer> w_;
  detail::inflight_batches batches_;
};

}  // namespace ringlab::port
