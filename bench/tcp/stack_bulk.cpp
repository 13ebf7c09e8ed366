// bulk/stack: the whole TCP path between two stack::interfaces on one core (issue 12 point 7): a's
// tcp_socket::send(), the engine, ip_output (IPv4 + Ethernet, checksums in software), the frame
// through an in-memory port pair (mem_wire.hpp: one frame pool, no copy on the "wire"), b's
// rx_pipeline (Ethernet, IPv4, TCP parse, checksum verified, 4-tuple lookup), the engine, the
// application's tcp_socket::receive(), and the ACKs back the same way. Virtual time, as bulk/engine.
#include "bench/tcp/stack_bulk.hpp"

#include <memory>
#include <optional>
#include <vector>

#include "bench/cpu.hpp"
#include "bench/tcp/mem_wire.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/tcp_listener.hpp"
#include "stack/socket/tcp_socket.hpp"

namespace ringlab::bench::tcp {

namespace {

struct stack_pair {
  port::frame_pool pool{port::frame_pool_config{.frames = 4096, .frame_size = 2048, .headroom = 256}};
  mem_port pa{pool, "mem:a"}, pb{pool, "mem:b"};
  std::optional<stack::interface> a, b;
  std::optional<stack::tcp_listener> listener;
  std::optional<stack::tcp_socket> client;
  std::unique_ptr<stack::tcp_socket> server;
  stack::time_ns now = 1'000'000;

  // Both interfaces poll until neither has a frame waiting (each poll takes one rx burst).
  void poll_all() {
    do {
      a->poll(now);
      b->poll(now);
    } while (pa.pending_rx() || pb.pending_rx());
  }

  bool open() {
    pa.connect(pb);
    pb.connect(pa);
    stack::interface_config ca, cb;
    ca.mac = wire::mac_addr{0x02, 0, 0, 0, 0, 0x01};
    ca.addr = wire::ipv4_addr{10, 0, 0, 1};
    cb.mac = wire::mac_addr{0x02, 0, 0, 0, 0, 0x02};
    cb.addr = wire::ipv4_addr{10, 0, 0, 2};
    a.emplace(pa, ca);
    b.emplace(pb, cb);
    listener.emplace(*b);
    if (listener->bind({cb.addr, 5001}) || listener->listen(8)) return false;
    client.emplace(*a);
    if (client->connect({cb.addr, 5001}, now)) return false;
    for (int i = 0; i < 100 && !server; ++i) {
      poll_all();
      std::unique_ptr<stack::tcp_socket> s;
      if (!listener->accept(s)) server = std::move(s);
      now += 10'000;
    }
    poll_all();
    return server && client->connected() && server->connected();
  }
};

}  // namespace

void bulk_stack(benchmark::State& st, std::size_t bulk_bytes, double mss_unit) {
  stack_pair p;
  if (!p.open()) return st.SkipWithError("the two interfaces did not connect");
  std::vector<std::byte> data(64 * 1024), app(64 * 1024);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 7 + (i >> 8));
  std::uint64_t bytes = 0;
  for (auto _ : st) {
    const std::uint64_t c0 = bench::thread_cpu_ns();
    std::size_t got = 0;
    for (int idle = 0; got < bulk_bytes;) {
      p.client->send(data, p.now);
      p.poll_all();
      std::size_t round = 0;
      for (;;) {
        const auto r = p.server->receive(app, p.now);
        if (r.ec || r.bytes == 0) break;
        round += r.bytes;
      }
      p.poll_all();
      p.now += 10'000;
      got += round;
      // Nothing moved for 10 s of virtual time: stuck (a lost frame would be a bug of the wire or stack).
      if (round == 0 && ++idle > 1'000'000) return st.SkipWithError("bulk/stack: no progress");
      if (round) idle = 0;
    }
    st.SetIterationTime(static_cast<double>(bench::thread_cpu_ns() - c0) * 1e-9);
    bytes += got;
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  st.SetItemsProcessed(static_cast<std::int64_t>(static_cast<double>(bytes) / mss_unit));
  st.counters["retrans_segs"] = static_cast<double>(p.client->counters().retrans_segs);
  st.counters["frames_per_mss"] =
      static_cast<double>(p.pa.tx_frames() + p.pb.tx_frames()) / (static_cast<double>(bytes) / mss_unit);
}

}  // namespace ringlab::bench::tcp
