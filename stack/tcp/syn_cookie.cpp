#include "stack/tcp/syn_cookie.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstdlib>

#include "stack/tcp/seq.hpp"

namespace ringlab::tcp {

namespace {
constexpr std::uint32_t count_shift = 24;              // the counter's 8 bits sit above
constexpr std::uint32_t mac_mask = (1u << 22) - 1;     // 22 bits of MAC
constexpr std::uint32_t index_mask = 3;                // 2 bits: mss_table has 4 entries
static_assert(syn_cookie::mss_table.size() == index_mask + 1);
static_assert(crypto_shorthash_KEYBYTES == 16 && crypto_shorthash_BYTES == 8);
}  // namespace

syn_cookie::syn_cookie(std::uint64_t seed) noexcept {
  unsigned char s[randombytes_SEEDBYTES] = {};
  for (int i = 0; i < 8; ++i) s[i] = static_cast<unsigned char>(seed >> (8 * i));
  unsigned char both[2 * crypto_shorthash_KEYBYTES];
  randombytes_buf_deterministic(both, sizeof both, s);
  std::copy_n(both, 16, keys_[0].begin());
  std::copy_n(both + 16, 16, keys_[1].begin());
}

syn_cookie syn_cookie::from_os() noexcept {
  // Without a random source there is no secret to key cookies with: nothing sensible to go on with.
  if (sodium_init() < 0) std::abort();
  syn_cookie c;
  for (auto& k : c.keys_) randombytes_buf(k.data(), k.size());
  return c;
}

// SipHash-2-4 over (remote address, local address, remote port, local port, count, seq, data) in
// network order, the low 32 bits of its 64 (as Linux's siphash_4u32 is used).
std::uint32_t syn_cookie::hash(std::size_t key, const flow& f, std::uint32_t count, std::uint32_t seq,
                               std::uint32_t data) const noexcept {
  std::byte in[24];
  f.remote_addr.store(in);
  f.local_addr.store(in + 4);
  wire::store_be16(in + 8, f.remote_port);
  wire::store_be16(in + 10, f.local_port);
  wire::store_be32(in + 12, count);
  wire::store_be32(in + 16, seq);
  wire::store_be32(in + 20, data);
  unsigned char h[crypto_shorthash_BYTES];
  crypto_shorthash(h, reinterpret_cast<const unsigned char*>(in), sizeof in, keys_[key].data());
  return std::uint32_t{h[0]} | std::uint32_t{h[1]} << 8 | std::uint32_t{h[2]} << 16 | std::uint32_t{h[3]} << 24;
}

// Linux's secure_tcp_ts_off: a per-flow offset, so TSvals tell nothing about other flows or uptime.
std::uint32_t syn_cookie::ts_offset(const flow& f) const noexcept { return hash(0, f, 0, 0, 1); }

syn_cookie::cookie syn_cookie::make(const flow& f, std::uint32_t peer_isn, const wire::tcp::options_repr& syn,
                                    time_ns now) const noexcept {
  const std::uint16_t mss = syn.mss.value_or(536);   // RFC 9293 3.7.1: no option means 536
  std::uint32_t index = index_mask;
  while (index > 0 && mss < mss_table[index]) --index;
  const std::uint32_t count = counter(now);
  cookie c;
  c.iss = hash(0, f, 0, 0, 0) + peer_isn + (count << count_shift) + ((hash(1, f, count, peer_isn, index) & mac_mask) << 2 | index);
  c.mss = mss_table[index];
  if (syn.ts) {
    std::uint32_t bits = syn.window_scale ? std::min<std::uint8_t>(*syn.window_scale, wire::tcp::option::max_window_shift)
                                          : ts_no_window_scale;
    if (syn.sack_permitted) bits |= ts_sack;
    const std::uint32_t clock = connection::timestamp_clock(now, ts_offset(f));
    std::uint32_t ts = (clock >> ts_bits << ts_bits) | bits;
    if (seq_gt(ts, clock)) ts -= 1u << ts_bits;   // never ahead of the clock
    c.tsval = ts;
  }
  return c;
}

std::optional<cookie_options> syn_cookie::check(const flow& f, const wire::tcp::repr& ack, time_ns now) const noexcept {
  namespace flag = wire::tcp::flag;
  if (!ack.has(flag::ack) || ack.has(flag::syn) || ack.has(flag::rst)) return std::nullopt;
  const std::uint32_t iss = ack.ack - 1, peer_isn = ack.seq - 1;
  const std::uint32_t c = iss - hash(0, f, 0, 0, 0) - peer_isn;
  const std::uint32_t count = counter(now);
  const std::uint32_t age = (count - (c >> count_shift)) & 0xff;
  if (age >= max_age) return std::nullopt;   // stale, or from a counter not reached yet
  const std::uint32_t index = c & index_mask;
  if (((c >> 2) & mac_mask) != (hash(1, f, count - age, peer_isn, index) & mac_mask)) return std::nullopt;
  cookie_options o;
  o.mss = mss_table[index];
  if (ack.opts.ts) {
    const std::uint32_t bits = ack.opts.ts->echo & ((1u << ts_bits) - 1);
    if (bits & ts_ecn) return std::nullopt;   // never sent by make()
    o.timestamps = true;
    o.sack = (bits & ts_sack) != 0;
    if ((bits & ts_no_window_scale) != ts_no_window_scale) o.window_scale = static_cast<std::uint8_t>(bits & 0xf);
  }
  return o;
}

wire::tcp::repr syn_cookie::syn_ack(const flow& f, const wire::tcp::repr& syn, const connection_config& cfg,
                                    time_ns now) const noexcept {
  const cookie c = make(f, syn.seq, syn.opts, now);
  wire::tcp::repr r;
  r.src_port = f.local_port;
  r.dst_port = f.remote_port;
  r.seq = c.iss;
  r.ack = syn.seq + 1;
  r.flags = wire::tcp::flag::syn | wire::tcp::flag::ack;
  r.window = static_cast<std::uint16_t>(std::min<std::size_t>(cfg.recv_buffer, 0xffff));   // unscaled in a SYN
  r.opts.mss = cfg.mss;
  if (cfg.timestamps && c.tsval) {
    r.opts.ts = wire::tcp::timestamps{*c.tsval, syn.opts.ts->value};
    if (cfg.window_scaling && syn.opts.window_scale) r.opts.window_scale = connection::window_shift(cfg.recv_buffer);
    if (cfg.sack && syn.opts.sack_permitted) r.opts.sack_permitted = true;
  }
  return r;
}

}  // namespace ringlab::tcp
