#include "stack/tcp/connection.hpp"

#include <algorithm>
#include <cstring>

#include "stack/tcp/seq.hpp"
#include "stack/tcp/syn_cookie.hpp"

namespace ringlab::tcp {

namespace flag = wire::tcp::flag;

const char* to_string(state s) noexcept {
  constexpr const char* names[] = {"CLOSED",     "LISTEN",     "SYN_SENT",   "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1",
                                   "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING",    "LAST_ACK",     "TIME_WAIT"};
  return names[static_cast<std::size_t>(s)];
}

const char* to_string(close_reason r) noexcept {
  constexpr const char* names[] = {"none", "refused", "reset", "timed out", "aborted"};
  return names[static_cast<std::size_t>(r)];
}

connection::connection(const connection_config& cfg, std::uint16_t local_port, std::uint16_t remote_port)
    : cfg_(cfg),
      local_port_(local_port),
      remote_port_(remote_port),
      snd_buf_(cfg.send_buffer),
      rcv_(cfg.recv_buffer),
      rto_(cfg.rto_initial),
      cc_(cfg.congestion) {
  rcv_scale_ = window_shift(cfg_.recv_buffer);
}

// ---------------------------------------------------------------- opening

void connection::connect(std::uint32_t iss, time_ns now, segment_sink out) {
  if (st_ != state::closed) return;
  iss_ = snd_una_ = iss;
  snd_nxt_ = snd_max_ = iss + 1;
  if (!ts_offset_set_) ts_offset_ = iss * 2654435761u;   // RFC 7323 5.4: a per-connection offset (deterministic from ISS)
  recover_ = iss;
  st_ = state::syn_sent;
  send_segment(iss, flag::syn, {}, now, out);
  arm_rto(now);
  last_heard_ = now;
}

// What a passive open takes from the peer's SYN (accept(), accept_cookie()).
void connection::open_passive(const wire::tcp::repr& syn, std::uint32_t iss, time_ns now) noexcept {
  iss_ = snd_una_ = iss;
  snd_nxt_ = snd_max_ = iss + 1;
  recover_ = iss;
  irs_ = syn.seq;
  rcv_nxt_ = syn.seq + 1;
  take_options(syn);
  last_heard_ = now;
}

void connection::accept(const wire::tcp::repr& syn, std::uint32_t iss, time_ns now, segment_sink out) {
  if (st_ != state::closed) return;
  ++ctr_.in_segs;
  open_passive(syn, iss, now);
  if (!ts_offset_set_) ts_offset_ = iss * 2654435761u;
  snd_wnd_ = max_snd_wnd_ = syn.window;   // RFC 7323 2.2: a SYN's window is never scaled
  snd_wl1_ = syn.seq;
  st_ = state::syn_received;
  send_segment(iss, flag::syn | flag::ack, {}, now, out);
  arm_rto(now);
}

segment_result connection::accept_cookie(const wire::tcp::repr& ack, const cookie_options& o, time_ns now,
                                         segment_sink out) {
  if (st_ != state::closed) return segment_result::closed;
  // The SYN as its cookie brings it back. Window scale and SACK only beside timestamps: the cookie's
  // SYN-ACK offered them only then (syn_cookie::syn_ack), and a TSecr is where they came back.
  wire::tcp::repr syn;
  syn.seq = ack.seq - 1;
  syn.flags = flag::syn;
  syn.opts.mss = o.mss;
  if (o.timestamps && cfg_.timestamps && ack.opts.ts) {
    syn.opts.ts = wire::tcp::timestamps{ack.opts.ts->value, 0};
    syn.opts.window_scale = o.window_scale;
    syn.opts.sack_permitted = o.sack;
  }
  open_passive(syn, ack.ack - 1, now);
  // Our TSvals go on from the cookie's, which the ACK echoes: never backwards for the peer's PAWS.
  if (ts_ok_) ts_offset_ = ack.opts.ts->echo - timestamp_clock(now, 0);
  // What the cookie's SYN-ACK announced and acknowledged, as send_segment() would have noted it.
  rcv_adv_ = rcv_nxt_ + static_cast<std::uint32_t>(std::min<std::size_t>(rcv_.window(), 0xffff));
  last_ack_sent_ = rcv_nxt_;
  // ESTABLISHED as the ACK of our SYN-ACK makes it (RFC 9293 3.10.7.4 fifth, SYN-RECEIVED); the
  // window bookkeeping one step older than the ACK, so that the ACK's own window is taken. No RTT
  // sample: when the SYN-ACK left was not kept (Linux takes none from a cookie either).
  st_ = state::established;
  snd_una_ = snd_nxt_;   // our SYN: acknowledged by this very ACK
  snd_wl1_ = irs_;
  snd_wl2_ = iss_;
  return on_segment(ack, now, out);
}

// Options of the peer's SYN: what both sides offered is on (RFC 7323 1.3, 2.2; RFC 2018 2).
void connection::take_options(const wire::tcp::repr& syn) noexcept {
  if (syn.opts.mss) smss_ = std::min<std::uint16_t>(*syn.opts.mss, cfg_.mss);
  else smss_ = std::min<std::uint16_t>(536, cfg_.mss);
  ws_ok_ = cfg_.window_scaling && syn.opts.window_scale.has_value();
  if (ws_ok_) {
    // RFC 7323 2.3: a shift over 14 is used as 14.
    snd_scale_ = std::min<std::uint8_t>(*syn.opts.window_scale, wire::tcp::option::max_window_shift);
  } else {
    snd_scale_ = rcv_scale_ = 0;
  }
  ts_ok_ = cfg_.timestamps && syn.opts.ts.has_value();
  if (ts_ok_) ts_recent_ = syn.opts.ts->value;
  sack_ok_ = cfg_.sack && syn.opts.sack_permitted;
  // RFC 7323 3.2 / Linux: the timestamp option's 12 bytes come out of every segment's payload room.
  if (ts_ok_) smss_ = static_cast<std::uint16_t>(smss_ - 12);
  // RFC 6928: IW = min(10*MSS, max(2*MSS, 14600)), with the configured segment count.
  cwnd_ = std::min<std::uint32_t>(cfg_.initial_window_segments * smss_, std::max<std::uint32_t>(2u * smss_, 14600u));
}

// ---------------------------------------------------------------- arriving segments

segment_result connection::on_segment(const wire::tcp::repr& seg, time_ns now, segment_sink out) {
  result_ = segment_result::accepted;
  process(seg, now, out);
  return result_;
}

void connection::process(const wire::tcp::repr& seg, time_ns now, segment_sink out) {
  ++ctr_.in_segs;
  const std::uint32_t una_before = snd_una_, max_before = snd_max_;
  if (seg.has(flag::rst)) ++ctr_.rsts_in;
  switch (st_) {
    case state::closed:
    case state::listen:   // the socket table answers segments for no connection
      result_ = segment_result::closed;
      return;
    case state::syn_sent: return on_syn_sent(seg, now, out);
    default: break;
  }
  last_heard_ = now;
  keepalive_sent_ = 0;

  // RFC 7323 5.3 PAWS: a timestamp older than TS.Recent marks an old duplicate (never for RST).
  if (ts_ok_ && seg.opts.ts && !seg.has(flag::rst) && seq_lt(seg.opts.ts->value, ts_recent_)) {
    ++ctr_.paws_rejected;
    result_ = segment_result::paws;
    return send_ack(now, out);
  }
  // Our SYN-ACK was lost: the peer's SYN again gets the SYN-ACK again (not a challenge ACK).
  if (st_ == state::syn_received && seg.has(flag::syn) && !seg.has(flag::ack) && seg.seq == irs_) {
    ++ctr_.syn_retrans;
    ++ctr_.retrans_segs;
    return send_segment(iss_, flag::syn | flag::ack, {}, now, out);
  }
  // RFC 9293 3.10.7.4 first: is the segment acceptable (any part of it inside the receive window)?
  if (!acceptable(seg)) {
    ++ctr_.out_of_window;
    result_ = segment_result::out_of_window;
    if (seg.has(flag::rst)) return;                              // never answered (RFC 9293, RFC 5961 3.2)
    if (seg.has(flag::syn)) return challenge_ack(now, out);      // RFC 5961 4.2: whatever its sequence number
    if (st_ == state::time_wait && seg.has(flag::fin)) time_wait_at_ = now + 2 * cfg_.msl;   // a FIN again
    // RFC 2883: data we already had (Linux's tcp_send_dupack): reported as a DSACK in this ACK.
    if (!seg.payload.empty() && seq_lt(seg.seq, rcv_nxt_))
      dsack_note(seg.seq, seq_min(seg.seq + static_cast<std::uint32_t>(seg.payload.size()), rcv_nxt_));
    return send_ack(now, out);
  }
  // RFC 7323 4.3: TS.Recent follows the segment that covers Last.ACK.sent.
  if (ts_ok_ && seg.opts.ts && seq_le(seg.seq, last_ack_sent_) && seq_ge(seg.opts.ts->value, ts_recent_))
    ts_recent_ = seg.opts.ts->value;

  // Second, RST (RFC 5961 3.2): exactly RCV.NXT resets; elsewhere in the window gets a challenge ACK.
  if (seg.has(flag::rst)) {
    if (seg.seq != rcv_nxt_) {
      result_ = segment_result::rst_challenged;
      return challenge_ack(now, out);
    }
    if (st_ == state::syn_received) return enter_closed(close_reason::refused);
    if (st_ == state::closing || st_ == state::last_ack || st_ == state::time_wait)
      return enter_closed(close_reason::none);
    return enter_closed(close_reason::reset);
  }
  // Fourth, SYN in a synchronized state (RFC 5961 4.2): challenge ACK, whatever its sequence number.
  if (seg.has(flag::syn)) {
    result_ = segment_result::syn_challenged;
    return challenge_ack(now, out);
  }
  // Fifth, ACK: a segment without one is dropped.
  if (!seg.has(flag::ack)) {
    result_ = segment_result::no_ack;
    return;
  }
  if (!on_ack(seg, now, out)) return;

  // Seventh, the text; eighth, FIN.
  if (!seg.payload.empty() || seg.has(flag::fin)) on_data(seg, now);
  output(now, out);
  update_loss_probe(una_before, max_before, now);
}

// RFC 9293 3.10.7.3, SYN-SENT.
void connection::on_syn_sent(const wire::tcp::repr& seg, time_ns now, segment_sink out) {
  const bool has_ack = seg.has(flag::ack);
  if (has_ack && (seq_le(seg.ack, iss_) || seq_gt(seg.ack, snd_nxt_))) {
    result_ = segment_result::bad_ack;
    if (!seg.has(flag::rst)) send_rst(seg.ack, now, out);
    return;
  }
  if (seg.has(flag::rst)) {
    if (has_ack) enter_closed(close_reason::refused);   // RFC 5961 3.2: only with an acceptable ACK
    else result_ = segment_result::not_syn;
    return;
  }
  if (!seg.has(flag::syn)) {
    result_ = segment_result::not_syn;
    return;
  }
  irs_ = seg.seq;
  rcv_nxt_ = seg.seq + 1;
  take_options(seg);
  last_heard_ = now;
  if (has_ack) {
    // Our SYN is acknowledged: ESTABLISHED. The SYN-ACK's window is not scaled (RFC 7323 2.2).
    snd_una_ = seg.ack;
    snd_wnd_ = max_snd_wnd_ = seg.window;
    snd_wl1_ = seg.seq;
    snd_wl2_ = seg.ack;
    if (!backoffs_) rtt_sample(now - rtt_start_);   // Karn: only a SYN sent once gives a sample
    rtt_timing_ = false;   // the SYN's timing is used up: the first data segment starts the next
    backoffs_ = 0;
    rto_at_ = never;
    st_ = state::established;
    ack_now_ = true;
    output(now, out);
    return;
  }
  // Simultaneous open (RFC 9293 3.5, figure 8): SYN_RECEIVED, our SYN again with an ACK.
  snd_wnd_ = max_snd_wnd_ = seg.window;
  snd_wl1_ = seg.seq;
  st_ = state::syn_received;
  send_segment(iss_, flag::syn | flag::ack, {}, now, out);
}

// RFC 9293 3.10.7.4 "first": the four cases of segment length and receive window.
bool connection::acceptable(const wire::tcp::repr& seg) const noexcept {
  const std::uint32_t len = seg.segment_len();
  const std::uint32_t wnd = seq_gt(rcv_adv_, rcv_nxt_) ? rcv_adv_ - rcv_nxt_ : 0;   // RCV.WND: what we announced
  if (len == 0) return wnd == 0 ? seg.seq == rcv_nxt_ : seq_in(seg.seq, rcv_nxt_, rcv_nxt_ + wnd);
  if (wnd == 0) return false;
  return seq_in(seg.seq, rcv_nxt_, rcv_nxt_ + wnd) || seq_in(seg.seq + len - 1, rcv_nxt_, rcv_nxt_ + wnd);
}

// Fifth step: the ACK field. False when the segment is to be dropped here.
namespace {
// What an ACK up to `una` covers in RACK's records, before rack::acked() drops them: the bytes SACKed
// before (not newly delivered: Linux's tcp_clean_rtx_queue does not count a SACKed skb again) and
// whether any of it was sent more than once (Karn: Linux's FLAG_RETRANS_DATA_ACKED takes no
// seq_rtt_us sample then). Costs the records the ACK removes.
struct acked_records {
  std::uint32_t sacked_bytes = 0;
  bool any_retransmitted = false;
};
acked_records covered_below(const rack& r, std::uint32_t una) noexcept {
  acked_records c;
  for (std::size_t i = 0; i < r.size() && seq_lt(r[i].begin, una); ++i) {
    const rack::record& x = r[i];
    if (x.flags & rack::sacked) c.sacked_bytes += (seq_lt(una, x.end) ? una : x.end) - x.begin;
    if (x.flags & rack::retransmitted) c.any_retransmitted = true;
  }
  return c;
}
}  // namespace

bool connection::on_ack(const wire::tcp::repr& seg, time_ns now, segment_sink out) {
  if (st_ == state::syn_received) {
    if (!(seq_lt(snd_una_, seg.ack) && seq_le(seg.ack, snd_nxt_))) {
      result_ = segment_result::bad_ack;
      send_rst(seg.ack, now, out);
      return false;
    }
    st_ = state::established;
    snd_wnd_ = static_cast<std::uint32_t>(seg.window) << snd_scale_;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    snd_wl1_ = seg.seq;
    snd_wl2_ = seg.ack;
    if (!backoffs_) rtt_sample(now - rtt_start_);
    rtt_timing_ = false;   // as in SYN_SENT: else the first data ACK would time from the SYN-ACK
    backoffs_ = 0;
    snd_una_ = seg.ack;
    rto_at_ = never;
  }
  // RFC 5961 5.2: acceptable when SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT.
  if (seq_gt(seg.ack, snd_max_) || seq_lt(seg.ack, snd_una_ - max_snd_wnd_)) {
    result_ = segment_result::bad_ack;
    challenge_ack(now, out);
    return false;
  }
  if (seq_gt(seg.ack, snd_nxt_)) snd_nxt_ = seg.ack;   // acks what an RTO made us resend from the start

  const std::uint32_t acked = seg.ack - snd_una_;
  const bool window_changed = (static_cast<std::uint32_t>(seg.window) << snd_scale_) != snd_wnd_;
  // RFC 6675 2: with SACK a duplicate ACK is one that brings new SACK information.
  const std::uint32_t delivered_before = snd_una_ + sb_.sacked_bytes();
  const bool dsack = dsack_check(seg);
  const bool new_sack = sack_ok_ && sb_.update(seg.ack, snd_max_, seg.opts.sack_blocks());
  // What this ACK delivered, cumulatively or by SACK (Linux's newly_acked_sacked), for PRR.
  ack_una_advanced_ = seq_gt(seg.ack, snd_una_);
  ack_delivered_ = seq_ge(seg.ack, snd_una_) ? seg.ack + sb_.sacked_bytes() - delivered_before : 0;
  if (seq_gt(seg.ack, snd_una_)) {
    // New data acknowledged.
    std::uint32_t data_acked = acked;
    if (fin_sent_ && seq_gt(seg.ack, fin_seq_)) --data_acked;   // the FIN's sequence number is no byte
    snd_buf_.consume(data_acked);
    ctr_.bytes_acked += data_acked;
    snd_una_ = seg.ack;
    // The peer's right edge (SND.UNA + SND.WND) stays where it was until a window update below moves
    // it; SND.WL1/WL2 refuse the update from a segment older than the last one that gave the window (a
    // retransmission of the peer's that carries a newer ACK), and without this the edge slid right by
    // what the ACK covered: we sent past the window the peer offered, it dropped that as out of window,
    // and once its window was 0 our ACKs (at SND.MAX, past its RCV.NXT) were refused too, a stall for
    // good (`ringlab tcp-echo` with 2 % loss). FreeBSD's tcp_input subtracts the acked bytes as well.
    snd_wnd_ = snd_wnd_ > acked ? snd_wnd_ - acked : 0;
    // RTT, to the clock's own resolution where we can: from RACK's record of the oldest segment this
    // ACK delivers whole, sent once and not SACKed before (Karn; Linux's seq_rtt_us from its skb
    // timestamps). The timestamp echo ticks in ms (RFC 7323 4.1), so on a sub-millisecond path most
    // of its samples are 0 and srtt read ~3 us on sim's 0.2 ms round trip: it serves only where no
    // record does (RACK off, or every delivered segment was sent again), then the one timed segment.
    // No sample from it when the ACK also covers a retransmitted segment (Karn, as Linux's
    // FLAG_RETRANS_DATA_ACKED): the ACK may be for that segment's original, sent long before.
    const acked_records cov = rack_on() ? covered_below(rack_, seg.ack) : acked_records{};
    const bool rack_sample = rack_on() && !rack_.empty() && seq_le(rack_[0].end, seg.ack) &&
                             !(rack_[0].flags & (rack::retransmitted | rack::sacked)) && !cov.any_retransmitted;
    if (rack_sample) {
      rtt_sample(now - rack_[0].xmit);
    } else if (ts_ok_ && seg.opts.ts && seg.opts.ts->echo != 0) {
      rtt_sample(static_cast<time_ns>(ts_now(now) - seg.opts.ts->echo) * stack::ms);
    } else if (rtt_timing_ && seq_gt(seg.ack, rtt_seq_)) {
      rtt_sample(now - rtt_start_);
    }
    if (rtt_timing_ && seq_gt(seg.ack, rtt_seq_)) rtt_timing_ = false;
    backoffs_ = 0;
    // Congestion control.
    if (in_recovery_ && sack_ok_) {
      if (seq_ge(seg.ack, recover_)) {   // RFC 6675 5: the recovery point is acknowledged
        in_recovery_ = false;
        sb_.clear();
        rack_.recovery_ended();
        if (cfg_.prr) cwnd_ = ssthresh_;   // RFC 6937: the reduction ends at ssthresh (tcp_end_cwnd_reduction)
      } else if (!rack_on()) {   // with RACK: rack_on_ack() below decides what is lost
        if (cfg_.prr) prr_ack(false);
        sack_retransmit(now, out);
      }
    } else if (in_recovery_) {
      if (seq_ge(seg.ack, recover_)) {   // RFC 6582 3.2 step 3: full acknowledgment
        cwnd_ = std::min(ssthresh_, std::max(flight(), std::uint32_t{smss_}) + smss_);
        in_recovery_ = false;
      } else {                           // partial: retransmit the next hole, deflate
        retransmit_first(now, out);
        cwnd_ = cwnd_ > acked ? cwnd_ - acked : 0;
        if (acked >= smss_) cwnd_ += smss_;
      }
    } else if (!is_cwnd_limited()) {
      // RFC 7661: an application-limited sender keeps its cwnd (the window it has not used is untested).
    } else if (cwnd_ < ssthresh_) {
      // Slow start as Linux's tcp_slow_start: every byte acknowledged, up to ssthresh, and the rest to
      // avoidance. RFC 5681's min(N, SMSS) per ACK would grow cwnd by one segment per round trip once
      // the receiver acknowledges a whole burst at once (ours does, as GRO makes Linux's do).
      // Bytes the peer had SACKed do not grow cwnd, here or when SACKed (an ACK that only SACKs grows
      // nothing: Linux's tcp_may_raise_cwnd wants FLAG_DATA_ACKED while its reordering count is low;
      // above it Linux grows on SACKs too, which this engine does not): after an RTO (the scoreboard
      // cleared, RACK's marks kept) the ACK that fills the hole covers everything the peer held, and
      // counting it would take cwnd from one segment to ssthresh in one ACK, a line-rate burst (Linux
      // counts newly delivered packets: tcp_clean_rtx_queue skips SACKed skbs).
      const std::uint32_t delivered = acked - std::min(acked, cov.sacked_bytes);
      const std::uint32_t grow = std::min(delivered, ssthresh_ - cwnd_);
      cwnd_ += grow;
      if (delivered > grow) cwnd_ = cc_.on_ack(cwnd_, delivered - grow, smss_, now, srtt_);
    } else {
      cwnd_ = cc_.on_ack(cwnd_, acked - std::min(acked, cov.sacked_bytes), smss_, now, srtt_);   // avoidance: NewReno or CUBIC
    }
    dupacks_ = 0;
    rto_at_ = snd_una_ == snd_max_ ? never : now + rto_;   // RFC 6298 5.3
    persist_at_ = never;
  } else if (sack_ok_ && seg.ack == snd_una_ && snd_una_ != snd_max_ && new_sack) {
    // RFC 6675 2, 5: with SACK a duplicate ACK is one with new SACK information (a copy of an ACK the
    // network duplicated is not); recovery starts at DupThresh of them or once SND.UNA is lost.
    ++ctr_.dup_acks_in;
    ++dupacks_;
    if (rack_on()) {
      // RACK (rack_on_ack() below) decides what is lost and when recovery starts, not DupThresh.
    } else if (in_recovery_) {
      if (cfg_.prr) prr_ack(false);
      sack_retransmit(now, out);
    } else if ((dupacks_ >= 3 || sb_.is_lost(snd_una_, smss_)) && seq_ge(snd_una_, recover_)) {
      ssthresh_ = cc_.on_loss(cwnd_, flight(), smss_);
      recover_ = snd_max_;
      in_recovery_ = true;
      if (cfg_.prr) {
        prr_start();
        prr_ack(false);
      } else {
        cwnd_ = ssthresh_;
      }
      ++ctr_.recoveries;
      ++ctr_.fast_retrans;
      retransmit_first(now, out);   // (C.1) SND.UNA's segment at once, whatever the pipe
      sb_.retransmitted(snd_una_, std::min<std::uint32_t>(smss_, static_cast<std::uint32_t>(snd_buf_.size())));
      sack_retransmit(now, out);
    }
  } else if (!sack_ok_ && seg.ack == snd_una_ && seg.payload.empty() && !seg.has(flag::fin) && !window_changed &&
             snd_una_ != snd_max_) {
    // RFC 5681 2: a duplicate ACK.
    ++ctr_.dup_acks_in;
    ++dupacks_;
    if (in_recovery_) {
      cwnd_ += smss_;   // RFC 6582 3.2 step 4: inflate
    } else if (dupacks_ == 3 && seq_ge(snd_una_, recover_)) {
      // RFC 6582 3.2 step 2: fast retransmit, unless the ACK does not cover `recover` (a loss inside
      // the window of the last recovery or RTO: not a new congestion event).
      ssthresh_ = cc_.on_loss(cwnd_, flight(), smss_);
      recover_ = snd_max_;
      in_recovery_ = true;
      ++ctr_.recoveries;
      ++ctr_.fast_retrans;
      retransmit_first(now, out);
      cwnd_ = ssthresh_ + 3u * smss_;
    }
  }
  if (rack_on()) rack_.on_ack_dsack(dsack, snd_una_, snd_nxt_);   // RFC 8985 6.2 step 4
  if (rack_on() && (!rack_.empty() || tlp_pending_)) rack_on_ack(seg, now, out);   // nothing in flight: nothing to do
  cwnd_ = std::min(cwnd_, std::max(cfg_.cwnd_clamp, std::uint32_t{smss_}));
  // Window update (RFC 9293 3.10.7.4: SND.WL1/WL2 keep an old segment from shrinking it).
  if (seq_lt(snd_wl1_, seg.seq) || (snd_wl1_ == seg.seq && seq_le(snd_wl2_, seg.ack))) {
    snd_wnd_ = static_cast<std::uint32_t>(seg.window) << snd_scale_;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    snd_wl1_ = seg.seq;
    snd_wl2_ = seg.ack;
    if (snd_wnd_ > 0) persist_at_ = never, probes_ = 0;
  }

  // Our FIN acknowledged?
  const bool fin_acked = fin_sent_ && seq_gt(snd_una_, fin_seq_);
  switch (st_) {
    case state::fin_wait_1:
      if (fin_acked) st_ = state::fin_wait_2;
      break;
    case state::closing:
      if (fin_acked) enter_time_wait(now);
      return false;
    case state::last_ack:
      if (fin_acked) enter_closed(close_reason::none);
      return false;
    case state::time_wait:
      return false;   // only a FIN again matters here: handled as unacceptable (its sequence is old)
    default: break;
  }
  return true;
}

void connection::on_data(const wire::tcp::repr& seg, time_ns now) {
  if (st_ != state::established && st_ != state::fin_wait_1 && st_ != state::fin_wait_2) return;
  // Trim what lies before RCV.NXT (already received); the buffer cuts what lies past the window.
  std::span<const std::byte> data = seg.payload;
  std::uint32_t seq = seg.seq;
  if (!data.empty()) dsack_on_data(seg);   // RFC 2883: bytes that arrived before
  if (seq_lt(seq, rcv_nxt_)) {
    const std::uint32_t skip = std::min<std::uint32_t>(rcv_nxt_ - seq, static_cast<std::uint32_t>(data.size()));
    data = data.subspan(skip);
    seq += skip;
  }
  // Nothing counts past a FIN kept past a gap (a faulty peer's bytes there): Linux's tcp_ofo_queue
  // stops at the FIN (tcp_fin), and taken in here they would move RCV.NXT past it, the FIN lost for good.
  if (fin_ooo_set_ && !data.empty() && seq_gt(seq + static_cast<std::uint32_t>(data.size()), fin_ooo_))
    data = data.first(seq_lt(seq, fin_ooo_) ? fin_ooo_ - seq : 0);
  const std::size_t offset = seq - rcv_nxt_;
  bool filled_hole = false, placed = true;
  if (!data.empty() && offset == 0 && posted_buf_.size() > posted_n_ && rcv_.readable() == 0 &&
      rcv_.out_of_order().empty()) {
    // Straight into the pending read (post_read); the rest, if its buffer is full, to rcv_ below.
    const std::size_t n = std::min({data.size(), posted_buf_.size() - posted_n_, rcv_.window()});
    std::memcpy(posted_buf_.data() + posted_n_, data.data(), n);
    posted_n_ += n;
    rcv_nxt_ += static_cast<std::uint32_t>(n);
    ctr_.bytes_received += n;
    ctr_.bytes_posted += n;
    unacked_rcv_bytes_ += n;
    data = data.subspan(n);
    // As receive() after a read: the window update, once per burst inside one.
    if (in_burst_) window_update_owed_ = true;
    else if (window_opened()) ack_now_ = true;
  }
  if (!data.empty()) {
    const bool had_ooo = !rcv_.out_of_order().empty();
    const auto r = rcv_.place(offset, data);
    if (r.out_of_order) {
      ++(r.dropped ? ctr_.ofo_dropped : ctr_.ofo_queued);
      ack_now_ = true;   // RFC 5681 4.2: an out-of-order segment is acknowledged at once (a dup ACK)
    }
    rcv_nxt_ += static_cast<std::uint32_t>(r.advanced);
    ctr_.bytes_received += r.advanced;
    unacked_rcv_bytes_ += r.advanced;
    filled_hole = had_ooo && r.advanced > data.size();
    placed = !r.dropped;
  }
  if (seg.has(flag::fin)) {
    ack_now_ = true;
    // A FIN past a gap is kept (Linux queues the segment, FIN and all, out of order: tcp_data_queue_ofo)
    // unless its bytes were dropped (no room: Linux drops the segment whole); it counts when the gap fills.
    const std::uint32_t fin_at = seg.seq + static_cast<std::uint32_t>(seg.payload.size());
    if (placed && (fin_at == rcv_nxt_ || (cfg_.keep_ooo_fin && seq_gt(fin_at, rcv_nxt_)))) fin_ooo_ = fin_at, fin_ooo_set_ = true;
  }
  // The FIN counts once every byte before it arrived (Linux's tcp_ofo_queue: tcp_fin()).
  if (fin_ooo_set_ && fin_ooo_ == rcv_nxt_ && rcv_.out_of_order().empty()) {
    fin_ooo_set_ = false;
    return on_fin(now);
  }
  // Inside a receive burst the every-second-segment rule is applied once, at end_burst().
  schedule_ack(now, filled_hole || (!in_burst_ && unacked_rcv_bytes_ >= 2u * smss_));
}

void connection::end_burst(time_ns now, segment_sink out) {
  if (!in_burst_) return;
  in_burst_ = false;
  const bool update = window_update_owed_ && window_opened();
  window_update_owed_ = false;
  // Two full segments or more not yet acknowledged (a segment we sent in the burst carried the ACK
  // and reset the count): acknowledge them now, with one ACK for the whole burst.
  if (unacked_rcv_bytes_ < 2u * smss_ && !update) return;
  ack_now_ = true;
  output(now, out);
}

void connection::on_fin(time_ns now) {
  if (fin_received_) return;
  fin_received_ = true;
  rcv_nxt_ += 1;
  ack_now_ = true;
  switch (st_) {
    case state::established: st_ = state::close_wait; break;
    case state::fin_wait_1:
      if (fin_sent_ && seq_gt(snd_una_, fin_seq_)) enter_time_wait(now);
      else st_ = state::closing;   // simultaneous close (RFC 9293 figure 13)
      break;
    case state::fin_wait_2: enter_time_wait(now); break;
    default: break;
  }
}

void connection::schedule_ack(time_ns now, bool at_once) noexcept {
  if (at_once) ack_now_ = true;
  else if (delack_at_ == never) delack_at_ = now + cfg_.delayed_ack;
}

void connection::rtt_sample(time_ns r) noexcept {
  // RFC 6298 2.2 / 2.3, with K = 4 and a clock granularity of 1 ms.
  if (srtt_ == 0) {
    srtt_ = r == 0 ? 1 : r;
    rttvar_ = r / 2;
  } else {
    const time_ns diff = srtt_ > r ? srtt_ - r : r - srtt_;
    rttvar_ = (3 * rttvar_ + diff) / 4;
    srtt_ = (7 * srtt_ + r) / 8;
  }
  rto_ = std::clamp(srtt_ + std::max<time_ns>(stack::ms, 4 * rttvar_), cfg_.rto_min, cfg_.rto_max);
}

void connection::enter_closed(close_reason why) noexcept {
  st_ = state::closed;
  reason_ = why;
  rto_at_ = delack_at_ = persist_at_ = keepalive_at_ = time_wait_at_ = tlp_at_ = never;
  rack_.release();
  rack_.disarm();
}

void connection::enter_time_wait(time_ns now) noexcept {
  st_ = state::time_wait;
  rto_at_ = delack_at_ = persist_at_ = keepalive_at_ = tlp_at_ = never;
  rack_.release();
  rack_.disarm();
  time_wait_at_ = now + 2 * cfg_.msl;
}

bool connection::accepts_reuse(const wire::tcp::repr& syn) const noexcept {
  if (st_ != state::time_wait || !syn.has(flag::syn) || syn.has(flag::ack)) return false;
  // RFC 6191 2: a newer timestamp decides; an EQUAL one (a reconnect within the peer's timestamp
  // tick: Linux's client reconnecting at once) falls back to the sequence check, as does no timestamp.
  if (ts_ok_ && syn.opts.ts && syn.opts.ts->value != ts_recent_) return seq_gt(syn.opts.ts->value, ts_recent_);
  return seq_gt(syn.seq, rcv_nxt_);                                            // RFC 1122 4.2.2.13
}

// ---------------------------------------------------------------- the application's side

std::size_t connection::send(std::span<const std::byte> data, time_ns now, segment_sink out) {
  if (sending_closed_ || (st_ != state::established && st_ != state::close_wait && st_ != state::syn_sent &&
                          st_ != state::syn_received))
    return 0;
  const std::size_t n = snd_buf_.write(data);
  if (st_ == state::established || st_ == state::close_wait) {
    const std::uint32_t max_before = snd_max_;
    output(now, out);
    update_loss_probe(snd_una_, max_before, now);
  }
  return n;
}

std::size_t connection::receive(std::span<std::byte> buf, time_ns now, segment_sink out) {
  const std::size_t n = rcv_.read(buf);
  if (n == 0 || !synchronized() || st_ == state::time_wait) return n;
  if (window_opened()) ack_now_ = true;
  output(now, out);
  return n;
}

bool connection::window_opened() const noexcept {
  // Announce the opened window once it grew by min(buffer / 2, MSS) past the edge already announced.
  const std::uint32_t edge = rcv_nxt_ + static_cast<std::uint32_t>(rcv_.window());
  return seq_ge(edge - std::min<std::uint32_t>(static_cast<std::uint32_t>(rcv_.capacity() / 2), smss_), rcv_adv_);
}

void connection::close(time_ns now, segment_sink out) {
  switch (st_) {
    case state::syn_sent:
    case state::listen: return enter_closed(close_reason::none);
    case state::syn_received:
    case state::established:
    case state::close_wait: {
      if (sending_closed_) return;
      sending_closed_ = true;
      const std::uint32_t max_before = snd_max_;
      output(now, out);
      update_loss_probe(snd_una_, max_before, now);
      return;
    }
    default: return;
  }
}

void connection::abort(time_ns now, segment_sink out) {
  if (synchronized() && st_ != state::time_wait) send_rst(snd_nxt_, now, out);
  enter_closed(close_reason::aborted);
}

// ---------------------------------------------------------------- timers

time_ns connection::next_deadline() const noexcept {
  return std::min({rto_at_, delack_at_, persist_at_, keepalive_at_, time_wait_at_, tlp_at_, rack_.reorder_at()});
}

void connection::on_timer(time_ns now, segment_sink out) {
  if (time_wait_at_ <= now) return enter_closed(close_reason::none);
  // RFC 8985 7.3: the probe goes before the RTO it may have been brought forward to, and re-arms it.
  if (tlp_at_ <= now) {
    tlp_at_ = never;
    send_loss_probe(now, out);
  }
  if (rack_.reorder_at() <= now) {   // RFC 8985 6.2 step 5's reorder timer
    // A recovery it starts lets one segment's worth through PRR (Linux's tcp_rack_reo_timeout); one
    // already running keeps its cwnd: no ACK delivered anything.
    ack_delivered_ = in_recovery_ ? 0 : smss_;
    ack_una_advanced_ = false;
    rack_detect(now, out);
  }
  if (rto_at_ <= now) {
    ++ctr_.timeouts;
    const unsigned limit = st_ == state::syn_sent || st_ == state::syn_received ? cfg_.syn_retries : cfg_.data_retries;
    if (backoffs_ >= limit) return enter_closed(close_reason::timed_out);
    ++backoffs_;
    rto_ = std::min(rto_ * 2, cfg_.rto_max);   // RFC 6298 5.5
    rtt_timing_ = false;                       // Karn
    if (st_ == state::syn_sent || st_ == state::syn_received) {
      ++ctr_.syn_retrans;
      ++ctr_.retrans_segs;
      send_segment(iss_, st_ == state::syn_sent ? flag::syn : flag::syn | flag::ack, {}, now, out);
    } else {
      // RFC 5681 3.1 (4): one segment's loss window; everything in flight is sent again (go-back-N).
      ssthresh_ = cc_.on_loss(cwnd_, flight(), smss_);
      cwnd_ = smss_;
      in_recovery_ = false;
      sb_.clear();   // RFC 6675 5.1: after an RTO the scoreboard is not trusted
      rack_.mark_all_lost();   // RFC 8985 6.3 (go-back-N below sends them again)
      tlp_pending_ = false;
      tlp_at_ = never;
      dupacks_ = 0;
      recover_ = snd_max_;
      snd_nxt_ = snd_una_;
      output(now, out);
    }
    arm_rto(now);
  }
  if (delack_at_ <= now) {
    delack_at_ = never;
    ++ctr_.delayed_acks;
    ack_now_ = true;
    output(now, out);
  }
  if (persist_at_ <= now) {
    persist_at_ = never;
    if (snd_wnd_ == 0) {
      // Zero-window probe: an ACK one byte below SND.UNA makes the peer answer with its window.
      ++ctr_.window_probes;
      send_segment(snd_una_ - 1, flag::ack, {}, now, out);
      ++probes_;
      persist_at_ = now + std::min(rto_ << std::min(probes_, 10u), cfg_.rto_max);
    } else {
      // RFC 9293 3.8.6.2.1 (4): the override timeout: send what the window allows, small or not.
      force_ = true;
      output(now, out);
      force_ = false;
    }
  }
  if (keepalive_at_ <= now) {
    if (keepalive_sent_ >= cfg_.keepalive_probes) return enter_closed(close_reason::timed_out);
    ++keepalive_sent_;
    ++ctr_.keepalive_probes;
    send_segment(snd_una_ - 1, flag::ack, {}, now, out);
    keepalive_at_ = now + cfg_.keepalive_interval;
  }
}

// ---------------------------------------------------------------- output

std::uint16_t connection::window_to_announce() noexcept {
  // Never move the right edge back (RFC 9293 3.8.6.2.2 "the window is never shrunk").
  const std::uint32_t room = static_cast<std::uint32_t>(rcv_.window());
  std::uint32_t edge = rcv_nxt_ + room;
  if (seq_lt(edge, rcv_adv_)) edge = rcv_adv_;
  std::uint32_t wnd = edge - rcv_nxt_;
  wnd = std::min<std::uint32_t>(wnd >> rcv_scale_, 0xffff);
  rcv_adv_ = rcv_nxt_ + (wnd << rcv_scale_);
  return static_cast<std::uint16_t>(wnd);
}

void connection::send_segment(std::uint32_t seq, std::uint8_t flags, std::span<const std::byte> payload, time_ns now,
                              segment_sink out) {
  out(make_segment(seq, flags, payload, now));
}

wire::tcp::repr connection::make_segment(std::uint32_t seq, std::uint8_t flags, std::span<const std::byte> payload,
                                         time_ns now) noexcept {
  wire::tcp::repr r;
  r.src_port = local_port_;
  r.dst_port = remote_port_;
  r.seq = seq;
  r.flags = flags;
  r.payload = payload;
  const bool syn = (flags & flag::syn) != 0;
  if (flags & flag::ack) r.ack = rcv_nxt_;
  if (syn) {
    r.opts.mss = cfg_.mss;
    r.window = static_cast<std::uint16_t>(std::min<std::size_t>(rcv_.window(), 0xffff));   // unscaled in a SYN
    rcv_adv_ = rcv_nxt_ + r.window;
    const bool syn_ack = (flags & flag::ack) != 0;
    // A SYN offers what we do; a SYN-ACK answers only what the peer offered (RFC 7323 1.3, RFC 2018 2).
    if (syn_ack ? ws_ok_ : cfg_.window_scaling) r.opts.window_scale = rcv_scale_;
    if (syn_ack ? sack_ok_ : cfg_.sack) r.opts.sack_permitted = true;
    if (syn_ack ? ts_ok_ : cfg_.timestamps) r.opts.ts = wire::tcp::timestamps{ts_now(now), syn_ack ? ts_recent_ : 0};
    if (!rtt_timing_) {   // a retransmitted SYN gives no sample anyway (backoffs_ > 0: Karn)
      rtt_timing_ = true;
      rtt_seq_ = seq;
      rtt_start_ = now;
    }
  } else {
    r.window = window_to_announce();
    if (ts_ok_) r.opts.ts = wire::tcp::timestamps{ts_now(now), ts_recent_};
    // SACK blocks (RFC 2018 4): the most recent range first, then the others; 3 beside timestamps.
    if (sack_ok_ && (flags & flag::ack) && !(flags & flag::rst)) {
      const auto ooo = rcv_.out_of_order();
      // RFC 6691: options come out of the peer's MSS (smss_ is already less the timestamps), so a
      // segment carrying data gets only the blocks that still fit. Without this limit a full-size
      // data segment with SACK blocks was 1528 bytes of IPv4, over the MTU: ip_output refused it
      // after the engine had counted it sent, and bidirectional bulk under loss kept retransmitting
      // oversize segments until timed_out (tests/netsim/tcp_hosts, cell loss20).
      const std::size_t room = payload.size() < smss_ ? smss_ - payload.size() : 0;
      const std::size_t max_blocks = std::min<std::size_t>(ts_ok_ ? 3 : 4, room >= 12 ? (room - 4) / 8 : 0);
      auto add = [&](const recv_buffer::range& g) {
        if (r.opts.sack_count < max_blocks)
          r.opts.sack[r.opts.sack_count++] = {rcv_nxt_ + static_cast<std::uint32_t>(g.begin),
                                              rcv_nxt_ + static_cast<std::uint32_t>(g.end)};
      };
      // RFC 2883 4: a duplicate goes first, then the range holding it (where the sender looks for it).
      std::size_t first = rcv_.latest();
      if (dsack_pending_ && max_blocks) {
        r.opts.sack[r.opts.sack_count++] = {dsack_left_, dsack_right_};
        dsack_pending_ = false;
        ++(seq_lt(dsack_left_, rcv_nxt_) ? ctr_.dsack_old_sent : ctr_.dsack_ofo_sent);   // as Linux's tcp_dsack_set
        for (std::size_t i = 0; i < ooo.size(); ++i)
          if (seq_in(dsack_left_, rcv_nxt_ + static_cast<std::uint32_t>(ooo[i].begin), rcv_nxt_ + static_cast<std::uint32_t>(ooo[i].end)))
            first = i;
      }
      if (!ooo.empty()) add(ooo[first]);
      for (std::size_t i = 0; i < ooo.size(); ++i)
        if (i != first) add(ooo[i]);
    }
  }
  if (flags & flag::ack) {
    last_ack_sent_ = rcv_nxt_;
    ack_now_ = false;
    delack_at_ = never;
    unacked_rcv_bytes_ = 0;
  }
  ++ctr_.out_segs;
  if (flags & flag::rst) ++ctr_.rsts_out;
  return r;
}

void connection::send_rst(std::uint32_t seq, time_ns now, segment_sink out) {
  send_segment(seq, flag::rst, {}, now, out);
}

// RFC 5961 7: challenge ACKs are throttled, or a blind attacker's flood of SYNs or RSTs would make us
// send as fast as it does. Linux (tcp_send_challenge_ack) first limits per socket: within
// tcp_invalid_ratelimit (500 ms) of the last one, none (TCPACKSkippedChallenge). Its second, per-netns
// limit (tcp_challenge_ack_limit) is off by default since Linux 6.0 and is not done here.
void connection::challenge_ack(time_ns now, segment_sink out) {
  if (last_challenge_ != never && now >= last_challenge_ && now - last_challenge_ < cfg_.challenge_ack_interval) {
    ++ctr_.challenge_acks_skipped;
    return;
  }
  last_challenge_ = now;
  ++ctr_.challenge_acks;
  send_ack(now, out);
}

void connection::retransmit_first(time_ns now, segment_sink out) {
  const std::span<const std::byte> p = snd_buf_.at(0, smss_);
  ++ctr_.retrans_segs;
  rtt_timing_ = false;   // Karn: the timed segment may be this one
  if (in_recovery_) prr_rxt_ += p.empty() ? 1u : static_cast<std::uint32_t>(p.size());
  if (!p.empty()) {
    send_segment(snd_una_, flag::ack | (fin_sent_ && snd_una_ + p.size() == fin_seq_ ? flag::fin : 0), p, now, out);
    if (rack_on()) rack_.sent(snd_una_, static_cast<std::uint32_t>(p.size()) + (snd_una_ + p.size() == fin_seq_ ? fin_sent_ : 0), now);
  } else if (fin_sent_) {
    send_segment(fin_seq_, flag::ack | flag::fin, {}, now, out);
    if (rack_on()) rack_.sent(fin_seq_, 1, now);
  }
  if (rto_at_ == never) arm_rto(now);
}

// Sequence space resent: the bytes, and our FIN when the range asked for reaches its number (a lost
// FIN is repaired like a lost byte: RACK marks it, RFC 6675's holes run to SND.MAX).
std::uint32_t connection::resend(std::uint32_t seq, std::uint32_t len, time_ns now, segment_sink out) {
  const std::span<const std::byte> p = snd_buf_.at(seq - snd_una_, len);
  const std::uint32_t n = static_cast<std::uint32_t>(p.size());
  const bool fin = fin_sent_ && seq + n == fin_seq_ && seq_gt(seq + len, fin_seq_);
  if (n == 0 && !fin) return 0;
  ++ctr_.retrans_segs;
  rtt_timing_ = false;   // Karn
  if (in_recovery_) prr_rxt_ += n + fin;
  send_segment(seq, flag::ack | (fin ? flag::fin : 0), p, now, out);
  if (rack_on()) rack_.sent(seq, n + fin, now);
  return n + fin;
}

// NextSeg rule 1: the lost segments, while the pipe leaves room.
void connection::sack_retransmit(time_ns now, segment_sink out) {
  if (rack_on()) return rack_retransmit(now, out);
  while (cwnd_ > in_flight() && cwnd_ - in_flight() >= smss_) {
    const auto s = sb_.next_lost(snd_una_, snd_max_, smss_);
    if (!s) return;   // nothing lost left: new data, if any, goes out from output() by the same pipe
    const std::uint32_t n = resend(s->seq, s->len, now, out);
    if (!n) return;
    sb_.retransmitted(s->seq, n);
  }
}

// NextSeg rules 3 and 4, when rule 1 (sack_retransmit) and rule 2 (new data, output()) left room in
// the pipe. Rule 3: a hole below SACKed data not yet deemed lost is sent again anyway. Rule 4: once per
// recovery, a "rescue" of the highest unSACKed segment: a loss at the tail of the window brings no
// SACK above it, so IsLost never marks it, and without this only the RTO would repair it.
bool connection::sack_rescue(time_ns now, segment_sink out) {
  if (rack_on()) return false;   // RACK's reorder timer and TLP's probe do what rules 3 and 4 did
  bool sent = false;
  // The FIN's sequence number is no byte of the buffer: resent by retransmit_first or the RTO only.
  const std::uint32_t high_data = fin_sent_ ? fin_seq_ : snd_max_;
  while (cwnd_ > in_flight() && cwnd_ - in_flight() >= smss_) {
    if (const auto s = sb_.next_unsacked(snd_una_, smss_)) {   // rule 3 (C.3: HighRxt follows)
      const std::uint32_t n = resend(s->seq, s->len, now, out);
      if (!n) break;
      sb_.retransmitted(s->seq, n);
      sent = true;
      continue;
    }
    // Rule 4: HighACK past RescueRxt (or none yet); RescueRxt = RecoveryPoint; HighRxt left alone.
    if (rescue_valid_ && !seq_gt(snd_una_, rescue_rxt_)) break;
    const auto s = sb_.last_unsacked(snd_una_, high_data, smss_);
    if (!s || !resend(s->seq, s->len, now, out)) break;
    rescue_rxt_ = recover_;
    rescue_valid_ = true;
    sent = true;
    break;
  }
  return sent;
}

// ---------------------------------------------------------------- RACK-TLP (RFC 8985)

// RFC 8985 6.2 steps 1-3 for what this ACK delivered (cumulatively or by SACK), 7.4 for a probe it
// acknowledged, then step 5.
void connection::rack_on_ack(const wire::tcp::repr& seg, time_ns now, segment_sink out) {
  const bool echo = ts_ok_ && seg.opts.ts && seg.opts.ts->echo != 0;
  // Step 2: a retransmitted segment's delivery is a sample only when it may be the retransmission's:
  // at least min_RTT passed since it went out (Linux's tcp_rack_advance). Not the RFC's TSecr test:
  // a SACK's TSecr is the TSval of the segment at the hole (RFC 7323 4.3 updates TS.Recent only
  // there), older than any retransmission above it, so that test would refuse every SACKed
  // retransmission, and a lost retransmission below it would wait for the RTO.
  auto sample_ok = [&](const rack::record& x) {
    return !(x.flags & rack::retransmitted) || now >= x.xmit + rack_.min_rtt();
  };
  auto on_delivered = [&](const rack::record& x) {
    if (rack_.delivered(x, now, sample_ok(x))) ++ctr_.sack_reorder;
  };
  rack_.acked(snd_una_, on_delivered);
  if (!sb_.ranges().empty())
    rack_.sacked_by(seg.opts.sack_blocks(), [&](std::uint32_t q) { return sb_.is_sacked(q); }, on_delivered);
  // 7.4: the probe acknowledged. A retransmitted probe repaired a loss unless the ACK echoes an older
  // TSval than the probe's (the original arrived, its ACK was late: the probe was spurious; without
  // DSACK this is how we tell). A repair is a congestion event: cwnd comes down as after a recovery.
  if (tlp_pending_ && seq_ge(seg.ack, tlp_end_)) {
    tlp_pending_ = false;
    if (tlp_retrans_ && !(echo && seq_lt(seg.opts.ts->echo, tlp_tsval_))) {
      ++ctr_.loss_probe_recovery;
      ssthresh_ = cc_.on_loss(cwnd_, std::max(flight(), cwnd_), smss_);
      cwnd_ = ssthresh_;
    }
  }
  rack_detect(now, out);
}

// Step 5 and what follows from it: the segments RACK now deems lost start recovery (a new congestion
// event unless SND.UNA is still below the last one's recovery point) and are retransmitted.
void connection::rack_detect(time_ns now, segment_sink out) {
  // Outside recovery with nothing SACKed every segment in flight lies above SND.UNA and went out after
  // what was delivered (a cumulative ACK delivers in order): nothing to mark, and no scan of the
  // records on the bulk path's every ACK (Linux runs RACK from tcp_fastretrans_alert only, likewise).
  if (rack_.empty() || (!in_recovery_ && sb_.ranges().empty())) return rack_.disarm();
  const bool marked = rack_.detect_loss(now, rack_.reo_wnd(in_recovery_, srtt_));
  if (marked && !in_recovery_) {
    if (seq_ge(snd_una_, recover_)) {
      ssthresh_ = cc_.on_loss(cwnd_, flight(), smss_);
      if (!cfg_.prr) cwnd_ = ssthresh_;
    }
    // After an RTO's rewind the go-back-N hands over: everything it had yet to resend is marked lost
    // (mark_all_lost) and goes out below by the pipe, not twice.
    snd_nxt_ = snd_max_;
    recover_ = snd_max_;
    in_recovery_ = true;
    tlp_at_ = never;
    ++ctr_.recoveries;
    ++ctr_.fast_retrans;
    if (cfg_.prr) {
      prr_start();   // prr_ack() below lets out at least the first lost segment (Linux's forced one)
    } else if (const rack::record* x = rack_.first_lost()) {
      resend_record(*x, now, out);   // RFC 6675 (C.1): the first lost segment at once, whatever the pipe
    }
  }
  if (in_recovery_) {
    if (cfg_.prr) prr_ack(marked);
    rack_retransmit(now, out);
  }
}

// RFC 6675 NextSeg rule 1 with RACK's lost marks: the lost segments in sequence order while the pipe
// leaves room (rule 2, new data, is output()'s by the same pipe).
void connection::rack_retransmit(time_ns now, segment_sink out) {
  while (cwnd_ > in_flight() && cwnd_ - in_flight() >= smss_) {
    const rack::record* x = rack_.first_lost();
    if (!x || !resend_record(*x, now, out)) return;
  }
}

// A lost record, one segment of it at most: a record is one segment, except the newest once the table
// was full (rack::append merges new data into it). Our FIN rides along only with the record's last
// byte; a longer record goes MSS by MSS, never as one oversize segment.
std::uint32_t connection::resend_record(const rack::record& x, time_ns now, segment_sink out) {
  const std::uint32_t len = x.end - x.begin;
  const bool fin_inside = fin_sent_ && x.end == fin_seq_ + 1;
  return resend(x.begin, std::min<std::uint32_t>(len, smss_ + (fin_inside && len - 1 <= smss_ ? 1u : 0u)), now, out);
}

// Linux's tcp_cwnd_validate (RFC 7661 4.1's "cwnd-limited"), in bytes: a send that left no room for
// another full segment in cwnd makes this window cwnd-limited; otherwise the largest flight of the
// window is kept, and a new window starts once the one that began at cwnd_usage_seq_ is acknowledged.
void connection::cwnd_validate(bool sent, bool queued) noexcept {
  if (!sent && !queued) return;   // as Linux's tcp_write_xmit: only when there was something to send
  const bool limited = cwnd_ < in_flight() + smss_;
  if (!sent && !limited) return;
  if (seq_ge(snd_una_, cwnd_usage_seq_) || limited || (!cwnd_limited_ && flight() > max_flight_)) {
    cwnd_limited_ = limited;
    max_flight_ = flight();
    cwnd_usage_seq_ = snd_nxt_;
  }
}

// Linux's tcp_is_cwnd_limited: cwnd-limited in this window, or in slow start below twice its largest
// flight (slow start may double what was used: a sender that filled half of cwnd still grows it).
bool connection::is_cwnd_limited() const noexcept {
  if (!cfg_.cwnd_validation || cwnd_limited_) return true;
  return cwnd_ < ssthresh_ && cwnd_ < 2 * max_flight_;
}

// RFC 6937 3 / Linux's tcp_init_cwnd_reduction: the window before the event is RecoverFS (Linux's
// prior_cwnd); nothing delivered or sent in this recovery yet (recover_ is SND.MAX now: new data
// counts from here).
void connection::prr_start() noexcept {
  prior_cwnd_ = cwnd_;
  prr_delivered_ = 0;
  prr_rxt_ = 0;
}

// RFC 6937 3.1 with PRR-SSRB, as Linux's tcp_cwnd_reduction, in bytes. While the pipe is above
// ssthresh, out goes ssthresh / RecoverFS of what was delivered (rounded up), so the pipe reaches
// ssthresh at the end of the round trip; below it (heavy losses), slow start back up, at most one
// segment more than delivered per ACK and never past ssthresh. The first call of a recovery lets out
// at least one segment (the fast retransmit).
void connection::prr_ack(bool newly_lost) noexcept {
  const std::uint32_t newly = ack_delivered_;
  ack_delivered_ = 0;   // once per ACK
  if (newly == 0 || prior_cwnd_ == 0) return;
  prr_delivered_ += newly;
  const std::uint32_t pipe = in_flight();
  const std::int64_t prr_out = std::int64_t{snd_max_ - recover_} + prr_rxt_;
  std::int64_t sndcnt;
  if (pipe > ssthresh_) {
    // Rounded up to whole segments, as Linux counts it (in packets: DIV_ROUND_UP): a segment goes as
    // soon as any part of one is owed, not once a whole one is.
    const std::uint64_t share = (std::uint64_t{ssthresh_} * prr_delivered_ + prior_cwnd_ - 1) / prior_cwnd_;
    sndcnt = static_cast<std::int64_t>((share + smss_ - 1) / smss_ * smss_) - prr_out;
  } else {
    sndcnt = std::max<std::int64_t>(std::int64_t{prr_delivered_} - prr_out, newly);
    if (ack_una_advanced_ && !newly_lost) sndcnt += smss_;
    sndcnt = std::min<std::int64_t>(ssthresh_ - pipe, sndcnt);
  }
  sndcnt = std::max<std::int64_t>(sndcnt, prr_out ? 0 : smss_);
  // Never a flight of one segment (what RFC 6937 / Linux's conservative bound leaves when an ACK both
  // delivers one segment and marks a new loss: pipe 0, sndcnt 1, the lone retransmission). If that one
  // is lost too nothing comes back: RACK marks a loss only from a delivery sent after it and the
  // tail-loss probe is off in recovery, so only the RTO repairs it (the sim loss grid: 1 RTO in 2 MB
  // at 5 %, 4 in 20 MB, against 0 and 1 with cwnd = ssthresh at once, which sends new data beside the
  // retransmission). A second segment, within ssthresh, gives RACK the delivery it needs.
  if (const std::int64_t two = 2 * std::int64_t{smss_} - pipe; sndcnt < two && ssthresh_ >= 2u * smss_)
    sndcnt = std::min<std::int64_t>(two, std::int64_t{ssthresh_} - pipe);
  cwnd_ = pipe + static_cast<std::uint32_t>(sndcnt);
}

// RFC 2883 receiver side: [left, right) arrived before; the next ACK reports it first, and goes at once.
void connection::dsack_note(std::uint32_t left, std::uint32_t right) noexcept {
  if (!cfg_.dsack || !sack_ok_) return;
  dsack_left_ = left;
  dsack_right_ = right;
  dsack_pending_ = true;
  ack_now_ = true;
}

// A data segment's bytes we already had: below RCV.NXT (RFC 2883 4.1.1: a retransmission of what
// arrived), else the first out-of-order range it overlaps (4.1.2), as Linux's tcp_data_queue(_ofo).
void connection::dsack_on_data(const wire::tcp::repr& seg) noexcept {
  const std::uint32_t end = seg.seq + static_cast<std::uint32_t>(seg.payload.size());
  if (seq_lt(seg.seq, rcv_nxt_)) return dsack_note(seg.seq, seq_min(end, rcv_nxt_));
  for (const auto& g : rcv_.out_of_order()) {
    const std::uint32_t l = seq_max(seg.seq, rcv_nxt_ + static_cast<std::uint32_t>(g.begin));
    const std::uint32_t r = seq_min(end, rcv_nxt_ + static_cast<std::uint32_t>(g.end));
    if (seq_lt(l, r)) return dsack_note(l, r);
  }
}

// RFC 2883 sender side, as Linux's tcp_check_dsack: the first block is a DSACK when it starts below
// the ACK (TCPDSACKRecv) or lies inside the second block (TCPDSACKOfoRecv). The scoreboard ignores
// the first kind and the second adds nothing.
bool connection::dsack_check(const wire::tcp::repr& seg) noexcept {
  if (!cfg_.dsack || !sack_ok_) return false;
  const auto b = seg.opts.sack_blocks();
  if (b.empty()) return false;
  if (seq_lt(b[0].left, seg.ack)) return ++ctr_.dsack_recv, true;
  if (b.size() > 1 && seq_ge(b[0].left, b[1].left) && seq_le(b[0].right, b[1].right)) return ++ctr_.dsack_ofo_recv, true;
  return false;
}

// RFC 8985 7.2: after new data went out or an ACK came, the probe timeout, unless a probe is out, a
// recovery (fast or RTO) runs or SACKed data shows the peer is already answering (as Linux: CA_Open).
// PTO = 2 SRTT plus the delayed-ACK allowance, never later than the RTO (the probe then goes first).
void connection::arm_loss_probe(time_ns now) noexcept {
  tlp_at_ = never;
  if (!loss_probe_allowed()) return;
  const time_ns pto = 2 * srtt_ + (flight() <= smss_ ? cfg_.tlp_delayed_ack_allowance : 2 * stack::ms);
  tlp_at_ = std::min(now + pto, rto_at_);
}

bool connection::loss_probe_allowed() const noexcept {
  if (!rack_on() || tlp_pending_ || in_recovery_ || seq_lt(snd_una_, recover_) || !sb_.ranges().empty() ||
      srtt_ == 0 || flight() == 0 || rto_at_ == never)
    return false;
  return st_ == state::established || st_ == state::close_wait || st_ == state::fin_wait_1 ||
         st_ == state::closing || st_ == state::last_ack;
}

// As Linux (tcp_schedule_loss_probe from tcp_write_xmit and tcp_ack): the probe timer restarts only
// when new data went out or SND.UNA advanced. Anything else (the peer's data, an ACK with nothing new,
// a write the window holds back) leaves it where it is, or cancels it once no probe may go: restarting
// it there would put a two-way flow's probe off until the RTO.
void connection::update_loss_probe(std::uint32_t una_before, std::uint32_t max_before, time_ns now) noexcept {
  if (snd_una_ != una_before || snd_max_ != max_before)
    arm_loss_probe(now);
  else if (tlp_at_ != never && !loss_probe_allowed())
    tlp_at_ = never;
}

// RFC 8985 7.3: one segment: new data if there is any and the peer's window takes it (one segment
// past cwnd), else the last segment sent again (with the FIN if it carried it). The RTO is re-armed;
// no other probe until this one is acknowledged.
void connection::send_loss_probe(time_ns now, segment_sink out) {
  if (!rack_on() || flight() == 0 || in_recovery_ || tlp_pending_) return;
  const std::uint32_t before = snd_max_;
  const std::uint32_t saved_cwnd = cwnd_;
  cwnd_ = std::max(cwnd_, flight() + smss_);
  output(now, out);   // Nagle and sender SWS avoidance still apply: a held short segment stays held
  cwnd_ = saved_cwnd;
  tlp_retrans_ = snd_max_ == before;
  if (tlp_retrans_) {
    const std::uint32_t high = fin_sent_ ? fin_seq_ : snd_max_;
    const std::uint32_t len = std::min<std::uint32_t>(high - snd_una_, smss_);
    const std::uint32_t seq = high - len;
    ++ctr_.retrans_segs;
    rtt_timing_ = false;   // Karn
    // PSH as the segment had when it first went out (output() sets it on the last byte written): the
    // probe is that segment again (Linux retransmits the skb with its flags; packetdrill scripts see it).
    const bool last = len > 0 && seq + len == snd_una_ + static_cast<std::uint32_t>(snd_buf_.size());
    send_segment(seq, flag::ack | (fin_sent_ ? flag::fin : 0) | (last ? flag::psh : 0), snd_buf_.at(seq - snd_una_, len),
                 now, out);
    rack_.sent(seq, len + fin_sent_, now);
  }
  ++ctr_.loss_probes;
  tlp_pending_ = true;
  tlp_end_ = snd_max_;
  tlp_tsval_ = ts_now(now);
  arm_rto(now);
}

void connection::send_train(std::uint32_t seq, std::size_t off, std::uint32_t n, time_ns now, segment_sink out) {
  if (n == 1) return send_segment(seq, flag::ack, snd_buf_.at(off, smss_), now, out);
  ++ctr_.trains, ctr_.train_segs += n;
  ctr_.out_segs += n - 1;   // make_segment counts the head
  out(segment_train{make_segment(seq, flag::ack, snd_buf_.at(off, smss_), now), &snd_buf_, off, n, smss_});
}

void connection::output(time_ns now, segment_sink out) {
  if (st_ == state::syn_received) {
    if (ack_now_) send_segment(iss_, flag::syn | flag::ack, {}, now, out);
    return;
  }
  if (st_ != state::established && st_ != state::close_wait && st_ != state::fin_wait_1 && st_ != state::closing &&
      st_ != state::last_ack && st_ != state::fin_wait_2) {
    if (ack_now_ && st_ == state::time_wait) send_ack(now, out);
    return;
  }
  bool sent = false;
  // Trains (GSO-like, issue 13 point 6): full-size segments with ACK alone, two or more in a row in
  // this call, go to the sink as one train. Their headers differ only in the sequence number (the
  // same ACK, window and TSval within one call; no SACK block fits beside a full segment), so the
  // socket layer builds the headers once and patches them. Each segment's own state (RACK record,
  // RTT timing, OutSegs, SND.NXT, the RTO) is kept here per segment as before: only how the frames
  // are built changes, not what goes out. The head's header is made when the train leaves (flush):
  // nothing it reads (RCV.NXT, the window, TS.Recent, the out-of-order ranges) changes in this loop,
  // and a lone full segment then goes out exactly as before, with no train built.
  // (No lambda: one that captured these by reference kept them in memory and was not inlined, +120
  // instructions per rr transaction.)
  std::uint32_t train_seq = 0, train_n = 0;
  std::size_t train_off = 0;
  // Bytes of the buffer not yet sent (after a FIN nothing is: the FIN follows the last byte).
  auto unsent_bytes = [&]() -> std::size_t {
    const std::uint32_t sent_off = snd_nxt_ - snd_una_;
    return snd_buf_.size() > sent_off ? snd_buf_.size() - sent_off : 0;
  };
  for (;;) {
    const std::uint32_t sent_off = snd_nxt_ - snd_una_;
    const std::size_t unsent = unsent_bytes();
    // The peer's window bounds what is outstanding; cwnd bounds what is in the network (in SACK
    // recovery RFC 6675's pipe, without what the peer holds), else everything outstanding.
    const std::uint32_t pipe = in_flight();
    const std::uint32_t usable = std::min(snd_wnd_ > flight() ? snd_wnd_ - flight() : 0u, cwnd_ > pipe ? cwnd_ - pipe : 0u);
    std::size_t len = std::min<std::size_t>({unsent, usable, smss_});
    const bool fin_due = sending_closed_ && !fin_sent_ && len == unsent;
    const bool fin_again = sending_closed_ && fin_sent_ && snd_nxt_ == fin_seq_;   // after an RTO rewound snd_nxt
    if (len == 0 && !(fin_due || fin_again)) break;
    // Sender SWS avoidance and Nagle (RFC 9293 3.8.6.2.1): a full segment, or all that is queued when
    // nothing is in flight (or Nagle is off), or half the largest window the peer ever offered.
    if (len > 0 && len < smss_ && !(fin_due || fin_again) && !force_) {
      const bool all = len == unsent;
      if (!(all && (!cfg_.nagle || flight() == 0)) && len < max_snd_wnd_ / 2) break;
    }
    force_ = false;   // one segment per override
    std::uint8_t f = flag::ack;
    if (fin_due || fin_again) f |= flag::fin;
    if (len > 0 && len == unsent) f |= flag::psh;
    const std::uint32_t seq = snd_nxt_;
    if (seq_lt(seq, snd_max_)) ++ctr_.retrans_segs;
    if (!rtt_timing_ && len > 0 && !seq_lt(seq, snd_max_)) {
      rtt_timing_ = true;
      rtt_seq_ = seq;
      rtt_start_ = now;
    }
    const bool full = len == smss_ && f == flag::ack && cfg_.segment_trains;
    if (full && train_n > 0 && seq == train_seq + train_n * std::uint32_t{smss_}) {
      ++train_n;
    } else {
      if (train_n) send_train(train_seq, train_off, train_n, now, out);
      train_n = 0;
      if (full) train_seq = seq, train_off = sent_off, train_n = 1;
      else send_segment(seq, f, snd_buf_.at(sent_off, len), now, out);
    }
    if (rack_on()) rack_.sent(seq, static_cast<std::uint32_t>(len) + ((f & flag::fin) ? 1 : 0), now);   // the FIN too
    snd_nxt_ += static_cast<std::uint32_t>(len) + ((f & flag::fin) ? 1 : 0);
    if (f & flag::fin) {
      fin_sent_ = true;
      fin_seq_ = seq + static_cast<std::uint32_t>(len);
      if (st_ == state::established) st_ = state::fin_wait_1;
      else if (st_ == state::close_wait) st_ = state::last_ack;
    }
    snd_max_ = seq_max(snd_max_, snd_nxt_);
    if (rto_at_ == never) arm_rto(now);
    sent = true;
    if (f & flag::fin) break;
  }
  if (train_n) send_train(train_seq, train_off, train_n, now, out);
  cwnd_validate(sent, unsent_bytes() > 0);
  // A zero window with bytes waiting and nothing in flight: probe it (RFC 9293 3.8.6.1).
  // Bytes waiting, nothing in flight to bring an ACK: a zero window is probed, a window too small
  // for sender SWS avoidance is used anyway when the override timer fires (both: the persist timer).
  if (unsent_bytes() > 0 && flight() == 0 && persist_at_ == never) persist_at_ = now + rto_;
  // RFC 6675 NextSeg rule 2 failed (no new data, or no room for it in the peer's window): rules 3, 4.
  if (in_recovery_ && sack_ok_ && (unsent_bytes() == 0 || snd_wnd_ <= flight())) sent |= sack_rescue(now, out);
  if (!sent && ack_now_) send_ack(now, out);
  if (cfg_.keepalive_idle && st_ == state::established) keepalive_at_ = last_heard_ + cfg_.keepalive_idle;
}

}  // namespace ringlab::tcp
