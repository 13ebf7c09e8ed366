#pragma once
// stack::tcp_lane_counters: one lane's TCP counters, each named as Linux's `nstat` names it (the Tcp
// MIB of RFC 4022 and the TcpExt counters), and the `nstat -az` printer.
//
// How they add up, exactly: a counter that a connection keeps (tcp::connection_counters: segments in
// and out, retransmissions, timeouts, challenge ACKs, PAWS, out-of-order ...) is the sum over the live
// connections plus what retired (freed) connections had when they were freed; the lane adds what
// belongs to no connection (segments for no socket, dropped at a listener or before a lookup, RSTs
// the table sends, listener overflows). So InSegs is every TCP segment the lane received, OutSegs
// every segment it sent, whichever side of the table decided. CurrEstab is a gauge: the connections
// in ESTABLISHED or CLOSE_WAIT now (RFC 4022 tcpCurrEstab).
#include <cstdint>
#include <string>

namespace ringlab::stack {

struct tcp_lane_counters {
  // Tcp (RFC 4022)
  std::uint64_t active_opens = 0;      // TcpActiveOpens: connect() sent a SYN
  std::uint64_t passive_opens = 0;     // TcpPassiveOpens: a listener's connection completed its handshake
  std::uint64_t attempt_fails = 0;     // TcpAttemptFails: SYN_SENT or SYN_RECEIVED -> CLOSED
  std::uint64_t estab_resets = 0;      // TcpEstabResets: ESTABLISHED or CLOSE_WAIT -> CLOSED (RST either way)
  std::uint64_t curr_estab = 0;        // TcpCurrEstab (a gauge)
  std::uint64_t in_segs = 0;           // TcpInSegs
  std::uint64_t out_segs = 0;          // TcpOutSegs
  std::uint64_t retrans_segs = 0;      // TcpRetransSegs
  std::uint64_t in_errs = 0;           // TcpInErrs: bad checksum, bad header or options
  std::uint64_t out_rsts = 0;          // TcpOutRsts
  std::uint64_t in_csum_errors = 0;    // TcpInCsumErrors
  // TcpExt
  std::uint64_t listen_overflows = 0;  // ListenOverflows: accept queue full
  std::uint64_t listen_drops = 0;      // ListenDrops: every SYN or handshake ACK a listener dropped
  std::uint64_t timeouts = 0;          // TCPTimeouts: RTO expiries
  std::uint64_t syn_retrans = 0;       // TCPSynRetrans
  std::uint64_t fast_retrans = 0;      // TCPFastRetrans
  std::uint64_t sack_recovery = 0;     // TCPSackRecovery: recoveries with SACK (RFC 6675, RACK)
  std::uint64_t reno_recovery = 0;     // TCPRenoRecovery: recoveries without (RFC 6582)
  std::uint64_t loss_probes = 0;       // TCPLossProbes: tail-loss probes sent (RFC 8985 7)
  std::uint64_t loss_probe_recovery = 0;   // TCPLossProbeRecovery: a probe repaired a tail loss
  std::uint64_t sack_reorder = 0;      // TCPSACKReorder: reordering seen (RACK, RFC 8985 6.2)
  std::uint64_t challenge_acks = 0;    // TCPChallengeACK
  std::uint64_t challenge_acks_skipped = 0;   // TCPACKSkippedChallenge: rate-limited (RFC 5961 7)
  std::uint64_t paws_estab = 0;        // PAWSEstab
  std::uint64_t ofo_queue = 0;         // TCPOFOQueue
  std::uint64_t ofo_drop = 0;          // TCPOFODrop
  std::uint64_t delayed_acks = 0;      // DelayedACKs
  std::uint64_t keepalive = 0;         // TCPKeepAlive: probes sent
  std::uint64_t syncookies_sent = 0;   // SyncookiesSent
  std::uint64_t syncookies_recv = 0;   // SyncookiesRecv
  std::uint64_t syncookies_failed = 0; // SyncookiesFailed
  // TWRecycled: a SYN took over a TIME_WAIT 4-tuple (RFC 6191). Linux counts this name when connect()
  // reuses a TIME_WAIT 4-tuple (tcp_tw_reuse, __inet_check_established) and counts nothing when a SYN
  // takes over its passive TIME_WAIT (tcp_timewait_state_process: TCP_TW_SYN); ours is that one.
  std::uint64_t time_wait_reuse = 0;
  std::uint64_t dsack_old_sent = 0;    // TCPDSACKOldSent: DSACKs sent for data below RCV.NXT (RFC 2883)
  std::uint64_t dsack_ofo_sent = 0;    // TCPDSACKOfoSent: DSACKs sent for out-of-order data
  std::uint64_t dsack_recv = 0;        // TCPDSACKRecv: DSACKs received below the ACK
  std::uint64_t dsack_ofo_recv = 0;    // TCPDSACKOfoRecv: DSACKs received inside another SACK block
  std::uint64_t abort_on_close = 0;    // TCPAbortOnClose: closed with unread bytes: RST instead of FIN
};

// The counters by nstat name, in the order `nstat -az` prints them (Tcp first, then TcpExt).
struct tcp_counter_name {
  const char* name;
  std::uint64_t tcp_lane_counters::*field;
};
inline constexpr tcp_counter_name tcp_counter_names[] = {
    {"TcpActiveOpens", &tcp_lane_counters::active_opens},
    {"TcpPassiveOpens", &tcp_lane_counters::passive_opens},
    {"TcpAttemptFails", &tcp_lane_counters::attempt_fails},
    {"TcpEstabResets", &tcp_lane_counters::estab_resets},
    {"TcpCurrEstab", &tcp_lane_counters::curr_estab},
    {"TcpInSegs", &tcp_lane_counters::in_segs},
    {"TcpOutSegs", &tcp_lane_counters::out_segs},
    {"TcpRetransSegs", &tcp_lane_counters::retrans_segs},
    {"TcpInErrs", &tcp_lane_counters::in_errs},
    {"TcpOutRsts", &tcp_lane_counters::out_rsts},
    {"TcpInCsumErrors", &tcp_lane_counters::in_csum_errors},
    // TcpExt in the order of net/ipv4/proc.c's snmp4_net_list (what /proc/net/netstat and nstat print).
    {"TcpExtSyncookiesSent", &tcp_lane_counters::syncookies_sent},
    {"TcpExtSyncookiesRecv", &tcp_lane_counters::syncookies_recv},
    {"TcpExtSyncookiesFailed", &tcp_lane_counters::syncookies_failed},
    {"TcpExtTWRecycled", &tcp_lane_counters::time_wait_reuse},
    {"TcpExtPAWSEstab", &tcp_lane_counters::paws_estab},
    {"TcpExtDelayedACKs", &tcp_lane_counters::delayed_acks},
    {"TcpExtListenOverflows", &tcp_lane_counters::listen_overflows},
    {"TcpExtListenDrops", &tcp_lane_counters::listen_drops},
    {"TcpExtTCPRenoRecovery", &tcp_lane_counters::reno_recovery},
    {"TcpExtTCPSackRecovery", &tcp_lane_counters::sack_recovery},
    {"TcpExtTCPSACKReorder", &tcp_lane_counters::sack_reorder},
    {"TcpExtTCPFastRetrans", &tcp_lane_counters::fast_retrans},
    {"TcpExtTCPTimeouts", &tcp_lane_counters::timeouts},
    {"TcpExtTCPLossProbes", &tcp_lane_counters::loss_probes},
    {"TcpExtTCPLossProbeRecovery", &tcp_lane_counters::loss_probe_recovery},
    {"TcpExtTCPDSACKOldSent", &tcp_lane_counters::dsack_old_sent},
    {"TcpExtTCPDSACKOfoSent", &tcp_lane_counters::dsack_ofo_sent},
    {"TcpExtTCPDSACKRecv", &tcp_lane_counters::dsack_recv},
    {"TcpExtTCPDSACKOfoRecv", &tcp_lane_counters::dsack_ofo_recv},
    {"TcpExtTCPAbortOnClose", &tcp_lane_counters::abort_on_close},
    {"TcpExtTCPOFOQueue", &tcp_lane_counters::ofo_queue},
    {"TcpExtTCPOFODrop", &tcp_lane_counters::ofo_drop},
    {"TcpExtTCPChallengeACK", &tcp_lane_counters::challenge_acks},
    {"TcpExtTCPSynRetrans", &tcp_lane_counters::syn_retrans},
    {"TcpExtTCPACKSkippedChallenge", &tcp_lane_counters::challenge_acks_skipped},
    {"TcpExtTCPKeepAlive", &tcp_lane_counters::keepalive},
};

// As `nstat -az` prints them: "#kernel", then one line per counter, name, value and a rate column
// (0.0: a snapshot has no rate), zeros included.
std::string to_nstat(const tcp_lane_counters& c);

}  // namespace ringlab::stack
