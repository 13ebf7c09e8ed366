#pragma once
// tcp::connection: one TCP connection's state machine (RFC 9293), as a pure engine. Segments come in
// as reprs (wire::tcp::repr: header, options, payload) with the time; segments go out through a sink
// the caller gives (the IP output, a test's list); next_deadline() says when it next needs on_timer().
// No I/O, no clock: every behaviour is a script of segments and times (tests/unit/tcp). Construction
// allocates nothing; the buffers take 16 KiB chunks only while bytes are queued (buffers.hpp), so an
// idle connection is sizeof(connection) and no heap.
//
//   connect()/accept() ──► on_segment(seg, now) ──► sink(seg) ...    on_timer(now) when now >= next_deadline()
//   send(bytes) / receive(buf) / close() / abort(): the application's side, each may emit segments
//
// What it does (RFC numbers in the code where each rule lives):
//   states      all eleven of RFC 9293 3.3.2, simultaneous open and close, TIME_WAIT for 2*MSL
//   checks      sequence acceptability (3.10.7.4), RFC 5961 RST/SYN/ACK challenge ACKs, PAWS (RFC 7323)
//   options     MSS, window scale, timestamps (RTT and PAWS), SACK permitted; SACK blocks in our ACKs
//               from the out-of-order ranges (RFC 2018 receiver side)
//   timers      RTO (RFC 6298: SRTT/RTTVAR, Karn, backoff, min/max), delayed ACK, zero-window probe,
//               keepalive (off unless asked), TIME_WAIT
//   congestion  CUBIC (RFC 9438, the default) or NewReno (RFC 5681) in avoidance; slow start, RFC 6582
//               fast retransmit and recovery (with SACK: RFC 6675's scoreboard, pipe and NextSeg with
//               its rescue retransmissions),
//               initial window 10 (RFC 6928) for both; cwnd grows only while cwnd-limited (RFC 7661
//               as Linux); PRR (RFC 6937) in SACK recovery; DSACK both ways (RFC 2883); Nagle
//               (switchable), receiver and sender SWS avoidance
//   cookies     accept_cookie(): a connection straight in ESTABLISHED from a SYN cookie's ACK
//               (syn_cookie.hpp makes and checks the cookies; the listener decides when)
//   trains      two or more full-size ACK-only segments of one output() call go to the sink as one
//               segment_train (GSO-like: the socket layer builds their frames from one header)
// What it does not do yet (issue 12): RFC 6191 reuse is offered (accepts_reuse) but applied by the
// socket table.
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "stack/iface/time.hpp"
#include "stack/tcp/buffers.hpp"
#include "stack/tcp/congestion.hpp"
#include "stack/tcp/rack.hpp"
#include "stack/tcp/sack_scoreboard.hpp"
#include "stack/wire/tcp.hpp"

namespace ringlab::tcp {

using stack::time_ns;
using stack::never;

struct cookie_options;   // syn_cookie.hpp: a SYN's options as its cookie brings them back

enum class state : std::uint8_t {
  closed, listen, syn_sent, syn_received, established, fin_wait_1, fin_wait_2, close_wait, closing, last_ack,
  time_wait,
};
const char* to_string(state s) noexcept;

// Why a connection ended (closed() with one of these; none while it lives or after a clean close).
enum class close_reason : std::uint8_t { none, refused, reset, timed_out, aborted };
const char* to_string(close_reason r) noexcept;

struct connection_config {
  std::uint16_t mss = 1460;                 // what we announce: the MTU less 40
  std::size_t send_buffer = 256 * 1024;
  std::size_t recv_buffer = 256 * 1024;
  bool window_scaling = true;               // RFC 7323
  bool timestamps = true;                   // RFC 7323
  bool sack = true;                         // RFC 2018 (we send SACK blocks; the scoreboard is issue 12)
  bool nagle = true;
  std::uint32_t initial_window_segments = 10;   // RFC 6928
  congestion_control congestion = congestion_control::cubic;   // RFC 9438 (Linux's default too)
  // The largest cwnd in bytes (Linux's snd_cwnd_clamp). A flow that never loses a segment never leaves
  // slow start, and cwnd, a 32-bit byte count, grew past 2^32 after ~8.6 GB and wrapped to a few
  // segments (bench_tcp's rx row found it). 1 GiB is the largest window a peer can offer (65535 << 14).
  std::uint32_t cwnd_clamp = 1u << 30;
  time_ns rto_initial = 1 * stack::sec;     // RFC 6298 2.1
  time_ns rto_min = 200 * stack::ms;        // Linux's; RFC 6298 says 1 s
  time_ns rto_max = 120 * stack::sec;
  time_ns msl = 30 * stack::sec;            // TIME_WAIT lasts 2*MSL (Linux: 60 s)
  time_ns delayed_ack = 40 * stack::ms;     // Linux's minimum; RFC 9293 3.8.6.3: < 0.5 s
  // Loss recovery beside RFC 6675 (with SACK): RACK-TLP (RFC 8985: time-based loss marking and
  // tail-loss probes, Linux's default), and RFC 3042 limited transmit. Off: RFC 6675 alone, with its
  // NextSeg rules 3 and 4 (the old behaviour, still tested).
  bool rack_tlp = true;
  bool limited_transmit = true;
  // RFC 7661 as Linux does it (tcp_is_cwnd_limited): cwnd grows on an ACK only while the sender used
  // it (in slow start: cwnd below twice the most in flight since the last window was acknowledged;
  // else the pipe reached cwnd at a send). Off: every ACK grows cwnd, an application writing a little
  // per round trip inflates it to a window it never tested (the old behaviour).
  bool cwnd_validation = true;
  // RFC 6937 proportional rate reduction (PRR-SSRB, as Linux's tcp_cwnd_reduction) in SACK recovery:
  // per ACK, cwnd = pipe + what PRR lets out, so the pipe falls to ssthresh over the recovery's round
  // trip in step with the deliveries. Off: cwnd drops to ssthresh at once (RFC 6675's rule), nothing
  // goes out until the pipe has fallen below it, then everything at once. Off by default, unlike
  // Linux: on sim's loss grid (tests/netsim/tcp_hosts, tcp_loss_recovery) it cost RTOs when an ACK
  // that marked a lost retransmission let out that one segment alone and it was lost again; with two
  // segments kept in flight and the share rounded up to segments as Linux does, the grid's cells cost
  // none, but over more seeds 20 MB at 5 % still has 18 RTOs against 15 (stack/tcp/README.md).
  bool prr = false;
  // RFC 2883 DSACK (Linux's tcp_dsack, on): as receiver, a segment that arrived twice is reported as
  // the first SACK block of the ACK it gets at once; as sender, such a block (below the ACK, or inside
  // the block after it) is counted (TCPDSACKRecv / TCPDSACKOfoRecv) and grows RACK's reo_wnd (RFC
  // 8985 6.2 step 4). Off: neither.
  bool dsack = true;
  // RFC 8985 7.2: a probe after 2 SRTT, plus the peer's worst-case delayed ACK when one segment is in
  // flight (WCDelAckT; Linux adds TCP_RTO_MIN, 200 ms), else 2 ms (Linux's TCP_TIMEOUT_MIN).
  time_ns tlp_delayed_ack_allowance = 200 * stack::ms;
  unsigned syn_retries = 6;                 // SYNs after the first before giving up (Linux's tcp_syn_retries)
  unsigned data_retries = 15;               // RTO expiries in a row before giving up (tcp_retries2)
  time_ns keepalive_idle = 0;               // 0: no keepalive (RFC 1122 4.2.3.6: off by default)
  time_ns keepalive_interval = 75 * stack::sec;
  unsigned keepalive_probes = 9;
  // RFC 5961 7 (ACK throttling) as Linux does it per socket: a challenge ACK within this long of the
  // last one is not sent (TCPACKSkippedChallenge); Linux's tcp_invalid_ratelimit, HZ/2. 0: no limit.
  time_ns challenge_ack_interval = 500 * stack::ms;
  // A FIN that arrives past a gap kept with the out-of-order data and counted when the gap fills, as
  // Linux's tcp_data_queue_ofo / tcp_ofo_queue do (on, as Linux). The seeded-loss AF_XDP test against
  // Linux (tests/netns/tcp_interop) once failed with it on because the test read our counters from a
  // stale snapshot (fixed; 10 of 10 with it on). Off: the FIN past a gap is acknowledged but not
  // remembered (the peer's retransmission delivers it).
  bool keep_ooo_fin = true;
  // Trains (issue 13 point 6, GSO-like): two or more full-size segments in a row of one output() call
  // go to the sink as one segment_train, whose frames the socket layer builds from one header. Off:
  // each segment on its own (the same bytes on the wire; tests compare the two).
  bool segment_trains = true;
};

// What on_segment() did with a segment: accepted (it was processed: state, data, ACK, even a RST that
// closed the connection), or dropped and why, so the socket table counts and traces the drop by
// reason (trace::drop_reason's tcp_*). A dropped segment may still have been answered (an ACK, a
// challenge ACK, a RST): the verdict is about the segment, not about what went out.
enum class segment_result : std::uint8_t {
  accepted,
  closed,           // CLOSED or LISTEN: segments for no connection are the socket table's
  not_syn,          // SYN_SENT: neither SYN nor an acceptable RST
  bad_ack,          // SYN_SENT / SYN_RECEIVED: ACK of nothing sent (RST back); else RFC 5961 5.2
  paws,             // RFC 7323 5.3
  out_of_window,    // RFC 9293 3.10.7.4 first
  rst_challenged,   // RFC 5961 3.2: RST in the window, not at RCV.NXT
  syn_challenged,   // RFC 5961 4.2
  no_ack,           // a synchronized state's segment without ACK
};

// Per connection, named as Linux's `ss -ti` and nstat name them.
struct connection_counters {
  std::uint64_t in_segs = 0, out_segs = 0;                 // InSegs, OutSegs
  std::uint64_t retrans_segs = 0;                          // RetransSegs
  std::uint64_t timeouts = 0;                              // TCPTimeouts
  std::uint64_t syn_retrans = 0;                           // TCPSynRetrans
  std::uint64_t fast_retrans = 0;                          // TCPFastRetrans
  std::uint64_t recoveries = 0;                            // TCPRenoRecovery
  std::uint64_t loss_probes = 0;                           // TCPLossProbes: tail-loss probes sent (RFC 8985 7)
  std::uint64_t loss_probe_recovery = 0;                   // TCPLossProbeRecovery: a probe repaired a loss
  std::uint64_t sack_reorder = 0;                          // TCPSACKReorder: RACK saw reordering
  std::uint64_t dsack_recv = 0;                            // TCPDSACKRecv: a DSACK below the ACK
  std::uint64_t dsack_ofo_recv = 0;                        // TCPDSACKOfoRecv: a DSACK inside a SACK block
  std::uint64_t dsack_old_sent = 0;                        // TCPDSACKOldSent: a DSACK for data below RCV.NXT
  std::uint64_t dsack_ofo_sent = 0;                        // TCPDSACKOfoSent: a DSACK for out-of-order data
  std::uint64_t challenge_acks = 0;                        // TCPChallengeACK
  std::uint64_t challenge_acks_skipped = 0;                // TCPACKSkippedChallenge: rate-limited
  std::uint64_t paws_rejected = 0;                         // PAWSEstab
  std::uint64_t out_of_window = 0;                         // segments failing the acceptability test
  std::uint64_t ofo_queued = 0, ofo_dropped = 0;           // TCPOFOQueue, TCPOFODrop
  std::uint64_t dup_acks_in = 0;
  std::uint64_t delayed_acks = 0;                          // DelayedACKs: ACKs sent by the timer
  std::uint64_t window_probes = 0;
  std::uint64_t keepalive_probes = 0;
  std::uint64_t bytes_acked = 0, bytes_received = 0;       // ss: bytes_acked, bytes_received
  std::uint64_t bytes_posted = 0;                          // of bytes_received: straight into a posted read
  std::uint64_t rsts_in = 0, rsts_out = 0;
  // Trains (segment_train, issue 13 point 6): how many output() handed out, and the segments in them
  // (of out_segs). A sink that takes trains builds each train's headers once.
  std::uint64_t trains = 0, train_segs = 0;
};

// A train (GSO-like, issue 13 point 6): `count` data segments of `seg_len` payload bytes each, in
// sequence from hdr.seq, whose headers are hdr's but for the sequence number (same flags, ACK, window,
// TSval, no SACK blocks: a full-size segment has no room for them). Segment i's payload is the bytes
// [offset + i * seg_len, + seg_len) past SND.UNA in `buf`. The socket layer builds the first frame's
// headers once and copies and patches them for the rest (stack/socket/tcp_lane.cpp, emit_train).
struct segment_train {
  wire::tcp::repr hdr;               // the first segment (its payload: the first seg_len bytes)
  const send_buffer* buf = nullptr;
  std::size_t offset = 0;            // of the first segment's payload, past SND.UNA
  std::uint32_t count = 0;
  std::uint16_t seg_len = 0;

  // Segment i as a repr of its own (its payload valid until the next send_buffer::at()).
  wire::tcp::repr segment(std::uint32_t i) const noexcept {
    wire::tcp::repr r = hdr;
    r.seq = hdr.seq + i * std::uint32_t{seg_len};
    r.payload = buf->at(offset + std::size_t{i} * seg_len, seg_len);
    return r;
  }
  // Segment i's payload copied into `out` (at least seg_len bytes): one copy, from the send buffer.
  std::size_t copy_payload(std::uint32_t i, std::span<std::byte> out) const noexcept {
    return buf->copy(offset + std::size_t{i} * seg_len, out.first(seg_len));
  }
};

// A non-owning reference to where segments go; valid for the call it is passed to. The repr's payload
// points into the connection's send buffer: the sink copies it out before it returns. A callable that
// also takes a `const segment_train&` gets trains whole; any other gets a train as its segments one
// by one (the same reprs, in the same order: tests/unit/tcp's sinks see no difference).
class segment_sink {
 public:
  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, segment_sink>)
  segment_sink(F&& f) noexcept   // NOLINT: implicit on purpose, from a lambda at the call
      : obj_(&f), fn_([](void* o, const wire::tcp::repr* s, const segment_train* t) {
          auto& g = *static_cast<std::remove_reference_t<F>*>(o);
          if (s) return g(*s);
          if constexpr (std::is_invocable_v<decltype(g), const segment_train&>) {
            g(*t);
          } else {
            g(t->hdr);   // the head's payload span is still good: no send_buffer::at() since
            for (std::uint32_t i = 1; i < t->count; ++i) g(t->segment(i));
          }
        }) {}
  void operator()(const wire::tcp::repr& s) const { fn_(obj_, &s, nullptr); }
  void operator()(const segment_train& t) const { fn_(obj_, nullptr, &t); }

 private:
  // Two words, so the sink travels in registers through every engine call (a third pointer for
  // trains put it on the stack: +69 instructions per sent segment in bench_tcp tx, +1.4 % rr).
  void* obj_;
  void (*fn_)(void*, const wire::tcp::repr*, const segment_train*);
};

class connection {
 public:
  connection(const connection_config& cfg, std::uint16_t local_port, std::uint16_t remote_port);

  // Active open: CLOSED -> SYN_SENT, the SYN goes out with ISS = iss.
  void connect(std::uint32_t iss, time_ns now, segment_sink out);
  // Passive open: a listener's SYN (already checked by the listener) -> SYN_RECEIVED, SYN-ACK out.
  void accept(const wire::tcp::repr& syn, std::uint32_t iss, time_ns now, segment_sink out);
  // Passive open without a SYN_RECEIVED: the third ACK of a handshake whose SYN-ACK carried a SYN
  // cookie (syn_cookie::check passed it and restored the SYN's options) -> ESTABLISHED at once, the
  // ISS being the ACK's number less one; the ACK's window, data and FIN are taken as in ESTABLISHED
  // (what on_segment() says of the ACK).
  segment_result accept_cookie(const wire::tcp::repr& ack, const cookie_options& syn_options, time_ns now,
                               segment_sink out);

  // The TSval clock: milliseconds plus a per-connection offset (RFC 7323 5.4).
  static constexpr std::uint32_t timestamp_clock(time_ns now, std::uint32_t offset) noexcept {
    return static_cast<std::uint32_t>(now / stack::ms) + offset;
  }
  // RFC 7323 2.2: the smallest shift that lets a receive buffer this large be announced.
  static constexpr std::uint8_t window_shift(std::size_t recv_buffer) noexcept {
    std::uint8_t s = 0;
    while (s < wire::tcp::option::max_window_shift && (recv_buffer >> s) > 0xffff) ++s;
    return s;
  }

  // One segment for this connection (its 4-tuple matched; checksum verified by the caller); says
  // whether it was accepted or dropped, and why.
  segment_result on_segment(const wire::tcp::repr& seg, time_ns now, segment_sink out);
  // Runs the timers due at `now` (call when now >= next_deadline()).
  void on_timer(time_ns now, segment_sink out);
  time_ns next_deadline() const noexcept;

  // Queues bytes to send (what fits in the send buffer; 0 once the sending side is closed) and sends
  // what the windows allow.
  std::size_t send(std::span<const std::byte> data, time_ns now, segment_sink out);
  // Copies received in-order bytes out; a window update goes out when reading opened it enough.
  std::size_t receive(std::span<std::byte> buf, time_ns now, segment_sink out);
  // Receive bursts (what GRO and the delayed ACK give Linux: one ACK per NAPI poll of a bulk flow).
  // Between begin_burst() and end_burst() the ACK owed for every second full segment (RFC 5681 4.2)
  // waits for the burst's end instead of going out after each second segment; the immediate ACKs stay
  // immediate (out of order, hole filled, FIN, window update, the PAWS/acceptability answers), and a
  // segment sent meanwhile carries the ACK as always. end_burst() sends the ACK still owed: at least
  // one per burst that brought two full segments or more. The lane calls them around one rx burst.
  void begin_burst() noexcept { in_burst_ = true; }
  bool in_burst() const noexcept { return in_burst_; }
  // A pending read's buffer (issue 13 point 6: one copy less per byte). While it is set and no
  // received byte waits in the receive buffer, in-order payload goes from the segment straight into
  // it (what would not fit goes to the receive buffer as before); those bytes count as read the moment
  // they land: the window stays open, and the window update a read would cause is due (at the burst's
  // end inside a burst, as the every-second-segment ACK). The caller keeps `buf` alive until
  // take_posted(), which says how many bytes landed (at buf's front) and forgets the buffer.
  void post_read(std::span<std::byte> buf) noexcept {
    if (posted_n_ == 0) posted_buf_ = buf;
  }
  std::size_t take_posted() noexcept {
    const std::size_t n = posted_n_;
    posted_buf_ = {}, posted_n_ = 0;
    return n;
  }
  std::size_t posted() const noexcept { return posted_n_; }   // bytes in the posted buffer, not yet taken
  void end_burst(time_ns now, segment_sink out);
  // Sends FIN after the queued bytes (ESTABLISHED -> FIN_WAIT_1, CLOSE_WAIT -> LAST_ACK); idempotent.
  void close(time_ns now, segment_sink out);
  // Sends RST (in a synchronized state) and goes to CLOSED with close_reason::aborted.
  void abort(time_ns now, segment_sink out);

  // RFC 7323 5.4: the offset added to our timestamp clock. Set before connect()/accept() (the socket
  // table keys it by the address pair, as Linux does, so that a later incarnation of a 4-tuple sends
  // larger timestamps and RFC 6191 reuse works); unset, it is derived from the ISS.
  void set_ts_offset(std::uint32_t off) noexcept { ts_offset_ = off, ts_offset_set_ = true; }

  // Options the application changes on a live connection (TCP_NODELAY, SO_KEEPALIVE / TCP_KEEPIDLE).
  void set_nagle(bool on) noexcept { cfg_.nagle = on; }
  void set_keepalive(time_ns idle) noexcept {
    cfg_.keepalive_idle = idle;
    keepalive_at_ = idle && st_ == state::established ? last_heard_ + idle : never;
  }

  // RFC 6191: whether a new SYN for this TIME_WAIT connection's 4-tuple may reuse it (its timestamp,
  // or without timestamps its sequence number, is past what this incarnation saw).
  bool accepts_reuse(const wire::tcp::repr& syn) const noexcept;

  state current() const noexcept { return st_; }
  bool closed() const noexcept { return st_ == state::closed; }
  close_reason reason() const noexcept { return reason_; }
  std::size_t readable() const noexcept { return rcv_.readable(); }
  bool peer_closed() const noexcept { return fin_received_; }   // the peer's FIN arrived: no more bytes
  std::size_t send_room() const noexcept { return sending_closed_ ? 0 : snd_buf_.room(); }
  std::size_t unacked() const noexcept { return snd_buf_.size(); }
  // Heap the two buffers hold now (0 while idle; issue 12 point 3).
  std::size_t buffer_memory() const noexcept { return snd_buf_.memory() + rcv_.memory(); }
  const connection_counters& counters() const noexcept { return ctr_; }
  const congestion& congestion_state() const noexcept { return cc_; }
  const sack_scoreboard& scoreboard() const noexcept { return sb_; }
  const rack& rack_state() const noexcept { return rack_; }

  // Congestion and RTT state, as `ss -ti` shows it.
  std::uint32_t cwnd() const noexcept { return cwnd_; }
  std::uint32_t ssthresh() const noexcept { return ssthresh_; }
  time_ns srtt() const noexcept { return srtt_; }
  time_ns rttvar() const noexcept { return rttvar_; }
  time_ns rto() const noexcept { return rto_; }
  std::uint16_t send_mss() const noexcept { return smss_; }
  std::uint32_t send_window() const noexcept { return snd_wnd_; }
  std::uint8_t send_scale() const noexcept { return snd_scale_; }
  std::uint8_t recv_scale() const noexcept { return rcv_scale_; }
  bool timestamps_on() const noexcept { return ts_ok_; }
  bool sack_on() const noexcept { return sack_ok_; }
  std::uint32_t snd_una() const noexcept { return snd_una_; }
  std::uint32_t snd_nxt() const noexcept { return snd_nxt_; }
  std::uint32_t rcv_nxt() const noexcept { return rcv_nxt_; }

 private:
  bool synchronized() const noexcept { return st_ >= state::established || st_ == state::syn_received; }
  void open_passive(const wire::tcp::repr& syn, std::uint32_t iss, time_ns now) noexcept;
  void process(const wire::tcp::repr& seg, time_ns now, segment_sink out);   // on_segment's body
  void on_syn_sent(const wire::tcp::repr& seg, time_ns now, segment_sink out);
  bool acceptable(const wire::tcp::repr& seg) const noexcept;
  void take_options(const wire::tcp::repr& syn) noexcept;
  bool on_ack(const wire::tcp::repr& seg, time_ns now, segment_sink out);   // false: stop processing
  void on_data(const wire::tcp::repr& seg, time_ns now);
  void on_fin(time_ns now);
  void rtt_sample(time_ns r) noexcept;
  void enter_closed(close_reason why) noexcept;
  void enter_time_wait(time_ns now) noexcept;

  // Output. output() sends what may go now (data, FIN, a pending ACK); the others send one segment.
  void output(time_ns now, segment_sink out);
  void send_segment(std::uint32_t seq, std::uint8_t flags, std::span<const std::byte> payload, time_ns now,
                    segment_sink out);
  // send_segment's repr, with all its bookkeeping (the ACK sent, the window announced, OutSegs), not
  // yet handed to a sink: output() sends it alone or as the head of a train.
  wire::tcp::repr make_segment(std::uint32_t seq, std::uint8_t flags, std::span<const std::byte> payload,
                               time_ns now) noexcept;
  // n full-size ACK-only segments from `seq` (payload `off` bytes past SND.UNA), already accounted
  // for by output(): one segment_train, or the lone segment as send_segment sends it.
  void send_train(std::uint32_t seq, std::size_t off, std::uint32_t n, time_ns now, segment_sink out);
  // A segment without data carries SND.MAX, not SND.NXT (as BSD's tcp_output does): after an RTO
  // rewound SND.NXT, an ACK numbered below what the peer already received would fail its
  // acceptability test and never be read.
  void send_ack(time_ns now, segment_sink out) { send_segment(snd_max_, wire::tcp::flag::ack, {}, now, out); }
  void send_rst(std::uint32_t seq, time_ns now, segment_sink out);
  void challenge_ack(time_ns now, segment_sink out);
  void retransmit_first(time_ns now, segment_sink out);
  void sack_retransmit(time_ns now, segment_sink out);   // RFC 6675 5 (C): lost segments while cwnd - pipe >= SMSS
  bool sack_rescue(time_ns now, segment_sink out);       // RFC 6675 4 NextSeg rules 3 and 4
  std::uint32_t resend(std::uint32_t seq, std::uint32_t len, time_ns now, segment_sink out);   // bytes resent
  // RFC 6675's pipe in SACK recovery (RACK deciding what is lost when on); else FlightSize, less RFC
  // 3042's allowance on the first two duplicate ACKs (limited transmit: two new segments past cwnd).
  std::uint32_t in_flight() const noexcept {
    if (sack_ok_ && in_recovery_) return rack_on() ? rack_.pipe() : sb_.pipe(snd_una_, snd_max_, smss_);
    const std::uint32_t lt = cfg_.limited_transmit && !in_recovery_ ? std::min(dupacks_, 2u) * smss_ : 0;
    return flight() > lt ? flight() - lt : 0;
  }
  // RACK-TLP (RFC 8985), with SACK only (as Linux: without it a probe's repair cannot be told apart).
  bool rack_on() const noexcept { return cfg_.rack_tlp && sack_ok_; }
  void rack_on_ack(const wire::tcp::repr& seg, time_ns now, segment_sink out);
  void rack_detect(time_ns now, segment_sink out);     // marks lost, starts recovery, retransmits
  void rack_retransmit(time_ns now, segment_sink out); // the lost segments, while the pipe leaves room
  void arm_loss_probe(time_ns now) noexcept;            // RFC 8985 7.2
  bool loss_probe_allowed() const noexcept;
  void update_loss_probe(std::uint32_t una_before, std::uint32_t max_before, time_ns now) noexcept;
  std::uint32_t resend_record(const rack::record& x, time_ns now, segment_sink out);
  // RFC 7661 / Linux's tcp_cwnd_validate: after output() sent or held queued bytes, notes
  // whether the pipe filled cwnd and the most in flight in this window; is_cwnd_limited() reads it.
  void cwnd_validate(bool sent, bool queued) noexcept;
  bool is_cwnd_limited() const noexcept;
  // RFC 6937: prr_start() on entering recovery, prr_ack() for what an ACK delivered (sets cwnd).
  void prr_start() noexcept;
  void prr_ack(bool newly_lost) noexcept;
  // RFC 2883: the receiver notes a duplicate [left, right) for the next ACK; the sender reads one.
  void dsack_note(std::uint32_t left, std::uint32_t right) noexcept;
  bool dsack_check(const wire::tcp::repr& seg) noexcept;
  void dsack_on_data(const wire::tcp::repr& seg) noexcept;
  void send_loss_probe(time_ns now, segment_sink out);  // RFC 8985 7.3
  std::uint16_t window_to_announce() noexcept;
  std::uint32_t ts_now(time_ns now) const noexcept { return timestamp_clock(now, ts_offset_); }
  std::uint32_t flight() const noexcept { return snd_nxt_ - snd_una_; }
  void arm_rto(time_ns now) noexcept { rto_at_ = now + rto_; }
  void schedule_ack(time_ns now, bool at_once) noexcept;
  // Receiver SWS avoidance (RFC 9293 3.8.6.2.2): whether bytes just read (or posted) opened the window
  // by min(buffer / 2, MSS) past the edge already announced, so a window update is due.
  bool window_opened() const noexcept;

  connection_config cfg_;
  std::uint16_t local_port_, remote_port_;
  state st_ = state::closed;
  close_reason reason_ = close_reason::none;

  // Send sequence space (RFC 9293 3.3.1).
  std::uint32_t iss_ = 0, snd_una_ = 0, snd_nxt_ = 0, snd_max_ = 0;   // snd_max: highest ever sent
  std::uint32_t snd_wnd_ = 0, snd_wl1_ = 0, snd_wl2_ = 0, max_snd_wnd_ = 0;
  std::uint8_t snd_scale_ = 0;
  std::uint16_t smss_ = 536;   // RFC 9293 3.7.1: without an MSS option, 536
  // Receive sequence space.
  std::uint32_t irs_ = 0, rcv_nxt_ = 0, rcv_adv_ = 0;   // rcv_adv: the right edge we announced
  std::uint8_t rcv_scale_ = 0;
  bool ws_ok_ = false, ts_ok_ = false, sack_ok_ = false;
  std::uint32_t ts_recent_ = 0, last_ack_sent_ = 0, ts_offset_ = 0;
  bool ts_offset_set_ = false;
  bool fin_received_ = false, sending_closed_ = false, fin_sent_ = false;
  std::uint32_t fin_seq_ = 0;   // our FIN's sequence number once sent
  std::uint32_t fin_ooo_ = 0;   // the peer's FIN's sequence number, arrived and not yet counted
  bool fin_ooo_set_ = false;    // (a FIN past a gap: it counts when the gap fills)

  send_buffer snd_buf_;
  recv_buffer rcv_;

  // RTT and retransmission (RFC 6298).
  time_ns srtt_ = 0, rttvar_ = 0, rto_;
  bool rtt_timing_ = false;
  std::uint32_t rtt_seq_ = 0;
  time_ns rtt_start_ = 0;
  unsigned backoffs_ = 0;
  time_ns rto_at_ = never, delack_at_ = never, persist_at_ = never, keepalive_at_ = never, time_wait_at_ = never;
  unsigned keepalive_sent_ = 0;
  unsigned probes_ = 0;   // zero-window probes sent in a row
  bool force_ = false;    // the override timer fired: the next segment ignores sender SWS avoidance
  time_ns last_heard_ = 0;
  time_ns last_challenge_ = never;   // when the last challenge ACK went out (Linux's last_oow_ack_time)

  // Congestion control (RFC 5681, RFC 6582).
  std::uint32_t cwnd_ = 0, ssthresh_ = 0xffffffffu;
  congestion cc_;
  unsigned dupacks_ = 0;
  bool in_recovery_ = false;
  sack_scoreboard sb_;   // with SACK on: recovery by RFC 6675 (pipe) instead of RFC 6582
  std::uint32_t recover_ = 0;
  // Cwnd validation (Linux: is_cwnd_limited, max_packets_out, cwnd_usage_seq; here in bytes).
  bool cwnd_limited_ = false;
  std::uint32_t max_flight_ = 0;         // the most in flight at a send since cwnd_usage_seq_ was sent
  std::uint32_t cwnd_usage_seq_ = 0;     // SND.NXT when that window began: acknowledged, a new one starts
  // PRR (RFC 6937), in bytes. prr_out is what went out in this recovery: new data (SND.MAX past the
  // recovery point, set at its start) and prr_rxt_, the bytes resent.
  std::uint32_t prior_cwnd_ = 0, prr_delivered_ = 0, prr_rxt_ = 0;
  std::uint32_t ack_delivered_ = 0;      // this ACK's newly delivered bytes (cumulative + SACKed), for prr_ack
  bool ack_una_advanced_ = false;
  // DSACK to report in the next ACK (receiver side).
  std::uint32_t dsack_left_ = 0, dsack_right_ = 0;
  bool dsack_pending_ = false;
  std::uint32_t rescue_rxt_ = 0;   // RFC 6675 RescueRxt: the recovery point of the last rescue retransmission
  bool rescue_valid_ = false;
  rack rack_;                        // per-segment transmit times (RFC 8985 6), while data is in flight
  time_ns tlp_at_ = never;           // the probe timeout (PTO)
  std::uint32_t tlp_end_ = 0;        // TLP.end_seq: SND.MAX when the probe went out
  std::uint32_t tlp_tsval_ = 0;      // the probe's TSval: an ACK echoing an older one was for the original
  bool tlp_pending_ = false;         // a probe is out and not yet acknowledged (one per flight)
  bool tlp_retrans_ = false;         // the probe was a retransmission (not new data)

  // Delayed ACK (RFC 9293 3.8.6.3, RFC 5681 4.2).
  bool ack_now_ = false;
  bool in_burst_ = false;   // begin_burst() .. end_burst(): the every-second-segment ACK waits
  bool window_update_owed_ = false;   // bytes were posted inside a burst: end_burst() checks the window
  std::span<std::byte> posted_buf_;   // post_read(): where in-order payload goes while rcv_ is empty
  std::size_t posted_n_ = 0;          // bytes of it filled
  std::size_t unacked_rcv_bytes_ = 0;

  connection_counters ctr_;
  segment_result result_ = segment_result::accepted;   // what on_segment() returns; set where it drops
};

}  // namespace ringlab::tcp
