#pragma once
// Congestion avoidance and the reaction to loss, the part where NewReno and CUBIC differ (slow start,
// fast retransmit and the RTO's loss window are the connection's, the same for both):
//
//   newreno   RFC 5681 3.1: +1 SMSS per cwnd of bytes acknowledged; on loss ssthresh = FlightSize / 2.
//   cubic     RFC 9438: W_cubic(t) = C (t - K)^3 + W_max, K = cbrt(W_max (1 - beta) / C), C = 0.4,
//             beta = 0.7; fast convergence (4.7); the Reno-friendly estimate W_est (4.3) as a floor;
//             the target min(max(W_cubic(t + RTT), cwnd), 1.5 cwnd) approached by (target - cwnd) / cwnd
//             per SMSS acknowledged (4.4, 4.5). Windows in segments, time in seconds, as the RFC writes them.
//
// Time is passed in (the connection's `now`), so a run is reproducible: same segments, same windows.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "stack/iface/time.hpp"

namespace ringlab::tcp {

enum class congestion_control : std::uint8_t { newreno, cubic };

class congestion {
 public:
  static constexpr double cubic_c = 0.4;
  static constexpr double cubic_beta = 0.7;

  explicit congestion(congestion_control kind = congestion_control::cubic) noexcept : kind_(kind) {}
  congestion_control kind() const noexcept { return kind_; }

  // A congestion event (fast retransmit or RTO) with `cwnd` and `flight` bytes: returns the new ssthresh.
  std::uint32_t on_loss(std::uint32_t cwnd, std::uint32_t flight, std::uint32_t smss) noexcept {
    epoch_start_ = never_;
    if (kind_ == congestion_control::newreno) return std::max(flight / 2, 2 * smss);
    const double w = static_cast<double>(cwnd) / smss;
    // 4.7 fast convergence: a flow whose W_max keeps falling gives way sooner.
    w_max_ = w < w_last_max_ ? w * (1.0 + cubic_beta) / 2.0 : w;
    w_last_max_ = w;
    return std::max(static_cast<std::uint32_t>(w * cubic_beta * smss), 2 * smss);
  }

  // Bytes newly acknowledged in congestion avoidance (cwnd >= ssthresh): returns the new cwnd.
  std::uint32_t on_ack(std::uint32_t cwnd, std::uint32_t acked, std::uint32_t smss, stack::time_ns now,
                       stack::time_ns srtt) noexcept {
    if (kind_ == congestion_control::newreno) {
      // RFC 5681 3.1 byte counting: one SMSS per cwnd of bytes acknowledged, however many cwnds one
      // (stretch) ACK covers, as Linux's tcp_cong_avoid_ai.
      bytes_acked_ += acked;
      if (bytes_acked_ >= cwnd) {
        const std::uint32_t k = bytes_acked_ / cwnd;
        bytes_acked_ -= k * cwnd;
        cwnd += k * smss;
      }
      return cwnd;
    }
    const double w = static_cast<double>(cwnd) / smss;
    if (epoch_start_ == never_) {   // 4.2: the first ACK in avoidance after an event starts the epoch
      epoch_start_ = now;
      if (w_max_ < w) w_max_ = w;   // no loss seen yet (or cwnd above the old W_max): the plateau is here
      k_ = std::cbrt(w_max_ * (1.0 - cubic_beta) / cubic_c);
      w_est_ = w;
    }
    const double t = static_cast<double>(now - epoch_start_) / 1e9;
    const double rtt = static_cast<double>(srtt) / 1e9;
    const double segs = static_cast<double>(acked) / smss;
    // 4.3 Reno-friendly region: W_est grows by alpha per cwnd acknowledged, alpha = 3 (1 - beta) / (1 + beta).
    w_est_ += 3.0 * (1.0 - cubic_beta) / (1.0 + cubic_beta) * segs / w;
    double next;
    if (w_cubic(t) < w_est_) {
      next = w_est_;
    } else {
      const double target = std::clamp(w_cubic(t + rtt), w, 1.5 * w);
      next = w + (target - w) / w * segs;
    }
    frac_ += next * smss - static_cast<double>(cwnd);
    const auto grow = static_cast<std::int64_t>(frac_);
    frac_ -= static_cast<double>(grow);
    // Saturating: the caller clamps cwnd (connection_config::cwnd_clamp), a wrap here would undo it.
    return grow > 0 ? static_cast<std::uint32_t>(std::min<std::int64_t>(std::int64_t{cwnd} + grow, 0xffffffff)) : cwnd;
  }

  // RFC 9438 4.1: the window the cubic function gives t seconds into the epoch, in segments.
  double w_cubic(double t) const noexcept { return cubic_c * (t - k_) * (t - k_) * (t - k_) + w_max_; }
  double w_max() const noexcept { return w_max_; }
  double k() const noexcept { return k_; }

 private:
  static constexpr stack::time_ns never_ = stack::never;
  congestion_control kind_;
  std::uint32_t bytes_acked_ = 0;   // newreno
  double w_max_ = 0, w_last_max_ = 0, k_ = 0, w_est_ = 0, frac_ = 0;
  stack::time_ns epoch_start_ = never_;
};

}  // namespace ringlab::tcp
