#pragma once
// SYN cookies (RFC 4987 3.6) for a listener whose SYN queue is full: the SYN-ACK's ISS carries what
// the connection needs, so the SYN leaves no state behind; the handshake's third ACK brings the ISS
// back (its ACK number less one), is checked, and becomes a connection (connection::accept_cookie).
//
// The layout is Linux's (net/ipv4/syncookies.c): the peer's ISN and a keyed hash of the 4-tuple are
// added to the counter and the MAC, so a cookie looks like any other ISS and differs per flow.
//
//   ISS = H0(4-tuple) + peer's ISN + ( counter << 24 | MAC << 2 | index )
//                                      8 bits        22 bits    2 bits: mss_table
//
// counter: minutes on the caller's clock (`now`); a cookie is good while the counter is less than
// max_age minutes past the one it was made in (Linux's MAX_SYNCOOKIE_AGE), so 1 to 2 minutes. The MAC
// covers the whole minute count (32 bits, as Linux's tcp_cookie_time()), not only the 8 bits the
// cookie carries: an ACK replayed when those 8 bits come round again (256 minutes on) fails its MAC.
// Unlike Linux, whose low 24 bits are (hash + index) so that an ACK number off by one still decodes
// to a neighbouring MSS index, the MAC covers the index as FreeBSD's syncache cookies do: any other
// ACK number fails the MAC (a forger's chance is 2^-22 per try, as for Linux's 2^24 / 4 values).
//
// With timestamps on, the low 6 bits of our TSval carry the rest of the SYN's options (Linux's
// cookie_init_timestamp), and the peer echoes them in the ACK's TSecr:
//
//   TSval = | clock bits 31..6 | ECN (always 0) | SACK | window scale 3..0 (0xf: none) |
//
// The TSval is a millisecond clock with a per-flow offset (ts_offset(), as Linux's secure_tcp_ts_off)
// whose low bits are replaced, taken one step back if that went past the clock; the connection the
// cookie becomes continues its clock from the echoed TSval (connection::accept_cookie), so the peer
// never sees our TSvals run backwards. Without timestamps the SYN-ACK offers neither window scaling
// nor SACK (there is nowhere to keep them), as Linux does.
//
// The hashes are SipHash-2-4 (libsodium's crypto_shorthash) under two 128-bit keys; keys come from a
// seed (deterministic runs on the virtual clock) or from the OS.
//
// The keys do not rotate, as Linux's do not (syncookie_secret, drawn once by net_get_random_once):
// what ends a cookie's life is the counter under the MAC, so a captured cookie ACK is good for 2
// minutes at most and never again.
//
// Not done: the TSecr bits are not covered by the MAC (as in Linux: a peer that completes the
// handshake chooses its options anyway); ECN is never offered.
#include <array>
#include <cstdint>
#include <optional>

#include "stack/iface/time.hpp"
#include "stack/tcp/connection.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/tcp.hpp"

namespace ringlab::tcp {

// What a SYN offered, as its cookie brings it back.
struct cookie_options {
  std::uint16_t mss = 536;                    // the peer's MSS, rounded down to syn_cookie::mss_table
  std::optional<std::uint8_t> window_scale;   // the peer's shift
  bool sack = false;
  bool timestamps = false;
  friend bool operator==(const cookie_options&, const cookie_options&) noexcept = default;
};

class syn_cookie {
 public:
  // Linux's table: the MSS values seen most on the Internet, sorted; a peer's MSS is rounded down to
  // one (anything under 1300 becomes 536).
  static constexpr std::array<std::uint16_t, 4> mss_table{536, 1300, 1440, 1460};
  static constexpr time_ns period = 60 * stack::sec;   // one counter step
  static constexpr std::uint32_t max_age = 2;          // counter steps
  static constexpr unsigned ts_bits = 6;
  static constexpr std::uint32_t ts_no_window_scale = 0xf, ts_sack = 1u << 4, ts_ecn = 1u << 5;

  // The 4-tuple as the listener sees it: local is ours.
  struct flow {
    wire::ipv4_addr local_addr, remote_addr;
    std::uint16_t local_port = 0, remote_port = 0;
  };
  struct cookie {
    std::uint32_t iss = 0;
    std::optional<std::uint32_t> tsval;   // when the SYN offered timestamps
    std::uint16_t mss = 0;                // the peer's MSS as the cookie keeps it
  };

  // Keys expanded from `seed` (libsodium's randombytes_buf_deterministic): the same seed, the same cookies.
  explicit syn_cookie(std::uint64_t seed) noexcept;
  // Keys from the OS's random source.
  static syn_cookie from_os() noexcept;

  // The cookie for a SYN with sequence number `peer_isn` and options `syn`.
  cookie make(const flow& f, std::uint32_t peer_isn, const wire::tcp::options_repr& syn, time_ns now) const noexcept;
  // The options of the SYN whose cookie `ack` returns, or nothing: not a plain ACK, another 4-tuple,
  // a counter out of date, a MAC that does not match (a forged or wrong ACK number), or TSecr bits we
  // never send.
  std::optional<cookie_options> check(const flow& f, const wire::tcp::repr& ack, time_ns now) const noexcept;

  // The SYN-ACK carrying the cookie: the options a connection configured with `cfg` answers this SYN
  // with (as connection::accept does), the cookie as ISS and TSval.
  wire::tcp::repr syn_ack(const flow& f, const wire::tcp::repr& syn, const connection_config& cfg,
                          time_ns now) const noexcept;

 private:
  syn_cookie() noexcept = default;
  std::uint32_t hash(std::size_t key, const flow& f, std::uint32_t count, std::uint32_t seq,
                     std::uint32_t data) const noexcept;
  std::uint32_t ts_offset(const flow& f) const noexcept;
  static std::uint32_t counter(time_ns now) noexcept { return static_cast<std::uint32_t>(now / period); }

  std::array<std::array<unsigned char, 16>, 2> keys_{};   // crypto_shorthash_KEYBYTES each
};

}  // namespace ringlab::tcp
