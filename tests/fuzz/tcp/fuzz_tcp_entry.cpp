#include "tests/fuzz/tcp/fuzz_tcp_entry.hpp"

#include <cstdlib>
#include <span>
#include <vector>

#include "stack/tcp/connection.hpp"
#include "stack/tcp/seq.hpp"

namespace {

using namespace ringlab;

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

int ringlab_fuzz_tcp(const std::uint8_t* data, std::size_t size) {
  ringlab_fuzz_tcp_run(data, size);
  return 0;
}

ringlab_fuzz_tcp_result ringlab_fuzz_tcp_run(const std::uint8_t* data, std::size_t size) {
  ringlab_fuzz_tcp_result res;
  tcp::connection_config cfg;
  cfg.send_buffer = cfg.recv_buffer = 16 * 1024;
  tcp::connection c(cfg, 80, 40000);
  std::vector<std::byte> out_bytes;
  std::size_t emitted = 0;
  auto sink = [&](const wire::tcp::repr& r) {
    // Every segment the engine makes must emit and parse back to itself.
    out_bytes.resize(r.buffer_len());
    check(r.emit(out_bytes, {}, {}) == out_bytes.size());
    const auto back = wire::tcp::repr::parse(*wire::tcp::view::check(out_bytes), {}, {});
    check(back && *back == r);
    ++emitted;
  };
  // Start from an accepted connection: a SYN with every option, then the peer's ACK.
  wire::tcp::repr syn;
  syn.src_port = 40000, syn.dst_port = 80, syn.seq = 100, syn.flags = wire::tcp::flag::syn, syn.window = 65535;
  syn.opts.mss = 1460, syn.opts.window_scale = 7, syn.opts.sack_permitted = true;
  syn.opts.ts = wire::tcp::timestamps{1, 0};
  stack::time_ns now = 0;
  c.accept(syn, 5000, now, sink);
  std::vector<std::byte> app(4096, std::byte{0x61});
  std::vector<std::byte> rd(4096);
  std::size_t i = 0;
  while (i + 2 <= size) {
    now += stack::time_ns{data[i]} * stack::ms;
    const std::uint8_t op = data[i + 1];
    i += 2;
    if (c.next_deadline() <= now) {
      c.on_timer(now, sink);
      check(c.closed() || c.next_deadline() > now || c.next_deadline() == stack::never);
    }
    switch (op % 8) {
      case 0:
      case 1:
      case 2:
      case 3: {   // a segment from the peer
        if (i + 2 > size) break;
        const std::size_t len = std::min<std::size_t>(static_cast<std::size_t>(data[i]) << 8 | data[i + 1], size - i - 2);
        const std::span<const std::byte> seg{reinterpret_cast<const std::byte*>(data + i + 2), len};
        i += 2 + len;
        const auto v = wire::tcp::view::check(seg);
        if (!v) break;
        const auto r = wire::tcp::repr::parse(*v, {}, {}, wire::csum::offload);
        if (!r) break;
        c.on_segment(*r, now, sink);
        break;
      }
      case 4: c.send({app.data(), static_cast<std::size_t>(op) * 16 % app.size()}, now, sink); break;
      case 5: res.bytes_read += c.receive({rd.data(), static_cast<std::size_t>(op) * 16 % rd.size() + 1}, now, sink); break;
      case 6: if (op == 6) c.close(now, sink); break;
      case 7: if (op == 7) c.abort(now, sink); break;
    }
    check(tcp::seq_le(c.snd_una(), c.snd_nxt()));
    check(c.readable() <= cfg.recv_buffer);
    check(c.unacked() <= cfg.send_buffer);
  }
  res.final_state = c.current();
  res.reason = c.reason();
  res.segments_out = emitted;
  res.counters = c.counters();
  return res;
}
