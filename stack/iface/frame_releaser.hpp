#pragma once
// stack::frame_releaser: THE rule for giving a received frame back, used by every part of the stack.
//
//   a frame that came from the port (rx_burst)  ─► port.rx_release, batched: the frames of a burst
//                                                 nobody kept go back in one call at the burst's end,
//                                                 and while a hold is open (hold()/flush()) frames
//                                                 released one by one collect and go back together
//   a frame the stack allocated itself          ─► pool.free, at once (a reassembled datagram, a
//                                                 looped-back copy)
//
// Who calls it: rx_pipeline (end of each burst; a reassembled or looped-back frame nobody kept),
// udp_socket (close, pop_front, try_receive_from), lent_frame (release or destructor), ip_output's
// loopback. The reassembler frees the frames of datagrams still in reassembly itself (they were never
// lent); a tx_batch that is never committed cancels its frame back to the pool (port/port.hpp).
//
// It also keeps the lane's latest `now` (the last poll's, or later when a send said so): a frame
// released between polls is stamped with it in the trace, and so are frames sent from a timer.
#include <algorithm>
#include <cstddef>
#include <source_location>
#include <span>
#include <vector>

#include "port/port.hpp"
#include "trace/trace.hpp"
#include "stack/iface/time.hpp"

namespace ringlab::stack {

class frame_releaser {
 public:
  // `batch` sizes the held list: a burst plus a socket queue's worth keeps it allocation-free.
  frame_releaser(port::any_port& port, std::size_t batch) : port_(port) { done_.reserve(batch); }
  frame_releaser(const frame_releaser&) = delete;
  frame_releaser& operator=(const frame_releaser&) = delete;

  // One frame: from_port = it came from rx_burst (else the pool lent it to the stack).
  void give_back(const port::frame_ref& f, bool from_port) noexcept;
  // The frames of one rx_burst nobody kept, at the burst's end: one rx_release, together with any
  // frames a hold collected (a hold never outlives a burst's end: what it held goes back here too).
  void give_back_burst(std::span<const port::frame_ref> frames) noexcept {
    if (done_.empty()) [[likely]] {
      if (frames.empty()) return;
      if (trace::enabled()) [[unlikely]] trace_released(frames);
      port_.rx_release(frames);
      return;
    }
    if (trace::enabled()) [[unlikely]] trace_released(frames);
    done_.insert(done_.end(), frames.begin(), frames.end());
    flush_now();
  }

  // Between hold() and the matching flush(), port frames given back one by one (readers done with
  // their datagrams) are collected and go back in one rx_release at the flush. Nests; the Asio layer
  // holds while it runs handlers.
  void hold() noexcept { ++hold_; }
  void flush() noexcept {
    if (hold_ && --hold_ == 0) flush_now();
  }

  // The lane's latest time: set by each poll, moved forward by sends outside one (a timer's report).
  void set_now(time_ns now) noexcept { now_ = now; }
  void advance_now(time_ns now) noexcept { now_ = std::max(now_, now); }
  time_ns now() const noexcept { return now_; }

  port::any_port& port() noexcept { return port_; }

 private:
  void flush_now() noexcept;
  // The caller's location by default: a route names give_back_burst, where the burst went back.
  void trace_released(std::span<const port::frame_ref> frames,
                      std::source_location loc = std::source_location::current()) const noexcept;

  port::any_port& port_;
  std::vector<port::frame_ref> done_;   // port frames held back for one rx_release
  unsigned hold_ = 0;                   // hold() depth
  time_ns now_ = 0;
};

}  // namespace ringlab::stack
