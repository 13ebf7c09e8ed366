#pragma once
// The TCP interop's moving parts, shared by the AF_XDP and the DPDK tests: our stack (stack::interface
// over the port, stack::tcp_socket / tcp_listener) in ns us, Linux's TCP (linux_tcp.hpp) in ns peer,
// one thread driving both (drive()), and the two ways a connection starts (Linux connects to our
// listener, or we connect to Linux's), and exchange(): both directions at once, each checked byte by
// byte and by SHA-256.
//
//   ns us: va<pid>, our stack 10.77.0.1             ns peer: vb<pid> 10.77.0.2, Linux's TCP
//     listener :5001, connect() from 40000-40999  ◄═ veth ═►  listener :5001, connect() from its own
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "stack/iface/interface.hpp"
#include "stack/socket/tcp_info.hpp"
#include "stack/socket/tcp_lane_counters.hpp"
#include "stack/socket/tcp_listener.hpp"
#include "stack/socket/tcp_socket.hpp"
#include "tests/netns/interop/interop_link.hpp"
#include "tests/netns/tcp_interop/byte_stream.hpp"
#include "tests/netns/tcp_interop/linux_tcp.hpp"

namespace ringlab::test_tcp_interop {

namespace ti = ringlab::test_interop;
using std::chrono::milliseconds;

inline constexpr std::uint16_t listen_port = 5001;                        // ours and Linux's
inline constexpr std::uint16_t ephemeral_first = 40000, ephemeral_last = 40999;   // our connect()s'
// The port spec's options our stack needs: its listener's port and the ephemeral range, both to the
// socket (the range is what an active open's return traffic goes to).
inline std::string spec_ports() {
  return "tcp=" + std::to_string(listen_port) + ",tcp=" + std::to_string(ephemeral_first) + "-" +
         std::to_string(ephemeral_last);
}

inline stack::interface_config our_config(const ti::interop_link& net) {
  return {.mac = net.our_mac, .addr = ti::our_addr, .prefix_len = 24, .ephemeral_first = ephemeral_first,
          .ephemeral_last = ephemeral_last};
}

inline stack::time_ns now_ns() { return ti::monotonic_ns(); }

// Polls `ifc` and runs step() (true: it moved something) until done() or the timeout; sleeps 50 us
// only when neither the stack nor the step had anything to do. Returns done()'s last value.
template <class Step, class Done>
bool drive(stack::interface& ifc, Step step, Done done, milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const stack::time_ns now = now_ns();
    const std::uint64_t before = ifc.counters().rx_frames + ifc.counters().tx_frames;
    ifc.poll(now);
    const bool moved = step(now);
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    if (!moved && ifc.counters().rx_frames + ifc.counters().tx_frames == before)
      std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}
// Only the stack moves (timers, ACKs) for `d`.
inline void idle(stack::interface& ifc, milliseconds d) {
  drive(ifc, [](stack::time_ns) { return false; }, [] { return false; }, d);
}

// One connection, both ends, and who opened it.
enum class role { linux_client, we_client };
inline const char* to_string(role r) { return r == role::linux_client ? "linux_client" : "we_client"; }

struct connection {
  std::unique_ptr<stack::tcp_listener> our_listener;   // linux_client
  std::unique_ptr<linux_tcp> linux_listener;           // we_client
  std::unique_ptr<stack::tcp_socket> ours;
  std::unique_ptr<linux_tcp> theirs;
  std::string error;                                   // empty: connected
};

inline connection failed(connection& c, std::string why) {
  c.error = std::move(why);
  return std::move(c);
}

// Per-socket settings for the Linux end, applied before it connects or listens.
struct linux_options {
  std::string congestion;        // "": the namespace's default
  std::uint16_t bind_port = 0;   // linux_client: its source port (0: the kernel picks)
};

inline std::unique_ptr<linux_tcp> linux_socket(const ti::interop_link& net, const linux_options& o, std::string& error) {
  auto s = std::make_unique<linux_tcp>(net.peer);
  if (!o.congestion.empty())
    if (int e = s->congestion(o.congestion)) error = "TCP_CONGESTION " + o.congestion + ": " + std::strerror(e);
  return s;
}

// Linux connects to our listener (which the connection keeps, for a reconnect).
inline connection linux_connects(ti::interop_link& net, stack::interface& ifc, const linux_options& o = {},
                                 std::unique_ptr<stack::tcp_listener> listener = nullptr) {
  connection c;
  if (!listener) {
    listener = std::make_unique<stack::tcp_listener>(ifc);
    if (auto ec = listener->bind({ti::our_addr, listen_port})) return failed(c, "our bind: " + ec.message());
    if (auto ec = listener->listen(16)) return failed(c, "our listen: " + ec.message());
  }
  c.our_listener = std::move(listener);
  c.theirs = linux_socket(net, o, c.error);
  if (!c.error.empty()) return c;
  if (o.bind_port) {
    c.theirs->reuse_addr();
    if (int e = c.theirs->bind(ti::peer_ip, o.bind_port)) return failed(c, std::string("Linux bind: ") + std::strerror(e));
  }
  if (int e = c.theirs->connect(ti::our_ip, listen_port); e && e != EINPROGRESS)
    return failed(c, std::string("Linux connect: ") + std::strerror(e));
  const bool ok = drive(
      ifc,
      [&](stack::time_ns) {
        if (!c.ours) c.our_listener->accept(c.ours);
        return false;
      },
      [&] { return c.ours && c.theirs->info().tcpi_state == TCP_ESTABLISHED; }, milliseconds(5000));
  if (!ok)
    c.error = std::string("no connection within 5 s: accepted ") + (c.ours ? "yes" : "no") + ", Linux's state " +
              std::to_string(c.theirs->info().tcpi_state) + ", SO_ERROR " + std::strerror(c.theirs->so_error());
  return c;
}

// We connect to Linux's listener, from an ephemeral port of ours.
inline connection we_connect(ti::interop_link& net, stack::interface& ifc, const linux_options& o = {}) {
  connection c;
  c.linux_listener = linux_socket(net, o, c.error);
  if (!c.error.empty()) return c;
  c.linux_listener->reuse_addr();
  if (int e = c.linux_listener->bind(ti::peer_ip, listen_port)) return failed(c, std::string("Linux bind: ") + std::strerror(e));
  if (int e = c.linux_listener->listen(16)) return failed(c, std::string("Linux listen: ") + std::strerror(e));
  c.ours = std::make_unique<stack::tcp_socket>(ifc);
  if (auto ec = c.ours->connect({ti::peer_addr, listen_port}, now_ns())) return failed(c, "our connect: " + ec.message());
  const bool ok = drive(
      ifc,
      [&](stack::time_ns) {
        if (!c.theirs)
          if (int fd = c.linux_listener->accept(); fd >= 0) c.theirs = std::make_unique<linux_tcp>(fd);
        return false;
      },
      [&] { return c.theirs && c.ours->state() == tcp::state::established; }, milliseconds(5000));
  if (!ok)
    c.error = std::string("no connection within 5 s: Linux accepted ") + (c.theirs ? "yes" : "no") + ", our state " +
              tcp::to_string(c.ours->state()) + ", our error '" + c.ours->error().message() + "'";
  return c;
}

inline connection open(role r, ti::interop_link& net, stack::interface& ifc, const linux_options& o = {}) {
  return r == role::linux_client ? linux_connects(net, ifc, o) : we_connect(net, ifc, o);
}

// Both directions at once: `up` from us to Linux, `down` from Linux to us. shut_up / shut_down: that
// sender shuts its send side after its last byte, and the exchange ends only when that receiver has
// read to EOF. Fills `error` (and stops) at the first thing a working connection would not do.
struct exchange_options {
  bool shut_up = true, shut_down = true;
  milliseconds timeout{20000};
};
inline bool exchange(stack::interface& ifc, connection& c, flow& up, flow& down, const exchange_options& o, std::string& error) {
  std::vector<std::byte> buf(64 * 1024);
  bool up_shut = false, down_shut = false;
  auto step = [&](stack::time_ns now) {
    bool moved = false;
    // us -> Linux
    if (!up.all_sent()) {
      const auto chunk = up.next(buf);
      const auto r = c.ours->send(chunk, now);
      if (r.bytes) up.did_send(chunk.first(r.bytes)), moved = true;
      else if (r.ec != std::errc::operation_would_block) error = "our send: " + r.ec.message();
    } else if (o.shut_up && !up_shut) {
      if (auto ec = c.ours->shutdown_send(now)) error = "our shutdown_send: " + ec.message();
      up_shut = true;
    }
    for (int i = 0; i < 8 && error.empty(); ++i) {
      const long n = c.theirs->recv(buf.data(), buf.size());
      if (n > 0) up.did_receive(std::span(buf).first(std::size_t(n))), moved = true;
      else if (n == 0) { up.eof = true; break; }
      else if (n == -EAGAIN) break;
      else error = std::string("Linux recv: ") + std::strerror(int(-n));
    }
    // Linux -> us
    if (!down.all_sent()) {
      const auto chunk = down.next(buf);
      const long n = c.theirs->send(chunk.data(), chunk.size());
      if (n > 0) down.did_send(chunk.first(std::size_t(n))), moved = true;
      else if (n != -EAGAIN) error = std::string("Linux send: ") + std::strerror(int(-n));
    } else if (o.shut_down && !down_shut) {
      if (int e = c.theirs->shutdown_write()) error = std::string("Linux shutdown: ") + std::strerror(e);
      down_shut = true;
    }
    for (int i = 0; i < 8 && error.empty(); ++i) {
      const auto r = c.ours->receive(buf, now);
      if (r.bytes) down.did_receive(std::span(buf).first(r.bytes)), moved = true;
      else if (!r.ec) { down.eof = true; break; }
      else if (r.ec == std::errc::operation_would_block) break;
      else error = "our receive: " + r.ec.message();
    }
    if (up.eof && !up.all_received()) error = "Linux saw EOF after " + std::to_string(up.received) + " of " + std::to_string(up.total) + " bytes";
    if (down.eof && !down.all_received()) error = "we saw EOF after " + std::to_string(down.received) + " of " + std::to_string(down.total) + " bytes";
    return moved;
  };
  auto done = [&] {
    return !error.empty() || (up.all_received() && down.all_received() && (!o.shut_up || up.eof) && (!o.shut_down || down.eof));
  };
  const bool finished = drive(ifc, step, done, o.timeout);
  if (!finished && error.empty())
    error = "not done within " + std::to_string(o.timeout.count()) + " ms: us -> Linux " + std::to_string(up.received) + "/" +
            std::to_string(up.total) + (up.eof ? " (EOF)" : "") + ", Linux -> us " + std::to_string(down.received) + "/" +
            std::to_string(down.total) + (down.eof ? " (EOF)" : "") + ", our state " + tcp::to_string(c.ours->state());
  return error.empty();
}

// Both ends as `ss -ti` and `nstat` would show them, for a failure's message.
inline std::string describe(stack::interface& ifc, const connection& c) {
  std::string s = "ours: " + (c.ours ? stack::to_ss(c.ours->info()) : std::string("(none)")) + "\n";
  if (c.theirs) {
    const auto i = c.theirs->info();
    s += "Linux: state " + std::to_string(i.tcpi_state) + " retrans " + std::to_string(i.tcpi_total_retrans) + " segs_out " +
         std::to_string(i.tcpi_segs_out) + " segs_in " + std::to_string(i.tcpi_segs_in) + " bytes_acked " +
         std::to_string(i.tcpi_bytes_acked) + " bytes_received " + std::to_string(i.tcpi_bytes_received) + "\n";
  }
  return s + stack::to_nstat(ifc.tcp_counters());
}

// How many MB a bulk case moves each way: $RINGLAB_TCP_INTEROP_MB (the slow label's 100), else `dflt`.
inline std::uint64_t bulk_bytes(std::uint64_t dflt_mb) {
  const char* e = std::getenv("RINGLAB_TCP_INTEROP_MB");
  const std::uint64_t mb = e && *e ? std::strtoull(e, nullptr, 10) : dflt_mb;
  return (mb ? mb : dflt_mb) * 1000 * 1000;
}
// Time for a transfer of `bytes` here: 20 s, plus 1 s per 2 MB (copy-mode AF_XDP on a loaded 2-core VM).
inline milliseconds transfer_timeout(std::uint64_t bytes) { return milliseconds(20000 + bytes / 2000); }

// A sysfs counter of an interface, read in its namespace ("tx_dropped", "rx_dropped").
inline std::uint64_t link_stat(const test::netns& ns, const std::string& ifname, const std::string& what) {
  const auto r = ns.exec({"cat", "/sys/class/net/" + ifname + "/statistics/" + what});
  return r.exit_code == 0 ? std::strtoull(r.out.c_str(), nullptr, 10) : 0;
}

}  // namespace ringlab::test_tcp_interop
